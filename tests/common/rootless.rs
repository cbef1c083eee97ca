//! Running the `nook` binary as an unprivileged user (nobody, uid 65534)
//! on a bundle it owns, made by its own `nook spec --rootless`, with its
//! state under `$XDG_RUNTIME_DIR/nook` (tests/rootless.rs, and the
//! delegated-cgroup test of tests/container_cgroups.rs).
//!
//! The test binary runs as root; each nook command is run through
//! `setpriv --reuid=65534 --regid=65534 --clear-groups` with a clean
//! environment. The fixture's temp dir (bundle, HOME, XDG_RUNTIME_DIR) is
//! chowned to nobody; nothing outside it is.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use super::Fixture;

pub const NOBODY: u32 = 65534;

/// A bundle and an XDG_RUNTIME_DIR owned by nobody.
pub struct Rootless {
    pub f: Fixture,
    /// A `cgroup.procs` file each nook command first moves itself into
    /// (to start from a cgroup delegated to the user).
    pub enter_cgroup: Option<PathBuf>,
    /// The nook binary to run (the built one unless a test swaps in a copy).
    pub binary: PathBuf,
}

impl Rootless {
    /// A busybox rootfs and `nook spec --rootless`'s config.json, written
    /// by nobody, then adjusted to run `args` without a terminal.
    pub fn new(args: &[&str]) -> Rootless {
        let f = Fixture::new(args);
        let r = Rootless {
            f,
            enter_cgroup: None,
            binary: PathBuf::from(env!("CARGO_BIN_EXE_nook")),
        };
        std::fs::create_dir_all(r.xdg()).unwrap();
        std::fs::set_permissions(r.xdg(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        chown_r(r.f.dir.path());
        assert_userns_allowed();
        let o = r.nook(&["spec", "--rootless"]);
        assert!(o.status.success(), "spec --rootless: {}", stderr(&o));
        let mut spec = r.config();
        spec["process"]["terminal"] = json!(false);
        spec["process"]["args"] = json!(args);
        r.write_config(&spec);
        r
    }

    /// `$XDG_RUNTIME_DIR` of the user.
    pub fn xdg(&self) -> PathBuf {
        self.f.dir.path().join("xdg")
    }

    /// Where nook keeps the user's state by default.
    pub fn state_root(&self) -> PathBuf {
        self.xdg().join("nook")
    }

    pub fn config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.f.bundle().join("config.json")).unwrap()).unwrap()
    }

    /// Rewrites config.json (the file stays nobody's).
    pub fn write_config(&self, spec: &Value) {
        let path = self.f.bundle().join("config.json");
        std::fs::write(&path, serde_json::to_vec_pretty(spec).unwrap()).unwrap();
        std::os::unix::fs::lchown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
    }

    /// `nook ARGS` as nobody, in the bundle directory, with only PATH,
    /// HOME and XDG_RUNTIME_DIR set. `create` gets /dev/null as stdio: the
    /// container inherits it and would hold a pipe open.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = match &self.enter_cgroup {
            None => Command::new("setpriv"),
            Some(procs) => {
                let mut sh = Command::new("/bin/sh");
                sh.args(["-c", "echo $$ > \"$0\" && exec setpriv \"$@\""])
                    .arg(procs);
                sh
            }
        };
        cmd.args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
        ])
        .arg(&self.binary)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", self.f.dir.path())
        .env("XDG_RUNTIME_DIR", self.xdg())
        .current_dir(self.f.bundle())
        .stdin(Stdio::null());
        if args.contains(&"create") || args.contains(&"-d") {
            // The container keeps nook's stdio: a pipe would never reach
            // EOF. Errors go to a file of the test's own instead.
            let err = std::fs::File::create(self.f.dir.path().join("create.err")).unwrap();
            cmd.stdout(Stdio::null()).stderr(err);
        }
        cmd
    }

    pub fn nook(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

impl Drop for Rootless {
    /// Removes whatever a failing test left in the user's state root, as
    /// the user, before the fixture checks for leaked mounts.
    fn drop(&mut self) {
        if let Ok(dir) = std::fs::read_dir(self.state_root()) {
            for e in dir.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.nook(&["delete", "--force", &id]);
            }
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// chown -R nobody:nogroup, without following symlinks.
pub fn chown_r(path: &Path) {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_r(&e.unwrap().path());
        }
    }
}

/// The tests need unprivileged user namespaces (a sysctl may forbid them).
pub fn assert_userns_allowed() {
    let o = Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "unshare",
            "-Ur",
            "true",
        ])
        .output()
        .expect("setpriv (util-linux) is needed");
    assert!(
        o.status.success(),
        "unprivileged user namespaces are disabled here: {}",
        stderr(&o)
    );
}

/// Cgroup directories named `id` anywhere under /sys/fs/cgroup.
pub fn cgroup_dirs_named(id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, id: &str, depth: u32, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name() == id {
                out.push(p.clone());
            }
            if depth > 0 {
                walk(&p, id, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), id, 8, &mut out);
    out
}

//! Real engines drive nook: podman (with conmon), containerd (ctr and the
//! runc shim v2) and docker (dockerd over its own containerd), from
//! Debian's packages, each through a wrapper that logs every nook argv.
//!
//! Every test is self-contained: a temp root holds the image, the engine's
//! storage, state, sockets and config, and its daemons. A [`Lab`]'s Drop
//! deletes the containers left in nook's state, stops the daemons by pid
//! (SIGTERM, wait, SIGKILL), ends the engine's helpers (shims, conmon) by
//! pid, unmounts what is left under the temp root and removes the cgroups
//! made under the test's own cgroup parent, then checks nothing is left.
//!
//! Nothing is pulled: the image is busybox-static, as a rootfs tarball for
//! `podman import` and as a docker-archive (manifest.json, config, one
//! layer) for `ctr images import` and `docker load`.
//!
//! A missing engine skips its test with a message, except under CI
//! (CI=true), where it fails. The tests run one at a time. Checkpoint and
//! restore through podman and containerd are ignored here: they need criu
//! on a kernel it supports (tools/test-criu.sh runs them in a VM).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;

static SERIAL: Mutex<()> = Mutex::new(());

/// Engine tests start daemons and containers: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const MEMORY_LIMIT: u64 = 64 * 1024 * 1024;

/// Applets linked into the image's /bin.
const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "sleep", "ls", "id", "ps", "true", "false", "tty", "test", "date", "hostname",
];

/// True when every program is there; otherwise skips (false), or fails under CI.
fn have(programs: &[&str]) -> bool {
    let found = |p: &str| {
        if Path::new(p).is_absolute() {
            return Path::new(p).exists();
        }
        Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !found(p)).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!("missing {missing:?} (tools/install-test-deps.sh installs them)");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// What one command printed, and how it ended.
struct Out {
    ok: bool,
    code: Option<i32>,
    text: String,
}

/// An engine's command line: a program with fixed leading args and env.
struct Cli {
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

impl Cli {
    fn new(argv: &[&str], env: &[(&str, &str)]) -> Cli {
        Cli {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    /// Runs with a 2-minute timeout; stdout and stderr together.
    fn run(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", "120"]).args(&self.argv).args(args);
        self.output(cmd, args)
    }

    /// Runs under a pseudo-terminal (`script`), as `exec -t` needs.
    fn run_tty(&self, args: &[&str]) -> Out {
        let line = self
            .argv
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", "120", "script", "-qec", &line, "/dev/null"]);
        self.output(cmd, args)
    }

    fn output(&self, mut cmd: Command, args: &[&str]) -> Out {
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        let o = cmd
            .output()
            .unwrap_or_else(|e| panic!("{} {args:?}: {e}", self.argv[0]));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        Out {
            ok: o.status.success(),
            code: o.status.code(),
            text,
        }
    }

    /// Runs and insists on success; its output.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.ok,
            "{} {args:?} failed ({:?}):\n{}",
            self.argv[0], o.code, o.text
        );
        o.text
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Waits up to `secs` for `f`.
fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// A test's world: temp root, image, nook wrapper, daemons, and what to clean.
struct Lab {
    dir: tempfile::TempDir,
    /// Unique per test run; names the cgroup parent and namespaces.
    tag: String,
    daemons: Vec<(String, Child)>,
    /// nook state roots and the container ids in them that are ours.
    nook_roots: Vec<PathBuf>,
    owned_ids: Vec<(PathBuf, String)>,
    /// Host directories the engine makes on its own (fixed paths); removed
    /// at the end if they were not there before.
    host_dirs: Vec<PathBuf>,
    started: Instant,
}

impl Lab {
    fn new(engine: &str, host_dirs: &[&str]) -> Lab {
        assert!(Path::new(common::BUSYBOX).exists(), "tests need busybox-static");
        let dir = tempfile::Builder::new()
            .prefix(&format!("nook-{engine}-"))
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let tag = format!("nooktest-{engine}-{}", std::process::id());
        let host_dirs = host_dirs
            .iter()
            .map(PathBuf::from)
            .filter(|p| !p.exists())
            .collect();
        let lab = Lab {
            dir,
            tag,
            daemons: Vec::new(),
            nook_roots: Vec::new(),
            owned_ids: Vec::new(),
            host_dirs,
            started: Instant::now(),
        };
        lab.write_wrapper();
        lab.build_image();
        lab
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn p(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    /// The wrapper engines call as their runtime: logs argv, execs nook.
    fn write_wrapper(&self) {
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexec {} \"$@\"\n",
            shell_quote(&self.p("nook-argv.log")),
            shell_quote(env!("CARGO_BIN_EXE_nook"))
        );
        let w = self.path("nook");
        std::fs::write(&w, script).unwrap();
        std::fs::set_permissions(&w, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }

    fn wrapper(&self) -> String {
        self.p("nook")
    }

    /// image/rootfs.tar (for podman import) and image/docker-archive.tar
    /// (for ctr images import and docker load), both of busybox-static.
    fn build_image(&self) {
        let img = self.path("image");
        let rootfs = img.join("rootfs");
        for d in ["bin", "tmp", "proc", "sys", "dev", "etc"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::set_permissions(
            rootfs.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
        common::copy_executable(common::BUSYBOX, &rootfs.join("bin/busybox"));
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        let tar = |dir: &Path, out: &Path| {
            let ok = Command::new("tar")
                .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
                .arg(dir)
                .arg("-cf")
                .arg(out)
                .arg(".")
                .status()
                .unwrap()
                .success();
            assert!(ok, "tar of {}", dir.display());
        };
        let layer = img.join("rootfs.tar");
        tar(&rootfs, &layer);
        let sha = |p: &Path| -> String {
            let o = Command::new("sha256sum").arg(p).output().unwrap();
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        };
        let archive = img.join("archive");
        let layer_sha = sha(&layer);
        std::fs::create_dir_all(archive.join(&layer_sha)).unwrap();
        std::fs::copy(&layer, archive.join(&layer_sha).join("layer.tar")).unwrap();
        let config = json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_sha}")]}
        });
        let config_path = img.join("config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let config_name = format!("{}.json", sha(&config_path));
        std::fs::copy(&config_path, archive.join(&config_name)).unwrap();
        let manifest = json!([{
            "Config": config_name,
            "RepoTags": ["nooktest/busybox:latest"],
            "Layers": [format!("{layer_sha}/layer.tar")]
        }]);
        std::fs::write(archive.join("manifest.json"), manifest.to_string()).unwrap();
        tar(&archive, &img.join("docker-archive.tar"));
    }

    /// Starts a daemon (output to LOGNAME.log) and waits until `ready`.
    fn daemon(&mut self, name: &str, argv: &[&str], env: &[(&str, &str)], ready: impl Fn() -> bool) {
        let log = std::fs::File::create(self.path(&format!("{name}.log"))).unwrap();
        let child = Command::new(argv[0])
            .args(&argv[1..])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        self.daemons.push((name.to_string(), child));
        let up = wait_for(60, || {
            if let Some((_, c)) = self.daemons.last_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("{name} exited ({status}): {}", self.log(name));
                }
            }
            ready()
        });
        assert!(up, "{name} did not come up: {}", self.log(name));
    }

    fn log(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// containerd with its own config, root, state and sockets under the lab.
    fn start_containerd(&mut self) -> String {
        let sock = self.p("ctd/ctd.sock");
        std::fs::create_dir_all(self.path("ctd")).unwrap();
        let config = format!(
            "version = 2\nroot = \"{}\"\nstate = \"{}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
            self.p("ctd/root"),
            self.p("ctd/state"),
        );
        std::fs::write(self.path("ctd/config.toml"), config).unwrap();
        let probe = Cli::new(&["ctr", "--address", &sock], &[]);
        let cfg = self.p("ctd/config.toml");
        let tmp = self.p("tmp");
        self.daemon(
            "containerd",
            &["containerd", "--config", &cfg],
            &[("TMPDIR", &tmp)],
            || Path::new(&sock).exists() && probe.run(&["version"]).ok,
        );
        sock
    }

    /// The distinct nook invocations, flags kept and values dropped.
    fn invocations(&self) -> BTreeSet<String> {
        let log = std::fs::read_to_string(self.path("nook-argv.log")).unwrap_or_default();
        log.lines().map(shape).collect()
    }

    /// Ends an engine's test: prints its nook calls, re-raises the panic of
    /// its checks (`result`, run under catch_unwind so cleanup came first),
    /// then checks that each of `forms` was among the calls.
    fn finish(&self, engine: &str, result: std::thread::Result<()>, forms: &[&str]) {
        let seen = self.invocations();
        eprintln!("== {engine}: nook invocations (distinct forms):");
        for f in &seen {
            eprintln!("   nook {f}");
        }
        eprintln!("== {engine}: {:.1?}", self.started.elapsed());
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
        for f in forms {
            assert!(
                seen.iter().any(|s| s.contains(f)),
                "nook was never called as `{f}`; calls: {seen:#?}"
            );
        }
    }

    /// Containers nook still holds for this lab (in its roots, or the
    /// lab's own ids in a shared root).
    fn nook_containers(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for root in &self.nook_roots {
            if let Ok(rd) = std::fs::read_dir(root) {
                ids.extend(rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
            }
        }
        for (root, id) in &self.owned_ids {
            if root.join(id).exists() {
                ids.push(id.clone());
            }
        }
        ids
    }

    /// The engine has deleted every container it made in nook (some
    /// engines do it after their command returns).
    fn assert_engine_cleaned_up(&self) {
        assert!(
            wait_for(30, || self.nook_containers().is_empty()),
            "the engine left containers in nook: {:?}",
            self.nook_containers()
        );
    }

    /// Pids of processes whose command line names the lab's directory.
    fn lab_processes(&self) -> Vec<i32> {
        let needle = self.dir.path().to_string_lossy().into_owned();
        let me = std::process::id() as i32;
        let daemons: Vec<i32> = self.daemons.iter().map(|(_, c)| c.id() as i32).collect();
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me || daemons.contains(&pid) {
                continue;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Dirs named by the lab's tag at the top of each cgroup hierarchy.
    fn cgroup_parents(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let top = Path::new("/sys/fs/cgroup");
        let mut hierarchies = vec![top.to_path_buf()];
        if let Ok(rd) = std::fs::read_dir(top) {
            hierarchies.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
        for h in hierarchies {
            let p = h.join(&self.tag);
            if p.is_dir() {
                found.push(p);
            }
        }
        found
    }
}

/// rmdir of a cgroup tree, children first.
fn remove_cgroup_tree(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)?.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_cgroup_tree(&e.path())?;
        }
    }
    std::fs::remove_dir(dir)
}

/// Removes a host directory the engine made during the test (it was not
/// there before, so all of it is the test's), unless something is mounted
/// in it.
fn remove_host_dir(dir: &Path) {
    if dir.exists() && common::mounts_under(dir).is_empty() {
        eprintln!("cleanup: removing {} (made by the engine)", dir.display());
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// An argv line as a form: the global flags, the command and its flags,
/// without paths and ids (signal numbers and formats are kept).
fn shape(line: &str) -> String {
    const VALUED: &[&str] = &[
        "--root",
        "--log",
        "--bundle",
        "-b",
        "--pid-file",
        "--process",
        "-p",
        "--console-socket",
        "--cwd",
        "-e",
        "--env",
        "-u",
        "--user",
        "--interval",
        "--resources",
        "-r",
        "--preserve-fds",
    ];
    const KEPT: &[&str] = &["--log-format", "--format", "-f"];
    let mut out: Vec<String> = Vec::new();
    let mut words = line.split_whitespace().peekable();
    let mut command: Option<String> = None;
    while let Some(w) = words.next() {
        if let Some((flag, value)) = w.split_once('=').filter(|_| w.starts_with('-')) {
            out.push(if KEPT.contains(&flag) {
                format!("{flag}={value}")
            } else {
                flag.to_string()
            });
        } else if VALUED.contains(&w) {
            out.push(w.to_string());
            if words.next() == Some("-") {
                out.push("-".into()); // stdin, as for update --resources
            }
        } else if KEPT.contains(&w) {
            out.push(format!("{w} {}", words.next().unwrap_or_default()));
        } else if w.starts_with('-') {
            out.push(w.to_string());
        } else if command.is_none() {
            command = Some(w.to_string());
            out.push(w.to_string());
        } else if command.as_deref() == Some("kill")
            && w.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        {
            out.push(w.to_string()); // the signal, by number or name
        }
    }
    out.join(" ")
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "== nook calls:\n{}",
                std::fs::read_to_string(self.path("nook-argv.log")).unwrap_or_default()
            );
            for (name, _) in &self.daemons {
                eprintln!("== {name} log (tail):\n{}", self.log(name));
            }
        }
        let nook = env!("CARGO_BIN_EXE_nook");
        // 1. Containers still in nook's state (every one in the lab's roots,
        //    only the lab's own ids in shared roots such as /run/nook).
        let quiet = |args: &[&str]| {
            Command::new(nook)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        // Engines delete some containers after the command returns (docker's
        // --rm, podman's cleanup): let them finish first.
        let left = |quiet: &dyn Fn(&[&str]) -> String| {
            self.nook_roots.iter().any(|r| {
                !quiet(&["--root", &r.to_string_lossy(), "list", "-q"])
                    .trim()
                    .is_empty()
            }) || self.owned_ids.iter().any(|(r, id)| r.join(id).exists())
        };
        wait_for(20, || !left(&quiet));
        for root in &self.nook_roots {
            let r = root.to_string_lossy();
            for id in quiet(&["--root", &r, "list", "-q"]).lines() {
                eprintln!("cleanup: nook delete --force {id} (left by the engine); its calls:");
                let log = std::fs::read_to_string(self.path("nook-argv.log")).unwrap_or_default();
                for l in log.lines().filter(|l| l.contains(id)) {
                    eprintln!("   {l}");
                }
                quiet(&["--root", &r, "delete", "--force", id]);
            }
        }
        for (root, id) in &self.owned_ids {
            if root.join(id).exists() {
                eprintln!(
                    "cleanup: nook delete --force {id} in {} (left by the engine)",
                    root.display()
                );
                quiet(&["--root", &root.to_string_lossy(), "delete", "--force", id]);
            }
        }
        // 2. Helpers (conmon, shims, podman cleanup) finish on their own,
        //    or are ended by pid.
        if !wait_for(10, || self.lab_processes().is_empty()) {
            for pid in self.lab_processes() {
                eprintln!("cleanup: SIGKILL to pid {pid}");
                // SAFETY: signalling a process by pid.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        // 3. Daemons, last started first: SIGTERM, wait, SIGKILL.
        while let Some((name, mut child)) = self.daemons.pop() {
            // One that already exited (and was reaped) is not signalled:
            // its pid may belong to someone else by now.
            if child.try_wait().ok().flatten().is_some() {
                eprintln!("cleanup: {name} had exited: {}", self.log(&name));
                continue;
            }
            // SAFETY: signalling our own child (not yet reaped) by pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            if !wait_for(15, || child.try_wait().ok().flatten().is_some()) {
                eprintln!("cleanup: {name} ignored SIGTERM; SIGKILL");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        for pid in self.lab_processes() {
            // SAFETY: signalling a process by pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // 4. Mounts under the lab, deepest first.
        let mut mounts = common::mounts_under(self.dir.path());
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in &mounts {
            eprintln!("cleanup: umount {m}");
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        // 5. Cgroups under the lab's own parent.
        let mut cgroups_left = Vec::new();
        for p in self.cgroup_parents() {
            let gone = wait_for(5, || remove_cgroup_tree(&p).is_ok() || !p.exists());
            if !gone {
                cgroups_left.push(p);
            }
        }
        // 6. Fixed host dirs the engine made.
        for d in &self.host_dirs {
            remove_host_dir(d);
        }
        let processes = self.lab_processes();
        let mounts = common::mounts_under(self.dir.path());
        let dirs: Vec<&PathBuf> = self.host_dirs.iter().filter(|d| d.exists()).collect();
        if !std::thread::panicking() {
            assert!(processes.is_empty(), "processes left: {processes:?}");
            assert!(mounts.is_empty(), "mounts left: {mounts:?}");
            assert!(cgroups_left.is_empty(), "cgroups left: {cgroups_left:?}");
            assert!(dirs.is_empty(), "host dirs left: {dirs:?}");
        }
    }
}

/// The host file of a container process's cgroup: the v1 controller's,
/// or on a pure cgroup v2 host the unified one.
fn cgroup_file(pid: i32, controller: &str, v1: &str, v2: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        if ctrls.split(',').any(|c| c == controller) {
            let path = path.trim_start_matches('/');
            return Path::new("/sys/fs/cgroup").join(controller).join(path).join(v1);
        }
    }
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup line");
    Path::new("/sys/fs/cgroup")
        .join(path.trim_start_matches('/'))
        .join(v2)
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Freezer state of a container's cgroup: true when frozen.
fn frozen(pid: i32) -> bool {
    let p = cgroup_file(pid, "freezer", "freezer.state", "cgroup.freeze");
    matches!(read_trim(&p).as_str(), "FROZEN" | "1")
}

fn memory_limit(pid: i32) -> u64 {
    let p = cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max");
    read_trim(&p).parse().unwrap()
}

/// True when an engine's output carries nook's error for `nosuchcmd`
/// (podman prints the JSON log's msg with its quotes escaped).
/// Prints the line, for the record.
fn not_found(text: &str) -> bool {
    let line = text
        .lines()
        .find(|l| l.contains("nosuchcmd") && l.contains("executable file not found in $PATH"));
    if let Some(l) = line {
        eprintln!("   engine said: {l}");
    }
    line.is_some()
}

/// A loop that exits 0 on SIGTERM, for `stop`.
const TRAP_LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.2; done";

/// A lab for podman: its own storage, run dir and containers.conf, with
/// the nook wrapper as its runtime; the podman command line to use.
fn podman_lab() -> (Lab, Cli) {
    // Made by podman at fixed paths whatever its --root (the blob info
    // cache, netavark's run dir).
    let lab = Lab::new(
        "podman",
        &["/var/lib/containers", "/run/containers", "/run/libpod"],
    );
    let conf = format!(
        "[containers]\nnetns = \"none\"\n\
         [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
         runtime = \"nook\"\nruntime_supports_json = [\"nook\"]\n\
         [engine.runtimes]\nnook = [\"{}\"]\n\
         [network]\nnetwork_config_dir = \"{}\"\n",
        lab.wrapper(),
        lab.p("podman/networks"),
    );
    std::fs::create_dir_all(lab.path("podman/networks")).unwrap();
    std::fs::write(lab.path("podman/containers.conf"), conf).unwrap();
    // podman passes no --root to its runtime (and --runtime-flag does not
    // reach `podman container cleanup`): nook's default root, as with runc.
    let (root, runroot, tmp, conf) = (
        lab.p("podman/root"),
        lab.p("podman/run"),
        lab.p("podman/tmp"),
        lab.p("podman/containers.conf"),
    );
    let wrapper = lab.wrapper();
    let tmpdir = lab.p("tmp");
    let podman = Cli::new(
        &[
            "podman",
            "--root",
            &root,
            "--runroot",
            &runroot,
            "--tmpdir",
            &tmp,
            "--storage-driver",
            "vfs",
            "--runtime",
            &wrapper,
            "--cgroup-manager=cgroupfs",
            "--events-backend=file",
        ],
        &[("CONTAINERS_CONF", &conf), ("TMPDIR", &tmpdir)],
    );
    (lab, podman)
}

#[test]
fn podman() {
    let _serial = serial();
    if !have(&["podman", "conmon", "script"]) {
        return;
    }
    let (mut lab, podman) = podman_lab();
    let parent = format!("/{}", lab.tag);
    let mut run = vec![
        "run",
        "--network",
        "none",
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=32768:32768",
        "--cgroup-parent",
        &parent,
    ];
    let image = "localhost/nooktest/busybox:latest";
    podman.ok(&["import", &lab.p("image/rootfs.tar"), image]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // run --rm
        // podman's containers live in nook's default root, shared with
        // others: the lab watches only its own ids (--cidfile).
        let cidfile = lab.p("p0.cid");
        let mut args = run.clone();
        args.extend([
            "--rm",
            "--cidfile",
            &cidfile,
            image,
            "sh",
            "-c",
            "echo hello from podman",
        ]);
        let out = podman.ok(&args);
        assert!(out.contains("hello from podman"), "{out}");
        let id0 = std::fs::read_to_string(&cidfile).unwrap();
        lab.owned_ids
            .push((PathBuf::from("/run/nook"), id0.trim().to_string()));

        // run -d with a memory limit
        run.extend(["-d", "--name", "p1", "--memory", "64m"]);
        let mut args = run.clone();
        args.extend([image, "sh", "-c", TRAP_LOOP]);
        let id = podman.ok(&args).trim().lines().last().unwrap().to_string();
        lab.owned_ids.push((PathBuf::from("/run/nook"), id.clone()));
        let pid: i32 = podman
            .ok(&["inspect", "-f", "{{.State.Pid}}", "p1"])
            .trim()
            .parse()
            .unwrap();
        assert!(pid > 0);

        // exec, without and with a tty
        let out = podman.ok(&["exec", "p1", "sh", "-c", "echo exec ok; id -u"]);
        assert!(out.contains("exec ok\n0"), "{out}");
        let o = podman.run_tty(&["exec", "-t", "p1", "tty"]);
        assert!(o.ok && o.text.contains("/dev/pts/"), "{}", o.text);

        // top
        let out = podman.ok(&["top", "p1"]);
        assert!(out.contains(TRAP_LOOP.split(';').next().unwrap()), "{out}");

        // pause / unpause: the freezer cgroup nook made is frozen, then thawed
        podman.ok(&["pause", "p1"]);
        assert!(frozen(pid));
        let out = podman.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        assert!(out.contains("p1 Paused"), "{out}");
        podman.ok(&["unpause", "p1"]);
        assert!(!frozen(pid));

        // stats: the limit is in nook's cgroup and in podman's stats
        assert_eq!(memory_limit(pid), MEMORY_LIMIT);
        let out = podman.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "p1"]);
        assert!(out.contains("/ 67.11MB"), "{out}");
        // update: a new limit reaches the same cgroup
        podman.ok(&["update", "--memory", "96m", "p1"]);
        assert_eq!(memory_limit(pid), 96 * 1024 * 1024);

        // a failing exec: nook's error reaches podman's output
        let o = podman.run(&["exec", "p1", "nosuchcmd"]);
        assert!(!o.ok && not_found(&o.text), "{}", o.text);

        // stop (SIGTERM; the trap exits 0), rm
        podman.ok(&["stop", "-t", "10", "p1"]);
        let out = podman.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "p1"]);
        assert_eq!(out.trim(), "exited 0");
        podman.ok(&["rm", "p1"]);
        assert!(!Path::new("/run/nook").join(&id).exists());

        // kill
        let mut args: Vec<&str> = run.iter().map(|s| if *s == "p1" { "p2" } else { s }).collect();
        args.extend([image, "sleep", "100"]);
        let id2 = podman.ok(&args).trim().lines().last().unwrap().to_string();
        lab.owned_ids.push((PathBuf::from("/run/nook"), id2));
        podman.ok(&["kill", "p2"]);
        let out = podman.ok(&["wait", "p2"]);
        assert_eq!(out.trim(), "137");
        podman.ok(&["rm", "p2"]);

        // a failing run: nook's error (through the JSON log) reaches podman
        let cidfile = lab.p("p3.cid");
        let mut args: Vec<&str> = run[..run.len() - 5].to_vec();
        args.extend(["--rm", "--cidfile", &cidfile, image, "nosuchcmd"]);
        let o = podman.run(&args);
        assert!(!o.ok && not_found(&o.text), "{}", o.text);
        let id3 = std::fs::read_to_string(&cidfile).unwrap();
        lab.owned_ids
            .push((PathBuf::from("/run/nook"), id3.trim().to_string()));
        assert!(podman.ok(&["ps", "-aq"]).trim().is_empty());
        lab.assert_engine_cleaned_up();
    }));
    let _ = podman.run(&["rm", "-af", "-t", "1"]);
    lab.finish(
        "podman",
        result,
        &[
            "--log-format=json --log create --bundle --pid-file",
            "start",
            "exec --pid-file --process --detach",
            "--tty --console-socket",
            "pause",
            "resume",
            "kill 15",
            "kill 9",
            "delete --force",
            "update --resources",
        ],
    );
}

/// The pid of a ctr task, from `ctr task ls`.
fn ctr_task(ctr: &Cli, id: &str) -> Option<(i32, String)> {
    let out = ctr.ok(&["task", "ls"]);
    out.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 3 && f[0] == id).then(|| (f[1].parse().unwrap(), f[2].to_string()))
    })
}

#[test]
fn containerd() {
    let _serial = serial();
    if !have(&["containerd", "ctr", "containerd-shim-runc-v2", "script"]) {
        return;
    }
    // The shim's sockets go to /run/containerd/s whatever the config says.
    let mut lab = Lab::new("containerd", &["/run/containerd"]);
    let sock = lab.start_containerd();
    let ns = lab.tag.clone();
    let runc_root = lab.p("runc");
    lab.nook_roots.push(lab.path("runc").join(&ns));
    let (tmp, fifo, wrapper) = (lab.p("tmp"), lab.p("fifo"), lab.wrapper());
    let ctr = Cli::new(
        &["ctr", "--address", &sock, "--namespace", &ns],
        &[("TMPDIR", &tmp)],
    );
    let image = "docker.io/nooktest/busybox:latest";
    ctr.ok(&[
        "images",
        "import",
        "--snapshotter",
        "native",
        &lab.p("image/docker-archive.tar"),
    ]);
    let run = |extra: &[&str], id: &str, cmd: &[&str]| -> Out {
        let mut args = vec![
            "run",
            "--snapshotter",
            "native",
            "--runc-binary",
            &wrapper,
            "--runc-root",
            &runc_root,
            "--fifo-dir",
            &fifo,
        ];
        args.extend_from_slice(extra);
        args.extend([image, id]);
        args.extend_from_slice(cmd);
        ctr.run(&args)
    };
    let stopped = |id: &str| wait_for(30, || ctr_task(&ctr, id).is_some_and(|(_, s)| s == "STOPPED"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // run --rm
        let o = run(
            &["--rm"],
            "c0",
            &["sh", "-c", "echo hello from containerd; id -u"],
        );
        assert!(o.ok && o.text.contains("hello from containerd\n0"), "{}", o.text);

        // run -d with a memory limit
        let limit = MEMORY_LIMIT.to_string();
        let o = run(&["-d", "--memory-limit", &limit], "c1", &["sh", "-c", TRAP_LOOP]);
        assert!(o.ok, "{}", o.text);
        let (pid, status) = ctr_task(&ctr, "c1").expect("task c1");
        assert_eq!(status, "RUNNING");

        // exec, without and with a tty
        let out = ctr.ok(&[
            "task",
            "exec",
            "--fifo-dir",
            &fifo,
            "--exec-id",
            "e1",
            "c1",
            "sh",
            "-c",
            "echo exec ok; id -u",
        ]);
        assert!(out.contains("exec ok\n0"), "{out}");
        let o = ctr.run_tty(&[
            "task",
            "exec",
            "--fifo-dir",
            &fifo,
            "-t",
            "--exec-id",
            "e2",
            "c1",
            "tty",
        ]);
        assert!(o.ok && o.text.contains("/dev/pts/"), "{}", o.text);

        // ps
        let out = ctr.ok(&["task", "ps", "c1"]);
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().next() == Some(&pid.to_string())),
            "{out}"
        );

        // pause / resume
        ctr.ok(&["task", "pause", "c1"]);
        assert!(frozen(pid));
        assert_eq!(ctr_task(&ctr, "c1").unwrap().1, "PAUSED");
        ctr.ok(&["task", "resume", "c1"]);
        assert!(!frozen(pid));
        assert_eq!(ctr_task(&ctr, "c1").unwrap().1, "RUNNING");

        // metrics: the limit is in nook's cgroup and in containerd's metrics
        assert_eq!(memory_limit(pid), MEMORY_LIMIT);
        let out = ctr.ok(&["task", "metrics", "c1"]);
        assert!(out.contains(&limit), "{out}");

        // a failing exec: nook's error (from its JSON log) reaches ctr
        let o = ctr.run(&[
            "task",
            "exec",
            "--fifo-dir",
            &fifo,
            "--exec-id",
            "e3",
            "c1",
            "nosuchcmd",
        ]);
        assert!(!o.ok && not_found(&o.text), "{}", o.text);

        // stop: SIGTERM, the trap exits 0; rm
        ctr.ok(&["task", "kill", "c1"]);
        assert!(stopped("c1"));
        let out = ctr.ok(&["task", "rm", "c1"]);
        assert!(!out.contains("exit code"), "{out}");
        ctr.ok(&["containers", "rm", "c1"]);

        // kill
        let o = run(&["-d"], "c2", &["sleep", "100"]);
        assert!(o.ok, "{}", o.text);
        ctr.ok(&["task", "kill", "--signal", "SIGKILL", "c2"]);
        assert!(stopped("c2"));
        let out = ctr.ok(&["task", "rm", "c2"]);
        assert!(out.contains("137"), "{out}");
        ctr.ok(&["containers", "rm", "c2"]);

        // a failing run
        let o = run(&["--rm"], "c3", &["nosuchcmd"]);
        assert!(!o.ok && not_found(&o.text), "{}", o.text);
        lab.assert_engine_cleaned_up();
    }));
    for id in ["c0", "c1", "c2", "c3"] {
        let _ = ctr.run(&["task", "kill", "--signal", "SIGKILL", id]);
        let _ = ctr.run(&["task", "rm", "--force", id]);
        let _ = ctr.run(&["containers", "rm", id]);
    }
    lab.finish(
        "containerd",
        result,
        &[
            "--log-format json create --bundle --pid-file",
            "start",
            "exec --process --detach --pid-file",
            "exec --process --console-socket --detach --pid-file",
            "ps --format json",
            "pause",
            "resume",
            "kill 15",
            "kill 9",
            "delete --force",
        ],
    );
}

#[test]
fn docker() {
    let _serial = serial();
    if !have(&[
        "/usr/sbin/dockerd",
        "/usr/bin/docker",
        "containerd",
        "containerd-shim-runc-v2",
        "script",
    ]) {
        return;
    }
    let mut lab = Lab::new("docker", &["/run/containerd", "/run/docker"]);
    let ctd = lab.start_containerd();
    let ns = lab.tag.clone();
    lab.nook_roots
        .push(lab.path("docker/exec/runtime-runc").join(&ns));
    std::fs::create_dir_all(lab.path("docker/config")).unwrap();
    // The trust key would go to /etc/docker/key.json.
    let daemon_json = json!({"deprecated-key-path": lab.p("docker/key.json")});
    std::fs::write(lab.path("docker/daemon.json"), daemon_json.to_string()).unwrap();
    let sock = format!("unix://{}", lab.p("docker/docker.sock"));
    let (tmp, config) = (lab.p("tmp"), lab.p("docker/config"));
    let env = [("TMPDIR", tmp.as_str()), ("DOCKER_CONFIG", config.as_str())];
    let docker = Cli::new(&["/usr/bin/docker", "-H", &sock], &env);
    let (daemon_json, data, exec, pidfile) = (
        lab.p("docker/daemon.json"),
        lab.p("docker/data"),
        lab.p("docker/exec"),
        lab.p("docker/dockerd.pid"),
    );
    let (parent, plugins, runtime) = (
        format!("/{ns}"),
        format!("{ns}-plugins"),
        format!("nook={}", lab.wrapper()),
    );
    lab.daemon(
        "dockerd",
        &[
            "/usr/sbin/dockerd",
            "--config-file",
            &daemon_json,
            "--data-root",
            &data,
            "--exec-root",
            &exec,
            "--pidfile",
            &pidfile,
            "-H",
            &sock,
            "--containerd",
            &ctd,
            "--containerd-namespace",
            &ns,
            "--containerd-plugins-namespace",
            &plugins,
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--bridge=none",
            "--storage-driver",
            "vfs",
            "--cgroup-parent",
            &parent,
            "--add-runtime",
            &runtime,
        ],
        &env,
        || docker.run(&["version"]).ok,
    );
    docker.ok(&["load", "-i", &lab.p("image/docker-archive.tar")]);
    let image = "nooktest/busybox:latest";
    let run = |extra: &[&str], cmd: &[&str]| -> Out {
        let mut args = vec!["run", "--runtime", "nook", "--network", "none"];
        args.extend_from_slice(extra);
        args.push(image);
        args.extend_from_slice(cmd);
        docker.run(&args)
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // run --rm
        let o = run(
            &["--rm", "--hostname", "d0"],
            &["sh", "-c", "echo hello from docker; hostname"],
        );
        assert!(o.ok && o.text.contains("hello from docker\nd0"), "{}", o.text);

        // run -d with a memory limit
        let o = run(
            &["-d", "--name", "d1", "--memory", "64m"],
            &["sh", "-c", TRAP_LOOP],
        );
        assert!(o.ok, "{}", o.text);
        let pid: i32 = docker
            .ok(&["inspect", "-f", "{{.State.Pid}}", "d1"])
            .trim()
            .parse()
            .unwrap();

        // exec, without and with a tty
        let out = docker.ok(&["exec", "d1", "sh", "-c", "echo exec ok; id -u"]);
        assert!(out.contains("exec ok\n0"), "{out}");
        let o = docker.run_tty(&["exec", "-t", "d1", "tty"]);
        assert!(o.ok && o.text.contains("/dev/pts/"), "{}", o.text);

        // top
        let out = docker.ok(&["top", "d1"]);
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(&pid.to_string())),
            "{out}"
        );

        // pause / unpause
        docker.ok(&["pause", "d1"]);
        assert!(frozen(pid));
        let out = docker.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
        assert!(out.contains("(Paused)"), "{out}");
        docker.ok(&["unpause", "d1"]);
        assert!(!frozen(pid));

        // stats: the limit is in nook's cgroup and in docker's stats
        assert_eq!(memory_limit(pid), MEMORY_LIMIT);
        let out = docker.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "d1"]);
        assert!(out.contains("/ 64MiB"), "{out}");
        // update: a new limit reaches the same cgroup and docker's stats
        docker.ok(&["update", "--memory", "96m", "d1"]);
        assert_eq!(memory_limit(pid), 96 * 1024 * 1024);
        let out = docker.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "d1"]);
        assert!(out.contains("/ 96MiB"), "{out}");

        // a failing exec
        let o = docker.run(&["exec", "d1", "nosuchcmd"]);
        assert!(!o.ok && not_found(&o.text), "{}", o.text);

        // stop, rm
        docker.ok(&["stop", "-t", "10", "d1"]);
        let out = docker.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "d1"]);
        assert_eq!(out.trim(), "exited 0");
        docker.ok(&["rm", "d1"]);

        // kill
        let o = run(&["-d", "--name", "d2"], &["sleep", "100"]);
        assert!(o.ok, "{}", o.text);
        docker.ok(&["kill", "d2"]);
        assert_eq!(docker.ok(&["wait", "d2"]).trim(), "137");
        docker.ok(&["rm", "d2"]);

        // a failing run
        let o = run(&["--rm"], &["nosuchcmd"]);
        assert!(!o.ok && not_found(&o.text), "{}", o.text);
        // --rm: dockerd removes the container after the command returns.
        assert!(wait_for(30, || docker.ok(&["ps", "-aq"]).trim().is_empty()));
        lab.assert_engine_cleaned_up();
    }));
    let ids = docker.run(&["ps", "-aq"]).text;
    for id in ids.split_whitespace() {
        let _ = docker.run(&["rm", "-f", id]);
    }
    lab.finish(
        "docker",
        result,
        &[
            "--log-format json create --bundle --pid-file",
            "start",
            "exec --process --detach --pid-file",
            "exec --process --console-socket --detach --pid-file",
            "ps --format json",
            "pause",
            "resume",
            "kill 15",
            "kill 9",
            "delete --force",
            "update --resources",
        ],
    );
}

// ---------------------------------------------------------------------------
// Checkpoint and restore through criu, driven by the engines. Ignored here:
// criu needs a kernel it supports (tools/test-criu.sh runs them in the VM).

/// A counter that says who it is: a token drawn once at its start, then
/// `TOKEN N` for N = 1, 2, 3..., five a second, on stdout and in
/// /dev/shm/count. A restored counter goes on with the same token and the
/// next N; one started afresh would draw a new token and begin at 1.
const COUNTER: &str = "t=$(cat /proc/sys/kernel/random/uuid); i=0; \
    while true; do i=$((i+1)); echo \"$t $i\"; echo \"$t $i\" > /dev/shm/count; sleep 0.2; done";

/// The same on stdout only (podman's /dev/shm is a host tmpfs that podman
/// mounts anew on restore, so a file kept there is not part of the image).
const STDOUT_COUNTER: &str = "t=$(cat /proc/sys/kernel/random/uuid); i=0; \
    while true; do i=$((i+1)); echo \"$t $i\"; sleep 0.2; done";

/// The `TOKEN N` lines of a counter's output, also as the ends of the
/// lines of a log file (podman's k8s-file log puts a time and the stream
/// first); other lines are skipped.
fn counts(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().rev();
            let n = f.next()?.parse().ok()?;
            let t = f.next().filter(|t| t.len() == 36)?;
            Some((t.to_string(), n))
        })
        .collect()
}

/// Asserts that `seq` is one counter's run without a gap or a restart:
/// one token, N going up by one.
fn assert_one_run(seq: &[(String, u64)], what: &str) {
    assert!(!seq.is_empty(), "{what}: no count");
    for (i, w) in seq.windows(2).enumerate() {
        assert!(
            w[1].0 == w[0].0 && w[1].1 == w[0].1 + 1,
            "{what}: {:?} after {:?} (restarted, or lines lost); around it: {:?}",
            w[1],
            w[0],
            &seq[i.saturating_sub(3)..(i + 5).min(seq.len())]
        );
    }
}

/// The counter's last `TOKEN N`, read through /proc/PID/root from its
/// /dev/shm (None while the file is being rewritten).
fn shm_count(pid: i32) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/root/dev/shm/count")).ok()?;
    counts(&text).pop()
}

#[test]
#[ignore = "needs criu on a kernel it supports: tools/test-criu.sh"]
fn podman_checkpoint_restore() {
    let _serial = serial();
    if !have(&["podman", "conmon", "criu"]) {
        return;
    }
    let (mut lab, podman) = podman_lab();
    let parent = format!("/{}", lab.tag);
    let image = "localhost/nooktest/busybox:latest";
    let started = Instant::now();
    podman.ok(&["import", &lab.p("image/rootfs.tar"), image]);
    let inspect = |name: &str, what: &str| podman.ok(&["inspect", "-f", what, name]).trim().to_string();
    // Read from the log file itself: a `podman logs` takes seconds under TCG.
    let logs = |name: &str| {
        let path = inspect(name, "{{.HostConfig.LogConfig.Path}}");
        move || counts(&std::fs::read_to_string(&path).unwrap_or_default())
    };
    let last = |logs: &dyn Fn() -> Vec<(String, u64)>| logs().last().map_or(0, |c| c.1);
    let pid_of = |name: &str| -> i32 { inspect(name, "{{.State.Pid}}").parse().unwrap() };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let cidfile = lab.p("k1.cid");
        podman.ok(&[
            "run",
            "-d",
            "--network",
            "none",
            "--cgroup-parent",
            &parent,
            "--name",
            "k1",
            "--memory",
            "64m",
            "--cidfile",
            &cidfile,
            image,
            "sh",
            "-c",
            STDOUT_COUNTER,
        ]);
        let id = std::fs::read_to_string(&cidfile).unwrap().trim().to_string();
        lab.owned_ids.push((PathBuf::from("/run/nook"), id.clone()));
        let k1 = logs("k1");
        assert!(wait_for(60, || last(&k1) >= 3), "{:?}", k1());
        let pid = pid_of("k1");
        eprintln!("   podman import, run: {:.1?}", started.elapsed());

        // checkpoint --leave-running, exported (podman passes
        // --leave-running twice): k1 counts on in the same process
        let tar = lab.p("k1.tar");
        let before = last(&k1);
        let t = Instant::now();
        podman.ok(&[
            "container",
            "checkpoint",
            "--leave-running",
            "--export",
            &tar,
            "--compress",
            "none",
            "k1",
        ]);
        eprintln!(
            "   podman container checkpoint --leave-running --export: {:.1?}",
            t.elapsed()
        );
        assert_eq!(inspect("k1", "{{.State.Status}}"), "running");
        assert_eq!(pid_of("k1"), pid);
        let now = last(&k1);
        assert!(wait_for(30, || last(&k1) > now + 2), "{:?}", k1().last());

        // the export restored under a new name, beside k1: its log is k1's
        // as exported, then the restored counter's, which goes on from the
        // dump with k1's token
        let t = Instant::now();
        podman.ok(&["container", "restore", "--import", &tar, "--name", "k2"]);
        eprintln!("   podman container restore --import: {:.1?}", t.elapsed());
        let id2 = inspect("k2", "{{.Id}}");
        lab.owned_ids.push((PathBuf::from("/run/nook"), id2.clone()));
        assert_ne!(id2, id);
        let pid2 = pid_of("k2");
        assert!(pid2 > 0 && pid2 != pid);
        let k2 = logs("k2");
        // k2's log may begin with k1's lines up to the checkpoint (podman
        // puts the container log into an export): what k2 counted itself
        // is what follows the last restart and lies beyond k1's count.
        let restored = || {
            let seq = k2();
            let cut = seq
                .windows(2)
                .rposition(|w| w[1].1 <= w[0].1)
                .map_or(0, |i| i + 1);
            seq[cut..]
                .iter()
                .filter(|c| c.1 > before)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert!(wait_for(60, || restored().len() >= 3), "{:?}", k2().last());
        let run2 = restored();
        assert_one_run(&run2, "k2, restored from k1's export");
        // The same uuid: k1's counter, restored, not a new one started.
        assert_eq!(run2[0].0, k1()[0].0, "k2 is not k1's counter");
        assert_eq!(memory_limit(pid2), MEMORY_LIMIT);

        // checkpoint: k1's processes are gone, its count stands still
        let t = Instant::now();
        podman.ok(&["container", "checkpoint", "k1"]);
        eprintln!("   podman container checkpoint: {:.1?}", t.elapsed());
        assert!(common::host::dead(pid), "pid {pid} runs on after the checkpoint");
        assert_eq!(inspect("k1", "{{.State.Status}}"), "exited");
        assert!(
            !Path::new("/run/nook").join(&id).exists(),
            "nook still holds {id}"
        );
        let stopped = last(&k1);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(last(&k1), stopped);

        // restore under the same name: the count goes on where it stopped,
        // in a new process under the old cgroup limit; exec works in it
        let t = Instant::now();
        podman.ok(&["container", "restore", "k1"]);
        eprintln!("   podman container restore: {:.1?}", t.elapsed());
        assert_eq!(inspect("k1", "{{.State.Status}}"), "running");
        let pid3 = pid_of("k1");
        assert!(pid3 > 0 && pid3 != pid && pid3 != pid2);
        assert!(wait_for(60, || last(&k1) >= stopped + 3), "{:?}", k1().last());
        assert_one_run(&k1(), "k1 across its checkpoints and restore");
        assert_eq!(memory_limit(pid3), MEMORY_LIMIT);
        let out = podman.ok(&["exec", "k1", "sh", "-c", "echo exec ok; cat /proc/1/cmdline"]);
        assert!(out.contains("exec ok\nsh"), "{out}");

        podman.ok(&["rm", "-f", "-t", "1", "k1", "k2"]);
        lab.assert_engine_cleaned_up();
    }));
    let _ = podman.run(&["rm", "-af", "-t", "1"]);
    lab.finish(
        "podman checkpoint",
        result,
        &[
            "checkpoint --help",
            "checkpoint --image-path --work-path",
            "checkpoint --image-path --work-path --leave-running --leave-running",
            "restore --bundle --pid-file --detach --image-path --work-path",
        ],
    );
}

#[test]
#[ignore = "needs criu on a kernel it supports: tools/test-criu.sh"]
fn containerd_checkpoint_restore() {
    let _serial = serial();
    if !have(&["containerd", "ctr", "containerd-shim-runc-v2", "criu"]) {
        return;
    }
    // The shim's sockets and ctr's restore fifos go to /run/containerd.
    let mut lab = Lab::new("containerd", &["/run/containerd"]);
    let sock = lab.start_containerd();
    let ns = lab.tag.clone();
    let runc_root = lab.p("runc");
    lab.nook_roots.push(lab.path("runc").join(&ns));
    let (tmp, fifo, wrapper) = (lab.p("tmp"), lab.p("fifo"), lab.wrapper());
    let ctr = Cli::new(
        &["ctr", "--address", &sock, "--namespace", &ns],
        &[("TMPDIR", &tmp)],
    );
    let image = "docker.io/nooktest/busybox:latest";
    let checkpoint = "localhost/nooktest/checkpoint:c1";
    ctr.ok(&[
        "images",
        "import",
        "--snapshotter",
        "native",
        &lab.p("image/docker-archive.tar"),
    ]);
    let limit = MEMORY_LIMIT.to_string();
    let count = |pid: i32| {
        let mut c = None;
        wait_for(5, || {
            c = shm_count(pid);
            c.is_some()
        });
        c.unwrap_or_else(|| panic!("no count in /proc/{pid}/root/dev/shm/count"))
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let o = ctr.run(&[
            "run",
            "-d",
            "--snapshotter",
            "native",
            "--runc-binary",
            &wrapper,
            "--runc-root",
            &runc_root,
            "--fifo-dir",
            &fifo,
            "--memory-limit",
            &limit,
            image,
            "c1",
            "sh",
            "-c",
            COUNTER,
        ]);
        assert!(o.ok, "{}", o.text);
        let (pid, _) = ctr_task(&ctr, "c1").expect("task c1");
        assert!(wait_for(60, || shm_count(pid).is_some_and(|c| c.1 >= 3)));
        let (token, _) = count(pid);

        // checkpoint (ctr pauses the task, has it dumped with
        // --leave-running, resumes it): the task runs on
        let before = count(pid).1;
        let t = Instant::now();
        ctr.ok(&["containers", "checkpoint", "--task", "--image", "c1", checkpoint]);
        eprintln!("   ctr containers checkpoint: {:.1?}", t.elapsed());
        assert_eq!(ctr_task(&ctr, "c1"), Some((pid, "RUNNING".to_string())));
        assert!(!frozen(pid));
        let after = count(pid).1;
        assert!(wait_for(30, || count(pid).1 > after + 2));

        // gone: task and container
        ctr.ok(&["task", "kill", "--signal", "SIGKILL", "c1"]);
        assert!(wait_for(30, || ctr_task(&ctr, "c1").is_some_and(|(_, s)| s == "STOPPED")));
        ctr.ok(&["task", "rm", "c1"]);
        ctr.ok(&["containers", "rm", "c1"]);

        // restore under the same id, with the memory: the counter goes on
        // from the dump, with the old token, under the old cgroup limit
        let t = Instant::now();
        ctr.ok(&["containers", "restore", "--live", "c1", checkpoint]);
        eprintln!("   ctr containers restore --live: {:.1?}", t.elapsed());
        let (pid2, status) = ctr_task(&ctr, "c1").expect("restored task c1");
        assert_eq!(status, "RUNNING");
        assert_ne!(pid2, pid);
        let (t2, n2) = count(pid2);
        assert_eq!(t2, token, "the restored counter started afresh");
        // (not bounded above: the restored counter runs on while ctr
        // returns; the token is what tells it is the dumped one)
        assert!(n2 >= before, "restored at {n2}, was at {before} before the dump");
        assert!(wait_for(30, || count(pid2).1 > n2 + 2));
        assert_eq!(memory_limit(pid2), MEMORY_LIMIT);

        // the restored task is a task like any other
        let out = ctr.ok(&[
            "task",
            "exec",
            "--fifo-dir",
            &fifo,
            "--exec-id",
            "e1",
            "c1",
            "sh",
            "-c",
            "echo exec ok; cat /proc/1/cmdline",
        ]);
        assert!(out.contains("exec ok\nsh"), "{out}");
        ctr.ok(&["task", "pause", "c1"]);
        assert!(frozen(pid2));
        ctr.ok(&["task", "resume", "c1"]);
        assert!(!frozen(pid2));
        ctr.ok(&["task", "kill", "--signal", "SIGKILL", "c1"]);
        assert!(wait_for(30, || ctr_task(&ctr, "c1").is_some_and(|(_, s)| s == "STOPPED")));
        ctr.ok(&["task", "rm", "c1"]);
        ctr.ok(&["containers", "rm", "c1"]);
        lab.assert_engine_cleaned_up();
    }));
    let _ = ctr.run(&["task", "kill", "--signal", "SIGKILL", "c1"]);
    let _ = ctr.run(&["task", "rm", "--force", "c1"]);
    let _ = ctr.run(&["containers", "rm", "c1"]);
    lab.finish(
        "containerd checkpoint",
        result,
        &[
            "checkpoint --image-path --work-path --file-locks --leave-running",
            // -no-subreaper with one dash: go-runc's spelling, which runc's
            // flag parser takes.
            "restore --image-path --work-path --detach --pid-file -no-subreaper --bundle",
        ],
    );
}

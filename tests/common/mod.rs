//! Shared fixture for the integration tests (run as root, real kernel).
//!
//! Every test gets its own temp directory holding a busybox bundle and a
//! state root. [`Fixture`]'s Drop force-deletes any container left in the
//! root and then checks that nothing of the test is still mounted, so a
//! leaking runtime fails the test that leaked.
#![allow(dead_code)] // each test binary uses a different part of the fixture

pub mod agent;
pub mod host;
pub mod rootless;
pub mod systemd;

use std::path::{Path, PathBuf};
use std::time::Duration;

use nook::{Context, CreateOptions};
use serde_json::{json, Value};

pub const BUSYBOX: &str = "/bin/busybox";

/// Applets linked into the test rootfs.
const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "id", "sleep", "ls", "hostname", "touch", "mkdir", "true", "false", "grep", "env",
    "pwd", "stat", "wc", "tty", "readlink", "head", "test", "ps", "mount", "cut", "tr", "date",
];

/// Copies an executable that a test will run, in a `cp` process of its own.
///
/// `std::fs::copy` would hold the copy open for writing in this process,
/// and a sibling test thread that forks in that moment keeps that fd until
/// its child execs: an execve of the copy then fails with ETXTBSY ("text
/// file busy"). The `cp` process's fd dies with it, out of every fork's reach.
pub fn copy_executable(src: impl AsRef<Path>, dst: &Path) {
    let st = std::process::Command::new("cp")
        .arg(src.as_ref())
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success(), "cp {} {}", src.as_ref().display(), dst.display());
}

/// A test's bundle and state root.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub ctx: Context,
    pub config: Value,
}

impl Fixture {
    /// A bundle whose rootfs holds busybox, with runc's default config
    /// (`runc spec`) adjusted to run `args`.
    pub fn new(args: &[&str]) -> Fixture {
        assert!(
            Path::new(BUSYBOX).exists(),
            "tests need busybox-static ({BUSYBOX})"
        );
        let dir = tempfile::Builder::new().prefix("nook-test-").tempdir().unwrap();
        // Reachable by the mapped root of user-namespace tests.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let rootfs = dir.path().join("bundle/rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::create_dir_all(rootfs.join("out")).unwrap();
        copy_executable(BUSYBOX, &rootfs.join("bin/busybox"));
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        let ctx = Context::new(dir.path().join("state"));
        Fixture {
            dir,
            ctx,
            config: default_config(args),
        }
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.bundle().join("rootfs")
    }

    /// A host directory bind-mounted at /out in the container, for results.
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Adds the /out bind mount (read-write) to the config.
    pub fn with_out(mut self) -> Fixture {
        std::fs::create_dir_all(self.out()).unwrap();
        let out = self.out();
        self.mounts()
            .push(json!({"destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]}));
        self
    }

    pub fn mounts(&mut self) -> &mut Vec<Value> {
        self.config["mounts"].as_array_mut().unwrap()
    }

    pub fn write_config(&self) {
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Writes the config and creates container `id`.
    pub fn create(&self, id: &str) -> nook::Result<nook::Container> {
        self.create_with(id, &CreateOptions::default())
    }

    pub fn create_with(&self, id: &str, opts: &CreateOptions) -> nook::Result<nook::Container> {
        self.write_config();
        self.ctx.create(id, self.bundle(), opts)
    }

    /// create + start + wait + delete; the exit code.
    pub fn run(&self, id: &str) -> nook::Result<i32> {
        self.write_config();
        self.ctx.run(id, self.bundle(), &CreateOptions::default())
    }

    /// Reads /out/<name> written by the container.
    pub fn read_out(&self, name: &str) -> String {
        std::fs::read_to_string(self.out().join(name)).unwrap_or_default()
    }

    /// The entries of a copy of /proc/PID/environ the container wrote to
    /// `/out/<name>`.
    pub fn read_out_environ(&self, name: &str) -> Vec<String> {
        self.read_out(name)
            .split('\0')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Mount points under this test's directory, as the host sees them.
    pub fn host_mounts(&self) -> Vec<String> {
        mounts_under(self.dir.path())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Ok(list) = self.ctx.list() {
            for s in list {
                if let Ok(c) = self.ctx.load(&s.id) {
                    let _ = c.delete(true);
                }
            }
        }
        let leaked = self.host_mounts();
        let state_left = std::fs::read_dir(self.ctx.root()).map(|d| d.count()).unwrap_or(0);
        if !std::thread::panicking() {
            assert!(leaked.is_empty(), "mounts left on the host: {leaked:?}");
            assert_eq!(state_left, 0, "state left under {}", self.ctx.root().display());
        }
    }
}

/// Host mount points whose path starts with `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.to_string_lossy().into_owned();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&d))
        .map(str::to_string)
        .collect()
}

/// runc's `runc spec` defaults (namespaces, mounts, masked and read-only
/// paths, capabilities), with `args` as the process and no terminal.
pub fn default_config(args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "nook-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// A field of /proc/PID/status.
pub fn status_field(pid: i32, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// Inode of /proc/PID/ns/NAME.
pub fn ns_inode(pid: &str, name: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Waits until `f` holds (up to 5 s).
pub fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Keyrings in /proc/keys (ID FLAGS USAGE TIMEOUT PERM UID GID TYPE DESC: ...) named `name`.
pub fn keyrings_named(name: &str) -> usize {
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    let desc = format!("{name}:");
    keys.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.get(7) == Some(&"keyring") && f.get(8) == Some(&desc.as_str()))
        .count()
}

/// Reads a pty master until `marker` shows up or the terminal closes;
/// returns what was read and the master, to answer on.
pub fn read_until(master: std::os::fd::OwnedFd, marker: &str) -> (String, std::fs::File) {
    use std::io::Read;
    let mut out = String::new();
    let mut file = std::fs::File::from(master);
    let mut buf = [0u8; 256];
    while !out.contains(marker) {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    (out, file)
}

/// Whether the filesystem holding `dir` supports id-mapped mounts on this
/// kernel, going by its type (`statfs`): ext4, xfs and btrfs since 5.12,
/// overlayfs since 5.19, tmpfs since 6.3. Tests of id-mapped mounts skip
/// (saying so) where it does not.
pub fn idmap_supported(dir: &Path) -> bool {
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir)
        .output()
        .unwrap();
    let fs = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    let kernel = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    let ok = match fs.as_str() {
        "ext2/ext3" | "xfs" | "btrfs" => kernel >= (5, 12),
        "overlayfs" => kernel >= (5, 19),
        "tmpfs" => kernel >= (6, 3),
        _ => false,
    };
    if !ok {
        eprintln!(
            "skipping id-mapped mounts: {fs} on Linux {}.{} does not support them",
            kernel.0, kernel.1
        );
    }
    ok
}

/// (mount point, options) of every mount of process `pid`.
pub fn mountinfo(pid: i32) -> Vec<(String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[4].to_string(), f[5].to_string())
        })
        .collect()
}

/// Runs the nook binary with `--root root` and collects its output (for
/// commands whose container, if any, is gone when nook exits: a container
/// keeps nook's stdio open).
pub fn nook(root: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Runs the nook binary with `--root root` and /dev/null as stdio, for
/// `run -d` and `exec -d`, whose processes outlive it.
pub fn nook_detached(root: &std::path::Path, args: &[&str]) -> std::process::ExitStatus {
    use std::process::Stdio;
    std::process::Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
}

/// A child of the test, killed by pid and reaped when dropped, should
/// the test fail half-way (forget it once something else reaped it: its
/// pid may be another process's by then).
pub struct Reap(pub std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

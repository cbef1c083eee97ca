//! What the stress tests (issue 16: exhaustion, concurrency) check on the
//! host afterwards: every container of a test lives below a cgroup parent
//! of its own, so what is left of it can be found in every mounted
//! hierarchy (each v1 controller, the named systemd one and the unified
//! one), and so can any process still in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A test's cgroup parent, `/nook-stress-<pid>-<test>`, in every mounted
/// cgroup hierarchy. nook makes it with the first container; Drop removes
/// what is left (after the test has asserted there is nothing below it).
pub struct CgroupParent {
    pub name: String,
}

impl CgroupParent {
    pub fn new(test: &str) -> CgroupParent {
        CgroupParent {
            name: format!("nook-stress-{}-{test}", std::process::id()),
        }
    }

    /// The `linux.cgroupsPath` of container `id`.
    pub fn cgroups_path(&self, id: &str) -> String {
        format!("/{}/{id}", self.name)
    }

    /// The parent's directory in each mounted hierarchy (existing or not).
    pub fn dirs(&self) -> Vec<PathBuf> {
        hierarchies().into_iter().map(|h| h.join(&self.name)).collect()
    }

    /// Every cgroup directory left below the parent, in any hierarchy.
    pub fn leftover_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in self.dirs() {
            collect_dirs(&d, &mut out);
        }
        out
    }

    /// Live (not zombie) processes whose cgroup, in any hierarchy, is the
    /// parent or below it.
    pub fn processes(&self) -> Vec<i32> {
        let needle = format!("/{}", self.name);
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cg) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
                continue;
            };
            let ours = cg.lines().any(|l| {
                let path = l.splitn(3, ':').nth(2).unwrap_or("");
                path == needle || path.starts_with(&format!("{needle}/"))
            });
            if ours && !dead(pid) {
                out.push(pid);
            }
        }
        out
    }

    /// Asserts that nothing of the test's containers is left: no cgroup
    /// directory below the parent in any hierarchy, no process in one.
    pub fn assert_clean(&self) {
        let procs = self.processes();
        let procs = if procs.is_empty() {
            procs
        } else {
            // A SIGKILLed process leaves its cgroup a moment after it died.
            std::thread::sleep(Duration::from_millis(500));
            self.processes()
        };
        assert!(procs.is_empty(), "processes left in {}: {procs:?}", self.name);
        let dirs = self.leftover_dirs();
        assert!(dirs.is_empty(), "cgroup directories left: {dirs:?}");
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        for top in self.dirs() {
            let mut below = Vec::new();
            collect_dirs(&top, &mut below);
            // Deepest first; processes left by a failed test die first.
            below.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in below.iter().chain([&top]) {
                if let Ok(procs) = std::fs::read_to_string(d.join("cgroup.procs")) {
                    for p in procs.lines().filter_map(|l| l.parse::<i32>().ok()) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(p),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                let _ = std::fs::write(d.join("freezer.state"), "THAWED");
                for _ in 0..100 {
                    if std::fs::remove_dir(d).is_ok() || !d.exists() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(e.path());
            collect_dirs(&e.path(), out);
        }
    }
}

/// Mount points of every cgroup and cgroup2 hierarchy.
pub fn hierarchies() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let fstype = post.split(' ').next()?;
            let point = pre.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(point))
        })
        .collect()
}

/// Whether `pid` is gone or a zombie.
pub fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s[s.rfind(')').unwrap() + 2..].starts_with(['Z', 'X']),
        Err(_) => true,
    }
}

/// The nook binary with `--root root` and no stdin. Its output goes where
/// the caller says: a created container keeps nook's stdout and stderr
/// open, so pipes would never reach EOF while it lives.
pub fn nook_cmd(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nook"));
    c.arg("--root").arg(root).stdin(Stdio::null());
    c
}

/// Runs `cmd` with its stdout and stderr in files (see [`nook_cmd`]);
/// returns (success, stdout, stderr).
pub fn run_to_files(mut cmd: Command, scratch: &Path) -> (bool, String, String) {
    let out = tempfile::tempfile_in(scratch).unwrap();
    let err = tempfile::tempfile_in(scratch).unwrap();
    let status = cmd
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .status()
        .unwrap();
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut s = String::new();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_to_string(&mut s).unwrap();
        s
    };
    (status.success(), read(out), read(err))
}

//! The runtime's own processes that a container can reach (the exec child
//! before its execve, a created container's init before `start`) are no
//! window onto the host: each test does the attack for real from inside a
//! container and checks it fails (CVE-2019-5736, CVE-2024-21626, leaked
//! fds, ptrace of the exec child), plus the seccomp ordering of issue 12.
//!
//! They run a copy of the nook binary from the test's temp dir, so a
//! successful overwrite could never damage the built binary; "unchanged"
//! means byte-identical to the built one.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{eventually, Fixture};
use serde_json::json;

const PTRACE_CAPS: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_PTRACE",
];

/// A fixture with /out and a private copy of the nook binary.
struct Setup {
    f: Fixture,
    nook: PathBuf,
}

impl Setup {
    fn new(args: &[&str], ptrace: bool) -> Setup {
        let mut f = Fixture::new(args).with_out();
        if ptrace {
            let caps = json!(PTRACE_CAPS);
            f.config["process"]["capabilities"] =
                json!({"bounding": caps, "effective": caps, "permitted": caps});
        }
        let nook = f.dir.path().join("nook");
        common::copy_executable(env!("CARGO_BIN_EXE_nook"), &nook);
        Setup { f, nook }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.nook);
        c.arg("--root").arg(self.f.ctx.root()).args(args);
        c
    }

    /// Runs nook; a command that leaves a container behind gets no pipes
    /// (the container would hold them open).
    fn nook(&self, args: &[&str]) -> Output {
        let mut c = self.cmd(args);
        c.stdin(Stdio::null());
        if args.first().is_some_and(|a| *a == "create" || *a == "start") || args.contains(&"-d") {
            c.stdout(Stdio::null()).stderr(Stdio::null());
        }
        c.output().unwrap()
    }

    /// Runs nook through bash, so it starts with extra descriptors opened
    /// by `redirections` (e.g. `7<DIR`).
    fn nook_with_fds(&self, args: &[&str], redirections: &str) -> Output {
        let mut c = Command::new("/bin/bash");
        c.arg("-c")
            .arg(format!("exec \"$0\" \"$@\" {redirections}"))
            .arg(&self.nook)
            .arg("--root")
            .arg(self.f.ctx.root())
            .args(args)
            .stdin(Stdio::null());
        if args.first() == Some(&"create") {
            c.stdout(Stdio::null()).stderr(Stdio::null());
        }
        c.output().unwrap()
    }

    fn create(&self, id: &str) {
        self.f.write_config();
        let b = self.f.bundle();
        let o = self.nook(&["create", "-b", b.to_str().unwrap(), id]);
        assert!(o.status.success(), "create failed");
    }

    fn out(&self, name: &str) -> String {
        std::fs::read_to_string(self.f.out().join(name))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn binary_unchanged(&self) -> bool {
        std::fs::read(&self.nook).unwrap() == std::fs::read(env!("CARGO_BIN_EXE_nook")).unwrap()
    }

    /// Deletes `id` and checks nothing of it is left: state, cgroups and
    /// processes (any process running from the test's temp dir).
    fn delete_and_check(&self, id: &str) {
        // Through the library: the attack under test may have broken the
        // copy. (`run` deleted its container already.)
        if let Ok(c) = self.f.ctx.load(id) {
            c.delete(true).unwrap();
        }
        assert!(!self.f.ctx.root().join(id).exists(), "state dir left");
        for ctrl in ["unified", "memory", "pids", "cpu", "devices"] {
            let dir = Path::new("/sys/fs/cgroup").join(ctrl).join(id);
            assert!(!dir.exists(), "cgroup left: {}", dir.display());
        }
        let tag = self.f.dir.path().to_string_lossy().into_owned();
        let left = || {
            std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .filter(|e| {
                    std::fs::read(e.path().join("cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&tag))
                })
                .count()
        };
        assert!(eventually(|| left() == 0), "processes left running from {tag}");
    }
}

/// Waits until `f` holds, up to 20 s.
fn within_20s(mut f: impl FnMut() -> bool) -> bool {
    (0..200).any(|_| {
        f() || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    })
}

/// The watcher every exec attack runs as the container's init: it holds
/// /t/true open for writing, so the exec child of `nook exec ... /t/true`
/// retries its execve (ETXTBSY) for a while in the nook image; it finds that
/// child, opens its /proc/PID/exe (kept as fd 3) and /proc/PID/mem, lets the
/// execve go, and once nook is gone writes through /proc/self/fd/3.
const WATCHER: &str = r#"
exec 4>>/t/true
echo ready > /out/ready
n=0
while [ ! -s /out/open ] && [ $n -lt 20000 ]; do
  n=$((n+1))
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] && continue
    [ "$p" = $$ ] && continue
    tr '\0' ' ' < $d/cmdline 2>/dev/null | grep -q -- '--root' || continue
    if command exec 3< $d/exe 2>/dev/null; then echo opened > /out/open; else echo refused > /out/open; fi
    if command exec 5< $d/mem 2>/dev/null; then echo opened > /out/mem; else echo refused > /out/mem; fi
    break
  done
done
exec 4>&-
i=0
while [ $i -lt 40 ]; do
  if [ -e /proc/self/fd/3 ] && (echo PWNED > /proc/self/fd/3) 2>/out/write_err; then echo written > /out/write; break; fi
  sleep 0.05
  i=$((i+1))
done
echo done > /out/done
sleep 100
"#;

fn exec_attack(ptrace: bool, id: &str) {
    let s = Setup::new(&["sh", "-c", WATCHER], ptrace);
    std::fs::create_dir(s.f.rootfs().join("t")).unwrap();
    common::copy_executable(common::BUSYBOX, &s.f.rootfs().join("t/true"));
    s.create(id);
    assert!(s.nook(&["start", id]).status.success());
    assert!(eventually(|| s.out("ready") == "ready"));
    let exec = s.nook(&["exec", id, "/t/true"]);
    assert!(
        within_20s(|| s.out("done") == "done"),
        "watcher did not finish; exec: {}",
        String::from_utf8_lossy(&exec.stderr)
    );
    let (open, mem, write) = (s.out("open"), s.out("mem"), s.out("write"));
    s.delete_and_check(id);
    assert!(!open.is_empty(), "the watcher never saw the exec child");
    assert_ne!(
        write, "written",
        "the host's nook binary was written through /proc/PID/exe"
    );
    assert!(s.binary_unchanged(), "the host's nook binary changed");
    if ptrace {
        // CAP_SYS_PTRACE in the host user namespace opens it: the image is
        // a sealed read-only copy, so the write fails.
        assert_eq!(open, "opened");
        assert!(s.out("write_err").contains("Read-only"), "{}", s.out("write_err"));
    } else {
        assert_eq!(open, "refused", "/proc/PID/exe of the exec child was opened");
        assert_eq!(
            mem, "refused",
            "/proc/PID/mem of the exec child was opened (ptrace access)"
        );
    }
}

#[test]
fn exec_child_exe_and_mem_are_out_of_reach() {
    exec_attack(false, "sec-exec-exe");
}

#[test]
fn exec_child_exe_is_read_only_for_a_container_with_cap_sys_ptrace() {
    exec_attack(true, "sec-exec-ptrace");
}

/// A process exec'd into a created container opens /proc/1/exe (the init,
/// still nook's image) and writes through it once `start` has run.
fn init_attack(ptrace: bool, id: &str) {
    let s = Setup::new(&["sleep", "100"], ptrace);
    s.create(id);
    let script = r#"
if command exec 3< /proc/1/exe 2>/dev/null; then echo opened > /out/open; else echo refused > /out/open; fi
i=0
while [ $i -lt 40 ]; do
  if [ -e /proc/self/fd/3 ] && [ -e /out/started ] && (echo PWNED > /proc/self/fd/3) 2>/out/write_err; then
    echo written > /out/write; break
  fi
  sleep 0.05
  i=$((i+1))
done
echo done > /out/done
"#;
    assert!(s.nook(&["exec", "-d", id, "sh", "-c", script]).status.success());
    assert!(eventually(|| !s.out("open").is_empty()));
    assert!(s.nook(&["start", id]).status.success());
    std::fs::write(s.f.out().join("started"), "").unwrap();
    assert!(within_20s(|| s.out("done") == "done"));
    let (open, write) = (s.out("open"), s.out("write"));
    s.delete_and_check(id);
    assert_ne!(
        write, "written",
        "the host's nook binary was written through /proc/1/exe"
    );
    assert!(s.binary_unchanged(), "the host's nook binary changed");
    if ptrace {
        assert_eq!(open, "opened");
        assert!(s.out("write_err").contains("Read-only"), "{}", s.out("write_err"));
    } else {
        assert_eq!(open, "refused", "/proc/1/exe of the created init was opened");
    }
}

#[test]
fn created_init_exe_is_out_of_reach() {
    init_attack(false, "sec-init-exe");
}

#[test]
fn created_init_exe_is_read_only_for_a_container_with_cap_sys_ptrace() {
    init_attack(true, "sec-init-ptrace");
}

#[test]
fn created_init_holds_none_of_the_callers_fds() {
    let s = Setup::new(&["sleep", "100"], true);
    let host_dir = s.f.dir.path().join("hostdir");
    std::fs::create_dir(&host_dir).unwrap();
    let id = "sec-init-fds";
    s.f.write_config();
    let b = s.f.bundle();
    let o = s.nook_with_fds(
        &["create", "-b", b.to_str().unwrap(), id],
        &format!("10<{0} 251<{0}", host_dir.display()),
    );
    assert!(o.status.success());
    // Read with CAP_SYS_PTRACE, which non-dumpable does not stop.
    let ls = s.nook(&["exec", id, "ls", "-l", "/proc/1/fd"]);
    let listing = String::from_utf8_lossy(&ls.stdout).into_owned();
    s.delete_and_check(id);
    assert!(ls.status.success(), "{}", String::from_utf8_lossy(&ls.stderr));
    assert!(listing.contains(" 0 -> "), "{listing}");
    let fds: Vec<(&str, &str)> = listing
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .map(|(a, b)| (a.rsplit(' ').next().unwrap(), b))
        .collect();
    for (fd, target) in &fds {
        assert!(
            *fd != "10" && *fd != "251",
            "caller's fd {fd} reached the init: {listing}"
        );
        assert!(
            !target.contains("hostdir"),
            "host directory {target} reached the init: {listing}"
        );
        assert!(
            !target.starts_with('/') || target.starts_with("/dev/"),
            "the init holds host path {target}: {listing}"
        );
    }
}

/// `--preserve-fds` passes the caller's fds 3..3+N on by number, and the
/// child clears close-on-exec on all of them: a hole in that range that one
/// of nook's own descriptors filled (the sync socket's parent end, the lock
/// on the state directory, the claim on the cgroup) would reach the
/// container. The caller leaves 4, 6 and 8 closed; the init must too.
#[test]
fn holes_in_the_preserved_fds_get_none_of_nooks_descriptors() {
    let s = Setup::new(&["sleep", "100"], true);
    let id = "sec-fd-holes";
    s.f.write_config();
    let b = s.f.bundle();
    let o = s.nook_with_fds(
        &["create", "--preserve-fds", "6", "-b", b.to_str().unwrap(), id],
        "3</dev/null 5</dev/null 7</dev/null",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ls = s.nook(&["exec", id, "ls", "-l", "/proc/1/fd"]);
    // An exec'd process the same way: its shell lists its own descriptors.
    let exec_ls = s.nook_with_fds(
        &["exec", "--preserve-fds", "6", id, "sh", "-c", "ls -l /proc/$$/fd"],
        "3</dev/null 5</dev/null 7</dev/null",
    );
    s.delete_and_check(id);
    for (who, o) in [("init", ls), ("exec'd process", exec_ls)] {
        let listing = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let fds: Vec<&str> = listing
            .lines()
            .filter_map(|l| l.split_once(" -> "))
            .map(|(a, _)| a.rsplit(' ').next().unwrap())
            .collect();
        assert!(fds.contains(&"3") && fds.contains(&"7"), "{who}: {listing}");
        for hole in ["4", "6", "8"] {
            assert!(
                !fds.contains(&hole),
                "nook's fd {hole} reached the {who}: {listing}"
            );
        }
    }
}

#[test]
fn exec_cwd_through_a_callers_fd_does_not_reach_the_host() {
    let s = Setup::new(&["sleep", "100"], false);
    let id = "sec-exec-cwd";
    let host_dir = s.f.dir.path().join("h/a/b");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(s.f.dir.path().join("SECRET"), "host-secret-42\n").unwrap();
    s.create(id);
    assert!(s.nook(&["start", id]).status.success());
    let o = s.nook_with_fds(
        &[
            "exec",
            "--cwd",
            "/proc/self/fd/7",
            id,
            "sh",
            "-c",
            "pwd; cat ../../../SECRET",
        ],
        &format!("7<{}", host_dir.display()),
    );
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    s.delete_and_check(id);
    assert!(
        !out.contains("host-secret-42"),
        "host file read through the cwd: {out}"
    );
    assert!(
        !out.contains(&*s.f.dir.path().to_string_lossy()),
        "cwd on the host: {out}"
    );
    // Refused, naming the field (a magic link is no cwd inside the root).
    assert!(!o.status.success(), "{out}");
    assert!(err.contains("process.cwd"), "{err}");
}

/// A container whose profile denies `denied` runs (nook makes no call of
/// its own under the user's filter but execve), with or without no_new_privs.
fn runs_despite_denied(denied: &str, nnp: bool, id: &str) {
    let mut s = Setup::new(&["grep", "SigBlk", "/proc/self/status"], false);
    s.f.config["process"]["noNewPrivileges"] = json!(nnp);
    s.f.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": [denied], "action": "SCMP_ACT_ERRNO"}]});
    s.f.write_config();
    let b = s.f.bundle();
    let o = s.nook(&["run", "-b", b.to_str().unwrap(), id]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    s.delete_and_check(id);
    assert!(o.status.success(), "{denied} denied, nnp {nnp}: {err}");
    // The process starts with no signal blocked.
    assert_eq!(out.trim(), "SigBlk:\t0000000000000000", "{out}");
}

#[test]
fn a_profile_denying_close_range_or_sigprocmask_still_runs() {
    runs_despite_denied("close_range", true, "sec-sc-cr");
    runs_despite_denied("close_range", false, "sec-sc-cr-nonnp");
    runs_despite_denied("rt_sigprocmask", true, "sec-sc-sig");
    runs_despite_denied("rt_sigprocmask", false, "sec-sc-sig-nonnp");
}

#[test]
fn start_container_hooks_run_under_the_filter_with_no_new_privileges() {
    let mut s = Setup::new(&["true"], false);
    s.f.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
    s.f.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh",
        "args": ["sh", "-c", "mkdir /out/hookdir 2>/dev/null; echo $? > /out/hook"]}]});
    s.f.write_config();
    let id = "sec-hook-sc";
    let b = s.f.bundle();
    let o = s.nook(&["run", "-b", b.to_str().unwrap(), id]);
    s.delete_and_check(id);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        s.out("hook"),
        "1",
        "mkdir in the startContainer hook was not filtered"
    );
    assert!(!s.f.out().join("hookdir").exists());
}

/// The sealed re-execution costs something only where it is needed: a
/// default container's nook is the binary itself; one with CAP_SYS_PTRACE
/// runs from a read-only detached mount of it.
#[test]
fn only_a_container_with_cap_sys_ptrace_pays_the_sealed_reexec() {
    for (ptrace, id) in [(false, "sec-seal-no"), (true, "sec-seal-yes")] {
        let s = Setup::new(&["sleep", "100"], ptrace);
        s.create(id);
        let exec = s
            .cmd(&["exec", id, "sleep", "100"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut exec = exec.unwrap();
        let pid = exec.id();
        std::thread::sleep(Duration::from_millis(300));
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        let statvfs = nix::sys::statvfs::statvfs(&format!("/proc/{pid}/exe")[..]).unwrap();
        let _ = exec.kill();
        let _ = exec.wait();
        s.delete_and_check(id);
        let ro = statvfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
        assert_eq!(ro, ptrace, "exe {} read-only {ro}", exe.display());
    }
}

/// A program embedding the library cannot seal its clone's executable
/// after the fact: a container that could open it despite non-dumpable is
/// refused while the program runs from a writable image (this test binary
/// does), naming the field, and leaves nothing behind.
#[test]
fn the_library_refuses_cap_sys_ptrace_without_a_sealed_executable() {
    assert!(!nook::exe::is_sealed().unwrap());
    let s = Setup::new(&["true"], true);
    let e = s.f.create("sec-lib-ptrace").map(drop).unwrap_err();
    assert!(e.to_string().contains("process.capabilities"), "{e}");
    assert!(e.to_string().contains("reexec_sealed"), "{e}");
    assert!(!s.f.ctx.root().join("sec-lib-ptrace").exists());
    assert!(!Path::new("/sys/fs/cgroup/unified/sec-lib-ptrace").exists());
    // With a user namespace CAP_SYS_PTRACE is the container's own: fine.
    let mut s = Setup::new(&["true"], true);
    s.f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    s.f.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    s.f.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // The rootfs and /out belong to the mapped root, as an engine arranges.
    let chown = Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(s.f.rootfs())
        .arg(s.f.out())
        .status()
        .unwrap();
    assert!(chown.success());
    assert_eq!(s.f.run("sec-lib-userns").unwrap(), 0);
}

/// A rootless container's init stays dumpable, so its user can still exec
/// into it while it is created; when that user can write the nook binary
/// (and so could the container's root, which is that user), nook runs from
/// a sealed copy, and a write through /proc/1/exe after `start` fails.
#[test]
fn rootless_init_is_reachable_by_its_user_and_runs_sealed_when_writable() {
    use common::rootless::{stderr, stdout, Rootless, NOBODY};
    let script = r#"
r=/dev/shm/r
if command exec 3< /proc/1/exe; then echo opened > $r; else echo refused > $r; exit 0; fi
i=0
while [ "$(cat /proc/1/comm)" != sleep ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
if (echo PWNED > /proc/self/fd/3) 2>/dev/shm/err; then echo written >> $r; fi
echo done >> $r
"#;
    for writable in [false, true] {
        let mut r = Rootless::new(&["sleep", "100"]);
        if writable {
            r.binary = r.f.dir.path().join("nook");
            common::copy_executable(env!("CARGO_BIN_EXE_nook"), &r.binary);
            std::os::unix::fs::lchown(&r.binary, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        let id = format!("sec-rl-{writable}");
        assert!(r.nook(&["create", &id]).status.success());
        let state: serde_json::Value = serde_json::from_slice(&r.nook(&["state", &id]).stdout).unwrap();
        let exe = std::fs::read_link(format!("/proc/{}/exe", state["pid"])).unwrap();
        let o = r.nook(&["exec", "-d", &id, "sh", "-c", script]);
        assert!(
            o.status.success(),
            "exec into the created container: {}",
            stderr(&o)
        );
        let result = || stdout(&r.nook(&["exec", &id, "cat", "/dev/shm/r", "/dev/shm/err"]));
        assert!(eventually(|| result().starts_with("opened")), "{}", result());
        assert!(r.nook(&["start", &id]).status.success());
        assert!(within_20s(|| result().contains("done")), "{}", result());
        let out = result();
        assert!(r.nook(&["delete", "--force", &id]).status.success());
        let unchanged =
            std::fs::read(&r.binary).unwrap() == std::fs::read(env!("CARGO_BIN_EXE_nook")).unwrap();
        assert!(
            unchanged && !out.contains("written"),
            "nook binary written through /proc/1/exe: {out}"
        );
        if writable {
            assert!(
                exe.to_string_lossy().starts_with("/memfd:nook"),
                "{}",
                exe.display()
            );
            assert!(out.contains("Operation not permitted"), "{out}");
        } else {
            assert_eq!(exe, Path::new(env!("CARGO_BIN_EXE_nook")));
            assert!(out.contains("Permission denied"), "{out}");
        }
    }
}

/// As with runc, a process exec'd without `capabilities` gets the
/// container's, not the runtime's full set (which would include
/// CAP_SYS_ADMIN and CAP_SYS_PTRACE on the host).
#[test]
fn exec_without_capabilities_gets_the_containers() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("sec-exec-caps").unwrap();
    c.start().unwrap();
    let p = json!({"user": {"uid": 0, "gid": 0}, "args": ["sleep", "100"], "env": ["PATH=/bin"], "cwd": "/"});
    let e = c.exec_json(&p.to_string(), &Default::default()).unwrap();
    // CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE.
    let caps = "0000000020000420";
    let (bnd, eff) = (
        common::status_field(e.pid(), "CapBnd"),
        common::status_field(e.pid(), "CapEff"),
    );
    e.kill(libc::SIGKILL).unwrap();
    let _ = e.wait();
    c.delete(true).unwrap();
    assert_eq!((bnd.as_str(), eff.as_str()), (caps, caps));
}

/// As with runc and crun, a container whose process has no
/// `capabilities` gets none: not the runtime's full set by omission. The
/// bounding set is empty too, so an execve as root cannot regain them.
#[test]
fn a_process_without_capabilities_gets_none() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["process"]
        .as_object_mut()
        .unwrap()
        .remove("capabilities");
    let c = f.create("sec-no-caps").unwrap();
    let fields: Vec<String> = ["CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"]
        .iter()
        .map(|k| common::status_field(c.pid(), k))
        .collect();
    c.delete(true).unwrap();
    assert!(fields.iter().all(|v| v == "0000000000000000"), "{fields:?}");
}

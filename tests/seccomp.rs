//! Real-kernel tests of nook::seccomp: a child installs the compiled program
//! between fork and exec (as the container's init will), then execs a
//! busybox applet, and the test checks what the kernel did to it.
//!
//! Needs /bin/busybox (static); runs unprivileged too, since the child sets
//! no_new_privs before installing the filter.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

mod common;

use common::agent::{agent, recv_with_fd};
use nook::seccomp::{compile, send_listener, Program};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

const BUSYBOX: &str = "/bin/busybox";

fn program(profile: serde_json::Value) -> Program {
    let profile: LinuxSeccomp = serde_json::from_value(profile).expect("profile deserializes");
    compile(&profile).expect("profile compiles")
}

fn fixture(name: &str) -> Program {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seccomp")
        .join(name);
    let profile: LinuxSeccomp = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    compile(&profile).expect("fixture compiles")
}

fn os_err(errno: i32) -> std::io::Error {
    std::io::Error::from_raw_os_error(errno)
}

/// What the child does before installing: no_new_privs (so no privilege is
/// needed) and no core dumps (SIGSYS dumps core by default).
fn prepare_child() -> std::io::Result<()> {
    nook::sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).map_err(os_err)?;
    nook::sys::setrlimit(libc::RLIMIT_CORE as i32, 0, 0).map_err(os_err)
}

/// A busybox command whose child installs `prog` right before exec.
fn busybox_under(prog: Option<Program>, args: &[&str]) -> Command {
    let mut cmd = Command::new(BUSYBOX);
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: the closure runs in the forked child and only makes system
    // calls (prctl, prlimit64, seccomp) through nook::sys, which neither
    // allocates nor locks; errors are built from raw errnos, allocation-free.
    unsafe {
        cmd.pre_exec(move || {
            prepare_child()?;
            if let Some(prog) = &prog {
                prog.install().map_err(os_err)?;
            }
            Ok(())
        })
    };
    cmd
}

fn run(prog: Program, args: &[&str]) -> Output {
    busybox_under(Some(prog), args).output().expect("busybox runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn allow_but(syscalls: serde_json::Value) -> Program {
    program(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls}))
}

#[test]
fn errno_defaults_to_eperm_and_errno_ret_is_returned() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let prog = allow_but(json!([
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}
    ]));
    let script = format!(
        "mkdir {0}; rmdir {1}; echo done",
        d.display(),
        dir.path().display()
    );
    let out = run(prog, &["sh", "-c", &script]);
    let err = text(&out.stderr);
    assert!(err.contains("Function not implemented"), "mkdir -> ENOSYS: {err}");
    assert!(err.contains("Operation not permitted"), "rmdir -> EPERM: {err}");
    assert_eq!(text(&out.stdout), "done\n");
    assert!(!d.exists());
    assert!(dir.path().exists());
}

#[test]
fn kill_process_kill_thread_and_trap_end_in_sigsys() {
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL",
        "SCMP_ACT_TRAP",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        let prog = allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": action}]));
        let out = run(prog, &["mkdir", d.to_str().unwrap()]);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGSYS),
            "{action}: {:?}",
            out.status
        );
        assert!(!d.exists(), "{action}");
    }
}

#[test]
fn log_lets_the_call_through() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let prog = allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"}]));
    let out = run(prog, &["mkdir", d.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(d.is_dir());
}

#[test]
fn argument_filter_acts_only_on_matching_values() {
    // kill(pid, SIGUSR2) is refused, kill(pid, 0) is not. Without the filter
    // the shell would die of its own SIGUSR2 and never print "after".
    let prog = allow_but(json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
        "args": [{"index": 1, "value": libc::SIGUSR2, "op": "SCMP_CMP_EQ"}]}]));
    let script = "kill -0 $$ && echo zero; kill -USR2 $$; echo after";
    let out = run(prog, &["sh", "-c", script]);
    assert_eq!(
        text(&out.stdout),
        "zero\nafter\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("Operation not permitted"));
}

#[test]
fn proc_status_shows_filter_mode() {
    let out = run(allow_but(json!([])), &["cat", "/proc/self/status"]);
    assert!(
        text(&out.stdout).lines().any(|l| l == "Seccomp:\t2"),
        "{}",
        text(&out.stdout)
    );
    let out = busybox_under(None, &["cat", "/proc/self/status"])
        .output()
        .unwrap();
    assert!(text(&out.stdout).lines().any(|l| l == "Seccomp:\t0"));
}

/// Docker's and podman's default profiles load and run a shell, and refuse
/// swapoff (CAP_SYS_ADMIN-only in both). swapoff of a path that does not
/// exist is harmless: as root, without a filter, it fails with ENOENT, so
/// the control run shows the test would notice a filter that lets it through.
#[test]
fn engine_default_profiles_run_a_shell() {
    let swapoff = ["swapoff", "/nonexistent-nook-seccomp-test"];
    let control = busybox_under(None, &swapoff).output().unwrap();
    assert!(
        text(&control.stderr).contains("No such file or directory"),
        "{control:?}"
    );
    for name in ["docker-default.json", "podman-default.json"] {
        let prog = fixture(name);
        let out = run(prog.clone(), &["sh", "-c", "echo ok"]);
        assert!(out.status.success(), "{name}: {out:?}");
        assert_eq!(text(&out.stdout), "ok\n", "{name}");
        let out = run(prog, &swapoff);
        assert!(
            text(&out.stderr).contains("Operation not permitted"),
            "{name}: {out:?}"
        );
    }
}

/// Kills and reaps the child if the test fails half-way.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn notify_listener_reaches_the_agent_which_answers() {
    let dir = tempfile::tempdir().unwrap();
    let agent_path = dir.path().join("agent.sock");
    let target = dir.path().join("never-created");
    let prog = program(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent_path,
        "listenerMetadata": "hello agent",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert!(prog.has_listener());

    let agent_sock = UnixListener::bind(&agent_path).unwrap();
    let agent = std::thread::spawn(move || agent(agent_sock));

    // The child hands its listener over this pair, as the init will hand it
    // to the runtime over its sync socket.
    let (parent_end, child_end) = UnixStream::pair().unwrap();
    let child_raw = child_end.as_raw_fd();
    let mut cmd = Command::new(BUSYBOX);
    cmd.args(["mkdir", target.to_str().unwrap()])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: runs in the forked child and only makes system calls through
    // nook::sys (prctl, prlimit64, seccomp, sendmsg), none of which
    // allocates or locks. `child_raw` is open in the child: the fork copied
    // it and only exec closes it.
    unsafe {
        cmd.pre_exec(move || {
            prepare_child()?;
            let listener = prog
                .install()
                .map_err(os_err)?
                .ok_or_else(|| os_err(libc::EINVAL))?;
            let sock = BorrowedFd::borrow_raw(child_raw);
            nook::sys::send_fd(sock, b"L", listener.as_fd()).map_err(os_err)
        })
    };
    let mut child = Reaped(cmd.spawn().unwrap());
    drop(child_end);

    let (_, listener) = recv_with_fd(parent_end.as_raw_fd());
    let state = json!({"ociVersion": "1.2.0", "id": "ctr", "status": "creating",
                       "pid": child.0.id(), "bundle": "/bundle"})
    .to_string();
    send_listener(listener, &agent_path, &state, Some("hello agent")).unwrap();

    let status = child.0.wait().unwrap();
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let (msg, nr) = agent.join().expect("agent succeeded");

    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!target.exists(), "the agent answered success without creating it");
    assert!(
        nr == libc::SYS_mkdir as i32 || nr == libc::SYS_mkdirat as i32,
        "notified nr {nr}"
    );
    assert_eq!(msg["fds"], json!(["seccompFd"]));
    assert_eq!(msg["ociVersion"], "1.2.0");
    assert_eq!(msg["pid"], child.0.id());
    assert_eq!(msg["metadata"], "hello agent");
    assert_eq!(msg["state"]["id"], "ctr");
}

/// The kernel accepts every flag combination compile produces (TSYNC is
/// paired with TSYNC_ESRCH when there is a listener).
#[test]
fn filter_flags_are_accepted_by_the_kernel() {
    let all = [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ];
    let prog = program(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": all,
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}));
    let out = run(prog, &["sh", "-c", "echo ok"]);
    assert_eq!(text(&out.stdout), "ok\n", "{out:?}");

    // With a listener nobody serves: mkdir is never called, so the child
    // runs to the end; closing our copy of the listener costs nothing.
    let prog = program(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let out = run(prog, &["sh", "-c", "echo ok"]);
    assert_eq!(text(&out.stdout), "ok\n", "{out:?}");
}

//! The `nook` binary where engines and runc's integration tests look at
//! runc: `kill --all` on a stopped container.
//! Each expectation is what runc 1.1.5 did in the same case.

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};

use common::{eventually, Fixture};
use nook::Status;

/// Runs nook and collects its output (for commands whose container, if
/// any, is gone when nook exits: a container keeps nook's stdio open).
fn nook(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs nook with /dev/null as stdio, for `run -d` and `exec -d`, whose
/// processes outlive it.
fn nook_detached(root: &Path, args: &[&str]) -> ExitStatus {
    Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether `pid` has exited (gone, or a zombie not yet reaped).
fn exited(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit(") ").next().is_some_and(|r| r.starts_with('Z'))
    })
}

#[test]
fn kill_all_on_a_stopped_container_signals_what_is_left_in_its_cgroup() {
    // Without a pid namespace the init's background child outlives it.
    let mut f = Fixture::new(&["sh", "-c", "sleep 100 & exit 0"]);
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    f.write_config();
    let root = f.ctx.root();
    let b = f.bundle();
    assert!(nook_detached(root, &["run", "-d", "-b", b.to_str().unwrap(), "compat-left"]).success());
    let c = f.ctx.load("compat-left").unwrap();
    let mut pids = Vec::new();
    assert!(eventually(|| {
        pids = c.processes().unwrap();
        c.status() == Status::Stopped && pids.len() == 1
    }));
    let sleeper = pids[0];
    let o = nook(root, &["kill", "compat-left", "KILL"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "without --all a stopped container is refused"
    );
    assert!(stderr(&o).contains("container not running"), "{}", stderr(&o));
    assert!(!exited(sleeper));
    let o = nook(root, &["kill", "--all", "compat-left", "KILL"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        eventually(|| exited(sleeper)),
        "sleep {sleeper} survived kill --all"
    );
    // With nothing left to signal it still succeeds, as runc's does.
    let o = nook(root, &["kill", "--all", "compat-left"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

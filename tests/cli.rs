//! The `nook` binary as engines call it: runc's commands, flags, output and
//! error wording.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{eventually, Fixture};
use serde_json::{json, Value};

/// Runs nook and collects its output. A container created by `create`
/// inherits nook's stdio, as with runc, so those calls get /dev/null
/// instead of pipes that would stay open until the container exits.
fn nook(root: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nook"));
    cmd.arg("--root").arg(root).args(args).stdin(Stdio::null());
    if args.contains(&"create") {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn version_features_and_spec() {
    let dir = tempfile::tempdir().unwrap();
    let o = nook(dir.path(), &["--version"]);
    let text = stdout(&o);
    assert!(
        text.starts_with("nook version ") && text.contains("\nspec: 1.2."),
        "{text}"
    );
    let features: Value = serde_json::from_slice(&nook(dir.path(), &["features"]).stdout).unwrap();
    assert_eq!(features["ociVersionMax"], "1.2.0");
    assert!(features["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("time")));
    let b = dir.path().to_str().unwrap();
    assert!(nook(dir.path(), &["spec", "-b", b]).status.success());
    let spec: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["process"]["args"], json!(["sh"]));
    let again = nook(dir.path(), &["spec", "-b", b]);
    assert!(!again.status.success());
    let rootless = tempfile::tempdir().unwrap();
    nook(
        dir.path(),
        &["spec", "--rootless", "-b", rootless.path().to_str().unwrap()],
    );
    let spec: Value =
        serde_json::from_slice(&std::fs::read(rootless.path().join("config.json")).unwrap()).unwrap();
    assert!(spec["linux"]["uidMappings"].is_array());
}

#[test]
fn create_start_state_list_kill_delete() {
    let f = Fixture::new(&["sleep", "100"]);
    f.write_config();
    let root = f.ctx.root();
    let bundle = f.bundle();
    let pid_file = f.dir.path().join("pid");
    let o = nook(
        root,
        &[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "c1",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let state: Value = serde_json::from_slice(&nook(root, &["state", "c1"]).stdout).unwrap();
    assert_eq!(state["status"], "created");
    assert_eq!(
        state["pid"].as_i64().unwrap().to_string(),
        std::fs::read_to_string(&pid_file).unwrap()
    );
    for key in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(state.get(key).is_some(), "state lacks {key}: {state}");
    }
    assert!(nook(root, &["start", "c1"]).status.success());
    let list: Value = serde_json::from_slice(&nook(root, &["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(list[0]["status"], "running");
    let table = stdout(&nook(root, &["list"]));
    assert!(
        table.starts_with("ID") && table.contains("c1") && table.contains("running"),
        "{table}"
    );
    assert!(nook(root, &["kill", "c1", "KILL"]).status.success());
    assert!(eventually(
        || stdout(&nook(root, &["state", "c1"])).contains("stopped")
    ));
    let o = nook(root, &["kill", "c1"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("container not running"));
    assert!(nook(root, &["delete", "c1"]).status.success());
    let o = nook(root, &["state", "c1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    assert!(
        nook(root, &["delete", "--force", "c1"]).status.success(),
        "delete -f of a missing container succeeds"
    );
}

#[test]
fn json_log_lines_for_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    let o = Command::new(env!("CARGO_BIN_EXE_nook"))
        .args([
            "--root",
            dir.path().to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--log-format=json",
            "state",
            "ghost",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("does not exist"));
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    let o = nook(dir.path(), &["--systemd-cgroup", "list"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not supported"));
}

#[test]
fn run_exit_status_and_signal_forwarding() {
    let f = Fixture::new(&["sh", "-c", "exit 3"]);
    f.write_config();
    let o = nook(f.ctx.root(), &["run", "-b", f.bundle().to_str().unwrap(), "r1"]);
    assert_eq!(o.status.code(), Some(3));
    // SIGTERM to `nook run` reaches the container's init, whose trap exits 7.
    let mut g = Fixture::new(&[
        "sh",
        "-c",
        "trap 'exit 7' TERM; touch /ready; while true; do sleep 0.1; done",
    ]);
    g.config["root"]["readonly"] = json!(false);
    g.write_config();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nook"))
        .args([
            "--root",
            g.ctx.root().to_str().unwrap(),
            "run",
            "-b",
            g.bundle().to_str().unwrap(),
            "r2",
        ])
        .spawn()
        .unwrap();
    let ready = g.rootfs().join("ready");
    assert!(eventually(|| ready.exists()));
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(7));
    assert!(!g.ctx.root().join("r2").exists());
}

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
    // A global flag, as in runc: accepted by every command.
    let o = nook(dir.path(), &["--systemd-cgroup", "list"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // --debug without --log: debug lines on stderr, as runc's (debug.bats).
    let o = nook(dir.path(), &["--debug", "list"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("level=debug"), "{}", stderr(&o));
    let o = nook(dir.path(), &["list"]);
    assert!(!stderr(&o).contains("level=debug"), "{}", stderr(&o));
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

/// `nook exec` as engines detach it: the process runs on after nook exits
/// with nook's stdio, so it gets /dev/null (a pipe would stay open), and
/// errors go to a --log file.
fn exec_detached(root: &Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    let log = root.with_extension("log");
    let status = Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(root)
        .arg("--log")
        .arg(&log)
        .arg("exec")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn exec_detached_with_a_process_file_and_pid_file() {
    // containerd: exec --process FILE --detach --pid-file F ID
    let f = Fixture::new(&["sleep", "100"]).with_out();
    let c = f.create("cli-exec").unwrap();
    c.start().unwrap();
    let process = f.dir.path().join("process.json");
    let spec = json!({"user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo $$ > /out/pid; exec sleep 100"],
        "env": ["PATH=/bin"], "cwd": "/"});
    std::fs::write(&process, spec.to_string()).unwrap();
    let pid_file = f.dir.path().join("exec.pid");
    let o = exec_detached(
        f.ctx.root(),
        &[
            "--process",
            process.to_str().unwrap(),
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "cli-exec",
        ],
    );
    assert!(o.0.success(), "{}", o.1);
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(c.processes().unwrap().contains(&pid));
    for ns in ["pid", "mnt", "net"] {
        assert_eq!(
            common::ns_inode(&pid.to_string(), ns),
            common::ns_inode(&c.pid().to_string(), ns)
        );
    }
    // Its pid inside the container's pid namespace: not 1, not the host's.
    assert!(eventually(|| !f.read_out("pid").is_empty()));
    let inner: i32 = f.read_out("pid").trim().parse().unwrap();
    assert!(inner > 1 && inner != pid, "{inner}");
}

/// runc.bats' `exec -p` process files often have no `user`: runc runs
/// such a process as uid 0 and gid 0, where nook used to refuse it.
#[test]
fn exec_process_file_without_user_runs_as_root() {
    let f = Fixture::new(&["sleep", "100"]);
    f.create("cli-exec-nouser").unwrap().start().unwrap();
    let process = f.dir.path().join("process.json");
    let spec = json!({"args": ["sh", "-c", "grep -E '^(Uid|Gid):' /proc/self/status"],
        "env": ["PATH=/bin"], "cwd": "/"});
    std::fs::write(&process, spec.to_string()).unwrap();
    let o = nook(
        f.ctx.root(),
        &["exec", "--process", process.to_str().unwrap(), "cli-exec-nouser"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
}

#[test]
fn exec_detached_with_a_tty_sends_the_pty_to_the_console_socket() {
    // podman: exec --process FILE --detach --tty --console-socket S --pid-file F ID
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("cli-exec-tty").unwrap();
    c.start().unwrap();
    let process = f.dir.path().join("process.json");
    let spec = json!({"terminal": true, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "tty; echo done"],
        "env": ["PATH=/bin"], "cwd": "/"});
    std::fs::write(&process, spec.to_string()).unwrap();
    let sock = f.dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        common::agent::recv_with_fd(std::os::fd::AsRawFd::as_raw_fd(&conn))
    });
    let pid_file = f.dir.path().join("exec.pid");
    let o = exec_detached(
        f.ctx.root(),
        &[
            "--process",
            process.to_str().unwrap(),
            "--detach",
            "--tty",
            "--console-socket",
            sock.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "cli-exec-tty",
        ],
    );
    assert!(o.0.success(), "{}", o.1);
    assert!(std::fs::read_to_string(&pid_file).unwrap().parse::<i32>().is_ok());
    let (name, master) = receiver.join().unwrap();
    assert_eq!(name, b"/dev/ptmx");
    let mut out = String::new();
    let mut file = std::fs::File::from(master);
    let mut buf = [0u8; 256];
    while !out.contains("done") {
        match std::io::Read::read(&mut file, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(out.contains("/dev/pts/"), "{out:?}");
}

#[test]
fn exec_in_the_foreground_with_flags() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("cli-exec-fg").unwrap();
    c.start().unwrap();
    let root = f.ctx.root();
    let o = nook(root, &["exec", "cli-exec-fg", "sh", "-c", "exit 5"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    // The spec's process (its PATH and TERM) with the flags on top.
    let o = nook(
        root,
        &[
            "exec",
            "-e",
            "FOO=bar",
            "--cwd",
            "/bin",
            "-u",
            "1000:1001",
            "-g",
            "7",
            "cli-exec-fg",
            "sh",
            "-c",
            "echo $FOO $TERM $(pwd) $(id -G)",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "bar xterm /bin 1001 7\n");
    let o = nook(
        root,
        &[
            "exec",
            "--cap",
            "CAP_CHOWN",
            "cli-exec-fg",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    let text = stdout(&o);
    // runc's default caps (AUDIT_WRITE, KILL, NET_BIND_SERVICE) plus CHOWN.
    assert!(text.contains("CapEff:\t0000000020000421"), "{text}");
    // SIGTERM to a foreground exec reaches the process, whose trap exits 9.
    let mut child = Command::new(env!("CARGO_BIN_EXE_nook"))
        .args([
            "--root",
            root.to_str().unwrap(),
            "exec",
            "cli-exec-fg",
            "sh",
            "-c",
        ])
        .arg("trap 'exit 9' TERM; touch /ready; while true; do sleep 0.1; done")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let ready = f.rootfs().join("ready");
    assert!(eventually(|| ready.exists()));
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(9));

    // No LSM on the test kernels: an AppArmor profile is refused, not ignored.
    for (flags, why) in [
        (&["--cgroup", "sub"][..], "exec --cgroup: cgroup "),
        (
            &["--apparmor", "p"],
            "process.apparmorProfile: \\\"p\\\": AppArmor is not enabled on this host",
        ),
    ] {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["cli-exec-fg", "true"]);
        let o = nook(root, &args);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(why), "{flags:?}: {}", stderr(&o));
    }
    let o = nook(root, &["exec", "--cap", "CAP_NOPE", "cli-exec-fg", "true"]);
    assert!(stderr(&o).contains("unknown capability"), "{}", stderr(&o));
    let o = nook(root, &["exec", "cli-exec-fg"]);
    assert!(stderr(&o).contains("needs a command"), "{}", stderr(&o));
    assert!(nook(root, &["pause", "cli-exec-fg"]).status.success());
    let o = nook(root, &["exec", "cli-exec-fg", "true"]);
    assert!(
        stderr(&o).contains("cannot exec in a paused container (use --ignore-paused to override)"),
        "{}",
        stderr(&o)
    );
    assert!(nook(root, &["resume", "cli-exec-fg"]).status.success());
    assert_eq!(c.processes().unwrap(), vec![c.pid()]);
}

/// runc's foreground terminal: `run` and `exec -t` without
/// --console-socket relay the pty themselves; the process sees a terminal,
/// its output reaches nook's stdout, its status is nook's, and nook's
/// private console socket (under TMPDIR) is gone afterwards.
#[test]
fn foreground_run_and_exec_relay_the_terminal_themselves() {
    let mut f = Fixture::new(&["sh", "-c", "tty; echo hi; exit 3"]);
    f.config["process"]["terminal"] = json!(true);
    f.write_config();
    let root = f.ctx.root().to_path_buf();
    let bundle = f.bundle();
    let tmp = f.dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle", bundle.to_str().unwrap(), "tty-run"])
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(stdout(&o), "/dev/pts/0\r\nhi\r\n");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");

    f.config["process"]["terminal"] = json!(false);
    f.config["process"]["args"] = json!(["sleep", "100"]);
    f.write_config();
    assert!(nook(
        &root,
        &["create", "--bundle", bundle.to_str().unwrap(), "tty-exec"]
    )
    .status
    .success());
    assert!(nook(&root, &["start", "tty-exec"]).status.success());
    let o = nook(&root, &["exec", "-t", "tty-exec", "sh", "-c", "tty; exit 4"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stdout(&o).starts_with("/dev/pts/"), "{}", stdout(&o));
    // Without our own terminal and detached, a socket is still required.
    let o = nook(&root, &["exec", "-d", "-t", "tty-exec", "true"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--console-socket"));
    assert!(nook(&root, &["delete", "--force", "tty-exec"]).status.success());
}

#[test]
fn create_reports_a_missing_program_in_the_json_log_and_keeps_no_state() {
    // containerd's shim and conmon read this line to tell the user.
    let f = Fixture::new(&["nosuchcmd"]);
    f.write_config();
    let root = f.ctx.root();
    let log = f.dir.path().join("log.json");
    let o = nook(
        root,
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            f.bundle().to_str().unwrap(),
            "missing",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let msg = line["msg"].as_str().unwrap();
    assert!(
        msg.contains("exec: \"nosuchcmd\": executable file not found in $PATH"),
        "{msg}"
    );
    // No container: runc's encoder prints its nil slice, `null`.
    let list: Value = serde_json::from_slice(&nook(root, &["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(list, Value::Null, "{list}");
}

/// A reader that closes the pipe early (`nook features | head -1`) ends nook
/// as it ends runc, killed by SIGPIPE's status and quiet, not with a
/// panic on stderr.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["features"][..], &["list"], &["--version"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_nook"))
            .arg("--root")
            .arg(dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(141), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
    }
}

//! Attacks on what nook keeps on the host for a container between commands:
//! the state directory and the rendezvous with `start` (issue 11 items 2
//! and 6), the pid file (item 7) and the console socket of a foreground
//! `run -t`. Each test makes the attack for real and checks it fails and
//! leaves nothing behind.

mod common;

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::rootless::NOBODY;
use common::{eventually, Fixture};
use nook::ExecOptions;
use serde_json::{json, Value};

fn nook_cmd(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nook"));
    cmd.arg("--root").arg(root).args(args).stdin(Stdio::null());
    if args.contains(&"create") {
        // The container inherits nook's stdio: no pipe that would stay open.
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    cmd
}

/// Waits for `child` at most `secs` seconds; on time-out kills it (by its
/// pid, it is ours) and returns None. A guard against a hang, not a timing
/// assertion.
fn output_within(mut child: Child, secs: u64) -> Option<Output> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn status_of(root: &Path, id: &str) -> String {
    let o = nook_cmd(root, &["state", id]).output().unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    v["status"].as_str().unwrap_or("").to_string()
}

/// The command line of `pid`, NULs as spaces.
fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Every fd of `pid` that resolves to a directory, with its target.
fn directory_fds(pid: i32) -> Vec<String> {
    let mut dirs = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        // metadata() follows the magic link to the open file itself.
        if std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()) {
            let target = std::fs::read_link(e.path()).unwrap_or_default();
            dirs.push(format!(
                "fd {} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            ));
        }
    }
    dirs
}

/// Item 2: a created container's init is reachable from processes exec'd
/// into the container (/proc/1/fd); it must hold no fd of a host directory,
/// or `/proc/1/fd/N/../..` walks out of the container.
#[test]
fn a_created_init_holds_no_host_directory() {
    let f = Fixture::new(&["sleep", "100"]).with_out();
    std::fs::write(f.dir.path().join("secret"), "HOST SECRET").unwrap();
    let c = f.create("sec-fd").unwrap();
    assert_eq!(c.status(), nook::Status::Created);
    let init = c.pid();
    // From the host: nothing the init holds is a directory.
    assert_eq!(directory_fds(init), Vec::<String>::new());
    // From inside, as the container's root: the state directory sits two
    // levels under the test directory, which holds `secret`.
    let script = "for f in /proc/1/fd/*; do \
                    [ -d \"$f\" ] && echo \"dir $f\"; \
                    cat \"$f/../../secret\" \"$f/../secret\" 2>/dev/null; \
                  done > /out/escape; echo done >> /out/escape";
    let p = json!({"user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", script],
                   "env": ["PATH=/bin"], "cwd": "/"});
    let e = c.exec_json(&p.to_string(), &ExecOptions::default()).unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    assert_eq!(f.read_out("escape"), "done\n");
    c.delete(true).unwrap();
}

/// Item 6: the state is the runtime user's alone (0700, as runc), and
/// `start` waits for the init only: an extra connection to (or, with a
/// FIFO, an extra writer on) the exec rendezvous cannot make it hang.
#[test]
fn start_cannot_be_stalled_through_the_state_directory() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("sec-hold").unwrap();
    let dir = f.ctx.root().join("sec-hold");
    for d in [f.ctx.root(), dir.as_path()] {
        let mode = std::fs::metadata(d).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", d.display());
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!entries.is_empty());
    // An unprivileged user reaches nothing in it: not the rendezvous to
    // hold open or connect to (the old FIFO was 0622), not state.json.
    let o = Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
            common::BUSYBOX,
            "sh",
            "-c",
            "for f in \"$@\"; do test -e \"$f\" && echo \"reached $f\"; done; true",
            "sh",
        ])
        .args(&entries)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "");

    // Root holds every rendezvous it finds: the FIFO open (as the old
    // attack), the socket connected.
    let mut held: Vec<OwnedFd> = Vec::new();
    for e in &entries {
        let ft = std::fs::symlink_metadata(e).unwrap().file_type();
        if ft.is_fifo() {
            let fifo = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(e)
                .unwrap();
            held.push(fifo.into());
        } else if ft.is_socket() {
            let s = nix::sys::socket::socket(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::SeqPacket,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                None,
            )
            .unwrap();
            let addr = nix::sys::socket::UnixAddr::new(e.as_path()).unwrap();
            nix::sys::socket::connect(s.as_raw_fd(), &addr).unwrap();
            held.push(s);
        }
    }
    assert!(!held.is_empty(), "no rendezvous in {entries:?}");
    let (tx, rx) = std::sync::mpsc::channel();
    let starter = {
        let c = c.clone();
        std::thread::spawn(move || {
            let _ = tx.send(c.start().map_err(|e| e.to_string()));
        })
    };
    let started = rx.recv_timeout(Duration::from_secs(10));
    // Let a hung start go before failing, so the test ends cleanly.
    drop(held);
    starter.join().unwrap();
    assert!(
        started.is_ok(),
        "start hung while another process held the rendezvous"
    );
    // Whoever's connection released it, the workload runs and the status says so.
    assert!(
        eventually(|| cmdline(c.pid()) == "sleep 100 "),
        "{}",
        cmdline(c.pid())
    );
    assert_eq!(c.status(), nook::Status::Running);
    c.delete(true).unwrap();
}

/// Item 6: a `start` killed half-way (here while a startContainer hook
/// runs) leaves a status that matches the init, and a second start fails
/// at once with runc's wording instead of waiting for ever.
#[test]
fn an_interrupted_start_leaves_a_true_status() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["hooks"] = json!({"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "1"]}]});
    f.write_config();
    let root = f.ctx.root().to_path_buf();
    let bundle = f.bundle();
    let o = nook_cmd(
        &root,
        &["create", "--bundle", bundle.to_str().unwrap(), "sec-kill"],
    )
    .status()
    .unwrap();
    assert!(o.success());
    assert_eq!(status_of(&root, "sec-kill"), "created");
    let init = f.ctx.load("sec-kill").unwrap().pid();
    let start = nook_cmd(&root, &["start", "sec-kill"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The hook (a child of the init) shows the release happened.
    assert!(
        eventually(|| hook_running(init)),
        "the startContainer hook never ran"
    );
    let mut start = start;
    start.kill().unwrap();
    start.wait().unwrap();
    assert!(eventually(|| cmdline(init) == "sleep 100 "), "{}", cmdline(init));
    assert_eq!(status_of(&root, "sec-kill"), "running");
    let again = nook_cmd(&root, &["start", "sec-kill"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let again = output_within(again, 10).expect("a second start hung");
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("cannot start an already running container"), "{err}");
    assert!(nook_cmd(&root, &["delete", "--force", "sec-kill"])
        .status()
        .unwrap()
        .success());
}

/// Whether a child of `pid` runs `sleep 1` (the startContainer hook).
fn hook_running(pid: i32) -> bool {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .any(|p| cmdline(p) == "sleep 1 ")
}

/// Runs `nook ARGS` through a shell that waits for a line on its stdin
/// before it execs nook: the test knows nook's pid (the shell's) before
/// nook runs, as an attacker can guess it.
fn nook_held(root: &Path, args: &[&str], env: &[(&str, &Path)]) -> Child {
    let mut cmd = Command::new(common::BUSYBOX);
    cmd.args([
        "sh",
        "-c",
        "read x; exec \"$@\"",
        "sh",
        env!("CARGO_BIN_EXE_nook"),
        "--root",
    ])
    .arg(root)
    .args(args)
    .stdin(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if args.contains(&"create") {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    cmd.spawn().unwrap()
}

/// Item 7: `--pid-file` in a directory others may write to. Symlinks to a
/// host file planted at the temporary name nook would use (`.NAME.PID`)
/// and at the final name are not followed: the host file keeps its
/// contents and the pid file is a new regular file.
#[test]
fn pid_file_does_not_follow_planted_symlinks() {
    let f = Fixture::new(&["sleep", "100"]);
    f.write_config();
    let root = f.ctx.root().to_path_buf();
    let public = f.dir.path().join("public");
    std::fs::create_dir(&public).unwrap();
    let victim = f.dir.path().join("victim");
    let victim2 = f.dir.path().join("victim2");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::write(&victim2, "precious too").unwrap();
    let pid_file = public.join("init.pid");
    let bundle = f.bundle();
    let mut child = nook_held(
        &root,
        &[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "sec-pid",
        ],
        &[],
    );
    let nook_pid = child.id();
    let planted = public.join(format!(".init.pid.{nook_pid}"));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    std::os::unix::fs::symlink(&victim2, &pid_file).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    let init = f.ctx.load("sec-pid").unwrap().pid();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(&victim2).unwrap(), "precious too");
    let meta = std::fs::symlink_metadata(&pid_file).unwrap();
    assert!(meta.file_type().is_file(), "{:?}", meta.file_type());
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), init.to_string());
    // Nothing of nook's is left beside it: only the pid file and our plant.
    let mut left: Vec<String> = std::fs::read_dir(&public)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![format!(".init.pid.{nook_pid}"), "init.pid".to_string()]
    );
    assert!(nook_cmd(&root, &["delete", "--force", "sec-pid"])
        .status()
        .unwrap()
        .success());
}

/// A foreground `run` with a terminal makes its own console socket in the
/// temporary directory. Directories planted at every name the old code
/// tried (`nook-console-PID-0` .. `-100`) do not stop it, and it leaves
/// nothing there.
#[test]
fn foreground_console_socket_cannot_be_blocked() {
    let mut f = Fixture::new(&["sh", "-c", "tty; echo hi; exit 3"]);
    f.config["process"]["terminal"] = json!(true);
    f.write_config();
    let root = f.ctx.root().to_path_buf();
    let tmp = f.dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let bundle = f.bundle();
    let mut child = nook_held(
        &root,
        &["run", "--bundle", bundle.to_str().unwrap(), "sec-tty"],
        &[("TMPDIR", &tmp)],
    );
    let pid = child.id();
    let mut planted: Vec<String> = (0..=100).map(|n| format!("nook-console-{pid}-{n}")).collect();
    for p in &planted {
        std::fs::create_dir(tmp.join(p)).unwrap();
    }
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let o = output_within(child, 30).expect("run -t hung");
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "/dev/pts/0\r\nhi\r\n");
    let mut left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    planted.sort();
    assert_eq!(left, planted, "nook left something in its temporary directory");
}

//! create / start / kill / delete / state / list, the pid file, the console
//! socket, and cleanup when set-up fails.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;

use common::{eventually, Fixture, Reap};
use nook::{CreateOptions, Error, Status};
use serde_json::json;

#[test]
fn state_transitions_and_pid_file() {
    let f = Fixture::new(&["sleep", "100"]);
    let pid_file = f.dir.path().join("pid");
    let opts = CreateOptions {
        pid_file: Some(pid_file.clone()),
        ..Default::default()
    };
    let c = f.create_with("life", &opts).unwrap();
    let pid = c.pid();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    let s = c.state();
    assert_eq!((s.status, s.pid, s.id.as_str()), (Status::Created, pid, "life"));
    assert_eq!(s.bundle, f.bundle().canonicalize().unwrap());
    // The init is blocked on the exec FIFO: it still has not exec'd sleep.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");
    assert!(matches!(c.start(), Ok(())));
    assert_eq!(c.status(), Status::Running);
    assert!(eventually(|| std::fs::read_to_string(format!(
        "/proc/{pid}/comm"
    ))
    .unwrap()
    .trim()
        == "sleep"));
    let again = c.start().unwrap_err();
    assert!(again.to_string().contains("already running"), "{again}");
    let busy = c.delete(false).unwrap_err();
    assert!(busy.to_string().contains("not stopped"), "{busy}");
    let listed = f.ctx.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, Status::Running);
    c.kill(libc::SIGKILL, false).unwrap();
    c.wait().unwrap();
    assert_eq!(c.status(), Status::Stopped);
    assert_eq!(c.state().pid, 0);
    let dead = c.kill(libc::SIGTERM, false).unwrap_err();
    assert_eq!(dead.to_string(), "container not running");
    assert!(c.start().unwrap_err().to_string().contains("stopped"));
    c.delete(false).unwrap();
    let gone = f.ctx.load("life").unwrap_err();
    assert!(gone.to_string().contains("does not exist"), "{gone}");
    assert!(!f.ctx.root().join("life").exists());
}

#[test]
fn duplicate_id_is_refused_and_created_container_can_be_deleted() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("dup").unwrap();
    let err = f.create("dup").unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    let pid = c.pid();
    c.delete(false).unwrap();
    assert!(eventually(|| std::fs::metadata(format!("/proc/{pid}")).is_err()));
}

#[test]
fn missing_program_is_reported_by_create_and_leaves_nothing() {
    // As with runc, the program is looked up before the init reports
    // ready: engines get a create error and hold no half-started container.
    let f = Fixture::new(&["no-such-program"]);
    let err = f.create("noexec").unwrap_err();
    assert!(
        err.to_string()
            .contains("exec: \"no-such-program\": executable file not found in $PATH"),
        "{err}"
    );
    assert_eq!(err.errno(), libc::ENOENT);
    assert!(!f.ctx.root().join("noexec").exists());
    assert!(f.host_mounts().is_empty());
    // Found but not executable: EACCES, at create too.
    let g = Fixture::new(&["/bin/plain"]);
    std::fs::write(g.rootfs().join("bin/plain"), "echo hi\n").unwrap();
    let err = g.create("noperm").unwrap_err();
    assert_eq!(err.errno(), libc::EACCES, "{err}");
    assert!(!g.ctx.root().join("noperm").exists());
}

#[test]
fn exec_failure_is_reported_by_start_and_cleaned_up() {
    // An executable file the kernel cannot run (no ELF header, no #!)
    // passes the look-up; execve's ENOEXEC comes from start.
    let f = Fixture::new(&["/bin/garbage"]);
    let prog = f.rootfs().join("bin/garbage");
    std::fs::write(&prog, b"\x7fNOPE").unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let c = f.create("noexec").unwrap();
    let err = c.start().unwrap_err();
    assert!(err.to_string().contains("exec: \"/bin/garbage\""), "{err}");
    assert_eq!(err.errno(), libc::ENOEXEC);
    c.wait().unwrap();
    c.delete(false).unwrap();
}

#[test]
fn failed_setup_leaves_nothing_behind() {
    let mut f = Fixture::new(&["true"]);
    // A bind source that exists at validation but whose mount fails in the
    // child: an unknown filesystem type.
    f.mounts()
        .push(json!({"destination": "/bad", "type": "nosuchfs", "source": "none"}));
    let err = f.create("broken").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/bad") && msg.contains("mounts[6]"), "{msg}");
    assert_eq!(err.errno(), libc::ENODEV);
    assert!(!f.ctx.root().join("broken").exists());
    assert!(f.host_mounts().is_empty());
}

#[test]
fn terminal_master_goes_to_the_console_socket() {
    let mut f = Fixture::new(&["sh", "-c", "tty; echo done; read reply"]);
    f.config["process"]["terminal"] = json!(true);
    f.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    let sock = f.dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let opts = CreateOptions {
        console_socket: Some(sock),
        ..Default::default()
    };
    let c = f.create_with("tty", &opts).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let (name, master) = common::agent::recv_with_fd(conn.as_raw_fd());
    assert_eq!(name, b"/dev/ptmx");
    c.start().unwrap();
    let (out, master) = common::read_until(master, "done");
    // The process waits for our line: once the terminal's slave side
    // closes, the kernel may drop output still unread on the master.
    std::io::Write::write_all(&mut &master, b"bye\n").unwrap();
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert_eq!(c.wait().unwrap(), 0);
    c.delete(false).unwrap();
}

/// The caller may leave holes in the preserved range; nook's own fds then
/// land there and must still not reach the container.
#[test]
fn nook_fds_in_holes_of_the_preserved_range_do_not_leak() {
    let f = Fixture::new(&["sleep", "100"]);
    let files: Vec<std::fs::File> = (0..8)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    let top = files.last().unwrap().as_raw_fd();
    // Holes in the middle of the range, for nook's socket and state-dir fd.
    let kept: Vec<_> = files
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, f)| f)
        .collect();
    let opts = CreateOptions {
        preserve_fds: top as u32 - 2,
        ..Default::default()
    };
    let c = f.create_with("holes", &opts).unwrap();
    let started = std::time::Instant::now();
    c.start().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "start waited for the container"
    );
    let state = f.ctx.root().to_string_lossy().into_owned();
    let fds = std::fs::read_dir(format!("/proc/{}/fd", c.pid())).unwrap();
    for fd in fds.flatten() {
        let target = std::fs::read_link(fd.path())
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        assert!(
            !target.contains(&state),
            "fd {:?} -> {target} leaked into the container",
            fd.file_name()
        );
    }
    drop(kept);
}

#[test]
fn preserved_fds_reach_the_container() {
    let f = Fixture::new(&["sleep", "100"]);
    // Preserve every fd up to one we just opened: the container must get it
    // at the same number (fds above 3+N are closed, see oom_score_adj_and_preserved_stdio).
    // (Holes in the range: nook_fds_in_holes_of_the_preserved_range_do_not_leak.)
    let probe = std::fs::File::open("/proc/self/status").unwrap();
    let n = probe.as_raw_fd() as u32 - 2;
    let opts = CreateOptions {
        preserve_fds: n,
        ..Default::default()
    };
    let c = f.create_with("fds", &opts).unwrap();
    c.start().unwrap();
    let link = |pid: i32| std::fs::read_link(format!("/proc/{pid}/fd/{}", probe.as_raw_fd()));
    assert!(eventually(|| std::fs::read_to_string(format!(
        "/proc/{}/comm",
        c.pid()
    ))
    .unwrap()
    .trim()
        == "sleep"));
    assert_eq!(
        link(c.pid()).unwrap(),
        std::path::Path::new(&format!("/proc/{}/status", std::process::id()))
    );
}

/// `kill` reaches the init through a pidfd opened before its start time is
/// checked (seen with strace: pidfd_open then pidfd_send_signal, no
/// kill(2)), so a pid reused between the check and the signal cannot get it.
#[test]
fn kill_signals_the_init_through_a_pidfd() {
    let Some(strace) = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("skipped: no strace");
        return;
    };
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("pidfd-kill").unwrap();
    c.start().unwrap();
    let trace = f.dir.path().join("trace");
    let out = std::process::Command::new(strace)
        .args(["-f", "-qq", "-e", "trace=kill,pidfd_open,pidfd_send_signal", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(f.ctx.root())
        .args(["kill", "pidfd-kill", "KILL"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(c.wait().unwrap(), 128 + libc::SIGKILL);
    let calls = std::fs::read_to_string(&trace).unwrap();
    let pid = c.pid();
    assert!(calls.contains(&format!("pidfd_open({pid}, 0)")), "{calls}");
    assert!(calls.contains("pidfd_send_signal("), "{calls}");
    assert!(!calls.contains(&format!("kill({pid},")), "{calls}");
}

/// A container whose init has exited and whose pid now names another
/// process (made here by pointing state.json at a process of ours): `kill`
/// says the container is not running and that process is not signalled.
#[test]
fn kill_does_not_signal_a_reused_init_pid() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("kill-reuse").unwrap();
    c.start().unwrap();
    // Start times count clock ticks (10 ms): a process reusing the pid
    // starts in a later one.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut other = Reap(
        std::process::Command::new(common::BUSYBOX)
            .args(["sleep", "100"])
            .spawn()
            .unwrap(),
    );
    let other_pid = other.0.id() as i32;
    let path = f.ctx.root().join("kill-reuse/state.json");
    let mut state: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let init = state["pid"].as_i64().unwrap() as i32;
    state["pid"] = json!(other_pid);
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    for signal in ["KILL", "TERM"] {
        let out = common::nook(f.ctx.root(), &["kill", "kill-reuse", signal]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("container not running"), "{err}");
    }
    let reused = f.ctx.load("kill-reuse").unwrap();
    assert_eq!(
        reused.kill(libc::SIGKILL, false).unwrap_err().to_string(),
        "container not running"
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        other.0.try_wait().unwrap().is_none(),
        "pid {other_pid} was signalled"
    );
    // The real init was not signalled either; the container is put back to be deleted.
    assert_eq!(c.try_wait().unwrap(), None);
    state["pid"] = json!(init);
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
}

/// The environment the container's init was executed with, as the kernel
/// keeps it (/proc/PID/environ), written to /out/env by a `sh` as `uid`
/// (which forks `cat`: a last command would replace it, with its own env).
fn init_environ(f: &mut Fixture, id: &str, env: &[&str], uid: u32) -> Vec<String> {
    f.config["process"]["args"] = json!(["sh", "-c", "cat /proc/$$/environ > /out/env; exit 0"]);
    f.config["process"]["env"] = json!(env);
    f.config["process"]["user"] = json!({"uid": uid, "gid": uid});
    let out = f.out();
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let _ = std::fs::remove_file(out.join("env"));
    assert_eq!(f.run(id).unwrap(), 0);
    f.read_out_environ("env")
}

/// runc sets the variables one by one: a name keeps the place of its first
/// entry and the value of its last (env.bats; `ONE=two` then `ONE=` gives
/// one `ONE=`). Without HOME, runc adds one, "/" when the container has
/// no /etc/passwd.
#[test]
fn env_has_one_entry_per_name_and_a_home() {
    let mut f = Fixture::new(&["true"]).with_out();
    let env = init_environ(&mut f, "env-dup", &["PATH=/bin", "ONE=two", "TWO=2", "ONE="], 0);
    assert_eq!(env, ["PATH=/bin", "ONE=", "TWO=2", "HOME=/"]);
}

/// runc's HOME for a process without one (or with `HOME=`): the home of
/// the process's uid in the container's /etc/passwd, read once the mounts
/// are made, "/" without an entry (env.bats "empty HOME env var is
/// overridden", run.bats "runc run check default home").
#[test]
fn home_comes_from_the_container_passwd() {
    let mut f = Fixture::new(&["true"]).with_out();
    std::fs::create_dir_all(f.rootfs().join("etc")).unwrap();
    std::fs::write(
        f.rootfs().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\n# a comment\ntempuser:x:1000:1000:t:/home/tempuser:/bin/sh\n\
         again:x:1000:1000::/second:/bin/sh\nnohome:x:1001:1001\n",
    )
    .unwrap();
    let env = init_environ(&mut f, "home-root", &["PATH=/bin", "HOME=", "TERM=xterm"], 0);
    assert_eq!(env, ["PATH=/bin", "HOME=/root", "TERM=xterm"]);
    // The first entry of the uid wins.
    let env = init_environ(&mut f, "home-user", &["PATH=/bin"], 1000);
    assert_eq!(env, ["PATH=/bin", "HOME=/home/tempuser"]);
    let env = init_environ(&mut f, "home-none", &["PATH=/bin"], 1002);
    assert_eq!(env, ["PATH=/bin", "HOME=/"]);
    // An entry without a home field gives an empty one, as runc's parser.
    let env = init_environ(&mut f, "home-short", &["PATH=/bin"], 1001);
    assert_eq!(env, ["PATH=/bin", "HOME="]);
    // A HOME of the process's own stays.
    let env = init_environ(&mut f, "home-own", &["HOME=/mine", "PATH=/bin"], 0);
    assert_eq!(env, ["HOME=/mine", "PATH=/bin"]);
    // /etc/passwd on a bind mount: read after the mounts, in the container.
    let other = f.dir.path().join("passwd");
    std::fs::write(&other, "root:x:0:0:root:/mounted:/bin/sh\n").unwrap();
    f.mounts().push(
        json!({"destination": "/etc/passwd", "type": "bind", "source": other, "options": ["bind", "ro"]}),
    );
    let env = init_environ(&mut f, "home-mounted", &["PATH=/bin"], 0);
    assert_eq!(env, ["PATH=/bin", "HOME=/mounted"]);
}

/// The container's /etc/passwd is the image's to make, hostile or broken:
/// none of these may block, escape the rootfs or fail the container; each
/// gives HOME=/.
#[test]
fn a_hostile_passwd_gives_home_slash() {
    let mut f = Fixture::new(&["true"]).with_out();
    let etc = f.rootfs().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let passwd = etc.join("passwd");
    let reset = || {
        let _ = std::fs::remove_file(&passwd);
    };
    // A FIFO: a blocking open would wait for a writer forever.
    nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    assert_eq!(
        init_environ(&mut f, "pw-fifo", &["PATH=/bin"], 0),
        ["PATH=/bin", "HOME=/"]
    );
    // An endless device: /dev/zero inside the container.
    reset();
    std::os::unix::fs::symlink("/dev/zero", &passwd).unwrap();
    assert_eq!(
        init_environ(&mut f, "pw-zero", &["PATH=/bin"], 0),
        ["PATH=/bin", "HOME=/"]
    );
    // A link out of the rootfs resolves inside it, where there is nothing:
    // the host's /etc/passwd (which has root) is not read.
    reset();
    std::os::unix::fs::symlink("../../../../../../../../etc/passwd", &passwd).unwrap();
    assert!(std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .starts_with("root:"));
    assert_eq!(
        init_environ(&mut f, "pw-escape", &["PATH=/bin"], 0),
        ["PATH=/bin", "HOME=/"]
    );
    // A home longer than any path, a line longer than any read, and an
    // entry past the first 16 MiB.
    reset();
    let long = format!("root:x:0:0::/{}:/bin/sh\n", "h".repeat(5000));
    std::fs::write(&passwd, long).unwrap();
    assert_eq!(
        init_environ(&mut f, "pw-long", &["PATH=/bin"], 0),
        ["PATH=/bin", "HOME=/"]
    );
    std::fs::write(&passwd, format!("x:{}\nroot:x:0:0::/root:\n", "x".repeat(20000))).unwrap();
    assert_eq!(
        init_environ(&mut f, "pw-line", &["PATH=/bin"], 0),
        ["PATH=/bin", "HOME=/"]
    );
    let mut filler = "nobody:x:65534:65534::/nonexistent:/bin/false\n".repeat(400_000);
    filler.push_str("root:x:0:0::/root:/bin/sh\n");
    std::fs::write(&passwd, filler).unwrap();
    assert_eq!(
        init_environ(&mut f, "pw-huge", &["PATH=/bin"], 0),
        ["PATH=/bin", "HOME=/"]
    );
}

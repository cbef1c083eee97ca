//! `exec`: an extra process in a running container, through the library.
//! The process must land in every namespace, the cgroup and the root of
//! the container, get its seccomp filter, and report its exit status.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;

use common::{eventually, ns_inode, status_field, Fixture};
use nook::{Container, CreateOptions, ExecOptions};
use serde_json::{json, Value};

/// A process spec running `args` as root in /.
fn process(args: &[&str]) -> Value {
    json!({
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": ["PATH=/bin"],
        "cwd": "/",
    })
}

fn exec(c: &Container, p: &Value) -> nook::Result<nook::ExecProcess> {
    c.exec_json(&p.to_string(), &ExecOptions::default())
}

/// A started container whose init sleeps.
fn running(f: &Fixture, id: &str) -> Container {
    let c = f.create(id).unwrap();
    c.start().unwrap();
    c
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn exec_joins_the_namespaces_cgroup_root_and_seccomp_of_the_container() {
    let mut f = Fixture::new(&["sleep", "100"]).with_out();
    f.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO"}]});
    let c = running(&f, "exec-ex");
    let init = c.pid();
    let pid_file = f.dir.path().join("exec.pid");
    let opts = ExecOptions {
        pid_file: Some(pid_file.clone()),
        ..Default::default()
    };
    let mut p = process(&[
        "sh",
        "-c",
        "ps -o pid,comm > /out/ps; hostname > /out/host; pwd > /out/pwd; \
         mkdir /d 2> /out/mkdir; exec sleep 100",
    ]);
    p["cwd"] = json!("/bin");
    p["capabilities"] =
        json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]});
    let e = c.exec_json(&p.to_string(), &opts).unwrap();
    let pid = e.pid();
    assert_ne!(pid, init);
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    assert!(eventually(|| comm(pid) == "sleep"));

    for ns in ["mnt", "pid", "net", "ipc", "uts", "cgroup"] {
        assert_eq!(
            ns_inode(&pid.to_string(), ns),
            ns_inode(&init.to_string(), ns),
            "{ns}"
        );
        assert_ne!(ns_inode(&pid.to_string(), ns), ns_inode("self", ns), "{ns}");
    }
    let cgroup = |p: i32| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    assert_eq!(cgroup(pid), cgroup(init));
    assert!(c.processes().unwrap().contains(&pid));
    // Its root is the container's rootfs, not the host's /.
    let ino = |p: &str| std::fs::metadata(p).unwrap().ino();
    let busybox = f.rootfs().join("bin/busybox");
    assert_eq!(
        ino(&format!("/proc/{pid}/root/bin/busybox")),
        ino(busybox.to_str().unwrap())
    );
    // The container's filter, and the process's own capabilities.
    assert_eq!(status_field(pid, "Seccomp"), "2");
    // The init has noNewPrivileges and three capabilities; this process not.
    assert_eq!(status_field(pid, "NoNewPrivs"), "0");
    assert_eq!(status_field(init, "NoNewPrivs"), "1");
    assert_eq!(status_field(pid, "CapEff"), "0000000000000020");
    assert_eq!(status_field(pid, "CapBnd"), "0000000000000020");
    assert!(
        f.read_out("mkdir").contains("Operation not permitted"),
        "{}",
        f.read_out("mkdir")
    );
    assert!(!f.rootfs().join("d").exists());

    // ps inside sees the container's pid namespace only: the init as pid 1,
    // the shell and ps itself.
    let ps = f.read_out("ps");
    let procs: Vec<&str> = ps.lines().skip(1).collect();
    assert!(procs[0].split_whitespace().eq(["1", "sleep"]), "{ps}");
    assert_eq!(procs.len(), 3, "{ps}");
    assert_eq!(f.read_out("host").trim(), "nook-test");
    assert_eq!(f.read_out("pwd").trim(), "/bin");

    e.kill(libc::SIGKILL).unwrap();
    assert_eq!(e.wait().unwrap(), 128 + libc::SIGKILL);
    c.delete(true).unwrap();
}

#[test]
fn exit_status_comes_back() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-status");
    let e = exec(&c, &process(&["sh", "-c", "exit 7"])).unwrap();
    assert_eq!(e.wait().unwrap(), 7);
    let e = exec(&c, &process(&["sh", "-c", "kill -TERM $$"])).unwrap();
    assert_eq!(e.wait().unwrap(), 128 + libc::SIGTERM);
    let e = exec(&c, &process(&["sleep", "100"])).unwrap();
    assert_eq!(e.try_wait().unwrap(), None);
    e.kill(libc::SIGKILL).unwrap();
    assert_eq!(e.wait().unwrap(), 137);
    // The container's init is untouched.
    assert_eq!(c.status(), nook::Status::Running);
}

#[test]
fn exec_failure_is_reported_and_leaves_no_process() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-nox");
    let err = exec(&c, &process(&["no-such-program"])).unwrap_err();
    assert!(
        err.to_string().contains("executable file not found in $PATH"),
        "{err}"
    );
    assert_eq!(err.errno(), libc::ENOENT);
    let mut p = process(&["true"]);
    p["cwd"] = json!("/no/such/dir");
    let err = exec(&c, &p).unwrap_err();
    assert!(err.to_string().contains("working directory"), "{err}");
    assert_eq!(c.processes().unwrap(), vec![c.pid()]);
}

#[test]
fn bad_process_is_rejected_before_anything_happens() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-bad");
    let mut p = process(&["true"]);
    p["cwd"] = json!("relative");
    let err = exec(&c, &p).unwrap_err();
    assert!(matches!(err, nook::Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("process.cwd"), "{err}");
    let mut p = process(&["true"]);
    p["capabilities"] = json!({"bounding": ["CAP_NO_SUCH_THING"]});
    let err = exec(&c, &p).unwrap_err();
    assert!(err.to_string().contains("capabilities.bounding"), "{err}");
    assert!(err.to_string().contains("NO_SUCH_THING"), "{err}");
    let err = exec(&c, &process(&[])).unwrap_err();
    assert!(err.to_string().contains("process.args"), "{err}");
    let err = c.exec_json("{not json", &ExecOptions::default()).unwrap_err();
    assert!(matches!(err, nook::Error::Config { .. }), "{err}");
    // A terminal without a console socket.
    let mut p = process(&["true"]);
    p["terminal"] = json!(true);
    let err = exec(&c, &p).unwrap_err();
    assert!(err.to_string().contains("console-socket"), "{err}");
    assert_eq!(c.processes().unwrap(), vec![c.pid()]);
}

#[test]
fn paused_and_stopped_containers_are_refused() {
    let f = Fixture::new(&["sleep", "100"]).with_out();
    let c = running(&f, "exec-frozen");
    c.pause().unwrap();
    let err = exec(&c, &process(&["true"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot exec in a paused container (use --ignore-paused to override)"
    );
    // With ignore_paused the process is made, and runs once thawed.
    let opts = ExecOptions {
        ignore_paused: true,
        ..Default::default()
    };
    let thaw = {
        let c = f.ctx.load("exec-frozen").unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            c.resume().unwrap();
        })
    };
    let e = c
        .exec_json(
            &process(&["sh", "-c", "echo hi > /out/thawed"]).to_string(),
            &opts,
        )
        .unwrap();
    thaw.join().unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    assert_eq!(f.read_out("thawed"), "hi\n");

    c.kill(libc::SIGKILL, false).unwrap();
    c.wait().unwrap();
    let err = exec(&c, &process(&["true"])).unwrap_err();
    assert!(
        err.to_string().contains("cannot exec in a stopped container"),
        "{err}"
    );
}

#[test]
fn exec_with_a_tty_gets_a_pty_through_the_console_socket() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-tty");
    let sock = f.dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut p = process(&["sh", "-c", "tty; echo done; read reply"]);
    p["terminal"] = json!(true);
    let opts = ExecOptions {
        console_socket: Some(sock),
        ..Default::default()
    };
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        common::agent::recv_with_fd(conn.as_raw_fd())
    });
    let e = c.exec_json(&p.to_string(), &opts).unwrap();
    let (name, master) = receiver.join().unwrap();
    assert_eq!(name, b"/dev/ptmx");
    let (out, master) = common::read_until(master, "done");
    // The process waits for our line: once the terminal's slave side
    // closes, the kernel may drop output still unread on the master.
    std::io::Write::write_all(&mut &master, b"bye\n").unwrap();
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert_eq!(e.wait().unwrap(), 0);
}

#[test]
fn exec_enters_the_root_of_a_no_pivot_container() {
    let f = Fixture::new(&["sleep", "100"]);
    let opts = CreateOptions {
        no_pivot: true,
        ..Default::default()
    };
    let c = f.create_with("exec-nopivot", &opts).unwrap();
    c.start().unwrap();
    // The rootfs was moved onto the namespace's / (no pivot_root): setns
    // must land on top of it, not on the host's root underneath.
    let e = exec(&c, &process(&["sleep", "100"])).unwrap();
    let ino = |p: &str| std::fs::metadata(p).unwrap().ino();
    let busybox = f.rootfs().join("bin/busybox");
    assert_eq!(
        ino(&format!("/proc/{}/root/bin/busybox", e.pid())),
        ino(busybox.to_str().unwrap())
    );
    e.kill(libc::SIGKILL).unwrap();
    e.wait().unwrap();
}

/// The preserved fds reach the process; a hole in their range stays a
/// hole: nook's own descriptors are kept above it, or they would leak into
/// the container (and with the sync socket, exec would wait for its EOF
/// until the process exits).
#[test]
fn preserved_fds_reach_the_exec_process() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-xfds");
    let hole = std::fs::File::open("/dev/null").unwrap();
    let probe = std::fs::File::open("/proc/self/status").unwrap();
    let hole_fd = hole.as_raw_fd();
    drop(hole);
    let opts = ExecOptions {
        preserve_fds: probe.as_raw_fd() as u32 - 2,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let e = c
        .exec_json(&process(&["sleep", "100"]).to_string(), &opts)
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let fd = |n: i32| std::fs::read_link(format!("/proc/{}/fd/{n}", e.pid()));
    assert_eq!(
        fd(probe.as_raw_fd()).unwrap(),
        std::path::Path::new(&format!("/proc/{}/status", std::process::id()))
    );
    // The hole is closed, or holds what another test's thread opened
    // meanwhile: never one of the container's namespaces, which nook opened
    // for this exec (and a sync socket there would have hung exec above).
    if let Ok(target) = fd(hole_fd) {
        for ns in ["pid", "mnt", "net", "ipc", "uts", "cgroup"] {
            assert_ne!(
                target.to_string_lossy(),
                ns_inode(&c.pid().to_string(), ns),
                "{ns}"
            );
        }
    }
    e.kill(libc::SIGKILL).unwrap();
    e.wait().unwrap();
}

/// The init of a pid namespace cannot finish dying before the exec'd
/// processes, children of the caller, are reaped: `delete --force` does it.
#[test]
fn force_delete_reaps_running_exec_processes() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-del");
    let e = exec(&c, &process(&["sleep", "100"])).unwrap();
    c.delete(true).unwrap();
    assert!(std::fs::metadata(format!("/proc/{}", e.pid())).is_err());
    assert!(std::fs::metadata(format!("/proc/{}", c.pid())).is_err());
}

/// `delete --force` from another process (the CLI) while an exec'd
/// process, killed with the rest, waits to be reaped by its parent, as
/// when the `nook exec` that started it was killed and it went to a
/// reaper that takes its time: the init of the pid namespace cannot
/// finish dying (become a zombie) before that, but it has left the
/// cgroup, so the delete does not wait for it. Here this test is the
/// slow parent, reaping only once the delete has returned; the delete
/// used to wait 5 s for the init and fail.
#[test]
fn force_delete_does_not_wait_for_an_exec_process_to_be_reaped() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-unreaped");
    let e = exec(&c, &process(&["sleep", "100"])).unwrap();
    // Reaped however the test ends, so the fixture's delete can finish.
    struct Reap(Option<i32>);
    impl Drop for Reap {
        fn drop(&mut self) {
            if let Some(pid) = self.0.map(nix::unistd::Pid::from_raw) {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(pid, None);
            }
        }
    }
    let mut reap = Reap(Some(e.pid()));
    let cgroups: Vec<_> = c.cgroup().paths().into_values().collect();
    assert!(cgroups.iter().all(|d| d.exists()));
    let out = common::nook(
        &f.dir.path().join("state"),
        &["delete", "--force", "exec-unreaped"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!f.dir.path().join("state/exec-unreaped").exists(), "state left");
    for d in &cgroups {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
    let state = |pid: i32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit_once(") ")
            .map(|(_, r)| r.chars().next().unwrap())
            .unwrap_or('-')
    };
    assert_eq!(
        state(e.pid()),
        'Z',
        "the exec'd process was killed, and waits for us"
    );
    reap.0 = None;
    assert_eq!(e.wait().unwrap(), 128 + libc::SIGKILL);
    // With it reaped, the init finishes dying; it is ours to reap too.
    assert_eq!(c.wait().unwrap(), 128 + libc::SIGKILL);
    for pid in [e.pid(), c.pid()] {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} left"
        );
    }
}

/// runc accepts exec into a created container: its namespaces and root
/// are complete once `create` returns; only its init waits for `start`.
#[test]
fn exec_into_a_created_container() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("exec-created").unwrap();
    let e = exec(
        &c,
        &process(&["sh", "-c", "test $$ != 1 && hostname | grep -q nook-test"]),
    )
    .unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    assert_eq!(c.status(), nook::Status::Created);
}

/// A filter with NOTIFY rules gives the exec'd process its own listener,
/// which reaches the agent with the container's state, status "running".
#[test]
fn exec_hands_its_notify_listener_to_the_agent() {
    let mut f = Fixture::new(&["sleep", "100"]).with_out();
    let agent_path = f.dir.path().join("agent.sock");
    f.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent_path,
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let sock = UnixListener::bind(&agent_path).unwrap();
    // The init's listener, sent during create: taken and dropped.
    let init_listener = std::thread::spawn(move || {
        let (conn, _) = sock.accept().unwrap();
        common::agent::recv_with_fd(conn.as_raw_fd());
        sock
    });
    let c = running(&f, "exec-notify");
    let sock = init_listener.join().unwrap();
    let agent = std::thread::spawn(move || common::agent::agent(sock));
    let e = exec(
        &c,
        &process(&["sh", "-c", "mkdir /made && echo yes > /out/mkdir"]),
    )
    .unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    let (msg, nr) = agent.join().unwrap();
    assert!(nr == libc::SYS_mkdir as i32 || nr == libc::SYS_mkdirat as i32);
    assert_eq!(msg["state"]["id"], "exec-notify");
    assert_eq!(msg["state"]["status"], "running");
    assert_eq!(msg["state"]["pid"], e.pid());
    assert_eq!(f.read_out("mkdir"), "yes\n");
    assert!(!f.rootfs().join("made").exists());
}

/// The process joins the container's session keyring, found by name, not
/// the caller's, and not a second one of the same name.
#[test]
fn exec_joins_the_container_session_keyring() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-keyring");
    assert!(eventually(|| common::keyrings_named("exec-keyring") == 1));
    let e = exec(&c, &process(&["sleep", "100"])).unwrap();
    // Both processes alive: still exactly one keyring of that name.
    assert_eq!(common::keyrings_named("exec-keyring"), 1);
    e.kill(libc::SIGKILL).unwrap();
    e.wait().unwrap();
}

/// runc's `exec --cgroup`: into an existing sub-cgroup, everywhere
/// (`PATH`) or in one controller's hierarchy (`CTRL:PATH`); refused clearly
/// when it does not exist or climbs out.
#[test]
fn exec_into_a_sub_cgroup() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = running(&f, "exec-subcg");
    let dirs: Vec<_> = c.cgroup().mount_sources().into_iter().map(|m| m.source).collect();
    for d in &dirs {
        std::fs::create_dir(d.join("sub")).unwrap();
        // A v1 cpuset cgroup takes no task before it has cpus and mems.
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(v) = std::fs::read_to_string(d.join(f)) {
                std::fs::write(d.join("sub").join(f), v).unwrap();
            }
        }
    }
    // The sub-cgroups are ours: remove them before the container's.
    struct Subs(Vec<std::path::PathBuf>);
    impl Drop for Subs {
        fn drop(&mut self) {
            for d in &self.0 {
                let _ = std::fs::remove_dir(d.join("sub"));
            }
        }
    }
    let _subs = Subs(dirs.clone());
    let cgroup_of = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let in_sub = |opts: &ExecOptions| {
        let p = c
            .exec_json(&process(&["sleep", "100"]).to_string(), opts)
            .unwrap();
        let lines = cgroup_of(p.pid());
        p.kill(libc::SIGKILL).unwrap();
        p.wait().unwrap();
        lines
    };
    let everywhere = in_sub(&ExecOptions {
        sub_cgroups: vec!["sub".into()],
        ..Default::default()
    });
    let ours: Vec<_> = everywhere.lines().filter(|l| l.contains("exec-subcg")).collect();
    assert_eq!(ours.len(), dirs.len(), "{everywhere}");
    assert!(
        ours.iter().all(|l| l.ends_with("/exec-subcg/sub")),
        "{everywhere}"
    );

    let pids_only = in_sub(&ExecOptions {
        sub_cgroups: vec!["pids:sub".into()],
        ..Default::default()
    });
    for l in pids_only.lines().filter(|l| l.contains("exec-subcg")) {
        let want = if l.split(':').nth(1) == Some("pids") {
            "/exec-subcg/sub"
        } else {
            "/exec-subcg"
        };
        assert!(l.ends_with(want), "{l} in {pids_only}");
    }

    for (bad, why) in [
        ("nope", "does not exist"),
        ("../x", "not a path below"),
        ("nosuchctl:sub", "no \"nosuchctl\" controller"),
    ] {
        let opts = ExecOptions {
            sub_cgroups: vec![bad.into()],
            ..Default::default()
        };
        let err = exec_opts(&c, &process(&["true"]), &opts).unwrap_err();
        assert!(err.to_string().contains(why), "{bad}: {err}");
    }
    assert_eq!(c.processes().unwrap(), vec![c.pid()]);
}

fn exec_opts(c: &Container, p: &Value, opts: &ExecOptions) -> nook::Result<nook::ExecProcess> {
    c.exec_json(&p.to_string(), opts)
}

/// An exec into a container whose pids limit is reached fails in the
/// second clone (into the container's pid namespace, charged to its pids
/// cgroup): the error says that the exec'd process could not be cloned and
/// names the limit, and the container is left as it was (an exec works
/// again once `update` raises the limit).
#[test]
fn exec_at_the_pids_limit_names_the_limit_and_leaves_the_container_running() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["linux"]["resources"] = json!({"pids": {"limit": 1}});
    let c = running(&f, "exec-pids");
    assert_eq!(c.processes().unwrap(), vec![c.pid()], "the init fills the limit");
    let err = exec(&c, &process(&["true"])).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.errno(), libc::EAGAIN, "{msg}");
    assert!(msg.contains("cloning the exec'd process"), "{msg}");
    assert!(!msg.contains("cloning the container init"), "{msg}");
    assert!(msg.contains("pids limit reached"), "{msg}");
    assert!(msg.contains("linux.resources.pids.limit"), "{msg}");
    assert_eq!(c.status(), nook::Status::Running);
    assert_eq!(
        c.processes().unwrap(),
        vec![c.pid()],
        "nothing of the exec is left"
    );
    let raised: oci_spec::runtime::LinuxResources =
        serde_json::from_value(json!({"pids": {"limit": 3}})).unwrap();
    c.update(&raised).unwrap();
    assert_eq!(exec(&c, &process(&["true"])).unwrap().wait().unwrap(), 0);
}

/// An exec'd process's environment as the kernel keeps it, written by a
/// `sh` run as `uid` with `env` (see lifecycle.rs's `init_environ`).
fn exec_environ(c: &Container, f: &Fixture, env: &[&str], uid: u32) -> Vec<String> {
    let _ = std::fs::remove_file(f.out().join("env"));
    let mut p = process(&["sh", "-c", "cat /proc/$$/environ > /out/env; exit 0"]);
    p["env"] = json!(env);
    p["user"] = json!({"uid": uid, "gid": uid});
    assert_eq!(exec(c, &p).unwrap().wait().unwrap(), 0);
    f.read_out_environ("env")
}

/// exec gets runc's environment rules too: one entry per name (first
/// place, last value), and HOME from the container's /etc/passwd when the
/// process has none, "/" for a uid without an entry (exec.bats "runc exec
/// --user": uid 1000 gets HOME=/).
#[test]
fn exec_env_has_one_entry_per_name_and_home_from_the_container_passwd() {
    let f = Fixture::new(&["sleep", "100"]).with_out();
    std::fs::set_permissions(f.out(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::fs::create_dir_all(f.rootfs().join("etc")).unwrap();
    std::fs::write(f.rootfs().join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    let c = running(&f, "exec-env");
    // Read at each exec, in the container's root.
    std::fs::write(
        f.rootfs().join("etc/passwd"),
        "root:x:0:0:root:/in-container:/bin/sh\n",
    )
    .unwrap();
    assert_eq!(
        exec_environ(&c, &f, &["A=1", "PATH=/bin", "A=2"], 0),
        ["A=2", "PATH=/bin", "HOME=/in-container"]
    );
    assert_eq!(
        exec_environ(&c, &f, &["PATH=/bin", "HOME="], 1000),
        ["PATH=/bin", "HOME=/"]
    );
    assert_eq!(
        exec_environ(&c, &f, &["HOME=/h", "PATH=/bin"], 1000),
        ["HOME=/h", "PATH=/bin"]
    );
}

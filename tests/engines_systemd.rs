//! podman, containerd and docker driving nook with their systemd cgroup
//! manager (podman's `cgroup_manager = "systemd"`, containerd's
//! `SystemdCgroup = true` through `ctr run --runc-systemd-cgroup`, docker's
//! `native.cgroupdriver=systemd`), as on a stock systemd distribution;
//! where AppArmor is on, with the profiles podman and docker load. Only where systemd is PID 1 (tools/test-systemd.sh runs
//! it in the systemd VM); elsewhere each test skips, saying why.
//!
//! Each engine gets its own state under a temp dir; what the tests read
//! back comes from systemd (`systemctl show`) and the scope's cgroup files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::systemd::{assert_unit_holds, read, show, systemd_runs};

fn have(programs: &[&str]) -> bool {
    programs.iter().all(|p| {
        Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Skips unless systemd is PID 1 and `programs` are installed.
fn skip(programs: &[&str]) -> bool {
    if !systemd_runs() {
        eprintln!("skipped: systemd is not PID 1 here (run tools/test-systemd.sh)");
        return true;
    }
    if !have(programs) {
        eprintln!("skipped: {programs:?} not installed");
        return true;
    }
    false
}

/// Runs `argv`; its stdout, or a panic with both streams.
fn ok(argv: &[&str], env: &[(&str, &str)]) -> String {
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        o.status.success(),
        "{argv:?}: {}\nstdout: {out}\nstderr: {err}",
        o.status
    );
    out.into_owned()
}

/// A busybox root filesystem, as a directory and as a tar.
fn image(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "tmp", "proc", "sys", "dev", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(common::BUSYBOX, rootfs.join("bin/busybox")).unwrap();
    for a in ["sh", "cat", "sleep"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
    }
    let tar = dir.join("rootfs.tar");
    ok(
        &[
            "tar",
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "-C",
            rootfs.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ],
        &[],
    );
    rootfs
}

/// The scope's cgroup directory on a pure cgroup2 host.
fn scope_dir(unit: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup").join(show(unit, "ControlGroup").trim_start_matches('/'))
}

#[test]
fn podman_with_cgroup_manager_systemd() {
    if skip(&["podman", "conmon"]) {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("nook-podman-sd-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    image(d);
    let nook = env!("CARGO_BIN_EXE_nook");
    let conf = d.join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            "[containers]\nnetns = \"none\"\n[engine]\ncgroup_manager = \"systemd\"\n\
             events_logger = \"file\"\nruntime = \"nook\"\n[engine.runtimes]\nnook = [\"{nook}\"]\n"
        ),
    )
    .unwrap();
    let (root, run) = (d.join("root"), d.join("run"));
    let base = [
        "podman",
        "--root",
        root.to_str().unwrap(),
        "--runroot",
        run.to_str().unwrap(),
        "--storage-driver",
        "vfs",
        "--runtime",
        nook,
        "--events-backend=file",
    ];
    let env = [("CONTAINERS_CONF", conf.to_str().unwrap())];
    let podman = |args: &[&str]| ok(&[&base[..], args].concat(), &env);
    podman(&[
        "import",
        "-q",
        d.join("rootfs.tar").to_str().unwrap(),
        "localhost/bb",
    ]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // Limits as podman asks for them, seen from inside.
        let out = podman(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--memory",
            "64m",
            "--pids-limit",
            "33",
            "localhost/bb",
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max",
        ]);
        assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["67108864", "33"]);
        // Where AppArmor is on, podman loads its default profile and nook
        // applies it: the container runs confined by it.
        if std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y") {
            let label = podman(&[
                "run",
                "--rm",
                "--network",
                "none",
                "localhost/bb",
                "cat",
                "/proc/self/attr/current",
            ]);
            assert!(
                label.starts_with("containers-default-") && label.trim_end().ends_with("(enforce)"),
                "{label}"
            );
        }
        // A detached one: its scope in machine.slice, pause, update, rm.
        let id = podman(&[
            "run",
            "-d",
            "--name",
            "p1",
            "--network",
            "none",
            "--memory",
            "32m",
            "localhost/bb",
            "sleep",
            "100",
        ]);
        let unit = format!("libpod-{}.scope", id.trim());
        assert_eq!(show(&unit, "ActiveState"), "active");
        let pid: i32 = podman(&["inspect", "-f", "{{.State.Pid}}", "p1"])
            .trim()
            .parse()
            .unwrap();
        assert_unit_holds(&unit, pid);
        assert_eq!(show(&unit, "MemoryMax"), "33554432");
        let cg = scope_dir(&unit);
        assert!(cg.starts_with("/sys/fs/cgroup/machine.slice"), "{}", cg.display());
        assert_eq!(read(&cg.join("memory.max")), "33554432");
        podman(&["pause", "p1"]);
        assert_eq!(read(&cg.join("cgroup.freeze")), "1");
        podman(&["unpause", "p1"]);
        assert_eq!(read(&cg.join("cgroup.freeze")), "0");
        podman(&["update", "--memory", "48m", "p1"]);
        assert_eq!(read(&cg.join("memory.max")), "50331648");
        assert_eq!(show(&unit, "MemoryMax"), "50331648");
        podman(&["rm", "-f", "-t", "0", "p1"]);
        assert_eq!(show(&unit, "LoadState"), "not-found");
        assert!(!cg.exists());
    }));
    let _ = Command::new(base[0])
        .args(&base[1..])
        .args(["rm", "-af", "-t", "0"])
        .envs(env)
        .output();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A daemon, ended on drop: SIGTERM, so it tidies up, then SIGKILL after 20 s.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let gone = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            self.0.try_wait().is_ok_and(|s| s.is_some())
        });
        if !gone {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Starts `argv` with its output in `log` and waits up to two minutes (an
/// emulated VM, next to the other engines) for `ready`.
fn daemon(argv: &[&str], log: &Path, ready: impl Fn() -> bool) -> Daemon {
    let file = std::fs::File::create(log).unwrap();
    let mut d = Daemon(
        Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap(),
    );
    let up = (0..1200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        ready() || d.0.try_wait().is_ok_and(|s| s.is_some())
    });
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        up && d.0.try_wait().is_ok_and(|s| s.is_none()),
        "{argv:?} did not start: {text}"
    );
    d
}

/// containerd with its root, state and socket under `d`; the socket.
fn containerd(d: &Path) -> (Daemon, PathBuf) {
    let sock = d.join("ctd.sock");
    let conf = d.join("config.toml");
    std::fs::write(
        &conf,
        format!(
            "version = 2\nroot = \"{}\"\nstate = \"{}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{}\"\n[ttrpc]\n  address = \"{}.ttrpc\"\n",
            d.join("root").display(),
            d.join("state").display(),
            sock.display(),
            sock.display()
        ),
    )
    .unwrap();
    let daemon = daemon(
        &["containerd", "--config", conf.to_str().unwrap()],
        &d.join("containerd.log"),
        || sock.exists(),
    );
    (daemon, sock)
}

#[test]
fn containerd_with_systemd_cgroup() {
    if skip(&["containerd", "ctr", "containerd-shim-runc-v2"]) {
        return;
    }
    let dir = tempfile::Builder::new().prefix("nook-ctd-sd-").tempdir().unwrap();
    let d = dir.path();
    let rootfs = image(d);
    let (_daemon, sock) = containerd(d);
    let addr = sock.to_str().unwrap();
    let ctr = |args: &[&str]| ok(&[&["ctr", "--address", addr][..], args].concat(), &[]);
    let nook = env!("CARGO_BIN_EXE_nook");
    let unit = "ctrtest-c1.scope";
    ctr(&[
        "run",
        "-d",
        "--rootfs",
        "--runc-binary",
        nook,
        "--runc-systemd-cgroup",
        "--cgroup",
        "system.slice:ctrtest:c1",
        "--memory-limit",
        "33554432",
        rootfs.to_str().unwrap(),
        "c1",
        "sleep",
        "100",
    ]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(show(unit, "ActiveState"), "active");
        assert_eq!(show(unit, "ControlGroup"), "/system.slice/ctrtest-c1.scope");
        assert_eq!(show(unit, "MemoryMax"), "33554432");
        let cg = scope_dir(unit);
        assert_eq!(read(&cg.join("memory.max")), "33554432");
        let pid: i32 = ctr(&["task", "ls"])
            .lines()
            .find(|l| l.starts_with("c1 "))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .expect("task c1 in ctr task ls");
        assert_unit_holds(unit, pid);
        assert!(read(&cg.join("cgroup.procs"))
            .lines()
            .any(|p| p == pid.to_string()));
        ctr(&["task", "pause", "c1"]);
        assert_eq!(read(&cg.join("cgroup.freeze")), "1");
        ctr(&["task", "resume", "c1"]);
        assert_eq!(read(&cg.join("cgroup.freeze")), "0");
        ctr(&["task", "kill", "-s", "KILL", "c1"]);
        assert!(common::eventually(|| ctr(&["task", "ls"]).contains("STOPPED")));
        ctr(&["task", "rm", "c1"]);
        assert_eq!(show(unit, "LoadState"), "not-found");
        assert!(!cg.exists());
    }));
    let _ = Command::new("ctr")
        .args(["--address", addr, "task", "rm", "-f", "c1"])
        .output();
    let _ = Command::new("ctr")
        .args(["--address", addr, "container", "rm", "c1"])
        .output();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// True where AppArmor is on: there the engines load their default profiles.
fn apparmor_on() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y")
}

/// Debian's docker client (docker.io), the one that goes with its dockerd.
const DOCKER: &str = "/usr/bin/docker";

#[test]
fn docker_with_native_cgroupdriver_systemd() {
    if skip(&[
        "/usr/sbin/dockerd",
        "/usr/bin/docker",
        "containerd",
        "containerd-shim-runc-v2",
    ]) {
        return;
    }
    let dir = tempfile::Builder::new().prefix("nook-dkr-sd-").tempdir().unwrap();
    let d = dir.path();
    image(d);
    let (_containerd, ctd) = containerd(d);
    let nook = env!("CARGO_BIN_EXE_nook");
    // docker's systemd mode, with nook as its default runtime; the trust key
    // would go to /etc/docker/key.json.
    let conf = d.join("daemon.json");
    std::fs::write(
        &conf,
        serde_json::json!({
            "exec-opts": ["native.cgroupdriver=systemd"],
            "runtimes": {"nook": {"path": nook}},
            "default-runtime": "nook",
            "deprecated-key-path": d.join("key.json"),
        })
        .to_string(),
    )
    .unwrap();
    let sock = format!("unix://{}", d.join("docker.sock").display());
    let (exec, ns) = (d.join("exec"), "nooktest");
    let docker_env = [("DOCKER_CONFIG", d.join("cfg").to_str().unwrap().to_string())];
    let env: Vec<(&str, &str)> = docker_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let docker = |args: &[&str]| ok(&[&[DOCKER, "-H", &sock][..], args].concat(), &env);
    let probe = || {
        Command::new(DOCKER)
            .args(["-H", &sock, "version"])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let _dockerd = daemon(
        &[
            "/usr/sbin/dockerd",
            "--config-file",
            conf.to_str().unwrap(),
            "--data-root",
            d.join("data").to_str().unwrap(),
            "--exec-root",
            exec.to_str().unwrap(),
            "--pidfile",
            d.join("dockerd.pid").to_str().unwrap(),
            "-H",
            &sock,
            "--containerd",
            ctd.to_str().unwrap(),
            "--containerd-namespace",
            ns,
            "--containerd-plugins-namespace",
            "nooktest-plugins",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--bridge=none",
            "--storage-driver",
            "vfs",
        ],
        &d.join("dockerd.log"),
        probe,
    );
    assert!(docker(&["info", "-f", "{{.CgroupDriver}}"]).trim() == "systemd");
    docker(&["import", d.join("rootfs.tar").to_str().unwrap(), "nooktest/bb"]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let id = docker(&[
            "run",
            "-d",
            "--name",
            "s1",
            "--network",
            "none",
            "--memory",
            "32m",
            "nooktest/bb",
            "sleep",
            "100",
        ]);
        let id = id.trim();
        // docker's systemd form: system.slice:docker:ID, a scope systemd holds.
        let unit = format!("docker-{id}.scope");
        assert_eq!(show(&unit, "ActiveState"), "active");
        assert_eq!(show(&unit, "ControlGroup"), format!("/system.slice/{unit}"));
        let pid: i32 = docker(&["inspect", "-f", "{{.State.Pid}}", "s1"])
            .trim()
            .parse()
            .unwrap();
        assert_unit_holds(&unit, pid);
        let cg = scope_dir(&unit);
        assert_eq!(read(&cg.join("memory.max")), "33554432");
        // Where AppArmor is on, docker loads docker-default and nook applies it.
        if apparmor_on() {
            let label = read(Path::new(&format!("/proc/{pid}/attr/current")));
            assert_eq!(label, "docker-default (enforce)");
        }
        // nook's state for it, in the runtime root docker's shim gives it.
        let state: Vec<PathBuf> = std::fs::read_dir(&exec)
            .unwrap()
            .flatten()
            .map(|e| e.path().join(ns).join(id))
            .filter(|p| p.exists())
            .collect();
        assert_eq!(state.len(), 1, "nook's state for {id} under {}", exec.display());
        docker(&["rm", "-f", "s1"]);
        assert_eq!(show(&unit, "LoadState"), "not-found");
        assert!(!cg.exists());
        assert!(!state[0].exists(), "{} left", state[0].display());
        assert!(docker(&["ps", "-aq"]).trim().is_empty());
    }));
    let _ = Command::new(DOCKER)
        .args(["-H", &sock, "rm", "-f", "s1"])
        .envs(env.iter().copied())
        .output();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

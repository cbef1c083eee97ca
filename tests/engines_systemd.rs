//! podman and containerd driving nook with their systemd cgroup manager
//! (podman's `cgroup_manager = "systemd"`, containerd's `SystemdCgroup =
//! true` through `ctr run --runc-systemd-cgroup`), as on a stock systemd
//! distribution. Only where systemd is PID 1 (tools/test-systemd.sh runs
//! it in the systemd VM); elsewhere each test skips, saying why.
//!
//! Each engine gets its own state under a temp dir; what the tests read
//! back comes from systemd (`systemctl show`) and the scope's cgroup files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn systemd_runs() -> bool {
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    Path::new("/run/systemd/system").is_dir() && pid1.trim() == "systemd"
}

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

fn show(unit: &str, prop: &str) -> String {
    let o = Command::new("systemctl")
        .args(["show", "-P", prop, unit])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
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

/// containerd, killed on drop.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn containerd_with_systemd_cgroup() {
    if skip(&["containerd", "ctr", "containerd-shim-runc-v2"]) {
        return;
    }
    let dir = tempfile::Builder::new().prefix("nook-ctd-sd-").tempdir().unwrap();
    let d = dir.path();
    let rootfs = image(d);
    let sock = d.join("sock");
    let conf = d.join("config.toml");
    std::fs::write(
        &conf,
        format!(
            "version = 2\nroot = \"{}\"\nstate = \"{}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{}\"\n",
            d.join("root").display(),
            d.join("state").display(),
            sock.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(d.join("containerd.log")).unwrap();
    let _daemon = Daemon(
        Command::new("containerd")
            .arg("--config")
            .arg(&conf)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // Slow under an emulated VM, next to podman: up to a minute.
    let up = (0..600).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        sock.exists()
    });
    let log = || std::fs::read_to_string(d.join("containerd.log")).unwrap_or_default();
    assert!(up, "containerd did not start: {}", log());
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

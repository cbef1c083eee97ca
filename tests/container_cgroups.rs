//! Cgroups through the whole runtime, on whatever layout the host has (this
//! suite also runs in the pure cgroup v2 VM, see tools/test-cgroup-v2.sh):
//! limits read back from the cgroup files and from inside the container,
//! pause/resume, kill --all, update, and nothing left after delete.

mod common;

use std::path::PathBuf;

use common::{eventually, nook_detached, Fixture, Reap};
use nook::Status;
use serde_json::json;

/// The container's directory holding `v1` (v1 controller `ctl`) or `v2`.
fn cg_file(c: &nook::Container, ctl: &str, v1: &str, v2: &str) -> PathBuf {
    let paths = c.cgroup().paths();
    match paths.get(ctl) {
        Some(dir) => dir.join(v1),
        None => paths[""].join(v2),
    }
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn limits_show_in_the_cgroup_files_and_inside() {
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max > /out/mem 2>/dev/null; \
         cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max >> /out/mem 2>/dev/null; \
         cat /proc/self/cgroup > /out/self; sleep 100",
    ])
    .with_out();
    f.mounts().push(json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "nodev", "noexec"]}));
    f.config["linux"]["resources"] =
        json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 42}, "cpu": {"shares": 512}});
    let c = f.create("cglimits").unwrap();
    assert_eq!(
        read(&cg_file(&c, "memory", "memory.limit_in_bytes", "memory.max")),
        (64u64 << 20).to_string()
    );
    assert_eq!(read(&cg_file(&c, "pids", "pids.max", "pids.max")), "42");
    let cpu = cg_file(&c, "cpu", "cpu.shares", "cpu.weight");
    let want = if cpu.ends_with("cpu.shares") { "512" } else { "20" }; // runc: 1 + (512-2)*9999/262142
    assert_eq!(read(&cpu), want);
    // The init is in the cgroup before it runs anything of the container.
    assert!(c.processes().unwrap().contains(&c.pid()));
    c.start().unwrap();
    assert!(eventually(
        || f.read_out("self").contains("0::/") || f.read_out("self").contains(":memory:")
    ));
    let inside = f.read_out("mem");
    assert!(
        inside.contains(&(64u64 << 20).to_string()) && inside.contains("42"),
        "{inside:?}"
    );
    // With a cgroup namespace the container sees its own cgroup as /.
    assert!(
        f.read_out("self").lines().all(|l| l.ends_with(":/")),
        "{}",
        f.read_out("self")
    );
    let dirs: Vec<PathBuf> = c.cgroup().paths().into_values().collect();
    c.delete(true).unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn pause_resume_kill_all_and_update() {
    let f = Fixture::new(&[
        "sh",
        "-c",
        "sleep 100 & i=0; while true; do i=$((i+1)); echo $i > /n; sleep 0.05; done",
    ]);
    let c = f.create("cgops").unwrap();
    c.start().unwrap();
    let n = f.rootfs().join("n");
    let count = || {
        std::fs::read_to_string(&n)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(eventually(|| count() > 2));
    assert!(eventually(|| c.processes().unwrap().len() >= 2));

    c.pause().unwrap();
    assert_eq!(c.status(), Status::Paused);
    assert_eq!(c.state().status, Status::Paused);
    let frozen = count();
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(count(), frozen, "processes ran while paused");
    assert!(c.pause().unwrap_err().to_string().contains("paused"));
    c.resume().unwrap();
    assert_eq!(c.status(), Status::Running);
    assert!(eventually(|| count() > frozen + 2));
    assert!(c.resume().unwrap_err().to_string().contains("not paused"));

    let mut res = oci_spec::runtime::LinuxResources::default();
    let mut pids = oci_spec::runtime::LinuxPids::default();
    pids.set_limit(77);
    res.set_pids(Some(pids));
    c.update(&res).unwrap();
    assert_eq!(read(&cg_file(&c, "pids", "pids.max", "pids.max")), "77");
    let stats = c.stats().unwrap();
    let data = serde_json::to_value(&stats).unwrap();
    assert!(data["pids"]["current"].as_u64().unwrap() >= 2, "{data}");

    let before = c.processes().unwrap();
    c.kill(libc::SIGKILL, true).unwrap();
    assert!(
        eventually(|| c.processes().unwrap().is_empty()),
        "left: {:?} of {before:?}",
        c.processes()
    );
    c.wait().unwrap();
    c.delete(false).unwrap();
}

#[test]
fn paused_container_can_be_force_deleted() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("cgfrozen").unwrap();
    c.start().unwrap();
    c.pause().unwrap();
    let dirs: Vec<PathBuf> = c.cgroup().paths().into_values().collect();
    assert!(c
        .delete(false)
        .unwrap_err()
        .to_string()
        .contains("not stopped: paused"));
    c.delete(true).unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn bad_resources_are_rejected_before_anything_is_created() {
    let mut f = Fixture::new(&["true"]);
    f.config["linux"]["resources"] = json!({"memory": {"limit": -5}});
    let err = f.create("cgbad").unwrap_err();
    assert!(err.to_string().contains("linux.resources.memory"), "{err}");
    f.config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    f.config["linux"]["cgroupsPath"] = json!("system.slice:nook:x");
    let err = f.create("cgbad").unwrap_err();
    assert!(err.to_string().contains("cgroupsPath"), "{err}");
    assert!(!f.ctx.root().join("cgbad").exists());
}

/// Deny-all in the spec, then /dev/fuse's numbers allowed or not: a node in
/// the image, and one the runtime makes from `linux.devices`, which (as
/// with runc, dev.bats "device cgroup deny") gets no rule of its own.
#[test]
fn device_rules_deny_and_allow_with_runtime_defaults() {
    for (allow, made) in [(false, false), (true, false), (false, true), (true, true)] {
        let node = if made { "/dev/fuse" } else { "/fuse" };
        let mut f = Fixture::new(&[
            "sh",
            "-c",
            &format!("echo x > /dev/null && echo null-ok > /out/null; (exec 3<> {node}) 2> /out/dev && echo dev-ok >> /out/dev; true"),
        ])
        .with_out();
        if made {
            f.config["linux"]["devices"] =
                json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600}]);
        } else {
            // A device node in the image itself (not created by the runtime):
            // /dev/fuse's numbers, which root may open without capabilities.
            let node = f.rootfs().join("fuse");
            let c_path = std::ffi::CString::new(node.to_str().unwrap()).unwrap();
            // SAFETY: mknod on a path in this test's own temp directory.
            assert_eq!(
                unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(10, 229)) },
                0
            );
        }
        let mut rules = vec![json!({"allow": false, "access": "rwm"})];
        if allow {
            rules.push(json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}));
        }
        f.config["linux"]["resources"] = json!({"devices": rules});
        assert_eq!(f.run("cgdev").unwrap(), 0);
        assert_eq!(f.read_out("null"), "null-ok\n");
        // Allowed: the cgroup lets the open through (a kernel without the
        // fuse driver may still say ENXIO); denied: EPERM from the cgroup.
        let dev = f.read_out("dev");
        let denied = dev.contains("Operation not permitted");
        assert_eq!(denied, !allow, "allow={allow} made={made}: {dev:?}");
    }
}

#[test]
fn oom_kill_is_recorded_and_delete_still_cleans_up() {
    let mut f = Fixture::new(&["sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=256"]);
    f.config["linux"]["resources"] = json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}});
    let c = f.create("cgoom").unwrap();
    let dirs: Vec<PathBuf> = c.cgroup().paths().into_values().collect();
    c.start().unwrap();
    let code = c.wait().unwrap();
    assert_eq!(code, 128 + libc::SIGKILL, "dd was not OOM-killed");
    assert!(c.cgroup().oom_kills().unwrap() >= 1);
    c.delete(false).unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

/// The cgroup commands as engines call them.
#[test]
fn cli_pause_resume_ps_events_update() {
    use std::process::{Command, Stdio};
    let f = Fixture::new(&["sh", "-c", "sleep 100 & wait"]);
    f.write_config();
    let root = f.ctx.root().to_str().unwrap().to_string();
    let nook = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nook"))
            .arg("--root")
            .arg(&root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let o = nook(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let created = nook_detached(
        f.ctx.root(),
        &["run", "-d", "-b", f.bundle().to_str().unwrap(), "cgcli"],
    );
    assert!(created.success());
    let c = f.ctx.load("cgcli").unwrap();
    assert!(eventually(|| c.processes().unwrap().len() == 2));
    let pids: Vec<i32> = serde_json::from_str(&ok(&["ps", "--format", "json", "cgcli"])).unwrap();
    let mut want = c.processes().unwrap();
    want.sort();
    let mut got = pids.clone();
    got.sort();
    assert_eq!(got, want);
    let table = ok(&["ps", "cgcli"]);
    assert!(table.starts_with("UID") && table.lines().count() == 3, "{table}");
    ok(&["pause", "cgcli"]);
    assert!(ok(&["state", "cgcli"]).contains("\"paused\""));
    ok(&["resume", "cgcli"]);
    assert!(ok(&["state", "cgcli"]).contains("\"running\""));
    ok(&["update", "--pids-limit", "33", "--memory", "100000000", "cgcli"]);
    assert_eq!(read(&cg_file(&c, "pids", "pids.max", "pids.max")), "33");
    let mem = read(&cg_file(&c, "memory", "memory.limit_in_bytes", "memory.max"));
    assert_eq!(mem.parse::<u64>().unwrap() / 4096, 100_000_000 / 4096);
    let line = ok(&["events", "--stats", "cgcli"]);
    // runc's tests match the start of the line: its fields, in its order.
    assert!(
        line.starts_with(r#"{"type":"stats","id":"cgcli","data":{"#),
        "{line}"
    );
    let event: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(event["type"], "stats");
    assert_eq!(event["id"], "cgcli");
    assert_eq!(event["data"]["pids"]["current"], 2);
    let bad = nook(&["update", "--pids-limit", "-7", "cgcli"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("pids"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    ok(&["kill", "--all", "cgcli", "KILL"]);
    assert!(eventually(|| c.status() == Status::Stopped));
    ok(&["delete", "cgcli"]);
}

/// A cgroup2 subtree delegated to nobody, as systemd's `Delegate=yes` or an
/// administrator sets one up: the directory and its `cgroup.procs`,
/// `cgroup.threads` and `cgroup.subtree_control` owned by the user, with
/// memory and pids enabled for its children, and a `runner` child the
/// user's commands start from (a process may only move between cgroups
/// whose common ancestor's `cgroup.procs` it can write). Removed on drop.
struct Delegated {
    dir: PathBuf,
}

impl Delegated {
    fn new() -> Delegated {
        use std::os::unix::fs::lchown;
        let dir = PathBuf::from(format!("/sys/fs/cgroup/nook-deleg-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let d = Delegated { dir };
        std::fs::write(d.dir.join("cgroup.subtree_control"), "+memory +pids").unwrap();
        std::fs::create_dir(d.dir.join("runner")).unwrap();
        let nobody = Some(common::rootless::NOBODY);
        for f in [
            "",
            "cgroup.procs",
            "cgroup.threads",
            "cgroup.subtree_control",
            "runner",
            "runner/cgroup.procs",
        ] {
            lchown(d.dir.join(f), nobody, nobody).unwrap();
        }
        d
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(self.dir.join("runner"));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Rootless with delegation (pure cgroup v2 only: run it through
/// tools/test-cgroup-v2.sh): nobody's container gets a cgroup under the
/// delegated subtree, with its limits, and nook removes it again.
#[test]
fn rootless_uses_a_cgroup_delegated_to_the_user() {
    let root_ctl = std::fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control").unwrap_or_default();
    if !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        || !root_ctl.contains("memory")
        || !root_ctl.contains("pids")
    {
        eprintln!("skipped: needs a pure cgroup v2 host with memory and pids (tools/test-cgroup-v2.sh)");
        return;
    }
    let deleg = Delegated::new();
    let mut r = common::rootless::Rootless::new(&[
        "sh",
        "-c",
        "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max",
    ]);
    r.enter_cgroup = Some(deleg.dir.join("runner/cgroup.procs"));
    let mut spec = r.config();
    spec["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 32}});
    r.write_config(&spec);
    let id = format!("rl-deleg-{}", std::process::id());
    let o = r.nook(&["run", &id]);
    let out = common::rootless::stdout(&o);
    assert!(o.status.success(), "run: {}", common::rootless::stderr(&o));
    // In its cgroup namespace the container sits at the root of its own
    // cgroup, where its limits are.
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["0::/", &(64u64 << 20).to_string(), "32"],
        "{out}"
    );
    assert!(!deleg.dir.join(&id).exists(), "nook removes the cgroup it made");
    // Without the runner, nothing delegated is reachable: the limit is refused.
    r.enter_cgroup = None;
    let o = r.nook(&["run", &id]);
    assert!(!o.status.success());
    let err = common::rootless::stderr(&o);
    assert!(err.contains("cannot set memory limit"), "{err}");
}

/// The init builds its rootfs while the runtime moves it into its cgroup
/// (see init.rs), but nothing of the container's runs outside the cgroup:
/// a createContainer hook (a child of the init, run once the runtime has
/// answered the init's Hooks message) and the process are in it. (A cgroup
/// namespace made before the join is caught by
/// limits_show_in_the_cgroup_files_and_inside.)
#[test]
fn hooks_and_process_run_inside_the_cgroup() {
    let mut f = Fixture::new(&["sh", "-c", "cat /proc/self/cgroup > /out/process"]).with_out();
    // No cgroup namespace: with one the init joins the cgroup before any mount.
    f.config["linux"]["namespaces"] =
        json!([{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
    let hook = format!("cat /proc/self/cgroup > {}/hook", f.out().display());
    f.config["hooks"] = json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", hook]}]});
    let c = f.create("cgorder").unwrap();
    c.start().unwrap();
    assert!(eventually(|| !f.read_out("process").is_empty()));
    let (hook, process) = (f.read_out("hook"), f.read_out("process"));
    assert!(
        process
            .lines()
            .any(|l| (l.contains(":pids:") || l.starts_with("0::")) && l.contains("cgorder")),
        "{process}"
    );
    assert_eq!(
        hook, process,
        "the createContainer hook ran outside the container's cgroup"
    );
    c.delete(true).unwrap();
}

/// runc's delete.bats "delete --force in cgroupv1 with subcgroups" (and its
/// v2 twin): the container made cgroups below its own (systemd in a
/// container does) and moved a process there. `delete --force` kills that
/// process too and removes the sub-cgroups with the container's.
#[test]
fn delete_force_removes_sub_cgroups_and_their_processes() {
    use std::process::{Command, Stdio};
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("cgsub").unwrap();
    c.start().unwrap();
    let mut dirs: Vec<PathBuf> = c.cgroup().paths().into_values().collect();
    dirs.sort();
    dirs.dedup();
    let mut sleeper = Reap(
        Command::new("sleep")
            .arg("100")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = sleeper.0.id().to_string();
    for d in &dirs {
        let sub = d.join("sub").join("deeper");
        std::fs::create_dir_all(&sub).unwrap();
        // A v1 cpuset starts empty: no process may join it until filled.
        // (On v2 the children have no cpuset files: none is enabled for them.)
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(v) = std::fs::read_to_string(d.join(f)) {
                for dir in [d.join("sub"), sub.clone()] {
                    if dir.join(f).exists() {
                        std::fs::write(dir.join(f), &v).unwrap();
                    }
                }
            }
        }
        std::fs::write(sub.join("cgroup.procs"), &pid).unwrap();
    }
    assert!(
        c.cgroup().pids().unwrap().contains(&(sleeper.0.id() as i32)),
        "pids() misses the sub-cgroup"
    );
    let result = c.delete(true);
    // Killed, and reaped by the delete (this test is its parent): gone.
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let gone = eventually(|| !proc_dir.exists() || sleeper.0.try_wait().is_ok_and(|s| s.is_some()));
    for d in &dirs {
        let _ = std::fs::remove_dir(d.join("sub/deeper"));
        let _ = std::fs::remove_dir(d.join("sub"));
    }
    result.unwrap();
    assert!(gone, "the sub-cgroup's process {pid} was not killed");
    // Reaped already: a kill by its pid could reach a process that got it since.
    std::mem::forget(sleeper);
    for d in &dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    assert!(!f.ctx.root().join("cgsub").exists());
}

/// runc's events.bats "events oom": `events` streams a
/// `{"type":"oom","id":...}` line once the OOM killer strikes in the
/// container's cgroup, without waiting for the stats interval, and ends
/// when the container is gone.
#[test]
fn events_tell_of_an_oom_kill() {
    use std::process::{Command, Stdio};
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 100",
    ]);
    f.config["linux"]["resources"] = json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}});
    f.write_config();
    let root = f.ctx.root().to_str().unwrap().to_string();
    let b = f.bundle();
    let run = nook_detached(f.ctx.root(), &["run", "-d", "-b", b.to_str().unwrap(), "cgoomev"]);
    assert!(run.success());
    let log = f.dir.path().join("events.log");
    let mut events = Command::new(env!("CARGO_BIN_EXE_nook"))
        .args(["--root", &root, "events", "--interval", "1h", "cgoomev"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let told = eventually(|| read_log().contains(r#"{"type":"oom","id":"cgoomev"}"#));
    let c = f.ctx.load("cgoomev").unwrap();
    let kills = c.cgroup().oom_kills().unwrap_or(0);
    c.delete(true).unwrap();
    let ended = eventually(|| events.try_wait().unwrap().is_some());
    if !ended {
        let _ = events.kill();
        let _ = events.wait();
    }
    let text = read_log();
    assert!(told, "no oom event (oom kills in the cgroup: {kills}): {text}");
    assert!(
        text.starts_with(r#"{"type":"stats","id":"cgoomev","data":{"#),
        "{text}"
    );
    assert!(ended, "events did not end with the container");
}

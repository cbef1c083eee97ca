//! Cgroup tests against the real kernel. They need root and skip without it.
//!
//! Each test makes its cgroup under a parent of its own (`/nook-test-<pid>-<name>`),
//! puts real busybox processes in it, and checks what the kernel shows:
//! cgroup files, /proc/<pid>/cgroup and /proc/<pid>/stat. A guard thaws,
//! kills and removes everything even when an assertion fails, and every
//! test ends by checking that no directory is left behind.
//!
//! Run on this (hybrid) host with `cargo test --test cgroups`, and on a
//! pure cgroup v2 kernel with `tools/test-cgroup-v2.sh`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nook::cgroups::{self, Cgroup};
use oci_spec::runtime::{LinuxResources, Spec};

const BUSYBOX: &str = "/bin/busybox";

/// A shell that, once inside the cgroup, holds about 2 MB in a variable,
/// so the memory is charged to the cgroup (pages touched before the move
/// stay charged to the old one). The trailing echo keeps the shell (and
/// its variable) alive: busybox would exec a final `sleep` in its place.
const HOLD_2MB: &str = "read x; a=$(head -c 2000000 /dev/zero | tr '\\0' x); sleep 100; echo $a";

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: needs root");
    false
}

fn spec(linux: serde_json::Value) -> Spec {
    serde_json::from_value(serde_json::json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}},
        "linux": linux,
    }))
    .unwrap()
}

/// The container's cgroup plus the processes a test started in it; dropping
/// it thaws, kills (by pid), reaps and removes, whatever the test did.
struct Guard {
    cg: Cgroup,
    parent: String,
    paths: BTreeMap<String, PathBuf>,
    children: Vec<Child>,
}

impl Guard {
    /// Creates `/nook-test-<pid>-<name>/c` with `resources`.
    fn new(name: &str, resources: serde_json::Value) -> Guard {
        let parent = format!("/nook-test-{}-{name}", std::process::id());
        let plan = cgroups::plan(
            &spec(serde_json::json!({"cgroupsPath": format!("{parent}/c"), "resources": resources})),
            "unused",
        )
        .unwrap();
        let cg = plan.create().unwrap();
        let paths = cg.paths();
        Guard {
            cg,
            parent,
            paths,
            children: Vec::new(),
        }
    }

    /// Starts `sh -c script` in the cgroup. The script must begin with
    /// `read x;`: it waits there until the process has been moved in.
    fn spawn(&mut self, script: &str) -> u32 {
        let mut child = Command::new(BUSYBOX)
            .args(["sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        self.cg.add_process(pid as i32).unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
        self.children.push(child);
        pid
    }

    /// Waits (at most 30 s, so a bug fails the test instead of hanging it)
    /// for the `i`th child; returns (exit signal or code, stdout, stderr).
    fn wait(&mut self, i: usize) -> (String, String, String) {
        let c = &mut self.children[i];
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = c.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "child {} did not exit", c.id());
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        let mut err = String::new();
        c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (format!("{status}"), out, err)
    }

    /// The file of `controller` in the container's cgroup: `v1` in its v1
    /// hierarchy when mounted, else `v2` in the cgroup2 directory.
    fn file(&self, controller: &str, v1: &str, v2: &str) -> PathBuf {
        match self.paths.get(controller) {
            Some(dir) => dir.join(v1),
            None => self.paths[""].join(v2),
        }
    }

    fn read(&self, controller: &str, v1: &str, v2: &str) -> String {
        let f = self.file(controller, v1, v2);
        fs::read_to_string(&f)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
            .trim()
            .to_string()
    }

    fn is_v1(&self, controller: &str) -> bool {
        self.paths.contains_key(controller)
    }

    /// Ends everything and checks that no directory is left.
    fn finish(mut self) {
        self.cleanup();
        for p in self.paths.values() {
            assert!(!p.exists(), "{} left behind", p.display());
            let parent = p.parent().unwrap();
            assert!(
                parent.ends_with(self.parent.trim_start_matches('/')),
                "{}",
                parent.display()
            );
            assert!(!parent.exists(), "{} left behind", parent.display());
        }
        std::mem::forget(self);
    }

    fn cleanup(&mut self) {
        let _ = self.cg.thaw();
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Grandchildren (forked by the scripts) go through the cgroup.
        let _ = self.cg.kill_all(Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.cg.pids().unwrap_or_default().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.cg.remove().unwrap();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the ")" of the command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn proc_state(pid: u32) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("State:"))
        .unwrap_or("")
        .to_string()
}

/// Polls `f` for up to 30 s: generous, because the VM runs 5-40x slower.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn limits_are_written_and_process_is_placed() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new(
        "limits",
        serde_json::json!({
            "memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 20}
        }),
    );
    if g.is_v1("memory") {
        assert_eq!(g.read("memory", "memory.limit_in_bytes", ""), "67108864");
        assert_eq!(g.read("memory", "memory.memsw.limit_in_bytes", ""), "134217728");
        assert_eq!(g.read("memory", "memory.soft_limit_in_bytes", ""), "33554432");
    } else {
        assert_eq!(g.read("memory", "", "memory.max"), "67108864");
        assert_eq!(g.read("memory", "", "memory.swap.max"), "67108864");
        assert_eq!(g.read("memory", "", "memory.low"), "33554432");
    }
    if g.is_v1("cpu") {
        assert_eq!(g.read("cpu", "cpu.shares", ""), "512");
        assert_eq!(g.read("cpu", "cpu.cfs_quota_us", ""), "20000");
        assert_eq!(g.read("cpu", "cpu.cfs_period_us", ""), "100000");
    } else {
        assert_eq!(g.read("cpu", "", "cpu.weight"), "20");
        assert_eq!(g.read("cpu", "", "cpu.max"), "20000 100000");
    }
    assert_eq!(g.read("cpuset", "cpuset.cpus", "cpuset.cpus"), "0");
    assert_eq!(g.read("cpuset", "cpuset.mems", "cpuset.mems"), "0");
    assert_eq!(g.read("pids", "pids.max", "pids.max"), "20");

    let pid = g.spawn("read x; exec sleep 100");
    assert_eq!(g.cg.pids().unwrap(), vec![pid as i32]);
    // The kernel lists the process in the new cgroup in every hierarchy.
    let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in own.lines() {
        let (ids, path) = line.rsplit_once(':').unwrap();
        if ids.ends_with(":name=systemd") {
            continue; // named hierarchies are not joined
        }
        assert_eq!(path, format!("{}/c", g.parent), "{line}");
    }
    let cpus = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(cpus.lines().any(|l| l == "Cpus_allowed_list:\t0"), "{cpus}");
    g.finish();
}

#[test]
fn pids_limit_stops_forks() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new("pids", serde_json::json!({"pids": {"limit": 3}}));
    g.spawn("read x; for i in 1 2 3 4 5 6; do sleep 100 & done; echo started; exec sleep 100");
    // sh + 2 sleeps fit; the other forks fail.
    wait_until("the forks", || {
        g.read("pids", "pids.events", "pids.events").starts_with("max ")
            && g.read("pids", "pids.events", "pids.events") != "max 0"
    });
    assert_eq!(g.read("pids", "pids.current", "pids.current"), "3");
    let stats = g.cg.stats().unwrap();
    assert_eq!((stats.pids.current, stats.pids.limit), (3, 3));
    g.finish();
}

#[test]
fn oom_kill_is_recorded() {
    if !is_root() {
        return;
    }
    // memory+swap equal to memory: no swap to escape into.
    let mut g = Guard::new(
        "oom",
        serde_json::json!({"memory": {"limit": 16777216, "swap": 16777216}}),
    );
    g.spawn("read x; exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    let (status, _, err) = g.wait(0);
    assert!(status.contains("signal: 9"), "{status} {err}");
    assert!(g.cg.oom_kills().unwrap() >= 1);
    g.finish();
}

#[test]
fn freeze_stops_and_thaw_restarts() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new("freeze", serde_json::json!({}));
    let pid = g.spawn("read x; while :; do :; done");
    wait_until("the loop to run", || cpu_ticks(pid) > 0);
    assert!(!g.cg.is_frozen().unwrap());
    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen().unwrap());
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        cpu_ticks(pid),
        before,
        "a frozen process ran ({})",
        proc_state(pid)
    );
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen().unwrap());
    wait_until("the loop to run again", || cpu_ticks(pid) > before);
    // SIGTERM to a frozen cgroup is delivered once thawed; it stays frozen.
    g.cg.freeze().unwrap();
    g.cg.kill_all(Signal::SIGTERM).unwrap();
    assert!(g.cg.is_frozen().unwrap());
    g.cg.thaw().unwrap();
    let (status, _, _) = g.wait(0);
    assert!(status.contains("signal: 15"), "{status}");
    g.finish();
}

#[test]
fn kill_all_reaches_forked_processes() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new("kill", serde_json::json!({}));
    g.spawn("read x; sleep 100 & sleep 100 & exec sleep 100");
    wait_until("three processes", || g.cg.pids().unwrap().len() == 3);
    g.cg.kill_all(Signal::SIGKILL).unwrap();
    let (status, _, _) = g.wait(0);
    assert!(status.contains("signal: 9"), "{status}");
    // The orphaned sleeps are reaped by init; the cgroup empties.
    wait_until("an empty cgroup", || g.cg.pids().unwrap().is_empty());
    g.finish();
}

#[test]
fn update_rewrites_limits() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new("update", serde_json::json!({"pids": {"limit": 10}}));
    g.spawn(HOLD_2MB);
    wait_until("2 MB in use", || {
        g.cg.stats().unwrap().memory.usage.usage > 2_000_000
    });
    let res: LinuxResources =
        serde_json::from_value(serde_json::json!({"pids": {"limit": 42}, "memory": {"limit": 33554432}}))
            .unwrap();
    g.cg.update(&res).unwrap();
    assert_eq!(g.read("pids", "pids.max", "pids.max"), "42");
    assert_eq!(
        g.read("memory", "memory.limit_in_bytes", "memory.max"),
        "33554432"
    );
    // checkBeforeUpdate refuses a limit below what is in use.
    let res: LinuxResources =
        serde_json::from_value(serde_json::json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}}))
            .unwrap();
    let e = g.cg.update(&res).unwrap_err().to_string();
    assert!(e.contains("below the current usage"), "{e}");
    assert_eq!(
        g.read("memory", "memory.limit_in_bytes", "memory.max"),
        "33554432"
    );
    let bad: LinuxResources = serde_json::from_value(serde_json::json!({"pids": {"limit": -9}})).unwrap();
    assert!(g.cg.update(&bad).unwrap_err().to_string().contains("pids.limit"));
    g.finish();
}

#[test]
fn stats_count_cpu_and_memory() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new("stats", serde_json::json!({"memory": {"limit": 67108864}}));
    g.spawn(HOLD_2MB);
    wait_until("2 MB in use by sh and its sleep", || {
        let s = g.cg.stats().unwrap();
        s.memory.usage.usage > 2_000_000 && s.pids.current == 2
    });
    let s = g.cg.stats().unwrap();
    assert!(s.cpu.usage.total > 0, "{s:?}");
    assert_eq!(s.memory.usage.limit, 67108864);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    assert!(json["memory"]["usage"].get("failcnt").is_some());
    g.finish();
}

#[test]
fn device_rules_are_enforced() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new(
        "devices",
        serde_json::json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
        ]}),
    );
    if g.is_v1("devices") {
        assert_eq!(g.read("devices", "devices.list", ""), "c 1:3 rwm");
    }
    g.spawn("read x; echo hi > /dev/null && echo null-ok; head -c 1 /dev/zero > /dev/null && echo zero-ok; exit 0");
    let (_, out, err) = g.wait(0);
    assert!(out.contains("null-ok"), "{out} {err}");
    assert!(!out.contains("zero-ok"), "{out}");
    assert!(err.contains("Operation not permitted"), "{err}");
    // Opening up again through update.
    let res: LinuxResources =
        serde_json::from_value(serde_json::json!({"devices": [{"allow": true, "access": "rwm"}]})).unwrap();
    g.cg.update(&res).unwrap();
    g.spawn("read x; head -c 1 /dev/zero > /dev/null && echo zero-ok");
    let (_, out, err) = g.wait(1);
    assert!(out.contains("zero-ok"), "{out} {err}");
    g.finish();
}

#[test]
fn failed_create_leaves_nothing() {
    if !is_root() {
        return;
    }
    let parent = format!("/nook-test-{}-fail", std::process::id());
    // More realtime budget than the root cgroup has (950ms per 1s): the
    // kernel refuses it only after the directories exist (kernels without
    // CONFIG_RT_GROUP_SCHED have no cpu.rt_* files, which fails there too).
    // cgroup v2 has no realtime limits, so there it is refused up front.
    let s = spec(serde_json::json!({
        "cgroupsPath": format!("{parent}/c"),
        "resources": {"pids": {"limit": 5}, "cpu": {"realtimeRuntime": 990000, "realtimePeriod": 1000000}}
    }));
    match cgroups::plan(&s, "x") {
        Ok(plan) => {
            let e = plan.create().unwrap_err().to_string();
            assert!(e.contains("cpu.rt_"), "{e}");
        }
        Err(e) => assert!(e.to_string().contains("realtime"), "{e}"),
    }
    for m in ["memory", "cpu", "pids", "unified", ""] {
        let p = Path::new("/sys/fs/cgroup")
            .join(m)
            .join(parent.trim_start_matches('/'));
        assert!(!p.exists(), "{} left behind", p.display());
    }
    // An existing cgroup with a process in it is not taken over (an empty
    // one is: tests/cgroup_adoption.rs).
    let mut g = Guard::new("exists", serde_json::json!({}));
    g.spawn("read x; sleep 100");
    let again = cgroups::plan(
        &spec(serde_json::json!({"cgroupsPath": format!("{}/c", g.parent)})),
        "x",
    )
    .unwrap();
    let e = again.create().unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    g.finish();
}

#[test]
fn io_throttle_is_written() {
    if !is_root() {
        return;
    }
    // Any whole block device will do; the VM has none, the host has vda.
    let Some(dev) = fs::read_dir("/sys/block").unwrap().flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let dev = fs::read_to_string(e.path().join("dev")).ok()?;
        (!name.starts_with("loop") && !name.starts_with("zram")).then(|| dev.trim().to_string())
    }) else {
        eprintln!("skipped: no block device");
        return;
    };
    let (major, minor) = dev.split_once(':').unwrap();
    let (major, minor): (i64, i64) = (major.parse().unwrap(), minor.parse().unwrap());
    let g = Guard::new(
        "io",
        serde_json::json!({"blockIO": {
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
        }}),
    );
    if g.is_v1("blkio") {
        assert_eq!(
            g.read("blkio", "blkio.throttle.read_bps_device", ""),
            format!("{dev} 1048576")
        );
        assert_eq!(
            g.read("blkio", "blkio.throttle.write_iops_device", ""),
            format!("{dev} 100")
        );
    } else {
        assert_eq!(
            g.read("io", "", "io.max"),
            format!("{dev} rbps=1048576 wbps=max riops=max wiops=100")
        );
    }
    g.finish();
}

#[test]
fn hugetlb_limit_where_the_controller_is_delegated() {
    if !is_root() {
        return;
    }
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipped: no 2MB huge pages");
        return;
    }
    let parent = format!("/nook-test-{}-hugetlb", std::process::id());
    let s = spec(serde_json::json!({
        "cgroupsPath": format!("{parent}/c"),
        "resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}
    }));
    let plan = match cgroups::plan(&s, "x") {
        Ok(p) => p,
        Err(e) => {
            // A v1-only host without a hugetlb hierarchy.
            assert!(
                e.to_string()
                    .contains("hugetlb cgroup controller is not available"),
                "{e}"
            );
            return;
        }
    };
    match plan.create() {
        Ok(cg) => {
            let paths = cg.paths();
            let f = match paths.get("hugetlb") {
                Some(d) => d.join("hugetlb.2MB.limit_in_bytes"),
                None => paths[""].join("hugetlb.2MB.max"),
            };
            let got = fs::read_to_string(&f).unwrap();
            cg.remove().unwrap();
            assert_eq!(got.trim(), "4194304", "{}", f.display());
        }
        Err(e) => {
            // Hybrid hosts whose cgroup2 root does not delegate hugetlb:
            // refused before anything was created.
            let e = e.to_string();
            assert!(
                e.contains("cgroup.subtree_control") && e.contains("hugetlb"),
                "{e}"
            );
            let p = Path::new("/sys/fs/cgroup/unified").join(parent.trim_start_matches('/'));
            assert!(!p.exists(), "{} left behind", p.display());
        }
    }
}

#[test]
fn default_path_is_id_at_the_hierarchy_root_not_in_our_cgroup() {
    if !is_root() {
        return;
    }
    let id = format!("nook-test-{}-default", std::process::id());
    let cg = cgroups::plan(&spec(serde_json::json!({})), &id)
        .unwrap()
        .create()
        .unwrap();
    let paths = cg.paths();
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    let result = std::panic::catch_unwind(|| {
        for (ctrl, dir) in &paths {
            // <mount point>/<id>: directly under the hierarchy's root (as
            // crun does), never inside the caller's own cgroup.
            assert_eq!(dir.file_name().unwrap().to_str().unwrap(), id);
            let mount = dir.parent().unwrap();
            let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
            assert!(
                mi.lines()
                    .any(|l| l.split(' ').nth(4) == Some(mount.to_str().unwrap())),
                "{ctrl}: {} is not directly under a cgroup mount",
                dir.display()
            );
        }
        assert!(!own.contains(&id));
    });
    cg.remove().unwrap();
    result.unwrap();
    assert!(paths.values().all(|p| !p.exists()));
}

#[test]
fn v1_only_knobs_apply_on_v1_and_are_refused_on_v2() {
    if !is_root() {
        return;
    }
    let parent = format!("/nook-test-{}-v1knobs", std::process::id());
    let s = spec(serde_json::json!({
        "cgroupsPath": format!("{parent}/c"),
        "resources": {
            "memory": {"limit": 67108864, "swappiness": 7, "disableOOMKiller": true},
            "network": {"classID": 1048577, "priorities": [{"name": "lo", "priority": 5}]}
        }
    }));
    let plan = match cgroups::plan(&s, "x") {
        Ok(p) => p,
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains("not supported on cgroup v2") || e.contains("net_cls controller, not mounted"),
                "{e}"
            );
            return;
        }
    };
    let cg = plan.create().unwrap();
    let paths = cg.paths();
    let read = |c: &str, f: &str| fs::read_to_string(paths[c].join(f)).unwrap();
    let got = (
        read("memory", "memory.swappiness"),
        read("memory", "memory.oom_control"),
        read("net_cls", "net_cls.classid"),
        read("net_prio", "net_prio.ifpriomap"),
    );
    cg.remove().unwrap();
    assert_eq!(got.0.trim(), "7");
    assert!(got.1.contains("oom_kill_disable 1"), "{}", got.1);
    assert_eq!(got.2.trim(), "1048577");
    assert!(got.3.lines().any(|l| l == "lo 5"), "{}", got.3);
}

#[test]
fn cpu_burst_is_written_where_supported() {
    if !is_root() {
        return;
    }
    let g = Guard::new(
        "burst",
        serde_json::json!({"cpu": {"quota": 50000, "period": 100000, "burst": 10000}}),
    );
    assert_eq!(g.read("cpu", "cpu.cfs_burst_us", "cpu.max.burst"), "10000");
    g.finish();
}

#[test]
fn unified_keys_need_cgroup2_controllers() {
    if !is_root() {
        return;
    }
    let parent = format!("/nook-test-{}-unified", std::process::id());
    let s = spec(serde_json::json!({
        "cgroupsPath": format!("{parent}/c"),
        "resources": {"unified": {"memory.high": "50331648", "pids.max": "9"}}
    }));
    let plan = match cgroups::plan(&s, "x") {
        Ok(p) => p,
        Err(e) => {
            // v1 and hybrid hosts: memory is not a cgroup2 controller there.
            let e = e.to_string();
            assert!(
                e.contains("unified.memory.high")
                    && (e.contains("need a cgroup v2") || e.contains("not available")),
                "{e}"
            );
            return;
        }
    };
    let cg = plan.create().unwrap();
    let dir = cg.paths()[""].clone();
    let got = (
        fs::read_to_string(dir.join("memory.high")).unwrap(),
        fs::read_to_string(dir.join("pids.max")).unwrap(),
    );
    cg.remove().unwrap();
    assert_eq!((got.0.trim(), got.1.trim()), ("50331648", "9"));
}

#[test]
fn sigkill_reaches_a_frozen_cgroup() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new("frozenkill", serde_json::json!({}));
    g.spawn("read x; sleep 100 & exec sleep 100");
    wait_until("two processes", || g.cg.pids().unwrap().len() == 2);
    g.cg.freeze().unwrap();
    g.cg.kill_all(Signal::SIGKILL).unwrap();
    // Without a thaw, processes frozen by the v1 freezer never act on it.
    let (status, _, _) = g.wait(0);
    assert!(status.contains("signal: 9"), "{status}");
    wait_until("an empty cgroup", || g.cg.pids().unwrap().is_empty());
    g.finish();
}

#[test]
fn sibling_containers_share_a_parent() {
    if !is_root() {
        return;
    }
    let parent = format!("/nook-test-{}-shared", std::process::id());
    let make = |name: &str| {
        let s = spec(serde_json::json!({"cgroupsPath": format!("{parent}/{name}")}));
        cgroups::plan(&s, name).unwrap().create().unwrap()
    };
    let a = make("a");
    let b = make("b");
    let (pa, pb) = (a.paths(), b.paths());
    // a created the parent, but b lives in it now: a's removal leaves it.
    let t = Instant::now();
    a.remove().unwrap();
    assert!(t.elapsed() < Duration::from_millis(500), "{:?}", t.elapsed());
    assert!(pa.values().all(|p| !p.exists() && p.parent().unwrap().exists()));
    b.remove().unwrap();
    assert!(pb.values().all(|p| !p.exists()));
    // b did not create the parent, so it stays; it is empty. (A set: co-mounted
    // controllers such as cpu,cpuacct share one directory.)
    let parents: std::collections::BTreeSet<_> = pb.values().map(|p| p.parent().unwrap()).collect();
    for p in parents {
        fs::remove_dir(p).unwrap();
    }
}

#[test]
fn concurrent_creates_under_a_new_parent() {
    if !is_root() {
        return;
    }
    // Six creates race to make the same new parent; the race is real but
    // not hit every round, hence the rounds.
    for round in 0..30 {
        let parent = format!("/nook-test-{}-race{round}", std::process::id());
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|i| {
                    let parent = &parent;
                    s.spawn(move || {
                        // cpus and pids need the parent configured by whoever made it.
                        let sp = spec(serde_json::json!({
                            "cgroupsPath": format!("{parent}/c{i}"),
                            "resources": {"cpu": {"cpus": "0"}, "pids": {"limit": 10}}
                        }));
                        cgroups::plan(&sp, "x").unwrap().create()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Clean up first, so a failure leaves nothing behind.
        let mut parents = Vec::new();
        for cg in results.iter().flatten() {
            parents.extend(cg.paths().values().map(|p| p.parent().unwrap().to_path_buf()));
            cg.remove().unwrap();
        }
        // Whoever created the parent may have found it busy; clear it.
        for p in parents {
            match fs::remove_dir(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("{}: {e}", p.display()),
            }
        }
        for r in results {
            if let Err(e) = r {
                panic!("round {round}: {e}");
            }
        }
    }
}

/// A cgroup directly below the mount points (the default, `/<id>`) has no
/// parent to race on, so its removal must not wait for the hierarchy locks:
/// containers deleted at once would queue on them. (Its create takes them,
/// briefly: two creates of one new path must not both find it free.) The
/// test holds every mount point's lock itself and expects removal to finish.
#[test]
fn removing_a_top_level_cgroup_takes_no_hierarchy_lock() {
    if !is_root() {
        return;
    }
    let name = format!("nook-test-{}-nolock", std::process::id());
    let plan = cgroups::plan(
        &spec(serde_json::json!({"cgroupsPath": format!("/{name}")})),
        &name,
    )
    .unwrap();
    // Every mounted hierarchy: fields 5 (mount point) and, after " - ", the type.
    let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(" - ").nth(1).is_some_and(|t| t.starts_with("cgroup")))
        .map(|l| l.split(' ').nth(4).unwrap().to_string())
        .collect();
    assert!(!mounts.is_empty());
    // In nook's order (see cgroups/lock.rs): a create in another test
    // holding one of them while waiting for the next must not deadlock.
    mounts.sort();
    let cg = plan.create().unwrap();
    let mut held = Vec::new();
    for m in mounts {
        let f = fs::File::open(&m).unwrap();
        held.push(nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).unwrap());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let paths = cg.paths();
        let made = paths.values().all(|p| p.is_dir());
        let r = cg.remove().map(|()| (made, paths));
        tx.send(()).unwrap();
        r
    });
    let finished = rx.recv_timeout(Duration::from_secs(10)).is_ok();
    drop(held);
    let (made, paths) = worker.join().unwrap().unwrap();
    assert!(finished, "remove waited for the hierarchy locks");
    assert!(made, "{paths:?}");
    assert!(paths.values().all(|p| !p.exists()), "{paths:?}");
}

#[test]
fn update_raises_memory_and_swap_in_the_order_v1_needs() {
    if !is_root() {
        return;
    }
    let g = Guard::new(
        "memswap",
        serde_json::json!({"memory": {"limit": 33554432, "swap": 67108864}}),
    );
    let mem = |limit: i64, swap: i64| -> LinuxResources {
        serde_json::from_value(serde_json::json!({"memory": {"limit": limit, "swap": swap}})).unwrap()
    };
    // Raising: v1 refuses memory above memory+swap, so memsw must go first.
    g.cg.update(&mem(134217728, 268435456)).unwrap();
    // Lowering: the other way round.
    g.cg.update(&mem(16777216, 16777216)).unwrap();
    if g.is_v1("memory") {
        assert_eq!(g.read("memory", "memory.limit_in_bytes", ""), "16777216");
        assert_eq!(g.read("memory", "memory.memsw.limit_in_bytes", ""), "16777216");
    } else {
        assert_eq!(g.read("memory", "", "memory.max"), "16777216");
        assert_eq!(g.read("memory", "", "memory.swap.max"), "0");
    }
    g.finish();
}

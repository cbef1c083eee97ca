//! The systemd cgroup driver (`--systemd-cgroup`) against a real systemd.
//!
//! The tests that need systemd as PID 1 skip, saying so, elsewhere; they
//! run in the systemd VM (tools/test-systemd.sh, on a pure cgroup2 and on a
//! hybrid layout). What they read back comes from systemd (`systemctl
//! show`) and from the kernel (the scope's cgroup files, /proc/PID/cgroup).
//! The refusal without systemd is tested where systemd does not run.

mod common;

use std::path::{Path, PathBuf};

use common::systemd::{assert_unit_holds, read, show, systemd_runs};
use common::{eventually, nook, Fixture};
use nook::{CreateOptions, Status};
use serde_json::json;

/// Skips the calling test, saying why, unless systemd is PID 1.
macro_rules! need_systemd {
    () => {
        if !systemd_runs() {
            eprintln!("skipped: systemd is not PID 1 here (run tools/test-systemd.sh)");
            return;
        }
    };
}

fn opts() -> CreateOptions {
    CreateOptions {
        systemd_cgroup: true,
        ..CreateOptions::default()
    }
}

/// The file of v1 controller `ctl`, else the v2 one, in the container's cgroup.
fn cg_file(c: &nook::Container, ctl: &str, v1: &str, v2: &str) -> PathBuf {
    let paths = c.cgroup().paths();
    match paths.get(ctl) {
        Some(dir) => dir.join(v1),
        None => paths[""].join(v2),
    }
}

/// Drops the cgroup namespace, so /proc/self/cgroup inside shows host paths.
fn no_cgroupns(f: &mut Fixture) {
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "cgroup");
}

fn pure_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

#[test]
fn scope_gets_the_limits_follows_update_pause_and_goes_on_delete() {
    need_systemd!();
    let mut f = Fixture::new(&["sh", "-c", "cat /proc/self/cgroup > /out/self; sleep 100"]).with_out();
    no_cgroupns(&mut f);
    f.config["linux"]["cgroupsPath"] = json!("system.slice:nooktest:sd1");
    f.config["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20}, "pids": {"limit": 42},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000}
    });
    let c = f.create_with("sd1", &opts()).unwrap();
    let unit = "nooktest-sd1.scope";
    assert_eq!(c.cgroup().systemd_unit(), Some(unit));
    assert_eq!(show(unit, "ActiveState"), "active");
    assert_eq!(show(unit, "ControlGroup"), "/system.slice/nooktest-sd1.scope");
    assert_eq!(show(unit, "Delegate"), "yes");
    // The init is in the scope before it runs anything of the container.
    assert_unit_holds(unit, c.pid());
    for dir in c.cgroup().paths().values() {
        assert!(
            dir.ends_with("system.slice/nooktest-sd1.scope"),
            "{}",
            dir.display()
        );
        assert!(read(&dir.join("cgroup.procs"))
            .lines()
            .any(|p| p == c.pid().to_string()));
    }
    let mem = cg_file(&c, "memory", "memory.limit_in_bytes", "memory.max");
    let pids = cg_file(&c, "pids", "pids.max", "pids.max");
    assert_eq!(read(&mem), (64u64 << 20).to_string());
    assert_eq!(read(&pids), "42");
    if pure_v2() {
        let dir = &c.cgroup().paths()[""];
        assert_eq!(read(&dir.join("cpu.weight")), "20");
        assert_eq!(read(&dir.join("cpu.max")), "50000 100000");
        assert_eq!(show(unit, "MemoryMax"), (64u64 << 20).to_string());
    } else {
        let dir = &c.cgroup().paths()["cpu"];
        assert_eq!(read(&dir.join("cpu.shares")), "512");
        assert_eq!(read(&dir.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(show(unit, "MemoryLimit"), (64u64 << 20).to_string());
        // freezer and cpuset are not systemd's on v1: nook made those.
        assert!(c.cgroup().paths()["freezer"].is_dir());
    }
    assert_eq!(show(unit, "TasksMax"), "42");

    // update: systemd's properties and the files follow.
    let res = serde_json::from_value(json!({"memory": {"limit": 128 << 20}, "pids": {"limit": 50}})).unwrap();
    c.update(&res).unwrap();
    assert_eq!(read(&mem), (128u64 << 20).to_string());
    assert_eq!(read(&pids), "50");
    assert_eq!(show(unit, "TasksMax"), "50");
    let mem_prop = if pure_v2() { "MemoryMax" } else { "MemoryLimit" };
    assert_eq!(show(unit, mem_prop), (128u64 << 20).to_string());

    c.start().unwrap();
    assert!(eventually(|| f.read_out("self").contains("nooktest-sd1.scope")));
    c.pause().unwrap();
    assert_eq!(c.status(), Status::Paused);
    let frozen = if pure_v2() {
        read(&c.cgroup().paths()[""].join("cgroup.freeze")) == "1"
    } else {
        read(&c.cgroup().paths()["freezer"].join("freezer.state")) == "FROZEN"
    };
    assert!(frozen);
    c.resume().unwrap();
    assert_eq!(c.status(), Status::Running);
    assert!(c.processes().unwrap().contains(&c.pid()));

    let dirs: Vec<PathBuf> = c.cgroup().paths().into_values().collect();
    c.delete(true).unwrap();
    assert_eq!(show(unit, "LoadState"), "not-found");
    for d in dirs {
        assert!(!d.exists(), "{} left", d.display());
    }
}

#[test]
fn nested_slices_are_expanded_and_the_default_path_is_system_slice() {
    need_systemd!();
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["linux"]["cgroupsPath"] = json!("nooktest-pod-x1.slice:cri:sd2");
    let c = f.create_with("sd2", &opts()).unwrap();
    let want = "/nooktest.slice/nooktest-pod.slice/nooktest-pod-x1.slice/cri-sd2.scope";
    assert_eq!(show("cri-sd2.scope", "ControlGroup"), want);
    assert_unit_holds("cri-sd2.scope", c.pid());
    let dirs: Vec<PathBuf> = c.cgroup().paths().into_values().collect();
    assert!(dirs.iter().all(|d| d.ends_with(&want[1..]) && d.is_dir()));
    c.delete(true).unwrap();
    assert_eq!(show("cri-sd2.scope", "LoadState"), "not-found");
    assert!(dirs.iter().all(|d| !d.exists()));

    // No cgroupsPath: system.slice/nook-<id>.scope, through the CLI.
    let mut g = Fixture::new(&["sh", "-c", "cat /proc/self/cgroup > /out/self"]).with_out();
    no_cgroupns(&mut g);
    g.write_config();
    let o = nook(
        g.ctx.root(),
        &[
            "--systemd-cgroup",
            "run",
            "-b",
            g.bundle().to_str().unwrap(),
            "sd3",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        g.read_out("self").contains("/system.slice/nook-sd3.scope"),
        "{}",
        g.read_out("self")
    );
    assert_eq!(show("nook-sd3.scope", "LoadState"), "not-found");
}

#[test]
fn a_name_ending_in_slice_makes_a_slice_holding_the_init() {
    need_systemd!();
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["linux"]["cgroupsPath"] = json!("system.slice:ignored:system-nooktest.slice");
    f.config["linux"]["resources"] = json!({"pids": {"limit": 17}});
    let c = f.create_with("sd6", &opts()).unwrap();
    let unit = "system-nooktest.slice";
    assert_eq!(show(unit, "ActiveState"), "active");
    assert_eq!(show(unit, "ControlGroup"), "/system.slice/system-nooktest.slice");
    assert_unit_holds(unit, c.pid());
    assert_eq!(read(&cg_file(&c, "pids", "pids.max", "pids.max")), "17");
    let dirs: Vec<PathBuf> = c.cgroup().paths().into_values().collect();
    c.delete(true).unwrap();
    assert_eq!(show(unit, "ActiveState"), "inactive");
    assert!(dirs.iter().all(|d| !d.exists()));
}

#[test]
fn a_name_already_in_use_is_refused_and_leaves_the_first_alone() {
    need_systemd!();
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["linux"]["cgroupsPath"] = json!("system.slice:nooktest:same");
    let c = f.create_with("sd4", &opts()).unwrap();
    let e = f.create_with("sd5", &opts()).unwrap_err().to_string();
    assert!(e.contains("nooktest-same.scope"), "{e}");
    assert_eq!(show("nooktest-same.scope", "ActiveState"), "active");
    assert!(c.processes().unwrap().contains(&c.pid()));
    c.delete(true).unwrap();
}

#[test]
fn without_systemd_the_flag_is_refused_naming_it() {
    if systemd_runs() {
        eprintln!("skipped: systemd runs here; this tests a host without it");
        return;
    }
    let mut f = Fixture::new(&["true"]);
    let e = f.create_with("nosd", &opts()).unwrap_err().to_string();
    assert!(
        e.contains("--systemd-cgroup") && e.contains("systemd is not running"),
        "{e}"
    );
    // The CLI says the same and exits 1; nothing is left (Fixture's Drop).
    let o = nook(
        f.ctx.root(),
        &[
            "--systemd-cgroup",
            "run",
            "-b",
            f.bundle().to_str().unwrap(),
            "nosd",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--systemd-cgroup"));
    // Without the flag, the systemd form of cgroupsPath says which flag it needs.
    f.config["linux"]["cgroupsPath"] = json!("system.slice:nook:nosd");
    let e = f.create("nosd").unwrap_err().to_string();
    assert!(
        e.contains("linux.cgroupsPath") && e.contains("--systemd-cgroup"),
        "{e}"
    );
}

//! What the systemd tests read back from systemd and the kernel: shared by
//! tests/systemd_cgroup.rs and tests/engines_systemd.rs.

use std::path::Path;
use std::process::Command;

/// True where systemd is PID 1 (the systemd VM of tools/test-systemd.sh).
pub fn systemd_runs() -> bool {
    let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    Path::new("/run/systemd/system").is_dir() && pid1.trim() == "systemd"
}

/// `systemctl show -P PROP UNIT`.
pub fn show(unit: &str, prop: &str) -> String {
    let o = Command::new("systemctl")
        .args(["show", "-P", prop, unit])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A file's content, trimmed; a panic naming the file if it cannot be read.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// The cgroup systemd tracks `pid` in, as the kernel reports it in
/// /proc/PID/cgroup: the cgroup2 line (`0::`) on the pure and the hybrid
/// layouts, the `name=systemd` hierarchy on the legacy one.
pub fn proc_cgroup(pid: i32) -> String {
    let text = read(Path::new(&format!("/proc/{pid}/cgroup")));
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.split_once(':').and_then(|(_, rest)| rest.strip_prefix(prefix)))
            .map(str::to_string)
    };
    line(":")
        .or_else(|| line("name=systemd:"))
        .unwrap_or_else(|| panic!("no systemd cgroup for {pid}: {text}"))
}

/// Asserts that systemd's unit holds `pid`: the unit's ControlGroup, read
/// back from systemd, is the cgroup the kernel has `pid` in.
pub fn assert_unit_holds(unit: &str, pid: i32) {
    let cg = show(unit, "ControlGroup");
    assert!(!cg.is_empty(), "{unit} has no ControlGroup");
    assert_eq!(
        cg,
        proc_cgroup(pid),
        "{unit}'s ControlGroup is not pid {pid}'s cgroup"
    );
}

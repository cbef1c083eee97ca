//! The `nook` binary where engines and runc's integration tests look at
//! runc: `run --keep`, `update`'s sizes and flag spellings, `ps --format
//! json`, exit codes, `kill --all` on a stopped container and `list`'s
//! columns. Each expectation is what runc 1.1.5 did in the same case.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{eventually, nook, nook_detached, Fixture};
use nook::Status;
use serde_json::Value;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fixture running `args`, started detached as container `id`.
fn running(args: &[&str], id: &str) -> Fixture {
    let f = Fixture::new(args);
    f.write_config();
    let b = f.bundle();
    assert!(nook_detached(f.ctx.root(), &["run", "-d", "-b", b.to_str().unwrap(), id]).success());
    f
}

/// [`running`], in the host's pid namespace (no `pid` in linux.namespaces).
fn running_without_pid_namespace(args: &[&str], id: &str) -> Fixture {
    let mut f = Fixture::new(args);
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    f.write_config();
    let b = f.bundle();
    assert!(nook_detached(f.ctx.root(), &["run", "-d", "-b", b.to_str().unwrap(), id]).success());
    f
}

/// The container's cgroup directory for v1 controller `ctrl`.
fn cgroup_dir(f: &Fixture, id: &str, ctrl: &str) -> PathBuf {
    let paths = f.ctx.load(id).unwrap().cgroup().paths();
    paths
        .get(ctrl)
        .unwrap_or_else(|| panic!("no {ctrl} cgroup in {paths:?}"))
        .clone()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Whether `pid` has exited (gone, or a zombie not yet reaped).
fn exited(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit(") ").next().is_some_and(|r| r.starts_with('Z'))
    })
}

#[test]
fn run_keep_keeps_the_stopped_container_and_its_cgroup_until_delete() {
    let f = Fixture::new(&["sh", "-c", "exit 4"]);
    f.write_config();
    let root = f.ctx.root();
    let b = f.bundle();
    let o = nook(root, &["run", "--keep", "-b", b.to_str().unwrap(), "compat-kept"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let state: Value = serde_json::from_slice(&nook(root, &["state", "compat-kept"]).stdout).unwrap();
    assert_eq!(state["status"], "stopped", "{state}");
    assert_eq!(state["pid"], 0, "{state}");
    let dirs: Vec<PathBuf> = f
        .ctx
        .load("compat-kept")
        .unwrap()
        .cgroup()
        .paths()
        .into_values()
        .collect();
    assert!(!dirs.is_empty() && dirs.iter().all(|d| d.is_dir()), "{dirs:?}");
    // runc prints a nil slice, `null`, for the empty cgroup.
    assert_eq!(
        stdout(&nook(root, &["ps", "--format", "json", "compat-kept"])),
        "null\n"
    );
    let o = nook(root, &["delete", "compat-kept"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!root.join("compat-kept").exists());
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
    // Without --keep, run deletes what it ran.
    let o = nook(root, &["run", "-b", b.to_str().unwrap(), "compat-gone"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(!root.join("compat-gone").exists());
}

#[test]
fn kill_all_on_a_stopped_container_signals_what_is_left_in_its_cgroup() {
    // Without a pid namespace the init's background child outlives it.
    let f = running_without_pid_namespace(&["sh", "-c", "sleep 100 & exit 0"], "compat-left");
    let root = f.ctx.root();
    let c = f.ctx.load("compat-left").unwrap();
    let mut pids = Vec::new();
    assert!(eventually(|| {
        pids = c.processes().unwrap();
        c.status() == Status::Stopped && pids.len() == 1
    }));
    let sleeper = pids[0];
    let o = nook(root, &["kill", "compat-left", "TERM"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "without --all a stopped container is refused"
    );
    assert!(stderr(&o).contains("container not running"), "{}", stderr(&o));
    assert!(!exited(sleeper));
    let o = nook(root, &["kill", "--all", "compat-left", "TERM"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        eventually(|| exited(sleeper)),
        "sleep {sleeper} survived kill --all"
    );
    // With nothing left to signal it still succeeds, as runc's does.
    let o = nook(root, &["kill", "--all", "compat-left"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn update_takes_runc_sizes_and_flag_spellings() {
    let f = running(&["sleep", "100"], "compat-upd");
    let root = f.ctx.root();
    let memory = cgroup_dir(&f, "compat-upd", "memory");
    let update = |args: &[&str]| {
        let mut all = vec!["update"];
        all.extend_from_slice(args);
        all.push("compat-upd");
        nook(root, &all)
    };
    for (value, bytes) in [
        ("50M", "52428800"),
        ("64mb", "67108864"),
        ("100MiB", "104857600"),
        ("1.5g", "1610612736"),
        ("512 k", "524288"),
        ("-1", "9223372036854771712"),
        ("100m", "104857600"),
    ] {
        let o = update(&["--memory", value]);
        assert!(o.status.success(), "--memory {value}: {}", stderr(&o));
        assert_eq!(
            read(&memory.join("memory.limit_in_bytes")),
            bytes,
            "--memory {value}"
        );
    }
    let o = update(&["--memory", "5k5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid value for memory: invalid size: '5k5'"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(&memory.join("memory.limit_in_bytes")), "104857600");
    let o = update(&["--memory-reservation", "10m"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&memory.join("memory.soft_limit_in_bytes")), "10485760");
    let memsw = memory.join("memory.memsw.limit_in_bytes");
    if memsw.exists() {
        let o = update(&["--memory-swap", "200M"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(read(&memsw), "209715200");
    }
    let cpu = cgroup_dir(&f, "compat-upd", "cpu").join("cpu.shares");
    for (flag, shares) in [("--cpu-share", "512"), ("--cpu-shares", "256")] {
        let o = update(&[flag, shares]);
        assert!(o.status.success(), "{flag}: {}", stderr(&o));
        assert_eq!(read(&cpu), shares, "{flag}");
    }
    let o = update(&["--pids-limit", "50"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&cgroup_dir(&f, "compat-upd", "pids").join("pids.max")), "50");
    // runc accepts the obsolete kernel memory flags and ignores them.
    let o = update(&["--kernel-memory", "10M"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Kernel memory settings are ignored"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ps_json_is_one_line() {
    let f = running(&["sleep", "100"], "compat-ps");
    let root = f.ctx.root();
    let init = f.ctx.load("compat-ps").unwrap().pid();
    assert_eq!(
        stdout(&nook(root, &["ps", "--format", "json", "compat-ps"])),
        format!("[{init}]\n")
    );
    let pid_file = f.dir.path().join("exec.pid");
    assert!(nook_detached(
        root,
        &[
            "exec",
            "-d",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "compat-ps",
            "sleep",
            "100"
        ]
    )
    .success());
    let exec: i32 = read(&pid_file).parse().unwrap();
    let out = stdout(&nook(root, &["ps", "-f", "json", "compat-ps"]));
    assert!(
        out.ends_with("]\n") && !out.trim_end().contains(char::is_whitespace),
        "{out:?}"
    );
    let mut pids: Vec<i32> = serde_json::from_str(&out).unwrap();
    pids.sort_unstable();
    let mut want = vec![init, exec];
    want.sort_unstable();
    assert_eq!(pids, want);
}

#[test]
fn exit_codes_are_runcs() {
    let f = running(&["sleep", "100"], "compat-codes");
    let root = f.ctx.root();
    let code = |args: &[&str]| nook(root, args).status.code();
    // exec: the process's status when it ran, 255 when nook failed.
    assert_eq!(code(&["exec", "compat-codes", "sh", "-c", "exit 3"]), Some(3));
    assert_eq!(code(&["exec", "compat-codes", "/nonexistent"]), Some(255));
    assert_eq!(code(&["exec", "compat-ghost", "true"]), Some(255));
    assert_eq!(code(&["exec", "compat-codes"]), Some(255), "no command");
    assert_eq!(code(&["pause", "compat-codes"]), Some(0));
    assert_eq!(code(&["exec", "compat-codes", "true"]), Some(255), "paused");
    assert_eq!(code(&["resume", "compat-codes"]), Some(0));
    // Every other command, run included, exits 1; so does a usage error.
    assert_eq!(code(&["state", "compat-ghost"]), Some(1));
    assert_eq!(code(&["kill", "compat-codes", "FOO"]), Some(1));
    assert_eq!(code(&["resume", "compat-codes"]), Some(1));
    let nowhere = f.dir.path().join("no-bundle");
    assert_eq!(
        code(&["run", "-b", nowhere.to_str().unwrap(), "compat-x"]),
        Some(1)
    );
    assert_eq!(code(&["list", "--bogus"]), Some(1));
    assert_eq!(code(&["exec", "--bogus", "compat-codes", "true"]), Some(1));
    assert_eq!(code(&["list", "--help"]), Some(0));
}

/// Go's RFC3339Nano, as runc prints the creation time: no trailing zeros.
fn go_time(t: &str) -> String {
    let (secs, frac) = t.trim_end_matches('Z').split_once('.').unwrap();
    match frac.trim_end_matches('0') {
        "" => format!("{secs}Z"),
        f => format!("{secs}.{f}Z"),
    }
}

#[test]
fn list_pads_columns_as_runcs_tabwriter() {
    let long = "compat0123456789abcdef0123456789abcd";
    assert_eq!(long.len(), 36);
    let f = running(&["sleep", "100"], long);
    let b = f.bundle();
    assert!(nook_detached(
        f.ctx.root(),
        &["run", "-d", "-b", b.to_str().unwrap(), "compat-a"]
    )
    .success());
    let list: Vec<Value> =
        serde_json::from_slice(&nook(f.ctx.root(), &["list", "--format", "json"]).stdout).unwrap();
    let bundle = b.display().to_string();
    let created: Vec<String> = list
        .iter()
        .map(|s| go_time(s["created"].as_str().unwrap()))
        .collect();
    // text/tabwriter, minwidth 12 and padding 3: a column is its widest
    // cell + 3, at least 12; the last one is not padded.
    let wb = (bundle.len() + 3).max(12);
    let wc = created.iter().map(|c| c.len() + 3).max().unwrap();
    let mut want = format!(
        "{:<39}{:<12}{:<12}{:<wb$}{:<wc$}OWNER\n",
        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
    );
    for (s, created) in list.iter().zip(&created) {
        want += &format!(
            "{:<39}{:<12}{:<12}{:<wb$}{:<wc$}root\n",
            s["id"].as_str().unwrap(),
            s["pid"].as_i64().unwrap(),
            "running",
            bundle,
            created
        );
    }
    assert_eq!(list[0]["id"], "compat-a");
    assert_eq!(stdout(&nook(f.ctx.root(), &["list"])), want);
    // One line of JSON, as runc's encoder writes it.
    let json = stdout(&nook(f.ctx.root(), &["list", "-f", "json"]));
    assert_eq!(json.lines().count(), 1, "{json}");
}

/// runc 1.2's kill.bats "kill KILL [host pidns]" and "kill detached
/// busybox": without a pid namespace of its own the init's death leaves its
/// other processes running, so SIGKILL goes to the whole cgroup, with or
/// without --all, running or stopped; signal 0 only checks.
#[test]
fn kill_zero_checks_and_sigkill_without_a_pid_namespace_reaches_every_process() {
    // busybox sh execs its last command: the init and one child.
    let f = running_without_pid_namespace(&["sh", "-c", "sleep 100 & sleep 100"], "compat-host-pid");
    let root = f.ctx.root();
    let c = f.ctx.load("compat-host-pid").unwrap();
    let mut pids = Vec::new();
    assert!(eventually(|| {
        pids = c.processes().unwrap();
        pids.len() == 2
    }));
    for args in [
        &["kill", "compat-host-pid", "0"][..],
        &["kill", "-a", "compat-host-pid", "0"],
    ] {
        let o = nook(root, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    assert!(pids.iter().all(|&p| !exited(p)), "signal 0 killed something");
    let o = nook(root, &["kill", "compat-host-pid", "KILL"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        eventually(|| pids.iter().all(|&p| exited(p))),
        "left running after kill KILL: {pids:?}"
    );
    // Stopped now: signal 0 to the init is refused, as any signal without --all.
    assert!(eventually(|| c.status() == Status::Stopped));
    let o = nook(root, &["kill", "compat-host-pid", "0"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = nook(root, &["delete", "compat-host-pid"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

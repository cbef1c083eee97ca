//! Checkpoint and restore through criu (issue 14).
//!
//! The tests that are not ignored need no working criu: refusals (a
//! container that is not running, an image directory that is not a
//! checkpoint, a taken id, bad flags) and a restore that criu fails, each
//! leaving nothing behind. The ignored ones dump and restore for real: they
//! need criu on a kernel it supports, which nook's test hosts are not
//! (criu 3.17 fails its vDSO probe on Linux 6.18); tools/test-criu.sh runs
//! them with `--ignored` in the Debian 6.1 VM of tools/run-in-v2-vm.sh.
//!
//! The containers of the real tests are started with `nook run -d` and
//! /dev/null as stdio (or a pipe, where the pipe is the point): criu can
//! dump neither the test runner's terminal nor a file outside the
//! container's mounts. Under TCG a dump or restore takes seconds, hence
//! the long waits.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::host::CgroupParent;
use common::{status_field, Fixture};
use nook::{CheckpointOptions, ErrorKind, ExecOptions, RestoreOptions, Status};
use serde_json::json;

/// A shell loop counting in /out/count, five times a second, and
/// appending each count to /out/log, so that what a restored counter
/// wrote first can be told however slowly the test looks (criu under TCG
/// takes seconds). At its third count it starts a long sleep in the
/// background and writes its pid in the container to /out/bgpid: a pid
/// that depends on how many processes the loop had forked by then, which
/// a restore keeps.
const COUNTER: &str =
    "i=0; while true; do i=$((i+1)); echo $i > /out/count.tmp; busybox mv /out/count.tmp /out/count; \
    echo $i >> /out/log; if test $i -eq 3; then sleep 100000 & echo $! > /out/bgpid; fi; sleep 0.2; done";

/// A fixture running the counter, its cgroup below `parent`, with
/// resource limits to read back after a restore.
fn counter(parent: &CgroupParent, id: &str) -> Fixture {
    let mut f = Fixture::new(&["sh", "-c", COUNTER]).with_out();
    f.config["linux"]["cgroupsPath"] = json!(parent.cgroups_path(id));
    f.config["linux"]["resources"] = json!({
        "pids": {"limit": 77},
        "memory": {"limit": 67108864}
    });
    f
}

/// Runs nook with `--root` of `f`, stdio /dev/null (a created container
/// inherits them), and errors logged to a file; panics with the log on
/// failure.
fn nook_ok(f: &Fixture, args: &[&str]) {
    let log = f.dir.path().join("nook.log");
    let st = Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(f.ctx.root())
        .arg("--log")
        .arg(&log)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        st.success(),
        "nook {args:?}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// `nook run -d` of the fixture's bundle as `id`.
fn run_detached(f: &Fixture, id: &str) -> nook::Container {
    f.write_config();
    nook_ok(f, &["run", "-d", "--bundle", f.bundle().to_str().unwrap(), id]);
    f.ctx.load(id).unwrap()
}

/// Waits up to 60 s (criu under TCG is slow) for `cond`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The counter's last value (0 before the first).
fn count(f: &Fixture) -> u64 {
    f.read_out("count").trim().parse().unwrap_or(0)
}

/// Asserts the counter runs: its value grows.
fn assert_counting(f: &Fixture) -> u64 {
    let before = count(f);
    wait_for("the counter to move", || count(f) > before);
    count(f)
}

/// Every count in /out/log so far (complete lines only).
fn log(f: &Fixture) -> Vec<u64> {
    let text = f.read_out("log");
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete.lines().map(|l| l.parse().unwrap()).collect()
}

/// Asserts that the first count a restored counter writes, after the
/// `logged` counts of before, is in `expected` (a counter started again
/// would write 1); returns it.
fn assert_continues(f: &Fixture, logged: usize, expected: std::ops::RangeInclusive<u64>) -> u64 {
    wait_for("the restored counter to count", || log(f).len() > logged);
    let all = log(f);
    let first = all[logged];
    assert!(
        expected.contains(&first),
        "the restored counter wrote {first} first, not in {expected:?}: not continued; before it: {:?}",
        &all[logged.saturating_sub(5)..logged]
    );
    first
}

fn images(f: &Fixture, name: &str) -> PathBuf {
    f.dir.path().join(name)
}

fn checkpoint_opts(image_path: PathBuf) -> CheckpointOptions {
    CheckpointOptions {
        image_path,
        ..CheckpointOptions::default()
    }
}

fn restore_opts(image_path: PathBuf) -> RestoreOptions {
    RestoreOptions {
        image_path,
        ..RestoreOptions::default()
    }
}

/// The pid in the container of the counter's background sleep, found
/// by its command line among the container's processes (last NSpid
/// field); None until it has executed.
fn background_pid(c: &nook::Container) -> Option<String> {
    c.processes()
        .unwrap()
        .into_iter()
        .find(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|l| l == b"sleep\x00100000\x00"))
        .and_then(|p| {
            let s = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
            let line = s.lines().find(|l| l.starts_with("NSpid:"))?;
            line.split_whitespace().last().map(str::to_string)
        })
}

/// A resource limit of the container's cgroup: the v1 file where that
/// controller has its own hierarchy, else the cgroup2 one.
fn limit(c: &nook::Container, ctrl: &str, v1: &str, v2: &str) -> String {
    let paths = c.cgroup().paths();
    let file = match paths.get(ctrl) {
        Some(dir) => dir.join(v1),
        None => paths[""].join(v2),
    };
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_string()
}

/// What a restore must give back: limits, namespaces (all the
/// container's own, none the host's), capabilities. (The hostname is
/// checked from inside, by exec, in [`exercise_restored`].)
#[derive(Debug, PartialEq)]
struct Observed {
    pids_max: String,
    memory_max: String,
    own_namespaces: Vec<(String, bool)>,
    caps: Vec<String>,
}

fn observe(c: &nook::Container) -> Observed {
    let pid = c.pid();
    let own_namespaces = ["pid", "net", "ipc", "uts", "mnt", "cgroup"]
        .iter()
        .map(|ns| {
            let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
            let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
            (ns.to_string(), theirs != ours)
        })
        .collect();
    let caps = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .map(|k| format!("{k}={}", status_field(pid, k)))
        .collect();
    Observed {
        pids_max: limit(c, "pids", "pids.max", "pids.max"),
        memory_max: limit(c, "memory", "memory.limit_in_bytes", "memory.max"),
        own_namespaces,
        caps,
    }
}

/// Exec'ing, pausing, resuming, killing and deleting a restored container
/// work as on a started one, and nothing is left of it.
fn exercise_restored(f: &Fixture, parent: &CgroupParent, c: &nook::Container) {
    assert_eq!(c.status(), Status::Running);
    let st = c.state();
    assert_eq!(st.pid, c.pid());
    assert!(
        c.processes().unwrap().contains(&c.pid()),
        "init not in its cgroup"
    );

    let mut p = f.config["process"].clone();
    p["args"] = json!(["sh", "-c", "echo exec-ok > /out/exec; hostname >> /out/exec"]);
    let e = c.exec_json(&p.to_string(), &ExecOptions::default()).unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    assert_eq!(f.read_out("exec"), "exec-ok\nnook-test\n");

    c.pause().unwrap();
    assert_eq!(c.status(), Status::Paused);
    let frozen = count(f);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(count(f), frozen, "a paused container counted");
    c.resume().unwrap();
    assert_counting(f);

    c.kill(libc::SIGKILL, false).unwrap();
    wait_for("the restored init to stop", || c.status() == Status::Stopped);
    c.delete(false).unwrap();
    assert!(f.ctx.list().unwrap().is_empty());
    parent.assert_clean();
}

/// Checkpoint (the container is gone afterwards, as with runc), then
/// restore under the same id: the count goes on, the pids inside are the
/// same, limits, namespaces and capabilities are as before, and the
/// restored container is used like any other.
#[test]
#[ignore = "needs criu on a kernel it supports: tools/test-criu.sh"]
fn checkpoint_then_restore_same_id_continues_the_count() {
    let parent = CgroupParent::new("ckpt-same");
    let f = counter(&parent, "c1");
    let c = run_detached(&f, "c1");
    assert_counting(&f);
    wait_for("the background sleep", || {
        !f.read_out("bgpid").is_empty() && background_pid(&c).is_some()
    });
    let before = observe(&c);
    let bg = background_pid(&c).unwrap();
    assert_eq!(bg, f.read_out("bgpid").trim());
    let ck = images(&f, "ck");
    // Timed for the record (criu's first run on a boot also probes the
    // kernel), not asserted.
    let t = Instant::now();
    c.checkpoint(&checkpoint_opts(ck.clone())).unwrap();
    eprintln!("checkpoint of the counter container: {:?}", t.elapsed());
    assert!(
        matches!(f.ctx.load("c1"), Err(nook::Error::NotFound { .. })),
        "container kept"
    );
    parent.assert_clean();
    let stopped = count(&f);
    let logged = log(&f).len();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(&f), stopped, "the checkpointed container still counts");
    assert!(ck.join("inventory.img").is_file() && ck.join("descriptors.json").is_file());

    let last = log(&f)[logged - 1];
    let r = f.ctx.restore("c1", f.bundle(), &restore_opts(ck)).unwrap();
    assert_continues(&f, logged, last + 1..=last + 1);
    assert_eq!(
        background_pid(&r),
        Some(bg),
        "the pid inside the container changed"
    );
    assert_eq!(observe(&r), before);
    assert_eq!(before.pids_max, "77");
    assert!(before.own_namespaces.iter().all(|(_, own)| *own), "{before:?}");
    exercise_restored(&f, &parent, &r);
}

/// `--leave-running`: the container goes on counting; the checkpoint
/// restored under a new id (the original deleted) counts on from where
/// the checkpoint was taken, not from zero.
#[test]
#[ignore = "needs criu on a kernel it supports: tools/test-criu.sh"]
fn leave_running_then_restore_under_a_new_id() {
    let parent = CgroupParent::new("ckpt-new-id");
    let f = counter(&parent, "orig");
    let c = run_detached(&f, "orig");
    assert_counting(&f);
    let before = observe(&c);
    let ck = images(&f, "ck");
    let at_start = *log(&f).last().unwrap();
    c.checkpoint(&CheckpointOptions {
        leave_running: true,
        ..checkpoint_opts(ck.clone())
    })
    .unwrap();
    let after = *log(&f).last().unwrap();
    assert_eq!(c.status(), Status::Running);
    assert_counting(&f);
    c.kill(libc::SIGKILL, false).unwrap();
    wait_for("the original to stop", || c.status() == Status::Stopped);
    c.delete(false).unwrap();
    let stopped = count(&f);
    let logged = log(&f).len();

    let mut f2 = f;
    // The new id gets its own cgroup.
    f2.config["linux"]["cgroupsPath"] = json!(parent.cgroups_path("copy"));
    f2.write_config();
    let r = f2.ctx.restore("copy", f2.bundle(), &restore_opts(ck)).unwrap();
    // The restored counter goes on from its value when dumped (between
    // the counts read before and after the checkpoint), which is below
    // where the original got to.
    let first = assert_continues(&f2, logged, at_start + 1..=after + 1);
    assert!(
        first <= stopped,
        "restored at {first}, the original stopped at {stopped}"
    );
    let paths = r.cgroup().paths();
    assert!(
        paths.values().all(|p| p.to_string_lossy().ends_with("/copy")),
        "restored into {paths:?}"
    );
    assert_eq!(observe(&r), before);
    exercise_restored(&f2, &parent, &r);
}

/// A pre-dump, then a dump with `--parent-path` against it: the dump
/// links its parent, and the restore from it counts on.
#[test]
#[ignore = "needs criu on a kernel it supports: tools/test-criu.sh"]
fn pre_dump_then_dump_with_parent_path() {
    let parent = CgroupParent::new("ckpt-pre");
    let f = counter(&parent, "c1");
    let c = run_detached(&f, "c1");
    assert_counting(&f);
    let pre = images(&f, "pre");
    c.checkpoint(&CheckpointOptions {
        pre_dump: true,
        ..checkpoint_opts(pre.clone())
    })
    .unwrap();
    assert_eq!(c.status(), Status::Running, "a pre-dump stops nothing");
    assert_counting(&f);
    let ck = images(&f, "ck");
    c.checkpoint(&CheckpointOptions {
        parent_path: Some("../pre".into()),
        ..checkpoint_opts(ck.clone())
    })
    .unwrap();
    let logged = log(&f).len();
    assert_eq!(
        std::fs::read_link(ck.join("parent")).unwrap(),
        Path::new("../pre"),
        "the dump does not name its parent"
    );
    let last = log(&f)[logged - 1];
    let r = f.ctx.restore("c1", f.bundle(), &restore_opts(ck)).unwrap();
    assert_continues(&f, logged, last + 1..=last + 1);
    exercise_restored(&f, &parent, &r);
}

/// The CLI as engines call it: `checkpoint --image-path --work-path`,
/// then `restore -d --pid-file` with the restored container's stdout a
/// pipe of the restoring caller's (the pipe it had at checkpoint is
/// gone): the restored shell writes its count there.
#[test]
#[ignore = "needs criu on a kernel it supports: tools/test-criu.sh"]
fn cli_checkpoint_and_restore_with_stdout_a_pipe() {
    let parent = CgroupParent::new("ckpt-cli");
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i; sleep 0.2; done",
    ]);
    f.config["linux"]["cgroupsPath"] = json!(parent.cgroups_path("c1"));
    f.write_config();
    let root = f.ctx.root().to_path_buf();
    let bundle = f.bundle();
    // nook run -d with stdout a pipe: the container keeps it.
    let mut run = Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(&root)
        .args(["run", "-d", "--bundle", bundle.to_str().unwrap(), "c1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(run.stdout.take().unwrap()).lines();
    assert!(run.wait().unwrap().success());
    let first: u64 = lines.next().unwrap().unwrap().parse().unwrap();
    let mut last = first;
    while last < first + 3 {
        last = lines.next().unwrap().unwrap().parse().unwrap();
    }
    let ck = images(&f, "ck");
    let work = images(&f, "work");
    nook_ok(
        &f,
        &[
            "checkpoint",
            "--image-path",
            ck.to_str().unwrap(),
            "--work-path",
            work.to_str().unwrap(),
            "c1",
        ],
    );
    assert!(work.join("dump.log").is_file(), "no dump.log in the work path");
    let descriptors = std::fs::read_to_string(ck.join("descriptors.json")).unwrap();
    assert!(descriptors.contains("pipe:["), "{descriptors}");
    // What the shell wrote before it was dumped, to the old pipe.
    let mut stopped = last;
    for l in lines {
        stopped = l.unwrap().parse().unwrap();
    }

    let pid_file = f.dir.path().join("pid");
    let mut restore = Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(&root)
        .args([
            "restore",
            "-d",
            "--image-path",
            ck.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            "c1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(restore.stdout.take().unwrap()).lines();
    assert!(restore.wait().unwrap().success());
    let next: u64 = lines.next().unwrap().unwrap().parse().unwrap();
    assert_eq!(
        next,
        stopped + 1,
        "the restored shell did not count on into the new pipe"
    );
    let c = f.ctx.load("c1").unwrap();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), c.pid().to_string());
    assert_eq!(c.status(), Status::Running);
    nook_ok(&f, &["delete", "--force", "c1"]);
    parent.assert_clean();
}

/// Whether criu is installed at all (the refusals below need none; a
/// failing restore needs the binary).
fn criu_installed() -> bool {
    Command::new("criu").arg("--version").output().is_ok()
}

/// A created (not started) and a stopped container are refused, naming
/// their state as runc does, and no image directory is made.
#[test]
fn checkpoint_of_a_container_not_running_is_refused() {
    let f = Fixture::new(&["true"]);
    let c = f.create("c1").unwrap();
    let ck = images(&f, "ck");
    let e = c.checkpoint(&checkpoint_opts(ck.clone())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    assert_eq!(e.to_string(), "Container cannot be checkpointed in created state");
    c.start().unwrap();
    c.wait().unwrap();
    let e = c.checkpoint(&checkpoint_opts(ck.clone())).unwrap_err();
    assert_eq!(e.to_string(), "Container cannot be checkpointed in stopped state");
    assert!(!ck.exists(), "image directory made for a refused checkpoint");

    let o = common::nook(
        f.ctx.root(),
        &["checkpoint", "--image-path", ck.to_str().unwrap(), "c1"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Container cannot be checkpointed in stopped state"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!ck.exists());
    c.delete(false).unwrap();
}

/// The mount id of descriptor `fd` of `pid` (its fdinfo's `mnt_id`).
fn fd_mount_id(pid: i32, fd: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .map(|v| v.trim().to_string())
        .unwrap()
}

/// A container started with /dev/null as stdio (a detached `run`, an
/// engine's stdin) gets the container's own /dev/null instead, as with
/// runc: criu cannot dump a descriptor of a mount outside the container
/// ("Can't lookup mount=N for fd=0 path=/dev/null"). Its stdio are then
/// on a mount of the container's mount namespace, and still /dev/null.
#[test]
fn stdio_on_the_host_s_dev_null_become_the_container_s() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = run_detached(&f, "c1");
    let pid = c.pid();
    let mounts: Vec<String> = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap()
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    for fd in 0..3 {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap(),
            Path::new("/dev/null")
        );
        let id = fd_mount_id(pid, fd);
        assert!(
            mounts.contains(&id),
            "fd {fd} is on mount {id}, not one of the container's: {mounts:?}"
        );
    }
    c.delete(true).unwrap();
}

/// Without criu in PATH a checkpoint says so and makes nothing: no image
/// directory; the container runs on.
#[test]
fn checkpoint_without_criu_makes_nothing() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("c1").unwrap();
    c.start().unwrap();
    let ck = images(&f, "ck");
    let o = Command::new(env!("CARGO_BIN_EXE_nook"))
        .env("PATH", f.dir.path().join("empty"))
        .arg("--root")
        .arg(f.ctx.root())
        .args(["checkpoint", "--image-path", ck.to_str().unwrap(), "c1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("criu not found in PATH"), "{err}");
    assert!(!ck.exists(), "image directory made without criu");
    assert_eq!(c.status(), Status::Running);
    c.delete(true).unwrap();
}

/// An image directory without criu's inventory is refused before anything
/// is made: no state directory, cgroup or mount.
#[test]
fn restore_from_a_directory_that_is_not_a_checkpoint_leaves_nothing() {
    let parent = CgroupParent::new("ckpt-notck");
    let mut f = Fixture::new(&["sleep", "100"]).with_out();
    f.config["linux"]["cgroupsPath"] = json!(parent.cgroups_path("r1"));
    f.write_config();
    let empty = images(&f, "empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("descriptors.json"), "[]").unwrap();
    let e = f
        .ctx
        .restore("r1", f.bundle(), &restore_opts(empty.clone()))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(
        e.to_string().contains(&format!(
            "{} is not a checkpoint (no inventory.img)",
            empty.display()
        )),
        "{e}"
    );
    assert!(!f.ctx.root().join("r1").exists());
    parent.assert_clean();

    let missing = images(&f, "missing");
    let o = common::nook(
        f.ctx.root(),
        &[
            "restore",
            "-d",
            "--bundle",
            f.bundle().to_str().unwrap(),
            "--image-path",
            missing.to_str().unwrap(),
            "r1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a checkpoint"));
    assert!(!missing.exists(), "restore made the image directory");
    assert!(!f.ctx.root().join("r1").exists());
    parent.assert_clean();
}

/// A restore under a taken id is refused with runc's words, and the
/// container that has the id runs on untouched.
#[test]
fn restore_over_an_existing_id_is_refused() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("taken").unwrap();
    c.start().unwrap();
    let ck = images(&f, "ck");
    std::fs::create_dir(&ck).unwrap();
    std::fs::write(ck.join("inventory.img"), b"").unwrap();
    let e = f.ctx.restore("taken", f.bundle(), &restore_opts(ck)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert_eq!(e.to_string(), "container with given ID already exists");
    let again = f.ctx.load("taken").unwrap();
    assert_eq!(again.pid(), c.pid());
    assert_eq!(again.status(), Status::Running);
    c.delete(true).unwrap();
}

/// A restore criu fails (an image directory with an empty inventory)
/// reports criu's failure with the path of restore.log, and leaves no
/// state, cgroup, mount (criu-root) or process. The mount points it made
/// in the rootfs stay, as after a create.
#[test]
fn a_restore_criu_fails_names_its_log_and_leaves_nothing() {
    if !criu_installed() {
        eprintln!("skipping: no criu in PATH");
        return;
    }
    let parent = CgroupParent::new("ckpt-fail");
    let mut f = Fixture::new(&["sleep", "100"]).with_out();
    f.config["linux"]["cgroupsPath"] = json!(parent.cgroups_path("r1"));
    // A bind mount whose mount point the rootfs lacks, as in a copy of
    // the bundle: restore makes it before criu runs, as create would.
    let out = f.out();
    f.mounts().push(
        json!({"destination": "/made/by/restore", "type": "bind", "source": out, "options": ["rbind"]}),
    );
    f.write_config();
    let ck = images(&f, "ck");
    std::fs::create_dir(&ck).unwrap();
    std::fs::write(ck.join("inventory.img"), b"").unwrap();
    let work = images(&f, "work");
    let e = f
        .ctx
        .restore(
            "r1",
            f.bundle(),
            &RestoreOptions {
                work_path: Some(work.clone()),
                ..restore_opts(ck)
            },
        )
        .unwrap_err();
    let text = e.to_string();
    let log = work.join("restore.log");
    assert!(
        text.starts_with("criu failed: ") && text.contains(&format!("log file: {}", log.display())),
        "{text}"
    );
    assert!(log.is_file(), "criu wrote no restore.log");
    // The last error lines of the log are repeated.
    let last_error = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .rfind(|l| l.contains("Error"))
        .map(str::to_string);
    if let Some(line) = last_error {
        assert!(text.ends_with(&line), "{text}");
    }
    assert!(!f.ctx.root().join("r1").exists(), "state left");
    assert!(f.host_mounts().is_empty(), "mounts left: {:?}", f.host_mounts());
    parent.assert_clean();
    assert!(
        f.rootfs().join("made/by/restore").is_dir(),
        "mount point not made"
    );
}

/// The flags engines pass parse as runc's, bad values get one clear
/// error, and `checkpoint --help` succeeds (podman's probe for support).
#[test]
fn cli_flags_are_runc_s() {
    let f = Fixture::new(&["true"]);
    let root = f.ctx.root();
    for cmd in ["checkpoint", "restore"] {
        let o = common::nook(root, &[cmd, "--help"]);
        assert!(o.status.success(), "{cmd} --help");
        let help = String::from_utf8_lossy(&o.stdout);
        for flag in [
            "--image-path",
            "--work-path",
            "--tcp-established",
            "--ext-unix-sk",
            "--shell-job",
            "--file-locks",
            "--manage-cgroups-mode",
            "--empty-ns",
            "--auto-dedup",
        ] {
            assert!(help.contains(flag), "{cmd} lacks {flag}");
        }
    }
    let o = common::nook(root, &["checkpoint", "--manage-cgroups-mode", "bogus", "c1"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--manage-cgroups-mode: invalid manage cgroups mode"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = common::nook(root, &["restore", "--empty-ns", "bogus", "c1"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(r#"--empty-ns: namespace \"bogus\" is not supported"#),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // podman passes --leave-running twice; runc's parser takes it.
    let o = common::nook(
        root,
        &["checkpoint", "--leave-running", "--leave-running", "ghost"],
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(r#"container \"ghost\" does not exist"#),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // containerd's shims (go-runc) pass restore's -no-subreaper with one
    // dash; runc's parser takes it. The restore then fails on the bundle.
    let o = common::nook(
        root,
        &["restore", "-no-subreaper", "--bundle", "/nonexistent", "ghost"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("opening bundle /nonexistent"), "{err}");
}

//! Issue 16, resource exhaustion: a full state root, no free fds, the
//! caller's pids limit, the container's memory limit during set-up, and a
//! state root with thousands of entries. Each failing create must give one
//! clear error and leave nothing: no state directory, no cgroup directory
//! in any hierarchy, no process; and a running container is never lost
//! from `list`. Every test reads what is left back from the host.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::host::{dead, nook_cmd, run_to_files, CgroupParent};
use common::Fixture;
use nook::{Context, Status};
use serde_json::json;

/// A tmpfs mounted on a private directory, unmounted (lazily) on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            at,
            Some("tmpfs"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some(options),
        )
        .unwrap();
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Removes a cgroup directory of the test's own on drop.
struct RmDir(PathBuf);

impl Drop for RmDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the filesystem holding `dir`: its blocks with one file, or its
/// inodes with empty files. Returns once the kernel says ENOSPC.
fn fill(dir: &Path, inodes: bool) {
    use std::io::Write;
    if inodes {
        for i in 0.. {
            match std::fs::File::create(dir.join(format!("fill{i}"))) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return,
                Err(e) => panic!("filling inodes: {e}"),
            }
        }
    }
    let mut f = std::fs::File::create(dir.join("fill")).unwrap();
    let block = [0u8; 4096];
    loop {
        match f.write_all(&block) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return,
            Err(e) => panic!("filling blocks: {e}"),
        }
    }
}

/// A fixture running `sleep 100` whose containers go below `cg`.
fn fixture(cg: &CgroupParent, id: &str) -> Fixture {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["linux"]["cgroupsPath"] = json!(cg.cgroups_path(id));
    f
}

/// Nothing of the failed container `id` is left under `root` or `cg`.
fn assert_nothing_of(root: &Path, id: &str, cg: &CgroupParent) {
    assert!(!root.join(id).exists(), "state directory of {id} left");
    let left: Vec<_> = cg
        .leftover_dirs()
        .into_iter()
        .filter(|d| d.ends_with(id))
        .collect();
    assert!(left.is_empty(), "cgroup directories of {id} left: {left:?}");
    let in_cg: Vec<i32> = cg
        .processes()
        .into_iter()
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/cgroup"))
                .is_ok_and(|c| c.contains(&format!("/{id}\n")))
        })
        .collect();
    assert!(in_cg.is_empty(), "processes of {id} left: {in_cg:?}");
}

/// A running container stays listed and usable while the state root is
/// full; a create on the full root fails saying so and leaves nothing,
/// both when the blocks run out (intent.json, the record of what create is
/// about to make, cannot be written: nothing is made yet) and when the
/// inodes do (the state directory cannot be made).
#[test]
fn full_state_root() {
    let cg = CgroupParent::new("full");
    for inodes in [false, true] {
        let mut f = fixture(&cg, "keep");
        let root = f.dir.path().join("small");
        let _tmpfs = Tmpfs::mount(&root, "size=256k,nr_inodes=64,mode=700");
        f.ctx = Context::new(&root);
        let keep = f.create("keep").unwrap();
        keep.start().unwrap();
        fill(&root, inodes);

        f.config["linux"]["cgroupsPath"] = json!(cg.cgroups_path("second"));
        let err = f.create("second").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("No space left on device"), "{text}");
        let what = if inodes {
            "creating state directory"
        } else {
            "intent.json"
        };
        assert!(text.contains(what), "{text}");
        assert_nothing_of(&root, "second", &cg);
        // The same through the CLI: one error line, no panic.
        let mut cmd = nook_cmd(&root);
        cmd.args(["create", "--bundle"]).arg(f.bundle()).arg("second");
        let (ok, _, stderr) = run_to_files(cmd, f.dir.path());
        assert!(!ok);
        assert!(
            stderr.contains("level=error") && stderr.contains("No space left on device"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_nothing_of(&root, "second", &cg);

        // The running container is still listed, and managed, on the full root.
        let listed = f.ctx.list().unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(
            (listed[0].id.as_str(), listed[0].status),
            ("keep", Status::Running)
        );
        let mut cmd = nook_cmd(&root);
        cmd.args(["list", "-q"]);
        let (ok, out, err) = run_to_files(cmd, f.dir.path());
        assert!(ok && out == "keep\n", "{out} {err}");
        keep.pause().unwrap();
        assert_eq!(f.ctx.load("keep").unwrap().status(), Status::Paused);
        keep.resume().unwrap();
        let pid = keep.pid();
        keep.delete(true).unwrap();
        assert!(dead(pid));
        assert!(f.ctx.list().unwrap().is_empty());
        cg.assert_clean();
    }

    // The pid file on a full filesystem, the state root fine: written
    // last, after state.json, so its failure must undo everything.
    let mut f = fixture(&cg, "pidfile");
    let full = f.dir.path().join("full");
    let _tmpfs = Tmpfs::mount(&full, "size=64k,mode=700");
    fill(&full, false);
    f.config["linux"]["cgroupsPath"] = json!(cg.cgroups_path("pidfile"));
    let opts = nook::CreateOptions {
        pid_file: Some(full.join("pid")),
        ..Default::default()
    };
    let err = f.create_with("pidfile", &opts).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("No space left on device") && text.contains("pid"),
        "{text}"
    );
    assert_nothing_of(f.ctx.root(), "pidfile", &cg);
    assert!(f.ctx.list().unwrap().is_empty());
    cg.assert_clean();
}

/// Runs `nook ARGS` for each `n` of `range`, each through `sh -c "PRELUDE
/// && exec nook ..."` with `prelude(n)` (a limit on the shell, inherited
/// by nook), until a run succeeds. Every failure must be one error line
/// holding each of `want`, and no panic; `after(n, ok)` checks the host
/// after each run. Returns the `n` that worked, if one did, and how many
/// runs failed before it.
fn sweep(
    f: &Fixture,
    what: &str,
    range: std::ops::Range<u32>,
    mut prelude: impl FnMut(u32) -> String,
    args: &[&str],
    want: &[&str],
    mut after: impl FnMut(u32, bool),
) -> (Option<u32>, u32) {
    let mut failures = 0;
    for n in range {
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(format!("{} && exec \"$0\" \"$@\"", prelude(n)))
            .arg(env!("CARGO_BIN_EXE_nook"))
            .arg("--root")
            .arg(f.ctx.root())
            .args(args)
            .stdin(std::process::Stdio::null());
        let (ok, _, stderr) = run_to_files(cmd, f.dir.path());
        assert!(!stderr.contains("panicked"), "{what} {n}: {stderr}");
        after(n, ok);
        if ok {
            return (Some(n), failures);
        }
        failures += 1;
        eprintln!("{what} {n}: {stderr}");
        assert!(want.iter().all(|w| stderr.contains(w)), "{what} {n}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what} {n}: {stderr}");
    }
    (None, failures)
}

/// `nook create` under every soft RLIMIT_NOFILE from 4 up to one that works:
/// each failure is one clear "Too many open files" error, nothing is
/// left, and the create that works gives a working container.
#[test]
fn no_free_fds() {
    let cg = CgroupParent::new("nofile");
    let f = fixture(&cg, "fds");
    f.write_config();
    let bundle = f.bundle();
    let create = ["create", "--bundle", bundle.to_str().unwrap(), "fds"];
    let (worked, failures) = sweep(
        &f,
        "RLIMIT_NOFILE",
        4..64,
        |n| format!("ulimit -S -n {n}"),
        &create,
        &["level=error", "Too many open files"],
        |_, ok| {
            if !ok {
                assert_nothing_of(f.ctx.root(), "fds", &cg);
            }
        },
    );
    let n = worked.expect("no RLIMIT_NOFILE below 64 lets create work");
    assert!(
        failures > 0,
        "create worked with only {n} fds: the test proves nothing"
    );
    let c = f.ctx.load("fds").unwrap();
    assert_eq!(c.status(), Status::Created);
    c.start().unwrap();
    assert_eq!(c.status(), Status::Running);
    // `nook exec` likewise: a failure leaves the container as it was.
    let (_, exec_failures) = sweep(
        &f,
        "exec, RLIMIT_NOFILE",
        4..64,
        |n| format!("ulimit -S -n {n}"),
        &["exec", "fds", "true"],
        &["Too many open files"],
        |n, _| assert_eq!(c.processes().unwrap(), vec![c.pid()], "exec, RLIMIT_NOFILE {n}"),
    );
    assert!(exec_failures > 0);
    assert_eq!(c.status(), Status::Running);
    c.delete(true).unwrap();
    cg.assert_clean();
}

/// A v1 pids cgroup of the test's own, beside the test's parent, holding
/// the nook process with `pids.max` at 1, 2, ... until create works: each
/// failure (clone refused by the limit, in nook or in the init) is one
/// clear error and leaves nothing.
#[test]
fn pids_limit_of_the_caller() {
    let cg = CgroupParent::new("pids");
    let pids = Path::new("/sys/fs/cgroup/pids");
    if !pids.join("pids.max").exists() && !pids.join("cgroup.procs").exists() {
        eprintln!("skipping: no v1 pids hierarchy at {}", pids.display());
        return;
    }
    let caller = pids.join(format!("{}-caller", cg.name));
    std::fs::create_dir(&caller).unwrap();
    let _caller = RmDir(caller.clone());
    let f = fixture(&cg, "pids");
    f.write_config();
    let bundle = f.bundle();
    let create = ["create", "--bundle", bundle.to_str().unwrap(), "pids"];
    let (worked, failures) = sweep(
        &f,
        "pids.max",
        1..16,
        |max| {
            // The limit for this run, then the shell (and nook) into that cgroup.
            std::fs::write(caller.join("pids.max"), max.to_string()).unwrap();
            format!("echo 0 > {}/cgroup.procs", caller.display())
        },
        &create,
        &["level=error", "Resource temporarily unavailable"],
        |_, ok| {
            if !ok {
                assert_nothing_of(f.ctx.root(), "pids", &cg);
                let events = std::fs::read_to_string(caller.join("pids.events")).unwrap_or_default();
                assert!(events.contains("max") && !events.contains("max 0"), "{events}");
            }
        },
    );
    let max = worked.expect("no pids.max below 16 lets create work");
    assert!(
        failures > 0,
        "create worked with pids.max {max}: the test proves nothing"
    );
    let c = f.ctx.load("pids").unwrap();
    c.start().unwrap();
    assert_eq!(c.status(), Status::Running);
    c.delete(true).unwrap();
    cg.assert_clean();

    // The container's own pids limit reached by its init: `exec` is
    // refused with one clear error and the container stays as it was.
    let mut f = fixture(&cg, "own");
    f.config["linux"]["resources"] = json!({"pids": {"limit": 1}});
    let c = f.create("own").unwrap();
    c.start().unwrap();
    let o = common::nook(f.ctx.root(), &["exec", "own", "true"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    eprintln!("exec at the container's pids.limit 1: {stderr}");
    assert_eq!(o.status.code(), Some(255), "{stderr}");
    assert!(stderr.contains("Resource temporarily unavailable"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(c.processes().unwrap(), vec![c.pid()]);
    assert_eq!(c.status(), Status::Running);
    c.delete(true).unwrap();
    cg.assert_clean();
}

/// The container's memory limit set so low that set-up itself runs out:
/// create fails, saying the memory limit was reached (or the process is
/// OOM-killed after start, which `events`' OOM count shows), and nothing
/// is left.
#[test]
fn memory_limit_reached_during_set_up() {
    let cg = CgroupParent::new("memory");
    let mut f = fixture(&cg, "mem");
    let mut failed = 0;
    // The smallest need not fail: what the init faults in after joining
    // the cgroup varies (seen: 64 KiB sometimes fitting), so the sweep starts
    // at one page.
    for limit in [
        4 << 10,
        16 << 10,
        64 << 10,
        128 << 10,
        256 << 10,
        512 << 10,
        1 << 20,
        2 << 20,
        4 << 20,
        16 << 20,
    ] {
        f.config["linux"]["resources"] = json!({"memory": {"limit": limit}});
        match f.create("mem") {
            Ok(c) => {
                // Set-up fitted; the workload may still hit the limit.
                let _ = c.start();
                c.delete(true).unwrap();
            }
            Err(e) => {
                failed += 1;
                let text = e.to_string();
                eprintln!("limit {limit}: {text}");
                assert!(
                    text.contains("out of memory") && text.contains("memory limit"),
                    "limit {limit}: {text}"
                );
            }
        }
        assert_nothing_of(f.ctx.root(), "mem", &cg);
        assert!(f.ctx.list().unwrap().is_empty());
    }
    assert!(
        failed > 0,
        "no memory limit made set-up fail: the test proves nothing"
    );
    cg.assert_clean();
}

/// A running container is never lost from `list`, nor touched, by a
/// create that fails: of the same id (it exists), or of another id that
/// fails after its cgroup and init were made (its program is missing).
#[test]
fn running_container_survives_failed_creates() {
    let cg = CgroupParent::new("survive");
    let mut f = fixture(&cg, "keep");
    let keep = f.create("keep").unwrap();
    keep.start().unwrap();
    let cg_procs = keep.processes().unwrap();
    assert_eq!(cg_procs, vec![keep.pid()]);

    let err = f.create("keep").unwrap_err();
    assert_eq!(err.to_string(), "container with given ID already exists");
    let mut cmd = nook_cmd(f.ctx.root());
    cmd.args(["create", "--bundle"]).arg(f.bundle()).arg("keep");
    let (ok, _, stderr) = run_to_files(cmd, f.dir.path());
    assert!(
        !ok && stderr.contains("container with given ID already exists"),
        "{stderr}"
    );

    f.config["process"]["args"] = json!(["no-such-program"]);
    f.config["linux"]["cgroupsPath"] = json!(cg.cgroups_path("other"));
    let err = f.create("other").unwrap_err();
    assert!(err.to_string().contains("executable file not found"), "{err}");
    assert_nothing_of(f.ctx.root(), "other", &cg);

    let listed = f.ctx.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].status),
        ("keep", Status::Running)
    );
    assert_eq!(listed[0].pid, keep.pid());
    assert_eq!(
        keep.processes().unwrap(),
        cg_procs,
        "the running container's cgroup changed"
    );
    keep.delete(true).unwrap();
    cg.assert_clean();
}

/// A well-formed state.json of a stopped container (its init long gone),
/// as `create` writes it.
fn fake_state(root: &Path, id: &str) {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let state = json!({
        "id": id, "pid": i32::MAX, "pid_start": 1, "bundle": "/nonexistent/bundle",
        "rootfs": "/nonexistent/bundle/rootfs", "created": "2026-01-01T00:00:00.000000000Z",
        "annotations": {}, "owner": "", "cgroup": {"dirs": []}, "program": "sleep",
        "no_new_keyring": false
    });
    std::fs::write(dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
}

/// Thousands of entries, a real running container among them, and corrupt
/// ones of every kind `list` can meet: an empty and a garbage state.json,
/// a state.json that is a directory, a FIFO (reading it would block for
/// ever), a symlink to an endless file, a wrong type for a field. `list`
/// shows every good entry and warns about each bad one, in a bounded time.
#[test]
fn thousands_of_entries_and_corrupt_ones() {
    const N: usize = 3000;
    let cg = CgroupParent::new("thousands");
    let f = fixture(&cg, "real");
    let root = f.ctx.root().to_path_buf();
    let real = f.create("real").unwrap();
    real.start().unwrap();
    for i in 0..N {
        fake_state(&root, &format!("fake-{i:05}"));
    }
    let bad = |id: &str| {
        let d = root.join(id);
        std::fs::create_dir_all(&d).unwrap();
        d.join("state.json")
    };
    std::fs::write(bad("bad-empty"), "").unwrap();
    std::fs::write(bad("bad-garbage"), "{\"id\": 12, garbage").unwrap();
    std::fs::create_dir(bad("bad-dir")).unwrap();
    nix::unistd::mkfifo(&bad("bad-fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    std::os::unix::fs::symlink("/dev/zero", bad("bad-zero")).unwrap();
    std::fs::write(bad("bad-type"), r#"{"id": "bad-type", "pid": "twelve"}"#).unwrap();
    let bads = [
        "bad-dir",
        "bad-empty",
        "bad-fifo",
        "bad-garbage",
        "bad-type",
        "bad-zero",
    ];

    let mut cmd = nook_cmd(&root);
    cmd.args(["list", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id() as i32;
    // Fails the test rather than hanging it: a FIFO read blocks for ever.
    let watchdog = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if dead(pid) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        true
    });
    let o = child.wait_with_output().unwrap();
    assert!(!watchdog.join().unwrap(), "nook list hung");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), N + 1, "{err}");
    let running: Vec<_> = listed.iter().filter(|s| s["status"] == "running").collect();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0]["id"], "real");
    assert_eq!(running[0]["pid"], real.pid());
    assert!(listed
        .iter()
        .all(|s| s["id"] == "real" || s["status"] == "stopped"));
    for id in bads {
        assert!(
            err.lines().any(|l| l.contains("level=warning") && l.contains(id)),
            "no warning about {id}: {err}"
        );
    }
    // `state` of one entry, and the library's list, agree.
    let c = f.ctx.load("fake-01234").unwrap();
    assert_eq!(c.state().status, Status::Stopped);
    assert_eq!(f.ctx.list().unwrap().len(), N + 1);

    real.delete(true).unwrap();
    for id in bads {
        let o = common::nook(&root, &["delete", "--force", id]);
        assert!(o.status.success(), "{id}: {}", String::from_utf8_lossy(&o.stderr));
    }
    for i in 0..N {
        std::fs::remove_dir_all(root.join(format!("fake-{i:05}"))).unwrap();
    }
    cg.assert_clean();
}

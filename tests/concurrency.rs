//! Issue 16, concurrency: many `create`s of one id at once, a hundred
//! containers through their whole lifecycle from eight workers (through
//! the CLI and through the library), `delete --force` racing `start`, and
//! `kill` racing the container's exit. No state may be corrupt, nothing
//! may deadlock (a watchdog fails the test), the only errors are runc's,
//! and afterwards nothing is left on the host: no process, cgroup
//! directory (any hierarchy), mount or state directory.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::host::{dead, nook_cmd, run_to_files, CgroupParent};
use common::Fixture;
use nook::{Context, Error, ExecOptions, Status};
use serde_json::{json, Value};

/// A bundle of its own for container `id` (so it gets its own
/// `linux.cgroupsPath` below the test's parent), sharing the fixture's
/// rootfs by absolute path.
fn bundle_for(f: &Fixture, cg: &CgroupParent, id: &str, args: &[&str]) -> PathBuf {
    let dir = f.dir.path().join("bundles").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = common::default_config(args);
    config["root"]["path"] = json!(f.rootfs());
    config["linux"]["cgroupsPath"] = json!(cg.cgroups_path(id));
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    dir
}

/// Runs `work` on another thread and fails the test if it has not
/// finished within `limit` (a deadlock), naming what was still running.
fn with_watchdog<T: Send + 'static>(
    limit: Duration,
    busy: Arc<Mutex<Vec<String>>>,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = work();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        // The worker panicked: join passes the panic on.
        Err(mpsc::RecvTimeoutError::Disconnected) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!(
                "deadlock: not done after {limit:?}; still busy: {:?}",
                busy.lock().unwrap()
            )
        }
    }
}

/// The CLI's `state ID` as JSON, or its error text.
fn cli_state(root: &Path, id: &str) -> Result<Value, String> {
    let o = common::nook(root, &["state", id]);
    if o.status.success() {
        serde_json::from_slice(&o.stdout).map_err(|e| format!("corrupt state of {id}: {e}"))
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// Every state.json under `root` parses and names its own directory,
/// and `list` works and shows only known statuses: read continuously
/// while the workers run.
fn check_states(ctx: &Context) {
    let listed = ctx.list().expect("list failed while containers changed");
    for s in &listed {
        assert!(matches!(
            s.status,
            Status::Created | Status::Running | Status::Paused | Status::Stopped
        ));
    }
    for e in std::fs::read_dir(ctx.root()).into_iter().flatten().flatten() {
        let path = e.path().join("state.json");
        // A container being created has no state.json yet, one being
        // deleted may lose it now: only a file that is there must parse.
        if let Ok(text) = std::fs::read(&path) {
            let v: Value =
                serde_json::from_slice(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            assert_eq!(v["id"].as_str(), e.file_name().to_str(), "{}", path.display());
        }
    }
}

/// 20 `nook create`s of one id at once, three rounds: exactly one wins,
/// each other gets runc's words and nothing else, and the winner's
/// container is whole (its init alone in its cgroup). Then the same with
/// 20 threads of one program through the library.
#[test]
fn twenty_creates_of_one_id() {
    let cg = CgroupParent::new("same-id");
    let f = Fixture::new(&["sleep", "100"]);
    let bundle = bundle_for(&f, &cg, "same", &["sleep", "100"]);
    for round in 0..3 {
        let children: Vec<_> = (0..20)
            .map(|i| {
                let scratch = f.dir.path().join(format!("out-{round}-{i}"));
                let mut cmd = nook_cmd(f.ctx.root());
                cmd.args(["create", "--bundle"]).arg(&bundle).arg("same");
                std::thread::spawn(move || {
                    std::fs::create_dir_all(&scratch).unwrap();
                    run_to_files(cmd, &scratch)
                })
            })
            .collect();
        let results: Vec<_> = children.into_iter().map(|c| c.join().unwrap()).collect();
        let winners = results.iter().filter(|r| r.0).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        for (_, _, err) in results.iter().filter(|r| !r.0) {
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.contains("level=error msg=\"container with given ID already exists\""),
                "{err}"
            );
        }
        let c = f.ctx.load("same").unwrap();
        assert_eq!(c.status(), Status::Created);
        assert_eq!(c.processes().unwrap(), vec![c.pid()]);
        assert_eq!(
            cg.processes(),
            vec![c.pid()],
            "round {round}: other processes in the test's cgroups"
        );
        let pid = c.pid();
        c.delete(false).unwrap();
        assert!(common::eventually(|| dead(pid)));
        cg.assert_clean();
        assert!(!f.ctx.root().join("same").exists());
    }

    let ctx = Arc::new(f.ctx.clone());
    let barrier = Arc::new(Barrier::new(20));
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let (ctx, barrier, bundle) = (ctx.clone(), barrier.clone(), bundle.clone());
            std::thread::spawn(move || {
                barrier.wait();
                ctx.create("same", &bundle, &Default::default())
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1);
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
            assert_eq!(e.to_string(), "container with given ID already exists");
        }
    }
    assert_eq!(cg.processes(), vec![won[0].pid()]);
    won[0].delete(false).unwrap();
    drop(results);
    cg.assert_clean();
}

/// Two containers of different ids naming one `linux.cgroupsPath`,
/// created at once, many times: one gets the cgroup, the other is refused
/// as it is when they come one after the other. Both used to succeed,
/// sharing one cgroup (the second adopted it before the first's init was
/// in it), so deleting either killed the other.
#[test]
fn two_creates_of_one_cgroup() {
    let cg = CgroupParent::new("one-cgroup");
    let f = Fixture::new(&["sleep", "100"]);
    let bundles: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|id| {
            let b = bundle_for(&f, &cg, id, &["sleep", "100"]);
            let mut config: Value =
                serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
            config["linux"]["cgroupsPath"] = json!(cg.cgroups_path("shared"));
            std::fs::write(b.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
            b
        })
        .collect();
    for round in 0..15 {
        let children: Vec<_> = ["a", "b"]
            .iter()
            .zip(&bundles)
            .map(|(id, bundle)| {
                let mut cmd = nook_cmd(f.ctx.root());
                cmd.args(["create", "--bundle"]).arg(bundle).arg(id);
                let scratch = f.dir.path().to_path_buf();
                std::thread::spawn(move || run_to_files(cmd, &scratch))
            })
            .collect();
        let results: Vec<_> = children.into_iter().map(|c| c.join().unwrap()).collect();
        let listed = f.ctx.list().unwrap();
        assert_eq!(
            listed.len(),
            1,
            "round {round}: both containers got the cgroup: {listed:?}"
        );
        let loser = results.iter().find(|r| !r.0).unwrap();
        assert!(
            loser.2.contains("linux.cgroupsPath"),
            "round {round}: {}",
            loser.2
        );
        assert_eq!(loser.2.lines().count(), 1, "{}", loser.2);
        let c = f.ctx.load(&listed[0].id).unwrap();
        assert_eq!(c.processes().unwrap(), vec![c.pid()]);
        c.delete(true).unwrap();
        cg.assert_clean();
    }
}

const CONTAINERS: usize = 100;
const WORKERS: usize = 8;

/// One container through create, start, exec, pause, resume, kill and
/// delete with the CLI, checking each step's status as `state` reads it.
fn cli_lifecycle(root: &Path, scratch: &Path, bundle: &Path, id: &str) {
    let ok = |args: &[&str]| {
        let mut cmd = nook_cmd(root);
        cmd.args(args);
        let (ok, out, err) = run_to_files(cmd, scratch);
        assert!(ok, "{id}: nook {args:?}: {err}");
        out
    };
    let status = |want: &str| {
        let s = cli_state(root, id).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(s["status"], want, "{id}: {s}");
        assert_eq!(s["id"], id);
    };
    let bundle = bundle.to_str().unwrap();
    ok(&["create", "--bundle", bundle, id]);
    status("created");
    ok(&["start", id]);
    status("running");
    ok(&["exec", id, "true"]);
    ok(&["pause", id]);
    status("paused");
    ok(&["resume", id]);
    status("running");
    ok(&["kill", id, "KILL"]);
    assert!(
        common::eventually(|| cli_state(root, id).is_ok_and(|s| s["status"] == "stopped")),
        "{id} did not stop"
    );
    ok(&["delete", id]);
    assert!(!root.join(id).exists());
}

/// The same through the library, from threads of one program: the init
/// and the exec'd process are this process's children, whichever thread
/// made them.
fn lib_lifecycle(ctx: &Context, bundle: &Path, id: &str) {
    let c = ctx
        .create(id, bundle, &Default::default())
        .unwrap_or_else(|e| panic!("{id}: create: {e}"));
    assert_eq!(ctx.load(id).unwrap().status(), Status::Created);
    c.start().unwrap_or_else(|e| panic!("{id}: start: {e}"));
    assert_eq!(c.status(), Status::Running);
    let process: oci_spec::runtime::Process = serde_json::from_value(json!({
        "user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/",
        "env": ["PATH=/bin"]
    }))
    .unwrap();
    let p = c
        .exec(&process, &ExecOptions::default())
        .unwrap_or_else(|e| panic!("{id}: exec: {e}"));
    assert_eq!(p.wait().unwrap(), 0, "{id}: exec'd true failed");
    c.pause().unwrap_or_else(|e| panic!("{id}: pause: {e}"));
    assert_eq!(ctx.load(id).unwrap().status(), Status::Paused);
    c.resume().unwrap_or_else(|e| panic!("{id}: resume: {e}"));
    assert_eq!(c.status(), Status::Running);
    c.kill(libc::SIGKILL, false).unwrap();
    assert_eq!(c.wait().unwrap(), 128 + libc::SIGKILL);
    assert_eq!(c.status(), Status::Stopped);
    c.delete(false).unwrap_or_else(|e| panic!("{id}: delete: {e}"));
    assert!(!ctx.root().join(id).exists());
}

/// 100 containers, 8 workers, each container through its whole
/// lifecycle; a checker reads every state and `list` meanwhile.
fn hundred_containers(name: &str, cli: bool) {
    let cg = Arc::new(CgroupParent::new(name));
    let f = Fixture::new(&["sleep", "1000"]);
    let ids: Vec<String> = (0..CONTAINERS).map(|i| format!("{name}-{i:03}")).collect();
    let bundles: Vec<PathBuf> = ids
        .iter()
        .map(|id| bundle_for(&f, &cg, id, &["sleep", "1000"]))
        .collect();
    let jobs = Arc::new(Mutex::new(ids.into_iter().zip(bundles).collect::<Vec<_>>()));
    let busy = Arc::new(Mutex::new(Vec::<String>::new()));
    let ctx = f.ctx.clone();
    let scratch = f.dir.path().to_path_buf();
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let (busy2, done2) = (busy.clone(), done.clone());
    with_watchdog(Duration::from_secs(240), busy.clone(), move || {
        let checker = {
            let (ctx, done) = (ctx.clone(), done2.clone());
            std::thread::spawn(move || {
                let mut rounds = 0;
                while !done.load(Ordering::Relaxed) {
                    check_states(&ctx);
                    rounds += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                rounds
            })
        };
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (jobs, busy, ctx, scratch) = (jobs.clone(), busy2.clone(), ctx.clone(), scratch.clone());
                std::thread::spawn(move || loop {
                    let Some((id, bundle)) = jobs.lock().unwrap().pop() else {
                        return;
                    };
                    busy.lock().unwrap().push(id.clone());
                    if cli {
                        cli_lifecycle(ctx.root(), &scratch, &bundle, &id);
                    } else {
                        lib_lifecycle(&ctx, &bundle, &id);
                    }
                    busy.lock().unwrap().retain(|b| *b != id);
                })
            })
            .collect();
        let mut failed = None;
        for w in workers {
            if let Err(e) = w.join() {
                failed.get_or_insert(e);
            }
        }
        done2.store(true, Ordering::Relaxed);
        let rounds = checker.join().unwrap();
        if let Some(e) = failed {
            std::panic::resume_unwind(e);
        }
        assert!(rounds > 0);
    });
    eprintln!(
        "{CONTAINERS} containers, {WORKERS} workers: {:?}",
        started.elapsed()
    );
    assert!(f.ctx.list().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(f.ctx.root()).unwrap().count(), 0, "state left");
    cg.assert_clean();
}

#[test]
fn hundred_containers_from_eight_workers_cli() {
    hundred_containers("cli", true);
}

#[test]
fn hundred_containers_from_eight_workers_library() {
    hundred_containers("lib", false);
}

/// runc's words for a `start` that lost to a `delete --force`.
fn lost_start(err: &str) -> bool {
    err.contains("does not exist") || err.contains("cannot start a container that has stopped")
}

/// `nook start` and `nook delete --force` of a created container at once,
/// many times: delete always succeeds, start succeeds or says the
/// container is gone in runc's words, and nothing is left.
#[test]
fn delete_force_races_start() {
    let cg = CgroupParent::new("del-start");
    let f = Fixture::new(&["sleep", "100"]);
    let bundle = bundle_for(&f, &cg, "race", &["sleep", "100"]);
    let scratch = f.dir.path();
    let (mut started, mut lost) = (0, 0);
    for round in 0..20 {
        let mut create = nook_cmd(f.ctx.root());
        create.args(["create", "--bundle"]).arg(&bundle).arg("race");
        let (ok, _, err) = run_to_files(create, scratch);
        assert!(ok, "{err}");
        let pid = f.ctx.load("race").unwrap().pid();
        let barrier = Arc::new(Barrier::new(2));
        let run = |args: &'static [&'static str]| {
            let mut cmd = nook_cmd(f.ctx.root());
            cmd.args(args);
            let (barrier, scratch) = (barrier.clone(), scratch.to_path_buf());
            std::thread::spawn(move || {
                barrier.wait();
                run_to_files(cmd, &scratch)
            })
        };
        // Alternate who is spawned first.
        let (start, delete) = if round % 2 == 0 {
            let s = run(&["start", "race"]);
            (s, run(&["delete", "--force", "race"]))
        } else {
            let d = run(&["delete", "--force", "race"]);
            (run(&["start", "race"]), d)
        };
        let (s_ok, _, s_err) = start.join().unwrap();
        let (d_ok, _, d_err) = delete.join().unwrap();
        assert!(d_ok, "round {round}: delete --force: {d_err}");
        if s_ok {
            started += 1;
        } else {
            lost += 1;
            assert!(
                lost_start(&s_err) && s_err.lines().count() == 1,
                "round {round}: start: {s_err}"
            );
        }
        assert!(common::eventually(|| dead(pid)), "round {round}: init {pid} left");
        assert!(!f.ctx.root().join("race").exists());
        cg.assert_clean();
    }
    eprintln!("start won {started} times, lost {lost} times");

    // The library: start and delete on two threads of one program.
    for round in 0..20 {
        let c = f.ctx.create("race", &bundle, &Default::default()).unwrap();
        let pid = c.pid();
        let barrier = Arc::new(Barrier::new(2));
        let (b1, b2) = (barrier.clone(), barrier);
        let ctx = f.ctx.clone();
        let start = std::thread::spawn(move || {
            b1.wait();
            c.start()
        });
        let delete = std::thread::spawn(move || {
            b2.wait();
            ctx.delete("race", true)
        });
        let started = start.join().unwrap();
        delete
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("round {round}: delete --force: {e}"));
        if let Err(e) = started {
            assert!(lost_start(&e.to_string()), "round {round}: start: {e}");
        }
        assert!(common::eventually(|| dead(pid)), "round {round}: init {pid} left");
        assert!(!f.ctx.root().join("race").exists());
        cg.assert_clean();
    }
}

/// `nook kill` (the init, and --all) as the container's process exits
/// by itself, at a range of moments: kill succeeds or says "container not
/// running" as runc does, the container ends stopped, `delete` removes
/// it, and nothing is left.
#[test]
fn kill_races_exit() {
    let cg = CgroupParent::new("kill-exit");
    let f = Fixture::new(&["true"]);
    let bundle = bundle_for(&f, &cg, "quick", &["true"]);
    let scratch = f.dir.path();
    let (mut hit, mut missed) = (0, 0);
    for round in 0..24u64 {
        let mut create = nook_cmd(f.ctx.root());
        create.args(["create", "--bundle"]).arg(&bundle).arg("quick");
        let (ok, _, err) = run_to_files(create, scratch);
        assert!(ok, "{err}");
        let pid = f.ctx.load("quick").unwrap().pid();
        let o = common::nook(f.ctx.root(), &["start", "quick"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_micros(round * 400));
        let args: &[&str] = match round % 3 {
            0 => &["kill", "quick", "KILL"],
            1 => &["kill", "quick", "TERM"],
            _ => &["kill", "--all", "quick", "KILL"],
        };
        let o = common::nook(f.ctx.root(), args);
        let err = String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            hit += 1;
        } else {
            missed += 1;
            assert!(
                err.contains("container not running") && err.lines().count() == 1,
                "round {round}: {args:?}: {err}"
            );
        }
        assert!(
            common::eventually(|| cli_state(f.ctx.root(), "quick").is_ok_and(|s| s["status"] == "stopped")),
            "round {round}: not stopped"
        );
        let o = common::nook(f.ctx.root(), &["delete", "quick"]);
        assert!(
            o.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(common::eventually(|| dead(pid)));
        cg.assert_clean();
    }
    eprintln!("kill reached a live container {hit} times, a stopped one {missed} times");

    // The library: kill from one thread while another waits for the exit.
    for round in 0..24u64 {
        let c = f.ctx.create("quick", &bundle, &Default::default()).unwrap();
        c.start().unwrap();
        let waiter = {
            let c = c.clone();
            std::thread::spawn(move || c.wait())
        };
        std::thread::sleep(Duration::from_micros(round * 400));
        match c.kill(
            if round % 2 == 0 {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            },
            round % 3 == 0,
        ) {
            Ok(()) => {}
            Err(e) => assert_eq!(e.to_string(), "container not running", "round {round}"),
        }
        let code = waiter.join().unwrap().unwrap();
        assert!(
            [0, 128 + libc::SIGKILL, 128 + libc::SIGTERM].contains(&code),
            "{code}"
        );
        assert_eq!(c.status(), Status::Stopped);
        c.delete(false).unwrap();
        cg.assert_clean();
    }
}

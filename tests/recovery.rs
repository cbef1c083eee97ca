//! Issue 16 (reliability): `delete --force` and `list` when pieces of a
//! container are gone or broken: its cgroup removed by someone else, its
//! init dead, its bundle gone, its state.json missing (a create killed
//! before writing it), empty, truncated or naming a cgroup that fails the
//! state file's check; and `delete` of a stopped
//! container whose init pid now belongs to someone else. Each checks on the
//! host what is left afterwards.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{eventually, nook, Fixture};
use serde_json::{json, Value};

fn state_json(f: &Fixture, id: &str) -> Value {
    serde_json::from_slice(&std::fs::read(f.ctx.root().join(id).join("state.json")).unwrap()).unwrap()
}

/// Every cgroup directory nook created for the container, parents first,
/// as its state.json lists them.
fn created_dirs(state: &Value) -> Vec<PathBuf> {
    let dirs = state["cgroup"]["dirs"]
        .as_array()
        .expect("cgroup dirs in state.json");
    assert!(!dirs.is_empty(), "the test container has a cgroup");
    dirs.iter()
        .flat_map(|d| d["created"].as_array().unwrap())
        .map(|p| PathBuf::from(p.as_str().unwrap()))
        .collect()
}

/// Removes cgroup directories (deepest first) that a test had to leave to
/// nook's judgement: keeps the host clean whatever the test asserted.
struct RmCgroups(Vec<PathBuf>);

impl Drop for RmCgroups {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// SIGKILLs and reaps a created container's init (our child) on drop, if a
/// failing test left it, before the cgroups of [`RmCgroups`] are removed.
struct KillInit(i32);

impl Drop for KillInit {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

/// Whether `pid` is gone or a zombie.
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s[s.rfind(')').unwrap() + 2..].starts_with('Z'),
        Err(_) => true,
    }
}

/// SIGKILLs the created container's init (our child) and reaps it.
fn kill_init(c: &nook::Container) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(c.wait().unwrap(), 128 + 9);
}

/// Nothing of container `id` is left: no state directory, no cgroup
/// directory nook made, no process; and the id can be used again.
fn assert_gone(f: &Fixture, id: &str, pids: &[i32], dirs: &[PathBuf]) {
    assert!(!f.ctx.root().join(id).exists(), "state directory of {id} left");
    for d in dirs {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
    for &p in pids {
        assert!(eventually(|| dead(p)), "process {p} of {id} left");
    }
    let again = f.create(id).unwrap();
    again.delete(true).unwrap();
}

/// The cgroup was removed by someone else (its init was killed first):
/// `delete --force` used to fail reading its cgroup.procs.
#[test]
fn delete_force_after_the_cgroup_was_removed() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("cg-gone").unwrap();
    let dirs = created_dirs(&state_json(&f, "cg-gone"));
    let pid = c.pid();
    kill_init(&c);
    for d in dirs.iter().rev() {
        assert!(eventually(|| std::fs::remove_dir(d).is_ok() || !d.exists()));
    }
    let o = nook(f.ctx.root(), &["delete", "--force", "cg-gone"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_gone(&f, "cg-gone", &[pid], &dirs);
}

/// The init died (the cgroup is still there) and the bundle is gone.
#[test]
fn delete_force_after_the_init_and_the_bundle_are_gone() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("init-gone").unwrap();
    let dirs = created_dirs(&state_json(&f, "init-gone"));
    let pid = c.pid();
    kill_init(&c);
    let moved = f.dir.path().join("bundle.away");
    std::fs::rename(f.bundle(), &moved).unwrap();
    let o = nook(f.ctx.root(), &["delete", "--force", "init-gone"]);
    std::fs::rename(&moved, f.bundle()).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_gone(&f, "init-gone", &[pid], &dirs);
}

/// An empty or truncated state.json: `delete --force` removes the
/// container by its intent record (its cgroup, whatever still runs in it,
/// the state directory) and says so. The init is dead already in one case
/// and still waits for `start` in the other.
#[test]
fn delete_force_of_an_empty_or_truncated_state() {
    let f = Fixture::new(&["sleep", "100"]);
    for (id, keep, init_dead) in [("st-empty", 0usize, true), ("st-cut", 40, false)] {
        let c = f.create(id).unwrap();
        let path = f.ctx.root().join(id).join("state.json");
        let dirs = created_dirs(&state_json(&f, id));
        let _rm = RmCgroups(dirs.clone());
        let pid = c.pid();
        let init = KillInit(pid);
        if init_dead {
            kill_init(&c);
        }
        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, &text[..keep]).unwrap();
        let o = nook(f.ctx.root(), &["delete", "--force", id]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{id}: {err}");
        assert!(
            err.contains("level=warning")
                && err.contains(&format!("container {id}"))
                && err.contains("state.json")
                && err.contains("intent record"),
            "{id}: {err}"
        );
        for d in &dirs {
            assert!(!d.exists(), "{id}: cgroup {} left", d.display());
        }
        if !init_dead {
            assert!(dead(pid), "{id}: the init was not killed");
            assert_eq!(c.wait().unwrap(), 128 + 9);
        }
        std::mem::forget(init);
        assert_gone(&f, id, &[pid], &dirs);
    }
    // Without --force a damaged state is refused, naming the file.
    let _c = f.create("st-strict").unwrap();
    let path = f.ctx.root().join("st-strict/state.json");
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, b"").unwrap();
    let o = nook(f.ctx.root(), &["delete", "st-strict"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("state.json"));
    std::fs::write(&path, text).unwrap();
}

/// A create killed after it made the container and before it wrote
/// state.json (here: state.json removed, the init still waiting for
/// `start`): `nook state` says the container does not exist, and `delete
/// --force` finds the cgroup by the intent record, kills the init and
/// removes the cgroup and the state directory, so the id can be used again.
#[test]
fn delete_force_of_a_create_that_never_wrote_its_state() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("unfinished").unwrap();
    let dirs = created_dirs(&state_json(&f, "unfinished"));
    let _rm = RmCgroups(dirs.clone());
    let pid = c.pid();
    let init = KillInit(pid);
    std::fs::remove_file(f.ctx.root().join("unfinished/state.json")).unwrap();
    let o = nook(f.ctx.root(), &["state", "unfinished"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    let o = nook(f.ctx.root(), &["delete", "--force", "unfinished"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!f.ctx.root().join("unfinished").exists(), "state directory left");
    for d in &dirs {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
    assert!(dead(pid), "the init was not killed");
    assert_eq!(c.wait().unwrap(), 128 + 9);
    std::mem::forget(init);
    assert_gone(&f, "unfinished", &[pid], &dirs);
}

/// A state.json whose cgroup fails the check (here its hierarchy is not a
/// mounted cgroup): `delete --force` kills the init, removes the state
/// directory and warns, and never touches the paths it does not trust.
#[test]
fn delete_force_with_an_untrusted_cgroup() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("cg-bad").unwrap();
    let path = f.ctx.root().join("cg-bad/state.json");
    let mut state = state_json(&f, "cg-bad");
    let real = created_dirs(&state);
    let _rm = RmCgroups(real.clone());
    let init = KillInit(c.pid());
    let victim = f.dir.path().join("victim");
    std::fs::create_dir_all(victim.join("empty")).unwrap();
    std::fs::write(victim.join("cgroup.procs"), "1\n").unwrap();
    for d in state["cgroup"]["dirs"].as_array_mut().unwrap() {
        d["mount_point"] = json!(f.dir.path());
        d["path"] = json!(victim);
        d["created"] = json!([victim.join("empty")]);
    }
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    let o = nook(f.ctx.root(), &["delete", "--force", "cg-bad"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("level=warning")
            && err.contains("not a mounted cgroup hierarchy")
            && err.contains("left"),
        "{err}"
    );
    assert!(victim.join("empty").is_dir(), "an untrusted path was removed");
    assert_eq!(c.wait().unwrap(), 128 + 9, "the init was killed");
    std::mem::forget(init);
    assert!(!f.ctx.root().join("cg-bad").exists());
    // What nook did not trust is still there, for the admin to look at.
    assert!(real.iter().all(|d| d.is_dir()));
    drop(_rm);
    assert_gone(&f, "cg-bad", &[], &real);
}

/// One empty and one garbage state.json beside a good container: `list`
/// shows the good one and warns about the others, which `delete --force`
/// then removes.
#[test]
fn list_skips_broken_entries() {
    let f = Fixture::new(&["sleep", "100"]);
    let _c = f.create("good").unwrap();
    for (id, text) in [("broken-empty", ""), ("broken-garbage", "{\"id\": 12, garbage")] {
        let d = f.ctx.root().join(id);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("state.json"), text).unwrap();
    }
    let o = nook(f.ctx.root(), &["list", "--format", "json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let listed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["good"]);
    assert_eq!(listed[0]["status"], "created");
    for id in ["broken-empty", "broken-garbage"] {
        assert!(
            err.lines().any(|l| l.contains("level=warning") && l.contains(id)),
            "no warning about {id}: {err}"
        );
        let o = nook(f.ctx.root(), &["delete", "--force", id]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(!f.ctx.root().join(id).exists());
    }
    let o = nook(f.ctx.root(), &["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "good\n");
}

/// A stopped container whose cgroup still has a process (no pid namespace,
/// so the init's background child outlives it), and whose init pid now
/// names another process (pid reuse, made here by pointing the state at a
/// process of ours): `delete` kills what is in the cgroup and leaves that
/// other process alone.
#[test]
fn delete_does_not_kill_a_reused_init_pid() {
    let mut f = Fixture::new(&["sh", "-c", "sleep 100 & exit 0"]);
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    let c = f.create("reuse").unwrap();
    let dirs = created_dirs(&state_json(&f, "reuse"));
    c.start().unwrap();
    assert_eq!(c.wait().unwrap(), 0);
    let left = c.processes().unwrap();
    assert_eq!(left.len(), 1, "the background sleep stays in the cgroup");
    // Start times count clock ticks (10 ms): the other process starts in a
    // later one, as a process reusing the pid would.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut other = Command::new("/bin/busybox")
        .args(["sleep", "100"])
        .spawn()
        .unwrap();
    struct Reap<'a>(&'a mut std::process::Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let other_pid = other.id() as i32;
    let other = Reap(&mut other);
    let path = f.ctx.root().join("reuse/state.json");
    let mut state = state_json(&f, "reuse");
    state["pid"] = json!(other_pid);
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
    let c = f.ctx.load("reuse").unwrap();
    assert_eq!(c.status(), nook::Status::Stopped);
    c.delete(false).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        !dead(other_pid),
        "delete killed pid {other_pid}, not the container's"
    );
    assert!(other.0.try_wait().unwrap().is_none());
    drop(other);
    assert_gone(&f, "reuse", &left, &dirs);
}

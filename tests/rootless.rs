//! Rootless mode, end to end: the `nook` binary run by nobody (uid 65534)
//! on a bundle it owns, made by its own `nook spec --rootless`, with its
//! state under `$XDG_RUNTIME_DIR/nook` (see tests/common/rootless.rs).

mod common;

use std::path::{Path, PathBuf};

use common::rootless::{cgroup_dirs_named, stderr, stdout, Rootless, NOBODY};
use common::{eventually, status_field};
use serde_json::{json, Value};

#[test]
fn run_as_nobody_end_to_end() {
    let r = Rootless::new(&[
        "sh",
        "-c",
        "id; cat /proc/self/uid_map; cat /proc/self/gid_map; hostname",
    ]);
    let spec = r.config();
    assert_eq!(
        spec["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": NOBODY, "size": 1}])
    );
    let id = format!("rl-run-{}", std::process::id());
    let o = r.nook(&["run", &id]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(lines[0].starts_with(&["uid=0", "gid=0"]), "{out}");
    assert_eq!(lines[1], ["0", "65534", "1"], "{out}");
    assert_eq!(lines[2], ["0", "65534", "1"], "{out}");
    assert_eq!(lines[3], ["nook"], "{out}");
    // runc run removes the container when it exits; so does nook, from
    // the state root under XDG_RUNTIME_DIR, which belongs to the user.
    // runc's mode for it: 0700 and sticky (XDG clean-ups leave it alone).
    let meta = std::fs::metadata(r.state_root()).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), NOBODY);
    assert_eq!(std::os::unix::fs::MetadataExt::mode(&meta) & 0o7777, 0o1700);
    assert_eq!(std::fs::read_dir(r.state_root()).unwrap().count(), 0);
    assert!(!Path::new("/run/nook").join(&id).exists());
    assert_eq!(cgroup_dirs_named(&id), Vec::<PathBuf>::new());
    // Without XDG_RUNTIME_DIR the default is runc's /run/nook, which a
    // user cannot write: the error says what to do.
    let o = r
        .cmd(&["run", &id])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/run/nook") && stderr(&o).contains("XDG_RUNTIME_DIR"),
        "{}",
        stderr(&o)
    );
    // --root wins over XDG_RUNTIME_DIR.
    let alt = r.f.dir.path().join("alt");
    let o = r.nook(&["--root", alt.to_str().unwrap(), "create", &id]);
    assert!(o.status.success());
    assert!(alt.join(&id).join("state.json").exists());
    assert!(!r.state_root().join(&id).exists());
    let o = r.nook(&["--root", alt.to_str().unwrap(), "delete", "--force", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!alt.join(&id).exists());
    // The exit status is the container's.
    let mut spec = r.config();
    spec["process"]["args"] = json!(["sh", "-c", "exit 7"]);
    r.write_config(&spec);
    assert_eq!(r.nook(&["run", &id]).status.code(), Some(7));
}

#[test]
fn lifecycle_as_nobody() {
    let r = Rootless::new(&["sleep", "100"]);
    let id = format!("rl-life-{}", std::process::id());
    let pid_file = r.f.dir.path().join("pid");
    let o = r.nook(&["create", "--pid-file", pid_file.to_str().unwrap(), &id]);
    let err = std::fs::read_to_string(r.f.dir.path().join("create.err")).unwrap_or_default();
    assert!(o.status.success(), "create: {err}");
    let dir = r.state_root().join(&id);
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), NOBODY);
    assert!(dir.join("state.json").exists());
    let state: Value = serde_json::from_slice(&r.nook(&["state", &id]).stdout).unwrap();
    assert_eq!(state["status"], "created");
    let pid = state["pid"].as_i64().unwrap() as i32;
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // Root inside, nobody on the host.
    assert_eq!(
        status_field(pid, "Uid").split_whitespace().collect::<Vec<_>>(),
        ["65534"; 4]
    );
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/uid_map"))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "65534", "1"]
    );
    assert_eq!(cgroup_dirs_named(&id), Vec::<PathBuf>::new());

    let o = r.nook(&["start", &id]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    let list: Value = serde_json::from_slice(&r.nook(&["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "running");
    assert_eq!(list[0]["owner"], "nobody");
    let table = stdout(&r.nook(&["list"]));
    assert!(table.contains(&id) && table.contains("running"), "{table}");
    // No cgroup, so no freezer: pause says so.
    let o = r.nook(&["pause", &id]);
    assert!(
        !o.status.success() && stderr(&o).contains("no freezer cgroup"),
        "{}",
        stderr(&o)
    );
    // Nor processes or usage to read: refused, not answered with nothing.
    for cmd in [&["ps", id.as_str()][..], &["events", "--stats", id.as_str()]] {
        let o = r.nook(cmd);
        assert!(
            !o.status.success() && stderr(&o).contains("the container has no cgroup"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    // exec joins the user namespace, whose setgroups is denied.
    let o = r.nook(&["exec", &id, "id"]);
    assert!(o.status.success(), "exec: {}", stderr(&o));
    assert!(stdout(&o).starts_with("uid=0 gid=0"), "{}", stdout(&o));
    let o = r.nook(&["delete", &id]);
    assert!(!o.status.success(), "a running container is not deleted");
    let o = r.nook(&["kill", &id, "KILL"]);
    assert!(o.status.success(), "kill: {}", stderr(&o));
    assert!(eventually(|| stdout(&r.nook(&["state", &id])).contains("stopped")));
    let o = r.nook(&["delete", &id]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    assert!(!dir.exists());
    // Reparented to the host's init when nook create exited, which reaps it.
    assert!(eventually(|| !Path::new(&format!("/proc/{pid}")).exists()));
}

#[test]
fn memory_limit_without_delegation_fails_and_leaves_nothing() {
    let r = Rootless::new(&["true"]);
    let mut spec = r.config();
    spec["linux"]["resources"] = json!({"memory": {"limit": 64 << 20}});
    r.write_config(&spec);
    let id = format!("rl-mem-{}", std::process::id());
    let o = r.nook(&["run", &id]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("linux.resources.memory")
            && err.contains("cannot set memory limit: container could not join or create cgroup"),
        "{err}"
    );
    assert!(!r.state_root().join(&id).exists());
    assert_eq!(cgroup_dirs_named(&id), Vec::<PathBuf>::new());
}

#[test]
fn what_needs_root_is_refused_by_field() {
    let r = Rootless::new(&["true"]);
    let id = format!("rl-refused-{}", std::process::id());
    let base = r.config();
    let attempt = |spec: &Value| {
        r.write_config(spec);
        let o = r.nook(&["run", &id]);
        assert!(!o.status.success());
        assert!(!r.state_root().join(&id).exists(), "state left behind");
        stderr(&o)
    };
    // No user namespace: runc's "rootless container requires user namespaces".
    let mut spec = base.clone();
    let ns: Vec<Value> = spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "user")
        .cloned()
        .collect();
    spec["linux"]["namespaces"] = json!(ns);
    spec["linux"].as_object_mut().unwrap().remove("uidMappings");
    spec["linux"].as_object_mut().unwrap().remove("gidMappings");
    let e = attempt(&spec);
    assert!(e.contains("rootless container requires user namespaces"), "{e}");
    // devpts' gid=5 is not mapped.
    let mut spec = base.clone();
    for m in spec["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev/pts" {
            m["options"].as_array_mut().unwrap().push(json!("gid=5"));
        }
    }
    let e = attempt(&spec);
    assert!(e.contains("mounts[") && e.contains("gid=5"), "{e}");
    // A hard limit above the user's own.
    let mut spec = base.clone();
    spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": u64::MAX - 1}]);
    let e = attempt(&spec);
    assert!(e.contains("process.rlimits[0]"), "{e}");
    // --rootless false: cgroups are created as for root, which the user
    // cannot; --rootless takes true, false or auto only.
    r.write_config(&base);
    let o = r.nook(&["--rootless", "false", "run", &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("creating cgroup"), "{}", stderr(&o));
    assert!(!r.state_root().join(&id).exists(), "state left behind");
    assert_eq!(cgroup_dirs_named(&id), Vec::<PathBuf>::new());
    let o = r.nook(&["--rootless", "maybe", "run", &id]);
    assert!(stderr(&o).contains("--rootless"), "{}", stderr(&o));
    assert!(r.nook(&["--rootless", "true", "run", &id]).status.success());
    // A UTS sysctl belongs to the host's root even in the container's own
    // UTS namespace (IPC ones are the namespace's, and work).
    let mut spec = base.clone();
    spec["linux"]["sysctl"] = json!({"kernel.shmmax": "1000000", "kernel.domainname": "x"});
    let e = attempt(&spec);
    assert!(
        e.contains("linux.sysctl.kernel.domainname") && e.contains("real root"),
        "{e}"
    );
    // More than the user's own uid needs newuidmap and an /etc/subuid entry.
    if nobody_has_subids() {
        return;
    }
    let mut spec = base.clone();
    spec["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": NOBODY, "size": 1},
        {"containerID": 1, "hostID": 100000, "size": 10}
    ]);
    let e = attempt(&spec);
    assert!(e.contains("linux.uidMappings") && e.contains("newuidmap"), "{e}");
}

/// Whether /etc/subuid and /etc/subgid give nobody ids from 100000 on.
fn nobody_has_subids() -> bool {
    ["/etc/subuid", "/etc/subgid"].iter().all(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("nobody:100000:") || l.starts_with("65534:100000:"))
    })
}

/// Several id ranges go through newuidmap/newgidmap, as with runc. Needs
/// `nobody:100000:65536` in /etc/subuid and /etc/subgid, which nook's tests
/// never write on the host: run it in the throw-away VM, whose writes go
/// to RAM: `tools/test-rootless-vm.sh`.
#[test]
fn several_ranges_use_newuidmap() {
    if !nobody_has_subids() {
        eprintln!("skipped: no nobody:100000:N in /etc/subuid and /etc/subgid (see the doc comment)");
        return;
    }
    let r = Rootless::new(&["sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map"]);
    let mut spec = r.config();
    let maps = json!([
        {"containerID": 0, "hostID": NOBODY, "size": 1},
        {"containerID": 1, "hostID": 100000, "size": 1000}
    ]);
    spec["linux"]["uidMappings"] = maps.clone();
    spec["linux"]["gidMappings"] = maps;
    spec["process"]["user"] = json!({"uid": 1, "gid": 1, "additionalGids": [2]});
    r.write_config(&spec);
    let id = format!("rl-ranges-{}", std::process::id());
    let o = r.nook(&["run", &id]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["uid=1", "gid=1", "groups=2"], "{out}");
    assert_eq!(lines[1], ["0", "65534", "1"], "{out}");
    assert_eq!(lines[2], ["1", "100000", "1000"], "{out}");
    assert_eq!(lines[3], ["0", "65534", "1"], "{out}");
    assert_eq!(lines[4], ["1", "100000", "1000"], "{out}");
}

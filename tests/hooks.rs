//! The six OCI hooks: each runs once, in lifecycle order, in the right
//! namespaces, with the state on stdin and only its own environment; and
//! the spec's failure rules (create/start stop and clean up, poststart and
//! poststop only warn).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{ns_inode, Fixture};
use nook::Error;
use serde_json::{json, Value};

/// A hook that records, in `<out>/log`, its kind and what it sees, and
/// saves its stdin to `<out>/<kind>.json`. `out` is where `out_dir` is as
/// the hook sees it (the container-side startContainer sees /out).
fn recorder(kind: &str, out: &Path) -> Value {
    let script = format!(
        "cat > {out}/{kind}.json; \
         echo \"{kind} var=$HOOKVAR home=${{HOME:-none}} uid=$(id -u) cwd=$(pwd) \
         mnt=$(readlink /proc/self/ns/mnt) marker=$(test -e /marker-in-rootfs && echo yes || echo no)\" >> {out}/log",
        out = out.display()
    );
    json!({"path": "/bin/sh", "args": ["sh", "-c", script], "env": [format!("HOOKVAR={kind}")]})
}

fn fixture_with_hooks(args: &[&str]) -> Fixture {
    let mut f = Fixture::new(args).with_out();
    // The container's user writes to /out too.
    let everyone = |p: PathBuf| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap()
    };
    everyone(f.out());
    std::fs::write(f.out().join("log"), "").unwrap();
    everyone(f.out().join("log"));
    std::fs::write(f.rootfs().join("marker-in-rootfs"), "").unwrap();
    let out = f.out();
    let host = |k| recorder(k, &out);
    f.config["hooks"] = json!({
        "prestart": [host("prestart")],
        "createRuntime": [host("createRuntime")],
        "createContainer": [host("createContainer")],
        "startContainer": [recorder("startContainer", Path::new("/out"))],
        "poststart": [host("poststart")],
        "poststop": [host("poststop")],
    });
    f
}

fn log_lines(f: &Fixture) -> Vec<String> {
    f.read_out("log").lines().map(str::to_string).collect()
}

fn line<'a>(lines: &'a [String], kind: &str) -> &'a str {
    let found: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with(&format!("{kind} ")))
        .collect();
    assert_eq!(found.len(), 1, "{kind} ran {} times: {lines:#?}", found.len());
    found[0]
}

fn state(f: &Fixture, kind: &str) -> Value {
    serde_json::from_str(&f.read_out(&format!("{kind}.json"))).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

#[test]
fn every_hook_runs_once_in_order_where_the_spec_says() {
    let mut f = fixture_with_hooks(&["sh", "-c", "echo process >> /out/log"]);
    f.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    f.config["annotations"] = json!({"org.example.k": "v"});
    let c = f.create("hooked").unwrap();
    let pid = c.pid();
    let container_mnt = ns_inode(&pid.to_string(), "mnt");
    let host_mnt = ns_inode("self", "mnt");
    assert_ne!(container_mnt, host_mnt);
    let created = log_lines(&f);
    let kinds: Vec<_> = created.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(kinds, ["prestart", "createRuntime", "createContainer"]);

    c.start().unwrap();
    assert_eq!(c.wait().unwrap(), 0);
    c.delete(false).unwrap();
    let lines = log_lines(&f);
    let order: Vec<_> = lines
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .filter(|k| *k != "process")
        .collect();
    assert_eq!(
        order,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let process_at = lines
        .iter()
        .position(|l| l == "process")
        .expect("the process ran");
    let start_at = lines
        .iter()
        .position(|l| l.starts_with("startContainer"))
        .unwrap();
    assert!(process_at > start_at, "{lines:#?}");

    // Runtime hooks: nook's mount namespace, root, no environment but their own.
    for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
        let l = line(&lines, kind);
        assert!(l.contains(&format!("var={kind} home=none uid=0 ")), "{l}");
        assert!(l.contains(&format!("mnt={host_mnt} ")), "{l}");
    }
    // createContainer: the container's mount namespace before pivot_root,
    // so host paths resolve, with the rootfs as working directory.
    let l = line(&lines, "createContainer");
    let rootfs = f.rootfs().canonicalize().unwrap();
    assert!(
        l.contains(&format!("cwd={} mnt={container_mnt} ", rootfs.display())),
        "{l}"
    );
    // startContainer: inside the container's root, as the container's user.
    let l = line(&lines, "startContainer");
    assert!(
        l.contains(&format!("uid=1000 cwd=/ mnt={container_mnt} marker=yes")),
        "{l}"
    );

    let bundle = f.bundle().canonicalize().unwrap();
    for (kind, status) in [
        ("prestart", "created"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s = state(&f, kind);
        assert_eq!(s["status"], status, "{kind}: {s}");
        assert_eq!(s["id"], "hooked", "{kind}");
        assert_eq!(s["ociVersion"], "1.2.0", "{kind}");
        assert_eq!(s["bundle"], bundle.to_str().unwrap(), "{kind}");
        assert_eq!(s["annotations"]["org.example.k"], "v", "{kind}");
        let want_pid = if kind == "poststop" {
            Value::Null
        } else {
            json!(pid)
        };
        assert_eq!(s["pid"], want_pid, "{kind}: {s}");
    }
}

/// The cgroup directories container `id` would have on this host.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .map(|d| d.flatten().map(|e| e.path().join(id)).collect())
        .unwrap_or_default()
}

/// `hooks` on a bundle whose other hooks record; create must fail naming
/// `want`, run poststop, and leave no state, cgroup or process.
fn create_fails_cleanly(id: &str, kind: &str, hook: Value, want: &str) {
    let mut f = fixture_with_hooks(&["true"]);
    f.config["hooks"][kind] = json!([hook]);
    let err = f.create(id).unwrap_err();
    assert!(matches!(err, Error::Hook { .. }), "{err:?}");
    assert!(err.to_string().contains(want), "{err}");
    assert!(!f.ctx.root().join(id).exists(), "state left behind");
    let left: Vec<_> = cgroup_dirs(id).into_iter().filter(|p| p.exists()).collect();
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
    // The init got as far as the hooks (prestart saw its pid) and is gone.
    let pid = state(&f, "prestart")["pid"].as_i64().unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "init {pid} still there"
    );
    let lines = log_lines(&f);
    line(&lines, "poststop");
    assert!(
        !lines.iter().any(|l| l.starts_with("startContainer")),
        "{lines:#?}"
    );
}

#[test]
fn a_failing_create_runtime_hook_leaves_nothing_behind() {
    let failing = json!({"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 7"]});
    create_fails_cleanly(
        "hook-cr",
        "createRuntime",
        failing,
        "error running createRuntime hook #0: exit status 7, stdout: , stderr: broken",
    );
}

#[test]
fn a_failing_or_hanging_create_container_hook_leaves_nothing_behind() {
    let failing = json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]});
    create_fails_cleanly(
        "hook-cc",
        "createContainer",
        failing,
        "error running createContainer hook #0: exit status 3",
    );
    let hanging = json!({"path": "/bin/sleep", "args": ["sleep", "600"], "timeout": 1});
    create_fails_cleanly(
        "hook-cc-slow",
        "createContainer",
        hanging,
        "createContainer hook #0: hook ran past its specified timeout",
    );
    let missing = json!({"path": "/no/such/hook"});
    create_fails_cleanly(
        "hook-cc-missing",
        "createContainer",
        missing,
        "createContainer hook #0: fork/exec: No such file or directory",
    );
}

#[test]
fn a_failing_start_container_hook_stops_the_container_before_its_process() {
    let mut f = fixture_with_hooks(&["sh", "-c", "echo process >> /out/log"]);
    f.config["hooks"]["startContainer"] = json!([{"path": "/bin/false"}]);
    let c = f.create("hook-sc").unwrap();
    let err = c.start().unwrap_err();
    assert_eq!(
        err.to_string(),
        "error running startContainer hook #0: exit status 1"
    );
    c.wait().unwrap();
    assert_eq!(c.status(), nook::Status::Stopped);
    c.delete(false).unwrap();
    let lines = log_lines(&f);
    assert!(!lines.iter().any(|l| l == "process"), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.starts_with("poststart")), "{lines:#?}");
    line(&lines, "poststop");
}

/// Through the CLI: failing poststart and poststop hooks are logged as
/// warnings in runc's JSON log format, and run and delete still succeed.
#[test]
fn failing_poststart_and_poststop_hooks_only_warn() {
    let mut f = fixture_with_hooks(&["sh", "-c", "echo process >> /out/log"]);
    let failing =
        |msg: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {msg} >&2; exit 2")]});
    f.config["hooks"]["poststart"] = json!([failing("late"), recorder("poststart", &f.out())]);
    f.config["hooks"]["poststop"] = json!([failing("gone"), recorder("poststop", &f.out())]);
    f.write_config();
    let log = f.dir.path().join("nook.log");
    let status = Command::new(env!("CARGO_BIN_EXE_nook"))
        .arg("--root")
        .arg(f.ctx.root())
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "run", "--bundle"])
        .arg(f.bundle())
        .arg("hook-warn")
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let lines = log_lines(&f);
    // The hooks after the failing ones still ran.
    line(&lines, "poststart");
    line(&lines, "poststop");
    let logged: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let warnings: Vec<_> = logged
        .iter()
        .filter(|l| l["level"] == "warning")
        .map(|l| l["msg"].as_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        [
            "error running poststart hook #0: exit status 2, stdout: , stderr: late",
            "error running poststop hook #0: exit status 2, stdout: , stderr: gone",
        ]
    );
}

#[test]
fn bad_hooks_are_refused_before_anything_is_created() {
    let mut f = Fixture::new(&["true"]);
    f.config["hooks"] = json!({"createRuntime": [{"path": "relative/hook"}]});
    let err = f.create("hook-bad").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: hooks.createRuntime[0].path: \"relative/hook\" is not an absolute path"
    );
    assert!(!f.ctx.root().join("hook-bad").exists());
}

/// A prestart or createRuntime hook that calls nook on its own container,
/// which is being created: the read-only commands answer at once (the
/// container does not exist yet, as runc says then: its state is on the
/// hook's stdin), and `delete --force`, which would wait for the create's
/// lock held by the hook's own parent, fails at once saying so instead of
/// waiting for ever. The create then goes on.
#[test]
fn a_create_hook_calling_nook_on_its_own_container_does_not_deadlock() {
    let mut f = Fixture::new(&["sleep", "100"]).with_out();
    let id = "hook-self";
    // KILL after 20 s bounds the hang this test is about, should it come back.
    let script = format!(
        "for cmd in 'state {id}' 'list -q' 'ps {id}' 'delete --force {id}'; do \
           timeout -s KILL 20 {nook} --root {root} $cmd > {out}/$0.${{cmd%% *}} 2>&1; \
           echo rc=$? >> {out}/$0.${{cmd%% *}}; \
         done",
        nook = env!("CARGO_BIN_EXE_nook"),
        root = f.ctx.root().display(),
        out = f.out().display(),
    );
    let hook = |kind: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", script, kind]});
    f.config["hooks"] = json!({"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")]});
    let c = f.create(id).unwrap();
    assert_eq!(c.status(), nook::Status::Created);
    for kind in ["prestart", "createRuntime"] {
        let out = |cmd: &str| f.read_out(&format!("{kind}.{cmd}"));
        let state = out("state");
        assert!(
            state.contains("does not exist") && state.ends_with("rc=1\n"),
            "{kind}: {state}"
        );
        assert_eq!(out("list"), "rc=0\n", "{kind}: not listed before it is created");
        let ps = out("ps");
        assert!(
            ps.contains("does not exist") && ps.ends_with("rc=1\n"),
            "{kind}: {ps}"
        );
        let delete = out("delete");
        assert!(delete.ends_with("rc=1\n"), "{kind}: {delete}");
        assert!(delete.contains("Resource deadlock avoided"), "{kind}: {delete}");
        assert!(delete.contains("hook"), "{kind}: {delete}");
    }
    c.delete(true).unwrap();
}

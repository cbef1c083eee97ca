//! Issue 16 (reliability): nook killed, or failing with an errno, at every
//! named step (see src/faults.rs): each point of the runtime's side of
//! every command, and each step of a container's init and of an exec'd
//! process. After each fault: the error names the step, `nook state` tells
//! the truth (or that the container does not exist), `nook delete --force`
//! removes everything (no process, cgroup directory in any hierarchy,
//! state directory or mount is left, checked on the host), and the same id
//! can be created, started and deleted again.
//!
//! The faulted commands run the nook binary with NOOK_FAULT set (a kill
//! must not kill the test). This process is a child subreaper, so what a
//! killed nook leaves running is reparented here, where the test can see
//! it, check it is gone, and reap it.

mod common;

use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{eventually, mounts_under, Fixture};
use nook::faults::{step_name, Point, CHILD_STEPS};
use nook::step::Step;
use serde_json::{json, Value};

const ID: &str = "faulty";

/// The tests here share the subreaper and reap this process's children.
static SERIAL: Mutex<()> = Mutex::new(());

/// Steps of the container's init that this config does not reach.
const INIT_UNREACHED: &[Step] = &[Step::Dumpable];
/// Steps of an exec'd process that it does not take (it joins a set-up container).
const EXECD_UNREACHED: &[Step] = &[
    Step::UnshareNamespace,
    Step::Mount,
    Step::CreateContainerHook,
    Step::PivotRoot,
    Step::Sysctl,
    Step::MaskPath,
    Step::ExecFifo,
    Step::StartContainerHook,
];

#[derive(Debug, Clone, Copy)]
enum At {
    Runtime(Point),
    Init(Step),
    Execd(Step),
}

impl At {
    fn name(self) -> String {
        match self {
            At::Runtime(p) => p.name().to_string(),
            At::Init(s) => format!("init/{}", step_name(s)),
            At::Execd(s) => format!("execd/{}", step_name(s)),
        }
    }

    /// The command the fault hits.
    fn command(self) -> &'static str {
        match self {
            At::Runtime(p) => p.name().split('/').next().unwrap(),
            At::Init(_) => "create",
            At::Execd(_) => "exec",
        }
    }

    /// What an injected errno's error says.
    fn error_text(self) -> String {
        match self {
            At::Runtime(p) => format!("{} (injected fault)", p.name()),
            At::Init(s) | At::Execd(s) => format!("{s} (injected fault)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Kill,
    Errno,
}

/// One finished nook command.
#[derive(Debug)]
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// A busybox container with every optional step of create: a user
/// namespace (id maps), a time namespace (a second clone), hooks of every
/// kind, a seccomp filter; its cgroup is `/<parent>/c`, and `<parent>`,
/// named after this process, is nook's to make and remove.
struct Faults {
    f: Fixture,
    parent: String,
    /// Mount points of every cgroup hierarchy.
    hierarchies: Vec<PathBuf>,
}

impl Faults {
    fn new() -> Faults {
        nix::sys::prctl::set_child_subreaper(true).unwrap();
        let mut f = Fixture::new(&["sleep", "100"]);
        let parent = format!("nook-faults-{}", std::process::id());
        let linux = &mut f.config["linux"];
        linux["namespaces"]
            .as_array_mut()
            .unwrap()
            .extend([json!({"type": "user"}), json!({"type": "time"})]);
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        linux["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]});
        linux["cgroupsPath"] = json!(format!("/{parent}/c"));
        let hook = json!([{"path": "/bin/busybox", "args": ["busybox", "true"]}]);
        f.config["hooks"] = json!({
            "prestart": hook, "createRuntime": hook, "createContainer": hook,
            "startContainer": hook, "poststart": hook, "poststop": hook,
        });
        f.write_config();
        let hierarchies = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| {
                let (mount, fs) = l.split_once(" - ")?;
                let fstype = fs.split(' ').next()?;
                let point = mount.split(' ').nth(4)?;
                matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(point))
            })
            .collect::<Vec<_>>();
        assert!(!hierarchies.is_empty(), "no cgroup hierarchy mounted");
        Faults {
            f,
            parent,
            hierarchies,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.f.dir.path().join(name)
    }

    /// Runs nook with `args`, NOOK_FAULT=`fault` if any.
    fn nook(&self, args: &[&str], fault: Option<&str>) -> Ran {
        self.nook_env(args, fault.map(|f| ("NOOK_FAULT", f)))
    }

    /// Runs nook with `args` and the variable `env` if any. Output goes to
    /// files, which a container it leaves behind may keep open.
    fn nook_env(&self, args: &[&str], env: Option<(&str, &str)>) -> Ran {
        let (out, err) = (self.file("nook.out"), self.file("nook.err"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nook"));
        cmd.arg("--root")
            .arg(self.f.ctx.root())
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .env_remove("NOOK_FAULT")
            .env_remove("NOOK_TRACE_STEPS");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            // As a subreaper must (containerd's shim does): the init of a
            // pid namespace finishes dying only once every process of the
            // namespace is reaped, an exec'd one left by a killed nook too.
            reap_except(child.id() as i32);
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nook {args:?} ({env:?}) hung");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        Ran {
            status,
            stdout: std::fs::read_to_string(&out).unwrap(),
            stderr: std::fs::read_to_string(&err).unwrap(),
        }
    }

    /// Runs nook with `args` and no fault; it must succeed.
    fn ok(&self, args: &[&str]) {
        let r = self.nook(args, None);
        assert!(r.status.success(), "nook {args:?}: {}", r.stderr);
    }

    fn create_args(&self) -> Vec<String> {
        let bundle = self.f.bundle();
        let pid_file = self.file("init.pid");
        ["create", "--bundle", bundle.to_str().unwrap()]
            .into_iter()
            .map(String::from)
            .chain(["--pid-file".into(), pid_file.to_str().unwrap().into(), ID.into()])
            .collect()
    }

    /// Brings the container to where `command` can act on it.
    fn prepare(&self, command: &str) {
        let create: Vec<String> = self.create_args();
        let create: Vec<&str> = create.iter().map(String::as_str).collect();
        match command {
            "create" => {}
            "start" => self.ok(&create),
            "resume" => {
                self.ok(&create);
                self.ok(&["start", ID]);
                self.ok(&["pause", ID]);
            }
            _ => {
                self.ok(&create);
                self.ok(&["start", ID]);
            }
        }
    }

    /// Runs the command `at` hits, with the fault; a create whose init is
    /// faulted is started too, since some of its steps come with start.
    fn faulted(&self, at: At, fault: &str) -> Vec<Ran> {
        let create = self.create_args();
        let create: Vec<&str> = create.iter().map(String::as_str).collect();
        let exec_pid = self.file("exec.pid");
        let exec = ["exec", "--pid-file", exec_pid.to_str().unwrap(), ID, "true"];
        let args: Vec<&str> = match at.command() {
            "create" => create,
            "start" => vec!["start", ID],
            "exec" => exec.to_vec(),
            "pause" => vec!["pause", ID],
            "resume" => vec!["resume", ID],
            "update" => vec!["update", "--pids-limit", "100", ID],
            "delete" => vec!["delete", "--force", ID],
            other => panic!("no command for {other}"),
        };
        let first = self.nook(&args, Some(fault));
        if matches!(at, At::Init(_)) && first.status.success() {
            let start = self.nook(&["start", ID], Some(fault));
            return vec![first, start];
        }
        vec![first]
    }

    /// `nook state` must be the truth, read back from the kernel: the
    /// status of a container that exists, or that it does not exist.
    /// Returns the status.
    fn check_state(&self, what: &str) -> Option<String> {
        // What the init ran before the state was read: one that has not
        // executed yet cannot have been reported as created afterwards.
        let init_pid = read_pid(&self.file("init.pid"));
        let exe = |pid: i32| std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let ran_before = init_pid.and_then(exe);
        let r = self.nook(&["state", ID], None);
        if !r.status.success() {
            assert!(r.stderr.contains("does not exist"), "{what}: state: {}", r.stderr);
            return None;
        }
        let st: Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", r.stdout));
        let status = st["status"].as_str().unwrap().to_string();
        let pid = st["pid"].as_i64().unwrap() as i32;
        if status == "stopped" {
            assert_eq!(pid, 0, "{what}: a stopped container has no pid");
            if let Some(init) = read_pid(&self.file("init.pid")) {
                assert!(dead(init), "{what}: state says stopped, its init {init} runs");
            }
            return Some(status);
        }
        assert!(pid > 0, "{what}: state says {status} with pid {pid}");
        if status == "running" && dead(pid) {
            // A fault after `start` returned (`init/exec-fifo`) kills the
            // init while `state` runs: it was alive when read, so `state`
            // must say stopped now.
            let r = self.nook(&["state", ID], None);
            let st: Value =
                serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", r.stdout));
            assert_eq!(st["status"], "stopped", "{what}: its init {pid} is dead");
            return Some("stopped".into());
        }
        assert!(!dead(pid), "{what}: state says {status}, pid {pid} is not alive");
        let leaf = self
            .leaves()
            .find(|d| d.ends_with(format!("unified/{}/c", self.parent)));
        if let Some(leaf) = leaf {
            let procs = std::fs::read_to_string(leaf.join("cgroup.procs")).unwrap();
            assert!(
                procs.lines().any(|l| l == pid.to_string()),
                "{what}: the init {pid} is not in its cgroup"
            );
        }
        if let Some(init) = init_pid {
            assert_eq!(pid, init, "{what}: state names another init");
        }
        // Created: the init is still nook, waiting; running or paused: it
        // has executed the container's busybox, or is about to (`start`
        // has released it and it runs the startContainer hooks).
        let busybox = |e: Option<PathBuf>| e.is_some_and(|e| e.ends_with("busybox"));
        if status == "created" {
            assert!(
                !busybox(ran_before.clone()),
                "{what}: created, but the init ran {ran_before:?}"
            );
            assert!(exe(pid).is_some(), "{what}: created, its init is gone");
        } else {
            assert!(
                eventually(|| busybox(exe(pid)) || dead(pid)),
                "{what}: {status}, but the init runs {:?}",
                exe(pid)
            );
        }
        let freezer = self
            .leaves()
            .find(|d| d.ends_with(format!("freezer/{}/c", self.parent)));
        if let Some(fz) = freezer {
            let frozen = std::fs::read_to_string(fz.join("freezer.state")).unwrap();
            assert_eq!(
                status == "paused",
                frozen.trim() != "THAWED",
                "{what}: {status}, the freezer says {frozen}"
            );
        }
        Some(status)
    }

    /// The container's cgroup directory in each hierarchy.
    fn leaves(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.hierarchies.iter().map(|h| h.join(&self.parent).join("c"))
    }

    /// Every process of the container's that can be seen now: the pid
    /// files, its cgroups, and what a killed nook left to this process.
    fn seen_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = ["init.pid", "exec.pid"]
            .iter()
            .filter_map(|f| read_pid(&self.file(f)))
            .collect();
        for leaf in self.leaves() {
            if let Ok(procs) = std::fs::read_to_string(leaf.join("cgroup.procs")) {
                pids.extend(procs.lines().filter_map(|l| l.parse::<i32>().ok()));
            }
        }
        pids.extend(children());
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Nothing of the container is left on the host.
    fn assert_clean(&self, what: &str, pids: &[i32]) {
        assert!(
            !self.f.ctx.root().join(ID).exists(),
            "{what}: state directory left"
        );
        for h in &self.hierarchies {
            let d = h.join(&self.parent);
            assert!(!d.exists(), "{what}: cgroup {} left", d.display());
        }
        for &p in pids {
            assert!(eventually(|| dead(p)), "{what}: process {p} left");
        }
        for p in children() {
            assert!(eventually(|| dead(p)), "{what}: process {p} left");
        }
        reap();
        let mounts = mounts_under(self.f.dir.path());
        assert!(mounts.is_empty(), "{what}: mounts left: {mounts:?}");
    }

    /// One fault: inject it, then check the error, the state, the clean-up
    /// and that the id can be used again.
    fn one(&self, at: At, kind: Kind) {
        let fault = match kind {
            Kind::Kill => format!("{}:kill", at.name()),
            Kind::Errno => format!("{}:errno=EIO", at.name()),
        };
        let what = fault.as_str();
        for f in ["init.pid", "exec.pid"] {
            let _ = std::fs::remove_file(self.file(f));
        }
        self.prepare(at.command());
        let runs = self.faulted(at, what);
        let status = self.check_state(what);
        let last = runs.last().unwrap();
        let fired = match (at, kind) {
            (At::Runtime(_), Kind::Kill) => last.status.signal() == Some(libc::SIGKILL),
            (_, Kind::Errno) => runs.iter().any(|r| {
                !r.status.success()
                    && r.stderr.contains(&at.error_text())
                    && r.stderr.contains("Input/output error")
            }),
            // Killed before `start`, create or start fails; killed later,
            // what was to run does not.
            (At::Init(_), Kind::Kill) => {
                runs.iter().any(|r| !r.status.success()) || status.as_deref() != Some("running")
            }
            // `true` would have exited 0.
            (At::Execd(_), Kind::Kill) => !last.status.success(),
        };
        assert!(fired, "{what}: the fault did not act: {runs:#?}");
        let pids = self.seen_pids();
        let deleted = self.nook(&["delete", "--force", ID], None);
        assert!(
            deleted.status.success(),
            "{what}: delete --force: {}",
            deleted.stderr
        );
        self.assert_clean(what, &pids);
        // The id can be used again.
        for f in ["init.pid", "exec.pid"] {
            let _ = std::fs::remove_file(self.file(f));
        }
        self.prepare("exec");
        assert_eq!(
            self.check_state(what).as_deref(),
            Some("running"),
            "{what}: again"
        );
        let pids = self.seen_pids();
        self.ok(&["delete", "--force", ID]);
        self.assert_clean(what, &pids);
    }
}

impl Drop for Faults {
    /// Whatever a failing test left: the container, its cgroup (thawed,
    /// emptied, removed), the processes.
    fn drop(&mut self) {
        let _ = self.nook(&["delete", "--force", ID], None);
        for h in &self.hierarchies {
            let leaf = h.join(&self.parent).join("c");
            if leaf.exists() {
                let _ = std::fs::write(leaf.join("freezer.state"), "THAWED");
                let _ = std::fs::write(leaf.join("cgroup.freeze"), "0");
                if let Ok(procs) = std::fs::read_to_string(leaf.join("cgroup.procs")) {
                    for p in procs.lines().filter_map(|l| l.parse::<i32>().ok()) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(p),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                eventually(|| std::fs::remove_dir(&leaf).is_ok());
            }
            let _ = std::fs::remove_dir(h.join(&self.parent));
        }
        for p in children() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
        }
        reap();
        let _ = std::fs::remove_dir_all(self.f.ctx.root().join(ID));
    }
}

fn read_pid(path: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is gone or a zombie.
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s[s.rfind(')').unwrap() + 2..].starts_with('Z'),
        Err(_) => true,
    }
}

/// This process's children (of every thread).
fn children() -> Vec<i32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(list.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    out
}

/// Reaps this process's children that have exited.
fn reap() {
    reap_except(0);
}

/// Reaps this process's children that have exited, but `pid`.
fn reap_except(pid: i32) {
    for p in children().into_iter().filter(|&p| p != pid) {
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(p),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
    }
}

/// Every point, both faults.
#[test]
fn every_step_killed_or_failing_leaves_nothing_behind() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = Faults::new();
    let init = CHILD_STEPS.iter().filter(|s| !INIT_UNREACHED.contains(s));
    let execd = CHILD_STEPS.iter().filter(|s| !EXECD_UNREACHED.contains(s));
    assert!(
        CHILD_STEPS
            .iter()
            .all(|s| !INIT_UNREACHED.contains(s) || !EXECD_UNREACHED.contains(s)),
        "a child step that no case reaches"
    );
    let points: Vec<At> = Point::ALL
        .iter()
        .map(|&p| At::Runtime(p))
        .chain(init.map(|&s| At::Init(s)))
        .chain(execd.map(|&s| At::Execd(s)))
        .collect();
    for at in points {
        for kind in [Kind::Kill, Kind::Errno] {
            t.one(at, kind);
        }
    }
}

/// NOOK_TRACE_STEPS=1 prints every point once, in order, with its time;
/// unset, nothing. A lifecycle through every command reaches every point,
/// so the loop above leaves none out.
#[test]
fn every_point_is_traced_in_order() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = Faults::new();
    let create = t.create_args();
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    let exec_pid = t.file("exec.pid");
    let commands: [&[&str]; 7] = [
        &create,
        &["start", ID],
        &["exec", "--pid-file", exec_pid.to_str().unwrap(), ID, "true"],
        &["pause", ID],
        &["resume", ID],
        &["update", "--pids-limit", "100", ID],
        &["delete", "--force", ID],
    ];
    let mut traced = Vec::new();
    for args in commands {
        let r = t.nook_env(args, Some(("NOOK_TRACE_STEPS", "1")));
        assert!(r.status.success(), "{args:?}: {}", r.stderr);
        let mut last = 0u64;
        for line in r.stderr.lines().filter(|l| l.starts_with("nook: step ")) {
            let f: Vec<&str> = line.split(' ').collect();
            // nook: step NAME at N us (+D us)
            assert_eq!((f.len(), f[3], f[5]), (8, "at", "us"), "{line}");
            let at: u64 = f[4].parse().unwrap();
            assert!(at >= last, "{line}: time goes back");
            last = at;
            traced.push(f[2].to_string());
        }
    }
    let all: Vec<String> = Point::ALL.iter().map(|p| p.name().to_string()).collect();
    assert_eq!(traced, all);
    let pids = t.seen_pids();
    t.assert_clean("trace", &pids);
    // Unset: no trace.
    t.prepare("start");
    let r = t.nook(&["delete", "--force", ID], None);
    assert!(
        r.status.success() && !r.stderr.contains("nook: step"),
        "{}",
        r.stderr
    );
}

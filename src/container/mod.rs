//! Container lifecycle: create, start, run, exec, kill, delete, state, list.
//!
//! A [`Context`] is a state root (runc's `--root`); containers live in it,
//! one directory each. The lifecycle follows runc:
//! `create` leaves the init waiting on the exec socket (status "created"),
//! `start` connects to it and lets it exec ("running"), and the status is
//! "stopped" once the init is gone.
//!
//! ```no_run
//! use nook::{Context, CreateOptions};
//!
//! # fn main() -> nook::Result<()> {
//! let ctx = Context::new("/run/nook");
//! let c = ctx.create("demo", "examples/hello", &CreateOptions::default())?;
//! c.start()?;
//! let status = c.wait()?;
//! c.delete(false)?;
//! println!("exited with {status}");
//! # Ok(())
//! # }
//! ```

pub mod channel;
pub mod checkpoint;
pub mod init;
pub mod spawn;
pub mod state;

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::Serialize;

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::faults::{reached, Point};
use crate::hooks;
use crate::plan::{Plan, PlanOptions};
use channel::Message;
use state::{Intent, Persisted, StateDir};

pub use crate::bundle::OCI_VERSION;
pub use checkpoint::{CheckpointOptions, RestoreOptions};

/// Options of `create` (and `run`) that are not in config.json.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Write the init's pid here (atomically).
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when `process.terminal` is true.
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (roots on ramfs).
    pub no_pivot: bool,
    /// Pass the caller's fds 3 .. 3+N to the container.
    pub preserve_fds: u32,
    /// Keep the caller's session keyring instead of a new one per container.
    pub no_new_keyring: bool,
    /// Let systemd make the cgroup, as a transient unit (runc's
    /// `--systemd-cgroup`); `linux.cgroupsPath` is then `slice:prefix:name`.
    /// Later operations find the driver in the container's state.
    pub systemd_cgroup: bool,
}

/// Options of `exec` that are not in the process spec.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Write the process's host pid here (atomically).
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when `process.terminal` is true.
    pub console_socket: Option<PathBuf>,
    /// Pass the caller's fds 3 .. 3+N to the process.
    pub preserve_fds: u32,
    /// Exec into a paused container too (the process stays frozen until
    /// `resume`), as runc's `--ignore-paused`.
    pub ignore_paused: bool,
    /// Run in an existing sub-cgroup of the container's: runc's `--cgroup`
    /// values, `PATH` or `CTRL[,CTRL]:PATH` (see [`crate::cgroups::Cgroup::sub`]).
    pub sub_cgroups: Vec<String>,
}

/// A process started by [`Container::exec`]: a child of the caller (the
/// second clone uses CLONE_PARENT), so the caller waits for it.
#[derive(Debug)]
pub struct ExecProcess {
    pid: i32,
}

impl ExecProcess {
    /// Its host pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for it to exit; the exit code (128+N for a signal N).
    pub fn wait(&self) -> Result<i32> {
        wait_pid(self.pid)
    }

    /// Like [`ExecProcess::wait`] without blocking: None while it runs.
    pub fn try_wait(&self) -> Result<Option<i32>> {
        try_wait_pid(self.pid)
    }

    /// Sends `signal` to it (a foreground `nook exec` forwards its signals).
    pub fn kill(&self, signal: i32) -> Result<()> {
        let sig = Signal::try_from(signal)
            .map_err(|_| Error::config("signal", format!("unknown signal {signal}")))?;
        kill(Pid::from_raw(self.pid), sig).map_err(|e| Error::sys(format!("kill({}, {sig})", self.pid), e))
    }
}

/// A process JSON as `exec --process` gives it (runc's `-p`), read as runc
/// reads it: a missing `user` is uid 0, gid 0, and the runtime spec's names
/// of the scheduler flags are taken (see [`crate::bundle::parse_spec`]). A
/// bad field is named as `process.<path>`.
pub fn parse_exec_process(json: &str) -> Result<oci_spec::runtime::Process> {
    let mut value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| Error::config("process", e.to_string()))?;
    if let Some(p) = value.as_object_mut() {
        p.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
        crate::bundle::respell_scheduler_flags(p.get_mut("scheduler").and_then(|s| s.get_mut("flags")));
    }
    let text = serde_json::to_vec(&value).map_err(|e| Error::config("process", e.to_string()))?;
    crate::bundle::tracked(&text).map_err(|e| crate::bundle::field_error(e, "process", "process."))
}

/// Blocks until child `pid` exits; its exit code, 128+N for a signal N.
fn wait_pid(pid: i32) -> Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::sys(format!("waitpid({pid})"), e)),
        }
    }
}

/// [`wait_pid`] without blocking: None while `pid` runs.
fn try_wait_pid(pid: i32) -> Result<Option<i32>> {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => Ok(Some(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ok(Some(128 + sig as i32)),
        Ok(_) | Err(Errno::EINTR) => Ok(None),
        Err(e) => Err(Error::sys(format!("waitpid({pid}, WNOHANG)"), e)),
    }
}

/// Sends `sig` to `pid` if it is still the process that started at clock
/// tick `start` (the container's init, not a process that got its pid
/// since), through a pidfd opened before the start time is checked: the
/// signal then reaches the checked process or nobody (ESRCH), where a check
/// then kill(2) could hit a process that got the pid in between. Without
/// pidfds (kernels before 5.3, or a seccomp filter refusing them) it is
/// that check then kill(2).
fn signal_same(pid: i32, start: u64, sig: Option<Signal>) -> std::result::Result<(), Errno> {
    let pidfd = match crate::sys::pidfd_open(pid) {
        Ok(fd) => Some(fd),
        Err(libc::ENOSYS | libc::EPERM) => None,
        Err(e) => return Err(Errno::from_raw(e)),
    };
    if state::pid_start_time(pid) != Some(start) {
        return Err(Errno::ESRCH);
    }
    match pidfd {
        Some(fd) => {
            crate::sys::pidfd_send_signal(fd.as_fd(), sig.map_or(0, |s| s as i32)).map_err(Errno::from_raw)
        }
        None => kill(Pid::from_raw(pid), sig),
    }
}

/// `result`, with a cgroup file that is gone (ENOENT: the cgroup was
/// removed by someone else) read as "nothing there".
fn gone_is_empty<T: Default>(result: Result<T>) -> Result<T> {
    match result {
        Err(e) if e.errno() == libc::ENOENT => Ok(T::default()),
        other => other,
    }
}

/// A container's status, as runc reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Set up; the init waits for `start`.
    Created,
    /// The process runs.
    Running,
    /// Frozen by its cgroup.
    Paused,
    /// The init has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // pad() so `{:<12}` works in `nook list`'s table.
        f.pad(match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The state of a container, serialised exactly as `runc state` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Runtime-spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Host pid of the init (0 once stopped).
    pub pid: i32,
    /// Status.
    pub status: Status,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Rootfs on the host.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with nanoseconds, UTC.
    pub created: String,
    /// The spec's annotations.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    /// The creating user ("" for root).
    pub owner: String,
}

/// A state root holding containers (runc's `--root`).
#[derive(Debug, Clone)]
pub struct Context {
    root: PathBuf,
    rootless: bool,
}

/// A handle on one container of a [`Context`].
#[derive(Debug, Clone)]
pub struct Container {
    id: String,
    dir: StateDir,
    persisted: Persisted,
}

/// Removes what a failed `create` made, in reverse order.
struct CreateGuard<'a> {
    dir: &'a StateDir,
    cgroup: Option<crate::cgroups::Cgroup>,
    /// Released (a field drops after `drop`) once the cgroup is removed or
    /// the init is in it, never while it is empty and still ours.
    _claim: Option<crate::cgroups::Claim>,
    /// The container's lock, held through set-up; given up before a second
    /// try at removing the state directory when the first ran out of
    /// descriptors (a create that failed with EMFILE).
    lock: Option<state::Lock>,
    armed: bool,
}

impl<'a> CreateGuard<'a> {
    /// Armed: until `armed` is cleared, dropping it undoes the set-up
    /// (the cgroup it made, the state directory `dir` whose `lock` it holds).
    fn new(dir: &'a StateDir, lock: state::Lock) -> Self {
        CreateGuard {
            dir,
            cgroup: None,
            _claim: None,
            lock: Some(lock),
            armed: true,
        }
    }

    /// Makes the container's cgroup, claimed (its claim's descriptor at or
    /// above `min_fd`), and takes it into the guard's care.
    fn make_cgroup(
        &mut self,
        plan: &crate::cgroups::CgroupPlan,
        min_fd: i32,
    ) -> Result<crate::cgroups::Cgroup> {
        let (cgroup, claim) = plan.create_claimed(min_fd)?;
        self.cgroup = Some(cgroup.clone());
        self._claim = Some(claim);
        Ok(cgroup)
    }
}

/// After a create or restore failed: the poststop hooks, as runc runs them
/// when its set-up fails; their errors are only logged.
fn run_poststop_after_failure(plan: &Plan) {
    let annotations = plan.spec.annotations().clone().unwrap_or_default();
    let state = hooks::state_json(&plan.id, "stopped", 0, &plan.bundle, &annotations);
    hooks::run_logged(hooks::Kind::Poststop, &plan.hooks.hooks, &state);
}

/// What state.json keeps of a container whose init is `pid` in `cgroup`,
/// made now from `plan` (by create, or by restore).
fn persisted_for(plan: &Plan, pid: i32, cgroup: crate::cgroups::Cgroup, no_new_keyring: bool) -> Persisted {
    Persisted {
        id: plan.id.clone(),
        pid,
        pid_start: state::pid_start_time(pid).unwrap_or(0),
        bundle: plan.bundle.clone(),
        rootfs: plan.rootfs.clone(),
        created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        annotations: plan.spec.annotations().clone().unwrap_or_default(),
        owner: String::new(),
        cgroup,
        program: plan
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.args().as_ref())
            .and_then(|a| a.first().cloned())
            .unwrap_or_default(),
        no_new_keyring,
        hooks: plan.spec.hooks().clone(),
        shared_pid_ns: !plan
            .namespaces
            .creates(oci_spec::runtime::LinuxNamespaceType::Pid),
    }
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Some(cg) = &self.cgroup {
                let _ = cg.remove();
            }
            if self.dir.remove().is_err() {
                self.lock = None;
                let _ = self.dir.remove();
            }
        }
    }
}

impl Context {
    /// A context whose containers live under `root`. Rootless mode is
    /// detected as runc's `--rootless auto` does it (see [`crate::rootless`]).
    pub fn new(root: impl Into<PathBuf>) -> Context {
        Context {
            root: root.into(),
            rootless: crate::rootless::detect(),
        }
    }

    /// The state root used when none is given: `/run/nook` for root,
    /// `$XDG_RUNTIME_DIR/nook` for an unprivileged user, as runc does.
    pub fn default_root() -> PathBuf {
        crate::rootless::default_root()
    }

    /// A context on [`Context::default_root`], created as runc creates
    /// it under XDG_RUNTIME_DIR (mode 0700 and the sticky bit).
    pub fn with_default_root() -> Result<Context> {
        crate::rootless::prepare_default_root().map(Context::new)
    }

    /// Forces rootless mode on or off (runc's `--rootless true|false`).
    pub fn with_rootless(mut self, rootless: bool) -> Context {
        self.rootless = rootless;
        self
    }

    /// Whether containers are created in rootless mode: cgroups the user
    /// may not create are skipped when no limit needs them, device rules
    /// are not applied, and a user namespace is required.
    pub fn rootless(&self) -> bool {
        self.rootless
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Loads and validates the bundle at `bundle`, then creates container `id`.
    pub fn create(&self, id: &str, bundle: impl AsRef<Path>, opts: &CreateOptions) -> Result<Container> {
        let bundle = Bundle::load(bundle)?;
        self.create_from(id, bundle, opts)
    }

    /// Creates container `id` from a loaded bundle: validate, plan, then set up.
    /// On failure nothing is left behind: no state, cgroup, mount or process;
    /// once set-up had begun, the poststop hooks run then, as after a delete
    /// (the runtime spec continues a failed create at delete, as runc does).
    pub fn create_from(&self, id: &str, bundle: Bundle, opts: &CreateOptions) -> Result<Container> {
        let preserved = spawn::open_preserved(opts.preserve_fds);
        let mut plan = Plan::new(
            id,
            bundle,
            &PlanOptions {
                no_pivot: opts.no_pivot,
                no_new_keyring: opts.no_new_keyring,
                rootless: self.rootless,
                systemd_cgroup: opts.systemd_cgroup,
            },
        )?;
        let dir = StateDir::create(&self.root, id)?;
        let created = self.set_up(&mut plan, dir, opts, &preserved);
        if created.is_err() {
            run_poststop_after_failure(&plan);
        }
        created
    }

    /// The part of [`Context::create_from`] that changes the host, in the
    /// state directory `dir`, which it owns.
    ///
    /// It holds the container's lock throughout, so that a `delete
    /// --force` waits for it to finish or fail (a killed create releases
    /// the lock with its last descriptor), and before it makes anything
    /// outside the state directory it records what it is about to make
    /// there, for a `delete --force` after a create killed half-way.
    fn set_up(
        &self,
        plan: &mut Plan,
        dir: StateDir,
        opts: &CreateOptions,
        preserved: &[RawFd],
    ) -> Result<Container> {
        let id = plan.id.clone();
        let id = id.as_str();
        let lock = dir.lock_above(id, 3 + opts.preserve_fds as i32)?;
        let mut guard = CreateGuard::new(&dir, lock);
        reached(Point::CreateStateDirMade)?;
        dir.write_intent(&Intent {
            id: id.to_string(),
            cgroup: plan.cgroup.intended()?,
        })?;
        reached(Point::CreateIntentWritten)?;
        // Ours closes when set-up returns: from then on only the init holds it.
        let exec_listener = dir.listen_exec()?;
        reached(Point::CreateExecSocketMade)?;
        let cgroup = guard.make_cgroup(&plan.cgroup, 3 + opts.preserve_fds as i32)?;
        reached(Point::CreateCgroupMade)?;
        plan.mounts.set_cgroup_sources(
            &cgroup.mount_sources(),
            plan.namespaces.has(oci_spec::runtime::LinuxNamespaceType::Cgroup),
        )?;

        let pid = spawn::spawn(
            spawn::Job::Create {
                plan,
                exec_listener: exec_listener.as_fd(),
            },
            &spawn::SpawnArgs {
                console_socket: opts.console_socket.as_deref(),
                preserve_fds: opts.preserve_fds,
                preserved,
                cgroup: &cgroup,
            },
        )?;
        let persisted = persisted_for(plan, pid, cgroup, opts.no_new_keyring);
        let saved = dir
            .save(&persisted)
            .and_then(|()| reached(Point::CreateStateWritten))
            .and_then(|()| match &opts.pid_file {
                Some(f) => state::write_atomic(f, pid.to_string().as_bytes(), 0o644)
                    .and_then(|()| reached(Point::CreatePidFileWritten)),
                None => Ok(()),
            });
        if let Err(e) = saved {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            return Err(e);
        }
        guard.armed = false;
        drop(guard);
        Ok(Container {
            id: id.to_string(),
            dir,
            persisted,
        })
    }

    /// Opens an existing container.
    pub fn load(&self, id: &str) -> Result<Container> {
        crate::id::validate_id(id).map_err(|_| Error::NotFound { id: id.to_string() })?;
        let dir = StateDir::new(&self.root, id);
        let persisted = dir.load(id)?;
        Ok(Container {
            id: id.to_string(),
            dir,
            persisted,
        })
    }

    /// The state of every container under the root, sorted by id.
    pub fn list(&self) -> Result<Vec<ContainerState>> {
        let mut out = Vec::new();
        for id in state::list_ids(&self.root)? {
            // A container deleted while we list is simply not listed; one
            // whose state is damaged is skipped with a warning, as runc
            // does, so it does not hide the others.
            let c = match self.load(&id) {
                Ok(c) => c,
                Err(Error::NotFound { .. }) => continue,
                Err(e) => {
                    log::warn!("skipping container {id}: {e}");
                    continue;
                }
            };
            let mut state = c.state();
            // runc's list names the owner of the state directory (the
            // user who created it, rootless or not), "#UID" if unknown.
            if let Ok(meta) = std::fs::metadata(&c.dir.path) {
                let uid = std::os::unix::fs::MetadataExt::uid(&meta);
                state.owner = match nix::unistd::User::from_uid(uid.into()) {
                    Ok(Some(u)) => u.name,
                    _ => format!("#{uid}"),
                };
            }
            out.push(state);
        }
        Ok(out)
    }

    /// Deletes container `id` (`nook delete`): see [`Container::delete`].
    ///
    /// With `force`, a missing container is not an error (as in runc), and
    /// a container whose state.json cannot be read in full is removed all
    /// the same, as far as the state can be trusted, with a warning saying
    /// what was left: a cgroup refused by the state file's check is not
    /// touched (its processes but the init, and its directories, stay), and
    /// of an empty or truncated state.json only the state directory is
    /// removed, since nothing in it names the container's processes or
    /// cgroup reliably any more. The id can be used again afterwards.
    ///
    /// A container whose state.json is missing (a create killed before it
    /// wrote it) or empty or truncated is removed by its intent record (see
    /// [`StateDir::write_intent`]): whatever still runs in the cgroup
    /// create was making is killed, and the cgroup and the state directory
    /// removed.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let e = match self.load(id) {
            Ok(c) => return c.delete(force),
            Err(Error::NotFound { .. }) if force => return self.delete_unfinished(id, None),
            Err(e) if !force => return Err(e),
            Err(e) => e,
        };
        let dir = StateDir::new(&self.root, id);
        match dir.load_without_cgroup() {
            Some(persisted) => {
                log::warn!(
                    "container {id}: {e}; deleting it without its cgroup, whose processes (but the init) \
                     and directories are left as they are"
                );
                let c = Container {
                    id: id.to_string(),
                    dir,
                    persisted,
                };
                c.delete(true)
            }
            None => self.delete_unfinished(id, Some(e)),
        }
    }

    /// `delete --force` of a container without a usable state.json: a
    /// create that never wrote it (killed, or `damaged` is None and a
    /// create is still running: the lock waits for it), or one whose
    /// state.json is `damaged` beyond reading. What the intent record
    /// names is killed and removed, then the state directory.
    fn delete_unfinished(&self, id: &str, damaged: Option<Error>) -> Result<()> {
        if crate::id::validate_id(id).is_err() {
            return Ok(());
        }
        let dir = StateDir::new(&self.root, id);
        let lock = match dir.lock(id) {
            Err(Error::NotFound { .. }) => return Ok(()),
            other => other?,
        };
        if damaged.is_none() {
            // The create we waited for may have finished meanwhile.
            if let Ok(c) = self.load(id) {
                drop(lock);
                return c.delete(true);
            }
        }
        let intent = match dir.load_intent(id) {
            Some(Ok(intent)) => Some(intent),
            Some(Err(e)) => {
                log::warn!("container {id}: {e}; its cgroup, if it has one, is not known");
                None
            }
            None => None,
        };
        match (&damaged, &intent) {
            (Some(e), Some(_)) => log::warn!(
                "container {id}: {e}; removing what its intent record names: its cgroup, whatever \
                 runs in it, and its state directory"
            ),
            (Some(e), None) => log::warn!(
                "container {id}: {e}; removing its state directory only: its processes and cgroup, \
                 if any are left, are not known"
            ),
            (None, _) => {}
        }
        if let Some(intent) = intent {
            let cg = &intent.cgroup;
            // Those among them that are our children (a library caller's
            // init) are reaped once dead, as `Container::delete` reaps.
            let killed = gone_is_empty(cg.pids())?;
            gone_is_empty(cg.kill_all(Signal::SIGKILL))?;
            let mut left = gone_is_empty(cg.pids())?;
            for _ in 0..1000 {
                if left.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
                left = gone_is_empty(cg.pids())?;
            }
            if !left.is_empty() {
                return Err(Error::state(id, "container processes did not exit after SIGKILL"));
            }
            for &p in &killed {
                let _ = waitpid(Pid::from_raw(p), Some(WaitPidFlag::WNOHANG));
            }
            cg.remove()?;
        }
        dir.remove()
    }

    /// create + start + wait + delete. Returns the exit code (128+N for a
    /// signal N). The caller's thread must be able to wait for the init,
    /// which is its child.
    pub fn run(&self, id: &str, bundle: impl AsRef<Path>, opts: &CreateOptions) -> Result<i32> {
        let c = self.create(id, bundle, opts)?;
        let result = c.start().and_then(|()| c.wait());
        let deleted = c.delete(true);
        let code = result?;
        deleted.map(|()| code)
    }
}

impl Container {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Host pid of the container's init.
    pub fn pid(&self) -> i32 {
        self.persisted.pid
    }

    /// The container's cgroup.
    pub fn cgroup(&self) -> &crate::cgroups::Cgroup {
        &self.persisted.cgroup
    }

    /// Whether the saved pid still names the container's init (running or
    /// a zombie not reaped yet), not a process that got the pid since.
    fn is_init(&self) -> bool {
        self.init_state().is_some()
    }

    /// The one-letter state of the init ('S', 'Z', ...; /proc/PID/stat),
    /// None if its pid is gone or now another process's.
    fn init_state(&self) -> Option<char> {
        let p = &self.persisted;
        if p.pid <= 0 {
            return None;
        }
        let (start, state) = state::pid_start_and_state(p.pid)?;
        (start == p.pid_start).then_some(state)
    }

    /// Whether the init has begun exiting and is out of the cgroup (which
    /// lists no process that has passed the kernel's cgroup_exit), so the
    /// cgroup can go while the init waits for its namespace to be reaped.
    fn init_left(&self) -> bool {
        let pid = self.persisted.pid;
        state::pid_exiting(pid)
            && gone_is_empty(self.persisted.cgroup.pids()).is_ok_and(|p| !p.contains(&pid))
    }

    fn alive(&self) -> bool {
        self.init_state().is_some_and(|s| s != 'Z' && s != 'X')
    }

    /// The current status, read from the kernel.
    ///
    /// "created" means the init waits for `start`: the exec socket is still
    /// in the state directory (`start` removes it right after connecting)
    /// and a live socket listens there (see [`StateDir::exec_pending`]).
    /// The init holds the listener until its execve (it is close-on-exec),
    /// so a `start` killed between connecting and removing the file still
    /// leaves a true status once the process runs; a listener that some
    /// other process inherited cannot make a started container look
    /// created once the file is gone.
    pub fn status(&self) -> Status {
        if !self.alive() {
            Status::Stopped
        } else if self.dir.exec_pending() {
            Status::Created
        } else if self.persisted.cgroup.is_frozen().unwrap_or(false) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// Freezes every process of the container (`nook pause`).
    pub fn pause(&self) -> Result<()> {
        let _lock = self.dir.lock(&self.id)?;
        match self.status() {
            Status::Running => self
                .persisted
                .cgroup
                .freeze()
                .and_then(|()| reached(Point::PauseFrozen)),
            Status::Paused => Err(Error::state(&self.id, "container already paused")),
            _ => Err(Error::state(&self.id, "container not running")),
        }
    }

    /// Thaws a paused container (`nook resume`).
    pub fn resume(&self) -> Result<()> {
        let _lock = self.dir.lock(&self.id)?;
        match self.status() {
            Status::Paused => self
                .persisted
                .cgroup
                .thaw()
                .and_then(|()| reached(Point::ResumeThawed)),
            _ => Err(Error::state(&self.id, "container not paused")),
        }
    }

    /// Host pids of every process of the container (`nook ps`).
    pub fn processes(&self) -> Result<Vec<i32>> {
        self.need_cgroup("listing processes")?;
        self.persisted.cgroup.pids()
    }

    /// Resource usage, in the shape of runc's `events --stats` data.
    pub fn stats(&self) -> Result<crate::cgroups::Stats> {
        if self.status() == Status::Stopped {
            return Err(Error::state(&self.id, "container not running"));
        }
        self.need_cgroup("reading resource usage")?;
        self.persisted.cgroup.stats()
    }

    /// An empty answer would be a wrong one: without a cgroup (rootless,
    /// none delegated) nook cannot know the container's processes or usage.
    fn need_cgroup(&self, what: &str) -> Result<()> {
        if self.persisted.cgroup.exists() {
            return Ok(());
        }
        Err(Error::Unsupported {
            what: format!(
                "{what}: the container has no cgroup (rootless without a delegated cgroup), so {what}"
            ),
        })
    }

    /// Applies new resource limits (`nook update`).
    pub fn update(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
        let _lock = self.dir.lock(&self.id)?;
        if self.status() == Status::Stopped {
            return Err(Error::state(&self.id, "container not running"));
        }
        self.persisted.cgroup.update(resources)?;
        reached(Point::UpdateApplied)
    }

    /// The state as `runc state` reports it.
    pub fn state(&self) -> ContainerState {
        let p = &self.persisted;
        let status = self.status();
        ContainerState {
            oci_version: OCI_VERSION.to_string(),
            id: p.id.clone(),
            pid: if status == Status::Stopped { 0 } else { p.pid },
            status,
            bundle: p.bundle.clone(),
            rootfs: p.rootfs.clone(),
            created: p.created.clone(),
            annotations: p.annotations.clone(),
            owner: p.owner.clone(),
        }
    }

    /// Lets a created container's init execute its process. Returns once
    /// the execve has happened, or with the reason it failed.
    pub fn start(&self) -> Result<()> {
        let _lock = self.dir.lock(&self.id)?;
        match self.status() {
            Status::Created => {}
            Status::Stopped => {
                return Err(Error::state(
                    &self.id,
                    "cannot start a container that has stopped",
                ))
            }
            _ => {
                return Err(Error::state(
                    &self.id,
                    "cannot start an already running container",
                ))
            }
        }
        // Our connection releases the init, which answers on it alone: "0"
        // once it has accepted it, then a failure record, or nothing when
        // execve closed its end. No one else holds this connection, so EOF
        // comes as soon as the init has executed or died.
        let conn = self.dir.connect_exec().map_err(|e| match self.status() {
            // The init got past the listener between our check and connect.
            Status::Created => e,
            Status::Stopped => Error::state(&self.id, "cannot start a container that has stopped"),
            _ => Error::state(&self.id, "cannot start an already running container"),
        })?;
        reached(Point::StartConnected)?;
        // From here on the container counts as started (see status()).
        let _ = std::fs::remove_file(self.dir.exec_sock());
        reached(Point::StartExecSocketRemoved)?;
        let mut data = Vec::new();
        // One read per message (SOCK_SEQPACKET). A reset (the init accepted
        // another connection, or died) ends it like EOF. The poll timeout
        // only checks the init is alive: a copy of the listener inherited by
        // some other process would keep our queued connection open.
        let mut buf = [0u8; 64];
        loop {
            let mut pfd = [nix::poll::PollFd::new(conn.as_fd(), nix::poll::PollFlags::POLLIN)];
            match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)) {
                Ok(0) | Err(Errno::EINTR) => {
                    if !self.alive() {
                        break;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => return Err(Error::sys("poll(exec socket)", e)),
            }
            match nix::unistd::read(conn.as_raw_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        if data.first() != Some(&b'0') {
            // Not accepted: the listener closed under our queued connection.
            return Err(if self.alive() {
                Error::state(&self.id, "cannot start an already running container")
            } else {
                Error::Child {
                    step: "init exited before start".into(),
                    errno: libc::ESRCH,
                }
            });
        }
        if data.len() > channel::WIRE {
            let rec: [u8; channel::WIRE] = data[1..=channel::WIRE].try_into().expect("length checked");
            if let Some(Message::Failed(e)) = Message::decode(&rec) {
                if let Some(injected) = crate::faults::injected(e) {
                    return Err(injected);
                }
                if let Some(hook) = hooks::from_child(e) {
                    return Err(hook);
                }
                if e.step == crate::step::Step::Exec {
                    return Err(spawn::exec_error(&self.persisted.program, e.errno));
                }
                return Err(Error::Child {
                    step: e.step.to_string(),
                    errno: e.errno,
                });
            }
        }
        reached(Point::StartExecuted)?;
        self.run_hooks(hooks::Kind::Poststart, "running", self.persisted.pid);
        reached(Point::StartPoststartRun)
    }

    /// Runs the poststart or poststop hooks; failures are logged, not returned.
    fn run_hooks(&self, kind: hooks::Kind, status: &str, pid: i32) {
        if let Some(h) = &self.persisted.hooks {
            let p = &self.persisted;
            let state = hooks::state_json(&p.id, status, pid, &p.bundle, &p.annotations);
            hooks::run_logged(kind, h, &state);
        }
    }

    /// Sends `signal` to the init, or with `all` to every process of the
    /// container (its cgroup and the cgroups below it). Signal 0 sends
    /// nothing and only checks, as kill(2) does.
    ///
    /// As in runc, `all` works on a stopped container too: it signals what
    /// is left in the cgroup, which may be nothing; without `all` a stopped
    /// container is an error, since its init pid may be reused. A container
    /// without a pid namespace of its own (none, or one joined) gets SIGKILL
    /// as with `all`, as runc 1.2 does: its other processes do not die with
    /// the init, so killing only the init would leave them running.
    pub fn kill(&self, signal: i32, all: bool) -> Result<()> {
        let sig = match signal {
            0 => None,
            n => Some(
                Signal::try_from(n).map_err(|_| Error::config("signal", format!("unknown signal {n}")))?,
            ),
        };
        let all = all || (sig == Some(Signal::SIGKILL) && self.persisted.shared_pid_ns);
        let stopped = self.status() == Status::Stopped;
        if stopped && !all {
            return Err(Error::state(&self.id, "container not running"));
        }
        if all {
            let cg = &self.persisted.cgroup;
            // runc: a stopped container whose cgroup is gone has nothing left to signal.
            let pids = if stopped {
                cg.pids().unwrap_or_default()
            } else {
                cg.pids()?
            };
            match (pids.is_empty(), sig) {
                (false, Some(sig)) => return gone_is_empty(cg.kill_all(sig)),
                (false, None) => return Ok(()),
                (true, _) if stopped => return Ok(()),
                // Gone since status() looked: as an exited init below.
                (true, _) => {}
            }
        }
        match signal_same(self.persisted.pid, self.persisted.pid_start, sig) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(Error::sys(
                format!("pidfd_send_signal({}, {signal})", self.persisted.pid),
                e,
            )),
        }
    }

    /// Waits for the init to exit and returns its exit code (128+N for a
    /// signal N). The caller must be the init's parent (the process that
    /// created it); others can poll [`Container::status`].
    pub fn wait(&self) -> Result<i32> {
        wait_pid(self.persisted.pid)
    }

    /// Like [`Container::wait`] without blocking: None while the init runs.
    pub fn try_wait(&self) -> Result<Option<i32>> {
        try_wait_pid(self.persisted.pid)
    }

    /// The container's spec, read again from its bundle.
    pub fn spec(&self) -> Result<oci_spec::runtime::Spec> {
        Bundle::load(&self.persisted.bundle).map(|b| b.spec)
    }

    /// Runs `process` in the container (`nook exec`): it joins every
    /// namespace (so its root is the container's) and the cgroup of the
    /// container, gets the container's seccomp filter and then the
    /// identity, limits and capabilities of `process`, which is validated
    /// with the rules of the container's init. Returns once the process has executed (or with the
    /// reason it could not); the caller is its parent and waits for it.
    ///
    /// As with runc, a stopped container is refused, and so is a paused one
    /// unless `opts.ignore_paused`. A created container is accepted: its
    /// namespaces and root are complete once `create` returns.
    pub fn exec(&self, process: &oci_spec::runtime::Process, opts: &ExecOptions) -> Result<ExecProcess> {
        let preserved = spawn::open_preserved(opts.preserve_fds);
        match self.status() {
            Status::Stopped => return Err(Error::state(&self.id, "cannot exec in a stopped container")),
            Status::Paused if !opts.ignore_paused => {
                return Err(Error::state(
                    &self.id,
                    "cannot exec in a paused container (use --ignore-paused to override)",
                ))
            }
            _ => {}
        }
        let bundle = Bundle::load(&self.persisted.bundle)?;
        let p = &self.persisted;
        let plan = crate::plan::ExecPlan::new(&self.id, bundle, process, p.pid, p.no_new_keyring)?;
        let cgroup = p.cgroup.sub(&opts.sub_cgroups)?;
        let pid = spawn::spawn(
            spawn::Job::Exec(&plan),
            &spawn::SpawnArgs {
                console_socket: opts.console_socket.as_deref(),
                preserve_fds: opts.preserve_fds,
                preserved: &preserved,
                cgroup: &cgroup,
            },
        )?;
        let exec = ExecProcess { pid };
        if let Some(f) = &opts.pid_file {
            let written = state::write_atomic(f, pid.to_string().as_bytes(), 0o644);
            if let Err(e) = written.and_then(|()| reached(Point::ExecPidFileWritten)) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = exec.wait();
                return Err(e);
            }
        }
        Ok(exec)
    }

    /// [`Container::exec`] with the process as JSON (runc's `exec
    /// --process` file), as the C ABI and the CLI pass it. A process
    /// without `user` runs as uid 0 and gid 0, as runc's exec takes it
    /// (its decoder leaves absent fields zero); a container's own
    /// `process` still needs one.
    pub fn exec_json(&self, process: &str, opts: &ExecOptions) -> Result<ExecProcess> {
        self.exec(&parse_exec_process(process)?, opts)
    }

    /// Removes the container. A created or stopped container is removed; a
    /// running one only with `force`, which kills it first.
    pub fn delete(&self, force: bool) -> Result<()> {
        let _lock = self.dir.lock(&self.id)?;
        match self.status() {
            Status::Stopped | Status::Created => {}
            s if !force => {
                return Err(Error::state(
                    &self.id,
                    format!("cannot delete container {} that is not stopped: {s}", self.id),
                ))
            }
            _ => {}
        }
        // Everything left in the cgroup dies with the container (a frozen
        // cgroup is thawed by kill_all, or its tasks could not die). A
        // cgroup someone else removed holds nothing any more. The saved pid
        // is signalled only while it is still the init: once the init has
        // exited, its pid may be anyone's, though the cgroup is not empty.
        let cg = &self.persisted.cgroup;
        let pids = gone_is_empty(cg.pids())?;
        let init = self.is_init();
        if init || !pids.is_empty() {
            gone_is_empty(cg.kill_all(Signal::SIGKILL))?;
            if init {
                let _ = signal_same(
                    self.persisted.pid,
                    self.persisted.pid_start,
                    Some(Signal::SIGKILL),
                );
            }
            reached(Point::DeleteKilled)?;
            self.wait_gone(init, &pids)?;
            reached(Point::DeleteProcessesGone)?;
        }
        cg.remove()?;
        reached(Point::DeleteCgroupRemoved)?;
        self.dir.remove()?;
        reached(Point::DeleteStateRemoved)?;
        self.run_hooks(hooks::Kind::Poststop, "stopped", 0);
        Ok(())
    }

    /// Waits until the init is gone, reaping it when it is our child; with
    /// `init` false (it had exited before), until the cgroup is empty, and
    /// the saved pid, maybe someone else's by now, is not waited for.
    ///
    /// The init of a pid namespace finishes dying only once every other
    /// process of the namespace is reaped, and the processes `exec` started
    /// are children of the caller, not of the init: those of `others` (the
    /// container's processes) that are our children are reaped here too.
    ///
    /// An init that is not our child counts as gone once it is exiting
    /// and has left the cgroup: it becomes a zombie only after the other
    /// processes of its pid namespace are reaped, and an exec'd process is
    /// reaped by its own parent (or, that parent killed, by whatever reaper
    /// adopted it, at that reaper's pace): waiting for it made a `delete
    /// --force` wait for someone else's reaper.
    ///
    /// Polled with a sleep that starts at 100 us and doubles up to 5 ms: a
    /// killed process is usually gone within a millisecond, and a fixed 5 ms
    /// sleep was most of a `delete --force`. Gives up after 5 s, as before.
    fn wait_gone(&self, init: bool, others: &[i32]) -> Result<()> {
        let pid = Pid::from_raw(self.persisted.pid);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut pause = Duration::from_micros(100);
        while Instant::now() < deadline {
            for &p in others.iter().filter(|&&p| p != pid.as_raw()) {
                let _ = waitpid(Pid::from_raw(p), Some(WaitPidFlag::WNOHANG));
            }
            if !init {
                if self.persisted.cgroup.pids().map_or(true, |p| p.is_empty()) {
                    return Ok(());
                }
            } else {
                match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) => {}
                    Ok(_) => return Ok(()),
                    Err(_) if !self.alive() || self.init_left() => return Ok(()),
                    Err(_) => {}
                }
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
        Err(Error::state(
            &self.id,
            if init {
                "container init did not exit after SIGKILL"
            } else {
                "container processes did not exit after SIGKILL"
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_process_is_read_as_runc_reads_it() {
        // runc's scheduler.bats exec: no user, the runtime spec's flag names.
        let p = parse_exec_process(
            r#"{"args":["/bin/sleep","600"],"cwd":"/","scheduler":{"policy":"SCHED_DEADLINE",
                "flags":["SCHED_FLAG_RESET_ON_FORK"],"runtime":42000,"deadline":100000,"period":1000000}}"#,
        )
        .unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
        let flags = p.scheduler().as_ref().unwrap().flags().clone().unwrap();
        assert_eq!(
            flags,
            vec![oci_spec::runtime::LinuxSchedulerFlag::SchedResetOnFork]
        );
        let e = parse_exec_process(r#"{"args":["x"],"cwd":"/","scheduler":{"policy":"SCHED_NOPE"}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("process.scheduler.policy"), "{e}");
    }
}

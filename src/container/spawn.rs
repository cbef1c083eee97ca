//! The parent side of starting a process, for `create` (the container's
//! init) and `exec` (a process in a running container) alike: prepare every
//! descriptor the child needs, clone, then drive the sync protocol (id
//! maps, cgroup, oom_score_adj, go; wait for ready, and for exec until the
//! execve) and turn a child failure into a full [`Error`].

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Mutex;

use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::channel::{self, Message};
use super::init::{child_main, ChildArgs, InitHooks, Mode};
use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::faults::{self, Point};
use crate::namespaces::NamespacePlan;
use crate::plan::{ExecPlan, Plan};
use crate::process::{HomeSlot, ProcessPlan};
use crate::seccomp::Program;
use crate::step::{ChildError, Step};
use crate::{exe, hooks, namespaces, sys};

/// What to start.
#[derive(Debug, Clone, Copy)]
pub enum Job<'a> {
    /// A container's init, which ends up blocked in accept on `exec_listener`.
    Create {
        /// The validated plan.
        plan: &'a Plan,
        /// The listening exec socket in the state directory (see
        /// [`super::state::StateDir::listen_exec`]).
        exec_listener: BorrowedFd<'a>,
    },
    /// A process in a running container.
    Exec(&'a ExecPlan),
}

impl<'a> Job<'a> {
    /// The fault point `create` or `exec` of this job.
    fn reached(&self, create: Point, exec: Point) -> Result<()> {
        faults::reached(match self {
            Job::Create { .. } => create,
            Job::Exec(_) => exec,
        })
    }

    fn namespaces(&self) -> &'a NamespacePlan {
        match *self {
            Job::Create { plan, .. } => &plan.namespaces,
            Job::Exec(plan) => &plan.namespaces,
        }
    }

    fn process(&self) -> &'a ProcessPlan {
        match *self {
            Job::Create { plan, .. } => &plan.process,
            Job::Exec(plan) => &plan.process,
        }
    }

    fn seccomp(&self) -> Option<&'a Program> {
        match *self {
            Job::Create { plan, .. } => plan.seccomp.as_ref(),
            Job::Exec(plan) => plan.seccomp.as_ref(),
        }
    }

    fn keyring(&self) -> Option<&'a CStr> {
        match *self {
            Job::Create { plan, .. } => plan.keyring.as_deref(),
            Job::Exec(plan) => plan.keyring.as_deref(),
        }
    }

    /// The container's (id, bundle, spec), for the seccomp agent.
    fn container(&self) -> (&'a str, &'a Path, &'a Spec) {
        match *self {
            Job::Create { plan, .. } => (&plan.id, &plan.bundle, &plan.spec),
            Job::Exec(plan) => (&plan.id, &plan.bundle, &plan.spec),
        }
    }
}

/// What the caller of [`spawn`] provides besides the job.
#[derive(Debug)]
pub struct SpawnArgs<'a> {
    /// `--console-socket`.
    pub console_socket: Option<&'a Path>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// What [`open_preserved`] found when the command began.
    pub preserved: &'a [RawFd],
    /// The container's cgroup, already created.
    pub cgroup: &'a Cgroup,
}

/// The caller's descriptors among the `count` that `--preserve-fds` passes
/// on (3 .. 3+count) that are open, sorted. Taken when a command begins,
/// before nook opens anything: a hole in the range is the caller's to
/// keep, and one of nook's own descriptors that later lands in it must
/// not reach the container because of its number.
pub fn open_preserved(count: u32) -> Vec<RawFd> {
    // fs.nr_open's default bounds any descriptor number a process can have.
    let end = 3 + count.min(1 << 20) as RawFd;
    (3..end).filter(|&fd| sys::is_open(fd)).collect()
}

/// Kills and reaps a child that did not finish setting up.
#[derive(Debug)]
struct Reaper(Vec<i32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
    }
}

/// Clones the process of `job` and drives it through the sync protocol.
/// A container's init is returned once it is set up and waiting for
/// `start` on the exec socket; an exec'd process once its execve has succeeded. Returns the
/// host pid, a child of the caller.
pub fn spawn(job: Job<'_>, args: &SpawnArgs<'_>) -> Result<i32> {
    let (namespaces, process) = (job.namespaces(), job.process());
    check_exe(job)?;
    let ns_fds = namespaces.open_joins()?;
    let exec_listener = match job {
        Job::Create { exec_listener, .. } => Some(exec_listener),
        Job::Exec(_) => None,
    };
    let console = match (process.terminal, args.console_socket) {
        (false, _) => None,
        (true, None) => {
            return Err(Error::config(
                "process.terminal",
                "a terminal needs --console-socket",
            ));
        }
        (true, Some(p)) => Some(OwnedFd::from(
            UnixStream::connect(p).map_err(|e| Error::io("connecting to console socket", p, e))?,
        )),
    };
    let (parent_sock, child_sock) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair(AF_UNIX, SOCK_SEQPACKET)", e))?;
    // The child clears close-on-exec on the caller's fds 3 .. 3+N, some of
    // which may be closed: none of ours may sit in one of those holes, or it
    // would reach the container (and the sync socket would never see EOF).
    let first_free = 3 + args.preserve_fds as i32;
    let above = |fd: OwnedFd| {
        sys::dup_above(fd.as_fd(), first_free).map_err(|e| Error::Sys {
            call: format!("fcntl(F_DUPFD_CLOEXEC, {first_free})"),
            errno: e,
        })
    };
    let ns_fds = ns_fds.into_iter().map(above).collect::<Result<Vec<_>>>()?;
    let exec_listener = exec_listener
        .map(|l| {
            sys::dup_above(l, first_free).map_err(|e| Error::Sys {
                call: format!("fcntl(F_DUPFD_CLOEXEC, {first_free})"),
                errno: e,
            })
        })
        .transpose()?;
    let console = console.map(above).transpose()?;
    let child_sock = above(child_sock)?;
    // Close-on-exec does not guard the parent's end: the child clears that
    // flag on every fd of the preserved range, holes included.
    let parent_sock = above(parent_sock)?;
    let detached = match job {
        Job::Create { plan, .. } => plan.mounts.open_idmapped(first_free)?,
        Job::Exec(_) => Default::default(),
    };
    // The child moves itself into the v1 hierarchies (see init.rs): an
    // exec'd process too, which a move by pid would make wait for an RCU
    // grace period (up to 14 ms measured) whenever no other move ran just
    // before.
    let (mut joined, cgroup_tasks): (Vec<usize>, Vec<OwnedFd>) = match job {
        Job::Create { plan, .. } => plan.cgroup.open_tasks(args.cgroup),
        Job::Exec(_) => args.cgroup.open_tasks(),
    }
    .into_iter()
    .map(|(i, fd)| Ok((i, above(fd)?)))
    .collect::<Result<Vec<_>>>()?
    .into_iter()
    .unzip();
    // And is born in the v2 one, when the kernel lets us.
    let into_v2 = match job {
        Job::Create { plan, .. } => plan.cgroup.open_v2_dir(args.cgroup),
        Job::Exec(_) => args.cgroup.open_v2_dir(),
    };
    let home = process.home_at.map(|_| HomeSlot::default());
    let (argv, envp) = process.exec_arrays(home.as_ref());
    // The state the init's hooks read: "creating" and "created" memfds the
    // parent fills once the init's pid is known (see Message::Hooks).
    let hook_state = match job {
        Job::Create { plan, .. } if plan.hooks.needs_sync() => Some((
            above(hooks::new_memfd("nook-state-creating")?)?,
            above(hooks::new_memfd("nook-state-created")?)?,
        )),
        _ => None,
    };
    let (create_hooks, start_hooks) = match job {
        Job::Create { plan, .. } => {
            // A hook without an env of its own gets the process's, without
            // the HOME the init fills in (the hooks' arrays are copies).
            let envp = process.exec_arrays(None).1;
            (
                hooks::exec_args(&plan.hooks.create_container, &envp),
                hooks::exec_args(&plan.hooks.start_container, &envp),
            )
        }
        Job::Exec(_) => Default::default(),
    };
    // Every descriptor of ours the child inherits: it closes all others
    // above the preserved ones first thing, and those it no longer needs
    // once it is in the container (namespaces, detached mounts) after that.
    let kept: Vec<RawFd> = {
        let mut v: Vec<RawFd> = [Some(&child_sock), exec_listener.as_ref(), console.as_ref()]
            .into_iter()
            .flatten()
            .chain(hook_state.iter().flat_map(|(a, b)| [a, b]))
            .map(|fd| fd.as_raw_fd())
            .collect();
        v.sort_unstable();
        v
    };
    let own: Vec<RawFd> = {
        let mut v = kept.clone();
        v.extend(ns_fds.iter().map(|fd| fd.as_raw_fd()));
        v.extend(cgroup_tasks.iter().map(|fd| fd.as_raw_fd()));
        v.extend(detached.raw_fds());
        v.sort_unstable();
        v
    };
    // The caller's, then ours: the child closes everything else first thing.
    let open: Vec<RawFd> = args.preserved.iter().chain(&own).copied().collect();
    let init_hooks = hook_state.as_ref().map(|(creating, created)| InitHooks {
        create_container: &create_hooks,
        start_container: &start_hooks,
        creating: creating.as_fd(),
        created: created.as_fd(),
    });
    let mode = match (job, &exec_listener) {
        (Job::Create { plan, .. }, Some(listener)) => Mode::Create {
            mounts: &plan.mounts,
            detached: &detached,
            exec_listener: listener.as_fd(),
            hooks: init_hooks.as_ref(),
        },
        _ => Mode::Exec,
    };
    let fault = faults::for_child(match job {
        Job::Create { .. } => faults::Child::Init,
        Job::Exec(_) => faults::Child::Exec,
    })?;
    let child = ChildArgs {
        namespaces,
        process,
        seccomp: job.seccomp(),
        keyring: job.keyring(),
        mode,
        sync: child_sock.as_fd(),
        ns_fds: &ns_fds,
        cgroup_tasks: &cgroup_tasks,
        console: console.as_ref().map(|c| c.as_fd()),
        preserve_fds: args.preserve_fds,
        preserved: args.preserved,
        open_fds: &open,
        kept_fds: &kept,
        argv: &argv,
        envp: &envp,
        home: home.as_ref(),
        fault,
    };

    let flags = namespaces.clone_flags as libc::c_ulong;
    let non_dumpable = NonDumpable::new()?;
    // Blocked signals are inherited: no handler of the caller can run in
    // the child before it has reset them all.
    let old_mask = sys::set_sigmask(true);
    // SAFETY: the child runs only `child_main`, which neither allocates,
    // locks nor returns (see init.rs), on a copy of this stack where `child`
    // and everything it borrows stay valid.
    #[allow(unsafe_code)]
    let mut cloned = unsafe {
        match &into_v2 {
            Some((_, dir)) => sys::clone_into_cgroup(flags, dir.as_fd()),
            None => sys::clone_fork(flags),
        }
    };
    // Without clone3 or CLONE_INTO_CGROUP (or refused: an adopted cgroup
    // with children, rootless permissions), a plain clone, and the v2
    // directory is joined below, by pid.
    let mut in_v2 = into_v2.is_some();
    if in_v2 && cloned.is_err() {
        in_v2 = false;
        // SAFETY: as for the first clone.
        #[allow(unsafe_code)]
        let again = unsafe { sys::clone_fork(flags) };
        cloned = again;
    }
    if cloned == Ok(0) {
        child_main(&child);
    }
    sys::restore_sigmask(&old_mask);
    drop(non_dumpable);
    let pid = cloned.map_err(|e| Error::Sys {
        call: format!("clone({:#x})", namespaces.clone_flags),
        errno: e,
    })?;
    if let (true, Some((i, _))) = (in_v2, &into_v2) {
        joined.push(*i);
    }
    drop(into_v2);
    drop(child_sock);
    let mut reaper = Reaper(vec![pid]);
    // A child that failed before `Go` (closing the caller's fds) has
    // exited or is exiting, which is what fails here then: its record says why.
    let failed = |e: Error| pending_failure(&parent_sock).map_or(e, |f| describe(job, f));
    job.reached(Point::CreateCloneDone, Point::ExecCloneDone)?;

    if let Some(maps) = &namespaces.id_maps {
        namespaces::write_id_maps(pid, maps).map_err(failed)?;
        faults::reached(Point::CreateIdMapsWritten)?;
    }
    // The first `Go`: a container's init moves itself into the v1
    // hierarchies and builds its rootfs while we move it into the others
    // (cgroup v2), which can wait for an RCU grace period in the kernel; the
    // second `Go` says it is in (see init.rs for what waits for it).
    send(&parent_sock, Message::Go).map_err(failed)?;
    match job {
        // The systemd driver makes the cgroup only now, with the pid in it.
        Job::Create { plan, .. } => plan.cgroup.enter(args.cgroup, pid, &joined),
        Job::Exec(_) => args.cgroup.add_process_except(pid, &joined),
    }
    .map_err(failed)?;
    job.reached(Point::CreateCgroupJoined, Point::ExecCgroupJoined)?;
    if let Some(adj) = process.oom_score_adj {
        let path = format!("/proc/{pid}/oom_score_adj");
        std::fs::write(&path, adj.to_string())
            .map_err(|e| match e.raw_os_error() {
                // Below the inherited minimum needs CAP_SYS_RESOURCE on the host.
                Some(libc::EACCES | libc::EPERM) => Error::config(
                    "process.oomScoreAdj",
                    format!("writing {adj} to {path}: {e}: lowering it needs real root (CAP_SYS_RESOURCE)"),
                ),
                _ => Error::io("writing", &path, e),
            })
            .map_err(failed)?;
    }
    send(&parent_sock, Message::Go).map_err(failed)?;
    job.reached(Point::CreateReleased, Point::ExecReleased)?;

    let mut init = pid;
    let mut ready = false;
    loop {
        let (msg, mut received) = recv(&parent_sock)?;
        match msg {
            Some(Message::InitPid(p)) => {
                reaper.0.push(p);
                // The intermediate exits right after reporting; reap it.
                let _ = waitpid(Pid::from_raw(pid), None);
                reaper.0.retain(|&x| x != pid);
                init = p;
                job.reached(Point::CreatePidReported, Point::ExecPidReported)?;
                send(&parent_sock, Message::Go)?;
            }
            Some(Message::Ready) => {
                job.reached(Point::CreateReady, Point::ExecReady)?;
                match job {
                    Job::Create { .. } => break,
                    // No FIFO: the process executes now; EOF says it did.
                    Job::Exec(_) => ready = true,
                }
            }
            Some(Message::SeccompFd) => {
                let fd = received.take().ok_or_else(protocol_error)?;
                forward_listener(job, init, fd)?;
            }
            Some(Message::Hooks) => {
                let (Job::Create { plan, .. }, Some(fds)) = (job, &hook_state) else {
                    return Err(protocol_error());
                };
                faults::reached(Point::CreateMountsDone)?;
                run_create_hooks(plan, init, fds)?;
                faults::reached(Point::CreateHooksRun)?;
                send(&parent_sock, Message::Go)?;
            }
            Some(Message::Failed(e)) => return Err(with_pids_limit(describe(job, e), e, args.cgroup)),
            Some(Message::Go) => return Err(protocol_error()),
            None if ready => {
                faults::reached(Point::ExecExecuted)?;
                break;
            }
            None => {
                // The child died without a word (killed, or it crashed):
                // say how, from its wait status.
                let last = *reaper.0.last().unwrap_or(&pid);
                let status = waitpid(Pid::from_raw(last), None);
                reaper.0.retain(|&p| p != last);
                let who = match job {
                    Job::Create { .. } => "the container's init",
                    Job::Exec(_) => "the exec'd process",
                };
                // Set-up runs charged to the container's memory cgroup: a
                // limit too low for it ends in the OOM killer's SIGKILL,
                // which only the cgroup's OOM count tells from any other.
                if matches!(
                    status,
                    Ok(nix::sys::wait::WaitStatus::Signaled(_, Signal::SIGKILL, _))
                ) && args.cgroup.oom_kills().unwrap_or(0) > 0
                {
                    return Err(Error::Child {
                        step: format!(
                            "{who} was killed by the OOM killer during set-up: out of memory at the \
                             container's memory limit (linux.resources.memory.limit)"
                        ),
                        errno: libc::ENOMEM,
                    });
                }
                let how = match status {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => format!("exited with status {code}"),
                    Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => format!("was killed by {sig}"),
                    other => format!("ended ({other:?})"),
                };
                return Err(Error::Child {
                    step: format!("{who} {how} during set-up"),
                    errno: libc::ECHILD,
                });
            }
        }
    }
    reaper.0.clear();
    Ok(init)
}

/// Refuses a container that could rewrite the running executable through
/// `/proc/PID/exe` of the child (see [`crate::exe`]) while that executable
/// is not sealed.
fn check_exe(job: Job<'_>) -> Result<()> {
    const CAP_SYS_PTRACE: u32 = 19;
    let (ptrace, rootless) = match job {
        Job::Create { plan, .. } => (exe::host_ptrace_possible(&plan.spec), exe::rootless_writable()),
        Job::Exec(plan) => {
            let own = plan.process.caps.bounding & (1 << CAP_SYS_PTRACE) != 0;
            let host_userns = !plan.namespaces.has(LinuxNamespaceType::User);
            (exe::host_ptrace_possible(&plan.spec) || host_userns && own, false)
        }
    };
    if !(ptrace || rootless) || exe::is_sealed()? {
        return Ok(());
    }
    let how = "call nook::exe::reexec_sealed() at the start of main, or run the program from a \
               read-only mount";
    Err(if ptrace {
        Error::config(
            "process.capabilities",
            format!(
                "CAP_SYS_PTRACE without a user namespace lets a container process open \
                 /proc/PID/exe of the runtime's process and overwrite this program on the host; \
                 {how}, or drop CAP_SYS_PTRACE from the bounding set, or give the container a \
                 user namespace"
            ),
        )
    } else {
        Error::Unsupported {
            what: format!(
                "a rootless container from a program its user can write: the container's root \
                 (that user) could overwrite it through /proc/1/exe; {how}"
            ),
        }
    })
}

/// Makes the process non-dumpable while it clones, so the child is so from
/// birth, before it can be seen from any container (one sharing the host's
/// pid namespace included): the kernel then refuses its /proc/PID/{exe,
/// fd, cwd, root, mem} and ptrace to anyone without CAP_SYS_PTRACE in the
/// host's user namespace. Refcounted across threads (dumpable is one flag
/// per process); the previous value comes back after the last clone.
///
/// Only as root: an unprivileged parent could no longer write the child's
/// /proc/PID/uid_map, setgroups and oom_score_adj (their owner becomes
/// root), so a rootless exec child makes itself non-dumpable on `Go`,
/// before it joins anything of the container's (and a rootless init stays
/// dumpable: see init.rs).
#[derive(Debug)]
struct NonDumpable;

/// (spawns in their clone, whether the process was dumpable before the first).
static DUMPABLE: Mutex<(usize, bool)> = Mutex::new((0, false));

impl NonDumpable {
    fn new() -> Result<Option<NonDumpable>> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(None);
        }
        let mut state = DUMPABLE.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 == 0 {
            // 2 (suid_dumpable) cannot be set back; such a process stays at 0.
            state.1 = sys::dumpable() == Ok(1);
            sys::set_dumpable(false).map_err(|e| Error::Sys {
                call: "prctl(PR_SET_DUMPABLE, 0)".into(),
                errno: e,
            })?;
        }
        state.0 += 1;
        Ok(Some(NonDumpable))
    }
}

impl Drop for NonDumpable {
    fn drop(&mut self) {
        let mut state = DUMPABLE.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= 1;
        if state.0 == 0 && state.1 {
            let _ = sys::set_dumpable(true);
        }
    }
}

/// The runtime's part of the hooks during create, while the init waits
/// with its mounts done: prestart and createRuntime here, then the state
/// for createContainer and startContainer into the init's memfds.
fn run_create_hooks(plan: &Plan, init: i32, (creating, created): &(OwnedFd, OwnedFd)) -> Result<()> {
    let annotations = plan.spec.annotations().clone().unwrap_or_default();
    let state = |status| hooks::state_json(&plan.id, status, init, &plan.bundle, &annotations);
    let (creating_state, created_state) = (state("creating"), state("created"));
    // The legacy prestart hook was defined to run once the container is
    // created, and crun and the OCI suite give it "created"; createRuntime,
    // its runtime-spec 1.1 successor, runs during create: "creating", as runc.
    hooks::run(hooks::Kind::Prestart, &plan.hooks.hooks, &created_state)?;
    hooks::run(hooks::Kind::CreateRuntime, &plan.hooks.hooks, &creating_state)?;
    for (fd, json) in [(creating, creating_state), (created, created_state)] {
        let mut f = std::fs::File::from(fd.try_clone().map_err(|e| Error::io("duplicating", "memfd", e))?);
        std::io::Write::write_all(&mut f, json.as_bytes()).map_err(|e| Error::io("writing", "memfd", e))?;
    }
    Ok(())
}

/// A failure record the child has sent already, if one is waiting.
fn pending_failure(sock: &OwnedFd) -> Option<ChildError> {
    let mut pfd = [nix::poll::PollFd::new(sock.as_fd(), nix::poll::PollFlags::POLLIN)];
    if nix::poll::poll(&mut pfd, nix::poll::PollTimeout::ZERO) != Ok(1) {
        return None;
    }
    match recv(sock) {
        Ok((Some(Message::Failed(e)), _)) => Some(e),
        _ => None,
    }
}

fn send(sock: &OwnedFd, m: Message) -> Result<()> {
    m.send(sock.as_fd()).map_err(|e| Error::Sys {
        call: "write(sync socket)".into(),
        errno: e,
    })
}

/// Receives one message and the descriptor it may carry (SCM_RIGHTS).
fn recv(sock: &OwnedFd) -> Result<(Option<Message>, Option<OwnedFd>)> {
    let mut buf = [0u8; channel::WIRE];
    let (n, fd) = sys::recv_fd(sock.as_fd(), &mut buf).map_err(|e| Error::Sys {
        call: "recvmsg(sync socket)".into(),
        errno: e,
    })?;
    if n == 0 {
        return Ok((None, fd));
    }
    let msg = (n == channel::WIRE)
        .then(|| Message::decode(&buf))
        .flatten()
        .ok_or_else(protocol_error)?;
    Ok((Some(msg), fd))
}

/// Hands the seccomp notify listener to the agent at `linux.seccomp.listenerPath`,
/// with the container state as runc sends it (status "creating", or
/// "running" for a process exec'd into the container).
fn forward_listener(job: Job<'_>, pid: i32, fd: OwnedFd) -> Result<()> {
    let (id, bundle, spec) = job.container();
    let profile = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let Some(path) = profile.and_then(|p| p.listener_path().as_ref()) else {
        return Err(protocol_error());
    };
    let status = match job {
        Job::Create { .. } => "creating",
        Job::Exec(_) => "running",
    };
    let annotations = spec.annotations().clone().unwrap_or_default();
    let state = hooks::state_json(id, status, pid, bundle, &annotations);
    let metadata = profile.and_then(|p| p.listener_metadata().as_deref());
    crate::seccomp::send_listener(fd, path, &state, metadata)
}

fn protocol_error() -> Error {
    Error::Child {
        step: "unexpected message on the sync socket".into(),
        errno: libc::EPROTO,
    }
}

/// A second clone refused with EAGAIN in a cgroup with a pids limit: the
/// pids controller refused it (the clone is charged to the container's
/// cgroup, which the first child was moved into), so say so.
fn with_pids_limit(err: Error, e: ChildError, cgroup: &Cgroup) -> Error {
    if e.step != Step::SecondClone || e.errno != libc::EAGAIN {
        return err;
    }
    match (err, cgroup.stats().map_or(0, |s| s.pids.limit)) {
        (Error::Child { step, errno }, limit) if limit > 0 => Error::Child {
            step: format!("{step} (pids limit reached: linux.resources.pids.limit is {limit})"),
            errno,
        },
        (err, _) => err,
    }
}

/// Turns a child's (step, index, errno) into an error naming the item.
pub fn describe(job: Job<'_>, e: ChildError) -> Error {
    if let Some(injected) = faults::injected(e) {
        return injected;
    }
    if let Some(hook) = hooks::from_child(e) {
        return hook;
    }
    let i = e.index as usize;
    let (namespaces, process) = (job.namespaces(), job.process());
    if e.step == Step::Exec {
        return exec_error(&process.args[0].to_string_lossy(), e.errno);
    }
    if let (Job::Exec(_), Step::SecondClone) = (job, e.step) {
        // An exec's intermediate clones the exec'd process, not an init.
        return Error::Child {
            step: "cloning the exec'd process into the container's pid namespace".into(),
            errno: e.errno,
        };
    }
    let mount_item = || match job {
        Job::Create { plan, .. } => {
            let m = &plan.mounts;
            match e.step {
                Step::Mount
                | Step::MountRemount
                | Step::MountPropagate
                | Step::MountSetattr
                | Step::TmpCopyUp
                | Step::MountLabel
                | Step::MountInProc
                | Step::MountNotDir => m
                    .mounts
                    .iter()
                    .find(|op| op.index == i)
                    .map(|op| format!(" {} (mounts[{i}])", op.dest.path.display())),
                Step::CreateDevice => m.devices.get(i).map(|d| format!(" {}", d.dest.path.display())),
                Step::MaskPath => m.masked_paths.get(i).map(|p| format!(" {}", p.to_string_lossy())),
                Step::HideHostProcSys => m
                    .host_proc_sys
                    .get(i)
                    .map(|p| format!(" {}", p.to_string_lossy())),
                Step::ReadonlyPath => m
                    .readonly_paths
                    .get(i)
                    .map(|p| format!(" {}", p.to_string_lossy())),
                _ => None,
            }
        }
        Job::Exec(_) => None,
    };
    let detail = match e.step {
        Step::JoinNamespace => namespaces.joins.get(i).map(|j| format!(" {}", j.path.display())),
        Step::Sysctl => process.sysctl.get(i).map(|(p, _)| {
            let p = p.to_string_lossy();
            let denied = matches!(e.errno, libc::EACCES | libc::EPERM);
            match p.strip_prefix("/proc/sys/") {
                // In a user namespace not every namespaced sysctl is the
                // namespace root's to write (UTS ones are not, IPC ones are).
                Some(key) if denied && namespaces.id_maps.is_some() => format!(
                    " {p} (linux.sysctl.{}: not writable by the root of a user namespace; \
                     it needs real root)",
                    key.replace('/', ".")
                ),
                _ => format!(" {p}"),
            }
        }),
        Step::Rlimit => Some(format!(" process.rlimits[{i}]")),
        // sched_setattr's EPERM for a thread whose CPUs are not all of the
        // system's (SCHED_DEADLINE): runc's wording (scheduler.bats).
        Step::Scheduling
            if i == crate::sched::call::SCHEDULER
                && e.errno == libc::EPERM
                && cpus_limited(job.container().2) =>
        {
            Some(
                " (process scheduler can't be used together with AllowedCPUs: linux.resources.cpu.cpus)"
                    .into(),
            )
        }
        Step::AppArmor => process.lsm.apparmor_profile().map(|p| match e.errno {
            // What the kernel says of a profile it does not have.
            libc::ENOENT => format!(" {p:?} (is it loaded? apparmor_parser -r FILE)"),
            _ => format!(" {p:?}"),
        }),
        Step::Chdir => Some(format!(" {} (process.cwd)", process.cwd.to_string_lossy())),
        // runc fails the same way; say what to do about it. Non-root users
        // get 200 keys by default, one per running container.
        Step::Keyring if e.errno == libc::EDQUOT => Some(
            " (the user's key quota is full: raise /proc/sys/kernel/keys/maxkeys \
             and maxbytes, or create with --no-new-keyring)"
                .to_string(),
        ),
        _ => mount_item(),
    };
    Error::Child {
        step: format!("{}{}", e.step, detail.unwrap_or_default()),
        errno: e.errno,
    }
}

/// Whether the spec limits the container to some CPUs (a cpuset).
fn cpus_limited(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.cpu().as_ref())
        .and_then(|c| c.cpus().as_deref())
        .is_some_and(|c| !c.trim().is_empty())
}

/// runc's wording for a failed exec, which engines match on
/// ("executable file not found" maps to exit code 127 in docker and podman).
pub fn exec_error(program: &str, errno: i32) -> Error {
    let step = if errno == libc::ENOENT && !program.contains('/') {
        format!("exec: \"{program}\": executable file not found in $PATH")
    } else {
        format!("exec: \"{program}\"")
    };
    Error::Child { step, errno }
}

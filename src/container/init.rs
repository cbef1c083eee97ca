//! The container's init, and any process exec'd into the container, from
//! `clone` to `execve`.
//!
//! Everything here runs in the child of a raw `clone` of a possibly
//! multithreaded caller: another thread may have held the allocator lock at
//! the time of the clone, so this code never allocates, never takes a lock,
//! never formats, and never unwinds. It only executes the prepared
//! [`crate::plan::Plan`] (or [`crate::plan::ExecPlan`]) with system calls
//! and reports a failure to the parent as a fixed-size (step, index, errno)
//! record. Both kinds of process take the same path; [`Mode`] adds the
//! container set-up and the wait for `start` for an init.

use std::convert::Infallible;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use super::channel::Message;
use crate::faults::{child_reached, ChildFault};
use crate::mounts::{Detached, MountPlan};
use crate::namespaces::NamespacePlan;
use crate::process::ProcessPlan;
use crate::seccomp::Program;
use crate::step::{ChildError, Step, StepExt};
use crate::{hooks, mounts, namespaces, process, sys};

/// Everything the child needs, prepared by the parent before `clone`.
#[derive(Debug)]
pub struct ChildArgs<'a> {
    /// The namespaces to create and join.
    pub namespaces: &'a NamespacePlan,
    /// The process to run.
    pub process: &'a ProcessPlan,
    /// The seccomp filter.
    pub seccomp: Option<&'a Program>,
    /// The session keyring to join, by name.
    pub keyring: Option<&'a CStr>,
    /// A container's init, or a process exec'd into a running container.
    pub mode: Mode<'a>,
    /// The child's end of the sync socket.
    pub sync: BorrowedFd<'a>,
    /// Namespaces to join, in plan order.
    pub ns_fds: &'a [OwnedFd],
    /// The `tasks` files of the container's v1 cgroup directories, which
    /// the child writes "0" into to move itself in (see
    /// [`crate::cgroups::CgroupPlan::open_tasks`]).
    pub cgroup_tasks: &'a [OwnedFd],
    /// `--console-socket`, connected.
    pub console: Option<BorrowedFd<'a>>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// The descriptors of the preserved range the caller had open, sorted:
    /// those alone reach the container.
    pub preserved: &'a [RawFd],
    /// `preserved`, then every descriptor of nook's (all above the range),
    /// sorted: the child closes every other one above stdio first thing.
    pub open_fds: &'a [RawFd],
    /// Those of `open_fds` still needed once in the container (sync
    /// socket, console, exec socket, hook state), sorted.
    pub kept_fds: &'a [RawFd],
    /// NULL-terminated argv pointers into the plan.
    pub argv: &'a [*const libc::c_char],
    /// NULL-terminated envp pointers into the plan (and `home`).
    pub envp: &'a [*const libc::c_char],
    /// The `HOME=` entry of `envp` to fill in, when the process has no HOME.
    pub home: Option<&'a process::HomeSlot>,
    /// The fault to inject at one of the steps (see [`crate::faults`]).
    pub fault: Option<ChildFault>,
}

/// What the child does besides the steps every process takes.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    /// A container's init: set up the rootfs and the system settings, then
    /// wait on the exec socket until `start` connects.
    Create {
        /// The filesystem view to build.
        mounts: &'a MountPlan,
        /// Its id-mapped mounts, prepared by the parent.
        detached: &'a Detached,
        /// The listening exec socket (close-on-exec). The init holds no fd
        /// of the host's state directory: a container process that can see
        /// the init's fds must find no way out through them.
        exec_listener: BorrowedFd<'a>,
        /// The spec's hooks, when it has any.
        hooks: Option<&'a InitHooks<'a>>,
    },
    /// A process in a running container: everything is set up already, so
    /// after joining the namespaces it executes at once. Its root is the
    /// container's: `setns(CLONE_NEWNS)` moves to the namespace's root and
    /// down through what is mounted on it, which is the rootfs both after
    /// pivot_root and after `--no-pivot`'s MS_MOVE onto `/` (as with runc,
    /// a chroot the init made itself is not followed).
    Exec,
}

/// What the init needs for the hooks: the container-side ones prepared,
/// and the state they read on stdin, which the parent writes once it knows
/// the init's pid (before answering [`Message::Hooks`]).
#[derive(Debug)]
pub struct InitHooks<'a> {
    /// createContainer, run before `pivot_root`.
    pub create_container: &'a [hooks::ExecArgs<'a>],
    /// startContainer, run before the process's execve.
    pub start_container: &'a [hooks::ExecArgs<'a>],
    /// The state with status "creating".
    pub creating: BorrowedFd<'a>,
    /// The state with status "created".
    pub created: BorrowedFd<'a>,
}

/// The child's entry point. Never returns.
pub fn child_main(a: &ChildArgs<'_>) -> ! {
    let err = match run(a) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = Message::Failed(err).send(a.sync);
    sys::exit(1)
}

fn run(a: &ChildArgs<'_>) -> Result<Infallible, ChildError> {
    let ns = a.namespaces;
    // Each step done, before the next: see crate::faults.
    let done = |step| child_reached(a.fault, step);
    sys::reset_signal_handlers();
    // The caller's descriptors go before anything resolves a path, so no
    // cwd, mount source or exec path can go through one (CVE-2024-21626):
    // all but the preserved ones the caller had open and nook's own, which
    // spawn put above the range. A hole in the range is closed too: a
    // descriptor nook inherited there is not the caller's to pass on.
    let first_free = 3 + a.preserve_fds as RawFd;
    sys::close_fds_except(3, a.open_fds).step(Step::CloseFds)?;
    done(Step::CloseFds)?;
    // The parent says `Go` twice: once the id maps are written, and once it
    // has moved us into the container's cgroup and set oom_score_adj. The
    // cgroup's first cgroup.procs write waits for an RCU grace period in the
    // kernel (cgroup v1 migration: 1 to 20 ms), so a container's init builds
    // its rootfs meanwhile, in its own new mount namespace, and waits for
    // the second `Go` before anything that must happen inside the cgroup:
    // a new cgroup namespace (its root is the cgroup we are in), a second
    // clone or a hook (a child is born in its parent's cgroup, and the pids
    // limit counts it), any message (they would pass the `Go`), and what
    // the process itself does, opening the console's /dev/ptmx included
    // (the devices cgroup checks opens). All it does before is mounts and
    // mknod of planned nodes (the devices cgroup checks every open later),
    // in the v1 hierarchies it has joined itself already (below); on v2
    // their kernel memory is charged to the caller's cgroup: a few KiB. A
    // `tmpcopyup` mount copies the image's files into memory, which is the
    // container's to pay: then the init waits first.
    wait_go(a.sync)?;
    done(Step::Sync)?;
    // Single-threaded, we move ourselves into the v1 hierarchies: the
    // kernel does that without the global lock (and its grace period) that
    // a move by the parent takes. Before anything else, so all that
    // follows is charged and limited there, as when the parent moves us.
    for (i, fd) in a.cgroup_tasks.iter().enumerate() {
        sys::write_all(fd.as_fd(), b"0").step_at(Step::CgroupJoin, i)?;
    }
    let mut in_cgroup = false;
    let mut joined = || -> Result<(), ChildError> {
        if !in_cgroup {
            wait_go(a.sync)?;
            in_cgroup = true;
        }
        Ok(())
    };
    let overlap = match a.mode {
        Mode::Create { mounts, .. } => !mounts.mounts.iter().any(|m| m.tmpcopyup),
        Mode::Exec => false,
    };
    if !overlap || ns.unshare_late != 0 || ns.intermediate.is_some() {
        joined()?;
    }
    // Non-dumpable before we join namespaces where container processes
    // run (CVE-2019-5736): a root parent made us so from birth; a rootless
    // one could not (it had to write our id maps). Inherited by the second
    // clone. A rootless init stays dumpable, as runc's does: its user must
    // reach /proc/PID/ns of a created container (exec, hooks, engines),
    // which the kernel gives only to CAP_SYS_PTRACE on the host otherwise;
    // what its container can reach through it is that user's own (and a
    // program that user could write is re-executed sealed: see crate::exe).
    if let Mode::Exec = a.mode {
        sys::set_dumpable(false).step(Step::Dumpable)?;
        done(Step::Dumpable)?;
    }
    namespaces::enter(ns, a.ns_fds).map_err(|(i, e)| ChildError::new(Step::JoinNamespace, i, e))?;
    done(Step::JoinNamespace)?;
    // The parent has moved us into the container's cgroup by now, so a new
    // cgroup namespace gets that cgroup as its root.
    if ns.unshare_late != 0 {
        sys::unshare(ns.unshare_late).step(Step::UnshareNamespace)?;
        done(Step::UnshareNamespace)?;
    }
    namespaces::prepare_time(ns).step(Step::TimeNamespace)?;
    done(Step::TimeNamespace)?;
    if let Some(flags) = ns.intermediate {
        second_clone(a.sync, flags)?;
        done(Step::SecondClone)?;
    }
    sys::setsid().step(Step::Setsid)?;
    done(Step::Setsid)?;
    if let Some(name) = a.keyring {
        // The keyring is created with the process's SELinux label (runc's order).
        crate::lsm::set_keyring_label(&a.process.lsm)?;
        // Kernels without keyrings (ENOSYS) run containers without one, as with runc.
        match sys::join_session_keyring(name) {
            Ok(()) | Err(libc::ENOSYS) => {}
            Err(e) => return Err(ChildError::new(Step::Keyring, 0, e)),
        }
        done(Step::Keyring)?;
    }
    if let Mode::Create {
        mounts,
        detached,
        hooks,
        ..
    } = a.mode
    {
        let root = mounts::setup_rootfs(mounts, detached)?;
        done(Step::Mount)?;
        if let Some(h) = hooks {
            joined()?;
            // The parent runs prestart and createRuntime meanwhile.
            Message::Hooks.send(a.sync).step(Step::Sync)?;
            wait_go(a.sync)?;
            hooks::run_in_init(
                h.create_container,
                h.creating,
                Some(&mounts.rootfs),
                Step::CreateContainerHook,
                Step::CreateContainerHookStatus,
            )?;
            done(Step::CreateContainerHook)?;
        }
        mounts::enter_rootfs(mounts, root.as_fd())?;
        done(Step::PivotRoot)?;
    }
    // In the container now: its namespaces' descriptors and the detached
    // mounts (host directories) are done with.
    sys::close_fds_except(first_free, a.kept_fds).step(Step::CloseFds)?;
    if a.process.terminal {
        joined()?;
        setup_console(a)?;
    }
    if let Mode::Create { mounts, .. } = a.mode {
        process::apply_system(a.process)?;
        done(Step::Sysctl)?;
        mounts::finish_rootfs(mounts)?;
        done(Step::MaskPath)?;
        mounts::reopen_dev_null(mounts)?;
    }
    joined()?;
    process::apply_rlimits(a.process)?;
    done(Step::Rlimit)?;
    crate::sched::apply(&a.process.sched)?;
    done(Step::Scheduling)?;
    // Signals, blocked since the clone (the handlers were reset first
    // thing), are unblocked before any filter could deny rt_sigprocmask:
    // from here on a signal acts on us as on the process we become, in
    // every configuration alike.
    sys::set_sigmask(false);

    // HOME from the container's /etc/passwd, with all mounts in place and
    // while we are still root, as runc does.
    if let Some(slot) = a.home {
        process::fill_home(a.process, slot);
    }
    // The cwd before any filter (see process::enter_cwd), as root first.
    let cwd_as_user = match process::enter_cwd(a.process) {
        Ok(()) => false,
        Err(e) if e.errno == libc::EACCES => true,
        Err(e) => return Err(e),
    };
    done(Step::Chdir)?;
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, so it
    // must happen before the capabilities are dropped; with it, as late as
    // possible, so the filter constrains nothing of nook's own set-up. A
    // notify listener must reach the parent while it still listens: early too.
    let nnp = a.process.no_new_privileges;
    let late_seccomp = nnp && !a.seccomp.is_some_and(|p| p.has_listener());
    // The AppArmor profile and SELinux label take effect at execve only, so
    // whenever they are written, all nook still does runs in its own
    // domain. They are written as late as the two limits allow: before any
    // filter (nothing of nook's after it), and before Ready, so that a
    // profile the kernel does not know fails `create`, as a missing program
    // does (see process::look_up), and not `start`. As with runc, whose
    // init applies them before its filter and its ready message, the
    // startContainer hooks' programs then run under them too, as under the
    // filter.
    let early_labels = a.seccomp.is_some() && !late_seccomp;
    if let (Some(prog), false) = (a.seccomp, late_seccomp) {
        crate::lsm::apply_exec_labels(&a.process.lsm)?;
        last_own_calls(a)?;
        if let Some(listener) = prog.install().step(Step::Seccomp)? {
            sys::send_fd(a.sync, &Message::SeccompFd.encode(), listener.as_fd()).step(Step::Seccomp)?;
        }
        done(Step::Seccomp)?;
    }
    process::apply_identity(a.process)?;
    done(Step::SetUser)?;
    if cwd_as_user {
        process::enter_cwd(a.process)?;
    }
    process::look_up(a.process)?;
    if !early_labels {
        crate::lsm::apply_exec_labels(&a.process.lsm)?;
    }
    // A container's init installs a late filter before it waits for
    // `start`, as runc does: the startContainer hooks run under it, and a
    // failure is still create's. An exec'd process waits for nothing.
    let late_seccomp = match (a.mode, a.seccomp) {
        (Mode::Create { .. }, Some(prog)) if late_seccomp => {
            last_own_calls(a)?;
            prog.install().step(Step::Seccomp)?;
            done(Step::Seccomp)?;
            false
        }
        _ => late_seccomp,
    };
    Message::Ready.send(a.sync).step(Step::Sync)?;

    match a.mode {
        Mode::Create {
            exec_listener, hooks, ..
        } => {
            // Block until `start` connects (runc's exec.fifo). The first
            // connection releases us, whoever made it; the listener stays
            // open until execve closes it, which is how `status` tells
            // created from running. The connection is moved above the
            // preserved fds, where it cannot fill a hole (see spawn); the
            // accepted descriptor closes at the end of the block.
            let conn = {
                let accepted = sys::accept(exec_listener).step(Step::ExecFifo)?;
                sys::dup_above(accepted.as_fd(), 3 + a.preserve_fds as i32).step(Step::ExecFifo)?
            };
            // `start` may have died after connecting: it was still a
            // start, so a failed send does not stop us.
            let _ = sys::send(conn.as_fd(), b"0");
            let started = done(Step::ExecFifo).and_then(|()| match hooks {
                Some(h) => hooks::run_in_init(
                    h.start_container,
                    h.created,
                    None,
                    Step::StartContainerHook,
                    Step::StartContainerHookStatus,
                )
                .and_then(|()| done(Step::StartContainerHook)),
                None => Ok(()),
            });
            let result = started.err().unwrap_or_else(|| exec(a, late_seccomp));
            // `start` reads the connection until our end closes: tell it why.
            let _ = sys::send(conn.as_fd(), &Message::Failed(result).encode());
            Err(result)
        }
        // The parent reads the sync socket until EOF (it is close-on-exec):
        // the failure record from child_main, or nothing once execve worked.
        Mode::Exec => Err(exec(a, late_seccomp)),
    }
}

/// Waits for the parent's `Go`.
fn wait_go(sync: BorrowedFd<'_>) -> Result<(), ChildError> {
    match Message::recv(sync).step(Step::Sync)? {
        Some(Message::Go) => Ok(()),
        _ => Err(ChildError::new(Step::Sync, 0, libc::EPROTO)),
    }
}

/// Executes the process, installing the filter first if `seccomp_now`.
/// Without any filter, nook's last calls of its own happen here.
fn exec(a: &ChildArgs<'_>, seccomp_now: bool) -> ChildError {
    if seccomp_now || a.seccomp.is_none() {
        if let Err(e) = last_own_calls(a) {
            return e;
        }
    }
    if let (Some(prog), true) = (a.seccomp, seccomp_now) {
        if let Err(e) = prog.install() {
            return ChildError::new(Step::Seccomp, 0, e);
        }
        if let Err(e) = child_reached(a.fault, Step::Seccomp) {
            return e;
        }
    }
    if let Err(e) = child_reached(a.fault, Step::Exec) {
        return e;
    }
    process::exec(a.process, a.argv, a.envp)
}

/// What nook does for the process's execve, right before the user's filter
/// goes in (after it, nothing but execve: a profile may deny anything else,
/// close_range or fcntl for one): the preserved descriptors become
/// inheritable. Every other descriptor above them is nook's own and
/// close-on-exec.
fn last_own_calls(a: &ChildArgs<'_>) -> Result<(), ChildError> {
    // Our fd table is the child's own copy: the caller's flags are untouched.
    // Only what the caller had open: a descriptor opened since in a hole of
    // the range (of the child's own) stays close-on-exec.
    for &fd in a.preserved {
        sys::clear_cloexec(fd).step_at(Step::CloseFds, fd as usize)?;
    }
    Ok(())
}

/// Clones the real init into the pid/time namespaces that only children
/// enter. CLONE_PARENT makes it the runtime's child, so the runtime can
/// wait for it; this process reports its pid and exits, and the new init
/// goes on once the runtime has answered that report.
fn second_clone(sync: BorrowedFd<'_>, flags: libc::c_int) -> Result<(), ChildError> {
    let flags = (flags | libc::CLONE_PARENT) as libc::c_ulong;
    // SAFETY: the new child continues in this function's caller, which only
    // runs allocation-free code until execve or exit (see module docs).
    #[allow(unsafe_code)]
    let pid = unsafe { sys::clone_fork(flags) }.step(Step::SecondClone)?;
    if pid == 0 {
        // Say nothing before the parent knows our pid: a message of ours
        // (a seccomp listener, Hooks, Ready) could otherwise overtake
        // InitPid, and the parent would take the intermediate for the init.
        return wait_go(sync);
    }
    if Message::InitPid(pid).send(sync).is_err() {
        let _ = sys::kill(pid, libc::SIGKILL);
        sys::exit(1)
    }
    sys::exit(0)
}

/// Creates the pty inside the container (its devpts instance), sends the
/// master to the console socket and makes the peer the controlling terminal
/// and stdio, as runc does.
fn setup_console(a: &ChildArgs<'_>) -> Result<(), ChildError> {
    let sock = a.console.ok_or(ChildError::new(Step::Console, 0, libc::EBADF))?;
    let p = a.process;
    let flags = libc::O_RDWR | libc::O_NOCTTY;
    let master = sys::openat(None, c"/dev/ptmx", flags, 0).step(Step::Console)?;
    sys::unlockpt(master.as_fd()).step(Step::Console)?;
    let peer = sys::open_pty_peer(master.as_fd()).step(Step::Console)?;
    if let Some((rows, cols)) = p.console_size {
        sys::set_winsize(peer.as_fd(), rows, cols).step(Step::Console)?;
    }
    sys::fchown_fd(peer.as_fd(), p.uid, u32::MAX).step(Step::Console)?;
    sys::send_fd(sock, b"/dev/ptmx", master.as_fd()).step(Step::Console)?;
    drop(master);
    sys::ioctl_int(peer.as_fd(), libc::TIOCSCTTY, 0).step(Step::Console)?;
    for fd in 0..3 {
        sys::dup_onto(peer.as_fd(), fd).step(Step::Console)?;
    }
    Ok(())
}

//! The sync channel between the runtime (parent) and the container's init.
//!
//! A SOCK_SEQPACKET socketpair carries fixed-size [`Message`]s, so the child
//! can send without allocating and the parent never parses partial records.
//! The protocol, in order:
//!
//! 1. parent -> child `Go`, once the parent has written the id maps, set
//!    oom_score_adj and placed the child in its cgroup;
//! 2. child -> parent `InitPid(pid)`, only when a second clone was needed
//!    (the init is then the parent's child through CLONE_PARENT); the
//!    parent answers `Go`, and the new init says nothing before that, so no
//!    message of its own can overtake the pid;
//! 3. child -> parent `SeccompFd` with the listener attached (SCM_RIGHTS),
//!    only for profiles with NOTIFY rules; the parent hands it to the agent;
//! 4. child -> parent `Hooks` once the mounts are done (before
//!    `pivot_root`), only when the spec has hooks: the parent runs prestart
//!    and createRuntime, writes the state the container-side hooks read,
//!    and answers `Go`; the child then runs createContainer;
//! 5. child -> parent `Ready` when the container is set up and init is about
//!    to block on the exec FIFO, or `Failed(step, index, errno)` at any point.
//!
//! After `Ready` the parent returns from `create`; a failure after that (in
//! exec) is written to the exec FIFO, where `start` reads it. A process
//! exec'd into a running container has no FIFO: it executes right after
//! `Ready`, and the parent reads on until EOF (the socket is close-on-exec),
//! which means execve succeeded, or a `Failed` record, which means it did not.
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::BorrowedFd;

use crate::sys::{self, SysResult};

/// Declares [`Step`] once: each variant with the text its Display prints,
/// and the wire number (its position, from 1) that decodes back to it.
macro_rules! steps {
    ($($name:ident => $text:literal,)*) => {
        /// What the container's init was doing when it failed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        #[allow(missing_docs)] // each variant's Display says what it is
        pub enum Step {
            $($name,)*
        }

        impl Step {
            const ALL: &'static [Step] = &[$(Step::$name,)*];

            fn from_u32(v: u32) -> Step {
                Self::ALL.get((v as usize).wrapping_sub(1)).copied().unwrap_or(Step::Sync)
            }

            fn to_u32(self) -> u32 {
                self as u32 + 1
            }
        }

        impl fmt::Display for Step {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $(Step::$name => $text,)*
                })
            }
        }
    };
}

steps! {
    Sync => "talking to the runtime",
    JoinNamespace => "joining namespace",
    UnshareNamespace => "creating namespaces",
    TimeNamespace => "setting up the time namespace",
    SecondClone => "cloning the container init",
    ResetSignals => "resetting signal handlers",
    MountPropagation => "setting rootfs propagation",
    BindRootfs => "bind-mounting the rootfs onto itself",
    OpenRootfs => "opening the rootfs",
    Mount => "mounting",
    MountRemount => "remounting with flags",
    MountPropagate => "setting mount propagation",
    MountSetattr => "setting recursive mount attributes",
    TmpCopyUp => "copying up into tmpfs",
    CreateDevice => "creating device",
    DevSymlink => "creating /dev symlink",
    PivotRoot => "pivoting into the rootfs",
    MaskPath => "masking path",
    ReadonlyPath => "making path read-only",
    ReadonlyRoot => "making the rootfs read-only",
    Sysctl => "writing sysctl",
    Hostname => "setting hostname",
    Domainname => "setting domainname",
    Console => "setting up the console",
    Rlimit => "setting rlimit",
    Setsid => "creating a session",
    NoNewPrivs => "setting no_new_privs",
    Capabilities => "applying capabilities",
    SetUser => "switching user",
    Chdir => "changing to the working directory",
    Seccomp => "installing seccomp filter",
    ExecFifo => "waiting on the exec fifo",
    CloseFds => "closing inherited fds",
    Exec => "executing the process",
    Keyring => "joining a new session keyring",
    Scheduling => "setting personality, scheduler, I/O priority or CPU affinity",
    CreateContainerHook => "running createContainer hook",
    CreateContainerHookStatus => "createContainer hook exited with status",
    StartContainerHook => "running startContainer hook",
    StartContainerHookStatus => "startContainer hook exited with status",
}

/// A failure in the container's init: the step, the index of the item of
/// that step (mount number, rlimit number, ...) and the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildError {
    /// What was being done.
    pub step: Step,
    /// Which item of the plan (e.g. the index in `mounts`), or 0.
    pub index: u32,
    /// The errno of the failing call.
    pub errno: i32,
}

impl ChildError {
    /// A failure of `step` on item `index`.
    pub fn new(step: Step, index: usize, errno: i32) -> Self {
        ChildError {
            step,
            index: index as u32,
            errno,
        }
    }
}

/// Shorthand used by child code: attach a step (and item) to an errno result.
pub trait StepExt<T> {
    /// Attach `step` and item `index`.
    fn step_at(self, step: Step, index: usize) -> Result<T, ChildError>;
    /// Attach `step` (item 0).
    fn step(self, step: Step) -> Result<T, ChildError>;
}

impl<T> StepExt<T> for SysResult<T> {
    fn step_at(self, step: Step, index: usize) -> Result<T, ChildError> {
        self.map_err(|e| ChildError::new(step, index, e))
    }
    fn step(self, step: Step) -> Result<T, ChildError> {
        self.step_at(step, 0)
    }
}

/// One record on the sync channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// Parent: go on.
    Go,
    /// Child: the container init's host pid (after a second clone).
    InitPid(i32),
    /// Child: set up, about to wait for `start`.
    Ready,
    /// Child: failed.
    Failed(ChildError),
    /// Child: the seccomp notify listener, sent with SCM_RIGHTS.
    SeccompFd,
    /// Child: mounts are done; run prestart and createRuntime, write the
    /// state for the container-side hooks, then send `Go`.
    Hooks,
}

/// Wire size of a message: four little u32/i32 words.
pub const WIRE: usize = 16;

impl Message {
    /// Encodes into a fixed-size record (no allocation).
    pub fn encode(&self) -> [u8; WIRE] {
        let (kind, a, b, c): (u32, u32, u32, i32) = match *self {
            Message::Go => (1, 0, 0, 0),
            Message::InitPid(p) => (2, 0, 0, p),
            Message::Ready => (3, 0, 0, 0),
            Message::Failed(e) => (4, e.step.to_u32(), e.index, e.errno),
            Message::SeccompFd => (5, 0, 0, 0),
            Message::Hooks => (6, 0, 0, 0),
        };
        let mut out = [0u8; WIRE];
        out[0..4].copy_from_slice(&kind.to_le_bytes());
        out[4..8].copy_from_slice(&a.to_le_bytes());
        out[8..12].copy_from_slice(&b.to_le_bytes());
        out[12..16].copy_from_slice(&c.to_le_bytes());
        out
    }

    /// Decodes a record; None for garbage.
    pub fn decode(buf: &[u8; WIRE]) -> Option<Message> {
        let word = |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        Some(match word(0) {
            1 => Message::Go,
            2 => Message::InitPid(word(12) as i32),
            3 => Message::Ready,
            4 => Message::Failed(ChildError {
                step: Step::from_u32(word(4)),
                index: word(8),
                errno: word(12) as i32,
            }),
            5 => Message::SeccompFd,
            6 => Message::Hooks,
            _ => return None,
        })
    }

    /// Sends this message (child-safe).
    pub fn send(&self, fd: BorrowedFd<'_>) -> SysResult<()> {
        sys::write_all(fd, &self.encode())
    }

    /// Receives one message; Ok(None) on EOF (the peer closed or exec'd).
    pub fn recv(fd: BorrowedFd<'_>) -> SysResult<Option<Message>> {
        let mut buf = [0u8; WIRE];
        let n = sys::read(fd, &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        if n != WIRE {
            return Err(libc::EPROTO);
        }
        Message::decode(&buf).map(Some).ok_or(libc::EPROTO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_round_trips() {
        for &s in Step::ALL {
            assert_eq!(Step::from_u32(s.to_u32()), s);
        }
    }

    #[test]
    fn messages_round_trip() {
        for m in [
            Message::Go,
            Message::InitPid(4242),
            Message::Ready,
            Message::Failed(ChildError::new(Step::Exec, 3, libc::ENOENT)),
            Message::Failed(ChildError::new(Step::Sync, 0, 1)),
            Message::SeccompFd,
            Message::Failed(ChildError::new(Step::Keyring, 1, 2)),
            Message::Hooks,
            Message::Failed(ChildError::new(Step::StartContainerHookStatus, 2, 3)),
        ] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
    }
}

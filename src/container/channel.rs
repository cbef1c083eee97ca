//! The sync channel between the runtime (parent) and the container's init.
//!
//! A SOCK_SEQPACKET socketpair carries fixed-size [`Message`]s, so the child
//! can send without allocating and the parent never parses partial records.
//! The protocol, in order:
//!
//! 1. parent -> child `Go`, once the parent has written the id maps, and
//!    `Go` again once it has placed the child in its cgroup and set
//!    oom_score_adj (a container's init builds its rootfs in between: see
//!    init.rs);
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
//!    to wait for `start` on the exec socket, or `Failed(step, index, errno)`
//!    at any point.
//!
//! After `Ready` the parent returns from `create`; a failure after that (in
//! exec) is written to the connection `start` made to the exec socket,
//! where `start` reads it. A process exec'd into a running container has
//! no exec socket: it executes right after
//! `Ready`, and the parent reads on until EOF (the socket is close-on-exec),
//! which means execve succeeded, or a `Failed` record, which means it did not.
#![forbid(unsafe_code)]

use std::os::fd::BorrowedFd;

use crate::step::{ChildError, Step};
use crate::sys::{self, SysResult};

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

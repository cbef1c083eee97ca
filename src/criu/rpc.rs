//! The client side of `criu swrk`: criu as a child process serving one
//! request over a SOCK_SEQPACKET socketpair, as runc drives it.
//!
//! criu gets the socket as its fd 3 and the caller's extra descriptors as
//! fds 4, 5, ... (an `inherit_fd` names them by those numbers). Between
//! the request and the answer criu sends NOTIFY messages (with
//! `notify_scripts`); each is handed to the caller's handler and answered
//! with `notify_success`, or the exchange ends with the handler's error.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use super::proto::{Req, ReqType, Resp};
use crate::error::{Error, Result};
use crate::sys;

/// The largest message criu sends; runc reads into the same 40 KiB.
const MAX_MSG: usize = 10 * 4096;

/// One notification from criu: the step (`setup-namespaces`,
/// `post-restore`, `orphan-pts-master`, ...), the pid it carries, and the
/// descriptor that came with it (the pty master of `orphan-pts-master`).
#[derive(Debug)]
pub struct Notify {
    /// `criu_notify.script`.
    pub script: String,
    /// `criu_notify.pid` (0 when absent).
    pub pid: i32,
    /// A descriptor passed with the message.
    pub fd: Option<OwnedFd>,
}

/// A running `criu swrk`. Dropping it closes the socket (criu then
/// abandons what it was doing: a half-restored tree is killed) and reaps criu.
#[derive(Debug)]
pub struct Swrk {
    child: Child,
    sock: Option<OwnedFd>,
}

impl Swrk {
    /// Starts `criu swrk 3` with `extra` as its fds 4, 5, ...; its stdio
    /// is the caller's with `inherit_stdio` (a restored tree's
    /// `inherit_fd` entries name them), else /dev/null.
    pub fn spawn(extra: Vec<OwnedFd>, inherit_stdio: bool) -> Result<Swrk> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::sys("socketpair(AF_UNIX, SOCK_SEQPACKET)", e))?;
        let floor = 3 + 1 + extra.len() as i32;
        let mut fds = Vec::with_capacity(1 + extra.len());
        for fd in std::iter::once(theirs).chain(extra) {
            let high = sys::dup_above(fd.as_fd(), floor).map_err(|e| {
                Error::sys(
                    format!("fcntl(F_DUPFD_CLOEXEC, {floor})"),
                    nix::errno::Errno::from_raw(e),
                )
            })?;
            fds.push(high);
        }
        let mut cmd = Command::new(super::BINARY);
        cmd.args(["swrk", "3"]);
        if !inherit_stdio {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        }
        sys::command_with_fds(&mut cmd, fds);
        let child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Unsupported {
                what: format!(
                    "checkpoint and restore without criu ({} not found in PATH), so this",
                    super::BINARY
                ),
            },
            _ => Error::io("running", super::BINARY, e),
        })?;
        // Our copies of criu's end close with `cmd`: from now on a criu
        // that dies is seen as EOF.
        drop(cmd);
        Ok(Swrk {
            child,
            sock: Some(ours),
        })
    }

    /// criu's pid (for its cgroup, before a restore).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `req` and serves criu's notifications with `on_notify` until
    /// the final answer, which must be of `req`'s type and successful; then
    /// waits for criu to exit. A failure names criu's `log` (its path on
    /// the host) and ends with the last errors in it.
    pub fn call(
        mut self,
        req: &Req,
        log: &Path,
        mut on_notify: impl FnMut(Notify) -> Result<()>,
    ) -> Result<Resp> {
        let sock = self.sock.as_ref().expect("open until call");
        let fail = |what: String| super::error(what, log);
        sys::send(sock.as_fd(), &req.encode()).map_err(|e| {
            fail(format!(
                "sending the request: {}",
                std::io::Error::from_raw_os_error(e)
            ))
        })?;
        let mut buf = vec![0u8; MAX_MSG];
        let resp = loop {
            let (n, fd) = sys::recv_fd(sock.as_fd(), &mut buf).map_err(|e| {
                fail(format!(
                    "reading its answer: {}",
                    std::io::Error::from_raw_os_error(e)
                ))
            })?;
            if n == 0 {
                return Err(fail("criu exited without an answer".to_string()));
            }
            if n == buf.len() {
                return Err(fail(format!("an answer of more than {MAX_MSG} bytes")));
            }
            let resp = Resp::decode(&buf[..n]).map_err(|e| fail(format!("malformed answer: {e}")))?;
            if !resp.success {
                let mut what = format!("{:?} failed", resp.typ.unwrap_or(ReqType::Empty));
                if let Some(errno) = resp.cr_errno.filter(|&e| e != 0) {
                    what += &format!(": {}", std::io::Error::from_raw_os_error(errno));
                }
                if let Some(msg) = resp.cr_errmsg.as_deref().filter(|m| !m.is_empty()) {
                    what += &format!(": {msg}");
                }
                return Err(fail(what));
            }
            if resp.typ != Some(ReqType::Notify) {
                break resp;
            }
            on_notify(Notify {
                script: resp.notify_script.clone().unwrap_or_default(),
                pid: resp.notify_pid.unwrap_or(0),
                fd,
            })?;
            let ack = Req {
                typ: ReqType::Notify,
                opts: None,
                notify_success: Some(true),
            };
            sys::send(sock.as_fd(), &ack.encode()).map_err(|e| {
                fail(format!(
                    "answering a notification: {}",
                    std::io::Error::from_raw_os_error(e)
                ))
            })?;
        };
        if resp.typ != Some(req.typ) {
            return Err(fail(format!("answered {:?} to {:?}", resp.typ, req.typ)));
        }
        // criu exits once we close our end (a pre-dump server would wait
        // for more requests otherwise).
        self.sock = None;
        let status = self
            .child
            .wait()
            .map_err(|e| Error::io("waiting for", super::BINARY, e))?;
        if !status.success() && req.typ != ReqType::PreDump {
            return Err(fail(format!("criu exited with {status}")));
        }
        Ok(resp)
    }
}

impl Drop for Swrk {
    fn drop(&mut self) {
        if self.sock.take().is_some() {
            let _ = self.child.wait();
        }
    }
}

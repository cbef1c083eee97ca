//! A minimal seccomp agent for the tests: receives the listener fd and the
//! state message, answers one notification.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

/// Receives one fd and the data sent with it.
pub fn recv_with_fd(sock: RawFd) -> (Vec<u8>, OwnedFd) {
    let mut buf = vec![0u8; 16384];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC).unwrap();
    let fd = msg
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("an fd came with the message");
    let n = msg.bytes;
    buf.truncate(n);
    // SAFETY: the fd was just received with SCM_RIGHTS; nothing else owns it.
    (buf, unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A minimal seccomp agent: takes the listener and state from the runtime,
/// then answers the first notification with success, without doing the
/// call. Returns the state message and the notified syscall number.
pub fn agent(sock: UnixListener) -> (serde_json::Value, i32) {
    let (conn, _) = sock.accept().unwrap();
    let (data, listener) = recv_with_fd(conn.as_raw_fd());
    let state: serde_json::Value = serde_json::from_slice(&data).unwrap();

    let mut pfd = [nix::poll::PollFd::new(
        listener.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    assert_eq!(
        nix::poll::poll(&mut pfd, 10_000u16).unwrap(),
        1,
        "no notification within 10 s"
    );
    // SAFETY: seccomp_notif is plain integers; the kernel requires it zeroed.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: NOTIF_RECV fills a seccomp_notif, which `req` is.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) };
    assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    let resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    // SAFETY: NOTIF_SEND reads a seccomp_notif_resp, which `resp` is.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    (state, req.data.nr)
}

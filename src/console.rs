//! The receiving end of `--console-socket`: what an engine does to get the
//! pty master of a container whose process has a terminal, and what the
//! `nook` CLI does itself for a foreground `run` or `exec -t` given no
//! socket (runc's behaviour).
//!
//! nook connects to the socket before it clones the process, which sends
//! the master once it has made the pty, so the socket needs no
//! concurrent accept: the connection and the descriptor wait in its queue
//! until [`ConsoleSocket::receive`].
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sys;

/// A listening console socket in a private temporary directory, removed on drop.
#[derive(Debug)]
pub struct ConsoleSocket {
    dir: PathBuf,
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    /// Binds a new socket in a fresh 0700 directory under the system's
    /// temporary directory. The directory's name is random (mkdtemp): in a
    /// directory everyone may write to, a predictable name is one another
    /// user can take first and so block the terminal.
    pub fn new() -> Result<ConsoleSocket> {
        let template = std::env::temp_dir().join("nook-console-XXXXXX");
        let dir = nix::unistd::mkdtemp(&template)
            .map_err(|e| Error::sys(format!("mkdtemp({})", template.display()), e))?;
        let path = dir.join("console.sock");
        match UnixListener::bind(&path) {
            Ok(listener) => Ok(ConsoleSocket { dir, path, listener }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(Error::io("binding", path, e))
            }
        }
    }

    /// The path to pass as the console socket.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the pty master the container sent. Call it after `create` (or
    /// `exec`) has returned: by then it is waiting in the socket.
    pub fn receive(&self) -> Result<OwnedFd> {
        let (conn, _) = self
            .listener
            .accept()
            .map_err(|e| Error::io("accepting on", &self.path, e))?;
        let mut buf = [0u8; 64];
        match sys::recv_fd(conn.as_fd(), &mut buf) {
            Ok((_, Some(fd))) => Ok(fd),
            Ok((_, None)) => Err(Error::Sys {
                call: format!("recvmsg({}): no pty master", self.path.display()),
                errno: libc::EPROTO,
            }),
            Err(e) => Err(Error::Sys {
                call: format!("recvmsg({})", self.path.display()),
                errno: e,
            }),
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

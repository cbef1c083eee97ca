//! A foreground `run` or `exec -t` whose process has a terminal and no
//! `--console-socket`: as runc does, nook takes the pty master itself and
//! relays between it and its own stdio, with its terminal (if stdin is
//! one) in raw mode so keys reach the container unchanged, and the window
//! size passed on at start and on every SIGWINCH.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::termios::{self, SetArg, Termios};
use nook::console::ConsoleSocket;

/// The relay; dropping it restores the terminal.
pub struct Relay {
    master: std::fs::File,
    saved: Option<Termios>,
    output_done: mpsc::Receiver<()>,
}

impl Relay {
    /// Takes the master from `socket` and starts relaying.
    pub fn start(socket: &ConsoleSocket) -> nook::Result<Relay> {
        let master = std::fs::File::from(socket.receive()?);
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        let relay_in = master.try_clone().map_err(|e| nook::Error::Io {
            action: "duplicating",
            path: "pty master".into(),
            source: e,
        })?;
        // Input ends when our stdin does; the container's terminal stays open.
        std::thread::spawn(move || copy(std::io::stdin().lock(), relay_in));
        let (done, output_done) = mpsc::channel();
        let relay_out = master.try_clone().map_err(|e| nook::Error::Io {
            action: "duplicating",
            path: "pty master".into(),
            source: e,
        })?;
        // Output ends with EIO once the last holder of the pty's other side is gone.
        std::thread::spawn(move || {
            copy(relay_out, std::io::stdout().lock());
            let _ = done.send(());
        });
        let relay = Relay {
            master,
            saved,
            output_done,
        };
        relay.resize();
        Ok(relay)
    }

    /// Gives the container's terminal the size of ours (SIGWINCH).
    pub fn resize(&self) {
        if let Ok((rows, cols)) = nook::sys::get_winsize(std::io::stdin().as_fd()) {
            let _ = nook::sys::set_winsize(self.master.as_fd(), rows, cols);
        }
    }

    /// Waits a little for the output the process left in the pty to reach
    /// our stdout after it exited.
    pub fn drain(&self) {
        let _ = self.output_done.recv_timeout(Duration::from_secs(2));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

fn copy(mut from: impl Read, mut to: impl Write) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
            break;
        }
    }
}

//! Handing the notification listener to the seccomp agent (parent side).
//!
//! The runtime spec (config-linux.md, "The Container Process State") has the
//! runtime connect to `linux.seccomp.listenerPath`, a unix socket, and send
//! one message whose data is the container process state JSON and whose
//! SCM_RIGHTS payload is the listener fd; `fds` names the descriptors in
//! order. runc sends exactly this, so agents written for runc work with nook.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::error::{Error, Result};
use crate::sys;

/// Sends `listener` and the container process state to the agent listening
/// on `listener_path`.
///
/// `state_json` is the container's state (the `nook state` JSON, whose `pid`
/// and `ociVersion` are copied to the top level as the spec requires);
/// `metadata` is `linux.seccomp.listenerMetadata`. The listener is closed on
/// return: once the agent has its copy, the runtime has no use for it.
///
/// The message (a state JSON of about a kilobyte) goes out in one
/// `sendmsg`, as runc sends it: agents read it with a single `recvmsg`.
pub fn send_listener(
    listener: OwnedFd,
    listener_path: &Path,
    state_json: &str,
    metadata: Option<&str>,
) -> Result<()> {
    let state: serde_json::Value = serde_json::from_str(state_json)
        .map_err(|e| Error::config("state", format!("not valid JSON: {e}")))?;
    let field = |name: &str| {
        state
            .get(name)
            .cloned()
            .ok_or_else(|| Error::config(format!("state.{name}"), "missing from the container state"))
    };
    let mut msg = serde_json::json!({
        "ociVersion": field("ociVersion")?,
        "fds": ["seccompFd"],
        "pid": field("pid")?,
        "state": state,
    });
    if let Some(meta) = metadata {
        msg["metadata"] = meta.into();
    }
    let bytes = msg.to_string();
    let sock = UnixStream::connect(listener_path)
        .map_err(|e| Error::io("connecting to the seccomp agent at", listener_path, e))?;
    sys::send_fd(sock.as_fd(), bytes.as_bytes(), listener.as_fd()).map_err(|errno| {
        Error::sys(
            format!("sendmsg({}, SCM_RIGHTS seccompFd)", listener_path.display()),
            nix::errno::Errno::from_raw(errno),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some_fd() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    #[test]
    fn unreachable_agent_is_an_error_naming_the_socket() {
        let err = send_listener(
            some_fd(),
            Path::new("/nonexistent/agent.sock"),
            r#"{"ociVersion":"1.2.0","pid":1}"#,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/agent.sock"), "{err}");
    }

    #[test]
    fn state_without_pid_is_refused_before_connecting() {
        let err = send_listener(
            some_fd(),
            Path::new("/nonexistent"),
            r#"{"ociVersion":"1.2.0"}"#,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Config { field, .. } if field == "state.pid"),
            "{err:?}"
        );
    }
}

//! One error type for the whole library.
//!
//! Every error says which step failed, on which path or resource, and carries
//! the OS errno where there is one, so the CLI, the C ABI and the Go binding
//! can all hand the caller both a readable message and a number to branch on.
//! The wording of the lifecycle errors is the one runc prints, because engines
//! (containerd, podman) match on substrings such as "does not exist",
//! "container not running" and "no such process".
#![forbid(unsafe_code)]

use std::io;
use std::path::PathBuf;

/// Result alias used throughout nook.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A stable, coarse classification of [`Error`]s for callers that branch on
/// the kind of failure rather than its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bundle or the request was invalid; nothing was changed.
    InvalidConfig,
    /// The container does not exist.
    NotFound,
    /// A container with this id already exists.
    AlreadyExists,
    /// The container is not in a state that allows the operation.
    InvalidState,
    /// The feature is not supported by nook or by the running kernel.
    Unsupported,
    /// A system call or file operation failed.
    Os,
}

/// The error returned by every fallible nook operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of config.json (or of a request) has a bad value.
    #[error("invalid configuration: {field}: {reason}")]
    Config {
        /// JSON path of the offending field, e.g. `linux.namespaces[2].type`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The container id is unknown to this state root.
    #[error("container \"{id}\" does not exist")]
    NotFound {
        /// The id asked for.
        id: String,
    },

    /// `create` was asked for an id that is already taken. runc 1.1's
    /// exact words (libcontainer's ErrExist), as engines see them from runc.
    #[error("container with given ID already exists")]
    AlreadyExists {
        /// The id asked for.
        id: String,
    },

    /// The operation needs another container state, e.g. `start` on a
    /// running container, or `kill` on a stopped one ("container not running").
    #[error("{message}")]
    InvalidState {
        /// The container id.
        id: String,
        /// runc's wording for this refusal.
        message: String,
    },

    /// A step of container setup failed in the container's init process,
    /// reported to the parent over the sync socket.
    #[error("container init: {step}: {}", errno_text(*errno))]
    Child {
        /// What the init process was doing, e.g. `mount proc on /proc (mounts[0])`.
        step: String,
        /// The errno the failing system call returned.
        errno: i32,
    },

    /// A system call made by the runtime itself failed.
    #[error("{call}: {}", errno_text(*errno))]
    Sys {
        /// The call with its arguments, strace-style: `mkdir("/run/nook/x", 0o711)`.
        call: String,
        /// The errno it returned.
        errno: i32,
    },

    /// A file operation on the host failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "reading".
        action: &'static str,
        /// The file it was done to.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// A lifecycle hook failed (or could not run, or timed out).
    #[error("error running {hook}: {reason}")]
    Hook {
        /// Which one, e.g. `createRuntime hook #0`.
        hook: String,
        /// How it failed, e.g. `exit status 1, stdout: , stderr: boom`.
        reason: String,
    },

    /// criu failed to checkpoint or restore (or nook failed talking to it).
    #[error("criu failed: {what}\nlog file: {}{tail}", log.display())]
    Criu {
        /// What failed, with criu's errno and message when it gave them.
        what: String,
        /// criu's log (dump.log, restore.log in the work directory).
        log: PathBuf,
        /// The last error lines of the log, each after a newline ("" if none).
        tail: String,
    },

    /// The feature is not supported by nook or by the running kernel.
    #[error("{what} is not supported")]
    Unsupported {
        /// The unsupported feature.
        what: String,
    },
}

/// `strerror` text plus " (os error N)", which is what users grep for.
fn errno_text(errno: i32) -> String {
    io::Error::from_raw_os_error(errno).to_string()
}

impl Error {
    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config { .. } => ErrorKind::InvalidConfig,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::InvalidState { .. } => ErrorKind::InvalidState,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Child { .. }
            | Error::Sys { .. }
            | Error::Io { .. }
            | Error::Hook { .. }
            | Error::Criu { .. } => ErrorKind::Os,
        }
    }

    /// The errno that best describes this error, for C and Go callers.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Config { .. } => libc::EINVAL,
            Error::NotFound { .. } => libc::ENOENT,
            Error::AlreadyExists { .. } => libc::EEXIST,
            Error::InvalidState { .. } => libc::EBUSY,
            Error::Unsupported { .. } => libc::ENOTSUP,
            Error::Child { errno, .. } | Error::Sys { errno, .. } => *errno,
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            // runc's exec of a hook fails as a whole; ECANCELED says "the
            // operation was stopped", which is what a failing hook does.
            Error::Hook { .. } => libc::ECANCELED,
            Error::Criu { .. } => libc::EIO,
        }
    }

    /// A configuration error for `field`.
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A failed runtime system call, described strace-style.
    pub(crate) fn sys(call: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Error::Sys {
            call: call.into(),
            errno: errno as i32,
        }
    }

    /// A failed host file operation.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn state(id: &str, message: impl Into<String>) -> Self {
        Error::InvalidState {
            id: id.to_string(),
            message: message.into(),
        }
    }
}

//! nook: an OCI container runtime.
//!
//! nook takes an OCI bundle (a `config.json` and a root filesystem) and runs
//! it: clone into new namespaces, mounts and `pivot_root`, cgroups,
//! capabilities, seccomp, exec. The same library is exposed as this Rust API,
//! as a C ABI (the `ffi/` crate) and as the runc-compatible `nook` binary.
//!
//! Data flows one way: [`bundle`] loads `config.json`, [`plan`] validates it
//! into an immutable [`plan::Plan`] (the only way to get one), and
//! [`container`] executes a plan. Between `clone` and `execve` the child only
//! runs prepared system calls: no allocation, no locks, no unwinding, so nook
//! is safe to embed in multithreaded programs (including Go through cgo).
//!
//! An unprivileged user gets rootless containers as with runc: a user
//! namespace mapping its own ids, state under `$XDG_RUNTIME_DIR/nook`, and
//! cgroups only where they are delegated to it (see [`rootless`]).
#![deny(unsafe_code)]
#![deny(missing_debug_implementations)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod bundle;
pub mod cgroups;
pub mod console;
pub mod container;
pub mod criu;
pub mod error;
pub mod exe;
pub mod faults;
pub mod features;
pub mod hooks;
pub mod id;
pub mod lsm;
pub mod mounts;
pub mod namespaces;
pub mod plan;
pub mod process;
pub mod procfile;
pub mod rootless;
pub mod sched;
pub mod seccomp;
pub mod step;
pub mod sys;

pub use container::{
    CheckpointOptions, Container, ContainerState, Context, CreateOptions, ExecOptions, ExecProcess,
    RestoreOptions, Status,
};
pub use error::{Error, ErrorKind, Result};

/// The README's code blocks, compiled as doctests so they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

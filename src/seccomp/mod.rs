//! linux.seccomp -> classic BPF, and its installation in the container's init.
//!
//! Contract with the rest of nook (see `plan.rs` and `container/init.rs`):
//! * [`compile`] is pure: it validates the OCI profile (errors name the field,
//!   e.g. `linux.seccomp.syscalls[3].action`) and returns a [`Program`].
//! * [`Program::install`] runs in the forked child: no allocation, no locks.
#![forbid(unsafe_code)]

use oci_spec::runtime::LinuxSeccomp;

use crate::error::Result;
use crate::sys::{self, SysResult};

/// A compiled seccomp filter, ready to install.
#[derive(Debug, Clone)]
pub struct Program {
    /// The BPF instructions.
    pub filter: Vec<libc::sock_filter>,
    /// SECCOMP_FILTER_FLAG_* bits for `seccomp(2)`.
    pub flags: libc::c_ulong,
}

/// Compiles and validates an OCI seccomp profile.
pub fn compile(_profile: &LinuxSeccomp) -> Result<Program> {
    Err(crate::error::Error::Unsupported {
        what: "linux.seccomp".into(),
    })
}

impl Program {
    /// Installs the filter on the calling thread. Child-safe.
    pub fn install(&self) -> SysResult<Option<std::os::fd::OwnedFd>> {
        sys::seccomp_set_filter(&self.filter, self.flags)
    }
}

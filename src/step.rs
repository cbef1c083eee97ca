//! What the child of a `clone` was doing when it failed, as a fixed-size
//! (step, item, errno) record it can build without allocating.
//!
//! Every area that runs code in the child (mounts, process, hooks, sched)
//! reports through these types, and the lifecycle (container/) carries them
//! to the parent over the sync channel; so they live here, below both, and
//! the areas never import the lifecycle.
#![forbid(unsafe_code)]

use std::fmt;

use crate::sys::SysResult;

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
            /// Every step, in wire order.
            pub const ALL: &'static [Step] = &[$(Step::$name,)*];

            /// The step of wire number `v` (unknown numbers read as [`Step::Sync`]).
            pub fn from_u32(v: u32) -> Step {
                Self::ALL.get((v as usize).wrapping_sub(1)).copied().unwrap_or(Step::Sync)
            }

            /// The wire number of this step.
            pub fn to_u32(self) -> u32 {
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
    ExecFifo => "waiting for start on the exec socket",
    CloseFds => "closing inherited fds",
    Exec => "executing the process",
    Keyring => "joining a new session keyring",
    Scheduling => "setting personality, scheduler, I/O priority or CPU affinity",
    CreateContainerHook => "running createContainer hook",
    CreateContainerHookStatus => "createContainer hook exited with status",
    StartContainerHook => "running startContainer hook",
    StartContainerHookStatus => "startContainer hook exited with status",
    Dumpable => "making the process non-dumpable",
    ProcCheck => "checking that /proc is a procfs before writing or mounting under it",
    MountInProc => "refusing a mount destination inside /proc",
    AppArmor => "applying the AppArmor profile of process.apparmorProfile",
    SelinuxLabel => "setting the SELinux exec label of process.selinuxLabel",
    KeyringLabel => "setting the SELinux keyring label of process.selinuxLabel",
    MountLabel => "labelling the mount's root with linux.mountLabel",
    ReopenDevNull => "reopening stdio on the container's /dev/null",
    CgroupJoin => "joining the container's cgroup",
    MountNotDir => "refusing to mount proc or sysfs on anything but an ordinary directory",
    HideHostProcSys => "hiding the host's proc or sysfs mount before the move (--no-pivot)",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_round_trips() {
        for &s in Step::ALL {
            assert_eq!(Step::from_u32(s.to_u32()), s);
        }
    }
}

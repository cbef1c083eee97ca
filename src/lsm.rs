//! Linux security modules: the AppArmor profile and the SELinux labels a
//! container's processes run with, applied as runc applies them.
//!
//! [`LsmPlan::for_host`] validates `process.apparmorProfile` and
//! `process.selinuxLabel` in the parent and prepares the exact bytes the
//! kernel wants; [`apply_exec_labels`] and [`set_keyring_label`] run in the
//! child and only make system calls. Both process labels are "on exec"
//! attributes: the kernel switches to them at the process's execve, so all
//! of nook's own set-up still runs in nook's domain, whenever they are
//! written.
//!
//! What the host supports decides what a label means:
//! - AppArmor: a profile on a host where AppArmor is off is refused, naming
//!   the field: the process would otherwise run unconfined. `unconfined` is
//!   a profile name like any other, written as runc writes it.
//! - SELinux: without SELinux a label means nothing, and the same config
//!   runs on SELinux and non-SELinux hosts alike, so labels are accepted
//!   and ignored there (crun does the same). With SELinux, the process label
//!   becomes the exec and keyring-creation label, and `linux.mountLabel`
//!   the `context=` option of the new filesystems that take one (see
//!   [`mount_labeling`]).
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};

use oci_spec::runtime::Process;

use crate::error::{Error, Result};
use crate::mounts::procfs;
use crate::step::{ChildError, Step, StepExt};
use crate::sys;

/// The LSMs the running kernel enforces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Host {
    /// AppArmor is enabled (`/sys/module/apparmor/parameters/enabled` is `Y`).
    pub apparmor: bool,
    /// SELinux is enabled (selinuxfs is mounted at `/sys/fs/selinux`).
    pub selinux: bool,
}

impl Host {
    /// What the running kernel enforces, read from sysfs: the files libapparmor
    /// and libselinux read (securityfs need not be mounted to write a
    /// profile name, so unlike runc's check it is not asked for).
    pub fn detect() -> Host {
        Host {
            apparmor: std::fs::read("/sys/module/apparmor/parameters/enabled")
                .is_ok_and(|s| s.first() == Some(&b'Y')),
            selinux: std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        }
    }
}

/// The labels of one process, as the bytes to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LsmPlan {
    /// `exec NAME`, for `attr/apparmor/exec` (what libapparmor's
    /// `aa_change_onexec` writes).
    pub apparmor_exec: Option<CString>,
    /// The SELinux label, for `attr/exec` and `attr/keycreate`; None where
    /// SELinux is off.
    pub selinux_label: Option<CString>,
}

fn label_bytes(field: &str, value: &str) -> Result<CString> {
    CString::new(value).map_err(|_| Error::config(field, "contains a NUL byte"))
}

impl LsmPlan {
    /// Validates the labels of `p` for a kernel that enforces `host`.
    pub fn for_host(p: &Process, host: Host) -> Result<LsmPlan> {
        let set = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let apparmor_exec = match set(p.apparmor_profile()) {
            None => None,
            Some(name) if !host.apparmor => {
                return Err(Error::config(
                    "process.apparmorProfile",
                    format!("{name:?}: AppArmor is not enabled on this host"),
                ))
            }
            Some(name) => Some(label_bytes("process.apparmorProfile", &format!("exec {name}"))?),
        };
        let selinux_label = match set(p.selinux_label()) {
            Some(label) => {
                let bytes = label_bytes("process.selinuxLabel", &label)?;
                host.selinux.then_some(bytes)
            }
            None => None,
        };
        Ok(LsmPlan {
            apparmor_exec,
            selinux_label,
        })
    }

    /// The AppArmor profile name, for messages.
    pub fn apparmor_profile(&self) -> Option<String> {
        let exec = self.apparmor_exec.as_ref()?.to_string_lossy();
        exec.strip_prefix("exec ").map(str::to_string)
    }
}

/// `linux.mountLabel`, validated, where it applies: None where SELinux is
/// off (a kernel without it refuses the `context=` option) or no label is
/// set. A label is checked on every host, so a config that is wrong on an
/// SELinux host is wrong everywhere.
pub fn mount_label(label: Option<&str>, host: Host) -> Result<Option<&str>> {
    const FIELD: &str = "linux.mountLabel";
    let Some(label) = label.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if label.contains('\0') {
        return Err(Error::config(FIELD, "contains a NUL byte"));
    }
    if label.contains('"') {
        return Err(Error::config(
            FIELD,
            "contains a '\"', which no SELinux label has",
        ));
    }
    Ok(host.selinux.then_some(label))
}

/// The mount label as the option runc passes (`label.FormatMountLabel`):
/// `context="LABEL"`, quoted because an MCS label has commas (`s0:c1,c2`)
/// and the kernel splits mount data on them.
pub fn context_option(label: &str) -> String {
    format!("context=\"{label}\"")
}

/// How a new mount of filesystem type `fstype` gets the mount label, as in
/// runc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountLabeling {
    /// Not at all: proc and sysfs, which SELinux labels itself.
    None,
    /// As the `security.selinux` attribute of the mount's root, set after
    /// the mount: mqueue (runc's `label.SetFileLabel`).
    RootXattr,
    /// As the `context=` option of the mount.
    Context,
}

/// How a new filesystem of type `fstype` takes the mount label (bind
/// mounts take none: they have no filesystem options).
pub fn mount_labeling(fstype: &str) -> MountLabeling {
    match fstype {
        "proc" | "sysfs" => MountLabeling::None,
        "mqueue" => MountLabeling::RootXattr,
        _ => MountLabeling::Context,
    }
}

// ------------------------------------------------------------------- child

const WRONLY: libc::c_int = libc::O_WRONLY;

/// Child: the labels the process gets at its execve, written to this
/// thread's attributes (`/proc/thread-self/attr/...`) through a /proc
/// verified to be a procfs (see [`procfs`]), so nothing mounted over it
/// can take the write and leave the process unconfined.
///
/// AppArmor's own attribute directory (`attr/apparmor/`, Linux 5.8) comes
/// first, the shared `attr/exec` of older kernels after, as in runc.
pub fn apply_exec_labels(plan: &LsmPlan) -> Result<(), ChildError> {
    if plan.apparmor_exec.is_none() && plan.selinux_label.is_none() {
        return Ok(());
    }
    let proc = procfs::open_proc_root().step(Step::ProcCheck)?;
    if let Some(exec) = &plan.apparmor_exec {
        let f = match procfs::open_thread_self(proc.as_fd(), c"thread-self/attr/apparmor/exec", WRONLY) {
            Err(libc::ENOENT) => procfs::open_thread_self(proc.as_fd(), c"thread-self/attr/exec", WRONLY),
            other => other,
        }
        .step(Step::AppArmor)?;
        sys::write_all(f.as_fd(), exec.as_bytes()).step(Step::AppArmor)?;
    }
    if let Some(label) = &plan.selinux_label {
        write_attr(proc.as_fd(), c"thread-self/attr/exec", label).step(Step::SelinuxLabel)?;
    }
    Ok(())
}

/// Child: the SELinux label of the keyrings this thread creates, set before
/// the init joins (and so creates) the container's session keyring, as
/// runc does. The kernel clears it at execve. A kernel without the
/// attribute (ENOENT) has no keyring labels to set.
pub fn set_keyring_label(plan: &LsmPlan) -> Result<(), ChildError> {
    let Some(label) = &plan.selinux_label else {
        return Ok(());
    };
    let proc = procfs::open_proc_root().step(Step::ProcCheck)?;
    match write_attr(proc.as_fd(), c"thread-self/attr/keycreate", label) {
        Ok(()) | Err(libc::ENOENT) => Ok(()),
        Err(e) => Err(ChildError::new(Step::KeyringLabel, 0, e)),
    }
}

fn write_attr(proc: BorrowedFd<'_>, rel: &std::ffi::CStr, value: &std::ffi::CStr) -> sys::SysResult<()> {
    let f = procfs::open_thread_self(proc, rel, WRONLY)?;
    sys::write_all(f.as_fd(), value.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::ProcessBuilder;

    const BOTH: Host = Host {
        apparmor: true,
        selinux: true,
    };
    const NONE: Host = Host {
        apparmor: false,
        selinux: false,
    };

    fn process(apparmor: Option<&str>, selinux: Option<&str>) -> Process {
        let mut p = ProcessBuilder::default()
            .args(vec!["sh".to_string()])
            .build()
            .unwrap();
        p.set_apparmor_profile(apparmor.map(str::to_string));
        p.set_selinux_label(selinux.map(str::to_string));
        p
    }

    #[test]
    fn labels_become_the_bytes_runc_writes() {
        let p = process(
            Some("docker-default"),
            Some("system_u:system_r:container_t:s0:c1,c2"),
        );
        let plan = LsmPlan::for_host(&p, BOTH).unwrap();
        assert_eq!(plan.apparmor_exec.as_deref(), Some(c"exec docker-default"));
        assert_eq!(
            plan.selinux_label.as_deref(),
            Some(c"system_u:system_r:container_t:s0:c1,c2")
        );
        assert_eq!(plan.apparmor_profile().as_deref(), Some("docker-default"));
        // runc writes "unconfined" like any other name.
        let plan = LsmPlan::for_host(&process(Some("unconfined"), None), BOTH).unwrap();
        assert_eq!(plan.apparmor_exec.as_deref(), Some(c"exec unconfined"));
        // Empty means unset, as in runc.
        let plan = LsmPlan::for_host(&process(Some(""), Some("")), NONE).unwrap();
        assert_eq!(plan, LsmPlan::default());
    }

    #[test]
    fn a_profile_without_apparmor_is_refused_a_label_without_selinux_ignored() {
        let e = LsmPlan::for_host(&process(Some("p"), None), NONE).unwrap_err();
        assert!(
            e.to_string()
                .contains("process.apparmorProfile: \"p\": AppArmor is not enabled"),
            "{e}"
        );
        let plan = LsmPlan::for_host(&process(None, Some("system_u:system_r:container_t:s0")), NONE).unwrap();
        assert_eq!(plan, LsmPlan::default());
        let e = LsmPlan::for_host(&process(Some("a\0b"), None), BOTH).unwrap_err();
        assert!(e.to_string().contains("process.apparmorProfile"), "{e}");
    }

    #[test]
    fn the_mount_label_applies_only_with_selinux_as_a_quoted_context_option() {
        let label = "system_u:object_r:container_file_t:s0:c1,c2";
        assert_eq!(mount_label(Some(label), BOTH).unwrap(), Some(label));
        assert_eq!(
            context_option(label),
            "context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(mount_label(Some(label), NONE).unwrap(), None);
        assert_eq!(mount_label(Some(""), BOTH).unwrap(), None);
        assert_eq!(mount_label(None, BOTH).unwrap(), None);
        let e = mount_label(Some("a\"b"), NONE).unwrap_err();
        assert!(e.to_string().contains("linux.mountLabel"), "{e}");
        assert_eq!(mount_labeling("tmpfs"), MountLabeling::Context);
        assert_eq!(mount_labeling("devpts"), MountLabeling::Context);
        assert_eq!(mount_labeling("mqueue"), MountLabeling::RootXattr);
        assert_eq!(mount_labeling("proc"), MountLabeling::None);
        assert_eq!(mount_labeling("sysfs"), MountLabeling::None);
    }
}

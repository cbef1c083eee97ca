//! The runtime's executable as a container could reach it (CVE-2019-5736).
//!
//! A process of nook's that a container can see (an exec child before its
//! execve, a created container's init before `start`) runs the caller's
//! executable: `/proc/PID/exe` of it is the host's nook binary (or, for a
//! program embedding the library, that program). Such a process is
//! non-dumpable until its execve, so the kernel refuses `/proc/PID/exe`
//! (and fd, cwd, root, mem, ptrace) to anyone without CAP_SYS_PTRACE in
//! the user namespace of its mm, which is the host's. The container that
//! still gets through is one without a user namespace of its own whose
//! processes may hold CAP_SYS_PTRACE; and a rootless container's init
//! stays dumpable (its user must reach its namespaces), so there the
//! container's root, which is that user, gets through too, and can write
//! whatever that user can. For those the executable must be one that
//! cannot be written through that link: [`reexec_sealed`] makes it so,
//! and the library refuses such a container while it is not.
//!
//! A clone cannot swap its `/proc/PID/exe` for a safe one:
//! `PR_SET_MM_EXE_FILE` needs CAP_SYS_RESOURCE and the old executable
//! unmapped, which a running program cannot do; so the whole program
//! re-executes from a sealed image once, at startup.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::AccessFlags;
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxNamespaceType, Process, Spec};

use crate::error::{Error, Result};
use crate::sys;

/// Set in the environment of the re-executed image, removed at once by it.
const MARKER: &str = "_NOOK_SEALED_EXE";

/// `MOUNT_ATTR_RDONLY` of `mount_setattr(2)`.
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// Whether starting a process of container `spec` (its init, or the
/// process `exec` exec'd into it) needs the running executable sealed:
/// [`host_ptrace_possible`], or, for a rootless container's init (which
/// stays dumpable, as runc's does, so its user can reach its namespaces),
/// the unprivileged caller can write the executable, and so could the
/// container's root, which is that user.
pub fn needs_sealed_exe(spec: &Spec, exec: Option<&Process>) -> bool {
    let may_ptrace = |p: &Process| caps_may_ptrace(p.capabilities().as_ref());
    host_ptrace_possible(spec)
        || exec.is_some_and(|p| !has_userns(spec) && may_ptrace(p))
        || exec.is_none() && rootless_writable()
}

/// Whether a process of container `spec` could open `/proc/PID/exe` of a
/// non-dumpable nook process: no user namespace of its own, and
/// CAP_SYS_PTRACE in the init's bounding set (no `capabilities` at all
/// means none, see [`crate::process::ProcessPlan::caps`]).
pub fn host_ptrace_possible(spec: &Spec) -> bool {
    let caps = spec.process().as_ref().and_then(|p| p.capabilities().as_ref());
    !has_userns(spec) && caps_may_ptrace(caps)
}

fn has_userns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User))
}

fn caps_may_ptrace(caps: Option<&LinuxCapabilities>) -> bool {
    caps.is_some_and(|c| {
        c.bounding()
            .as_ref()
            .is_some_and(|b| b.contains(&Capability::SysPtrace))
    })
}

/// An unprivileged caller that can write the running executable.
pub fn rootless_writable() -> bool {
    !nix::unistd::geteuid().is_root() && nix::unistd::access("/proc/self/exe", AccessFlags::W_OK).is_ok()
}

/// Whether the running executable cannot be written through
/// `/proc/self/exe`: it lies on a read-only mount (or filesystem), or it is
/// a memfd sealed against writes.
pub fn is_sealed() -> Result<bool> {
    let exe = File::open("/proc/self/exe").map_err(|e| Error::io("opening", "/proc/self/exe", e))?;
    let fs = fstatvfs(&exe).map_err(|e| Error::sys("fstatvfs(/proc/self/exe)", e))?;
    if fs.flags().contains(FsFlags::ST_RDONLY) {
        return Ok(true);
    }
    // Anything but a memfd answers EINVAL.
    let seals = fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS).unwrap_or(0);
    Ok(SealFlag::from_bits_truncate(seals).contains(SealFlag::F_SEAL_WRITE))
}

/// Re-executes the running program from a sealed image of itself, unless
/// it runs from one already; returns in the sealed image (where it removes
/// the marker it set in the environment), or with an error.
///
/// A program that embeds nook and creates containers whose processes may
/// hold CAP_SYS_PTRACE without a user namespace of their own calls this at
/// the start of `main`, before it starts threads or opens descriptors it
/// relies on (they survive only if not close-on-exec): `create` and `exec`
/// refuse such a container otherwise, since a container process could
/// open `/proc/PID/exe` of nook's process and overwrite the program on the
/// host once it exits.
///
/// The image is a detached, read-only bind mount of the executable
/// (`open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_RDONLY)`,
/// executed with `execveat(AT_EMPTY_PATH)`): nothing is copied, and a
/// write through the link fails with EROFS. Where the mount API is
/// refused (no CAP_SYS_ADMIN), a copy in a memfd sealed against writes,
/// growing and shrinking.
pub fn reexec_sealed() -> Result<()> {
    if std::env::var_os(MARKER).is_some() {
        std::env::remove_var(MARKER);
        if !is_sealed()? {
            return Err(Error::sys(
                "re-executing from a sealed image",
                nix::errno::Errno::EROFS,
            ));
        }
        // execveat named the process after the descriptor ("3"); give it back its name.
        if let Some(arg0) = std::env::args_os().next() {
            let base = std::path::Path::new(&arg0)
                .file_name()
                .unwrap_or(OsStr::new("nook"));
            let name = &base.as_bytes()[..base.len().min(15)];
            if let Ok(name) = CString::new(name) {
                let _ = nix::sys::prctl::set_name(&name);
            }
        }
        return Ok(());
    }
    if is_sealed()? {
        return Ok(());
    }
    let image = match read_only_mount() {
        Ok(fd) => fd,
        Err(_) => sealed_memfd()?,
    };
    let cstr =
        |s: &OsStr| CString::new(s.as_bytes()).map_err(|_| Error::config("argv", "contains a NUL byte"));
    let args = std::env::args_os()
        .map(|a| cstr(&a))
        .collect::<Result<Vec<_>>>()?;
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        env.push(cstr(OsStr::from_bytes(&kv))?);
    }
    env.push(CString::new(format!("{MARKER}=1")).expect("no NUL"));
    let e = nix::unistd::fexecve(image.as_raw_fd(), &args, &env).unwrap_err();
    Err(Error::sys("execveat(sealed image of /proc/self/exe)", e))
}

/// A detached read-only bind mount of the executable.
fn read_only_mount() -> sys::SysResult<OwnedFd> {
    let fd = sys::open_tree(c"/proc/self/exe", sys::OPEN_TREE_CLONE)?;
    let attr = sys::MountAttr {
        set: MOUNT_ATTR_RDONLY,
        clr: 0,
    };
    sys::mount_setattr(fd.as_fd(), false, attr)?;
    Ok(fd)
}

/// A copy of the executable in a memfd sealed against any change.
fn sealed_memfd() -> Result<OwnedFd> {
    let flags = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
    let fd = memfd_create(c"nook", flags).map_err(|e| Error::sys("memfd_create(nook)", e))?;
    let mut src = File::open("/proc/self/exe").map_err(|e| Error::io("opening", "/proc/self/exe", e))?;
    let mut dst = File::from(fd);
    std::io::copy(&mut src, &mut dst).map_err(|e| Error::io("copying", "/proc/self/exe", e))?;
    let seals =
        SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE;
    fcntl(dst.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals)).map_err(|e| Error::sys("fcntl(F_ADD_SEALS)", e))?;
    Ok(OwnedFd::from(dst))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::parse_spec;

    fn spec(caps: &str, namespaces: &str) -> Spec {
        let text = format!(
            r#"{{"ociVersion":"1.2.0","process":{{"cwd":"/","user":{{"uid":0,"gid":0}},"args":["sh"]{caps}}},
                "linux":{{"namespaces":[{namespaces}]}}}}"#
        );
        parse_spec(text.as_bytes()).unwrap()
    }

    #[test]
    fn only_cap_sys_ptrace_on_the_host_needs_a_sealed_exe() {
        let pid = r#"{"type":"pid"}"#;
        let user = r#"{"type":"pid"},{"type":"user"}"#;
        let ptrace = r#","capabilities":{"bounding":["CAP_KILL","CAP_SYS_PTRACE"]}"#;
        let kill = r#","capabilities":{"bounding":["CAP_KILL"]}"#;
        // No capabilities at all: none.
        assert!(!host_ptrace_possible(&spec("", pid)));
        assert!(host_ptrace_possible(&spec(ptrace, pid)));
        assert!(!host_ptrace_possible(&spec(kill, pid)));
        assert!(!host_ptrace_possible(&spec(ptrace, user)));
        let exec: Process = serde_json::from_str(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"],"capabilities":{"bounding":["CAP_SYS_PTRACE"]}}"#,
        )
        .unwrap();
        assert!(needs_sealed_exe(&spec(kill, pid), Some(&exec)));
        assert!(!needs_sealed_exe(&spec(kill, user), Some(&exec)));
    }
}

//! The container's /dev: default device nodes, linux.devices and the
//! standard symlinks, created inside the tmpfs the spec mounts on /dev.
//!
//! In a user namespace `mknod` of a device is refused, so the host's node is
//! bind-mounted onto an empty file instead (as runc does). The host path is
//! the entry's own path, so it must be a device node under the host's /dev
//! with the entry's type and number: checked in the plan (naming the entry)
//! and again in the child on the descriptor that is bound.
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::procfs;
use super::resolve::{open_dest, Create, Dest};
use crate::error::{Error, Result};
use crate::step::{ChildError, Step, StepExt};
use crate::sys::{self, FdPath, SysResult};

/// One device node to create.
#[derive(Debug, Clone)]
pub struct DeviceOp {
    /// Where, in the container.
    pub dest: Dest,
    /// Its parent directory (resolved in the child to create the node in).
    pub parent: Dest,
    /// File type and permission bits (S_IFCHR | 0o666 ...).
    pub mode: u32,
    /// Device number.
    pub rdev: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// The same device on the host, bind-mounted when mknod is not allowed.
    pub host: CString,
}

/// The devices every container gets (runc's list).
const DEFAULTS: [(&str, u32, u32); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Symlinks created in /dev: (name, target).
pub const SYMLINKS: [(&std::ffi::CStr, &std::ffi::CStr); 5] = [
    (c"fd", c"/proc/self/fd"),
    (c"stdin", c"/proc/self/fd/0"),
    (c"stdout", c"/proc/self/fd/1"),
    (c"stderr", c"/proc/self/fd/2"),
    (c"ptmx", c"pts/ptmx"),
];

/// Validates `linux.devices` and merges it with the default devices
/// (a spec entry replaces a default with the same path). With `bind_host`
/// (a user namespace, where nodes are bind-mounted from the host), each
/// entry's host node is checked too.
pub fn plan(devices: &[LinuxDevice], bind_host: bool) -> Result<Vec<DeviceOp>> {
    let mut ops = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let field = format!("linux.devices[{i}]");
        let dest = Dest::new(d.path()).map_err(|r| Error::config(format!("{field}.path"), r))?;
        if !dest.path.starts_with("/dev/") {
            return Err(Error::config(format!("{field}.path"), "must be under /dev"));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::config(format!("{field}.type"), "must be c, b, u or p"));
            }
        };
        // The bound of a cgroup device rule (BPF immediates are signed 32-bit).
        let max = i64::from(i32::MAX);
        if d.major() < 0 || d.minor() < 0 || d.major() > max || d.minor() > max {
            return Err(Error::config(
                format!("{field}.major"),
                "major and minor must be 0..2^31",
            ));
        }
        let perm = d.file_mode().unwrap_or(0o666);
        if perm & !0o7777 != 0 {
            return Err(Error::config(
                format!("{field}.fileMode"),
                "holds more than permission bits",
            ));
        }
        let rdev = libc::makedev(d.major() as u32, d.minor() as u32);
        let host = if bind_host && kind != libc::S_IFIFO {
            host_node(&dest.path, kind, rdev).map_err(|r| Error::config(format!("{field}.path"), r))?
        } else {
            cstring(&dest.path)
        };
        ops.push(DeviceOp {
            host,
            parent: parent_dest(&dest),
            dest,
            mode: kind | perm,
            rdev,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    for (path, major, minor) in DEFAULTS {
        if ops.iter().any(|o| o.dest.path == Path::new(path)) {
            continue;
        }
        let dest = Dest::new(Path::new(path)).expect("static device path");
        ops.push(DeviceOp {
            host: cstring(&dest.path),
            parent: parent_dest(&dest),
            dest,
            mode: libc::S_IFCHR | 0o666,
            rdev: libc::makedev(major, minor),
            uid: 0,
            gid: 0,
        });
    }
    Ok(ops)
}

/// The host's node for an entry that is bind-mounted: `path` with its
/// symlinks resolved must still be under /dev and be a device of `kind`
/// numbered `rdev`, so the bind can only ever show the container that
/// device, not a file of the host (`/dev/shm/x`, a symlink to /etc/shadow).
fn host_node(path: &Path, kind: u32, rdev: u64) -> std::result::Result<CString, String> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(path).map_err(|e| format!("{} on the host: {e}", path.display()))?;
    if !real.starts_with("/dev") || real.starts_with("/dev/shm") || real.starts_with("/dev/mqueue") {
        return Err(format!(
            "{} on the host is {}, not a device node under /dev",
            path.display(),
            real.display()
        ));
    }
    let meta = std::fs::metadata(&real).map_err(|e| format!("{}: {e}", real.display()))?;
    if meta.mode() & libc::S_IFMT != kind || meta.rdev() != rdev {
        return Err(format!(
            "{} on the host is not the {} device {}:{} the entry names",
            real.display(),
            if kind == libc::S_IFBLK {
                "block"
            } else {
                "character"
            },
            libc::major(rdev),
            libc::minor(rdev)
        ));
    }
    Ok(cstring(&real))
}

/// Child: opens the host node `d.host` without following a symlink and
/// checks it is still the device the plan named.
fn open_host_node(d: &DeviceOp) -> SysResult<std::os::fd::OwnedFd> {
    let fd = sys::openat(None, &d.host, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
    let st = sys::fstat(fd.as_fd())?;
    if st.st_mode & libc::S_IFMT != d.mode & libc::S_IFMT || st.st_rdev != d.rdev {
        return Err(libc::ENODEV);
    }
    Ok(fd)
}

/// Fails with EPERM when `fd` is on procfs: /dev nodes never belong there.
fn not_procfs(fd: BorrowedFd<'_>) -> SysResult<()> {
    if procfs::is_procfs(fd)? {
        return Err(libc::EPERM);
    }
    Ok(())
}

/// The parent of a validated `/dev/...` destination.
fn parent_dest(dest: &Dest) -> Dest {
    Dest::new(dest.path.parent().unwrap_or(Path::new("/dev"))).expect("parent of a valid path")
}

fn cstring(p: &Path) -> CString {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).expect("validated path has no NUL")
}

/// Child: creates the devices and /dev symlinks under `root` (before
/// pivot_root). `dev` is the prepared destination of /dev itself.
pub fn create(
    root: BorrowedFd<'_>,
    dev: &Dest,
    devices: &[DeviceOp],
    userns: bool,
) -> Result<(), ChildError> {
    for (i, d) in devices.iter().enumerate() {
        let is_fifo = d.mode & libc::S_IFMT == libc::S_IFIFO;
        if userns && !is_fifo {
            let host = open_host_node(d).step_at(Step::CreateDevice, i)?;
            let target = open_dest(root, &d.dest, Create::File).step_at(Step::CreateDevice, i)?;
            not_procfs(target.as_fd()).step_at(Step::CreateDevice, i)?;
            let tree = sys::open_tree_clone_fd(host.as_fd(), false).step_at(Step::CreateDevice, i)?;
            sys::move_mount(tree.as_fd(), target.as_fd()).step_at(Step::CreateDevice, i)?;
            continue;
        }
        let parent = open_dest(root, &d.parent, Create::Dir).step_at(Step::CreateDevice, i)?;
        not_procfs(parent.as_fd()).step_at(Step::CreateDevice, i)?;
        let name = d
            .dest
            .names
            .last()
            .ok_or(ChildError::new(Step::CreateDevice, i, libc::EINVAL))?;
        match sys::mknodat(parent.as_fd(), name, d.mode, d.rdev) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => return Err(ChildError::new(Step::CreateDevice, i, e)),
        }
        let node = open_dest(root, &d.dest, Create::Nothing).step_at(Step::CreateDevice, i)?;
        // O_PATH fds cannot be fchmod'ed; fchownat(AT_EMPTY_PATH) works on them, and
        // chmod goes through the magic link.
        sys::fchown_fd(node.as_fd(), d.uid, d.gid).step_at(Step::CreateDevice, i)?;
        let path = FdPath::new(node.as_fd());
        sys::chmod(path.as_cstr(), d.mode & 0o7777).step_at(Step::CreateDevice, i)?;
    }
    let dev = open_dest(root, dev, Create::Dir).step(Step::DevSymlink)?;
    not_procfs(dev.as_fd()).step(Step::DevSymlink)?;
    for (i, (name, target)) in SYMLINKS.iter().enumerate() {
        match sys::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => return Err(ChildError::new(Step::DevSymlink, i, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::parse_spec;

    #[test]
    fn defaults_are_merged_and_overridable() {
        let spec = parse_spec(
            br#"{"ociVersion":"1.2.0","linux":{"devices":[
                {"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384},
                {"path":"/dev/fuse","type":"c","major":10,"minor":229}]}}"#,
        )
        .unwrap();
        let ops = plan(spec.linux().as_ref().unwrap().devices().as_ref().unwrap(), false).unwrap();
        assert_eq!(ops.len(), 7);
        let null = ops
            .iter()
            .find(|o| o.dest.path == Path::new("/dev/null"))
            .unwrap();
        assert_eq!(null.mode, libc::S_IFCHR | 0o600);
    }

    #[test]
    fn device_outside_dev_is_rejected() {
        let spec = parse_spec(
            br#"{"ociVersion":"1.2.0","linux":{"devices":[{"path":"/etc/evil","type":"c","major":1,"minor":3}]}}"#,
        )
        .unwrap();
        let err = plan(spec.linux().as_ref().unwrap().devices().as_ref().unwrap(), false).unwrap_err();
        assert!(err.to_string().contains("linux.devices[0].path"), "{err}");
    }
}

//! Checked access to procfs, for the writes and mounts nook makes under
//! /proc (CVE-2019-16884: a volume mounted over part of /proc, or a /proc
//! that is not procfs at all, would otherwise redirect them).
//!
//! The container's init only uses a `/proc` it has verified: the root of a
//! procfs mount (`fstatfs` says `PROC_SUPER_MAGIC` and the inode is the
//! procfs root's, 1), reached without following any symlink. Files under it
//! are opened with `openat2` beneath that directory, without symlinks and
//! without crossing into another mount, so what is opened is a file of that
//! same procfs.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::sys::{self, SysResult};

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// The inode number of a procfs root (`PROC_ROOT_INO`, include/linux/proc_ns.h):
/// no other file of a procfs has it.
const PROC_ROOT_INO: u64 = 1;

/// What a check returns when something is not the procfs it must be.
pub const NOT_PROCFS: sys::Errno = libc::EXDEV;

/// Opens `/proc` of the current root (O_PATH) and checks that it is the
/// root of a procfs mount. EXDEV ([`NOT_PROCFS`]) when it is anything else
/// (a tmpfs or bind mount over it, a symlink, a directory). No allocation.
pub fn open_proc_root() -> SysResult<OwnedFd> {
    let root = sys::openat(None, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    let resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    let proc = match sys::openat2(
        root.as_fd(),
        c"proc",
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        resolve,
    ) {
        Err(libc::ELOOP | libc::ENOTDIR | libc::ENOENT) => return Err(NOT_PROCFS),
        other => other?,
    };
    if !is_procfs(proc.as_fd())? || sys::fstat(proc.as_fd())?.st_ino != PROC_ROOT_INO {
        return Err(NOT_PROCFS);
    }
    Ok(proc)
}

/// Whether `fd` is a file on a procfs.
pub fn is_procfs(fd: BorrowedFd<'_>) -> SysResult<bool> {
    Ok(sys::fs_type(fd)? == sys::PROC_SUPER_MAGIC)
}

/// Opens `rel` (e.g. `sys/net/ipv4/ip_forward`) under the verified procfs
/// root `proc` with `flags`: no symlinks, no `..` above it, no other mount
/// on the way, and the file opened must itself be on procfs.
pub fn open_beneath(proc: BorrowedFd<'_>, rel: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    let resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    let fd = sys::openat2(proc, rel, flags, 0, resolve)?;
    if !is_procfs(fd.as_fd())? {
        return Err(NOT_PROCFS);
    }
    Ok(fd)
}

/// Opens `rel` (`thread-self/attr/...`) under the verified procfs root
/// `proc` like [`open_beneath`], except that procfs's own plain symlinks
/// on the way (`thread-self` -> `PID/task/TID`) are followed. They are the
/// kernel's, on the same procfs (RESOLVE_NO_XDEV: nothing mounted over any
/// part of the path is crossed); magic links stay refused.
pub fn open_thread_self(proc: BorrowedFd<'_>, rel: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    let resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    let fd = sys::openat2(proc, rel, flags, 0, resolve)?;
    if !is_procfs(fd.as_fd())? {
        return Err(NOT_PROCFS);
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_proc_is_verified_and_its_files_open_beneath_it() {
        let proc = open_proc_root().unwrap();
        let f = open_beneath(proc.as_fd(), c"sys/kernel/ostype", libc::O_RDONLY).unwrap();
        let mut buf = [0u8; 16];
        let n = sys::read(f.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"Linux\n");
        // "self" is a symlink: refused, like any other.
        assert_eq!(
            open_beneath(proc.as_fd(), c"self/status", libc::O_RDONLY).unwrap_err(),
            libc::ELOOP
        );
        assert_eq!(
            open_beneath(proc.as_fd(), c"../etc/passwd", libc::O_RDONLY).unwrap_err(),
            libc::EXDEV
        );
    }

    #[test]
    fn thread_self_is_followed_to_this_threads_files() {
        let proc = open_proc_root().unwrap();
        let f = open_thread_self(proc.as_fd(), c"thread-self/comm", libc::O_RDONLY).unwrap();
        let mut buf = [0u8; 32];
        let n = sys::read(f.as_fd(), &mut buf).unwrap();
        let comm = std::fs::read("/proc/thread-self/comm").unwrap();
        assert_eq!(&buf[..n], &comm[..]);
        // Magic links stay refused, and nothing leaves the procfs.
        assert_eq!(
            open_thread_self(proc.as_fd(), c"thread-self/root/etc/passwd", libc::O_RDONLY).unwrap_err(),
            libc::ELOOP
        );
        assert_eq!(
            open_thread_self(proc.as_fd(), c"../etc/passwd", libc::O_RDONLY).unwrap_err(),
            libc::EXDEV
        );
    }

    #[test]
    fn a_directory_that_is_not_procfs_is_refused() {
        let tmp = std::fs::File::open(std::env::temp_dir()).unwrap();
        assert!(!is_procfs(tmp.as_fd()).unwrap());
    }
}

//! The raw system calls nook needs that `nix` lacks or wraps unsafely for a
//! forked child, and the only module allowed to contain `unsafe` besides the
//! FFI crate.
//!
//! Everything here is callable between `clone` and `execve` in the
//! container's init: no function allocates, takes a lock, or formats through
//! `std::fmt`. Errors are plain errno values (`Errno`), because the caller in
//! the child can only ship a number to the parent anyway. Wrappers go straight
//! to `syscall(2)` where glibc's wrapper would do more than the syscall: glibc's
//! `setresuid`/`setgroups` broadcast to every thread of the *parent* (whose
//! thread list the child inherits after a raw clone) and would deadlock.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use libc::{c_int, c_long, c_uint, c_ulong, c_void};

/// A raw errno value, as returned by a failed system call.
pub type Errno = i32;
/// Result of a raw system call: the value, or the errno.
pub type SysResult<T> = Result<T, Errno>;

fn last_errno() -> Errno {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Turns a libc-style return value (negative on failure, errno set) into a result.
fn check(ret: c_long) -> SysResult<c_long> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

fn check_int(ret: c_int) -> SysResult<c_int> {
    check(ret as c_long).map(|v| v as c_int)
}

/// Wraps a freshly returned descriptor.
fn owned(fd: c_long) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel as a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(ptr::null(), CStr::as_ptr)
}

// ---------------------------------------------------------------- processes

/// `clone(flags | SIGCHLD)` without a new stack: fork semantics, so the child
/// continues here on a copy of the caller's stack. Returns 0 in the child.
///
/// Unlike `fork(3)`, this runs no `pthread_atfork` handlers, which may take
/// locks another thread of the caller holds.
///
/// # Safety
/// The caller must only run async-signal-safe, allocation-free code in the
/// child until it calls [`execve`] or [`exit`].
pub unsafe fn clone_fork(flags: c_ulong) -> SysResult<libc::pid_t> {
    // SAFETY: a NULL stack gives fork semantics; the caller upholds the child's restrictions.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as c_ulong,
            ptr::null_mut::<c_void>(),
            ptr::null_mut::<c_void>(),
            ptr::null_mut::<c_void>(),
            0 as c_ulong,
        )
    };
    check(ret).map(|p| p as libc::pid_t)
}

/// Ends the calling process at once, without running destructors or atexit handlers.
pub fn exit(code: c_int) -> ! {
    // SAFETY: _exit never returns and touches no user-space state.
    unsafe { libc::_exit(code) }
}

/// `execve(path, argv, envp)`. Only returns on failure.
///
/// `argv` and `envp` must be NULL-terminated arrays of pointers to C strings
/// that outlive the call (the plan owns them).
pub fn execve(path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno {
    if argv.last() != Some(&ptr::null()) || envp.last() != Some(&ptr::null()) {
        return libc::EINVAL;
    }
    // SAFETY: both arrays are NULL-terminated (checked above) and point to live C strings.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    last_errno()
}

/// Sleeps for `ms` milliseconds (`nanosleep`, restarted on EINTR).
pub fn sleep_ms(ms: u64) {
    let mut ts = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: both pointers refer to the same live timespec, which the kernel
    // updates with the time left when interrupted.
    while unsafe { libc::nanosleep(&ts, &mut ts) } == -1 && last_errno() == libc::EINTR {}
}

/// Has `cmd`'s child get `fds[i]` as its descriptor `3 + i`, and no other
/// of the caller's (all of them are close-on-exec but these copies), as a
/// helper such as `criu swrk 3` expects. Each must be numbered at
/// `3 + fds.len()` or above (see [`dup_above`]), so that no `dup2` onto a
/// target closes a source still to be copied.
pub fn command_with_fds(cmd: &mut std::process::Command, fds: Vec<OwnedFd>) {
    use std::os::unix::process::CommandExt;
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let base = 3;
    debug_assert!(raw.iter().all(|&fd| fd >= base + raw.len() as RawFd));
    // SAFETY: the closure runs in the forked child before execve and makes
    // only dup2 calls (async-signal-safe) on descriptors the `fds` it owns
    // keeps open in the parent until the command is dropped; it does not
    // allocate (`raw` was built before the fork and is only read).
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &fds;
            for (i, &fd) in raw.iter().enumerate() {
                if libc::dup2(fd, base + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// `setsid()`.
pub fn setsid() -> SysResult<()> {
    // SAFETY: no pointers involved.
    check(unsafe { libc::setsid() } as c_long).map(drop)
}

/// `prctl(option, arg2, arg3, 0, 0)`.
pub fn prctl(option: c_int, arg2: c_ulong, arg3: c_ulong) -> SysResult<c_int> {
    // SAFETY: callers only pass integer-argument prctl options.
    check_int(unsafe { libc::prctl(option, arg2, arg3, 0 as c_ulong, 0 as c_ulong) })
}

/// `prlimit64(0, resource, {soft, hard}, NULL)`.
pub fn setrlimit(resource: c_int, soft: u64, hard: u64) -> SysResult<()> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit64 for the duration of the call.
    check(unsafe { libc::syscall(libc::SYS_prlimit64, 0, resource, &lim, ptr::null_mut::<c_void>()) })
        .map(drop)
}

/// `prlimit64(0, resource, NULL, &old)`: the (soft, hard) limits of the caller.
pub fn getrlimit(resource: c_int) -> SysResult<(u64, u64)> {
    let mut old = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `old` is a writable rlimit64 for the duration of the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            0,
            resource,
            ptr::null::<c_void>(),
            &mut old as *mut libc::rlimit64,
        )
    })?;
    Ok((old.rlim_cur, old.rlim_max))
}

/// Resets every signal handler to SIG_DFL. A raw clone inherits the caller's
/// handlers, which must not run in the child; and ignored signals (Rust's
/// runtime ignores SIGPIPE) would stay ignored in the container after execve.
pub fn reset_signal_handlers() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; errors (for signals
        // reserved by libc) are ignored on purpose.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Sets the calling thread's signal mask to `set` (all or nothing) and
/// returns the previous one.
pub fn set_sigmask(block_all: bool) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset/sigemptyset initialise it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers refer to live sigset_t values.
    unsafe {
        if block_all {
            libc::sigfillset(&mut set);
        } else {
            libc::sigemptyset(&mut set);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, &mut old);
    }
    old
}

/// Restores a signal mask returned by [`set_sigmask`].
pub fn restore_sigmask(old: &libc::sigset_t) {
    // SAFETY: `old` is a valid sigset_t.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// `struct sched_attr` of `sched_setattr(2)`, without the util-clamp tail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    /// SCHED_* policy.
    pub policy: u32,
    /// SCHED_FLAG_* bits.
    pub flags: u64,
    /// Nice value (SCHED_OTHER, SCHED_BATCH).
    pub nice: i32,
    /// Static priority (SCHED_FIFO, SCHED_RR).
    pub priority: u32,
    /// SCHED_DEADLINE runtime, deadline and period, in ns.
    pub runtime: u64,
    /// See `runtime`.
    pub deadline: u64,
    /// See `runtime`.
    pub period: u64,
}

/// `sched_setattr(0, attr, 0)` for the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> SysResult<()> {
    #[repr(C)]
    struct Raw {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }
    let raw = Raw {
        size: std::mem::size_of::<Raw>() as u32,
        policy: attr.policy,
        flags: attr.flags,
        nice: attr.nice,
        priority: attr.priority,
        runtime: attr.runtime,
        deadline: attr.deadline,
        period: attr.period,
    };
    // SAFETY: `raw` is a sched_attr (SCHED_ATTR_SIZE_VER0) whose size field matches.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &raw as *const Raw, 0) }).map(drop)
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, prio)`.
pub fn ioprio_set(prio: i32) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, prio) }).map(drop)
}

/// `sched_setaffinity(0, mask)` with a CPU bit mask (bit N = CPU N).
pub fn sched_setaffinity(mask: &[u64]) -> SysResult<()> {
    // SAFETY: pointer and byte length describe the live mask slice.
    check(unsafe {
        libc::syscall(
            libc::SYS_sched_setaffinity,
            0,
            std::mem::size_of_val(mask),
            mask.as_ptr(),
        )
    })
    .map(drop)
}

/// `personality(persona)`.
pub fn personality(persona: u64) -> SysResult<()> {
    // SAFETY: integer argument only.
    check(unsafe { libc::personality(persona as libc::c_ulong) } as c_long).map(drop)
}

/// `umask(mask)`.
pub fn umask(mask: u32) {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) };
}

// -------------------------------------------------------------- credentials

/// `setresuid(uid, uid, uid)` as a raw syscall (this thread only).
pub fn setresuid(uid: u32) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// `setresgid(gid, gid, gid)` as a raw syscall (this thread only).
pub fn setresgid(gid: u32) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// `setgroups(groups)` as a raw syscall (this thread only).
pub fn setgroups(groups: &[u32]) -> SysResult<()> {
    // SAFETY: the pointer and length describe a live slice of gid_t.
    check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) }).map(drop)
}

/// The five capability sets as 64-bit masks (bit N = capability N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapMasks {
    /// Bounding set.
    pub bounding: u64,
    /// Effective set.
    pub effective: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Inheritable set.
    pub inheritable: u64,
    /// Ambient set.
    pub ambient: u64,
}

/// `capset` with version 3 headers: sets effective, permitted and inheritable.
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const V3: u32 = 0x2008_0522;
    let hdr = Header { version: V3, pid: 0 };
    let lo = |m: u64| m as u32;
    let hi = |m: u64| (m >> 32) as u32;
    let data = [
        Data {
            effective: lo(effective),
            permitted: lo(permitted),
            inheritable: lo(inheritable),
        },
        Data {
            effective: hi(effective),
            permitted: hi(permitted),
            inheritable: hi(inheritable),
        },
    ];
    // SAFETY: header and the two-element data array are valid v3 capset structures.
    check(unsafe { libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) }).map(drop)
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`: the session keyring named
/// `name` for this process, so it does not share the caller's keys. The
/// first process (a container's init) creates it; it is then made
/// searchable by its user, as runc does, so a process exec'd into the
/// container finds and joins the same keyring by name.
pub fn join_session_keyring(name: &CStr) -> SysResult<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: c_long = 1;
    const KEYCTL_SETPERM: c_long = 5;
    // Possessor: all; user: view, read, search, link (the kernel's default
    // for a new session keyring, plus search).
    const PERM: c_long = 0x3f1b_0000;
    // SAFETY: valid C string; integer operation code.
    let id = check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })?;
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, PERM) }).map(drop)
}

// ------------------------------------------------------------- namespaces

/// `unshare(flags)`.
pub fn unshare(flags: c_int) -> SysResult<()> {
    // SAFETY: integer argument only.
    check_int(unsafe { libc::unshare(flags) }).map(drop)
}

/// `setns(fd, nstype)`.
pub fn setns(fd: BorrowedFd<'_>, nstype: c_int) -> SysResult<()> {
    // SAFETY: fd is a live descriptor borrowed for the call.
    check_int(unsafe { libc::setns(fd.as_raw_fd(), nstype) }).map(drop)
}

/// `sethostname(name)`.
pub fn sethostname(name: &[u8]) -> SysResult<()> {
    // SAFETY: pointer and length describe a live byte slice.
    check_int(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// `setdomainname(name)`.
pub fn setdomainname(name: &[u8]) -> SysResult<()> {
    // SAFETY: pointer and length describe a live byte slice.
    check_int(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

// ------------------------------------------------------------- files and fds

/// `openat2(dirfd, path, {flags | O_CLOEXEC, mode, resolve})`.
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: c_int,
    mode: u32,
    resolve: u64,
) -> SysResult<OwnedFd> {
    let mut how: libc::open_how = {
        // SAFETY: open_how is plain integers; all-zero is a valid value.
        unsafe { std::mem::zeroed() }
    };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = mode as u64;
    how.resolve = resolve;
    // SAFETY: `how` and `path` are valid for the call; the size matches the struct.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    check(ret).map(owned)
}

/// `openat(dirfd, path, flags | O_CLOEXEC, mode)`; `dirfd` None means AT_FDCWD.
pub fn openat(dirfd: Option<BorrowedFd<'_>>, path: &CStr, flags: c_int, mode: u32) -> SysResult<OwnedFd> {
    let dfd = dirfd.map_or(libc::AT_FDCWD, |f| f.as_raw_fd());
    // SAFETY: path is a valid C string; the mode is passed as the variadic argument.
    let ret = unsafe { libc::openat(dfd, path.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
    check(ret as c_long).map(owned)
}

/// `mkdirat(dirfd, name, mode)`.
pub fn mkdirat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> SysResult<()> {
    // SAFETY: valid fd and C string.
    check_int(unsafe { libc::mkdirat(dirfd.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// `mknodat(dirfd, name, mode, dev)`.
pub fn mknodat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32, dev: u64) -> SysResult<()> {
    // SAFETY: valid fd and C string.
    check_int(unsafe { libc::mknodat(dirfd.as_raw_fd(), name.as_ptr(), mode, dev) }).map(drop)
}

/// `symlinkat(target, dirfd, name)`.
pub fn symlinkat(target: &CStr, dirfd: BorrowedFd<'_>, name: &CStr) -> SysResult<()> {
    // SAFETY: valid fd and C strings.
    check_int(unsafe { libc::symlinkat(target.as_ptr(), dirfd.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// `fchownat(fd, "", uid, gid, AT_EMPTY_PATH)`: chown the file `fd` refers to.
pub fn fchown_fd(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> SysResult<()> {
    // SAFETY: valid fd, empty C string literal.
    check_int(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })
        .map(drop)
}

/// `fchmod(fd, mode)`.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> SysResult<()> {
    // SAFETY: valid fd.
    check_int(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

/// `chmod(path, mode)`.
pub fn chmod(path: &CStr, mode: u32) -> SysResult<()> {
    // SAFETY: valid C string.
    check_int(unsafe { libc::chmod(path.as_ptr(), mode) }).map(drop)
}

/// `fchmodat(dirfd, name, mode, 0)`.
pub fn fchmodat(dirfd: BorrowedFd<'_>, name: &CStr, mode: u32) -> SysResult<()> {
    // SAFETY: valid fd and C string.
    check_int(unsafe { libc::fchmodat(dirfd.as_raw_fd(), name.as_ptr(), mode, 0) }).map(drop)
}

/// `fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW)`.
pub fn lchownat(dirfd: BorrowedFd<'_>, name: &CStr, uid: u32, gid: u32) -> SysResult<()> {
    // SAFETY: valid fd and C string.
    check_int(unsafe {
        libc::fchownat(
            dirfd.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)`.
pub fn lstatat(dirfd: BorrowedFd<'_>, name: &CStr) -> SysResult<libc::stat> {
    // SAFETY: all-zero is a valid `stat`; the kernel fills it in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, C string and stat buffer.
    check_int(unsafe {
        libc::fstatat(
            dirfd.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

/// `stat(path)`, following symlinks.
pub fn stat(path: &CStr) -> SysResult<libc::stat> {
    // SAFETY: all-zero is a valid `stat`; the kernel fills it in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid C string and stat buffer.
    check_int(unsafe { libc::stat(path.as_ptr(), &mut st) })?;
    Ok(st)
}

/// `readlinkat(dirfd, name, buf)`: the target's length in `buf`.
pub fn readlinkat(dirfd: BorrowedFd<'_>, name: &CStr, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: valid fd and C string; buf is writable for its length.
    let n = unsafe {
        libc::readlinkat(
            dirfd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    check(n as c_long).map(|n| n as usize)
}

/// `getdents64(fd, buf)`: raw `linux_dirent64` records; 0 at the end.
pub fn getdents64(fd: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: buf is writable for its length; the kernel writes whole records only.
    check(unsafe { libc::syscall(libc::SYS_getdents64, fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) })
        .map(|n| n as usize)
}

/// `fstat(fd)`.
pub fn fstat(fd: BorrowedFd<'_>) -> SysResult<libc::stat> {
    // SAFETY: all-zero is a valid `stat`; the kernel fills it in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and a pointer to a live stat buffer.
    check_int(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// `fstat` of descriptor number `fd`, which may be closed (EBADF): the
/// stdio descriptors the init inherited, which it does not own.
pub fn fstat_raw(fd: RawFd) -> SysResult<libc::stat> {
    // SAFETY: all-zero is a valid `stat`; the kernel fills it in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat of any number is safe: a closed one yields EBADF.
    check_int(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

/// `fstatvfs(fd)`: the mount flags (`f_flag`, ST_*) of the mount `fd` is on.
pub fn mount_flags(fd: BorrowedFd<'_>) -> SysResult<u64> {
    // SAFETY: all-zero is a valid `statvfs`; the kernel fills it in.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and a pointer to a live statvfs buffer.
    check_int(unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) })?;
    Ok(st.f_flag as u64)
}

/// `read(fd, buf)`, retried on EINTR.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: buf is a live, writable slice of the given length.
        let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match check(r as c_long) {
            Err(libc::EINTR) => continue,
            other => return other.map(|n| n as usize),
        }
    }
}

/// Writes all of `buf` to `fd`, retrying on EINTR and short writes.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        // SAFETY: buf is a live slice of the given length.
        let r = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        match check(r as c_long) {
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(0) => return Err(libc::EIO),
            Ok(n) => buf = &buf[n as usize..],
        }
    }
    Ok(())
}

/// `dup3(fd, target, 0)`: makes `target` a copy of `fd`, without close-on-exec.
pub fn dup_onto(fd: BorrowedFd<'_>, target: RawFd) -> SysResult<()> {
    if fd.as_raw_fd() == target {
        // dup3 refuses equal fds; clear close-on-exec instead.
        // SAFETY: valid fd, integer arguments.
        return check_int(unsafe { libc::fcntl(target, libc::F_SETFD, 0) }).map(drop);
    }
    // SAFETY: valid source fd; `target` is a standard descriptor number the child owns.
    check_int(unsafe { libc::dup3(fd.as_raw_fd(), target, 0) }).map(drop)
}

/// A close-on-exec copy of `fd` numbered `min` or above (`F_DUPFD_CLOEXEC`),
/// to keep nook's own descriptors out of the range the caller preserves.
pub fn dup_above(fd: BorrowedFd<'_>, min: RawFd) -> SysResult<OwnedFd> {
    // SAFETY: valid fd, integer arguments.
    let new = check_int(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) })?;
    // SAFETY: the kernel just created this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Whether descriptor `fd` is open (`F_GETFD` succeeds).
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD takes no argument; an unused fd number just yields EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Clears close-on-exec on `fd` (if it is open): a preserved fd must survive execve.
pub fn clear_cloexec(fd: RawFd) -> SysResult<()> {
    // SAFETY: F_SETFD takes an integer; an unused fd number just yields EBADF.
    match check_int(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }) {
        Err(libc::EBADF) | Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `close_range(first, last, 0)` (Linux 5.9+).
fn close_range(first: c_uint, last: c_uint) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as c_uint) }).map(drop)
}

/// Closes every descriptor numbered `first` or above except those in
/// `keep` (sorted ascending): one `close_range` per gap, or, where the
/// kernel has no close_range (ENOSYS), one `close` per entry of
/// /proc/self/fd (read with getdents64 into a stack buffer). Closing
/// rather than close-on-exec, because a created container's init lives
/// long before its execve.
pub fn close_fds_except(first: RawFd, keep: &[RawFd]) -> SysResult<()> {
    let gaps = || {
        let mut lo = first.max(0) as c_uint;
        for &k in keep {
            let k = k as c_uint;
            if k < lo {
                continue;
            }
            if k > lo {
                close_range(lo, k - 1)?;
            }
            lo = k + 1;
        }
        close_range(lo, c_uint::MAX)
    };
    match gaps() {
        Err(libc::ENOSYS) => close_listed(first, keep),
        r => r,
    }
}

/// The fallback of [`close_fds_except`]: closes what /proc/self/fd lists.
/// Closing entries already listed does not disturb the walk, which goes
/// through the fd table by number.
fn close_listed(first: RawFd, keep: &[RawFd]) -> SysResult<()> {
    let dir = openat(None, c"/proc/self/fd", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    // u64 words keep the dirent64 records aligned.
    let mut buf = [0u64; 512];
    loop {
        // SAFETY: the buffer is writable for its full size in bytes.
        let n = check(unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                std::mem::size_of_val(&buf),
            )
        })? as usize;
        if n == 0 {
            return Ok(());
        }
        // SAFETY: the kernel filled `n` bytes of the buffer, which is plain data.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        let mut at = 0;
        // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        while at + 19 <= n {
            let reclen = u16::from_ne_bytes([bytes[at + 16], bytes[at + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &bytes[at + 19..(at + reclen).min(n)];
            let mut fd: RawFd = 0;
            let mut digits = 0;
            for &b in name.iter().take_while(|&&b| b != 0) {
                if !b.is_ascii_digit() {
                    digits = 0;
                    break;
                }
                fd = fd.saturating_mul(10).saturating_add((b - b'0') as RawFd);
                digits += 1;
            }
            if digits > 0 && fd >= first && fd != dir.as_raw_fd() && keep.binary_search(&fd).is_err() {
                // SAFETY: closing a descriptor number; nothing in the child uses it.
                unsafe { libc::close(fd) };
            }
            at += reclen;
        }
    }
}

/// `prctl(PR_GET_DUMPABLE)`: 0, 1 (SUID_DUMP_USER) or 2 (SUID_DUMP_ROOT).
pub fn dumpable() -> SysResult<c_int> {
    prctl(libc::PR_GET_DUMPABLE, 0, 0)
}

/// `prctl(PR_SET_DUMPABLE, on)`. A non-dumpable process's /proc/PID/{exe,
/// fd, cwd, root, mem} and ptrace are refused to anyone without
/// CAP_SYS_PTRACE in the user namespace of its mm.
pub fn set_dumpable(on: bool) -> SysResult<()> {
    prctl(libc::PR_SET_DUMPABLE, on as c_ulong, 0).map(drop)
}

/// Marks every descriptor from `first` upwards close-on-exec (Linux 5.11+).
fn cloexec_from(first: u32) -> SysResult<()> {
    // SAFETY: integer arguments only; CLOEXEC mode closes nothing.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) })
        .map(drop)
}

/// `ioctl(fd, request, arg)` with an integer argument.
pub fn ioctl_int(fd: BorrowedFd<'_>, request: c_ulong, arg: c_ulong) -> SysResult<c_int> {
    // SAFETY: callers only use requests whose argument is an integer.
    check_int(unsafe { libc::ioctl(fd.as_raw_fd(), request, arg) })
}

/// `ioctl(fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)`: opens the pty peer
/// of master `fd` without a path lookup (Linux 4.13+).
pub fn open_pty_peer(fd: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    const TIOCGPTPEER: c_ulong = 0x5441;
    let flags = (libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) as c_ulong;
    ioctl_int(fd, TIOCGPTPEER, flags).map(|f| owned(f as c_long))
}

/// Unlocks a pty master (`unlockpt`): `ioctl(fd, TIOCSPTLCK, &0)`.
pub fn unlockpt(fd: BorrowedFd<'_>) -> SysResult<()> {
    let zero: c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int, which `zero` is.
    check_int(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSPTLCK, &zero) }).map(drop)
}

/// `ioctl(fd, TIOCSWINSZ, {rows, cols})`.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> SysResult<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct, which `ws` is.
    check_int(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
}

/// Sends one descriptor over a unix socket with SCM_RIGHTS, with `msg` as data.
pub fn send_fd(sock: BorrowedFd<'_>, msg: &[u8], fd: BorrowedFd<'_>) -> SysResult<()> {
    // CMSG_SPACE(sizeof(int)) is 24 on 64-bit; 64 bytes of aligned stack is plenty.
    #[repr(C, align(8))]
    struct CmsgBuf([u8; 64]);
    let mut cbuf = CmsgBuf([0; 64]);
    let mut iov = libc::iovec {
        iov_base: msg.as_ptr() as *mut c_void,
        iov_len: msg.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is valid before we fill it.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = cbuf.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure size computation.
    hdr.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<c_int>() as u32) } as usize;
    // SAFETY: msg_control points at a buffer at least CMSG_SPACE(int) long, so the
    // first header and its data fit; we write exactly one int of data.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&hdr);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<c_int>() as u32) as usize;
        ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), fd.as_raw_fd());
    }
    loop {
        // SAFETY: hdr points at live iovec and control buffers.
        match check(unsafe { libc::sendmsg(sock.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL) } as c_long) {
            Err(libc::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

/// `accept4(listener, SOCK_CLOEXEC)`, retried on EINTR: the next queued
/// connection, blocking until there is one.
pub fn accept(listener: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    loop {
        // SAFETY: NULL address and length pointers are allowed (peer address not wanted).
        let r = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                ptr::null_mut(),
                ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        match check_int(r) {
            Err(libc::EINTR) => continue,
            other => return other.map(|fd| owned(fd as c_long)),
        }
    }
}

/// Sends `msg` as one message with MSG_NOSIGNAL: a peer that is gone gives
/// EPIPE, not a SIGPIPE that would stay pending (signals are blocked) and
/// kill the process once it unblocks them before execve.
pub fn send(sock: BorrowedFd<'_>, msg: &[u8]) -> SysResult<()> {
    loop {
        // SAFETY: msg is a live slice of the given length.
        let r = unsafe {
            libc::send(
                sock.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        match check(r as c_long) {
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(n) if n as usize != msg.len() => return Err(libc::EIO),
            Ok(_) => return Ok(()),
        }
    }
}

/// Receives one message into `buf` and the descriptor it may carry
/// (SCM_RIGHTS, made close-on-exec). Returns the byte count (0 at EOF).
pub fn recv_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> SysResult<(usize, Option<OwnedFd>)> {
    #[repr(C, align(8))]
    struct CmsgBuf([u8; 64]);
    let mut cbuf = CmsgBuf([0; 64]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is valid before we fill it.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = cbuf.0.as_mut_ptr().cast();
    hdr.msg_controllen = cbuf.0.len();
    let n = loop {
        // SAFETY: hdr points at live iovec and control buffers of the given lengths.
        match check(unsafe { libc::recvmsg(sock.as_raw_fd(), &mut hdr, libc::MSG_CMSG_CLOEXEC) } as c_long) {
            Err(libc::EINTR) => continue,
            other => break other? as usize,
        }
    };
    let mut fd = None;
    // SAFETY: the kernel filled msg_control with msg_controllen bytes of
    // well-formed headers; CMSG_* walk only within them.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let raw = ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>());
                // The kernel just installed this descriptor for us; nothing else owns it.
                fd.get_or_insert(OwnedFd::from_raw_fd(raw));
            }
            cmsg = libc::CMSG_NXTHDR(&hdr, cmsg);
        }
    }
    Ok((n, fd))
}

/// `ioctl(TIOCGWINSZ)`: the terminal's (rows, columns).
pub fn get_winsize(fd: BorrowedFd<'_>) -> SysResult<(u16, u16)> {
    // SAFETY: winsize is plain data; the kernel fills it in.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize struct, which `ws` is.
    check_int(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) })?;
    Ok((ws.ws_row, ws.ws_col))
}

// ------------------------------------------------------------------- mounts

/// `mount(source, target, fstype, flags, data)`.
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: c_ulong,
    data: Option<&CStr>,
) -> SysResult<()> {
    // SAFETY: every pointer is NULL or a valid C string.
    check_int(unsafe {
        libc::mount(
            opt_ptr(source),
            target.as_ptr(),
            opt_ptr(fstype),
            flags,
            opt_ptr(data).cast(),
        )
    })
    .map(drop)
}

/// `umount2(target, flags)`.
pub fn umount2(target: &CStr, flags: c_int) -> SysResult<()> {
    // SAFETY: valid C string.
    check_int(unsafe { libc::umount2(target.as_ptr(), flags) }).map(drop)
}

/// `pivot_root(new_root, put_old)`.
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult<()> {
    // SAFETY: valid C strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) }).map(drop)
}

/// Attributes for [`mount_setattr`] (the kernel's `struct mount_attr`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    /// MOUNT_ATTR_* bits to set.
    pub set: u64,
    /// MOUNT_ATTR_* bits to clear.
    pub clr: u64,
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE?, attr)` (Linux 5.12+).
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, attr: MountAttr) -> SysResult<()> {
    mount_setattr_raw(fd, recursive, attr, 0, 0)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE?, {propagation})`:
/// one of MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE (Linux 5.12+), the
/// propagation change of `mount(2)` on a descriptor instead of a path.
pub fn mount_setattr_propagation(fd: BorrowedFd<'_>, recursive: bool, propagation: c_ulong) -> SysResult<()> {
    mount_setattr_raw(fd, recursive, MountAttr::default(), propagation, 0)
}

/// `MOUNT_ATTR_IDMAP` of `mount_setattr(2)`.
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE?, {MOUNT_ATTR_IDMAP, userns})`:
/// makes the detached mount `fd` (from [`open_tree`] with `OPEN_TREE_CLONE`)
/// an id-mapped mount through the id maps of user namespace `userns` (Linux
/// 5.12+). EINVAL when the filesystem cannot be id-mapped, or when the mount
/// is not detached.
pub fn mount_setattr_idmap(fd: BorrowedFd<'_>, recursive: bool, userns: BorrowedFd<'_>) -> SysResult<()> {
    let attr = MountAttr {
        set: MOUNT_ATTR_IDMAP,
        clr: 0,
    };
    mount_setattr_raw(fd, recursive, attr, 0, userns.as_raw_fd() as u64)
}

fn mount_setattr_raw(
    fd: BorrowedFd<'_>,
    recursive: bool,
    attr: MountAttr,
    propagation: u64,
    userns_fd: u64,
) -> SysResult<()> {
    #[repr(C)]
    struct Raw {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let raw = Raw {
        attr_set: attr.set,
        attr_clr: attr.clr,
        propagation,
        userns_fd,
    };
    let mut flags = libc::AT_EMPTY_PATH as c_ulong;
    if recursive {
        flags |= libc::AT_RECURSIVE as c_ulong;
    }
    // SAFETY: valid fd, empty C string, and a mount_attr of the size passed.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw as *const Raw,
            std::mem::size_of::<Raw>(),
        )
    })
    .map(drop)
}

/// `OPEN_TREE_CLONE` of `open_tree(2)`: a detached copy of the mount (tree).
pub const OPEN_TREE_CLONE: c_uint = 1;

/// `open_tree(AT_FDCWD, path, flags | OPEN_TREE_CLOEXEC)` (Linux 5.2+). With
/// [`OPEN_TREE_CLONE`] (and `AT_RECURSIVE` for the whole tree) the result is
/// a detached bind mount of `path`, in an anonymous mount namespace that
/// nothing else can see and that dissolves when the last descriptor closes
/// unless [`move_mount`] attached it first.
pub fn open_tree(path: &CStr, flags: c_uint) -> SysResult<OwnedFd> {
    let flags = flags | libc::O_CLOEXEC as c_uint;
    // SAFETY: valid C string; integer flags.
    check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) }).map(owned)
}

/// `move_mount(from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)`
/// (Linux 5.2+): attaches the detached mount `from` onto the file or
/// directory `to` refers to (an O_PATH descriptor resolved in-root), with no
/// path lookup at all. Allocation-free, for the container's init.
pub fn move_mount(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> SysResult<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: c_uint = 0x04;
    const MOVE_MOUNT_T_EMPTY_PATH: c_uint = 0x40;
    // SAFETY: valid fds and empty C string literals.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// `open_tree(fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
/// | AT_RECURSIVE?)`: a detached copy of the mount (tree) at the file or
/// directory `fd` refers to, without a path lookup, for the container's
/// init to change with [`mount_setattr`] and attach with [`move_mount`].
pub fn open_tree_clone_fd(fd: BorrowedFd<'_>, recursive: bool) -> SysResult<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as c_uint | libc::AT_EMPTY_PATH as c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as c_uint;
    }
    // SAFETY: valid fd and an empty C string literal; integer flags.
    check(unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) }).map(owned)
}

/// A new, detached filesystem instance with the new mount API (Linux 5.2+):
/// `fsopen(fstype)`, one `fsconfig(FSCONFIG_SET_STRING, key, value)` per
/// option, `FSCONFIG_CMD_CREATE`, then `fsmount` with the `MOUNT_ATTR_*`
/// bits `attrs`. Attach it with [`move_mount`]. Allocation-free.
pub fn fsmount_new(fstype: &CStr, options: &[(&CStr, &CStr)], attrs: u64) -> SysResult<OwnedFd> {
    const FSOPEN_CLOEXEC: c_uint = 1;
    const FSCONFIG_SET_STRING: c_uint = 1;
    const FSCONFIG_CMD_CREATE: c_uint = 6;
    const FSMOUNT_CLOEXEC: c_uint = 1;
    // SAFETY: valid C string; integer flags.
    let fs = check(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) }).map(owned)?;
    for (key, value) in options {
        // SAFETY: valid fd and C strings; the kernel copies them.
        check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0 as c_int,
            )
        })?;
    }
    // SAFETY: valid fd; NULL key and value, as FSCONFIG_CMD_CREATE requires.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            ptr::null::<libc::c_char>(),
            ptr::null::<c_void>(),
            0 as c_int,
        )
    })?;
    // SAFETY: valid fd; integer flags.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attrs as c_uint,
        )
    })
    .map(owned)
}

/// `f_type` of `PROC_SUPER_MAGIC` (linux/magic.h): the file is on a procfs.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// `fstatfs(fd)`: the filesystem type (`f_type`, a `*_SUPER_MAGIC`) of the
/// file `fd` refers to (O_PATH descriptors work).
pub fn fs_type(fd: BorrowedFd<'_>) -> SysResult<i64> {
    // SAFETY: statfs is plain data, valid when zeroed.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and a live statfs for the kernel to fill.
    check_int(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) })?;
    Ok(st.f_type as i64)
}

/// `setxattr(path, name, value, size, 0)`, following a final symlink (a
/// `/proc/self/fd/N` path reaches the file of the descriptor).
pub fn setxattr(path: &CStr, name: &CStr, value: &[u8]) -> SysResult<()> {
    // SAFETY: valid C strings, and a live byte slice of the given length.
    check_int(unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

/// Clones a helper process with `flags` (e.g. `CLONE_NEWUSER`) that does
/// nothing but sleep until it is killed, so the caller can use what the
/// clone created (its `/proc/PID/ns/*`). The caller must kill and reap it.
/// Fork semantics, like [`clone_fork`], but safe: the helper runs only
/// allocation-free code, with every signal blocked (no handler of the caller
/// can run in it), and dies with the caller (`PR_SET_PDEATHSIG`).
pub fn clone_parked(flags: c_ulong) -> SysResult<libc::pid_t> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let old_mask = set_sigmask(true);
    // SAFETY: the child runs only `park_until_killed`, which neither
    // allocates, locks nor returns.
    let cloned = unsafe { clone_fork(flags) };
    if cloned == Ok(0) {
        park_until_killed(parent);
    }
    restore_sigmask(&old_mask);
    cloned
}

/// Child of [`clone_parked`]: asks to be killed with the parent, then sleeps
/// until killed.
fn park_until_killed(parent: libc::pid_t) -> ! {
    let _ = prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as c_ulong, 0);
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != parent {
        exit(1);
    }
    loop {
        // SAFETY: pause has no preconditions; with every signal blocked it
        // returns only if a signal is unblocked, which nothing here does.
        unsafe { libc::pause() };
    }
}

/// `chdir(path)`.
pub fn chdir(path: &CStr) -> SysResult<()> {
    // SAFETY: valid C string.
    check_int(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

/// `fchdir(fd)`.
pub fn fchdir(fd: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: valid fd.
    check_int(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

/// `chroot(path)`.
pub fn chroot(path: &CStr) -> SysResult<()> {
    // SAFETY: valid C string.
    check_int(unsafe { libc::chroot(path.as_ptr()) }).map(drop)
}

/// The magic-link path `/proc/self/fd/N` of a descriptor, built on the stack,
/// so `mount(2)` can be pointed at a target that was resolved safely.
#[derive(Debug)]
pub struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    /// The path of `fd`.
    pub fn new(fd: BorrowedFd<'_>) -> Self {
        const PREFIX: &[u8] = b"/proc/self/fd/";
        let mut buf = [0u8; 32];
        buf[..PREFIX.len()].copy_from_slice(PREFIX);
        let mut digits = [0u8; 10];
        let mut n = fd.as_raw_fd() as u32;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[PREFIX.len() + i] = digits[len - 1 - i];
        }
        FdPath { buf }
    }

    /// The path as a C string.
    pub fn as_cstr(&self) -> &CStr {
        // The buffer always holds a NUL after the digits (at most 14 + 10 < 32 bytes used).
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"/")
    }
}

// ------------------------------------------------------------------ seccomp

/// Installs a classic-BPF seccomp filter with `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`.
/// Returns the listener fd when `flags` has SECCOMP_FILTER_FLAG_NEW_LISTENER, else None.
pub fn seccomp_set_filter(prog: &[libc::sock_filter], flags: c_ulong) -> SysResult<Option<OwnedFd>> {
    const SECCOMP_SET_MODE_FILTER: c_ulong = 1;
    const NEW_LISTENER: c_ulong = 1 << 3;
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fprog points at `prog`, which is live for the call; the kernel copies it.
    let ret = check(unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog) })?;
    Ok((flags & NEW_LISTENER != 0).then(|| owned(ret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn fd_path_formats_digits() {
        let f = std::fs::File::open("/proc/self/status").unwrap();
        let p = FdPath::new(f.as_fd());
        let want = format!("/proc/self/fd/{}", f.as_raw_fd());
        assert_eq!(p.as_cstr().to_str().unwrap(), want);
        // The magic link really leads back to the same file.
        let target = std::fs::read_link(p.as_cstr().to_str().unwrap()).unwrap();
        assert_eq!(
            target,
            std::path::Path::new("/proc").join(format!("{}/status", std::process::id()))
        );
    }

    /// Both ways of [`close_fds_except`] (close_range over the gaps, and
    /// the /proc/self/fd walk it falls back to), each in a child of its
    /// own: they close every descriptor of the process above `first`.
    #[test]
    fn close_fds_except_keeps_only_the_listed_ones() {
        let open = || openat(None, c"/", libc::O_PATH, 0).unwrap();
        let fds = [open(), open(), open(), open()];
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let first = *raw.iter().min().unwrap();
        let mut keep = vec![raw[1], raw[3]];
        keep.sort_unstable();
        for walk in [false, true] {
            // SAFETY: the child below only makes raw system calls and exits.
            let pid = unsafe { clone_fork(0) }.unwrap();
            if pid == 0 {
                let r = if walk {
                    close_listed(first, &keep)
                } else {
                    close_fds_except(first, &keep)
                };
                // SAFETY: F_GETFD on descriptor numbers; a closed one gives EBADF.
                let open = |fd: RawFd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
                let ok =
                    r.is_ok() && open(0) && open(raw[1]) && open(raw[3]) && !open(raw[0]) && !open(raw[2]);
                exit(if ok { 0 } else { 1 });
            }
            assert_eq!(wait_exit(pid, Some(5000)), Ok(0), "walk: {walk}");
        }
    }
}

// ---------------------------------------------------------------------- bpf
//
// Just enough of bpf(2) to enforce device rules on cgroup v2, which has no
// devices controller: load a BPF_PROG_TYPE_CGROUP_DEVICE program, attach it
// to a cgroup directory, and list/detach the programs attached there so an
// update can swap one program for another. The attr structs are prefixes of
// the kernel's `union bpf_attr`; the kernel zero-extends shorter ones.

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u8,
    /// Destination register in the low nibble, source in the high one.
    pub regs: u8,
    /// Signed jump or memory offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

const BPF_PROG_LOAD: c_int = 5;
const BPF_PROG_ATTACH: c_int = 8;
const BPF_PROG_DETACH: c_int = 9;
const BPF_PROG_GET_FD_BY_ID: c_int = 13;
const BPF_PROG_QUERY: c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets several programs share the hook, so a new one can be attached
/// before the old one is detached and no access slips through in between.
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf<T>(cmd: c_int, attr: &mut T) -> SysResult<c_long> {
    // SAFETY: `attr` is a live, properly sized prefix of `union bpf_attr` for
    // `cmd`; the kernel reads (and for queries writes) at most size_of::<T>() bytes.
    check(unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) })
}

/// `BPF_PROG_LOAD` of a cgroup device program under the
/// project's license string (the program calls no GPL-only helper). The kernel's verifier log is not requested:
/// the generated programs are fixed-shape and tested.
pub fn bpf_load_device_prog(insns: &[BpfInsn]) -> SysResult<OwnedFd> {
    #[repr(C)]
    struct Load {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
    }
    let mut attr = Load {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: c"Apache-2.0".as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
    };
    bpf(BPF_PROG_LOAD, &mut attr).map(owned)
}

#[repr(C)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// `BPF_PROG_ATTACH` of device program `prog` to cgroup directory `cgroup`, with BPF_F_ALLOW_MULTI.
pub fn bpf_attach_device_prog(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> SysResult<()> {
    let mut attr = Attach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// `BPF_PROG_DETACH` of device program `prog` from cgroup directory `cgroup`.
pub fn bpf_detach_device_prog(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> SysResult<()> {
    let mut attr = Attach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// `BPF_PROG_QUERY`: fills `ids` with the ids of the device programs attached
/// directly to `cgroup` and returns how many there are; ENOSPC when there
/// are more than `ids.len()`.
pub fn bpf_query_device_progs(cgroup: BorrowedFd<'_>, ids: &mut [u32]) -> SysResult<usize> {
    #[repr(C)]
    struct Query {
        target_fd: u32,
        attach_type: u32,
        query_flags: u32,
        attach_flags: u32,
        prog_ids: u64,
        prog_cnt: u32,
        _pad: u32,
    }
    let mut attr = Query {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        query_flags: 0,
        attach_flags: 0,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        _pad: 0,
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    Ok(attr.prog_cnt as usize)
}

/// `BPF_PROG_GET_FD_BY_ID`: a descriptor for a loaded program.
pub fn bpf_prog_fd_by_id(id: u32) -> SysResult<OwnedFd> {
    #[repr(C)]
    struct ById {
        prog_id: u32,
        next_id: u32,
        open_flags: u32,
    }
    let mut attr = ById {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned)
}

/// Starts `path` as a child with `stdin` as its fd 0, in directory `cwd`
/// if given, every other descriptor from 3 up closed on exec and signals
/// unblocked: `posix_spawn` without the allocation. For hooks run from the
/// container's init. Returns the child's pid once execve has succeeded, or
/// its errno (the child reports it over a close-on-exec pipe and is reaped).
pub fn spawn(
    path: &CStr,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    stdin: BorrowedFd<'_>,
    cwd: Option<&CStr>,
) -> SysResult<libc::pid_t> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a live array of two ints for the kernel to fill.
    check_int(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 just created both descriptors; nothing else owns them.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child below only makes raw system calls and then execs or exits.
    let pid = unsafe { clone_fork(0) }?;
    if pid == 0 {
        let errno = dup_onto(stdin, 0)
            .and_then(|()| cwd.map_or(Ok(()), chdir))
            // The descriptors close-on-exec still lacks are the container's
            // preserved ones; a filter denying close_range (the init's, for
            // a startContainer hook) may leave them to the hook, which runs
            // in the container anyway.
            .and_then(|()| match cloexec_from(3) {
                Err(libc::EPERM) => Ok(()),
                r => r,
            })
            .map(|()| {
                set_sigmask(false);
                execve(path, argv, envp)
            })
            .unwrap_or_else(|e| e);
        let _ = write_all(wr.as_fd(), &errno.to_ne_bytes());
        exit(127);
    }
    drop(wr);
    let mut buf = [0u8; 4];
    match read(rd.as_fd(), &mut buf) {
        Ok(0) => Ok(pid),
        other => {
            let _ = wait_exit(pid, None);
            Err(match other {
                Ok(4) => Errno::from_ne_bytes(buf),
                Ok(_) => libc::EPROTO,
                Err(e) => e,
            })
        }
    }
}

/// Waits for child `pid` to exit, at most `timeout_ms` if given (ETIMEDOUT
/// then, with the child still running). Returns its exit code, 128+N for a
/// signal N, and reaps it.
pub fn wait_exit(pid: libc::pid_t, timeout_ms: Option<u64>) -> SysResult<c_int> {
    if let Some(ms) = timeout_ms {
        // SAFETY: integer arguments only.
        let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })? as c_int;
        // SAFETY: the kernel just created this descriptor; nothing else owns it.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = ms.min(c_int::MAX as u64) as c_int;
        // A pidfd is readable once the process has exited. EINTR cannot
        // happen in the init (it has no signal handler); treat it as a timeout.
        // SAFETY: one live pollfd.
        if check_int(unsafe { libc::poll(&mut pfd, 1, deadline) })? == 0 {
            return Err(libc::ETIMEDOUT);
        }
    }
    let mut status: c_int = 0;
    loop {
        // SAFETY: `status` is a live int for the kernel to fill.
        match check_int(unsafe { libc::waitpid(pid, &mut status, 0) }) {
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    Ok(if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    })
}

/// `kill(pid, sig)`.
pub fn kill(pid: libc::pid_t, sig: c_int) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check_int(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// Moves `fd`'s file offset back to the start (`lseek(fd, 0, SEEK_SET)`).
pub fn rewind(fd: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: valid fd, integer arguments.
    check(unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_SET) } as c_long).map(drop)
}

//! `nook_process_t`: a process started in a running container by
//! `nook_container_exec()`, and the calls on it (pid, wait, kill).

use std::ffi::{c_char, c_int};

use nook_core::{ExecOptions, ExecProcess};

use crate::container::{container_ref, NookContainer};
use crate::error::{einval, ffi_call, FfiError, NookError};
use crate::utils::{check_flags, copy_from_extensible_struct, opt_path_arg, out_arg, str_arg};

/// A process started by `nook_container_exec()`. Opaque; freed by
/// `nook_process_free()`, which frees the handle only: the process is not
/// signalled or reaped. Immutable, so it may be used from many threads at
/// once (but only one thread should wait for it).
#[derive(Debug)]
pub struct NookProcess {
    inner: ExecProcess,
}

/// `nook_exec_opts_t.flags`: exec into a paused container too, like runc's
/// `exec --ignore-paused`. The process is set up inside the frozen cgroup,
/// so `nook_container_exec()` returns only once the container is resumed
/// (by another thread or process: `nook_container_resume()`).
pub const NOOK_EXEC_IGNORE_PAUSED: u32 = 1 << 0;
const EXEC_KNOWN_FLAGS: u32 = NOOK_EXEC_IGNORE_PAUSED;

/// Options of `nook_container_exec()` that are not in the process JSON.
/// Extensible, with the rules of `nook_create_opts_t`: set
/// `struct_size = sizeof(nook_exec_opts_t)` and zero the rest
/// (`nook_exec_opts_t o = { .struct_size = sizeof o };`). A library older
/// than the header accepts a larger struct as long as the fields it does
/// not know are zero (else -E2BIG); a newer library treats the fields a
/// smaller struct lacks as zero. Pass NULL for all defaults. The struct and
/// its strings are only read during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NookExecOpts {
    /// `sizeof(nook_exec_opts_t)` as the caller was compiled.
    pub struct_size: usize,
    /// Write the process's host pid to this file (atomically); NULL for none.
    pub pid_file: *const c_char,
    /// Unix socket that receives the pty master when the process's
    /// `terminal` is true (runc's `--console-socket`); NULL for none.
    pub console_socket: *const c_char,
    /// Pass the caller's fds 3 .. 3+preserve_fds-1 to the process.
    pub preserve_fds: u32,
    /// `NOOK_EXEC_*` flags; unknown bits are -EINVAL.
    pub flags: u32,
}

/// Size of the first published `nook_exec_opts_t` (this one).
const EXEC_OPTS_SIZE_VER0: usize = std::mem::size_of::<NookExecOpts>();

/// Reads `opts` (NULL = defaults) into the library's options.
///
/// # Safety
/// `opts` is NULL or points to a struct of at least `opts->struct_size` bytes.
// needless_update: the `..default()` is for core fields added later.
#[allow(clippy::needless_update)]
unsafe fn exec_options(opts: *const NookExecOpts) -> Result<ExecOptions, FfiError> {
    if opts.is_null() {
        return Ok(ExecOptions::default());
    }
    // SAFETY: forwarded contract.
    let o = unsafe { copy_from_extensible_struct(opts, EXEC_OPTS_SIZE_VER0) }?;
    check_flags(o.flags, EXEC_KNOWN_FLAGS, "nook_exec_opts_t.flags")?;
    Ok(ExecOptions {
        // SAFETY: forwarded contract (strings valid during the call).
        pid_file: unsafe { opt_path_arg(o.pid_file, "pid_file") }?,
        // SAFETY: as above.
        console_socket: unsafe { opt_path_arg(o.console_socket, "console_socket") }?,
        preserve_fds: o.preserve_fds,
        ignore_paused: o.flags & NOOK_EXEC_IGNORE_PAUSED != 0,
        ..ExecOptions::default()
    })
}

/// Borrows the process behind a handle.
///
/// # Safety
/// `p` is NULL or a live process handle.
unsafe fn process_ref<'a>(p: *const NookProcess) -> Result<&'a NookProcess, FfiError> {
    if p.is_null() {
        return Err(einval("process is NULL"));
    }
    // SAFETY: non-NULL and live by the caller's contract.
    Ok(unsafe { &*p })
}

/// Starts a new process in a running container, like `runc exec`.
/// `process_json` is a JSON object in the shape of config.json's `process`
/// (`{"args":["/bin/sh","-c","..."],"cwd":"/","env":[...]}`; `user`,
/// `capabilities`, `terminal`, ... as in config.json), borrowed for the
/// call. The process joins the container's namespaces and cgroup. `opts`
/// may be NULL for defaults. On success a new handle is stored in `*process`
/// (free it with `nook_process_free()`).
///
/// The calling process becomes the exec'd process's parent: only it can
/// `nook_process_wait()` for it, and it should, or the process stays a
/// zombie. Safe to call from a multithreaded program.
///
/// Returns 0, or a negative errno: -EINVAL (kind
/// `NOOK_ERROR_KIND_INVALID_CONFIG`) for a process that is malformed or
/// invalid, with the bad field in the message; -EBUSY if the container is
/// stopped, or paused without `NOOK_EXEC_IGNORE_PAUSED`; -ENOENT if the
/// program does not exist, ...
///
/// ```c
/// nook_exec_opts_t o = { .struct_size = sizeof o };
/// nook_process_t *p = NULL;
/// int code;
/// if (nook_container_exec(c, "{\"args\":[\"/bin/true\"],\"cwd\":\"/\"}", &o, &p, &err) < 0) { ... }
/// if (nook_process_wait(p, &code, &err) < 0) { ... }
/// nook_process_free(p);
/// ```
#[no_mangle]
pub unsafe extern "C" fn nook_container_exec(
    container: *const NookContainer,
    process_json: *const c_char,
    opts: *const NookExecOpts,
    process: *mut *mut NookProcess,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_exec", err, || {
        // The arguments are checked before the handle, so that the opts
        // contract (struct_size, flags) is testable without a container.
        // SAFETY: pointers are NULL (rejected) or valid, per the contract.
        let opts = unsafe { exec_options(opts) }?;
        // SAFETY: as above.
        let text = unsafe { str_arg(process_json, "process_json") }?;
        let out = out_arg(process, "process")?;
        // SAFETY: as above.
        let c = unsafe { container_ref(container) }?;
        let p = c.inner.exec_json(text, &opts)?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { out.write(Box::into_raw(Box::new(NookProcess { inner: p }))) };
        Ok(0)
    })
}

/// Host pid of an exec'd process (it may have exited since). Returns
/// -EINVAL if `process` is NULL.
#[no_mangle]
pub unsafe extern "C" fn nook_process_pid(process: *const NookProcess) -> c_int {
    ffi_call("nook_process_pid", std::ptr::null_mut(), || {
        // SAFETY: NULL (rejected) or live, per the contract.
        Ok(unsafe { process_ref(process) }?.inner.pid())
    })
}

/// Waits for an exec'd process to exit and stores its exit code (128+N
/// when killed by signal N) in `*exit_code`. Only the process that called
/// `nook_container_exec()` can wait (-ECHILD otherwise, and after the first
/// successful wait). Blocks the calling thread only.
///
/// Returns 0, or a negative errno.
#[no_mangle]
pub unsafe extern "C" fn nook_process_wait(
    process: *const NookProcess,
    exit_code: *mut c_int,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_process_wait", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let p = unsafe { process_ref(process) }?;
        let out = out_arg(exit_code, "exit_code")?;
        let code = p.inner.wait()?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { out.write(code) };
        Ok(0)
    })
}

/// Sends signal `signal` to an exec'd process.
///
/// Returns 0, or a negative errno: -EINVAL for an unknown signal, -ESRCH if
/// the process has been reaped.
#[no_mangle]
pub unsafe extern "C" fn nook_process_kill(
    process: *const NookProcess,
    signal: c_int,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_process_kill", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        unsafe { process_ref(process) }?.inner.kill(signal)?;
        Ok(0)
    })
}

/// Frees a process handle (not the process: it is neither signalled nor
/// reaped). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn nook_process_free(process: *mut NookProcess) {
    if process.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the handle came from Box::into_raw in nook_container_exec; freed once.
        drop(unsafe { Box::from_raw(process) });
    }));
}

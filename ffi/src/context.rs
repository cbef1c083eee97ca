//! `nook_context_t`: a state root (runc's `--root`) and the calls on it.

use std::ffi::{c_char, c_int};

use nook_core::{Context, CreateOptions};

use crate::error::{ffi_call, FfiError, NookError};
use crate::utils::{check_flags, copy_from_extensible_struct, give_string, opt_path_arg, out_arg, str_arg};

/// A state root holding containers. Opaque; created by `nook_context_new()`,
/// freed by `nook_context_free()`. Immutable, so it may be used from many
/// threads at once.
#[derive(Debug)]
pub struct NookContext {
    pub(crate) inner: Context,
}

/// The state root used when `nook_context_new()` gets NULL (runc uses /run/runc).
const DEFAULT_ROOT: &str = "/run/nook";

/// `nook_create_opts_t.flags`: use MS_MOVE + chroot instead of pivot_root
/// (for a rootfs on ramfs), like runc's `--no-pivot`.
pub const NOOK_CREATE_NO_PIVOT: u32 = 1 << 0;
/// `nook_create_opts_t.flags`: let systemd make the container's cgroup as a
/// transient unit (runc's `--systemd-cgroup`); `linux.cgroupsPath` is then
/// `slice:prefix:name`.
pub const NOOK_CREATE_SYSTEMD_CGROUP: u32 = 1 << 1;
const CREATE_KNOWN_FLAGS: u32 = NOOK_CREATE_NO_PIVOT | NOOK_CREATE_SYSTEMD_CGROUP;

/// Options of `nook_container_create()` and `nook_context_run()` that are
/// not in config.json. Extensible: set `struct_size = sizeof(nook_create_opts_t)`
/// and zero the rest (`nook_create_opts_t o = { .struct_size = sizeof o };`).
/// A library older than the header accepts a larger struct as long as the
/// fields it does not know are zero (else -E2BIG); a newer library treats
/// the fields a smaller struct lacks as zero. Pass NULL for all defaults.
/// The struct and its strings are only read during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NookCreateOpts {
    /// `sizeof(nook_create_opts_t)` as the caller was compiled.
    pub struct_size: usize,
    /// Write the init's pid to this file (atomically); NULL for none.
    pub pid_file: *const c_char,
    /// Unix socket that receives the pty master when `process.terminal`
    /// is true (runc's `--console-socket`); NULL for none.
    pub console_socket: *const c_char,
    /// Pass the caller's fds 3 .. 3+preserve_fds-1 to the container.
    pub preserve_fds: u32,
    /// `NOOK_CREATE_*` flags; unknown bits are -EINVAL.
    pub flags: u32,
}

/// Size of the first published `nook_create_opts_t` (this one).
const CREATE_OPTS_SIZE_VER0: usize = std::mem::size_of::<NookCreateOpts>();

/// Reads `opts` (NULL = defaults) into the library's options.
///
/// # Safety
/// `opts` is NULL or points to a struct of at least `opts->struct_size` bytes.
// needless_update: the `..default()` is for core fields added later.
#[allow(clippy::needless_update)]
pub(crate) unsafe fn create_options(opts: *const NookCreateOpts) -> Result<CreateOptions, FfiError> {
    if opts.is_null() {
        return Ok(CreateOptions::default());
    }
    // SAFETY: forwarded contract.
    let o = unsafe { copy_from_extensible_struct(opts, CREATE_OPTS_SIZE_VER0) }?;
    check_flags(o.flags, CREATE_KNOWN_FLAGS, "nook_create_opts_t.flags")?;
    Ok(CreateOptions {
        // SAFETY: forwarded contract (strings valid during the call).
        pid_file: unsafe { opt_path_arg(o.pid_file, "pid_file") }?,
        // SAFETY: as above.
        console_socket: unsafe { opt_path_arg(o.console_socket, "console_socket") }?,
        no_pivot: o.flags & NOOK_CREATE_NO_PIVOT != 0,
        systemd_cgroup: o.flags & NOOK_CREATE_SYSTEMD_CGROUP != 0,
        preserve_fds: o.preserve_fds,
        // Options the library gains before this struct exposes them keep
        // their defaults (a new NOOK_CREATE_* flag or trailing field adds them).
        ..CreateOptions::default()
    })
}

/// Borrows the context behind a handle.
///
/// # Safety
/// `ctx` is NULL or a live handle from `nook_context_new()`.
pub(crate) unsafe fn context_ref<'a>(ctx: *const NookContext) -> Result<&'a Context, FfiError> {
    if ctx.is_null() {
        return Err(crate::error::einval("ctx is NULL"));
    }
    // SAFETY: non-NULL and live by the caller's contract.
    Ok(unsafe { &(*ctx).inner })
}

/// Opens the state root `root` (created on first use); NULL means
/// "/run/nook". On success stores a new handle in `*ctx`, which the caller
/// frees with `nook_context_free()`. Nothing is touched on disk yet.
///
/// Returns 0, or a negative errno (-EINVAL for a NULL `ctx`).
///
/// ```c
/// nook_context_t *ctx = NULL;
/// nook_error_t *err = NULL;
/// if (nook_context_new("/run/nook", &ctx, &err) < 0) { ... }
/// ```
#[no_mangle]
pub unsafe extern "C" fn nook_context_new(
    root: *const c_char,
    ctx: *mut *mut NookContext,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_context_new", err, || {
        let out = out_arg(ctx, "ctx")?;
        // SAFETY: `root` is NULL or a C string, per the contract.
        let root = unsafe { opt_path_arg(root, "root") }?.unwrap_or_else(|| DEFAULT_ROOT.into());
        let handle = Box::new(NookContext {
            inner: Context::new(root),
        });
        // SAFETY: `out` is the caller's writable slot (checked non-NULL).
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(0)
    })
}

/// Frees a context handle. NULL is ignored. Containers loaded from it stay
/// valid (they do not borrow it), and no container is affected.
#[no_mangle]
pub unsafe extern "C" fn nook_context_free(ctx: *mut NookContext) {
    if ctx.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `ctx` came from Box::into_raw in nook_context_new; freed once.
        drop(unsafe { Box::from_raw(ctx) });
    }));
}

/// The state of every container under the root, sorted by id, as a JSON
/// array of `runc state` objects in `*json` (freed with `nook_string_free()`).
///
/// Returns 0, or a negative errno.
#[no_mangle]
pub unsafe extern "C" fn nook_context_list(
    ctx: *const NookContext,
    json: *mut *mut c_char,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_context_list", err, || {
        // SAFETY: `ctx` is NULL (rejected) or live, per the contract.
        let ctx = unsafe { context_ref(ctx) }?;
        let out = out_arg(json, "json")?;
        let list = ctx.list()?;
        let text = serde_json::to_string(&list).map_err(|e| crate::error::FfiError::Os {
            errno: libc::EIO,
            message: format!("serialising the list: {e}"),
        })?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { give_string(out, text) };
        Ok(0)
    })
}

/// Creates, starts, waits for and deletes container `id` from the bundle
/// directory `bundle`; stores its exit code (128+N when killed by signal N)
/// in `*exit_code`. Blocks until the container exits. The calling process
/// becomes the parent of the container's init, and must not reap it behind
/// libnook's back (e.g. with a SIGCHLD handler calling `wait(-1)`).
/// `opts` may be NULL.
///
/// Returns 0, or a negative errno; on failure nothing is left behind.
#[no_mangle]
pub unsafe extern "C" fn nook_context_run(
    ctx: *const NookContext,
    id: *const c_char,
    bundle: *const c_char,
    opts: *const NookCreateOpts,
    exit_code: *mut c_int,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_context_run", err, || {
        // SAFETY: pointers are NULL (rejected) or valid, per the contract.
        let ctx = unsafe { context_ref(ctx) }?;
        // SAFETY: as above.
        let id = unsafe { str_arg(id, "id") }?;
        // SAFETY: as above.
        let bundle = unsafe { str_arg(bundle, "bundle") }?;
        let out = out_arg(exit_code, "exit_code")?;
        // SAFETY: as above.
        let opts = unsafe { create_options(opts) }?;
        let code = ctx.run(id, bundle, &opts)?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { out.write(code) };
        Ok(0)
    })
}

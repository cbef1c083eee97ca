//! The C ABI of nook: `libnook.so` (SONAME `libnook.so.0`), `libnook.a`
//! and the generated header `include/nook.h`.
//!
//! This crate is a thin skin: every entry point checks its pointers,
//! converts C values to Rust ones, calls the `nook` library, and converts
//! the result back. No container logic lives here.
//!
//! Rules shared by every function (repeated in the header):
//! * Returns 0 (or another documented value >= 0) on success and a negative
//!   errno (`-ENOENT`, `-EINVAL`, ...) on failure.
//! * The last parameter, `nook_error_t **err`, may be NULL. If not, `*err`
//!   is set to NULL on entry and to a new error object on failure; the
//!   caller frees it with `nook_error_free()`. There is no thread-local
//!   error state.
//! * Handles are opaque and immutable; every call may be made from any
//!   thread, concurrently, except that a handle must not be freed while
//!   another thread still uses it.
//! * Strings returned through `char **` are owned by the caller and freed
//!   with `nook_string_free()`. Strings passed in are borrowed for the
//!   duration of the call only.
//! * No Rust panic crosses the boundary: each entry point runs inside
//!   `catch_unwind` (see `error::ffi_call`) and reports a panic as
//!   `-ENOTRECOVERABLE` with kind `NOOK_ERROR_KIND_INTERNAL`.
#![warn(clippy::undocumented_unsafe_blocks)]
// The safety contract of every `extern "C"` fn is the same and is stated
// once, in the conventions above and at the top of nook.h (pointers are NULL
// or valid for the call; handles are live; strings are NUL-terminated):
// a `# Safety` section per function would repeat it for every function in the header.
#![allow(clippy::missing_safety_doc)]
#![deny(missing_debug_implementations)]

mod checkpoint;
mod container;
mod context;
mod error;
mod process;
mod utils;

use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use checkpoint::*;
pub use container::*;
pub use context::*;
pub use error::{nook_error_free, NookError, NookErrorKind};
pub use process::*;

use error::ffi_call;
use utils::{give_string, out_arg};

/// The ABI version of this header. Compatible additions (new functions, new
/// trailing fields of the `*_opts_t` structs, new flags, new error kinds)
/// keep it; an incompatible change increments it together with the SONAME
/// major (`libnook.so.<NOOK_ABI_VERSION>`).
pub const NOOK_ABI_VERSION: u32 = 0;

/// The ABI version of the loaded library; compare it with
/// `NOOK_ABI_VERSION` to detect a header/library mismatch at run time.
#[no_mangle]
pub extern "C" fn nook_abi_version() -> u32 {
    NOOK_ABI_VERSION
}

/// The version of libnook, e.g. "0.1.0". The string is static: do not free it.
#[no_mangle]
pub extern "C" fn nook_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The OCI "features" document (runtime-spec features.md) of this build, as
/// a JSON object in `*json`, which the caller frees with `nook_string_free()`.
///
/// Returns 0, or a negative errno.
#[no_mangle]
pub unsafe extern "C" fn nook_features(json: *mut *mut c_char, err: *mut *mut NookError) -> c_int {
    ffi_call("nook_features", err, || {
        let json = out_arg(json, "json")?;
        let text = nook_core::features::features().to_string();
        // SAFETY: out_arg checked `json` is non-NULL; it is the caller's slot.
        unsafe { give_string(json, text) };
        Ok(0)
    })
}

/// Re-executes the calling program from a sealed, read-only image of
/// itself, unless it already runs from one, and returns in that image.
///
/// A program that creates containers whose processes may hold
/// CAP_SYS_PTRACE without a user namespace of their own must call this
/// first thing in `main`, before it starts threads: `create` and `exec`
/// refuse such a container otherwise (`-EINVAL`, naming
/// `process.capabilities`), because a container process could open
/// `/proc/PID/exe` of nook's process, which is this program, and rewrite
/// it on the host (CVE-2019-5736; SECURITY.md). The first call does not
/// return: the program starts again from `main` in the sealed image, with
/// the same arguments and environment, where this call returns 0.
/// Descriptors that are not close-on-exec survive.
///
/// Returns 0, or a negative errno (the program keeps running unsealed).
#[no_mangle]
pub unsafe extern "C" fn nook_reexec_sealed(err: *mut *mut NookError) -> c_int {
    ffi_call("nook_reexec_sealed", err, || {
        nook_core::exe::reexec_sealed()?;
        Ok(0)
    })
}

/// Frees a string returned by libnook (a JSON document). NULL is ignored.
/// Strings that libnook did not allocate must not be passed here.
#[no_mangle]
pub unsafe extern "C" fn nook_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `s` came from CString::into_raw in give_string, freed once.
        drop(unsafe { CString::from_raw(s) });
    }));
}

// The handles are shared between threads by C and Go callers.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<nook_core::Context>();
    send_sync::<nook_core::Container>();
    send_sync::<nook_core::ExecProcess>();
};

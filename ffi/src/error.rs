//! The error object handed to C callers, and the one place where Rust
//! errors and panics become negative return codes.
//!
//! There is no thread-local "last error": a goroutine (or any green thread)
//! may move between OS threads between two calls, so the error travels in
//! the call's own `nook_error_t **err` out-parameter, as crun does it.

use std::any::Any;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// The coarse kind of an error, for callers that branch on the kind of
/// failure rather than on its message. New kinds may be added; treat unknown
/// values like `NOOK_ERROR_KIND_OS`.
#[repr(C)]
#[allow(non_camel_case_types, clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NookErrorKind {
    /// A system call or file operation failed; see `saved_errno`.
    NOOK_ERROR_KIND_OS = 1,
    /// config.json (or a request) is invalid; nothing was changed.
    NOOK_ERROR_KIND_INVALID_CONFIG = 2,
    /// The container does not exist (ENOENT).
    NOOK_ERROR_KIND_NOT_FOUND = 3,
    /// A container with this id already exists (EEXIST).
    NOOK_ERROR_KIND_ALREADY_EXISTS = 4,
    /// The container's state does not allow the operation (EBUSY).
    NOOK_ERROR_KIND_INVALID_STATE = 5,
    /// Not supported by nook or by the running kernel (ENOTSUP).
    NOOK_ERROR_KIND_UNSUPPORTED = 6,
    /// The caller broke the C API's contract: a NULL pointer, a string that
    /// is not UTF-8, an unknown flag, a bad struct_size (EINVAL / E2BIG).
    NOOK_ERROR_KIND_INVALID_ARGUMENT = 7,
    /// A bug in nook: a Rust panic was caught at the API boundary
    /// (ENOTRECOVERABLE). The handle passed in should not be used again.
    NOOK_ERROR_KIND_INTERNAL = 8,
}

/// An error returned through a `nook_error_t **err` out-parameter.
///
/// Allocated by libnook; the caller owns it and releases it with
/// `nook_error_free()`. All fields are read-only for the caller.
#[repr(C)]
#[derive(Debug)]
pub struct NookError {
    /// The errno that best describes the error (always > 0). Named
    /// `saved_errno` because glibc defines `errno` as a macro. The failing
    /// call returned `-saved_errno`.
    pub saved_errno: c_int,
    /// The coarse kind of the error.
    pub kind: NookErrorKind,
    /// Human-readable, NUL-terminated message, including which step failed
    /// and on which path ("container init: mount proc on /proc ...: Permission
    /// denied (os error 13)"). Owned by the error object: valid until
    /// `nook_error_free()`.
    pub message: *const c_char,
}

/// What can go wrong inside an entry point.
pub(crate) enum FfiError {
    /// The library said no.
    Core(nook_core::Error),
    /// The C caller passed something unusable.
    Arg { errno: c_int, message: String },
    /// Something else failed in this layer (e.g. serialising JSON).
    Os { errno: c_int, message: String },
}

impl From<nook_core::Error> for FfiError {
    fn from(e: nook_core::Error) -> Self {
        FfiError::Core(e)
    }
}

/// An EINVAL for a bad argument.
pub(crate) fn einval(message: impl Into<String>) -> FfiError {
    FfiError::Arg {
        errno: libc::EINVAL,
        message: message.into(),
    }
}

/// `msg: source: source ...`, as libpathrs joins the chain.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let t = src.to_string();
        // thiserror messages often already embed their source.
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = src.source();
    }
    s
}

fn kind_of(e: &nook_core::Error) -> NookErrorKind {
    use nook_core::ErrorKind as K;
    match e.kind() {
        K::InvalidConfig => NookErrorKind::NOOK_ERROR_KIND_INVALID_CONFIG,
        K::NotFound => NookErrorKind::NOOK_ERROR_KIND_NOT_FOUND,
        K::AlreadyExists => NookErrorKind::NOOK_ERROR_KIND_ALREADY_EXISTS,
        K::InvalidState => NookErrorKind::NOOK_ERROR_KIND_INVALID_STATE,
        K::Unsupported => NookErrorKind::NOOK_ERROR_KIND_UNSUPPORTED,
        _ => NookErrorKind::NOOK_ERROR_KIND_OS,
    }
}

/// A NUL-free C string: interior NULs (impossible in practice) become '?'.
pub(crate) fn lossy_cstring(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let mut v = e.into_vec();
        v.iter_mut().filter(|b| **b == 0).for_each(|b| *b = b'?');
        CString::new(v).unwrap_or_default()
    })
}

fn panic_text(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs the body of entry point `name`. On success returns its value (>= 0).
/// On failure, or if the body panics, returns `-errno` and, when `err` is
/// not NULL, stores a new `nook_error_t` in `*err`. `*err` is set to NULL
/// first, so callers can free it unconditionally.
///
/// This `catch_unwind` is the crate's only panic policy: `panic = "abort"`
/// cannot be set per crate in a workspace profile, so every `extern "C"` fn
/// goes through here and no unwind ever crosses into C.
pub(crate) fn ffi_call<F>(name: &str, err: *mut *mut NookError, body: F) -> c_int
where
    F: FnOnce() -> Result<c_int, FfiError>,
{
    if !err.is_null() {
        // SAFETY: the caller passed a writable `nook_error_t *` slot (or NULL, checked).
        unsafe { err.write(ptr::null_mut()) };
    }
    let (errno, kind, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => return v,
        Ok(Err(FfiError::Core(e))) => (e.errno(), kind_of(&e), chain(&e)),
        Ok(Err(FfiError::Arg { errno, message })) => (
            errno,
            NookErrorKind::NOOK_ERROR_KIND_INVALID_ARGUMENT,
            format!("{name}: {message}"),
        ),
        Ok(Err(FfiError::Os { errno, message })) => (
            errno,
            NookErrorKind::NOOK_ERROR_KIND_OS,
            format!("{name}: {message}"),
        ),
        Err(p) => (
            libc::ENOTRECOVERABLE,
            NookErrorKind::NOOK_ERROR_KIND_INTERNAL,
            format!("{name}: internal error (panic): {}", panic_text(&*p)),
        ),
    };
    // The return must be negative even if the core reported errno 0.
    let errno = if errno > 0 { errno } else { libc::EIO };
    if !err.is_null() {
        let boxed = Box::new(NookError {
            saved_errno: errno,
            kind,
            message: lossy_cstring(message).into_raw(),
        });
        // SAFETY: as above; the slot is writable.
        unsafe { err.write(Box::into_raw(boxed)) };
    }
    -errno
}

/// Frees an error returned by any nook call. NULL is allowed and ignored.
///
/// ```c
/// nook_error_t *err = NULL;
/// if (nook_container_start(c, &err) < 0) {
///     fprintf(stderr, "start: %s (errno %d)\n", err->message, err->saved_errno);
///     nook_error_free(err);
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn nook_error_free(err: *mut NookError) {
    if err.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `err` came from Box::into_raw in ffi_call and is freed once
        // (the caller's contract); its message came from CString::into_raw.
        unsafe {
            let e = Box::from_raw(err);
            if !e.message.is_null() {
                drop(CString::from_raw(e.message as *mut c_char));
            }
        }
    }));
}

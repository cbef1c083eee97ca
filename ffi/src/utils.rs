//! Conversions between C values and Rust values. No container logic.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use crate::error::{einval, lossy_cstring, FfiError};

/// Borrows a required C string argument as UTF-8 (ids and paths in nook's
/// state are UTF-8 JSON, so non-UTF-8 input is rejected with EINVAL).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives the returned value.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(einval(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| einval(format!("{what} is not valid UTF-8")))
}

/// An optional path argument: NULL means "none".
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn opt_path_arg(p: *const c_char, what: &str) -> Result<Option<PathBuf>, FfiError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { str_arg(p, what) }.map(|s| Some(PathBuf::from(s)))
}

/// Checks that an out-parameter is not NULL.
pub(crate) fn out_arg<T>(p: *mut T, what: &str) -> Result<*mut T, FfiError> {
    if p.is_null() {
        Err(einval(format!("{what} is NULL")))
    } else {
        Ok(p)
    }
}

/// Rejects flag bits this version does not know, so that a caller built
/// against a newer header fails loudly instead of being silently ignored.
pub(crate) fn check_flags(flags: u32, known: u32, what: &str) -> Result<(), FfiError> {
    if flags & !known != 0 {
        Err(einval(format!("{what}: unknown flags {:#x}", flags & !known)))
    } else {
        Ok(())
    }
}

/// Hands a string to C: the caller frees it with `nook_string_free()`.
///
/// # Safety
/// `out` is a valid, writable `char **` (checked non-NULL by the caller).
pub(crate) unsafe fn give_string(out: *mut *mut c_char, s: String) {
    // SAFETY: see the function contract.
    unsafe { out.write(lossy_cstring(s).into_raw()) };
}

/// The largest options struct we accept, like clone3/openat2 bound theirs.
const MAX_EXTENSIBLE_SIZE: usize = 4096;

/// Reads an extensible struct whose first field is `size_t struct_size`
/// (crun's habit), following openat2/libpathrs rules: a caller struct that
/// is smaller than the first published version is EINVAL; a smaller one of
/// a later version is zero-extended (new fields take their zero default);
/// a larger one (built against a newer header) is accepted only if every
/// byte we do not know is zero, otherwise E2BIG.
///
/// # Safety
/// `p` points to at least `struct_size` readable bytes, where `struct_size`
/// is its own first field.
pub(crate) unsafe fn copy_from_extensible_struct<T: Copy>(
    p: *const T,
    min_size: usize,
) -> Result<T, FfiError> {
    // SAFETY: every such struct starts with a size_t, which we may read.
    let size = unsafe { (p as *const usize).read_unaligned() };
    let ours = std::mem::size_of::<T>();
    if size < min_size {
        return Err(einval(format!(
            "struct_size {size} is smaller than the first version ({min_size})"
        )));
    }
    if size > MAX_EXTENSIBLE_SIZE {
        return Err(FfiError::Arg {
            errno: libc::E2BIG,
            message: format!("struct_size {size} is larger than {MAX_EXTENSIBLE_SIZE}"),
        });
    }
    if size > ours {
        // SAFETY: the caller vouches for `size` readable bytes.
        let tail = unsafe { std::slice::from_raw_parts((p as *const u8).add(ours), size - ours) };
        if tail.iter().any(|b| *b != 0) {
            return Err(FfiError::Arg {
                errno: libc::E2BIG,
                message: format!(
                    "struct_size {size}: fields past byte {ours} are set, but this libnook does not know them"
                ),
            });
        }
    }
    let mut out = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: we copy min(size, ours) bytes from a readable source into our
    // own zeroed T; T is a repr(C) struct of integers and pointers, for which
    // all-zero and any caller-written bit pattern are valid.
    unsafe {
        std::ptr::copy_nonoverlapping(p as *const u8, out.as_mut_ptr() as *mut u8, size.min(ours));
        Ok(out.assume_init())
    }
}

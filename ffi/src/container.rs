//! `nook_container_t`: one container of a context, its lifecycle calls,
//! and the calls on a running container (pause, resume, update, stats,
//! processes). `nook_container_exec()` is in `process.rs`.

use std::ffi::{c_char, c_int, CString};

use nook_core::{Container, Status};
use oci_spec::runtime::LinuxResources;

use crate::context::{context_ref, create_options, NookContext, NookCreateOpts};
use crate::error::{einval, ffi_call, lossy_cstring, FfiError, NookError};
use crate::utils::{check_flags, give_string, out_arg, str_arg};

/// One container. Opaque; obtained from `nook_container_create()` or
/// `nook_container_load()`, freed by `nook_container_free()`. It is a handle
/// on the container's state directory, not the container itself: freeing it
/// neither stops nor deletes the container. Immutable, so it may be used
/// from many threads at once; the library serialises conflicting operations
/// on the same container with a lock in its state directory.
#[derive(Debug)]
pub struct NookContainer {
    pub(crate) inner: Container,
    id: CString,
}

/// A container's status, as runc reports it.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NookStatus {
    /// Set up; the init waits for `nook_container_start()`.
    NOOK_STATUS_CREATED = 1,
    /// The container's process runs.
    NOOK_STATUS_RUNNING = 2,
    /// Frozen by its cgroup.
    NOOK_STATUS_PAUSED = 3,
    /// The init has exited.
    NOOK_STATUS_STOPPED = 4,
}

/// `nook_container_kill()` flags: signal every process of the container's
/// cgroup, not only its init (runc's `kill --all`).
pub const NOOK_KILL_ALL: u32 = 1 << 0;
/// `nook_container_delete()` and `nook_context_delete()` flags: kill a
/// running container first (runc's `delete --force`).
pub const NOOK_DELETE_FORCE: u32 = 1 << 0;

pub(crate) fn wrap(inner: Container) -> *mut NookContainer {
    let id = lossy_cstring(inner.id().to_string());
    Box::into_raw(Box::new(NookContainer { inner, id }))
}

/// The error for a value this layer could not serialise (never expected).
fn json_error(what: &'static str) -> impl FnOnce(serde_json::Error) -> FfiError {
    move |e| FfiError::Os {
        errno: libc::EIO,
        message: format!("serialising {what}: {e}"),
    }
}

/// Parses `linux.resources` JSON, naming the path of the first bad field
/// (`linux.resources.pids.limit: invalid type: ...`) as config.json errors do.
fn parse_resources(text: &str) -> Result<LinuxResources, FfiError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_path_to_error says "." for the root and "?" where no path is known.
        let field = if inner.is_syntax() || inner.is_eof() || path == "." || path == "?" {
            "linux.resources".to_string()
        } else {
            format!("linux.resources.{path}")
        };
        let reason = if inner.is_syntax() || inner.is_eof() {
            format!("malformed JSON: {inner}")
        } else {
            inner.to_string()
        };
        FfiError::Core(nook_core::Error::Config { field, reason })
    })
}

/// Borrows the container behind a handle.
///
/// # Safety
/// `c` is NULL or a live container handle.
pub(crate) unsafe fn container_ref<'a>(c: *const NookContainer) -> Result<&'a NookContainer, FfiError> {
    if c.is_null() {
        return Err(einval("container is NULL"));
    }
    // SAFETY: non-NULL and live by the caller's contract.
    Ok(unsafe { &*c })
}

/// Loads and validates the bundle directory `bundle` (holding config.json)
/// and creates container `id` in `ctx`: on success the container's init
/// exists, is set up, and waits for `nook_container_start()`; a new handle
/// is stored in `*container` (free it with `nook_container_free()`).
/// `opts` may be NULL for defaults.
///
/// The calling process becomes the parent of the container's init: only it
/// can `nook_container_wait()` for it. It is safe to call from a
/// multithreaded program (the child does not allocate or lock before exec).
///
/// Returns 0, or a negative errno: -EINVAL for a bad config.json or
/// argument, -EEXIST if `id` is taken, -ENOENT if the program is not found
/// (-EACCES if it is not executable), as with runc, ... On failure nothing
/// is left behind (no state directory, cgroup, mount or process).
///
/// ```c
/// nook_create_opts_t opts = { .struct_size = sizeof opts };
/// nook_container_t *c = NULL;
/// if (nook_container_create(ctx, "demo", "/path/to/bundle", &opts, &c, &err) < 0) { ... }
/// ```
#[no_mangle]
pub unsafe extern "C" fn nook_container_create(
    ctx: *const NookContext,
    id: *const c_char,
    bundle: *const c_char,
    opts: *const NookCreateOpts,
    container: *mut *mut NookContainer,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_create", err, || {
        // SAFETY: pointers are NULL (rejected) or valid, per the contract.
        let ctx = unsafe { context_ref(ctx) }?;
        // SAFETY: as above.
        let id = unsafe { str_arg(id, "id") }?;
        // SAFETY: as above.
        let bundle = unsafe { str_arg(bundle, "bundle") }?;
        let out = out_arg(container, "container")?;
        // SAFETY: as above.
        let opts = unsafe { create_options(opts) }?;
        let c = ctx.create(id, bundle, &opts)?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { out.write(wrap(c)) };
        Ok(0)
    })
}

/// Opens the existing container `id` of `ctx` (created by this or another
/// process); stores a new handle in `*container`.
///
/// Returns 0, or a negative errno: -ENOENT if there is no such container.
#[no_mangle]
pub unsafe extern "C" fn nook_container_load(
    ctx: *const NookContext,
    id: *const c_char,
    container: *mut *mut NookContainer,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_load", err, || {
        // SAFETY: pointers are NULL (rejected) or valid, per the contract.
        let ctx = unsafe { context_ref(ctx) }?;
        // SAFETY: as above.
        let id = unsafe { str_arg(id, "id") }?;
        let out = out_arg(container, "container")?;
        let c = ctx.load(id)?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { out.write(wrap(c)) };
        Ok(0)
    })
}

/// Frees a container handle (not the container). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn nook_container_free(container: *mut NookContainer) {
    if container.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the handle came from Box::into_raw in `wrap`; freed once.
        drop(unsafe { Box::from_raw(container) });
    }));
}

/// The container's id. Borrowed from the handle: valid until
/// `nook_container_free()`, do not free it. NULL if `container` is NULL.
#[no_mangle]
pub unsafe extern "C" fn nook_container_id(container: *const NookContainer) -> *const c_char {
    std::panic::catch_unwind(|| {
        // SAFETY: NULL or live, per the contract.
        match unsafe { container_ref(container) } {
            Ok(c) => c.id.as_ptr(),
            Err(_) => std::ptr::null(),
        }
    })
    .unwrap_or(std::ptr::null())
}

/// Host pid of the container's init, as recorded at create time (it may
/// have exited since: see `nook_container_status()`). Returns -EINVAL if
/// `container` is NULL.
#[no_mangle]
pub unsafe extern "C" fn nook_container_pid(container: *const NookContainer) -> c_int {
    ffi_call("nook_container_pid", std::ptr::null_mut(), || {
        // SAFETY: NULL (rejected) or live, per the contract.
        Ok(unsafe { container_ref(container) }?.inner.pid())
    })
}

/// Lets a created container's init execute its process. Returns once the
/// execve has happened, or with the reason it failed.
///
/// Returns 0, or a negative errno: -EBUSY if the container is not in the
/// "created" state, -ENOEXEC if the kernel cannot execute its program, ...
#[no_mangle]
pub unsafe extern "C" fn nook_container_start(
    container: *const NookContainer,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_start", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        unsafe { container_ref(container) }?.inner.start()?;
        Ok(0)
    })
}

/// Waits for the container's init to exit and stores its exit code (128+N
/// when killed by signal N) in `*exit_code`. Only the process that created
/// the container can wait for it (-ECHILD otherwise); others poll
/// `nook_container_status()`. Blocks the calling thread only.
///
/// Returns 0, or a negative errno.
#[no_mangle]
pub unsafe extern "C" fn nook_container_wait(
    container: *const NookContainer,
    exit_code: *mut c_int,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_wait", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        let out = out_arg(exit_code, "exit_code")?;
        let code = c.inner.wait()?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { out.write(code) };
        Ok(0)
    })
}

/// Like `nook_container_wait()` without blocking: returns 1 and stores the
/// exit code if the init has exited (and was reaped by this call), 0 if it
/// still runs, or a negative errno.
#[no_mangle]
pub unsafe extern "C" fn nook_container_try_wait(
    container: *const NookContainer,
    exit_code: *mut c_int,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_try_wait", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        let out = out_arg(exit_code, "exit_code")?;
        match c.inner.try_wait()? {
            Some(code) => {
                // SAFETY: `out` is the caller's slot, checked non-NULL.
                unsafe { out.write(code) };
                Ok(1)
            }
            None => Ok(0),
        }
    })
}

/// Sends signal `signal` to the container's init, or with `NOOK_KILL_ALL`
/// in `flags` to every process of the container (of a stopped one too, as
/// runc: what is left in its cgroup, maybe nothing).
///
/// Returns 0, or a negative errno: -EBUSY if the container is not running
/// (without `NOOK_KILL_ALL`), -EINVAL for an unknown signal or flag.
#[no_mangle]
pub unsafe extern "C" fn nook_container_kill(
    container: *const NookContainer,
    signal: c_int,
    flags: u32,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_kill", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        check_flags(flags, NOOK_KILL_ALL, "flags")?;
        c.inner.kill(signal, flags & NOOK_KILL_ALL != 0)?;
        Ok(0)
    })
}

/// Deletes the container: its state directory and cgroup. A created or
/// stopped container is deleted; a running one only with
/// `NOOK_DELETE_FORCE`, which kills it first. The handle stays allocated
/// (free it with `nook_container_free()`) but refers to nothing.
///
/// Returns 0, or a negative errno: -EBUSY for a running container without
/// `NOOK_DELETE_FORCE`.
#[no_mangle]
pub unsafe extern "C" fn nook_container_delete(
    container: *const NookContainer,
    flags: u32,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_delete", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        check_flags(flags, NOOK_DELETE_FORCE, "flags")?;
        c.inner.delete(flags & NOOK_DELETE_FORCE != 0)?;
        Ok(0)
    })
}

/// Deletes container `id` of `ctx` without a handle, as `nook delete` does.
/// With `NOOK_DELETE_FORCE` (`nook delete --force`) a running container is
/// killed first, a missing one is not an error, and one whose state cannot
/// be loaded (state.json missing, empty, truncated or corrupt, so that
/// `nook_container_load()` fails) is removed all the same, as far as its
/// state can be trusted: what its intent record (written before create
/// made anything) names of its cgroup and processes, and its state directory.
///
/// Returns 0, or a negative errno: -ENOENT for a missing container and
/// -EBUSY for a running one without `NOOK_DELETE_FORCE`.
#[no_mangle]
pub unsafe extern "C" fn nook_context_delete(
    ctx: *const NookContext,
    id: *const c_char,
    flags: u32,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_context_delete", err, || {
        // SAFETY: pointers are NULL (rejected) or valid, per the contract.
        let ctx = unsafe { context_ref(ctx) }?;
        // SAFETY: as above.
        let id = unsafe { str_arg(id, "id") }?;
        check_flags(flags, NOOK_DELETE_FORCE, "flags")?;
        ctx.delete(id, flags & NOOK_DELETE_FORCE != 0)?;
        Ok(0)
    })
}

/// The container's current status (read from the kernel) in `*status`.
///
/// Returns 0, or a negative errno.
#[no_mangle]
pub unsafe extern "C" fn nook_container_status(
    container: *const NookContainer,
    status: *mut NookStatus,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_status", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        let out = out_arg(status, "status")?;
        let s = match c.inner.status() {
            Status::Created => NookStatus::NOOK_STATUS_CREATED,
            Status::Running => NookStatus::NOOK_STATUS_RUNNING,
            Status::Paused => NookStatus::NOOK_STATUS_PAUSED,
            Status::Stopped => NookStatus::NOOK_STATUS_STOPPED,
        };
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { out.write(s) };
        Ok(0)
    })
}

/// The container's state as `runc state` prints it (a JSON object with
/// ociVersion, id, pid, status, bundle, rootfs, created, annotations,
/// owner) in `*json`, which the caller frees with `nook_string_free()`.
///
/// Returns 0, or a negative errno.
#[no_mangle]
pub unsafe extern "C" fn nook_container_state(
    container: *const NookContainer,
    json: *mut *mut c_char,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_state", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        let out = out_arg(json, "json")?;
        let text = serde_json::to_string(&c.inner.state()).map_err(json_error("the state"))?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { give_string(out, text) };
        Ok(0)
    })
}

/// Freezes every process of a running container (its cgroup's freezer);
/// its status becomes "paused" (`NOOK_STATUS_PAUSED`).
///
/// Returns 0, or a negative errno: -EBUSY if the container is not running
/// (or is already paused).
#[no_mangle]
pub unsafe extern "C" fn nook_container_pause(
    container: *const NookContainer,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_pause", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        unsafe { container_ref(container) }?.inner.pause()?;
        Ok(0)
    })
}

/// Thaws a paused container; its status becomes "running" again.
///
/// Returns 0, or a negative errno: -EBUSY if the container is not paused.
#[no_mangle]
pub unsafe extern "C" fn nook_container_resume(
    container: *const NookContainer,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_resume", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        unsafe { container_ref(container) }?.inner.resume()?;
        Ok(0)
    })
}

/// Applies new resource limits to a created, running or paused container,
/// like `runc update --resources`. `resources_json` is a JSON object in the
/// shape of config.json's `linux.resources` (e.g. `{"pids":{"limit":64}}`);
/// fields it leaves out are not changed. The string is borrowed for the call.
///
/// Returns 0, or a negative errno: -EINVAL (kind
/// `NOOK_ERROR_KIND_INVALID_CONFIG`) for JSON that is malformed or does not
/// fit `linux.resources`, with the path of the bad field in the message
/// ("linux.resources.pids.limit: invalid type: ..."), or for a value the
/// library rejects; -EBUSY if the container has stopped.
#[no_mangle]
pub unsafe extern "C" fn nook_container_update(
    container: *const NookContainer,
    resources_json: *const c_char,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_update", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        // SAFETY: as above.
        let text = unsafe { str_arg(resources_json, "resources_json") }?;
        let resources = parse_resources(text)?;
        c.inner.update(&resources)?;
        Ok(0)
    })
}

/// The container's resource usage in `*json`, which the caller frees with
/// `nook_string_free()`: a JSON object shaped like the `data` of runc's
/// `events --stats` (`cpu`, `memory`, `pids`, `blkio`, `hugetlb`; times in
/// nanoseconds, sizes in bytes; `pids.current` is the number of processes).
///
/// Returns 0, or a negative errno: -EBUSY if the container has stopped.
#[no_mangle]
pub unsafe extern "C" fn nook_container_stats(
    container: *const NookContainer,
    json: *mut *mut c_char,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_stats", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        let out = out_arg(json, "json")?;
        let text = serde_json::to_string(&c.inner.stats()?).map_err(json_error("the stats"))?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { give_string(out, text) };
        Ok(0)
    })
}

/// The host pids of every process of the container (its cgroup's members,
/// like `runc ps --format json`) as a JSON array of numbers in `*json`,
/// which the caller frees with `nook_string_free()`.
///
/// Returns 0, or a negative errno.
#[no_mangle]
pub unsafe extern "C" fn nook_container_processes(
    container: *const NookContainer,
    json: *mut *mut c_char,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_processes", err, || {
        // SAFETY: NULL (rejected) or live, per the contract.
        let c = unsafe { container_ref(container) }?;
        let out = out_arg(json, "json")?;
        let text = serde_json::to_string(&c.inner.processes()?).map_err(json_error("the pids"))?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { give_string(out, text) };
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::path::PathBuf;
    use std::ptr;

    use super::*;
    use crate::context::{nook_context_free, nook_context_new};

    /// Kills and reaps the init, and removes the cgroup directories, should
    /// the test fail before the delete did it.
    struct Leftovers {
        pid: Option<i32>,
        dirs: Vec<PathBuf>,
    }

    impl Drop for Leftovers {
        fn drop(&mut self) {
            if let Some(pid) = self.pid {
                // SAFETY: plain syscalls on our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, ptr::null_mut(), 0);
                }
            }
            for d in self.dirs.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
    }

    /// A container whose state.json is cut short cannot be loaded, so no
    /// handle can delete it; `nook_context_delete()` with
    /// `NOOK_DELETE_FORCE` removes it by id as `nook delete --force` does:
    /// by its intent record, its init killed, its cgroup and state gone.
    #[test]
    fn context_delete_force_removes_a_container_whose_state_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
        let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hello/config.json");
        let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(hello).unwrap()).unwrap();
        config["process"]["args"] = serde_json::json!(["/bin/sleep", "100"]);
        std::fs::write(bundle.join("config.json"), config.to_string()).unwrap();
        let state_root = dir.path().join("state");
        let root = CString::new(state_root.to_str().unwrap()).unwrap();
        let bundle = CString::new(bundle.to_str().unwrap()).unwrap();
        let id = c"ffi-corrupt";

        let mut ctx = ptr::null_mut();
        // SAFETY: valid C strings and out-pointers, for each call below.
        let made = unsafe { nook_context_new(root.as_ptr(), &mut ctx, ptr::null_mut()) };
        assert_eq!(made, 0);
        let mut c = ptr::null_mut();
        // SAFETY: as above.
        let created = unsafe {
            nook_container_create(
                ctx,
                id.as_ptr(),
                bundle.as_ptr(),
                ptr::null(),
                &mut c,
                ptr::null_mut(),
            )
        };
        assert_eq!(created, 0);
        // SAFETY: a live handle.
        let pid = unsafe { nook_container_pid(c) };
        let state_file = state_root.join("ffi-corrupt/state.json");
        let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
        let dirs: Vec<PathBuf> = state["cgroup"]["dirs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["created"].as_array().unwrap().iter())
            .map(|p| PathBuf::from(p.as_str().unwrap()))
            .collect();
        assert!(!dirs.is_empty() && dirs.iter().all(|d| d.exists()));
        let mut left = Leftovers {
            pid: Some(pid),
            dirs: dirs.clone(),
        };
        // SAFETY: freed once.
        unsafe { nook_container_free(c) };
        let text = std::fs::read(&state_file).unwrap();
        std::fs::write(&state_file, &text[..40]).unwrap();

        let mut c = ptr::null_mut();
        // SAFETY: as above.
        assert!(unsafe { nook_container_load(ctx, id.as_ptr(), &mut c, ptr::null_mut()) } < 0);
        // SAFETY: as above.
        assert!(unsafe { nook_context_delete(ctx, id.as_ptr(), 0, ptr::null_mut()) } < 0);
        assert!(state_file.exists(), "refused without NOOK_DELETE_FORCE");
        // SAFETY: as above.
        let deleted = unsafe { nook_context_delete(ctx, id.as_ptr(), NOOK_DELETE_FORCE, ptr::null_mut()) };
        assert_eq!(deleted, 0);
        // Our child, killed and reaped by the delete, as a handle's delete
        // reaps it: no zombie is left to the caller.
        let mut status = 0;
        // SAFETY: a plain waitpid on our own (former) child.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert_eq!(waited, -1, "the init was left for us to reap");
        assert!(
            !PathBuf::from(format!("/proc/{pid}")).exists(),
            "init {pid} still there"
        );
        left.pid = None;
        for d in &dirs {
            assert!(!d.exists(), "cgroup {} left", d.display());
        }
        assert!(!state_root.join("ffi-corrupt").exists(), "state left");
        // Gone: force is fine with that (runc), plain delete is not.
        // SAFETY: as above.
        let again = unsafe { nook_context_delete(ctx, id.as_ptr(), NOOK_DELETE_FORCE, ptr::null_mut()) };
        assert_eq!(again, 0);
        // SAFETY: as above.
        let plain = unsafe { nook_context_delete(ctx, id.as_ptr(), 0, ptr::null_mut()) };
        assert_eq!(plain, -libc::ENOENT);
        // SAFETY: freed once.
        unsafe { nook_context_free(ctx) };
    }
}

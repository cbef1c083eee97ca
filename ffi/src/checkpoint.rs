//! Checkpoint and restore through criu: `nook_container_checkpoint()` and
//! `nook_context_restore()`, with runc's options.

use std::ffi::{c_char, c_int};
use std::path::PathBuf;

use nook_core::criu::proto::CgMode;
use nook_core::{CheckpointOptions, RestoreOptions};

use crate::container::{container_ref, wrap, NookContainer};
use crate::context::{context_ref, NookContext};
use crate::error::{einval, ffi_call, FfiError, NookError};
use crate::utils::{check_flags, copy_from_extensible_struct, opt_path_arg, out_arg, str_arg};

/// `flags` of both options structs: allow open TCP connections (runc's
/// `--tcp-established`).
pub const NOOK_CRIU_TCP_ESTABLISHED: u32 = 1 << 0;
/// Allow unix sockets connected outside the container (`--ext-unix-sk`).
pub const NOOK_CRIU_EXT_UNIX_SK: u32 = 1 << 1;
/// The container is a shell job, on a terminal of the caller's (`--shell-job`).
pub const NOOK_CRIU_SHELL_JOB: u32 = 1 << 2;
/// Dump and restore file locks (`--file-locks`).
pub const NOOK_CRIU_FILE_LOCKS: u32 = 1 << 3;
/// Deduplicate the images (`--auto-dedup`).
pub const NOOK_CRIU_AUTO_DEDUP: u32 = 1 << 4;
/// `nook_checkpoint_opts_t.flags`: keep the container running after the
/// checkpoint (`--leave-running`); otherwise it is deleted, as with runc.
pub const NOOK_CHECKPOINT_LEAVE_RUNNING: u32 = 1 << 8;
/// `nook_checkpoint_opts_t.flags`: dump memory only, for a later dump with
/// `parent_path` (`--pre-dump`); the container goes on running.
pub const NOOK_CHECKPOINT_PRE_DUMP: u32 = 1 << 9;
/// `nook_restore_opts_t.flags`: MS_MOVE + chroot checks (`--no-pivot`).
pub const NOOK_RESTORE_NO_PIVOT: u32 = 1 << 8;
/// `nook_restore_opts_t.flags`: let systemd make the cgroup, as the
/// checkpointed container's was made (runc's `--systemd-cgroup`).
pub const NOOK_RESTORE_SYSTEMD_CGROUP: u32 = 1 << 9;

const CRIU_FLAGS: u32 = NOOK_CRIU_TCP_ESTABLISHED
    | NOOK_CRIU_EXT_UNIX_SK
    | NOOK_CRIU_SHELL_JOB
    | NOOK_CRIU_FILE_LOCKS
    | NOOK_CRIU_AUTO_DEDUP;
const CHECKPOINT_KNOWN_FLAGS: u32 = CRIU_FLAGS | NOOK_CHECKPOINT_LEAVE_RUNNING | NOOK_CHECKPOINT_PRE_DUMP;
const RESTORE_KNOWN_FLAGS: u32 = CRIU_FLAGS | NOOK_RESTORE_NO_PIVOT | NOOK_RESTORE_SYSTEMD_CGROUP;

/// `manage_cgroups_mode` of the options structs (runc's
/// `--manage-cgroups-mode`); 0 leaves criu's default (soft).
pub const NOOK_CGROUPS_MODE_DEFAULT: u32 = 0;
/// Restore the properties of the cgroups criu creates only.
pub const NOOK_CGROUPS_MODE_SOFT: u32 = 1;
/// Restore every property.
pub const NOOK_CGROUPS_MODE_FULL: u32 = 2;
/// Fail unless the cgroups are as dumped.
pub const NOOK_CGROUPS_MODE_STRICT: u32 = 3;
/// Leave the cgroups alone.
pub const NOOK_CGROUPS_MODE_IGNORE: u32 = 4;

/// Options of `nook_container_checkpoint()`. Extensible, with the rules of
/// `nook_create_opts_t`: set `struct_size = sizeof(nook_checkpoint_opts_t)`
/// and zero the rest. `image_path` is required.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NookCheckpointOpts {
    /// `sizeof(nook_checkpoint_opts_t)` as the caller was compiled.
    pub struct_size: usize,
    /// Where criu writes the images (made 0700 if missing).
    pub image_path: *const c_char,
    /// Where criu writes dump.log; NULL for the image path.
    pub work_path: *const c_char,
    /// The previous pre-dump, relative to the image path ("../pre"); NULL for none.
    pub parent_path: *const c_char,
    /// `NOOK_CRIU_*` and `NOOK_CHECKPOINT_*` flags; unknown bits are -EINVAL.
    pub flags: u32,
    /// `NOOK_CGROUPS_MODE_*`.
    pub manage_cgroups_mode: u32,
    /// CLONE_NEW* flags of namespaces restored empty (runc's `--empty-ns`).
    pub empty_ns: u32,
}

/// Options of `nook_context_restore()`. Extensible, with the rules of
/// `nook_create_opts_t`: set `struct_size = sizeof(nook_restore_opts_t)`
/// and zero the rest. `image_path` is required.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NookRestoreOpts {
    /// `sizeof(nook_restore_opts_t)` as the caller was compiled.
    pub struct_size: usize,
    /// The checkpoint's images.
    pub image_path: *const c_char,
    /// Where criu writes restore.log; NULL for the image path.
    pub work_path: *const c_char,
    /// Write the restored init's pid to this file (atomically); NULL for none.
    pub pid_file: *const c_char,
    /// Unix socket that receives the restored terminal's pty master; NULL for none.
    pub console_socket: *const c_char,
    /// The LSM profile of the restored processes (`apparmor:NAME`,
    /// `selinux:LABEL`); NULL for the dumped one.
    pub lsm_profile: *const c_char,
    /// The SELinux mount context of the restored mounts; NULL for none.
    pub lsm_mount_context: *const c_char,
    /// `NOOK_CRIU_*` and `NOOK_RESTORE_*` flags; unknown bits are -EINVAL.
    pub flags: u32,
    /// `NOOK_CGROUPS_MODE_*`.
    pub manage_cgroups_mode: u32,
    /// CLONE_NEW* flags of namespaces restored empty.
    pub empty_ns: u32,
}

const CHECKPOINT_OPTS_SIZE_VER0: usize = std::mem::size_of::<NookCheckpointOpts>();
const RESTORE_OPTS_SIZE_VER0: usize = std::mem::size_of::<NookRestoreOpts>();

fn cg_mode(mode: u32, what: &str) -> Result<Option<CgMode>, FfiError> {
    Ok(match mode {
        NOOK_CGROUPS_MODE_DEFAULT => None,
        NOOK_CGROUPS_MODE_SOFT => Some(CgMode::Soft),
        NOOK_CGROUPS_MODE_FULL => Some(CgMode::Full),
        NOOK_CGROUPS_MODE_STRICT => Some(CgMode::Strict),
        NOOK_CGROUPS_MODE_IGNORE => Some(CgMode::Ignore),
        _ => return Err(einval(format!("{what}: unknown mode {mode}"))),
    })
}

/// The required image path.
///
/// # Safety
/// `p` is NULL or a C string valid during the call.
unsafe fn image_path(p: *const c_char, what: &str) -> Result<PathBuf, FfiError> {
    // SAFETY: forwarded contract.
    unsafe { str_arg(p, what) }.map(PathBuf::from)
}

/// Reads `opts` (required) into the library's options.
///
/// # Safety
/// `opts` is NULL or points to a struct of at least `opts->struct_size` bytes.
unsafe fn checkpoint_options(opts: *const NookCheckpointOpts) -> Result<CheckpointOptions, FfiError> {
    if opts.is_null() {
        return Err(einval("opts is NULL (image_path is required)"));
    }
    // SAFETY: forwarded contract.
    let o = unsafe { copy_from_extensible_struct(opts, CHECKPOINT_OPTS_SIZE_VER0) }?;
    check_flags(o.flags, CHECKPOINT_KNOWN_FLAGS, "nook_checkpoint_opts_t.flags")?;
    let f = |bit| o.flags & bit != 0;
    Ok(CheckpointOptions {
        // SAFETY: strings valid during the call, per the contract.
        image_path: unsafe { image_path(o.image_path, "nook_checkpoint_opts_t.image_path") }?,
        // SAFETY: as above.
        work_path: unsafe { opt_path_arg(o.work_path, "work_path") }?,
        // SAFETY: as above.
        parent_path: unsafe { opt_path_arg(o.parent_path, "parent_path") }?,
        leave_running: f(NOOK_CHECKPOINT_LEAVE_RUNNING),
        pre_dump: f(NOOK_CHECKPOINT_PRE_DUMP),
        tcp_established: f(NOOK_CRIU_TCP_ESTABLISHED),
        ext_unix_sk: f(NOOK_CRIU_EXT_UNIX_SK),
        shell_job: f(NOOK_CRIU_SHELL_JOB),
        file_locks: f(NOOK_CRIU_FILE_LOCKS),
        auto_dedup: f(NOOK_CRIU_AUTO_DEDUP),
        manage_cgroups_mode: cg_mode(
            o.manage_cgroups_mode,
            "nook_checkpoint_opts_t.manage_cgroups_mode",
        )?,
        empty_ns: o.empty_ns,
        // Lazy pages only; not offered through the C ABI.
        status_fd: None,
    })
}

/// Reads `opts` (required) into the library's options.
///
/// # Safety
/// `opts` is NULL or points to a struct of at least `opts->struct_size` bytes.
unsafe fn restore_options(opts: *const NookRestoreOpts) -> Result<RestoreOptions, FfiError> {
    if opts.is_null() {
        return Err(einval("opts is NULL (image_path is required)"));
    }
    // SAFETY: forwarded contract.
    let o = unsafe { copy_from_extensible_struct(opts, RESTORE_OPTS_SIZE_VER0) }?;
    check_flags(o.flags, RESTORE_KNOWN_FLAGS, "nook_restore_opts_t.flags")?;
    let f = |bit| o.flags & bit != 0;
    // SAFETY: each string is NULL or valid during the call, per the contract.
    let text =
        |p, what| unsafe { opt_path_arg(p, what) }.map(|p| p.map(|p| p.to_string_lossy().into_owned()));
    Ok(RestoreOptions {
        // SAFETY: as above.
        image_path: unsafe { image_path(o.image_path, "nook_restore_opts_t.image_path") }?,
        // SAFETY: as above.
        work_path: unsafe { opt_path_arg(o.work_path, "work_path") }?,
        // SAFETY: as above.
        pid_file: unsafe { opt_path_arg(o.pid_file, "pid_file") }?,
        // SAFETY: as above.
        console_socket: unsafe { opt_path_arg(o.console_socket, "console_socket") }?,
        lsm_profile: text(o.lsm_profile, "lsm_profile")?,
        lsm_mount_context: text(o.lsm_mount_context, "lsm_mount_context")?,
        no_pivot: f(NOOK_RESTORE_NO_PIVOT),
        systemd_cgroup: f(NOOK_RESTORE_SYSTEMD_CGROUP),
        // As nook_container_create(), which has no such option either.
        no_new_keyring: false,
        tcp_established: f(NOOK_CRIU_TCP_ESTABLISHED),
        ext_unix_sk: f(NOOK_CRIU_EXT_UNIX_SK),
        shell_job: f(NOOK_CRIU_SHELL_JOB),
        file_locks: f(NOOK_CRIU_FILE_LOCKS),
        auto_dedup: f(NOOK_CRIU_AUTO_DEDUP),
        manage_cgroups_mode: cg_mode(o.manage_cgroups_mode, "nook_restore_opts_t.manage_cgroups_mode")?,
        empty_ns: o.empty_ns,
    })
}

/// Checkpoints a running (or paused) container with criu (`criu` in PATH)
/// into `opts->image_path`. Unless `NOOK_CHECKPOINT_LEAVE_RUNNING` or
/// `NOOK_CHECKPOINT_PRE_DUMP`, the container's processes are stopped and
/// the container is deleted (the handle then names no container).
///
/// Returns 0, or a negative errno: -EBUSY if the container is not running
/// (nothing is made), -EINVAL for bad options, -ENOTSUP without criu, -EIO
/// when criu fails (the error names dump.log in the work path and ends with
/// its last error lines).
#[no_mangle]
pub unsafe extern "C" fn nook_container_checkpoint(
    container: *const NookContainer,
    opts: *const NookCheckpointOpts,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_container_checkpoint", err, || {
        // SAFETY: NULL (rejected) or valid, per the contract.
        let opts = unsafe { checkpoint_options(opts) }?;
        // SAFETY: as above.
        unsafe { container_ref(container) }?.inner.checkpoint(&opts)?;
        Ok(0)
    })
}

/// Restores container `id` of `ctx` from the checkpoint at
/// `opts->image_path`, with the bundle directory `bundle`; stores a new
/// handle in `*container`. The restored init is a child of the calling
/// process, as after `nook_container_create()` and start: it can
/// `nook_container_wait()` for it. The caller's stdio become the restored
/// container's where the checkpointed ones were pipes.
///
/// Returns 0, or a negative errno: -EINVAL if the image path is not a
/// checkpoint or an option is bad, -EEXIST if `id` is taken, -ENOTSUP
/// without criu, -EIO when criu fails (the error names restore.log). On
/// failure nothing is left behind.
#[no_mangle]
pub unsafe extern "C" fn nook_context_restore(
    ctx: *const NookContext,
    id: *const c_char,
    bundle: *const c_char,
    opts: *const NookRestoreOpts,
    container: *mut *mut NookContainer,
    err: *mut *mut NookError,
) -> c_int {
    ffi_call("nook_context_restore", err, || {
        // SAFETY: pointers are NULL (rejected) or valid, per the contract.
        let ctx = unsafe { context_ref(ctx) }?;
        // SAFETY: as above.
        let id = unsafe { str_arg(id, "id") }?;
        // SAFETY: as above.
        let bundle = unsafe { str_arg(bundle, "bundle") }?;
        let out = out_arg(container, "container")?;
        // SAFETY: as above.
        let opts = unsafe { restore_options(opts) }?;
        let c = ctx.restore(id, bundle, &opts)?;
        // SAFETY: `out` is the caller's slot, checked non-NULL.
        unsafe { out.write(wrap(c)) };
        Ok(0)
    })
}

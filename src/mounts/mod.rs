//! The container's filesystem view: rootfs, the spec's mounts in order,
//! /dev, `pivot_root`, masked and read-only paths.
//!
//! [`MountPlan::from_spec`] validates and prepares everything in the parent
//! (C strings, flags, split destinations); [`setup_rootfs`] and
//! [`finish_rootfs`] run in the child and only make system calls.
//!
//! The sequence follows runc's, for the same kernel reasons:
//! 1. make `/` slave (or the requested propagation) so nothing we mount
//!    propagates back to the host;
//! 2. bind the rootfs onto itself: `pivot_root` needs the new root to be a
//!    mount point;
//! 3. mount each entry onto a target resolved inside the rootfs and reached
//!    through `/proc/self/fd/N`, so a symlink cannot redirect it;
//! 4. create /dev nodes and symlinks, then `pivot_root(".", ".")` and detach
//!    the old root, which needs no directory inside the rootfs;
//! 5. read-only paths, masked paths, and finally the read-only root.
//!
//! Id-mapped bind mounts (runtime-spec 1.2 `uidMappings`/`gidMappings` on a
//! mount, options `idmap`/`ridmap`) are made by the parent before the clone,
//! as runc 1.2 does: see [`MountPlan::open_idmapped`]. The child only attaches
//! the prepared detached mount with `move_mount(2)`.
#![forbid(unsafe_code)]

pub mod copyup;
pub mod dev;
pub mod options;
pub mod procfs;
pub mod resolve;

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use libc::c_ulong;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::lsm::MountLabeling;
use crate::namespaces::{self, IdMaps, NamespacePlan};
use crate::procfile::MountLine;
use crate::step::{ChildError, Step, StepExt};
use crate::sys::{self, FdPath, MountAttr};
use dev::DeviceOp;
use options::{LOCKED_ST_FLAGS, REMOUNT_FLAGS};
use resolve::{open_dest, Create, Dest};

/// How a mount entry is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount of a host path (`MS_BIND`, with `MS_REC` for rbind).
    Bind,
    /// A new filesystem instance (proc, sysfs, tmpfs, devpts, mqueue, ...).
    Fs,
    /// The `cgroup` type: the container's own cgroups, see [`CgroupMount`].
    Cgroup(CgroupMount),
}

/// What a `cgroup` mount shows, filled in once the container's cgroup exists
/// (see [`MountPlan::set_cgroup_sources`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupMount {
    /// Pure cgroup v2 with a cgroup namespace: mount cgroup2 directly (the
    /// namespace makes the container's cgroup its root).
    pub cgroup2: bool,
    /// Otherwise one bind per hierarchy of the container's own directory:
    /// (name under the destination, host directory). An empty name binds
    /// onto the destination itself (pure v2 without a cgroup namespace);
    /// other names go into a tmpfs, like the host's /sys/fs/cgroup.
    pub binds: Vec<(CString, CString)>,
}

/// One entry of `mounts`, ready for the child.
#[derive(Debug, Clone)]
pub struct MountOp {
    /// Index in the spec's `mounts`, for messages.
    pub index: usize,
    /// Where, inside the container.
    pub dest: Dest,
    /// What kind of mount.
    pub kind: MountKind,
    /// `source` (absolute host path for binds).
    pub source: Option<CString>,
    /// Filesystem type for [`MountKind::Fs`].
    pub fstype: Option<CString>,
    /// MS_* flags of the first mount call.
    pub flags: c_ulong,
    /// Filesystem data (`mode=755,size=65536k`).
    pub data: Option<CString>,
    /// For binds with per-mount flags: the flags of the `MS_REMOUNT | MS_BIND` call.
    pub remount: Option<c_ulong>,
    /// Propagation calls after the mount.
    pub propagation: Vec<c_ulong>,
    /// Recursive attributes (`rro` ...), via mount_setattr(AT_RECURSIVE).
    pub attr: Option<MountAttr>,
    /// Copy the former directory contents into the new tmpfs.
    pub tmpcopyup: bool,
    /// What to create at a missing destination.
    pub create: Create,
    /// For an id-mapped bind mount: where its id maps come from.
    pub idmap: Option<Idmap>,
    /// The destination may be on procfs: a `proc` mount at /proc, or one of
    /// [`PROC_MOUNTS_ALLOWED`]. Any other target the child finds on procfs
    /// is refused (the image can change between plan and mount).
    pub proc_ok: bool,
    /// A proc or sysfs mount: its destination must be a directory reached
    /// through no symlink, checked again by the child (the image can change
    /// between plan and mount), see [`resolve_ordinary_dir`].
    pub ordinary_dir: bool,
    /// `ro` deferred to [`finish_rootfs`], as runc's `finalizeRootfs` does
    /// for tmpfs mounts and /dev: what is mounted inside (devpts on
    /// /dev/pts, device nodes) needs them writable until the end.
    pub late_ro: bool,
    /// The SELinux label of the new mount's root, for a filesystem that
    /// takes `linux.mountLabel` after the mount rather than as an option.
    pub root_label: Option<CString>,
    /// A tmpfs without `mode=`: over a directory the image has, its root
    /// takes that directory's mode (runc's run.bats "with tmpfs perms": a
    /// 0710 or setgid /tmp stays so), where a fresh tmpfs would be 1777.
    pub keep_mode: bool,
}

/// The files inside /proc a mount may cover: those lxcfs emulates (runc's
/// `checkProcMount` list). Everything else in /proc is refused, so nothing
/// can be mounted over the files nook writes or over /proc/self/fd.
pub const PROC_MOUNTS_ALLOWED: [&str; 8] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
];

/// An id-mapped bind mount (runtime-spec 1.2, `mounts[i].uidMappings` and
/// `gidMappings`, options `idmap` and `ridmap`).
///
/// # What the mappings mean
///
/// The mount is made with `mount_setattr(MOUNT_ATTR_IDMAP)` through a user
/// namespace whose `uid_map` is the mount's `uidMappings` written as
/// `containerID hostID size` (and `gid_map` likewise), exactly the way a
/// container's own `linux.uidMappings` is written. For the kernel, an id
/// stored on disk is read as an id *inside* that namespace and shown as the
/// id it maps to *outside*. So a file owned by `containerID` on disk is seen
/// through the mount as owned by `hostID` (in the host's view), and a file
/// created through the mount by host id `hostID` is stored as `containerID`.
/// If the container has a user namespace of its own, that one then maps the
/// host id to what the process sees: with the usual identical mappings on
/// the mount and in `linux` (`0 -> 100000`), a file owned by 0 on disk is
/// owned by 0 in the container too, which is what id-mapped mounts are for.
///
/// This is runc 1.2's reading: its `userns.Handles` spawns a process with
/// the mount's mappings as its `UidMappings` and passes its
/// `/proc/PID/ns/user` as `userns_fd`
/// (`libcontainer/internal/userns/usernsfd_linux.go`, `mountFd` in
/// `libcontainer/mount_linux.go`), and its `tests/integration/idmap.bats`
/// checks that a file owned by 0:0 on disk, bind-mounted with
/// `0:100000:65536`, is shown as 100000:100000 without a user namespace and
/// as 0:0 in a container whose own mappings are `0:100000:65536`. Note that
/// this is not "files owned by `hostID` on disk appear as `containerID`":
/// the direction is the other way round, from disk (`containerID`) to the
/// host's view (`hostID`).
///
/// `idmap`/`ridmap` without mappings take the container's user namespace
/// (its `linux.uidMappings`, or the namespace it joins), as runc 1.2 does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idmap {
    /// The user namespace that holds the mapping.
    pub userns: IdmapUserns,
    /// `ridmap`: map every mount of an `rbind` tree (mount_setattr with
    /// AT_RECURSIVE), not only its top.
    pub recursive: bool,
}

/// Where the user namespace of an [`Idmap`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdmapUserns {
    /// A new namespace with these maps, made for the mount.
    Maps(IdMaps),
    /// The existing namespace the container joins (`linux.namespaces` path).
    Join(PathBuf),
}

/// Id-mapped mounts prepared by the parent ([`MountPlan::open_idmapped`]):
/// detached mount trees by index in `mounts`, numbered above the fds the
/// caller preserves.
#[derive(Debug, Default)]
pub struct Detached(Vec<(usize, OwnedFd)>);

impl Detached {
    /// The detached mount for `mounts[index]` (child-safe: no allocation).
    fn get(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.0.iter().find(|(i, _)| *i == index).map(|(_, fd)| fd.as_fd())
    }

    /// Their descriptor numbers, which the child keeps until the rootfs is built.
    pub fn raw_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.0.iter().map(|(_, fd)| fd.as_raw_fd())
    }
}

/// Everything the child needs to build the container's filesystem view.
#[derive(Debug, Clone)]
pub struct MountPlan {
    /// Host path of the rootfs.
    pub rootfs: CString,
    /// Propagation applied to `/` first (MS_SLAVE | MS_REC unless configured).
    pub root_propagation: c_ulong,
    /// The host mount point holding the rootfs, made private when `/` is
    /// shared (pivot_root refuses a shared parent) or unbindable (the rootfs
    /// could not be bound onto itself).
    pub rootfs_parent_mount: Option<CString>,
    /// `linux.rootfsPropagation` when the config sets it, applied again to
    /// the new `/` once the container is in it: the rootfs bind came from a
    /// private parent, so only then can `/` itself be shared or unbindable
    /// (as crun does; a shared `/` lets a bind of `/` see later mounts).
    pub final_propagation: Option<c_ulong>,
    /// `root.readonly`.
    pub readonly_root: bool,
    /// `--no-pivot`: MS_MOVE + chroot instead of pivot_root (for ramfs roots).
    pub no_pivot: bool,
    /// With `--no-pivot`: the mount points of the caller's full proc and
    /// sysfs mounts (root `/`) outside the rootfs, which the child detaches
    /// (or covers) before the move. They would stay in the container's
    /// mount namespace under the moved rootfs, unreachable but fully
    /// visible to the kernel's `mount_too_revealing()` check, which would
    /// then let a process that makes a user namespace mount a fresh,
    /// unmasked procfs or sysfs (runc's `msMoveRoot`). Read from the
    /// caller's mountinfo: the child's mount namespace is a copy of it.
    pub host_proc_sys: Vec<CString>,
    /// The container has no mount namespace of its own (`linux.namespaces`
    /// names none, new or joined): it shares the caller's. Its mounts then
    /// land in the caller's mount table (under the rootfs) and stay there
    /// after the container is gone, as with runc; nothing else is touched:
    /// `/` keeps its propagation, the rootfs is not bound onto itself, and
    /// the process is `chroot`ed into it instead of `pivot_root`.
    pub shared_ns: bool,
    /// The `mounts` entries, in order.
    pub mounts: Vec<MountOp>,
    /// Create /dev nodes (no bind mount over /dev in the spec).
    pub setup_dev: bool,
    /// Device nodes for /dev.
    pub devices: Vec<DeviceOp>,
    /// `/dev` itself, for the standard symlinks.
    pub dev: Dest,
    /// `linux.readonlyPaths`.
    pub readonly_paths: Vec<CString>,
    /// `linux.maskedPaths`.
    pub masked_paths: Vec<CString>,
    /// The container has its own user namespace (no mknod; locked mount flags).
    pub userns: bool,
    /// `process.cwd`, created if missing (as runc does) before pivot_root.
    pub cwd: Option<Dest>,
    /// A read-only or masked path lies in /proc: [`finish_rootfs`] first
    /// checks that /proc is a procfs, so a /proc shadowed by something else
    /// fails instead of silently leaving the real files unmasked.
    pub proc_paths: bool,
}

fn cstr(bytes: &[u8], field: &str) -> Result<CString> {
    cstr_at(bytes, || field.to_string())
}

/// [`cstr`], with the field's name made only for an error (masked and
/// read-only paths are many, and each name would be a `format!`).
fn cstr_at(bytes: &[u8], field: impl FnOnce() -> String) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::config(field(), "contains a NUL byte"))
}

impl MountPlan {
    /// Validates root, mounts, devices, masked and read-only paths.
    pub fn from_spec(
        spec: &Spec,
        rootfs: &Path,
        ns: &NamespacePlan,
        no_pivot: bool,
        lsm: crate::lsm::Host,
    ) -> Result<MountPlan> {
        let meta = std::fs::metadata(rootfs)
            .map_err(|e| Error::config("root.path", format!("{}: {e}", rootfs.display())))?;
        if !meta.is_dir() {
            return Err(Error::config(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ));
        }
        let no_linux;
        let linux = match spec.linux() {
            Some(l) => l,
            None => {
                no_linux = oci_spec::runtime::Linux::default();
                &no_linux
            }
        };
        let shared_ns = !ns.has(LinuxNamespaceType::Mount);
        let readonly_root = spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false);
        if shared_ns {
            refuse_in_shared_ns(linux, readonly_root)?;
        }
        let final_propagation = match linux.rootfs_propagation().as_deref() {
            None | Some("") => None,
            Some(p) => match options::parse(&[p.to_string()]).propagation.as_slice() {
                [one] => Some(*one),
                _ => {
                    return Err(Error::config(
                        "linux.rootfsPropagation",
                        format!("unknown propagation {p:?}"),
                    ))
                }
            },
        };
        let root_propagation = final_propagation.unwrap_or(libc::MS_SLAVE | libc::MS_REC);
        let rootfs_parent_mount = if root_propagation & (libc::MS_SHARED | libc::MS_UNBINDABLE) != 0 {
            Some(cstr(mount_point_of(rootfs)?.as_os_str().as_bytes(), "root.path")?)
        } else {
            None
        };

        let label = crate::lsm::mount_label(linux.mount_label().as_deref(), lsm)?;
        let mut mounts = Vec::new();
        let mut resolver = resolve::Resolver::new(rootfs);
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            mounts.push(plan_mount(i, m, rootfs, &mut resolver, ns, label)?);
        }
        let setup_dev = !mounts
            .iter()
            .any(|m| m.kind == MountKind::Bind && m.dest.path == Path::new("/dev"));
        // Validated even when a bind over /dev means none is created here:
        // the cgroup's device rules are made from the same entries.
        let userns = ns.has(LinuxNamespaceType::User);
        let devices = dev::plan(
            linux.devices().as_deref().unwrap_or_default(),
            userns && setup_dev,
        )?;
        let devices = if setup_dev { devices } else { Vec::new() };
        let paths = |field: &str, list: &Option<Vec<String>>| -> Result<Vec<CString>> {
            list.iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| {
                    // The field's name is only made for an error.
                    let at = || format!("{field}[{i}]");
                    let d = Dest::new(Path::new(p)).map_err(|r| Error::config(at(), r))?;
                    cstr_at(d.path.as_os_str().as_bytes(), at)
                })
                .collect()
        };
        let readonly_paths = paths("linux.readonlyPaths", linux.readonly_paths())?;
        let masked_paths = paths("linux.maskedPaths", linux.masked_paths())?;
        let proc_paths = readonly_paths
            .iter()
            .chain(&masked_paths)
            .any(|p| Path::new(std::ffi::OsStr::from_bytes(p.as_bytes())).starts_with("/proc"));
        Ok(MountPlan {
            rootfs: cstr(rootfs.as_os_str().as_bytes(), "root.path")?,
            root_propagation,
            final_propagation,
            rootfs_parent_mount,
            readonly_root,
            no_pivot,
            host_proc_sys: if no_pivot && !shared_ns {
                host_proc_sys(rootfs)?
            } else {
                Vec::new()
            },
            shared_ns,
            mounts,
            setup_dev,
            devices,
            dev: Dest::new(Path::new("/dev")).expect("static path"),
            readonly_paths,
            masked_paths,
            proc_paths,
            userns,
            cwd: match spec.process().as_ref().map(|p| p.cwd()) {
                Some(cwd) if cwd.is_absolute() => {
                    let resolved = resolver
                        .resolve(cwd)
                        .map_err(|r| Error::config("process.cwd", r))?;
                    Some(Dest::new(&resolved).map_err(|r| Error::config("process.cwd", r))?)
                }
                _ => None,
            },
        })
    }
}

/// Refuses what would change the caller's own mount namespace beyond the
/// container's mounts under its rootfs: masking and read-only paths (runc
/// refuses them too: "unable to restrict sys entries without a private MNT
/// namespace"), a read-only root and a root propagation, which would
/// remount or re-propagate the caller's mounts (runc silently skips the
/// first and applies the second to the caller's `/`).
fn refuse_in_shared_ns(linux: &oci_spec::runtime::Linux, readonly_root: bool) -> Result<()> {
    const WHY: &str = "needs a mount namespace of the container's own (a \"mount\" entry \
                       in linux.namespaces): without one it would change the caller's mounts";
    let listed = |l: &Option<Vec<String>>| l.as_ref().is_some_and(|v| !v.is_empty());
    if listed(linux.masked_paths()) {
        return Err(Error::config("linux.maskedPaths", WHY));
    }
    if listed(linux.readonly_paths()) {
        return Err(Error::config("linux.readonlyPaths", WHY));
    }
    if linux
        .rootfs_propagation()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(Error::config("linux.rootfsPropagation", WHY));
    }
    if readonly_root {
        return Err(Error::config("root.readonly", WHY));
    }
    Ok(())
}

/// The mount point (from /proc/self/mountinfo) that contains `path`.
fn mount_point_of(path: &Path) -> Result<PathBuf> {
    let info = crate::procfile::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("reading", "/proc/self/mountinfo", e))?;
    let best = info
        .lines()
        .filter_map(MountLine::parse)
        .map(|m| m.mount_point)
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.as_os_str().len());
    Ok(best.unwrap_or_else(|| PathBuf::from("/")))
}

/// The mount points of the caller's proc and sysfs mounts that show their
/// whole filesystem (root `/`) and are not under `rootfs`, in mountinfo
/// order (a mount before those on top of it), for
/// [`MountPlan::host_proc_sys`].
fn host_proc_sys(rootfs: &Path) -> Result<Vec<CString>> {
    let rootfs = std::fs::canonicalize(rootfs).map_err(|e| Error::io("resolving", rootfs, e))?;
    let info = crate::procfile::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("reading", "/proc/self/mountinfo", e))?;
    let mut out = Vec::new();
    for m in info.lines().filter_map(MountLine::parse) {
        if m.root == Path::new("/")
            && matches!(m.fstype, "proc" | "sysfs")
            && !m.mount_point.starts_with(&rootfs)
        {
            out.push(cstr(
                m.mount_point.as_os_str().as_bytes(),
                "/proc/self/mountinfo",
            )?);
        }
    }
    Ok(out)
}

/// Plans `mounts[i]`; `label` is `linux.mountLabel` where SELinux applies
/// it, for the new filesystems that take it.
fn plan_mount(
    i: usize,
    m: &oci_spec::runtime::Mount,
    rootfs: &Path,
    resolver: &mut resolve::Resolver<'_>,
    ns: &NamespacePlan,
    label: Option<&str>,
) -> Result<MountOp> {
    let field = |f: &str| format!("mounts[{i}].{f}");
    if !m.destination().is_absolute() {
        return Err(Error::config(field("destination"), "must be an absolute path"));
    }
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or("");
    let is_bind = typ == "bind" || opts.flags & libc::MS_BIND != 0;
    let ordinary_dir = !is_bind && matches!(typ, "proc" | "sysfs");
    let resolved = if ordinary_dir {
        resolve_ordinary_dir(m.destination(), typ, rootfs, resolver)
    } else {
        resolver.resolve(m.destination())
    }
    .map_err(|r| Error::config(field("destination"), r))?;
    let dest = Dest::new(&resolved).map_err(|r| Error::config(field("destination"), r))?;
    let proc_ok = check_proc_destination(&dest.path, typ, is_bind).map_err(|r| {
        Error::config(
            field("destination"),
            format!(
                "{} (resolved in the rootfs to {}) {r}",
                m.destination().display(),
                dest.path.display()
            ),
        )
    })?;
    let kind = if is_bind {
        MountKind::Bind
    } else if typ == "cgroup" {
        MountKind::Cgroup(CgroupMount::default())
    } else if typ.is_empty() {
        return Err(Error::config(
            field("type"),
            "a mount needs a type unless it is a bind mount",
        ));
    } else {
        MountKind::Fs
    };
    let idmap = plan_idmap(i, m, &opts, &kind, ns)?;
    let mut create = Create::Dir;
    let source = match (&kind, m.source()) {
        (MountKind::Bind, None) => return Err(Error::config(field("source"), "a bind mount needs a source")),
        (MountKind::Bind, Some(src)) => {
            // A relative bind source is relative to the bundle (runtime-spec).
            let abs = if src.is_absolute() {
                src.clone()
            } else {
                rootfs.parent().unwrap_or(Path::new("/")).join(src)
            };
            let meta = std::fs::metadata(&abs)
                .map_err(|e| Error::config(field("source"), format!("{}: {e}", abs.display())))?;
            if !meta.is_dir() {
                create = Create::File;
            }
            Some(cstr(abs.as_os_str().as_bytes(), &field("source"))?)
        }
        (_, Some(src)) => Some(cstr(src.as_os_str().as_bytes(), &field("source"))?),
        (_, None) => Some(cstr(typ.as_bytes(), &field("source"))?),
    };
    if opts.tmpcopyup && typ != "tmpfs" {
        return Err(Error::config(field("options"), "tmpcopyup needs a tmpfs mount"));
    }
    let keep_mode = typ == "tmpfs" && !opts.data.iter().any(|d| d.starts_with("mode="));
    let mut data = opts.data.clone();
    let mut root_label = None;
    if let (MountKind::Fs, Some(label)) = (&kind, label) {
        match crate::lsm::mount_labeling(typ) {
            MountLabeling::Context => data.push(crate::lsm::context_option(label)),
            MountLabeling::RootXattr => root_label = Some(cstr(label.as_bytes(), "linux.mountLabel")?),
            MountLabeling::None => {}
        }
    }
    let data = if data.is_empty() {
        None
    } else {
        Some(cstr(data.join(",").as_bytes(), &field("options"))?)
    };
    let per_mount = opts.flags & REMOUNT_FLAGS;
    let (flags, remount) = match kind {
        MountKind::Bind => (
            opts.flags & (libc::MS_BIND | libc::MS_REC),
            (per_mount != 0).then_some(libc::MS_BIND | libc::MS_REMOUNT | per_mount),
        ),
        _ => (opts.flags & !(libc::MS_BIND | libc::MS_REC), None),
    };
    let attr = (opts.attr != MountAttr::default()).then_some(opts.attr);
    // runc mounts tmpfs and /dev writable and makes them read-only at the end.
    let late_ro = (typ == "tmpfs" || dest.path == Path::new("/dev")) && opts.flags & libc::MS_RDONLY != 0;
    let (flags, remount) = if late_ro {
        let remount = remount
            .map(|r| r & !libc::MS_RDONLY)
            .filter(|r| r & REMOUNT_FLAGS != 0);
        (flags & !libc::MS_RDONLY, remount)
    } else {
        (flags, remount)
    };
    Ok(MountOp {
        index: i,
        dest,
        kind,
        source,
        fstype: match typ {
            "" | "bind" => None,
            t => Some(cstr(t.as_bytes(), &field("type"))?),
        },
        flags,
        data,
        remount,
        propagation: opts.propagation,
        attr,
        tmpcopyup: opts.tmpcopyup,
        create,
        idmap,
        proc_ok,
        ordinary_dir,
        late_ro,
        root_label,
        keep_mode,
    })
}

/// Resolves the destination of a `proc` or `sysfs` mount, with runc's
/// check: the destination, when the image has it, must be a directory. A
/// symlink would move the mount wherever it points (for /sys, to a path of
/// the image's choosing; for /proc, out of the place every later step looks
/// for it), and runc refuses it with this wording. Symlinks in the
/// components above it are resolved in the rootfs, as for any destination;
/// the last one is looked at once, and the path returned goes through no
/// symlink there (which the child checks again).
fn resolve_ordinary_dir(
    dest: &Path,
    typ: &str,
    rootfs: &Path,
    resolver: &mut resolve::Resolver<'_>,
) -> Result<PathBuf, String> {
    let clean = Dest::new(dest)?.path;
    let (Some(parent), Some(name)) = (clean.parent(), clean.file_name()) else {
        return Ok(clean);
    };
    let parent = resolver.resolve(parent)?;
    let host = rootfs
        .join(parent.strip_prefix("/").unwrap_or(&parent))
        .join(name);
    let what = match std::fs::symlink_metadata(&host) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(parent.join(name)),
        Err(e) => return Err(format!("{}: {e}", host.display())),
        Ok(m) if m.is_dir() => return Ok(parent.join(name)),
        Ok(m) if m.is_symlink() => "a symlink",
        Ok(_) => "not a directory",
    };
    Err(format!(
        "{}: filesystem {typ:?} must be mounted on ordinary directory ({what} in the rootfs)",
        dest.display()
    ))
}

/// runc's `checkProcMount`: a destination (symlink-free, in the container)
/// inside /proc is refused, except a `proc` mount at /proc itself and the
/// files of [`PROC_MOUNTS_ALLOWED`]. Ok(true) when the destination is in
/// /proc and allowed, Ok(false) when it is outside /proc.
fn check_proc_destination(dest: &Path, typ: &str, is_bind: bool) -> Result<bool, String> {
    if !dest.starts_with("/proc") {
        return Ok(false);
    }
    if dest == Path::new("/proc") {
        if typ == "proc" && !is_bind {
            return Ok(true);
        }
        return Err("is /proc: only a mount of type \"proc\" may go there".into());
    }
    if PROC_MOUNTS_ALLOWED.iter().any(|p| dest == Path::new(p)) {
        return Ok(true);
    }
    Err(format!(
        "is inside /proc, where only these may be mounted: {}",
        PROC_MOUNTS_ALLOWED.join(", ")
    ))
}

/// Validates the id mapping of `mounts[i]`, runc 1.2's rules: only bind
/// mounts; `uidMappings` and `gidMappings` together or not at all (either
/// one makes the mount id-mapped, `idmap` or not); without them, `idmap`
/// and `ridmap` take the container's user namespace, which must exist.
fn plan_idmap(
    i: usize,
    m: &oci_spec::runtime::Mount,
    opts: &options::Options,
    kind: &MountKind,
    ns: &NamespacePlan,
) -> Result<Option<Idmap>> {
    let (uid, gid) = (m.uid_mappings().as_deref(), m.gid_mappings().as_deref());
    if !opts.idmap && uid.is_none() && gid.is_none() {
        return Ok(None);
    }
    let field = format!("mounts[{i}]");
    if *kind != MountKind::Bind {
        let which = match (uid, gid) {
            (Some(_), _) => "uidMappings",
            (None, Some(_)) => "gidMappings",
            (None, None) => "options",
        };
        return Err(Error::config(
            format!("{field}.{which}"),
            "id-mapped mounts are only supported for bind mounts",
        ));
    }
    let userns = if uid.is_some() || gid.is_some() {
        IdmapUserns::Maps(namespaces::mount_id_maps(&field, uid, gid)?)
    } else if let Some(maps) = &ns.id_maps {
        IdmapUserns::Maps(maps.clone())
    } else if let Some(j) = ns.joins.iter().find(|j| j.typ == LinuxNamespaceType::User) {
        IdmapUserns::Join(j.path.clone())
    } else {
        return Err(Error::config(
            format!("{field}.options"),
            "idmap/ridmap without uidMappings and gidMappings takes the container's user namespace, \
             and the container has none",
        ));
    };
    Ok(Some(Idmap {
        userns,
        recursive: opts.idmap_recursive,
    }))
}

impl MountPlan {
    /// Parent, before the clone: makes every id-mapped bind mount as a
    /// detached mount, numbered `min_fd` or above (out of the range the
    /// caller preserves), for the child to attach with `move_mount`.
    ///
    /// `open_tree(OPEN_TREE_CLONE)` copies the source (the whole tree for
    /// `rbind`) into an anonymous mount namespace that nothing else sees,
    /// and `mount_setattr(MOUNT_ATTR_IDMAP)` maps it, which the kernel only
    /// allows on such a detached mount. If the child never attaches it, the
    /// copy dissolves with the last descriptor: nothing reaches the host's
    /// mount table either way. One user namespace serves every mount with
    /// the same maps. Needs Linux 5.12 and a filesystem that supports
    /// id-mapped mounts (ext4, xfs, btrfs, overlayfs 5.19+, tmpfs 6.3+, ...);
    /// EINVAL otherwise, reported naming the mount.
    pub fn open_idmapped(&self, min_fd: RawFd) -> Result<Detached> {
        let mut userns: Vec<(&IdmapUserns, OwnedFd)> = Vec::new();
        let mut out = Vec::new();
        for op in &self.mounts {
            let Some(idmap) = &op.idmap else { continue };
            let i = op.index;
            let ns_at = match userns.iter().position(|(u, _)| *u == &idmap.userns) {
                Some(at) => at,
                None => {
                    let fd = match &idmap.userns {
                        IdmapUserns::Maps(maps) => namespaces::userns_with_maps(maps)?,
                        IdmapUserns::Join(path) => {
                            std::fs::File::open(path).map(OwnedFd::from).map_err(|e| {
                                Error::io("opening the user namespace of an id-mapped mount", path, e)
                            })?
                        }
                    };
                    userns.push((&idmap.userns, fd));
                    userns.len() - 1
                }
            };
            let src = op.source.as_deref().unwrap_or(c"");
            let mut flags = sys::OPEN_TREE_CLONE;
            if op.flags & libc::MS_REC != 0 {
                flags |= libc::AT_RECURSIVE as libc::c_uint;
            }
            let tree = sys::open_tree(src, flags).map_err(|e| Error::Sys {
                call: format!("mounts[{i}]: open_tree({src:?}, OPEN_TREE_CLONE)"),
                errno: e,
            })?;
            sys::mount_setattr_idmap(tree.as_fd(), idmap.recursive, userns[ns_at].1.as_fd()).map_err(
                |e| {
                    let hint = if e == libc::EINVAL {
                        " (does the source's filesystem support id-mapped mounts on this kernel?)"
                    } else {
                        ""
                    };
                    Error::Sys {
                        call: format!("mounts[{i}]: mount_setattr({src:?}, MOUNT_ATTR_IDMAP){hint}"),
                        errno: e,
                    }
                },
            )?;
            let tree = sys::dup_above(tree.as_fd(), min_fd).map_err(|e| Error::Sys {
                call: format!("fcntl(F_DUPFD_CLOEXEC, {min_fd})"),
                errno: e,
            })?;
            out.push((i, tree));
        }
        Ok(Detached(out))
    }
}

// ------------------------------------------------------------------- child

/// Child, in the container's mount namespace (or the caller's, see
/// [`MountPlan::shared_ns`]): sets propagation, binds the rootfs,
/// performs every mount (attaching the id-mapped ones the parent made)
/// and creates /dev. Returns the rootfs (O_PATH) for [`enter_rootfs`];
/// between the two the createContainer hooks run.
///
/// Until `pivot_root`, `mount(2)` still reaches its resolved targets
/// through `/proc/self/fd/N` (filesystems with string options, binds,
/// remounts with MS_* flags): that /proc is the host's procfs, in this
/// private copy of the host's mount table, where no destination of the
/// spec can land (they all resolve inside the rootfs). It is checked to be
/// the root of a procfs first; no descriptor to it is kept. After
/// `pivot_root` nothing goes through /proc/self/fd: [`finish_rootfs`]
/// uses the new mount API on descriptors.
pub fn setup_rootfs(plan: &MountPlan, detached: &Detached) -> Result<OwnedFd, ChildError> {
    drop(procfs::open_proc_root().step(Step::ProcCheck)?);
    // In the caller's namespace these would change the caller's mounts, and
    // chroot (see enter_rootfs) needs no mount point.
    if !plan.shared_ns {
        sys::mount(None, c"/", None, plan.root_propagation, None).step(Step::MountPropagation)?;
        if let Some(parent) = &plan.rootfs_parent_mount {
            sys::mount(None, parent, None, libc::MS_PRIVATE, None).step(Step::MountPropagation)?;
        }
        sys::mount(
            Some(&plan.rootfs),
            &plan.rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .step(Step::BindRootfs)?;
    }
    let root = sys::openat(None, &plan.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0).step(Step::OpenRootfs)?;

    for op in &plan.mounts {
        mount_one(root.as_fd(), op, plan.userns, detached)?;
    }
    if plan.setup_dev {
        dev::create(root.as_fd(), &plan.dev, &plan.devices, plan.userns)?;
    }
    if let Some(cwd) = &plan.cwd {
        open_dest(root.as_fd(), cwd, Create::Dir).step(Step::Chdir)?;
    }
    Ok(root)
}

/// Child: makes `root` (from [`setup_rootfs`]) the process's root, with
/// pivot_root, or with `--no-pivot` MS_MOVE + chroot; without a mount
/// namespace of its own, chroot alone.
pub fn enter_rootfs(plan: &MountPlan, root: BorrowedFd<'_>) -> Result<(), ChildError> {
    if plan.shared_ns {
        // pivot_root would swap the root of every process in the caller's
        // namespace: only this process changes its root (runc's chroot()).
        sys::fchdir(root).step(Step::PivotRoot)?;
        sys::chroot(c".").step(Step::PivotRoot)?;
    } else if plan.no_pivot {
        // For roots on ramfs/initramfs, where pivot_root is impossible.
        // What happens on / is carried to the peers of / while it is
        // shared: with `rootfsPropagation: rshared` on a host whose / is
        // shared, that is the host's own /. The detaching of the host's
        // /proc and /sys below would detach the host's, and the move would
        // cover the host's / with the container's rootfs for good (runc
        // #1961). So / stops sending first (slave, this mount only); the
        // new root gets the asked propagation below.
        sys::mount(None, c"/", None, libc::MS_SLAVE, None).step(Step::PivotRoot)?;
        for (i, p) in plan.host_proc_sys.iter().enumerate() {
            hide_host_mount(p).step_at(Step::HideHostProcSys, i)?;
        }
        sys::fchdir(root).step(Step::PivotRoot)?;
        sys::mount(Some(c"."), c"/", None, libc::MS_MOVE, None).step(Step::PivotRoot)?;
        sys::chroot(c".").step(Step::PivotRoot)?;
    } else {
        // pivot_root(".", ".") stacks the old root on top of the new one;
        // detaching it then needs no put_old directory inside the rootfs.
        let old_root = sys::openat(None, c"/", libc::O_PATH | libc::O_DIRECTORY, 0).step(Step::PivotRoot)?;
        sys::fchdir(root).step(Step::PivotRoot)?;
        sys::pivot_root(c".", c".").step(Step::PivotRoot)?;
        // The cwd still names the new root's own mount, so "." would be the
        // container's tree, and MS_SLAVE | MS_REC there would make every
        // shared bind a slave: into the old root first, as runc does.
        sys::fchdir(old_root.as_fd()).step(Step::PivotRoot)?;
        // Slave first, so the detach cannot propagate to the host's mounts.
        sys::mount(None, c".", None, libc::MS_SLAVE | libc::MS_REC, None).step(Step::PivotRoot)?;
        sys::umount2(c".", libc::MNT_DETACH).step(Step::PivotRoot)?;
    }
    sys::chdir(c"/").step(Step::PivotRoot)?;
    // (Refused without a mount namespace of our own: see refuse_in_shared_ns.)
    let Some(flags) = plan.final_propagation else {
        return Ok(());
    };
    sys::mount(None, c"/", None, flags, None).step(Step::MountPropagation)?;
    if flags & libc::MS_REC != 0 {
        // That reached every mount below `/`: each entry's own propagation
        // again, in order, so an rslave or rprivate bind under an rshared
        // root stays as asked (issue 13). By descriptor, as nothing goes
        // through /proc/self/fd after pivot_root.
        for op in plan.mounts.iter().filter(|op| !op.propagation.is_empty()) {
            let mounted =
                open_dest(root, &op.dest, Create::Nothing).step_at(Step::MountPropagate, op.index)?;
            for p in &op.propagation {
                sys::mount_setattr_propagation(mounted.as_fd(), p & libc::MS_REC != 0, p & !libc::MS_REC)
                    .step_at(Step::MountPropagate, op.index)?;
            }
        }
    }
    Ok(())
}

/// Detaches one of [`MountPlan::host_proc_sys`] from the container's mount
/// namespace, or covers it with an empty tmpfs where it cannot be detached
/// (EINVAL: locked in a user namespace; EPERM), as runc's `msMoveRoot`
/// does. Gone (ENOENT: a mount above it was detached) is fine.
fn hide_host_mount(p: &CStr) -> sys::SysResult<()> {
    // Slave first, so the detach cannot propagate to the host's mounts.
    match sys::mount(None, p, None, libc::MS_SLAVE | libc::MS_REC, None) {
        Err(libc::ENOENT) => return Ok(()),
        other => other?,
    }
    match sys::umount2(p, libc::MNT_DETACH) {
        Err(libc::EINVAL | libc::EPERM) => sys::mount(Some(c"tmpfs"), p, Some(c"tmpfs"), 0, None),
        other => other,
    }
}

fn mount_one(
    root: BorrowedFd<'_>,
    op: &MountOp,
    userns: bool,
    detached: &Detached,
) -> Result<(), ChildError> {
    let at = |e| ChildError::new(Step::Mount, op.index, e);
    // The mode of a directory the image has, looked at before anything
    // is made there (one we make gets no say, as with runc).
    let kept_mode = if op.keep_mode {
        match sys::openat2(root, &op.dest.rel, libc::O_PATH, 0, resolve::IN_ROOT) {
            Ok(fd) => Some(sys::fstat(fd.as_fd()).map_err(at)?.st_mode & 0o7777),
            Err(libc::ENOENT) => None,
            Err(e) => return Err(at(e)),
        }
    } else {
        None
    };
    let target = open_dest(root, &op.dest, op.create).map_err(at)?;
    // The plan refused destinations in /proc; a target on procfs now means
    // the rootfs changed since (a symlink to /proc/self, say). An allowed
    // one (/proc, /proc/cpuinfo...) was symlink-free in the plan and must
    // still be reached without any symlink.
    // A proc or sysfs mount likewise needs the directory the plan saw:
    // symlink-free, and a directory.
    let (step, errno) = if op.ordinary_dir {
        (Step::MountNotDir, libc::ENOTDIR)
    } else {
        (Step::MountInProc, libc::EPERM)
    };
    let refused = || ChildError::new(step, op.index, errno);
    if op.proc_ok || op.ordinary_dir {
        let direct = sys::openat2(root, &op.dest.rel, libc::O_PATH, 0, resolve::IN_ROOT_NO_SYMLINKS)
            .map_err(|_| refused())?;
        let (a, b) = (
            sys::fstat(direct.as_fd()).map_err(at)?,
            sys::fstat(target.as_fd()).map_err(at)?,
        );
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
            return Err(refused());
        }
        if op.ordinary_dir && b.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(refused());
        }
    }
    if !op.proc_ok && procfs::is_procfs(target.as_fd()).map_err(at)? {
        return Err(ChildError::new(Step::MountInProc, op.index, libc::EPERM));
    }
    let under = if op.tmpcopyup {
        Some(resolve::open_dir_readable(root, &op.dest).map_err(at)?)
    } else {
        None
    };
    let path = FdPath::new(target.as_fd());
    match &op.kind {
        MountKind::Cgroup(cg) => mount_cgroup(root, op, cg).map_err(at)?,
        MountKind::Bind if op.idmap.is_some() => {
            let tree = detached.get(op.index).ok_or(at(libc::EBADF))?;
            sys::move_mount(tree, target.as_fd()).map_err(at)?;
        }
        MountKind::Bind => {
            sys::mount(op.source.as_deref(), path.as_cstr(), None, op.flags, None).map_err(at)?;
        }
        MountKind::Fs => {
            let r = sys::mount(
                op.source.as_deref(),
                path.as_cstr(),
                op.fstype.as_deref(),
                op.flags,
                op.data.as_deref(),
            );
            match r {
                // sysfs cannot be mounted in a user namespace without its own
                // network namespace: bind the host's /sys instead (runc does too).
                Err(libc::EPERM) if userns && op.fstype.as_deref() == Some(c"sysfs") => {
                    let flags = libc::MS_BIND | libc::MS_REC;
                    sys::mount(Some(c"/sys"), path.as_cstr(), None, flags, None).map_err(at)?;
                }
                other => other.map_err(at)?,
            }
        }
    }
    let after = op.remount.is_some()
        || op.tmpcopyup
        || op.root_label.is_some()
        || kept_mode.is_some()
        || !op.propagation.is_empty()
        || op.attr.is_some();
    if !after {
        return Ok(());
    }
    // The old fd names the covered directory; what follows acts on the new mount.
    let mounted = open_dest(root, &op.dest, Create::Nothing).map_err(at)?;
    let mpath = FdPath::new(mounted.as_fd());
    if let Some(flags) = op.remount {
        remount(mounted.as_fd(), mpath.as_cstr(), flags).step_at(Step::MountRemount, op.index)?;
    }
    if let Some(under) = under {
        copyup::copy_dir(under.as_fd(), mounted.as_fd(), 0).step_at(Step::TmpCopyUp, op.index)?;
    }
    if let Some(mode) = kept_mode {
        sys::chmod(mpath.as_cstr(), mode).step_at(Step::Mount, op.index)?;
    }
    if let Some(label) = &op.root_label {
        sys::setxattr(mpath.as_cstr(), c"security.selinux", label.to_bytes())
            .step_at(Step::MountLabel, op.index)?;
    }
    for p in &op.propagation {
        sys::mount(None, mpath.as_cstr(), None, *p, None).step_at(Step::MountPropagate, op.index)?;
    }
    if let Some(attr) = op.attr {
        sys::mount_setattr(mounted.as_fd(), true, attr).step_at(Step::MountSetattr, op.index)?;
    }
    Ok(())
}

/// `MS_REMOUNT | MS_BIND | flags`; if the kernel refuses because the mount
/// has locked flags (user namespaces), retry keeping them.
fn remount(fd: BorrowedFd<'_>, path: &CStr, flags: c_ulong) -> sys::SysResult<()> {
    match sys::mount(None, path, None, flags, None) {
        Err(libc::EPERM) => {
            let st = sys::mount_flags(fd)?;
            let locked = LOCKED_ST_FLAGS
                .iter()
                .filter(|(st_flag, _)| st & st_flag != 0)
                .fold(0, |acc, (_, ms)| acc | ms);
            sys::mount(None, path, None, flags | locked, None)
        }
        other => other,
    }
}

/// Makes the mount whose root `fd` is read-only (a bind remount that keeps
/// the flags a user namespace locks).
fn remount_ro(fd: BorrowedFd<'_>) -> sys::SysResult<()> {
    let path = FdPath::new(fd);
    remount(
        fd,
        path.as_cstr(),
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
    )
}

fn mount_cgroup(root: BorrowedFd<'_>, op: &MountOp, cg: &CgroupMount) -> sys::SysResult<()> {
    let target = open_dest(root, &op.dest, Create::Dir)?;
    let path = FdPath::new(target.as_fd());
    if cg.cgroup2 {
        match sys::mount(Some(c"cgroup2"), path.as_cstr(), Some(c"cgroup2"), op.flags, None) {
            // A user namespace (rootless) may be refused a fresh cgroup2
            // mount: EPERM, or EBUSY when the host's mount options differ.
            // Bind the container's own cgroup directory instead, as runc does.
            Err(libc::EPERM | libc::EBUSY) if !cg.binds.is_empty() => {}
            r => return r,
        }
    }
    if let [(name, host)] = cg.binds.as_slice() {
        if name.is_empty() {
            sys::mount(
                Some(host),
                path.as_cstr(),
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?;
            if op.flags & libc::MS_RDONLY != 0 {
                remount_ro(open_dest(root, &op.dest, Create::Nothing)?.as_fd())?;
            }
            return Ok(());
        }
    }
    let ro = op.flags & libc::MS_RDONLY;
    let tmpfs_flags = (op.flags & !libc::MS_RDONLY) | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys::mount(
        Some(c"tmpfs"),
        path.as_cstr(),
        Some(c"tmpfs"),
        tmpfs_flags,
        Some(c"mode=755"),
    )?;
    let top = open_dest(root, &op.dest, Create::Nothing)?;
    for (name, host) in &cg.binds {
        match sys::mkdirat(top.as_fd(), name, 0o755) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        let sub = sys::openat(
            Some(top.as_fd()),
            name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )?;
        let sp = FdPath::new(sub.as_fd());
        sys::mount(Some(host), sp.as_cstr(), None, libc::MS_BIND | libc::MS_REC, None)?;
        if ro != 0 {
            remount_ro(sys::openat(Some(top.as_fd()), name, libc::O_PATH | libc::O_DIRECTORY, 0)?.as_fd())?;
        }
    }
    if ro != 0 {
        let tp = FdPath::new(top.as_fd());
        sys::mount(
            None,
            tp.as_cstr(),
            None,
            libc::MS_REMOUNT | tmpfs_flags | libc::MS_RDONLY,
            None,
        )?;
    }
    Ok(())
}

/// Child, in the container's root: each of the stdio descriptors that is
/// the host's /dev/null (an engine's or a detached `run`'s stdin) becomes
/// the container's own /dev/null, as runc's reOpenDevNull does: criu
/// cannot checkpoint a file on a mount the container does not have. Only
/// where nook made /dev (a node it made, or a bind of the host's), never
/// by opening a node of the image's. No allocation.
pub fn reopen_dev_null(plan: &MountPlan) -> Result<(), ChildError> {
    if !plan.setup_dev {
        return Ok(());
    }
    let null = sys::openat(
        None,
        c"/dev/null",
        libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        0,
    )
    .step(Step::ReopenDevNull)?;
    let ours = sys::fstat(null.as_fd()).step(Step::ReopenDevNull)?;
    let is_null = |st: &libc::stat| st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == ours.st_rdev;
    if !is_null(&ours) {
        return Ok(());
    }
    for fd in 0..3 {
        match sys::fstat_raw(fd) {
            Ok(st) if is_null(&st) => sys::dup_onto(null.as_fd(), fd).step(Step::ReopenDevNull)?,
            _ => {}
        }
    }
    Ok(())
}

/// Child, after pivot_root and once /proc is mounted: read-only paths,
/// masked paths, the deferred read-only mounts (tmpfs, /dev), and finally
/// the read-only root.
///
/// Everything here works on descriptors resolved inside the new root
/// (`open_tree`, `fsmount`, `move_mount`, `mount_setattr`), never through
/// a /proc/self/fd path of the container's own /proc. If a read-only or
/// masked path is in /proc, /proc must first be shown to be a procfs, so
/// one shadowed by anything else fails rather than leaves the real files
/// unprotected underneath.
pub fn finish_rootfs(plan: &MountPlan) -> Result<(), ChildError> {
    let root = sys::openat(None, c"/", libc::O_PATH | libc::O_DIRECTORY, 0).step(Step::OpenRootfs)?;
    if plan.proc_paths {
        drop(procfs::open_proc_root().step(Step::ProcCheck)?);
    }
    for (i, p) in plan.readonly_paths.iter().enumerate() {
        let fd = match open_in_root(root.as_fd(), p) {
            Err(libc::ENOENT) => continue,
            other => other.step_at(Step::ReadonlyPath, i)?,
        };
        readonly_bind(fd.as_fd()).step_at(Step::ReadonlyPath, i)?;
    }
    for (i, p) in plan.masked_paths.iter().enumerate() {
        mask(root.as_fd(), p).step_at(Step::MaskPath, i)?;
    }
    for op in plan.mounts.iter().filter(|op| op.late_ro) {
        let fd = resolve::open_dest(root.as_fd(), &op.dest, Create::Nothing)
            .step_at(Step::MountRemount, op.index)?;
        sys::mount_setattr(fd.as_fd(), false, RDONLY).step_at(Step::MountRemount, op.index)?;
    }
    if plan.readonly_root {
        sys::mount_setattr(root.as_fd(), false, RDONLY).step(Step::ReadonlyRoot)?;
    }
    Ok(())
}

/// `mount_setattr` setting read-only and nothing else: unlike a bind
/// remount it clears no flag, so a user namespace's locked flags stay.
const RDONLY: MountAttr = MountAttr {
    set: options::MOUNT_ATTR_RDONLY,
    clr: 0,
};

/// Opens the absolute container path `p` (O_PATH) inside `root`, symlinks
/// resolved as in the container, magic links refused.
fn open_in_root(root: BorrowedFd<'_>, p: &CStr) -> sys::SysResult<OwnedFd> {
    let bytes = p.to_bytes_with_nul();
    let rel = match CStr::from_bytes_with_nul(&bytes[1..]) {
        Ok(r) if !r.is_empty() => r,
        _ => c".",
    };
    sys::openat2(root, rel, libc::O_PATH, 0, resolve::IN_ROOT)
}

/// Makes what `fd` refers to read-only: a recursive bind of it onto
/// itself, made read-only while still detached.
fn readonly_bind(fd: BorrowedFd<'_>) -> sys::SysResult<()> {
    let tree = sys::open_tree_clone_fd(fd, true)?;
    sys::mount_setattr(tree.as_fd(), true, RDONLY)?;
    sys::move_mount(tree.as_fd(), fd)
}

/// Masks a path: a read-only empty tmpfs over a directory, the container's
/// /dev/null (checked to be the 1:3 character device) over anything else.
///
/// The tmpfs keeps its default root mode, as runc's (`mount("tmpfs", p,
/// "tmpfs", MS_RDONLY, "")`): a masked directory lists as empty for any
/// process and refuses writes with EROFS, not EACCES.
fn mask(root: BorrowedFd<'_>, p: &CStr) -> sys::SysResult<()> {
    let fd = match open_in_root(root, p) {
        Err(libc::ENOENT) => return Ok(()),
        other => other?,
    };
    let st = sys::fstat(fd.as_fd())?;
    let over = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let attrs = options::MOUNT_ATTR_RDONLY
            | options::MOUNT_ATTR_NOSUID
            | options::MOUNT_ATTR_NODEV
            | options::MOUNT_ATTR_NOEXEC;
        sys::fsmount_new(c"tmpfs", &[], attrs)?
    } else {
        let null = open_in_root(root, c"/dev/null")?;
        let ns = sys::fstat(null.as_fd())?;
        if ns.st_mode & libc::S_IFMT != libc::S_IFCHR || ns.st_rdev != libc::makedev(1, 3) {
            return Err(libc::ENODEV);
        }
        sys::open_tree_clone_fd(null.as_fd(), false)?
    };
    sys::move_mount(over.as_fd(), fd.as_fd())
}

/// Mount options recognised by [`options::parse`], used by `nook features`.
pub fn known_options() -> &'static [&'static str] {
    &[
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "idmap",
        "iversion",
        "lazytime",
        "loud",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "nosymfollow",
        "private",
        "ratime",
        "rbind",
        "rdev",
        "rdiratime",
        "relatime",
        "remount",
        "rexec",
        "ridmap",
        "rnoatime",
        "rnodev",
        "rnodiratime",
        "rnoexec",
        "rnorelatime",
        "rnostrictatime",
        "rnosuid",
        "rnosymfollow",
        "ro",
        "rprivate",
        "rrelatime",
        "rro",
        "rrw",
        "rshared",
        "rslave",
        "rstrictatime",
        "rsuid",
        "rsymfollow",
        "runbindable",
        "rw",
        "shared",
        "silent",
        "slave",
        "strictatime",
        "suid",
        "symfollow",
        "sync",
        "tmpcopyup",
        "unbindable",
    ]
}

impl MountPlan {
    /// Makes the mount points of the spec's mounts under the rootfs, as a
    /// create's init would, for a restore (criu mounts on them but makes
    /// none): all but those inside a tmpfs mount, whose content criu
    /// restores, and the cgroup mounts, which criu restores itself. Paths
    /// are resolved in the rootfs (`RESOLVE_IN_ROOT`), so a symlink in it
    /// cannot make nook create anything outside.
    pub fn make_mount_points(&self, rootfs: &Path) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let root = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(rootfs)
            .map(OwnedFd::from)
            .map_err(|e| Error::io("opening", rootfs, e))?;
        let tmpfs: Vec<&Path> = self
            .mounts
            .iter()
            .filter(|m| m.fstype.as_deref() == Some(c"tmpfs"))
            .map(|m| m.dest.path.as_path())
            .collect();
        for m in &self.mounts {
            let inside_tmpfs = tmpfs
                .iter()
                .any(|t| m.dest.path != *t && m.dest.path.starts_with(t));
            if inside_tmpfs || matches!(m.kind, MountKind::Cgroup(_)) || m.create == Create::Nothing {
                continue;
            }
            open_dest(root.as_fd(), &m.dest, m.create).map_err(|e| {
                Error::sys(
                    format!(
                        "creating the mount point {} (mounts[{}])",
                        m.dest.path.display(),
                        m.index
                    ),
                    nix::errno::Errno::from_raw(e),
                )
            })?;
        }
        Ok(())
    }

    /// Fills every `cgroup` mount with the container's cgroup directories,
    /// once they exist. Runs in the parent, before the clone.
    pub fn set_cgroup_sources(
        &mut self,
        sources: &[crate::cgroups::CgroupMount],
        cgroupns: bool,
    ) -> Result<()> {
        let pure_v2 = matches!(sources, [one] if one.name.is_empty());
        let mut binds = Vec::new();
        for s in sources {
            binds.push((
                cstr(s.name.as_bytes(), "mounts (cgroup)")?,
                cstr(s.source.as_os_str().as_bytes(), "mounts (cgroup)")?,
            ));
        }
        for m in &mut self.mounts {
            if let MountKind::Cgroup(c) = &mut m.kind {
                *c = CgroupMount {
                    cgroup2: pure_v2 && cgroupns,
                    binds: binds.clone(),
                };
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::parse_spec;

    /// The mount plan of a spec with `mounts` and `linux`, on a temp rootfs.
    fn plan(mounts: &str, linux: &str) -> Result<MountPlan> {
        let root = tempfile::tempdir().unwrap();
        let spec =
            parse_spec(format!(r#"{{"ociVersion":"1.2.0","mounts":{mounts},"linux":{linux}}}"#).as_bytes())
                .unwrap();
        let ns = NamespacePlan::from_spec(&spec)?;
        MountPlan::from_spec(&spec, root.path(), &ns, false, crate::lsm::Host::default())
    }

    const MOUNT_NS: &str = r#"{"namespaces":[{"type":"mount"}]}"#;

    /// With SELinux, `linux.mountLabel` goes to the new filesystems that take
    /// a `context=` option, after their own data, to mqueue's root after the
    /// mount, and to no other mount.
    #[test]
    fn the_mount_label_goes_to_new_filesystems_only() {
        let root = tempfile::tempdir().unwrap();
        let spec = parse_spec(
            br#"{"ociVersion":"1.2.0","mounts":[
                {"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/sys","type":"sysfs","source":"sysfs"},
                {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["mode=755"]},
                {"destination":"/dev/pts","type":"devpts","source":"devpts"},
                {"destination":"/dev/mqueue","type":"mqueue","source":"mqueue"},
                {"destination":"/mnt","type":"bind","source":"/tmp","options":["rbind"]},
                {"destination":"/srv","source":"/tmp","options":["bind"]}],
              "linux":{"namespaces":[{"type":"mount"}]}}"#,
        )
        .unwrap();
        let ns = NamespacePlan::from_spec(&spec).unwrap();
        let label = "system_u:object_r:container_file_t:s0:c1,c2";
        let ops: Vec<_> = spec
            .mounts()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, m)| {
                let mut resolver = resolve::Resolver::new(root.path());
                plan_mount(i, m, root.path(), &mut resolver, &ns, Some(label)).unwrap()
            })
            .collect();
        let data: Vec<_> = ops
            .iter()
            .map(|op| op.data.clone().map(|d| d.into_string().unwrap()))
            .collect();
        let ctx = format!("context=\"{label}\"");
        let with = |d: &str| Some(d.to_string());
        assert_eq!(
            data,
            [
                None,
                None,
                with(&format!("mode=755,{ctx}")),
                with(&ctx),
                None,
                None,
                None
            ]
        );
        // mqueue, as in runc: its root is labelled after the mount.
        let labelled: Vec<_> = ops.iter().map(|op| op.root_label.is_some()).collect();
        assert_eq!(labelled, [false, false, false, false, true, false, false]);
        assert_eq!(ops[4].root_label.as_deref().unwrap().to_bytes(), label.as_bytes());
    }

    #[test]
    fn no_pivot_lists_the_hosts_full_proc_and_sysfs_outside_the_rootfs() {
        let root = tempfile::tempdir().unwrap();
        let points = host_proc_sys(root.path()).unwrap();
        assert!(points.iter().any(|p| p.as_bytes() == b"/proc"), "{points:?}");
        assert!(points.iter().any(|p| p.as_bytes() == b"/sys"), "{points:?}");
        // Under the rootfs: the container's own.
        assert!(host_proc_sys(Path::new("/")).unwrap().is_empty());
        let spec =
            parse_spec(br#"{"ociVersion":"1.2.0","linux":{"namespaces":[{"type":"mount"}]}}"#).unwrap();
        let ns = NamespacePlan::from_spec(&spec).unwrap();
        let host = crate::lsm::Host::default();
        let p = MountPlan::from_spec(&spec, root.path(), &ns, true, host).unwrap();
        assert_eq!(p.host_proc_sys, points);
        let p = MountPlan::from_spec(&spec, root.path(), &ns, false, host).unwrap();
        assert!(p.host_proc_sys.is_empty());
    }

    #[test]
    fn a_shared_or_joined_mount_namespace_is_accepted() {
        let proc = r#"[{"destination":"/proc","type":"proc","source":"proc"}]"#;
        assert!(
            plan(proc, r#"{"namespaces":[{"type":"pid"}]}"#)
                .unwrap()
                .shared_ns
        );
        let joined = r#"{"namespaces":[{"type":"mount","path":"/proc/1/ns/mnt"}]}"#;
        assert!(!plan(proc, joined).unwrap().shared_ns);
        assert!(!plan(proc, MOUNT_NS).unwrap().shared_ns);
    }

    #[test]
    fn what_would_change_the_callers_mounts_needs_a_mount_namespace() {
        let err = |linux: &str| plan("[]", linux).unwrap_err().to_string();
        assert!(err(r#"{"maskedPaths":["/proc/kcore"]}"#).contains("linux.maskedPaths"));
        assert!(err(r#"{"readonlyPaths":["/proc/sys"]}"#).contains("linux.readonlyPaths"));
        assert!(err(r#"{"rootfsPropagation":"shared"}"#).contains("linux.rootfsPropagation"));
        let root = tempfile::tempdir().unwrap();
        let spec =
            parse_spec(br#"{"ociVersion":"1.2.0","root":{"path":"r","readonly":true},"linux":{}}"#).unwrap();
        let ns = NamespacePlan::from_spec(&spec).unwrap();
        let e =
            MountPlan::from_spec(&spec, root.path(), &ns, false, crate::lsm::Host::default()).unwrap_err();
        assert!(e.to_string().contains("root.readonly"), "{e}");
        // The same with a namespace of its own is fine.
        plan(
            "[]",
            r#"{"namespaces":[{"type":"mount"}],"maskedPaths":["/proc/kcore"]}"#,
        )
        .unwrap();
        // A bad entry is named by its index.
        for field in ["maskedPaths", "readonlyPaths"] {
            let linux =
                format!(r#"{{"namespaces":[{{"type":"mount"}}],"{field}":["/proc/kcore","relative"]}}"#);
            let e = err(&linux);
            assert!(e.contains(&format!("linux.{field}[1]")), "{e}");
        }
    }

    #[test]
    fn idmapped_binds_keep_their_maps_and_recursion() {
        let p = plan(
            r#"[{"destination":"/a","type":"bind","source":"/tmp","options":["rbind"],
                 "uidMappings":[{"containerID":0,"hostID":1000,"size":1}],
                 "gidMappings":[{"containerID":0,"hostID":2000,"size":1}]},
                {"destination":"/b","source":"/tmp","options":["rbind","ridmap"],
                 "uidMappings":[{"containerID":0,"hostID":1000,"size":1}],
                 "gidMappings":[{"containerID":0,"hostID":2000,"size":1}]},
                {"destination":"/c","type":"bind","source":"/tmp","options":["bind"]}]"#,
            MOUNT_NS,
        )
        .unwrap();
        let maps = IdMaps {
            uid_map: "0 1000 1\n".into(),
            gid_map: "0 2000 1\n".into(),
        };
        let a = p.mounts[0].idmap.as_ref().unwrap();
        assert_eq!(a.userns, IdmapUserns::Maps(maps.clone()));
        assert!(!a.recursive);
        // rbind: open_tree clones the whole tree; ridmap maps all of it.
        assert_ne!(p.mounts[0].flags & libc::MS_REC, 0);
        assert!(p.mounts[1].idmap.as_ref().unwrap().recursive);
        assert!(p.mounts[2].idmap.is_none());
    }

    #[test]
    fn idmap_without_maps_takes_the_containers_user_namespace() {
        let m = r#"[{"destination":"/a","type":"bind","source":"/tmp","options":["bind","idmap"]}]"#;
        let p = plan(
            m,
            r#"{"namespaces":[{"type":"mount"},{"type":"user"}],
                "uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
                "gidMappings":[{"containerID":0,"hostID":200000,"size":65536}]}"#,
        )
        .unwrap();
        let want = IdMaps {
            uid_map: "0 100000 65536\n".into(),
            gid_map: "0 200000 65536\n".into(),
        };
        assert_eq!(
            p.mounts[0].idmap.as_ref().unwrap().userns,
            IdmapUserns::Maps(want)
        );
        let p = plan(
            m,
            r#"{"namespaces":[{"type":"mount"},{"type":"user","path":"/proc/1/ns/user"}]}"#,
        )
        .unwrap();
        assert_eq!(
            p.mounts[0].idmap.as_ref().unwrap().userns,
            IdmapUserns::Join(PathBuf::from("/proc/1/ns/user"))
        );
        let e = plan(m, MOUNT_NS).unwrap_err().to_string();
        assert!(
            e.contains("mounts[0].options") && e.contains("user namespace"),
            "{e}"
        );
    }

    #[test]
    fn proc_destinations_and_deferred_read_only() {
        let ok = plan(
            r#"[{"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/proc/meminfo","type":"bind","source":"/tmp","options":["bind"]},
                {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["ro","nosuid"]},
                {"destination":"/data","type":"tmpfs","source":"tmpfs","options":["ro"]},
                {"destination":"/ro","type":"bind","source":"/tmp","options":["bind","ro"]}]"#,
            MOUNT_NS,
        )
        .unwrap();
        assert!(ok.mounts[0].proc_ok && ok.mounts[1].proc_ok && !ok.mounts[2].proc_ok);
        // tmpfs and /dev: writable now, read-only at the end; binds at once.
        for m in &ok.mounts[2..4] {
            assert!(m.late_ro && m.flags & libc::MS_RDONLY == 0, "{:?}", m.dest);
        }
        assert!(!ok.mounts[4].late_ro && ok.mounts[4].remount.unwrap() & libc::MS_RDONLY != 0);
        for bad in [
            r#"{"destination":"/proc","type":"bind","source":"/tmp","options":["rbind"]}"#,
            r#"{"destination":"/proc/sys","type":"tmpfs","source":"tmpfs"}"#,
            r#"{"destination":"/proc/../proc/self/fd","type":"tmpfs","source":"tmpfs"}"#,
        ] {
            let e = plan(&format!("[{bad}]"), MOUNT_NS).unwrap_err().to_string();
            assert!(e.contains("mounts[0].destination") && e.contains("/proc"), "{e}");
        }
    }

    #[test]
    fn id_maps_on_other_mounts_are_refused() {
        let e = plan(
            r#"[{"destination":"/t","type":"tmpfs","source":"tmpfs","options":["idmap"]}]"#,
            MOUNT_NS,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("mounts[0].options") && e.contains("only supported for bind mounts"),
            "{e}"
        );
        let e = plan(
            r#"[{"destination":"/t","type":"tmpfs","source":"tmpfs",
                 "gidMappings":[{"containerID":0,"hostID":1000,"size":1}]}]"#,
            MOUNT_NS,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("mounts[0].gidMappings"), "{e}");
    }
}

//! A lock that serialises nook's own directory changes in a hierarchy.
//!
//! Two containers created at once under a new parent (`/pod/a`, `/pod/b`)
//! race: one makes `/pod` and is about to configure it (copy the v1 cpuset,
//! enable v2 controllers) while the other already sees it and builds on an
//! unconfigured parent; a removal can likewise delete a parent just as a
//! create uses it. nook takes an exclusive `flock(2)` on each hierarchy's
//! mount point directory around creation and removal, which every nook
//! process (and the C and Go callers) sees, without a lock file anywhere.
//! Removal locks only where a parent is removed, and creation only where
//! a parent may be made or filled, plus the hierarchy of the directory it
//! claims (below), which serialises the creates of one path: a leaf
//! directly below the mount point (the default) races nobody's set-up of
//! a parent.
//!
//! A create also holds a [`Claim`] on its cgroup directory from its mkdir
//! (or adoption) until its init is in it: before that the cgroup is empty,
//! and another create naming the same `linux.cgroupsPath` would adopt it.
#![forbid(unsafe_code)]

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

/// Held locks; dropping it unlocks.
#[derive(Debug)]
pub(crate) struct MountLocks {
    _held: Vec<Flock<File>>,
}

/// Locks the given mount points, in sorted order so two lockers never deadlock.
pub(crate) fn lock<'a>(mount_points: impl IntoIterator<Item = &'a Path>) -> Result<MountLocks> {
    let mut paths: Vec<&Path> = mount_points.into_iter().collect();
    paths.sort();
    paths.dedup();
    let mut held = Vec::with_capacity(paths.len());
    for p in paths {
        let f = File::open(p).map_err(|e| Error::io("opening cgroup mount", p, e))?;
        let locked = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys(format!("flock({}, LOCK_EX)", p.display()), e))?;
        held.push(locked);
    }
    Ok(MountLocks { _held: held })
}

/// A create's hold on its cgroup directory until its init is in it
/// (`flock(2)` on the directory); see [`super::CgroupPlan::create_claimed`].
#[derive(Debug)]
pub struct Claim {
    _held: Option<Flock<File>>,
}

impl Claim {
    /// No cgroup to hold (none is made, e.g. rootless without delegation).
    pub(crate) fn none() -> Claim {
        Claim { _held: None }
    }
}

/// Claims cgroup directory `dir` through a descriptor numbered `fd_floor`
/// or above, refusing at once when another create holds it.
pub(crate) fn claim(dir: &Path, fd_floor: RawFd) -> Result<Claim> {
    let mut f = File::open(dir).map_err(|e| Error::io("opening cgroup", dir, e))?;
    if f.as_raw_fd() < fd_floor {
        f =
            File::from(crate::sys::dup_above(f.as_fd(), fd_floor).map_err(|e| {
                Error::sys(format!("fcntl(F_DUPFD_CLOEXEC, {fd_floor})"), Errno::from_raw(e))
            })?);
    }
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(held) => Ok(Claim { _held: Some(held) }),
        Err((_, Errno::EWOULDBLOCK)) => Err(Error::config(
            "linux.cgroupsPath",
            format!("cgroup {} is being set up for another container", dir.display()),
        )),
        Err((_, e)) => Err(Error::sys(
            format!("flock({}, LOCK_EX|LOCK_NB)", dir.display()),
            e,
        )),
    }
}

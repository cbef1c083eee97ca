//! A lock that serialises nook's own directory changes in a hierarchy.
//!
//! Two containers created at once under a new parent (`/pod/a`, `/pod/b`)
//! race: one makes `/pod` and is about to configure it (copy the v1 cpuset,
//! enable v2 controllers) while the other already sees it and builds on an
//! unconfigured parent; a removal can likewise delete a parent just as a
//! create uses it. nook takes an exclusive `flock(2)` on each hierarchy's
//! mount point directory around creation and removal, which every nook
//! process (and the C and Go callers) sees, without a lock file anywhere.
//! Only where a parent is involved: a cgroup directly below the mount point
//! (the default) has no parent to race on and takes no lock.
#![forbid(unsafe_code)]

use std::fs::File;
use std::path::Path;

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

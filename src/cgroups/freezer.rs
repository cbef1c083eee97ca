//! Freezing and thawing: the v1 freezer controller or cgroup2's `cgroup.freeze`.
//!
//! Both are asynchronous: the write starts the transition and the kernel
//! reports completion later (v1 `freezer.state` goes FREEZING -> FROZEN,
//! v2 `cgroup.events` shows `frozen 1`). `pause` must not return before
//! the processes are really stopped, so both paths poll until done.
#![forbid(unsafe_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use super::{read, write};
use crate::error::{Error, Result};

/// The directory whose freezer nook drives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FreezerDir<'a> {
    /// A v1 freezer cgroup.
    V1(&'a Path),
    /// A cgroup2 directory (Linux 5.2+).
    V2(&'a Path),
}

/// Freezes (`frozen`) or thaws the cgroup and waits up to `timeout` for it.
pub(crate) fn set(dir: FreezerDir<'_>, frozen: bool, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        // v1: writing FROZEN again while FREEZING retries tasks that were
        // busy in the kernel, as runc does; v2 needs one write.
        match dir {
            FreezerDir::V1(p) => write(&p.join("freezer.state"), if frozen { "FROZEN" } else { "THAWED" })?,
            FreezerDir::V2(p) => write(&p.join("cgroup.freeze"), if frozen { "1" } else { "0" })?,
        }
        let done = match dir {
            FreezerDir::V1(p) => {
                let state = read(&p.join("freezer.state"))?;
                state.trim() == if frozen { "FROZEN" } else { "THAWED" }
            }
            FreezerDir::V2(_) => events_frozen(dir)? == frozen,
        };
        if done {
            return Ok(());
        }
        if Instant::now() >= deadline {
            if frozen {
                // Do not leave the container half-frozen: undo, then report.
                let _ = set(dir, false, timeout);
            }
            let (FreezerDir::V1(p) | FreezerDir::V2(p)) = dir;
            return Err(Error::Sys {
                call: format!(
                    "{} {} (still not done after {timeout:?})",
                    if frozen { "freezing" } else { "thawing" },
                    p.display()
                ),
                errno: libc::ETIMEDOUT,
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// The `frozen` field of a cgroup2 directory's `cgroup.events`.
fn events_frozen(dir: FreezerDir<'_>) -> Result<bool> {
    let (FreezerDir::V1(p) | FreezerDir::V2(p)) = dir;
    let events = read(&p.join("cgroup.events"))?;
    Ok(events.lines().any(|l| l.trim() == "frozen 1"))
}

/// Whether the cgroup is frozen or on its way there. One that is gone
/// holds nothing frozen: ENOENT, or ENODEV for a file of one being removed
/// (systemd removes a scope's cgroup as soon as its last process dies,
/// which may be between `cgroup.kill` and this read).
pub(crate) fn is_frozen(dir: FreezerDir<'_>) -> Result<bool> {
    let (file, frozen): (_, fn(&str) -> bool) = match dir {
        FreezerDir::V1(p) => (p.join("freezer.state"), |s| s != "THAWED"),
        FreezerDir::V2(p) => (p.join("cgroup.freeze"), |s| s == "1"),
    };
    match read(&file) {
        Ok(s) => Ok(frozen(s.trim())),
        Err(e) if matches!(e.errno(), libc::ENOENT | libc::ENODEV) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_that_is_gone_is_not_frozen() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("freezer.state"), "FROZEN\n").unwrap();
        std::fs::write(d.path().join("cgroup.freeze"), "1\n").unwrap();
        assert!(is_frozen(FreezerDir::V1(d.path())).unwrap());
        assert!(is_frozen(FreezerDir::V2(d.path())).unwrap());
        let gone = d.path().join("gone");
        assert!(!is_frozen(FreezerDir::V1(&gone)).unwrap());
        assert!(!is_frozen(FreezerDir::V2(&gone)).unwrap());
    }
}

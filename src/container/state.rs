//! Persisted container state: one directory per container under the state
//! root, holding `state.json` (written atomically: temp file + rename) and
//! the exec FIFO, and locked with `flock` so concurrent commands on one
//! container are serialised.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};

/// Name of the FIFO init blocks on until `start`.
pub const EXEC_FIFO: &str = "exec.fifo";
const STATE_FILE: &str = "state.json";

/// What nook remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Persisted {
    /// The container id.
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Start time of `pid` (field 22 of /proc/PID/stat), to detect pid reuse.
    pub pid_start: u64,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Rootfs on the host.
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    /// `annotations` of the spec.
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The user that created the container ("" for root, like runc).
    #[serde(default)]
    pub owner: String,
    /// The container's cgroup.
    #[serde(default)]
    pub cgroup: Cgroup,
    /// `process.args[0]`, for exec error messages in `start`.
    #[serde(default)]
    pub program: String,
    /// Created with `--no-new-keyring`: exec'd processes keep the caller's
    /// session keyring too.
    #[serde(default)]
    pub no_new_keyring: bool,
    /// The spec's hooks: `start` runs poststart, `delete` poststop, even if
    /// the bundle has changed or gone by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

/// The state directory of one container.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// `<root>/<id>`.
    pub path: PathBuf,
}

/// An exclusive lock on a container's state directory, released on drop.
#[derive(Debug)]
pub struct Lock {
    _lock: Flock<File>,
}

impl StateDir {
    /// The directory of `id` under `root` (not created).
    pub fn new(root: &Path, id: &str) -> StateDir {
        StateDir { path: root.join(id) }
    }

    /// Creates the directory; fails with AlreadyExists if the id is taken.
    /// Mode 0711: the container's user must reach the exec FIFO through it.
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::PermissionDenied if !nix::unistd::geteuid().is_root() => Error::io(
                    "creating state root (as a user, set XDG_RUNTIME_DIR or --root)",
                    root,
                    e,
                ),
                _ => Error::io("creating state root", root, e),
            })?;
        let dir = StateDir::new(root, id);
        match fs::DirBuilder::new().mode(0o711).create(&dir.path) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::AlreadyExists { id: id.to_string() })
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied && !nix::unistd::geteuid().is_root() =>
            {
                Err(Error::io(
                    "creating state directory (as a user, set XDG_RUNTIME_DIR or --root)",
                    &dir.path,
                    e,
                ))
            }
            Err(e) => Err(Error::io("creating state directory", &dir.path, e)),
        }
    }

    /// Takes the container's lock, waiting for other commands to finish.
    pub fn lock(&self, id: &str) -> Result<Lock> {
        let file = File::open(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound { id: id.to_string() },
            _ => Error::io("opening state directory", &self.path, e),
        })?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys(format!("flock({}, LOCK_EX)", self.path.display()), e))?;
        // The container may have been deleted while we waited.
        if !self.path.exists() {
            return Err(Error::NotFound { id: id.to_string() });
        }
        Ok(Lock { _lock: lock })
    }

    /// Path of the exec FIFO.
    pub fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Reads `state.json`.
    pub fn load(&self, id: &str) -> Result<Persisted> {
        let path = self.path.join(STATE_FILE);
        let text = fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound { id: id.to_string() },
            _ => Error::io("reading", &path, e),
        })?;
        serde_json::from_slice(&text).map_err(|e| Error::io("parsing", &path, e.into()))
    }

    /// Writes `state.json` atomically.
    pub fn save(&self, state: &Persisted) -> Result<()> {
        let json = serde_json::to_vec(state).expect("state serialises");
        write_atomic(&self.path.join(STATE_FILE), &json, 0o600)
    }

    /// Removes the directory and everything in it.
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing", &self.path, e)),
        }
    }
}

/// Writes `data` to `path` via a temporary file in the same directory and a
/// rename, so readers see the old or the new file, never a partial one.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_data()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("writing", path, e)
    })
}

/// Start time (clock ticks since boot) of `pid`, or None if it is gone.
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// The one-letter state of `pid` from /proc/PID/stat ('R', 'S', 'Z', ...).
pub fn pid_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// Lists the container ids under `root`.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", root, e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_save_load_remove() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "c1").unwrap();
        assert!(matches!(
            StateDir::create(root.path(), "c1"),
            Err(Error::AlreadyExists { .. })
        ));
        let st = Persisted {
            id: "c1".into(),
            pid: 1,
            pid_start: 2,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "now".into(),
            annotations: HashMap::new(),
            owner: String::new(),
            cgroup: Cgroup::default(),
            program: "sh".into(),
            no_new_keyring: false,
            hooks: None,
        };
        dir.save(&st).unwrap();
        let _lock = dir.lock("c1").unwrap();
        assert_eq!(dir.load("c1").unwrap().pid_start, 2);
        assert_eq!(list_ids(root.path()).unwrap(), vec!["c1"]);
        dir.remove().unwrap();
        assert!(matches!(dir.load("c1"), Err(Error::NotFound { .. })));
    }

    #[test]
    fn own_start_time_is_readable() {
        assert!(pid_start_time(std::process::id() as i32).is_some());
        assert!(matches!(pid_state(std::process::id() as i32), Some('R' | 'S')));
    }
}

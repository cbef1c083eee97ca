//! Persisted container state: one directory per container under the state
//! root, holding `state.json` (written atomically: temp file + rename) and
//! the exec socket, and locked with `flock` so concurrent commands on one
//! container are serialised.
//!
//! Before `create` makes anything outside it (a cgroup, a mount), the
//! directory gets `intent.json`: the [`Intent`], naming what is about to be
//! made, so that `delete --force` can still find and remove it when
//! `create` was killed before `state.json` was written.
//!
//! The root and every container directory are 0700, as runc makes them:
//! nothing in them is for anyone but the runtime's user. The init never
//! reaches them by path (it holds only the exec socket's listening fd), so
//! the container's user needs no access either.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};

/// Name of the socket the init accepts `start`'s connection on (runc's exec.fifo).
pub const EXEC_SOCK: &str = "exec.sock";
const STATE_FILE: &str = "state.json";
const INTENT_FILE: &str = "intent.json";

/// What `create` is about to make outside the state directory, written
/// before it makes any of it (see [`StateDir::write_intent`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Intent {
    /// The container id.
    pub id: String,
    /// The container's cgroup, with the directories create will make (see
    /// [`crate::cgroups::CgroupPlan::intended`]); read back, it passes the
    /// same check as state.json's.
    pub cgroup: Cgroup,
}

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
    /// The container has no pid namespace of its own (none, or one joined):
    /// its other processes outlive the init, so SIGKILL goes to the whole
    /// cgroup (see [`super::Container::kill`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared_pid_ns: bool,
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

    /// Creates the directory (and the root if missing), both 0700; fails
    /// with AlreadyExists if the id is taken. An existing root keeps its
    /// mode: `--root` may name any directory of the caller's.
    ///
    /// The container's directory is made first: only when that fails for
    /// want of a root (or of a directory there) is the root made, so the
    /// usual create, under an existing root, costs one mkdir, not three
    /// system calls.
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        let dir = StateDir::new(root, id);
        let mkdir = || fs::DirBuilder::new().mode(0o700).create(&dir.path);
        let made = match mkdir() {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(root)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::PermissionDenied if !nix::unistd::geteuid().is_root() => {
                            Error::io(
                                "creating state root (as a user, set XDG_RUNTIME_DIR or --root)",
                                root,
                                e,
                            )
                        }
                        _ => Error::io("creating state root", root, e),
                    })?;
                mkdir()
            }
            other => other,
        };
        match made {
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
        self.lock_above(id, 0)
    }

    /// [`StateDir::lock`] through a descriptor numbered `min` or above:
    /// create holds the lock while it clones, and a descriptor of the
    /// state directory's must not sit in a hole of the caller's preserved
    /// fds below `min`, which the child passes on to the container.
    pub fn lock_above(&self, id: &str, min: RawFd) -> Result<Lock> {
        let mut file = File::open(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound { id: id.to_string() },
            _ => Error::io("opening state directory", &self.path, e),
        })?;
        if file.as_raw_fd() < min {
            let above = crate::sys::dup_above(file.as_fd(), min)
                .map_err(|e| Error::sys(format!("fcntl(F_DUPFD_CLOEXEC, {min})"), Errno::from_raw(e)))?;
            file = File::from(above);
        }
        let flock_error = |e| Error::sys(format!("flock({}, LOCK_EX)", self.path.display()), e);
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((file, Errno::EWOULDBLOCK)) => {
                if let Some(holder) = ancestor_holding(&file) {
                    return Err(Error::Sys {
                        call: format!(
                            "flock({}, LOCK_EX): container {id:?} is locked by process {holder}, which \
                             this one descends from (a hook of the nook command holding it), so \
                             waiting for it would never end",
                            self.path.display()
                        ),
                        errno: libc::EDEADLK,
                    });
                }
                Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| flock_error(e))?
            }
            Err((_, e)) => return Err(flock_error(e)),
        };
        // The container may have been deleted while we waited.
        if !self.path.exists() {
            return Err(Error::NotFound { id: id.to_string() });
        }
        Ok(Lock { _lock: lock })
    }

    /// Path of the exec socket.
    pub fn exec_sock(&self) -> PathBuf {
        self.path.join(EXEC_SOCK)
    }

    /// The exec socket's address, through an O_PATH fd of the directory
    /// (`/proc/self/fd/N/exec.sock`), which fits in `sun_path` (108 bytes)
    /// however long the root and the id are. Keep the fd while using it.
    /// When the plain path fits, it is the address and no fd is opened
    /// (the directory is the runtime's own, 0700: the fd is only there for
    /// the length).
    fn exec_addr(&self) -> Result<(Option<OwnedFd>, UnixAddr)> {
        let sock = self.exec_sock();
        if sock.as_os_str().len() < 108 {
            if let Ok(addr) = UnixAddr::new(&sock) {
                return Ok((None, addr));
            }
        }
        let dir = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(&self.path)
            .map(OwnedFd::from)
            .map_err(|e| Error::io("opening", &self.path, e))?;
        let path = format!("/proc/self/fd/{}/{EXEC_SOCK}", dir.as_raw_fd());
        let addr = UnixAddr::new(path.as_str()).map_err(|e| Error::sys(format!("sockaddr_un({path})"), e))?;
        Ok((Some(dir), addr))
    }

    /// Binds the exec socket and listens on it (SOCK_SEQPACKET, close-on-exec).
    /// The init holds the only listening fd until its execve, accepts one
    /// connection and writes its answer there, so `start` talks to the init
    /// alone: nobody else can hold that connection open.
    pub fn listen_exec(&self) -> Result<OwnedFd> {
        let sock = seqpacket()?;
        let (_dir, addr) = self.exec_addr()?;
        socket::bind(sock.as_raw_fd(), &addr)
            .map_err(|e| Error::sys(format!("bind({})", self.exec_sock().display()), e))?;
        socket::listen(&sock, Backlog::new(4).expect("valid backlog"))
            .map_err(|e| Error::sys(format!("listen({})", self.exec_sock().display()), e))?;
        Ok(sock)
    }

    /// Connects to the exec socket: the init accepts, which releases it.
    pub fn connect_exec(&self) -> Result<OwnedFd> {
        let sock = seqpacket()?;
        let (_dir, addr) = self.exec_addr()?;
        socket::connect(sock.as_raw_fd(), &addr)
            .map_err(|e| Error::sys(format!("connect({})", self.exec_sock().display()), e))?;
        Ok(sock)
    }

    /// Whether a live socket still listens at the exec socket's path, i.e.
    /// whether the init still holds it (it does until its execve). Probed
    /// with a datagram connect, which the kernel refuses with EPROTOTYPE
    /// when a socket of another type is bound there and ECONNREFUSED when
    /// the socket is closed: nothing reaches the listener, so the probe
    /// cannot release the init.
    pub fn exec_pending(&self) -> bool {
        let Ok((_dir, addr)) = self.exec_addr() else {
            return false;
        };
        let Ok(probe) = socket::socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        ) else {
            return false;
        };
        socket::connect(probe.as_raw_fd(), &addr) == Err(Errno::EPROTOTYPE)
    }

    /// Writes `intent.json`, which must not exist yet: created with
    /// O_EXCL|O_NOFOLLOW in the directory create has just made, 0600. Not
    /// synced to disk: it only has to outlive the process (state roots are
    /// on tmpfs, and cgroups do not survive a reboot either).
    pub fn write_intent(&self, intent: &Intent) -> Result<()> {
        let path = self.path.join(INTENT_FILE);
        let json = serde_json::to_vec(intent).expect("intent serialises");
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(&json))
            .map_err(|e| Error::io("writing", path, e))
    }

    /// Reads `intent.json`: None if there is none (create was stopped
    /// before it wrote it, or the container predates intent records).
    pub fn load_intent(&self, id: &str) -> Option<Result<Intent>> {
        let path = self.path.join(INTENT_FILE);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => return Some(Err(Error::io("reading", path, e))),
        };
        Some(match serde_json::from_slice::<Intent>(&text) {
            Ok(i) if i.id == id => Ok(i),
            Ok(i) => Err(Error::io(
                "checking",
                path,
                std::io::Error::other(format!("it names container {:?}", i.id)),
            )),
            Err(e) => Err(Error::io("parsing", path, e.into())),
        })
    }

    /// Reads `state.json`.
    pub fn load(&self, id: &str) -> Result<Persisted> {
        let path = self.path.join(STATE_FILE);
        let text = read_state(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound { id: id.to_string() },
            _ => Error::io("reading", &path, e),
        })?;
        serde_json::from_slice(&text).map_err(|e| Error::io("parsing", &path, e.into()))
    }

    /// Reads `state.json` without its cgroup, for a `delete --force` of a
    /// state whose cgroup [`load`](StateDir::load) refused (see
    /// [`Cgroup`]'s check): the rest is returned with no cgroup, so nothing
    /// is killed or removed by those paths. None when the rest does not
    /// parse either (an empty or truncated file).
    pub fn load_without_cgroup(&self) -> Option<Persisted> {
        let text = read_state(&self.path.join(STATE_FILE)).ok()?;
        let mut v: serde_json::Value = serde_json::from_slice(&text).ok()?;
        v.as_object_mut()?.remove("cgroup");
        serde_json::from_value(v).ok()
    }

    /// Writes `state.json` atomically.
    pub fn save(&self, state: &Persisted) -> Result<()> {
        let json = serde_json::to_vec(state).expect("state serialises");
        write_atomic(&self.path.join(STATE_FILE), &json, 0o600)
    }

    /// Removes the directory and everything in it.
    ///
    /// The files nook makes there are unlinked by name, state.json last
    /// (the container is listed until then), and the directory removed:
    /// no listing of it, which cost as many system calls again. Anything
    /// unexpected (a temporary file left by a killed write, an entry of
    /// another type) goes the general way, which lists and empties it.
    pub fn remove(&self) -> Result<()> {
        let gone = |r: std::io::Result<()>| match r {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
        let by_name = [EXEC_SOCK, INTENT_FILE, STATE_FILE]
            .iter()
            .all(|name| gone(fs::remove_file(self.path.join(name))));
        if by_name && gone(fs::remove_dir(&self.path)) {
            return Ok(());
        }
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing", &self.path, e)),
        }
    }
}

/// The process holding the flock on `file` (from /proc/locks), if it is
/// an ancestor of this one: a hook of a create (or of a start's poststart)
/// that runs a nook command on its own container. That command would wait
/// for its own ancestor, which waits for the hook.
fn ancestor_holding(file: &File) -> Option<i32> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let dev = meta.dev();
    // As fs/locks.c prints it: "%02x:%02x:%lu", major, minor, inode.
    let key = format!(
        "{:02x}:{:02x}:{}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev),
        meta.ino()
    );
    let locks = crate::procfile::read_to_string("/proc/locks").ok()?;
    // "1: FLOCK  ADVISORY  WRITE 25936 fe:00:6979631 0 EOF"; waiters have "->".
    let holders: Vec<i32> = locks
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&key.as_str()))
        .filter_map(|f| f.get(4)?.parse().ok())
        .collect();
    let mut pid = std::process::id() as i32;
    while pid > 1 {
        pid = parent_pid(pid)?;
        if holders.contains(&pid) {
            return Some(pid);
        }
    }
    None
}

/// The parent of `pid` (field 4 of /proc/PID/stat), None if it is gone.
fn parent_pid(pid: i32) -> Option<i32> {
    ProcStat::read(pid)?.field(1)?.parse().ok()
}

/// Reads a state file that must be a regular file: opened without
/// following a symlink or waiting for a FIFO's writer, so a damaged entry
/// (a FIFO, a link to /dev/zero) is an error at once, and `list` or
/// `delete --force` never hang on it.
fn read_state(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    // Sized from the metadata just read: File's own read_to_end would
    // ask for it again, and for the offset.
    let mut text = Vec::with_capacity(meta.len() as usize + 1);
    Read::by_ref(&mut file).take(u64::MAX).read_to_end(&mut text)?;
    Ok(text)
}

/// A new close-on-exec AF_UNIX SOCK_SEQPACKET socket: one message per
/// write, so `start` never sees half a failure record.
fn seqpacket() -> Result<OwnedFd> {
    socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Error::sys("socket(AF_UNIX, SOCK_SEQPACKET)", e))
}

/// Writes `data` to `path` via a temporary file in the same directory and a
/// rename, so readers see the old or the new file, never a partial one.
///
/// No fsync, as runc: the rename is what readers (another nook command, an
/// engine polling the pid file) need. Only a host crash could tear the file,
/// and a crash kills every container with it: the state root is on tmpfs
/// (/run) and gone at boot, and on a disk filesystem an empty or torn
/// state.json after a crash is what `delete --force` already handles. The
/// sync cost 3-17 ms of every create on an ext4 root (its journal commit).
///
/// The directory may be anyone's (`--pid-file /tmp/x`), so the temporary
/// file gets an unpredictable name and is created with O_CREAT|O_EXCL|
/// O_NOFOLLOW: a file or symlink planted in its place is never opened, only
/// makes us pick another name. rename(2) replaces a symlink at `path`
/// itself rather than following it.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0u32;
    let (tmp, mut f) = loop {
        let tmp = dir.join(format!(".{name}.{:016x}", random_u64(attempt)));
        let opened = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(mode)
            .open(&tmp);
        match opened {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(Error::io("creating", tmp, e)),
        }
    };
    let result = f.write_all(data).and_then(|()| fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("writing", path, e)
    })
}

/// 64 unpredictable bits for a temporary name: SipHash keyed with the
/// random keys std draws from the OS for every `RandomState`.
fn random_u64(salt: u32) -> u64 {
    use std::hash::BuildHasher;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    std::collections::hash_map::RandomState::new().hash_one((std::process::id(), now, salt))
}

/// /proc/PID/stat, read once for the fields after the command name.
pub(super) struct ProcStat {
    text: String,
    /// Where the fields after "(comm) " start: the name may contain
    /// spaces and parentheses, so they start after the last ')'.
    rest: usize,
}

impl ProcStat {
    /// None if `pid` is gone.
    pub(super) fn read(pid: i32) -> Option<ProcStat> {
        let text = crate::procfile::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = text.rfind(')')? + 2;
        (rest <= text.len()).then_some(ProcStat { text, rest })
    }

    /// The command name, between the first '(' and the last ')'.
    pub(super) fn comm(&self) -> &str {
        let open = self.text.find('(').map_or(0, |i| i + 1);
        self.text.get(open..self.rest - 2).unwrap_or_default()
    }

    /// Field `n` after the name: 0 the state, 1 the parent, 6 the flags,
    /// 19 the start time (fields 3, 4, 9 and 22 of proc(5)).
    pub(super) fn field(&self, n: usize) -> Option<&str> {
        self.text[self.rest..].split(' ').nth(n)
    }
}

/// Start time (clock ticks since boot) of `pid`, or None if it is gone.
pub fn pid_start_time(pid: i32) -> Option<u64> {
    pid_start_and_state(pid).map(|(start, _)| start)
}

/// The start time and the one-letter state of `pid`, from one read of
/// /proc/PID/stat ('R', 'S', 'Z', ...; see [`pid_start_time`]).
pub fn pid_start_and_state(pid: i32) -> Option<(u64, char)> {
    let stat = ProcStat::read(pid)?;
    Some((stat.field(19)?.parse().ok()?, stat.field(0)?.chars().next()?))
}

/// Whether `pid` has begun to exit: PF_EXITING in the flags of
/// /proc/PID/stat (set first thing in the kernel's do_exit). A dying init
/// of a pid namespace stays so, not yet a zombie, until every other
/// process of the namespace has been reaped by its parent.
pub fn pid_exiting(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    ProcStat::read(pid)
        .and_then(|s| s.field(6)?.parse::<u64>().ok())
        .is_some_and(|f| f & PF_EXITING != 0)
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
            shared_pid_ns: false,
        };
        dir.save(&st).unwrap();
        let _lock = dir.lock("c1").unwrap();
        assert_eq!(dir.load("c1").unwrap().pid_start, 2);
        assert_eq!(list_ids(root.path()).unwrap(), vec!["c1"]);
        dir.remove().unwrap();
        assert!(matches!(dir.load("c1"), Err(Error::NotFound { .. })));
        assert!(!dir.path.exists());
        // What nook does not make there goes too: the general way.
        let dir = StateDir::create(root.path(), "c2").unwrap();
        dir.save(&st).unwrap();
        fs::write(dir.path.join(".state.json.0123456789abcdef"), "torn").unwrap();
        fs::create_dir(dir.path.join(EXEC_SOCK)).unwrap();
        dir.remove().unwrap();
        assert!(!dir.path.exists());
        dir.remove().unwrap();
        // A missing root is made on the way.
        let deep = root.path().join("a/b");
        assert!(StateDir::create(&deep, "c3").unwrap().path.is_dir());
        fs::write(root.path().join("file"), "").unwrap();
        let e = StateDir::create(&root.path().join("file"), "c4")
            .unwrap_err()
            .to_string();
        assert!(e.contains("creating state root"), "{e}");
    }

    #[test]
    fn intent_is_written_once_and_read_back_under_the_cgroup_check() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "c1").unwrap();
        assert!(dir.load_intent("c1").is_none());
        let intent = Intent {
            id: "c1".into(),
            cgroup: Cgroup::default(),
        };
        dir.write_intent(&intent).unwrap();
        assert!(dir.write_intent(&intent).is_err(), "written once (O_EXCL)");
        assert_eq!(dir.load_intent("c1").unwrap().unwrap().id, "c1");
        assert!(dir.load_intent("c2").unwrap().is_err(), "it names c1");
        // Paths outside a mounted cgroup hierarchy are refused, as in state.json.
        let planted = r#"{"id":"c1","cgroup":{"dirs":[{"version":"v1","controllers":["memory"],
            "mount_point":"/tmp","path":"/tmp/victim","created":["/tmp/victim"]}]}}"#;
        fs::write(dir.path.join(INTENT_FILE), planted).unwrap();
        let e = dir.load_intent("c1").unwrap().unwrap_err().to_string();
        assert!(e.contains("not a mounted cgroup hierarchy"), "{e}");
    }

    #[test]
    fn exec_socket_is_probed_without_being_reached() {
        // Deeper than sun_path's 108 bytes: the address goes through /proc/self/fd.
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("d".repeat(100)).join("e".repeat(100));
        let dir = StateDir::create(&deep, "c1").unwrap();
        assert!(!dir.exec_pending());
        let listener = dir.listen_exec().unwrap();
        assert!(dir.exec_pending());
        assert!(dir.exec_pending(), "the probe queued nothing and closed nothing");
        let conn = dir.connect_exec().unwrap();
        let accepted = crate::sys::accept(std::os::fd::AsFd::as_fd(&listener)).unwrap();
        crate::sys::send(std::os::fd::AsFd::as_fd(&accepted), b"0").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(nix::unistd::read(conn.as_raw_fd(), &mut buf), Ok(1));
        drop(listener);
        assert!(!dir.exec_pending());
        assert_eq!(
            dir.connect_exec()
                .err()
                .map(|e| e.to_string().contains("Connection refused")),
            Some(true)
        );
    }

    #[test]
    fn write_atomic_replaces_a_symlink_without_following_it() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let target = d.path().join("pid");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_atomic(&target, b"42", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(fs::symlink_metadata(&target).unwrap().is_file());
        assert_eq!(fs::read_to_string(&target).unwrap(), "42");
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            2,
            "no temporary file left"
        );
    }

    /// The fields after a command name with spaces and parentheses, read
    /// back from the kernel for a child named so.
    #[test]
    fn proc_stat_fields_follow_any_command_name() {
        let d = tempfile::tempdir().unwrap();
        let exe = d.path().join("a) b (c");
        fs::copy("/bin/sleep", &exe).unwrap();
        let mut child = std::process::Command::new(&exe).arg("5").spawn().unwrap();
        let pid = child.id() as i32;
        let stat = ProcStat::read(pid).unwrap();
        let fields = (stat.comm().to_string(), stat.field(1).map(str::to_string));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            fields,
            ("a) b (c".to_string(), Some(std::process::id().to_string()))
        );
        assert_eq!(
            parent_pid(std::process::id() as i32),
            Some(nix::unistd::getppid().as_raw())
        );
    }

    #[test]
    fn own_start_time_is_readable() {
        assert!(pid_start_time(std::process::id() as i32).is_some());
        let (start, state) = pid_start_and_state(std::process::id() as i32).unwrap();
        assert_eq!(Some(start), pid_start_time(std::process::id() as i32));
        assert!(matches!(state, 'R' | 'S'));
        assert_eq!(pid_start_and_state(i32::MAX), None);
        assert!(!pid_exiting(std::process::id() as i32));
    }
}

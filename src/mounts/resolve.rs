//! Paths inside the rootfs that cannot lead out of it.
//!
//! Two layers, because each catches what the other cannot:
//! * [`resolve_in_root`] runs in the parent before anything is touched and turns
//!   a destination whose symlinks climb out of the rootfs (`../../etc`) into a
//!   configuration error naming the symlink, and otherwise returns the
//!   symlink-free path (dangling symlinks included) to create and mount on.
//!   An absolute symlink is fine: in the container it means a path under
//!   the rootfs, as runc treats it.
//! * [`open_dest`] runs in the child and resolves with openat2
//!   `RESOLVE_IN_ROOT` (Linux 5.6+), creating missing components one at a
//!   time with `mkdirat` on an already-resolved parent, so a symlink swapped
//!   in after validation still cannot redirect the mount to the host.
#![forbid(unsafe_code)]

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::sys::{self, SysResult};

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2 resolution for paths inside a root: symlinks resolved as if the
/// root were `/`, magic links refused.
pub const IN_ROOT: u64 = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

/// [`IN_ROOT`] following no symlink at all.
pub const IN_ROOT_NO_SYMLINKS: u64 = IN_ROOT | RESOLVE_NO_SYMLINKS;

/// A destination inside the container, pre-split for the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    /// The cleaned absolute container path, for messages.
    pub path: PathBuf,
    /// The path relative to the root ("." for the root itself).
    pub rel: CString,
    /// `rel` of each prefix: "a", "a/b", "a/b/c".
    pub prefixes: Vec<CString>,
    /// Each component: "a", "b", "c".
    pub names: Vec<CString>,
}

/// What to create at a missing destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Nothing: the destination must exist.
    Nothing,
    /// A directory (and missing parents).
    Dir,
    /// An empty regular file (and missing parent directories), for binds of files.
    File,
}

impl Dest {
    /// Splits an absolute container path, resolving `.` and `..` lexically
    /// (a `..` at the root stays at the root). Err if relative or if it holds a NUL.
    pub fn new(path: &Path) -> Result<Dest, &'static str> {
        if !path.is_absolute() {
            return Err("must be an absolute path");
        }
        let mut parts: Vec<OsString> = Vec::new();
        for c in path.components() {
            match c {
                Component::Normal(n) => parts.push(n.to_os_string()),
                Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        let cs = |b: &[u8]| CString::new(b).map_err(|_| "contains a NUL byte");
        let mut prefixes = Vec::new();
        let mut names = Vec::new();
        let mut acc = PathBuf::new();
        for p in &parts {
            acc.push(p);
            prefixes.push(cs(acc.as_os_str().as_bytes())?);
            names.push(cs(p.as_bytes())?);
        }
        let rel = if parts.is_empty() {
            c".".to_owned()
        } else {
            cs(acc.as_os_str().as_bytes())?
        };
        Ok(Dest {
            path: Path::new("/").join(&acc),
            rel,
            prefixes,
            names,
        })
    }
}

/// Resolves `dest` under `rootfs` on the host, following symlinks with
/// container semantics (an absolute target starts again at the rootfs), and
/// returns the symlink-free container path to mount on. Fails naming the
/// first symlink whose `..` climbs above the rootfs. Missing components end
/// the walk: they will be created as directories.
pub fn resolve_in_root(rootfs: &Path, dest: &Path) -> Result<PathBuf, String> {
    Resolver::new(rootfs).resolve(dest)
}

/// [`resolve_in_root`] for many destinations in one rootfs: each host path
/// is looked at once (runc's spec has /dev, /dev/pts, /dev/shm and
/// /dev/mqueue: /dev was looked at four times), and nothing is looked at
/// below a component that could not be (a path under a missing directory
/// cannot be a symlink).
#[derive(Debug)]
pub struct Resolver<'a> {
    rootfs: &'a Path,
    /// Host path -> whether it is a symlink (None: it could not be looked at).
    seen: std::collections::HashMap<PathBuf, Option<bool>>,
}

impl<'a> Resolver<'a> {
    /// A resolver for paths under `rootfs`.
    pub fn new(rootfs: &'a Path) -> Resolver<'a> {
        Resolver {
            rootfs,
            seen: std::collections::HashMap::new(),
        }
    }

    /// See [`resolve_in_root`].
    pub fn resolve(&mut self, dest: &Path) -> Result<PathBuf, String> {
        let rootfs = self.rootfs;
        let mut todo: Vec<OsString> = components(dest);
        todo.reverse();
        let mut at: Vec<OsString> = Vec::new();
        let mut links = 0;
        // `at.len()` once a component that could not be looked at was
        // pushed: everything below it is not a symlink either.
        let mut unseen_from: Option<usize> = None;
        while let Some(c) = todo.pop() {
            if c == ".." {
                at.pop();
                if unseen_from.is_some_and(|d| at.len() < d) {
                    unseen_from = None;
                }
                continue;
            }
            if unseen_from.is_some() {
                at.push(c);
                continue;
            }
            let mut here = rootfs.to_path_buf();
            here.extend(&at);
            here.push(&c);
            let is_link = match self.seen.get(&here) {
                Some(&seen) => seen,
                None => {
                    let kind = std::fs::symlink_metadata(&here)
                        .ok()
                        .map(|m| m.file_type().is_symlink());
                    self.seen.insert(here.clone(), kind);
                    kind
                }
            };
            match is_link {
                Some(true) => {}
                Some(false) => {
                    at.push(c);
                    continue;
                }
                None => {
                    at.push(c);
                    unseen_from = Some(at.len());
                    continue;
                }
            }
            links += 1;
            if links > 40 {
                return Err(format!("too many symlinks under {}", here.display()));
            }
            let target = std::fs::read_link(&here).map_err(|e| format!("{}: {e}", here.display()))?;
            if target.is_absolute() {
                at.clear();
            } else {
                // A relative target climbing above the rootfs would, on the host,
                // lead outside it: that is an attack, not a layout.
                let mut depth = at.len() as isize;
                for t in target.components() {
                    match t {
                        Component::ParentDir => depth -= 1,
                        Component::Normal(_) => depth += 1,
                        _ => {}
                    }
                    if depth < 0 {
                        return Err(format!(
                            "symlink {} -> {} escapes the rootfs",
                            here.display(),
                            target.display()
                        ));
                    }
                }
            }
            let mut next = components(&target);
            next.reverse();
            todo.extend(next);
        }
        let mut out = PathBuf::from("/");
        out.extend(at);
        Ok(out)
    }
}

fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Child: opens `dest` under `root` as an O_PATH fd without leaving `root`,
/// creating what is missing. No allocation.
pub fn open_dest(root: BorrowedFd<'_>, dest: &Dest, create: Create) -> SysResult<OwnedFd> {
    let resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    match sys::openat2(root, &dest.rel, libc::O_PATH, 0, resolve) {
        Err(libc::ENOENT) if create != Create::Nothing => {}
        other => return other,
    }
    // The deepest existing directory so far; the root until one is opened.
    let mut parent: Option<OwnedFd> = None;
    let last = dest.names.len().saturating_sub(1);
    for (i, (prefix, name)) in dest.prefixes.iter().zip(&dest.names).enumerate() {
        // The whole path was just missing: only its ancestors need a look.
        if i < last {
            match sys::openat2(root, prefix, libc::O_PATH, 0, resolve) {
                Ok(fd) => {
                    parent = Some(fd);
                    continue;
                }
                Err(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        let at = parent.as_ref().map_or(root, |p| p.as_fd());
        let made = if i == last && create == Create::File {
            let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW;
            sys::openat(Some(at), name, flags, 0o644).map(drop)
        } else {
            sys::mkdirat(at, name, 0o755)
        };
        // EEXIST: made meanwhile, or a symlink, which the next open resolves.
        match made {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        // Re-resolve what now exists instead of trusting the name we created.
        parent = Some(sys::openat2(root, prefix, libc::O_PATH, 0, resolve)?);
    }
    // A destination with no names is the root itself, which always exists.
    parent.ok_or(libc::ENOENT)
}

/// Child: opens the existing directory `dest` for reading (its entries), in-root.
pub fn open_dir_readable(root: BorrowedFd<'_>, dest: &Dest) -> SysResult<OwnedFd> {
    let resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    sys::openat2(root, &dest.rel, libc::O_RDONLY | libc::O_DIRECTORY, 0, resolve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn dest_is_cleaned_and_split() {
        let d = Dest::new(Path::new("/a/./b/../c/")).unwrap();
        assert_eq!(d.path, Path::new("/a/c"));
        assert_eq!(d.rel.as_bytes(), b"a/c");
        assert_eq!(d.prefixes, vec![c"a".to_owned(), c"a/c".to_owned()]);
        assert_eq!(Dest::new(Path::new("/../..")).unwrap().rel.as_bytes(), b".");
        assert!(Dest::new(Path::new("rel/path")).is_err());
    }

    #[test]
    fn escape_through_relative_symlink_is_caught() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        symlink("../../../../tmp", root.path().join("evil")).unwrap();
        symlink("/etc", root.path().join("abs")).unwrap();
        symlink("etc", root.path().join("rel")).unwrap();
        let err = resolve_in_root(root.path(), Path::new("/evil/x")).unwrap_err();
        assert!(err.contains("evil") && err.contains("escapes"), "{err}");
        assert_eq!(
            resolve_in_root(root.path(), Path::new("/abs/x")).unwrap(),
            Path::new("/etc/x")
        );
        assert_eq!(
            resolve_in_root(root.path(), Path::new("/rel/x")).unwrap(),
            Path::new("/etc/x")
        );
        assert_eq!(
            resolve_in_root(root.path(), Path::new("/missing/x")).unwrap(),
            Path::new("/missing/x")
        );
        // One resolver for many paths answers as a fresh one each time,
        // whatever it has looked at before; `..` out of a missing
        // directory looks again.
        let mut r = Resolver::new(root.path());
        for _ in 0..2 {
            assert!(r.resolve(Path::new("/evil/x")).is_err());
            assert!(r.resolve(Path::new("/missing/../evil/x")).is_err());
            assert!(r.resolve(Path::new("/missing/a/../../evil")).is_err());
            assert_eq!(
                r.resolve(Path::new("/missing/a/../b")).unwrap(),
                Path::new("/missing/b")
            );
            assert_eq!(r.resolve(Path::new("/abs/x")).unwrap(), Path::new("/etc/x"));
            assert_eq!(
                r.resolve(Path::new("/etc/../rel/y")).unwrap(),
                Path::new("/etc/y")
            );
        }
    }

    #[test]
    fn open_dest_creates_inside_root_even_through_absolute_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.path().join("link")).unwrap();
        let rootfd = OwnedFd::from(std::fs::File::open(root.path()).unwrap());
        let resolved = resolve_in_root(root.path(), Path::new("/link/new/dir")).unwrap();
        let d = Dest::new(&resolved).unwrap();
        open_dest(rootfd.as_fd(), &d, Create::Dir).unwrap();
        // Created under the rootfs, at the symlink's in-root meaning, not on the host.
        let inside = root
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("new/dir");
        assert!(inside.is_dir(), "{}", inside.display());
        assert!(!outside.path().join("new").exists());
        let f = Dest::new(Path::new("/file/in/place")).unwrap();
        open_dest(rootfd.as_fd(), &f, Create::File).unwrap();
        assert!(root.path().join("file/in/place").is_file());
    }
}

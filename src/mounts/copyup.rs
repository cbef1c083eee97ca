//! `tmpcopyup`: copy a directory's former contents into the tmpfs mounted
//! over it, keeping modes, owners and symlinks, in the child without
//! allocating (stack buffers, bounded recursion).
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};

use crate::sys::{self, FdPath, SysResult};

/// Deepest directory nesting copied; deeper trees fail with ELOOP rather
/// than risking the child's stack.
const MAX_DEPTH: u32 = 32;

#[repr(C, align(8))]
struct DirentBuf([u8; 2048]);

/// Copies the entries of `src` (an O_RDONLY directory) into `dst` (an O_PATH
/// directory on the new tmpfs), and `src`'s own mode and owner onto `dst`.
pub fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, depth: u32) -> SysResult<()> {
    if depth > MAX_DEPTH {
        return Err(libc::ELOOP);
    }
    let st = sys::fstat(src)?;
    sys::fchown_fd(dst, st.st_uid, st.st_gid)?;
    sys::chmod(FdPath::new(dst).as_cstr(), st.st_mode & 0o7777)?;
    let mut buf = DirentBuf([0; 2048]);
    loop {
        let n = sys::getdents64(src, &mut buf.0)?;
        if n == 0 {
            return Ok(());
        }
        let mut off = 0;
        while off < n {
            // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
            let reclen = u16::from_ne_bytes([buf.0[off + 16], buf.0[off + 17]]) as usize;
            let name = CStr::from_bytes_until_nul(&buf.0[off + 19..off + reclen]).map_err(|_| libc::EIO)?;
            off += reclen;
            if name == c"." || name == c".." {
                continue;
            }
            copy_entry(src, dst, name, depth)?;
        }
    }
}

fn copy_entry(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, name: &CStr, depth: u32) -> SysResult<()> {
    let st = sys::lstatat(src, name)?;
    let nofollow = libc::O_NOFOLLOW;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            sys::mkdirat(dst, name, 0o700)?;
            let s = sys::openat(Some(src), name, libc::O_RDONLY | libc::O_DIRECTORY | nofollow, 0)?;
            let d = sys::openat(Some(dst), name, libc::O_PATH | libc::O_DIRECTORY | nofollow, 0)?;
            return copy_dir(s.as_fd(), d.as_fd(), depth + 1);
        }
        libc::S_IFREG => {
            let s = sys::openat(Some(src), name, libc::O_RDONLY | nofollow, 0)?;
            let d = sys::openat(
                Some(dst),
                name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | nofollow,
                0o600,
            )?;
            let mut chunk = [0u8; 4096];
            loop {
                let n = sys::read(s.as_fd(), &mut chunk)?;
                if n == 0 {
                    break;
                }
                sys::write_all(d.as_fd(), &chunk[..n])?;
            }
        }
        libc::S_IFLNK => {
            let mut target = [0u8; 4097];
            let n = sys::readlinkat(src, name, &mut target[..4096])?;
            target[n] = 0;
            let t = CStr::from_bytes_until_nul(&target).map_err(|_| libc::EIO)?;
            sys::symlinkat(t, dst, name)?;
            return sys::lchownat(dst, name, st.st_uid, st.st_gid);
        }
        _ => sys::mknodat(dst, name, st.st_mode, st.st_rdev)?,
    }
    sys::lchownat(dst, name, st.st_uid, st.st_gid)?;
    sys::fchmodat(dst, name, st.st_mode & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn copies_tree_with_modes_and_links() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("a/b")).unwrap();
        std::fs::write(src.path().join("a/b/f"), vec![7u8; 10_000]).unwrap();
        std::fs::set_permissions(src.path().join("a/b/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        symlink("b/f", src.path().join("a/l")).unwrap();
        let s = OwnedFd::from(std::fs::File::open(src.path()).unwrap());
        let d = OwnedFd::from(std::fs::File::open(dst.path()).unwrap());
        copy_dir(s.as_fd(), d.as_fd(), 0).unwrap();
        assert_eq!(
            std::fs::read(dst.path().join("a/b/f")).unwrap(),
            vec![7u8; 10_000]
        );
        let mode = std::fs::metadata(dst.path().join("a/b/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640);
        assert_eq!(
            std::fs::read_link(dst.path().join("a/l")).unwrap(),
            std::path::Path::new("b/f")
        );
    }
}

//! Reading small kernel files (procfs, sysfs) in as few system calls as
//! possible, and splitting the lines of mountinfo (one parser for every
//! reader of it).
//!
//! These files report a size of 0, so `std::fs::read_to_string` cannot
//! size its buffer: it asks for their metadata, then reads 32 bytes, 32
//! more, then doubling (32, 64, 128 ...): eight reads for a 1.5 KiB
//! mountinfo, six for a /proc/PID/stat. Here one page-sized read takes the
//! whole of most of them, and the read that returns 0 ends it, as before.
#![forbid(unsafe_code)]

use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// What one read asks for at first. Not more: /proc/sys files allocate a
/// kernel buffer of the size asked for (a 64 KiB read of cap_last_cap
/// costs twice a 4 KiB one).
const CHUNK: usize = 4096;

/// The contents of `path` as UTF-8 text, as `std::fs::read_to_string`
/// returns them.
///
/// Read into the stack first and copied out at its size: a 4 KiB heap
/// buffer would be a large-bin request, for which glibc's malloc first
/// consolidates every freed small chunk (measured at ~30 µs of a create).
pub fn read_to_string(path: impl AsRef<Path>) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut first = [0u8; CHUNK];
    let mut len = 0;
    while len < CHUNK {
        match file.read(&mut first[len..]) {
            Ok(0) => return utf8(first[..len].to_vec()),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut buf = first.to_vec();
    loop {
        if len == buf.len() {
            buf.resize(2 * len, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    utf8(buf)
}

fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// The fields of one `/proc/PID/mountinfo` line nook looks at.
pub(crate) struct MountLine<'a> {
    /// Field 4: the part of the filesystem shown at the mount point (`/`
    /// for the whole of it).
    pub root: PathBuf,
    /// Field 5.
    pub mount_point: PathBuf,
    /// The filesystem type, after the ` - ` separator.
    pub fstype: &'a str,
    /// The superblock options (last field).
    pub super_opts: &'a str,
}

impl<'a> MountLine<'a> {
    /// `36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw,errors=continue`;
    /// None for a line not of that shape.
    pub fn parse(line: &'a str) -> Option<Self> {
        let (left, right) = line.split_once(" - ")?;
        let mut l = left.split(' ');
        let root = l.nth(3)?;
        let mount_point = l.next()?;
        let mut r = right.split(' ');
        let fstype = r.next()?;
        let _source = r.next()?;
        let super_opts = r.next().unwrap_or("");
        Some(MountLine {
            root: unescape_path(root),
            mount_point: unescape_path(mount_point),
            fstype,
            super_opts,
        })
    }
}

/// A mountinfo path field with its octal escapes (`\040` for a space,
/// `\011`, `\012`, `\134`) decoded, byte for byte.
fn unescape_path(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, c| acc.wrapping_mul(8).wrapping_add(c - b'0')),
                );
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mountinfo_lines_are_split_and_their_paths_decoded() {
        let m = super::MountLine::parse(
            r"36 35 98:0 /r\040t /a\040b\134c\x rw master:1 - ext3 /dev/root rw,errors=continue",
        )
        .unwrap();
        assert_eq!(m.root, std::path::Path::new("/r t"));
        assert_eq!(m.mount_point, std::path::Path::new("/a b\\c\\x"));
        assert_eq!((m.fstype, m.super_opts), ("ext3", "rw,errors=continue"));
        assert!(super::MountLine::parse("no separator").is_none());
    }

    #[test]
    fn reads_what_std_reads() {
        for p in [
            "/proc/self/mountinfo",
            "/proc/self/uid_map",
            "/proc/sys/kernel/cap_last_cap",
            "/proc/self/cgroup",
        ] {
            assert_eq!(
                super::read_to_string(p).unwrap(),
                std::fs::read_to_string(p).unwrap(),
                "{p}"
            );
        }
        // Longer than one read.
        let d = tempfile::tempdir().unwrap();
        let big: String = (0..20_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        std::fs::write(d.path().join("f"), &big).unwrap();
        assert_eq!(super::read_to_string(d.path().join("f")).unwrap(), big);
        assert!(super::read_to_string(d.path().join("missing")).is_err());
        std::fs::write(d.path().join("bad"), [0xffu8, 0xfe]).unwrap();
        assert_eq!(
            super::read_to_string(d.path().join("bad")).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
    }
}

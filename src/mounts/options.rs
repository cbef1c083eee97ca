//! fstab-style mount options -> mount(2) flags, propagation, mount_setattr
//! attributes and filesystem data, with runc's vocabulary.
#![forbid(unsafe_code)]

use libc::c_ulong;

use crate::sys::MountAttr;

/// The parsed options of one mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// MS_* flags to set.
    pub flags: c_ulong,
    /// MS_* flags explicitly cleared (`rw`, `suid`, ...); they win over defaults.
    pub cleared: c_ulong,
    /// Propagation changes (MS_PRIVATE, MS_SHARED, ... possibly | MS_REC), in order.
    pub propagation: Vec<c_ulong>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) applied with mount_setattr.
    pub attr: MountAttr,
    /// Filesystem-specific data (`mode=755,size=65536k`).
    pub data: Vec<String>,
    /// `tmpcopyup`: copy the directory's former contents into a new tmpfs.
    pub tmpcopyup: bool,
    /// `idmap`/`ridmap` was asked for.
    pub idmap: bool,
    /// `ridmap`: the id mapping applies to every mount of an `rbind` tree.
    pub idmap_recursive: bool,
}

/// `MOUNT_ATTR_RDONLY` of mount_setattr(2) and fsmount(2).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
/// `MOUNT_ATTR_NOSUID`.
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
/// `MOUNT_ATTR_NODEV`.
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
/// `MOUNT_ATTR_NOEXEC`.
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR__ATIME: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// Parses `options`. Unknown words become filesystem data, as runc does.
pub fn parse(options: &[String]) -> Options {
    let mut o = Options::default();
    for opt in options {
        let set = |o: &mut Options, f: c_ulong| {
            o.flags |= f;
            o.cleared &= !f;
        };
        let clear = |o: &mut Options, f: c_ulong| {
            o.flags &= !f;
            o.cleared |= f;
        };
        let attr_set = |o: &mut Options, f: u64| o.attr.set |= f;
        let attr_clr = |o: &mut Options, f: u64| o.attr.clr |= f;
        match opt.as_str() {
            "defaults" => {}
            "ro" => set(&mut o, libc::MS_RDONLY),
            "rw" => clear(&mut o, libc::MS_RDONLY),
            "nosuid" => set(&mut o, libc::MS_NOSUID),
            "suid" => clear(&mut o, libc::MS_NOSUID),
            "nodev" => set(&mut o, libc::MS_NODEV),
            "dev" => clear(&mut o, libc::MS_NODEV),
            "noexec" => set(&mut o, libc::MS_NOEXEC),
            "exec" => clear(&mut o, libc::MS_NOEXEC),
            "sync" => set(&mut o, libc::MS_SYNCHRONOUS),
            "async" => clear(&mut o, libc::MS_SYNCHRONOUS),
            "dirsync" => set(&mut o, libc::MS_DIRSYNC),
            "remount" => set(&mut o, libc::MS_REMOUNT),
            "mand" => set(&mut o, libc::MS_MANDLOCK),
            "nomand" => clear(&mut o, libc::MS_MANDLOCK),
            "atime" => clear(&mut o, libc::MS_NOATIME),
            "noatime" => set(&mut o, libc::MS_NOATIME),
            "diratime" => clear(&mut o, libc::MS_NODIRATIME),
            "nodiratime" => set(&mut o, libc::MS_NODIRATIME),
            "relatime" => set(&mut o, libc::MS_RELATIME),
            "norelatime" => clear(&mut o, libc::MS_RELATIME),
            "strictatime" => set(&mut o, libc::MS_STRICTATIME),
            "nostrictatime" => clear(&mut o, libc::MS_STRICTATIME),
            "lazytime" => set(&mut o, libc::MS_LAZYTIME),
            "nolazytime" => clear(&mut o, libc::MS_LAZYTIME),
            "iversion" => set(&mut o, libc::MS_I_VERSION),
            "noiversion" => clear(&mut o, libc::MS_I_VERSION),
            "silent" => set(&mut o, libc::MS_SILENT),
            "loud" => clear(&mut o, libc::MS_SILENT),
            "nosymfollow" => set(&mut o, libc::MS_NOSYMFOLLOW),
            "symfollow" => clear(&mut o, libc::MS_NOSYMFOLLOW),
            "bind" => set(&mut o, libc::MS_BIND),
            "rbind" => set(&mut o, libc::MS_BIND | libc::MS_REC),
            "private" => o.propagation.push(libc::MS_PRIVATE),
            "rprivate" => o.propagation.push(libc::MS_PRIVATE | libc::MS_REC),
            "shared" => o.propagation.push(libc::MS_SHARED),
            "rshared" => o.propagation.push(libc::MS_SHARED | libc::MS_REC),
            "slave" => o.propagation.push(libc::MS_SLAVE),
            "rslave" => o.propagation.push(libc::MS_SLAVE | libc::MS_REC),
            "unbindable" => o.propagation.push(libc::MS_UNBINDABLE),
            "runbindable" => o.propagation.push(libc::MS_UNBINDABLE | libc::MS_REC),
            "rro" => attr_set(&mut o, MOUNT_ATTR_RDONLY),
            "rrw" => attr_clr(&mut o, MOUNT_ATTR_RDONLY),
            "rnosuid" => attr_set(&mut o, MOUNT_ATTR_NOSUID),
            "rsuid" => attr_clr(&mut o, MOUNT_ATTR_NOSUID),
            "rnodev" => attr_set(&mut o, MOUNT_ATTR_NODEV),
            "rdev" => attr_clr(&mut o, MOUNT_ATTR_NODEV),
            "rnoexec" => attr_set(&mut o, MOUNT_ATTR_NOEXEC),
            "rexec" => attr_clr(&mut o, MOUNT_ATTR_NOEXEC),
            "rnodiratime" => attr_set(&mut o, MOUNT_ATTR_NODIRATIME),
            "rdiratime" => attr_clr(&mut o, MOUNT_ATTR_NODIRATIME),
            "rnosymfollow" => attr_set(&mut o, MOUNT_ATTR_NOSYMFOLLOW),
            "rsymfollow" => attr_clr(&mut o, MOUNT_ATTR_NOSYMFOLLOW),
            // The atime modes are one field in the kernel: clear it, then set one.
            "rrelatime" => {
                o.attr.clr |= MOUNT_ATTR__ATIME;
                o.attr.set |= MOUNT_ATTR_RELATIME;
            }
            "rnoatime" => {
                o.attr.clr |= MOUNT_ATTR__ATIME;
                o.attr.set |= MOUNT_ATTR_NOATIME;
            }
            "rstrictatime" => {
                o.attr.clr |= MOUNT_ATTR__ATIME;
                o.attr.set |= MOUNT_ATTR_STRICTATIME;
            }
            "rnorelatime" | "ratime" | "rnostrictatime" => o.attr.clr |= MOUNT_ATTR__ATIME,
            "tmpcopyup" => o.tmpcopyup = true,
            "idmap" => o.idmap = true,
            "ridmap" => {
                o.idmap = true;
                o.idmap_recursive = true;
            }
            other => o.data.push(other.to_string()),
        }
    }
    o
}

/// Flags that a bind remount must keep when they are set on the source mount:
/// in a user namespace the kernel refuses to clear them ("locked" flags).
pub const LOCKED_ST_FLAGS: [(u64, c_ulong); 4] = [
    (libc::ST_NOSUID, libc::MS_NOSUID),
    (libc::ST_NODEV, libc::MS_NODEV),
    (libc::ST_NOEXEC, libc::MS_NOEXEC),
    (libc::ST_RDONLY, libc::MS_RDONLY),
];

/// The MS_* flags that describe per-mount state a bind remount can change.
pub const REMOUNT_FLAGS: c_ulong = libc::MS_RDONLY
    | libc::MS_NOSUID
    | libc::MS_NODEV
    | libc::MS_NOEXEC
    | libc::MS_NOATIME
    | libc::MS_NODIRATIME
    | libc::MS_RELATIME
    | libc::MS_STRICTATIME
    | libc::MS_NOSYMFOLLOW;

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> Options {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k", "rprivate"]);
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
    }

    #[test]
    fn later_options_win() {
        let o = p(&["ro", "rw"]);
        assert_eq!(o.flags & libc::MS_RDONLY, 0);
        assert_ne!(o.cleared & libc::MS_RDONLY, 0);
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.flags, libc::MS_BIND | libc::MS_REC);
        assert_eq!(
            o.attr.set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.attr.clr, MOUNT_ATTR__ATIME);
    }

    #[test]
    fn idmap_and_ridmap() {
        let o = p(&["bind", "idmap"]);
        assert!(o.idmap && !o.idmap_recursive && o.data.is_empty());
        let o = p(&["rbind", "ridmap"]);
        assert!(o.idmap && o.idmap_recursive && o.data.is_empty());
    }
}

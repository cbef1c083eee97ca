//! Namespaces: which to create, which to join, and in what order.
//!
//! The kernel imposes the shape of the start-up sequence:
//! * namespaces created by `clone` are owned by the caller's user namespace,
//!   so when a user namespace is *joined* by path, the other new namespaces
//!   must be `unshare`d after `setns(user)` instead of passed to `clone`;
//! * `setns`/`unshare` of a pid or time namespace only affect *children*, so
//!   joining a pid namespace, creating one after joining a user namespace, or
//!   any time namespace needs a second clone (the "intermediate" step);
//! * a new cgroup namespace takes the caller's cgroup as its root, so it is
//!   unshared only after the parent has moved the child into its cgroup;
//! * `/proc/PID/timens_offsets` can be written only before any process has
//!   entered the time namespace, which is why it is unshared, written, and
//!   then entered by the second clone.
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::sys::{self, SysResult};

/// A namespace to join by path.
#[derive(Debug, Clone)]
pub struct Join {
    /// The namespace type.
    pub typ: LinuxNamespaceType,
    /// Its CLONE_NEW* constant, as `setns` wants it.
    pub nstype: libc::c_int,
    /// The path to open, e.g. `/proc/1234/ns/net`.
    pub path: PathBuf,
}

/// The validated namespace configuration of a container.
#[derive(Debug, Clone, Default)]
pub struct NamespacePlan {
    /// CLONE_NEW* flags for the first `clone`.
    pub clone_flags: libc::c_int,
    /// Namespaces to join, user first and mount last.
    pub joins: Vec<Join>,
    /// New namespaces unshared right after the joins (when a user namespace is joined).
    pub unshare_after_join: libc::c_int,
    /// New namespaces unshared once the child sits in its cgroup (cgroup namespace).
    pub unshare_late: libc::c_int,
    /// Whether a second clone is needed, and its CLONE_NEW* flags.
    pub intermediate: Option<libc::c_int>,
    /// A new time namespace is created (offsets are written before it is entered).
    pub new_time: bool,
    /// `/proc/self/timens_offsets` content.
    pub time_offsets: Vec<u8>,
    /// A new user namespace is created; the parent writes these maps.
    pub id_maps: Option<IdMaps>,
    /// Every namespace type the container has (new or joined).
    pub types: HashSet<NsType>,
    /// For `exec` into a container without a mount namespace of its own:
    /// its init's root (`/proc/PID/root`), entered with chroot, since
    /// there is no mount namespace whose root would be the container's.
    pub chroot: Option<std::ffi::CString>,
}

/// Hashable mirror of [`LinuxNamespaceType`].
pub type NsType = u32;

/// The contents of `uid_map` and `gid_map`, as the parent writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMaps {
    /// `uid_map` lines.
    pub uid_map: String,
    /// `gid_map` lines.
    pub gid_map: String,
}

fn flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// The name of a namespace type under `/proc/PID/ns/`.
fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Order in which joined namespaces are entered: user first (it grants the
/// capabilities for the others), mount last (it changes the root).
fn join_rank(t: LinuxNamespaceType) -> u8 {
    match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 9,
        _ => 5,
    }
}

impl NamespacePlan {
    /// Whether the container has a namespace of type `t` (new or joined).
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.types.contains(&(flag(t) as u32))
    }

    /// Whether the container gets a new namespace of type `t` of its own
    /// (runc's "private": listed, and without a path to join).
    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.has(t) && !self.joins.iter().any(|j| j.typ == t)
    }

    /// Validates `linux.namespaces`, the id mappings and the time offsets.
    pub fn from_spec(spec: &Spec) -> Result<NamespacePlan> {
        let mut plan = NamespacePlan::default();
        let linux = match spec.linux() {
            Some(l) => l,
            None => return Ok(plan),
        };
        let mut new = 0;
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            let field = || format!("linux.namespaces[{i}]");
            let f = flag(ns.typ());
            if !plan.types.insert(f as u32) {
                return Err(Error::config(
                    field(),
                    format!("duplicate namespace type {}", ns.typ()),
                ));
            }
            match ns.path() {
                Some(p) if !p.is_absolute() => {
                    return Err(Error::config(
                        format!("{}.path", field()),
                        "must be an absolute path",
                    ))
                }
                Some(p) => plan.joins.push(Join {
                    typ: ns.typ(),
                    nstype: f,
                    path: p.clone(),
                }),
                None => new |= f,
            }
        }
        plan.joins.sort_by_key(|j| join_rank(j.typ));

        let user_joined = plan.joins.iter().any(|j| j.typ == LinuxNamespaceType::User);
        let pid_joined = plan.joins.iter().any(|j| j.typ == LinuxNamespaceType::Pid);
        let time = plan.has(LinuxNamespaceType::Time);
        plan.new_time = new & libc::CLONE_NEWTIME != 0;
        plan.unshare_late = new & libc::CLONE_NEWCGROUP;
        let early = new & !(libc::CLONE_NEWCGROUP | libc::CLONE_NEWTIME);
        if user_joined {
            plan.unshare_after_join = early & !libc::CLONE_NEWPID;
        } else {
            plan.clone_flags = early;
        }
        // The pid namespace moves to the second clone whenever there is one.
        if time || pid_joined || (user_joined && early & libc::CLONE_NEWPID != 0) {
            let second = early & libc::CLONE_NEWPID;
            plan.clone_flags &= !libc::CLONE_NEWPID;
            plan.intermediate = Some(second);
        }

        let uid = linux.uid_mappings().as_deref().unwrap_or_default();
        let gid = linux.gid_mappings().as_deref().unwrap_or_default();
        if new & libc::CLONE_NEWUSER != 0 {
            if uid.is_empty() || gid.is_empty() {
                return Err(Error::config(
                    "linux.uidMappings",
                    "a new user namespace needs both uidMappings and gidMappings",
                ));
            }
            plan.id_maps = Some(IdMaps {
                uid_map: id_map_text("linux.uidMappings", uid)?,
                gid_map: id_map_text("linux.gidMappings", gid)?,
            });
        } else if !uid.is_empty() || !gid.is_empty() {
            return Err(Error::config(
                "linux.uidMappings",
                "id mappings need a new user namespace in linux.namespaces",
            ));
        }

        if let Some(offsets) = linux.time_offsets() {
            if !plan.new_time {
                return Err(Error::config(
                    "linux.timeOffsets",
                    "time offsets need a new time namespace in linux.namespaces",
                ));
            }
            let mut keys: Vec<_> = offsets.keys().collect();
            keys.sort();
            for k in keys {
                if k != "monotonic" && k != "boottime" {
                    return Err(Error::config(
                        format!("linux.timeOffsets.{k}"),
                        "only monotonic and boottime clocks can be offset",
                    ));
                }
                let o = &offsets[k];
                let line = format!("{k} {} {}\n", o.secs().unwrap_or(0), o.nanosecs().unwrap_or(0));
                plan.time_offsets.extend_from_slice(line.as_bytes());
            }
        }
        Ok(plan)
    }

    /// The plan of a process joining every namespace of a running container
    /// (`exec`) whose init is `pid`: each type the container has is joined
    /// through `/proc/PID/ns/*`, user first and mount last, and a second
    /// clone puts the process into the pid and time namespaces, which
    /// `setns` only applies to children. Nothing is created.
    pub fn joining(&self, pid: i32) -> NamespacePlan {
        use LinuxNamespaceType::*;
        let mut joins: Vec<Join> = [User, Pid, Network, Ipc, Uts, Cgroup, Time, Mount]
            .into_iter()
            .filter(|&t| self.has(t))
            .map(|t| Join {
                typ: t,
                nstype: flag(t),
                path: PathBuf::from(format!("/proc/{pid}/ns/{}", proc_name(t))),
            })
            .collect();
        joins.sort_by_key(|j| join_rank(j.typ));
        let chroot = (!self.has(Mount))
            .then(|| std::ffi::CString::new(format!("/proc/{pid}/root")).expect("no NUL in a number"));
        NamespacePlan {
            joins,
            intermediate: Some(0),
            types: self.types.clone(),
            chroot,
            ..NamespacePlan::default()
        }
    }

    /// Opens every namespace to join, in join order. Done in the parent, before clone.
    pub fn open_joins(&self) -> Result<Vec<OwnedFd>> {
        self.joins
            .iter()
            .map(|j| {
                std::fs::File::open(&j.path)
                    .map(OwnedFd::from)
                    .map_err(|e| Error::io("opening namespace", &j.path, e))
            })
            .collect()
    }
}

fn id_map_text(field: &str, maps: &[LinuxIdMapping]) -> Result<String> {
    let mut text = String::new();
    for (i, m) in maps.iter().enumerate() {
        let end_c = m.container_id() as u64 + m.size() as u64;
        let end_h = m.host_id() as u64 + m.size() as u64;
        if m.size() == 0 || end_c > u32::MAX as u64 + 1 || end_h > u32::MAX as u64 + 1 {
            return Err(Error::config(
                format!("{field}[{i}]"),
                "size is zero or the range overflows 32 bits",
            ));
        }
        text.push_str(&format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()));
    }
    if maps.len() > 340 {
        return Err(Error::config(field, "the kernel accepts at most 340 ranges"));
    }
    Ok(text)
}

/// Validates the id maps of an id-mapped mount (`mounts[i].uidMappings` and
/// `gidMappings`, named by `field` = `mounts[i]`) and returns their text.
/// Both are required and non-empty, every range fits in 32 bits, and no two
/// ranges overlap on either side (the kernel would refuse the map, but only
/// once the container is half made).
pub fn mount_id_maps(
    field: &str,
    uid: Option<&[LinuxIdMapping]>,
    gid: Option<&[LinuxIdMapping]>,
) -> Result<IdMaps> {
    let (uf, gf) = (format!("{field}.uidMappings"), format!("{field}.gidMappings"));
    let check = |f: &str, maps: Option<&[LinuxIdMapping]>, other: &str| -> Result<String> {
        let maps = maps.ok_or_else(|| {
            Error::config(
                f,
                format!("is missing: an id-mapped mount needs both uidMappings and gidMappings (only {other} is set)"),
            )
        })?;
        if maps.is_empty() {
            return Err(Error::config(
                f,
                "is empty: an id-mapped mount needs at least one range",
            ));
        }
        let text = id_map_text(f, maps)?;
        let range = |a: u32, m: &LinuxIdMapping| (a as u64, a as u64 + m.size() as u64);
        for (i, a) in maps.iter().enumerate() {
            for b in &maps[..i] {
                let overlap = |(s1, e1): (u64, u64), (s2, e2): (u64, u64)| s1 < e2 && s2 < e1;
                if overlap(range(a.container_id(), a), range(b.container_id(), b))
                    || overlap(range(a.host_id(), a), range(b.host_id(), b))
                {
                    return Err(Error::config(format!("{f}[{i}]"), "overlaps an earlier range"));
                }
            }
        }
        Ok(text)
    };
    Ok(IdMaps {
        uid_map: check(&uf, uid, "gidMappings")?,
        gid_map: check(&gf, gid, "uidMappings")?,
    })
}

/// A user namespace whose id maps are `maps`, for `MOUNT_ATTR_IDMAP`. Runs
/// in the parent: a helper is cloned into a new user namespace
/// ([`sys::clone_parked`]: it only sleeps), its `uid_map` and `gid_map` are written, its
/// `/proc/PID/ns/user` is opened, and it is killed and reaped. The
/// namespace lives on as long as the descriptor.
pub fn userns_with_maps(maps: &IdMaps) -> Result<OwnedFd> {
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::waitpid;
    use nix::unistd::Pid;

    let pid = sys::clone_parked(libc::CLONE_NEWUSER as libc::c_ulong).map_err(|e| Error::Sys {
        call: "clone(CLONE_NEWUSER) of the id-mapping helper".into(),
        errno: e,
    })?;
    let opened = write_id_maps(pid, maps).and_then(|()| {
        let path = format!("/proc/{pid}/ns/user");
        std::fs::File::open(&path)
            .map(OwnedFd::from)
            .map_err(|e| Error::io("opening", &path, e))
    });
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = waitpid(Pid::from_raw(pid), None);
    opened
}

/// Writes the user namespace id maps of `pid`. Runs in the parent.
///
/// With CAP_SETUID/CAP_SETGID over the parent namespace (root) the maps are
/// written directly. An unprivileged caller may only map its own euid and,
/// once `/proc/PID/setgroups` says "deny", its own egid, one line each; any
/// other map gets EPERM and is handed to the setuid helpers `newuidmap` /
/// `newgidmap` (shadow's `uidmap` package, which check /etc/subuid and
/// /etc/subgid), as runc's nsexec does. Without them the error says so.
pub fn write_id_maps(pid: i32, maps: &IdMaps) -> Result<()> {
    write_map(pid, "uid_map", &maps.uid_map, "newuidmap")?;
    let own_gid_only = maps.gid_map.split_whitespace().collect::<Vec<_>>()
        == ["0", &nix::unistd::getegid().to_string(), "1"];
    if own_gid_only && !nix::unistd::geteuid().is_root() {
        // The kernel refuses an unprivileged gid_map until setgroups is
        // denied, so the user cannot drop groups to escape a negative ACL.
        let path = format!("/proc/{pid}/setgroups");
        std::fs::write(&path, "deny").map_err(|e| Error::io("writing", &path, e))?;
    }
    write_map(pid, "gid_map", &maps.gid_map, "newgidmap")
}

fn write_map(pid: i32, file: &str, text: &str, helper: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    let err = match std::fs::write(&path, text) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => e,
        Err(e) => return Err(Error::io("writing", &path, e)),
    };
    // newuidmap PID ID HOSTID SIZE [ID HOSTID SIZE]...
    let mut cmd = std::process::Command::new(helper);
    cmd.arg(pid.to_string()).args(text.split_whitespace());
    let output = match cmd.stdin(std::process::Stdio::null()).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Config {
                field: format!("linux.{}Mappings", &file[..3]),
                reason: format!(
                    "writing {path}: {err}: only the caller's own id can be mapped without \
                     {helper} (package uidmap), which is not installed"
                ),
            })
        }
        Err(e) => return Err(Error::io("running", helper, e)),
    };
    if !output.status.success() {
        return Err(Error::Config {
            field: format!("linux.{}Mappings", &file[..3]),
            reason: format!(
                "{helper} {pid} {} failed ({}): {}",
                text.split_whitespace().collect::<Vec<_>>().join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// Child: enters the joined namespaces (fds from [`NamespacePlan::open_joins`]),
/// then unshares the namespaces that must follow a joined user namespace.
/// Returns the index of the failing join on error.
pub fn enter(plan: &NamespacePlan, fds: &[OwnedFd]) -> Result<(), (usize, sys::Errno)> {
    // The init's root is reached through the host's /proc while we are
    // still the runtime (a created init is not dumpable: only host
    // privileges may follow its root link); an unprivileged runtime may
    // only chroot once it is root in the container's user namespace.
    let chroot = |root: &std::ffi::CStr| sys::chroot(root).and_then(|()| sys::chdir(c"/"));
    let chrooted = plan.chroot.as_deref().map(|root| chroot(root).is_ok());
    for (i, (j, fd)) in plan.joins.iter().zip(fds).enumerate() {
        sys::setns(fd.as_fd(), j.nstype).map_err(|e| (i, e))?;
    }
    if plan.has(LinuxNamespaceType::User) {
        // Until now our ids are the host's, unmapped in the new namespace
        // (files we create would fail with EOVERFLOW): become its root.
        let err = |e| (plan.joins.len(), e);
        // EPERM: a rootless container's namespace denies setgroups.
        match sys::setgroups(&[]) {
            Ok(()) | Err(libc::EPERM) => {}
            Err(e) => return Err(err(e)),
        }
        sys::setresgid(0).map_err(err)?;
        sys::setresuid(0).map_err(err)?;
    }
    if let (Some(root), Some(false)) = (&plan.chroot, chrooted) {
        chroot(root).map_err(|e| (plan.joins.len(), e))?;
    }
    if plan.unshare_after_join != 0 {
        sys::unshare(plan.unshare_after_join).map_err(|e| (plan.joins.len(), e))?;
    }
    Ok(())
}

/// Child: creates the time namespace (entered by the next clone) and writes its offsets.
pub fn prepare_time(plan: &NamespacePlan) -> SysResult<()> {
    if !plan.new_time {
        return Ok(());
    }
    sys::unshare(libc::CLONE_NEWTIME)?;
    if !plan.time_offsets.is_empty() {
        let f = sys::openat(None, c"/proc/self/timens_offsets", libc::O_WRONLY, 0)?;
        sys::write_all(f.as_fd(), &plan.time_offsets)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::parse_spec;

    fn plan(linux: &str) -> Result<NamespacePlan> {
        let spec = parse_spec(format!(r#"{{"ociVersion":"1.2.0","linux":{linux}}}"#).as_bytes()).unwrap();
        NamespacePlan::from_spec(&spec)
    }

    #[test]
    fn plain_namespaces_go_to_clone_except_cgroup() {
        let p = plan(r#"{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"cgroup"}]}"#).unwrap();
        assert_eq!(p.clone_flags, libc::CLONE_NEWPID | libc::CLONE_NEWNS);
        assert_eq!(p.unshare_late, libc::CLONE_NEWCGROUP);
        assert!(p.intermediate.is_none());
    }

    #[test]
    fn joined_pid_needs_second_clone() {
        let p = plan(r#"{"namespaces":[{"type":"pid","path":"/proc/1/ns/pid"},{"type":"mount"}]}"#).unwrap();
        assert_eq!(p.intermediate, Some(0));
        assert_eq!(p.clone_flags, libc::CLONE_NEWNS);
    }

    #[test]
    fn exec_joins_every_namespace_user_first_mount_last() {
        let p = plan(
            r#"{"namespaces":[{"type":"mount"},{"type":"pid"},{"type":"user"},{"type":"network","path":"/x"}],
            "uidMappings":[{"containerID":0,"hostID":1000,"size":1}],
            "gidMappings":[{"containerID":0,"hostID":1000,"size":1}]}"#,
        )
        .unwrap()
        .joining(42);
        let paths: Vec<_> = p.joins.iter().map(|j| j.path.to_str().unwrap()).collect();
        assert_eq!(paths[0], "/proc/42/ns/user");
        assert_eq!(paths[3], "/proc/42/ns/mnt");
        assert_eq!(paths.len(), 4);
        assert_eq!(p.intermediate, Some(0));
        assert_eq!((p.clone_flags, p.unshare_after_join, p.unshare_late), (0, 0, 0));
        assert!(p.id_maps.is_none() && !p.new_time);
    }

    #[test]
    fn time_namespace_moves_pid_to_second_clone() {
        let p = plan(
            r#"{"namespaces":[{"type":"pid"},{"type":"time"}],"timeOffsets":{"monotonic":{"secs":10}}}"#,
        )
        .unwrap();
        assert_eq!(p.intermediate, Some(libc::CLONE_NEWPID));
        assert_eq!(p.clone_flags, 0);
        assert_eq!(p.time_offsets, b"monotonic 10 0\n");
    }

    #[test]
    fn bad_namespaces_are_rejected_with_the_field() {
        let e = plan(r#"{"namespaces":[{"type":"pid"},{"type":"pid"}]}"#).unwrap_err();
        assert!(e.to_string().contains("linux.namespaces[1]"), "{e}");
        let e = plan(r#"{"namespaces":[{"type":"network","path":"proc/1/ns/net"}]}"#).unwrap_err();
        assert!(e.to_string().contains("linux.namespaces[0].path"), "{e}");
        let e = plan(r#"{"namespaces":[{"type":"user"}]}"#).unwrap_err();
        assert!(e.to_string().contains("uidMappings"), "{e}");
        let e = plan(
            r#"{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1000,"size":0}],
            "gidMappings":[{"containerID":0,"hostID":1000,"size":1}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("linux.uidMappings[0]"), "{e}");
    }

    fn maps(json: &str) -> Vec<LinuxIdMapping> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn mount_id_maps_are_written_like_linux_id_maps() {
        let uid = maps(
            r#"[{"containerID":1000,"hostID":0,"size":1},{"containerID":0,"hostID":100000,"size":1000}]"#,
        );
        let gid = maps(r#"[{"containerID":2000,"hostID":5,"size":1}]"#);
        let m = mount_id_maps("mounts[2]", Some(&uid), Some(&gid)).unwrap();
        assert_eq!(m.uid_map, "1000 0 1\n0 100000 1000\n");
        assert_eq!(m.gid_map, "2000 5 1\n");
    }

    #[test]
    fn bad_mount_id_maps_name_the_field() {
        let one = maps(r#"[{"containerID":0,"hostID":1000,"size":1}]"#);
        let err = |u: Option<&[LinuxIdMapping]>, g: Option<&[LinuxIdMapping]>| {
            mount_id_maps("mounts[3]", u, g).unwrap_err().to_string()
        };
        assert!(err(Some(&one), None).contains("mounts[3].gidMappings: is missing"));
        assert!(err(None, Some(&one)).contains("mounts[3].uidMappings: is missing"));
        assert!(err(Some(&[]), Some(&one)).contains("mounts[3].uidMappings: is empty"));
        let host_overlap =
            maps(r#"[{"containerID":0,"hostID":10,"size":5},{"containerID":100,"hostID":14,"size":1}]"#);
        assert!(err(Some(&one), Some(&host_overlap)).contains("mounts[3].gidMappings[1]: overlaps"));
        let adjacent =
            maps(r#"[{"containerID":0,"hostID":10,"size":5},{"containerID":5,"hostID":15,"size":1}]"#);
        mount_id_maps("mounts[3]", Some(&adjacent), Some(&one)).unwrap();
        let overflow = maps(r#"[{"containerID":0,"hostID":4294967295,"size":2}]"#);
        assert!(err(Some(&overflow), Some(&one)).contains("mounts[3].uidMappings[0]"));
    }
}

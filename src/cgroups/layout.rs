//! Which cgroup hierarchies the host has mounted, and where the caller sits in them.
//!
//! Three layouts exist in the wild: cgroup v1 (one mount per controller
//! group), pure v2 (one cgroup2 mount) and hybrid (v1 controllers plus a
//! cgroup2 mount, usually at `/sys/fs/cgroup/unified`, which holds whatever
//! controllers v1 did not claim). Everything is read from mountinfo and the
//! caller's `/proc/<pid>/cgroup`, both passed in as text so detection can be
//! unit-tested on fake trees (Firecracker's jailer does the same with
//! `MockCgroupFs`).
#![forbid(unsafe_code)]

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::procfile::MountLine;

/// The cgroup filesystem version of one hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// A `cgroup` (v1) mount.
    V1,
    /// A `cgroup2` mount.
    V2,
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point (mountinfo field 4): `/` on the
    /// host, a sub-cgroup inside a container that bind-mounted its own.
    pub root: PathBuf,
    /// v1: the controllers of the mount (`memory`, `cpu`...; named
    /// hierarchies such as `name=systemd` are kept out). v2: the content of
    /// the mount point's `cgroup.controllers`.
    pub controllers: Vec<String>,
    /// The caller's own cgroup in this hierarchy, as `/proc/self/cgroup` shows it.
    pub own: PathBuf,
}

/// The host's cgroup mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// v1 hierarchies with at least one controller, then the cgroup2 mount if any.
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Reads the layout of the calling process from `/proc/self`.
    pub fn detect() -> Result<Layout> {
        let read = |p: &str| crate::procfile::read_to_string(p).map_err(|e| Error::io("reading", p, e));
        Layout::parse(&read("/proc/self/mountinfo")?, &read("/proc/self/cgroup")?)
    }

    /// Builds the layout from a mountinfo text and a `/proc/<pid>/cgroup`
    /// text. v2 controllers are read from `<mount point>/cgroup.controllers`,
    /// so a test can point the mount points at a temporary directory.
    pub fn parse(mountinfo: &str, proc_cgroup: &str) -> Result<Layout> {
        let mut hierarchies = Vec::new();
        let mut v2 = None;
        for line in mountinfo.lines() {
            let Some(m) = MountLine::parse(line) else { continue };
            match m.fstype {
                "cgroup" => {
                    let controllers: Vec<String> = m
                        .super_opts
                        .split(',')
                        .filter(|o| is_v1_controller(o))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    let own = own_cgroup(proc_cgroup, Some(&controllers)).unwrap_or_else(|| "/".into());
                    hierarchies.push(Hierarchy {
                        version: Version::V1,
                        mount_point: m.mount_point,
                        root: m.root,
                        controllers,
                        own,
                    });
                }
                // The first cgroup2 mount wins: later ones are bind mounts of it.
                "cgroup2" if v2.is_none() => {
                    let file = m.mount_point.join("cgroup.controllers");
                    let text = fs::read_to_string(&file).map_err(|e| Error::io("reading", &file, e))?;
                    let own = own_cgroup(proc_cgroup, None).unwrap_or_else(|| "/".into());
                    v2 = Some(Hierarchy {
                        version: Version::V2,
                        mount_point: m.mount_point,
                        root: m.root,
                        controllers: text.split_whitespace().map(str::to_string).collect(),
                        own,
                    });
                }
                _ => {}
            }
        }
        // A controller mounted twice (bind mounts) only counts once.
        let mut seen: Vec<String> = Vec::new();
        hierarchies.retain(|h| {
            let fresh = h.controllers.iter().all(|c| !seen.contains(c));
            seen.extend(h.controllers.iter().cloned());
            fresh
        });
        hierarchies.extend(v2);
        if hierarchies.is_empty() {
            return Err(Error::Unsupported {
                what: "running without any mounted cgroup hierarchy".into(),
            });
        }
        Ok(Layout { hierarchies })
    }
}

impl Hierarchy {
    /// The host directory of cgroup `path` (absolute within this hierarchy).
    ///
    /// Fails when the path lies outside what this mount shows (a container
    /// that only sees its own sub-tree cannot place a cgroup above it).
    pub fn dir_of(&self, path: &Path) -> Result<PathBuf> {
        let rel = path.strip_prefix(&self.root).map_err(|_| Error::Unsupported {
            what: format!(
                "cgroup {} outside the part {} of the hierarchy mounted at {}",
                path.display(),
                self.root.display(),
                self.mount_point.display()
            ),
        })?;
        Ok(self.mount_point.join(rel))
    }
}

/// The controllers the kernel can attach to a v1 hierarchy; options such as
/// `rw`, `nsdelegate`, `name=systemd` or `clone_children` are not.
fn is_v1_controller(opt: &str) -> bool {
    matches!(
        opt,
        "cpu"
            | "cpuacct"
            | "cpuset"
            | "memory"
            | "devices"
            | "freezer"
            | "net_cls"
            | "net_prio"
            | "blkio"
            | "perf_event"
            | "hugetlb"
            | "pids"
            | "rdma"
            | "misc"
    )
}

/// The caller's cgroup: for v1 the line whose controller list equals
/// `controllers`, for v2 the `0::` line.
fn own_cgroup(proc_cgroup: &str, controllers: Option<&[String]>) -> Option<PathBuf> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = match controllers {
            None => id == "0" && ctrls.is_empty(),
            Some(want) => {
                let mut have: Vec<&str> = ctrls.split(',').collect();
                let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
                have.sort_unstable();
                want.sort_unstable();
                have == want
            }
        };
        matches.then(|| PathBuf::from(path))
    })
}

/// The mount points of every cgroup and cgroup2 filesystem in `mountinfo`.
pub(crate) fn cgroup_mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(MountLine::parse)
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| m.mount_point)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fake cgroup mount tree in a temporary directory, and the mountinfo
    /// and /proc/self/cgroup texts that describe it.
    pub(crate) struct FakeHost {
        pub dir: tempfile::TempDir,
        pub mountinfo: String,
        pub proc_cgroup: String,
    }

    impl FakeHost {
        /// `v1`: controller groups mounted as v1; `v2`: the controllers of a
        /// cgroup2 mount at `unified` (hybrid) or at the root (pure v2).
        pub fn new(v1: &[&str], v2: Option<&str>) -> FakeHost {
            let dir = tempfile::tempdir().unwrap();
            let base = dir.path().to_path_buf();
            let mut mountinfo = format!("31 23 0:28 / {} rw - tmpfs tmpfs rw\n", base.display());
            let mut proc_cgroup = String::new();
            for (i, ctrls) in v1.iter().enumerate() {
                let mp = base.join(ctrls);
                fs::create_dir_all(&mp).unwrap();
                mountinfo += &format!(
                    "{} 31 0:{} / {} rw,relatime - cgroup cgroup rw,{}\n",
                    40 + i,
                    40 + i,
                    mp.display(),
                    ctrls
                );
                proc_cgroup += &format!("{}:{}:/user.slice\n", i + 1, ctrls);
            }
            if let Some(ctrls) = v2 {
                let mp = if v1.is_empty() {
                    base.clone()
                } else {
                    base.join("unified")
                };
                fs::create_dir_all(&mp).unwrap();
                fs::write(mp.join("cgroup.controllers"), format!("{ctrls}\n")).unwrap();
                mountinfo += &format!(
                    "60 31 0:60 / {} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
                    mp.display()
                );
                proc_cgroup += "0::/user.slice\n";
            }
            FakeHost {
                dir,
                mountinfo,
                proc_cgroup,
            }
        }

        pub fn layout(&self) -> Layout {
            Layout::parse(&self.mountinfo, &self.proc_cgroup).unwrap()
        }
    }

    fn hosting<'a>(l: &'a Layout, controller: &str) -> Option<&'a Hierarchy> {
        l.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
    }

    #[test]
    fn parses_hybrid_host() {
        let host = FakeHost::new(&["cpu,cpuacct", "memory", "name=systemd"], Some("hugetlb"));
        let l = host.layout();
        // name=systemd is not a controller hierarchy.
        assert_eq!(l.hierarchies.len(), 3);
        assert_eq!(
            hosting(&l, "cpuacct").unwrap().mount_point,
            host.dir.path().join("cpu,cpuacct")
        );
        let v2 = hosting(&l, "hugetlb").unwrap();
        assert_eq!(v2.version, Version::V2);
        assert_eq!(v2.mount_point, host.dir.path().join("unified"));
        assert_eq!(v2.own, Path::new("/user.slice"));
        assert!(hosting(&l, "pids").is_none());
    }

    #[test]
    fn parses_pure_v2_host() {
        let host = FakeHost::new(&[], Some("cpuset cpu io memory pids"));
        let l = host.layout();
        assert_eq!(l.hierarchies.len(), 1);
        assert_eq!(hosting(&l, "memory"), l.hierarchies.last());
        assert_eq!(l.hierarchies[0].mount_point, host.dir.path());
    }

    #[test]
    fn v1_own_cgroup_matches_controller_set() {
        let cg = "4:memory:/a/b\n3:cpuacct,cpu:/c\n0::/\n";
        assert_eq!(
            own_cgroup(cg, Some(&["cpu".into(), "cpuacct".into()])),
            Some("/c".into())
        );
        assert_eq!(own_cgroup(cg, Some(&["memory".into()])), Some("/a/b".into()));
        assert_eq!(own_cgroup(cg, None), Some("/".into()));
    }

    #[test]
    fn no_cgroup_mount_is_an_error() {
        let err = Layout::parse("31 23 0:28 / /sys rw - sysfs sysfs rw\n", "").unwrap_err();
        assert!(err.to_string().contains("cgroup"), "{err}");
    }

    #[test]
    fn mount_root_is_stripped_and_escapes_decoded() {
        let h = Hierarchy {
            version: Version::V1,
            mount_point: "/sys/fs/cgroup/memory".into(),
            root: "/docker/abc".into(),
            controllers: vec!["memory".into()],
            own: "/docker/abc".into(),
        };
        assert_eq!(
            h.dir_of(Path::new("/docker/abc/x")).unwrap(),
            Path::new("/sys/fs/cgroup/memory/x")
        );
        assert!(h.dir_of(Path::new("/other")).is_err());
    }
}

//! Creating cgroup directories and writing the compiled settings into them.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::devices::{self, DeviceRule};
use super::layout::{Hierarchy, Version};
use super::resources::Settings;
use super::{read, write, write_error, Dir};
use crate::error::{Error, Result};
use crate::sys;

/// The nearest existing ancestor of `path` (a mount point always exists).
pub(crate) fn existing_ancestor(path: &Path) -> &Path {
    let mut p = path;
    while !p.exists() {
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    p
}

/// On cgroup2 a controller only reaches a new child when its parent lists
/// it in `cgroup.subtree_control`. nook enables controllers only in
/// directories it created, so every controller the settings need must
/// already be enabled in the nearest existing ancestor, or, for an existing
/// cgroup nook adopts, be among its `cgroup.controllers`.
pub(crate) fn check_delegation(path: &Path, settings: &Settings, on_v1: &[&str]) -> Result<()> {
    let anc = existing_ancestor(path);
    let (anc, file) = if anc == path {
        (path, "cgroup.controllers")
    } else {
        (anc, "cgroup.subtree_control")
    };
    let enabled = read(&anc.join(file))?;
    let enabled: BTreeSet<&str> = enabled.split_whitespace().collect();
    for w in &settings.writes {
        let c = w.controller;
        if c != "cgroup" && !on_v1.contains(&c) && !enabled.contains(c) {
            return Err(Error::Unsupported {
                what: format!(
                    "limiting {c}: the {c} controller is not enabled in {}/{file}, \
                     and nook does not write to cgroups it did not create",
                    anc.display()
                ),
            });
        }
    }
    Ok(())
}

/// Creates `path` and its missing parents inside hierarchy `h`, recording
/// each directory made in `created` (parents first) as soon as it exists,
/// so a failure half-way can still be cleaned up.
pub(crate) fn make_dirs(h: &Hierarchy, path: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    // Most cgroups are one directory below one that exists (`/<id>` at a
    // mount point): the leaf first, then the walk up only when its parent
    // is missing. A parent that exists lies inside the hierarchy when
    // `path` does.
    let made = created.len();
    let inside = path.parent().is_some_and(|p| p.starts_with(&h.mount_point));
    match inside.then(|| fs::create_dir(path)) {
        Some(Ok(())) => {
            created.push(path.to_path_buf());
            return fill_made_cpusets(h, path, &created[made..]);
        }
        // Missing parents: the walk below. Existing: adopted, as below.
        Some(Err(e))
            if !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::AlreadyExists
            ) =>
        {
            return Err(Error::io("creating cgroup", path, e));
        }
        _ => {}
    }
    let anc = existing_ancestor(path).to_path_buf();
    if !anc.starts_with(&h.mount_point) {
        return Err(Error::Unsupported {
            what: format!(
                "creating cgroup {} outside {}",
                path.display(),
                h.mount_point.display()
            ),
        });
    }
    let mut todo: Vec<PathBuf> = path
        .ancestors()
        .take_while(|p| *p != anc)
        .map(Path::to_path_buf)
        .collect();
    todo.reverse();
    // Controllers the ancestor hands down; intermediate directories we make
    // pass them on, the leaf keeps its subtree_control empty because it
    // will hold processes (cgroup2's "no internal processes" rule).
    let delegate = match h.version {
        Version::V2 if todo.len() > 1 => read(&anc.join("cgroup.subtree_control"))?,
        _ => String::new(),
    };
    for (i, dir) in todo.iter().enumerate() {
        let is_leaf = i + 1 == todo.len();
        match fs::create_dir(dir) {
            Ok(()) => created.push(dir.clone()),
            // Made meanwhile by someone else (nook itself holds the
            // hierarchy lock, see lock.rs): theirs to configure and remove.
            Err(e) if !is_leaf && e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("creating cgroup", dir, e)),
        }
        if !is_leaf && !delegate.trim().is_empty() {
            let plus: Vec<String> = delegate.split_whitespace().map(|c| format!("+{c}")).collect();
            write(&dir.join("cgroup.subtree_control"), &plus.join(" "))?;
        }
    }
    fill_made_cpusets(h, path, &created[made..])
}

/// [`fill_cpusets`] on a v1 cpuset hierarchy, where `fresh` was just made.
fn fill_made_cpusets(h: &Hierarchy, path: &Path, fresh: &[PathBuf]) -> Result<()> {
    if h.version == Version::V1 && h.controllers.iter().any(|c| c == "cpuset") {
        fill_cpusets(&h.mount_point, path, fresh)?;
    }
    Ok(())
}

/// A v1 cpuset starts with no CPUs and no memory nodes and refuses tasks
/// (ENOSPC) until given some, and the kernel only lets a child have CPUs
/// its parent has. So every empty `cpuset.cpus`/`cpuset.mems` from the
/// mount point down to `path` is filled from its parent, i.e. from the
/// nearest ancestor that has them: the directories nook made, the cgroup it
/// adopts, and an empty parent an engine made (a pod cgroup), as runc does
/// (`cpusetEnsureParent`). Filling an empty cpuset changes nothing for
/// anyone: it cannot hold a task. A non-empty one is left as it is. The
/// directories nook has just made (`fresh`) are not read: they are empty,
/// or hold their parent's values already (`cgroup.clone_children`).
pub(crate) fn fill_cpusets(mount_point: &Path, path: &Path, fresh: &[PathBuf]) -> Result<()> {
    let Ok(rel) = path.strip_prefix(mount_point) else {
        return Ok(());
    };
    let mut dir = mount_point.to_path_buf();
    for c in rel.components() {
        let parent = dir.clone();
        dir.push(c);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if fresh.contains(&dir) || read(&dir.join(f))?.trim().is_empty() {
                write(&dir.join(f), read(&parent.join(f))?.trim())?;
            }
        }
    }
    Ok(())
}

/// The directory whose hierarchy holds `controller`; `cgroup` (core files
/// named in `unified`) means the cgroup2 directory.
fn dir_for<'a>(dirs: &'a [Dir], controller: &str) -> Result<&'a Dir> {
    let v1 = dirs
        .iter()
        .find(|d| d.version == Version::V1 && d.controllers.iter().any(|c| c == controller));
    let v2 = || {
        dirs.iter().find(|d| {
            d.version == Version::V2
                && (controller == "cgroup" || d.controllers.iter().any(|c| c == controller))
        })
    };
    v1.or_else(v2).ok_or_else(|| Error::Unsupported {
        what: format!("the {controller} controller in this container's cgroup"),
    })
}

/// The file of the last write, kept open for the next write to the same
/// file: a container's device rules are a dozen writes to `devices.allow`
/// (the kernel takes each write as one rule, and ignores the offset).
#[derive(Default)]
struct LastFile(Option<(PathBuf, fs::File)>);

impl LastFile {
    /// [`write`] through the kept file when it is `path`'s.
    fn write(&mut self, path: PathBuf, value: &str) -> Result<()> {
        use std::io::Write as _;
        let (path, mut file) = match self.0.take() {
            Some((p, f)) if p == path => (p, f),
            _ => {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| write_error(&path, value, e))?;
                (path, f)
            }
        };
        let written = file
            .write_all(value.as_bytes())
            .map_err(|e| write_error(&path, value, e));
        self.0 = Some((path, file));
        written
    }
}

/// Writes `settings` into `dirs`, in order.
pub(crate) fn apply(dirs: &[Dir], settings: &Settings) -> Result<()> {
    let writes = &settings.writes;
    let mut last = LastFile::default();
    let mut i = 0;
    while i < writes.len() {
        let w = &writes[i];
        let dir = dir_for(dirs, w.controller)?;
        let missing = || {
            Error::io(
                "writing",
                dir.path.join(&w.candidates[0].0),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "this kernel has no such cgroup file",
                ),
            )
        };
        // One mandatory file (every device rule, most limits): its open says
        // whether it exists, no stat needed. Alternatives are probed in order.
        let only = w.candidates.len() == 1 && !w.optional;
        let found = if only {
            w.candidates.first()
        } else {
            w.candidates.iter().find(|(f, _)| dir.path.join(f).exists())
        };
        let Some((file, value)) = found else {
            if w.optional {
                i += 1;
                continue;
            }
            return Err(missing());
        };
        match last.write(dir.path.join(file), value) {
            Ok(()) => i += 1,
            Err(e) if only && e.errno() == libc::ENOENT => return Err(missing()),
            // v1 wants memory+swap >= memory at every moment: when raising
            // both, the memsw limit has to go first. Retry in that order.
            Err(e)
                if e.errno() == libc::EINVAL
                    && file == "memory.limit_in_bytes"
                    && writes
                        .get(i + 1)
                        .is_some_and(|n| n.candidates[0].0 == "memory.memsw.limit_in_bytes") =>
            {
                let next = &writes[i + 1].candidates[0];
                last.write(dir.path.join(&next.0), &next.1)?;
                last.write(dir.path.join(file), value)?;
                i += 2;
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(rules) = &settings.bpf_devices {
        let dir = dirs
            .iter()
            .find(|d| d.version == Version::V2)
            .ok_or_else(|| Error::Unsupported {
                what: "device rules without a devices controller or a cgroup2 directory".into(),
            })?;
        install_device_filter(&dir.path, rules)?;
    }
    Ok(())
}

/// Attaches a device program for `rules` to `dir`, then detaches the ones
/// attached before (an update), so there is no moment without a filter.
fn install_device_filter(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let cg = fs::File::open(dir).map_err(|e| Error::io("opening cgroup", dir, e))?;
    let call = |what: &str| format!("bpf({what}, {})", dir.display());
    let mut ids = [0u32; 64];
    let n = sys::bpf_query_device_progs(cg.as_fd(), &mut ids)
        .map_err(|e| Error::sys(call("BPF_PROG_QUERY"), nix::errno::Errno::from_raw(e)))?;
    let prog = devices::bpf_program(rules);
    let fd = sys::bpf_load_device_prog(&prog)
        .map_err(|e| Error::sys(call("BPF_PROG_LOAD"), nix::errno::Errno::from_raw(e)))?;
    sys::bpf_attach_device_prog(cg.as_fd(), fd.as_fd())
        .map_err(|e| Error::sys(call("BPF_PROG_ATTACH"), nix::errno::Errno::from_raw(e)))?;
    for id in &ids[..n.min(ids.len())] {
        let old = sys::bpf_prog_fd_by_id(*id).map_err(|e| {
            Error::sys(
                format!("bpf(BPF_PROG_GET_FD_BY_ID, {id})"),
                nix::errno::Errno::from_raw(e),
            )
        })?;
        sys::bpf_detach_device_prog(cg.as_fd(), old.as_fd())
            .map_err(|e| Error::sys(call("BPF_PROG_DETACH"), nix::errno::Errno::from_raw(e)))?;
    }
    Ok(())
}

/// `memory.checkBeforeUpdate`: refuse a new memory limit below what the
/// cgroup already uses, instead of letting the kernel reclaim or OOM-kill.
pub(crate) fn check_memory_usage(dirs: &[Dir], res: &LinuxResources) -> Result<()> {
    let Some(limit) = res.memory().as_ref().and_then(|m| m.limit()).filter(|l| *l > 0) else {
        return Ok(());
    };
    let dir = dir_for(dirs, "memory")?;
    let file = match dir.version {
        Version::V1 => "memory.usage_in_bytes",
        Version::V2 => "memory.current",
    };
    let usage: i64 = read(&dir.path.join(file))?.trim().parse().unwrap_or(0);
    if limit < usage {
        return Err(Error::config(
            "linux.resources.memory.limit",
            format!("{limit} is below the current usage {usage} (checkBeforeUpdate is set)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::resources::Write;
    use super::*;

    fn settings(controllers: &[&'static str]) -> Settings {
        Settings {
            writes: controllers
                .iter()
                .map(|c| Write {
                    controller: c,
                    candidates: vec![(format!("{c}.max"), "1".into())],
                    optional: false,
                })
                .collect(),
            ..Settings::default()
        }
    }

    #[test]
    fn delegation_is_checked_at_the_nearest_existing_ancestor() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("a")).unwrap();
        fs::write(root.path().join("a/cgroup.subtree_control"), "memory pids\n").unwrap();
        let leaf = root.path().join("a/b/c");
        check_delegation(&leaf, &settings(&["memory", "pids", "cgroup"]), &[]).unwrap();
        // hugetlb is handled by v1 here, so cgroup2 need not delegate it.
        check_delegation(&leaf, &settings(&["hugetlb"]), &["hugetlb"]).unwrap();
        let e = check_delegation(&leaf, &settings(&["memory", "hugetlb"]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hugetlb") && e.contains("a/cgroup.subtree_control"),
            "{e}"
        );
    }

    #[test]
    fn empty_cpusets_are_filled_from_the_nearest_ancestor_that_has_them() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let cpuset = |dir: &Path, cpus: &str| {
            fs::create_dir_all(dir).unwrap();
            fs::write(dir.join("cpuset.cpus"), cpus).unwrap();
            fs::write(dir.join("cpuset.mems"), if cpus.is_empty() { "" } else { "0\n" }).unwrap();
        };
        cpuset(r, "0-3\n");
        cpuset(&r.join("pod"), ""); // an engine's empty parent
        cpuset(&r.join("pod/ctr"), "");
        cpuset(&r.join("mine"), "1\n"); // set by its owner: kept
        cpuset(&r.join("mine/ctr"), "");
        fill_cpusets(r, &r.join("pod/ctr"), &[]).unwrap();
        fill_cpusets(r, &r.join("mine/ctr"), &[]).unwrap();
        let cpus = |d: &str| fs::read_to_string(r.join(d).join("cpuset.cpus")).unwrap();
        assert_eq!((cpus("pod"), cpus("pod/ctr")), ("0-3".into(), "0-3".into()));
        assert_eq!((cpus("mine"), cpus("mine/ctr")), ("1\n".into(), "1".into()));
        assert_eq!(fs::read_to_string(r.join("pod/ctr/cpuset.mems")).unwrap(), "0");
    }

    /// A v1 hierarchy of `controller` mounted at `mount_point` (a fake tree).
    fn v1_at(mount_point: &Path, controller: &str) -> Hierarchy {
        Hierarchy {
            version: Version::V1,
            mount_point: mount_point.to_path_buf(),
            root: "/".into(),
            controllers: vec![controller.into()],
            own: "/".into(),
        }
    }

    #[test]
    fn a_leaf_is_made_at_once_and_an_existing_one_adopted() {
        let root = tempfile::tempdir().unwrap();
        let h = v1_at(root.path(), "pids");
        let leaf = root.path().join("ctr");
        let mut created = Vec::new();
        make_dirs(&h, &leaf, &mut created).unwrap();
        assert!(leaf.is_dir());
        assert_eq!(created, vec![leaf.clone()]);
        // Made already (by someone else): adopted, not recorded as ours.
        let mut again = Vec::new();
        make_dirs(&h, &leaf, &mut again).unwrap();
        assert!(again.is_empty());
    }

    #[test]
    fn created_dirs_are_recorded_even_when_a_step_fails() {
        let root = tempfile::tempdir().unwrap();
        let h = v1_at(root.path(), "cpuset");
        // A fake tree has no cpuset.cpus to inherit: filling them fails
        // after both directories exist.
        let mut created = Vec::new();
        let leaf = root.path().join("x/y");
        assert!(make_dirs(&h, &leaf, &mut created).is_err());
        assert_eq!(created, vec![root.path().join("x"), leaf]);
        // Outside the mount is refused before anything is made.
        let mut created = Vec::new();
        let other = tempfile::tempdir().unwrap();
        assert!(make_dirs(&h, &other.path().join("z"), &mut created).is_err());
        assert!(created.is_empty() && !other.path().join("z").exists());
    }
}

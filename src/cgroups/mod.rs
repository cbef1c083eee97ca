//! Cgroups on v1, pure v2 and hybrid hosts.
//!
//! Contract with the rest of nook:
//! * [`plan`] validates `linux.cgroupsPath` and `linux.resources` (errors name
//!   the field) and returns a [`CgroupPlan`]. It only reads the host (mounts,
//!   online CPUs, huge page sizes); nothing is created.
//! * [`CgroupPlan::create`] creates the container's cgroup(s) and applies the
//!   resources, removing what it made if any step fails. Call it before the
//!   container's init is cloned, then [`Cgroup::add_process`] with the
//!   child's pid before the child runs anything of the container.
//! * [`Cgroup`] is serialised into the container's state, so later commands
//!   (kill --all, pause, resume, update, events, ps, delete) find it again.
//! * nook never writes to a cgroup it did not create, with two exceptions
//!   runc makes too: an existing cgroup with no process in it that is not
//!   frozen is adopted as the container's (and left in place on delete),
//!   and on v1 an empty ancestor cpuset is given its parent's CPUs and
//!   memory nodes (the kernel allows a child none its parent lacks). It
//!   never creates a directory for a hierarchy that is not mounted.
//!
//! How `container/` uses it, step by step:
//!
//! | when                         | call                                              |
//! |------------------------------|---------------------------------------------------|
//! | validating the bundle        | [`plan`] (keep the [`CgroupPlan`] in the `Plan`)   |
//! | `create`, before the clone   | [`CgroupPlan::create`]; store the [`Cgroup`] in state.json |
//! | right after the clone        | [`Cgroup::add_process`] with the child's host pid, before releasing it |
//! | OCI `cgroup` mounts          | [`Cgroup::mount_sources`] (bind each source read-only) |
//! | `exec`                       | [`Cgroup::add_process`] for the new process        |
//! | `pause` / `resume`           | [`Cgroup::freeze`] / [`Cgroup::thaw`]; status "paused" = [`Cgroup::is_frozen`] |
//! | `kill --all`, `delete -f`    | [`Cgroup::kill_all`]                               |
//! | `ps`                         | [`Cgroup::pids`]                                   |
//! | `events --stats`             | [`Cgroup::stats`] (the `data` object), [`Cgroup::oom_kills`] for `oom` events |
//! | `update`                     | [`Cgroup::update`]                                 |
//! | state.json `cgroup_paths`    | [`Cgroup::paths`]                                  |
//! | `delete`, after init is reaped | [`Cgroup::remove`] (empty cgroups only; kill first) |
//!
//! If anything after `create` fails, call [`Cgroup::remove`] (after killing
//! what was started) so no directory is left behind.
//!
//! Hybrid hosts (v1 controllers plus a cgroup2 mount holding the rest, as
//! systemd's "hybrid" mode sets up) get a directory in every v1 controller
//! hierarchy and one in the cgroup2 mount; each resource goes to the
//! hierarchy that owns its controller. crun refuses such hosts.
//!
//! With the systemd driver ([`plan_systemd`], `--systemd-cgroup`) systemd
//! makes the cgroup as a transient unit once the init exists: spawning
//! calls [`CgroupPlan::enter`] instead of [`Cgroup::add_process`] for the
//! init, `update` and `remove` go through systemd too, and everything else
//! is the same (see the `systemd` module).
#![forbid(unsafe_code)]

mod apply;
mod devices;
mod freezer;
mod layout;
mod lock;
mod resources;
mod stats;
pub(crate) mod systemd;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::fd::RawFd;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxResources, Spec};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use devices::with_runtime_defaults;
pub use layout::Version;
use layout::{Hierarchy, Layout};
pub use lock::Claim;
pub(crate) use resources::parse_list;
use resources::{HostInfo, Settings};
pub use stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, HugetlbStats, MemoryEntry, MemoryStats, PidsStats, Stats,
    Throttling,
};

/// The validated cgroup configuration of a container.
#[derive(Debug, Clone)]
pub struct CgroupPlan {
    /// One target per mounted hierarchy the container joins.
    targets: Vec<Target>,
    settings: Settings,
    /// Under the systemd driver: the unit to start, and its properties.
    systemd: Option<SystemdPlan>,
}

#[derive(Debug, Clone)]
struct SystemdPlan {
    unit: systemd::Unit,
    id: String,
    properties: Vec<systemd::dbus::Value>,
}

#[derive(Debug, Clone)]
struct Target {
    hierarchy: Hierarchy,
    /// The cgroup, as a path inside the hierarchy (`/a/b`).
    cgroup: PathBuf,
}

/// Whether cgroup2 alone is mounted at /sys/fs/cgroup (runc's
/// `IsCgroup2UnifiedMode`): what decides if `nook spec`, as `runc spec`,
/// gives the container a cgroup namespace.
pub fn unified_mode() -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    statfs("/sys/fs/cgroup").is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// Validates the cgroup part of `spec` for container `id` on this host.
pub fn plan(spec: &Spec, id: &str) -> Result<CgroupPlan> {
    plan_for(spec, id, false)
}

/// [`plan`], in rootless mode when `rootless` (see [`crate::rootless`]):
/// device rules are dropped, a missing `linux.cgroupsPath` means the
/// relative path `<id>` (a delegated subtree of the caller's), and each
/// hierarchy where the caller may not create that cgroup is left out,
/// unless the spec names the path or sets a limit that needs it: that is
/// an error naming the resource, found before anything touches the host.
pub fn plan_for(spec: &Spec, id: &str, rootless: bool) -> Result<CgroupPlan> {
    let layout = Layout::detect()?;
    let host = HostInfo::read(&layout);
    if !rootless {
        return plan_on(spec, id, &layout, &host);
    }
    let mut spec = spec.clone();
    let explicit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .is_some_and(|p| !p.as_os_str().is_empty());
    if let Some(linux) = spec.linux_mut() {
        if let Some(res) = linux.resources_mut() {
            res.set_devices(None);
        }
        if !explicit {
            crate::id::validate_id(id)?;
            linux.set_cgroups_path(Some(PathBuf::from(id)));
        }
    }
    let mut plan = plan_on(&spec, id, &layout, &host)?;
    rootless_targets(&mut plan, explicit, &|dir| {
        nix::unistd::access(
            dir,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .is_ok()
    })?;
    Ok(plan)
}

/// Keeps the targets whose cgroup the caller may create (`writable` on
/// its nearest existing ancestor), refusing to drop one that an explicit
/// path or a limit needs.
fn rootless_targets(plan: &mut CgroupPlan, explicit: bool, writable: &dyn Fn(&Path) -> bool) -> Result<()> {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for t in plan.targets.drain(..) {
        let dir = t.hierarchy.dir_of(&t.cgroup)?;
        let anc = apply::existing_ancestor(&dir).to_path_buf();
        if writable(&anc) {
            kept.push(t);
        } else if explicit {
            return Err(Error::config(
                "linux.cgroupsPath",
                format!(
                    "rootless: cannot create cgroup {}: {} is not delegated to uid {}",
                    dir.display(),
                    anc.display(),
                    nix::unistd::geteuid()
                ),
            ));
        } else {
            dropped.push((t, anc));
        }
    }
    let holds = |h: &Hierarchy, c: &str| match h.version {
        Version::V1 => h.controllers.iter().any(|x| x == c),
        Version::V2 => c == "cgroup" || h.controllers.iter().any(|x| x == c),
    };
    for w in &plan.settings.writes {
        let c = w.controller;
        if kept.iter().any(|t| holds(&t.hierarchy, c)) {
            continue;
        }
        if let Some((_, anc)) = dropped.iter().find(|(t, _)| holds(&t.hierarchy, c)) {
            return Err(Error::config(
                resource_field(c),
                format!(
                    "cannot set {c} limit: container could not join or create cgroup \
                     (rootless, and {} is not delegated to uid {})",
                    anc.display(),
                    nix::unistd::geteuid()
                ),
            ));
        }
    }
    plan.targets = kept;
    Ok(())
}

/// The `linux.resources` field a controller's settings come from.
fn resource_field(controller: &str) -> String {
    let f = match controller {
        "memory" => "memory",
        "cpu" | "cpuacct" | "cpuset" => "cpu",
        "pids" => "pids",
        "blkio" | "io" => "blockIO",
        "hugetlb" => "hugepageLimits",
        "rdma" => "rdma",
        "net_cls" | "net_prio" => "network",
        "devices" => "devices",
        _ => "unified",
    };
    format!("linux.resources.{f}")
}

fn plan_on(spec: &Spec, id: &str, layout: &Layout, host: &HostInfo) -> Result<CgroupPlan> {
    let linux = spec.linux().as_ref();
    let path = cgroups_path(linux.and_then(|l| l.cgroups_path().as_deref()), id)?;
    let empty = LinuxResources::default();
    let res = linux.and_then(|l| l.resources().as_ref()).unwrap_or(&empty);
    let settings = resources::compile(res, host)?;
    let targets = layout
        .hierarchies
        .iter()
        .map(|h| {
            let cgroup = if path.is_absolute() {
                path.clone()
            } else {
                // runc: relative paths are relative to the caller's own
                // cgroup; on cgroup2 to its parent, because the caller's
                // own cgroup has processes in it and so cannot delegate
                // controllers to a child ("no internal processes" rule).
                let base = match h.version {
                    Version::V1 => h.own.clone(),
                    Version::V2 => h.own.parent().map_or_else(|| h.own.clone(), Path::to_path_buf),
                };
                base.join(&path)
            };
            if cgroup == Path::new("/") {
                return Err(Error::config("linux.cgroupsPath", "must not be the root cgroup"));
            }
            // Fail now if the mount cannot show this cgroup.
            h.dir_of(&cgroup)?;
            Ok(Target {
                hierarchy: h.clone(),
                cgroup,
            })
        })
        .collect::<Result<_>>()?;
    Ok(CgroupPlan {
        targets,
        settings,
        systemd: None,
    })
}

/// [`plan`] under the systemd cgroup driver: `linux.cgroupsPath` is
/// `slice:prefix:name` (see [`systemd::unit`]), and systemd must run here.
/// Rootless containers would need the user's systemd instance, which nook
/// does not drive.
pub fn plan_systemd(spec: &Spec, id: &str, rootless: bool) -> Result<CgroupPlan> {
    if rootless {
        return Err(Error::Unsupported {
            what: "--systemd-cgroup in rootless mode (a systemd user instance)".into(),
        });
    }
    systemd::check_running()?;
    let layout = Layout::detect()?;
    let mut host = HostInfo::read(&layout);
    host.v2.retain(|c| systemd::V2_CONTROLLERS.contains(&c.as_str()));
    let linux = spec.linux().as_ref();
    let unit = systemd::unit(linux.and_then(|l| l.cgroups_path().as_deref()), id)?;
    let empty = LinuxResources::default();
    let res = linux.and_then(|l| l.resources().as_ref()).unwrap_or(&empty);
    let settings = resources::compile(res, &host)?;
    let rules = devices::parse(res.devices().as_deref().unwrap_or_default())?;
    let pure_v2 = layout.hierarchies.iter().all(|h| h.version == Version::V2);
    let mut targets = Vec::new();
    for h in &layout.hierarchies {
        let mut h = h.clone();
        if h.version == Version::V2 {
            h.controllers
                .retain(|c| systemd::V2_CONTROLLERS.contains(&c.as_str()));
        }
        h.dir_of(&unit.cgroup)?;
        targets.push(Target {
            hierarchy: h,
            cgroup: unit.cgroup.clone(),
        });
    }
    Ok(CgroupPlan {
        targets,
        settings,
        systemd: Some(SystemdPlan {
            properties: systemd::properties(res, &rules, pure_v2),
            unit,
            id: id.to_string(),
        }),
    })
}

/// Checks `linux.cgroupsPath` and returns it cleaned. Empty means `/<id>`
/// at the hierarchy's root, as crun does: runc's relative `<id>` would put
/// the container inside the caller's own cgroup (on this kind of host, the
/// service manager's), which the container must never join by accident.
fn cgroups_path(path: Option<&Path>, id: &str) -> Result<PathBuf> {
    const F: &str = "linux.cgroupsPath";
    let Some(p) = path.filter(|p| !p.as_os_str().is_empty()) else {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(Error::config(
                F,
                format!("container id {id:?} cannot name a cgroup"),
            ));
        }
        return Ok(Path::new("/").join(id));
    };
    let s = p.to_string_lossy();
    if s.contains(':') {
        return Err(Error::config(
            F,
            format!("{s:?}: the systemd \"slice:prefix:name\" form needs --systemd-cgroup"),
        ));
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::config(F, format!("{s:?} must not contain \"..\"")));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(Error::config(F, format!("{s:?} names no cgroup")));
    }
    Ok(out)
}

/// runc 1.2's rule for a cgroup that already exists (a pod's, one left by a
/// test that failed half-way): nook may use it if no process is in it or
/// below it and it is not frozen, and then leaves it in place on delete
/// (only what nook made is in [`Dir::created`]). A populated cgroup would
/// mix the container with processes nook knows nothing of, and a frozen one
/// would stop the init before it runs: both are refused, saying why.
fn check_adoptable(path: &Path, h: &Hierarchy) -> Result<()> {
    const F: &str = "linux.cgroupsPath";
    let procs = pids_below(path)?.len();
    if procs > 0 {
        return Err(Error::config(
            F,
            format!(
                "cgroup {} exists and is not empty: {procs} process(es) in it",
                path.display()
            ),
        ));
    }
    let frozen = match h.version {
        Version::V1 if h.controllers.iter().any(|c| c == "freezer") => {
            freezer::is_frozen(freezer::FreezerDir::V1(path))?
        }
        Version::V2 => freezer::is_frozen(freezer::FreezerDir::V2(path))?,
        Version::V1 => false,
    };
    if frozen {
        return Err(Error::config(
            F,
            format!("cgroup {} exists and is frozen", path.display()),
        ));
    }
    Ok(())
}

/// The processes in cgroup `dir` and in the cgroups below it (runc's
/// `GetAllPids`): a container may make sub-cgroups of its own (systemd in
/// it, `exec --cgroup`) and move processes there. A sub-cgroup removed
/// while it is walked (by whatever made it) held none.
fn pids_below(dir: &Path) -> Result<Vec<i32>> {
    let mut pids: Vec<i32> = read(&dir.join("cgroup.procs"))?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for sub in children(dir)? {
        match pids_below(&sub) {
            Err(e) if e.errno() == libc::ENOENT => {}
            r => pids.extend(r?),
        }
    }
    Ok(pids)
}

/// The cgroups directly below cgroup `dir`.
fn children(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut subs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io("reading", dir, e))? {
        let entry = entry.map_err(|e| Error::io("reading", dir, e))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            subs.push(entry.path());
        }
    }
    Ok(subs)
}

/// One directory of the container's cgroup, in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Dir {
    version: Version,
    /// v1: the hierarchy's controllers; v2: this directory's `cgroup.controllers`.
    controllers: Vec<String>,
    /// Where the hierarchy is mounted.
    mount_point: PathBuf,
    /// The container's cgroup directory.
    path: PathBuf,
    /// The directories nook created for it, parents first; removed in
    /// reverse. Without `path` itself when nook adopted an existing cgroup
    /// (see [`check_adoptable`]), which then stays on delete.
    created: Vec<PathBuf>,
}

impl CgroupPlan {
    /// The cgroup [`CgroupPlan::create`] would make now: each directory,
    /// with those of it and its parents that do not exist yet as the ones
    /// to be created (an existing one would be adopted, and stays). For
    /// the container's intent record, written before anything is made, so
    /// that what a killed `create` made can be found: removing it kills
    /// what is in these cgroups and removes their directories, at worst
    /// also one that someone else made in between.
    /// Under the systemd driver: the unit and the directories it will
    /// have, so that removing it stops the unit.
    pub fn intended(&self) -> Result<Cgroup> {
        if let Some(sd) = &self.systemd {
            return self.systemd_cgroup(sd);
        }
        let mut dirs = Vec::with_capacity(self.targets.len());
        for t in &self.targets {
            let path = t.hierarchy.dir_of(&t.cgroup)?;
            let anc = apply::existing_ancestor(&path).to_path_buf();
            let mut created: Vec<PathBuf> = path
                .ancestors()
                .take_while(|p| *p != anc)
                .map(Path::to_path_buf)
                .collect();
            created.reverse();
            dirs.push(Dir {
                version: t.hierarchy.version,
                controllers: t.hierarchy.controllers.clone(),
                mount_point: t.hierarchy.mount_point.clone(),
                path,
                created,
            });
        }
        Ok(Cgroup {
            dirs,
            systemd_unit: None,
        })
    }

    /// Creates the cgroup(s) and applies the resources. On failure every
    /// directory made so far is removed again.
    ///
    /// The hierarchy locks (lock.rs) are held only while the directories
    /// are made; the resources are written after they are released: they go
    /// into the container's own directory only, so containers created at
    /// once do not queue on the mount points for them.
    pub fn create(&self) -> Result<Cgroup> {
        self.create_claimed(0).map(|(cg, _)| cg)
    }

    /// [`CgroupPlan::create`], holding the cgroup against another create
    /// naming the same path until the [`Claim`] is dropped: keep it until
    /// the init is in the cgroup, which until then is empty and would pass
    /// [`check_adoptable`] for the other create. That create is refused.
    /// The claim's descriptor is numbered `fd_floor` or above, out of the
    /// range of fds a container is given (`--preserve-fds`).
    /// Under the systemd driver there is nothing to claim: systemd refuses
    /// a second unit of the same name.
    pub fn create_claimed(&self, fd_floor: RawFd) -> Result<(Cgroup, Claim)> {
        if let Some(sd) = &self.systemd {
            return Ok((self.create_systemd(sd)?, Claim::none()));
        }
        let (cg, claim) = self.make(fd_floor)?;
        match apply::apply(&cg.dirs, &self.settings) {
            Ok(()) => Ok((cg, claim)),
            Err(e) => {
                // Best effort: the original error is the one worth reporting.
                let _ = cg.remove();
                Err(e)
            }
        }
    }

    /// Checks the targets, makes their directories and claims the first,
    /// under the hierarchy locks: two creates of one new path must not both
    /// find it free. Held only for that, not while resources are written.
    fn make(&self, fd_floor: RawFd) -> Result<(Cgroup, Claim)> {
        let _lock = lock::lock(self.mounts_to_lock()?)?;
        // Checked before the first mkdir so a refusal leaves nothing behind.
        let on_v1: Vec<&str> = self
            .targets
            .iter()
            .filter(|t| t.hierarchy.version == Version::V1)
            .flat_map(|t| t.hierarchy.controllers.iter().map(String::as_str))
            .collect();
        // Every create of one path claims its first directory (all share
        // the same targets): an existing one before anything is checked.
        let mut claim = None;
        for (i, t) in self.targets.iter().enumerate() {
            let path = t.hierarchy.dir_of(&t.cgroup)?;
            if path.exists() {
                if i == 0 {
                    claim = Some(lock::claim(&path, fd_floor)?);
                }
                check_adoptable(&path, &t.hierarchy)?;
            }
            if t.hierarchy.version == Version::V2 {
                apply::check_delegation(&path, &self.settings, &on_v1)?;
            }
        }
        let mut cg = Cgroup {
            dirs: Vec::new(),
            systemd_unit: None,
        };
        // Made under the mount lock, so no other create can hold it yet.
        let made = self
            .create_into(&mut cg)
            .and_then(|()| match (claim, cg.dirs.first()) {
                (Some(c), _) => Ok(c),
                (None, Some(d)) => lock::claim(&d.path, fd_floor),
                (None, None) => Ok(Claim::none()),
            });
        match made {
            Ok(claim) => Ok((cg, claim)),
            Err(e) => {
                // Best effort: the original error is the one worth reporting.
                let _ = cg.remove_locked();
                Err(e)
            }
        }
    }

    /// The systemd driver's [`CgroupPlan::create`]: nothing is made yet
    /// (the unit needs the init's pid, see [`CgroupPlan::enter`]); the
    /// directories systemd will make are known, and each of them is the
    /// container's own, to remove on delete. v2 controllers are those
    /// systemd delegates, checked once the unit exists.
    fn create_systemd(&self, sd: &SystemdPlan) -> Result<Cgroup> {
        let cg = self.systemd_cgroup(sd)?;
        if let Some(d) = cg.dirs.iter().find(|d| d.path.exists()) {
            return Err(Error::config(
                "linux.cgroupsPath",
                format!(
                    "cgroup {} of systemd unit {} exists already",
                    d.path.display(),
                    sd.unit.name
                ),
            ));
        }
        Ok(cg)
    }

    /// The cgroup the unit of `sd` will have.
    fn systemd_cgroup(&self, sd: &SystemdPlan) -> Result<Cgroup> {
        let mut dirs = Vec::new();
        for t in &self.targets {
            let path = t.hierarchy.dir_of(&t.cgroup)?;
            dirs.push(Dir {
                version: t.hierarchy.version,
                controllers: t.hierarchy.controllers.clone(),
                mount_point: t.hierarchy.mount_point.clone(),
                created: vec![path.clone()],
                path,
            });
        }
        Ok(Cgroup {
            dirs,
            systemd_unit: Some(sd.unit.name.clone()),
        })
    }

    /// Puts the container's init (`pid`, not running container code yet)
    /// into `cg`, the cgroup [`CgroupPlan::create`] returned. cgroupfs: as
    /// [`Cgroup::add_process`]. systemd: starts the unit with `pid` in it
    /// and waits for it, makes the directories of the v1 hierarchies systemd
    /// does not manage and moves `pid` there, then writes every setting
    /// into the files, as runc does (systemd has no property for some, and
    /// its value conversions differ slightly from runc's for others).
    /// The `tasks` files through which the container's init moves itself
    /// into `cg` (see [`Cgroup::open_tasks`]); none under systemd, which
    /// puts the process in the unit's cgroup itself.
    pub fn open_tasks(&self, cg: &Cgroup) -> Vec<(usize, std::os::fd::OwnedFd)> {
        match self.systemd {
            Some(_) => Vec::new(),
            None => cg.open_tasks(),
        }
    }

    /// The cgroup v2 directory of `cg`, opened, for a clone straight into
    /// it (CLONE_INTO_CGROUP), with its number; none under systemd.
    pub fn open_v2_dir(&self, cg: &Cgroup) -> Option<(usize, std::os::fd::OwnedFd)> {
        match self.systemd {
            Some(_) => None,
            None => cg.open_v2_dir(),
        }
    }

    /// `joined`: the directories (by [`CgroupPlan::open_tasks`] index) the
    /// process has moved itself into already; cgroupfs only.
    pub fn enter(&self, cg: &Cgroup, pid: i32, joined: &[usize]) -> Result<()> {
        let Some(sd) = &self.systemd else {
            return cg.add_process_except(pid, joined);
        };
        systemd::start(&sd.unit, &sd.id, pid, sd.properties.clone())?;
        {
            let _lock = lock::lock(self.targets.iter().map(|t| t.hierarchy.mount_point.as_path()))?;
            for (t, d) in self.targets.iter().zip(&cg.dirs) {
                if !d.path.exists() {
                    if t.hierarchy.version == Version::V2 {
                        return Err(Error::Sys {
                            call: format!(
                                "systemd unit {} started, but its cgroup {} is not there",
                                sd.unit.name,
                                d.path.display()
                            ),
                            errno: libc::ENOENT,
                        });
                    }
                    // Parents made here stay, as with runc: other
                    // containers of the slice share them.
                    apply::make_dirs(&t.hierarchy, &d.path, &mut Vec::new())?;
                }
                // A scope is delegated every controller; a slice only gets
                // those its accounting properties enable.
                if d.version == Version::V2 && sd.unit.name.ends_with(".scope") {
                    let got = read(&d.path.join("cgroup.controllers"))?;
                    let got: Vec<&str> = got.split_whitespace().collect();
                    if let Some(c) = d.controllers.iter().find(|c| !got.contains(&c.as_str())) {
                        return Err(Error::Unsupported {
                            what: format!(
                                "systemd unit {}: the {c} controller is not enabled in {} (Delegate=yes ignored?), so this",
                                sd.unit.name,
                                d.path.display()
                            ),
                        });
                    }
                }
            }
        }
        cg.add_process(pid)?;
        apply::apply(&cg.dirs, &self.settings)
    }

    /// The mount points to lock while the directories are checked and
    /// made (see lock.rs): the first target's, whose directory every create
    /// of the cgroup claims, which serialises the creates of one path, and
    /// those where the cgroup is not directly below the mount point, where
    /// nook may make or fill a parent that others share. A leaf directly
    /// below it (the default `/<id>`) races nobody else's set-up.
    fn mounts_to_lock(&self) -> Result<Vec<&Path>> {
        let mut mounts = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            let h = &t.hierarchy;
            if i == 0 || h.dir_of(&t.cgroup)?.parent() != Some(h.mount_point.as_path()) {
                mounts.push(h.mount_point.as_path());
            }
        }
        Ok(mounts)
    }

    fn create_into(&self, cg: &mut Cgroup) -> Result<()> {
        for t in &self.targets {
            let path = t.hierarchy.dir_of(&t.cgroup)?;
            let mut dir = Dir {
                version: t.hierarchy.version,
                controllers: t.hierarchy.controllers.clone(),
                mount_point: t.hierarchy.mount_point.clone(),
                path: path.clone(),
                created: Vec::new(),
            };
            let made = apply::make_dirs(&t.hierarchy, &path, &mut dir.created).and_then(|()| {
                // What this directory really got, which may be less than the mount offers.
                if dir.version == Version::V2 {
                    let text = read(&dir.path.join("cgroup.controllers"))?;
                    dir.controllers = text.split_whitespace().map(str::to_string).collect();
                }
                Ok(())
            });
            // Recorded before the error is returned, so cleanup sees it.
            cg.dirs.push(dir);
            made?;
        }
        Ok(())
    }
}

/// A container's cgroup: created by nook, or adopted (see [`check_adoptable`]).
///
/// Read back from state.json, it is only accepted when every directory lies
/// below a mounted cgroup hierarchy (see [`check_dirs`]): `kill --all` and
/// `delete` kill by and rmdir these paths, and the state file is not to be
/// trusted with more than that. A refusal is a parse error of the state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredCgroup")]
pub struct Cgroup {
    dirs: Vec<Dir>,
    /// The systemd unit that made it, under the systemd driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    systemd_unit: Option<String>,
}

/// [`Cgroup`] as state.json holds it, before [`check_dirs`].
#[derive(Deserialize)]
struct StoredCgroup {
    dirs: Vec<Dir>,
    #[serde(default)]
    systemd_unit: Option<String>,
}

impl TryFrom<StoredCgroup> for Cgroup {
    type Error = String;

    fn try_from(s: StoredCgroup) -> std::result::Result<Cgroup, String> {
        if !s.dirs.is_empty() {
            let info = crate::procfile::read_to_string("/proc/self/mountinfo")
                .map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
            check_dirs(&s.dirs, &layout::cgroup_mount_points(&info))?;
        }
        // Stopped on delete: only a transient unit name nook could have made.
        if let Some(u) = &s.systemd_unit {
            let ok = (u.ends_with(".scope") || u.ends_with(".slice"))
                && !u.starts_with('.')
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b));
            if !ok {
                return Err(format!("{u:?} is not a systemd scope or slice name"));
            }
        }
        Ok(Cgroup {
            dirs: s.dirs,
            systemd_unit: s.systemd_unit,
        })
    }
}

/// Every mount point must be one of `mounts` (mounted cgroup hierarchies),
/// and every directory (the cgroup, and those nook created) absolute,
/// without `.` or `..`, and strictly below its mount point.
fn check_dirs(dirs: &[Dir], mounts: &[PathBuf]) -> std::result::Result<(), String> {
    let plain = |p: &Path| {
        p.is_absolute()
            && p.components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
    };
    for d in dirs {
        if !plain(&d.mount_point) || !mounts.contains(&d.mount_point) {
            return Err(format!(
                "cgroup mount point {} is not a mounted cgroup hierarchy",
                d.mount_point.display()
            ));
        }
        for p in std::iter::once(&d.path).chain(&d.created) {
            if !plain(p) || !p.starts_with(&d.mount_point) || *p == d.mount_point {
                return Err(format!(
                    "cgroup directory {} is not below the cgroup mount {}",
                    p.display(),
                    d.mount_point.display()
                ));
            }
        }
    }
    Ok(())
}

/// A cgroup directory to mount into the container for an OCI `cgroup` mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// The container's cgroup directory on the host (bind-mount source).
    pub source: PathBuf,
    /// The hierarchy's version.
    pub version: Version,
    /// Where it goes under the container's `/sys/fs/cgroup`: the host's
    /// mount point name (`memory`, `cpu,cpuacct`, `unified`), or the empty
    /// string on a pure v2 host, where the directory *is* `/sys/fs/cgroup`.
    /// Co-mounted controllers (`cpu,cpuacct`) also want `cpu` and `cpuacct`
    /// symlinks beside the mount, as the host has and runc creates.
    pub name: String,
}

/// How long a freeze or thaw may take before nook gives up.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

impl Cgroup {
    /// Moves process `pid` into the cgroup, in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        self.add_process_except(pid, &[])
    }

    /// [`Cgroup::add_process`], but for the directories numbered in `skip`
    /// (those the process has moved itself into: [`Cgroup::open_tasks`],
    /// [`Cgroup::open_v2_dir`]).
    pub(crate) fn add_process_except(&self, pid: i32, skip: &[usize]) -> Result<()> {
        for (i, d) in self.dirs.iter().enumerate() {
            if !skip.contains(&i) {
                write(&d.path.join("cgroup.procs"), &pid.to_string())?;
            }
        }
        Ok(())
    }

    /// The `tasks` file of every v1 directory, opened for writing, with the
    /// directory's number: a single-threaded child moves itself in by
    /// writing "0" to each (see container/init.rs). Moving another process
    /// through `cgroup.procs` write-locks the global threadgroup rwsem,
    /// which waits for an RCU grace period (6-18 ms measured on this 6.18
    /// host); the kernel moves the writing thread itself without that lock.
    /// The write is checked against the opener's credentials (the runtime's).
    /// A directory whose file cannot be opened is left to
    /// [`Cgroup::add_process_except`]. Used for a container's init and for
    /// an exec'd process alike.
    pub(crate) fn open_tasks(&self) -> Vec<(usize, std::os::fd::OwnedFd)> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut open = Vec::new();
        for (i, d) in self.dirs.iter().enumerate() {
            if d.version != Version::V1 {
                continue;
            }
            let file = fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(d.path.join("tasks"));
            if let Ok(f) = file {
                open.push((i, f.into()));
            }
        }
        open
    }

    /// The cgroup v2 directory, opened, for a clone straight into it
    /// (CLONE_INTO_CGROUP), with its number.
    pub(crate) fn open_v2_dir(&self) -> Option<(usize, std::os::fd::OwnedFd)> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let (i, d) = self
            .dirs
            .iter()
            .enumerate()
            .find(|(_, d)| d.version == Version::V2)?;
        let dir = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&d.path)
            .ok()?;
        Some((i, dir.into()))
    }

    /// The existing sub-cgroup named by `specs` (runc's `exec --cgroup`):
    /// `PATH` for every hierarchy, and `CTRL[,CTRL]:PATH` for the hierarchy
    /// of those controllers, which wins over a plain `PATH` there. A
    /// hierarchy no spec names keeps this cgroup. nook creates nothing: the
    /// sub-cgroup is the caller's (runc requires it to exist too).
    pub fn sub(&self, specs: &[String]) -> Result<Cgroup> {
        const FIELD: &str = "exec --cgroup";
        let mut everywhere = None;
        let mut by_controller = Vec::new();
        for spec in specs {
            let (controllers, path) = match spec.split_once(':') {
                Some((c, p)) => (Some(c), p),
                None => (None, spec.as_str()),
            };
            let rel = Path::new(path.trim_start_matches('/'));
            let clean = rel.components().all(|c| matches!(c, Component::Normal(_)));
            if path.is_empty() || !clean {
                return Err(Error::config(
                    FIELD,
                    format!("{spec:?}: not a path below the container's cgroup"),
                ));
            }
            match controllers {
                None if everywhere.is_some() => {
                    return Err(Error::config(
                        FIELD,
                        "a path without controllers can be given only once",
                    ));
                }
                None => everywhere = Some(rel),
                Some(list) => {
                    for c in list.split(',') {
                        let known = self.dirs.iter().any(|d| d.controllers.iter().any(|x| x == c));
                        if !known {
                            return Err(Error::config(
                                FIELD,
                                format!("{spec:?}: no {c:?} controller in this cgroup"),
                            ));
                        }
                        by_controller.push((c, rel));
                    }
                }
            }
        }
        let mut dirs = Vec::with_capacity(self.dirs.len());
        for d in &self.dirs {
            let named = by_controller
                .iter()
                .find(|(c, _)| d.controllers.iter().any(|x| x == c))
                .map(|(_, p)| *p);
            let path = match named.or(everywhere) {
                Some(sub) => d.path.join(sub),
                None => d.path.clone(),
            };
            if !path.join("cgroup.procs").exists() {
                return Err(Error::config(
                    FIELD,
                    format!("cgroup {} does not exist", path.display()),
                ));
            }
            dirs.push(Dir {
                path,
                created: Vec::new(),
                ..d.clone()
            });
        }
        Ok(Cgroup {
            dirs,
            systemd_unit: None,
        })
    }

    /// The systemd unit of the cgroup, under the systemd driver.
    pub fn systemd_unit(&self) -> Option<&str> {
        self.systemd_unit.as_deref()
    }

    /// Whether the container has a cgroup at all (a rootless container
    /// without a delegated one has none).
    pub fn exists(&self) -> bool {
        !self.dirs.is_empty()
    }

    /// Host pids of every process in the cgroup and the cgroups below it
    /// (none without a cgroup).
    pub fn pids(&self) -> Result<Vec<i32>> {
        match self.dirs.first() {
            Some(d) => pids_below(&d.path),
            None => Ok(Vec::new()),
        }
    }

    /// Removes every directory nook created, deepest first. The cgroup must
    /// be empty; a directory whose last process is still exiting is retried
    /// for a moment (EBUSY). Directories already gone are fine, so a second
    /// call (e.g. after a crash between removal and the state update) works.
    /// A parent this container created but another container now also uses
    /// (`/pod/a` and `/pod/b`) is busy and left in place, like runc does
    /// with every parent.
    ///
    /// Under the systemd driver the unit is stopped first (which removes
    /// the directories systemd made), then the others are removed.
    /// Only hierarchies where nook made a parent are locked: removing a
    /// leaf alone races nobody's set-up of a parent.
    pub fn remove(&self) -> Result<()> {
        if let Some(unit) = &self.systemd_unit {
            systemd::stop(unit)?;
        }
        let parents = self.dirs.iter().filter(|d| d.created.len() > 1);
        let _lock = lock::lock(parents.map(|d| d.mount_point.as_path()))?;
        self.remove_locked()
    }

    fn remove_locked(&self) -> Result<()> {
        let mut first_err = None;
        for d in self.dirs.iter().rev() {
            for (i, dir) in d.created.iter().enumerate().rev() {
                let is_leaf = i + 1 == d.created.len();
                if let Err(e) = rmdir_retry(dir, is_leaf) {
                    // A busy parent holds another container's cgroup: not an error.
                    if is_leaf || e.errno() != libc::EBUSY {
                        first_err.get_or_insert(e);
                    }
                    break;
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Freezes every process (v1 freezer, or v2 `cgroup.freeze`) and waits
    /// until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<()> {
        freezer::set(self.freezer_dir()?, true, FREEZE_TIMEOUT)
    }

    /// Thaws the processes and waits until the cgroup is no longer frozen.
    pub fn thaw(&self) -> Result<()> {
        freezer::set(self.freezer_dir()?, false, FREEZE_TIMEOUT)
    }

    /// Whether the cgroup is frozen (or freezing).
    pub fn is_frozen(&self) -> Result<bool> {
        freezer::is_frozen(self.freezer_dir()?)
    }

    /// Sends `sig` to every process in the cgroup.
    ///
    /// SIGKILL goes through `cgroup.kill` (Linux 5.14+, also on a hybrid
    /// host's cgroup2 directory), which cannot miss a process forked
    /// meanwhile. Otherwise the cgroup is frozen, each pid signalled, and
    /// thawed again (unless it was frozen before and `sig` is not SIGKILL).
    /// A SIGKILLed cgroup is always left thawed: a task stopped by the v1
    /// freezer does not die until it runs again.
    pub fn kill_all(&self, sig: Signal) -> Result<()> {
        if sig == Signal::SIGKILL {
            if let Some(d) = self.dirs.iter().find(|d| d.version == Version::V2) {
                let file = d.path.join("cgroup.kill");
                if file.exists() {
                    write(&file, "1")?;
                    if let Ok(f) = self.freezer_dir() {
                        if freezer::is_frozen(f)? {
                            freezer::set(f, false, FREEZE_TIMEOUT)?;
                        }
                    }
                    return Ok(());
                }
            }
        }
        let freezer = self.freezer_dir().ok();
        let was_frozen = match freezer {
            Some(f) => freezer::is_frozen(f)?,
            None => false,
        };
        if let Some(f) = freezer {
            freezer::set(f, true, FREEZE_TIMEOUT)?;
        }
        let mut result = Ok(());
        for pid in self.pids()? {
            match nix::sys::signal::kill(Pid::from_raw(pid), sig) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => {
                    result = Err(Error::sys(format!("kill({pid}, {sig})"), e));
                    break;
                }
            }
        }
        if let Some(f) = freezer {
            if !was_frozen || sig == Signal::SIGKILL {
                freezer::set(f, false, FREEZE_TIMEOUT)?;
            }
        }
        result
    }

    /// Usage counters in the shape of runc's `events --stats`.
    pub fn stats(&self) -> Result<Stats> {
        stats::collect(|c| self.dir_of(c).map(|d| (d.path.as_path(), d.version)))
    }

    /// How many processes the kernel's OOM killer has killed in this cgroup
    /// (for runc-style `oom` events and for tests).
    pub fn oom_kills(&self) -> Result<u64> {
        let d = self.dir_of("memory").ok_or_else(|| Error::Unsupported {
            what: "OOM accounting without a memory controller".into(),
        })?;
        Ok(stats::oom_kills(&d.path, d.version))
    }

    /// Applies new resource limits (`nook update`). Validated first against
    /// the controllers this cgroup has; with `memory.checkBeforeUpdate`, a
    /// memory limit below the current usage is refused.
    pub fn update(&self, res: &LinuxResources) -> Result<()> {
        let mut host = HostInfo::read(&Layout::detect()?);
        host.v1.clear();
        host.v2.clear();
        for d in &self.dirs {
            match d.version {
                Version::V1 => host.v1.extend(d.controllers.iter().cloned()),
                Version::V2 => host.v2.extend(d.controllers.iter().cloned()),
            }
        }
        let settings = resources::compile(res, &host)?;
        if settings.check_before_update {
            apply::check_memory_usage(&self.dirs, res)?;
        }
        if let Some(unit) = &self.systemd_unit {
            let rules = devices::parse(res.devices().as_deref().unwrap_or_default())?;
            let pure_v2 = self.dirs.iter().all(|d| d.version == Version::V2);
            systemd::set_properties(unit, systemd::properties(res, &rules, pure_v2))?;
        }
        apply::apply(&self.dirs, &settings)
    }

    /// The directories to bind into the container for an OCI `cgroup` mount.
    pub fn mount_sources(&self) -> Vec<CgroupMount> {
        let pure_v2 = self.dirs.len() == 1 && self.dirs[0].version == Version::V2;
        self.dirs
            .iter()
            .map(|d| CgroupMount {
                source: d.path.clone(),
                version: d.version,
                name: if pure_v2 {
                    String::new()
                } else {
                    d.mount_point
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                },
            })
            .collect()
    }

    /// runc's `cgroup_paths` for state.json: controller -> directory, with
    /// `""` for the cgroup2 directory on a hybrid or pure v2 host.
    pub fn paths(&self) -> BTreeMap<String, PathBuf> {
        let mut out = BTreeMap::new();
        for d in &self.dirs {
            match d.version {
                Version::V1 => {
                    for c in &d.controllers {
                        out.insert(c.clone(), d.path.clone());
                    }
                }
                Version::V2 => {
                    out.insert(String::new(), d.path.clone());
                }
            }
        }
        out
    }

    /// The directory that holds `controller`: its v1 hierarchy if mounted,
    /// else the cgroup2 directory if the controller is enabled there.
    fn dir_of(&self, controller: &str) -> Option<&Dir> {
        self.dirs
            .iter()
            .find(|d| d.version == Version::V1 && d.controllers.iter().any(|c| c == controller))
            .or_else(|| {
                self.dirs
                    .iter()
                    .find(|d| d.version == Version::V2 && d.controllers.iter().any(|c| c == controller))
            })
    }

    /// The v1 freezer hierarchy if mounted, else the cgroup2 directory
    /// (`cgroup.freeze` is core, Linux 5.2+, and needs no controller).
    fn freezer_dir(&self) -> Result<freezer::FreezerDir<'_>> {
        if let Some(d) = self.dir_of("freezer") {
            return Ok(freezer::FreezerDir::V1(&d.path));
        }
        self.dirs
            .iter()
            .find(|d| d.version == Version::V2)
            .map(|d| freezer::FreezerDir::V2(&d.path))
            .ok_or_else(|| Error::Unsupported {
                what: "freezing: the container has no freezer cgroup (none is mounted, or it is \
                       rootless without a delegated cgroup), so freezing"
                    .into(),
            })
    }
}

/// Reads a cgroup file.
fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))
}

/// Writes `value` into an existing cgroup file (never creates one), with
/// an strace-style error carrying the value, since the kernel's EINVAL is
/// only useful together with what was written.
fn write(path: &Path, value: &str) -> Result<()> {
    use std::io::Write as _;
    let res = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|e| write_error(path, value, e))
}

/// The error of writing `value` into cgroup file `path`.
fn write_error(path: &Path, value: &str, e: io::Error) -> Error {
    Error::Sys {
        call: format!("write({}, {value:?})", path.display()),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    }
}

/// `rmdir`, tolerating a directory that is already gone. With `wait_busy`,
/// EBUSY is retried for up to a second (a killed process leaves its cgroup
/// a moment after it became a zombie); without, EBUSY fails at once.
fn rmdir_retry(dir: &Path, wait_busy: bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let e = match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if wait_busy && e.raw_os_error() == Some(libc::EBUSY) => e,
            Err(e) => return Err(Error::io("removing cgroup", dir, e)),
        };
        // The container's own cgroup with cgroups made inside it (by
        // systemd in the container, say): theirs go first, deepest first,
        // as runc's RemovePath does. (A parent is never waited for: its
        // children are other containers'.)
        let subs = children(dir)?;
        for sub in &subs {
            rmdir_retry(sub, true)?;
        }
        if subs.is_empty() {
            if Instant::now() >= deadline {
                return Err(Error::io("removing cgroup", dir, e));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::layout::tests::FakeHost;
    use super::*;

    fn spec(json: &str) -> Spec {
        let mut v: serde_json::Value = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}}}"#,
        )
        .unwrap();
        v["linux"] = serde_json::from_str(json).unwrap();
        serde_json::from_value(v).unwrap()
    }

    fn plan_fake(host: &FakeHost, linux: &str, id: &str) -> Result<CgroupPlan> {
        let layout = host.layout();
        let info = HostInfo::read(&layout);
        plan_on(&spec(linux), id, &layout, &info)
    }

    #[test]
    fn rootless_skips_what_it_cannot_create_unless_a_limit_needs_it() {
        let host = FakeHost::new(&["memory", "pids"], Some("hugetlb"));
        let base = host.dir.path().to_path_buf();
        // Only the cgroup2 mount is "delegated".
        let writable = |p: &Path| p.starts_with(base.join("unified"));
        let mut p = plan_fake(&host, "{}", "c1").unwrap();
        rootless_targets(&mut p, false, &writable).unwrap();
        assert_eq!(p.targets.len(), 1);
        assert_eq!(p.targets[0].hierarchy.version, Version::V2);
        let mut p = plan_fake(&host, r#"{"resources":{"memory":{"limit":1048576}}}"#, "c1").unwrap();
        let e = rootless_targets(&mut p, false, &writable)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.resources.memory")
                && e.contains("cannot set memory limit: container could not join or create cgroup"),
            "{e}"
        );
        let mut p = plan_fake(&host, r#"{"cgroupsPath":"/mine"}"#, "c1").unwrap();
        let e = rootless_targets(&mut p, true, &writable).unwrap_err().to_string();
        assert!(
            e.contains("linux.cgroupsPath") && e.contains("not delegated"),
            "{e}"
        );
        // Everything writable: nothing is dropped.
        let mut p = plan_fake(&host, r#"{"resources":{"memory":{"limit":1048576}}}"#, "c1").unwrap();
        rootless_targets(&mut p, false, &|_| true).unwrap();
        assert_eq!(p.targets.len(), 3);
    }

    #[test]
    fn placement() {
        let host = FakeHost::new(&["memory", "cpu,cpuacct"], Some("hugetlb"));
        let base = host.dir.path();
        // Empty: "/<id>" at each hierarchy's root, never in our own cgroup.
        let p = plan_fake(&host, "{}", "c1").unwrap();
        let dirs: Vec<_> = p
            .targets
            .iter()
            .map(|t| t.hierarchy.dir_of(&t.cgroup).unwrap())
            .collect();
        assert_eq!(
            dirs,
            vec![
                base.join("memory/c1"),
                base.join("cpu,cpuacct/c1"),
                base.join("unified/c1")
            ]
        );
        let p = plan_fake(&host, r#"{"cgroupsPath":"/a/./b"}"#, "c1").unwrap();
        assert_eq!(p.targets[0].cgroup, Path::new("/a/b"));
    }

    #[test]
    fn bad_paths_are_refused() {
        let host = FakeHost::new(&["memory"], None);
        let e = plan_fake(&host, r#"{"cgroupsPath":"system.slice:nook:c1"}"#, "c1").unwrap_err();
        assert!(
            e.to_string().contains("linux.cgroupsPath") && e.to_string().contains("--systemd-cgroup"),
            "{e}"
        );
        let e = plan_fake(&host, r#"{"cgroupsPath":"/a/../../b"}"#, "c1").unwrap_err();
        assert!(e.to_string().contains("linux.cgroupsPath"), "{e}");
        let e = plan_fake(&host, r#"{"cgroupsPath":"/"}"#, "c1").unwrap_err();
        assert!(e.to_string().contains("root cgroup"), "{e}");
        let e = plan_fake(&host, r#"{"resources":{"memory":{"limit":-7}}}"#, "c1").unwrap_err();
        assert!(e.to_string().contains("linux.resources.memory.limit"), "{e}");
    }

    #[test]
    fn mount_sources_and_paths() {
        let cg = Cgroup {
            dirs: vec![
                Dir {
                    version: Version::V1,
                    controllers: vec!["cpu".into(), "cpuacct".into()],
                    mount_point: "/sys/fs/cgroup/cpu,cpuacct".into(),
                    path: "/sys/fs/cgroup/cpu,cpuacct/c1".into(),
                    created: vec![],
                },
                Dir {
                    version: Version::V2,
                    controllers: vec![],
                    mount_point: "/sys/fs/cgroup/unified".into(),
                    path: "/sys/fs/cgroup/unified/c1".into(),
                    created: vec![],
                },
            ],
            systemd_unit: None,
        };
        let m = cg.mount_sources();
        assert_eq!(m[0].name, "cpu,cpuacct");
        assert_eq!(m[1].name, "unified");
        let p = cg.paths();
        assert_eq!(p["cpuacct"], Path::new("/sys/fs/cgroup/cpu,cpuacct/c1"));
        assert_eq!(p[""], Path::new("/sys/fs/cgroup/unified/c1"));
        // The state round-trips through JSON, and passes the check where
        // these hierarchies are mounted.
        let json = serde_json::to_string(&cg).unwrap();
        let back: StoredCgroup = serde_json::from_str(&json).unwrap();
        assert_eq!(back.dirs, cg.dirs);
        let mounts = [
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
            PathBuf::from("/sys/fs/cgroup/unified"),
        ];
        check_dirs(&cg.dirs, &mounts).unwrap();
    }

    #[test]
    fn state_paths_outside_a_cgroup_mount_are_refused() {
        let dir = |mount_point: &str, path: &str, created: &[&str]| Dir {
            version: Version::V1,
            controllers: vec!["memory".into()],
            mount_point: mount_point.into(),
            path: path.into(),
            created: created.iter().map(PathBuf::from).collect(),
        };
        let mounts = [PathBuf::from("/sys/fs/cgroup/memory")];
        let ok = dir(
            "/sys/fs/cgroup/memory",
            "/sys/fs/cgroup/memory/c1",
            &["/sys/fs/cgroup/memory/c1"],
        );
        check_dirs(&[ok], &mounts).unwrap();
        for (bad, what) in [
            (
                dir("/tmp", "/tmp/victim", &["/tmp/victim"]),
                "/tmp is not a mounted",
            ),
            (
                dir("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/../../../tmp", &[]),
                "memory/../../../tmp is not below",
            ),
            (
                dir(
                    "/sys/fs/cgroup/memory",
                    "/sys/fs/cgroup/memory/c1",
                    &["/tmp/victim"],
                ),
                "/tmp/victim is not below",
            ),
            (
                dir("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory", &[]),
                "memory is not below",
            ),
            (
                dir("/sys/fs/cgroup/memory", "sys/fs/cgroup/memory/c1", &[]),
                "is not below",
            ),
        ] {
            let e = check_dirs(&[bad], &mounts).unwrap_err();
            assert!(e.contains(what), "{e}");
        }
        // Through serde, as state.json is read: a refusal is a parse error.
        let json = r#"{"dirs":[{"version":"v1","controllers":["memory"],"mount_point":"/tmp",
                        "path":"/tmp/victim","created":["/tmp/victim"]}]}"#;
        let e = serde_json::from_str::<Cgroup>(json).unwrap_err().to_string();
        assert!(e.contains("/tmp is not a mounted cgroup hierarchy"), "{e}");
    }
}

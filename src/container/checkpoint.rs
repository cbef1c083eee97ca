//! Checkpoint and restore (`nook checkpoint`, `nook restore`) through criu,
//! as runc does them: what criu cannot know about a container is said in
//! its options, built here from the spec, the cgroup and the state.
//!
//! - Bind mounts (and the cgroup binds, the device nodes and the masked
//!   files, which are bind mounts too) are external: dumped by their
//!   destination, restored from their source.
//! - Network and pid namespaces joined by path are external
//!   (`net[INODE]:extRootNetNS`), and on restore the namespace's fd is
//!   inherited under the same key.
//! - The init's stdio at checkpoint are saved in `descriptors.json`; the
//!   pipes among them are restored as the restoring caller's stdio.
//! - criu freezes the tree through the container's cgroup, and on restore
//!   criu itself is put in the new cgroup, which nook makes and limits as
//!   in create, and which is named as criu's cgroup root.
//! - The restored tree is a child of the caller (`rst_sibling`): `wait`
//!   works as after create. Prestart and createRuntime hooks run when criu
//!   has made the namespaces; the state then records the restored init, so
//!   state, ps, exec, kill, pause and delete work as on a started container.
#![forbid(unsafe_code)]

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::state::{self, Intent, StateDir};
use super::{persisted_for, run_poststop_after_failure, Container, Context, CreateGuard, Status};
use crate::bundle::Bundle;
use crate::criu::proto::{CgMode, Opts, Req, ReqType};
use crate::criu::{self, rpc::Swrk};
use crate::error::{Error, Result};
use crate::hooks;
use crate::plan::{Plan, PlanOptions};

/// Namespaces whose contents criu neither dumps nor restores, whatever the
/// caller asks: the network namespace, as runc always passes it in
/// `--empty-ns`. A runtime does not manage network devices, addresses,
/// routes or firewall rules: the engine's network plugin sets them up again
/// in the restored (new, empty) namespace. Dumping them also cost criu
/// `ip`/`iptables-save` runs: about 1.1 s of a 3.6 s dump under TCG.
const NOT_MANAGED: u32 = libc::CLONE_NEWNET as u32;

/// Options of [`Container::checkpoint`] (runc's `checkpoint` flags).
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// Where criu writes the images (made 0700 if missing). Required.
    pub image_path: PathBuf,
    /// Where criu writes its log (`dump.log`); the image path if None.
    pub work_path: Option<PathBuf>,
    /// The previous pre-dump, relative to the image path (`../pre`), for
    /// an incremental dump (memory tracked).
    pub parent_path: Option<PathBuf>,
    /// Keep the container running after the dump; otherwise it is
    /// deleted once dumped, as runc does.
    pub leave_running: bool,
    /// Dump established TCP connections.
    pub tcp_established: bool,
    /// Allow unix sockets connected outside the container.
    pub ext_unix_sk: bool,
    /// Allow a container attached to a terminal of the caller's.
    pub shell_job: bool,
    /// Dump file locks.
    pub file_locks: bool,
    /// Only dump memory, tracking changes for a later dump; the container
    /// goes on running.
    pub pre_dump: bool,
    /// What criu does with the cgroups (criu's default, soft, if None).
    pub manage_cgroups_mode: Option<CgMode>,
    /// CLONE_NEW* flags of namespaces restored empty (runc's `--empty-ns`).
    /// The network namespace always is, as with runc: a runtime does not
    /// manage network devices, the engine sets them up again.
    pub empty_ns: u32,
    /// Deduplicate the images against the parent.
    pub auto_dedup: bool,
    /// A descriptor of the caller's that gets a `\0` and is closed when
    /// criu reports "status-ready" (runc's `--status-fd`).
    pub status_fd: Option<RawFd>,
}

/// Options of [`Context::restore`] (runc's `restore` flags).
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// The checkpoint's images. Required.
    pub image_path: PathBuf,
    /// Where criu writes its log (`restore.log`); the image path if None.
    pub work_path: Option<PathBuf>,
    /// Write the restored init's pid here (atomically).
    pub pid_file: Option<PathBuf>,
    /// Where the restored terminal's pty master goes (`process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot (checked as for create; criu restores the root).
    pub no_pivot: bool,
    /// Restore established TCP connections.
    pub tcp_established: bool,
    /// Allow unix sockets connected outside the container.
    pub ext_unix_sk: bool,
    /// The container was a shell job (a terminal of the caller's).
    pub shell_job: bool,
    /// Restore file locks.
    pub file_locks: bool,
    /// What criu does with the cgroups (criu's default, soft, if None).
    pub manage_cgroups_mode: Option<CgMode>,
    /// CLONE_NEW* flags of namespaces restored empty. The network
    /// namespace always is, as with runc.
    pub empty_ns: u32,
    /// Deduplicate the images while restoring.
    pub auto_dedup: bool,
    /// The LSM profile of the restored tree instead of the dumped one
    /// (`apparmor:NAME` or `selinux:LABEL`).
    pub lsm_profile: Option<String>,
    /// The SELinux `context=` of the restored mounts.
    pub lsm_mount_context: Option<String>,
    /// Let systemd make the cgroup (runc's `--systemd-cgroup`), as the
    /// checkpointed container's was made.
    pub systemd_cgroup: bool,
    /// Processes exec'd into the restored container keep the caller's
    /// session keyring (conmon passes `--no-new-keyring` to restore as to
    /// create).
    pub no_new_keyring: bool,
}

/// The first fd of criu's for an inherited namespace: 3 is the socket.
/// (The images and work directories are fds of ours: criu opens them
/// through /proc/PID/fd of its peer.)
const FIRST_NS_FD: i32 = 4;

/// The default devices every container gets (runc's list, as nook makes
/// them): nodes or, in a user namespace, bind mounts of the host's.
const DEFAULT_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

impl Container {
    /// Checkpoints the container into `opts.image_path` with criu. Unless
    /// `leave_running` or `pre_dump`, criu stops the container's processes
    /// and the container is deleted (its poststop hooks run), as with runc.
    /// A container that is not running (or paused) is refused before
    /// anything is made.
    pub fn checkpoint(&self, opts: &CheckpointOptions) -> Result<()> {
        let lock = self.dir.lock(&self.id)?;
        match self.status() {
            Status::Running | Status::Paused => {}
            s => {
                return Err(Error::state(
                    &self.id,
                    format!("Container cannot be checkpointed in {s} state"),
                ))
            }
        }
        if opts.image_path.as_os_str().is_empty() {
            return Err(Error::config("image path", "is empty"));
        }
        need_root()?;
        let spec = self.spec()?;
        let p = &self.persisted;
        // criu first: without it, no image directory is made either.
        let swrk = Swrk::spawn(Vec::new(), false)?;
        let images = make_dir(&opts.image_path)?;
        let work_path = opts.work_path.as_deref().unwrap_or(&opts.image_path);
        let work = make_dir(work_path)?;
        let rootfs = fs::canonicalize(&p.rootfs).map_err(|e| Error::io("resolving", &p.rootfs, e))?;

        let mut o = Opts {
            images_dir_fd: images.as_raw_fd(),
            work_dir_fd: Some(work.as_raw_fd()),
            pid: Some(p.pid),
            log_level: Some(4),
            log_file: Some("dump.log".into()),
            root: Some(rootfs.to_string_lossy().into_owned()),
            manage_cgroups: Some(true),
            notify_scripts: Some(true),
            shell_job: Some(opts.shell_job),
            leave_running: Some(opts.leave_running),
            tcp_established: Some(opts.tcp_established),
            ext_unix_sk: Some(opts.ext_unix_sk),
            file_locks: Some(opts.file_locks),
            empty_ns: Some(opts.empty_ns | NOT_MANAGED),
            orphan_pts_master: Some(true),
            auto_dedup: Some(opts.auto_dedup),
            manage_cgroups_mode: opts.manage_cgroups_mode,
            ..Opts::default()
        };
        for (kind, typ) in EXTERNAL_NS {
            if let Some(path) = joined_ns(&spec, typ) {
                let meta = fs::metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
                o.external
                    .push(format!("{kind}[{}]:{}", meta.ino(), criu::ns_key(kind)));
            }
        }
        // criu freezes the tree with the v1 freezer or the cgroup2
        // directory, else with ptrace.
        let paths = p.cgroup.paths();
        o.freeze_cgroup = paths
            .get("freezer")
            .or_else(|| paths.get(""))
            .map(|d| d.to_string_lossy().into_owned());
        if let Some(parent) = &opts.parent_path {
            o.parent_img = Some(parent.to_string_lossy().into_owned());
            o.track_mem = Some(true);
        }
        if !opts.pre_dump {
            let bundle = &p.bundle;
            o.ext_mnt = external_mounts(&spec, bundle, &rootfs, &p.cgroup)
                .into_iter()
                .map(|(dest, _)| (dest.clone(), dest))
                .collect();
            for masked in masked_files(&spec, p.pid) {
                o.ext_mnt.push((masked, "/dev/null".into()));
            }
            save_descriptors(&opts.image_path, p.pid)?;
        }
        let req = Req {
            typ: if opts.pre_dump {
                ReqType::PreDump
            } else {
                ReqType::Dump
            },
            opts: Some(o),
            notify_success: None,
        };
        let mut status_fd = opts.status_fd;
        swrk.call(&req, &work_path.join("dump.log"), |n| {
            if n.script == "status-ready" {
                if let Some(fd) = status_fd.take() {
                    signal_status_fd(fd);
                }
            }
            Ok(())
        })?;
        if opts.pre_dump || opts.leave_running {
            return Ok(());
        }
        // criu has killed the processes: the container is gone, as after
        // runc's checkpoint. delete takes the lock again.
        drop(lock);
        self.delete(true)
    }
}

impl Context {
    /// Restores container `id` from the checkpoint at `opts.image_path`,
    /// with the bundle at `bundle` (the one checkpointed, or a copy of it).
    /// The restored init is a child of the caller, as after
    /// [`Context::create`] and [`Container::start`]: `wait` works on it.
    ///
    /// An image directory that is not a checkpoint or a taken id is refused
    /// before anything is made; a failed restore leaves nothing behind (no
    /// state, cgroup or mount; criu kills what it had restored).
    pub fn restore(&self, id: &str, bundle: impl AsRef<Path>, opts: &RestoreOptions) -> Result<Container> {
        need_root()?;
        let bundle = Bundle::load(bundle)?;
        let mut plan = Plan::new(
            id,
            bundle,
            &PlanOptions {
                no_pivot: opts.no_pivot,
                no_new_keyring: opts.no_new_keyring,
                rootless: self.rootless,
                systemd_cgroup: opts.systemd_cgroup,
            },
        )?;
        if !opts.image_path.join(criu::INVENTORY).is_file() {
            return Err(Error::config(
                "image path",
                format!(
                    "{} is not a checkpoint (no {})",
                    opts.image_path.display(),
                    criu::INVENTORY
                ),
            ));
        }
        let terminal = plan.process.terminal;
        if terminal && opts.console_socket.is_none() && !opts.shell_job {
            return Err(Error::config(
                "console socket",
                "process.terminal is true: restore needs a console socket to send the pty master to",
            ));
        }
        let descriptors = load_descriptors(&opts.image_path)?;
        let dir = StateDir::create(&self.root, id)?;
        let restored = self.restore_in(&mut plan, dir, opts, &descriptors);
        if restored.is_err() {
            run_poststop_after_failure(&plan);
        }
        restored
    }

    /// The part of [`Context::restore`] that changes the host, in the
    /// state directory `dir`, which it owns.
    fn restore_in(
        &self,
        plan: &mut Plan,
        dir: StateDir,
        opts: &RestoreOptions,
        descriptors: &[String],
    ) -> Result<Container> {
        let id = plan.id.clone();
        let lock = dir.lock(&id)?;
        let mut guard = CreateGuard::new(&dir, lock);
        dir.write_intent(&Intent {
            id: id.clone(),
            cgroup: plan.cgroup.intended()?,
        })?;
        let cgroup = guard.make_cgroup(&plan.cgroup, 3)?;

        let images = open_dir(&opts.image_path)?;
        let work_path = opts.work_path.as_deref().unwrap_or(&opts.image_path);
        let work = make_dir(work_path)?;
        // Where a restore into a copy of the bundle finds none.
        plan.mounts.make_mount_points(&plan.rootfs)?;
        // criu wants a root that is a mount point whose parent is not
        // overmounted: the rootfs, bound into the state directory.
        let root = BoundRoot::new(&plan.rootfs, &dir.path.join("criu-root"))?;

        let mut o = Opts {
            images_dir_fd: images.as_raw_fd(),
            work_dir_fd: Some(work.as_raw_fd()),
            evasive_devices: Some(true),
            log_level: Some(4),
            log_file: Some("restore.log".into()),
            rst_sibling: Some(true),
            root: Some(root.path.to_string_lossy().into_owned()),
            manage_cgroups: Some(true),
            notify_scripts: Some(true),
            shell_job: Some(opts.shell_job),
            ext_unix_sk: Some(opts.ext_unix_sk),
            tcp_established: Some(opts.tcp_established),
            file_locks: Some(opts.file_locks),
            empty_ns: Some(opts.empty_ns | NOT_MANAGED),
            orphan_pts_master: Some(true),
            auto_dedup: Some(opts.auto_dedup),
            manage_cgroups_mode: opts.manage_cgroups_mode,
            lsm_profile: opts.lsm_profile.clone(),
            lsm_mount_context: opts.lsm_mount_context.clone(),
            ..Opts::default()
        };
        let mut extra = Vec::new();
        for (kind, typ) in EXTERNAL_NS {
            if let Some(path) = joined_ns(&plan.spec, typ) {
                let fd = fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
                o.inherit_fd
                    .push((criu::ns_key(kind), FIRST_NS_FD + extra.len() as i32));
                extra.push(OwnedFd::from(fd));
            }
        }
        let mut ext_mnt = external_mounts(&plan.spec, &plan.bundle, &plan.rootfs, &cgroup);
        let masked = plan
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.masked_paths().as_ref())
            .is_some_and(|m| !m.is_empty());
        if masked {
            ext_mnt.push(("/dev/null".into(), "/dev/null".into()));
        }
        ext_mnt.dedup();
        o.ext_mnt = ext_mnt;
        // The pipes among the checkpointed stdio become ours (criu's
        // stdio are ours): a restored `sh > pipe` writes to our stdout.
        for (i, d) in descriptors.iter().enumerate().take(3) {
            if d.contains("pipe:") {
                o.inherit_fd.push((d.clone(), i as i32));
            }
        }

        let swrk = Swrk::spawn(extra, true)?;
        // criu restores the tree into the container's new cgroup, where
        // it is itself.
        plan.cgroup.enter(&cgroup, swrk.pid(), &[])?;
        o.cg_root = cgroup_roots(swrk.pid())?;
        let req = Req {
            typ: ReqType::Restore,
            opts: Some(o),
            notify_success: None,
        };
        let annotations = plan.spec.annotations().clone().unwrap_or_default();
        let mut restored_pid = 0;
        let criu_pid = swrk.pid();
        let criu_start = state::pid_start_time(criu_pid).unwrap_or(0);
        let called = swrk.call(&req, &work_path.join("restore.log"), |n| {
            match n.script.as_str() {
                "setup-namespaces" => {
                    let state = |status| hooks::state_json(&id, status, n.pid, &plan.bundle, &annotations);
                    hooks::run(hooks::Kind::Prestart, &plan.hooks.hooks, &state("created"))?;
                    hooks::run(hooks::Kind::CreateRuntime, &plan.hooks.hooks, &state("creating"))?;
                }
                "post-restore" => restored_pid = n.pid,
                "orphan-pts-master" => {
                    if let (Some(master), Some(socket)) = (n.fd, &opts.console_socket) {
                        send_console(socket, master)?;
                    }
                }
                _ => {}
            }
            Ok(())
        });
        let resp = match called {
            Ok(resp) => resp,
            Err(e) => {
                reap_failed_restore(criu_pid, criu_start);
                return Err(e);
            }
        };
        drop(root);
        let pid = resp.restore_pid.filter(|&p| p > 0).unwrap_or(restored_pid);
        let persisted = persisted_for(plan, pid, cgroup, opts.no_new_keyring);
        let saved = dir.save(&persisted).and_then(|()| match &opts.pid_file {
            Some(f) => state::write_atomic(f, pid.to_string().as_bytes(), 0o644),
            None => Ok(()),
        });
        if let Err(e) = saved {
            if pid > 0 {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
            }
            return Err(e);
        }
        guard.armed = false;
        drop(guard);
        Ok(Container { id, dir, persisted })
    }
}

/// Reaps the root task of a restore criu gave up (criu kills it): with
/// `rst_sibling` it is our child, and it would stay a zombie. It is found
/// as a child of ours forked by criu (named "criu") since criu started,
/// criu itself being reaped already; it is killed first, in case it has
/// not died yet.
fn reap_failed_restore(criu_pid: i32, criu_start: u64) {
    let me = std::process::id().to_string();
    let Ok(dir) = fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Some(stat) = state::ProcStat::read(pid) else {
            continue;
        };
        let ours = stat.field(1) == Some(me.as_str()) && stat.comm() == "criu" && pid != criu_pid;
        let since = stat
            .field(19)
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|t| t >= criu_start);
        if ours && since {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        }
    }
}

/// criu needs root (as runc says, it does not checkpoint or restore
/// rootless containers).
fn need_root() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(Error::Unsupported {
        what: "checkpoint and restore as an unprivileged user (criu needs root), so this".into(),
    })
}

/// The namespaces criu takes as external when joined by path: criu's
/// name for them, and the OCI type.
const EXTERNAL_NS: [(&str, LinuxNamespaceType); 2] = [
    ("net", LinuxNamespaceType::Network),
    ("pid", LinuxNamespaceType::Pid),
];

/// The path of namespace `typ` when the spec joins an existing one.
fn joined_ns(spec: &Spec, typ: LinuxNamespaceType) -> Option<PathBuf> {
    spec.linux()
        .as_ref()?
        .namespaces()
        .as_ref()?
        .iter()
        .find(|n| n.typ() == typ)?
        .path()
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
}

/// (destination, host source) of every mount criu must take as external:
/// the spec's bind mounts, the cgroup hierarchies a `cgroup` mount binds
/// (all but a pure cgroup v2 host's own cgroup2 mount in a cgroup
/// namespace), and the device nodes, which are bind mounts in a user
/// namespace (criu ignores the entries that are no mount).
///
/// A destination is named as the mount is (and as runc names it): with
/// the symlinks in the rootfs resolved.
fn external_mounts(
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    cgroup: &crate::cgroups::Cgroup,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let sources = cgroup.mount_sources();
    let pure_v2 = matches!(sources.as_slice(), [one] if one.name.is_empty());
    let cgroupns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup));
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let resolved = crate::mounts::resolve::resolve_in_root(rootfs, m.destination());
        let dest = clean(resolved.as_deref().unwrap_or(m.destination()));
        let typ = m.typ().as_deref().unwrap_or_default();
        let bind = typ == "bind"
            || m.options()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|o| o == "bind" || o == "rbind");
        if bind {
            let source = m.source().clone().unwrap_or_default();
            let source = if source.is_relative() {
                bundle.join(source)
            } else {
                source
            };
            // criu takes the source as it is (open_tree without following
            // a last symlink): on a merged-/usr host a bind of /bin is one
            // of /usr/bin, as create mounted it.
            let source = fs::canonicalize(&source).unwrap_or(source);
            out.push((dest, source.to_string_lossy().into_owned()));
        } else if typ == "cgroup" && !(pure_v2 && cgroupns) {
            for s in &sources {
                let d = if s.name.is_empty() {
                    dest.clone()
                } else {
                    format!("{}/{}", dest.trim_end_matches('/'), s.name)
                };
                out.push((d, s.source.to_string_lossy().into_owned()));
            }
        }
    }
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .map(|d| d.iter().map(|d| clean(d.path())).collect::<Vec<_>>())
        .unwrap_or_default();
    for d in DEFAULT_DEVICES.iter().map(|d| d.to_string()).chain(devices) {
        if !out.iter().any(|(dest, _)| *dest == d) {
            out.push((d.clone(), d));
        }
    }
    out
}

/// The masked paths of the spec that are files in the container (bind
/// mounts of /dev/null; masked directories are read-only tmpfs mounts,
/// which criu dumps itself), as runc lists them.
fn masked_files(spec: &Spec, pid: i32) -> Vec<String> {
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    masked
        .iter()
        .filter(|m| {
            fs::metadata(format!("/proc/{pid}/root/{}", m.trim_start_matches('/')))
                .is_ok_and(|meta| !meta.is_dir())
        })
        .map(|m| clean(Path::new(m)))
        .collect()
}

/// `path` as criu names mount points: absolute, without `.`, `..` (taken
/// lexically, as in the container's root) or a trailing slash.
fn clean(path: &Path) -> String {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let mut s = String::new();
    for p in parts {
        s.push('/');
        s.push_str(&p.to_string_lossy());
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// Writes `descriptors.json`: what the init's fds 0, 1 and 2 are
/// (`/proc/PID/fd/N` links: "pipe:[INODE]", "/dev/null", ...), in runc's
/// format, so that a restore gives the pipes among them to its caller.
fn save_descriptors(images: &Path, pid: i32) -> Result<()> {
    let fds: Vec<String> = (0..3)
        .map(|n| {
            fs::read_link(format!("/proc/{pid}/fd/{n}"))
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let json = serde_json::to_vec(&fds).expect("strings serialise");
    state::write_atomic(&images.join(criu::DESCRIPTORS), &json, 0o600)
}

/// Reads `descriptors.json`; a checkpoint without one (not made by nook
/// or runc) inherits nothing.
fn load_descriptors(images: &Path) -> Result<Vec<String>> {
    let path = images.join(criu::DESCRIPTORS);
    match fs::read(&path) {
        Ok(text) => serde_json::from_slice(&text).map_err(|e| Error::io("parsing", path, e.into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}

/// Makes directory `path` (0700, parents too) if missing and opens it.
fn make_dir(path: &Path) -> Result<OwnedFd> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io("creating", path, e))?;
    open_dir(path)
}

/// An O_DIRECTORY descriptor of `path` (close-on-exec; criu gets a copy).
fn open_dir(path: &Path) -> Result<OwnedFd> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| Error::io("opening", path, e))
}

/// The cgroup roots criu restores into: criu's own cgroup
/// (`/proc/PID/cgroup`, criu being in the new container cgroup), for each
/// v1 controller as runc names them, and for cgroup2 as the root of every
/// controller not named (as crun does): the tree dumped from the old
/// container's cgroup goes into the new one, whatever its id.
fn cgroup_roots(criu_pid: i32) -> Result<Vec<(Option<String>, String)>> {
    let path = format!("/proc/{criu_pid}/cgroup");
    let text = fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    let mut roots = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(cg)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            roots.push((None, cg.to_string()));
        } else {
            roots.extend(ctrls.split(',').map(|c| (Some(c.to_string()), cg.to_string())));
        }
    }
    Ok(roots)
}

/// Sends the restored terminal's pty master to the console socket, as
/// create's init does.
fn send_console(socket: &Path, master: OwnedFd) -> Result<()> {
    let conn =
        std::os::unix::net::UnixStream::connect(socket).map_err(|e| Error::io("connecting to", socket, e))?;
    crate::sys::send_fd(conn.as_fd(), b"/dev/ptmx", master.as_fd()).map_err(|e| Error::Sys {
        call: format!("sendmsg({}, pty master)", socket.display()),
        errno: e,
    })
}

/// Writes `\0` to the caller's status fd and closes it (runc's
/// `--status-fd`): criu is ready.
fn signal_status_fd(fd: RawFd) {
    // Reopened through /proc: a raw number cannot be owned without unsafe.
    if let Ok(mut f) = fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
    {
        let _ = std::io::Write::write_all(&mut f, &[0]);
    }
    let _ = nix::unistd::close(fd);
}

/// The rootfs bind-mounted (recursively) at `path`; unmounted and the
/// directory removed on drop.
struct BoundRoot {
    path: PathBuf,
}

impl BoundRoot {
    fn new(rootfs: &Path, path: &Path) -> Result<BoundRoot> {
        fs::create_dir(path).map_err(|e| Error::io("creating", path, e))?;
        let bound = BoundRoot {
            path: path.to_path_buf(),
        };
        nix::mount::mount(
            Some(rootfs),
            path,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| {
            Error::sys(
                format!("mount({}, {}, MS_BIND|MS_REC)", rootfs.display(), path.display()),
                e,
            )
        })?;
        Ok(bound)
    }
}

impl Drop for BoundRoot {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
        let _ = fs::remove_dir(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_named_as_criu_names_them() {
        assert_eq!(clean(Path::new("/out/")), "/out");
        assert_eq!(clean(Path::new("out/./x")), "/out/x");
        assert_eq!(clean(Path::new("/a/../../b")), "/b");
        assert_eq!(clean(Path::new("/")), "/");
    }

    #[test]
    fn binds_devices_and_cgroup_binds_are_external() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/out/", "type": "bind", "source": "/srv/out", "options": ["rbind"]},
                {"destination": "/data", "source": "data", "options": ["bind", "ro"]}
            ],
            "linux": {"devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]}
        }))
        .unwrap();
        let rootfs = tempfile::tempdir().unwrap();
        std::fs::create_dir(rootfs.path().join("srv")).unwrap();
        std::os::unix::fs::symlink("/srv", rootfs.path().join("data")).unwrap();
        let ext = external_mounts(
            &spec,
            Path::new("/b"),
            rootfs.path(),
            &crate::cgroups::Cgroup::default(),
        );
        assert_eq!(ext[0], ("/out".to_string(), "/srv/out".to_string()));
        // /data is a symlink to /srv in the rootfs: the mount is on /srv.
        assert_eq!(ext[1], ("/srv".to_string(), "/b/data".to_string()));
        assert!(ext.contains(&("/dev/null".to_string(), "/dev/null".to_string())));
        assert!(ext.contains(&("/dev/fuse".to_string(), "/dev/fuse".to_string())));
        assert!(!ext.iter().any(|(d, _)| d == "/proc"));
    }

    #[test]
    fn a_bind_source_through_a_symlink_is_named_resolved() {
        let host = tempfile::tempdir().unwrap();
        let real = host.path().join("usr-bin");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink("usr-bin", host.path().join("bin")).unwrap();
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "mounts": [{"destination": "/bin", "type": "bind", "source": host.path().join("bin"),
                        "options": ["rbind", "ro"]}]
        }))
        .unwrap();
        let rootfs = tempfile::tempdir().unwrap();
        let ext = external_mounts(
            &spec,
            Path::new("/b"),
            rootfs.path(),
            &crate::cgroups::Cgroup::default(),
        );
        let real = real.canonicalize().unwrap();
        assert_eq!(ext[0], ("/bin".to_string(), real.to_string_lossy().into_owned()));
    }
}

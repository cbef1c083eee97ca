//! From a loaded bundle to an immutable, fully validated [`Plan`].
//!
//! [`Plan::new`] is the only way to get a plan, so nothing can reach the host
//! without passing validation: every check that needs no side effect runs
//! here, and a bad config yields one [`Error`] naming the field.
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::path::PathBuf;

use oci_spec::runtime::{Process, Spec};

use crate::bundle::Bundle;
use crate::cgroups::{self, CgroupPlan};
use crate::error::{Error, Result};
use crate::hooks::HookPlan;
use crate::mounts::MountPlan;
use crate::namespaces::NamespacePlan;
use crate::process::ProcessPlan;
use crate::seccomp::{self, Program};

/// Options that come from the command line rather than from config.json.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`: keep the caller's session keyring.
    pub no_new_keyring: bool,
    /// Rootless mode (see [`crate::rootless`]).
    pub rootless: bool,
    /// `--systemd-cgroup`: systemd makes the cgroup (see [`cgroups::plan_systemd`]).
    pub systemd_cgroup: bool,
}

/// Everything needed to create a container, validated and prepared.
#[derive(Debug)]
pub struct Plan {
    /// The container id.
    pub id: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// The rootfs on the host.
    pub rootfs: PathBuf,
    /// The spec as loaded (annotations, hooks).
    pub spec: Spec,
    /// Namespaces.
    pub namespaces: NamespacePlan,
    /// Filesystem view.
    pub mounts: MountPlan,
    /// The process.
    pub process: ProcessPlan,
    /// Cgroup placement and resources.
    pub cgroup: CgroupPlan,
    /// The compiled seccomp filter.
    pub seccomp: Option<Program>,
    /// Name of the session keyring the init joins (the container id, as in
    /// runc), or None with `--no-new-keyring`.
    pub keyring: Option<CString>,
    /// The lifecycle hooks.
    pub hooks: HookPlan,
}

impl Plan {
    /// Validates `bundle` for container `id`.
    pub fn new(id: &str, bundle: Bundle, opts: &PlanOptions) -> Result<Plan> {
        crate::id::validate_id(id)?;
        let spec = bundle.spec;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::config("root", "is required"))?;
        if root.path().as_os_str().is_empty() {
            return Err(Error::config("root.path", "is empty"));
        }
        let rootfs = bundle.dir.join(root.path());
        let namespaces = NamespacePlan::from_spec(&spec)?;
        refuse_net_devices(&spec, &namespaces)?;
        // Read once: the mounts' label and the process's labels follow it.
        let lsm = crate::lsm::Host::detect();
        let mounts = MountPlan::from_spec(&spec, &rootfs, &namespaces, opts.no_pivot, lsm)?;
        let process = ProcessPlan::from_spec(&spec, &namespaces, lsm)?;
        if opts.rootless {
            crate::rootless::validate(&spec, &namespaces)?;
        }
        let cgroup = if opts.systemd_cgroup {
            cgroups::plan_systemd(&with_default_device_rules(&spec), id, opts.rootless)?
        } else {
            cgroups::plan_for(&with_default_device_rules(&spec), id, opts.rootless)?
        };
        let seccomp = seccomp_of(&spec)?;
        let keyring = keyring(id, opts.no_new_keyring);
        let hooks = HookPlan::from_spec(&spec)?;
        Ok(Plan {
            keyring,
            hooks,
            id: id.to_string(),
            bundle: bundle.dir,
            rootfs,
            spec,
            namespaces,
            mounts,
            process,
            cgroup,
            seccomp,
        })
    }
}

/// Everything needed to start an extra process in a running container
/// (`exec`), validated and prepared like a [`Plan`].
#[derive(Debug)]
pub struct ExecPlan {
    /// The container id.
    pub id: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// The container's spec, as loaded from its bundle.
    pub spec: Spec,
    /// The container's namespaces, all joined.
    pub namespaces: NamespacePlan,
    /// The process to run, validated with the rules of the container's init.
    pub process: ProcessPlan,
    /// The container's seccomp filter, which the process gets too.
    pub seccomp: Option<Program>,
    /// The container's session keyring, joined as the init did (None with
    /// `--no-new-keyring`), so the process does not share the caller's.
    pub keyring: Option<CString>,
}

impl ExecPlan {
    /// Validates `process` for the container `id` from `bundle`, whose init
    /// is `init_pid` and which was created with `no_new_keyring`.
    pub fn new(
        id: &str,
        bundle: Bundle,
        process: &Process,
        init_pid: i32,
        no_new_keyring: bool,
    ) -> Result<ExecPlan> {
        let spec = bundle.spec;
        // As runc: a process without `capabilities` gets the container's,
        // not the runtime's full set (CAP_SYS_ADMIN and CAP_SYS_PTRACE on
        // the host, for a container without a user namespace); one without
        // an AppArmor profile or SELinux label gets the container's, so
        // exec cannot leave the container's confinement by omission.
        let mut p = process.clone();
        if let Some(init) = spec.process() {
            let unset = |v: &Option<String>| v.as_deref().unwrap_or_default().is_empty();
            if p.capabilities().is_none() {
                p.set_capabilities(init.capabilities().clone());
            }
            if unset(p.apparmor_profile()) {
                p.set_apparmor_profile(init.apparmor_profile().clone());
            }
            if unset(p.selinux_label()) {
                p.set_selinux_label(init.selinux_label().clone());
            }
        }
        let mut process = ProcessPlan::from_process(&p, crate::lsm::Host::detect())?;
        // The container's persona holds for what runs in it (runc's
        // personality.bats "with exec"): a process is not born with it.
        process.sched = process.sched.with_personality(&spec)?;
        let namespaces = NamespacePlan::from_spec(&spec)?.joining(init_pid);
        let seccomp = seccomp_of(&spec)?;
        Ok(ExecPlan {
            id: id.to_string(),
            bundle: bundle.dir,
            spec,
            namespaces,
            process,
            seccomp,
            keyring: keyring(id, no_new_keyring),
        })
    }
}

/// `linux.netDevices` (host network devices moved into the container) is
/// not done by nook: refused, naming the field, rather than a container
/// started without the devices it asked for. Without a network namespace
/// of its own there is nowhere to move them (runc's wording).
fn refuse_net_devices(spec: &Spec, ns: &NamespacePlan) -> Result<()> {
    let asked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .is_some_and(|d| !d.is_empty());
    if !asked {
        return Ok(());
    }
    if !ns.has(oci_spec::runtime::LinuxNamespaceType::Network) {
        return Err(Error::config(
            "linux.netDevices",
            "unable to move network devices without a NET namespace",
        ));
    }
    Err(Error::Unsupported {
        what: "linux.netDevices (moving host network devices into the container)".into(),
    })
}

/// The session keyring of container `id`: named after it, as in runc.
fn keyring(id: &str, no_new_keyring: bool) -> Option<CString> {
    (!no_new_keyring).then(|| CString::new(id).expect("validated id has no NUL"))
}

/// The compiled `linux.seccomp` filter of `spec`, if it has one.
fn seccomp_of(spec: &Spec) -> Result<Option<Program>> {
    match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => seccomp::compile(profile).map(Some),
        None => Ok(None),
    }
}

/// The spec as the cgroup code should see it: runc's device policy (deny
/// all, the spec's rules, runc's defaults), rules or not.
fn with_default_device_rules(spec: &Spec) -> Spec {
    let mut spec = spec.clone();
    if let Some(linux) = spec.linux_mut() {
        let res = cgroups::with_runtime_defaults(linux.resources().as_ref());
        linux.set_resources(Some(res));
    }
    spec
}

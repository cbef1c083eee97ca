//! Rootless mode: containers of an unprivileged user.
//!
//! runc's rules, which nook follows so engines see the same behaviour:
//!
//! * **Rootless or not.** `--rootless auto` (the default) means rootless
//!   when the effective uid is not 0, or when it is 0 inside a user
//!   namespace that is not the host's (runc's
//!   `shouldUseRootlessCgroupManager` in `rootless_linux.go`). Rootless only
//!   changes how cgroups are handled and which checks run before anything
//!   touches the host; everything else is the kernel's business: an
//!   unprivileged user gets a container through a user namespace that maps
//!   its own uid and gid to root (`nook spec --rootless`).
//! * **State root.** `$XDG_RUNTIME_DIR/nook` for a non-root user when the
//!   variable is set, else `/run/nook` (runc: `$XDG_RUNTIME_DIR/runc` and
//!   `/run/runc`, `shouldHonorXDGRuntimeDir` in `main.go`). Root in a user
//!   namespace uses XDG_RUNTIME_DIR too unless `$USER` is `root`. `--root`
//!   always wins.
//! * **Cgroups.** A cgroup the user may not create is skipped when the spec
//!   sets no limit and no `linux.cgroupsPath`; a limit (or an explicit path)
//!   without a cgroup is an error naming the resource (runc:
//!   "cannot set memory limit: container could not join or create cgroup").
//!   Device rules are dropped: an unprivileged user can neither write
//!   `devices.allow` nor attach a BPF device program, and a user namespace
//!   cannot mknod devices anyway (runc ignores the devices controller's
//!   errors when rootless). A cgroup delegated to the user (a cgroup2
//!   subtree it owns, the systemd `Delegate=yes` way) is used like any
//!   other: with a relative `cgroupsPath` (or none: the container id),
//!   which on cgroup2 is relative to the parent of the caller's own cgroup.
//! * **Id maps.** An unprivileged process may write a single line mapping
//!   its own euid (and, after writing "deny" to `/proc/PID/setgroups`, its
//!   own egid). Anything else goes through the setuid helpers
//!   `newuidmap`/`newgidmap` (package `uidmap`), as runc's nsexec does, or
//!   fails with an error saying they are needed.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::namespaces::NamespacePlan;

/// The default state root when none is given: `/run/nook` for root,
/// `$XDG_RUNTIME_DIR/nook` for an unprivileged user (runc's rule).
pub fn default_root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() && honor_xdg_runtime_dir() => PathBuf::from(dir).join("nook"),
        _ => PathBuf::from("/run/nook"),
    }
}

/// Prepares [`default_root`] as runc does: under XDG_RUNTIME_DIR it is
/// created with mode 0700 plus the sticky bit, which the XDG base
/// directory spec asks for so periodic clean-ups leave it alone (runc's
/// `main.go`). `/run/nook` is left to [`crate::Context::create`].
pub fn prepare_default_root() -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let root = default_root();
    if root != std::path::Path::new("/run/nook") {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)
            .map_err(|e| Error::io("creating state root", &root, e))?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o1700))
            .map_err(|e| Error::io("chmod 01700", &root, e))?;
    }
    Ok(root)
}

/// runc's `shouldHonorXDGRuntimeDir`: yes for a non-root user; no for the
/// host's root (whose XDG_RUNTIME_DIR may be /run/user/0, but whose
/// containers live in /run/nook); for root in a user namespace, yes unless
/// `$USER` says `root` (e.g. `sudo` inside a rootless environment).
fn honor_xdg_runtime_dir() -> bool {
    if !nix::unistd::geteuid().is_root() {
        return true;
    }
    if !running_in_user_namespace() {
        return false;
    }
    std::env::var("USER").map_or(true, |u| u != "root")
}

/// Rootless mode as `--rootless auto` decides it: the effective uid is not
/// 0, or we are root only inside a user namespace.
pub fn detect() -> bool {
    !nix::unistd::geteuid().is_root() || running_in_user_namespace()
}

/// Whether this process lives in a user namespace other than the initial
/// one: the initial namespace's `uid_map` is the identity over all 2^32 ids.
pub fn running_in_user_namespace() -> bool {
    match crate::procfile::read_to_string("/proc/self/uid_map") {
        Ok(map) => !is_initial_uid_map(&map),
        Err(_) => false,
    }
}

fn is_initial_uid_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// Parses runc's `--rootless` value: `true`, `false` or `auto` (None).
pub fn parse_flag(value: &str) -> Option<Option<bool>> {
    match value {
        "true" | "1" => Some(Some(true)),
        "false" | "0" => Some(Some(false)),
        "auto" | "" => Some(None),
        _ => None,
    }
}

/// Checks, before anything touches the host, what an unprivileged
/// caller cannot do, naming the field (runc's `validate/rootless.go`
/// checks the first two; the rlimit check saves a failure half-way
/// through set-up):
/// * a user namespace is required (unless we are root in one already);
/// * `uid=`/`gid=` mount options must name ids the user namespace maps;
/// * an rlimit's hard limit cannot exceed the caller's own, since raising
///   it needs CAP_SYS_RESOURCE in the host's user namespace.
pub fn validate(spec: &Spec, ns: &NamespacePlan) -> Result<()> {
    let euid = nix::unistd::geteuid();
    if !euid.is_root() && !ns.has(LinuxNamespaceType::User) {
        return Err(Error::config(
            "linux.namespaces",
            format!(
                "rootless container requires user namespaces (running as uid {euid}; \
                 `nook spec --rootless` writes a config with one)"
            ),
        ));
    }
    let linux = spec.linux().as_ref();
    let new_userns = ns.id_maps.is_some();
    if new_userns {
        let uids = linux
            .and_then(|l| l.uid_mappings().as_deref())
            .unwrap_or_default();
        let gids = linux
            .and_then(|l| l.gid_mappings().as_deref())
            .unwrap_or_default();
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            for o in m.options().iter().flatten() {
                let (kind, maps, id) = if let Some(v) = o.strip_prefix("uid=") {
                    ("uid", uids, v)
                } else if let Some(v) = o.strip_prefix("gid=") {
                    ("gid", gids, v)
                } else {
                    continue;
                };
                // Like runc, ignore values that are not numbers.
                let Ok(id) = id.parse::<u32>() else { continue };
                if !maps_id(maps, id) {
                    return Err(Error::config(
                        format!("mounts[{i}].options"),
                        format!(
                            "cannot specify {kind}={id} mount option for rootless container: \
                             {kind} {id} is not mapped in the user namespace"
                        ),
                    ));
                }
            }
        }
    }
    if !euid.is_root() {
        let process = spec.process().as_ref();
        let gids = linux
            .and_then(|l| l.gid_mappings().as_deref())
            .unwrap_or_default();
        let own_gid_only = matches!(gids, [m] if m.container_id() == 0 && m.size() == 1
            && m.host_id() == nix::unistd::getegid().as_raw());
        let extra = process.and_then(|p| p.user().additional_gids().as_ref());
        if new_userns && own_gid_only && extra.is_some_and(|g| !g.is_empty()) {
            return Err(Error::config(
                "process.user.additionalGids",
                "cannot set additional groups in a rootless container that maps only the \
                 caller's gid: the kernel denies setgroups there (map more gids, which needs newgidmap)",
            ));
        }
        for (i, r) in process
            .and_then(|p| p.rlimits().as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let res = crate::process::rlimit_resource(r.typ());
            let Some(max) = caller_hard_limit(res) else {
                continue;
            };
            if r.hard() > max {
                return Err(Error::config(
                    format!("process.rlimits[{i}]"),
                    format!(
                        "{} hard limit {} is above this user's {max}: raising it needs real root \
                         (CAP_SYS_RESOURCE in the host's user namespace)",
                        r.typ(),
                        r.hard()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `id` is a container id of one of `maps`.
fn maps_id(maps: &[LinuxIdMapping], id: u32) -> bool {
    maps.iter().any(|m| {
        let start = u64::from(m.container_id());
        (start..start + u64::from(m.size())).contains(&u64::from(id))
    })
}

/// The caller's hard limit of `resource`, None when unlimited or unknown.
fn caller_hard_limit(resource: libc::c_int) -> Option<u64> {
    let (_, hard) = crate::sys::getrlimit(resource).ok()?;
    (hard != libc::RLIM_INFINITY).then_some(hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_uid_map_is_the_identity() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0      65534          1\n"));
        assert!(!is_initial_uid_map(""));
    }

    #[test]
    fn rootless_flag_values() {
        assert_eq!(parse_flag("true"), Some(Some(true)));
        assert_eq!(parse_flag("false"), Some(Some(false)));
        assert_eq!(parse_flag("auto"), Some(None));
        assert_eq!(parse_flag("maybe"), None);
    }
}

//! Loading an OCI bundle: `config.json` and the path of its root filesystem.
//!
//! Parsing goes through `serde_path_to_error` so a bad value is reported with
//! its JSON path (`linux.namespaces[2].type: unknown variant "foo"`), which is
//! what a user needs to fix a config by hand.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The OCI runtime-spec version nook implements (what `features` and the
/// state JSON report as `ociVersion`).
pub const OCI_VERSION: &str = "1.2.0";

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// A loaded bundle: its absolute directory and its parsed configuration.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute, canonical path of the bundle directory.
    pub dir: PathBuf,
    /// The parsed `config.json`.
    pub spec: Spec,
}

impl Bundle {
    /// Reads and parses `<dir>/config.json`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Bundle> {
        let dir = dir.as_ref();
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::io("opening bundle", dir, e))?;
        let path = dir.join("config.json");
        let text = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
        let spec = parse_spec(&text)?;
        Ok(Bundle { dir, spec })
    }

    /// A bundle from an already parsed spec (for embedders that build specs in code).
    pub fn from_spec(dir: impl AsRef<Path>, spec: Spec) -> Result<Bundle> {
        let dir = dir.as_ref();
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::io("opening bundle", dir, e))?;
        Ok(Bundle { dir, spec })
    }

    /// The root filesystem's path on the host: `root.path`, relative to the
    /// bundle when it is not absolute. Validation happens in [`crate::plan`].
    pub fn rootfs(&self) -> Option<PathBuf> {
        self.spec.root().as_ref().map(|r| self.dir.join(r.path()))
    }
}

/// Parses config.json text, naming the JSON path of the first bad field.
pub fn parse_spec(text: &[u8]) -> Result<Spec> {
    tracked(text).or_else(|e| {
        // Only a config that failed there pays for a second parse.
        if !e.path().to_string().starts_with("process.scheduler.flags") {
            return Err(spec_error(e));
        }
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(text) else {
            return Err(spec_error(e));
        };
        respell_scheduler_flags(v.pointer_mut("/process/scheduler/flags"));
        let text = serde_json::to_vec(&v).map_err(|e| Error::config("config.json", e.to_string()))?;
        tracked(&text).map_err(spec_error)
    })
}

/// JSON text into `T`, keeping the path of the first bad field. Every
/// tracked parse goes through this one function, from bytes: each other
/// input type (a `serde_json::Value`, a reader) would instantiate
/// serde_path_to_error's visitors for the whole `Spec` once more: 370 KiB
/// more text, and a run's peak RSS rose with it (benches/side-by-side.sh).
pub(crate) fn tracked<T: serde::de::DeserializeOwned>(
    text: &[u8],
) -> std::result::Result<T, serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(text))
}

/// oci-spec 0.10 spells two of the runtime spec's `process.scheduler.flags`
/// its own way (`SCHED_RESET_ON_FORK`, `SCHED_FLAG_D_L_OVERRUN`) and refuses
/// the spec's names, which runc's scheduler.bats and every engine write:
/// those two are given oci-spec's spelling before parsing again.
pub(crate) fn respell_scheduler_flags(flags: Option<&mut serde_json::Value>) {
    for f in flags.and_then(|f| f.as_array_mut()).into_iter().flatten() {
        let ours = match f.as_str() {
            Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
            Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
            _ => continue,
        };
        *f = ours.into();
    }
}

/// A config.json parse failure as nook reports it: the JSON path and what
/// is wrong there.
fn spec_error(e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    if e.inner().is_syntax() || e.inner().is_eof() {
        return Error::config("config.json", format!("malformed JSON: {}", e.into_inner()));
    }
    field_error(e, "config.json", "")
}

/// A value that does not fit, named by its JSON path under `prefix`, or as
/// `whole` where serde_path_to_error knows no path ("." for the root, "?").
pub(crate) fn field_error(
    e: serde_path_to_error::Error<serde_json::Error>,
    whole: &str,
    prefix: &str,
) -> Error {
    let path = e.path().to_string();
    let field = if path == "." || path == "?" {
        whole.to_string()
    } else {
        format!("{prefix}{path}")
    };
    Error::config(field, e.into_inner().to_string())
}

/// The config.json `nook spec` writes: runc's default, or with `rootless`
/// runc's `spec --rootless` (specconv.ToRootless): see [`to_rootless`].
pub fn default_spec(rootless: bool) -> Spec {
    use oci_spec::runtime::LinuxNamespaceType;
    let mut spec = Spec::default();
    spec.set_annotations(None);
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(true));
        // runc's spec has no inheritable set: a capability there survives
        // an execve of a file with inheritable file capabilities.
        if let Some(mut caps) = p.capabilities().clone() {
            caps.set_inheritable(None);
            p.set_capabilities(Some(caps));
        }
    }
    // runc gives a cgroup namespace only on a pure cgroup v2 host: on v1
    // the container would see its own cgroup as / in every hierarchy.
    if !crate::cgroups::unified_mode() {
        if let Some(linux) = spec.linux_mut() {
            let kept = linux.namespaces().clone().map(|ns| {
                ns.into_iter()
                    .filter(|n| n.typ() != LinuxNamespaceType::Cgroup)
                    .collect()
            });
            linux.set_namespaces(kept);
        }
    }
    // oci-spec's default carries youki's hostname and no device rule; runc's
    // spec has its own name and denies every device but the defaults.
    spec.set_hostname(Some("nook".to_string()));
    if let Some(res) = spec.linux_mut().as_mut().and_then(|l| l.resources_mut().as_mut()) {
        let mut deny = oci_spec::runtime::LinuxDeviceCgroup::default();
        deny.set_allow(false);
        deny.set_access(Some("rwm".to_string()));
        res.set_devices(Some(vec![deny]));
    }
    if rootless {
        to_rootless(
            &mut spec,
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
    }
    spec
}

/// Turns `spec` into one user `uid`/`gid` can run unprivileged, as runc's
/// `specconv.ToRootless` does:
/// * no network namespace (an unprivileged user could not configure one
///   anyway), and a new user namespace mapping `uid`/`gid` to root, one id
///   each: the only mapping a process may write without newuidmap;
/// * `/sys` becomes a read-only rbind of the host's: sysfs can only be
///   mounted by the owner of the network namespace, which is the host's;
/// * no `uid=`/`gid=` mount options (devpts' `gid=5` names an id that is
///   not mapped, so the mount would fail with EINVAL);
/// * no `linux.resources`: cgroup limits need a cgroup the user may write.
pub fn to_rootless(spec: &mut Spec, uid: u32, gid: u32) {
    use oci_spec::runtime::{LinuxIdMappingBuilder, LinuxNamespace, LinuxNamespaceType, Mount};
    let map = |host: u32| {
        LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(host)
            .size(1u32)
            .build()
            .expect("all fields set")
    };
    if let Some(linux) = spec.linux_mut() {
        let mut namespaces: Vec<LinuxNamespace> = linux
            .namespaces()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !matches!(n.typ(), LinuxNamespaceType::Network | LinuxNamespaceType::User))
            .collect();
        let mut user = LinuxNamespace::default();
        user.set_typ(LinuxNamespaceType::User);
        namespaces.push(user);
        linux.set_namespaces(Some(namespaces));
        linux.set_uid_mappings(Some(vec![map(uid)]));
        linux.set_gid_mappings(Some(vec![map(gid)]));
        linux.set_resources(None);
    }
    let mounts: Vec<Mount> = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|mut m| {
            if m.destination()
                .components()
                .eq(std::path::Path::new("/sys").components())
            {
                let mut sys = Mount::default();
                sys.set_destination("/sys".into());
                sys.set_typ(Some("none".into()));
                sys.set_source(Some("/sys".into()));
                sys.set_options(Some(
                    ["rbind", "nosuid", "noexec", "nodev", "ro"]
                        .map(String::from)
                        .to_vec(),
                ));
                return sys;
            }
            if let Some(opts) = m.options().clone() {
                let kept = opts
                    .into_iter()
                    .filter(|o| !o.starts_with("uid=") && !o.starts_with("gid="))
                    .collect();
                m.set_options(Some(kept));
            }
            m
        })
        .collect();
    spec.set_mounts(Some(mounts));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_is_runcs() {
        let spec = default_spec(false);
        assert_eq!(spec.hostname().as_deref(), Some("nook"));
        let devices = spec
            .linux()
            .as_ref()
            .unwrap()
            .resources()
            .as_ref()
            .unwrap()
            .devices()
            .clone()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&devices).unwrap(),
            serde_json::json!([{"allow": false, "access": "rwm"}])
        );
    }

    /// The `type` of each of `linux.namespaces`, in order.
    fn namespace_types(spec: &serde_json::Value) -> Vec<&str> {
        spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn default_spec_has_runcs_namespaces_and_no_inheritable_capabilities() {
        let v = serde_json::to_value(default_spec(false)).unwrap();
        let types = namespace_types(&v);
        // runc adds the cgroup namespace on a pure cgroup v2 host only.
        let mut want = vec!["pid", "network", "ipc", "uts", "mount"];
        if crate::cgroups::unified_mode() {
            want.push("cgroup");
        }
        assert_eq!(types, want);
        assert!(v["process"]["capabilities"].get("inheritable").is_none(), "{v}");
        assert!(v["process"]["capabilities"]["bounding"]
            .as_array()
            .is_some_and(|b| b.len() == 3));
        assert!(v.get("annotations").is_none(), "{v}");
    }

    #[test]
    fn the_runtime_specs_scheduler_flag_names_are_taken() {
        let spec = parse_spec(
            br#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},
                "scheduler":{"policy":"SCHED_OTHER","flags":["SCHED_FLAG_RESET_ON_FORK","SCHED_FLAG_DL_OVERRUN","SCHED_FLAG_RECLAIM"]}}}"#,
        )
        .unwrap();
        let flags = spec
            .process()
            .as_ref()
            .unwrap()
            .scheduler()
            .as_ref()
            .unwrap()
            .flags()
            .clone()
            .unwrap();
        use oci_spec::runtime::LinuxSchedulerFlag as F;
        assert_eq!(
            flags,
            vec![F::SchedResetOnFork, F::SchedFlagDLOverrun, F::SchedFlagReclaim]
        );
        let err = parse_spec(
            br#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},
                "scheduler":{"policy":"SCHED_OTHER","flags":["SCHED_FLAG_NOPE"]}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("process.scheduler.flags[0]"), "{err}");
    }

    #[test]
    fn rootless_spec_is_runcs_to_rootless() {
        let mut spec = default_spec(false);
        to_rootless(&mut spec, 1000, 1001);
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            v["linux"]["uidMappings"],
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}])
        );
        assert_eq!(
            v["linux"]["gidMappings"],
            serde_json::json!([{"containerID": 0, "hostID": 1001, "size": 1}])
        );
        let types = namespace_types(&v);
        assert!(
            types.contains(&"user") && !types.contains(&"network"),
            "{types:?}"
        );
        assert!(v["linux"].get("resources").is_none(), "{v}");
        let mounts = v["mounts"].as_array().unwrap();
        let sys = mounts.iter().find(|m| m["destination"] == "/sys").unwrap();
        assert_eq!(sys["type"], "none");
        assert_eq!(sys["source"], "/sys");
        assert_eq!(
            sys["options"],
            serde_json::json!(["rbind", "nosuid", "noexec", "nodev", "ro"])
        );
        for m in mounts {
            let opts = m["options"].as_array().cloned().unwrap_or_default();
            assert!(
                !opts.iter().any(|o| o.as_str().unwrap().starts_with("gid=")),
                "{m}"
            );
        }
    }

    #[test]
    fn malformed_json_names_the_file() {
        let err = parse_spec(b"{ not json").unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn unknown_namespace_names_the_field() {
        let err =
            parse_spec(br#"{"ociVersion":"1.2.0","linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}}"#)
                .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("linux.namespaces[1].type"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");
    }

    #[test]
    fn unknown_capability_names_the_field() {
        let err = parse_spec(
            br#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},
                "capabilities":{"bounding":["CAP_CHOWN","CAP_NOPE"]}}}"#,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("process.capabilities.bounding[1]"), "{msg}");
    }
}

//! What this build of nook supports, as the OCI "features" document
//! (runtime-spec features.md) that `nook features` prints.
#![forbid(unsafe_code)]

use serde_json::{json, Value};

use crate::bundle::OCI_VERSION;

/// The features document.
pub fn features() -> Value {
    let caps: Vec<String> = caps::all()
        .iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::mounts::known_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": true, "systemdUser": false },
            "seccomp": crate::seccomp::features(),
            // Whether nook supports them, whatever the host runs
            // (runtime-spec features-linux.md; runc says true too).
            "apparmor": { "enabled": true },
            "selinux": { "enabled": true },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": true } }
        },
        "annotations": annotations(crate::criu::usable())
    })
}

/// nook's own entries: its version and, when a criu nook can drive is in
/// PATH (see [`crate::criu::usable`]), that `checkpoint` and `restore`
/// work and with which criu (runc says
/// `org.opencontainers.runc.checkpoint.enabled`).
fn annotations(criu: Option<(std::path::PathBuf, String)>) -> Value {
    let mut a = json!({
        "org.opencontainers.runtime-spec.features.nook.version": env!("CARGO_PKG_VERSION")
    });
    if let Some((path, version)) = criu {
        a["org.opencontainers.runtime-spec.features.nook.checkpoint.enabled"] = json!("true");
        a["org.opencontainers.runtime-spec.features.nook.criu.version"] = json!(version);
        a["org.opencontainers.runtime-spec.features.nook.criu.path"] = json!(path);
    }
    a
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_lsms_are_reported_supported() {
        let f = super::features();
        assert_eq!(f["linux"]["apparmor"]["enabled"], true);
        assert_eq!(f["linux"]["selinux"]["enabled"], true);
    }

    #[test]
    fn checkpoint_is_reported_only_with_a_usable_criu() {
        let none = super::annotations(None);
        assert!(none
            .get("org.opencontainers.runtime-spec.features.nook.checkpoint.enabled")
            .is_none());
        let some = super::annotations(Some(("/usr/sbin/criu".into(), "3.17.1".into())));
        assert_eq!(
            some["org.opencontainers.runtime-spec.features.nook.checkpoint.enabled"],
            "true"
        );
        assert_eq!(
            some["org.opencontainers.runtime-spec.features.nook.criu.version"],
            "3.17.1"
        );
    }

    #[test]
    fn idmapped_mounts_are_reported() {
        let f = super::features();
        assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
        let opts = f["mountOptions"].as_array().unwrap();
        assert!(opts.iter().any(|o| o == "ridmap"));
    }
}

//! Loading an OCI bundle: `config.json` and the path of its root filesystem.
//!
//! Parsing goes through `serde_path_to_error` so a bad value is reported with
//! its JSON path (`linux.namespaces[2].type: unknown variant "foo"`), which is
//! what a user needs to fix a config by hand.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

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
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return Error::config("config.json", format!("malformed JSON: {inner}"));
        }
        // serde_path_to_error says "." for the root and "?" where no path is known.
        let field = if path == "." || path == "?" {
            "config.json".to_string()
        } else {
            path
        };
        Error::config(field, inner.to_string())
    })
}

/// The config.json `nook spec` writes: runc's default, or with `rootless`
/// a user namespace mapping the calling user to root and no network namespace.
pub fn default_spec(rootless: bool) -> Spec {
    let mut spec = if rootless {
        Spec::rootless(nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw())
    } else {
        Spec::default()
    };
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(true));
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
    spec
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
        assert!(default_spec(true)
            .linux()
            .as_ref()
            .unwrap()
            .uid_mappings()
            .is_some());
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

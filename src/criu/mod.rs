//! Checkpoint and restore through CRIU, as runc does it: criu's RPC
//! (`criu swrk`, protobuf over a socketpair), its version, its logs.
//!
//! This area knows criu, not containers: `container/checkpoint.rs` decides
//! what to tell criu about a container (its mounts, cgroups, namespaces,
//! stdio) and builds the [`proto::Opts`].
#![forbid(unsafe_code)]

pub mod proto;
pub mod rpc;

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The criu binary, looked up in PATH (runc's default `--criu`).
pub const BINARY: &str = "criu";

/// A file every criu image directory holds (written last by a dump): a
/// directory without it is not a checkpoint.
pub const INVENTORY: &str = "inventory.img";

/// The container's stdio at checkpoint time, in the image directory:
/// what `/proc/PID/fd/{0,1,2}` of the init linked to, as runc writes it.
pub const DESCRIPTORS: &str = "descriptors.json";

/// The oldest criu nook drives: 3.14 freezes a cgroup v2 tree, and the
/// RPC options nook sends all exist there.
pub const MIN_VERSION: (u32, u32) = (3, 14);

/// The criu found in PATH, if it reports a version nook can drive
/// ([`MIN_VERSION`] or newer), as `(path, "3.17.1")`. Runs `criu
/// --version` only: whether criu works on this kernel is for `criu check`
/// to say (it takes seconds and root), and a dump says it soon enough.
pub fn usable() -> Option<(PathBuf, String)> {
    let path = std::env::var_os("PATH")?;
    let bin = std::env::split_paths(&path)
        .map(|d| d.join(BINARY))
        .find(|p| p.is_file())?;
    let out = std::process::Command::new(&bin).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_version(&text)?;
    let mut parts = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
    let got = (parts.next()?, parts.next().unwrap_or(0));
    (got >= MIN_VERSION).then_some((bin, version))
}

/// The version out of `criu --version` ("Version: 3.17.1\n", maybe a
/// "GitID:" line after it).
fn parse_version(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// The error for a failed criu request: `what`, the log's path, and the
/// last error lines in it.
pub fn error(what: String, log: &Path) -> Error {
    Error::Criu {
        what,
        log: log.to_path_buf(),
        tail: log_tail(log),
    }
}

/// How many of the log's last error lines an error repeats.
const TAIL_LINES: usize = 10;

/// The last [`TAIL_LINES`] error lines of criu's log (criu marks them
/// "Error (file:line): ..."), each after a newline; or, when there are
/// none, its last lines, which say where it stopped. "" without a log.
fn log_tail(log: &Path) -> String {
    let Ok(text) = std::fs::read(log) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let errors: Vec<&str> = lines.iter().copied().filter(|l| l.contains("Error")).collect();
    let pick = if errors.is_empty() {
        &lines[..]
    } else {
        &errors[..]
    };
    pick[pick.len().saturating_sub(TAIL_LINES)..]
        .iter()
        .map(|l| format!("\n{l}"))
        .collect()
}

/// criu's key for an external namespace of `kind` ("net", "pid"), the
/// same on dump (`--external net[INODE]:KEY`) and restore (`inherit_fd`
/// of the namespace's fd under KEY): runc's keys, so that images move
/// between runc and nook.
pub fn ns_key(kind: &str) -> String {
    let mut k = kind.to_string();
    k[..1].make_ascii_uppercase();
    format!("extRoot{k}NS")
}

/// The CLONE_NEW* flag of an OCI namespace type (runc's `--empty-ns`
/// names), None for an unknown one.
pub fn namespace_flag(name: &str) -> Option<u32> {
    let flag = match name {
        "network" => libc::CLONE_NEWNET,
        "ipc" => libc::CLONE_NEWIPC,
        "uts" => libc::CLONE_NEWUTS,
        "mount" => libc::CLONE_NEWNS,
        "pid" => libc::CLONE_NEWPID,
        "user" => libc::CLONE_NEWUSER,
        "cgroup" => libc::CLONE_NEWCGROUP,
        _ => return None,
    };
    Some(flag as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_from_criu_s_output() {
        assert_eq!(parse_version("Version: 3.17.1\n").as_deref(), Some("3.17.1"));
        assert_eq!(
            parse_version("Version: 3.19\nGitID: v3.19-12-gabc\n").as_deref(),
            Some("3.19")
        );
        assert_eq!(parse_version("criu: command not found\n"), None);
    }

    #[test]
    fn namespace_keys_are_runc_s() {
        assert_eq!(ns_key("net"), "extRootNetNS");
        assert_eq!(ns_key("pid"), "extRootPidNS");
    }

    #[test]
    fn a_failure_ends_with_the_last_error_lines_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("dump.log");
        let mut text = String::from("(00.000001) Version: 3.17.1\n");
        for i in 0..12 {
            text += &format!("(00.1) Error (criu/mount.c:{i}): mnt: boom {i}\n(00.1) info {i}\n");
        }
        std::fs::write(&log, text).unwrap();
        let e = error("DUMP failed".into(), &log).to_string();
        assert!(
            e.starts_with(&format!(
                "criu failed: DUMP failed\nlog file: {}\n",
                log.display()
            )),
            "{e}"
        );
        assert!(
            e.contains("boom 11") && e.contains("boom 2\n") && !e.contains("boom 1\n"),
            "{e}"
        );
        assert!(!e.contains("info"), "{e}");

        let missing = error("x".into(), &dir.path().join("restore.log")).to_string();
        assert!(missing.ends_with("restore.log"), "{missing}");
    }
}

//! Containers without a mount namespace of their own: sharing the caller's
//! (no `mount` entry in `linux.namespaces`) or joining one by path. Read
//! back from the kernel: /proc/PID/ns/mnt, /proc/PID/root, and the host's
//! /proc/self/mountinfo before, during and after.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command};

use common::{eventually, mounts_under, ns_inode, Fixture};
use serde_json::json;

/// The host's mountinfo lines (whole: ids, options, propagation tags).
fn mountinfo() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The mount point field of a mountinfo line.
fn mount_point(line: &str) -> &str {
    line.split(' ').nth(4).unwrap_or("")
}

/// Lines in `b` but not in `a`, leaving out other tests' temp dirs (tests
/// of other binaries may run meanwhile on a shared machine) unless `ours`.
fn added(a: &BTreeSet<String>, b: &BTreeSet<String>, ours: &str) -> Vec<String> {
    b.difference(a)
        .filter(|l| {
            let m = mount_point(l);
            m.starts_with(ours) || !m.starts_with("/tmp/")
        })
        .cloned()
        .collect()
}

#[test]
fn a_container_without_a_mount_namespace_changes_only_its_rootfs_mounts() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["linux"]["namespaces"] =
        json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]);
    // Masking and read-only paths would change the host's /proc: refused
    // without a mount namespace (tested in the unit tests).
    let linux = f.config["linux"].as_object_mut().unwrap();
    linux.remove("maskedPaths");
    linux.remove("readonlyPaths");
    let rootfs = f.rootfs().to_string_lossy().into_owned();
    let before = mountinfo();

    let c = f.create("shared-mnt").unwrap();
    let pid = c.pid().to_string();
    assert_eq!(
        ns_inode(&pid, "mnt"),
        ns_inode("self", "mnt"),
        "not in the host's mount namespace"
    );
    // chroot, not pivot_root: only the container's process has the rootfs as its root.
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        f.rootfs()
    );
    assert_eq!(
        std::fs::read_link("/proc/self/root").unwrap(),
        std::path::Path::new("/")
    );

    let during = mountinfo();
    // Every mount the host had is still there, unchanged (ids, options,
    // propagation): `/` was not made slave, nothing was remounted.
    let gone: Vec<_> = before.difference(&during).collect();
    assert!(gone.is_empty(), "host mounts changed or removed: {gone:?}");
    // What is new is the container's mounts, all under its rootfs.
    let new = added(&before, &during, &rootfs);
    assert!(
        new.iter().any(|l| mount_point(l) == format!("{rootfs}/proc")),
        "the container's /proc is not in the host's table: {new:?}"
    );
    let elsewhere: Vec<_> = new
        .iter()
        .filter(|l| !mount_point(l).starts_with(&rootfs))
        .collect();
    assert!(elsewhere.is_empty(), "mounts outside the rootfs: {elsewhere:?}");
    assert!(
        !new.iter().any(|l| mount_point(l) == rootfs),
        "the rootfs was bound onto itself in the host's namespace"
    );

    // A process exec'd into it lands in the same root, not the host's.
    c.start().unwrap();
    let p = json!({"user": {"uid": 0, "gid": 0}, "args": ["sleep", "100"], "env": ["PATH=/bin"], "cwd": "/"});
    let e = c
        .exec_json(&p.to_string(), &nook::ExecOptions::default())
        .unwrap();
    let exec_root = std::fs::read_link(format!("/proc/{}/root", e.pid()));
    let exec_cwd = std::fs::read_link(format!("/proc/{}/cwd", e.pid()));
    let _ = e.kill(libc::SIGKILL);
    let _ = e.wait();
    assert_eq!(exec_root.unwrap(), f.rootfs(), "exec'd process's root");
    assert_eq!(exec_cwd.unwrap(), f.rootfs(), "exec'd process's cwd");

    c.delete(true).unwrap();
    // As with runc, the mounts stay in the shared namespace: the caller's to remove.
    let left = mounts_under(&f.rootfs());
    assert!(!left.is_empty());
    for m in left.iter().rev() {
        let st = Command::new("umount").arg("-l").arg(m).status().unwrap();
        assert!(st.success(), "umount {m}");
    }
    let after = mountinfo();
    let gone: Vec<_> = before.difference(&after).collect();
    assert!(gone.is_empty(), "host mounts changed or removed: {gone:?}");
    let new = added(&before, &after, &rootfs);
    assert!(
        new.is_empty(),
        "mounts left after removing the container's: {new:?}"
    );
}

/// A process in a mount namespace of its own (`unshare --mount`), sleeping;
/// killed by pid on drop.
struct Holder(Child);

impl Holder {
    fn start() -> Holder {
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sleep", "1000"])
            .spawn()
            .unwrap();
        let h = Holder(child);
        let pid = h.pid();
        assert!(
            eventually(|| ns_inode(&pid, "mnt") != ns_inode("self", "mnt")),
            "unshare did not enter a new mount namespace"
        );
        h
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_container_joins_a_mount_namespace_by_path() {
    let holder = Holder::start();
    let hpid = holder.pid();
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"},
        {"type": "mount", "path": format!("/proc/{hpid}/ns/mnt")}
    ]);
    let before = mountinfo();
    let theirs = || std::fs::read_to_string(format!("/proc/{hpid}/mountinfo")).unwrap();
    let c = f.create("joined-mnt").unwrap();
    let pid = c.pid().to_string();
    assert_eq!(
        ns_inode(&pid, "mnt"),
        ns_inode(&hpid, "mnt"),
        "did not join the namespace"
    );
    assert_ne!(ns_inode(&pid, "mnt"), ns_inode("self", "mnt"));
    // The container was set up in the joined namespace, as runc does it:
    // pivot_root made the rootfs that namespace's root (for the holder too),
    // with the container's mounts on it; the host's namespace got nothing.
    let rootfs = f.rootfs().to_string_lossy().into_owned();
    let theirs = theirs();
    let root_of = |l: &str| l.split(' ').nth(3).map(str::to_string);
    assert!(
        theirs
            .lines()
            .any(|l| mount_point(l) == "/" && root_of(l) == Some(rootfs.clone())),
        "{theirs}"
    );
    assert!(theirs.lines().any(|l| mount_point(l) == "/proc"), "{theirs}");
    let new = added(&before, &mountinfo(), &rootfs);
    assert!(new.is_empty(), "the host's namespace got mounts: {new:?}");
    c.delete(true).unwrap();
}

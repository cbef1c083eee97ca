//! Mount propagation of bind mounts (issue 13): each bind keeps the
//! propagation its options ask for, also under a shared container root,
//! and mounts travel host → container and container → host exactly as
//! that propagation says. Read back from both mountinfo files and from
//! files on the propagated mounts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{mounts_under, Fixture};
use nook::{Container, ExecOptions};
use serde_json::json;

/// A host directory made a shared mount point (a private peer group of its
/// own), with everything mounted below it, on the host or propagated there
/// from a container, unmounted on drop.
struct SharedDir(PathBuf);

impl SharedDir {
    fn new(dir: PathBuf) -> SharedDir {
        std::fs::create_dir_all(&dir).unwrap();
        let guard = SharedDir(dir);
        mount(&["--bind"], &guard.0, Some(&guard.0));
        // Private first: the peer group is then this mount's alone, not the
        // one of the host mount it was bound from.
        mount(&["--make-private"], &guard.0, None);
        mount(&["--make-shared"], &guard.0, None);
        guard
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        // Deepest first; lazily, so a busy one cannot stay behind.
        for _ in 0..10 {
            let mut left = mounts_under(&self.0);
            if left.is_empty() {
                return;
            }
            left.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for m in left {
                let _ = Command::new("umount").arg("-l").arg(&m).status();
            }
        }
    }
}

fn mount(args: &[&str], src: &Path, dst: Option<&Path>) {
    let mut cmd = Command::new("mount");
    cmd.args(args).arg(src);
    if let Some(d) = dst {
        cmd.arg(d);
    }
    assert!(cmd.status().unwrap().success(), "{cmd:?}");
}

/// The optional fields (`shared:N`, `master:N`, ...) of the mount at
/// `point` in `/proc/<pid>/mountinfo`, or None when nothing is mounted there.
fn tags(pid: &str, point: &Path) -> Option<Vec<String>> {
    let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let point = point.to_str().unwrap();
    info.lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(point))
        .map(|l| {
            let head = l.split(" - ").next().unwrap();
            head.split(' ').skip(6).map(str::to_string).collect()
        })
}

/// Runs `script` in the container with CAP_SYS_ADMIN; its exit status.
fn exec_admin(c: &Container, script: &str) -> i32 {
    let caps = json!(["CAP_SYS_ADMIN"]);
    let p = json!({
        "user": {"uid": 0, "gid": 0},
        "args": ["sh", "-c", script],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
    });
    let e = c.exec_json(&p.to_string(), &ExecOptions::default()).unwrap();
    e.wait().unwrap()
}

/// One container, rootfsPropagation `rshared` (what Kubernetes sets when a
/// volume is Bidirectional), with the same shared host directory bound
/// three times: `rshared` sees host mounts and shows its own on the host
/// (the same peer group: `shared:N` of the host directory), `rslave` sees
/// host mounts only (`master:N`, not shared), `rprivate` neither.
#[test]
fn bind_propagation_both_ways_under_a_shared_root() {
    let mut f = Fixture::new(&["sleep", "100"]);
    let vol = f.dir.path().join("vol");
    for d in ["host", "from-shared", "from-slave", "from-private"] {
        std::fs::create_dir_all(vol.join(d)).unwrap();
    }
    let shared = SharedDir::new(vol.clone());
    let group = tags("self", &shared.0).unwrap();
    let group = group.iter().find(|t| t.starts_with("shared:")).unwrap().clone();
    let master = group.replace("shared:", "master:");
    for (dest, prop) in [
        ("/shared", "rshared"),
        ("/slave", "rslave"),
        ("/private", "rprivate"),
    ] {
        f.mounts().push(json!({
            "destination": dest, "type": "bind", "source": vol, "options": ["rbind", prop, "rw"]
        }));
    }
    f.config["linux"]["rootfsPropagation"] = json!("rshared");
    let caps = json!(["CAP_SYS_ADMIN", "CAP_KILL"]);
    f.config["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    let c = f.create("prop-both").unwrap();
    c.start().unwrap();
    let pid = c.pid().to_string();

    let inside = |p: &str| tags(&pid, Path::new(p)).unwrap_or_else(|| panic!("{p} not mounted"));
    let t = inside("/shared");
    assert!(t.contains(&group), "rshared bind {t:?}, host {group}");
    let t = inside("/slave");
    assert!(
        t.contains(&master) && !t.iter().any(|x| x.starts_with("shared:")),
        "rslave bind {t:?}, host {group}"
    );
    let t = inside("/private");
    assert!(t.is_empty(), "rprivate bind {t:?}");

    // Host → container.
    mount(&["-t", "tmpfs"], Path::new("tmpfs"), Some(&vol.join("host")));
    std::fs::write(vol.join("host/f"), "from the host").unwrap();
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    for (dest, seen) in [("shared", true), ("slave", true), ("private", false)] {
        let point = Path::new("/").join(dest).join("host");
        assert_eq!(tags(&pid, &point).is_some(), seen, "host mount at {point:?}");
        let file = std::fs::read_to_string(root.join(dest).join("host/f")).ok();
        assert_eq!(
            file.as_deref() == Some("from the host"),
            seen,
            "{point:?}/f: {file:?}"
        );
    }

    // Container → host.
    for dest in ["shared", "slave", "private"] {
        let script =
            format!("mount -t tmpfs tmpfs /{dest}/from-{dest} && echo {dest} > /{dest}/from-{dest}/f");
        assert_eq!(exec_admin(&c, &script), 0, "{script}");
    }
    for (dest, seen) in [("shared", true), ("slave", false), ("private", false)] {
        let point = vol.join(format!("from-{dest}"));
        assert_eq!(
            tags("self", &point).is_some(),
            seen,
            "container mount at {point:?}"
        );
        let file = std::fs::read_to_string(point.join("f")).ok();
        assert_eq!(file.is_some(), seen, "{point:?}/f: {file:?}");
    }
    c.delete(true).unwrap();
}

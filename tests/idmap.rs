//! Id-mapped bind mounts (runtime-spec 1.2 `mounts[].uidMappings` and
//! `gidMappings`, options `idmap`/`ridmap`), read back from the kernel: the
//! owners a container sees through the mount, the owners the host sees on
//! disk, and bad input refused before anything is made.
//!
//! The sources live in each test's temp directory, on the filesystem of
//! /tmp (ext4 here, which supports id-mapped mounts; tmpfs does from 6.3);
//! the tests that need that support skip, saying so, where it is missing.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::Fixture;
use serde_json::json;

/// The tests count this process's children and cgroups: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn owners(p: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

/// A source directory in the test's temp dir holding `files` with the given on-disk owners.
fn source(f: &Fixture, name: &str, dir_owner: (u32, u32), files: &[(&str, u32, u32)]) -> PathBuf {
    let src = f.dir.path().join(name);
    std::fs::create_dir(&src).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (file, uid, gid) in files {
        let p = src.join(file);
        std::fs::write(&p, "x").unwrap();
        chown(&p, *uid, *gid);
    }
    chown(&src, dir_owner.0, dir_owner.1);
    src
}

/// The overflow ids an unmapped owner is shown as.
fn overflow() -> String {
    let read = |f: &str| std::fs::read_to_string(f).unwrap().trim().to_string();
    format!(
        "{}:{}",
        read("/proc/sys/kernel/overflowuid"),
        read("/proc/sys/kernel/overflowgid")
    )
}

/// Direct children of this process (helpers or inits that were not reaped).
fn children() -> Vec<i32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let after = stat.rsplit_once(") ")?.1;
            (after.split(' ').nth(1) == Some(me.as_str())).then(|| e.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

/// Cgroup directories named `name` under any hierarchy of /sys/fs/cgroup.
fn cgroups_named(name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    if root.join(name).exists() {
        found.push(root.join(name));
    }
    for e in std::fs::read_dir(root).unwrap().flatten() {
        let p = e.path().join(name);
        if p.exists() {
            found.push(p);
        }
    }
    found
}

#[test]
fn an_idmapped_bind_mount_shows_mapped_owners_inside() {
    let _s = serial();
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "stat -c %u:%g /data/owned /data/unmapped /plain/owned /file > /out/owners && touch /data/new",
    ])
    .with_out();
    if !common::idmap_supported(f.dir.path()) {
        return;
    }
    // On disk: the directory and `owned` belong to 1000:2000, `unmapped` to 0:0.
    let src = source(
        &f,
        "src",
        (1000, 2000),
        &[("owned", 1000, 2000), ("unmapped", 0, 0)],
    );
    // containerID is the id on disk, hostID the id it is shown as (runc 1.2):
    // uid 1000 -> 0, gid 2000 -> 5 and gid 3000 -> 0 (so root can create files).
    f.mounts().push(json!({
        "destination": "/data", "type": "bind", "source": src, "options": ["bind"],
        "uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
        "gidMappings": [{"containerID": 2000, "hostID": 5, "size": 1}, {"containerID": 3000, "hostID": 0, "size": 1}]
    }));
    // The same directory bound plainly, for comparison.
    f.mounts()
        .push(json!({"destination": "/plain", "type": "bind", "source": src, "options": ["bind"]}));
    // A single file can be id-mapped too (its destination is created as a file).
    f.mounts().push(json!({
        "destination": "/file", "type": "bind", "source": src.join("owned"), "options": ["bind"],
        "uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
        "gidMappings": [{"containerID": 2000, "hostID": 5, "size": 1}]
    }));
    assert_eq!(f.run("idmap-plain").unwrap(), 0);
    let lines: Vec<String> = f.read_out("owners").lines().map(str::to_string).collect();
    let want = [
        "0:5".to_string(),
        overflow(),
        "1000:2000".to_string(),
        "0:5".to_string(),
    ];
    assert_eq!(lines, want);
    // The host's view of the files is unchanged...
    assert_eq!(owners(&src.join("owned")), (1000, 2000));
    assert_eq!(owners(&src.join("unmapped")), (0, 0));
    // ...and what root created through the mount is stored mapped back.
    assert_eq!(owners(&src.join("new")), (1000, 3000));
    assert!(children().is_empty(), "helpers left: {:?}", children());
}

#[test]
fn an_idmapped_mount_in_a_container_with_its_own_user_namespace() {
    let _s = serial();
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "stat -c %u:%g /m/a /m/b /implied/a /rec/a /plain/a > /out/owners && touch /m/made",
    ])
    .with_out();
    if !common::idmap_supported(f.dir.path()) {
        return;
    }
    in_userns(&mut f, None);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // On disk the files belong to 0:0 and 1:1, as in an image layer.
    let src = source(&f, "layer", (0, 0), &[("a", 0, 0), ("b", 1, 1)]);
    f.mounts().push(json!({
        "destination": "/m", "type": "bind", "source": src, "options": ["bind"],
        "uidMappings": map, "gidMappings": map
    }));
    // `idmap` alone takes the container's mappings; `ridmap` on an rbind too.
    f.mounts().push(
        json!({"destination": "/implied", "type": "bind", "source": src, "options": ["bind", "idmap"]}),
    );
    f.mounts().push(
        json!({"destination": "/rec", "type": "bind", "source": src, "options": ["rbind", "ridmap", "ro"]}),
    );
    f.mounts()
        .push(json!({"destination": "/plain", "type": "bind", "source": src, "options": ["bind"]}));
    assert_eq!(f.run("idmap-userns").unwrap(), 0);
    let lines: Vec<String> = f.read_out("owners").lines().map(str::to_string).collect();
    let want = ["0:0", "1:1", "0:0", "0:0"].map(String::from).to_vec();
    assert_eq!(lines[..4], want[..], "{lines:?}");
    // Without the id mapping, host root's files are unmapped in the container.
    assert_eq!(lines[4], overflow());
    // Container root (host 100000) created a file stored as 0:0 on disk.
    assert_eq!(owners(&src.join("made")), (0, 0));
    assert_eq!(owners(&src.join("b")), (1, 1));
    assert!(children().is_empty(), "helpers left: {:?}", children());
}

/// Makes `f` a user-namespace container mapping 0 -> 100000 (65536 ids),
/// or one joining the user namespace at `join`, with its rootfs and /out
/// owned by the mapped root.
fn in_userns(f: &mut Fixture, join: Option<String>) {
    let ns = f.config["linux"]["namespaces"].as_array_mut().unwrap();
    match join {
        Some(path) => ns.push(json!({"type": "user", "path": path})),
        None => {
            ns.push(json!({"type": "user"}));
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            f.config["linux"]["uidMappings"] = map.clone();
            f.config["linux"]["gidMappings"] = map;
        }
    }
    let mut chown = std::process::Command::new("chown");
    chown.args(["-R", "-h", "100000:100000"]).arg(f.rootfs());
    if f.out().exists() {
        chown.arg(f.out());
    }
    assert!(chown.status().unwrap().success());
}

#[test]
fn idmap_without_mappings_uses_the_joined_user_namespace() {
    let _s = serial();
    let mut a = Fixture::new(&["sleep", "100"]);
    if !common::idmap_supported(a.dir.path()) {
        return;
    }
    in_userns(&mut a, None);
    let owner = a.create("idmap-owner").unwrap();
    let mut b = Fixture::new(&["sh", "-c", "stat -c %u:%g /m/a /m/b > /out/owners"]).with_out();
    in_userns(&mut b, Some(format!("/proc/{}/ns/user", owner.pid())));
    let src = source(&b, "layer", (0, 0), &[("a", 0, 0), ("b", 7, 8)]);
    b.mounts()
        .push(json!({"destination": "/m", "type": "bind", "source": src, "options": ["bind", "idmap"]}));
    assert_eq!(b.run("idmap-joiner").unwrap(), 0);
    let lines: Vec<String> = b.read_out("owners").lines().map(str::to_string).collect();
    assert_eq!(lines, ["0:0", "7:8"].map(String::from).to_vec());
    owner.delete(true).unwrap();
}

/// A host mount made by a test, detached on drop (also when the test fails).
struct HostMount(PathBuf);

impl HostMount {
    fn bind(from: &Path, to: &Path) -> HostMount {
        let run = |args: &[&std::ffi::OsStr]| {
            let ok = std::process::Command::new("mount").args(args).status().unwrap();
            assert!(ok.success(), "mount {args:?}");
        };
        run(&["--bind".as_ref(), from.as_os_str(), to.as_os_str()]);
        let m = HostMount(to.to_path_buf());
        // Private: the test's mount propagates to no other mount.
        run(&["--make-private".as_ref(), to.as_os_str()]);
        m
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn ridmap_maps_the_whole_rbind_tree_and_idmap_only_its_top() {
    let _s = serial();
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "stat -c %u:%g /r/top /r/sub/f /n/top /n/sub/f > /out/owners",
    ])
    .with_out();
    if !common::idmap_supported(f.dir.path()) {
        return;
    }
    let src = source(&f, "src", (0, 0), &[("top", 1000, 1000)]);
    std::fs::create_dir(src.join("sub")).unwrap();
    let lower = source(&f, "lower", (0, 0), &[("f", 1000, 1000)]);
    let _sub = HostMount::bind(&lower, &src.join("sub"));
    let map = json!([{"containerID": 1000, "hostID": 0, "size": 1}]);
    for (dest, opts) in [("/r", ["rbind", "ridmap"]), ("/n", ["rbind", "idmap"])] {
        f.mounts().push(
            json!({"destination": dest, "type": "bind", "source": src, "options": opts,
            "uidMappings": map, "gidMappings": map}),
        );
    }
    assert_eq!(f.run("idmap-rec").unwrap(), 0);
    let lines: Vec<String> = f.read_out("owners").lines().map(str::to_string).collect();
    // ridmap maps the submount too; idmap leaves it as it is on disk.
    assert_eq!(
        lines,
        ["0:0", "0:0", "0:0", "1000:1000"].map(String::from).to_vec()
    );
}

#[test]
fn a_filesystem_without_idmap_support_is_a_clear_error() {
    let _s = serial();
    let mut f = Fixture::new(&["true"]);
    // sysfs does not support id-mapped mounts.
    f.mounts().push(json!({
        "destination": "/k", "type": "bind", "source": "/sys/kernel", "options": ["rbind"],
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]
    }));
    let cgroup = format!("nook-idmap-unsupported-{}", std::process::id());
    f.config["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"));
    let Err(err) = f.create("unsupported") else {
        panic!("config was accepted")
    };
    let msg = err.to_string();
    assert!(msg.contains("mounts[6]") && msg.contains("/sys/kernel"), "{msg}");
    assert!(msg.contains("MOUNT_ATTR_IDMAP"), "{msg}");
    assert_eq!(err.errno(), libc::EINVAL, "{msg}");
    assert!(!f.ctx.root().join("unsupported").exists());
    assert!(cgroups_named(&cgroup).is_empty(), "{:?}", cgroups_named(&cgroup));
    assert!(f.host_mounts().is_empty());
    assert!(children().is_empty(), "helpers left: {:?}", children());
}

#[test]
fn bad_id_mapped_mounts_are_refused_before_anything_is_made() {
    let _s = serial();
    let one = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    let cases: Vec<(serde_json::Value, &[&str])> = vec![
        (
            json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "uidMappings": one, "gidMappings": one}),
            &["mounts[6].uidMappings", "only supported for bind mounts"],
        ),
        (
            json!({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"], "uidMappings": one}),
            &["mounts[6].gidMappings", "both uidMappings and gidMappings"],
        ),
        (
            json!({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"], "gidMappings": one}),
            &["mounts[6].uidMappings", "both uidMappings and gidMappings"],
        ),
        (
            json!({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"],
                "uidMappings": [], "gidMappings": one}),
            &["mounts[6].uidMappings", "empty"],
        ),
        (
            json!({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"], "uidMappings": one,
                "gidMappings": [{"containerID": 4294967295u32, "hostID": 0, "size": 2}]}),
            &["mounts[6].gidMappings[0]", "overflows"],
        ),
        (
            json!({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"], "gidMappings": one,
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}, {"containerID": 5, "hostID": 5000, "size": 1}]}),
            &["mounts[6].uidMappings[1]", "overlaps"],
        ),
        (
            json!({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["bind"],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 0}], "gidMappings": one}),
            &["mounts[6].uidMappings[0]", "size is zero"],
        ),
        (
            json!({"destination": "/t", "type": "bind", "source": "/tmp", "options": ["rbind", "ridmap"]}),
            &["mounts[6].options", "user namespace"],
        ),
    ];
    for (i, (mount, want)) in cases.into_iter().enumerate() {
        let mut f = Fixture::new(&["true"]);
        f.mounts().push(mount);
        let cgroup = format!("nook-idmap-bad-{}-{i}", std::process::id());
        f.config["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"));
        let err = f
            .create("bad")
            .err()
            .unwrap_or_else(|| panic!("case {i} was accepted"));
        let msg = err.to_string();
        for w in want {
            assert!(msg.contains(w), "case {i}: {msg:?} does not mention {w:?}");
        }
        assert_eq!(err.kind(), nook::ErrorKind::InvalidConfig, "case {i}: {msg}");
        assert!(!f.ctx.root().join("bad").exists(), "case {i}: state dir left");
        assert!(cgroups_named(&cgroup).is_empty(), "case {i}: cgroup left");
        assert!(f.host_mounts().is_empty(), "case {i}: mounts left");
        assert!(!f.rootfs().join("t").exists(), "case {i}: destination created");
    }
    assert!(children().is_empty());
}

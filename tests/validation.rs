//! Bad input: one clear error naming the problem, and the host exactly as it
//! was (no state directory, no mount, no process).

mod common;

use common::Fixture;
use serde_json::json;

/// Creates with `config`, expects an error mentioning every word of `want`,
/// and checks that nothing was left behind.
fn rejected(f: &Fixture, want: &[&str]) {
    let err = match f.create("bad") {
        Ok(_) => panic!("config was accepted"),
        Err(e) => e,
    };
    let msg = err.to_string();
    for w in want {
        assert!(msg.contains(w), "error {msg:?} does not mention {w:?}");
    }
    assert!(!f.ctx.root().join("bad").exists(), "state dir left for {msg}");
    assert!(f.host_mounts().is_empty(), "mounts left for {msg}");
}

#[test]
fn malformed_json() {
    let f = Fixture::new(&["true"]);
    std::fs::write(
        f.bundle().join("config.json"),
        "{\"ociVersion\": \"1.2.0\", \"process\": ",
    )
    .unwrap();
    let err = f.ctx.create("bad", f.bundle(), &Default::default()).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
    assert_eq!(err.errno(), libc::EINVAL);
    assert!(!f.ctx.root().join("bad").exists());
}

#[test]
fn missing_rootfs_and_empty_root_path() {
    let mut f = Fixture::new(&["true"]);
    f.config["root"]["path"] = json!("nowhere");
    rejected(&f, &["root.path", "nowhere"]);
    f.config["root"]["path"] = json!("");
    rejected(&f, &["root.path", "empty"]);
}

#[test]
fn relative_root_path_is_relative_to_the_bundle() {
    // runtime-spec: root.path may be relative to the bundle; an absolute one works too.
    let mut f = Fixture::new(&["true"]);
    f.config["root"]["path"] = json!(f.rootfs());
    assert_eq!(f.run("abs-root").unwrap(), 0);
}

#[test]
fn unknown_capability_and_namespace() {
    let mut f = Fixture::new(&["true"]);
    f.config["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_MAKE_COFFEE"]);
    rejected(&f, &["process.capabilities.bounding[1]", "MAKE_COFFEE"]);
    let mut f = Fixture::new(&["true"]);
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "galaxy"}));
    rejected(&f, &["linux.namespaces[6].type", "galaxy"]);
}

#[test]
fn mount_destination_escaping_through_a_symlink() {
    let mut f = Fixture::new(&["true"]);
    let victim = f.dir.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    // rootfs/escape -> ../../victim would be <tmp>/victim on the host.
    std::os::unix::fs::symlink("../../victim", f.rootfs().join("escape")).unwrap();
    f.mounts()
        .push(json!({"destination": "/escape/sub", "type": "tmpfs", "source": "tmpfs"}));
    rejected(&f, &["mounts[6].destination", "escapes the rootfs"]);
    assert_eq!(
        std::fs::read_dir(&victim).unwrap().count(),
        0,
        "the host directory was touched"
    );
}

#[test]
fn absolute_symlink_destination_stays_inside_the_rootfs() {
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "test -d /inside/here && mount | grep -q ' /inside/here '",
    ]);
    let host_target = f.dir.path().join("hosttarget");
    std::fs::create_dir(&host_target).unwrap();
    // An absolute link means a path in the container, never on the host.
    std::os::unix::fs::symlink(&host_target, f.rootfs().join("abs")).unwrap();
    std::os::unix::fs::symlink("/inside", f.rootfs().join("in")).unwrap();
    f.mounts()
        .push(json!({"destination": "/abs/x", "type": "tmpfs", "source": "tmpfs"}));
    f.mounts()
        .push(json!({"destination": "/in/here", "type": "tmpfs", "source": "tmpfs"}));
    assert_eq!(f.run("abslink").unwrap(), 0);
    assert!(!host_target.join("x").exists(), "created on the host");
}

#[test]
fn other_bad_values_name_their_field() {
    let cases: Vec<(&str, serde_json::Value, &[&str])> = vec![
        (
            "/mounts/0/destination",
            json!("proc"),
            &["mounts[0].destination", "absolute"],
        ),
        ("/process/cwd", json!("relative"), &["process.cwd"]),
        ("/process/args", json!([]), &["process.args"]),
        ("/process/oomScoreAdj", json!(5000), &["process.oomScoreAdj"]),
        (
            "/linux/sysctl",
            json!({"kernel.panic": "1"}),
            &["linux.sysctl.kernel.panic", "not namespaced"],
        ),
        (
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 1, "size": 1}]),
            &["uidMappings"],
        ),
        (
            "/linux/devices",
            json!([{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}]),
            &["linux.devices[0].path"],
        ),
        (
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": 9, "hard": 1}]),
            &["process.rlimits[0]"],
        ),
        // No LSM on the test kernels: an AppArmor profile is refused, never dropped.
        (
            "/process/apparmorProfile",
            json!("docker-default"),
            &["process.apparmorProfile", "AppArmor is not enabled"],
        ),
    ];
    for (pointer, value, want) in cases {
        let mut f = Fixture::new(&["true"]);
        *f.config
            .pointer_mut(pointer.rsplit_once('/').unwrap().0)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .entry(pointer.rsplit_once('/').unwrap().1)
            .or_insert(json!(null)) = value;
        rejected(&f, want);
    }
}

/// On a host without SELinux, SELinux labels mean nothing and are
/// accepted, as runc and crun accept them: the container runs, and no
/// mount got a `context=` option (which such a kernel would refuse).
#[test]
fn selinux_labels_without_selinux_are_accepted() {
    assert!(
        !std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        "this test wants a host without SELinux"
    );
    let mut f = Fixture::new(&["sh", "-c", "cat /proc/self/mountinfo > /out/mountinfo"]).with_out();
    f.config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    f.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    assert_eq!(f.run("selinux-off").unwrap(), 0);
    let info = f.read_out("mountinfo");
    assert!(info.contains(" /proc "), "{info}");
    assert!(!info.contains("context="), "{info}");
}

#[test]
fn bind_source_must_exist() {
    let mut f = Fixture::new(&["true"]);
    f.mounts().push(
        json!({"destination": "/data", "type": "bind", "source": "/no/such/dir", "options": ["rbind"]}),
    );
    rejected(&f, &["mounts[6].source", "/no/such/dir"]);
}

/// `linux.netDevices` is not something nook does: refused, naming the
/// field, not a container started without the devices it asked for; and
/// without a network namespace of its own, with runc's words (netdev.bats).
#[test]
fn net_devices_are_refused_by_name() {
    let mut f = Fixture::new(&["true"]);
    f.config["linux"]["netDevices"] = json!({"eth9": {"name": "ctr0"}});
    rejected(&f, &["linux.netDevices", "not supported"]);
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    rejected(
        &f,
        &[
            "linux.netDevices",
            "unable to move network devices without a NET namespace",
        ],
    );
}

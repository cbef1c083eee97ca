//! What the container's process gets, read back from the kernel: namespaces,
//! credentials, capabilities, mounts, masked paths, limits, environment.

mod common;

use common::{eventually, mountinfo, ns_inode, status_field, Fixture};
use nook::Status;
use serde_json::json;

#[test]
fn namespaces_are_new_and_joinable_by_path() {
    let f = Fixture::new(&["sleep", "100"]);
    let a = f.create("ns-a").unwrap();
    let pid = a.pid().to_string();
    for ns in ["pid", "mnt", "uts", "ipc", "net", "cgroup"] {
        assert_ne!(
            ns_inode(&pid, ns),
            ns_inode("self", ns),
            "{ns} namespace is the host's"
        );
    }
    // A second container joins a's network and uts namespaces by path.
    let mut g = Fixture::new(&["sleep", "100"]);
    g.config["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
        {"type": "network", "path": format!("/proc/{pid}/ns/net")},
        {"type": "uts", "path": format!("/proc/{pid}/ns/uts")}
    ]);
    g.config.as_object_mut().unwrap().remove("hostname");
    let b = g.create("ns-b").unwrap();
    let bpid = b.pid().to_string();
    assert_eq!(ns_inode(&bpid, "net"), ns_inode(&pid, "net"));
    assert_eq!(ns_inode(&bpid, "uts"), ns_inode(&pid, "uts"));
    assert_ne!(ns_inode(&bpid, "mnt"), ns_inode(&pid, "mnt"));
    // Joining a pid namespace takes a second clone: b's init is then a's sibling in a's pid ns.
    let mut h = Fixture::new(&["sleep", "100"]);
    h.config["linux"]["namespaces"] =
        json!([{"type": "mount"}, {"type": "pid", "path": format!("/proc/{pid}/ns/pid")}]);
    h.config.as_object_mut().unwrap().remove("hostname");
    let c = h.create("ns-c").unwrap();
    assert_eq!(
        ns_inode(&c.pid().to_string(), "pid"),
        ns_inode(&pid, "pid_for_children")
    );
    assert_eq!(c.status(), Status::Created);
}

#[test]
fn user_namespace_maps_ids_and_owns_created_files() {
    let mut f = Fixture::new(&["sh", "-c", "touch /out/made-by-root && sleep 100"]).with_out();
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    f.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 1000, "hostID": 5000, "size": 1}]);
    f.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000}]);
    // The rootfs and /out must belong to the mapped root, as an engine arranges.
    let status = std::process::Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(f.rootfs())
        .arg(f.out())
        .status()
        .unwrap();
    assert!(status.success());
    let c = f.create("userns").unwrap();
    let map = std::fs::read_to_string(format!("/proc/{}/uid_map", c.pid())).unwrap();
    let lines: Vec<Vec<&str>> = map.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines,
        vec![vec!["0", "100000", "1000"], vec!["1000", "5000", "1"]]
    );
    c.start().unwrap();
    let made = f.out().join("made-by-root");
    assert!(eventually(|| made.exists()));
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&made).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (100000, 100000));
    assert_eq!(
        status_field(c.pid(), "Uid").split_whitespace().next(),
        Some("100000")
    );
}

#[test]
fn credentials_capabilities_and_no_new_privs() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["process"]["user"] = json!({"uid": 1234, "gid": 2345, "additionalGids": [10, 20]});
    f.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"],
        "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"]
    });
    let c = f.create("creds").unwrap();
    let pid = c.pid();
    assert_eq!(status_field(pid, "Uid"), "1234\t1234\t1234\t1234");
    assert_eq!(status_field(pid, "Gid"), "2345\t2345\t2345\t2345");
    assert_eq!(status_field(pid, "Groups"), "10 20");
    // CAP_CHOWN = 0, CAP_KILL = 5, CAP_NET_RAW = 13.
    assert_eq!(
        status_field(pid, "CapBnd"),
        format!("{:016x}", (1 << 0) | (1 << 5) | (1 << 13))
    );
    assert_eq!(
        status_field(pid, "CapPrm"),
        format!("{:016x}", (1 << 0) | (1 << 5))
    );
    assert_eq!(status_field(pid, "CapEff"), format!("{:016x}", 1 << 5));
    assert_eq!(status_field(pid, "CapInh"), format!("{:016x}", 1 << 5));
    assert_eq!(status_field(pid, "CapAmb"), format!("{:016x}", 1 << 5));
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    c.start().unwrap();
    // After exec as a non-root user only the ambient set survives in effective.
    assert!(eventually(
        || status_field(pid, "CapEff") == format!("{:016x}", 1 << 5)
    ));
}

#[test]
fn hostname_env_cwd_umask_rlimits_and_process_view() {
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "hostname > /out/hostname; cat /proc/sys/kernel/domainname > /out/domainname; env > /out/env; pwd > /out/cwd; \
         umask > /out/umask; ulimit -Sn > /out/nofile; ulimit -Hn >> /out/nofile; ps -o pid,comm > /out/ps; \
         cat /proc/sys/net/ipv4/ip_forward > /out/sysctl",
    ])
    .with_out();
    f.config["hostname"] = json!("box");
    f.config["domainname"] = json!("example.org");
    f.config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("GREETING=hi there"));
    f.config["process"]["cwd"] = json!("/work/dir");
    f.config["process"]["user"]["umask"] = json!(0o027);
    f.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 77, "hard": 88}]);
    f.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    assert_eq!(f.run("view").unwrap(), 0);
    assert_eq!(f.read_out("hostname"), "box\n");
    assert_eq!(f.read_out("domainname"), "example.org\n");
    assert!(
        f.read_out("env").lines().any(|l| l == "GREETING=hi there"),
        "{}",
        f.read_out("env")
    );
    assert_eq!(f.read_out("cwd"), "/work/dir\n");
    assert_eq!(f.read_out("umask"), "0027\n");
    assert_eq!(f.read_out("nofile"), "77\n88\n");
    assert_eq!(f.read_out("sysctl"), "1\n");
    // Only the container's own processes are visible: sh as pid 1, and ps.
    let ps = f.read_out("ps");
    let pids: Vec<&str> = ps
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(pids[0], "1", "{ps}");
    assert!(pids.len() <= 3, "{ps}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn mounts_flags_masks_and_readonly_root() {
    let mut f = Fixture::new(&["sleep", "100"]);
    let data = f.dir.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("sub/file"), "x").unwrap();
    f.config["root"]["readonly"] = json!(true);
    f.mounts().push(
        json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "ro", "nosuid"]}),
    );
    f.mounts().push(json!({"destination": "/scratch/deep", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "noexec"]}));
    let c = f.create("mounts").unwrap();
    let mi = mountinfo(c.pid());
    let opts = |p: &str| {
        mi.iter()
            .find(|(m, _)| m == p)
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| panic!("{p} not mounted: {mi:?}"))
    };
    assert!(opts("/").starts_with("ro"), "root: {}", opts("/"));
    assert!(
        opts("/data").starts_with("ro") && opts("/data").contains("nosuid"),
        "{}",
        opts("/data")
    );
    assert!(opts("/scratch/deep").contains("noexec"));
    assert!(opts("/proc/sys").starts_with("ro"));
    assert!(opts("/sys").starts_with("ro"));
    // Masked: files are covered by /dev/null (empty), directories by an
    // empty read-only tmpfs. Paths this kernel lacks are skipped, like runc.
    let root = format!("/proc/{}/root", c.pid());
    assert!(
        !std::fs::read_to_string("/proc/keys").unwrap().is_empty(),
        "host /proc/keys is empty"
    );
    assert!(mi.iter().any(|(m, _)| m == "/proc/keys"), "{mi:?}");
    assert_eq!(std::fs::read(format!("{root}/proc/keys")).unwrap().len(), 0);
    assert!(std::fs::read_dir("/proc/acpi").is_ok());
    assert!(opts("/proc/acpi").starts_with("ro"));
    assert_eq!(std::fs::read_dir(format!("{root}/proc/acpi")).unwrap().count(), 0);
    assert!(!mi.iter().any(|(m, _)| m == "/proc/kcore") || std::path::Path::new("/proc/kcore").exists());
    // /dev has the default devices and links.
    use std::os::unix::fs::FileTypeExt;
    for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
        let m = std::fs::metadata(format!("{root}/dev/{dev}")).unwrap();
        assert!(m.file_type().is_char_device(), "/dev/{dev}");
    }
    assert_eq!(
        std::fs::read_link(format!("{root}/dev/ptmx")).unwrap().to_str(),
        Some("pts/ptmx")
    );
    assert_eq!(
        std::fs::read_link(format!("{root}/dev/fd")).unwrap().to_str(),
        Some("/proc/self/fd")
    );
    // The host sees none of it.
    assert!(f.host_mounts().is_empty(), "{:?}", f.host_mounts());
}

#[test]
fn tmpcopyup_and_devices() {
    let mut f = Fixture::new(&[
        "sh",
        "-c",
        "cat /etc/conf/a > /out/a; stat -c %a /etc/conf > /out/mode; stat -c %t:%T /dev/mynull > /out/dev",
    ])
    .with_out();
    std::fs::create_dir_all(f.rootfs().join("etc/conf")).unwrap();
    std::fs::write(f.rootfs().join("etc/conf/a"), "from image").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        f.rootfs().join("etc/conf"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    f.mounts().push(
        json!({"destination": "/etc/conf", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}),
    );
    f.config["linux"]["devices"] =
        json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600}]);
    assert_eq!(f.run("copyup").unwrap(), 0);
    assert_eq!(f.read_out("a"), "from image");
    assert_eq!(f.read_out("mode"), "750\n");
    assert_eq!(f.read_out("dev"), "1:3\n");
}

#[test]
fn exit_codes_and_signals() {
    let f = Fixture::new(&["sh", "-c", "exit 42"]);
    assert_eq!(f.run("exit42").unwrap(), 42);
    // The init of a pid namespace cannot be killed from inside: kill it from here.
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("killed").unwrap();
    c.start().unwrap();
    c.kill(libc::SIGKILL, false).unwrap();
    assert_eq!(c.wait().unwrap(), 128 + 9);
    assert_eq!(c.status(), Status::Stopped);
    c.delete(false).unwrap();
}

#[test]
fn oom_score_adj_and_preserved_stdio() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["process"]["oomScoreAdj"] = json!(500);
    let c = f.create("oom").unwrap();
    let adj = std::fs::read_to_string(format!("/proc/{}/oom_score_adj", c.pid())).unwrap();
    assert_eq!(adj.trim(), "500");
    // terminal=false: the container's stdio are the caller's, untouched.
    for fd in 0..3 {
        let theirs = std::fs::read_link(format!("/proc/{}/fd/{fd}", c.pid())).unwrap();
        let ours = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert_eq!(theirs, ours, "fd {fd}");
    }
    // And nothing else of ours leaks in.
    c.start().unwrap();
    assert!(eventually(|| std::fs::read_dir(format!("/proc/{}/fd", c.pid()))
        .unwrap()
        .count()
        == 3));
}

#[test]
fn session_keyring_is_new_unless_asked_not_to() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("keyring-new").unwrap();
    assert_eq!(
        common::keyrings_named("keyring-new"),
        1,
        "{}",
        std::fs::read_to_string("/proc/keys").unwrap()
    );
    c.delete(true).unwrap();
    let opts = nook::CreateOptions {
        no_new_keyring: true,
        ..Default::default()
    };
    let c = f.create_with("keyring-none", &opts).unwrap();
    assert_eq!(common::keyrings_named("keyring-none"), 0);
    c.delete(true).unwrap();
}

#[test]
fn no_pivot_uses_move_and_chroot() {
    // MS_MOVE + chroot: the process's / is the rootfs (same inode as seen
    // from the host), and the rootfs mount sits where / was.
    let f = Fixture::new(&[
        "sh",
        "-c",
        "stat -c %i /bin/busybox > /out/ino; grep ' / ' /proc/self/mountinfo > /out/root",
    ])
    .with_out();
    let opts = nook::CreateOptions {
        no_pivot: true,
        ..Default::default()
    };
    let c = f.create_with("nopivot", &opts).unwrap();
    c.start().unwrap();
    assert_eq!(c.wait().unwrap(), 0);
    c.delete(false).unwrap();
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(f.rootfs().join("bin/busybox")).unwrap().ino();
    assert_eq!(f.read_out("ino").trim(), ino.to_string());
    let root_line = f.read_out("root");
    assert!(root_line.contains("/bundle/rootfs / "), "{root_line}");
}

#[test]
fn time_namespace_offsets() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    f.config["linux"]["timeOffsets"] =
        json!({"boottime": {"secs": 86400 * 365}, "monotonic": {"secs": 1000, "nanosecs": 5}});
    let c = f.create("timens").unwrap();
    let pid = c.pid().to_string();
    assert_ne!(ns_inode(&pid, "time"), ns_inode("self", "time"));
    let offsets = std::fs::read_to_string(format!("/proc/{pid}/timens_offsets")).unwrap();
    assert!(
        offsets.contains("monotonic") && offsets.contains("1000"),
        "{offsets}"
    );
    assert!(
        offsets
            .lines()
            .any(|l| l.starts_with("boottime") && l.contains(&(86400 * 365).to_string())),
        "{offsets}"
    );
    c.start().unwrap();
}

#[test]
fn recursive_readonly_and_rootfs_propagation() {
    let mut f = Fixture::new(&["sleep", "100"]);
    // A host tree with a submount: rro must make both read-only.
    let tree = f.dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(tree.join("sub"))
        .status()
        .unwrap();
    assert!(status.success());
    struct Umount(std::path::PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Umount(tree.join("sub"));
    f.mounts()
        .push(json!({"destination": "/tree", "type": "bind", "source": tree, "options": ["rbind", "rro"]}));
    f.config["linux"]["rootfsPropagation"] = json!("private");
    let c = f.create("rro").unwrap();
    let mi = mountinfo(c.pid());
    let opts = |p: &str| mi.iter().find(|(m, _)| m == p).map(|(_, o)| o.clone()).unwrap();
    assert!(opts("/tree").starts_with("ro"), "{}", opts("/tree"));
    assert!(opts("/tree/sub").starts_with("ro"), "{}", opts("/tree/sub"));
    c.delete(true).unwrap();
    let mut g = Fixture::new(&["true"]);
    g.config["linux"]["rootfsPropagation"] = json!("sideways");
    let err = g.create("badprop").unwrap_err();
    assert!(err.to_string().contains("linux.rootfsPropagation"), "{err}");
}

/// `linux.rootfsPropagation` is what the container's `/` shows, as with
/// crun: shared (a bind of `/` then sees later mounts) or unbindable (such
/// a bind fails), read from the init's mountinfo.
#[test]
fn rootfs_propagation_shared_and_unbindable_reach_the_containers_root() {
    for (prop, tag) in [("shared", "shared:"), ("unbindable", "unbindable")] {
        let mut f = Fixture::new(&["sleep", "100"]);
        f.config["linux"]["rootfsPropagation"] = json!(prop);
        let c = f.create(&format!("prop-{prop}")).unwrap();
        let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", c.pid())).unwrap();
        c.delete(true).unwrap();
        let root = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap_or_else(|| panic!("no / in {info}"));
        // Optional fields sit between the mount options and " - ".
        let optional = root.split(" - ").next().unwrap();
        assert!(optional.contains(tag), "{prop}: {root}");
    }
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat.
fn stat_field(pid: i32, n: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(n - 3).unwrap().to_string()
}

#[test]
fn scheduler_io_priority_affinity_and_personality() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    f.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    f.config["process"]["execCPUAffinity"] = json!({"final": "0"});
    f.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let c = f.create("sched").unwrap();
    c.start().unwrap();
    let pid = c.pid();
    assert!(eventually(|| std::fs::read_to_string(format!(
        "/proc/{pid}/comm"
    ))
    .unwrap()
    .trim()
        == "sleep"));
    assert_eq!(stat_field(pid, 41), libc::SCHED_BATCH.to_string(), "policy");
    assert_eq!(stat_field(pid, 19), "7", "nice");
    assert_eq!(status_field(pid, "Cpus_allowed_list"), "0");
    // SAFETY: ioprio_get with integer arguments.
    let prio = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, pid) };
    assert_eq!(prio, 3 << 13, "IOPRIO_CLASS_IDLE");
    let persona = std::fs::read_to_string(format!("/proc/{pid}/personality")).unwrap();
    assert_eq!(
        u64::from_str_radix(persona.trim(), 16).unwrap() & 0xff,
        0x08,
        "PER_LINUX32"
    );
    // An exec'd process has the container's persona too (runc's
    // personality.bats "with exec").
    let p: oci_spec::runtime::Process =
        serde_json::from_value(json!({"args": ["sleep", "100"], "cwd": "/", "user": {"uid": 0, "gid": 0}}))
            .unwrap();
    let e = c.exec(&p, &Default::default()).unwrap();
    let persona = std::fs::read_to_string(format!("/proc/{}/personality", e.pid())).unwrap();
    e.kill(libc::SIGKILL).unwrap();
    e.wait().unwrap();
    assert_eq!(
        u64::from_str_radix(persona.trim(), 16).unwrap() & 0xff,
        0x08,
        "exec: PER_LINUX32"
    );
    let mut g = Fixture::new(&["true"]);
    g.config["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "nice": 50});
    let err = g.create("badsched").unwrap_err();
    assert!(err.to_string().contains("process.scheduler.nice"), "{err}");
    g.config["process"]["scheduler"] = json!({"policy": "SCHED_FIFO", "priority": 0});
    assert!(g
        .create("badsched")
        .unwrap_err()
        .to_string()
        .contains("process.scheduler.priority"));
    g.config["process"].as_object_mut().unwrap().remove("scheduler");
    g.config["process"]["execCPUAffinity"] = json!({"final": "0-z"});
    assert!(g
        .create("badsched")
        .unwrap_err()
        .to_string()
        .contains("execCPUAffinity.final"));
}

/// runc's cpu_affinity.bats "should reset": a runtime started pinned to one
/// CPU (`taskset -c 0 runc run`) does not pass that pin on; the container
/// may use every CPU its cgroup allows, as the caller could before.
#[test]
fn the_callers_cpu_pin_is_not_inherited() {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let f = Fixture::new(&["sleep", "100"]);
    let all = status_field(std::process::id() as i32, "Cpus_allowed_list");
    let before = sched_getaffinity(Pid::from_raw(0)).unwrap();
    let mut one = CpuSet::new();
    one.set(0).unwrap();
    // This thread only: the container is cloned from it.
    sched_setaffinity(Pid::from_raw(0), &one).unwrap();
    let c = f.create("unpinned");
    sched_setaffinity(Pid::from_raw(0), &before).unwrap();
    let c = c.unwrap();
    c.start().unwrap();
    assert_eq!(status_field(c.pid(), "Cpus_allowed_list"), all);
}

/// runc's run.bats "runc run with tmpfs perms": a tmpfs without `mode=`
/// over a directory of the image takes that directory's mode (setgid and
/// sticky bits included); `mode=` wins; over a directory nook makes it is
/// a fresh tmpfs, 1777.
#[test]
fn a_tmpfs_keeps_the_mode_of_the_directory_it_covers() {
    use std::os::unix::fs::PermissionsExt;
    for (existing, options, want) in [
        (Some(0o710), json!([]), "710"),
        (Some(0o2775), json!(["nosuid"]), "2775"),
        (Some(0o710), json!(["mode=0410"]), "410"),
        (None, json!([]), "1777"),
    ] {
        let mut f = Fixture::new(&["sh", "-c", "stat -c %a /data/t > /out/mode"]).with_out();
        if let Some(mode) = existing {
            let dir = f.rootfs().join("data/t");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        f.mounts()
            .push(json!({"destination": "/data/t", "type": "tmpfs", "source": "tmpfs", "options": options}));
        assert_eq!(f.run("tmpfsmode").unwrap(), 0);
        assert_eq!(f.read_out("mode").trim(), want, "{existing:?} {options}");
    }
}

/// runc's scheduler.bats: SCHED_DEADLINE runs where the container may use
/// every CPU, and is refused with runc's words where
/// `linux.resources.cpu.cpus` limits it (sched_setattr's EPERM).
#[test]
fn deadline_scheduling_and_a_cpuset() {
    let deadline = json!({"policy": "SCHED_DEADLINE", "nice": 19, "runtime": 42000, "deadline": 1000000, "period": 1000000});
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["process"]["scheduler"] = deadline.clone();
    let c = f.create("deadline").unwrap();
    c.start().unwrap();
    assert_eq!(stat_field(c.pid(), 41), "6", "SCHED_DEADLINE");
    let cpus = status_field(std::process::id() as i32, "Cpus_allowed_list");
    if cpus == "0" {
        eprintln!("skipped the cpuset half: one CPU");
        return;
    }
    let mut g = Fixture::new(&["true"]);
    g.config["process"]["scheduler"] = deadline;
    g.config["linux"]["resources"]["cpu"] = json!({"cpus": "0"});
    let err = g.create("deadline-cpus").unwrap_err().to_string();
    assert!(
        err.contains("process scheduler can't be used together with AllowedCPUs"),
        "{err}"
    );
}

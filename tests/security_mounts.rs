//! Attacks on the filesystem view and the device policy, done for real
//! (root, real kernel): mounts inside /proc (CVE-2019-16884), a /proc that
//! is not procfs, devices a spec forgot to deny, host files passed off as
//! devices, and a tampered state.json. Each asserts what the kernel shows.
mod common;

use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::fcntl::{renameat2, RenameFlags};

use common::{mountinfo, Fixture};
use serde_json::json;

fn options_of(mi: &[(String, String)], mount_point: &str) -> String {
    mi.iter()
        .rev()
        .find(|(m, _)| m == mount_point)
        .map(|(_, o)| o.clone())
        .unwrap_or_else(|| panic!("{mount_point} not mounted: {mi:?}"))
}

/// The exact CVE-2019-16884 layout: the image has /foo -> /proc/self and a
/// volume goes to /foo/fd, i.e. over the init's /proc/self/fd, through
/// which later mounts would have been redirected.
/// A thread swapping two paths of a rootfs (renameat2 RENAME_EXCHANGE) as
/// fast as it can, as an attacker racing the runtime would; dropping it
/// stops and joins the thread, also when an assertion fails, before the
/// fixture removes the rootfs under it.
struct Flipper(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

impl Flipper {
    fn swapping(a: PathBuf, b: PathBuf) -> Flipper {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                renameat2(None, &a, None, &b, RenameFlags::RENAME_EXCHANGE).unwrap();
            }
        });
        Flipper(stop, Some(thread))
    }
}

impl Drop for Flipper {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        let _ = self.1.take().map(|t| t.join());
    }
}

/// Creates containers from `f` (ids `<prefix><n>`, at most `tries`) while
/// `flipper` races its rootfs, until a create succeeded, the plan refused
/// one and the init refused one. `check` looks at a created container
/// (then deleted); `refused_by_plan` sorts a refusal: plan (true), init
/// (false), or unexpected (None, a failure). The init's check must have
/// fired: that is what the race is for.
fn race_creates(
    f: &Fixture,
    flipper: Flipper,
    tries: usize,
    prefix: &str,
    check: impl Fn(&nook::Container),
    refused_by_plan: impl Fn(&str) -> Option<bool>,
) {
    let (mut in_plan, mut in_init, mut made) = (0, 0, 0);
    for i in 0..tries {
        match f
            .ctx
            .create(&format!("{prefix}{i}"), f.bundle(), &Default::default())
        {
            Ok(c) => {
                made += 1;
                check(&c);
                c.delete(true).unwrap();
            }
            Err(e) => match refused_by_plan(&e.to_string()) {
                Some(true) => in_plan += 1,
                Some(false) => in_init += 1,
                None => panic!("unexpected: {e}"),
            },
        }
        if in_init > 0 && in_plan > 0 && made > 0 {
            break;
        }
    }
    drop(flipper);
    assert!(
        in_init > 0,
        "the init's check never triggered (plan {in_plan}, made {made})"
    );
}

#[test]
fn volume_through_a_symlink_into_proc_is_refused() {
    let mut f = Fixture::new(&["true"]);
    symlink("/proc/self", f.rootfs().join("foo")).unwrap();
    let volume = f.dir.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    f.mounts()
        .push(json!({"destination": "/foo/fd", "type": "bind", "source": volume, "options": ["rbind"]}));
    let index = f.mounts().len() - 1;
    let e = f.create("proc-attack").unwrap_err().to_string();
    assert!(
        e.contains(&format!("mounts[{index}].destination"))
            && e.contains("/proc/self/fd")
            && e.contains("inside /proc"),
        "{e}"
    );
    assert!(f.host_mounts().is_empty(), "{:?}", f.host_mounts());
}

#[test]
fn destinations_inside_proc_are_refused_but_lxcfs_files_are_not() {
    for dest in ["/proc/sys", "/proc/sys/kernel", "/proc/self/fd", "/proc/1/root"] {
        let mut f = Fixture::new(&["true"]);
        f.mounts()
            .push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
        let index = f.mounts().len() - 1;
        let e = f.create("in-proc").unwrap_err().to_string();
        assert!(e.contains(&format!("mounts[{index}].destination")), "{dest}: {e}");
    }
    // Something other than procfs at /proc itself.
    let mut f = Fixture::new(&["true"]);
    f.mounts()[0] = json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"});
    let e = f.create("tmpfs-proc").unwrap_err().to_string();
    assert!(e.contains("mounts[0].destination") && e.contains("proc"), "{e}");

    // lxcfs-style: a file bound over /proc/cpuinfo is what the container reads.
    let mut f = Fixture::new(&["sh", "-c", "cat /proc/cpuinfo > /out/cpuinfo"]).with_out();
    let fake = f.dir.path().join("cpuinfo");
    std::fs::write(&fake, "processor\t: 0 (lxcfs)\n").unwrap();
    f.mounts().push(
        json!({"destination": "/proc/cpuinfo", "type": "bind", "source": fake, "options": ["bind", "ro"]}),
    );
    assert_eq!(f.run("lxcfs").unwrap(), 0);
    assert_eq!(f.read_out("cpuinfo"), "processor\t: 0 (lxcfs)\n");
}

/// The image flips /foo between a directory and a symlink to /proc/self
/// while containers are created: whichever the plan sees, the volume never
/// lands on procfs, because the init checks what it actually opened.
#[test]
fn a_rootfs_changed_after_the_plan_is_checked_again_in_the_init() {
    let mut f = Fixture::new(&["true"]);
    let rootfs = f.rootfs();
    std::fs::create_dir_all(rootfs.join("foo/fd")).unwrap();
    symlink("/proc/self", rootfs.join("link")).unwrap();
    let volume = f.dir.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    f.mounts()
        .push(json!({"destination": "/foo/fd", "type": "bind", "source": volume, "options": ["rbind"]}));
    f.write_config();
    let flipper = Flipper::swapping(rootfs.join("foo"), rootfs.join("link"));
    race_creates(
        &f,
        flipper,
        60,
        "flip",
        |c| {
            // Mounted on the image's directory (shown under the name it has
            // now), never over /proc/N/fd.
            let mi = mountinfo(c.pid());
            assert!(
                mi.iter().any(|(m, _)| m == "/foo/fd" || m == "/link/fd"),
                "{mi:?}"
            );
            assert!(
                !mi.iter()
                    .any(|(m, _)| m.starts_with("/proc/") && m.ends_with("/fd")),
                "{mi:?}"
            );
        },
        |e| {
            if e.contains("mounts[6].destination") {
                Some(true)
            } else if e.contains("refusing a mount destination inside /proc") && e.contains("mounts[6]") {
                Some(false)
            } else {
                None
            }
        },
    );
}

/// A createContainer hook (in the container's mount namespace, before
/// pivot_root) shadows /proc with a tmpfs holding a fake sysctl file: the
/// sysctl write and the masks fail closed instead of going to the fake.
#[test]
fn a_proc_that_is_not_procfs_fails_closed() {
    let shadow = "/bin/busybox mount -t tmpfs none proc && /bin/busybox mkdir -p proc/sys/net/ipv4 \
                  && echo 0 > proc/sys/net/ipv4/ip_forward";
    let hook =
        json!({"createContainer": [{"path": common::BUSYBOX, "args": ["busybox", "sh", "-c", shadow]}]});

    // sysctl only (no masked or read-only paths).
    let mut f = Fixture::new(&["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward > /out/fwd"]).with_out();
    f.config["hooks"] = hook.clone();
    f.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    f.config["linux"]["maskedPaths"] = json!([]);
    f.config["linux"]["readonlyPaths"] = json!([]);
    let e = f.run("shadow-sysctl").unwrap_err().to_string();
    assert!(e.contains("/proc is a procfs"), "{e}");
    assert_eq!(f.read_out("fwd"), "");

    // Masked and read-only paths only.
    let mut f = Fixture::new(&["true"]);
    f.config["hooks"] = hook;
    let e = f.run("shadow-masks").unwrap_err().to_string();
    assert!(e.contains("/proc is a procfs"), "{e}");
    assert!(f.host_mounts().is_empty(), "{:?}", f.host_mounts());
}

/// Read back from the kernel: in a default container /proc/sys is
/// read-only, masked files read empty and masked directories are empty,
/// and a sysctl still reaches the real procfs.
#[test]
fn default_container_has_readonly_proc_sys_and_masks() {
    // A masked directory, as in runc's mask.bats: listed as empty, and
    // read-only (EROFS) rather than denied, without CAP_DAC_OVERRIDE.
    let script = "ls /masked_dir > /out/ls 2>&1; echo $? >> /out/ls; \
                  touch /masked_dir/foo 2>/out/touch; \
                  cat /proc/sys/net/ipv4/ip_forward > /out/fwd; \
                  ( echo 0 > /proc/sys/net/ipv4/ip_forward ) 2>/out/werr; sleep 100";
    let mut f = Fixture::new(&["sh", "-c", script]).with_out();
    std::fs::create_dir(f.rootfs().join("masked_dir")).unwrap();
    std::fs::write(f.rootfs().join("masked_dir/secret"), "s").unwrap();
    f.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/masked_dir"));
    f.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    // A file among the read-only paths (this kernel has no /proc/sysrq-trigger).
    f.config["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/proc/loadavg"));
    let c = f.create("proc-view").unwrap();
    let mi = mountinfo(c.pid());
    assert!(options_of(&mi, "/proc/loadavg").starts_with("ro,"), "{mi:?}");
    assert!(options_of(&mi, "/proc/sys").starts_with("ro,"), "{mi:?}");
    assert!(options_of(&mi, "/proc/irq").starts_with("ro,"));
    assert!(options_of(&mi, "/proc/acpi").starts_with("ro,"));
    let root = format!("/proc/{}/root", c.pid());
    assert!(!std::fs::read_to_string("/proc/keys").unwrap().is_empty());
    assert_eq!(std::fs::read(format!("{root}/proc/keys")).unwrap().len(), 0);
    assert_eq!(std::fs::read_dir(format!("{root}/proc/acpi")).unwrap().count(), 0);
    c.start().unwrap();
    assert!(common::eventually(|| !f.read_out("fwd").is_empty()));
    // The sysctl reached the container's network namespace through its
    // procfs; the container itself cannot write /proc/sys.
    assert_eq!(f.read_out("fwd"), "1\n");
    assert_eq!(f.read_out("ls"), "0\n");
    assert!(
        f.read_out("touch").contains("Read-only file system"),
        "{}",
        f.read_out("touch")
    );
    assert!(options_of(&mi, "/masked_dir").starts_with("ro,"), "{mi:?}");
    assert!(
        common::eventually(|| f.read_out("werr").contains("Read-only file system")),
        "{}",
        f.read_out("werr")
    );
}

/// The container's rules on the v1 devices controller; None on a pure
/// cgroup v2 host, where a BPF program enforces them (and only the opens
/// below can tell).
fn devices_list(pid: i32) -> Option<String> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cg
        .lines()
        .find_map(|l| l.split_once(":devices:").map(|(_, p)| p.to_string()))?;
    Some(std::fs::read_to_string(format!("/sys/fs/cgroup/devices{path}/devices.list")).unwrap())
}

/// No `linux.resources` at all: the container still gets runc's policy,
/// so device nodes shipped in the image cannot be opened.
#[test]
fn without_device_rules_only_the_default_devices_open() {
    let script = "for n in loop-control fuse loop0 null; do \
                  if ( true < /nodes/$n ) 2>/out/$n.err; then echo opened > /out/$n; else echo refused > /out/$n; fi; \
                  done; sleep 100";
    let f = Fixture::new(&["sh", "-c", script]).with_out();
    let nodes = f.rootfs().join("nodes");
    std::fs::create_dir_all(&nodes).unwrap();
    for (name, kind, major, minor) in [
        ("loop-control", libc::S_IFCHR, 10, 237),
        ("fuse", libc::S_IFCHR, 10, 229),
        ("loop0", libc::S_IFBLK, 7, 0),
        ("null", libc::S_IFCHR, 1, 3),
    ] {
        nix::sys::stat::mknod(
            &nodes.join(name),
            nix::sys::stat::SFlag::from_bits_truncate(kind),
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(major, minor),
        )
        .unwrap();
    }
    assert!(f.config["linux"].get("resources").is_none());
    let c = f.create("no-rules").unwrap();
    if let Some(list) = devices_list(c.pid()) {
        assert!(!list.contains("a *:* rwm"), "{list}");
        assert!(
            list.contains("c 1:3 rwm") && list.contains("c 136:* rwm"),
            "{list}"
        );
    }
    c.start().unwrap();
    assert!(common::eventually(|| !f.read_out("null").is_empty()));
    for n in ["loop-control", "fuse", "loop0"] {
        assert_eq!(f.read_out(n), "refused\n", "{n}");
        assert!(
            f.read_out(&format!("{n}.err"))
                .contains("Operation not permitted"),
            "{n}: {}",
            f.read_out(&format!("{n}.err"))
        );
    }
    assert_eq!(f.read_out("null"), "opened\n");
}

/// A fifo in linux.devices is created and gets no cgroup rule; a bad entry
/// is named as linux.devices[i], not as a resources rule.
#[test]
fn fifo_devices_are_created_and_bad_entries_are_named() {
    let mut f = Fixture::new(&["sh", "-c", "stat -c %F /dev/myfifo > /out/type"]).with_out();
    f.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    f.config["linux"]["devices"] = json!([
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3},
        {"path": "/dev/myfifo", "type": "p", "fileMode": 0o600}
    ]);
    assert_eq!(f.run("fifo").unwrap(), 0);
    assert_eq!(f.read_out("type"), "fifo\n");

    let mut f = Fixture::new(&["true"]);
    f.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    f.config["linux"]["devices"] = json!([
        {"path": "/dev/ok", "type": "c", "major": 1, "minor": 3},
        {"path": "/dev/huge", "type": "c", "major": 2147483648u64, "minor": 0}
    ]);
    let e = f.create("bad-dev").unwrap_err().to_string();
    assert!(
        e.contains("linux.devices[1].major") && !e.contains("resources"),
        "{e}"
    );
}

/// runc mounts /dev writable and makes it read-only at the end, so devpts
/// and the device nodes can still go into it.
#[test]
fn readonly_dev_with_devpts_mounted_after_it() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.mounts()[1]["options"].as_array_mut().unwrap().push(json!("ro"));
    let c = f.create("ro-dev").unwrap();
    let mi = mountinfo(c.pid());
    assert!(options_of(&mi, "/dev").starts_with("ro,"), "{mi:?}");
    assert!(options_of(&mi, "/dev/pts").starts_with("rw,"), "{mi:?}");
    let root = format!("/proc/{}/root", c.pid());
    let null = std::fs::metadata(format!("{root}/dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    let e = std::fs::write(format!("{root}/dev/new"), "x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
}

/// Removes a path made for a test, whatever happens.
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// In a user namespace a linux.devices entry is bound from the host path of
/// the same name: a host file that is not that device is refused.
#[test]
fn user_namespace_devices_must_be_host_device_nodes() {
    let file = Remove(PathBuf::from(format!(
        "/dev/shm/nook-test-{}",
        std::process::id()
    )));
    std::fs::write(&file.0, "host secret\n").unwrap();
    let link = Remove(PathBuf::from(format!(
        "/dev/shm/nook-test-link-{}",
        std::process::id()
    )));
    symlink("/etc/shadow", &link.0).unwrap();
    for path in [
        file.0.clone(),
        link.0.clone(),
        PathBuf::from("/dev/../etc/shadow"),
    ] {
        let mut f = Fixture::new(&["cat", "/dev/shm-file"]);
        f.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        f.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        f.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let status = std::process::Command::new("chown")
            .args(["-R", "-h", "100000:100000"])
            .arg(f.rootfs())
            .status()
            .unwrap();
        assert!(status.success());
        f.config["linux"]["devices"] = json!([
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3},
            {"path": path, "type": "c", "major": 1, "minor": 3}
        ]);
        let e = f.create("userns-dev").unwrap_err().to_string();
        assert!(e.contains("linux.devices[1].path"), "{}: {e}", path.display());
        assert!(f.host_mounts().is_empty());
    }
    assert_eq!(std::fs::read_to_string(&file.0).unwrap(), "host secret\n");
}

/// `delete` rmdirs and kills by the cgroup paths in state.json: paths
/// outside a mounted cgroup hierarchy are refused, naming the state file,
/// and the directory they name is left alone.
#[test]
fn delete_refuses_cgroup_paths_outside_cgroup_mounts() {
    let f = Fixture::new(&["sleep", "100"]);
    let c = f.create("tampered").unwrap();
    let state = f.ctx.root().join("tampered/state.json");
    let original = std::fs::read(&state).unwrap();
    /// Puts the real state back, so the fixture can delete the container
    /// even when an assertion fails.
    struct Restore(PathBuf, Vec<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.0, &self.1);
        }
    }
    let restore = Restore(state.clone(), original.clone());
    let victim = f.dir.path().join("victim");
    std::fs::create_dir_all(victim.join("empty")).unwrap();
    std::fs::write(victim.join("cgroup.procs"), "").unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&original).unwrap();
    let dirs = v["cgroup"]["dirs"]
        .as_array_mut()
        .expect("cgroup dirs in state.json");
    assert!(!dirs.is_empty());
    for d in dirs.iter_mut() {
        d["mount_point"] = json!(f.dir.path());
        d["path"] = json!(victim);
        d["created"] = json!([victim.join("empty")]);
    }
    let delete_error = || {
        f.ctx
            .load("tampered")
            .and_then(|c| c.delete(true))
            .unwrap_err()
            .to_string()
    };
    std::fs::write(&state, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = delete_error();
    assert!(
        e.contains(&state.display().to_string()) && e.contains("not a mounted cgroup hierarchy"),
        "{e}"
    );
    assert!(victim.join("empty").is_dir());
    // A path below a real cgroup mount that climbs out with `..` too.
    let mut v2: serde_json::Value = serde_json::from_slice(&original).unwrap();
    for d in v2["cgroup"]["dirs"].as_array_mut().unwrap() {
        let mp = d["mount_point"].as_str().unwrap().to_string();
        let escape = Path::new(&mp)
            .join("../../../..")
            .join(victim.strip_prefix("/").unwrap());
        d["created"] = json!([escape.join("empty")]);
    }
    std::fs::write(&state, serde_json::to_vec(&v2).unwrap()).unwrap();
    let e = delete_error();
    assert!(e.contains("state.json") && e.contains("is not below"), "{e}");
    assert!(victim.join("empty").is_dir());
    // The real state deletes as usual.
    drop(restore);
    drop(c);
    f.ctx.load("tampered").unwrap().delete(true).unwrap();
}

/// The proc and sysfs mounts of the host, as (mount point, fstype).
fn host_proc_sysfs() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v: Vec<String> = info
        .lines()
        .filter(|l| {
            let fstype = l.split(" - ").nth(1).and_then(|r| r.split(' ').next());
            matches!(fstype, Some("proc" | "sysfs"))
        })
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect();
    v.sort();
    v
}

/// runc's no_pivot.bats "--no-pivot must not expose bare /proc": after
/// MS_MOVE + chroot the host's own /proc stays in the container's mount
/// namespace, unreachable but fully visible to the kernel's
/// mount_too_revealing() check, which then lets a process that makes a
/// user namespace mount a fresh, unmasked procfs. The attack, as the bats
/// test does it: `unshare -mrpf` then `mount -t proc`. Also in a container
/// with a user namespace, where the host's mounts are locked (they cannot
/// be detached, only covered).
#[test]
fn no_pivot_does_not_expose_a_bare_proc() {
    let before = host_proc_sysfs();
    let script = "unshare -mrpf sh -c 'echo ns' > /out/ns 2>&1; \
                  unshare -mrpf sh -c 'mount -t proc none /proc && echo mounted' > /out/log 2>&1; \
                  echo $? > /out/rc";
    for userns in [false, true] {
        let mut f = Fixture::new(&["sh", "-c", script]).with_out();
        symlink("busybox", f.rootfs().join("bin/unshare")).unwrap();
        // unshare -r maps uid 0 onto itself, which the kernel (5.12+) allows
        // only to a process that had CAP_SETFCAP (runc's default set has it).
        for set in ["bounding", "effective", "permitted"] {
            f.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SETFCAP"));
        }
        if userns {
            let linux = &mut f.config["linux"];
            linux["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            linux["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
            linux["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        }
        let opts = nook::CreateOptions {
            no_pivot: true,
            ..Default::default()
        };
        let c = f.create_with("nopivot-proc", &opts).unwrap();
        c.start().unwrap();
        assert_eq!(c.wait().unwrap(), 0);
        c.delete(false).unwrap();
        // The user namespace itself is allowed: only the mount is refused.
        assert_eq!(f.read_out("ns"), "ns\n", "userns {userns}");
        let log = f.read_out("log");
        assert_ne!(f.read_out("rc").trim(), "0", "userns {userns}: {log}");
        assert!(!log.contains("mounted"), "userns {userns}: {log}");
        assert!(log.contains("mount: permission denied"), "userns {userns}: {log}");
        assert_eq!(host_proc_sysfs(), before);
    }
}

/// runc's mask.bats "[prohibit symlink /proc]" and "[prohibit symlink
/// /sys]": a proc or sysfs mount whose destination in the image is a
/// symlink (or anything but a directory) is refused before anything is
/// mounted, rather than mounted wherever the symlink points.
#[test]
fn proc_and_sysfs_need_an_ordinary_directory() {
    for (dest, typ, link) in [
        ("proc", "proc", true),
        ("sys", "sysfs", true),
        ("sys", "sysfs", false),
    ] {
        let f = Fixture::new(&["true"]);
        if link {
            symlink("/symlink", f.rootfs().join(dest)).unwrap();
        } else {
            std::fs::write(f.rootfs().join(dest), "").unwrap();
        }
        let index = f.config["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .position(|m| m["type"] == typ)
            .unwrap();
        let e = f.create("not-a-dir").unwrap_err().to_string();
        assert!(
            e.contains(&format!("mounts[{index}].destination"))
                && e.contains("must be mounted on ordinary directory"),
            "{dest}: {e}"
        );
        // Nothing made at the symlink's target, nothing mounted, no state.
        assert!(!f.rootfs().join("symlink").exists(), "{dest}");
        assert!(f.host_mounts().is_empty(), "{:?}", f.host_mounts());
        assert_eq!(std::fs::read_dir(f.ctx.root()).map(|d| d.count()).unwrap_or(0), 0);
    }
}

/// The image flips /sys between a directory and a symlink while containers
/// are created: whichever the plan sees, sysfs never lands at the
/// symlink's target, because the init checks what it actually opened.
#[test]
fn a_sys_symlinked_after_the_plan_is_refused_by_the_init() {
    let f = Fixture::new(&["true"]);
    let rootfs = f.rootfs();
    std::fs::create_dir_all(rootfs.join("sys")).unwrap();
    std::fs::create_dir_all(rootfs.join("elsewhere")).unwrap();
    symlink("/elsewhere", rootfs.join("link")).unwrap();
    f.write_config();
    let sysfs = f.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["type"] == "sysfs")
        .unwrap();
    let flipper = Flipper::swapping(rootfs.join("sys"), rootfs.join("link"));
    race_creates(
        &f,
        flipper,
        100,
        "sysflip",
        |c| {
            let mi = mountinfo(c.pid());
            assert!(!mi.iter().any(|(m, _)| m.starts_with("/elsewhere")), "{mi:?}");
        },
        |e| {
            // (The plan's resolver can also see the symlink vanish under it:
            // any refusal naming the field is the plan's.)
            if e.contains(&format!("mounts[{sysfs}].destination")) {
                Some(true)
            } else if e.contains("refusing to mount proc or sysfs") && e.contains(&format!("mounts[{sysfs}]"))
            {
                Some(false)
            } else {
                None
            }
        },
    );
}

/// runc's no_pivot.bats "[rootfsPropagation rshared] must not leak rootfs
/// mount" (runc #1961), on a host whose / is shared (systemd's default):
/// with --no-pivot and `rootfsPropagation: rshared`, what the init does on
/// its / reached the host's peers: detaching the host's /proc and /sys
/// there, and moving the rootfs onto the host's / for good. Played in a
/// throw-away mount namespace whose / is made rshared, standing for such a
/// host; its mount table must come out as it went in.
#[test]
fn no_pivot_with_a_shared_root_leaves_the_hosts_mounts_alone() {
    let mut f = Fixture::new(&["true"]);
    f.config["linux"]["rootfsPropagation"] = json!("rshared");
    f.write_config();
    let rootfs = f.rootfs();
    let script = r#"
        mount --make-rshared / && mount --bind "$1" "$1" || exit 99
        before=$(cut -d' ' -f5 /proc/self/mountinfo | sort | tr '\n' ' ')
        "$2" --root "$3" run --no-pivot -b "$4" nopivot-shared; rc=$?
        after=$(cut -d' ' -f5 /proc/self/mountinfo 2>&1 | sort | tr '\n' ' ')
        umount "$1"
        echo "rc=$rc"
        [ "$before" = "$after" ] && echo same || echo "before: $before" "after: $after"
    "#;
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&rootfs)
        .arg(env!("CARGO_BIN_EXE_nook"))
        .arg(f.ctx.root())
        .arg(f.bundle())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rc=0\nsame"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(f.host_mounts().is_empty());
}

//! The fork-safety rule, proven: containers are created in a loop from a
//! process whose other threads allocate, free and lock non-stop. A child
//! that allocated or took a lock between clone and execve would sooner or
//! later deadlock on a lock held by one of those threads at clone time.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Fixture;
use serde_json::json;

const CONTAINERS: usize = 200;

/// An allocator that refuses to work in any process but the test's own:
/// the only such processes are nook's clones before they execve, which
/// must not allocate. It makes a stray allocation fail every time, not
/// only when another thread happens to hold the allocator's lock.
struct ParentOnly;

static PARENT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

// SAFETY: delegates to the system allocator; the check only reads getpid.
unsafe impl std::alloc::GlobalAlloc for ParentOnly {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        check_pid();
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        check_pid();
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

fn check_pid() {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    match PARENT.compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => {}
        Err(parent) if parent == me => {}
        Err(_) => {
            let msg = b"fork_safety: allocation in a cloned child before execve\n";
            // SAFETY: write and _exit are async-signal-safe and allocate nothing.
            unsafe {
                libc::write(2, msg.as_ptr().cast(), msg.len());
                libc::_exit(99);
            }
        }
    }
}

#[global_allocator]
static ALLOC: ParentOnly = ParentOnly;

/// Every set-up path of the child, under the allocator above: user
/// namespace and id maps, devices, tmpcopyup, masked and read-only paths,
/// sysctl, rlimits, capabilities, seccomp (late and with a listener-free
/// profile), hostname, a new cgroup and time namespace, the keyring, the
/// hooks the init runs (with a timeout, and without), id-mapped mounts
/// (with mappings of their own, and taken from the container's user
/// namespace); and exec into a running container.
#[test]
fn the_child_never_allocates_on_any_path() {
    let mut f = Fixture::new(&["sh", "-c", "test -c /dev/mynull && test -f /etc/conf/a"]);
    std::fs::create_dir_all(f.rootfs().join("etc/conf")).unwrap();
    std::fs::write(f.rootfs().join("etc/conf/a"), "x").unwrap();
    let idmap = common::idmap_supported(f.dir.path());
    if idmap {
        f.config["process"]["args"][2] =
            json!("test -c /dev/mynull && test -f /etc/conf/a && test $(stat -c %u /idmapped/x) = 0");
        let idmapped = f.dir.path().join("idmapped");
        std::fs::create_dir(&idmapped).unwrap();
        std::fs::write(idmapped.join("x"), "x").unwrap();
        std::os::unix::fs::lchown(idmapped.join("x"), Some(1000), Some(1000)).unwrap();
        f.mounts().push(
            json!({"destination": "/idmapped", "type": "bind", "source": idmapped,
            "options": ["rbind", "ridmap"],
            "uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
            "gidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}]}),
        );
    }
    f.mounts().push(
        json!({"destination": "/etc/conf", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}),
    );
    f.mounts().push(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}),
    );
    f.config["linux"]["devices"] = json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3}]);
    f.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    f.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 5}});
    f.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]});
    f.config["linux"]["resources"] = json!({"pids": {"limit": 100}});
    f.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]);
    f.config["domainname"] = json!("example.org");
    f.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 3});
    f.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
    f.config["process"]["execCPUAffinity"] = json!({"final": "0"});
    f.config["linux"]["personality"] = json!({"domain": "LINUX"});
    // The init starts these two itself; each checks the state on its stdin.
    f.config["hooks"] = json!({
        "createRuntime": [{"path": "/bin/true"}],
        "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "grep -q '\"creating\"'"], "timeout": 30}],
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "grep -q '\"created\"'"]}]
    });
    assert_eq!(f.run("kitchen").unwrap(), 0);
    // And with a user namespace (no mknod: devices are bind-mounted).
    let mut g = Fixture::new(&["true"]);
    if idmap {
        g.config["process"]["args"] = json!(["test", "-f", "/idmapped/x"]);
        let idmapped = g.dir.path().join("idmapped");
        std::fs::create_dir(&idmapped).unwrap();
        std::fs::write(idmapped.join("x"), "x").unwrap();
        g.mounts().push(
            json!({"destination": "/idmapped", "type": "bind", "source": idmapped, "options": ["bind", "idmap"]}),
        );
    }
    g.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    g.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    g.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    assert_eq!(g.run("kitchen-userns").unwrap(), 0);
    // And exec into a running container: every namespace joined (user,
    // pid and time through the second clone), its root, cgroup and seccomp
    // filter, a user, capabilities and rlimits of the process's own.
    let mut h = Fixture::new(&["sleep", "100"]);
    h.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .extend([json!({"type": "user"}), json!({"type": "time"})]);
    h.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    h.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    h.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]});
    let c = h.create("kitchen-exec").unwrap();
    c.start().unwrap();
    let process = json!({
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
        "args": ["sh", "-c", "test $(id -u) = 1000 && test \"$(pwd)\" = /bin"],
        "env": ["PATH=/bin"],
        "cwd": "/bin",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
        "noNewPrivileges": true
    });
    let e = c.exec_json(&process.to_string(), &Default::default()).unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    c.delete(true).unwrap();
}

/// The AppArmor path of the child (the verified /proc, thread-self, the
/// attribute write) for an init and for exec. It needs AppArmor, so
/// tools/test-apparmor.sh runs it in the VM; `unconfined` is a profile the
/// kernel always has.
#[test]
#[ignore = "needs AppArmor: tools/test-apparmor.sh runs it in a VM"]
fn the_apparmor_path_never_allocates() {
    let mut f = Fixture::new(&["sleep", "100"]);
    f.config["process"]["apparmorProfile"] = json!("unconfined");
    let c = f.create("aa-alloc").unwrap();
    c.start().unwrap();
    let process = json!({"user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/",
        "apparmorProfile": "unconfined"});
    let e = c.exec_json(&process.to_string(), &Default::default()).unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    c.delete(true).unwrap();
}

#[test]
fn containers_from_a_busy_multithreaded_process() {
    // One malloc arena for every thread: glibc otherwise gives each thread
    // its own, and a child that allocated would rarely meet a held lock.
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    assert_eq!(unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) }, 1);
    let f = Fixture::new(&["true"]);
    f.write_config();
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Vec::<String>::new()));
    let churn: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_mul(6364136223846793005).wrapping_add(t + 1);
                    let v: Vec<u8> = vec![n as u8; 1 + n % 65536];
                    let s = format!("{t}:{}", v.len());
                    shared.lock().unwrap().push(s);
                    if shared.lock().unwrap().len() > 1000 {
                        shared.lock().unwrap().clear();
                    }
                }
            })
        })
        .collect();

    // A watchdog turns a hang into a failure: it kills our stuck children,
    // so the blocked create returns an error and the test cleans up.
    let done = Arc::new(AtomicUsize::new(0));
    let watchdog = {
        let (done, stop) = (done.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut last, mut since) = (0, Instant::now());
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = done.load(Ordering::Relaxed);
                if now != last {
                    (last, since) = (now, Instant::now());
                } else if since.elapsed() > Duration::from_secs(20) {
                    eprintln!("container {now} hung for 20 s: killing our children");
                    kill_children();
                    since = Instant::now();
                }
            }
        })
    };

    let mut failures = Vec::new();
    for i in 0..CONTAINERS {
        match f.ctx.run(&format!("fs-{i}"), f.bundle(), &Default::default()) {
            Ok(0) => {}
            other => failures.push(format!("container {i}: {other:?}")),
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    for t in churn {
        t.join().unwrap();
    }
    watchdog.join().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(f.ctx.list().unwrap().is_empty());
}

fn kill_children() {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let after = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
        if after.split(' ').nth(1) == Some(me.as_str()) {
            if let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() {
                // SAFETY: kill with a pid we just read as our child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

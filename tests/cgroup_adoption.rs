//! Existing cgroups (runc 1.2's rule): an empty, thawed one is adopted and
//! left in place on delete; a populated or frozen one is refused. And v1
//! cpusets under an empty parent get CPUs from the nearest ancestor that
//! has them. Every cgroup a test makes itself is removed by its guard.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use common::Fixture;
use serde_json::json;

/// A cgroup directory this test made (parents first), removed on drop
/// after `child` (a process the test put there) is killed.
struct Made {
    dirs: Vec<PathBuf>,
    child: Option<Child>,
}

impl Made {
    fn new(dirs: &[PathBuf]) -> Made {
        for d in dirs {
            std::fs::create_dir(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        }
        Made {
            dirs: dirs.to_vec(),
            child: None,
        }
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in self.dirs.iter().rev() {
            if d.join("freezer.state").exists() {
                let _ = std::fs::write(d.join("freezer.state"), "THAWED");
            }
            if d.join("cgroup.freeze").exists() {
                let _ = std::fs::write(d.join("cgroup.freeze"), "0");
            }
            for _ in 0..100 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// A mounted hierarchy with controller `ctl`: its v1 mount, or the cgroup2
/// mount of a pure v2 host (`None` if neither: the test is skipped).
fn hierarchy(ctl: &str) -> Option<PathBuf> {
    let v1 = Path::new("/sys/fs/cgroup").join(ctl);
    if v1.join("cgroup.procs").exists() {
        return Some(v1);
    }
    let v2 = PathBuf::from("/sys/fs/cgroup");
    let has = std::fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
    if has.split_whitespace().any(|c| c == ctl) || (ctl == "freezer" && v2.join("cgroup.procs").exists()) {
        return Some(v2);
    }
    eprintln!("skipping: no {ctl} hierarchy");
    None
}

fn unique(name: &str) -> String {
    format!("nook-test-{name}-{}", std::process::id())
}

fn config_with_path(args: &[&str], path: &str) -> Fixture {
    let mut f = Fixture::new(args);
    f.config["linux"]["cgroupsPath"] = json!(path);
    f
}

#[test]
fn an_empty_existing_cgroup_is_adopted_and_left_after_delete() {
    let Some(h) = hierarchy("pids") else { return };
    let name = unique("adopt");
    let dir = h.join(&name);
    let _made = Made::new(std::slice::from_ref(&dir));
    let mut f = config_with_path(&["sleep", "100"], &format!("/{name}"));
    f.config["linux"]["resources"] = json!({"pids": {"limit": 42}});
    let c = f.create("adopt").unwrap();
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert_eq!(
        procs.trim(),
        c.pid().to_string(),
        "the init is not in the adopted cgroup"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("pids.max")).unwrap().trim(),
        "42"
    );
    let others: Vec<PathBuf> = c.cgroup().paths().into_values().filter(|p| *p != dir).collect();
    c.delete(true).unwrap();
    assert!(dir.exists(), "the adopted cgroup was removed");
    for o in others {
        assert!(!o.exists(), "{} (made by nook) left behind", o.display());
    }
}

#[test]
fn a_populated_existing_cgroup_is_refused() {
    let Some(h) = hierarchy("pids") else { return };
    let name = unique("populated");
    let dir = h.join(&name);
    let mut made = Made::new(std::slice::from_ref(&dir));
    let child = Command::new("sleep").arg("100").spawn().unwrap();
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
    made.child = Some(child);
    let f = config_with_path(&["true"], &format!("/{name}"));
    let e = f.create("populated").unwrap_err().to_string();
    assert!(
        e.contains("linux.cgroupsPath") && e.contains("not empty") && e.contains("1 process"),
        "{e}"
    );
    // Nothing was left in the other hierarchies either.
    for m in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let p = m.path().join(&name);
        assert!(p == dir || !p.exists(), "{} left behind", p.display());
    }
}

#[test]
fn a_frozen_existing_cgroup_is_refused() {
    let Some(h) = hierarchy("freezer") else { return };
    let name = unique("frozen");
    let dir = h.join(&name);
    let _made = Made::new(std::slice::from_ref(&dir));
    let (file, value) = if dir.join("freezer.state").exists() {
        ("freezer.state", "FROZEN")
    } else {
        ("cgroup.freeze", "1")
    };
    std::fs::write(dir.join(file), value).unwrap();
    let f = config_with_path(&["true"], &format!("/{name}"));
    let e = f.create("frozen").unwrap_err().to_string();
    assert!(e.contains("linux.cgroupsPath") && e.contains("frozen"), "{e}");
}

#[test]
fn v1_cpusets_are_filled_from_the_nearest_ancestor_that_has_them() {
    let cpuset = PathBuf::from("/sys/fs/cgroup/cpuset");
    if !cpuset.join("cpuset.cpus").exists() {
        eprintln!("skipping: no v1 cpuset hierarchy");
        return;
    }
    let cpus = |d: &Path| {
        std::fs::read_to_string(d.join("cpuset.cpus"))
            .unwrap()
            .trim()
            .to_string()
    };
    let update_to_cpu0 = |c: &nook::Container| {
        let mut res = oci_spec::runtime::LinuxResources::default();
        let mut cpu = oci_spec::runtime::LinuxCpu::default();
        cpu.set_cpus(Some("0".into()));
        res.set_cpu(Some(cpu));
        c.update(&res).unwrap();
    };

    // The parent made by nook as a parent directory of the container's.
    let parent = unique("parent");
    let f = config_with_path(&["sleep", "100"], &format!("/{parent}/child"));
    let c = f.create("cpuset-new-parent").unwrap();
    let (p, leaf) = (cpuset.join(&parent), cpuset.join(&parent).join("child"));
    assert!(!cpus(&p).is_empty() && !cpus(&leaf).is_empty());
    update_to_cpu0(&c);
    assert_eq!(cpus(&leaf), "0");
    c.delete(true).unwrap();
    assert!(!p.exists(), "the parent nook made was left behind");

    // An empty parent someone else made (a pod's): the container's cpuset
    // could not take the init otherwise (ENOSPC).
    let pod = unique("pod");
    let p = cpuset.join(&pod);
    let _made = Made::new(std::slice::from_ref(&p));
    assert_eq!(
        cpus(&p),
        "",
        "cgroup.clone_children is set: a new cpuset is not empty here"
    );
    let f = config_with_path(&["sleep", "100"], &format!("/{pod}/child"));
    let c = f.create("cpuset-empty-parent").unwrap();
    let root = cpus(&cpuset);
    assert_eq!((cpus(&p), cpus(&p.join("child"))), (root.clone(), root));
    update_to_cpu0(&c);
    assert_eq!(cpus(&p.join("child")), "0");
    c.delete(true).unwrap();
    assert!(p.exists() && !p.join("child").exists());
}

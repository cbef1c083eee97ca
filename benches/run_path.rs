//! The library's run path, measured: loading + validating + planning a
//! bundle, and a whole `run` (create, start, wait, delete) of a busybox
//! `/bin/true` container. The side-by-side comparison with runc and crun is
//! benches/side-by-side.sh.
//!
//! Last, "library run vs floor": the library's `run` (in this process: no
//! exec of a CLI) and the two floors of benches/floor.c (compiled here with
//! `cc -O2`): the kernel floor (clone with the same five namespaces,
//! pivot_root into the same rootfs, exec /bin/true) and the spec floor
//! (`floor --spec`: all the kernel work of runc's default config, in plain
//! C). They are timed in turns, FLOOR_N rounds (default 60, after 3 warm-up
//! rounds), the library first in even rounds and last in odd ones; it
//! prints the medians and the library's ratio to each. The container's
//! config is `nook spec`'s, which is `runc spec`'s, the one the spec floor
//! has compiled in (on a host without pure cgroup v2 it has runc's five
//! namespaces, no cgroup namespace). As in side-by-side.sh, on a
//! hybrid host the cgroup2 mount is hidden in a private mount namespace of
//! this process, so only the v1 hierarchies are used, as crun would.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use nook::bundle::Bundle;
use nook::plan::{Plan, PlanOptions};

fn run_path(c: &mut Criterion) {
    let f = common::Fixture::new(&["/bin/true"]);
    f.write_config();
    c.bench_function("load+plan", |b| {
        b.iter(|| {
            Plan::new(
                "bench",
                Bundle::load(f.bundle()).unwrap(),
                &PlanOptions::default(),
            )
            .unwrap()
        })
    });
    let mut i = 0u64;
    let mut group = c.benchmark_group("run");
    group.sample_size(30);
    group.bench_function("busybox true", |b| {
        b.iter(|| {
            i += 1;
            assert_eq!(
                f.ctx
                    .run(&format!("b{i}"), f.bundle(), &Default::default())
                    .unwrap(),
                0
            );
        })
    });
    group.finish();
}

/// Hides a hybrid host's cgroup2 mount (see the module doc). Must run
/// before any thread exists: unshare(CLONE_NEWNS) needs an unshared fs.
fn hide_unified() {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    const UNIFIED: &str = "/sys/fs/cgroup/unified";
    let hybrid = nix::sys::statfs::statfs(UNIFIED)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    if !hybrid {
        return;
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("making / private");
    umount2(UNIFIED, MntFlags::MNT_DETACH).expect("unmounting the cgroup2 mount");
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2
    }
}

fn versus_floor() {
    let rounds: usize = std::env::var("FLOOR_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut f = common::Fixture::new(&["/bin/true"]);
    f.config = serde_json::to_value(nook::bundle::default_spec(false)).unwrap();
    let process = &mut f.config["process"];
    process["args"] = serde_json::json!(["/bin/true"]);
    process["terminal"] = false.into();
    process.as_object_mut().unwrap().remove("consoleSize");
    f.write_config();
    let floor = f.dir.path().join("floor");
    let cc = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&floor)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/floor.c"))
        .status()
        .expect("running cc");
    assert!(cc.success(), "cc benches/floor.c failed");
    let lib = |i: usize| {
        let t = Instant::now();
        assert_eq!(
            f.ctx
                .run(&format!("f{i}"), f.bundle(), &Default::default())
                .unwrap(),
            0
        );
        t.elapsed()
    };
    // The spec floor's cgroups are named after this process and the round.
    let floor_run = |spec_cgroup: Option<String>| {
        let mut cmd = Command::new(&floor);
        if let Some(cg) = &spec_cgroup {
            cmd.arg("--spec").arg(f.rootfs()).arg(cg);
        } else {
            cmd.arg(f.rootfs());
        }
        let t = Instant::now();
        let status = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("running the floor");
        let dt = t.elapsed();
        assert!(status.success(), "floor {spec_cgroup:?}: {status}");
        dt
    };
    let spec = |i: usize| floor_run(Some(format!("nkrunpath{}-{i}", std::process::id())));
    let (mut l, mut k, mut s) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds + 3 {
        let (a, b, c) = if i % 2 == 0 {
            let a = lib(i);
            (a, floor_run(None), spec(i))
        } else {
            let (b, c) = (floor_run(None), spec(i));
            (lib(i), b, c)
        };
        if i >= 3 {
            l.push(a);
            k.push(b);
            s.push(c);
        }
    }
    let (l, k, s) = (median(&mut l), median(&mut k), median(&mut s));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "library run vs floors, {rounds} interleaved rounds (medians): run {:.2} ms, \
         kernel floor {:.2} ms, spec floor {:.2} ms; run/kernel floor {:.2}x, \
         run/spec floor {:.2}x",
        ms(l),
        ms(k),
        ms(s),
        ms(l) / ms(k),
        ms(l) / ms(s)
    );
}

criterion_group!(benches, run_path);

fn main() {
    hide_unified();
    benches();
    versus_floor();
    Criterion::default().configure_from_args().final_summary();
}

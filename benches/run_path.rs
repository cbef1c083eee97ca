//! The library's run path, measured: loading + validating + planning a
//! bundle, and a whole `run` (create, start, wait, delete) of a busybox
//! `/bin/true` container. The side-by-side comparison with runc and crun is
//! benches/side-by-side.sh.
//!
//! Last, "library run vs floor": the library's `run` (in this process: no
//! exec of a CLI) and benches/floor.c (compiled here with `cc -O2`; clone
//! with the same five namespaces, pivot_root into the same rootfs, exec
//! /bin/true), timed in turns, FLOOR_N rounds (default 60, after 3 warm-up
//! rounds), order swapped every round; it prints both medians and their
//! ratio. The container has runc's default five namespaces, as the floor
//! (the fixture's cgroup namespace is dropped). As in side-by-side.sh, on a
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
    f.config["linux"]["namespaces"] = serde_json::json!([
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
    ]);
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
    let kernel = || {
        let t = Instant::now();
        let status = Command::new(&floor)
            .arg(f.rootfs())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("running the floor");
        let dt = t.elapsed();
        assert!(status.success(), "floor: {status}");
        dt
    };
    let (mut l, mut k) = (Vec::new(), Vec::new());
    for i in 0..rounds + 3 {
        let (a, b) = if i % 2 == 0 {
            let a = lib(i);
            (a, kernel())
        } else {
            let b = kernel();
            (lib(i), b)
        };
        if i >= 3 {
            l.push(a);
            k.push(b);
        }
    }
    let (l, k) = (median(&mut l), median(&mut k));
    println!(
        "library run vs floor, {rounds} interleaved rounds: run {:.2} ms, floor {:.2} ms, \
         run/floor (medians) {:.2}x",
        l.as_secs_f64() * 1e3,
        k.as_secs_f64() * 1e3,
        l.as_secs_f64() / k.as_secs_f64()
    );
}

criterion_group!(benches, run_path);

fn main() {
    hide_unified();
    benches();
    versus_floor();
    Criterion::default().configure_from_args().final_summary();
}

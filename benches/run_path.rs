//! The library's run path, measured: loading + validating + planning a
//! bundle, and a whole `run` (create, start, wait, delete) of a busybox
//! `/bin/true` container. The side-by-side comparison with runc and crun is
//! benches/side-by-side.sh.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
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

criterion_group!(benches, run_path);
criterion_main!(benches);

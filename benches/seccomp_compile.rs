//! How long `seccomp::compile` takes for Docker's default profile: it runs
//! once per container create, in the parent, before anything is cloned.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use oci_spec::runtime::LinuxSeccomp;

fn docker_profile() -> LinuxSeccomp {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seccomp/docker-default.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture parses")
}

fn bench(c: &mut Criterion) {
    let profile = docker_profile();
    let insns = nook::seccomp::compile(&profile).expect("compiles").filter.len();
    c.bench_function(&format!("compile docker default profile ({insns} insns)"), |b| {
        b.iter(|| nook::seccomp::compile(black_box(&profile)).expect("compiles"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

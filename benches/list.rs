//! `list` and `state` on a state root with thousands of containers
//! (issue 16). The entries are well-formed state files naming this
//! process as their init (its real start time), so each goes the whole
//! status path a running container goes: pid-reuse check, exec socket
//! probe, freezer. Run with `cargo bench --bench list`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nook::Context;
use serde_json::json;

/// Field 22 of /proc/self/stat: what `create` saves as `pid_start`.
fn own_start_time() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(19)
        .unwrap()
        .parse()
        .unwrap()
}

fn fill(root: &Path, n: usize) {
    let (pid, start) = (std::process::id(), own_start_time());
    for i in 0..n {
        let id = format!("c{i:05}");
        let dir = root.join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        let state = json!({
            "id": id, "pid": pid, "pid_start": start, "bundle": "/bundle",
            "rootfs": "/bundle/rootfs", "created": "2026-01-01T00:00:00.000000000Z",
            "annotations": {"org.example/key": "value"}, "owner": "",
            "cgroup": {"dirs": []}, "program": "sleep", "no_new_keyring": false
        });
        std::fs::write(dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    }
}

fn list(c: &mut Criterion) {
    let mut group = c.benchmark_group("state root");
    group.sample_size(10);
    for n in [1000, 5000] {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), n);
        let ctx = Context::new(dir.path());
        assert_eq!(ctx.list().unwrap().len(), n);
        group.bench_with_input(BenchmarkId::new("list", n), &n, |b, _| {
            b.iter(|| ctx.list().unwrap())
        });
        group.bench_with_input(BenchmarkId::new("state of one", n), &n, |b, _| {
            b.iter(|| ctx.load("c00042").unwrap().state())
        });
    }
    group.finish();
}

criterion_group!(benches, list);
criterion_main!(benches);

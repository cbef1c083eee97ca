//! Replays the committed corpus (fuzz/corpus/TARGET/*) through every
//! harness on stable Rust, without libFuzzer: a fixed crash stays fixed
//! and the seeds stay valid inputs.

use nook_fuzz::harness;

#[test]
fn config_corpus() {
    assert!(harness::replay("config", harness::config) > 0);
}

#[test]
fn seccomp_corpus() {
    assert!(harness::replay("seccomp", harness::seccomp) > 0);
}

#[test]
fn state_corpus() {
    assert!(harness::replay("state", harness::state) > 0);
}

#[test]
fn ffi_json_corpus() {
    assert!(harness::replay("ffi_json", harness::ffi_json) > 0);
}

#[test]
fn seccomp_rules_corpus() {
    assert!(harness::replay("seccomp_rules", harness::seccomp_rules) > 0);
}

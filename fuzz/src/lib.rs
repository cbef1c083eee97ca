//! Shared code of nook's fuzz targets (fuzz_targets/*.rs): a classic-BPF
//! interpreter and the seccomp oracle built on it, and the harnesses
//! themselves as plain functions, so `cargo test` here replays the
//! committed corpus on stable Rust without libFuzzer.

pub mod bpf;
pub mod harness;
pub mod oracle;

#![no_main]
//! See nook_fuzz::harness::seccomp_rules.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nook_fuzz::harness::seccomp_rules(data));

#![no_main]
//! See nook_fuzz::harness::seccomp.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nook_fuzz::harness::seccomp(data));

#![no_main]
//! See nook_fuzz::harness::state.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nook_fuzz::harness::state(data));

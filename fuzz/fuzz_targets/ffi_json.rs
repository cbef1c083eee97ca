#![no_main]
//! See nook_fuzz::harness::ffi_json.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nook_fuzz::harness::ffi_json(data));

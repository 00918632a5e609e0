#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stampede_common::fuzzing::histogram(data));

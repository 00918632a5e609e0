#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stampede_worker::fuzzing::h1_response(data));

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stampede_master::fuzzing::worker_messages(data));

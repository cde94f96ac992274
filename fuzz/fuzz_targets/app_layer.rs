#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| shellsight::fuzz_targets::app_layer(data));

//! Feeds arbitrary bytes to the capture reader (as a file and as a stream) and everything it
//! yields to the decoder and flow table. Nothing may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flowaudit::engine::analyze_bytes(data);
});

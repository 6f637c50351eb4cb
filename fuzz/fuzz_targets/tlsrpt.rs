#![no_main]
//! Fuzz target: tlsrpt. Outside data must end in a value or an error, never a panic.

use libfuzzer_sys::fuzz_target;
use mxdoctor_proto::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = tlsrpt::parse(text);
});

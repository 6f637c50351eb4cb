#![no_main]
//! Fuzz target: message. Outside data must end in a value or an error, never a panic.

use libfuzzer_sys::fuzz_target;
use mxdoctor_proto::*;

fuzz_target!(|data: &[u8]| {
    let _ = mail::analyze(data);
    let text = String::from_utf8_lossy(data);
    let _ = dsn::parse_delivery_status(&text);
    let _ = bounce::classify(None, &text);
    let _ = bounce::status_codes_in(&text);
    let _ = headers::header_facts(data);
});

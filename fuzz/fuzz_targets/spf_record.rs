#![no_main]
//! Fuzz target: spf_record. Outside data must end in a value or an error, never a panic.

use libfuzzer_sys::fuzz_target;
use mxdoctor_proto::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = spf::parse_record(text);
    let _ = spf::validate_macro_string(text, false);
    let _ = spf::validate_macro_string(text, true);
    let ctx = spf::MacroContext {
        sender: "strong-bad@email.example.com".into(),
        domain: "email.example.com".into(),
        ip: "192.0.2.3".parse().unwrap(),
        helo: "mx.example.org".into(),
        validated: Some("mx.example.org".into()),
        receiver: "mx.example.net".into(),
        timestamp: 0,
    };
    let _ = spf::expand(text, &ctx, false);
    let _ = spf::expand(text, &ctx, true);
});

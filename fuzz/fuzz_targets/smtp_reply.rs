#![no_main]
//! Fuzz target: smtp_reply. Outside data must end in a value or an error, never a panic.

use libfuzzer_sys::fuzz_target;
use mxdoctor_proto::*;

fuzz_target!(|data: &[u8]| {
    let _ = smtp::identify_peer(data);
    let mut lines = Vec::new();
    for line in data.split(|b| *b == b'\n').take(200) {
        if let Ok(l) = smtp::parse_reply_line(line) {
            lines.push(l.text);
        }
    }
    let reply = smtp::Reply {
        code: 250,
        enhanced: None,
        lines,
    };
    let _ = smtp::parse_ehlo(&reply);
});

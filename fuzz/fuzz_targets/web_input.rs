#![no_main]
//! Fuzz target: the web form and API bodies (JSON into the input structs, then the requests
//! validated from them), and a message upload.

use libfuzzer_sys::fuzz_target;
use mxdoctor_input::{CheckInput, SendasInput};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = serde_json::from_slice::<CheckInput>(data) {
        let _ = c.request();
    }
    if let Ok(s) = serde_json::from_slice::<SendasInput>(data) {
        let _ = s.request();
    }
    let _ = mxdoctor_input::message(data);
});

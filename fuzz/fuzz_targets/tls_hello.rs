#![no_main]
//! Fuzz target: tls_hello. Outside data must end in a value or an error, never a panic.

use libfuzzer_sys::fuzz_target;
use mxdoctor_proto::*;

fuzz_target!(|data: &[u8]| {
    let _ = tls_hello::parse_server_response(data);
    let _ = tls_hello::parse_client_hello(data);
});

#![no_main]
//! Fuzz target: the lab's world loader (world.toml and a zone file, split at the first NUL).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (toml, zone) = text.split_once('\0').unwrap_or((text, ""));
    let _ = mxdoctor_lab::World::from_parts(toml, vec![("fuzz.zone".to_string(), zone.to_string())]);
});

//! `mxdoctor lab`: run a world in the foreground and tell the user how to attach to it.

use std::path::{Path, PathBuf};

use mxdoctor_lab::{LabOptions, LabState, World};

use crate::app::{LabEnv, RunError};
use crate::cli::LabArgs;

pub async fn lab_cmd(args: LabArgs) -> Result<i32, RunError> {
    if args.list {
        for name in mxdoctor_lab::builtin_names() {
            let desc = World::builtin(name)
                .map(|w| w.description().to_string())
                .unwrap_or_default();
            println!("{name:<22} {desc}");
        }
        return Ok(0);
    }
    let world = match (&args.scenario, &args.world) {
        (_, Some(dir)) => World::load(dir).map_err(|e| format!("--world {}: {e}", dir.display()))?,
        (Some(name), None) => World::builtin(name).ok_or_else(|| {
            format!(
                "no built-in scenario `{name}`; available: {}",
                mxdoctor_lab::builtin_names().join(", ")
            )
        })?,
        (None, None) => World::builtin("seed").ok_or("the built-in seed scenario is missing")?,
    };
    let opts = LabOptions {
        latency: args.latency.unwrap_or_default(),
        dns_addr: args.dns_listen,
        ..Default::default()
    };
    let lab = mxdoctor_lab::start(&world, opts)
        .await
        .map_err(|e| format!("could not start the lab: {e}"))?;
    let state_path = args.state.clone().unwrap_or_else(LabState::default_path);
    let state = lab.state();
    state
        .write(&state_path)
        .map_err(|e| format!("cannot write the state file {}: {e}", state_path.display()))?;
    let ca_path = state_path.with_file_name("lab-ca.pem");
    std::fs::write(&ca_path, lab.ca_pem()).map_err(|e| format!("cannot write {}: {e}", ca_path.display()))?;
    let map = lab
        .address_map()
        .iter()
        .map(|(w, t)| format!("{w}={t}"))
        .collect::<Vec<_>>()
        .join(",");
    println!("mxdoctor lab: world `{}` is running.", world.name());
    println!("  DNS server       {}", lab.dns_addr());
    println!("  state file       {}", state_path.display());
    println!("  lab CA           {}", ca_path.display());
    println!("  address map      {} entries", lab.address_map().len());
    for (w, t) in lab.address_map().iter() {
        println!("    {w:<24} -> {t}");
    }
    println!();
    println!("Attach other commands with --lab (reads the state file):");
    if let Ok((host, port)) = demo_target(&world) {
        println!("  mxdoctor sendas {host} --port {port} --lab {}", state_path.display());
    }
    // Worlds with DKIM keys: a message signed by the lab MTA, to try `message` on.
    for key in world.dkim_keys() {
        let d = &key.domain;
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        let msg = format!(
            "From: <info@{d}>\r\nTo: <someone@gmail.example>\r\nSubject: lab sample\r\nDate: {date}\r\nMessage-ID: <sample@{d}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA message signed by the lab MTA.\r\n"
        );
        match mxdoctor_lab::mta::Mta::new(&world).sign(d, msg.as_bytes()) {
            Ok(signed) => {
                let path = state_path.with_file_name(format!("sample-{d}.eml"));
                if std::fs::write(&path, signed).is_ok() {
                    println!(
                        "  mxdoctor message {} --lab {}   (signed by {d})",
                        path.display(),
                        state_path.display()
                    );
                }
            }
            Err(e) => eprintln!("mxdoctor lab: no sample for {d}: {e}"),
        }
    }
    println!("or explicitly:");
    println!(
        "  mxdoctor sendas HOST --resolver {} --connect-map {map} --ca-file {}",
        lab.dns_addr(),
        ca_path.display()
    );
    println!("Stop with Ctrl-C.");
    match args.duration {
        Some(secs) => tokio::time::sleep(std::time::Duration::from_secs(secs)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    let _ = std::fs::remove_file(&state_path);
    drop(lab);
    Ok(0)
}

/// Reads a running lab's state file (`--lab [FILE]`; empty = the default path).
pub fn read_state(path: Option<&Path>) -> Result<LabEnv, RunError> {
    let path: PathBuf = path.map(Path::to_path_buf).unwrap_or_else(LabState::default_path);
    let state = LabState::read(&path).map_err(|e| {
        format!(
            "--lab: cannot read the lab state file {} ({e}); is `mxdoctor lab` running?",
            path.display()
        )
    })?;
    Ok(LabEnv {
        resolver: state.resolver,
        map: state.address_map.clone(),
        ca_pem: state.ca_pem.clone(),
        dnssec_anchor: state.dnssec_anchor.clone(),
    })
}

/// The host and port a world's `[demo]` names.
pub fn demo_target(world: &World) -> Result<(String, u16), RunError> {
    let demo = world
        .demo()
        .ok_or_else(|| format!("world `{}` names no [demo] target", world.name()))?;
    Ok((demo.host.clone(), demo.port))
}

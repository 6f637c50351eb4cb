//! `mxdoctor serve` (the web page, API, test address and metrics of crates/web), and the
//! interfaces generated from the clap definitions: `completions` and `manpage`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::CommandFactory;
use mxdoctor_web::testaddr::TestAddressConfig;
use mxdoctor_web::{AppState, Config, ContextFactory};

use crate::app::{LabEnv, RunError, build_context, make_clock};
use crate::cli::{Cli, LangArg, ServeArgs};

pub async fn serve_cmd(args: ServeArgs) -> Result<i32, RunError> {
    let listen: SocketAddr = args
        .listen
        .parse()
        .map_err(|_| format!("--listen {}: expected ADDR:PORT, e.g. 127.0.0.1:8080", args.listen))?;
    // A built-in world keeps running as long as the server does.
    let (lab, lab_env) = match &args.scenario {
        Some(name) => {
            let (lab, env) = crate::app::start_builtin_lab(name, &args.common).await?;
            (Some(lab), Some(env))
        }
        None => (None, None),
    };
    let config = config(&args, lab_env)?;
    let state = AppState::new(config).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("--listen {listen}: {e}"))?;
    let shown = listener.local_addr().unwrap_or(listen);
    eprintln!("mxdoctor serve: http://{shown}/ (API: /api/v1/, metrics: /metrics)");
    if let (Some(addr), Some(domain)) = (&args.smtp_listen, &args.test_domain) {
        eprintln!("mxdoctor serve: test addresses t-<token>@{domain}, SMTP on {addr}");
    }
    let served = tokio::select! {
        r = mxdoctor_web::serve(state, listener) => r.map_err(|e| e.to_string()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    drop(lab);
    served?;
    Ok(0)
}

/// The server's configuration from its arguments.
fn config(args: &ServeArgs, lab_env: Option<LabEnv>) -> Result<Config, RunError> {
    // Build one context now: a bad option fails at start, not at the first check.
    let common = args.common.clone();
    let allow_private = args.allow_private;
    let lab_env = match (lab_env, &common.lab) {
        (Some(env), _) => Some(env),
        (None, Some(path)) => Some(crate::labcmd::read_state(path.as_deref())?),
        (None, None) => None,
    };
    // One politeness gate for every check the server runs: the limits hold across users.
    let gate = build_context(&common, lab_env.clone())?.connector.gate().cloned();
    let context: ContextFactory = Arc::new(move || {
        let mut ctx = build_context(&common, lab_env.clone()).map_err(|e| e.0)?;
        ctx.connector = ctx.connector.with_gate(gate.clone());
        if !allow_private {
            ctx.connector = ctx.connector.public_only();
        }
        Ok(ctx)
    });
    if args.retention == 0 {
        return Err("--retention 0: keep reports at least one day".into());
    }
    let test_address = match (&args.smtp_listen, &args.test_domain) {
        (Some(addr), Some(domain)) => Some(test_address(args, addr, domain)?),
        _ => None,
    };
    Ok(Config {
        lang_default: match args.lang_default {
            LangArg::En => mxdoctor_explain::Lang::En,
            LangArg::Ja => mxdoctor_explain::Lang::Ja,
        },
        store: args.store.clone(),
        context,
        clock: make_clock(&args.common)?,
        limits: mxdoctor_web::limits::Limits {
            per_client_per_minute: args.rate.max(1),
            // Ten at once, or a second's worth when the rate is higher than that.
            per_client_burst: args.rate.clamp(1, 10).max(args.rate / 60),
            in_flight: args.max_in_flight.max(1),
            check_timeout: Duration::from_secs(args.check_timeout.clamp(5, 3600)),
            ..Default::default()
        },
        retention: Duration::from_secs(u64::from(args.retention) * 86_400),
        test_address,
    })
}

fn test_address(args: &ServeArgs, addr: &str, domain: &str) -> Result<TestAddressConfig, RunError> {
    let listen: SocketAddr = addr
        .parse()
        .map_err(|_| format!("--smtp-listen {addr}: expected ADDR:PORT, e.g. 0.0.0.0:25"))?;
    let domain = mxdoctor_proto::hostname::Hostname::parse_dns_name(domain)
        .map_err(|e| format!("--test-domain {domain}: {e}"))?;
    let mut cfg = TestAddressConfig::new(listen, domain.as_str().to_string());
    if let (Some(cert), Some(key)) = (&args.smtp_tls_cert, &args.smtp_tls_key) {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(|e| RunError(format!("{}: cannot read it ({e})", p.display())))
        };
        cfg.tls = Some((read(cert)?, read(key)?));
    }
    cfg.max_size = args.smtp_max_size.max(1024);
    cfg.token_ttl = Duration::from_secs(args.token_minutes.clamp(1, 7 * 24 * 60) * 60);
    cfg.trust_xclient = args.smtp_trust_xclient;
    Ok(cfg)
}

/// `mxdoctor completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "mxdoctor", &mut std::io::stdout());
    0
}

/// `mxdoctor manpage`.
pub fn manpage() -> Result<i32, RunError> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    man.render(&mut out)
        .map_err(|e| format!("cannot render the man page: {e}"))?;
    // Each subcommand's options too, as sections of the one page.
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name().to_string();
        out.extend_from_slice(format!(".SH \"MXDOCTOR {}\"\n", name.to_uppercase()).as_bytes());
        let sub_man = clap_mangen::Man::new(sub.clone());
        sub_man
            .render_description_section(&mut out)
            .and_then(|_| sub_man.render_options_section(&mut out))
            .map_err(|e| format!("cannot render the man page: {e}"))?;
    }
    use std::io::Write as _;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| format!("cannot write the man page: {e}"))?;
    Ok(0)
}

//! Runs a parsed command line: builds the context (live or lab), runs the engine, prints.

use mxdoctor_engine::deadline::within;
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mxdoctor_engine::Context;
use mxdoctor_engine::domain::DomainRequest;
use mxdoctor_engine::ip::IpRequest;
use mxdoctor_engine::model::Report;
use mxdoctor_engine::sendas::{self, SendasRequest};
use mxdoctor_engine::spf::SpfRequest;
use mxdoctor_explain::Lang;
use mxdoctor_net::clock::{self, SharedClock};
use mxdoctor_net::smtp::{Credentials, Security};
use mxdoctor_net::tls::TlsSettings;
use mxdoctor_net::{AddressMap, Connector, Dns, DnsConfig};
use mxdoctor_proto::hostname::Hostname;

use crate::cli::{
    CheckArgs, Cli, Command, Common, DemoArgs, Format, IpArgs, LangArg, MailboxArgs, MessageArgs, SecurityArg,
    SendasArgs, SpfArgs,
};

/// Exit code when the tool could not run at all.
pub const EXIT_USAGE: i32 = 2;

/// A failure to run, with the message for the user (exit code 2).
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<T: Into<String>> From<T> for RunError {
    fn from(s: T) -> Self {
        RunError(s.into())
    }
}

pub async fn run(cli: Cli) -> Result<i32, RunError> {
    match cli.command {
        Command::Sendas(args) => sendas_cmd(args).await,
        Command::Mailbox(args) => mailbox_cmd(args).await,
        Command::Demo(args) => demo_cmd(args).await,
        Command::Ip(args) => ip_cmd(args).await,
        Command::Spf(args) => spf_cmd(args).await,
        Command::Check(args) => check_cmd(args).await,
        Command::Message(args) => message_cmd(args).await,
        Command::Lab(args) => crate::labcmd::lab_cmd(args).await,
        Command::Serve(args) => crate::servecmd::serve_cmd(args).await,
        Command::Scan(args) => crate::scancmd::scan_cmd(args).await,
        Command::History(args) => crate::scancmd::history_cmd(args),
        Command::Diff(args) => crate::scancmd::diff_cmd(args),
        Command::Completions(args) => Ok(crate::servecmd::completions(args.shell)),
        Command::Manpage => crate::servecmd::manpage(),
    }
}

/// Where the network settings come from.
#[derive(Clone)]
pub struct LabEnv {
    pub resolver: SocketAddr,
    pub map: AddressMap,
    pub ca_pem: String,
    /// A signed world's root key: validated lookups use it instead of IANA's.
    pub dnssec_anchor: Option<String>,
}

pub fn parse_resolver(s: &str) -> Result<SocketAddr, RunError> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(RunError(format!(
        "--resolver {s}: expected IP or IP:PORT (e.g. 192.0.2.53 or 127.0.0.1:5353 or [::1]:53)"
    )))
}

pub fn make_clock(common: &Common) -> Result<SharedClock, RunError> {
    match &common.now {
        None => Ok(clock::system()),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(clock::fixed)
            .map_err(|e| {
                RunError(format!(
                    "--now {s}: not an RFC 3339 time ({e}); example: 2026-11-23T00:00:00Z"
                ))
            }),
    }
}

/// The context for a lab: its resolver, its address map only, its CA as an extra anchor.
pub fn lab_context(lab: &LabEnv, clock: SharedClock, timeout: Duration) -> Result<Context, RunError> {
    let mut tls = TlsSettings::webpki_roots(clock.clone(), timeout);
    tls.add_pem(&lab.ca_pem, "lab CA")?;
    let dns = Dns::new(&DnsConfig {
        servers: vec![lab.resolver],
        timeout,
        attempts: 2,
        trust_anchor: lab_anchor(lab.dnssec_anchor.as_deref()),
    })
    .map_err(|e| e.to_string())?;
    Ok(Context {
        dns,
        connector: Connector::lab(lab.map.clone()),
        tls,
        clock,
        timeout,
        deadline: mxdoctor_engine::deadline::DEFAULT_DEADLINE,
        ehlo_name: EHLO_NAME.into(),
    })
}

/// The DNSSEC trust anchor in a lab: the signed world's root key, or none at all for a world
/// that is not signed (its names are then insecure, never bogus against IANA's keys).
fn lab_anchor(key: Option<&str>) -> mxdoctor_net::dnssec::TrustAnchor {
    match key {
        Some(k) => mxdoctor_net::dnssec::TrustAnchor::Key(k.to_string()),
        None => mxdoctor_net::dnssec::TrustAnchor::None,
    }
}

/// Our EHLO name: `.invalid` (RFC 2606) says plainly that this is a probe, not a mail server.
pub const EHLO_NAME: &str = "mxdoctor.invalid";

/// Builds the engine context from the options and, when given, a lab's settings.
pub fn build_context(common: &Common, lab: Option<LabEnv>) -> Result<Context, RunError> {
    if !(common.timeout.is_finite() && common.timeout > 0.0 && common.timeout <= 600.0) {
        return Err(RunError(format!(
            "--timeout {}: must be between 0 and 600 seconds",
            common.timeout
        )));
    }
    let timeout = Duration::from_secs_f64(common.timeout);
    let max_deadline = mxdoctor_engine::deadline::MAX_DEADLINE.as_secs_f64();
    if !(common.deadline.is_finite() && common.deadline > 0.0 && common.deadline <= max_deadline) {
        return Err(RunError(format!(
            "--deadline {}: must be between 0 and {max_deadline} seconds",
            common.deadline
        )));
    }
    let deadline = Duration::from_secs_f64(common.deadline);
    let clock = make_clock(common)?;
    let lab = match (lab, &common.lab) {
        (Some(l), _) => Some(l),
        (None, Some(path)) => Some(crate::labcmd::read_state(path.as_deref())?),
        (None, None) => None,
    };
    let mut servers: Vec<SocketAddr> = common
        .resolvers
        .iter()
        .map(|s| parse_resolver(s))
        .collect::<Result<_, _>>()?;
    let mut tls = TlsSettings::webpki_roots(clock.clone(), timeout);
    let connector = if let Some(lab) = &lab {
        if servers.is_empty() {
            servers.push(lab.resolver);
        }
        tls.add_pem(&lab.ca_pem, "lab CA")?;
        Connector::lab(lab.map.clone())
    } else if let Some(pairs) = &common.connect_map {
        Connector::lab(AddressMap::parse_pairs(pairs).map_err(|e| format!("--connect-map: {e}"))?)
    } else {
        Connector::direct()
    };
    if let Some(path) = &common.ca_file {
        let pem =
            std::fs::read_to_string(path).map_err(|e| format!("--ca-file {}: cannot read it ({e})", path.display()))?;
        tls.add_pem(&pem, &path.display().to_string())?;
    }
    let dns = Dns::new(&DnsConfig {
        servers,
        timeout,
        attempts: 2,
        trust_anchor: match &lab {
            Some(l) => lab_anchor(l.dnssec_anchor.as_deref()),
            None => Default::default(),
        },
    })
    .map_err(|e| e.to_string())?
    .with_limits(dns_limits(common));
    let gate = mxdoctor_net::gate::Gate::new(common.per_ip.into(), common.per_net.into());
    let connector = connector.with_gate(Some(Arc::new(gate)));
    Ok(Context {
        dns,
        connector,
        tls,
        clock,
        timeout,
        deadline,
        ehlo_name: EHLO_NAME.into(),
    })
}

pub fn lang_of(common: &Common) -> Lang {
    match common.lang {
        Some(LangArg::En) => Lang::En,
        Some(LangArg::Ja) => Lang::Ja,
        None => Lang::from_env(),
    }
}

/// `--dns-rate`, and `--dnsbl-rate` / `--dnsbl-budget` for each built-in blocklist.
fn dns_limits(common: &Common) -> mxdoctor_net::dnslimits::DnsLimits {
    let mut limits = mxdoctor_net::dnslimits::DnsLimits::none().with_global_rate(common.dns_rate);
    let lists = mxdoctor_proto::dnsbl::default_ip_lists()
        .into_iter()
        .chain(mxdoctor_proto::dnsbl::default_domain_lists());
    for list in lists {
        limits = limits.with_zone(&list.zone, common.dnsbl_rate, common.dnsbl_budget);
    }
    limits
}

/// The context traced when `--timeline` asks for it.
pub fn traced(ctx: Context, common: &Common) -> (Context, Option<mxdoctor_net::timeline::Timeline>) {
    if common.timeline {
        let (ctx, t) = ctx.traced();
        (ctx, Some(t))
    } else {
        (ctx, None)
    }
}

/// Ends a traced run and draws its timeline on stderr (stdout stays the report alone).
pub fn show_timeline(timeline: Option<mxdoctor_net::timeline::Timeline>, ctx: &Context) {
    let Some(t) = timeline else { return };
    t.finish();
    let per_ip = ctx.connector.gate().map(|g| g.per_ip()).unwrap_or(usize::MAX);
    let text = mxdoctor_report::timeline::timeline_text(&t, per_ip);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

/// Prints a report and returns its exit code.
pub fn print(report: &Report, common: &Common) -> i32 {
    let out = match common.format {
        Format::Json => mxdoctor_report::json(report),
        Format::Text => {
            let opts = mxdoctor_report::TextOptions {
                lang: lang_of(common),
                color: mxdoctor_report::color_wanted(std::io::stdout().is_terminal()),
                verbose: common.verbose,
            };
            mxdoctor_report::text(report, &opts)
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    exit_code(report)
}

/// 2 when the verdict could not be found out: an `.unknown` verdict, or a verdict that rests
/// on a check that could not run (an error cause among its reasons, e.g. a deferral because a
/// DNS lookup failed). A definite failure found beside it still makes 1.
pub fn exit_code(report: &Report) -> i32 {
    report.exit_status()
}

pub fn sendas_request(
    host: &str,
    port: u16,
    security: Option<SecurityArg>,
    user: Option<&str>,
    password_env: Option<&str>,
) -> Result<SendasRequest, RunError> {
    let host = Hostname::parse(host).map_err(|e| format!("`{host}` is not a host name Gmail would accept: {e}"))?;
    if port == 0 {
        return Err(RunError("--port 0: a port must be between 1 and 65535".into()));
    }
    let mut req = SendasRequest::new(host, port);
    if let Some(s) = security {
        req.security = match s {
            SecurityArg::Starttls => Security::Starttls,
            SecurityArg::Ssl => Security::Implicit,
        };
    }
    if let (Some(user), Some(var)) = (user, password_env) {
        let password = std::env::var(var)
            .map_err(|_| format!("--password-env {var}: the environment variable {var} is not set"))?;
        req.credentials = Some(Credentials {
            user: user.to_string(),
            password,
        });
    }
    Ok(req)
}

async fn sendas_cmd(args: SendasArgs) -> Result<i32, RunError> {
    let req = sendas_request(
        &args.host,
        args.port,
        args.security,
        args.user.as_deref(),
        args.password_env.as_deref(),
    )?;
    let (ctx, timeline) = traced(build_context(&args.common, None)?, &args.common);
    let target = format!("{}:{}", req.host, req.port);
    let report = within(&ctx, "sendas", &target, sendas::run(&ctx, &req)).await;
    show_timeline(timeline, &ctx);
    Ok(print(&report, &args.common))
}

async fn mailbox_cmd(args: MailboxArgs) -> Result<i32, RunError> {
    let host = Hostname::parse(args.host.trim()).map_err(|e| format!("{}: not a host name ({e})", args.host))?;
    let req = mxdoctor_engine::mailbox::MailboxRequest::for_port(host, args.port)
        .ok_or_else(|| format!("--port {}: use 993, 995, 143 or 110", args.port))?;
    let (ctx, timeline) = traced(build_context(&args.common, None)?, &args.common);
    let target = format!("{}:{}", args.host, args.port);
    let report = within(&ctx, "mailbox", &target, mxdoctor_engine::mailbox::run(&ctx, &req)).await;
    show_timeline(timeline, &ctx);
    Ok(print(&report, &args.common))
}

async fn demo_cmd(args: DemoArgs) -> Result<i32, RunError> {
    let (lab, env) = start_builtin_lab(&args.scenario, &args.common).await?;
    let ctx = build_context(&args.common, Some(env))?;
    let reports = demo_reports(&ctx, lab.world()).await?;
    drop(lab);
    Ok(print_all(&reports, &args.common))
}

/// Starts the built-in world `name` with the clock of `common` (`--now`), and the settings
/// to attach to it. The lab runs until the returned handle is dropped.
pub async fn start_builtin_lab(name: &str, common: &Common) -> Result<(mxdoctor_lab::Lab, LabEnv), RunError> {
    let world = mxdoctor_lab::World::builtin(name).ok_or_else(|| {
        format!(
            "no built-in scenario `{name}`; available: {}",
            mxdoctor_lab::builtin_names().join(", ")
        )
    })?;
    let now = make_clock(common)?.now();
    let lab = mxdoctor_lab::start(
        &world,
        mxdoctor_lab::LabOptions {
            now: Some(now),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("could not start the lab: {e}"))?;
    let env = LabEnv {
        resolver: lab.dns_addr(),
        map: lab.address_map().clone(),
        ca_pem: lab.ca_pem().to_string(),
        dnssec_anchor: lab.dnssec_anchor().map(str::to_string),
    };
    Ok((lab, env))
}

/// What the demo diagnoses in a world: Send mail as for its `[demo]` host, then, when the world
/// names a domain, the whole domain report.
pub async fn demo_reports(ctx: &Context, world: &mxdoctor_lab::World) -> Result<Vec<Report>, RunError> {
    let demo = world
        .demo()
        .ok_or_else(|| format!("world `{}` names no [demo] target", world.name()))?;
    let mut reports = vec![sendas::run(ctx, &sendas_request(&demo.host, demo.port, None, None, None)?).await];
    if let Some(domain) = &demo.domain {
        let req = DomainRequest {
            domain: domain.clone(),
            ips: demo.ips.clone(),
            helo: None,
            selectors: vec![],
            bulk: demo.bulk,
            // The Send-mail-as report above already covers the submission server.
            submission: None,
            check_submission: false,
            lists: IpRequest::new(std::net::Ipv4Addr::UNSPECIFIED.into()).lists,
            domain_lists: mxdoctor_proto::dnsbl::default_domain_lists(),
            topics: mxdoctor_engine::topics::Topics::default(),
            relay_test: false,
        };
        reports.push(mxdoctor_engine::domain::run(ctx, &req).await);
    }
    Ok(reports)
}

/// Prints several reports (JSON: an array) and returns the worst exit code.
pub fn print_all(reports: &[Report], common: &Common) -> i32 {
    if common.format == Format::Json && reports.len() > 1 {
        let items: Vec<String> = reports
            .iter()
            .map(|r| mxdoctor_report::json(r).trim_end().to_string())
            .collect();
        println!("[\n{}\n]", items.join(",\n"));
        return reports.iter().map(exit_code).max().unwrap_or(0);
    }
    let mut code = 0;
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            println!();
        }
        code = code.max(print(r, common));
    }
    code
}

/// Builds the `ip` request from arguments (bad input is a RunError: exit 2).
pub fn ip_request(ip: &str, helo: Option<&str>, dnsbl: &[String], no_dnsbl: bool) -> Result<IpRequest, RunError> {
    let addr = parse_ip(ip)?;
    let mut req = IpRequest::new(addr);
    if no_dnsbl {
        req.lists.clear();
    }
    for zone in dnsbl {
        let z = Hostname::parse_dns_name(zone).map_err(|e| format!("--dnsbl {zone}: {e}"))?;
        req.lists.push(mxdoctor_proto::dnsbl::custom_list(z.as_str()));
    }
    if let Some(h) = helo {
        req.helo = Some(Hostname::parse(h).map_err(|e| format!("--helo {h}: {e}"))?);
    }
    Ok(req)
}

async fn ip_cmd(args: IpArgs) -> Result<i32, RunError> {
    let req = ip_request(&args.ip, args.helo.as_deref(), &args.lists.dnsbl, args.lists.no_dnsbl)?;
    let (ctx, timeline) = traced(build_context(&args.common, None)?, &args.common);
    let report = within(&ctx, "ip", &args.ip, mxdoctor_engine::ip::run(&ctx, &req)).await;
    show_timeline(timeline, &ctx);
    Ok(print(&report, &args.common))
}

fn parse_ip(s: &str) -> Result<IpAddr, RunError> {
    s.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| RunError(format!("`{s}` is not an IPv4 or IPv6 address")))
}

/// Builds the `spf` request (bad input: exit 2).
pub fn spf_request(
    domain: &str,
    ips: &[String],
    sender: Option<&str>,
    helo: Option<&str>,
) -> Result<SpfRequest, RunError> {
    let d = Hostname::parse_dns_name(domain).map_err(|e| format!("`{domain}` is not a domain: {e}"))?;
    let ips = ips.iter().map(|s| parse_ip(s)).collect::<Result<Vec<_>, _>>()?;
    if let Some(s) = sender
        && (!s.contains('@') || s.len() > 320)
    {
        return Err(RunError(format!(
            "--sender {s}: expected an address like user@example.com"
        )));
    }
    Ok(SpfRequest {
        domain: d.as_str().to_string(),
        ips,
        sender: sender.map(str::to_string),
        helo: helo.map(str::to_string),
    })
}

async fn spf_cmd(args: SpfArgs) -> Result<i32, RunError> {
    let req = spf_request(&args.domain, &args.ips, args.sender.as_deref(), args.helo.as_deref())?;
    let (ctx, timeline) = traced(build_context(&args.common, None)?, &args.common);
    let report = within(&ctx, "spf", &args.domain, mxdoctor_engine::spf::run(&ctx, &req)).await;
    show_timeline(timeline, &ctx);
    Ok(print(&report, &args.common))
}

/// `--submission HOST[:PORT]`: the server as typed into Gmail's dialog; port 587 by default.
fn submission_arg(s: &str) -> Result<(Hostname, u16), RunError> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port: u16 = p
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| RunError(format!("--submission {s}: `{p}` is not a port number")))?;
            (h, port)
        }
        _ => (s, 587),
    };
    let host = Hostname::parse(host).map_err(|e| format!("--submission {s}: {e}"))?;
    Ok((host, port))
}

/// Builds the `check` request (bad input: exit 2).
pub fn domain_request(args: &CheckArgs) -> Result<DomainRequest, RunError> {
    let d = Hostname::parse_dns_name(&args.domain).map_err(|e| format!("`{}` is not a domain: {e}", args.domain))?;
    let ipreq = ip_request(
        "192.0.2.1",
        args.helo.as_deref(),
        &args.lists.dnsbl,
        args.lists.no_dnsbl,
    )?;
    let ips = args.ips.iter().map(|s| parse_ip(s)).collect::<Result<Vec<_>, _>>()?;
    for s in &args.selectors {
        if s.is_empty()
            || s.len() > 63
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(RunError(format!("--selector {s}: not a DKIM selector")));
        }
    }
    let submission = match &args.submission {
        Some(s) => Some(submission_arg(s)?),
        None => None,
    };
    Ok(DomainRequest {
        domain: d.as_str().to_string(),
        ips,
        helo: ipreq.helo,
        selectors: args.selectors.clone(),
        bulk: args.bulk,
        submission,
        check_submission: true,
        lists: ipreq.lists,
        domain_lists: if args.lists.no_dnsbl {
            Vec::new()
        } else {
            mxdoctor_proto::dnsbl::default_domain_lists()
        },
        topics: args.checks,
        relay_test: args.relay_test,
    })
}

async fn check_cmd(args: CheckArgs) -> Result<i32, RunError> {
    let req = domain_request(&args)?;
    let (ctx, timeline) = traced(build_context(&args.common, None)?, &args.common);
    let report = within(
        &ctx,
        "check",
        &args.domain,
        Box::pin(mxdoctor_engine::domain::run(&ctx, &req)),
    )
    .await;
    show_timeline(timeline, &ctx);
    Ok(print(&report, &args.common))
}

/// Reads a message file (or stdin for `-`), bounded by the analyser's size limit.
pub fn read_message(path: &std::path::Path) -> Result<Vec<u8>, RunError> {
    use std::io::Read;
    let limit = mxdoctor_proto::mail::MAX_MESSAGE as u64 + 1;
    let mut buf = Vec::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    result.map_err(|e| format!("{}: cannot read it ({e})", path.display()))?;
    Ok(buf)
}

async fn message_cmd(args: MessageArgs) -> Result<i32, RunError> {
    let raw = read_message(&args.file)?;
    let analysis = mxdoctor_proto::mail::analyze(&raw).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let req = received_request(&args)?;
    let (ctx, timeline) = traced(build_context(&args.common, None)?, &args.common);
    let name = args.file.display().to_string();
    let report = within(
        &ctx,
        "message",
        &name,
        mxdoctor_engine::message::run(&ctx, &raw, &analysis, &name, &req, args.online),
    )
    .await;
    show_timeline(timeline, &ctx);
    Ok(print(&report, &args.common))
}

/// Checks the `message` options for a received message.
pub fn received_request(args: &MessageArgs) -> Result<mxdoctor_engine::received::ReceivedRequest, RunError> {
    let ip = match &args.ip {
        Some(s) => Some(
            s.trim()
                .parse::<std::net::IpAddr>()
                .map_err(|_| format!("--ip {s}: not an IP address"))?,
        ),
        None => None,
    };
    if let Some(m) = &args.mail_from
        && !m.is_empty()
        && !m.contains('@')
    {
        return Err(format!("--mail-from {m}: not an address (local@domain, or empty for a bounce)").into());
    }
    if let Some(h) = &args.helo {
        Hostname::parse_dns_name(h).map_err(|e| format!("--helo {h}: {e}"))?;
    }
    Ok(mxdoctor_engine::received::ReceivedRequest {
        ip,
        mail_from: args.mail_from.clone(),
        helo: args.helo.clone(),
        bulk: args.bulk,
        arrival: None,
    })
}

//! Shared helpers for the end-to-end tests: start a built-in lab world, run a check against it.
#![allow(dead_code)]

use std::time::Duration;

use mxdoctor::app::{LabEnv, lab_context, sendas_request};
use mxdoctor_engine::model::{Finding, Report, Severity};
use mxdoctor_engine::sendas;
use mxdoctor_lab::{Lab, LabOptions, World};
use mxdoctor_net::clock;
use time::OffsetDateTime;
use time::macros::datetime;

/// The instant every test judges certificates at (and the lab issues relative dates from).
pub const NOW: OffsetDateTime = datetime!(2026-11-23 00:00:00 UTC);

pub async fn start(scenario: &str) -> Lab {
    start_at(scenario, NOW).await
}

pub async fn start_at(scenario: &str, now: OffsetDateTime) -> Lab {
    let world = World::builtin(scenario).unwrap_or_else(|| panic!("no built-in scenario {scenario}"));
    mxdoctor_lab::start(
        &world,
        LabOptions {
            now: Some(now),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("lab {scenario} did not start: {e}"))
}

pub fn env(lab: &Lab) -> LabEnv {
    LabEnv {
        resolver: lab.dns_addr(),
        map: lab.address_map().clone(),
        ca_pem: lab.ca_pem().to_string(),
        dnssec_anchor: lab.dnssec_anchor().map(str::to_string),
    }
}

/// Runs `sendas HOST --port PORT` against a running lab with the clock at `now`.
pub async fn sendas_at(lab: &Lab, host: &str, port: u16, now: OffsetDateTime, timeout: Duration) -> Report {
    let ctx = lab_context(&env(lab), clock::fixed(now), timeout).expect("context");
    let req = sendas_request(host, port, None, None, None).expect("request");
    sendas::run(&ctx, &req).await
}

pub async fn sendas(lab: &Lab, host: &str, port: u16) -> Report {
    sendas_at(lab, host, port, NOW, Duration::from_secs(5)).await
}

/// Starts `scenario` and runs sendas against its `[demo]` target.
pub async fn demo(scenario: &str) -> Report {
    let lab = start(scenario).await;
    let (host, port) = mxdoctor::labcmd::demo_target(lab.world()).expect("demo target");
    sendas(&lab, &host, port).await
}

pub fn ids(report: &Report) -> Vec<String> {
    report.findings().map(|f| f.id.clone()).collect()
}

pub fn has(report: &Report, id: &str) -> bool {
    report.findings().any(|f| f.id == id)
}

pub fn finding<'a>(report: &'a Report, id: &str) -> &'a Finding {
    report.findings().find(|f| f.id == id).unwrap_or_else(|| {
        panic!(
            "finding {id} missing; have {:?}\n{}",
            ids(report),
            mxdoctor_report::json(report)
        )
    })
}

pub fn assert_has(report: &Report, id: &str) {
    let _ = finding(report, id);
}

pub fn assert_lacks(report: &Report, id: &str) {
    assert!(!has(report, id), "finding {id} should not fire; have {:?}", ids(report));
}

pub fn no_failures(report: &Report) -> bool {
    report.findings().all(|f| f.severity < Severity::Warning)
}

pub fn error_cause(report: &Report) -> Option<String> {
    report.checks.iter().find_map(|c| match &c.status {
        mxdoctor_engine::model::CheckStatus::Error { cause, .. } => Some(cause.as_str().to_string()),
        _ => None,
    })
}

/// The text report as a user reads it (no colour, not verbose).
pub fn plain_text(report: &Report, lang: mxdoctor_explain::Lang) -> String {
    mxdoctor_report::text(
        report,
        &mxdoctor_report::TextOptions {
            lang,
            color: false,
            verbose: false,
        },
    )
}

/// A TXT record for a DNS-only lab server (`mxdoctor_lab::serve_records`), split into strings of
/// at most 255 bytes as DNS requires (a DKIM key is split and joined back by the reader).
pub fn txt_record(owner: &str, text: &str) -> hickory_proto::rr::Record {
    use hickory_proto::rr::{Name, RData, Record, rdata::TXT};
    let chunks: Vec<String> = text
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let name = Name::from_ascii(format!("{}.", owner.trim_end_matches('.'))).expect("owner name");
    Record::from_rdata(name, 300, RData::TXT(TXT::new(chunks)))
}

/// A run context that asks only the given DNS server (a `serve_records` server), system clock,
/// no address map: for data-driven suites that need DNS answers and nothing else.
pub fn dns_only_context(dns: std::net::SocketAddr) -> mxdoctor_engine::Context {
    let timeout = Duration::from_secs(3);
    let clock = clock::system();
    mxdoctor_engine::Context {
        dns: mxdoctor_net::Dns::new(&mxdoctor_net::DnsConfig {
            servers: vec![dns],
            timeout,
            attempts: 1,
            trust_anchor: Default::default(),
        })
        .expect("resolver"),
        connector: mxdoctor_net::Connector::lab(mxdoctor_net::AddressMap::default()),
        tls: mxdoctor_net::tls::TlsSettings::webpki_roots(clock.clone(), timeout),
        clock,
        timeout,
        deadline: mxdoctor_engine::deadline::DEFAULT_DEADLINE,
        ehlo_name: "mxdoctor.invalid".into(),
    }
}

/// The web server's state against a running lab: each check gets a fresh lab context with the
/// clock at [`NOW`], behind the public-only connector a deployment uses (the lab's
/// documentation ranges play the public Internet).
pub fn web_state(
    lab: &Lab,
    limits: mxdoctor_web::limits::Limits,
    test_address: Option<mxdoctor_web::testaddr::TestAddressConfig>,
) -> mxdoctor_web::AppState {
    use std::sync::Arc;
    let env = env(lab);
    let context: mxdoctor_web::ContextFactory = Arc::new(move || {
        let mut ctx = lab_context(&env, clock::fixed(NOW), Duration::from_secs(5)).map_err(|e| e.0)?;
        ctx.connector = ctx.connector.public_only();
        Ok(ctx)
    });
    mxdoctor_web::AppState::new(mxdoctor_web::Config {
        lang_default: mxdoctor_explain::Lang::En,
        store: None,
        context,
        clock: clock::fixed(NOW),
        limits,
        retention: Duration::from_secs(7 * 86_400),
        test_address,
    })
    .expect("web state")
}

/// One request through the router: status, headers, body.
pub async fn call(
    router: &axum::Router,
    req: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let resp = router.clone().oneshot(req).await.expect("the router answers");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

/// A JSON POST.
pub fn post_json(path: &str, body: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("request")
}

pub fn get(path: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .expect("request")
}

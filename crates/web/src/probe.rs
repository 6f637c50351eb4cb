//! `/probe?target=...&module=sendas|check`, in the style of Prometheus' blackbox exporter: one
//! check per scrape, its result as gauges, so existing Prometheus and Alertmanager setups alert
//! on certificate expiry, a name mismatch, a blocklisting or a broken SPF/DKIM/DMARC
//! (docs/SERVE.md has the scrape config and an example rule). Reports are not kept.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mxdoctor_engine::model::{CheckStatus, Report, Severity};
use serde::Deserialize;

use crate::AppState;
use crate::api::ApiError;
use crate::input::{CheckInput, SendasInput};
use crate::jobs::Job;
use crate::metrics::escape;

pub fn routes() -> Router<AppState> {
    Router::new().route("/probe", get(probe))
}

#[derive(Debug, Deserialize)]
struct ProbeQuery {
    target: Option<String>,
    module: Option<String>,
}

async fn probe(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ProbeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let lang = crate::api::lang(&state, &headers);
    let Ok(Query(q)) = q else {
        return Err(ApiError::plain(StatusCode::BAD_REQUEST, "err.query", lang));
    };
    let target = q.target.unwrap_or_default();
    let job = match q.module.as_deref().unwrap_or("sendas") {
        "sendas" => {
            let (host, port) = match target.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), p.parse::<u16>().ok()),
                _ => (target.clone(), None),
            };
            let input = SendasInput {
                host,
                port: port.or(Some(587)),
                ..Default::default()
            };
            Job::Sendas(input.request().map_err(|e| ApiError::input(&e, lang))?)
        }
        "check" => {
            let input = CheckInput {
                domain: target.clone(),
                ..Default::default()
            };
            Job::Check(input.request().map_err(|e| ApiError::input(&e, lang))?)
        }
        _ => return Err(ApiError::plain(StatusCode::BAD_REQUEST, "err.module", lang)),
    };
    let _slot = state.limiter.slot().map_err(|r| ApiError::refusal(r, lang))?;
    let started = Instant::now();
    let body = match state.jobs.run_unkept(job).await {
        Ok(report) => gauges(&report, started.elapsed().as_secs_f64()),
        Err(_) => format!(
            "# HELP probe_success Whether Gmail would accept (1) or not (0).\n# TYPE probe_success gauge\nprobe_success 0\nprobe_duration_seconds {}\n",
            started.elapsed().as_secs_f64()
        ),
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

fn severity_value(s: Severity) -> i32 {
    match s {
        Severity::Pass => 0,
        Severity::Info => 1,
        Severity::Notice => 2,
        Severity::Warning => 3,
        Severity::Fail => 4,
    }
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// The report as gauges. probe_success is 1 when the verdict says Gmail would accept: no
/// failure and no warning in it, and nothing it rests on left unknown.
pub fn gauges(report: &Report, took: f64) -> String {
    let mut out = String::new();
    let unknown =
        report.verdict.id.ends_with(".unknown") || report.verdict.because.iter().any(|b| b.starts_with("error."));
    let ok = report.verdict.severity <= Severity::Notice && !unknown;
    gauge(&mut out, "probe_success", "Whether Gmail would accept (1) or not (0).");
    let _ = writeln!(out, "probe_success {}", u8::from(ok));
    gauge(&mut out, "probe_duration_seconds", "How long the check took.");
    let _ = writeln!(out, "probe_duration_seconds {took}");
    gauge(&mut out, "mxdoctor_probe_verdict", "The verdict id (value 1).");
    let _ = writeln!(
        out,
        "mxdoctor_probe_verdict{{verdict=\"{}\"}} 1",
        escape(&report.verdict.id)
    );
    gauge(
        &mut out,
        "mxdoctor_probe_verdict_severity",
        "The verdict's severity: 0 pass, 1 info, 2 notice, 3 warning, 4 fail.",
    );
    let _ = writeln!(
        out,
        "mxdoctor_probe_verdict_severity {}",
        severity_value(report.verdict.severity)
    );
    let findings: Vec<_> = report.findings().collect();
    let first = |ids: &[&str]| findings.iter().find(|f| ids.contains(&f.id.as_str())).copied();
    if let Some(f) = first(&[
        "tls.cert.in-date",
        "tls.cert.expired",
        "tls.cert.not-yet-valid",
        "tls.cert.expiring",
    ]) {
        let days = f
            .args
            .get("days_left")
            .and_then(|d| d.parse::<i64>().ok())
            .or_else(|| f.args.get("days").and_then(|d| d.parse::<i64>().ok()).map(|d| -d));
        if let Some(d) = days {
            gauge(
                &mut out,
                "mxdoctor_probe_cert_days_left",
                "Days until the certificate expires (negative: expired).",
            );
            let _ = writeln!(out, "mxdoctor_probe_cert_days_left {d}");
        }
    }
    if let Some(f) = first(&["tls.cert.name-match", "tls.cert.name-mismatch"]) {
        gauge(
            &mut out,
            "mxdoctor_probe_cert_name_match",
            "The certificate covers the name typed (1) or not (0).",
        );
        let _ = writeln!(
            out,
            "mxdoctor_probe_cert_name_match {}",
            u8::from(f.id == "tls.cert.name-match")
        );
    }
    if let Some(v) = first(&["tls.version.ok", "tls.version.too-old"]).and_then(|f| f.args.get("version")) {
        gauge(
            &mut out,
            "mxdoctor_probe_tls_version_info",
            "The negotiated TLS version (value 1).",
        );
        let _ = writeln!(out, "mxdoctor_probe_tls_version_info{{version=\"{}\"}} 1", escape(v));
    }
    let listings = findings
        .iter()
        .filter(|f| matches!(f.id.as_str(), "dnsbl.listed" | "dnsbl.pbl" | "dnsbl.domain-listed"))
        .count();
    gauge(
        &mut out,
        "mxdoctor_probe_blocklist_listings",
        "Blocklist listings found.",
    );
    let _ = writeln!(out, "mxdoctor_probe_blocklist_listings {listings}");
    gauge(
        &mut out,
        "mxdoctor_probe_topic_severity",
        "Worst finding per topic (spf, dkim, dmarc, tls, ...): 0 pass .. 4 fail; -1 could not be checked.",
    );
    for (topic, v) in topic_severities(report) {
        let _ = writeln!(out, "mxdoctor_probe_topic_severity{{topic=\"{}\"}} {v}", escape(&topic));
    }
    gauge(&mut out, "mxdoctor_probe_findings", "Findings by severity.");
    for s in [
        Severity::Pass,
        Severity::Info,
        Severity::Notice,
        Severity::Warning,
        Severity::Fail,
    ] {
        let n = findings.iter().filter(|f| f.severity == s).count();
        let _ = writeln!(out, "mxdoctor_probe_findings{{severity=\"{}\"}} {n}", s.as_str());
    }
    gauge(
        &mut out,
        "mxdoctor_probe_checks_unknown",
        "Checks that could not run (an error, never a pass).",
    );
    let errors = report
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Error { .. }))
        .count();
    let _ = writeln!(out, "mxdoctor_probe_checks_unknown {errors}");
    out
}

/// The worst severity per topic (the first part of a finding id); -1 for a topic whose check
/// could not run and found nothing.
fn topic_severities(report: &Report) -> BTreeMap<String, i32> {
    let mut out: BTreeMap<String, i32> = BTreeMap::new();
    for c in &report.checks {
        for f in &c.findings {
            let topic = f.id.split('.').next().unwrap_or("").to_string();
            let v = severity_value(f.severity);
            out.entry(topic).and_modify(|w| *w = (*w).max(v)).or_insert(v);
        }
        if matches!(c.status, CheckStatus::Error { .. }) && c.findings.is_empty() {
            let topic = c.check.split('.').next_back().unwrap_or("").to_string();
            out.entry(topic).or_insert(-1);
        }
    }
    out
}

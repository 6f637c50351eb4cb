//! The report model: checks yield findings with stable ids; a check that could not run says so.
//!
//! Ids are the keys of the message catalogue (crates/explain), of the JSON output and of the
//! tests. The registry of every id lives in [`crate::registry`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped whenever the JSON shape changes incompatibly. Documented in docs/JSON.md.
pub const SCHEMA_VERSION: u32 = 1;

/// How bad a finding is. Ordered: `Pass < Info < Notice < Warning < Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Pass,
    Info,
    Notice,
    Warning,
    Fail,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Pass => "pass",
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Fail => "fail",
        }
    }
}

/// One observation about a subject, keyed by a stable dotted id (`tls.cert.name-mismatch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    /// What the finding is about: a host name, `host:port`, an IP, a record.
    pub subject: String,
    /// Values the catalogue's texts interpolate (`{host}`, `{names}`...). Plain strings so every
    /// printer and both languages can use them without knowing the check.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// Evidence as data (names, dates, transcript lines). Free-form per id, documented in the
    /// catalogue's `evidence` note.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub evidence: serde_json::Value,
}

impl Finding {
    pub fn new(id: &str, severity: Severity, subject: impl Into<String>) -> Self {
        Self {
            id: id.to_string(),
            severity,
            subject: subject.into(),
            args: BTreeMap::new(),
            evidence: serde_json::Value::Null,
        }
    }

    pub fn arg(mut self, key: &str, value: impl ToString) -> Self {
        self.args.insert(key.to_string(), value.to_string());
        self
    }

    pub fn evidence(mut self, value: serde_json::Value) -> Self {
        self.evidence = value;
        self
    }
}

/// Why a check could not run to the end. Each cause has catalogue text under `error.<cause>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCause {
    /// DNS: SERVFAIL, REFUSED or another error answer.
    DnsFailure,
    /// DNS: no answer from any server within the time allowed for the question.
    DnsTimeout,
    /// TCP connection refused (port closed).
    Refused,
    /// No answer within the configured time.
    Timeout,
    /// Lab mode: the address is not in the lab's map, so it was not dialled.
    Unmapped,
    /// A public deployment refused to dial a non-public address (SSRF guard).
    NotPublic,
    /// The server broke the protocol (garbage, over-long lines, reset).
    Protocol,
    /// Other I/O failure.
    Io,
    /// A blocklist refused the query (Spamhaus 127.255.255.x) or the resolver rewrote answers.
    ListRefused,
    /// A blocklist does not answer its RFC 5782 test point through this resolver.
    ListUnavailable,
    /// Not asked: the query budget for a blocklist (`--dnsbl-budget`) was spent.
    Budget,
    /// The whole run did not finish within its deadline (`--deadline`).
    Deadline,
}

impl ErrorCause {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCause::DnsFailure => "dns-failure",
            ErrorCause::DnsTimeout => "dns-timeout",
            ErrorCause::Refused => "refused",
            ErrorCause::Timeout => "timeout",
            ErrorCause::Unmapped => "unmapped",
            ErrorCause::NotPublic => "not-public",
            ErrorCause::Protocol => "protocol",
            ErrorCause::Io => "io",
            ErrorCause::ListRefused => "list-refused",
            ErrorCause::ListUnavailable => "list-unavailable",
            ErrorCause::Budget => "budget",
            ErrorCause::Deadline => "deadline",
        }
    }

    /// The catalogue id of this cause's explanation.
    pub fn catalog_id(self) -> String {
        format!("error.{}", self.as_str())
    }
}

impl ErrorCause {
    /// The cause of a failed DNS question: a timeout gets DNS advice, never connection advice.
    pub fn of_dns(e: &mxdoctor_net::DnsError) -> Self {
        if e.is_timeout() {
            ErrorCause::DnsTimeout
        } else if matches!(e, mxdoctor_net::DnsError::Budget { .. }) {
            ErrorCause::Budget
        } else {
            ErrorCause::DnsFailure
        }
    }
}

/// Whether a check ran. Never a pass or a fail by itself: that is what findings are for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum CheckStatus {
    Ran,
    /// `reason` is a catalogue id (`skip.*`, listed in the registry), so it reads in every
    /// language and machines can match it.
    Skipped {
        reason: String,
    },
    Error {
        cause: ErrorCause,
        detail: String,
    },
}

impl CheckStatus {
    /// A check stopped by a DNS question that got no usable answer.
    pub fn dns(e: &mxdoctor_net::DnsError) -> Self {
        CheckStatus::Error {
            cause: ErrorCause::of_dns(e),
            detail: e.to_string(),
        }
    }
}

/// The result of one check on one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckResult {
    /// Stable check id (`sendas.tls`, `dns.host`...).
    pub check: String,
    pub subject: String,
    pub status: CheckStatus,
    pub findings: Vec<Finding>,
    /// Raw evidence of the whole check (DNS answers, SMTP transcript, certificate chain).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

impl CheckResult {
    pub fn ran(check: &str, subject: impl Into<String>) -> Self {
        Self {
            check: check.to_string(),
            subject: subject.into(),
            status: CheckStatus::Ran,
            findings: Vec::new(),
            evidence: Vec::new(),
        }
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The error causes (as catalogue ids, `error.<cause>`) of the checks among `depends_on` that
/// could not run: what keeps a verdict from being "accept". Deduplicated, in check order.
/// The skip reason of a topic left out with `--checks`.
pub const NOT_SELECTED: &str = "skip.not-selected";

/// A check of a topic left out with `--checks`: its place in the report, saying so.
pub fn not_selected(check: &str, domain: &str, topic: &str) -> CheckResult {
    let mut c = CheckResult::ran(check, format!("{domain} ({topic})"));
    c.status = CheckStatus::Skipped {
        reason: NOT_SELECTED.into(),
    };
    c
}

pub fn unknowns(checks: &[CheckResult], depends_on: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in checks.iter().filter(|c| depends_on.contains(&c.check.as_str())) {
        let id = match &c.status {
            CheckStatus::Error { cause, .. } => cause.catalog_id(),
            // Left out on purpose (`--checks`): as unknown as a check that could not run.
            CheckStatus::Skipped { reason } if reason == NOT_SELECTED => reason.clone(),
            _ => continue,
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// Evidence kept as data: `{"kind": "smtp-transcript", "data": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum Evidence {
    Dns(serde_json::Value),
    SmtpTranscript(serde_json::Value),
    Certificate(serde_json::Value),
    Tls(serde_json::Value),
    /// The check_host() trace of one SPF evaluation.
    Spf(serde_json::Value),
    Note(String),
}

/// What the receiving side (Gmail) will do, derived from the findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    /// Catalogue id of the verdict sentence (`verdict.sendas.accept`, `verdict.sendas.refuse`...).
    pub id: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// The finding ids that decided it, most important first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub because: Vec<String>,
}

/// One run of one command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub tool: String,
    pub tool_version: String,
    /// RFC 3339 time the run started (the injected clock's time).
    pub generated_at: String,
    /// `sendas`, `demo`...
    pub command: String,
    /// What was examined (`mail.example.com:587`).
    pub target: String,
    pub verdict: Verdict,
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// A report of this tool, stamped with the run's clock.
    pub fn new(
        ctx: &crate::Context,
        command: &str,
        target: impl Into<String>,
        verdict: Verdict,
        checks: Vec<CheckResult>,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: "mxdoctor".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            generated_at: mxdoctor_net::clock::rfc3339(ctx.clock.now()),
            command: command.into(),
            target: target.into(),
            verdict,
            checks,
        }
    }

    /// Exit code contract: 0 nothing failing, 1 at least one failing finding.
    pub fn exit_code(&self) -> i32 {
        let failing = self
            .checks
            .iter()
            .flat_map(|c| &c.findings)
            .any(|f| f.severity == Severity::Fail);
        if failing || self.verdict.severity == Severity::Fail {
            1
        } else {
            0
        }
    }

    /// The exit status of a command that printed this report: 2 when the verdict could not be
    /// found out (an `.unknown` verdict, or a verdict resting on a check that could not run,
    /// with nothing definite failing beside it), else [`Report::exit_code`].
    pub fn exit_status(&self) -> i32 {
        let rests_on_error = self.verdict.because.iter().any(|b| b.starts_with("error."));
        let code = self.exit_code();
        if self.verdict.id.ends_with(".unknown") || (rests_on_error && code == 0) {
            2
        } else {
            code
        }
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.checks.iter().flat_map(|c| c.findings.iter())
    }
}

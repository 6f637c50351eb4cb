//! One deadline for a whole run. Every network step is bounded by `--timeout`, but a run is
//! many steps (a domain with ten MX hosts, a server that answers each step just in time), so a
//! run as a whole is bounded too (`--deadline`; the web server's job limit; a scan's per-domain
//! limit). A run cut off says so: its report is an error status with the cause `deadline`,
//! never a pass or a fail, and the verdict says nothing could be concluded.

use std::future::Future;
use std::time::Duration;

use crate::Context;
use crate::model::{CheckResult, CheckStatus, ErrorCause, Report, Severity, Verdict};

/// The deadline of a run unless one is given: ten times the default step timeout, room for
/// the slowest real domains (several MX hosts, each with its TLS versions probed).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);

/// The longest deadline accepted (`--deadline`).
pub const MAX_DEADLINE: Duration = Duration::from_secs(3600);

/// The check id of a run that was cut off.
pub const RUN_CHECK: &str = "run";

/// Runs `run` within the context's deadline; past it, the report of a run cut off.
pub async fn within<F>(ctx: &Context, command: &str, target: &str, run: F) -> Report
where
    F: Future<Output = Report>,
{
    match tokio::time::timeout(ctx.deadline, run).await {
        Ok(report) => report,
        Err(_) => cut_off(ctx, command, target),
    }
}

/// The report of a run stopped at its deadline: what it was, and that nothing is known.
pub fn cut_off(ctx: &Context, command: &str, target: &str) -> Report {
    let secs = format_secs(ctx.deadline);
    let mut check = CheckResult::ran(RUN_CHECK, target);
    check.status = CheckStatus::Error {
        cause: ErrorCause::Deadline,
        detail: format!("the run did not finish within its deadline of {secs} s"),
    };
    let verdict = Verdict {
        id: "verdict.run.unknown".into(),
        severity: Severity::Warning,
        args: [("secs".to_string(), secs)].into_iter().collect(),
        because: vec![ErrorCause::Deadline.catalog_id()],
    };
    Report::new(ctx, command, target, verdict, vec![check])
}

fn format_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

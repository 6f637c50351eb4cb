//! `--timeline`: every DNS question and connection of a run as a bar on one time axis, the
//! critical path marked, and the wall time against the critical-path bound.

use std::fmt::Write as _;
use std::time::Duration;

use mxdoctor_net::timeline::{CriticalPath, Step, StepKind, Timeline, critical_path};

/// Width of the bar area in characters.
const BAR_WIDTH: usize = 40;

/// The timeline as text. `per_ip` is the connection limit per address the run had (it is part
/// of the bound).
pub fn timeline_text(timeline: &Timeline, per_ip: usize) -> String {
    let steps = timeline.steps();
    let cp = critical_path(&steps, per_ip);
    let wall = timeline.wall();
    // Wall time over the bound; 1.0 is a run that never waited needlessly.
    let ratio = if cp.bound.is_zero() {
        1.0
    } else {
        wall.as_secs_f64() / cp.bound.as_secs_f64()
    };
    let mut out = String::new();
    let _ = writeln!(out, "Timeline: {} steps", steps.len());
    let _ = writeln!(out, "     start      end   took  {:BAR_WIDTH$}  step", "");
    let scale = wall.max(Duration::from_millis(1));
    for (i, s) in steps.iter().enumerate() {
        let mark = if cp.chain.contains(&i) { '*' } else { ' ' };
        let _ = writeln!(
            out,
            "{mark} {:>6}ms {:>6}ms {:>4}ms  {}  {}",
            s.start.as_millis(),
            s.end.as_millis(),
            s.duration().as_millis(),
            bar(s, scale),
            describe(s)
        );
    }
    if timeline.dropped() > 0 {
        let _ = writeln!(out, "  ({} more steps not kept)", timeline.dropped());
    }
    let _ = writeln!(out, "{}", bound_line(&steps, &cp, per_ip));
    let _ = writeln!(
        out,
        "wall {} ms, critical-path bound {} ms, ratio {:.2}",
        wall.as_millis(),
        cp.bound.as_millis(),
        ratio
    );
    out
}

fn bar(s: &Step, scale: Duration) -> String {
    let col = |d: Duration| ((d.as_secs_f64() / scale.as_secs_f64()) * BAR_WIDTH as f64).round() as usize;
    let from = col(s.start).min(BAR_WIDTH - 1);
    let to = col(s.end).clamp(from + 1, BAR_WIDTH);
    let queued_from = col(s.start.saturating_sub(s.queued)).min(from);
    let mut line = String::with_capacity(BAR_WIDTH);
    for c in 0..BAR_WIDTH {
        line.push(if c >= from && c < to {
            '#'
        } else if c >= queued_from && c < from {
            '.'
        } else {
            ' '
        });
    }
    line
}

fn describe(s: &Step) -> String {
    let queued = if s.queued >= Duration::from_millis(1) {
        format!(" (waited {} ms for a connection slot)", s.queued.as_millis())
    } else {
        String::new()
    };
    match s.kind {
        StepKind::Dns => format!("DNS {} {}", s.label, s.outcome),
        StepKind::Connection => format!("connect {} {}{queued}", s.label, s.outcome),
    }
}

fn bound_line(steps: &[Step], cp: &CriticalPath, per_ip: usize) -> String {
    if let Some(ip) = cp.limited_by {
        return format!("critical path: the connections to {ip}, at most {per_ip} at once");
    }
    let names: Vec<String> = cp
        .chain
        .iter()
        .filter_map(|&i| steps.get(i))
        .map(|s| s.label.clone())
        .collect();
    format!(
        "critical path (*): {} dependent step(s): {}",
        cp.chain.len(),
        names.join(" -> ")
    )
}

//! Limits on the questions a process sends: an optional global rate (`--dns-rate`), and per
//! blocklist zone a rate (`--dnsbl-rate`) and a budget (`--dnsbl-budget`). Blocklists set
//! query limits for free use (Spamhaus counts queries per day and refuses beyond them with
//! 127.255.255.254); a scan of 100,000 domains must stay within them. A question past its
//! budget is not sent: it fails with [`crate::DnsError::Budget`], which a check reports as
//! "could not find out", never as "not listed". One set of limits is shared by every run of a
//! process (`Dns::next_run`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Paces events to at most `per_second`, evenly (no bursts).
#[derive(Debug)]
struct Pace {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pace {
    fn new(per_second: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(None),
        }
    }

    /// Waits for this event's turn.
    async fn wait(&self) {
        let at = {
            let Ok(mut next) = self.next.lock() else { return };
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[derive(Debug)]
struct Zone {
    /// Lower case, no final dot.
    suffix: String,
    pace: Option<Pace>,
    /// Questions left; None = unlimited.
    left: Option<AtomicU64>,
}

/// The limits of one process.
#[derive(Debug, Default)]
pub struct DnsLimits {
    global: Option<Pace>,
    zones: Vec<Zone>,
}

impl DnsLimits {
    /// No limits.
    pub fn none() -> Self {
        Self::default()
    }

    /// At most `per_second` questions a second in all.
    pub fn with_global_rate(mut self, per_second: Option<u32>) -> Self {
        self.global = per_second.map(Pace::new);
        self
    }

    /// Questions under `zone`: at most `per_second` a second and `budget` in all.
    pub fn with_zone(mut self, zone: &str, per_second: Option<u32>, budget: Option<u64>) -> Self {
        if per_second.is_none() && budget.is_none() {
            return self;
        }
        self.zones.push(Zone {
            suffix: zone.trim_end_matches('.').to_ascii_lowercase(),
            pace: per_second.map(Pace::new),
            left: budget.map(AtomicU64::new),
        });
        self
    }

    /// Waits until the question for `fqdn` may be sent; Err(zone) when that zone's budget is
    /// spent (the question must not be sent).
    pub async fn admit(&self, fqdn: &str) -> Result<(), String> {
        let name = fqdn.trim_end_matches('.').to_ascii_lowercase();
        if let Some(zone) = self.zones.iter().find(|z| is_under(&name, &z.suffix)) {
            if let Some(left) = &zone.left {
                let took = left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
                if took.is_err() {
                    return Err(zone.suffix.clone());
                }
            }
            if let Some(p) = &zone.pace {
                p.wait().await;
            }
        }
        if let Some(p) = &self.global {
            p.wait().await;
        }
        Ok(())
    }
}

fn is_under(name: &str, zone: &str) -> bool {
    name == zone || name.strip_suffix(zone).is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_zone_budget_refuses_once_spent_and_only_under_the_zone() {
        let l = DnsLimits::none().with_zone("zen.example", None, Some(2));
        assert!(l.admit("2.0.0.127.zen.example.").await.is_ok());
        assert!(l.admit("1.2.0.192.ZEN.example").await.is_ok());
        assert_eq!(l.admit("3.2.0.192.zen.example").await, Err("zen.example".into()));
        // Other names are not counted, nor is a zone that merely ends with the same letters.
        assert!(l.admit("mail.example").await.is_ok());
        assert!(l.admit("1.2.0.192.notzen.example").await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_spaces_questions_evenly() {
        let l = DnsLimits::none().with_global_rate(Some(10));
        let start = Instant::now();
        for _ in 0..5 {
            l.admit("a.example").await.unwrap();
        }
        // The first goes at once, the next four 100 ms apart.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }
}

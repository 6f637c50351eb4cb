//! Safe to expose: per-client rate limits (a token bucket per client address), a global cap on
//! checks in flight, the body limit, a time limit per check, and the security headers every
//! response carries (CSP without inline script, nosniff, frame-ancestors none).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::AppState;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Checks one client address may start per minute (the bucket refills at this rate).
    pub per_client_per_minute: u32,
    /// Burst: checks a client may start at once.
    pub per_client_burst: u32,
    /// Checks running at once, all clients together.
    pub in_flight: usize,
    /// The longest a check may run.
    pub check_timeout: Duration,
    /// Largest request body (a pasted message or bounce).
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_client_per_minute: 30,
            per_client_burst: 10,
            in_flight: 32,
            check_timeout: Duration::from_secs(120),
            max_body: 2 * 1024 * 1024,
        }
    }
}

/// Most client addresses remembered; the least recently seen are forgotten first.
const MAX_CLIENTS: usize = 50_000;

/// Why a check was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This client started too many checks; retry after the given seconds.
    RateLimited { retry_after: u64 },
    /// Too many checks in flight on this server.
    Busy,
}

impl Refusal {
    /// The catalogue key of the message the client gets.
    pub fn key(self) -> &'static str {
        match self {
            Refusal::RateLimited { .. } => "err.rate-limited",
            Refusal::Busy => "err.busy",
        }
    }

    /// The cause counted in `mxdoctor_errors_total`.
    pub fn cause(self) -> &'static str {
        match self {
            Refusal::RateLimited { .. } => "rate-limited",
            Refusal::Busy => "busy",
        }
    }

    /// 429 for the client's own rate, 503 for the server's cap.
    pub fn status(self) -> axum::http::StatusCode {
        match self {
            Refusal::RateLimited { .. } => axum::http::StatusCode::TOO_MANY_REQUESTS,
            Refusal::Busy => axum::http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Seconds to wait before trying again.
    pub fn retry_after(self) -> u64 {
        match self {
            Refusal::RateLimited { retry_after } => retry_after,
            Refusal::Busy => 5,
        }
    }
}

pub struct Limiter {
    rate_per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
    in_flight: std::sync::Arc<Semaphore>,
}

impl Limiter {
    pub fn new(l: &Limits) -> Self {
        Self {
            rate_per_sec: f64::from(l.per_client_per_minute.max(1)) / 60.0,
            burst: f64::from(l.per_client_burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
            in_flight: std::sync::Arc::new(Semaphore::new(l.in_flight.max(1))),
        }
    }

    /// Takes one check from `client`'s bucket and a slot among the checks in flight. The
    /// permit frees the slot when the check ends.
    pub fn admit(&self, client: IpAddr) -> Result<OwnedSemaphorePermit, Refusal> {
        self.take_token(client, Instant::now())?;
        self.slot()
    }

    /// A slot among the checks in flight only (`/probe`: Prometheus scrapes on its own
    /// schedule and is not rate limited per client).
    pub fn slot(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        self.in_flight.clone().try_acquire_owned().map_err(|_| Refusal::Busy)
    }

    pub fn in_flight_available(&self) -> usize {
        self.in_flight.available_permits()
    }

    fn take_token(&self, client: IpAddr, now: Instant) -> Result<(), Refusal> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Err(Refusal::Busy);
        };
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            // Forget clients whose bucket is full again (they are as new).
            let full_after = Duration::from_secs_f64(self.burst / self.rate_per_sec);
            buckets.retain(|_, (_, seen)| now.duration_since(*seen) < full_after);
        }
        let (tokens, seen) = buckets.entry(client).or_insert((self.burst, now));
        let refill = now.duration_since(*seen).as_secs_f64() * self.rate_per_sec;
        *tokens = (*tokens + refill).min(self.burst);
        *seen = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / self.rate_per_sec).ceil() as u64;
            Err(Refusal::RateLimited {
                retry_after: wait.max(1),
            })
        }
    }
}

/// The client's address as the listener saw it (a reverse proxy in front makes every client
/// one address: put the limits there instead). Without connection info (a router called
/// directly, as in tests) all requests share the unspecified address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
                .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
        ))
    }
}

/// Content Security Policy: nothing from elsewhere, no inline script or style, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     form-action 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Every response: the security headers; every request: counted by route and status.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = route_label(req.uri().path());
    let started = Instant::now();
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    state.metrics.request(route, resp.status().as_u16(), started.elapsed());
    resp
}

/// A bounded set of route labels for the metrics (never the raw path: ids would explode the
/// number of series).
fn route_label(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "" => "/",
        "api" => {
            let rest: Vec<&str> = path.split('/').skip(3).take(1).collect();
            match rest.first().copied() {
                Some("check") => "/api/v1/check",
                Some("sendas") => "/api/v1/sendas",
                Some("message") => "/api/v1/message",
                Some("reports") => "/api/v1/reports/{id}",
                Some("test-addresses") => "/api/v1/test-addresses",
                Some("openapi.json") => "/api/v1/openapi.json",
                _ => "/api/other",
            }
        }
        "r" => "/r/{id}",
        "t" => "/t/{token}",
        "check" | "sendas" | "message" | "test-address" => "/form",
        "static" => "/static",
        "metrics" => "/metrics",
        "probe" => "/probe",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_refill() {
        let l = Limiter::new(&Limits {
            per_client_per_minute: 60,
            per_client_burst: 3,
            ..Default::default()
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            l.take_token(a, t0).unwrap();
        }
        assert_eq!(l.take_token(a, t0), Err(Refusal::RateLimited { retry_after: 1 }));
        // Another client is not affected.
        l.take_token(b, t0).unwrap();
        // One second later, one more (60 a minute).
        l.take_token(a, t0 + Duration::from_millis(1001)).unwrap();
    }

    #[test]
    fn the_in_flight_cap_holds() {
        let l = Limiter::new(&Limits {
            in_flight: 2,
            ..Default::default()
        });
        let p1 = l.slot().unwrap();
        let _p2 = l.slot().unwrap();
        assert_eq!(l.slot().unwrap_err(), Refusal::Busy);
        drop(p1);
        assert!(l.slot().is_ok());
    }
}

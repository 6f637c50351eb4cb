//! `mxdoctor serve`: the web page, the JSON API (`/api/v1/`), the test address (an SMTP
//! listener that reports on the message it receives), Prometheus metrics and a
//! blackbox-exporter-style `/probe`.
//!
//! The page and the API are two faces of one mechanism: an input is validated at the edge
//! ([`input`]), becomes an engine request, runs as a job ([`jobs`]) under the limits
//! ([`limits`]), and its report is kept in the store by an unguessable id (the permalink).

pub mod api;
/// Input validation lives in its own crate (the scanner uses it too).
pub use mxdoctor_input as input;
pub mod jobs;
pub mod lang;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod probe;
pub mod testaddr;
mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use mxdoctor_engine::Context;
use mxdoctor_explain::Lang;
use mxdoctor_net::clock::SharedClock;

/// Builds a fresh engine context for one check (each run has its own DNS log and cache).
pub type ContextFactory = Arc<dyn Fn() -> Result<Context, String> + Send + Sync>;

/// Everything `mxdoctor serve` is told.
#[derive(Clone)]
pub struct Config {
    pub lang_default: Lang,
    /// The SQLite file; None keeps reports in memory (gone at exit).
    pub store: Option<PathBuf>,
    pub context: ContextFactory,
    pub clock: SharedClock,
    pub limits: limits::Limits,
    /// Reports and test addresses older than this are forgotten.
    pub retention: Duration,
    /// The test address, when `--smtp-listen` and `--test-domain` are given.
    pub test_address: Option<testaddr::TestAddressConfig>,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub jobs: Arc<jobs::Jobs>,
    pub limiter: Arc<limits::Limiter>,
    pub metrics: Arc<metrics::Metrics>,
    pub tokens: Arc<testaddr::Tokens>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] mxdoctor_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("the test address: {0}")]
    TestAddress(String),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

impl AppState {
    pub fn new(config: Config) -> Result<AppState, ServeError> {
        let store = match &config.store {
            Some(path) => mxdoctor_store::Store::open(path)?,
            None => mxdoctor_store::Store::in_memory()?,
        };
        let metrics = Arc::new(metrics::Metrics::default());
        let config = Arc::new(config);
        Ok(AppState {
            jobs: Arc::new(jobs::Jobs::new(store, config.clone(), metrics.clone())),
            limiter: Arc::new(limits::Limiter::new(&config.limits)),
            tokens: Arc::new(testaddr::Tokens::default()),
            metrics,
            config,
        })
    }
}

/// The whole site: pages, API, metrics, with the security headers and the body limit.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.max_body;
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .merge(probe::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::guard))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves until the process is stopped: the HTTP listener, the test address's SMTP listener
/// when configured, and the retention sweep.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> Result<(), ServeError> {
    if let Some(cfg) = state.config.test_address.clone() {
        let smtp = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: cfg.listen,
                source,
            })?;
        testaddr::spawn(smtp, state.clone()).map_err(ServeError::TestAddress)?;
    }
    jobs::spawn_retention_sweep(state.clone());
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}

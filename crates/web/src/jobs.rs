//! Checks as jobs: each gets its permalink id first, runs under the time limit with a fresh
//! engine context, and lands in the store. The page polls the id; the API waits for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mxdoctor_engine::domain::DomainRequest;
use mxdoctor_engine::model::Report;
use mxdoctor_engine::received::ReceivedRequest;
use mxdoctor_engine::sendas::SendasRequest;
use mxdoctor_proto::mail::MessageAnalysis;
use mxdoctor_store::{NewReport, ReportId, Store, StoredReport};
use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;

use crate::Config;
use crate::metrics::Metrics;

/// What to run.
pub enum Job {
    Check(DomainRequest),
    Sendas(SendasRequest),
    Message {
        raw: Vec<u8>,
        analysis: Box<MessageAnalysis>,
        /// How the page names it (`pasted message`, the file name, `t-...@domain`).
        name: String,
        req: ReceivedRequest,
    },
}

impl Job {
    pub fn command(&self) -> &'static str {
        match self {
            Job::Check(_) => "check",
            Job::Sendas(_) => "sendas",
            Job::Message { .. } => "message",
        }
    }

    pub fn target(&self) -> String {
        match self {
            Job::Check(r) => r.domain.clone(),
            Job::Sendas(r) => format!("{}:{}", r.host.as_str(), r.port),
            Job::Message { name, .. } => name.clone(),
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone)]
pub enum JobState {
    Running {
        command: &'static str,
        target: String,
        elapsed: Duration,
    },
    Done(StoredReport),
    Failed(String),
    Unknown,
}

struct Running {
    command: &'static str,
    target: String,
    started: Instant,
}

/// Failed jobs remembered (their reason shows on the permalink), oldest forgotten first.
const MAX_FAILED: usize = 10_000;

pub struct Jobs {
    store: Arc<Mutex<Store>>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    running: Mutex<HashMap<String, Running>>,
    failed: Mutex<(HashMap<String, String>, std::collections::VecDeque<String>)>,
}

impl Jobs {
    pub fn new(store: Store, config: Arc<Config>, metrics: Arc<Metrics>) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
            config,
            metrics,
            running: Mutex::new(HashMap::new()),
            failed: Mutex::new(Default::default()),
        }
    }

    /// Starts `job` in the background; returns its permalink id at once.
    pub fn start(self: &Arc<Self>, job: Job, permit: OwnedSemaphorePermit) -> Result<ReportId, String> {
        let id = ReportId::generate().map_err(|e| e.to_string())?;
        self.mark_running(&id, &job);
        let me = self.clone();
        let job_id = id.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // A failure is remembered by `finish` and shown on the permalink.
            let _ = me.finish(&job_id, job).await;
        });
        Ok(id)
    }

    /// Runs `job` and waits for its report (the API's synchronous calls).
    pub async fn run(&self, job: Job, permit: OwnedSemaphorePermit) -> Result<(ReportId, Report), String> {
        let id = ReportId::generate().map_err(|e| e.to_string())?;
        self.mark_running(&id, &job);
        let out = self.finish(&id, job).await;
        drop(permit);
        out.map(|r| (id, r))
    }

    fn mark_running(&self, id: &ReportId, job: &Job) {
        if let Ok(mut r) = self.running.lock() {
            r.insert(
                id.to_string(),
                Running {
                    command: job.command(),
                    target: job.target(),
                    started: Instant::now(),
                },
            );
        }
    }

    async fn finish(&self, id: &ReportId, job: Job) -> Result<Report, String> {
        let started = Instant::now();
        let limit = self.config.limits.check_timeout;
        let result = match run_isolated(self.config.clone(), job, limit).await {
            Ok(report) => {
                self.metrics.check(&report, started.elapsed());
                self.keep(id, &report).await.map(|_| report)
            }
            Err(e) => Err(self.failed_because(e, limit)),
        };
        if let Err(e) = &result {
            self.remember_failure(id, e.clone());
        }
        if let Ok(mut r) = self.running.lock() {
            r.remove(id.as_str());
        }
        result
    }

    async fn keep(&self, id: &ReportId, report: &Report) -> Result<(), String> {
        let json = mxdoctor_report::json(report);
        let store = self.store.clone();
        let id = id.clone();
        let (command, target, verdict) = (report.command.clone(), report.target.clone(), report.verdict.id.clone());
        let created_at = self.config.clock.now();
        let saved = tokio::task::spawn_blocking(move || {
            let s = store.lock().map_err(|_| "the store is unusable".to_string())?;
            s.save_as(
                &id,
                &NewReport {
                    command: &command,
                    target: &target,
                    verdict: &verdict,
                    json: &json,
                    created_at,
                },
            )
            .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        if saved.is_err() {
            self.metrics.error("store");
        }
        saved
    }

    fn remember_failure(&self, id: &ReportId, why: String) {
        if let Ok(mut f) = self.failed.lock() {
            let (map, order) = &mut *f;
            if map.len() >= MAX_FAILED
                && let Some(old) = order.pop_front()
            {
                map.remove(&old);
            }
            map.insert(id.to_string(), why);
            order.push_back(id.to_string());
        }
    }

    /// Where the job with this id is: running, done (in the store), failed, or unknown.
    pub async fn state(&self, id: &ReportId) -> JobState {
        if let Some(r) = self.running.lock().ok().and_then(|r| {
            r.get(id.as_str()).map(|r| JobState::Running {
                command: r.command,
                target: r.target.clone(),
                elapsed: r.started.elapsed(),
            })
        }) {
            return r;
        }
        if let Some(why) = self.failed.lock().ok().and_then(|f| f.0.get(id.as_str()).cloned()) {
            return JobState::Failed(why);
        }
        match self.get(id).await {
            Ok(Some(r)) => JobState::Done(r),
            Ok(None) => JobState::Unknown,
            Err(e) => JobState::Failed(e),
        }
    }

    async fn get(&self, id: &ReportId) -> Result<Option<StoredReport>, String> {
        let store = self.store.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || {
            let s = store.lock().map_err(|_| "the store is unusable".to_string())?;
            s.get(&id).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
    }

    /// Forgets reports older than the retention period; returns how many.
    pub async fn purge(&self, now: OffsetDateTime) -> Result<usize, String> {
        let cutoff = now - self.config.retention;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let s = store.lock().map_err(|_| "the store is unusable".to_string())?;
            s.purge_before(cutoff).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
    }

    /// Runs `job` without keeping its report (`/probe`: a scrape every minute must not fill
    /// the store).
    pub async fn run_unkept(&self, job: Job) -> Result<Report, String> {
        let started = Instant::now();
        let limit = self.config.limits.check_timeout;
        match run_isolated(self.config.clone(), job, limit).await {
            Ok(report) => {
                self.metrics.check(&report, started.elapsed());
                Ok(report)
            }
            Err(e) => Err(self.failed_because(e, limit)),
        }
    }

    /// The failure in words, counted by cause.
    fn failed_because(&self, e: JobFailure, limit: Duration) -> String {
        match e {
            JobFailure::Timeout => {
                self.metrics.error("check-timeout");
                format!("the check took longer than {} s and was stopped", limit.as_secs())
            }
            JobFailure::Crashed(why) => {
                self.metrics.error("check-crashed");
                format!("the check stopped unexpectedly ({why})")
            }
            JobFailure::Setup(why) => why,
        }
    }
}

/// Why a job has no report.
enum JobFailure {
    Timeout,
    /// The check's task panicked: a bug, reported as this job's failure, never the server's.
    Crashed(String),
    /// The engine context could not be built.
    Setup(String),
}

/// Runs a job on its own task, so a panic in a check fails this job only (and its permalink
/// says so instead of "running" for ever); past the limit the task is aborted, not left behind.
async fn run_isolated(config: Arc<Config>, job: Job, limit: Duration) -> Result<Report, JobFailure> {
    let mut task = tokio::spawn(async move { run_job(&config, job).await });
    match tokio::time::timeout(limit, &mut task).await {
        Ok(Ok(Ok(report))) => Ok(report),
        Ok(Ok(Err(setup))) => Err(JobFailure::Setup(setup)),
        Ok(Err(e)) => Err(JobFailure::Crashed(e.to_string())),
        Err(_) => {
            task.abort();
            Err(JobFailure::Timeout)
        }
    }
}

/// One job with a fresh engine context.
async fn run_job(config: &Config, job: Job) -> Result<Report, String> {
    let ctx = (config.context)()?;
    Ok(match job {
        Job::Check(req) => mxdoctor_engine::domain::run(&ctx, &req).await,
        Job::Sendas(req) => mxdoctor_engine::sendas::run(&ctx, &req).await,
        Job::Message {
            raw,
            analysis,
            name,
            req,
        } => mxdoctor_engine::message::run(&ctx, &raw, &analysis, &name, &req, false).await,
    })
}

/// Every hour (and at start): reports and test addresses past the retention period go.
pub fn spawn_retention_sweep(state: crate::AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let now = state.config.clock.now();
            match state.jobs.purge(now).await {
                Ok(n) if n > 0 => tracing::info!("retention: {n} reports forgotten"),
                Ok(_) => {}
                Err(e) => tracing::warn!("retention sweep failed: {e}"),
            }
            state.tokens.purge(std::time::Instant::now());
        }
    });
}

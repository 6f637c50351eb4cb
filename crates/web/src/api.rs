//! The JSON API under `/api/v1/`: the same report JSON as the CLI's `--format json`, errors as
//! `{"error": {"code", "field", "message"}}` in the client's language (Accept-Language).
//! Described by the OpenAPI document at `/api/v1/openapi.json` ([`crate::openapi`]).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mxdoctor_explain::Lang;
use mxdoctor_store::ReportId;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::input::{CheckInput, InputError, MessageOptions, SendasInput};
use crate::jobs::{Job, JobState};
use crate::limits::{ClientIp, Refusal};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/check", post(check))
        .route("/api/v1/sendas", post(sendas))
        .route("/api/v1/message", post(message))
        .route("/api/v1/reports/{id}", get(report))
        .route("/api/v1/test-addresses", post(crate::testaddr::api_create))
        .route("/api/v1/test-addresses/{token}", get(crate::testaddr::api_state))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
}

/// An API error: status, catalogue code, field, message in the client's language.
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub field: Option<&'static str>,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn input(e: &InputError, lang: Lang) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: e.key,
            field: Some(e.field),
            message: e.message(lang),
            retry_after: None,
        }
    }

    pub fn plain(status: StatusCode, code: &'static str, lang: Lang) -> Self {
        Self {
            status,
            code,
            field: None,
            message: mxdoctor_explain::ui(lang, code).to_string(),
            retry_after: None,
        }
    }

    pub fn refusal(r: Refusal, lang: Lang) -> Self {
        Self {
            retry_after: Some(r.retry_after()),
            ..Self::plain(r.status(), r.key(), lang)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "field": self.field, "message": self.message } });
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// The client's language for error messages.
pub fn lang(state: &AppState, headers: &HeaderMap) -> Lang {
    crate::lang::negotiate(None, headers, state.config.lang_default).0
}

/// A JSON body the API could not read: malformed, wrong type, unknown field, too large.
fn json_rejection(r: JsonRejection, lang: Lang) -> ApiError {
    let (status, code) = match &r {
        JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "err.content-type"),
        JsonRejection::BytesRejection(_) => (StatusCode::PAYLOAD_TOO_LARGE, "err.body-too-large"),
        _ => (StatusCode::BAD_REQUEST, "err.json"),
    };
    let mut e = ApiError::plain(status, code, lang);
    // serde's own words say where (line, column, field), never echoing a long value.
    let detail: String = r.body_text().chars().take(300).collect();
    e.message = format!("{} ({detail})", e.message);
    e
}

#[derive(Debug, Default, Deserialize)]
pub struct Wait {
    /// `false`: answer 202 at once with the report's URL (poll it); default: wait.
    pub wait: Option<bool>,
}

async fn check(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    wait: Query<Wait>,
    body: Result<Json<CheckInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    let lang = lang(&state, &headers);
    let Json(input) = body.map_err(|r| bad(&state, json_rejection(r, lang)))?;
    let req = input.request().map_err(|e| bad(&state, ApiError::input(&e, lang)))?;
    launch(&state, client, lang, Job::Check(req), wait.wait != Some(false)).await
}

async fn sendas(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    wait: Query<Wait>,
    body: Result<Json<SendasInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    let lang = lang(&state, &headers);
    let Json(input) = body.map_err(|r| bad(&state, json_rejection(r, lang)))?;
    let req = input.request().map_err(|e| bad(&state, ApiError::input(&e, lang)))?;
    launch(&state, client, lang, Job::Sendas(req), wait.wait != Some(false)).await
}

#[derive(Debug, Default, Deserialize)]
struct MessageQuery {
    #[serde(flatten)]
    options: MessageOptionsFlat,
    wait: Option<bool>,
}

/// The query form of [`MessageOptions`] (query strings carry `bulk=true` as text).
#[derive(Debug, Default, Deserialize)]
struct MessageOptionsFlat {
    ip: Option<String>,
    mail_from: Option<String>,
    helo: Option<String>,
    bulk: Option<String>,
}

async fn message(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    query: Result<Query<MessageQuery>, QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let lang = lang(&state, &headers);
    let Query(q) = query.map_err(|_| bad(&state, ApiError::plain(StatusCode::BAD_REQUEST, "err.query", lang)))?;
    let bulk = match q.options.bulk.as_deref() {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") | Some("on") => true,
        Some(_) => {
            return Err(bad(
                &state,
                ApiError::input(&InputError::new("bulk", "err.boolean"), lang),
            ));
        }
    };
    let opts = MessageOptions {
        ip: q.options.ip,
        mail_from: q.options.mail_from,
        helo: q.options.helo,
        bulk: Some(bulk),
    };
    let req = opts.request().map_err(|e| bad(&state, ApiError::input(&e, lang)))?;
    let analysis = crate::input::message(&body).map_err(|e| bad(&state, ApiError::input(&e, lang)))?;
    let job = Job::Message {
        raw: body.to_vec(),
        analysis: Box::new(analysis),
        name: "message".into(),
        req,
    };
    launch(&state, client, lang, job, q.wait != Some(false)).await
}

/// Counts a refused input and passes the error on.
fn bad(state: &AppState, e: ApiError) -> ApiError {
    state.metrics.error("bad-input");
    e
}

/// Admits the job under the limits, then waits for its report or answers 202 with its URL.
async fn launch(
    state: &AppState,
    client: std::net::IpAddr,
    lang: Lang,
    job: Job,
    wait: bool,
) -> Result<Response, ApiError> {
    let permit = state.limiter.admit(client).map_err(|r| {
        state.metrics.error(r.cause());
        ApiError::refusal(r, lang)
    })?;
    if !wait {
        let id = state
            .jobs
            .start(job, permit)
            .map_err(|_| ApiError::plain(StatusCode::INTERNAL_SERVER_ERROR, "err.internal", lang))?;
        let body = json!({ "id": id.as_str(), "state": "running",
                           "report_url": format!("/api/v1/reports/{id}"), "page_url": format!("/r/{id}") });
        let mut resp = (StatusCode::ACCEPTED, Json(body)).into_response();
        set_links(&mut resp, &id);
        return Ok(resp);
    }
    match state.jobs.run(job, permit).await {
        Ok((id, report)) => {
            let mut resp = report_response(mxdoctor_report::json(&report));
            set_links(&mut resp, &id);
            Ok(resp)
        }
        Err(why) => {
            let mut e = ApiError::plain(StatusCode::GATEWAY_TIMEOUT, "err.check-failed", lang);
            e.message = format!("{} ({why})", e.message);
            Err(e)
        }
    }
}

fn report_response(json: String) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        json,
    )
        .into_response()
}

fn set_links(resp: &mut Response, id: &ReportId) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/reports/{id}")) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("</r/{id}>; rel=\"alternate\"; type=\"text/html\"")) {
        h.insert(header::LINK, v);
    }
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        h.insert("x-report-id", v);
    }
}

async fn report(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let lang = lang(&state, &headers);
    let Some(id) = ReportId::parse(&id) else {
        return ApiError::plain(StatusCode::NOT_FOUND, "err.no-report", lang).into_response();
    };
    match state.jobs.state(&id).await {
        JobState::Done(r) => report_response(r.json),
        JobState::Running {
            command,
            target,
            elapsed,
        } => {
            let body = json!({ "id": id.as_str(), "state": "running", "command": command,
                               "target": target, "elapsed_s": elapsed.as_secs_f64() });
            let mut resp = (StatusCode::ACCEPTED, Json(body)).into_response();
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
            resp
        }
        JobState::Failed(why) => {
            let mut e = ApiError::plain(StatusCode::GATEWAY_TIMEOUT, "err.check-failed", lang);
            e.message = format!("{} ({why})", e.message);
            e.into_response()
        }
        JobState::Unknown => ApiError::plain(StatusCode::NOT_FOUND, "err.no-report", lang).into_response(),
    }
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        crate::openapi::document().to_string(),
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let in_flight =
        state.config.limits.in_flight - state.limiter.in_flight_available().min(state.config.limits.in_flight);
    let body = state.metrics.render(in_flight, state.tokens.live_count());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

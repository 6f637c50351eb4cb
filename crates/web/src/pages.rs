//! The web page: forms for the three entry points (domain, Send mail as, message) and the test
//! address; every form posts, starts a job and redirects to the report's permalink, which
//! refreshes itself (meta refresh: no JavaScript needed) until the report is there. English
//! or Japanese from `?lang=` (the switch, kept in a cookie), else Accept-Language.

use std::time::Instant;

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mxdoctor_engine::model::Report;
use serde::Deserialize;

use crate::AppState;
use crate::input::{CheckInput, InputError, SendasInput};
use crate::jobs::{Job, JobState};
use crate::limits::ClientIp;
use crate::testaddr::TokenState;
use crate::view::{ReportView, Ui, report_view};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/check", post(check_form))
        .route("/sendas", post(sendas_form))
        .route("/message", post(message_form))
        .route("/test-address", post(testaddr_form))
        .route("/r/{id}", get(report_page))
        .route("/t/{token}", get(token_page))
        .route("/static/style.css", get(css))
        .route("/static/app.js", get(js))
        .fallback(not_found)
}

/// The values a form is shown with again after an error (never the password).
#[derive(Debug, Clone, Default)]
pub struct FormValues {
    pub domain: String,
    pub bulk: bool,
    pub host: String,
    pub port: u16,
    pub security: String,
    pub user: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    ui: Ui,
    title: String,
    refresh: Option<u32>,
    here: String,
    errors: Vec<String>,
    form: FormValues,
    ports: [u16; 3],
    test_address: bool,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    ui: Ui,
    title: String,
    refresh: Option<u32>,
    here: String,
    id: String,
    report: ReportView,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    ui: Ui,
    title: String,
    refresh: Option<u32>,
    here: String,
    state: &'static str,
    heading: String,
    lines: Vec<String>,
    address: Option<String>,
}

/// The page's language, and the cookie to set when the switch chose it.
struct PageLang {
    ui: Ui,
    set_cookie: bool,
}

fn page_lang(state: &AppState, query: Option<&str>, headers: &HeaderMap) -> PageLang {
    let q = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("lang="))
            .map(|v| v.chars().take(8).collect::<String>())
    });
    let (lang, set_cookie) = crate::lang::negotiate(q.as_deref(), headers, state.config.lang_default);
    PageLang {
        ui: Ui { lang },
        set_cookie,
    }
}

fn render(t: &impl Template, status: StatusCode, lang: &PageLang) -> Response {
    let mut resp = match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("template: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    };
    if lang.set_cookie
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.ui.code()
        ))
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

fn index_page(state: &AppState, lang: &PageLang, errors: Vec<String>, form: FormValues) -> IndexPage {
    IndexPage {
        ui: lang.ui,
        title: lang.ui.t("web.title"),
        refresh: None,
        here: "/".into(),
        errors,
        form: FormValues {
            port: if form.port == 0 { 587 } else { form.port },
            ..form
        },
        ports: [587, 465, 25],
        test_address: state.config.test_address.is_some(),
    }
}

async fn index(State(state): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap) -> Response {
    let lang = page_lang(&state, q.as_deref(), &headers);
    render(
        &index_page(&state, &lang, vec![], FormValues::default()),
        StatusCode::OK,
        &lang,
    )
}

/// The form again with the error, in the page's language (422; 429/503 for the limits).
fn form_error(state: &AppState, lang: &PageLang, status: StatusCode, message: String, form: FormValues) -> Response {
    state.metrics.error("bad-input");
    render(&index_page(state, lang, vec![message], form), status, lang)
}

/// A form body that could not be read at all (not the form's encoding, broken multipart).
fn unreadable_form(state: &AppState, lang: &PageLang) -> Response {
    form_error(
        state,
        lang,
        StatusCode::BAD_REQUEST,
        lang.ui.t("err.query"),
        FormValues::default(),
    )
}

/// Starts the job under the limits and sends the browser to its permalink.
fn start(state: &AppState, client: std::net::IpAddr, lang: &PageLang, job: Job, form: FormValues) -> Response {
    let permit = match state.limiter.admit(client) {
        Ok(p) => p,
        Err(r) => {
            state.metrics.error(r.cause());
            return render(
                &index_page(state, lang, vec![lang.ui.t(r.key())], form),
                r.status(),
                lang,
            );
        }
    };
    match state.jobs.start(job, permit) {
        Ok(id) => Redirect::to(&format!("/r/{id}")).into_response(),
        Err(_) => form_error(
            state,
            lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            lang.ui.t("err.internal"),
            form,
        ),
    }
}

#[derive(Debug, Deserialize)]
struct CheckForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    bulk: Option<String>,
}

async fn check_form(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    form: Result<Form<CheckForm>, FormRejection>,
) -> Response {
    let lang = page_lang(&state, None, &headers);
    let Ok(Form(f)) = form else {
        return unreadable_form(&state, &lang);
    };
    let values = FormValues {
        domain: f.domain.chars().take(300).collect(),
        bulk: f.bulk.is_some(),
        ..Default::default()
    };
    let input = CheckInput {
        domain: f.domain,
        bulk: f.bulk.is_some(),
        ..Default::default()
    };
    match input.request() {
        Ok(req) => start(&state, client, &lang, Job::Check(req), values),
        Err(e) => form_error(
            &state,
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            e.message(lang.ui.lang),
            values,
        ),
    }
}

#[derive(Debug, Deserialize)]
struct SendasForm {
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    security: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
}

async fn sendas_form(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    form: Result<Form<SendasForm>, FormRejection>,
) -> Response {
    let lang = page_lang(&state, None, &headers);
    let Ok(Form(f)) = form else {
        return unreadable_form(&state, &lang);
    };
    let port = if f.port.trim().is_empty() {
        Ok(587)
    } else {
        f.port.trim().parse::<u16>()
    };
    let values = FormValues {
        host: f.host.chars().take(300).collect(),
        port: *port.as_ref().unwrap_or(&587),
        security: f.security.chars().take(16).collect(),
        user: f.user.chars().take(300).collect(),
        ..Default::default()
    };
    let Ok(port) = port else {
        let e = InputError::new("port", "err.port").arg("value", f.port.chars().take(20).collect::<String>());
        return form_error(
            &state,
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            e.message(lang.ui.lang),
            values,
        );
    };
    let input = SendasInput {
        host: f.host,
        port: Some(port),
        security: Some(f.security),
        user: Some(f.user),
        password: Some(f.password),
    };
    match input.request() {
        Ok(req) => start(&state, client, &lang, Job::Sendas(req), values),
        Err(e) => form_error(
            &state,
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            e.message(lang.ui.lang),
            values,
        ),
    }
}

/// The message form: the pasted text, or the uploaded file when no text was pasted.
async fn message_form(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let lang = page_lang(&state, None, &headers);
    let bad = |key: &'static str, status: StatusCode| {
        form_error(&state, &lang, status, lang.ui.t(key), FormValues::default())
    };
    let Ok(mut multipart) = multipart else {
        return unreadable_form(&state, &lang);
    };
    let (mut pasted, mut file) = (Vec::new(), Vec::new());
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                let Ok(bytes) = field.bytes().await else {
                    return bad("err.body-too-large", StatusCode::PAYLOAD_TOO_LARGE);
                };
                match name.as_str() {
                    "message" => pasted = bytes.to_vec(),
                    "file" => file = bytes.to_vec(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => return bad("err.body-too-large", StatusCode::PAYLOAD_TOO_LARGE),
        }
    }
    let (raw, name) = if pasted.iter().any(|b| !b.is_ascii_whitespace()) {
        (pasted, "pasted message")
    } else {
        (file, "uploaded message")
    };
    // A browser's textarea sends CRLF; a pasted message may have lost its trailing newline.
    match crate::input::message(&raw) {
        Ok(analysis) => {
            let job = Job::Message {
                raw,
                analysis: Box::new(analysis),
                name: name.into(),
                req: Default::default(),
            };
            start(&state, client, &lang, job, FormValues::default())
        }
        Err(e) => form_error(
            &state,
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            e.message(lang.ui.lang),
            FormValues::default(),
        ),
    }
}

async fn testaddr_form(State(state): State<AppState>, ClientIp(client): ClientIp, headers: HeaderMap) -> Response {
    let lang = page_lang(&state, None, &headers);
    match crate::testaddr::create(&state, client) {
        Ok((token, _)) => Redirect::to(&format!("/t/{token}")).into_response(),
        Err(key) => {
            let status = match key {
                "err.rate-limited" => StatusCode::TOO_MANY_REQUESTS,
                "err.no-test-address" => StatusCode::NOT_FOUND,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            form_error(&state, &lang, status, lang.ui.t(key), FormValues::default())
        }
    }
}

fn message_page(
    lang: &PageLang,
    here: String,
    state: &'static str,
    heading: String,
    lines: Vec<String>,
) -> MessagePage {
    MessagePage {
        ui: lang.ui,
        title: format!("{heading} · mxdoctor"),
        refresh: None,
        here,
        state,
        heading,
        lines,
        address: None,
    }
}

async fn report_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = page_lang(&state, q.as_deref(), &headers);
    let here = format!(
        "/r/{}",
        id.chars().filter(char::is_ascii_hexdigit).take(32).collect::<String>()
    );
    let not_found = |lang: &PageLang| {
        let p = message_page(lang, here.clone(), "unknown", lang.ui.t("web.not-found"), vec![]);
        render(&p, StatusCode::NOT_FOUND, lang)
    };
    let Some(rid) = mxdoctor_store::ReportId::parse(&id) else {
        return not_found(&lang);
    };
    match state.jobs.state(&rid).await {
        JobState::Done(stored) => match serde_json::from_str::<Report>(&stored.json) {
            Ok(report) => {
                let view = report_view(&report, lang.ui.lang);
                let page = ReportPage {
                    ui: lang.ui,
                    title: format!("{} · {} · mxdoctor", view.verdict.title, view.target),
                    refresh: None,
                    here,
                    id: rid.to_string(),
                    report: view,
                };
                render(&page, StatusCode::OK, &lang)
            }
            Err(_) => not_found(&lang),
        },
        JobState::Running { target, elapsed, .. } => {
            let mut p = message_page(
                &lang,
                here,
                "running",
                lang.ui.f("web.running", &[("target", target)]),
                vec![
                    lang.ui
                        .f("web.running-note", &[("seconds", elapsed.as_secs().to_string())]),
                ],
            );
            p.refresh = Some(2);
            render(&p, StatusCode::OK, &lang)
        }
        JobState::Failed(why) => {
            let p = message_page(&lang, here, "failed", lang.ui.t("web.failed"), vec![why]);
            render(&p, StatusCode::GATEWAY_TIMEOUT, &lang)
        }
        JobState::Unknown => not_found(&lang),
    }
}

async fn token_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = page_lang(&state, q.as_deref(), &headers);
    let valid = crate::testaddr::valid_token(&token);
    let here = if valid { format!("/t/{token}") } else { "/".into() };
    let found = valid.then(|| state.tokens.state(&token)).flatten();
    let domain = state
        .config
        .test_address
        .as_ref()
        .map(|c| c.domain.clone())
        .unwrap_or_default();
    match found {
        Some(TokenState::Received { report, .. }) => Redirect::to(&format!("/r/{report}")).into_response(),
        Some(TokenState::Waiting { expires }) if expires > Instant::now() => {
            let minutes = expires.saturating_duration_since(Instant::now()).as_secs().div_ceil(60);
            let mut p = message_page(
                &lang,
                here,
                "waiting",
                lang.ui.t("web.testaddr.send-to"),
                vec![
                    lang.ui.t("web.testaddr.waiting"),
                    lang.ui.f("web.testaddr.expires", &[("minutes", minutes.to_string())]),
                ],
            );
            p.address = Some(format!("{token}@{domain}"));
            p.refresh = Some(3);
            render(&p, StatusCode::OK, &lang)
        }
        _ => {
            let p = message_page(&lang, here, "unknown", lang.ui.t("web.testaddr.unknown"), vec![]);
            render(&p, StatusCode::NOT_FOUND, &lang)
        }
    }
}

async fn not_found(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = page_lang(&state, None, &headers);
    let p = message_page(&lang, "/".into(), "unknown", lang.ui.t("err.not-found"), vec![]);
    render(&p, StatusCode::NOT_FOUND, &lang)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset(include_str!("../static/style.css"), "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(include_str!("../static/app.js"), "text/javascript; charset=utf-8")
}

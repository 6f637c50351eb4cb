//! `mxdoctor serve` through its router against lab worlds: the JSON API (the CLI's JSON), the
//! page (en/ja, permalinks, escaping), bad input (a 4xx in the client's language, never a
//! 500), the limits, the security headers, metrics and /probe, and agreement of real responses
//! with the OpenAPI document and docs/report.schema.json.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use mxdoctor_engine::model::Report;
use mxdoctor_web::limits::Limits;
use serde_json::Value;

fn router(state: mxdoctor_web::AppState) -> axum::Router {
    mxdoctor_web::router(state)
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// A validator for one schema of the OpenAPI document's components (refs resolve inside it).
fn component_validator(name: &str) -> jsonschema::Validator {
    let doc = mxdoctor_web::openapi::document();
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("component {name} is not a valid schema: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} does not match its schema: {errors:#?}");
}

/// Polls a report until it is done (bounded; a job that never ends fails the test).
async fn wait_for_report(r: &axum::Router, id: &str) -> Vec<u8> {
    for _ in 0..400 {
        let (status, _, body) = call(r, get(&format!("/api/v1/reports/{id}"))).await;
        match status {
            StatusCode::OK => return body,
            StatusCode::ACCEPTED => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            other => panic!("report {id}: {other} {}", String::from_utf8_lossy(&body)),
        }
    }
    panic!("report {id} never finished");
}

#[tokio::test]
async fn api_check_and_sendas_give_the_cli_json_and_keep_it_by_id() {
    let lab = start("seed").await;
    let r = router(web_state(&lab, Limits::default(), None));

    let (status, headers, body) = call(
        &r,
        post_json("/api/v1/sendas", r#"{"host": "mail.hanako-shop.example"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let report: Report = serde_json::from_slice(&body).expect("the report model");
    assert_eq!(report.verdict.id, "verdict.sendas.refuse");
    assert!(has(&report, "tls.cert.name-mismatch"));
    // The same JSON as the CLI prints, kept under the id in Location.
    assert_eq!(String::from_utf8_lossy(&body), mxdoctor_report::json(&report));
    let location = headers["location"].to_str().unwrap().to_string();
    let (status, _, stored) = call(&r, get(&location)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored, body, "the stored report is the one answered");
    assert_valid(&component_validator("Report"), &json(&body), "the sendas report");

    let (status, _, body) = call(
        &r,
        post_json(
            "/api/v1/check",
            r#"{"domain": "hanako-shop.example", "ips": ["203.0.113.45"]}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let report: Report = serde_json::from_slice(&body).unwrap();
    assert_eq!(report.command, "check");
    assert!(has(&report, "ptr.not-forward-confirmed"), "{:?}", ids(&report));
    assert_valid(&component_validator("Report"), &json(&body), "the check report");
    let schema = mxdoctor_web::openapi::report_schema();
    let v = jsonschema::validator_for(&schema).expect("docs/report.schema.json is a schema");
    assert_valid(&v, &json(&body), "the check report against report.schema.json");
}

#[tokio::test]
async fn api_runs_in_the_background_on_request_and_the_page_shows_the_result() {
    let lab = start("seed").await;
    let r = router(web_state(&lab, Limits::default(), None));
    let (status, _, body) = call(
        &r,
        post_json("/api/v1/sendas?wait=false", r#"{"host": "mail.hanako-shop.example"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let accepted = json(&body);
    assert_valid(&component_validator("Accepted"), &accepted, "the 202 answer");
    let id = accepted["id"].as_str().unwrap().to_string();
    let report = wait_for_report(&r, &id).await;
    assert_eq!(json(&report)["verdict"]["id"], "verdict.sendas.refuse");

    // The permalink page: the verdict first, the finding by id, in English, then Japanese.
    let (status, _, html) = call(&r, get(&format!("/r/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains(r#"id="verdict" data-severity="fail""#), "{html}");
    assert!(html.contains(r#"data-id="tls.cert.name-mismatch""#));
    assert!(html.contains("<html lang=\"en\">"));
    let (status, headers, html) = call(&r, get(&format!("/r/{id}?lang=ja"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["set-cookie"].to_str().unwrap().starts_with("lang=ja"));
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("<html lang=\"ja\">"));
    let ja_title = mxdoctor_explain::text(mxdoctor_explain::Lang::Ja, "verdict.sendas.refuse", &Default::default())
        .unwrap()
        .title;
    let first_words: String = ja_title.chars().take(6).collect();
    assert!(html.contains(&first_words), "the Japanese verdict is missing: {html}");
}

#[tokio::test]
async fn the_page_form_redirects_to_a_permalink_that_refreshes_until_done() {
    let lab = start("seed").await;
    let r = router(web_state(&lab, Limits::default(), None));
    let form = Request::post("/check")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept-language", "ja,en;q=0.5")
        .body(Body::from("domain=hanako-shop.example&bulk=on"))
        .unwrap();
    let (status, headers, _) = call(&r, form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers["location"].to_str().unwrap().to_string();
    let id = location.strip_prefix("/r/").expect("a permalink");
    let (_, _, first) = call(&r, get(&location)).await;
    let first = String::from_utf8(first).unwrap();
    // Either still running (a page that refreshes itself) or already done.
    assert!(first.contains("http-equiv=\"refresh\"") || first.contains("id=\"verdict\""));
    wait_for_report(&r, id).await;
    let req = Request::get(&location)
        .header("accept-language", "ja,en;q=0.5")
        .body(Body::empty())
        .unwrap();
    let (_, _, page) = call(&r, req).await;
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("<html lang=\"ja\">"),
        "Accept-Language ja was not honoured"
    );
    assert!(page.contains("id=\"verdict\""));
    assert!(!page.contains("http-equiv=\"refresh\""));
}

#[tokio::test]
async fn hostile_text_from_dns_and_smtp_is_escaped_on_the_page() {
    let lab = start("hostile-text").await;
    let r = router(web_state(&lab, Limits::default(), None));
    for (path, body) in [
        ("/api/v1/check", r#"{"domain": "evil.example"}"#),
        ("/api/v1/sendas", r#"{"host": "mail.evil.example"}"#),
    ] {
        let (status, headers, _) = call(&r, post_json(path, body)).await;
        assert_eq!(status, StatusCode::OK);
        let id = headers["x-report-id"].to_str().unwrap();
        let (_, _, html) = call(&r, get(&format!("/r/{id}"))).await;
        let html = String::from_utf8(html).unwrap();
        for raw in ["<script>window", "<img src=x", "\"><img"] {
            assert!(!html.contains(raw), "{raw} reached the page unescaped");
        }
        // askama writes `<` as a numeric reference: the text shows, nothing is markup.
        assert!(
            html.contains("&#60;script&#62;window.__xss"),
            "{path}: the payload is not shown as text: {html}"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_a_4xx_in_the_clients_language_never_a_500() {
    let lab = start("seed").await;
    let r = router(web_state(&lab, Limits::default(), None));
    let ja = |req: Request<Body>| {
        let (mut parts, body) = req.into_parts();
        parts.headers.insert("accept-language", "ja".parse().unwrap());
        Request::from_parts(parts, body)
    };
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            post_json("/api/v1/check", "{\"domain\": "),
            StatusCode::BAD_REQUEST,
            "err.json",
        ),
        (
            "not JSON at all",
            post_json("/api/v1/check", "<xml/>"),
            StatusCode::BAD_REQUEST,
            "err.json",
        ),
        (
            "wrong content type",
            Request::post("/api/v1/check").body(Body::from("domain=x")).unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "err.content-type",
        ),
        (
            "unknown field",
            post_json("/api/v1/check", r#"{"domain": "a.example", "evil": 1}"#),
            StatusCode::BAD_REQUEST,
            "err.json",
        ),
        (
            "wrong type",
            post_json("/api/v1/check", r#"{"domain": 5}"#),
            StatusCode::BAD_REQUEST,
            "err.json",
        ),
        (
            "header injection",
            post_json("/api/v1/check", r#"{"domain": "a.example\r\nBcc: x@y"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.control",
        ),
        (
            "NUL",
            post_json("/api/v1/sendas", r#"{"host": "mail\u0000.example"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.control",
        ),
        (
            "over-long domain",
            post_json("/api/v1/check", &format!(r#"{{"domain": "{}"}}"#, "a".repeat(5000))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.too-long",
        ),
        (
            "invalid domain",
            post_json("/api/v1/check", r#"{"domain": "-bad-.example"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.hostname",
        ),
        (
            "empty domain",
            post_json("/api/v1/check", r#"{"domain": "  "}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.empty",
        ),
        (
            "homograph with mixed scripts",
            post_json("/api/v1/sendas", r#"{"host": "mаil.example"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.homograph",
        ),
        (
            "port 0",
            post_json("/api/v1/sendas", r#"{"host": "mail.example.com", "port": 0}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.port",
        ),
        (
            "port out of range",
            post_json("/api/v1/sendas", r#"{"host": "mail.example.com", "port": 70000}"#),
            StatusCode::BAD_REQUEST,
            "err.json",
        ),
        (
            "bad security",
            post_json("/api/v1/sendas", r#"{"host": "mail.example.com", "security": "ssl3"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.security",
        ),
        (
            "password without user",
            post_json("/api/v1/sendas", r#"{"host": "mail.example.com", "password": "x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.empty",
        ),
        (
            "not a message",
            Request::post("/api/v1/message")
                .body(Body::from("hello, this is not a message"))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.not-a-message",
        ),
        (
            "empty message",
            Request::post("/api/v1/message").body(Body::empty()).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.empty",
        ),
        (
            "bad option",
            Request::post("/api/v1/message?ip=not-an-ip")
                .body(Body::from("From: a@b.example\r\n\r\nx"))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "err.ip",
        ),
        (
            "huge body",
            post_json(
                "/api/v1/check",
                &format!(r#"{{"domain": "{}"}}"#, "a".repeat(3 * 1024 * 1024)),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "err.body-too-large",
        ),
        (
            "unknown report",
            get("/api/v1/reports/00000000000000000000000000000000"),
            StatusCode::NOT_FOUND,
            "err.no-report",
        ),
        (
            "not a report id",
            get("/api/v1/reports/..%2f..%2fetc"),
            StatusCode::NOT_FOUND,
            "err.no-report",
        ),
        (
            "probe module",
            get("/probe?target=a.example&module=http"),
            StatusCode::BAD_REQUEST,
            "err.module",
        ),
        (
            "no test address here",
            Request::post("/api/v1/test-addresses").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "err.no-test-address",
        ),
    ];
    let error_schema = component_validator("Error");
    for (what, req, want_status, want_code) in cases {
        let (status, _, body) = call(&r, ja(req)).await;
        assert_eq!(status, want_status, "{what}: {}", String::from_utf8_lossy(&body));
        let v = json(&body);
        assert_valid(&error_schema, &v, what);
        assert_eq!(v["error"]["code"], want_code, "{what}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message
                .chars()
                .any(|c| ('\u{3040}'..='\u{30ff}').contains(&c) || ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{what}: the message is not in Japanese: {message}"
        );
    }
    // The page's forms: the form again with the error, 422, in the page's language.
    let form = Request::post("/check")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("domain=%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
        .unwrap();
    let (status, _, html) = call(&r, form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("id=\"errors\""));
    assert!(!html.contains("<script>alert(1)"), "the bad input was echoed unescaped");
    let upload = Request::post("/message")
        .header("content-type", "multipart/form-data; boundary=XX")
        .body(Body::from(
            "--XX\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nnot a message\r\n--XX--\r\n",
        ))
        .unwrap();
    let (status, _, _) = call(&r, upload).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let broken = Request::post("/message")
        .header("content-type", "multipart/form-data; boundary=XX")
        .body(Body::from("--XX\r\nbroken"))
        .unwrap();
    let (status, _, _) = call(&r, broken).await;
    assert!(status.is_client_error(), "{status}");
}

#[tokio::test]
async fn a_password_is_used_for_the_login_and_never_kept() {
    let lab = start("seed").await;
    let r = router(web_state(&lab, Limits::default(), None));
    let body =
        r#"{"host": "sv1234.star-hosting.example", "user": "taro@hanako-shop.example", "password": "lab-password"}"#;
    let (status, headers, report) = call(&r, post_json("/api/v1/sendas", body)).await;
    assert_eq!(status, StatusCode::OK);
    let report_text = String::from_utf8(report).unwrap();
    let report: Report = serde_json::from_str(&report_text).unwrap();
    assert!(has(&report, "smtp.auth.accepted"), "{:?}", ids(&report));
    assert!(!report_text.contains("lab-password"), "the password is in the report");
    let id = headers["x-report-id"].to_str().unwrap();
    let (_, _, page) = call(&r, get(&format!("/r/{id}"))).await;
    assert!(!String::from_utf8_lossy(&page).contains("lab-password"));
    // base64 of the SASL PLAIN blob would also reveal it.
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD.encode("\0taro@hanako-shop.example\0lab-password");
    assert!(!report_text.contains(&plain), "the AUTH blob is in the report");
}

#[tokio::test]
async fn rate_limits_and_the_in_flight_cap_answer_429_and_503() {
    let lab = start("seed").await;
    let limits = Limits {
        per_client_per_minute: 1,
        per_client_burst: 2,
        ..Default::default()
    };
    let r = router(web_state(&lab, limits, None));
    for _ in 0..2 {
        let (status, _, _) = call(
            &r,
            post_json("/api/v1/check?wait=false", r#"{"domain": "hanako-shop.example"}"#),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, headers, body) = call(&r, post_json("/api/v1/check", r#"{"domain": "hanako-shop.example"}"#)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    assert_eq!(json(&body)["error"]["code"], "err.rate-limited");

    let busy = router(web_state(
        &lab,
        Limits {
            in_flight: 1,
            ..Default::default()
        },
        None,
    ));
    let (status, _, _) = call(
        &busy,
        post_json("/api/v1/sendas?wait=false", r#"{"host": "mail.hanako-shop.example"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, headers, body) = call(
        &busy,
        post_json("/api/v1/sendas", r#"{"host": "mail.hanako-shop.example"}"#),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let lab = start("seed").await;
    let r = router(web_state(&lab, Limits::default(), None));
    for path in [
        "/",
        "/api/v1/openapi.json",
        "/r/0123",
        "/nope",
        "/metrics",
        "/static/app.js",
    ] {
        let (_, h, _) = call(&r, get(path)).await;
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
    // No inline script anywhere in the page: the CSP would block it, so it must not be needed.
    let (_, _, html) = call(&r, get("/")).await;
    let html = String::from_utf8(html).unwrap();
    assert_eq!(html.matches("<script").count(), 1, "only the external app.js");
    assert!(html.contains("<script src=\"/static/app.js\" defer></script>"));
}

#[tokio::test]
async fn metrics_count_checks_and_probe_exports_gauges() {
    let lab = start("seed").await;
    let r = router(web_state(&lab, Limits::default(), None));
    call(
        &r,
        post_json("/api/v1/sendas", r#"{"host": "mail.hanako-shop.example"}"#),
    )
    .await;
    call(&r, post_json("/api/v1/check", r#"{"domain": "x"}"#)).await;
    let (status, _, probe) = call(&r, get("/probe?target=mail.hanako-shop.example:587&module=sendas")).await;
    assert_eq!(status, StatusCode::OK);
    let probe = String::from_utf8(probe).unwrap();
    for line in [
        "probe_success 0",
        "mxdoctor_probe_cert_name_match 0",
        "mxdoctor_probe_verdict{verdict=\"verdict.sendas.refuse\"} 1",
        "mxdoctor_probe_verdict_severity 4",
        "mxdoctor_probe_tls_version_info{version=\"TLS 1.3\"} 1",
    ] {
        assert!(probe.lines().any(|l| l == line), "missing `{line}` in\n{probe}");
    }
    assert!(probe.lines().any(|l| l.starts_with("mxdoctor_probe_cert_days_left ")));
    let (_, _, good) = call(&r, get("/probe?target=sv1234.star-hosting.example&module=sendas")).await;
    let good = String::from_utf8(good).unwrap();
    assert!(good.lines().any(|l| l == "probe_success 1"), "{good}");
    assert!(good.lines().any(|l| l == "mxdoctor_probe_cert_name_match 1"));

    let (status, h, m) = call(&r, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let m = String::from_utf8(m).unwrap();
    for want in [
        "mxdoctor_checks_total{command=\"sendas\",verdict=\"verdict.sendas.refuse\"} 2",
        "mxdoctor_http_requests_total{route=\"/api/v1/check\",status=\"422\"} 1",
        "mxdoctor_errors_total{cause=\"bad-input\"} 1",
        "mxdoctor_check_duration_seconds_count{command=\"sendas\"} 3",
    ] {
        assert!(m.lines().any(|l| l == want), "missing `{want}` in\n{m}");
    }
    assert!(m.contains("mxdoctor_check_duration_seconds_bucket{command=\"sendas\",le=\"+Inf\"} 3"));
}

#[test]
fn docs_report_schema_is_generated_from_the_rust_types() {
    let generated = serde_json::to_string_pretty(&mxdoctor_web::openapi::report_schema()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json");
    if std::env::var_os("MXDOCTOR_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        published, generated,
        "docs/report.schema.json is stale: run MXDOCTOR_UPDATE_SCHEMA=1 cargo test --test serve_api"
    );
}

#[test]
fn the_openapi_document_is_3_1_and_every_reference_resolves() {
    let doc = mxdoctor_web::openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut rest = text.as_str();
    let mut seen = 0;
    let pattern = "\"$ref\":\"#/components/schemas/";
    while let Some(i) = rest.find(pattern) {
        let after = &rest[i + pattern.len()..];
        let end = after.find('"').unwrap();
        let name = &after[..end];
        assert!(schemas.contains_key(name), "$ref to missing schema {name}");
        seen += 1;
        rest = &after[end..];
    }
    assert!(seen > 10, "only {seen} references");
    for name in schemas.keys() {
        component_validator(name);
    }
}

#[tokio::test]
async fn reports_past_the_retention_period_are_forgotten() {
    let lab = start("seed").await;
    let state = web_state(&lab, Limits::default(), None);
    let r = router(state.clone());
    let (_, headers, _) = call(
        &r,
        post_json("/api/v1/sendas", r#"{"host": "mail.hanako-shop.example"}"#),
    )
    .await;
    let location = headers["location"].to_str().unwrap().to_string();
    // Six days later it is still there; eight days later (retention: 7) it is gone.
    assert_eq!(state.jobs.purge(NOW + time::Duration::days(6)).await, Ok(0));
    assert_eq!(call(&r, get(&location)).await.0, StatusCode::OK);
    assert_eq!(state.jobs.purge(NOW + time::Duration::days(8)).await, Ok(1));
    assert_eq!(call(&r, get(&location)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_check_that_panics_fails_its_job_and_the_server_goes_on() {
    use std::sync::Arc;
    let lab = start("seed").await;
    let mut state = web_state(&lab, Limits::default(), None);
    // A check that panics (a bug): its job fails, the permalink says so, the server answers on.
    let mut config = (*state.config).clone();
    config.context = Arc::new(|| panic!("a bug in a check"));
    state = mxdoctor_web::AppState::new(config).unwrap();
    let r = router(state);
    let (status, _, body) = call(&r, post_json("/api/v1/check", r#"{"domain": "hanako-shop.example"}"#)).await;
    assert_eq!(
        status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let v = json(&body);
    assert_eq!(v["error"]["code"], "err.check-failed");
    assert!(v["error"]["message"].as_str().unwrap().contains("stopped unexpectedly"));
    let (status, _, body) = call(
        &r,
        post_json("/api/v1/check?wait=false", r#"{"domain": "hanako-shop.example"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = json(&body)["id"].as_str().unwrap().to_string();
    let mut last = StatusCode::ACCEPTED;
    for _ in 0..200 {
        last = call(&r, get(&format!("/api/v1/reports/{id}"))).await.0;
        if last != StatusCode::ACCEPTED {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last, StatusCode::GATEWAY_TIMEOUT, "the permalink never stopped running");
    let (_, _, m) = call(&r, get("/metrics")).await;
    assert!(String::from_utf8_lossy(&m).contains("mxdoctor_errors_total{cause=\"check-crashed\"} 2"));
}

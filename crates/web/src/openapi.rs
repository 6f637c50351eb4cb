//! The OpenAPI 3.1 document of `/api/v1/` and the JSON Schema of the report, both generated
//! from the Rust types (schemars, JSON Schema 2020-12, the dialect OpenAPI 3.1 uses), so they
//! cannot drift from what the server really sends. Tests validate real responses against them.

use mxdoctor_engine::model::Report;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::{Value, json};

use crate::input::{CheckInput, MessageOptions, SendasInput};

/// The report's JSON Schema, as published in docs/report.schema.json.
pub fn report_schema() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.contract = Contract::Serialize;
    let mut schema = settings.into_generator().into_root_schema_for::<Report>().to_value();
    if let Some(o) = schema.as_object_mut() {
        o.insert(
            "$id".into(),
            json!("https://mxdoctor.invalid/schema/report.schema.json"),
        );
        o.insert(
            "description".into(),
            json!("One run of one mxdoctor command (`--format json`, the API's report). Generated from the Rust types; schema_version says which shape."),
        );
    }
    schema
}

/// Schemas of the API's bodies under `#/components/schemas`.
fn components() -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut responses = SchemaSettings::draft2020_12();
    responses.definitions_path = "/components/schemas".into();
    responses.contract = Contract::Serialize;
    let mut generator = responses.into_generator();
    let report = generator.subschema_for::<Report>();
    out.extend(generator.take_definitions(true));
    let mut requests = SchemaSettings::draft2020_12();
    requests.definitions_path = "/components/schemas".into();
    let mut generator = requests.into_generator();
    let check = generator.subschema_for::<CheckInput>();
    let sendas = generator.subschema_for::<SendasInput>();
    let message = generator.subschema_for::<MessageOptions>();
    out.extend(generator.take_definitions(true));
    // Top-level types come back as references already; make sure each is present by name.
    for (name, schema) in [
        ("Report", report),
        ("CheckInput", check),
        ("SendasInput", sendas),
        ("MessageOptions", message),
    ] {
        out.entry(name.to_string()).or_insert(schema.to_value());
    }
    out.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": { "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "string", "description": "Stable catalogue key (`err.hostname`, `err.rate-limited`...)." },
                    "field": { "type": ["string", "null"], "description": "The input field at fault." },
                    "message": { "type": "string", "description": "The error in the client's language (Accept-Language: en or ja)." }
                }
            }}
        }),
    );
    out.insert(
        "Accepted".into(),
        json!({
            "type": "object",
            "required": ["id", "state"],
            "properties": {
                "id": { "type": "string", "pattern": "^[0-9a-f]{32}$" },
                "state": { "const": "running" },
                "report_url": { "type": "string" },
                "page_url": { "type": "string" },
                "command": { "type": "string" },
                "target": { "type": "string" },
                "elapsed_s": { "type": "number" }
            }
        }),
    );
    out.insert(
        "TestAddress".into(),
        json!({
            "type": "object",
            "required": ["address", "token", "state_url", "page_url"],
            "properties": {
                "address": { "type": "string", "description": "t-<token>@DOMAIN: send one message here." },
                "token": { "type": "string", "pattern": "^t-[0-9a-f]{20}$" },
                "expires_in_s": { "type": ["integer", "null"] },
                "state_url": { "type": "string" },
                "page_url": { "type": "string" }
            }
        }),
    );
    out.insert(
        "TestAddressState".into(),
        json!({
            "type": "object",
            "required": ["state"],
            "properties": {
                "state": { "enum": ["waiting", "received"] },
                "expires_in_s": { "type": "integer" },
                "tls": { "type": "boolean", "description": "The message arrived over STARTTLS." },
                "report_url": { "type": "string" },
                "page_url": { "type": "string" }
            }
        }),
    );
    out
}

fn error_responses() -> Value {
    let err = json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } });
    json!({
        "400": { "description": "Malformed request (JSON, query).", "content": err },
        "413": { "description": "Body too large.", "content": err },
        "415": { "description": "Not application/json.", "content": err },
        "422": { "description": "A field is invalid (the error names it).", "content": err },
        "429": { "description": "Rate limited; see Retry-After.", "content": err },
        "503": { "description": "Too many checks in flight; see Retry-After.", "content": err },
        "504": { "description": "The check did not finish in time.", "content": err }
    })
}

fn run_operation(summary: &str, op_id: &str, body: Value) -> Value {
    let mut responses = error_responses();
    if let Some(r) = responses.as_object_mut() {
        r.insert(
            "200".into(),
            json!({
                "description": "The report (the same JSON as the CLI's --format json). Location: the stored report; Link: its page.",
                "headers": {
                    "Location": { "schema": { "type": "string" } },
                    "X-Report-Id": { "schema": { "type": "string" } }
                },
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Report" } } }
            }),
        );
        r.insert(
            "202".into(),
            json!({
                "description": "With ?wait=false: started; poll report_url.",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } }
            }),
        );
    }
    json!({
        "summary": summary,
        "operationId": op_id,
        "parameters": [{ "name": "wait", "in": "query", "required": false, "schema": { "type": "boolean" },
                         "description": "false: answer 202 at once and run in the background." }],
        "requestBody": body,
        "responses": responses
    })
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let json_body = |schema: &str| json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let mut message = run_operation(
        "Explain a bounce or verify a received message",
        "message",
        json!({ "required": true, "content": { "message/rfc822": { "schema": { "type": "string" } },
                                                  "text/plain": { "schema": { "type": "string" } },
                                                  "application/octet-stream": { "schema": { "type": "string" } } } }),
    );
    if let Some(params) = message.get_mut("parameters").and_then(Value::as_array_mut) {
        for (name, desc) in [
            ("ip", "The sending server's IP, if the Received fields do not show it."),
            ("mail_from", "The envelope sender, if there is no Return-Path."),
            ("helo", "The sending server's HELO name."),
            ("bulk", "Judge by the bulk-sender rules (true/false)."),
        ] {
            params.push(json!({ "name": name, "in": "query", "required": false, "schema": { "type": "string" }, "description": desc }));
        }
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "mxdoctor API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "What Gmail (and Yahoo, Microsoft, Apple) will object to in a mail server, domain or message, and the exact fix. Reports are the CLI's JSON (docs/report.schema.json)."
        },
        "paths": {
            "/api/v1/check": { "post": run_operation("The domain report (mxdoctor check)", "check", json_body("CheckInput")) },
            "/api/v1/sendas": { "post": run_operation("Gmail's Send mail as against an SMTP server (mxdoctor sendas)", "sendas", json_body("SendasInput")) },
            "/api/v1/message": { "post": message },
            "/api/v1/reports/{id}": { "get": {
                "summary": "A stored report by its id",
                "operationId": "report",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{32}$" } }],
                "responses": {
                    "200": { "description": "The report.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Report" } } } },
                    "202": { "description": "Still running.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } } },
                    "404": { "description": "No such report (or past retention).", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "504": { "description": "The check did not finish.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
                }
            }},
            "/api/v1/test-addresses": { "post": {
                "summary": "A one-time test address: send a message to it, get the report",
                "operationId": "createTestAddress",
                "responses": {
                    "201": { "description": "The address.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TestAddress" } } } },
                    "404": { "description": "This server has no test address.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                    "429": { "description": "Rate limited.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
                }
            }},
            "/api/v1/test-addresses/{token}": { "get": {
                "summary": "Whether the message arrived, and its report",
                "operationId": "testAddressState",
                "parameters": [{ "name": "token", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^t-[0-9a-f]{20}$" } }],
                "responses": {
                    "200": { "description": "Waiting or received.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TestAddressState" } } } },
                    "404": { "description": "Unknown or expired.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
                }
            }}
        },
        "components": { "schemas": components() }
    })
}

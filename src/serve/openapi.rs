//! The OpenAPI document of `/api/v1`, its request schemas generated from
//! the very types the handlers parse (`api::*Request`).

use schemars::JsonSchema;
use serde_json::{Value, json};

use crate::api::{AlertsRequest, BadInput, CheckRequest, RecordRequest, UsageRequest};

fn schema<T: JsonSchema>() -> Value {
    let mut v = serde_json::to_value(
        schemars::generate::SchemaSettings::openapi3()
            .into_generator()
            .into_root_schema_for::<T>(),
    )
    .unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("$schema");
    }
    v
}

/// Query parameters from a request type's properties.
fn parameters<T: JsonSchema>() -> Value {
    let s = schema::<T>();
    let props = s["properties"].as_object().cloned().unwrap_or_default();
    Value::Array(
        props
            .into_iter()
            .map(|(name, p)| {
                json!({
                    "name": name, "in": "query", "required": false,
                    "description": p.get("description").cloned().unwrap_or(Value::Null),
                    "schema": {"type": p.get("type").cloned().unwrap_or(json!("string"))},
                })
            })
            .collect(),
    )
}

fn ok(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    })
}

fn bad() -> Value {
    json!({
        "description": "Bad input: the field named is wrong; nothing was written",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BadInput"}}},
    })
}

pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tally",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "What you spend on AI/LLM APIs, held to budgets: the REST API of `tally serve`. Amounts are decimal strings of US dollars.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "RecordRequest": schema::<RecordRequest>(),
                "CheckRequest": schema::<CheckRequest>(),
                "UsageRequest": schema::<UsageRequest>(),
                "AlertsRequest": schema::<AlertsRequest>(),
                "BadInput": schema::<BadInput>(),
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/status": {"get": {
                "summary": "Every budget: used, limit, left, forecast, reset (as `tally status --json`)",
                "responses": {"200": ok("The budgets")},
            }},
            "/api/v1/usage": {"get": {
                "summary": "Usage and cost, grouped (as `tally usage --json`)",
                "parameters": parameters::<UsageRequest>(),
                "responses": {"200": ok("Rows and a total"), "400": bad()},
            }},
            "/api/v1/record": {"post": {
                "summary": "Record a call (as `tally record`); the same request_id twice counts once",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RecordRequest"}}}},
                "responses": {"201": ok("Recorded"), "200": ok("Already recorded: nothing added"), "400": bad()},
            }},
            "/api/v1/check": {"post": {
                "summary": "May this call go ahead? allow, warn, throttle or block, with reasons (as `tally check --json`)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CheckRequest"}}}},
                "responses": {"200": ok("The decision"), "400": bad()},
            }},
            "/api/v1/alerts": {"get": {
                "summary": "Open alerts (every one with all=true)",
                "parameters": parameters::<AlertsRequest>(),
                "responses": {"200": ok("The alerts")},
            }},
            "/api/v1/alerts/{id}/ack": {"post": {
                "summary": "Acknowledge an alert",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": ok("Whether it was open, and the alert"), "404": bad()},
            }},
            "/api/v1/events": {"get": {
                "summary": "Live events: record, budget, alert, price. A WebSocket when upgraded, else Server-Sent Events. Give the last id (Last-Event-ID or last_event_id) to get what was missed.",
                "parameters": [{"name": "last_event_id", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "text/event-stream, or WebSocket messages {id, event, data}"}},
            }},
            "/api/v1/otlp": {"get": {
                "summary": "What the OTLP intake took and what it could not use",
                "responses": {"200": ok("Counts")},
            }},
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_record_schema_lists_the_fields_the_handler_reads() {
        let doc = super::document();
        let props = &doc["components"]["schemas"]["RecordRequest"]["properties"];
        for f in [
            "model",
            "input",
            "output",
            "cache_read",
            "request_id",
            "cost_usd",
        ] {
            assert!(props.get(f).is_some(), "{f} missing");
        }
        assert_eq!(
            doc["components"]["schemas"]["RecordRequest"]["required"],
            serde_json::json!(["model"])
        );
    }
}

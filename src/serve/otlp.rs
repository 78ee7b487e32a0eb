//! OTLP/HTTP export requests (`/v1/logs`, `/v1/traces`, `/v1/metrics`), in
//! protobuf or JSON, gzip or not, read into one flat shape: an item with its
//! resource's and its own attributes in one map. What the items mean is
//! `mapping`'s business; what is answered follows the OTLP specification
//! (partial success with the count rejected and why).

use std::io::Read;

use jiff::Timestamp;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Map, Value};

/// The most a request may hold, unpacked: a collector's batches are far
/// smaller, and a gzip bomb stops here.
pub const MAX_BODY: usize = 32 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Logs,
    Traces,
    Metrics,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Span,
    /// A log record, or an event on a span.
    Log,
    /// A metric's data point: a sum over calls, never a call.
    Metric,
}

/// One span, log record or data point, flattened.
#[derive(Debug, Clone)]
pub struct Item {
    pub kind: Kind,
    /// The span's name, the log record's event name (or its body when that
    /// is a short string), the metric's name.
    pub name: String,
    pub attributes: Map<String, Value>,
    pub time: Option<Timestamp>,
    /// `trace:span`, where the item has them.
    pub id: Option<String>,
}

impl Item {
    pub fn text(&self, key: &str) -> Option<&str> {
        self.attributes
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// The wire format of a request or an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Json,
}

impl Format {
    /// From a Content-Type; none other than these two is OTLP.
    pub fn of(content_type: &str) -> Option<Format> {
        let base = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Format::Protobuf),
            "application/json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// Unpacks a gzip body, at most `MAX_BODY` bytes of it.
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the gzip body cannot be unpacked: {e}"))?;
    if out.len() > MAX_BODY {
        return Err(format!("the body unpacks to more than {MAX_BODY} bytes"));
    }
    Ok(out)
}

/// Reads an export request into items.
pub fn decode(signal: Signal, format: Format, body: &[u8]) -> Result<Vec<Item>, String> {
    match format {
        Format::Protobuf => decode_protobuf(signal, body),
        Format::Json => {
            let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
            decode_json(signal, &v)
        }
    }
}

/// The answer to an export: empty when everything was taken, else the
/// count rejected and why.
pub fn answer(signal: Signal, format: Format, rejected: i64, why: &str) -> Vec<u8> {
    let message = why.to_string();
    match format {
        Format::Protobuf => match signal {
            Signal::Logs => ExportLogsServiceResponse {
                partial_success: (rejected > 0 || !why.is_empty()).then_some(
                    ExportLogsPartialSuccess {
                        rejected_log_records: rejected,
                        error_message: message,
                    },
                ),
            }
            .encode_to_vec(),
            Signal::Traces => ExportTraceServiceResponse {
                partial_success: (rejected > 0 || !why.is_empty()).then_some(
                    ExportTracePartialSuccess {
                        rejected_spans: rejected,
                        error_message: message,
                    },
                ),
            }
            .encode_to_vec(),
            Signal::Metrics => ExportMetricsServiceResponse {
                partial_success: (rejected > 0 || !why.is_empty()).then_some(
                    ExportMetricsPartialSuccess {
                        rejected_data_points: rejected,
                        error_message: message,
                    },
                ),
            }
            .encode_to_vec(),
        },
        Format::Json => {
            if rejected == 0 && why.is_empty() {
                return b"{}".to_vec();
            }
            let field = match signal {
                Signal::Logs => "rejectedLogRecords",
                Signal::Traces => "rejectedSpans",
                Signal::Metrics => "rejectedDataPoints",
            };
            serde_json::to_vec(&serde_json::json!({
                "partialSuccess": { field: rejected.to_string(), "errorMessage": message }
            }))
            .unwrap_or_default()
        }
    }
}

// ------------------------------------------------------------- protobuf

fn plain(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number)
        }
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(plain).collect()),
        Some(any_value::Value::KvlistValue(kv)) => {
            let mut m = Map::new();
            add(&kv.values, &mut m);
            Value::Object(m)
        }
        _ => Value::Null,
    }
}

fn add(list: &[KeyValue], into: &mut Map<String, Value>) {
    for kv in list {
        into.insert(
            kv.key.clone(),
            kv.value.as_ref().map(plain).unwrap_or(Value::Null),
        );
    }
}

fn nanos(ns: u64) -> Option<Timestamp> {
    (ns > 0)
        .then(|| Timestamp::from_nanosecond(i128::from(ns)).ok())
        .flatten()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ids(trace: &[u8], span: &[u8]) -> Option<String> {
    (!trace.is_empty() && !span.is_empty()).then(|| format!("{}:{}", hex(trace), hex(span)))
}

/// A log record's name: its event name, `event.name`, or its body when that
/// is a short word (Claude Code writes `claude_code.api_request` there).
fn log_name(event_name: &str, attributes: &Map<String, Value>, body: Option<&Value>) -> String {
    if !event_name.is_empty() {
        return event_name.to_string();
    }
    if let Some(n) = attributes.get("event.name").and_then(Value::as_str) {
        return n.to_string();
    }
    match body {
        Some(Value::String(s)) if s.len() <= 200 && !s.contains(char::is_whitespace) => s.clone(),
        _ => String::new(),
    }
}

fn decode_protobuf(signal: Signal, body: &[u8]) -> Result<Vec<Item>, String> {
    let bad = |e: prost::DecodeError| format!("not an OTLP {} request: {e}", signal.name());
    let mut out = Vec::new();
    match signal {
        Signal::Logs => {
            let req = ExportLogsServiceRequest::decode(body).map_err(bad)?;
            for rl in &req.resource_logs {
                let mut base = Map::new();
                if let Some(r) = &rl.resource {
                    add(&r.attributes, &mut base);
                }
                for sl in &rl.scope_logs {
                    for lr in &sl.log_records {
                        let mut attributes = base.clone();
                        add(&lr.attributes, &mut attributes);
                        let body = lr.body.as_ref().map(plain);
                        out.push(Item {
                            kind: Kind::Log,
                            name: log_name(&lr.event_name, &attributes, body.as_ref()),
                            time: nanos(lr.time_unix_nano)
                                .or_else(|| nanos(lr.observed_time_unix_nano)),
                            id: ids(&lr.trace_id, &lr.span_id),
                            attributes,
                        });
                    }
                }
            }
        }
        Signal::Traces => {
            let req = ExportTraceServiceRequest::decode(body).map_err(bad)?;
            for rs in &req.resource_spans {
                let mut base = Map::new();
                if let Some(r) = &rs.resource {
                    add(&r.attributes, &mut base);
                }
                for ss in &rs.scope_spans {
                    for s in &ss.spans {
                        let mut attributes = base.clone();
                        add(&s.attributes, &mut attributes);
                        let id = ids(&s.trace_id, &s.span_id);
                        for e in &s.events {
                            let mut ea = attributes.clone();
                            add(&e.attributes, &mut ea);
                            out.push(Item {
                                kind: Kind::Log,
                                name: e.name.clone(),
                                attributes: ea,
                                time: nanos(e.time_unix_nano),
                                id: id.clone(),
                            });
                        }
                        out.push(Item {
                            kind: Kind::Span,
                            name: s.name.clone(),
                            attributes,
                            time: nanos(s.end_time_unix_nano)
                                .or_else(|| nanos(s.start_time_unix_nano)),
                            id,
                        });
                    }
                }
            }
        }
        Signal::Metrics => {
            let req = ExportMetricsServiceRequest::decode(body).map_err(bad)?;
            for rm in &req.resource_metrics {
                let mut base = Map::new();
                if let Some(r) = &rm.resource {
                    add(&r.attributes, &mut base);
                }
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        out.push(Item {
                            kind: Kind::Metric,
                            name: m.name.clone(),
                            attributes: base.clone(),
                            time: None,
                            id: None,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

// ------------------------------------------------------------- JSON

/// OTLP/JSON's attribute list (`[{key, value: {intValue: "3"}}]`).
fn json_attributes(v: Option<&Value>, into: &mut Map<String, Value>) {
    if let Some(Value::Array(list)) = v {
        for kv in list {
            if let Some(k) = kv.get("key").and_then(Value::as_str) {
                into.insert(
                    k.to_string(),
                    kv.get("value").map(json_value).unwrap_or(Value::Null),
                );
            }
        }
    }
}

fn json_value(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return Value::Null;
    };
    if let Some(s) = obj.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = obj.get("intValue") {
        // int64 is a string in OTLP/JSON; a number is read too.
        return match i {
            Value::String(s) => s.parse::<i64>().map_or(Value::Null, Value::from),
            other => other.clone(),
        };
    }
    for k in ["doubleValue", "boolValue"] {
        if let Some(x) = obj.get(k) {
            return x.clone();
        }
    }
    if let Some(a) = obj.get("arrayValue") {
        let values = a.get("values").and_then(Value::as_array);
        return Value::Array(values.into_iter().flatten().map(json_value).collect());
    }
    if let Some(kv) = obj.get("kvlistValue") {
        let mut m = Map::new();
        json_attributes(kv.get("values"), &mut m);
        return Value::Object(m);
    }
    Value::Null
}

fn json_time(v: Option<&Value>) -> Option<Timestamp> {
    let ns: u64 = match v? {
        Value::String(s) => s.parse().ok()?,
        Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    nanos(ns)
}

fn json_ids(v: &Value) -> Option<String> {
    let t = v.get("traceId").and_then(Value::as_str).unwrap_or("");
    let s = v.get("spanId").and_then(Value::as_str).unwrap_or("");
    (!t.is_empty() && !s.is_empty()).then(|| format!("{}:{}", t.to_lowercase(), s.to_lowercase()))
}

fn list<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("“{key}” is not a list")),
    }
}

fn decode_json(signal: Signal, v: &Value) -> Result<Vec<Item>, String> {
    if !v.is_object() {
        return Err("the body is not a JSON object".into());
    }
    let mut out = Vec::new();
    let (top, scopes, items) = match signal {
        Signal::Logs => ("resourceLogs", "scopeLogs", "logRecords"),
        Signal::Traces => ("resourceSpans", "scopeSpans", "spans"),
        Signal::Metrics => ("resourceMetrics", "scopeMetrics", "metrics"),
    };
    for r in list(v, top)? {
        let mut base = Map::new();
        json_attributes(
            r.get("resource").and_then(|x| x.get("attributes")),
            &mut base,
        );
        for s in list(r, scopes)? {
            for it in list(s, items)? {
                let mut attributes = base.clone();
                json_attributes(it.get("attributes"), &mut attributes);
                let text = |k: &str| it.get(k).and_then(Value::as_str).unwrap_or("");
                match signal {
                    Signal::Logs => {
                        let body = it.get("body").map(json_value);
                        out.push(Item {
                            kind: Kind::Log,
                            name: log_name(text("eventName"), &attributes, body.as_ref()),
                            time: json_time(it.get("timeUnixNano"))
                                .or_else(|| json_time(it.get("observedTimeUnixNano"))),
                            id: json_ids(it),
                            attributes,
                        });
                    }
                    Signal::Traces => {
                        let id = json_ids(it);
                        for e in list(it, "events")? {
                            let mut ea = attributes.clone();
                            json_attributes(e.get("attributes"), &mut ea);
                            out.push(Item {
                                kind: Kind::Log,
                                name: e.get("name").and_then(Value::as_str).unwrap_or("").into(),
                                attributes: ea,
                                time: json_time(e.get("timeUnixNano")),
                                id: id.clone(),
                            });
                        }
                        out.push(Item {
                            kind: Kind::Span,
                            name: text("name").to_string(),
                            time: json_time(it.get("endTimeUnixNano"))
                                .or_else(|| json_time(it.get("startTimeUnixNano"))),
                            id,
                            attributes,
                        });
                    }
                    Signal::Metrics => out.push(Item {
                        kind: Kind::Metric,
                        name: text("name").to_string(),
                        attributes,
                        time: None,
                        id: None,
                    }),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_protobuf_read_the_same_log_record() {
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        use opentelemetry_proto::tonic::resource::v1::Resource;
        let kv = |k: &str, v: any_value::Value| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        };
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv(
                        "service.name",
                        any_value::Value::StringValue("claude-code".into()),
                    )],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_767_225_600_000_000_000,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(
                                "claude_code.api_request".into(),
                            )),
                        }),
                        attributes: vec![kv("input_tokens", any_value::Value::IntValue(12))],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let from_proto = decode(Signal::Logs, Format::Protobuf, &req.encode_to_vec()).unwrap();
        let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}]},
            "scopeLogs":[{"logRecords":[{"timeUnixNano":"1767225600000000000","body":{"stringValue":"claude_code.api_request"},
            "attributes":[{"key":"input_tokens","value":{"intValue":"12"}}]}]}]}]}"#;
        let from_json = decode(Signal::Logs, Format::Json, json.as_bytes()).unwrap();
        for items in [&from_proto, &from_json] {
            assert_eq!(items.len(), 1);
            let it = &items[0];
            assert_eq!(it.name, "claude_code.api_request");
            assert_eq!(it.attributes["input_tokens"], Value::from(12));
            assert_eq!(it.text("service.name"), Some("claude-code"));
            assert_eq!(it.time.unwrap().to_string(), "2026-01-01T00:00:00Z");
        }
    }

    #[test]
    fn broken_bodies_are_refused_with_why() {
        assert!(decode(Signal::Logs, Format::Json, b"{not json").is_err());
        assert!(decode(Signal::Traces, Format::Json, br#"{"resourceSpans":{}}"#).is_err());
        assert!(decode(Signal::Logs, Format::Protobuf, &[0xff, 0xff, 0xff]).is_err());
        assert!(gunzip(b"not gzip").is_err());
    }

    #[test]
    fn an_answer_says_how_many_were_rejected() {
        assert_eq!(answer(Signal::Logs, Format::Json, 0, ""), b"{}");
        let v: Value =
            serde_json::from_slice(&answer(Signal::Traces, Format::Json, 2, "no usage")).unwrap();
        assert_eq!(v["partialSuccess"]["rejectedSpans"], "2");
        let p = ExportLogsServiceResponse::decode(
            &answer(Signal::Logs, Format::Protobuf, 3, "bad")[..],
        )
        .unwrap();
        assert_eq!(p.partial_success.unwrap().rejected_log_records, 3);
    }
}

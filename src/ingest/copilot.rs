//! GitHub Copilot CLI's OpenTelemetry file export (`COPILOT_OTEL_ENABLED=true`,
//! `COPILOT_OTEL_EXPORTER_TYPE=file`; `~/.copilot/otel/*.jsonl` or
//! `COPILOT_OTEL_FILE_EXPORTER_PATH`), appended a line at a time. A line is an
//! OTLP/JSON export (`resourceSpans[].scopeSpans[].spans[]`, attributes as
//! `{key, value}` lists) or one span with an `attributes` map. Usage follows
//! the GenAI semantic conventions: a `chat` span per model call with
//! `gen_ai.usage.input_tokens` (cached tokens included), `output_tokens`
//! (reasoning included), `cache_read.input_tokens`,
//! `cache_creation.input_tokens`, `reasoning.output_tokens`. The same call is
//! also summed into its `invoke_agent` span and told again in log events:
//! only the `chat` span counts.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::SkipReason;
use super::fields::Parsed;
use crate::core::UsageRecord;
use crate::core::pricing::UNKNOWN_BILLING_KEY;
use crate::core::usage::{ServiceTier, TokenCounts};

pub const SOURCE: &str = "copilot";

/// How to switch the export on, for the Sources view and the CLI.
pub const HOW_TO_ENABLE: &str = "COPILOT_OTEL_ENABLED=true COPILOT_OTEL_EXPORTER_TYPE=file copilot";

/// Reads an export's lines; each stands alone.
pub fn read_lines(lines: &[(u64, &str)]) -> Parsed {
    let mut out = Parsed::default();
    for &(number, line) in lines {
        if super::fields::passed_over(line, &["gen_ai.usage."], number, &mut out) {
            continue;
        }
        let mut spans = Vec::new();
        // OTLP/JSON read into its own shape, passing over what Tally does not
        // use; any other line (one span, or one that is not JSON) as a value.
        match serde_json::from_str::<otlp::Export>(line) {
            Ok(export) if !export.is_empty() => export.spans(&mut spans),
            typed => match serde_json::from_str::<Value>(line) {
                Err(e) => {
                    out.malformed(number, format!("not JSON: {e}"));
                    continue;
                }
                Ok(v) if v.get("resourceSpans").is_some() || v.get("resourceLogs").is_some() => {
                    let why = typed.err().map(|e| e.to_string()).unwrap_or_default();
                    out.malformed(number, format!("not an OpenTelemetry export: {why}"));
                    continue;
                }
                Ok(v) => one_span(&v, &mut spans),
            },
        }
        for span in spans {
            match record(&span) {
                Ok(Some(r)) => out.records.push(r),
                Ok(None) => {}
                Err(Skip::Aggregate) => out.skipped.push(SkipReason::Aggregate),
                Err(Skip::Bad(why)) => out.malformed(number, why),
            }
        }
    }
    out
}

/// OTLP/JSON's export requests, as much of them as usage needs.
mod otlp {
    use std::borrow::Cow;

    use serde::Deserialize;
    use serde_json::{Map, Value};

    use super::{Span, span_time};

    #[derive(Deserialize)]
    pub struct Export<'a> {
        #[serde(rename = "resourceSpans", default, borrow)]
        spans: Vec<Resource<'a, ScopeSpans<'a>>>,
        #[serde(rename = "resourceLogs", default, borrow)]
        logs: Vec<Resource<'a, ScopeLogs<'a>>>,
    }

    #[derive(Deserialize)]
    struct Resource<'a, S> {
        #[serde(default, borrow)]
        resource: Attributes<'a>,
        #[serde(rename = "scopeSpans", alias = "scopeLogs", default = "Vec::new")]
        scopes: Vec<S>,
    }

    #[derive(Deserialize, Default)]
    struct Attributes<'a> {
        #[serde(default, borrow)]
        attributes: Vec<KeyValue<'a>>,
    }

    #[derive(Deserialize)]
    struct ScopeSpans<'a> {
        #[serde(default, borrow)]
        spans: Vec<Item<'a>>,
    }

    #[derive(Deserialize)]
    struct ScopeLogs<'a> {
        #[serde(rename = "logRecords", default, borrow)]
        records: Vec<Item<'a>>,
    }

    #[derive(Deserialize)]
    struct Item<'a> {
        #[serde(default, borrow)]
        name: Cow<'a, str>,
        #[serde(rename = "traceId", default, borrow)]
        trace_id: Cow<'a, str>,
        #[serde(rename = "spanId", default, borrow)]
        span_id: Cow<'a, str>,
        #[serde(rename = "endTimeUnixNano")]
        end: Option<Value>,
        #[serde(rename = "timeUnixNano")]
        time: Option<Value>,
        #[serde(rename = "startTimeUnixNano")]
        start: Option<Value>,
        #[serde(default, borrow)]
        attributes: Vec<KeyValue<'a>>,
    }

    #[derive(Deserialize)]
    struct KeyValue<'a> {
        #[serde(borrow)]
        key: Cow<'a, str>,
        #[serde(default, borrow)]
        value: AnyValue<'a>,
    }

    #[derive(Deserialize, Default)]
    struct AnyValue<'a> {
        #[serde(rename = "stringValue", borrow)]
        string: Option<Cow<'a, str>>,
        #[serde(rename = "intValue")]
        int: Option<Value>,
        #[serde(rename = "doubleValue")]
        double: Option<f64>,
        #[serde(rename = "boolValue")]
        boolean: Option<bool>,
    }

    fn add(list: &[KeyValue], into: &mut Map<String, Value>) {
        for kv in list {
            let v = &kv.value;
            let plain = match (&v.string, &v.int, v.double, v.boolean) {
                (Some(s), ..) => Value::String(s.to_string()),
                (_, Some(i), ..) => i.clone(),
                (_, _, Some(d), _) => {
                    serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number)
                }
                (.., Some(b)) => Value::Bool(b),
                _ => Value::Null,
            };
            into.insert(kv.key.to_string(), plain);
        }
    }

    impl Export<'_> {
        pub fn is_empty(&self) -> bool {
            self.spans.is_empty() && self.logs.is_empty()
        }

        /// The spans and log records that tell usage, each with its
        /// resource's attributes: tool and hook spans are passed over.
        pub fn spans(&self, out: &mut Vec<Span>) {
            for r in &self.spans {
                for s in &r.scopes {
                    for item in s.spans.iter().filter(|i| i.has_usage()) {
                        out.push(item.span(&r.resource, false));
                    }
                }
            }
            for r in &self.logs {
                for s in &r.scopes {
                    for item in s.records.iter().filter(|i| i.has_usage()) {
                        out.push(item.span(&r.resource, true));
                    }
                }
            }
        }
    }

    impl Item<'_> {
        fn has_usage(&self) -> bool {
            self.attributes
                .iter()
                .any(|kv| kv.key.starts_with(super::USAGE))
        }

        fn span(&self, resource: &Attributes, log: bool) -> Span {
            let mut attributes = Map::new();
            add(&resource.attributes, &mut attributes);
            add(&self.attributes, &mut attributes);
            let id = (!self.trace_id.is_empty() && !self.span_id.is_empty())
                .then(|| format!("{}:{}", self.trace_id, self.span_id));
            Span {
                name: self.name.to_string(),
                attributes,
                end: span_time(self.end.as_ref())
                    .or_else(|| span_time(self.time.as_ref()))
                    .or_else(|| span_time(self.start.as_ref())),
                id,
                log,
            }
        }
    }
}

/// A span or log record with its attributes flattened into one map (the
/// resource's beneath the span's own) and its end time.
struct Span {
    name: String,
    attributes: Map<String, Value>,
    end: Option<Timestamp>,
    id: Option<String>,
    /// A log record: another view of a call its span tells.
    log: bool,
}

/// The attributes of an OTLP/JSON list (`[{key, value: {intValue: "3"}}]`) or a map.
fn attributes(v: Option<&Value>, into: &mut Map<String, Value>) {
    match v {
        Some(Value::Array(list)) => {
            for kv in list {
                if let (Some(k), Some(val)) =
                    (kv.get("key").and_then(Value::as_str), kv.get("value"))
                {
                    let plain = ["stringValue", "intValue", "doubleValue", "boolValue"]
                        .iter()
                        .find_map(|t| val.get(*t))
                        .cloned()
                        .unwrap_or(Value::Null);
                    into.insert(k.to_string(), plain);
                }
            }
        }
        Some(Value::Object(map)) => {
            for (k, val) in map {
                into.insert(k.clone(), val.clone());
            }
        }
        _ => {}
    }
}

/// A time as OTLP/JSON (`"1767225600000000000"` nanoseconds), the JS SDK
/// (`[seconds, nanoseconds]`) or ISO text writes it.
fn span_time(v: Option<&Value>) -> Option<Timestamp> {
    match v? {
        Value::String(s) => s
            .parse::<i128>()
            .ok()
            .and_then(|ns| Timestamp::from_nanosecond(ns).ok())
            .or_else(|| s.parse().ok()),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ns| Timestamp::from_nanosecond(i128::from(ns)).ok()),
        Value::Array(pair) if pair.len() == 2 => {
            let (s, ns) = (pair[0].as_i64()?, pair[1].as_i64()?);
            Timestamp::new(s, ns as i32).ok()
        }
        _ => None,
    }
}

/// A line that is one span (or log record) with an `attributes` map.
fn one_span(v: &Value, out: &mut Vec<Span>) {
    if v.get("attributes").is_some() {
        let mut attrs = Map::new();
        attributes(
            v.get("resource").and_then(|r| r.get("attributes")),
            &mut attrs,
        );
        attributes(v.get("attributes"), &mut attrs);
        out.push(Span {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            attributes: attrs,
            end: span_time(v.get("endTime"))
                .or_else(|| span_time(v.get("endTimeUnixNano")))
                .or_else(|| span_time(v.get("startTime")))
                .or_else(|| span_time(v.get("timestamp"))),
            id: span_id(v),
            log: v.get("body").is_some() && v.get("spanId").is_none(),
        });
    }
}

fn span_id(v: &Value) -> Option<String> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let context = v.get("spanContext").or_else(|| v.get("context"));
    let from_context = |k: &str| context.and_then(|c| c.get(k)).and_then(Value::as_str);
    let trace = text("traceId").or_else(|| from_context("traceId"));
    let span = text("spanId")
        .or_else(|| text("id"))
        .or_else(|| from_context("spanId"));
    Some(format!("{}:{}", trace?, span?))
}

/// Why a span with usage is not a call.
#[derive(Debug, PartialEq)]
pub enum Skip {
    /// A sum of calls, or another view of one, that its `chat` span tells.
    Aggregate,
    Bad(String),
}

const USAGE: &str = "gen_ai.usage.";

fn record(span: &Span) -> Result<Option<UsageRecord>, Skip> {
    genai_record(
        &span.name,
        &span.attributes,
        span.end,
        span.id.as_deref(),
        span.log,
    )
}

/// A model call told by the OpenTelemetry GenAI conventions: a `chat` (or
/// `text_completion`, `generate_content`) span with `gen_ai.usage.*`
/// attributes, named by `gen_ai.response.id` or else its span. None when it
/// tells no usage; a log record (`log`) repeats a span and is an aggregate.
/// The record is Copilot's; a caller that knows better renames its source.
pub fn genai_record(
    name: &str,
    a: &Map<String, Value>,
    end: Option<Timestamp>,
    id: Option<&str>,
    log: bool,
) -> Result<Option<UsageRecord>, Skip> {
    if !a.keys().any(|k| k.starts_with(USAGE)) {
        return Ok(None);
    }
    let operation = a
        .get("gen_ai.operation.name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| name.split(' ').next().unwrap_or_default().to_string());
    if log
        || !matches!(
            operation.as_str(),
            "chat" | "text_completion" | "generate_content"
        )
    {
        return Err(Skip::Aggregate);
    }
    let n = |key: &str| -> Result<u64, Skip> {
        match a.get(&format!("{USAGE}{key}")) {
            None | Some(Value::Null) => Some(0),
            Some(Value::String(s)) => s.parse().ok(),
            Some(v) => v.as_u64(),
        }
        .ok_or_else(|| Skip::Bad(format!("{USAGE}{key} is not a whole number of tokens")))
    };
    let (input, output, read, written, reasoning) = (
        n("input_tokens")?,
        n("output_tokens")?,
        n("cache_read.input_tokens")?,
        n("cache_creation.input_tokens")?,
        n("reasoning.output_tokens")?,
    );
    let text = |k: &str| a.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let model = text("gen_ai.response.model")
        .or_else(|| text("gen_ai.request.model"))
        .unwrap_or("unknown");
    let at = end.ok_or_else(|| Skip::Bad(format!("a {operation} span without a valid time")))?;
    // Copilot names itself as the provider; the model says whose it is.
    let provider = text("gen_ai.provider.name")
        .or_else(|| text("gen_ai.system"))
        .filter(|p| !p.contains("copilot") && !p.starts_with("github"))
        .unwrap_or_default();
    let mut r = UsageRecord::new(at, provider, model);
    // Cached tokens are a part of the input, as the conventions say; a file
    // that counts them beside it (input smaller than its cached part) is read so.
    let uncached = input.checked_sub(read + written).unwrap_or(input);
    r.tokens = TokenCounts {
        input: uncached,
        cache_read: read,
        cache_write_5m: written,
        output,
        reasoning: reasoning.min(output),
        ..TokenCounts::default()
    };
    // The tier OpenAI ran the call at, where the export says.
    let tier = text("openai.response.service_tier")
        .or_else(|| text("gen_ai.openai.response.service_tier"))
        .or_else(|| text("gen_ai.openai.request.service_tier"));
    if let Some(tier) = tier {
        match ServiceTier::parse(tier) {
            Some(t) => r.billing.tier = t,
            None => {
                r.metadata.insert(
                    UNKNOWN_BILLING_KEY.into(),
                    Value::String(format!("service_tier “{tier}”")),
                );
            }
        }
    }
    r.source = SOURCE.into();
    r.agent = SOURCE.into();
    r.session = text("gen_ai.conversation.id").map(str::to_string);
    r.project = text("tally.project").unwrap_or_default().to_string();
    r.user = text("enduser.id")
        .or_else(|| text("user.name"))
        .unwrap_or_default()
        .to_string();
    r.request_id = text("gen_ai.response.id")
        .map(str::to_string)
        .or_else(|| id.map(str::to_string));
    if r.request_id.is_none() {
        return Err(Skip::Bad(
            "a chat span without a response id or span id".into(),
        ));
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn otlp(spans: &str) -> String {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"github-copilot"}}}}]}},"scopeSpans":[{{"spans":[{spans}]}}]}}]}}"#
        )
    }

    #[test]
    fn chat_spans_count_and_their_agent_sums_do_not() {
        let chat = r#"{"traceId":"t1","spanId":"c1","name":"chat claude-sonnet-4.5","endTimeUnixNano":"1772359200000000000","attributes":[
            {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
            {"key":"gen_ai.provider.name","value":{"stringValue":"github"}},
            {"key":"gen_ai.request.model","value":{"stringValue":"claude-sonnet-4.5"}},
            {"key":"gen_ai.response.id","value":{"stringValue":"resp-1"}},
            {"key":"gen_ai.conversation.id","value":{"stringValue":"conv-9"}},
            {"key":"gen_ai.usage.input_tokens","value":{"intValue":"5000"}},
            {"key":"gen_ai.usage.output_tokens","value":{"intValue":"300"}},
            {"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":"4000"}},
            {"key":"gen_ai.usage.cache_creation.input_tokens","value":{"intValue":"600"}}]}"#;
        let agent = r#"{"traceId":"t1","spanId":"a1","name":"invoke_agent copilot","endTimeUnixNano":"1772359300000000000","attributes":[
            {"key":"gen_ai.operation.name","value":{"stringValue":"invoke_agent"}},
            {"key":"gen_ai.usage.input_tokens","value":{"intValue":"5000"}}]}"#;
        let line = otlp(&format!("{chat},{agent}"));
        let flat = r#"{"name":"chat gpt-5","traceId":"t2","spanId":"c2","endTime":[1772359200,5000000],"attributes":{"gen_ai.operation.name":"chat","gen_ai.response.model":"gpt-5","openai.response.service_tier":"flex","gen_ai.usage.input_tokens":100,"gen_ai.usage.output_tokens":40,"gen_ai.usage.reasoning.output_tokens":30}}"#;
        let broken = r#"{"resourceSpans":{"gen_ai.usage.input_tokens":1}}"#;
        let p = read_lines(&[(1, line.as_str()), (2, flat), (3, "not json"), (4, broken)]);
        assert_eq!(p.records.len(), 2);
        let r = &p.records[0];
        assert_eq!(
            (
                r.tokens.input,
                r.tokens.cache_read,
                r.tokens.cache_write_5m,
                r.tokens.output
            ),
            (400, 4000, 600, 300)
        );
        assert_eq!(r.provider, "", "the model tells the maker, not Copilot");
        assert_eq!(r.request_id.as_deref(), Some("resp-1"));
        assert_eq!(r.session.as_deref(), Some("conv-9"));
        assert_eq!(r.at, Timestamp::from_second(1_772_359_200).unwrap());
        let f = &p.records[1];
        assert_eq!((f.model.as_str(), f.tokens.reasoning), ("gpt-5", 30));
        assert_eq!(
            f.billing.tier,
            ServiceTier::Flex,
            "the tier OpenAI ran it at"
        );
        assert_eq!(f.request_id.as_deref(), Some("t2:c2"));
        assert_eq!(
            p.skipped,
            vec![
                SkipReason::Aggregate,
                SkipReason::Malformed,
                SkipReason::Malformed
            ]
        );
        assert_eq!(p.errors[0].0, 3);
        assert_eq!(p.errors[1].0, 4);
        assert!(
            p.errors[1].1.starts_with("not an OpenTelemetry export"),
            "{}",
            p.errors[1].1
        );
    }
}

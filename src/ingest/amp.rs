//! Amp's threads: `~/.local/share/amp/threads/T-<uuid>.json` (`XDG_DATA_HOME`),
//! one JSON document a thread, rewritten as it grows. Each assistant message
//! carries `usage {model, timestamp, inputTokens, outputTokens,
//! cacheCreationInputTokens, cacheReadInputTokens}` (Anthropic's convention:
//! the buckets add up); older threads keep a `usageLedger.events[]` of
//! `{timestamp, model, tokens {input, output}, toMessageId}` instead (and
//! newer ones keep it beside: another view of the same calls). The thread id
//! and message id name the call, so both forms of one message, and every
//! rewrite of the thread, count once.

use serde::Deserialize;
use serde_json::Value;

use super::SkipReason;
use super::fields::{self, Parsed};
use crate::core::UsageRecord;
use crate::core::usage::TokenCounts;

pub const SOURCE: &str = "amp";

/// The parts of a thread Tally reads: the messages' text and tool output,
/// most of a thread's bytes, are passed over unread.
#[derive(Deserialize)]
struct Thread {
    id: Option<String>,
    created: Option<Value>,
    env: Option<Value>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(rename = "usageLedger")]
    ledger: Option<Ledger>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "messageId")]
    id: Option<Value>,
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct Ledger {
    #[serde(default)]
    events: Vec<Value>,
}

/// Reads a thread document.
pub fn read_document(text: &str, file_stem: &str) -> Parsed {
    let mut out = Parsed::default();
    let t: Thread = match serde_json::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            out.malformed(e.line() as u64, format!("not a JSON thread: {e}"));
            return out;
        }
    };
    let thread =
        t.id.filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| file_stem.to_string());
    let created = t.created.as_ref().and_then(fields::time);
    let project = t.env.as_ref().map(project).unwrap_or_default();
    // Messages with usage, by id: the ledger's events for them are another view.
    let mut counted = std::collections::HashSet::new();
    for (i, m) in t.messages.iter().enumerate() {
        let Some(usage) = m.usage.as_ref().filter(|u| u.is_object()) else {
            continue;
        };
        let id = m.id.as_ref().map_or_else(|| i.to_string(), id_text);
        counted.insert(id.clone());
        let n = |key: &str| {
            fields::count(usage, &[key]).map_err(|why| format!("messages[{i}].usage.{why}"))
        };
        let counts = (|| {
            Ok::<_, String>((
                n("inputTokens")?,
                n("outputTokens")?,
                n("cacheReadInputTokens")?,
                n("cacheCreationInputTokens")?,
            ))
        })();
        let (input, output, read, written) = match counts {
            Ok(c) => c,
            Err(why) => {
                out.malformed(0, why);
                continue;
            }
        };
        let at = usage.get("timestamp").and_then(fields::time).or(created);
        let Some(at) = at else {
            out.malformed(
                0,
                format!("messages[{i}]: usage without a time, in a thread without one"),
            );
            continue;
        };
        let model = fields::text(usage, "model").unwrap_or("unknown");
        let mut r = call(at, model, &thread, &id, &project);
        r.tokens = TokenCounts::from_anthropic(input, output, read, written, 0, 0);
        out.records.push(r);
    }
    let events = t.ledger.map(|l| l.events).unwrap_or_default();
    for (i, e) in events.iter().enumerate() {
        let n = |key: &str| {
            fields::count(e, &["tokens", key])
                .map_err(|why| format!("usageLedger.events[{i}].{why}"))
        };
        let (input, output) = match (n("input"), n("output")) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(why), _) | (_, Err(why)) => {
                out.malformed(0, why);
                continue;
            }
        };
        let Some(at) = e.get("timestamp").and_then(fields::time) else {
            out.malformed(
                0,
                format!("usageLedger.events[{i}] without a valid timestamp"),
            );
            continue;
        };
        let id = e
            .get("toMessageId")
            .or_else(|| e.get("id"))
            .map_or_else(|| format!("event-{i}"), id_text);
        if counted.contains(&id) {
            out.skipped.push(SkipReason::Aggregate);
            continue;
        }
        let model = fields::text(e, "model").unwrap_or("unknown");
        let mut r = call(at, model, &thread, &id, &project);
        r.tokens = TokenCounts::from_anthropic(input, output, 0, 0, 0, 0);
        out.records.push(r);
    }
    out
}

/// An id as text, whether Amp wrote it as a number or a string.
fn id_text(id: &Value) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_string)
}

fn call(at: jiff::Timestamp, model: &str, thread: &str, id: &str, project: &str) -> UsageRecord {
    // Amp runs several makers' models; the model says whose.
    let mut r = UsageRecord::new(at, "", model);
    r.source = SOURCE.into();
    r.agent = SOURCE.into();
    r.session = Some(thread.to_string());
    r.request_id = Some(format!("{thread}:{id}"));
    r.project = project.to_string();
    r
}

/// The thread's first workspace folder (`env.initial.trees[0].uri`), as a path.
fn project(env: &Value) -> String {
    env.pointer("/initial/trees/0/uri")
        .and_then(Value::as_str)
        .map(|u| u.strip_prefix("file://").unwrap_or(u).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_with_usage_are_calls_and_the_older_ledger_stands_in_without_them() {
        let thread = r#"{"id":"T-1","created":1772359200000,"env":{"initial":{"trees":[{"uri":"file:///home/ada/app"}]}},
            "messages":[{"role":"user","messageId":0},
              {"role":"assistant","messageId":1,"usage":{"model":"claude-sonnet-4-5","timestamp":"2026-03-01T10:00:05Z","inputTokens":10,"outputTokens":300,"cacheCreationInputTokens":2000,"cacheReadInputTokens":15000}}],
            "usageLedger":{"events":[{"timestamp":"2026-03-01T10:00:05Z","model":"claude-sonnet-4-5","tokens":{"input":17010,"output":300},"toMessageId":1}]}}"#;
        let p = read_document(thread, "T-1");
        assert_eq!(p.records.len(), 1, "the ledger repeats the message");
        assert_eq!(p.skipped, vec![SkipReason::Aggregate]);
        let r = &p.records[0];
        assert_eq!(
            (
                r.tokens.input,
                r.tokens.cache_read,
                r.tokens.cache_write_5m,
                r.tokens.output
            ),
            (10, 15000, 2000, 300)
        );
        assert_eq!(r.request_id.as_deref(), Some("T-1:1"));
        assert_eq!(r.project, "/home/ada/app");
        let old = r#"{"id":"T-2","usageLedger":{"events":[{"timestamp":"2025-09-01T10:00:00Z","model":"claude-sonnet-4","tokens":{"input":500,"output":50},"toMessageId":3},{"model":"x","tokens":{"input":1}}]}}"#;
        let p = read_document(old, "T-2");
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].request_id.as_deref(), Some("T-2:3"));
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].1.contains("events[1]"));
    }
}

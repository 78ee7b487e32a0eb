//! Codex CLI's session logs: `${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-*.jsonl`
//! and `archived_sessions/`. Lines are `{timestamp, type, payload}`; the model comes
//! from the latest `turn_context`; `token_count` events carry the session's
//! cumulative usage, so each call is the difference from the event before it, and
//! an event that did not advance the total is a re-emission.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SkipReason;
use super::fields::Parsed;
use crate::core::UsageRecord;
use crate::core::plan::Reported;
use crate::core::usage::TokenCounts;

pub const SOURCE: &str = "codex";

/// `sessions/` and `archived_sessions/` under `CODEX_HOME` (else `~/.codex`), where they exist.
pub fn default_dirs(codex_home: Option<&str>, home: Option<&Path>) -> Vec<PathBuf> {
    let base = match codex_home.filter(|s| !s.trim().is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => home.map(|h| h.join(".codex")),
    };
    base.map(|b| vec![b.join("sessions"), b.join("archived_sessions")])
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.is_dir())
        .collect()
}

/// Cumulative counts as Codex reports them (input includes cached, output includes reasoning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cumulative {
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
    total: u64,
}

fn cumulative(v: &Value) -> Result<Cumulative, String> {
    let n = |key: &str| -> Result<u64, String> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(x) => x
                .as_u64()
                .ok_or_else(|| format!("{key} is not a whole number: {x}")),
        }
    };
    let mut c = Cumulative {
        input: n("input_tokens")?,
        cached: n("cached_input_tokens")?,
        output: n("output_tokens")?,
        reasoning: n("reasoning_output_tokens")?,
        total: n("total_tokens")?,
    };
    if c.total == 0 {
        c.total = c.input + c.output;
    }
    Ok(c)
}

/// Where reading a session file has got to: enough to go on from the next
/// line, in this import or (saved with the file's offset) the next one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    model: Option<String>,
    cwd: String,
    session: String,
    last: Cumulative,
}

impl SessionState {
    /// The state at the start of a file; `session` names it until a
    /// `session_meta` line does (the file name's id).
    pub fn new(session: &str) -> SessionState {
        SessionState {
            session: session.to_string(),
            ..SessionState::default()
        }
    }
}

/// Reads a session's lines in order, from `state` on.
pub fn read_session(lines: &[(u64, &str)], state: &mut SessionState) -> Parsed {
    let mut out = Parsed::default();
    let SessionState {
        model,
        cwd,
        session,
        last,
    } = state;
    for &(number, line) in lines {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.skipped.push(SkipReason::Malformed);
                out.errors.push((number, format!("not JSON: {e}")));
                continue;
            }
        };
        let payload = v.get("payload").unwrap_or(&Value::Null);
        let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
        match v.get("type").and_then(Value::as_str) {
            Some("session_meta") => {
                if let Some(id) = text("id") {
                    *session = id;
                }
                if let Some(c) = text("cwd") {
                    *cwd = c;
                }
            }
            Some("turn_context") => {
                if let Some(m) = text("model") {
                    *model = Some(m);
                }
                if let Some(c) = text("cwd") {
                    *cwd = c;
                }
            }
            Some("event_msg")
                if payload.get("type").and_then(Value::as_str) == Some("token_count") =>
            {
                if let Some(at) = v.get("timestamp").and_then(super::fields::time) {
                    out.reported
                        .extend(rate_limits(payload.get("rate_limits"), at));
                }
                let Some(total) = payload.get("info").and_then(|i| i.get("total_token_usage"))
                else {
                    continue; // `info: null` carries only rate limits
                };
                let now = match cumulative(total) {
                    Ok(c) => c,
                    Err(why) => {
                        out.skipped.push(SkipReason::Malformed);
                        out.errors.push((number, why));
                        continue;
                    }
                };
                if now.total <= last.total {
                    out.skipped.push(SkipReason::ReEmitted);
                    continue;
                }
                let at = match v
                    .get("timestamp")
                    .and_then(Value::as_str)
                    .map(str::parse::<Timestamp>)
                {
                    Some(Ok(at)) => at,
                    _ => {
                        out.skipped.push(SkipReason::Malformed);
                        out.errors
                            .push((number, "a token count without a valid timestamp".into()));
                        continue;
                    }
                };
                let d = |a: u64, b: u64| a.saturating_sub(b);
                let mut record =
                    UsageRecord::new(at, "openai", model.as_deref().unwrap_or("unknown"));
                record.tokens = TokenCounts::from_openai(
                    d(now.input, last.input),
                    d(now.cached, last.cached),
                    d(now.output, last.output),
                    d(now.reasoning, last.reasoning),
                );
                record.source = SOURCE.into();
                record.agent = SOURCE.into();
                record.project = cwd.clone();
                record.session = Some(session.clone());
                // The session's running total names the call: stable across imports
                // and across the `sessions/` and `archived_sessions/` copies.
                record.request_id = Some(format!("{session}:{}", now.total));
                out.records.push(record);
                *last = now;
            }
            _ => {}
        }
    }
    out
}

/// The plan windows a `token_count` event reports: `primary` (5 hours) and
/// `secondary` (a week), each `{used_percent, window_minutes, resets_at}`
/// (`resets_in_seconds` in older versions, from the event's time).
fn rate_limits(limits: Option<&Value>, seen_at: Timestamp) -> Vec<Reported> {
    let Some(limits) = limits else {
        return Vec::new();
    };
    ["primary", "secondary"]
        .iter()
        .filter_map(|key| {
            let w = limits.get(*key)?;
            let used_percent = w.get("used_percent")?.as_f64()?;
            let window_minutes = u32::try_from(w.get("window_minutes")?.as_u64()?).ok()?;
            let resets_at = match (w.get("resets_at"), w.get("resets_in_seconds")) {
                (Some(at), _) if at.is_i64() => Timestamp::from_second(at.as_i64()?).ok(),
                (Some(Value::String(at)), _) => at.parse().ok(),
                (_, Some(secs)) => seen_at
                    .checked_add(jiff::SignedDuration::from_secs(secs.as_i64()?))
                    .ok(),
                _ => None,
            };
            Some(Reported {
                used_percent,
                window_minutes,
                resets_at,
                seen_at,
            })
        })
        .collect()
}

/// The session id in a rollout file name: `rollout-<timestamp>-<uuid>.jsonl` → `<uuid>`.
pub fn session_from_file_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    // A UUID is the last five dash-separated groups.
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() >= 5 {
        parts[parts.len() - 5..].join("-")
    } else {
        stem.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_count(at: &str, input: u64, cached: u64, output: u64, reasoning: u64) -> String {
        format!(
            r#"{{"timestamp":"{at}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{input},"cached_input_tokens":{cached},"output_tokens":{output},"reasoning_output_tokens":{reasoning},"total_tokens":{}}},"last_token_usage":{{}}}},"rate_limits":{{}}}}}}"#,
            input + output
        )
    }

    #[test]
    fn calls_are_the_differences_of_the_running_total() {
        let lines = [
            r#"{"timestamp":"2025-09-01T10:00:00Z","type":"session_meta","payload":{"id":"abc","cwd":"/home/ada/api"}}"#.to_string(),
            r#"{"timestamp":"2025-09-01T10:00:01Z","type":"turn_context","payload":{"model":"gpt-5-codex","cwd":"/home/ada/api"}}"#.to_string(),
            r#"{"timestamp":"2025-09-01T10:00:02Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{}}}"#.to_string(),
            token_count("2025-09-01T10:00:03Z", 1_000, 200, 100, 40),
            token_count("2025-09-01T10:00:04Z", 1_000, 200, 100, 40), // re-emitted
            token_count("2025-09-01T10:00:05Z", 3_000, 1_200, 150, 40),
            "{broken".to_string(),
        ];
        let numbered: Vec<(u64, &str)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.as_str()))
            .collect();
        let s = read_session(&numbered, &mut SessionState::new("from-file-name"));
        assert_eq!(s.records.len(), 2);
        let (a, b) = (&s.records[0], &s.records[1]);
        assert_eq!(
            (
                a.tokens.input,
                a.tokens.cache_read,
                a.tokens.output,
                a.tokens.reasoning
            ),
            (800, 200, 100, 40)
        );
        assert_eq!(
            (
                b.tokens.input,
                b.tokens.cache_read,
                b.tokens.output,
                b.tokens.reasoning
            ),
            (1_000, 1_000, 50, 0)
        );
        assert_eq!(a.model, "gpt-5-codex");
        assert_eq!(a.project, "/home/ada/api");
        assert_eq!(a.request_id.as_deref(), Some("abc:1100"));
        assert_eq!(
            s.skipped,
            vec![SkipReason::ReEmitted, SkipReason::Malformed]
        );
        assert_eq!(s.errors[0].0, 7);
    }

    #[test]
    fn rate_limits_are_read_from_every_token_count() {
        let lines = [
            r#"{"timestamp":"2026-03-08T12:00:00Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{"primary":{"used_percent":42.5,"window_minutes":300,"resets_at":1772980800},"secondary":{"used_percent":7.0,"window_minutes":10080,"resets_in_seconds":3600}}}}"#,
        ];
        let numbered: Vec<(u64, &str)> = lines.iter().map(|l| (1, *l)).collect();
        let s = read_session(&numbered, &mut SessionState::new("x"));
        assert!(s.records.is_empty());
        let seen: Timestamp = "2026-03-08T12:00:00Z".parse().unwrap();
        assert_eq!(
            s.reported,
            vec![
                Reported {
                    used_percent: 42.5,
                    window_minutes: 300,
                    resets_at: Timestamp::from_second(1_772_980_800).ok(),
                    seen_at: seen
                },
                Reported {
                    used_percent: 7.0,
                    window_minutes: 10080,
                    resets_at: Some("2026-03-08T13:00:00Z".parse().unwrap()),
                    seen_at: seen
                },
            ]
        );
    }

    #[test]
    fn the_session_id_is_the_uuid_at_the_end_of_the_file_name() {
        let p = Path::new("rollout-2025-09-01T10-00-00-5f2b1c3d-1111-2222-3333-444455556666.jsonl");
        assert_eq!(
            session_from_file_name(p),
            "5f2b1c3d-1111-2222-3333-444455556666"
        );
    }
}

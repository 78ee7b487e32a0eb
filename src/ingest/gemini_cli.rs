//! Gemini CLI's sessions: `~/.gemini/tmp/<project>/chats/session-*.jsonl`
//! (`GEMINI_CLI_HOME` for the home folder), a subagent's under its parent's id.
//! A JSONL session starts with `{sessionId, projectHash, …}`; each message is
//! appended as `{id, type, timestamp, model, tokens}` and appended again when
//! it changes (its tokens arrive, a tool call is added), and a `$set` may
//! carry the whole message list again. Sessions before 2026 are one JSON
//! document `{sessionId, messages[]}`, rewritten as they grow, and copied into
//! a `.jsonl` when resumed. A message id is one response, so it names the
//! call: each counts once whatever the copies.
//!
//! `tokens {input, output, cached, thoughts, tool, total}` are the API's
//! `usageMetadata`: input includes cached; thoughts and tool-use prompt
//! tokens are beside them, billed as output and input.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{self, Parsed};
use crate::core::UsageRecord;
use crate::core::usage::TokenCounts;

pub const SOURCE: &str = "gemini-cli";

/// The project a session file belongs to: the path in its project folder's
/// `.project_root` (written by Gemini CLI since 2026), else that folder's name
/// (a hash of the path in older versions).
pub fn project_of(file: &Path) -> String {
    let Some(folder) = file
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "chats"))
        .and_then(Path::parent)
    else {
        return String::new();
    };
    std::fs::read_to_string(folder.join(".project_root"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
}

/// Where reading a JSONL session has got to: its id, from its first line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub session: String,
    pub project: String,
}

/// Reads a JSONL session's lines in order, from `state` on.
pub fn read_lines(lines: &[(u64, &str)], state: &mut SessionState) -> Parsed {
    let mut out = Parsed::default();
    for &(number, line) in lines {
        // Usage is in a message's tokens; the session's id in its first line or a `$set`.
        if fields::passed_over(line, &["\"tokens\"", "\"sessionId\""], number, &mut out) {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.malformed(number, format!("not JSON: {e}"));
                continue;
            }
        };
        if let Some(set) = v.get("$set") {
            if let Some(id) = fields::text(set, "sessionId") {
                state.session = id.to_string();
            }
            for m in set
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                message(m, number, state, &mut out);
            }
        } else if v.get("id").is_some_and(Value::is_string) {
            message(&v, number, state, &mut out);
        } else if let Some(id) = fields::text(&v, "sessionId") {
            state.session = id.to_string();
        }
    }
    out
}

/// Reads a whole session document (the form before 2026).
pub fn read_document(text: &str, project: &str) -> Parsed {
    let mut out = Parsed::default();
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            out.malformed(e.line() as u64, format!("not a JSON session: {e}"));
            return out;
        }
    };
    let state = SessionState {
        session: fields::text(&v, "sessionId")
            .unwrap_or_default()
            .to_string(),
        project: project.to_string(),
    };
    for m in v
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        message(m, 0, &state, &mut out);
    }
    out
}

/// A message with its tokens is a call; others (the user's, one whose
/// tokens have not arrived yet) are not.
fn message(m: &Value, line: u64, state: &SessionState, out: &mut Parsed) {
    if m.get("type").and_then(Value::as_str) != Some("gemini") {
        return;
    }
    let Some(tokens) = m.get("tokens").filter(|t| t.is_object()) else {
        return;
    };
    let n = |key: &str| fields::count(tokens, &[key]);
    let counts = (|| {
        Ok::<_, String>((
            n("input")?,
            n("output")?,
            n("cached")?,
            n("thoughts")?,
            n("tool")?,
            n("total")?,
        ))
    })();
    let (input, output, cached, thoughts, tool, total) = match counts {
        Ok(c) => c,
        Err(why) => return out.malformed(line, format!("tokens.{why}")),
    };
    let Some(at) = m.get("timestamp").and_then(fields::time) else {
        return out.malformed(line, "a message with tokens but no valid timestamp".into());
    };
    let id = fields::text(m, "id").unwrap_or_default();
    let model = fields::text(m, "model").unwrap_or("unknown");
    let mut record = UsageRecord::new(at, "google", model);
    let prompt = input + tool;
    let beside = fields::thoughts_beside_output(total, prompt, output, thoughts);
    let output = if beside { output + thoughts } else { output };
    record.tokens = TokenCounts::from_openai(prompt, cached, output, thoughts);
    record.source = SOURCE.into();
    record.agent = SOURCE.into();
    record.project = state.project.clone();
    record.session = Some(state.session.clone()).filter(|s| !s.is_empty());
    record.request_id = Some(format!("{}:{id}", state.session));
    out.records.push(record);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::SkipReason;

    fn numbered(lines: &[&str]) -> Vec<(u64, String)> {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.to_string()))
            .collect()
    }

    #[test]
    fn a_message_counts_once_with_thoughts_and_tool_prompts_billed() {
        let lines = numbered(&[
            r#"{"sessionId":"s1","projectHash":"abc","startTime":"2026-03-01T10:00:00Z"}"#,
            r#"{"id":"u1","type":"user","timestamp":"2026-03-01T10:00:01Z","content":[{"text":"hi"}]}"#,
            r#"{"id":"m1","type":"gemini","timestamp":"2026-03-01T10:00:02Z","model":"gemini-2.5-pro","content":""}"#,
            r#"{"id":"m1","type":"gemini","timestamp":"2026-03-01T10:00:02Z","model":"gemini-2.5-pro","tokens":{"input":1000,"output":200,"cached":400,"thoughts":50,"tool":10,"total":1260}}"#,
            r#"{"id":"m1","type":"gemini","timestamp":"2026-03-01T10:00:02Z","model":"gemini-2.5-pro","tokens":{"input":1000,"output":200,"cached":400,"thoughts":50,"tool":10,"total":1260},"toolCalls":[{}]}"#,
            r#"{"$rewindTo":"u1"}"#,
            r#"{"$set":{"lastUpdated":"2026-03-01T10:00:03Z"}}"#,
            "{cut",
        ]);
        let lines: Vec<(u64, &str)> = lines.iter().map(|(n, l)| (*n, l.as_str())).collect();
        let mut state = SessionState::default();
        let p = read_lines(&lines, &mut state);
        assert_eq!(state.session, "s1");
        // Two copies of the call (the ledger keeps one), none for the user or the empty message.
        assert_eq!(p.records.len(), 2);
        let r = &p.records[0];
        assert_eq!(r.request_id.as_deref(), Some("s1:m1"));
        assert_eq!(
            (
                r.tokens.input,
                r.tokens.cache_read,
                r.tokens.output,
                r.tokens.reasoning
            ),
            (610, 400, 250, 50)
        );
        assert_eq!(r.provider, "google");
        assert_eq!(p.errors, vec![(8, p.errors[0].1.clone())]);
        assert!(p.errors[0].1.starts_with("not JSON"));
    }

    #[test]
    fn a_total_without_the_thoughts_means_output_holds_them() {
        let line = r#"{"id":"m","type":"gemini","timestamp":"2026-03-01T10:00:02Z","model":"m","tokens":{"input":100,"output":80,"cached":0,"thoughts":30,"total":180}}"#;
        let p = read_lines(&[(1, line)], &mut SessionState::default());
        assert_eq!(
            (p.records[0].tokens.output, p.records[0].tokens.reasoning),
            (80, 30)
        );
    }

    #[test]
    fn a_document_session_reads_its_messages() {
        let doc = r#"{"sessionId":"old","projectHash":"h","messages":[
            {"id":"a","type":"user","timestamp":"2025-06-01T09:00:00Z"},
            {"id":"b","type":"gemini","timestamp":"2025-06-01T09:00:05Z","model":"gemini-2.5-flash","tokens":{"input":50,"output":5,"cached":0,"thoughts":0,"tool":0,"total":55}}]}"#;
        let p = read_document(doc, "/home/ada/site");
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].request_id.as_deref(), Some("old:b"));
        assert_eq!(p.records[0].project, "/home/ada/site");
        let bad = read_document("{\"sessionId\":", "p");
        assert_eq!(bad.skipped, vec![SkipReason::Malformed]);
    }
}

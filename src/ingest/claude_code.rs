//! Claude Code's local logs: `~/.claude/projects/<cwd-slug>/<session>.jsonl` (and
//! `~/.config/claude/projects`, and the folders in `CLAUDE_CONFIG_DIR`), one JSON
//! object a line. Usage sits on `assistant` lines; Claude Code writes one line per
//! content block, each repeating the message's usage, and streaming snapshots
//! whose output is still growing; a subagent's log may replay its parent's
//! messages under new request ids. A message id is one API response, so it
//! names the call: each counts once, with its largest token total, and a replay
//! never counts beside its parent, in one import or across imports.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::Value;

use super::SkipReason;
use crate::core::UsageRecord;
use crate::core::usage::TokenCounts;

pub const SOURCE: &str = "claude-code";

/// The log folders Claude Code writes to on this machine: each folder of
/// `CLAUDE_CONFIG_DIR` (comma-separated) with `projects/`, else `~/.config/claude/projects`
/// and `~/.claude/projects`; only those that exist.
pub fn default_dirs(config_dirs: Option<&str>, home: Option<&Path>) -> Vec<PathBuf> {
    let candidates: Vec<PathBuf> = match config_dirs.filter(|s| !s.trim().is_empty()) {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|d| Path::new(d).join("projects"))
            .collect(),
        None => home
            .map(|h| {
                vec![
                    h.join(".config/claude/projects"),
                    h.join(".claude/projects"),
                ]
            })
            .unwrap_or_default(),
    };
    candidates.into_iter().filter(|d| d.is_dir()).collect()
}

/// One usage line, before deduplication.
#[derive(Clone, Debug)]
pub struct Entry {
    pub message_id: Option<String>,
    pub request_id: Option<String>,
    pub sidechain: bool,
    pub record: UsageRecord,
}

/// What a line holds.
#[derive(Debug)]
pub enum Line {
    Usage(Box<Entry>),
    Skipped(SkipReason),
    /// Not a usage line (user messages, summaries, tool results…).
    Other,
}

/// A token count, written as a number or, by some builds, as a string.
fn count(v: Option<&Value>, field: &str) -> Result<u64, String> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("{field} is not a whole number: {n}")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("{field} is not a whole number: {s:?}")),
        Some(other) => Err(format!("{field} is not a number: {other}")),
    }
}

/// Reads one line of a Claude Code log. Errors say what is wrong with the line.
pub fn parse_line(line: &str) -> Result<Line, String> {
    // Most of a log's bytes are user messages and tool results. A complete line
    // that does not even contain "assistant" cannot be a usage line: skip the
    // JSON parse. (A cut-off line is still parsed, and reported.)
    let trimmed = line.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') && !line.contains("\"assistant\"") {
        return Ok(Line::Other);
    }
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("type").and_then(Value::as_str) != Some("assistant") {
        return Ok(Line::Other);
    }
    let message = v
        .get("message")
        .ok_or("an assistant line without a message")?;
    let Some(usage) = message.get("usage").filter(|u| u.is_object()) else {
        return Ok(Line::Other);
    };
    let model = message
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if model == "<synthetic>" {
        return Ok(Line::Skipped(SkipReason::Synthetic));
    }
    if v.get("isApiErrorMessage").and_then(Value::as_bool) == Some(true) {
        return Ok(Line::Skipped(SkipReason::ApiError));
    }
    if model.is_empty() {
        return Err("an assistant line without a model".into());
    }
    let at: Timestamp = v
        .get("timestamp")
        .and_then(Value::as_str)
        .ok_or("no timestamp")?
        .parse()
        .map_err(|e| format!("timestamp: {e}"))?;
    let split = usage.get("cache_creation");
    let tokens = TokenCounts::from_anthropic(
        count(usage.get("input_tokens"), "input_tokens")?,
        count(usage.get("output_tokens"), "output_tokens")?,
        count(
            usage.get("cache_read_input_tokens"),
            "cache_read_input_tokens",
        )?,
        count(
            usage.get("cache_creation_input_tokens"),
            "cache_creation_input_tokens",
        )?,
        count(
            split.and_then(|s| s.get("ephemeral_5m_input_tokens")),
            "ephemeral_5m_input_tokens",
        )?,
        count(
            split.and_then(|s| s.get("ephemeral_1h_input_tokens")),
            "ephemeral_1h_input_tokens",
        )?,
    );
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_string);
    let message_id = text(message.get("id"));
    let request_id = text(v.get("requestId"));
    let mut record = UsageRecord::new(at, "anthropic", model);
    record.tokens = tokens;
    record.source = SOURCE.into();
    record.agent = SOURCE.into();
    record.project = text(v.get("cwd")).unwrap_or_default();
    record.session = text(v.get("sessionId"));
    record.request_id = message_id.clone().or_else(|| request_id.clone());
    for (key, name) in [
        ("version", "claude_code_version"),
        ("gitBranch", "git_branch"),
    ] {
        if let Some(s) = text(v.get(key)).filter(|s| !s.is_empty()) {
            record.metadata.insert(name.into(), Value::String(s));
        }
    }
    if let Some(cost) = v.get("costUSD").filter(|c| c.is_number()) {
        // Old builds' own estimate: kept for comparison, never used as the cost.
        record
            .metadata
            .insert("claude_code_cost_usd".into(), cost.clone());
    }
    Ok(Line::Usage(Box::new(Entry {
        message_id,
        request_id,
        sidechain: v.get("isSidechain").and_then(Value::as_bool) == Some(true),
        record,
    })))
}

/// Gathers the usage lines of one import and keeps each call once.
#[derive(Default)]
pub struct Collector {
    /// message id → the entry that counts, and its file.
    calls: HashMap<String, (Entry, usize)>,
    /// Lines without a message id: kept as they are (the store dedupes them by
    /// request id, else by content).
    anonymous: Vec<Entry>,
    skipped: BTreeMap<SkipReason, u64>,
}

impl Collector {
    /// How many calls it holds.
    pub fn len(&self) -> usize {
        self.calls.len() + self.anonymous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds an entry read from file number `file` (any stable numbering of the files).
    pub fn add(&mut self, entry: Entry, file: usize) {
        let Some(message) = entry.message_id.clone() else {
            self.anonymous.push(entry);
            return;
        };
        let Some((kept, kept_file)) = self.calls.get_mut(&message) else {
            self.calls.insert(message, (entry, file));
            return;
        };
        let (old, new) = (kept.record.tokens.total(), entry.record.tokens.total());
        // A replay carries its parent's message under another request id; the
        // parent's line is the one that counts, whichever was read first.
        let replay = kept.request_id != entry.request_id && (kept.sidechain || entry.sidechain);
        let (reason, better) = if replay {
            (
                SkipReason::SidechainReplay,
                kept.sidechain && !entry.sidechain,
            )
        } else if *kept_file != file {
            (SkipReason::ResumedCopy, new > old)
        } else if old == new {
            (SkipReason::DuplicateBlock, false)
        } else {
            (SkipReason::StreamingSnapshot, new > old)
        };
        *self.skipped.entry(reason).or_default() += 1;
        if better {
            *kept = entry;
            *kept_file = file;
        }
    }

    /// The calls, once each.
    pub fn finish(self) -> (Vec<UsageRecord>, BTreeMap<SkipReason, u64>) {
        let mut records: Vec<UsageRecord> =
            self.calls.into_values().map(|(e, _)| e.record).collect();
        records.extend(self.anonymous.into_iter().map(|e| e.record));
        records.sort_by_key(|r| r.at);
        (records, self.skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(msg: &str, req: &str, output: u64, extra: &str) -> String {
        format!(
            r#"{{"type":"assistant","timestamp":"2025-09-01T10:00:00.000Z","sessionId":"s1","cwd":"/home/a/web","requestId":"{req}","message":{{"id":"{msg}","model":"claude-sonnet-4-5-20250929","usage":{{"input_tokens":10,"output_tokens":{output},"cache_read_input_tokens":"100","cache_creation_input_tokens":30,"cache_creation":{{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20}}}}}}{extra}}}"#
        )
    }

    fn entry(text: &str) -> Entry {
        match parse_line(text).unwrap() {
            Line::Usage(e) => *e,
            other => panic!("expected usage, got {other:?}"),
        }
    }

    #[test]
    fn lines_that_cannot_hold_usage_are_passed_over_and_cut_lines_reported() {
        let user = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"a long output"}]}}"#;
        assert!(matches!(parse_line(user), Ok(Line::Other)));
        assert!(parse_line(&user[..40]).unwrap_err().starts_with("not JSON"));
    }

    #[test]
    fn a_usage_line_becomes_a_record_with_split_cache_writes() {
        let e = entry(&line("msg_1", "req_1", 5, ""));
        let t = e.record.tokens;
        assert_eq!(
            (
                t.input,
                t.output,
                t.cache_read,
                t.cache_write_5m,
                t.cache_write_1h
            ),
            (10, 5, 100, 10, 20)
        );
        assert_eq!(e.record.request_id.as_deref(), Some("msg_1"));
        assert_eq!(e.record.project, "/home/a/web");
        assert_eq!(e.record.agent, "claude-code");
    }

    #[test]
    fn synthetic_api_error_and_other_lines_are_told_apart() {
        let synthetic = line("m", "r", 1, "").replace("claude-sonnet-4-5-20250929", "<synthetic>");
        assert!(matches!(
            parse_line(&synthetic),
            Ok(Line::Skipped(SkipReason::Synthetic))
        ));
        let error = line("m", "r", 1, r#","isApiErrorMessage":true"#);
        assert!(matches!(
            parse_line(&error),
            Ok(Line::Skipped(SkipReason::ApiError))
        ));
        assert!(matches!(
            parse_line(r#"{"type":"user","message":{}}"#),
            Ok(Line::Other)
        ));
        assert!(
            parse_line(r#"{"type":"assistant","message":{"model":"x","usage":{}}"#).is_err(),
            "no timestamp"
        );
        assert!(parse_line("{not json").is_err());
        let negative =
            line("m", "r", 1, "").replace(r#""input_tokens":10"#, r#""input_tokens":-3"#);
        assert!(parse_line(&negative).unwrap_err().contains("input_tokens"));
    }

    #[test]
    fn each_call_counts_once_with_its_largest_total() {
        let mut c = Collector::default();
        c.add(entry(&line("msg_1", "req_1", 5, "")), 0);
        c.add(entry(&line("msg_1", "req_1", 5, "")), 0); // another content block
        c.add(entry(&line("msg_1", "req_1", 50, "")), 0); // a later snapshot
        c.add(entry(&line("msg_1", "req_1", 20, "")), 0); // an earlier one, out of order
        c.add(entry(&line("msg_1", "req_1", 50, "")), 1); // a resumed session's copy
        c.add(
            entry(&line("msg_1", "req_9", 50, r#","isSidechain":true"#)),
            2,
        ); // a replay
        c.add(
            entry(&line("msg_2", "req_2", 7, r#","isSidechain":true"#)),
            2,
        ); // a subagent's own call
        let (records, skipped) = c.finish();
        assert_eq!(records.len(), 2);
        let first = records
            .iter()
            .find(|r| r.request_id.as_deref() == Some("msg_1"))
            .unwrap();
        assert_eq!(first.tokens.output, 50);
        assert_eq!(skipped[&SkipReason::DuplicateBlock], 1);
        assert_eq!(skipped[&SkipReason::StreamingSnapshot], 2);
        assert_eq!(skipped[&SkipReason::ResumedCopy], 1);
        assert_eq!(skipped[&SkipReason::SidechainReplay], 1);
    }

    #[test]
    fn a_replay_read_before_its_parent_gives_way_to_it() {
        let mut c = Collector::default();
        let replay = line("msg_1", "req_9", 50, r#","isSidechain":true"#)
            .replace("/home/a/web", "/home/a/elsewhere");
        c.add(entry(&replay), 0);
        c.add(entry(&line("msg_1", "req_1", 50, "")), 1);
        let (records, skipped) = c.finish();
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].project, "/home/a/web",
            "the parent's line counts"
        );
        assert_eq!(skipped[&SkipReason::SidechainReplay], 1);
    }

    #[test]
    fn config_dirs_come_from_the_environment_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/projects")).unwrap();
        let list = format!(
            "{}, {}",
            dir.path().join("a").display(),
            dir.path().join("missing").display()
        );
        assert_eq!(
            default_dirs(Some(&list), None),
            vec![dir.path().join("a/projects")]
        );
        std::fs::create_dir_all(dir.path().join(".claude/projects")).unwrap();
        assert_eq!(
            default_dirs(None, Some(dir.path())),
            vec![dir.path().join(".claude/projects")]
        );
    }
}

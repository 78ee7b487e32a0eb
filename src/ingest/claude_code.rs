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

use std::borrow::Cow;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::SkipReason;
use crate::core::UsageRecord;
use crate::core::pricing::UNKNOWN_BILLING_KEY;
use crate::core::usage::{Billing, ServiceTier, Speed, TokenCounts, inference_region};

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

/// A usage line as read, borrowing from it: most are repeats of a call already
/// seen, so the record is built only for a line that counts.
pub struct Usage<'a> {
    message_id: Option<Text<'a>>,
    request_id: Option<Text<'a>>,
    sidechain: bool,
    at: Timestamp,
    model: Text<'a>,
    tokens: TokenCounts,
    billing: Billing,
    /// A tier or speed Tally does not know (`service_tier “ultra”`): the call
    /// counts, unpriced for that reason.
    unknown_billing: Option<String>,
    line: RawLine<'a>,
}

/// A usage line that counts (so far), with its record.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Whether the record's request id is the message id (the usual case).
    keyed: bool,
    request_id: Option<String>,
    sidechain: bool,
    record: UsageRecord,
}

impl Entry {
    pub fn record_mut(&mut self) -> &mut UsageRecord {
        &mut self.record
    }
}

impl Usage<'_> {
    fn into_entry(self) -> Entry {
        let v = self.line;
        let mut record = UsageRecord::new(self.at, "anthropic", &self.model);
        record.tokens = self.tokens;
        record.billing = self.billing;
        record.source = SOURCE.into();
        record.agent = SOURCE.into();
        record.project = v.cwd.map(Text::owned).unwrap_or_default();
        record.session = v.session_id.map(Text::owned);
        let request_id = self.request_id.map(Text::owned);
        record.request_id = match &self.message_id {
            Some(m) => Some(m.to_string()),
            None => request_id.clone(),
        };
        for (value, name) in [
            (v.version, "claude_code_version"),
            (v.git_branch, "git_branch"),
        ] {
            if let Some(s) = value.filter(|s| !s.is_empty()) {
                record
                    .metadata
                    .insert(name.into(), Value::String(s.owned()));
            }
        }
        if let Some(why) = self.unknown_billing {
            record
                .metadata
                .insert(UNKNOWN_BILLING_KEY.into(), Value::String(why));
        }
        if let Some(cost) = v.cost_usd {
            // Old builds' own estimate: kept for comparison, never used as the cost.
            record
                .metadata
                .insert("claude_code_cost_usd".into(), Value::Number(cost));
        }
        Entry {
            keyed: self.message_id.is_some(),
            request_id,
            sidechain: self.sidechain,
            record,
        }
    }
}

/// What a line holds.
pub enum Line<'a> {
    Usage(Box<Usage<'a>>),
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

/// JSON text that borrows from the line unless it has escapes. (serde borrows a
/// bare `Cow<str>` field, but copies one inside an `Option`.)
#[derive(Default)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

impl Text<'_> {
    fn owned(self) -> String {
        self.0.into_owned()
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// The fields of a log line Tally reads; the rest (message content, tool
/// output) is skipped by the parser without being built. Text borrows from the
/// line unless it has escapes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLine<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    timestamp: Option<Text<'a>>,
    #[serde(borrow)]
    session_id: Option<Text<'a>>,
    #[serde(borrow)]
    cwd: Option<Text<'a>>,
    #[serde(borrow)]
    version: Option<Text<'a>>,
    #[serde(borrow)]
    git_branch: Option<Text<'a>>,
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    is_sidechain: Option<bool>,
    is_api_error_message: Option<bool>,
    #[serde(rename = "costUSD")]
    cost_usd: Option<serde_json::Number>,
    #[serde(borrow)]
    message: Option<RawMessage<'a>>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    model: Option<Text<'a>>,
    #[serde(borrow)]
    usage: Option<RawUsage<'a>>,
}

/// Counts stay `Value`s so a bad one is named by `count`; numbers do not allocate.
#[derive(Deserialize)]
struct RawUsage<'a> {
    input_tokens: Option<Value>,
    output_tokens: Option<Value>,
    cache_read_input_tokens: Option<Value>,
    cache_creation_input_tokens: Option<Value>,
    cache_creation: Option<RawSplit>,
    #[serde(borrow)]
    service_tier: Option<Text<'a>>,
    #[serde(borrow)]
    speed: Option<Text<'a>>,
    #[serde(borrow)]
    inference_geo: Option<Text<'a>>,
    server_tool_use: Option<RawTools>,
}

#[derive(Deserialize)]
struct RawTools {
    web_search_requests: Option<Value>,
}

#[derive(Deserialize)]
struct RawSplit {
    ephemeral_5m_input_tokens: Option<Value>,
    ephemeral_1h_input_tokens: Option<Value>,
}

/// Reads one line of a Claude Code log. Errors say what is wrong with the line.
pub fn parse_line(line: &str) -> Result<Line<'_>, String> {
    // Most of a log's bytes are user messages and tool results. A complete line
    // that does not even contain "assistant" cannot be a usage line: skip the
    // JSON parse. (A cut-off line is still parsed, and reported.)
    let trimmed = line.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') && !line.contains("\"assistant\"") {
        return Ok(Line::Other);
    }
    let mut v: RawLine = serde_json::from_str(line).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("unexpected JSON: {e}"),
        _ => format!("not JSON: {e}"),
    })?;
    if v.kind.as_deref() != Some("assistant") {
        return Ok(Line::Other);
    }
    let message = v
        .message
        .take()
        .ok_or("an assistant line without a message")?;
    let Some(usage) = message.usage else {
        return Ok(Line::Other);
    };
    let model = message.model.unwrap_or_default();
    if &*model == "<synthetic>" {
        return Ok(Line::Skipped(SkipReason::Synthetic));
    }
    if v.is_api_error_message == Some(true) {
        return Ok(Line::Skipped(SkipReason::ApiError));
    }
    if model.is_empty() {
        return Err("an assistant line without a model".into());
    }
    let at: Timestamp = v
        .timestamp
        .as_deref()
        .ok_or("no timestamp")?
        .parse()
        .map_err(|e| format!("timestamp: {e}"))?;
    let split = usage.cache_creation.as_ref();
    let tokens = TokenCounts::from_anthropic(
        count(usage.input_tokens.as_ref(), "input_tokens")?,
        count(usage.output_tokens.as_ref(), "output_tokens")?,
        count(
            usage.cache_read_input_tokens.as_ref(),
            "cache_read_input_tokens",
        )?,
        count(
            usage.cache_creation_input_tokens.as_ref(),
            "cache_creation_input_tokens",
        )?,
        count(
            split.and_then(|s| s.ephemeral_5m_input_tokens.as_ref()),
            "ephemeral_5m_input_tokens",
        )?,
        count(
            split.and_then(|s| s.ephemeral_1h_input_tokens.as_ref()),
            "ephemeral_1h_input_tokens",
        )?,
    );
    // A tier or speed Tally does not know is kept with the call, which is
    // then unpriced for it: never billed as standard, never lost.
    let mut unknown = Vec::new();
    let tier = usage.service_tier.as_deref().unwrap_or("");
    let tier = ServiceTier::parse(tier).unwrap_or_else(|| {
        unknown.push(format!("service_tier “{tier}”"));
        ServiceTier::Standard
    });
    let speed = usage.speed.as_deref().unwrap_or("");
    let speed = Speed::parse(speed).unwrap_or_else(|| {
        unknown.push(format!("speed “{speed}”"));
        Speed::Standard
    });
    let billing = Billing {
        tier,
        speed,
        region: usage.inference_geo.as_deref().and_then(inference_region),
        web_searches: count(
            usage
                .server_tool_use
                .as_ref()
                .and_then(|t| t.web_search_requests.as_ref()),
            "web_search_requests",
        )?,
    };
    Ok(Line::Usage(Box::new(Usage {
        message_id: message.id,
        request_id: v.request_id.take(),
        sidechain: v.is_sidechain == Some(true),
        at,
        model,
        tokens,
        billing,
        unknown_billing: (!unknown.is_empty()).then(|| unknown.join(", ")),
        line: v,
    })))
}

/// A collector's entries (with their file numbers) and skipped lines.
pub type FileCalls = (Vec<(Entry, usize)>, BTreeMap<SkipReason, u64>);

enum Verdict {
    New,
    /// Counts instead of the entry at this index.
    Replaces(usize),
    Skipped,
}

/// Gathers the usage lines of one import and keeps each call once.
#[derive(Default)]
pub struct Collector {
    /// message id → where its entry is in `entries` (records are large: the
    /// map moves only the index when it grows).
    calls: HashMap<String, usize>,
    /// The entries that count, in the order first read, with their file. Lines
    /// without a message id are kept as they are (the store dedupes them by
    /// request id, else by content).
    entries: Vec<(Entry, usize)>,
    skipped: BTreeMap<SkipReason, u64>,
}

impl Collector {
    /// How many calls it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a usage line read from file number `file` (any stable numbering of the files).
    pub fn add(&mut self, usage: Usage, file: usize) {
        let Some(message) = usage.message_id.as_deref() else {
            self.entries.push((usage.into_entry(), file));
            return;
        };
        let request = usage.request_id.as_deref();
        match self.judge(
            message,
            request,
            usage.sidechain,
            usage.tokens.total(),
            file,
        ) {
            Verdict::New => {
                self.calls.insert(message.to_string(), self.entries.len());
                self.entries.push((usage.into_entry(), file));
            }
            Verdict::Replaces(at) => self.entries[at] = (usage.into_entry(), file),
            Verdict::Skipped => {}
        }
    }

    /// Adds what another collector kept of file number `file` (read apart, on
    /// another thread), with the lines it skipped.
    pub fn merge(&mut self, (entries, skipped): FileCalls, file: usize) {
        for (reason, n) in skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
        for (entry, _) in entries {
            let message = match (&entry.record.request_id, entry.keyed) {
                (Some(id), true) => id.as_str(),
                _ => {
                    self.entries.push((entry, file));
                    continue;
                }
            };
            let total = entry.record.tokens.total();
            let request = entry.request_id.as_deref();
            match self.judge(message, request, entry.sidechain, total, file) {
                Verdict::New => {
                    self.calls.insert(message.to_string(), self.entries.len());
                    self.entries.push((entry, file));
                }
                Verdict::Replaces(at) => self.entries[at] = (entry, file),
                Verdict::Skipped => {}
            }
        }
    }

    /// Whether a line of `message` read from `file` is new, replaces the entry
    /// kept so far, or is skipped (and why: counted here).
    fn judge(
        &mut self,
        message: &str,
        request: Option<&str>,
        sidechain: bool,
        total: u64,
        file: usize,
    ) -> Verdict {
        let Some(&at) = self.calls.get(message) else {
            return Verdict::New;
        };
        let (kept, kept_file) = &self.entries[at];
        let old = kept.record.tokens.total();
        // A replay carries its parent's message under another request id; the
        // parent's line is the one that counts, whichever was read first.
        let replay = kept.request_id.as_deref() != request && (kept.sidechain || sidechain);
        let (reason, better) = if replay {
            (SkipReason::SidechainReplay, kept.sidechain && !sidechain)
        } else if *kept_file != file {
            (SkipReason::ResumedCopy, total > old)
        } else if old == total {
            (SkipReason::DuplicateBlock, false)
        } else {
            (SkipReason::StreamingSnapshot, total > old)
        };
        *self.skipped.entry(reason).or_default() += 1;
        if better {
            Verdict::Replaces(at)
        } else {
            Verdict::Skipped
        }
    }

    /// What it kept, with its file numbers, and the lines it skipped.
    pub fn into_parts(self) -> FileCalls {
        (self.entries, self.skipped)
    }

    /// The calls, once each, in the order first read.
    pub fn finish(self) -> (Vec<UsageRecord>, BTreeMap<SkipReason, u64>) {
        let records = self.entries.into_iter().map(|(e, _)| e.record).collect();
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
        usage(text).into_entry()
    }

    fn usage(text: &str) -> Usage<'_> {
        match parse_line(text).unwrap() {
            Line::Usage(u) => *u,
            _ => panic!("expected usage in {text}"),
        }
    }

    #[test]
    fn lines_that_cannot_hold_usage_are_passed_over_and_cut_lines_reported() {
        let user = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"a long output"}]}}"#;
        assert!(matches!(parse_line(user), Ok(Line::Other)));
        assert!(
            parse_line(&user[..40])
                .err()
                .unwrap()
                .starts_with("not JSON")
        );
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
    fn the_tier_speed_region_and_web_searches_a_line_carries_are_kept() {
        let billed = line("m", "r", 5, "").replace(
            r#""ephemeral_1h_input_tokens":20}"#,
            r#""ephemeral_1h_input_tokens":20},"service_tier":"standard","speed":"fast","inference_geo":"US","server_tool_use":{"web_search_requests":2}"#,
        );
        let b = entry(&billed).record.billing;
        assert_eq!(
            (b.tier, b.speed, b.region.as_deref(), b.web_searches),
            (ServiceTier::Standard, Speed::Fast, Some("us"), 2)
        );
        // Where Anthropic chose the region, nothing is billed apart.
        let global = billed.replace(r#""US""#, r#""global""#);
        assert_eq!(entry(&global).record.billing.region, None);
        // A line without them is standard.
        assert_eq!(
            entry(&line("m", "r", 5, "")).record.billing,
            Billing::default()
        );
        // A tier Tally does not know keeps the call, unpriced for it: never
        // billed as standard, never lost.
        let odd = billed.replace(r#""service_tier":"standard""#, r#""service_tier":"ultra""#);
        let odd = entry(&odd).record;
        assert_eq!(odd.tokens, entry(&billed).record.tokens);
        assert_eq!(
            odd.metadata
                .get(UNKNOWN_BILLING_KEY)
                .and_then(Value::as_str),
            Some("service_tier “ultra”")
        );
        let book = crate::core::PriceBook::new(crate::prices::shipped());
        let why = book.price(&odd).unwrap_err();
        assert_eq!(
            why,
            "billed at service_tier “ultra”, which Tally does not know how to price"
        );
    }

    #[test]
    fn text_with_escapes_is_read_as_well_as_plain_text() {
        let escaped = line("m", "r", 1, "").replace("/home/a/web", r"C:\\work\u00e9");
        assert_eq!(entry(&escaped).record.project, "C:\\work\u{e9}");
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
        assert!(
            parse_line(&negative)
                .err()
                .unwrap()
                .contains("input_tokens")
        );
    }

    #[test]
    fn each_call_counts_once_with_its_largest_total() {
        let mut c = Collector::default();
        c.add(usage(&line("msg_1", "req_1", 5, "")), 0);
        c.add(usage(&line("msg_1", "req_1", 5, "")), 0); // another content block
        c.add(usage(&line("msg_1", "req_1", 50, "")), 0); // a later snapshot
        c.add(usage(&line("msg_1", "req_1", 20, "")), 0); // an earlier one, out of order
        c.add(usage(&line("msg_1", "req_1", 50, "")), 1); // a resumed session's copy
        c.add(
            usage(&line("msg_1", "req_9", 50, r#","isSidechain":true"#)),
            2,
        ); // a replay
        c.add(
            usage(&line("msg_2", "req_2", 7, r#","isSidechain":true"#)),
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
        c.add(usage(&replay), 0);
        c.add(usage(&line("msg_1", "req_1", 50, "")), 1);
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

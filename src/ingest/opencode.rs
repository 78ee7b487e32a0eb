//! OpenCode's messages: its SQLite database (`opencode.db`, `opencode-*.db` in
//! `~/.local/share/opencode`; `OPENCODE_DATA_DIR`, `XDG_DATA_HOME`), table
//! `message(id, session_id, time_created, time_updated, data)`, and before it
//! one file a message, `storage/message/<session>/msg_*.json`. An assistant
//! message's JSON has `modelID`, `providerID`, `time.created`, `path.cwd`,
//! `tokens {input, output, reasoning, cache {read, write}}` and OpenCode's own
//! `cost`. OpenCode has already taken the cached tokens out of `input`; its
//! `output` holds the reasoning for most makers, but not for Gemini, whose
//! thinking the AI SDK counts beside it. A message is updated in place until
//! it finishes, and the database carries the files' messages over with their
//! ids: the message id names the call.
//!
//! The database is OpenCode's and it may be writing: it is opened read-only,
//! never locked, and read by `time_updated` from a little before where the
//! last import stopped, so a row committed late is not passed over, a page
//! of rows at a time.

use std::path::Path;

use rusqlite::{OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{self, Parsed};
use crate::core::UsageRecord;
use crate::core::usage::TokenCounts;

pub const SOURCE: &str = "opencode";

/// The makers OpenCode names as themselves; any other provider id (its own
/// Zen gateway, OpenRouter, GitHub Copilot…) resells models the name tells.
const MAKERS: [&str; 8] = [
    "anthropic",
    "openai",
    "google",
    "mistral",
    "groq",
    "xai",
    "deepseek",
    "google-vertex",
];

/// Reads one message file (the form before the database).
pub fn read_document(text: &str) -> Parsed {
    let mut out = Parsed::default();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => {
            let id = fields::text(&v, "id").unwrap_or_default().to_string();
            let session = fields::text(&v, "sessionID")
                .unwrap_or_default()
                .to_string();
            message(&v, &id, &session, None, 0, &mut out);
        }
        Err(e) => out.malformed(e.line() as u64, format!("not a JSON message: {e}")),
    }
    out
}

/// A message is a call once it has tokens; one still streaming has none.
fn message(
    v: &Value,
    id: &str,
    session: &str,
    directory: Option<&str>,
    line: u64,
    out: &mut Parsed,
) {
    if v.get("role").and_then(Value::as_str) != Some("assistant") {
        return;
    }
    let n = |path: &[&str]| {
        let mut full = vec!["tokens"];
        full.extend_from_slice(path);
        fields::count(v, &full)
    };
    let counts = (|| {
        Ok::<_, String>((
            n(&["input"])?,
            n(&["output"])?,
            n(&["reasoning"])?,
            n(&["cache", "read"])?,
            n(&["cache", "write"])?,
        ))
    })();
    let (input, output, reasoning, read, written) = match counts {
        Ok(c) => c,
        Err(why) => return out.malformed(line, format!("message {id}: {why}")),
    };
    if input + output + reasoning + read + written == 0 {
        return;
    }
    let Some(at) = v.pointer("/time/created").and_then(fields::time) else {
        return out.malformed(line, format!("message {id}: no valid time.created"));
    };
    let model = fields::text(v, "modelID").unwrap_or("unknown");
    let via = fields::text(v, "providerID").unwrap_or_default();
    let provider = if MAKERS.contains(&via) { via } else { "" };
    let mut r = UsageRecord::new(at, provider, model);
    let thinking_beside = model.contains("gemini");
    let output = if thinking_beside {
        output + reasoning
    } else {
        output
    };
    r.tokens = TokenCounts {
        input,
        cache_read: read,
        cache_write_5m: written,
        output,
        reasoning: reasoning.min(output),
        ..TokenCounts::default()
    };
    r.source = SOURCE.into();
    r.agent = SOURCE.into();
    r.session = Some(session.to_string()).filter(|s| !s.is_empty());
    r.request_id = Some(id.to_string());
    r.project = v
        .pointer("/path/root")
        .or_else(|| v.pointer("/path/cwd"))
        .and_then(Value::as_str)
        .or(directory)
        .unwrap_or_default()
        .to_string();
    if !provider.eq(via) && !via.is_empty() {
        r.metadata.insert("via".into(), via.into());
    }
    // OpenCode's own estimate, kept for comparison; Tally prices the tokens.
    if let Some(cost) = v
        .get("cost")
        .filter(|c| c.as_f64().is_some_and(|c| c > 0.0))
    {
        r.metadata.insert("agent_cost_usd".into(), cost.clone());
    }
    out.records.push(r);
}

/// Where reading a database stopped. A read is a pass over the rows updated
/// since a little before the newest the last pass saw, taken a page at a
/// time in rowid order; each page is stored with this state, so a pass
/// stopped part way goes on from its last page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseState {
    /// The newest `time_updated` read.
    pub updated_ms: i64,
    /// A pass under way: where it started, and the last rowid it read.
    #[serde(default)]
    pub since_ms: i64,
    #[serde(default)]
    pub after_rowid: i64,
    /// The files' sizes and times when the pass started: the same at the
    /// next import, nothing was written since.
    pub stamp: (u64, u64, u64, u64),
}

impl DatabaseState {
    /// Whether a pass is under way.
    pub fn in_pass(&self) -> bool {
        self.after_rowid > 0
    }
}

/// How far back each pass starts before the newest row the last one saw: a
/// transaction that stamped its row earlier may have committed after it.
const OVERLAP_MS: i64 = 60_000;

/// Rows a page holds: a database of a million messages is read in bounded memory.
pub const PAGE: i64 = 20_000;

/// The database's and its write-ahead log's sizes and change times: equal
/// to the last read's, nothing was written since.
pub fn stamp(path: &Path) -> (u64, u64, u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let of = |p: &Path| {
        std::fs::metadata(p).map_or((0, 0), |m| {
            (
                m.len(),
                m.mtime_nsec() as u64 + m.mtime() as u64 * 1_000_000_000,
            )
        })
    };
    let (db_len, db_time) = of(path);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let (wal_len, wal_time) = of(Path::new(&wal));
    (db_len, db_time, wal_len, wal_time)
}

/// What reading a page gave: its calls, the rows read, where it stopped.
pub struct DatabaseRead {
    pub parsed: Parsed,
    pub rows: u64,
    pub state: DatabaseState,
}

/// Reads the next page of the pass `state` is in (a new pass when none is
/// under way), without taking any lock OpenCode would wait on: read-only,
/// and busy only for a moment while OpenCode checkpoints.
pub fn read_database(
    path: &Path,
    state: &DatabaseState,
    page: i64,
) -> Result<DatabaseRead, String> {
    let named = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let (since, after, pass_stamp) = if state.in_pass() {
        (state.since_ms, state.after_rowid, state.stamp)
    } else {
        (state.updated_ms.saturating_sub(OVERLAP_MS), 0, stamp(path))
    };
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(named)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(named)?;
    let has = |table: &str, column: &str| -> Result<bool, String> {
        conn.query_row(
            "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |_| Ok(()),
        )
        .optional()
        .map(|r| r.is_some())
        .map_err(named)
    };
    if !has("message", "data")? {
        return Err(format!("{}: no OpenCode message table", path.display()));
    }
    let updated = has("message", "time_updated")?;
    let directory = has("session", "directory")?;
    let sql = format!(
        "SELECT m.rowid, m.id, m.session_id, m.data, {}, {} FROM message m {}
         WHERE m.rowid > ?2 AND {} ORDER BY m.rowid LIMIT ?3",
        if updated { "m.time_updated" } else { "0" },
        if directory { "s.directory" } else { "NULL" },
        if directory {
            "LEFT JOIN session s ON s.id = m.session_id"
        } else {
            ""
        },
        if updated {
            "m.time_updated >= ?1"
        } else {
            "?1 IS NOT NULL"
        },
    );
    let mut out = Parsed::default();
    let (mut newest, mut last, mut read) = (state.updated_ms, after, 0);
    let mut stmt = conn.prepare(&sql).map_err(named)?;
    let mut rows = stmt
        .query(rusqlite::params![since, after, page])
        .map_err(named)?;
    while let Some(row) = rows.next().map_err(named)? {
        read += 1;
        last = row.get(0).map_err(named)?;
        let id: String = row.get(1).map_err(named)?;
        let session: String = row.get(2).map_err(named)?;
        let data: String = row.get(3).map_err(named)?;
        newest = newest.max(row.get(4).map_err(named)?);
        let dir: Option<String> = row.get(5).map_err(named)?;
        // The user's messages, most rows, have no usage to parse.
        if !data.contains("\"assistant\"") && data.trim_end().ends_with('}') {
            continue;
        }
        match serde_json::from_str::<Value>(&data) {
            Ok(v) => message(&v, &id, &session, dir.as_deref(), 0, &mut out),
            Err(e) => out.malformed(0, format!("message {id}: data is not JSON: {e}")),
        }
    }
    // A short page ends the pass.
    let more = read == page as u64;
    Ok(DatabaseRead {
        parsed: out,
        rows: read,
        state: DatabaseState {
            updated_ms: newest,
            since_ms: if more { since } else { 0 },
            after_rowid: if more { last } else { 0 },
            stamp: pass_stamp,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"{"id":"msg_1","sessionID":"ses_1","role":"assistant","modelID":"claude-sonnet-4-5","providerID":"anthropic",
        "time":{"created":1772359200000,"completed":1772359210000},"path":{"cwd":"/home/ada/app/src","root":"/home/ada/app"},
        "cost":0.0123,"tokens":{"input":12,"output":400,"reasoning":0,"cache":{"read":20000,"write":1500}}}"#;

    #[test]
    fn an_assistant_message_with_tokens_is_a_call() {
        let p = read_document(MESSAGE);
        assert_eq!(p.records.len(), 1);
        let r = &p.records[0];
        assert_eq!(
            (
                r.tokens.input,
                r.tokens.cache_read,
                r.tokens.cache_write_5m,
                r.tokens.output
            ),
            (12, 20000, 1500, 400)
        );
        assert_eq!(
            (r.provider.as_str(), r.project.as_str()),
            ("anthropic", "/home/ada/app")
        );
        assert_eq!(r.request_id.as_deref(), Some("msg_1"));
        assert_eq!(r.metadata["agent_cost_usd"], serde_json::json!(0.0123));
        let streaming = MESSAGE
            .replace(r#""input":12,"output":400"#, r#""input":0,"output":0"#)
            .replace(r#""read":20000,"write":1500"#, r#""read":0,"write":0"#);
        assert!(read_document(&streaming).records.is_empty());
    }

    #[test]
    fn a_database_is_read_a_page_at_a_time_and_a_pass_ends_on_a_short_page() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opencode.db");
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_created INTEGER, time_updated INTEGER, data TEXT);",
        )
        .unwrap();
        for i in 0..5 {
            let m = MESSAGE.replace("msg_1", &format!("msg_{i}"));
            db.execute(
                "INSERT INTO message VALUES (?1, 'ses_1', ?2, ?2, ?3)",
                rusqlite::params![format!("msg_{i}"), 1_772_359_200_000_i64 + i * 600_000, m],
            )
            .unwrap();
        }
        db.execute(
            "INSERT INTO message VALUES ('u', 'ses_1', 0, 0, '{\"role\":\"user\"}')",
            [],
        )
        .unwrap();
        let mut state = DatabaseState::default();
        let (mut calls, mut pages) = (0, 0);
        loop {
            let read = read_database(&path, &state, 2).unwrap();
            calls += read.parsed.records.len();
            pages += 1;
            state = read.state;
            if !state.in_pass() {
                break;
            }
        }
        assert_eq!(
            (calls, pages),
            (5, 4),
            "three full pages of two rows, then an empty one"
        );
        assert_eq!(state.updated_ms, 1_772_359_200_000 + 4 * 600_000);
        // The next pass reads the last minute again, and nothing older.
        let again = read_database(&path, &state, 2).unwrap();
        assert_eq!(again.parsed.records.len(), 1);
        assert!(!again.state.in_pass());
    }

    #[test]
    fn a_gateway_names_no_maker_and_gemini_thinks_beside_its_output() {
        let m = MESSAGE
            .replace("claude-sonnet-4-5", "gemini-2.5-pro")
            .replace(r#""providerID":"anthropic""#, r#""providerID":"opencode""#)
            .replace(r#""reasoning":0"#, r#""reasoning":100"#);
        let r = &read_document(&m).records[0];
        assert_eq!(r.provider, "");
        assert_eq!(r.metadata["via"], "opencode");
        assert_eq!((r.tokens.output, r.tokens.reasoning), (500, 100));
    }
}

//! What the live event stream reads: the calls and alerts after a position,
//! and the `events` table, where budget state changes and price changes are
//! kept so that a client coming back gets what it missed from the ledger.

use rusqlite::{Connection, OptionalExtension, params};

use super::alerts::{ALERT_COLUMNS, alert_from_row};
use super::write::{RECORD_COLUMNS, record_from_row};
use super::{Alert, Store, StoreError};
use crate::core::UsageRecord;

/// One stored budget or price event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub at_ms: i64,
    pub kind: String,
    pub body: serde_json::Value,
}

impl Store {
    /// The newest call's, alert's and event's ids: where a stream starts.
    pub fn feed_heads(&self) -> Result<(i64, i64, i64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT (SELECT coalesce(MAX(id), 0) FROM calls),
                    (SELECT coalesce(MAX(id), 0) FROM alerts),
                    (SELECT coalesce(MAX(seq), 0) FROM events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }

    /// Up to `limit` calls stored after call `after`, oldest first.
    pub fn records_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, UsageRecord)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM usage WHERE id > ?1 ORDER BY id LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![after, limit as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(record_from_row(row)?);
        }
        Ok(out)
    }

    /// Up to `limit` alerts raised after alert `after`, oldest first.
    pub fn alerts_after(&self, after: i64, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE id > ?1 ORDER BY id LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![after, limit as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(alert_from_row(row)?);
        }
        Ok(out)
    }

    /// Keeps budget and price events, in one transaction; their sequence numbers.
    pub fn add_events(
        &mut self,
        events: &[(i64, &str, serde_json::Value)],
    ) -> Result<Vec<i64>, StoreError> {
        let tx = self.write_tx()?;
        let mut seqs = Vec::with_capacity(events.len());
        {
            let mut stmt =
                tx.prepare_cached("INSERT INTO events (ts_ms, kind, body) VALUES (?1, ?2, ?3)")?;
            for (at, kind, body) in events {
                stmt.execute(params![at, kind, body.to_string()])?;
                seqs.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        Ok(seqs)
    }

    /// Up to `limit` events after `after`, oldest first.
    pub fn events_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, ts_ms, kind, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at_ms, kind, body) = row?;
            out.push(StoredEvent {
                seq,
                at_ms,
                kind,
                body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            });
        }
        Ok(out)
    }

    /// The newest stored budget event of each policy: the state a stream
    /// last told, so a restart does not tell it again.
    pub fn last_budget_events(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM events WHERE seq IN
                (SELECT MAX(seq) FROM events WHERE kind = 'budget'
                 GROUP BY body ->> '$.policy.id')",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?).unwrap_or(serde_json::Value::Null));
        }
        Ok(out)
    }

    /// Whether the ledger already holds, under the agent's own id (a log
    /// file's copy), the call `r` tells without one: the same source, model,
    /// session and token counts within `TWIN_WINDOW_MS` of it.
    pub fn has_twin(&self, r: &UsageRecord) -> Result<bool, StoreError> {
        twin_exists(&self.conn, r, false)
    }

    /// Notes that `source` has calls named by their contents (OTLP events
    /// without the agent's id): its log lines are looked for among them.
    pub fn note_fingerprinted(&mut self, source: &str) -> Result<(), StoreError> {
        let mut sources = fingerprinted_sources(&self.conn)?;
        if !sources.iter().any(|s| s == source) {
            sources.push(source.to_string());
            self.set_setting(FINGERPRINTED, Some(&sources.join(",")))?;
        }
        Ok(())
    }
}

/// How far apart a call's OTLP event and its log line may be stamped.
pub const TWIN_WINDOW_MS: i64 = 120_000;
/// The setting that lists the sources with calls named by their contents.
const FINGERPRINTED: &str = "otlp.fingerprinted";

/// The request ids of calls named by their contents start so.
pub fn is_fingerprint(request_id: Option<&str>) -> bool {
    request_id.is_some_and(|id| id.starts_with("otel:"))
}

pub(super) fn fingerprinted_sources(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [FINGERPRINTED],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Whether a call like `r` (source, model, session, token counts, within
/// `TWIN_WINDOW_MS`) is stored, named by its contents (`fingerprinted`) or
/// by the agent's own id (not).
pub(super) fn twin_exists(
    conn: &Connection,
    r: &UsageRecord,
    fingerprinted: bool,
) -> Result<bool, StoreError> {
    let at = r.at.as_millisecond();
    let t = &r.tokens;
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM usage WHERE ts_ms BETWEEN ?1 AND ?2 AND source = ?3 AND model = ?4
            AND input = ?5 AND output = ?6 AND cache_read = ?7
            AND cache_write_5m + cache_write_1h = ?8 AND session IS ?9
            AND (coalesce(request_id, '') LIKE 'otel:%') = ?10 LIMIT 1",
    )?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(stmt.exists(params![
        at - TWIN_WINDOW_MS,
        at + TWIN_WINDOW_MS,
        r.source,
        r.model,
        count(t.input),
        count(t.output),
        count(t.cache_read),
        count(t.cache_write()),
        r.session,
        fingerprinted,
    ])?)
}

//! Push and pull. Records are facts with global keys, so a sync is a merge:
//! this machine's calls go up in batches (idempotent: the same key twice is
//! one row, a later revision replaces an earlier one unless its content is
//! the same), and the other machines' calls come down in batches, each
//! stored with the position it reached in one local transaction.
//!
//! The pull's position is a range of server transaction ids. Rows carry the
//! id of the transaction that wrote them (`xid`); ids are handed out when a
//! transaction first writes, but transactions commit in any order, so
//! reading "ids above the last one seen" would skip a row whose transaction
//! started earlier and committed later. A pull instead reads only the
//! transactions older than the oldest one still running when it starts
//! (`pg_snapshot_xmin`): all of those have ended, so their rows are all
//! visible and none can appear later; the next pull starts there.

use postgres::Client;
use postgres::binary_copy::BinaryCopyInWriter;
use serde::{Deserialize, Serialize};

use super::TeamError;
use super::rows::{self, Row};
use crate::store::Store;
use crate::store::team::PULLED;

/// Calls in one push or pull batch.
const BATCH: usize = 20_000;

/// The batch size; `TALLY_TEAM_BATCH` makes it smaller, for the tests that
/// stop a sync between batches.
fn batch() -> usize {
    std::env::var("TALLY_TEAM_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(BATCH)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pushed {
    /// Calls sent.
    pub sent: u64,
    /// Of those, new to the server or a new revision of one it had.
    pub written: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pulled {
    /// Calls received from other machines.
    pub received: u64,
    /// Of those, new to this ledger.
    pub new: u64,
    /// Of those, held already and changed (priced again by their machine).
    pub updated: u64,
}

/// Sends every call of this machine the server does not have, in batches.
pub fn push(
    client: &mut Client,
    store: &mut Store,
    machine: &str,
    revision: i64,
    progress: &mut dyn FnMut(u64),
) -> Result<Pushed, TeamError> {
    client.batch_execute(&format!(
        "CREATE TEMP TABLE IF NOT EXISTS tally_incoming ON COMMIT DELETE ROWS
             AS SELECT {} FROM tally_records WITH NO DATA;",
        rows::COLUMNS
    ))?;
    let types = rows::types();
    let mut done = Pushed::default();
    loop {
        let out = store.outgoing(batch())?;
        if out.records.is_empty() {
            return Ok(done);
        }
        let n = out.records.len() as u64;
        let mut tx = client.transaction()?;
        {
            let sink = tx.copy_in(&format!(
                "COPY tally_incoming ({}) FROM STDIN BINARY",
                rows::COLUMNS
            ))?;
            let mut writer = BinaryCopyInWriter::new(sink, &types);
            for record in out.records.iter().cloned() {
                Row::of(record, machine).write(&mut writer)?;
            }
            writer.finish()?;
        }
        // A revision replaces the row only with other content, so pushing
        // again after a crash (or two machines sending one call) changes
        // nothing the others would pull again.
        let written = tx.execute(
            &format!(
                "INSERT INTO tally_records (pushed_by, revision, {cols})
                 SELECT $1, $2, {cols} FROM tally_incoming WHERE true
                 ON CONFLICT (gkey) DO UPDATE SET
                     pushed_by = excluded.pushed_by, revision = excluded.revision,
                     digest = excluded.digest, xid = pg_current_xact_id(),
                     ts_ms = excluded.ts_ms, input = excluded.input, output = excluded.output,
                     cache_read = excluded.cache_read, cache_write_5m = excluded.cache_write_5m,
                     cache_write_1h = excluded.cache_write_1h, reasoning = excluded.reasoning,
                     cost_kind = excluded.cost_kind, cost_nanos = excluded.cost_nanos,
                     price = excluded.price, rest = excluded.rest
                 WHERE tally_records.revision < excluded.revision
                   AND tally_records.digest <> excluded.digest",
                cols = rows::COLUMNS
            ),
            &[&machine, &revision],
        )?;
        tx.execute("SELECT pg_notify('tally_records', $1)", &[&machine])?;
        tx.commit()?;
        // Noted only once the server has them: a push stopped before this
        // sends the batch again, which changes nothing there.
        store.pushed(&out)?;
        done.sent += n;
        done.written += written;
        progress(done.sent);
    }
}

/// Where a pull stands: reading the transactions before `to`, after the
/// row (`after_xid`, `after_key`). `to` is unset between pulls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    to: Option<String>,
    after_xid: String,
    after_key: Vec<u8>,
}

impl Position {
    fn start() -> Position {
        Position {
            to: None,
            after_xid: "0".into(),
            after_key: Vec::new(),
        }
    }
}

/// How many calls the next pull would bring at most (for a progress bar).
pub fn pending(client: &mut Client, store: &Store, machine: &str) -> Result<u64, TeamError> {
    let pos = position(store)?;
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM tally_records
             WHERE (xid, gkey) > ($1::text::xid8, $2) AND pushed_by <> $3",
            &[&pos.after_xid, &pos.after_key, &machine],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

fn position(store: &Store) -> Result<Position, TeamError> {
    Ok(match store.setting(PULLED)? {
        Some(text) => serde_json::from_str(&text).unwrap_or_else(|_| Position::start()),
        None => Position::start(),
    })
}

/// Brings every call other machines pushed that this ledger has not seen.
pub fn pull(
    client: &mut Client,
    store: &mut Store,
    machine: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<Pulled, TeamError> {
    // The order names the table's column: a bare `xid` would be the output
    // column `xid::text`, ordered as text ("1000" before "999"), which both
    // skips rows when transaction ids gain a digit and defeats the index.
    let query = client.prepare(&format!(
        "SELECT xid::text, {} FROM tally_records
         WHERE (xid, gkey) > ($1::text::xid8, $2) AND xid < $3::text::xid8
           AND pushed_by <> $4
         ORDER BY tally_records.xid, tally_records.gkey LIMIT $5",
        rows::COLUMNS
    ))?;
    let mut done = Pulled::default();
    let mut pos = position(store)?;
    // A pull stopped part way first finishes the range it had begun; then
    // one more range, up to now, so a sync brings everything pushed before it.
    loop {
        let resumed = pos.to.is_some();
        let to = match pos.to.clone() {
            Some(to) => to,
            None => {
                let to: String = client
                    .query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", &[])?
                    .get(0);
                pos.to = Some(to.clone());
                to
            }
        };
        read_range(
            client, store, &query, machine, &mut pos, &to, &mut done, progress,
        )?;
        // The range is read: the next starts where this one's snapshot ended.
        pos = Position {
            to: None,
            after_xid: to,
            after_key: Vec::new(),
        };
        let text = serde_json::to_string(&pos).unwrap_or_default();
        store.set_setting(PULLED, Some(&text))?;
        if !resumed {
            return Ok(done);
        }
    }
}

/// Reads the rows of `[pos, to)` in batches, each stored with its position.
#[allow(clippy::too_many_arguments)]
fn read_range(
    client: &mut Client,
    store: &mut Store,
    query: &postgres::Statement,
    machine: &str,
    pos: &mut Position,
    to: &str,
    done: &mut Pulled,
    progress: &mut dyn FnMut(u64),
) -> Result<(), TeamError> {
    let size = batch();
    loop {
        let found = client.query(
            query,
            &[
                &pos.after_xid,
                &pos.after_key,
                &to,
                &machine,
                &(size as i64),
            ],
        )?;
        let Some(last) = found.last() else {
            return Ok(());
        };
        pos.after_xid = last.get(0);
        pos.after_key = last.get(1);
        let mut records = Vec::with_capacity(found.len());
        for row in &found {
            let record = Row::read(row, 1).map_err(|why| {
                let id: Option<String> = row.get(12);
                TeamError::Server(format!(
                    "the server holds a call Tally cannot read ({why}): request {}",
                    id.as_deref().unwrap_or("without an id")
                ))
            })?;
            records.push(record);
        }
        let text = serde_json::to_string(&*pos).unwrap_or_default();
        let outcome = store.merge_pulled(&records, &text)?;
        done.received += records.len() as u64;
        done.new += outcome.inserted;
        done.updated += outcome.updated;
        progress(done.received);
        if found.len() < size {
            return Ok(());
        }
    }
}

//! What syncing with a team asks of the ledger: this machine's name on its
//! calls, the calls it has not pushed yet (new ones, and ones changed since
//! they were pushed), and merging the calls other machines pushed. The
//! PostgreSQL side is in `crate::team`.

use rusqlite::{OptionalExtension, params};

use super::write::{BatchOutcome, OnDuplicate, RECORD_COLUMNS, record_from_row, this_machine};
use super::{Store, StoreError};
use crate::core::UsageRecord;

/// Settings: this machine's name, the last call id pushed, and where the
/// pull stands (the server's position, as `crate::team` writes it).
pub const MACHINE: &str = "team.machine";
pub const PUSHED: &str = "team.pushed";
pub const PULLED: &str = "team.pulled";

/// This machine's calls changed after they were recorded (a reprice, a
/// later snapshot of a streaming message), in the order they changed: pushed
/// again. A call changed twice is listed twice, so one pushed while it
/// changes again is not forgotten. Other machines' calls changed by a pull
/// are theirs to push.
const REVISED: &str = "
    CREATE TABLE IF NOT EXISTS team_revised (seq INTEGER PRIMARY KEY AUTOINCREMENT, call INTEGER NOT NULL);
    CREATE TRIGGER IF NOT EXISTS calls_revised AFTER UPDATE ON calls
    WHEN (SELECT machine FROM dims WHERE id = new.dims)
         = (SELECT value FROM settings WHERE key = 'team.machine')
    BEGIN INSERT INTO team_revised (call) VALUES (new.id); END;";

/// Calls to push, with the position to note once the server has them.
#[derive(Debug, Default)]
pub struct Outgoing {
    pub records: Vec<UsageRecord>,
    /// The last call id among new calls read (the `PUSHED` to note).
    pub through: i64,
    /// The last entry of `team_revised` read.
    pub revised_through: i64,
}

impl Store {
    /// The last call id the server holds everything up to.
    fn pushed_through(&self) -> Result<i64, StoreError> {
        Ok(self
            .setting(PUSHED)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Names this machine `name` in its team: the calls recorded here so far
    /// (which name no machine) take the name, in the records and the
    /// rollups, and changes to calls are noted from now on for the push.
    pub fn take_machine_name(&mut self, name: &str) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        let unnamed: Vec<i64> = tx
            .prepare("SELECT id FROM dims WHERE machine = ''")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in unnamed {
            // The same dimensions under the name already (a machine that
            // left and joined again): its calls move there.
            let twin: Option<i64> = tx
                .query_row(
                    "SELECT t.id FROM dims t JOIN dims d ON d.id = ?1
                     WHERE t.machine = ?2 AND t.provider = d.provider AND t.model = d.model
                       AND t.user = d.user AND t.project = d.project AND t.agent = d.agent
                       AND t.source = d.source",
                    params![id, name],
                    |r| r.get(0),
                )
                .optional()?;
            match twin {
                Some(twin) => {
                    tx.execute("UPDATE calls SET dims = ?2 WHERE dims = ?1", [id, twin])?;
                    tx.execute("DELETE FROM dims WHERE id = ?1", [id])?;
                }
                None => {
                    tx.execute(
                        "UPDATE dims SET machine = ?2 WHERE id = ?1",
                        params![id, name],
                    )?;
                }
            }
        }
        for table in ["usage_daily", "usage_hourly"] {
            super::rollup::rename_machine(&tx, table, "", name)?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![MACHINE, name],
        )?;
        // The moves above are not changes to push: the trigger comes after.
        tx.execute_batch(REVISED)?;
        tx.commit()?;
        self.forget_past_days();
        Ok(())
    }

    /// The models of `machine`'s calls from `since` on (from the rollups).
    pub fn models_of_machine(
        &self,
        machine: &str,
        since: jiff::civil::Date,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT provider, model FROM usage_daily WHERE machine = ?1 AND day >= ?2
             ORDER BY provider, model",
        )?;
        let rows = stmt.query_map(params![machine, since.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Leaves the team: the calls keep their machines' names (the history
    /// stays true), the positions are forgotten.
    pub fn forget_team(&mut self) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.execute_batch(
            "DROP TRIGGER IF EXISTS calls_revised;
             DROP TABLE IF EXISTS team_revised;",
        )?;
        tx.execute(
            "DELETE FROM settings WHERE key IN (?1, ?2, ?3)",
            [MACHINE, PUSHED, PULLED],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` of this machine's calls to push: the changed ones first,
    /// then new ones after the last pushed.
    pub fn outgoing(&self, limit: usize) -> Result<Outgoing, StoreError> {
        let here = this_machine(&self.conn)?;
        let mut out = Outgoing {
            through: self.pushed_through()?,
            ..Outgoing::default()
        };
        let has_revised: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'team_revised')",
            [],
            |r| r.get(0),
        )?;
        if has_revised {
            let (last, calls): (Option<i64>, Vec<i64>) = {
                let mut stmt = self.conn.prepare(
                    "SELECT seq, call FROM team_revised WHERE call <= ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows: Vec<(i64, i64)> = stmt
                    .query_map(params![out.through, limit as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect::<Result<_, _>>()?;
                (
                    rows.last().map(|r| r.0),
                    rows.into_iter().map(|r| r.1).collect(),
                )
            };
            out.revised_through = last.unwrap_or(0);
            let mut calls = calls;
            calls.sort_unstable();
            calls.dedup();
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM usage WHERE id = ?1 AND machine = ?2"
            ))?;
            for id in calls {
                let found = stmt
                    .query_row(params![id, here], |row| Ok(record_from_row(row)))
                    .optional()?;
                if let Some(found) = found {
                    out.records.push(found?.1);
                }
            }
        }
        let room = limit.saturating_sub(out.records.len());
        // Read before the calls: all up to it are committed, so when fewer
        // than `room` of ours follow, the position passes the other
        // machines' calls after them too, and later reads skip those.
        let last: i64 = self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM calls", [], |r| r.get(0))?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM usage WHERE id > ?1 AND machine = ?2 ORDER BY id LIMIT ?3"
        ))?;
        let mut rows = stmt.query(params![out.through, here, room as i64])?;
        let mut found = 0;
        while let Some(row) = rows.next()? {
            let (id, record) = record_from_row(row)?;
            out.through = id;
            out.records.push(record);
            found += 1;
        }
        if found < room {
            out.through = out.through.max(last);
        }
        Ok(out)
    }

    /// How many of this machine's calls are not pushed yet (new since the
    /// last push; changed ones are not counted).
    pub fn outgoing_count(&self) -> Result<u64, StoreError> {
        let through = self.pushed_through()?;
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM calls c JOIN dims d ON d.id = c.dims
             WHERE c.id > ?1 AND d.machine = ?2",
            params![through, this_machine(&self.conn)?],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Notes that the server holds what `outgoing` gave.
    pub fn pushed(&mut self, sent: &Outgoing) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![PUSHED, sent.through.to_string()],
        )?;
        if sent.revised_through > 0 {
            tx.execute(
                "DELETE FROM team_revised WHERE seq <= ?1",
                [sent.revised_through],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Merges calls other machines recorded, and notes `position` (where
    /// the pull stands) in the same transaction, so a pull stopped at any
    /// point goes on from the last batch it stored. A call held already
    /// takes the pushed time, tokens and cost when they differ (its machine
    /// priced it again).
    pub fn merge_pulled(
        &mut self,
        records: &[UsageRecord],
        position: &str,
    ) -> Result<BatchOutcome, StoreError> {
        self.insert_many_then(records, OnDuplicate::TakeNew, |tx| {
            // With nothing of ours waiting, the push position passes the
            // calls just pulled, so looking for ours to push (which the
            // team follower does every few seconds) never reads them.
            tx.execute(
                "UPDATE settings SET value = (SELECT max(id) FROM calls)
                 WHERE key = ?1 AND NOT EXISTS (
                     SELECT 1 FROM calls c JOIN dims d ON d.id = c.dims
                     WHERE c.id > CAST(settings.value AS INTEGER)
                       AND d.machine = (SELECT value FROM settings WHERE key = ?2))",
                [PUSHED, MACHINE],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                params![PULLED, position],
            )?;
            Ok(())
        })
    }
}

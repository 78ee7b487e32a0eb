//! Schema migrations, applied in order and counted by `PRAGMA user_version`.
//! A migration is never edited once released; a change is a new migration.

use rusqlite::Transaction;

use super::StoreError;

pub enum Step {
    Sql(&'static str),
    /// For work SQL cannot do, such as computing local days in an IANA zone.
    Code(fn(&Transaction) -> Result<(), StoreError>),
    /// Code that rewrites every record, telling the fraction done.
    Long(LongStep),
}

/// A step that tells `progress` the fraction of its work done.
pub type LongStep = fn(&Transaction, progress: &mut dyn FnMut(f64)) -> Result<(), StoreError>;

/// `MIGRATIONS[i]` takes a ledger from version `i` to `i + 1`.
pub const MIGRATIONS: &[Step] = &[
    Step::Sql(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE usage (
             id INTEGER PRIMARY KEY,
             dedupe_key BLOB NOT NULL UNIQUE,
             ts_ms INTEGER NOT NULL,
             provider TEXT NOT NULL,
             model TEXT NOT NULL,
             user TEXT NOT NULL,
             project TEXT NOT NULL,
             agent TEXT NOT NULL,
             source TEXT NOT NULL,
             session TEXT,
             request_id TEXT,
             task TEXT,
             input INTEGER NOT NULL CHECK (input >= 0),
             output INTEGER NOT NULL CHECK (output >= 0),
             cache_read INTEGER NOT NULL CHECK (cache_read >= 0),
             cache_write_5m INTEGER NOT NULL CHECK (cache_write_5m >= 0),
             cache_write_1h INTEGER NOT NULL CHECK (cache_write_1h >= 0),
             reasoning INTEGER NOT NULL CHECK (reasoning >= 0),
             images INTEGER NOT NULL CHECK (images >= 0),
             image_size TEXT,
             image_quality TEXT,
             embedding_tokens INTEGER NOT NULL CHECK (embedding_tokens >= 0),
             cost_kind TEXT NOT NULL CHECK (cost_kind IN ('priced', 'reported', 'unpriced')),
             cost_nanos INTEGER,
             price_version TEXT,
             unpriced_reason TEXT,
             billed_nanos INTEGER,
             revenue_nanos INTEGER,
             metadata TEXT,
             created_ms INTEGER NOT NULL,
             CHECK ((cost_kind = 'unpriced') = (cost_nanos IS NULL))
         );
         CREATE INDEX usage_by_time ON usage (ts_ms, id);
         CREATE INDEX usage_unpriced ON usage (cost_kind) WHERE cost_kind = 'unpriced';",
    ),
    Step::Sql(
        "CREATE TABLE usage_daily (
             day TEXT NOT NULL,
             provider TEXT NOT NULL,
             model TEXT NOT NULL,
             user TEXT NOT NULL,
             project TEXT NOT NULL,
             agent TEXT NOT NULL,
             source TEXT NOT NULL,
             requests INTEGER NOT NULL,
             input INTEGER NOT NULL,
             output INTEGER NOT NULL,
             cache_read INTEGER NOT NULL,
             cache_write_5m INTEGER NOT NULL,
             cache_write_1h INTEGER NOT NULL,
             reasoning INTEGER NOT NULL,
             images INTEGER NOT NULL,
             embedding_tokens INTEGER NOT NULL,
             cost_nanos INTEGER NOT NULL,
             unpriced INTEGER NOT NULL,
             billed_nanos INTEGER NOT NULL,
             revenue_nanos INTEGER NOT NULL,
             PRIMARY KEY (day, provider, model, user, project, agent, source)
         ) WITHOUT ROWID;",
    ),
    // Filled the daily rollup; now done by the last step, with today's code,
    // which needs columns added later.
    Step::Sql(""),
    Step::Sql(
        "CREATE TABLE prices (
             id INTEGER PRIMARY KEY,
             origin TEXT NOT NULL CHECK (origin IN ('imported', 'user')),
             provider TEXT NOT NULL,
             model TEXT NOT NULL,
             effective_from TEXT NOT NULL,
             spec TEXT NOT NULL,
             version TEXT NOT NULL,
             created_ms INTEGER NOT NULL,
             UNIQUE (origin, provider, model, effective_from)
         );",
    ),
    // Budgets and alerts. The audit log and past alerts name their policy by id
    // and name without a foreign key, so they outlive a deleted policy.
    Step::Sql(
        "CREATE TABLE policies (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             scope TEXT NOT NULL,
             metric TEXT NOT NULL,
             period TEXT NOT NULL,
             zone TEXT NOT NULL,
             limit_amount INTEGER NOT NULL CHECK (limit_amount > 0),
             soft_percent INTEGER NOT NULL CHECK (soft_percent BETWEEN 1 AND 100),
             action TEXT NOT NULL,
             enabled INTEGER NOT NULL,
             created_ms INTEGER NOT NULL,
             reset_ms INTEGER,
             override_by TEXT,
             override_reason TEXT,
             override_until_ms INTEGER
         );
         CREATE TABLE policy_audit (
             id INTEGER PRIMARY KEY,
             policy_id INTEGER NOT NULL,
             policy_name TEXT NOT NULL,
             at_ms INTEGER NOT NULL,
             actor TEXT NOT NULL,
             action TEXT NOT NULL,
             detail TEXT NOT NULL
         );
         CREATE INDEX policy_audit_by_policy ON policy_audit (policy_id, at_ms);
         CREATE TABLE alert_rules (
             id INTEGER PRIMARY KEY,
             policy_id INTEGER REFERENCES policies (id) ON DELETE CASCADE,
             trigger TEXT NOT NULL,
             severity TEXT NOT NULL,
             channels TEXT NOT NULL,
             cooldown_s INTEGER NOT NULL CHECK (cooldown_s >= 0)
         );
         INSERT INTO alert_rules (trigger, severity, channels, cooldown_s) VALUES
             ('soft', 'warning', 'desktop,log', 3600),
             ('95%', 'critical', 'desktop,log', 3600),
             ('100%', 'critical', 'desktop,log', 3600),
             ('forecast', 'warning', 'desktop,log', 3600),
             ('anomaly', 'warning', 'desktop,log', 3600);
         CREATE TABLE alert_marks (
             policy_id INTEGER NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
             rule_id INTEGER NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
             window_key INTEGER NOT NULL,
             at_ms INTEGER NOT NULL,
             superseded INTEGER NOT NULL,
             PRIMARY KEY (policy_id, rule_id, window_key)
         ) WITHOUT ROWID;
         CREATE TABLE alerts (
             id INTEGER PRIMARY KEY,
             at_ms INTEGER NOT NULL,
             policy_id INTEGER,
             policy_name TEXT NOT NULL,
             kind TEXT NOT NULL,
             severity TEXT NOT NULL,
             title TEXT NOT NULL,
             body TEXT NOT NULL,
             detail TEXT NOT NULL,
             state TEXT NOT NULL CHECK (state IN ('active', 'acknowledged', 'resolved')),
             acked_ms INTEGER,
             acked_by TEXT,
             resolved_ms INTEGER
         );
         CREATE INDEX alerts_by_state ON alerts (state, at_ms);
         CREATE TABLE alert_deliveries (
             alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
             channel TEXT NOT NULL,
             attempts INTEGER NOT NULL,
             next_try_ms INTEGER,
             delivered_ms INTEGER,
             last_error TEXT,
             PRIMARY KEY (alert_id, channel)
         );
         CREATE INDEX deliveries_due ON alert_deliveries (next_try_ms) WHERE delivered_ms IS NULL;
         CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    ),
    // Per UTC hour, for budget windows that do not start at a local midnight
    // (rolling windows, manual resets, zones other than the ledger's).
    Step::Sql(
        "CREATE TABLE usage_hourly (
             hour_ms INTEGER NOT NULL,
             provider TEXT NOT NULL,
             model TEXT NOT NULL,
             user TEXT NOT NULL,
             project TEXT NOT NULL,
             agent TEXT NOT NULL,
             source TEXT NOT NULL,
             requests INTEGER NOT NULL,
             input INTEGER NOT NULL,
             output INTEGER NOT NULL,
             cache_read INTEGER NOT NULL,
             cache_write_5m INTEGER NOT NULL,
             cache_write_1h INTEGER NOT NULL,
             reasoning INTEGER NOT NULL,
             images INTEGER NOT NULL,
             embedding_tokens INTEGER NOT NULL,
             cost_nanos INTEGER NOT NULL,
             unpriced INTEGER NOT NULL,
             billed_nanos INTEGER NOT NULL,
             revenue_nanos INTEGER NOT NULL,
             PRIMARY KEY (hour_ms, provider, model, user, project, agent, source)
         ) WITHOUT ROWID;",
    ),
    // Filled the hourly rollup; now done by the last step, as above.
    Step::Sql(""),
    // Where each log file's import stopped, so the next import reads only what
    // was appended. `state` is the source's running state there (Codex: the
    // session's model, folder and running totals).
    Step::Sql(
        "CREATE TABLE import_files (
             path TEXT PRIMARY KEY,
             source TEXT NOT NULL,
             inode INTEGER NOT NULL,
             size INTEGER NOT NULL,
             head_hash BLOB NOT NULL,
             offset INTEGER NOT NULL,
             lines INTEGER NOT NULL,
             state TEXT,
             updated_ms INTEGER NOT NULL
         );",
    ),
    // A provider's usage export has daily buckets of many calls: a record says
    // how many calls it stands for (1 for a call, 0 for a billed-only line).
    // The rollups count records apart from requests (the history's row count).
    Step::Sql(
        "ALTER TABLE usage ADD COLUMN requests INTEGER NOT NULL DEFAULT 1 CHECK (requests >= 0);
         ALTER TABLE usage_daily ADD COLUMN records INTEGER NOT NULL DEFAULT 0;
         UPDATE usage_daily SET records = requests;
         ALTER TABLE usage_hourly ADD COLUMN records INTEGER NOT NULL DEFAULT 0;
         UPDATE usage_hourly SET records = requests;",
    ),
    // Rebuilt both rollups; now done by the last step.
    Step::Sql(""),
    Step::Code(rekey_claude_messages),
    // `CHECK (cost_kind IN (…))` made SQLite build a temporary table of the
    // list for every row inserted: a third of a bulk insert's time. The same
    // check written with `=` costs nothing. A CHECK constraint is not stored in
    // the rows, so the table's SQL is edited in place (SQLite's documented way to
    // change one) and the schema version bumped by a throwaway table, so every
    // connection reads the new definition.
    Step::Sql(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema
            SET sql = replace(sql,
                'CHECK (cost_kind IN (''priced'', ''reported'', ''unpriced''))',
                'CHECK (cost_kind = ''priced'' OR cost_kind = ''reported'' OR cost_kind = ''unpriced'')')
          WHERE type = 'table' AND name = 'usage';
         PRAGMA writable_schema = OFF;
         CREATE TABLE schema_bump (x);
         DROP TABLE schema_bump;",
    ),
    // Records that say whether their job succeeded (metadata `success`): the
    // dashboard's cost per successful job reads these alone.
    Step::Sql(
        "CREATE INDEX usage_jobs ON usage (ts_ms) WHERE json_extract(metadata, '$.success') IS NOT NULL;",
    ),
    // Rebuilt both rollups; now done by the last step.
    Step::Sql(""),
    Step::Code(bound_the_totals),
    // Rebuilt both rollups; now done by the last step.
    Step::Sql(""),
    // The narrow ledger: a call's dimensions and repeated text as small ids
    // (366 bytes a call before, see `calls`). Converts to today's layout, so
    // such a ledger is rewritten once.
    Step::Long(super::calls::narrow),
    // Rebuilt both rollups; now done by the step that adds the machine.
    Step::Sql(""),
    // A 4-byte key and the rarely set fields in one column (136 bytes a call before).
    Step::Long(super::calls::compact),
    // The service tier, speed, region and web searches of a call (kept in `extras`).
    Step::Code(super::calls::recreate_view),
    // The audio and image tokens of a call (kept in `extras`).
    Step::Code(super::calls::recreate_view),
    // Budget state and price changes, for the live event stream (`tally serve`).
    Step::Sql(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL,
             kind TEXT NOT NULL, body TEXT NOT NULL);",
    ),
    // The machine that recorded each call (team sync); rollups rebuilt by
    // today's code, with it.
    Step::Code(super::calls::add_machine),
    // Team-wide policies mirrored from the team's server (by its key), the
    // team alerts taken from it (by the server's id, so each once), and the
    // team's shared price book as the server has it.
    Step::Sql(
        "ALTER TABLE policies ADD COLUMN team_uid TEXT;
         CREATE UNIQUE INDEX policies_by_team_uid ON policies (team_uid) WHERE team_uid IS NOT NULL;
         ALTER TABLE alerts ADD COLUMN team_id INTEGER;
         CREATE UNIQUE INDEX alerts_by_team_id ON alerts (team_id) WHERE team_id IS NOT NULL;
         CREATE TABLE team_prices (
             provider TEXT NOT NULL,
             model TEXT NOT NULL,
             effective_from TEXT NOT NULL,
             spec TEXT NOT NULL,
             version TEXT NOT NULL,
             PRIMARY KEY (provider, model, effective_from)
         );",
    ),
];

/// The ledger's bounds (see `rollup::add_to_bounds`), taken from the records;
/// and rollup sums SQLite had turned into REAL on an overflow (which made
/// every report fail) clamped back to integers, so such a ledger reads again.
fn bound_the_totals(tx: &Transaction) -> Result<(), StoreError> {
    use super::rollup::SUMMED;
    let columns: Vec<String> = SUMMED
        .iter()
        .map(|c| format!("{c} INTEGER NOT NULL DEFAULT 0"))
        .collect();
    tx.execute_batch(&format!(
        "CREATE TABLE ledger_bounds (id INTEGER PRIMARY KEY CHECK (id = 1), {});
         INSERT INTO ledger_bounds (id) VALUES (1);",
        columns.join(", ")
    ))?;
    for table in ["usage_daily", "usage_hourly"] {
        for c in SUMMED {
            tx.execute(
                &format!(
                    "UPDATE {table} SET {c} = CAST(max(min({c}, 9.2e18), -9.2e18) AS INTEGER)
                     WHERE typeof({c}) = 'real'"
                ),
                [],
            )?;
        }
    }
    // Records whose money an older Tally let overflow the totals: from the
    // one that passes what 64 bits hold, the amount is set aside (the call
    // stays, unpriced, saying why), so no sum over the records can fail.
    let mut sums = [0i128; 3];
    let mut set_aside = Vec::new();
    {
        let mut rows = tx
            .prepare("SELECT id, cost_nanos, billed_nanos, revenue_nanos FROM usage ORDER BY id")?;
        let mut q = rows.query([])?;
        while let Some(r) = q.next()? {
            let id: i64 = r.get(0)?;
            let amounts: [Option<i64>; 3] = [r.get(1)?, r.get(2)?, r.get(3)?];
            let next: Vec<i128> = sums
                .iter()
                .zip(amounts)
                .map(|(sum, a)| sum + a.map_or(0, |a| i128::from(a).abs()))
                .collect();
            if next.iter().any(|s| *s > i128::from(i64::MAX)) {
                set_aside.push(id);
            } else {
                sums.copy_from_slice(&next);
            }
        }
    }
    for id in set_aside {
        tx.execute(
            "UPDATE usage SET cost_kind = 'unpriced', cost_nanos = NULL, billed_nanos = NULL,
                 revenue_nanos = NULL, price_version = NULL,
                 unpriced_reason = 'its amount would take the ledger''s totals past what they can hold'
             WHERE id = ?1",
            [id],
        )?;
    }
    // TOTAL sums as a float, which cannot overflow; clamped to what fits.
    // One scan of the records for every column.
    let sums: Vec<String> = SUMMED
        .iter()
        .map(|c| {
            let total = match *c {
                "unpriced" => "TOTAL(cost_kind = 'unpriced')".to_string(),
                "records" => "COUNT(*)".to_string(),
                c => format!("TOTAL(abs({c}))"),
            };
            format!("CAST(min({total}, 9.2e18) AS INTEGER)")
        })
        .collect();
    tx.execute(
        &format!(
            "UPDATE ledger_bounds SET ({}) = (SELECT {} FROM usage) WHERE id = 1",
            SUMMED.join(", "),
            sums.join(", ")
        ),
        [],
    )?;
    Ok(())
}

/// Claude Code calls were keyed by `message id:request id`; a subagent's replay
/// of a message (another request id) imported in a later run was then counted
/// beside its parent. They are now keyed by the message id alone: each stored
/// call is rekeyed, and of two rows for one message the one with more tokens stays.
fn rekey_claude_messages(tx: &Transaction) -> Result<(), StoreError> {
    let rows: Vec<(i64, String)> = tx
        .prepare(
            "SELECT id, request_id FROM usage
             WHERE source = 'claude-code' AND request_id LIKE 'msg%:%'
             ORDER BY input + output + cache_read + cache_write_5m + cache_write_1h DESC, id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update =
        tx.prepare("UPDATE OR IGNORE usage SET request_id = ?2, dedupe_key = ?3 WHERE id = ?1")?;
    let mut delete = tx.prepare("DELETE FROM usage WHERE id = ?1")?;
    for (id, request) in rows {
        let message = request.split(':').next().unwrap_or(&request);
        let key = crate::core::usage::request_key("claude-code", message);
        if update.execute(rusqlite::params![id, message, &key[..]])? == 0 {
            delete.execute([id])?; // the message is already there, with as many tokens
        }
    }
    Ok(())
}

pub const VERSION: i64 = MIGRATIONS.len() as i64;

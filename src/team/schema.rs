//! The team's tables on the server, created and migrated by Tally like the
//! local ledger: numbered steps, applied in order under a lock, so machines
//! joining at once do not race; a server whose schema is newer than this
//! Tally knows is refused, not written to.

use postgres::Client;

use super::TeamError;

/// Each step takes the schema from its index to the next number.
const STEPS: &[&str] = &[
    // Calls by a key every machine computes alike (`UsageRecord::dedupe_key`):
    // `machine` recorded the call, `pushed_by` sent the revision kept, which
    // is the one with the highest `revision` (a reprice, a later snapshot),
    // unless its content (`digest`) is the same. `xid` is the transaction
    // that wrote the row: a pull reads the transactions finished before its
    // snapshot's oldest running one, so a row committed late by a slow
    // transaction is never skipped (see `sync::pull`).
    "CREATE TABLE tally_machines (
         name text PRIMARY KEY,
         ledger text NOT NULL,
         joined_at timestamptz NOT NULL DEFAULT now(),
         seen_at timestamptz NOT NULL DEFAULT now(),
         version text NOT NULL
     );
     CREATE TABLE tally_records (
         gkey bytea PRIMARY KEY,
         machine text NOT NULL,
         pushed_by text NOT NULL,
         revision bigint NOT NULL,
         digest bytea NOT NULL,
         xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
         ts_ms bigint NOT NULL,
         provider text NOT NULL,
         model text NOT NULL,
         user_name text NOT NULL,
         project text NOT NULL,
         agent text NOT NULL,
         source text NOT NULL,
         session text,
         request_id text,
         input bigint NOT NULL,
         output bigint NOT NULL,
         cache_read bigint NOT NULL,
         cache_write_5m bigint NOT NULL,
         cache_write_1h bigint NOT NULL,
         reasoning bigint NOT NULL,
         cost_kind smallint NOT NULL,
         cost_nanos bigint,
         price text,
         rest text
     );
     CREATE INDEX tally_records_by_xid ON tally_records (xid, gkey);",
    // Team-wide policies (the same on every machine), the rules their alerts
    // follow, which rules have fired in which window (the cooldown every
    // machine shares), the team's alerts (the first machine to see a
    // crossing claims it), the team's shared price book, the price each
    // machine has for the models it uses (where they differ is shown), and
    // who changed which policy.
    "CREATE TABLE tally_policies (
         uid text PRIMARY KEY,
         name text NOT NULL UNIQUE,
         body text NOT NULL,
         revision bigint NOT NULL DEFAULT 1,
         changed_by text NOT NULL,
         changed_at timestamptz NOT NULL DEFAULT now()
     );
     CREATE TABLE tally_rules (
         id serial PRIMARY KEY,
         trigger text NOT NULL,
         severity text NOT NULL,
         channels text NOT NULL,
         cooldown_s bigint NOT NULL
     );
     INSERT INTO tally_rules (trigger, severity, channels, cooldown_s) VALUES
         ('soft', 'warning', 'desktop,log', 3600),
         ('95', 'critical', 'desktop,log', 3600),
         ('100', 'critical', 'desktop,log', 3600),
         ('forecast', 'warning', 'desktop,log', 3600),
         ('anomaly', 'warning', 'desktop,log', 3600);
     CREATE TABLE tally_marks (
         policy_uid text NOT NULL,
         rule_id int NOT NULL,
         window_key bigint NOT NULL,
         at_ms bigint NOT NULL,
         superseded boolean NOT NULL,
         PRIMARY KEY (policy_uid, rule_id, window_key)
     );
     CREATE TABLE tally_alerts (
         id bigserial PRIMARY KEY,
         policy_uid text NOT NULL,
         policy_name text NOT NULL,
         claimed_by text NOT NULL,
         at_ms bigint NOT NULL,
         kind text NOT NULL,
         severity text NOT NULL,
         channels text NOT NULL,
         title text NOT NULL,
         body text NOT NULL,
         detail text NOT NULL,
         state text NOT NULL DEFAULT 'active',
         acked_by text,
         acked_ms bigint,
         resolved_ms bigint
     );
     CREATE TABLE tally_prices (
         provider text NOT NULL,
         model text NOT NULL,
         effective_from text NOT NULL,
         spec text NOT NULL,
         version text NOT NULL,
         set_by text NOT NULL,
         set_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (provider, model, effective_from)
     );
     CREATE TABLE tally_machine_prices (
         machine text NOT NULL,
         provider text NOT NULL,
         model text NOT NULL,
         digest text NOT NULL,
         summary text NOT NULL,
         PRIMARY KEY (machine, provider, model)
     );
     CREATE TABLE tally_audit (
         id bigserial PRIMARY KEY,
         at timestamptz NOT NULL DEFAULT now(),
         machine text NOT NULL,
         actor text NOT NULL,
         policy_uid text NOT NULL,
         policy_name text NOT NULL,
         action text NOT NULL,
         detail text NOT NULL
     );",
];

/// The schema this Tally writes.
pub const VERSION: i32 = STEPS.len() as i32;

/// Brings the server's schema up to `VERSION`, or says it is newer.
pub fn migrate(client: &mut Client) -> Result<i32, TeamError> {
    let mut tx = client.transaction()?;
    // One joiner at a time; the lock ends with the transaction.
    tx.execute("SELECT pg_advisory_xact_lock(7041993211)", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS tally_schema (
             id int PRIMARY KEY CHECK (id = 1),
             version int NOT NULL
         );
         INSERT INTO tally_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING;",
    )?;
    let found: i32 = tx
        .query_one("SELECT version FROM tally_schema WHERE id = 1", &[])?
        .get(0);
    if found > VERSION {
        return Err(TeamError::NewerSchema {
            found,
            known: VERSION,
        });
    }
    for step in &STEPS[found as usize..] {
        tx.batch_execute(step)?;
    }
    tx.execute(
        "UPDATE tally_schema SET version = $1 WHERE id = 1",
        &[&VERSION],
    )?;
    tx.commit()?;
    Ok(VERSION)
}

/// The server's schema version without changing it (0 when it has none).
pub fn version(client: &mut Client) -> Result<i32, TeamError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('tally_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one("SELECT version FROM tally_schema WHERE id = 1", &[])?
        .get(0))
}

//! Ledgers in the wide format of schema 16 (before the narrow ledger), from
//! `tests/data/v16/ledger.sqlite`: a real one written by that release.

use std::path::Path;

use rusqlite::Connection;

/// The schema-16 ledger written by the release before the narrow ledger.
pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v16/ledger.sqlite");

/// Copies the fixture to `path` and adds `calls` Claude Code calls as that
/// version stored them, with the rollups it kept; the fixture's 34 records stay.
pub fn grown_to(path: &Path, calls: u64) {
    std::fs::copy(FIXTURE, path).expect("copy the schema-16 fixture");
    let c = Connection::open(path).expect("the fixture");
    c.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO usage (dedupe_key, ts_ms, provider, model, user, project, agent, source,
             session, request_id, input, output, cache_read, cache_write_5m, cache_write_1h,
             reasoning, images, embedding_tokens, cost_kind, cost_nanos, price_version,
             metadata, created_ms, requests)
         SELECT randomblob(16), 1763000000000 + i * 1000, 'anthropic', 'claude-sonnet-4-5',
             'ana', 'web', 'claude-code', 'claude-code', 'sess-' || (i / 500),
             'msg_bulk_' || i, i % 900, i % 300, i % 9000, 0, 0, 0, 0, 0, 'priced', i * 1000,
             'shipped 2026-11-22', '{\"git_branch\":\"main\"}', 0, 1
         FROM n",
        [calls as i64],
    )
    .expect("grow the fixture");
    // The rollups follow the records, as that version kept them (the
    // fixture's zone is UTC, so its days are UTC days).
    let sums = "SUM(requests), SUM(input), SUM(output), SUM(cache_read), SUM(cache_write_5m),
        SUM(cache_write_1h), SUM(reasoning), SUM(images), SUM(embedding_tokens),
        coalesce(SUM(cost_nanos), 0), SUM(cost_nanos IS NULL), coalesce(SUM(billed_nanos), 0),
        coalesce(SUM(revenue_nanos), 0), COUNT(*)";
    let dims = "provider, model, user, project, agent, source";
    c.execute_batch(&format!(
        "DELETE FROM usage_daily;
         INSERT INTO usage_daily SELECT date(ts_ms / 1000, 'unixepoch'), {dims}, {sums}
             FROM usage GROUP BY 1, 2, 3, 4, 5, 6, 7;
         DELETE FROM usage_hourly;
         INSERT INTO usage_hourly SELECT ts_ms / 3600000 * 3600000, {dims}, {sums}
             FROM usage GROUP BY 1, 2, 3, 4, 5, 6, 7;"
    ))
    .expect("rollups");
}

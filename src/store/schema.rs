//! Schema migrations, applied in order and counted by `PRAGMA user_version`.
//! A migration is never edited once released; a change is a new migration.

use rusqlite::Transaction;

use super::StoreError;

pub enum Step {
    Sql(&'static str),
    /// For work SQL cannot do, such as computing local days in an IANA zone.
    Code(fn(&Transaction) -> Result<(), StoreError>),
}

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
    Step::Code(super::rollup::rebuild_all),
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
];

pub const VERSION: i64 = MIGRATIONS.len() as i64;

//! How calls are stored: one narrow row per call in `calls`, its dimensions
//! (provider, model, user, project, agent, source, machine) as one id into `dims`, its
//! repeated text (session, price version or why unpriced, metadata) as ids
//! into `names`, and the fields few calls set (task, images, embeddings, a
//! request count other than one, billed and revenue amounts) as one JSON
//! object in `extras`, NULL for most. The view `usage` shows the calls as every
//! reader knows them, so queries are written against it.
//!
//! A call is deduplicated by 4 bytes of its 16-byte key under a unique index.
//! Two calls whose 4 bytes agree are told apart by their source and request
//! id when they have one, else by 8 more bytes of the key in `key_check`; the
//! second of such a pair takes the next free key. Calls are never deleted, so
//! a key's chain has no gaps.

use foldhash::HashMap;

use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use crate::core::usage::MediaTokens;

/// The tables and view of the ledger's calls (the layout of schema 19; see
/// `compact` for the one before). The indexes come after the rows when a
/// ledger is converted: built once from sorted keys instead of grown one
/// random key at a time.
pub(super) const DIMS: &str = "
    CREATE TABLE dims (
        id INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        user TEXT NOT NULL,
        project TEXT NOT NULL,
        agent TEXT NOT NULL,
        source TEXT NOT NULL,
        -- the team member's machine that recorded the call
        machine TEXT NOT NULL DEFAULT '',
        UNIQUE (provider, model, user, project, agent, source, machine)
    );";
pub(super) const NAMES: &str =
    "CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);";

/// `calls` (every column is a byte of each row's header, hence `extras`); the
/// dims and names ids need no foreign keys, as their rows are never deleted
/// (and the checks would cost every insert).
const CALLS: &str = "
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        key INTEGER NOT NULL,
        -- 0 for a call with a request id, which is compared instead
        key_check INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        dims INTEGER NOT NULL,
        session INTEGER,
        request_id TEXT,
        input INTEGER NOT NULL CHECK (input >= 0),
        output INTEGER NOT NULL CHECK (output >= 0),
        cache_read INTEGER NOT NULL CHECK (cache_read >= 0),
        cache_write_5m INTEGER NOT NULL CHECK (cache_write_5m >= 0),
        cache_write_1h INTEGER NOT NULL CHECK (cache_write_1h >= 0),
        reasoning INTEGER NOT NULL CHECK (reasoning >= 0),
        -- 0 priced, 1 reported, 2 unpriced (COST_KINDS)
        cost_kind INTEGER NOT NULL CHECK (cost_kind >= 0 AND cost_kind <= 2),
        cost_nanos INTEGER,
        -- the price version of a priced call, the reason of an unpriced one
        price INTEGER,
        metadata INTEGER,
        -- 1 when the metadata says whether the call's job succeeded
        job INTEGER,
        extras TEXT CHECK (extras IS NULL OR json_valid(extras)),
        CHECK ((cost_kind = 2) = (cost_nanos IS NULL))
    );";

/// Each name is looked up where a query uses it (SQLite leaves out a view's
/// columns a query does not name, but not its joins): a count or a sum by
/// model reads the calls and their dimensions alone. An extra is read only
/// from a call that has any.
const VIEW: &str = "
    CREATE VIEW usage AS
    SELECT c.id, c.ts_ms, d.provider, d.model, d.user, d.project, d.agent, d.source,
           d.machine,
           (SELECT name FROM names WHERE id = c.session) AS session,
           c.request_id,
           iif(c.extras IS NULL, NULL, c.extras ->> '$.task') AS task,
           c.input, c.output, c.cache_read, c.cache_write_5m, c.cache_write_1h, c.reasoning,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.images', 0)) AS images,
           iif(c.extras IS NULL, NULL, c.extras ->> '$.image_size') AS image_size,
           iif(c.extras IS NULL, NULL, c.extras ->> '$.image_quality') AS image_quality,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.embedding_tokens', 0))
               AS embedding_tokens,
           CASE c.cost_kind WHEN 0 THEN 'priced' WHEN 1 THEN 'reported' ELSE 'unpriced' END
               AS cost_kind,
           c.cost_nanos,
           CASE WHEN c.cost_kind = 0 THEN (SELECT name FROM names WHERE id = c.price) END
               AS price_version,
           CASE WHEN c.cost_kind = 2 THEN (SELECT name FROM names WHERE id = c.price) END
               AS unpriced_reason,
           iif(c.extras IS NULL, NULL, c.extras ->> '$.billed_nanos') AS billed_nanos,
           iif(c.extras IS NULL, NULL, c.extras ->> '$.revenue_nanos') AS revenue_nanos,
           (SELECT name FROM names WHERE id = c.metadata) AS metadata,
           iif(c.extras IS NULL, 1, coalesce(c.extras ->> '$.requests', 1)) AS requests,
           iif(c.extras IS NULL, 'standard', coalesce(c.extras ->> '$.service_tier', 'standard'))
               AS service_tier,
           iif(c.extras IS NULL, 'standard', coalesce(c.extras ->> '$.speed', 'standard'))
               AS speed,
           iif(c.extras IS NULL, NULL, c.extras ->> '$.region') AS region,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.web_searches', 0)) AS web_searches,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.audio_input', 0)) AS audio_input,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.audio_cache_read', 0))
               AS audio_cache_read,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.audio_output', 0)) AS audio_output,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.image_input', 0)) AS image_input,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.image_cache_read', 0))
               AS image_cache_read,
           iif(c.extras IS NULL, 0, coalesce(c.extras ->> '$.image_output', 0)) AS image_output
    FROM calls c JOIN dims d ON d.id = c.dims;";

/// Shows the calls with the view of today's `usage` (a new column is a new view).
pub(super) fn recreate_view(tx: &Transaction) -> Result<(), StoreError> {
    tx.execute_batch("DROP VIEW IF EXISTS usage;")?;
    create_view(tx)
}

/// The view, on a ledger whose `dims` may be from before the machine (a
/// conversion step that `add_machine` follows).
fn create_view(tx: &Transaction) -> Result<(), StoreError> {
    if has_machine(tx)? {
        Ok(tx.execute_batch(VIEW)?)
    } else {
        Ok(tx.execute_batch(&VIEW.replace("d.machine,", "'' AS machine,"))?)
    }
}

/// Gives every call the machine that recorded it (`''`, this one, for the
/// calls there are): `dims` gains the column, in its unique key, and the
/// rollups are made again with it.
pub(super) fn add_machine(tx: &Transaction) -> Result<(), StoreError> {
    // Dropped first: renaming a table checks every view that names it.
    tx.execute_batch("DROP VIEW IF EXISTS usage;")?;
    if !has_machine(tx)? {
        tx.execute_batch("ALTER TABLE dims RENAME TO dims_before_machine;")?;
        tx.execute_batch(DIMS)?;
        tx.execute_batch(
            "INSERT INTO dims (id, provider, model, user, project, agent, source)
                 SELECT id, provider, model, user, project, agent, source FROM dims_before_machine;
             DROP TABLE dims_before_machine;",
        )?;
    }
    tx.execute_batch(VIEW)?;
    super::rollup::recreate_tables(tx)?;
    super::rollup::rebuild_both(tx)
}

fn has_machine(tx: &Transaction) -> Result<bool, StoreError> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('dims') WHERE name = 'machine')",
        [],
        |r| r.get(0),
    )?)
}

/// The indexes on `calls`; the key's is unique.
pub(super) const KEY_INDEX: &str = "CREATE UNIQUE INDEX calls_by_key ON calls (key)";
pub(super) const OTHER_INDEXES: &str = "
    CREATE INDEX calls_by_time ON calls (ts_ms);
    CREATE INDEX calls_unpriced ON calls (dims) WHERE cost_kind = 2;
    CREATE INDEX calls_jobs ON calls (ts_ms) WHERE job IS NOT NULL;";

/// `cost_kind` as stored, by its name in the `usage` view.
pub(super) const PRICED: i64 = 0;
pub(super) const REPORTED: i64 = 1;
pub(super) const UNPRICED: i64 = 2;

/// A call's key as stored: the first 4 bytes of its dedupe key, and, for a
/// call without a request id, 8 more to tell it apart from another whose
/// first 4 agree.
pub(super) fn stored_key(key: &[u8; 16], has_request_id: bool) -> (i64, i64) {
    let mut first = [0u8; 4];
    first.copy_from_slice(&key[..4]);
    let mut check = [0u8; 8];
    check.copy_from_slice(&key[4..12]);
    let check = if has_request_id {
        0
    } else {
        i64::from_le_bytes(check)
    };
    (i64::from(i32::from_le_bytes(first)), check)
}

/// The fields few calls set, as `extras` holds them: JSON with only those
/// that differ from their default (none: NULL).
pub(super) struct Extras<'a> {
    pub task: Option<&'a str>,
    pub images: i64,
    pub image_size: Option<&'a str>,
    pub image_quality: Option<&'a str>,
    pub embedding_tokens: i64,
    pub requests: i64,
    pub billed_nanos: Option<i64>,
    pub revenue_nanos: Option<i64>,
    /// The service tier and speed by name, none when standard.
    pub service_tier: Option<&'a str>,
    pub speed: Option<&'a str>,
    pub region: Option<&'a str>,
    pub web_searches: i64,
    pub media: MediaTokens,
}

impl Extras<'_> {
    /// In the order `compact` writes them (by name), so either gives the same text.
    pub fn json(&self) -> Option<String> {
        use serde_json::Value;
        let mut map = serde_json::Map::new();
        let mut put = |name: &str, v: Option<Value>| {
            if let Some(v) = v {
                map.insert(name.into(), v);
            }
        };
        let count = |n: u64| (n != 0).then(|| Value::from(n));
        let (a, i) = (&self.media.audio, &self.media.image);
        put("audio_cache_read", count(a.cache_read));
        put("audio_input", count(a.input));
        put("audio_output", count(a.output));
        put("billed_nanos", self.billed_nanos.map(Value::from));
        put(
            "embedding_tokens",
            (self.embedding_tokens != 0).then(|| self.embedding_tokens.into()),
        );
        put("image_cache_read", count(i.cache_read));
        put("image_input", count(i.input));
        put("image_output", count(i.output));
        put("image_quality", self.image_quality.map(Value::from));
        put("image_size", self.image_size.map(Value::from));
        put("images", (self.images != 0).then(|| self.images.into()));
        put("region", self.region.map(Value::from));
        put(
            "requests",
            (self.requests != 1).then(|| self.requests.into()),
        );
        put("revenue_nanos", self.revenue_nanos.map(Value::from));
        put("service_tier", self.service_tier.map(Value::from));
        put("speed", self.speed.map(Value::from));
        put("task", self.task.map(Value::from));
        put(
            "web_searches",
            (self.web_searches != 0).then(|| self.web_searches.into()),
        );
        (!map.is_empty()).then(|| Value::Object(map).to_string())
    }
}

/// Where a call with this key is, or where it would go.
pub(super) enum Slot {
    /// Stored already, as this row.
    Taken(i64),
    /// Not stored; this is the key it gets.
    Free(i64),
}

/// What tells a call from another under the same stored key.
pub(super) enum Identity<'a> {
    /// Its source and request id.
    Request { source: &'a str, id: &'a str },
    /// Its `key_check`.
    Content(i64),
}

/// Follows `key`'s chain: the row holding the call `identity` names, or the
/// first key past the chain.
pub(super) fn find(conn: &Connection, key: i64, identity: &Identity) -> Result<Slot, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.key_check, c.request_id, d.source
         FROM calls c JOIN dims d ON d.id = c.dims WHERE c.key = ?1",
    )?;
    let mut k = key;
    // Of a million calls, some 116 pairs share their 4 key bytes (n²/2³³), so
    // chains are short; one of 64 would mean a broken ledger.
    for _ in 0..64 {
        let row = stmt
            .query_row([k], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?;
        let Some((id, check, request_id, source)) = row else {
            return Ok(Slot::Free(k));
        };
        let same = match identity {
            Identity::Request { source: s, id: r } => {
                request_id.as_deref() == Some(*r) && source == *s
            }
            Identity::Content(c) => request_id.is_none() && check == *c,
        };
        if same {
            return Ok(Slot::Taken(id));
        }
        k = k.wrapping_add(1);
    }
    Err(StoreError::Corrupt(format!(
        "more than 64 calls share the key {key}"
    )))
}

/// provider, model, user, project, agent, source, machine
type Dims = [Box<str>; 7];

/// How many names an `Interner` remembers at most.
const MAX_REMEMBERED: usize = 65_536;

/// Interned ids for the text of the calls one transaction writes. Held only
/// for that transaction: an id it made is gone if the transaction rolls back.
#[derive(Default)]
pub(super) struct Interner {
    names: HashMap<Box<str>, i64>,
    /// The dimensions seen, with their ids.
    dims: Vec<(Dims, i64)>,
    /// By the hash of the seven dimensions: where in `dims` the tuples with it are.
    dims_by_hash: HashMap<u64, Vec<usize>>,
    /// The last record's metadata and its id: an agent's calls in a row
    /// mostly carry the same, which is then neither written out nor looked up.
    last_metadata: Option<(serde_json::Map<String, serde_json::Value>, i64)>,
    /// Where in `dims` the last record's dimensions are, for the same reason.
    last_dims: Option<usize>,
}

impl Interner {
    /// The id of `name` in `names`, added if new.
    pub fn name(
        &mut self,
        conn: &Connection,
        name: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        let Some(name) = name else { return Ok(None) };
        if let Some(id) = self.names.get(name) {
            return Ok(Some(*id));
        }
        // Text that is new on most records (metadata with a request's own
        // values) would make this hold the whole ledger's while converting it:
        // past a bound it starts over, and the names index answers.
        if self.names.len() >= MAX_REMEMBERED {
            self.names.clear();
        }
        let id = intern(
            conn.prepare_cached("SELECT id FROM names WHERE name = ?1")?,
            conn.prepare_cached("INSERT INTO names (name) VALUES (?1)")?,
            conn,
            [name],
        )?;
        self.names.insert(name.into(), id);
        Ok(Some(id))
    }

    /// The id of a record's metadata (as JSON text) in `names`; none if empty.
    pub fn metadata(
        &mut self,
        conn: &Connection,
        map: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<i64>, StoreError> {
        if map.is_empty() {
            return Ok(None);
        }
        if let Some((last, id)) = &self.last_metadata
            && last == map
        {
            return Ok(Some(*id));
        }
        let text = serde_json::to_string(map).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = self.name(conn, Some(&text))?.unwrap_or_default();
        self.last_metadata = Some((map.clone(), id));
        Ok(Some(id))
    }

    /// The id of these dimensions (provider, model, user, project, agent,
    /// source, machine) in `dims`, added if new.
    pub fn dims(&mut self, conn: &Connection, dims: [&str; 7]) -> Result<i64, StoreError> {
        let same = |known: &Dims| known.iter().zip(dims).all(|(a, b)| &**a == b);
        if let Some(last) = self.last_dims
            && same(&self.dims[last].0)
        {
            return Ok(self.dims[last].1);
        }
        use std::hash::BuildHasher;
        let hash = foldhash::fast::FixedState::default().hash_one(dims);
        let found = self
            .dims_by_hash
            .get(&hash)
            .and_then(|at| at.iter().find(|&&i| same(&self.dims[i].0)));
        let at = match found {
            Some(&at) => at,
            None => {
                let id = intern(
                    conn.prepare_cached(
                        "SELECT id FROM dims WHERE provider = ?1 AND model = ?2 AND user = ?3
                             AND project = ?4 AND agent = ?5 AND source = ?6 AND machine = ?7",
                    )?,
                    conn.prepare_cached(
                        "INSERT INTO dims (provider, model, user, project, agent, source, machine)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?,
                    conn,
                    dims,
                )?;
                self.dims.push((dims.map(Box::from), id));
                let at = self.dims.len() - 1;
                self.dims_by_hash.entry(hash).or_default().push(at);
                at
            }
        };
        self.last_dims = Some(at);
        Ok(self.dims[at].1)
    }
}

fn intern<P: rusqlite::Params + Copy>(
    mut find: CachedStatement,
    mut add: CachedStatement,
    conn: &Connection,
    values: P,
) -> Result<i64, StoreError> {
    if let Some(id) = find.query_row(values, |r| r.get(0)).optional()? {
        return Ok(id);
    }
    add.execute(values)?;
    Ok(conn.last_insert_rowid())
}

/// Converts a ledger's wide `usage` table (schema 16) into today's tables,
/// keeping every record's id, in one transaction: a kill leaves the old ledger
/// as it was. `progress` gets the fraction done.
pub(super) fn narrow(tx: &Transaction, progress: &mut dyn FnMut(f64)) -> Result<(), StoreError> {
    tx.execute_batch("ALTER TABLE usage RENAME TO usage_wide;")?;
    tx.execute_batch(DIMS)?;
    tx.execute_batch(NAMES)?;
    tx.execute_batch(CALLS)?;
    create_view(tx)?;
    let total: i64 = tx.query_row("SELECT COUNT(*) FROM usage_wide", [], |r| r.get(0))?;
    let mut interner = Interner::default();
    let mut read = tx.prepare(
        "SELECT id, dedupe_key, ts_ms, provider, model, user, project, agent, source, session,
                request_id, task, input, output, cache_read, cache_write_5m, cache_write_1h,
                reasoning, images, image_size, image_quality, embedding_tokens, requests,
                cost_kind, cost_nanos, price_version, unpriced_reason, billed_nanos,
                revenue_nanos, metadata, json_extract(metadata, '$.success') IS NOT NULL
         FROM usage_wide ORDER BY id",
    )?;
    let mut write = tx.prepare(
        "INSERT INTO calls (id, key, key_check, ts_ms, dims, session, request_id, input, output,
             cache_read, cache_write_5m, cache_write_1h, reasoning, cost_kind, cost_nanos, price,
             metadata, job, extras)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19)",
    )?;
    let mut rows = read.query([])?;
    let mut done = 0i64;
    while let Some(r) = rows.next()? {
        let blob: Vec<u8> = r.get(1)?;
        let mut key = [0u8; 16];
        let n = blob.len().min(16);
        key[..n].copy_from_slice(&blob[..n]);
        let request_id: Option<String> = r.get(10)?;
        let (key, check) = stored_key(&key, request_id.is_some());
        let dims: [String; 7] = [
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            String::new(),
        ];
        let dims = interner.dims(tx, dims.each_ref().map(String::as_str))?;
        let mut name = |i: usize| -> Result<Option<i64>, StoreError> {
            let text: Option<String> = r.get(i)?;
            interner.name(tx, text.as_deref())
        };
        let session = name(9)?;
        let kind: String = r.get(23)?;
        let (kind, price) = match kind.as_str() {
            "priced" => (PRICED, name(25)?),
            "reported" => (REPORTED, None),
            _ => (UNPRICED, name(26)?),
        };
        let metadata = name(29)?;
        let job: bool = r.get(30)?;
        let (task, image_size, image_quality): (Option<String>, Option<String>, Option<String>) =
            (r.get(11)?, r.get(19)?, r.get(20)?);
        let extras = Extras {
            task: task.as_deref(),
            images: r.get(18)?,
            image_size: image_size.as_deref(),
            image_quality: image_quality.as_deref(),
            embedding_tokens: r.get(21)?,
            requests: r.get(22)?,
            billed_nanos: r.get(27)?,
            revenue_nanos: r.get(28)?,
            service_tier: None,
            speed: None,
            region: None,
            web_searches: 0,
            media: MediaTokens::default(),
        };
        write.execute(params![
            r.get::<_, i64>(0)?,
            key,
            check,
            r.get::<_, i64>(2)?,
            dims,
            session,
            request_id,
            r.get::<_, i64>(12)?,
            r.get::<_, i64>(13)?,
            r.get::<_, i64>(14)?,
            r.get::<_, i64>(15)?,
            r.get::<_, i64>(16)?,
            r.get::<_, i64>(17)?,
            kind,
            r.get::<_, Option<i64>>(24)?,
            price,
            metadata,
            job.then_some(1),
            extras.json(),
        ])?;
        done += 1;
        if done % 16_384 == 0 {
            progress(0.8 * done as f64 / total.max(1) as f64);
        }
    }
    drop(rows);
    progress(0.8);
    index(tx)?;
    tx.execute_batch("DROP TABLE usage_wide;")?;
    progress(1.0);
    Ok(())
}

/// Builds the indexes of `calls`, once its rows are in.
fn index(tx: &Transaction) -> Result<(), StoreError> {
    if let Err(e) = tx.execute_batch(KEY_INDEX) {
        if e.sqlite_error_code() != Some(rusqlite::ErrorCode::ConstraintViolation) {
            return Err(e.into());
        }
        // Looking for free keys without an index read every row for each
        // key moved: hours for ten million calls (some 11,600 shared keys).
        tx.execute_batch("CREATE INDEX calls_shared_keys ON calls (key)")?;
        separate_shared_keys(tx)?;
        tx.execute_batch("DROP INDEX calls_shared_keys;")?;
        tx.execute_batch(KEY_INDEX)?;
    }
    Ok(tx.execute_batch(OTHER_INDEXES)?)
}

/// Converts the calls of schema 17 (an 8-byte key with 4 bytes to check,
/// and a column for each rarely set field) to today's: 4 bytes of key under
/// the index, the call's request id compared instead of a check where it
/// has one, the rare fields in `extras`; 136 bytes a call become 117. A
/// ledger that `narrow` converted since is in today's layout already.
pub(super) fn compact(tx: &Transaction, progress: &mut dyn FnMut(f64)) -> Result<(), StoreError> {
    let old: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('calls') WHERE name = 'images')",
        [],
        |r| r.get(0),
    )?;
    if !old {
        return Ok(());
    }
    tx.execute_batch(
        "DROP VIEW usage;
         DROP INDEX calls_by_key; DROP INDEX calls_by_time;
         DROP INDEX calls_unpriced; DROP INDEX calls_jobs;
         ALTER TABLE calls RENAME TO calls_17;",
    )?;
    tx.execute_batch(CALLS)?;
    create_view(tx)?;
    let last: i64 = tx.query_row("SELECT coalesce(MAX(id), 0) FROM calls_17", [], |r| {
        r.get(0)
    })?;
    // The key's first 4 bytes are the low half of the 8 stored; the check's
    // 8 are the 4 after them and the old check. The extras by name, as
    // `Extras::json` writes them (a null member of a JSON patch is left out).
    let mut copy = tx.prepare(
        "INSERT INTO calls (id, key, key_check, ts_ms, dims, session, request_id, input, output,
             cache_read, cache_write_5m, cache_write_1h, reasoning, cost_kind, cost_nanos, price,
             metadata, job, extras)
         SELECT id, (key << 32) >> 32,
             iif(request_id IS NULL, ((key >> 32) & 4294967295) | (key_check << 32), 0),
             ts_ms, dims, session, request_id, input, output, cache_read, cache_write_5m,
             cache_write_1h, reasoning, cost_kind, cost_nanos, price, metadata, job,
             iif(task IS NULL AND images = 0 AND image_size IS NULL AND image_quality IS NULL
                     AND embedding_tokens = 0 AND requests = 1 AND billed_nanos IS NULL
                     AND revenue_nanos IS NULL,
                 NULL,
                 json_patch('{}', json_object(
                     'billed_nanos', billed_nanos,
                     'embedding_tokens', nullif(embedding_tokens, 0),
                     'image_quality', (SELECT name FROM names WHERE id = image_quality),
                     'image_size', (SELECT name FROM names WHERE id = image_size),
                     'images', nullif(images, 0),
                     'requests', nullif(requests, 1),
                     'revenue_nanos', revenue_nanos,
                     'task', (SELECT name FROM names WHERE id = task))))
         FROM calls_17 WHERE id > ?1 AND id <= ?2",
    )?;
    const STRIDE: i64 = 65_536;
    let mut from = 0;
    while from < last {
        copy.execute([from, from + STRIDE])?;
        from += STRIDE;
        progress(0.8 * from.min(last) as f64 / last as f64);
    }
    drop(copy);
    tx.execute_batch("DROP TABLE calls_17;")?;
    progress(0.8);
    index(tx)?;
    progress(1.0);
    Ok(())
}

/// Calls whose stored keys agree (different calls): all but the first move
/// along the chain, as an insert would have put them.
fn separate_shared_keys(tx: &Transaction) -> Result<(), StoreError> {
    let shared: Vec<(i64, i64)> = tx
        .prepare(
            "SELECT id, key FROM calls WHERE key IN (SELECT key FROM calls GROUP BY key HAVING COUNT(*) > 1)
             ORDER BY key, id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut last = None;
    for (id, key) in shared {
        if last == Some(key) {
            let mut k = key;
            loop {
                k = k.wrapping_add(1);
                let taken: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM calls WHERE key = ?1)",
                    [k],
                    |r| r.get(0),
                )?;
                if !taken {
                    break;
                }
            }
            tx.execute("UPDATE calls SET key = ?2 WHERE id = ?1", [id, k])?;
        }
        last = Some(key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_its_id_after_the_interner_forgets_it() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(DIMS).unwrap();
        conn.execute_batch(NAMES).unwrap();
        let mut names = Interner::default();
        let first = names.name(&conn, Some("first")).unwrap();
        for i in 0..MAX_REMEMBERED + 10 {
            names.name(&conn, Some(&format!("n{i}"))).unwrap();
        }
        assert!(names.names.len() < MAX_REMEMBERED, "it started over");
        assert_eq!(names.name(&conn, Some("first")).unwrap(), first);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM names", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows as usize, MAX_REMEMBERED + 11, "each name once");
    }

    #[test]
    fn the_same_dimensions_get_one_id() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(DIMS).unwrap();
        conn.execute_batch(NAMES).unwrap();
        let mut interner = Interner::default();
        let a = ["openai", "gpt-4o", "ana", "web", "", "cli", ""];
        let b = ["openai", "gpt-4o", "ana", "web", "", "csv", ""];
        let c = ["openai", "gpt-4o", "ana", "web", "", "csv", "laptop"];
        let ids = [a, b, a, b, c].map(|d| interner.dims(&conn, d).unwrap());
        assert_eq!(ids[0], ids[2]);
        assert_eq!(ids[1], ids[3]);
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[4], "another machine, other dimensions");
        // A new interner (the next transaction) finds them in the table.
        assert_eq!(Interner::default().dims(&conn, b).unwrap(), ids[1]);
    }

    #[test]
    fn extras_hold_only_what_differs_from_the_defaults() {
        let none = Extras {
            task: None,
            images: 0,
            image_size: None,
            image_quality: None,
            embedding_tokens: 0,
            requests: 1,
            billed_nanos: None,
            revenue_nanos: None,
            service_tier: None,
            speed: None,
            region: None,
            web_searches: 0,
            media: MediaTokens::default(),
        };
        assert_eq!(none.json(), None);
        let mut media = MediaTokens::default();
        media.audio.output = 7;
        media.image.input = 3;
        let some = Extras {
            task: Some("a \"quoted\" task"),
            requests: 0,
            billed_nanos: Some(-5),
            media,
            ..none
        };
        assert_eq!(
            some.json().as_deref(),
            Some(
                r#"{"audio_output":7,"billed_nanos":-5,"image_input":3,"requests":0,"task":"a \"quoted\" task"}"#
            )
        );
    }
}

//! The ledger: one SQLite file (WAL, busy timeout, foreign keys), migrated by
//! `user_version`. Every writer goes through here, so every record is deduplicated
//! and rolled up the same way whichever process wrote it.

mod alerts;
mod backup;
mod calls;
mod feed;
mod health;
mod history;
mod imports;
mod integrity;
mod policies;
mod prices;
mod queries;
pub mod rollup;
pub mod schema;
mod spend;
pub mod team;
mod team_policies;
mod write;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use alerts::{Alert, AlertState, Delivery, NewAlert};
pub use backup::BackupError;
pub use feed::{StoredEvent, TWIN_WINDOW_MS};
pub use health::Health;
pub use history::{HistoryFilter, HistoryPage, HistoryRow, RawRecord};
pub use imports::FileState;
pub use policies::{AuditEntry, PolicyStoreError, describe as describe_policy};
pub use prices::StoredPrice;
pub use queries::{UnpricedModel, UsageQuery, UsageRow};
pub use spend::{HISTORY_DAYS, PolicySpend};
pub use team_policies::{Mirrored, TeamAlertState};
pub use write::{BatchOutcome, Inserted, RepriceOutcome, cost_columns};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("time error: {0}")]
    Time(#[from] jiff::Error),
    #[error("cannot create the ledger folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "this would take the ledger's totals past what it can hold exactly (about 9.2 billion dollars, or 9.2 quintillion tokens or calls): nothing was written"
    )]
    TooLarge,
    #[error("cannot create the ledger {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the ledger {path} was written by a newer Tally (schema version {found}, this one knows {known}); update Tally"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the ledger holds an invalid value: {0}")]
    Corrupt(String),
    #[error(
        "the ledger {path} is damaged ({}): nothing was written to it. `tally doctor` says more; restore it from a backup with `tally restore FILE` or in the app (Preferences → Ledger → Restore)",
        problems.first().map_or("", String::as_str)
    )]
    Damaged {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error(
        "the ledger {path} is at schema version {found} and this Tally reads {known}; it needs updating, which needs writing to it"
    )]
    NeedsUpdate {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

impl StoreError {
    /// Whether the ledger can still be read, read-only: it is damaged (found
    /// so by a check, or by a read that failed), or this user or its folder
    /// cannot write to it.
    pub fn allows_reading(&self) -> bool {
        use rusqlite::ErrorCode::{CannotOpen, DatabaseCorrupt, ReadOnly};
        match self {
            StoreError::Damaged { .. } => true,
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(ReadOnly | CannotOpen | DatabaseCorrupt)
            ),
            StoreError::File { source, .. } | StoreError::Folder { source, .. } => {
                source.kind() == std::io::ErrorKind::PermissionDenied
            }
            _ => false,
        }
    }
}

/// Why a ledger was opened read-only.
#[derive(Clone, Debug)]
pub enum ReadOnly {
    /// SQLite's quick check found these problems.
    Damaged(Vec<String>),
    /// This user or the folder cannot write to it.
    NotWritable,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    zone: TimeZone,
    /// Past days of the rollup, kept between budget evaluations of a long-lived
    /// process (the app, a watcher); see `spend::PastDays`.
    past_days: std::cell::RefCell<Option<spend::PastDays>>,
    /// The ledger file as this process last saw it sound (`integrity`).
    seen: Option<String>,
    /// Opened with its due check left to the caller (`open_check_later`).
    unchecked: bool,
    read_only: Option<ReadOnly>,
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The WAL size (in pages) past which a commit copies it back into the ledger.
const WAL_PAGES: i64 = 128;
/// The same during a bulk write: 256 MiB of 4 KiB pages.
const BULK_WAL_PAGES: i64 = 65_536;

/// A process that opens the ledger with no other connection open trusts no
/// checkpoint made before (SQLite rebuilds its index of the WAL): it copies
/// the whole WAL back again and never starts it over, so with no checkpoint
/// on close the WAL grew by every `tally record` and each one read it all.
/// A connection that leaves the WAL long therefore empties it on its way out,
/// unless someone is reading it right now (then it is not waited for: that
/// connection keeps the WAL's index warm and the next checkpoint restarts it).
/// A writer then notes the file as it leaves it (see `integrity`).
impl Drop for Store {
    fn drop(&mut self) {
        if self.read_only.is_some() {
            return;
        }
        if self.wal_is_long() {
            let _ = self.conn.busy_timeout(Duration::ZERO);
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        if !self.unchecked {
            integrity::note(&self.path, &mut self.seen);
        }
    }
}

impl Store {
    /// Opens (creating if needed) the ledger at `path` and brings its schema
    /// up to date. A ledger changed while no Tally had it open has its pages
    /// checked first, and a damaged one is refused (`open_read_only` reads it).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Self::open_checking(path, true, &mut |_| {})?.0)
    }

    /// As `open`, telling `progress` the fraction done while an older ledger
    /// is rewritten into this version's format (`needs_rewrite`).
    pub fn open_updating(path: &Path, progress: &mut dyn FnMut(f64)) -> Result<Store, StoreError> {
        Ok(Self::open_checking(path, true, progress)?.0)
    }

    /// As `open`, but a check that is due is left to the caller, who says
    /// true is returned then: the app runs it off its main loop (6.6 s for
    /// ten million calls) and hands the result to `checked`.
    pub fn open_check_later(path: &Path) -> Result<(Store, bool), StoreError> {
        Self::open_checking(path, false, &mut |_| {})
    }

    /// SQLite's quick check of the ledger at `path`, on a connection of its
    /// own: what it found wrong, empty if nothing.
    pub fn check_pages(path: &Path) -> Result<Vec<String>, StoreError> {
        integrity::check_file(path)
    }

    /// Takes the result of a check `open_check_later` left due: a sound
    /// ledger is noted as seen, a damaged one is written to no more.
    pub fn checked(&mut self, problems: Vec<String>) {
        self.unchecked = false;
        if problems.is_empty() {
            integrity::note(&self.path, &mut self.seen);
        } else {
            self.stop_writing();
            self.read_only = Some(ReadOnly::Damaged(problems));
        }
    }

    /// Makes this connection refuse every write from now on (a restore
    /// lifts it).
    pub fn stop_writing(&self) {
        if let Err(e) = self.conn.pragma_update(None, "query_only", true) {
            tracing::warn!("cannot stop writing to the damaged ledger: {e}");
        }
    }

    fn open_checking(
        path: &Path,
        check_now: bool,
        progress: &mut dyn FnMut(f64),
    ) -> Result<(Store, bool), StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private::create_folders(dir).map_err(|source| StoreError::Folder {
                path: dir.into(),
                source,
            })?;
        }
        // The ledger is the user's alone; SQLite makes its -wal and -shm with
        // the ledger's mode.
        match crate::private::create_new(path, crate::private::FILE_MODE) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::File {
                    path: path.into(),
                    source,
                });
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            crate::private::tighten(&beside(path, suffix));
        }
        let seen = integrity::as_seen(path);
        let due = seen.is_none();
        if due && check_now {
            let problems = integrity::check_file(path)?;
            if !problems.is_empty() {
                return Err(StoreError::Damaged {
                    path: path.into(),
                    problems,
                });
            }
        }
        let mut store = Self::open_at_version_telling(path, schema::VERSION, progress)?;
        store.zone = rollup::ledger_zone(&store.conn)?;
        store.seen = seen;
        if due && !check_now {
            // Not noted as seen until checked, even if this closes first.
            store.unchecked = true;
        } else {
            // Checked (or created) now: the next open need not check again.
            integrity::note(path, &mut store.seen);
        }
        let unchecked = store.unchecked;
        Ok((store, unchecked))
    }

    /// Opens the ledger at `path` to read only: a damaged one (checked here,
    /// `read_only()` says what is wrong), or one this user or its folder cannot
    /// write. Nothing is written, not even the schema's update. A damaged
    /// ledger this user can write is opened so that `restore_from` can
    /// replace it.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        Self::read_only_at(path, None)
    }

    /// Opens the ledger to read from: as `open` if it can be written, else
    /// read-only (damaged, or not this user's to write; `read_only` says).
    pub fn open_to_read(path: &Path) -> Result<Store, StoreError> {
        Self::open_to_read_updating(path, &mut |_| {})
    }

    /// As `open_to_read`, telling `progress` as `open_updating` does.
    pub fn open_to_read_updating(
        path: &Path,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Store, StoreError> {
        match Self::open_updating(path, progress) {
            Err(e) if e.allows_reading() => Self::open_read_only(path),
            opened => opened,
        }
    }

    /// Another read-only connection to this read-only ledger, trusting its check.
    pub fn reopen_read_only(&self) -> Result<Store, StoreError> {
        Self::read_only_at(&self.path, self.read_only.clone())
    }

    /// Opens the ledger at `path` read-only for the reason already known
    /// (another thread's connection found it), without checking again.
    pub fn open_read_only_as(path: &Path, why: ReadOnly) -> Result<Store, StoreError> {
        Self::read_only_at(path, Some(why))
    }

    fn read_only_at(path: &Path, known: Option<ReadOnly>) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags as F;
        let flags = F::SQLITE_OPEN_URI | F::SQLITE_OPEN_NO_MUTEX;
        let readable = |conn: Connection| -> Result<Connection, rusqlite::Error> {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.query_row("PRAGMA user_version", [], |_| Ok(()))?;
            Ok(conn)
        };
        let conn = Connection::open_with_flags(path, flags | F::SQLITE_OPEN_READ_WRITE)
            .and_then(readable)
            .or_else(|_| {
                Connection::open_with_flags(path, flags | F::SQLITE_OPEN_READ_ONLY)
                    .and_then(readable)
            })
            .or_else(|_| {
                // A folder no one may write to has no room for the WAL's
                // index: SQLite reads the file as it stands, trusting that
                // nobody writes it meanwhile (nobody can).
                Connection::open_with_flags(immutable_uri(path), flags | F::SQLITE_OPEN_READ_ONLY)
                    .and_then(readable)
            })?;
        conn.pragma_update(None, "query_only", true)?;
        let problems = match (&known, integrity::as_seen(path)) {
            (Some(ReadOnly::Damaged(problems)), _) => problems.clone(),
            (Some(ReadOnly::NotWritable), _) | (None, Some(_)) => Vec::new(),
            (None, None) => integrity::quick_check(&conn)?,
        };
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found != schema::VERSION {
            return Err(StoreError::NeedsUpdate {
                path: path.into(),
                found,
                known: schema::VERSION,
            });
        }
        let zone = rollup::ledger_zone(&conn)?;
        Ok(Store {
            conn,
            path: path.into(),
            zone,
            past_days: Default::default(),
            seen: None,
            unchecked: false,
            read_only: Some(if problems.is_empty() {
                ReadOnly::NotWritable
            } else {
                ReadOnly::Damaged(problems)
            }),
        })
    }

    /// Why this ledger is open read-only, if it is.
    pub fn read_only(&self) -> Option<&ReadOnly> {
        self.read_only.as_ref()
    }

    fn configure(conn: &Connection) -> Result<(), StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets readers (the app) run beside writers (CLI, importers). It is
        // kept in the file, so only a new ledger needs switching; and switching
        // can be refused at once (no busy wait) while another process creates
        // the same ledger, so that is tried again for a while.
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            let mut tries = 0;
            loop {
                match conn.pragma_update(None, "journal_mode", "WAL") {
                    Ok(()) => break,
                    Err(e)
                        if tries < 100
                            && e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
                    {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A bigger page cache (allocated only as used) keeps bulk inserts and the
        // dedupe index off the disk; SQLite's default is 2 MiB.
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // The last connection to close would otherwise checkpoint the WAL with an
        // fsync: milliseconds on every `tally record`. Automatic checkpoints keep
        // the WAL short instead, and shorter than SQLite's default of 1,000
        // pages, because each process that opens the ledger first reads the
        // whole WAL (a cold open has no trusted index of it).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)?;
        Ok(())
    }

    /// Runs a bulk write (an import of many batches) with a checkpoint at its
    /// end instead of one after every small batch: each would copy the pages the
    /// batch touched, and a large import touches the same index pages again and
    /// again. The WAL still gets a checkpoint each time it passes 256 MiB, so a
    /// very large import cannot fill the disk with it. A bulk write that wrote
    /// nothing (a poll of unchanged logs) does not checkpoint: every other
    /// connection sees a checkpoint as a change (`data_version` moves), and the
    /// app would reload its views for nothing.
    pub fn in_bulk<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", BULK_WAL_PAGES)
            .map_err(StoreError::from)?;
        let changes_before = self.conn.total_changes();
        let result = f(self);
        let wrote = self.conn.total_changes() != changes_before;
        // TRUNCATE also empties the WAL file, which the next process to open the
        // ledger would otherwise read whole. It waits for readers (the app's are
        // brief), but not long: if they stay, a later checkpoint does the rest.
        let restored = (|| {
            self.conn
                .pragma_update(None, "wal_autocheckpoint", WAL_PAGES)?;
            if !wrote {
                return Ok(());
            }
            self.conn.busy_timeout(Duration::from_secs(1))?;
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            self.conn.busy_timeout(BUSY_TIMEOUT)
        })();
        let value = result?;
        // What was written is committed (in the WAL); a checkpoint that fails
        // (a full disk) is tried again by the next writer.
        if let Err(e) = restored {
            tracing::warn!("the ledger's WAL is not copied back yet: {e}");
        }
        Ok(value)
    }

    /// Whether this connection's WAL file is longer than an automatic
    /// checkpoint lets it grow.
    fn wal_is_long(&self) -> bool {
        let wal = beside(&self.path, "-wal");
        let page: i64 = self
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap_or(4096);
        std::fs::metadata(&wal).is_ok_and(|m| m.len() as i64 > WAL_PAGES * page)
    }

    /// Applies migrations up to `target`. Public for the upgrade tests, which build
    /// ledgers at every earlier version.
    pub fn migrate(&mut self, target: i64) -> Result<(), StoreError> {
        self.migrate_telling(target, &mut |_| {})
    }

    /// As `migrate`, telling `progress` the fraction done of a migration that
    /// rewrites every record (seconds on a large ledger).
    fn migrate_telling(
        &mut self,
        target: i64,
        progress: &mut dyn FnMut(f64),
    ) -> Result<(), StoreError> {
        // Up to date: no write transaction (and no fsync) for an ordinary open.
        if self.schema_version()? == target {
            return Ok(());
        }
        // A rewrite's sorts (its indexes) and its VACUUM's copy of the whole
        // ledger go to temporary files, not memory: held in memory they took
        // 1 GB converting ten million calls.
        self.conn.pragma_update(None, "temp_store", "FILE")?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current > schema::VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: current,
                known: schema::VERSION,
            });
        }
        // A new ledger has no records to rewrite, nothing to tell about them,
        // and no pages to give back.
        let new = current == 0;
        let mut rewrote = false;
        for step in &schema::MIGRATIONS[current as usize..target.max(current) as usize] {
            match step {
                schema::Step::Sql(sql) => tx.execute_batch(sql)?,
                schema::Step::Code(run) => run(&tx)?,
                schema::Step::Long(run) if new => run(&tx, &mut |_| {})?,
                // Most of the time; the rollups' rebuild and the VACUUM follow.
                schema::Step::Long(run) => {
                    run(&tx, &mut |f| progress(0.7 * f))?;
                    rewrote = true;
                }
            }
        }
        tx.pragma_update(None, "user_version", target.max(current))?;
        tx.commit()?;
        // A step may have edited a table's SQL in place, which a connection
        // reads only when it opens.
        self.conn = Connection::open(&self.path)?;
        Self::configure(&self.conn)?;
        if rewrote {
            progress(0.85);
            // The old rows' pages are free now; the file gives them back. A
            // kill meanwhile leaves the converted ledger, only larger.
            self.conn.pragma_update(None, "temp_store", "FILE")?;
            self.conn.execute_batch("VACUUM")?;
            self.conn.pragma_update(None, "temp_store", "MEMORY")?;
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            progress(1.0);
        }
        Ok(())
    }

    /// Whether the ledger at `path` is in an older format that opening it
    /// will convert by rewriting its records (see `open_updating`). Reads
    /// only; a ledger that does not exist needs nothing.
    pub fn needs_rewrite(path: &Path) -> bool {
        let Ok(conn) =
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        else {
            return false;
        };
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap_or(0);
        (1..schema::VERSION).contains(&version)
            && schema::MIGRATIONS[version as usize..]
                .iter()
                .any(|s| matches!(s, schema::Step::Long(_)))
    }

    /// Opens a ledger at exactly `version`, for tests of upgrades.
    pub fn open_at_version(path: &Path, version: i64) -> Result<Store, StoreError> {
        Self::open_at_version_telling(path, version, &mut |_| {})
    }

    fn open_at_version_telling(
        path: &Path,
        version: i64,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        Self::configure(&conn)?;
        let mut store = Store {
            conn,
            path: path.into(),
            zone: TimeZone::UTC,
            past_days: Default::default(),
            seen: None,
            unchecked: false,
            read_only: None,
        };
        store.migrate_telling(version, progress)?;
        Ok(store)
    }

    /// Caps this connection's page cache (64 MiB by default, for imports):
    /// a long-running process with several connections keeps its memory small.
    pub fn set_cache_mib(&self, mib: i64) -> Result<(), StoreError> {
        Ok(self.conn.pragma_update(None, "cache_size", -mib * 1024)?)
    }

    /// The ledger file, for another connection to the same ledger.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The zone whose local days the rollup uses.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Changes whenever another connection commits: the cheap "did anything change?" poll.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        // Asked four times a second by the app: prepared once.
        Ok(self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?)
    }

    /// Raw access for tests and the few places that need SQL the store does not wrap.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn write_tx(&mut self) -> Result<Transaction<'_>, StoreError> {
        // IMMEDIATE takes the write lock up front, so concurrent writers wait on the
        // busy timeout instead of failing on a lock upgrade.
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Runs `f` holding the write lock, committing if it succeeds. For work that
    /// reads and then writes through the store's own methods and must not
    /// interleave with another process doing the same (the alert engine).
    pub fn locked<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from)?;
        match f(self) {
            Ok(v) => {
                self.conn
                    .execute_batch("COMMIT")
                    .map_err(StoreError::from)?;
                Ok(v)
            }
            Err(e) => {
                // The error that matters is `e`; a failed rollback leaves SQLite
                // to roll back when the connection closes.
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// A file beside the ledger: SQLite's `-wal` and `-shm`, Tally's `-seen`.
pub fn beside(ledger: &Path, suffix: &str) -> PathBuf {
    let mut name = ledger.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// `path` as an SQLite URI that opens it immutable.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'%' | b'?' | b'#' | 0x80.. => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(*b as char),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

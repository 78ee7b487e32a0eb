//! Backing up the ledger to a file, and restoring one: a consistent snapshot
//! while others keep writing, and a restore that checks the file before it
//! replaces anything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Store, StoreError, schema};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {why}")]
    NotALedger { path: PathBuf, why: String },
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Target(#[from] crate::export::ExportError),
}

impl From<rusqlite::Error> for BackupError {
    fn from(e: rusqlite::Error) -> BackupError {
        BackupError::Store(e.into())
    }
}

/// The setting `settings::note_backup` writes.
const LAST_BACKUP: &str = "last_backup";

impl Store {
    /// Writes a copy of the ledger to `to` (replacing it), as it is at one
    /// moment. The copy is made beside `to` and renamed, so a failure never
    /// leaves half a file there.
    pub fn backup_to(&self, to: &Path) -> Result<(), BackupError> {
        // Only a file is replaced (a device or a pipe at `to` is an error),
        // through a link the file it names, keeping its mode.
        let (file, mode) = crate::export::file_to_replace(to)?;
        let to = file.as_path();
        let name = to.file_name().map(|n| n.to_string_lossy().into_owned());
        let partial = to.with_file_name(format!(".{}.partial", name.unwrap_or_default()));
        let _ = std::fs::remove_file(&partial);
        self.conn
            .execute("VACUUM INTO ?1", [partial.to_string_lossy()])?;
        let mode = std::os::unix::fs::PermissionsExt::from_mode(mode);
        std::fs::set_permissions(&partial, mode)
            .and_then(|()| std::fs::rename(&partial, to))
            .map_err(|source| {
                let _ = std::fs::remove_file(&partial);
                BackupError::File {
                    path: to.into(),
                    source,
                }
            })
    }

    /// Replaces the ledger's contents with the backup at `from`, after checking
    /// it is a sound Tally ledger this version can read; an older one is brought
    /// up to date. Returns how many usage records it holds. Anything wrong with
    /// the file leaves the ledger as it was.
    pub fn restore_from(&mut self, from: &Path) -> Result<u64, BackupError> {
        let not = |why: String| BackupError::NotALedger {
            path: from.into(),
            why,
        };
        let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| not(e.to_string()))?;
        let problems = super::integrity::quick_check(&source).map_err(|e| not(e.to_string()))?;
        if let Some(first) = problems.first() {
            return Err(not(format!("the file is damaged ({first})")));
        }
        let version: i64 = source.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let has_usage: bool = source.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_schema WHERE type IN ('table', 'view') AND name = 'usage'",
            [],
            |r| r.get(0),
        )?;
        if version < 1 || !has_usage {
            return Err(not("this is not a Tally ledger".into()));
        }
        if version > schema::VERSION {
            return Err(not(format!(
                "written by a newer Tally (schema version {version}, this one knows {})",
                schema::VERSION
            )));
        }
        // The backup predates the note of where the backups go: kept.
        let last_backup = self.setting(LAST_BACKUP).ok().flatten();
        // A damaged ledger was opened to read only, and this is how it heals.
        self.conn.pragma_update(None, "query_only", false)?;
        let backup = rusqlite::backup::Backup::new(&source, &mut self.conn)?;
        backup.run_to_completion(1024, Duration::from_millis(5), None)?;
        drop(backup);
        if self.read_only.take().is_some() {
            self.conn = Connection::open(&self.path)?;
            Store::configure(&self.conn)?;
        }
        self.migrate(schema::VERSION)?;
        if let Some(note) = last_backup {
            self.set_setting(LAST_BACKUP, Some(&note))?;
        }
        self.zone = super::rollup::ledger_zone(&self.conn)?;
        self.forget_past_days();
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

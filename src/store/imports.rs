//! Where each log file's import stopped: its identity (inode, size, a hash of
//! its first bytes), the byte offset after its last complete line, and the
//! source's running state there. Saved in the same transaction as the records
//! read up to that offset, so an import killed at any moment resumes exactly.

use std::collections::HashMap;

use jiff::Timestamp;
use rusqlite::params;

use super::{BatchOutcome, Store, StoreError};
use crate::core::usage::UsageRecord;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    pub path: String,
    pub source: String,
    pub inode: u64,
    pub size: u64,
    pub head_hash: [u8; 16],
    /// Bytes read: the end of the last complete line.
    pub offset: u64,
    /// Lines read, so line numbers in errors continue from there.
    pub lines: u64,
    pub state: Option<String>,
}

impl Store {
    /// Where each file of `source` was left by the last import, by path.
    pub fn import_states(&self, source: &str) -> Result<HashMap<String, FileState>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, source, inode, size, head_hash, offset, lines, state
             FROM import_files WHERE source = ?1",
        )?;
        let rows = stmt.query_map([source], |r| {
            let hash: Vec<u8> = r.get(4)?;
            let mut head_hash = [0u8; 16];
            let n = hash.len().min(16);
            head_hash[..n].copy_from_slice(&hash[..n]);
            Ok(FileState {
                path: r.get(0)?,
                source: r.get(1)?,
                inode: r.get::<_, i64>(2)? as u64,
                size: r.get::<_, i64>(3)? as u64,
                head_hash,
                offset: r.get::<_, i64>(5)? as u64,
                lines: r.get::<_, i64>(6)? as u64,
                state: r.get(7)?,
            })
        })?;
        let mut out = HashMap::new();
        for state in rows {
            let state = state?;
            out.insert(state.path.clone(), state);
        }
        Ok(out)
    }

    /// How many files imports of `source` have read.
    pub fn imported_files(&self, source: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM import_files WHERE source = ?1",
            [source],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Stores records as `insert_batch_keep_largest` does and, in the same
    /// transaction, where each file's reading stopped.
    pub fn insert_import(
        &mut self,
        records: &[UsageRecord],
        files: &[FileState],
    ) -> Result<BatchOutcome, StoreError> {
        let now = Timestamp::now().as_millisecond();
        self.insert_many_then(records, super::write::OnDuplicate::KeepLargest, |tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO import_files
                     (path, source, inode, size, head_hash, offset, lines, state, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for f in files {
                stmt.execute(params![
                    f.path,
                    f.source,
                    f.inode as i64,
                    f.size as i64,
                    &f.head_hash[..],
                    f.offset as i64,
                    f.lines as i64,
                    f.state,
                    now
                ])?;
            }
            Ok(())
        })
    }
}

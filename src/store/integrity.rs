//! Whether the ledger's pages are sound. SQLite's `quick_check` reads every
//! page (0.75 s for a million calls), too slow for every `tally record`, so it
//! runs when the file changed while no Tally was there to see it: each Tally
//! that closes the ledger notes the file's size and modification time beside
//! it (`LEDGER-seen`), and an open that finds them different checks first.
//! That catches a stop in the middle of a checkpoint (a crash, a kill, a lost
//! disk) and a file changed by something else (a copy, a sync tool, damage).

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// What the ledger file looked like: its length and modification time (ns).
fn stamp(ledger: &Path) -> Option<String> {
    let meta = std::fs::metadata(ledger).ok()?;
    Some(format!(
        "{} {}.{:09}",
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
}

fn seen_path(ledger: &Path) -> PathBuf {
    super::beside(ledger, "-seen")
}

/// The stamp last noted, if it still matches the file, else `None`.
pub(super) fn as_seen(ledger: &Path) -> Option<String> {
    let now = stamp(ledger)?;
    let seen = std::fs::read_to_string(seen_path(ledger)).ok()?;
    (seen.trim() == now).then_some(now)
}

/// Notes the file as it is now, unless `last` (what this process noted or
/// found) says it has not changed. Written beside and renamed, so two
/// processes closing at once leave one whole stamp; a note that cannot be
/// written only costs a check at the next open.
pub(super) fn note(ledger: &Path, last: &mut Option<String>) {
    let Some(now) = stamp(ledger) else {
        return;
    };
    if last.as_deref() == Some(now.as_str()) {
        return;
    }
    let seen = seen_path(ledger);
    let partial = super::beside(&seen, &format!(".{}", std::process::id()));
    // No fsync: a note lost in a crash only costs a check.
    let written = (|| {
        let _ = std::fs::remove_file(&partial);
        crate::private::create_new(&partial, crate::private::FILE_MODE)?
            .write_all(now.as_bytes())?;
        std::fs::rename(&partial, &seen)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    match written {
        Ok(()) => *last = Some(now),
        Err(e) => tracing::debug!("cannot note {}: {e}", seen.display()),
    }
}

/// SQLite's quick check of every page: what it found wrong, empty if
/// nothing. Pages too malformed for the check to read are damage too.
pub(super) fn quick_check(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let checked = (|| -> rusqlite::Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut stmt = conn.prepare("PRAGMA quick_check(20)")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let line: String = row.get(0)?;
            if line != "ok" {
                problems.push(line);
            }
        }
        Ok(problems)
    })();
    match checked {
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            Ok(vec![e.to_string()])
        }
        other => other.map_err(StoreError::from),
    }
}

/// Checks the ledger at `path` on a connection of its own that writes
/// nothing. A file that is no database at all is left for the open to name.
pub(super) fn check_file(path: &Path) -> Result<Vec<String>, StoreError> {
    let checked = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::from)
    .and_then(|conn| {
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        quick_check(&conn)
    });
    match checked {
        // Another process holding the lock for longer than the busy timeout
        // says nothing about the pages.
        Err(StoreError::Sqlite(e))
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
        {
            Ok(Vec::new())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_after_its_note_is_checked_again() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("l.sqlite");
        std::fs::write(&ledger, b"pages").unwrap();
        assert_eq!(as_seen(&ledger), None, "never noted");
        let mut last = None;
        note(&ledger, &mut last);
        assert!(last.is_some());
        assert_eq!(as_seen(&ledger), last, "noted as it is");
        // Changed while no Tally noted it: the same length, a new time.
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&ledger, b"PAGES").unwrap();
        assert_eq!(as_seen(&ledger), None);
        note(&ledger, &mut last);
        assert!(as_seen(&ledger).is_some());
        assert!(
            std::fs::read_dir(dir.path()).unwrap().count() == 2,
            "no partial note left behind"
        );
    }
}

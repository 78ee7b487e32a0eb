//! `tally doctor`: whether the ledger is sound, and what to do if not.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use super::{Exit, print_json};
use crate::i18n::{fill, gettext};
use crate::store::Store;

pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    // Read before opening: opening tightens what it finds.
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let store = match Store::open_to_read(path) {
        Ok(store) => store,
        Err(e) => {
            return Err(Exit(
                1,
                Some(fill(
                    &gettext("{}: cannot be opened ({}). Restore it from a backup (Preferences → Ledger → Restore)."),
                    &[&path.display().to_string(), &e.to_string()],
                )),
            )
            .into());
        }
    };
    let read = store.health();
    let unreadable = read.is_err();
    let h = match read {
        Ok(h) => h,
        // A page too damaged to read at all is damage too.
        Err(e) => crate::store::Health {
            damage: vec![e.to_string()],
            inexact_sums: 0,
            bound_used_bp: 0,
            records: 0,
            wal_bytes: 0,
        },
    };
    let sound = h.damage.is_empty() && h.inexact_sums == 0;
    let backup = crate::settings::last_backup(&store);
    let restore_with = match &backup {
        Some((_, file)) => fill(
            &gettext("Restore the ledger from its last backup: tally restore {}"),
            &[&file.display().to_string()],
        ),
        None => gettext(
            "Restore the ledger from a backup: tally restore FILE (or Preferences → Ledger → Restore)",
        ),
    };
    if json {
        print_json(&json!({
            "ledger": path,
            "sound": sound,
            "schema_version": store.schema_version()?,
            "records": h.records,
            "wal_bytes": h.wal_bytes,
            "mode_found": format!("{mode:o}"),
            "damage": h.damage,
            "inexact_sums": h.inexact_sums,
            "totals_bound_used_percent": h.bound_used_bp as f64 / 100.0,
            "last_backup": backup.as_ref().map(|(at, file)| json!({"at": at.to_string(), "file": file})),
            "read_only": store.read_only().is_some(),
        }))?;
    } else {
        println!(
            "{}",
            fill(&gettext("Ledger: {}"), &[&path.display().to_string()])
        );
        if !unreadable {
            println!(
                "{}",
                fill(
                    &gettext("Records: {} · schema version {} · WAL {} KB"),
                    &[
                        &h.records.to_string(),
                        &store.schema_version()?.to_string(),
                        &(h.wal_bytes / 1024).to_string()
                    ]
                )
            );
        }
        if mode & 0o077 != 0 {
            println!(
                "{}",
                fill(
                    &gettext("Was readable by others (mode {}): now yours alone (600)."),
                    &[&format!("{mode:o}")]
                )
            );
        }
        if h.damage.is_empty() {
            println!("{}", gettext("Pages: sound (SQLite's quick check)"));
        } else {
            println!("{}", gettext("Pages: DAMAGED. SQLite's quick check says:"));
            for line in &h.damage {
                println!("  {line}");
            }
            println!("{restore_with}");
            println!(
                "{}",
                gettext(
                    "What was recorded since is in the agents' logs, which an import reads again."
                )
            );
        }
        if h.inexact_sums > 0 {
            println!(
                "{}",
                fill(
                    &gettext(
                        "Totals: {} sums are not exact (written by an older Tally); open the ledger with this one to repair them."
                    ),
                    &[&h.inexact_sums.to_string()]
                )
            );
        }
        println!(
            "{}",
            match &backup {
                Some((at, file)) => fill(
                    &gettext("Last backup: {} ({})"),
                    &[&crate::i18n::local_time(*at), &file.display().to_string()]
                ),
                None => gettext("Last backup: none made with Tally (tally backup FILE makes one)"),
            }
        );
    }
    if sound {
        Ok(())
    } else {
        Err(Exit(1, None).into())
    }
}

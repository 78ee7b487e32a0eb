//! `tally backup FILE` and `tally restore FILE`: the ledger's copy and its
//! way back, for people without the window (and for a damaged ledger).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::i18n::{fill, gettext, ngettext, plural_n};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Where to write the copy (replaced if it is a file)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup whose records, budgets and prices replace the ledger's
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace a sound ledger that holds records (a damaged one is replaced without it)
    #[arg(long)]
    pub yes: bool,
}

pub fn backup(store: &mut Store, args: &BackupArgs) -> anyhow::Result<()> {
    store.backup_to(&args.file)?;
    crate::settings::note_backup(store, &args.file, jiff::Timestamp::now());
    println!(
        "{}",
        fill(
            &gettext("Backed up to {}"),
            &[&args.file.display().to_string()]
        )
    );
    Ok(())
}

/// Restores into the ledger at `db`, damaged or not (a damaged one cannot be
/// opened for writing, and this is how it heals).
pub fn restore(db: &Path, args: &RestoreArgs) -> anyhow::Result<()> {
    let mut store = Store::open_to_read(db)?;
    // What was recorded since the backup is lost: a sound ledger with records
    // is replaced only when asked twice, as the app asks.
    let held = match store.read_only() {
        Some(crate::store::ReadOnly::Damaged(_)) => 0,
        _ => store.history_count(&Default::default())?,
    };
    if held > 0 && !args.yes {
        return Err(super::Exit(
            1,
            Some(fill(
                &ngettext(
                    "{} holds {} record; the backup replaces it, and whatever was recorded after the backup was made is lost. Back it up first (tally backup FILE), then run again with --yes.",
                    "{} holds {} records; the backup replaces them, and whatever was recorded after the backup was made is lost. Back it up first (tally backup FILE), then run again with --yes.",
                    plural_n(held),
                ),
                &[&db.display().to_string(), &held.to_string()],
            )),
        )
        .into());
    }
    let n = store.restore_from(&args.file)?;
    println!(
        "{}",
        fill(
            &ngettext(
                "Restored {} record from {}.",
                "Restored {} records from {}.",
                plural_n(n)
            ),
            &[&n.to_string(), &args.file.display().to_string()]
        )
    );
    Ok(())
}

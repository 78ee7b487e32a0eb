//! Names and places: the application id, and where the ledger and translations live.

use std::path::PathBuf;

pub const APP_ID: &str = "io.github.tallyapp.Tally";
pub const GETTEXT_DOMAIN: &str = "tally";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The ledger file: `--db`, else `TALLY_DB` (both handled by the caller), else
/// `$XDG_DATA_HOME/tally/ledger.sqlite`.
pub fn default_db_path() -> PathBuf {
    directories::ProjectDirs::from("io.github", "tallyapp", "Tally")
        .map(|dirs| dirs.data_dir().join("ledger.sqlite"))
        .unwrap_or_else(|| PathBuf::from("tally-ledger.sqlite"))
}

/// Compiled translations: `TALLY_LOCALEDIR` if set; else `../share/locale` beside the
/// installed binary; else the ones this build compiled (running from the source tree).
pub fn locale_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TALLY_LOCALEDIR") {
        return dir.into();
    }
    let installed = std::env::current_exe().ok().and_then(|exe| {
        exe.parent()?
            .parent()
            .map(|prefix| prefix.join("share/locale"))
    });
    match installed {
        Some(dir) if dir.join("de/LC_MESSAGES/tally.mo").exists() => dir,
        _ => PathBuf::from(env!("TALLY_BUILD_LOCALEDIR")),
    }
}

/// Who is making a change, for audit logs and acknowledgements: the login name.
pub fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

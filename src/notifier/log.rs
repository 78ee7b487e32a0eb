//! The log channel: one JSON line per alert in `$XDG_STATE_HOME/tally/alerts.jsonl`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::store::Alert;

pub fn default_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("io.github", "tallyapp", "Tally")?;
    Some(dirs.state_dir()?.join("alerts.jsonl"))
}

pub fn append(path: &Path, alert: &Alert) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("alert log {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        crate::private::create_folders(dir).map_err(fail)?;
    }
    let mut line = serde_json::to_string(alert).map_err(|e| e.to_string())?;
    line.push('\n');
    // One write of a whole line in append mode: lines from two processes do not interleave.
    crate::private::append(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(fail)
}

//! Files that hold someone's spending (the ledger, which also keeps the
//! webhook URL with any credentials in it; the alert log; exports; backups)
//! are the user's alone: new files are made 0600 and new folders 0700,
//! whatever the umask, and a ledger found readable by others is tightened.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const FILE_MODE: u32 = 0o600;
pub const FOLDER_MODE: u32 = 0o700;

/// Creates `dir` and the folders above it that are missing, each 0700.
pub fn create_folders(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(FOLDER_MODE)
        .create(dir)
}

/// Opens `path` for appending, creating it 0600.
pub fn append(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates `path` anew, 0600 (or `mode`), failing if something is there.
pub fn create_new(path: &Path, mode: u32) -> io::Result<std::fs::File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

/// Takes group and other access away from `path` if it exists and has any;
/// a file this user cannot change is left as it is.
pub fn tighten(path: &Path) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        let tightened = Permissions::from_mode(mode & 0o700);
        if let Err(e) = std::fs::set_permissions(path, tightened) {
            tracing::debug!("cannot tighten {}: {e}", path.display());
        }
    }
}

//! Writing a file whole or not at all: into a temporary file in the same
//! folder, flushed to disk, then renamed over the target. Only a regular
//! file is replaced (through a link, the file it names, so the link stays):
//! a device, a pipe, a folder or a link to nothing at the path is an error
//! naming it, never turned into a file. A replaced file keeps its mode; a new
//! one is the user's alone (0600).

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is {what}, not a file: nothing was written")]
    NotAFile { path: PathBuf, what: &'static str },
}

/// What stands at `path`, when it is not a regular file.
fn not_a_file(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    Some(if t.is_file() {
        return None;
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a pipe"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    })
}

/// The file to write for `path` and the mode to give it: the file a link
/// names, its mode if it exists; an error for anything but a regular file.
pub fn target(path: &Path) -> Result<(PathBuf, u32), ExportError> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(link) = std::fs::symlink_metadata(path) else {
        return Ok((path.to_path_buf(), crate::private::FILE_MODE));
    };
    let meta = if link.file_type().is_symlink() {
        std::fs::metadata(path).map_err(|_| ExportError::NotAFile {
            path: path.into(),
            what: "a link to nothing",
        })?
    } else {
        link.clone()
    };
    if let Some(what) = not_a_file(&meta) {
        return Err(ExportError::NotAFile {
            path: path.into(),
            what,
        });
    }
    let file = if link.file_type().is_symlink() {
        std::fs::canonicalize(path).map_err(|source| ExportError::Write {
            path: path.into(),
            source,
        })?
    } else {
        path.to_path_buf()
    };
    Ok((file, meta.permissions().mode() & 0o7777))
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the content written by `fill` (a stream of rows,
/// say). On any error the temporary file is removed and the target untouched.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), ExportError> {
    let error = |source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let (file, mode) = target(path)?;
    let path = file.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.part", std::process::id()));
    let result = (|| {
        let _ = std::fs::remove_file(&temp);
        let file = crate::private::create_new(&temp, mode)?;
        // Exactly the mode kept, whatever the umask took away.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
        fill(&mut out)?;
        out.flush()?;
        drop(out);
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(error)
}

//! Starting Tally at login: an XDG autostart entry that runs the app in the
//! background (`--background`: watching and alerting, no window).

use std::path::{Path, PathBuf};

use crate::config;

/// `$XDG_CONFIG_HOME/autostart/<APP_ID>.desktop` (or `~/.config/…`).
pub fn entry_path(config_home: &Path) -> PathBuf {
    config_home
        .join("autostart")
        .join(format!("{}.desktop", config::APP_ID))
}

/// The user's config folder, as XDG defines it.
pub fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
}

/// Writes the entry (running `app` with `--background`) or removes it.
pub fn set(config_home: &Path, on: bool, app: &Path) -> std::io::Result<()> {
    let path = entry_path(config_home);
    if !on {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A path with spaces is quoted, as the desktop entry format wants.
    let exec = app
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let text = format!(
        "[Desktop Entry]\nType=Application\nName=Tally\nComment=Watches AI spending and budgets in the background\nIcon={id}\nExec=\"{exec}\" --background\nTerminal=false\nNoDisplay=true\nX-GNOME-Autostart-enabled=true\n",
        id = config::APP_ID
    );
    std::fs::write(&path, text)
}

pub fn is_on(config_home: &Path) -> bool {
    entry_path(config_home).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_is_written_with_background_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let app = Path::new("/opt/my apps/tally-app");
        set(dir.path(), true, app).unwrap();
        assert!(is_on(dir.path()));
        let text = std::fs::read_to_string(entry_path(dir.path())).unwrap();
        assert!(
            text.contains("Exec=\"/opt/my apps/tally-app\" --background"),
            "{text}"
        );
        assert!(text.starts_with("[Desktop Entry]\nType=Application\n"));
        set(dir.path(), false, app).unwrap();
        assert!(!is_on(dir.path()));
        set(dir.path(), false, app).unwrap(); // already off: fine
    }
}

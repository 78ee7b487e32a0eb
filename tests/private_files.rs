//! What Tally writes is the user's alone, and `--out` never turns a device,
//! a pipe or a dangling link into a file (issue 13, items 4 and 6).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

fn tally(db: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tally"));
    c.arg("--db").arg(db).args(args).env("LANGUAGE", "en");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_ledger_its_folders_and_the_alert_log_are_the_users_alone() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // The usual place, in a data folder not made yet.
    let data = dir.path().join("new/data");
    let db = data.join("tally/ledger.sqlite");
    let env = [("XDG_STATE_HOME", state.as_path())];
    let usual = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(args)
            .env("XDG_STATE_HOME", &state)
            .env("XDG_DATA_HOME", &data)
            .env_remove("TALLY_DB")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    usual(&["policy", "add", "tiny", "--limit", "0.01"]);
    usual(&["record", "--model", "gpt-4o", "--input", "100000"]);
    for folder in ["new", "new/data", "new/data/tally"] {
        assert_eq!(mode(&dir.path().join(folder)), 0o700, "{folder}");
    }
    assert_eq!(mode(&db), 0o600);
    let log = state.join("tally/alerts.jsonl");
    assert!(log.exists(), "the budget's alert was logged");
    assert_eq!(mode(&log), 0o600);
    assert_eq!(mode(log.parent().unwrap()), 0o700);

    // A ledger left readable by others is tightened when opened.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(tally(&db, &["usage"], &env).status.success());
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn out_writes_regular_files_only_and_keeps_a_replaced_files_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let report = |out: &Path| {
        tally(
            &db,
            &["report", "summary", "--out", out.to_str().unwrap()],
            &[],
        )
    };

    let new = dir.path().join("new.csv");
    assert!(report(&new).status.success());
    assert_eq!(mode(&new), 0o600, "a new export is the user's alone");

    let shared = dir.path().join("shared.csv");
    std::fs::write(&shared, "old").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(report(&shared).status.success());
    assert_eq!(mode(&shared), 0o640, "a replaced file keeps its mode");
    assert_ne!(std::fs::read_to_string(&shared).unwrap(), "old");

    let fifo = dir.path().join("pipe.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = report(&fifo);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a pipe, not a file"),
        "{out:?}"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink(dir.path().join("nowhere/x.csv"), &dangling).unwrap();
    let out = report(&dangling);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a link to nothing"));
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // Through a link to a file: the file is written, the link stays.
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&shared, &link).unwrap();
    std::fs::write(&shared, "old").unwrap();
    assert!(report(&link).status.success());
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_ne!(std::fs::read_to_string(&shared).unwrap(), "old");
}

#[test]
fn a_ledger_of_ones_own_choosing_goes_in_a_folder_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo/ledger.sqlite");
    let out = tally(&db, &["record", "--model", "gpt-4o", "--input", "10"], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("typo does not exist"),
        "{out:?}"
    );
    assert!(!dir.path().join("typo").exists(), "no folder was made");
}

//! A ledger damaged in the middle is noticed, written to by nothing, read
//! with a warning and healed from a backup; a ledger in a folder no one may
//! write is still read (issue 13, items 9 and 11).

use std::io::{Seek, Write};
use std::path::Path;
use std::process::{Command, Output};

use tally::store::{ReadOnly, Store};

fn tally(db: &Path, args: &[&str]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_tally")), db, args)
}

fn run(mut c: Command, db: &Path, args: &[&str]) -> Output {
    c.arg("--db")
        .arg(db)
        .args(args)
        .env("LANGUAGE", "en")
        .env_remove("TALLY_DB");
    c.output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A ledger of 3,000 calls on nine days, made through the CLI.
fn a_ledger(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("ledger.sqlite");
    let calls: String = (0..3000)
        .map(|i| {
            format!(
                "{{\"time\":\"2026-11-0{}T10:00:00Z\",\"model\":\"gpt-4o\",\"input\":{i},\"output\":5,\"request_id\":\"r{i}\",\"project\":\"{}{i}\"}}\n",
                i % 9 + 1,
                "p".repeat(200)
            )
        })
        .collect();
    let file = dir.join("calls.jsonl");
    std::fs::write(&file, calls).unwrap();
    let out = tally(&db, &["import", "jsonl", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    db
}

/// Overwrites a page in the middle with noise, as a failing disk or a stray
/// write would, after the WAL is copied back so the page is in the file.
fn damage_the_middle(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let pages = std::fs::metadata(db).unwrap().len() / 4096;
    let mut file = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    file.seek(std::io::SeekFrom::Start(pages / 2 * 4096))
        .unwrap();
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    file.write_all(&noise).unwrap();
}

/// Whether a write through `store`'s connection is refused.
fn takes_no_writes(store: &Store) -> bool {
    store
        .connection()
        .execute("DELETE FROM settings", [])
        .is_err()
}

fn calls(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM usage", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_damaged_ledger_takes_no_writes_is_read_with_a_warning_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let db = a_ledger(dir.path());
    let backup = dir.path().join("backup.sqlite");
    let out = tally(&db, &["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    damage_the_middle(&db);
    let damaged = std::fs::read(&db).unwrap();

    let out = tally(&db, &["record", "--model", "gpt-4o", "--input", "5"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is damaged")
            && err.contains("nothing was written")
            && err.contains("tally restore"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        damaged,
        "the file is untouched"
    );

    // What only reads still answers from the pages it needs, and says the
    // ledger is damaged.
    let out = tally(
        &db,
        &["calc-cost", "--model", "gpt-4o", "--input", "1000000"],
    );
    let (said, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(said.contains("$2.50"), "{said}");
    assert!(
        err.contains("warning: the ledger") && err.contains("damaged"),
        "{err}"
    );

    let out = tally(&db, &["doctor"]);
    let (said, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("DAMAGED"), "{said}");
    let shown = std::fs::canonicalize(&backup).unwrap();
    assert!(
        said.contains(&format!("tally restore {}", shown.display())),
        "doctor names the last backup to restore: {said}"
    );

    let out = tally(&db, &["restore", backup.to_str().unwrap()]);
    let (said, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(said.contains("Restored 3000 records"), "{said}");
    assert!(tally(&db, &["doctor"]).status.success());
    let out = tally(&db, &["record", "--model", "gpt-4o", "--input", "5"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(calls(&db), 3001);

    // A sound ledger is replaced only when asked twice: what came after the
    // backup would be lost.
    let out = tally(&db, &["restore", backup.to_str().unwrap()]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("3001 records") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(calls(&db), 3001, "nothing replaced");
    let out = tally(&db, &["restore", "--yes", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(calls(&db), 3000);
}

#[test]
fn the_app_heals_a_damaged_ledger_it_opened_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = a_ledger(dir.path());
    let backup = dir.path().join("backup.sqlite");
    Store::open(&db).unwrap().backup_to(&backup).unwrap();
    damage_the_middle(&db);
    let err = Store::open(&db).err().expect("a damaged ledger is refused");
    assert!(err.allows_reading(), "{err}");
    // The app's three connections: one checked, two trusting it.
    let mut writer = Store::open_read_only(&db).unwrap();
    assert!(matches!(writer.read_only(), Some(ReadOnly::Damaged(p)) if !p.is_empty()));
    let reader = writer.reopen_read_only().unwrap();
    assert!(matches!(reader.read_only(), Some(ReadOnly::Damaged(_))));
    assert!(takes_no_writes(&writer), "nothing is written to it");
    assert_eq!(writer.restore_from(&backup).unwrap(), 3000);
    assert!(writer.read_only().is_none());
    drop((writer, reader));
    let store = Store::open(&db).unwrap();
    assert!(store.health().unwrap().damage.is_empty());
}

/// Runs `tally` as someone to whom the folder's permissions apply: as root,
/// without the capabilities that pass over them.
fn tally_without_privileges(db: &Path, args: &[&str]) -> Output {
    if unsafe { libc::geteuid() } != 0 {
        return tally(db, args);
    }
    let mut c = Command::new("setpriv");
    c.args([
        "--securebits",
        "+noroot,+noroot_locked",
        "--bounding-set",
        "-all",
        "--inh-caps",
        "-all",
        env!("CARGO_BIN_EXE_tally"),
    ]);
    run(c, db, args)
}

#[test]
fn a_ledger_in_a_folder_no_one_may_write_is_still_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for keep_wal in [true, false] {
        let folder = dir.path().join(format!("kept-{keep_wal}"));
        std::fs::create_dir(&folder).unwrap();
        let db = a_ledger(&folder);
        if !keep_wal {
            // Closed by the last connection: no WAL or index beside it.
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            drop(conn);
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
        }
        let before = std::fs::read(&db).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
        let out = tally_without_privileges(&db, &["usage", "--json"]);
        let (said, err) = text(&out);
        assert!(out.status.success(), "WAL kept: {keep_wal}: {err}");
        let json: serde_json::Value = serde_json::from_str(&said).unwrap();
        assert_eq!(json["total"]["requests"], 3000, "{said}");
        if !keep_wal {
            // No room for the WAL: read as it stands, and said so; a write
            // is refused naming the ledger.
            assert!(err.contains("read-only"), "{err}");
            let out = tally_without_privileges(&db, &["record", "--model", "gpt-4o"]);
            let (_, err) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains(&db.display().to_string()), "{err}");
        }
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        if !keep_wal {
            assert_eq!(std::fs::read(&db).unwrap(), before, "nothing was written");
        }
    }
}

#[test]
fn a_check_left_for_later_turns_a_damaged_ledger_read_only_and_notes_a_sound_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = a_ledger(dir.path());
    let (store, due) = Store::open_check_later(&db).unwrap();
    assert!(!due, "closed by Tally: nothing to check");
    drop(store);
    // Seen by no Tally (the note lost): checked once, then noted.
    std::fs::remove_file(format!("{}-seen", db.display())).unwrap();
    let (mut store, due) = Store::open_check_later(&db).unwrap();
    assert!(due);
    store.checked(Store::check_pages(&db).unwrap());
    assert!(store.read_only().is_none());
    drop(store);
    assert!(!Store::open_check_later(&db).unwrap().1, "noted as sound");
    damage_the_middle(&db);
    let (mut store, due) = Store::open_check_later(&db).unwrap();
    assert!(due, "changed while no Tally had it open");
    drop(Store::open_check_later(&db).unwrap());
    let (_, still_due) = Store::open_check_later(&db).unwrap();
    assert!(
        still_due,
        "an unchecked connection that closed noted nothing"
    );
    let problems = Store::check_pages(&db).unwrap();
    assert!(!problems.is_empty());
    store.checked(problems);
    assert!(matches!(store.read_only(), Some(ReadOnly::Damaged(_))));
    assert!(takes_no_writes(&store), "nothing is written to it");
}

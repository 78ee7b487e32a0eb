//! Ledgers written by earlier Tallies converted in place: the wide ledger
//! (schema 16, `tests/data/v16`) and the narrow ledger's first layout (schema
//! 18, `tests/data/v18`). Every record, total, policy, alert and import state
//! as it was; every call still known by its key; and a kill -9 part way leaves
//! the old ledger whole, which the next open converts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rusqlite::{Connection, OpenFlags};
use tally::store::{Store, schema};

#[path = "support/wide_ledger.rs"]
mod wide_ledger;
use wide_ledger::FIXTURE;

/// The schema-18 ledger written by the release before the compact row.
const FIXTURE_18: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v18/ledger.sqlite");

fn copy_of(fixture: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    std::fs::copy(fixture, &path).unwrap();
    (dir, path)
}

/// Every row `sql` returns, each value as text, in the order given.
fn rows(c: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = c.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| Ok(format!("{:?}", r.get_ref(i)?)))
            .collect::<rusqlite::Result<Vec<String>>>()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// A ledger's tables, each as its rows.
type Contents = Vec<(String, Vec<Vec<String>>)>;

/// What a user can see of the ledger: its records as the `usage` table (old)
/// or view (new) shows them, the rollups, and everything beside the records.
fn contents(path: &Path) -> Contents {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    [
        (
            "records",
            "SELECT id, ts_ms, provider, model, user, project, agent, source, session,
                 request_id, task, input, output, cache_read, cache_write_5m, cache_write_1h,
                 reasoning, images, image_size, image_quality, embedding_tokens, cost_kind,
                 cost_nanos, price_version, unpriced_reason, billed_nanos, revenue_nanos,
                 metadata, requests
             FROM usage ORDER BY id",
        ),
        // The rollups' columns of schema 16 (today's add the machine, '' for these).
        ("daily", "SELECT day, provider, model, user, project, agent, source, requests, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning, images, embedding_tokens, cost_nanos, unpriced, billed_nanos, revenue_nanos, records FROM usage_daily ORDER BY day, provider, model, user, project, agent, source"),
        ("hourly", "SELECT hour_ms, provider, model, user, project, agent, source, requests, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning, images, embedding_tokens, cost_nanos, unpriced, billed_nanos, revenue_nanos, records FROM usage_hourly ORDER BY hour_ms, provider, model, user, project, agent, source"),
        ("bounds", "SELECT * FROM ledger_bounds"),
        // The columns of schema 16 (today's add the team's keys, NULL for these).
        ("policies", "SELECT id, name, scope, metric, period, zone, limit_amount, soft_percent, action, enabled, created_ms, reset_ms, override_by, override_reason, override_until_ms FROM policies ORDER BY id"),
        ("audit", "SELECT * FROM policy_audit ORDER BY id"),
        ("rules", "SELECT * FROM alert_rules ORDER BY id"),
        ("marks", "SELECT * FROM alert_marks ORDER BY policy_id, rule_id, window_key"),
        ("alerts", "SELECT id, at_ms, policy_id, policy_name, kind, severity, title, body, detail, state, acked_ms, acked_by, resolved_ms FROM alerts ORDER BY id"),
        ("deliveries", "SELECT * FROM alert_deliveries ORDER BY alert_id, channel"),
        ("prices", "SELECT * FROM prices ORDER BY id"),
        ("imports", "SELECT * FROM import_files ORDER BY path"),
        ("settings", "SELECT * FROM settings ORDER BY key"),
        ("meta", "SELECT * FROM meta ORDER BY key"),
    ]
    .into_iter()
    .map(|(name, sql)| (name.to_string(), rows(&c, sql)))
    .collect()
}

fn version(path: &Path) -> i64 {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn tally(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

/// Converts the ledger at `path` as the app does (telling its progress) and
/// checks that it was converted once, with everything as `before`; gives
/// what it holds after.
fn converted_as_it_was(path: &Path, before: &Contents) -> Contents {
    assert!(Store::needs_rewrite(path));
    let mut told = Vec::new();
    let store = Store::open_updating(path, &mut |f| told.push(f)).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::VERSION);
    drop(store);
    assert!(!Store::needs_rewrite(path), "converted once");
    assert!(
        told.windows(2).all(|w| w[0] <= w[1]) && told.last() == Some(&1.0),
        "progress only grows, to the end: {told:?}"
    );
    let after = contents(path);
    for ((name, want), (_, got)) in before.iter().zip(&after) {
        assert_eq!(got, want, "{name}");
    }
    after
}

#[test]
fn a_ledger_of_the_wide_format_converts_with_everything_as_it_was() {
    let (_dir, path) = copy_of(FIXTURE);
    assert_eq!(version(&path), 16);
    let before = contents(&path);
    assert_eq!(before[0].1.len(), 34, "the fixture's records");
    assert_eq!(before[8].1.len(), 2, "and its alerts");

    let after = converted_as_it_was(&path, &before);

    // Every call is still known by its key: recorded or imported again, nothing is added.
    let again = tally(
        &path,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--input",
            "12000",
            "--output",
            "800",
            "--cache-read",
            "4000",
            "--user",
            "alice",
            "--project",
            "web",
            "--agent",
            "script",
            "--session",
            "s1",
            "--task",
            "review",
            "--request-id",
            "chatcmpl-1",
            "--at",
            "2026-11-20T09:00:00Z",
            "--json",
        ],
    );
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        again["new"], false,
        "a call keyed by its request id: {again}"
    );
    // Without a request id, a call is known by what it was.
    let again = tally(
        &path,
        &[
            "record",
            "--provider",
            "acme",
            "--model",
            "acme-large",
            "--input",
            "900",
            "--output",
            "90",
            "--user",
            "carol",
            "--at",
            "2026-11-22T08:00:00Z",
            "--json",
        ],
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["new"], false, "a call keyed by its content: {again}");
    // Claude Code's calls, read again from the start of their logs.
    let logs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v16/claude");
    let fresh = tempfile::tempdir().unwrap();
    let copied = fresh.path().join("claude");
    copy_folder(Path::new(logs), &copied);
    let imported = tally(
        &path,
        &["import", "claude-code", "--json", copied.to_str().unwrap()],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let imported: serde_json::Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(imported["new"], 0, "{imported}");
    assert_eq!(imported["already_imported"], 24, "{imported}");
    assert_eq!(contents(&path)[0].1, after[0].1, "no record changed");
}

/// The bytes the calls and their indexes use of their pages.
fn calls_bytes(path: &Path) -> i64 {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.query_row(
        "SELECT SUM(d.pgsize - d.unused) FROM dbstat d JOIN sqlite_master m ON m.name = d.name
         WHERE m.tbl_name = 'calls'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// Records a call with `args` again and says whether it was new.
fn recorded_again(path: &Path, args: &[&str]) -> bool {
    let out = tally(path, &[&["record", "--json"], args].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    out["new"].as_bool().unwrap()
}

#[test]
fn a_ledger_of_the_first_narrow_layout_compacts_with_everything_as_it_was() {
    let (dir, path) = copy_of(FIXTURE_18);
    assert_eq!(version(&path), 18);
    let before = contents(&path);
    assert_eq!(before[0].1.len(), 39, "the fixture's records");
    let old_size = calls_bytes(&path);

    let after = converted_as_it_was(&path, &before);
    let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let (columns, with_extras): (i64, i64) = c
        .query_row(
            "SELECT (SELECT COUNT(*) FROM pragma_table_info('calls')),
                    (SELECT COUNT(*) FROM calls WHERE extras IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // Revenue with a task, images, two embeddings (one with a task), 12
    // requests, a billed amount (no requests): the rest have none.
    assert_eq!((columns, with_extras), (19, 6));
    drop(c);
    // The calls take less room than before (4,340 bytes → 3,858). The file
    // as a whole need not shrink: on 39 calls its schema's text, which each
    // new column lengthens, is most of it.
    let new_size = calls_bytes(&path);
    assert!(new_size < old_size, "{new_size} ≥ {old_size}");

    // Every call is still known by its key. Of the pair whose first 8 key
    // bytes agreed, the second (which the old release put at the next key).
    assert!(!recorded_again(
        &path,
        &[
            "--provider",
            "acme",
            "--model",
            "acme-large",
            "--input",
            "777",
            "--output",
            "77",
            "--user",
            "dora",
            "--at",
            "2026-11-21T11:00:00Z",
        ],
    ));
    // A call with a task and embedding tokens (in extras), known by its content.
    assert!(!recorded_again(
        &path,
        &[
            "--provider",
            "acme",
            "--model",
            "acme-embed",
            "--embedding",
            "5000",
            "--task",
            "index-docs",
            "--at",
            "2026-11-21T10:00:00Z",
        ],
    ));
    // The OpenAI export's row, known by its bucket.
    let export = dir.path().join("u.csv");
    std::fs::write(
        &export,
        "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,service_tier,input_tokens,output_tokens,input_cached_tokens,input_audio_tokens\n\
         1763337600,1763424000,2025-11-17T00:00:00+00:00,2025-11-18T00:00:00+00:00,proj_a,12,,key_1,gpt-4o-2024-08-06,false,default,120000,8000,40000,0\n",
    )
    .unwrap();
    let out = tally(
        &path,
        &["import", "openai-usage", "--json", export.to_str().unwrap()],
    );
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out["new"].as_u64(), out["updated"].as_u64()),
        (Some(0), Some(0)),
        "{out}"
    );
    // Claude Code's calls, read again from the start of their logs.
    let copied = dir.path().join("claude");
    copy_folder(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/v16/claude"
        )),
        &copied,
    );
    let out = tally(
        &path,
        &["import", "claude-code", "--json", copied.to_str().unwrap()],
    );
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out["new"], 0, "{out}");
    assert_eq!(contents(&path)[0].1, after[0].1, "no record changed");
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The fixture grown to 300,000 records at schema 16, so that converting it
/// takes long enough to be killed part way.
fn large_wide_ledger() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    wide_ledger::grown_to(&path, 300_000);
    (dir, path)
}

#[test]
fn a_kill_during_the_conversion_leaves_the_old_ledger_which_converts_next_time() {
    let (_dir, path) = large_wide_ledger();
    let before = contents(&path);
    let wide = std::fs::metadata(&path).unwrap().len();
    // Killed when it says how far it is, again and again a little later.
    for delay_ms in [0u64, 150, 400] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("--db")
            .arg(&path)
            .args(["usage", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = child.stderr.take().unwrap();
        let mut first = [0u8; 8];
        std::io::Read::read_exact(&mut err, &mut first).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            version(&path),
            16,
            "killed after {delay_ms} ms: still the old ledger"
        );
        assert_eq!(
            contents(&path),
            before,
            "killed after {delay_ms} ms: as it was"
        );
    }
    let out = tally(&path, &["usage", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Updating the ledger"), "{stderr}");
    assert!(stderr.contains("100 %"), "{stderr}");
    assert_eq!(version(&path), schema::VERSION);
    let after = contents(&path);
    for ((name, want), (_, got)) in before.iter().zip(&after) {
        assert_eq!(got, want, "{name}");
    }
    let usage: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(usage["total"]["records"], 300_034);
    // The old rows' pages were given back.
    let narrow = std::fs::metadata(&path).unwrap().len();
    assert!(narrow * 2 < wide, "{wide} bytes → {narrow}");
}

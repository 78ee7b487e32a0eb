//! Team sync against a real PostgreSQL server the tests start: machines
//! (ledgers) that record overlapping and distinct calls end with the union,
//! each call once; rows committed out of order are not skipped; syncs killed
//! at any point resume; a server that is down blocks nothing local; bad
//! addresses, passwords and schemas are named and change nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use jiff::Timestamp;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tally::core::Money;
use tally::core::usage::{Cost, TokenCounts, UsageRecord};
use tally::store::Store;

#[path = "support/postgres.rs"]
mod postgres_server;
use postgres_server::{PASSWORD, Pg};

const TALLY: &str = env!("CARGO_BIN_EXE_tally");

fn tally_cmd(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(TALLY);
    c.arg("--db")
        .arg(db)
        .args(args)
        .env("PGPASSWORD", PASSWORD)
        .env("HOME", db.parent().unwrap())
        .env_remove("PGPASSFILE")
        .env_remove("TALLY_USER")
        .env_remove("TALLY_PROJECT")
        .env_remove("TALLY_AGENT");
    c
}

fn tally(db: &Path, args: &[&str]) -> Output {
    tally_cmd(db, args).output().unwrap()
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = tally(db, args);
    assert!(
        out.status.success(),
        "tally {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A call with a request id and a reported cost of `cents` cents.
fn call(id: &str, minute: i64, cents: i64) -> UsageRecord {
    let at = Timestamp::from_second(1_790_000_000 + minute * 60).unwrap();
    let mut r = UsageRecord::new(at, "anthropic", "claude-sonnet-4-5");
    r.source = "cli".into();
    r.request_id = Some(id.into());
    r.project = "web".into();
    r.tokens = TokenCounts {
        input: 100 + minute as u64,
        output: 10,
        ..TokenCounts::default()
    };
    r.cost = Cost::Reported {
        amount: Money::from_nanos(cents * 10_000_000),
    };
    r
}

fn ledger(dir: &Path, name: &str, calls: &[UsageRecord]) -> PathBuf {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let path = home.join("ledger.sqlite");
    let mut store = Store::open(&path).unwrap();
    if !calls.is_empty() {
        store.insert_batch(calls).unwrap();
    }
    path
}

/// Every call in a ledger: request id → (machine, cost in nanos).
fn calls_in(db: &Path) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT request_id, machine, cost_nanos FROM usage ORDER BY request_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The ledger's totals as its rollups hold them (what every view reads).
fn rollup_total(db: &Path) -> (u64, i64) {
    let store = Store::open_read_only(db).unwrap();
    let conn = store.connection();
    conn.query_row(
        "SELECT coalesce(sum(records), 0), coalesce(sum(cost_nanos), 0) FROM usage_daily",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
    )
    .unwrap()
}

/// Asserts the ledger holds exactly `union` (each call once) and its
/// rollups agree with a sum over the calls.
fn assert_union(db: &Path, union: &[UsageRecord]) {
    let held = calls_in(db);
    let ids: Vec<&str> = held.iter().map(|c| c.0.as_str()).collect();
    let mut wanted: Vec<&str> = union
        .iter()
        .map(|r| r.request_id.as_deref().unwrap())
        .collect();
    wanted.sort_unstable();
    if ids != wanted {
        let missing: Vec<&&str> = wanted.iter().filter(|w| !ids.contains(w)).collect();
        let mut seen = std::collections::BTreeSet::new();
        let twice: Vec<&&str> = ids.iter().filter(|i| !seen.insert(**i)).collect();
        let extra: Vec<&&str> = ids.iter().filter(|i| !wanted.contains(i)).collect();
        panic!(
            "{}: not the union, each call once: {} held, {} wanted; missing {:?}…, twice {:?}…, extra {:?}…",
            db.display(),
            ids.len(),
            wanted.len(),
            &missing[..missing.len().min(5)],
            &twice[..twice.len().min(5)],
            &extra[..extra.len().min(5)],
        );
    }
    let sum: i64 = union.iter().map(|r| r.cost.amount().unwrap().nanos()).sum();
    assert_eq!(
        rollup_total(db),
        (union.len() as u64, sum),
        "{}: rollups",
        db.display()
    );
}

fn join(pg: &Pg, db: &Path, machine: &str) {
    ok(db, &["team", "join", &pg.address(), "--machine", machine]);
}

/// Two empty ledgers, joined to the team as machines "a" and "b".
fn two_joined(pg: &Pg) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let a = ledger(dir.path(), "a", &[]);
    let b = ledger(dir.path(), "b", &[]);
    join(pg, &a, "a");
    join(pg, &b, "b");
    (dir, a, b)
}

#[test]
fn three_machines_end_with_the_union_each_call_once() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let shared: Vec<UsageRecord> = (0..40).map(|i| call(&format!("s-{i:03}"), i, 3)).collect();
    let own = |m: &str, n: i64, rng: &mut rand::rngs::StdRng| -> Vec<UsageRecord> {
        (0..n)
            .map(|i| call(&format!("{m}-{i:04}"), i * 7, rng.random_range(1..500)))
            .collect()
    };
    let a_own = own("a", 700, &mut rng);
    let b_own = own("b", 450, &mut rng);
    let c_own = own("c", 5, &mut rng);
    let with_shared = |own: &[UsageRecord]| [own, &shared[..]].concat();
    let a = ledger(dir.path(), "a", &with_shared(&a_own));
    let b = ledger(dir.path(), "b", &with_shared(&b_own));
    let c = ledger(dir.path(), "c", &c_own);
    let union = [&a_own[..], &b_own[..], &c_own[..], &shared[..]].concat();

    for (db, name) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        join(&pg, db, name);
    }
    // Syncs at once, then rounds in random orders; more calls come between.
    let mut ledgers = vec![a.clone(), b.clone(), c.clone()];
    let running: Vec<_> = ledgers
        .iter()
        .map(|db| tally_cmd(db, &["team", "sync"]).spawn().unwrap())
        .collect();
    for mut child in running {
        assert!(child.wait().unwrap().success());
    }
    let late = call("c-late", 9_000, 77);
    Store::open(&c).unwrap().insert(&late).unwrap();
    let union = [&union[..], &[late][..]].concat();
    for _ in 0..2 {
        ledgers.shuffle(&mut rng);
        for db in &ledgers {
            ok(db, &["team", "sync"]);
        }
    }
    for db in [&a, &b, &c] {
        assert_union(db, &union);
    }
    // Each call names the machine that recorded it (a shared one: its own
    // copy on a and b, the first pusher's elsewhere).
    let on_c = calls_in(&c);
    let machine_of = |id: &str| on_c.iter().find(|x| x.0 == id).unwrap().1.clone();
    assert_eq!(machine_of("a-0001"), "a");
    assert_eq!(machine_of("b-0001"), "b");
    assert_eq!(machine_of("c-late"), "c");
    let by_machine = ok(&c, &["usage", "--group-by", "machine", "--json"]);
    assert!(by_machine.contains("\"machine\""), "{by_machine}");
    // The server holds each call once.
    let rows: i64 = pg
        .team()
        .query_one("SELECT count(*) FROM tally_records", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, union.len());
}

/// Two pushers whose transactions commit in the opposite order of their
/// transaction ids: a pull between the commits takes neither too early,
/// and the one after takes both.
/// A call as machine "w" would push it, written straight into the server.
fn push_by_hand(client: &mut impl postgres::GenericClient, id: &str) {
    client
        .execute(
            "INSERT INTO tally_records (gkey, machine, pushed_by, revision, digest, ts_ms,
                 provider, model, user_name, project, agent, source, request_id, input,
                 output, cache_read, cache_write_5m, cache_write_1h, reasoning, cost_kind,
                 cost_nanos)
             VALUES ($1, 'w', 'w', 1, '\\x00', 1790000000000, 'openai', 'gpt-4o', '', '',
                 '', 'cli', $2, 5, 5, 0, 0, 0, 0, 1, 1000)",
            &[&tally::core::usage::request_key("cli", id).to_vec(), &id],
        )
        .unwrap();
}

#[test]
fn rows_whose_transaction_ids_gain_a_digit_are_not_skipped() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let reader = ledger(dir.path(), "r", &[]);
    join(&pg, &reader, "reader");
    let mut server = pg.team();
    let xid = |c: &mut postgres::Client| -> i64 {
        let text: String = c
            .query_one("SELECT pg_current_xact_id()::text", &[])
            .unwrap()
            .get(0);
        text.parse().unwrap()
    };
    // Transaction ids up to just below the next power of ten (each
    // statement on its own is a transaction of its own).
    let now = xid(&mut server);
    let boundary = 10i64.pow((now + 20).ilog10() + 1);
    while xid(&mut server) < boundary - 7 {}
    // Twelve calls, each committed alone: their ids run across the boundary.
    let ids: Vec<String> = (0..12).map(|i| format!("call-{i:02}")).collect();
    for id in &ids {
        push_by_hand(&mut server, id);
    }
    assert!(xid(&mut server) > boundary, "the ids crossed {boundary}");
    // One call a batch, so batches end on each side of the boundary.
    let out = tally_cmd(&reader, &["team", "sync"])
        .env("TALLY_TEAM_BATCH", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let held: Vec<String> = calls_in(&reader).into_iter().map(|c| c.0).collect();
    assert_eq!(held, ids, "every call, across {boundary}");
}

#[test]
fn rows_committed_out_of_order_are_not_skipped() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let reader = ledger(dir.path(), "r", &[]);
    join(&pg, &reader, "reader");
    let insert = |client: &mut postgres::Transaction, id: &str| push_by_hand(client, id);
    let mut first = pg.team();
    let mut second = pg.team();
    let mut slow = first.transaction().unwrap();
    insert(&mut slow, "slow"); // the lower transaction id
    let mut fast = second.transaction().unwrap();
    insert(&mut fast, "fast");
    fast.commit().unwrap();
    ok(&reader, &["team", "sync"]);
    let ids = |db: &Path| -> Vec<String> { calls_in(db).into_iter().map(|c| c.0).collect() };
    assert!(
        ids(&reader).is_empty(),
        "nothing is taken past a transaction still running"
    );
    slow.commit().unwrap();
    ok(&reader, &["team", "sync"]);
    assert_eq!(ids(&reader), ["fast", "slow"]);
    ok(&reader, &["team", "sync"]);
    assert_eq!(ids(&reader), ["fast", "slow"], "nothing twice");
}

#[test]
fn syncs_killed_at_any_point_resume_without_losing_or_doubling() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(23);
    let a = ledger(dir.path(), "a", &[]);
    let b = ledger(dir.path(), "b", &[]);
    join(&pg, &a, "a");
    join(&pg, &b, "b");
    let mut union = Vec::new();
    for trial in 0..20 {
        let batch: Vec<UsageRecord> = (0..1_500)
            .map(|i| call(&format!("t{trial:02}-{i:04}"), trial * 2_000 + i, 2))
            .collect();
        Store::open(&a).unwrap().insert_batch(&batch).unwrap();
        union.extend(batch);
        // Kill a's push, then b's pull, each at a random point; then run them again.
        for db in [&a, &b] {
            let mut child = tally_cmd(db, &["team", "sync"])
                .env("TALLY_TEAM_BATCH", "100")
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(rng.random_range(20..400)));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        if trial % 5 == 4 {
            for db in [&a, &b] {
                ok(db, &["team", "sync"]);
            }
            assert_union(&b, &union);
        }
    }
    ok(&a, &["team", "sync"]);
    ok(&b, &["team", "sync"]);
    assert_union(&a, &union);
    assert_union(&b, &union);
}

#[test]
fn a_server_that_is_down_blocks_nothing_local_and_sync_catches_up() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let a = ledger(dir.path(), "a", &[call("a-1", 1, 5)]);
    let b = ledger(dir.path(), "b", &[]);
    join(&pg, &a, "a");
    join(&pg, &b, "b");
    pg.stop();
    ok(
        &a,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--input",
            "1000",
            "--output",
            "100",
            "--request-id",
            "while-down",
        ],
    );
    ok(
        &a,
        &["check", "--model", "gpt-4o", "--estimated-input", "1000"],
    );
    let out = tally(&a, &["team", "sync"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the team's server"), "{err}");
    let status = ok(&a, &["team", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["unpushed"], 1, "{status}");
    assert_eq!(status["last_sync"]["ok"], false, "{status}");
    pg.start_again();
    ok(&a, &["team", "sync"]);
    ok(&b, &["team", "sync"]);
    let ids: Vec<String> = calls_in(&b).into_iter().map(|c| c.0).collect();
    assert_eq!(ids, ["a-1", "while-down"]);
}

#[test]
fn bad_passwords_addresses_and_schemas_are_named_and_change_nothing() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let a = ledger(dir.path(), "a", &[call("a-1", 1, 5)]);
    let before = calls_in(&a);
    let refused = |args: &[&str], env: &[(&str, &str)], says: &str| {
        let mut cmd = tally_cmd(&a, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(says), "{args:?}: {err}");
        let status = ok(&a, &["team", "status", "--json"]);
        assert!(status.contains("\"joined\":false"), "{status}");
        assert_eq!(calls_in(&a), before, "the calls are as they were");
    };
    let address = pg.address();
    refused(
        &["team", "join", &address],
        &[("PGPASSWORD", "wrong")],
        "refused the password for user “postgres”",
    );
    let no_tls = address.replace("?sslmode=disable", "");
    refused(&["team", "join", &no_tls], &[], "does not offer TLS");
    let nobody = format!(
        "postgres://postgres@127.0.0.1:{}/team?sslmode=disable",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    refused(
        &["team", "join", &nobody],
        &[],
        "cannot reach the team's server 127.0.0.1",
    );
    let mut admin = pg.team();
    admin
        .batch_execute(
            "CREATE TABLE tally_schema (id int PRIMARY KEY, version int NOT NULL);
             INSERT INTO tally_schema VALUES (1, 99);",
        )
        .unwrap();
    refused(
        &["team", "join", &address],
        &[],
        "holds the tables of a newer Tally",
    );
    refused(
        &["team", "join", "mysql://h/db"],
        &[],
        "is not a postgres:// address",
    );
}

/// Waits until `cond` holds, up to 30 s (a bound on the test, not a latency).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(std::time::Instant::now() < until, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_running_server_follows_the_team_both_ways() {
    let pg = Pg::start();
    let (_dir, a, b) = two_joined(&pg);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serving = tally_cmd(&b, &["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Another machine pushes: the server's notification brings it to b.
    Store::open(&a)
        .unwrap()
        .insert(&call("from-a", 1, 4))
        .unwrap();
    ok(&a, &["team", "sync"]);
    let ids = |db: &Path| -> Vec<String> { calls_in(db).into_iter().map(|c| c.0).collect() };
    eventually("b pulls what a pushed", || ids(&b) == ["from-a"]);
    // A call recorded on b by another process is pushed by b's follower.
    ok(
        &b,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--input",
            "10",
            "--output",
            "1",
            "--request-id",
            "from-b",
        ],
    );
    let mut server = pg.team();
    eventually("b pushes what it recorded", || {
        server
            .query_one(
                "SELECT count(*) FROM tally_records WHERE request_id = 'from-b'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
            == 1
    });
    ok(&a, &["team", "sync"]);
    assert_eq!(ids(&a), ["from-a", "from-b"]);
    unsafe { libc::kill(serving.id() as i32, libc::SIGTERM) };
    assert!(serving.wait().unwrap().success());
}

/// A private session bus with GNOME Keyring's Secret Service on it,
/// unlocked; both end when dropped.
struct Keyring {
    bus: std::process::Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Keyring {
    fn start() -> Keyring {
        use std::io::{BufRead, BufReader, Write};
        let dir = tempfile::tempdir().unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_string();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian's gnome-keyring)");
        keyring
            .stdin
            .take()
            .unwrap()
            .write_all(b"login-password")
            .unwrap();
        keyring.wait().unwrap();
        eventually("the keyring is on the bus", || {
            Command::new("dbus-send")
                .args([
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("true"))
        });
        Keyring {
            bus,
            address,
            _dir: dir,
        }
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

#[test]
fn a_password_given_to_join_is_kept_in_the_keyring_and_nowhere_else() {
    let pg = Pg::start();
    let dir = tempfile::tempdir().unwrap();
    let a = ledger(dir.path(), "a", &[call("a-1", 1, 5)]);
    let with_password = pg
        .address()
        .replace("postgres@", &format!("postgres:{PASSWORD}@"));
    // No keyring on the session: the join is refused, with where else to keep it.
    let out = tally_cmd(&a, &["team", "join", &with_password])
        .env_remove("PGPASSWORD")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("~/.pgpass"), "{err}");
    assert!(ok(&a, &["team", "status", "--json"]).contains("\"joined\":false"));

    let keyring = Keyring::start();
    let run = |args: &[&str]| {
        let out = tally_cmd(&a, args)
            .env_remove("PGPASSWORD")
            .env("DBUS_SESSION_BUS_ADDRESS", &keyring.address)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["team", "join", &with_password, "--machine", "a"]);
    // Later syncs find it there; the ledger never held it.
    run(&["team", "sync"]);
    let ledger_bytes = std::fs::read(&a).unwrap();
    assert!(
        !ledger_bytes
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes()),
        "the password is not in the ledger"
    );
    run(&["team", "leave"]);
    // Left: the keyring forgot it, so a sync of a new join without one fails.
    let out = tally_cmd(&a, &["team", "join", &pg.address(), "--machine", "a"])
        .env_remove("PGPASSWORD")
        .env("DBUS_SESSION_BUS_ADDRESS", &keyring.address)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the password was forgotten");
}

/// The team alerts a ledger shows: (kind, the machine that claimed it).
fn team_alerts(db: &Path) -> Vec<(String, String)> {
    let list: serde_json::Value =
        serde_json::from_str(&ok(db, &["alerts", "list", "--all", "--json"])).unwrap();
    list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["policy"], "team-monthly", "only team alerts here: {a}");
            let by = a["detail"]["team"]["claimed_by"].as_str();
            (
                a["kind"].as_str().unwrap().to_string(),
                by.expect("a team alert names who claimed it").to_string(),
            )
        })
        .collect()
}

fn spend(db: &Path, dollars: &str, id: &str) {
    ok(
        db,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--cost",
            dollars,
            "--request-id",
            id,
        ],
    );
}

/// Both machines sync at once, then again, so each has seen the other's calls.
fn sync_both(a: &Path, b: &Path) {
    let mut children: Vec<_> = [a, b]
        .iter()
        .map(|db| tally_cmd(db, &["team", "sync"]).spawn().unwrap())
        .collect();
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    ok(a, &["team", "sync"]);
    ok(b, &["team", "sync"]);
}

#[test]
fn a_team_budget_crossed_by_two_machines_raises_one_team_alert_seen_on_both() {
    let pg = Pg::start();
    let (_dir, a, b) = two_joined(&pg);
    let out = ok(
        &a,
        &[
            "policy",
            "add",
            "team-monthly",
            "--limit",
            "1",
            "--period",
            "daily",
            "--team",
        ],
    );
    assert!(out.contains("team policy"), "{out}");
    // Neither machine alone reaches the soft limit (80 %); together they pass 100 %.
    spend(&a, "0.50", "a-1");
    spend(&b, "0.55", "b-1");
    sync_both(&a, &b);
    let list = ok(&b, &["policy", "list"]);
    assert!(list.contains("team-monthly (team)"), "{list}");
    let mut server = pg.team();
    let count = |server: &mut postgres::Client| -> i64 {
        server
            .query_one("SELECT count(*) FROM tally_alerts", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(count(&mut server), 1, "one team alert on the server");
    let on_a = team_alerts(&a);
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert_eq!(on_a[0].0, "LIMIT_EXCEEDED");
    assert_eq!(team_alerts(&b), on_a, "both show the same team alert");

    // A higher threshold crossed within the cooldown: no machine alerts.
    server
        .execute(
            "INSERT INTO tally_rules (trigger, severity, channels, cooldown_s)
             VALUES ('150', 'critical', 'desktop,log', 3600)",
            &[],
        )
        .unwrap();
    spend(&a, "0.60", "a-2");
    sync_both(&a, &b);
    assert_eq!(count(&mut server), 1, "the shared cooldown holds");
    assert_eq!(team_alerts(&a).len(), 1);
    assert_eq!(team_alerts(&b).len(), 1);

    // Once the cooldown is over (the marks made two hours ago), the next
    // machine to sync claims the 150 % alert, once.
    server
        .execute("UPDATE tally_marks SET at_ms = at_ms - 7200000", &[])
        .unwrap();
    sync_both(&a, &b);
    assert_eq!(count(&mut server), 2);
    let on_a = team_alerts(&a);
    assert_eq!(on_a.len(), 2, "{on_a:?}");
    assert_eq!(team_alerts(&b), on_a);
    // Acknowledged on one machine, acknowledged on both (by whom it was).
    let list: serde_json::Value =
        serde_json::from_str(&ok(&a, &["alerts", "list", "--json"])).unwrap();
    let first = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "LIMIT_EXCEEDED")
        .unwrap()["id"]
        .to_string();
    ok(&a, &["alerts", "ack", &first]);
    ok(&a, &["team", "sync"]);
    ok(&b, &["team", "sync"]);
    let on_b: serde_json::Value =
        serde_json::from_str(&ok(&b, &["alerts", "list", "--all", "--json"])).unwrap();
    let states: Vec<(String, String)> = on_b["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["kind"].as_str().unwrap().to_string(),
                x["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        states.contains(&("LIMIT_EXCEEDED".into(), "acknowledged".into())),
        "{states:?}"
    );
    assert!(
        states.iter().any(|(_, s)| s == "active"),
        "the other stays open: {states:?}"
    );
    // Both count the team's calls: 0.50 + 0.55 + 0.60.
    for db in [&a, &b] {
        let status: serde_json::Value =
            serde_json::from_str(&ok(db, &["status", "--json"])).unwrap();
        let p = &status["policies"][0];
        assert_eq!(p["team"], true, "{status}");
        assert_eq!(p["used"], "1.650000000", "{status}");
    }
}

/// Each call's cost in a ledger, by request id (nanos).
fn costs(db: &Path) -> std::collections::BTreeMap<String, i64> {
    calls_in(db).into_iter().map(|(id, _, c)| (id, c)).collect()
}

fn million_in(db: &Path, id: &str) {
    ok(
        db,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--input",
            "1000000",
            "--output",
            "0",
            "--request-id",
            id,
        ],
    );
}

#[test]
fn machines_keep_their_own_prices_until_the_team_shares_a_price_book() {
    let pg = Pg::start();
    let (_dir, a, b) = two_joined(&pg);
    // a prices gpt-4o at $5 per million input tokens; b has the shipped $2.50.
    ok(
        &a,
        &["prices", "set", "gpt-4o", "--input", "5", "--output", "20"],
    );
    million_in(&a, "a-1");
    million_in(&b, "b-1");
    for _ in 0..2 {
        ok(&a, &["team", "sync"]);
        ok(&b, &["team", "sync"]);
    }
    let own = |a_cost: i64, b_cost: i64| {
        [("a-1".to_string(), a_cost), ("b-1".to_string(), b_cost)]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(costs(&a), own(5_000_000_000, 2_500_000_000));
    assert_eq!(
        costs(&b),
        own(5_000_000_000, 2_500_000_000),
        "each call keeps its machine's cost"
    );
    // Repricing on b leaves a's call as a priced it.
    ok(&b, &["reprice"]);
    assert_eq!(costs(&b), own(5_000_000_000, 2_500_000_000));
    // The difference is shown, naming both machines' prices.
    let status: serde_json::Value =
        serde_json::from_str(&ok(&b, &["team", "status", "--json"])).unwrap();
    let conflicts = status["price_conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{status}");
    assert_eq!(conflicts[0]["model"], "gpt-4o");
    let machines = conflicts[0]["machines"].to_string();
    assert!(
        machines.contains("a: in $5") && machines.contains("b: in $2.5"),
        "{machines}"
    );
    let text = ok(&b, &["team", "status"]);
    assert!(text.contains("price these models differently"), "{text}");

    // A shared price book: every machine reprices everyone's calls with it.
    ok(
        &a,
        &[
            "prices", "set", "gpt-4o", "--input", "1", "--output", "4", "--team",
        ],
    );
    assert_eq!(costs(&a), own(1_000_000_000, 1_000_000_000));
    ok(&b, &["team", "sync"]);
    assert_eq!(costs(&b), own(1_000_000_000, 1_000_000_000));
    // It beats a's own price, and the same call recorded after prices alike.
    million_in(&b, "b-2");
    assert_eq!(costs(&b)["b-2"], 1_000_000_000);
    for _ in 0..2 {
        ok(&a, &["team", "sync"]);
        ok(&b, &["team", "sync"]);
    }
    assert_eq!(costs(&a), costs(&b), "every ledger agrees");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&a, &["team", "status", "--json"])).unwrap();
    assert_eq!(status["price_conflicts"], serde_json::json!([]), "{status}");

    // Taken out of the shared book, each machine's own price is back.
    ok(&a, &["prices", "remove", "gpt-4o", "--team"]);
    ok(&b, &["team", "sync"]);
    assert_eq!(costs(&a)["a-1"], 5_000_000_000);
    assert_eq!(costs(&b)["b-2"], 2_500_000_000);
}

//! The ledger on real SQLite files: idempotence, migrations, rollups, concurrency.

use std::collections::HashMap;
use std::process::Command;

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tally::core::Money;
use tally::core::usage::{Cost, Dimension, TokenCounts, Totals, UsageRecord, time_bucket};
use tally::store::{Store, UsageQuery, schema};

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.sqlite");
    (dir, path)
}

fn random_record(rng: &mut StdRng, i: u64) -> UsageRecord {
    const MODELS: [(&str, &str); 4] = [
        ("gpt-4o", "openai"),
        ("claude-sonnet-4-5", "anthropic"),
        ("gemini-2.5-pro", "google"),
        ("acme-x", ""),
    ];
    let (model, provider) = MODELS[rng.random_range(0..MODELS.len())];
    // 120 days from 2025-01-15, any second: crosses a DST change in most zones.
    let at = Timestamp::from_second(1_736_899_200 + rng.random_range(0..120 * 86_400)).unwrap();
    let mut r = UsageRecord::new(at, provider, model);
    r.source = "test".into();
    r.user = ["alice", "bob", ""][rng.random_range(0..3)].into();
    r.project = ["web", "api", "data"][rng.random_range(0..3)].into();
    r.agent = ["claude-code", "codex", ""][rng.random_range(0..3)].into();
    r.request_id = Some(format!("req_{i}"));
    r.tokens = TokenCounts {
        input: rng.random_range(0..50_000),
        output: rng.random_range(0..5_000),
        cache_read: rng.random_range(0..100_000),
        cache_write_5m: rng.random_range(0..10_000),
        cache_write_1h: rng.random_range(0..1_000),
        reasoning: 0,
    };
    r.cost = if provider.is_empty() {
        Cost::Unpriced {
            reason: "unknown".into(),
        }
    } else {
        Cost::Priced {
            amount: Money::from_nanos(rng.random_range(0..5_000_000_000)),
            price_version: "t".into(),
        }
    };
    if rng.random_bool(0.1) {
        r.revenue = Some(Money::from_nanos(rng.random_range(0..1_000_000_000)));
    }
    r
}

/// The reference: fold the records themselves, with the zone arithmetic done here.
fn brute_force(records: &[UsageRecord], q: &UsageQuery) -> HashMap<Vec<String>, Totals> {
    let mut out: HashMap<Vec<String>, Totals> = HashMap::new();
    for r in records {
        if q.since.is_some_and(|s| r.at < s) || q.until.is_some_and(|u| r.at >= u) {
            continue;
        }
        let day = r.at.to_zoned(q.zone.clone()).date();
        let keys = q
            .group_by
            .iter()
            .map(|d| {
                if d.is_time() {
                    time_bucket(*d, day, q.week_start)
                } else {
                    d.value_of(r).to_string()
                }
            })
            .collect();
        out.entry(keys).or_default().add(&Totals::of(r));
    }
    out
}

fn query(zone: &TimeZone, group_by: &[Dimension], range: Option<(&str, &str)>) -> UsageQuery {
    let at = |d: &str| {
        d.parse::<jiff::civil::Date>()
            .unwrap()
            .to_zoned(zone.clone())
            .unwrap()
            .timestamp()
    };
    UsageQuery {
        since: range.map(|(s, _)| at(s)),
        until: range.map(|(_, u)| at(u)),
        group_by: group_by.to_vec(),
        zone: zone.clone(),
        week_start: Weekday::Monday,
    }
}

fn assert_matches(store: &Store, records: &[UsageRecord], q: &UsageQuery) {
    let (rows, total) = store.usage(q).expect("usage");
    let got: HashMap<Vec<String>, Totals> = rows.into_iter().map(|r| (r.keys, r.totals)).collect();
    let want = brute_force(records, q);
    assert_eq!(
        got.len(),
        want.len(),
        "group count for {:?} in {:?}",
        q.group_by,
        q.zone.iana_name()
    );
    for (k, v) in &want {
        assert_eq!(got.get(k), Some(v), "group {k:?} for {:?}", q.group_by);
    }
    let mut want_total = Totals::default();
    want.values().for_each(|t| want_total.add(t));
    assert_eq!(total, want_total);
}

#[test]
fn inserting_the_same_record_twice_counts_once() {
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let r = random_record(&mut rng, 1);
    let first = store.insert(&r).unwrap();
    let again = store.insert(&r).unwrap();
    assert!(first.new && !again.new);
    assert_eq!(first.id, again.id);
    let batch = store.insert_batch(&[r.clone(), r.clone()]).unwrap();
    assert_eq!((batch.inserted, batch.duplicates), (0, 2));
    let (_, total) = store.usage(&query(store.zone(), &[], None)).unwrap();
    assert_eq!(total.requests, 1);
}

#[test]
fn the_ledger_is_wal_with_foreign_keys_and_a_busy_timeout() {
    let (_d, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let c = store.connection();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let fk: i64 = c
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    let busy: i64 = c
        .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), fk), ("wal", 1));
    assert!(busy >= 5_000, "busy timeout {busy} ms");
}

#[test]
fn the_cost_kind_check_holds_without_a_temporary_table_per_row() {
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut r = UsageRecord::new(Timestamp::UNIX_EPOCH, "openai", "gpt-4o");
    r.cost = Cost::Unpriced {
        reason: "test".into(),
    };
    store.insert(&r).unwrap();
    let c = store.connection();
    let bad = c.execute("UPDATE calls SET cost_kind = 7", []);
    assert!(
        bad.unwrap_err().to_string().contains("CHECK"),
        "still checked"
    );
    // An `IN (…)` list in a CHECK is compiled to a temporary table built for
    // every row; the insert must not have one.
    let ops: Vec<String> = c
        .prepare("EXPLAIN INSERT INTO calls (key, key_check, ts_ms, dims, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning, cost_kind, cost_nanos) VALUES (0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1)")
        .unwrap()
        .query_map([], |row| row.get(1))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!ops.iter().any(|op| op == "OpenEphemeral"), "{ops:?}");
}

#[test]
fn rollup_totals_equal_full_scan_totals_on_random_data() {
    let (_d, path) = temp_db();
    // A ledger in a zone with DST, so local days are 23 and 25 hours long too.
    let store = Store::open(&path).unwrap();
    store
        .connection()
        .execute(
            "UPDATE meta SET value = 'Europe/Berlin' WHERE key = 'zone'",
            [],
        )
        .unwrap();
    drop(store);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.zone().iana_name(), Some("Europe/Berlin"));
    let mut rng = StdRng::seed_from_u64(7);
    let records: Vec<UsageRecord> = (0..5_000).map(|i| random_record(&mut rng, i)).collect();
    for chunk in records.chunks(700) {
        store.insert_batch(chunk).unwrap();
    }
    // Duplicates from a second import change nothing.
    assert_eq!(store.insert_batch(&records[..1_000]).unwrap().inserted, 0);

    let ledger_zone = store.zone().clone();
    let other = TimeZone::get("America/St_Johns").unwrap(); // UTC−3:30 with DST
    let groupings: &[&[Dimension]] = &[
        &[],
        &[Dimension::Day],
        &[Dimension::Day, Dimension::Model],
        &[Dimension::Week, Dimension::Provider],
        &[Dimension::Month, Dimension::User, Dimension::Project],
        &[Dimension::Agent, Dimension::Source],
        &[Dimension::Model, Dimension::Day, Dimension::Month],
    ];
    for zone in [&ledger_zone, &other] {
        for g in groupings {
            assert_matches(&store, &records, &query(zone, g, None));
            assert_matches(
                &store,
                &records,
                &query(zone, g, Some(("2025-02-01", "2025-03-09"))),
            );
        }
    }
    // A range that cuts a day, answered from the records.
    let mut q = query(&ledger_zone, &[Dimension::Day], None);
    q.since = Some(Timestamp::from_second(1_738_000_123).unwrap());
    q.until = Some(Timestamp::from_second(1_740_000_456).unwrap());
    assert_matches(&store, &records, &q);
}

#[test]
fn repricing_keeps_the_rollup_exact() {
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let mut records: Vec<UsageRecord> = (0..2_000).map(|i| random_record(&mut rng, i)).collect();
    store.insert_batch(&records).unwrap();
    let mut book = tally::core::PriceBook::new(tally::prices::shipped());
    let spec = tally::core::price_file::PriceSpec {
        provider: String::new(),
        model: "acme-x".into(),
        from: "2020-01-01".parse().unwrap(),
        rates: tally::core::price_file::RateSpec {
            input: Some("1".into()),
            output: Some("2".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    book.add(
        spec.to_price(tally::core::pricing::Origin::User, "user")
            .unwrap(),
    );
    let is_acme = |r: &UsageRecord| r.model == "acme-x";
    let outcome = store.reprice(&book, is_acme).unwrap();
    let acme = records.iter().filter(|r| is_acme(r)).count() as u64;
    assert_eq!(outcome.changed, acme);
    assert_eq!(outcome.still_unpriced, 0);
    for r in records.iter_mut().filter(|r| r.model == "acme-x") {
        let (amount, price_version) = book.price(r).unwrap();
        r.cost = Cost::Priced {
            amount,
            price_version,
        };
    }
    for g in [&[][..], &[Dimension::Day, Dimension::Model][..]] {
        assert_matches(&store, &records, &query(&store.zone().clone(), g, None));
    }
}

/// Writes `r` into `usage` as every version since the first holds it, for a
/// ledger opened at an older version. Today's insert code writes columns and
/// tables older versions lack, so it cannot be used there; the rollups are
/// rebuilt by the last migration.
fn insert_as_stored(c: &rusqlite::Connection, r: &UsageRecord) -> rusqlite::Result<usize> {
    let t = &r.tokens;
    let (kind, cost) = match r.cost.amount() {
        Some(m) => ("priced", Some(m.nanos())),
        None => ("unpriced", None),
    };
    c.execute(
        "INSERT INTO usage (dedupe_key, ts_ms, provider, model, user, project, agent, source,
            request_id, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning,
            images, embedding_tokens, cost_kind, cost_nanos, revenue_nanos, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 0, 0, ?16, ?17, ?18, 0)",
        rusqlite::params![
            &r.dedupe_key()[..],
            r.at.as_millisecond(),
            r.provider,
            r.model,
            r.user,
            r.project,
            r.agent,
            r.source,
            r.request_id,
            t.input as i64,
            t.output as i64,
            t.cache_read as i64,
            t.cache_write_5m as i64,
            t.cache_write_1h as i64,
            t.reasoning as i64,
            kind,
            cost,
            r.revenue.map(Money::nanos),
        ],
    )
}

#[test]
fn migrations_upgrade_a_ledger_from_every_earlier_version() {
    for from in 0..schema::VERSION {
        let (_d, path) = temp_db();
        let mut rng = StdRng::seed_from_u64(from as u64);
        let records: Vec<UsageRecord> = (0..200).map(|i| random_record(&mut rng, i)).collect();
        {
            let mut old = Store::open_at_version(&path, from).unwrap();
            assert_eq!(old.schema_version().unwrap(), from);
            if from >= 17 {
                // The narrow ledger: today's insert writes its rows, into
                // rollups of today's columns (the machine's step rebuilds
                // them from the rows anyway).
                let tx = old.connection().unchecked_transaction().unwrap();
                tally::store::rollup::recreate_tables(&tx).unwrap();
                tx.commit().unwrap();
                old.insert_batch(&records).unwrap();
            } else if from >= 1 {
                // Rows as that version's `usage` table holds them.
                for (i, r) in records.iter().enumerate() {
                    insert_as_stored(old.connection(), r)
                        .unwrap_or_else(|e| panic!("row {i} at version {from}: {e}"));
                }
            }
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            schema::VERSION,
            "from {from}"
        );
        let expected = if from >= 1 { &records[..] } else { &[] };
        assert_matches(
            &store,
            expected,
            &query(
                &store.zone().clone(),
                &[Dimension::Day, Dimension::Model],
                None,
            ),
        );
        assert!(store.stored_prices().unwrap().is_empty());
        // The hourly rollup was filled from the records too.
        let (hourly_requests, hourly_cost): (i64, i64) = store
            .connection()
            .query_row(
                "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(cost_nanos), 0) FROM usage_hourly",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let cost: i64 = expected
            .iter()
            .filter_map(|r| r.cost.amount())
            .map(Money::nanos)
            .sum();
        assert_eq!(
            (hourly_requests, hourly_cost),
            (expected.len() as i64, cost),
            "from {from}"
        );
    }
}

#[test]
fn claude_code_calls_stored_under_message_and_request_are_rekeyed_by_message() {
    let (_d, path) = temp_db();
    let claude = |request: &str, output: u64| {
        let mut r = UsageRecord::new(
            "2026-01-31T10:00:00Z".parse().unwrap(),
            "anthropic",
            "claude-sonnet-4-5-20250929",
        );
        r.source = "claude-code".into();
        r.request_id = Some(request.into());
        r.tokens.output = output;
        r.cost = Cost::Priced {
            amount: Money::from_nanos(output as i64),
            price_version: "t".into(),
        };
        r
    };
    {
        // The last version keyed by `message:request`: a parent, its replay
        // imported in a later run, and another call.
        let old = Store::open_at_version(&path, 10).unwrap();
        for r in [
            claude("msg_a:req_1", 50),
            claude("msg_a:req_9", 50),
            claude("msg_b:req_2", 7),
        ] {
            assert_eq!(insert_as_stored(old.connection(), &r).unwrap(), 1);
        }
    }
    let mut store = Store::open(&path).unwrap();
    let (_, totals) = store
        .usage(&query(&store.zone().clone(), &[], None))
        .unwrap();
    assert_eq!(
        (totals.records, totals.tokens.output),
        (2, 57),
        "the replay is gone"
    );
    assert_eq!(totals.cost.nanos(), 57, "and the rollup follows");
    let again = store.insert(&claude("msg_a", 50)).unwrap();
    assert!(!again.new, "the message is found under its new key");
}

#[test]
fn a_backup_restores_every_record_and_a_bad_file_changes_nothing() {
    let (dir, path) = temp_db();
    let mut rng = StdRng::seed_from_u64(11);
    let records: Vec<UsageRecord> = (0..3_000).map(|i| random_record(&mut rng, i)).collect();
    let mut store = Store::open(&path).unwrap();
    store.insert_batch(&records).unwrap();
    let all = |s: &Store| -> Vec<(i64, String, String, i64, i64)> {
        s.connection()
            .prepare("SELECT ts_ms, model, project, input + output, COALESCE(cost_nanos, -1) FROM usage ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let before = all(&store);
    let totals_before = store
        .usage(&query(&store.zone().clone(), &[], None))
        .unwrap()
        .1;
    let backup = dir.path().join("backup.sqlite");
    store.backup_to(&backup).unwrap();
    assert!(!dir.path().join(".backup.sqlite.partial").exists());

    // Changes after the backup are undone by restoring it.
    store
        .connection()
        .execute("DELETE FROM calls WHERE id % 2 = 0", [])
        .unwrap();
    assert_eq!(store.restore_from(&backup).unwrap(), 3_000);
    assert_eq!(all(&store), before, "every record, as it was");
    let totals_after = store
        .usage(&query(&store.zone().clone(), &[], None))
        .unwrap()
        .1;
    assert_eq!(totals_after, totals_before, "and the rollups with them");

    // Not a ledger, or a damaged one: refused, nothing touched.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let err = store.restore_from(&text).unwrap_err().to_string();
    assert!(err.contains("notes.txt"), "{err}");
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 3;")
        .unwrap();
    let err = store.restore_from(&other).unwrap_err().to_string();
    assert!(err.contains("not a Tally ledger"), "{err}");
    assert_eq!(all(&store), before);
}

#[test]
fn jobs_count_attempts_and_successes_from_metadata_through_their_index() {
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let job = |i: i64, success: Option<serde_json::Value>, cents: i64| {
        let quality = [
            Some(serde_json::json!(0.5)),
            Some(serde_json::json!("1")),
            Some(serde_json::json!("good")),
            None,
        ];
        let mut r = UsageRecord::new(
            Timestamp::from_second(1_790_000_000 + i * 60).unwrap(),
            "openai",
            "gpt-4o",
        );
        r.request_id = Some(format!("job-{i}"));
        if let Some(v) = success {
            r.metadata.insert("success".into(), v);
        }
        // Scores as numbers or numeric text count; words do not.
        if let Some(q) = quality[i as usize % 4].clone() {
            r.metadata.insert("quality".into(), q);
        }
        r.cost = Cost::Priced {
            amount: Money::from_nanos(cents * 10_000_000),
            price_version: "t".into(),
        };
        r
    };
    use serde_json::json;
    store
        .insert_batch(&[
            job(0, Some(json!(true)), 100), // before the range
            job(1, Some(json!(true)), 30),
            job(2, Some(json!("yes")), 30),
            job(3, Some(json!(false)), 30),
            job(4, Some(json!(0)), 30),
            job(5, None, 500), // not a job
        ])
        .unwrap();
    let since = Timestamp::from_second(1_790_000_000 + 30).unwrap();
    let jobs = store.jobs(since).unwrap();
    assert_eq!((jobs.attempts, jobs.succeeded), (4, 2));
    assert_eq!(jobs.cost.display(), "$1.20");
    assert_eq!(jobs.cost_per_success().unwrap().display(), "$0.60");
    // Jobs 1–4: "1", "good", none, 0.5: the mean of 1 and 0.5.
    assert_eq!(jobs.quality_count, 2);
    assert_eq!(jobs.mean_quality(), Some(0.75));
    let plan: String = store
        .connection()
        .query_row(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM calls WHERE job IS NOT NULL AND ts_ms >= 0",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("calls_jobs"), "{plan}");
}

#[test]
fn a_ledger_from_a_newer_tally_is_refused_with_a_clear_error() {
    let (_d, path) = temp_db();
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&path).err().expect("refused").to_string();
    assert!(err.contains("newer Tally") && err.contains("99"), "{err}");
}

#[test]
fn four_processes_writing_at_once_lose_nothing() {
    let (_d, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let tally = env!("CARGO_BIN_EXE_tally");
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let script = format!(
                "for i in $(seq 1 40); do \
                   \"$TALLY\" record --model gpt-4o --input 10 --output 1 --request-id w{w}-$i >/dev/null || exit 1; \
                   \"$TALLY\" record --model gpt-4o --input 10 --output 1 --request-id shared-$i >/dev/null || exit 1; \
                 done"
            );
            Command::new("sh").arg("-c").arg(script).env("TALLY", tally).env("TALLY_DB", &path).spawn().unwrap()
        })
        .collect();
    for mut w in workers {
        assert!(w.wait().unwrap().success(), "a writer failed");
    }
    let store = Store::open(&path).unwrap();
    let n: i64 = store
        .connection()
        .query_row("SELECT COUNT(*) FROM usage", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n,
        4 * 40 + 40,
        "each worker's own records plus the shared ones once"
    );
    let (_, total) = store
        .usage(&query(&store.zone().clone(), &[], None))
        .unwrap();
    assert_eq!(total.requests, 200, "the rollup agrees");
}

#[test]
fn history_counts_and_pages_agree_with_the_records() {
    use tally::store::HistoryFilter;
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let records: Vec<UsageRecord> = (0..3_000).map(|i| random_record(&mut rng, i)).collect();
    store.insert_batch(&records).unwrap();
    let zone = store.zone().clone();
    let day_start = |d: &str| {
        d.parse::<jiff::civil::Date>()
            .unwrap()
            .to_zoned(zone.clone())
            .unwrap()
            .timestamp()
            .as_millisecond()
    };
    let filters = [
        HistoryFilter::default(),
        HistoryFilter {
            model: Some("gpt-4o".into()),
            ..Default::default()
        },
        HistoryFilter {
            provider: Some("anthropic".into()),
            ..Default::default()
        },
        HistoryFilter {
            since_ms: Some(day_start("2025-02-01")),
            until_ms: Some(day_start("2025-03-01")),
            ..Default::default()
        },
        // Not on day boundaries: counted from the records.
        HistoryFilter {
            since_ms: Some(1_738_000_123_456),
            until_ms: Some(1_740_000_000_001),
            ..Default::default()
        },
        HistoryFilter {
            text: Some("CLAUDE".into()),
            ..Default::default()
        },
        HistoryFilter {
            text: Some("web".into()),
            provider: Some("openai".into()),
            ..Default::default()
        },
    ];
    for f in &filters {
        let want: Vec<&UsageRecord> = records
            .iter()
            .filter(|r| {
                let ms = r.at.as_millisecond();
                let text = f.text.as_deref().map(str::to_lowercase);
                f.model.as_ref().is_none_or(|m| &r.model == m)
                    && f.provider.as_ref().is_none_or(|p| &r.provider == p)
                    && f.since_ms.is_none_or(|s| ms >= s)
                    && f.until_ms.is_none_or(|u| ms < u)
                    && text.is_none_or(|t| {
                        [&r.model, &r.provider, &r.user, &r.project, &r.agent]
                            .iter()
                            .any(|v| v.to_lowercase().contains(&t))
                    })
            })
            .collect();
        assert_eq!(store.history_count(f).unwrap(), want.len() as u64, "{f:?}");
        // Narrowed to the days that hold matches, it finds the same records.
        let narrowed = store.narrow(f).unwrap();
        assert_eq!(
            store.history_count(&narrowed).unwrap(),
            want.len() as u64,
            "narrowed {f:?}"
        );
        assert_eq!(
            store.history_after(&narrowed, None, 5_000).unwrap(),
            store.history_after(f, None, 5_000).unwrap(),
            "narrowed pages for {f:?}"
        );
        // Paging by keyset walks every matching record once, newest first.
        let mut seen = 0;
        let mut after = None;
        let mut last_ts = i64::MAX;
        loop {
            let page = store.history_after(f, after, 250).unwrap();
            let Some(tail) = page.last() else { break };
            for row in &page {
                assert!(row.record.at.as_millisecond() <= last_ts, "newest first");
                last_ts = row.record.at.as_millisecond();
            }
            after = Some((tail.record.at.as_millisecond(), tail.id));
            seen += page.len();
        }
        assert_eq!(seen, want.len(), "{f:?}");
        if want.len() > 500 {
            let by_offset = store.history_at(f, 250, 250).unwrap();
            let by_key = store
                .history_after(f, after_first_page(&store, f), 250)
                .unwrap();
            assert_eq!(by_offset, by_key, "offset and keyset pages agree");
        }
    }
}

fn after_first_page(store: &Store, f: &tally::store::HistoryFilter) -> Option<(i64, i64)> {
    let first = store.history_after(f, None, 250).unwrap();
    first.last().map(|r| (r.record.at.as_millisecond(), r.id))
}

#[test]
fn the_wal_stays_short_when_every_writer_opens_the_ledger_cold() {
    // As `tally record` runs from a hook, one process a call: each opens the
    // ledger with no other connection open, writes one record, and exits.
    let (_d, path) = temp_db();
    let mut rng = StdRng::seed_from_u64(5);
    let wal = path.with_file_name("ledger.sqlite-wal");
    let mut longest = 0;
    for i in 0..150 {
        let mut store = Store::open(&path).unwrap();
        store.insert(&random_record(&mut rng, i)).unwrap();
        drop(store);
        longest = longest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // SQLite's automatic checkpoint is at 128 pages of 4 KiB; a cold opener
    // trusts no earlier checkpoint, so without care the WAL grows by every
    // write, and every process reads it whole.
    assert!(longest <= 2 * 128 * 4096, "the WAL grew to {longest} bytes");
}

/// Every kind of field a record can carry, some records twice, some keyed by
/// content (no request id).
fn varied_record(rng: &mut StdRng, i: u64) -> UsageRecord {
    let mut r = random_record(rng, i);
    if rng.random_bool(0.2) {
        r.request_id = None;
    }
    if rng.random_bool(0.5) {
        r.session = Some(format!("session-{}", rng.random_range(0..5)));
    }
    if rng.random_bool(0.2) {
        r.task = Some(["review", "tests"][rng.random_range(0..2)].into());
    }
    if rng.random_bool(0.1) {
        r.images.count = rng.random_range(1..4);
        r.images.size = Some("1024x1024".into());
        r.images.quality = Some("high".into());
    }
    if rng.random_bool(0.1) {
        r.embedding_tokens = rng.random_range(1..10_000);
    }
    if rng.random_bool(0.1) {
        r.cost = Cost::Reported {
            amount: Money::from_nanos(rng.random_range(0..1_000_000_000)),
        };
        r.billed = Some(Money::from_nanos(rng.random_range(0..1_000_000_000)));
    }
    if rng.random_bool(0.3) {
        r.metadata
            .insert("success".into(), serde_json::json!(rng.random_bool(0.5)));
        r.metadata
            .insert("branch".into(), serde_json::json!(format!("b{}", i % 3)));
    }
    r
}

/// The ledger's records (all but their ids) and rollups, in one order.
fn ledger_contents(store: &Store) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let rows = |sql: &str| -> Vec<Vec<String>> {
        let mut stmt = store.connection().prepare(sql).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<Vec<String>> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| Ok(format!("{:?}", r.get_ref(i)?)))
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        rows
    };
    let records = rows(
        "SELECT ts_ms, provider, model, user, project, agent, source, session, request_id, task,
             input, output, cache_read, cache_write_5m, cache_write_1h, reasoning, images,
             image_size, image_quality, embedding_tokens, cost_kind, cost_nanos, price_version,
             unpriced_reason, billed_nanos, revenue_nanos, metadata, requests FROM usage",
    );
    let mut rollups = rows("SELECT 'day', * FROM usage_daily");
    rollups.extend(rows("SELECT 'hour', * FROM usage_hourly"));
    rollups.extend(rows("SELECT 'bounds', * FROM ledger_bounds"));
    (records, rollups)
}

#[test]
fn batches_and_single_inserts_make_the_same_ledger() {
    for seed in 0..8 {
        let mut rng = StdRng::seed_from_u64(100 + seed);
        let mut records: Vec<UsageRecord> = (0..400).map(|i| varied_record(&mut rng, i)).collect();
        // Some calls arrive twice.
        for _ in 0..40 {
            let again = records[rng.random_range(0..records.len())].clone();
            records.push(again);
        }
        let (_d1, one_path) = temp_db();
        let mut one_by_one = Store::open(&one_path).unwrap();
        for r in &records {
            one_by_one.insert(r).unwrap();
        }
        let (_d2, bulk_path) = temp_db();
        let mut bulk = Store::open(&bulk_path).unwrap();
        let mut rest = &records[..];
        let mut inserted = 0;
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len().min(150));
            inserted += bulk.insert_batch(&rest[..n]).unwrap().inserted;
            rest = &rest[n..];
        }
        let (records_one, rollups_one) = ledger_contents(&one_by_one);
        let (records_bulk, rollups_bulk) = ledger_contents(&bulk);
        assert_eq!(records_bulk.len() as u64, inserted, "seed {seed}");
        assert_eq!(records_bulk, records_one, "seed {seed}: the records");
        assert_eq!(rollups_bulk, rollups_one, "seed {seed}: the rollups");
    }
}

/// The first two of `make(0)`, `make(1)`, … whose stored keys (the first 4
/// bytes of their dedupe keys) agree: a pair that happens about once in
/// 77,000 calls, found by searching.
fn sharing_a_stored_key(make: impl Fn(u64) -> UsageRecord) -> (UsageRecord, UsageRecord) {
    let mut seen: HashMap<[u8; 4], u64> = HashMap::new();
    for i in 0.. {
        let r = make(i);
        let first: [u8; 4] = r.dedupe_key()[..4].try_into().unwrap();
        if let Some(&j) = seen.get(&first) {
            return (make(j), r);
        }
        seen.insert(first, i);
    }
    unreachable!()
}

/// Stores `first` then `second` (their stored keys agree), in one batch and
/// one by one, and checks both are kept, under adjacent keys, and found again.
fn both_kept_and_found_again(first: &UsageRecord, second: &UsageRecord) {
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let a = store.insert(first).unwrap();
    let b = store.insert(second).unwrap();
    assert!(
        a.new && b.new,
        "two calls under one stored key are both new"
    );
    let keys: Vec<i64> = store
        .connection()
        .prepare("SELECT key FROM calls ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys[1], keys[0] + 1, "the second takes the next key");
    for (r, stored) in [(first, a), (second, b)] {
        let again = store.insert(r).unwrap();
        assert_eq!((again.new, again.id), (false, stored.id), "found again");
    }
    let batch = store
        .insert_batch(&[second.clone(), first.clone()])
        .unwrap();
    assert_eq!((batch.inserted, batch.duplicates), (0, 2));
    let (_, total) = store.usage(&query(store.zone(), &[], None)).unwrap();
    assert_eq!(total.records, 2);

    // Stored together in one batch, into a ledger of their own.
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let batch = store
        .insert_batch(&[first.clone(), second.clone()])
        .unwrap();
    assert_eq!(batch.inserted, 2);
    let batch = store
        .insert_batch(&[second.clone(), first.clone()])
        .unwrap();
    assert_eq!((batch.inserted, batch.duplicates), (0, 2));
}

#[test]
fn two_calls_with_request_ids_whose_stored_keys_agree_are_both_kept() {
    let (first, second) = sharing_a_stored_key(|i| {
        let mut r = UsageRecord::new(Timestamp::UNIX_EPOCH, "openai", "gpt-4o");
        r.source = "test".into();
        r.request_id = Some(format!("req_{i}"));
        r.tokens.input = 10;
        r
    });
    both_kept_and_found_again(&first, &second);
}

#[test]
fn two_calls_without_request_ids_whose_stored_keys_agree_are_both_kept() {
    let (first, second) = sharing_a_stored_key(|i| {
        let mut r = UsageRecord::new(Timestamp::UNIX_EPOCH, "openai", "gpt-4o");
        r.source = "test".into();
        r.tokens.input = i;
        r
    });
    both_kept_and_found_again(&first, &second);
}

#[test]
fn the_same_request_id_from_two_sources_under_one_stored_key_is_two_calls() {
    // The request id is compared in place of a key check, with its source.
    let (first, second) = sharing_a_stored_key(|i| {
        let mut r = UsageRecord::new(Timestamp::UNIX_EPOCH, "openai", "gpt-4o");
        r.source = format!("source-{i}");
        r.request_id = Some("req_1".into());
        r
    });
    both_kept_and_found_again(&first, &second);
}

#[test]
fn a_query_through_the_usage_view_reads_only_the_tables_it_needs() {
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let records: Vec<UsageRecord> = (0..50).map(|i| varied_record(&mut rng, i)).collect();
    store.insert_batch(&records).unwrap();
    let plan = |sql: &str| -> String {
        store
            .connection()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join("\n")
    };
    // A count or a sum by model within a time bound: the calls by the time
    // index and their dimensions, and none of the names.
    for sql in [
        "SELECT COUNT(*) FROM usage WHERE ts_ms >= 0",
        "SELECT provider, model, SUM(input), SUM(cost_nanos) FROM usage WHERE ts_ms >= 0 GROUP BY 1, 2",
    ] {
        let plan = plan(sql);
        assert!(plan.contains("calls_by_time"), "{plan}");
        let tables: Vec<&str> = plan.lines().filter(|l| l.starts_with("SEARCH")).collect();
        assert_eq!(tables.len(), 2, "{sql}: calls and dims only: {plan}");
        assert!(!plan.contains("SUBQUERY"), "{sql}: {plan}");
    }
    // A record's text is looked up when it is asked for.
    let plan = plan("SELECT session, metadata FROM usage WHERE ts_ms >= 0");
    assert!(plan.contains("SCALAR SUBQUERY"), "{plan}");
}

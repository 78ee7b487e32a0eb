//! Reports on real SQLite ledgers of random records, each figure against a
//! brute-force sum over the same records; and the exports of those reports
//! read back: CSV, Markdown, JSON, and the refusal to leave half a file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use jiff::civil::{Date, Weekday, date};
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tally::core::report::Days;
use tally::core::report::what_if::Scenario;
use tally::core::usage::{Dimension, TokenCounts, Totals, time_bucket};
use tally::core::{Cost, Money, PriceBook, UsageRecord};
use tally::export::{self, Cell, Document, Format};
use tally::reports::{self, Context, Kind, Request};
use tally::store::Store;

const MODELS: [(&str, &str); 4] = [
    ("anthropic", "claude-opus-4-1"),
    ("anthropic", "claude-haiku-4-5"),
    ("openai", "gpt-4o"),
    ("acme", "no-price-model"),
];
const PROJECTS: [&str; 4] = ["web", "api|v2", "=HYPERLINK(\"http://x\")", "line\nbreak"];

struct Ledger {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    store: Store,
    book: PriceBook,
    records: Vec<UsageRecord>,
}

/// `n` random calls over March and April 2026 (prompts below any long-context
/// tier), priced by the shipped book; a quarter carry revenue.
fn ledger(n: usize, seed: u64) -> Ledger {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let mut store = Store::open(&db).unwrap();
    let book = tally::prices::load(&store).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let records: Vec<UsageRecord> = (0..n)
        .map(|i| {
            let (provider, model) = MODELS[rng.random_range(0..MODELS.len())];
            let at = start + SignedDuration::from_secs(rng.random_range(0..61 * 86_400));
            let mut r = UsageRecord::new(at, provider, model);
            r.project = PROJECTS[rng.random_range(0..PROJECTS.len())].into();
            r.user = ["ann", "bo", ""][rng.random_range(0..3)].into();
            r.request_id = Some(format!("req-{i}"));
            r.tokens = TokenCounts {
                input: rng.random_range(0..30_000),
                output: rng.random_range(0..4_000),
                cache_read: rng.random_range(0..50_000),
                cache_write_5m: rng.random_range(0..3_000),
                ..TokenCounts::default()
            };
            r.cost = book.cost(&r);
            if rng.random_bool(0.25) {
                r.revenue = Some(Money::from_nanos(rng.random_range(0..2_000_000_000)));
            }
            r
        })
        .collect();
    store.insert_batch(&records).unwrap();
    Ledger {
        _dir: dir,
        db,
        store,
        book,
        records,
    }
}

impl Ledger {
    fn run(&self, req: &Request) -> Document {
        let ctx = Context {
            store: &self.store,
            book: &self.book,
            now: "2026-05-15T12:00:00Z".parse().unwrap(),
            week_start: Weekday::Monday,
        };
        reports::run(&ctx, req).unwrap()
    }

    fn day_of(&self, r: &UsageRecord) -> Date {
        r.at.to_zoned(self.store.zone().clone()).date()
    }

    fn within(&self, days: Days) -> impl Iterator<Item = &UsageRecord> {
        self.records.iter().filter(move |r| {
            let d = self.day_of(r);
            d >= days.from && d <= days.to
        })
    }
}

/// A table's column as exact text, by its key.
fn column(doc: &Document, table: &str, key: &str) -> Vec<String> {
    let t = doc.tables.iter().find(|t| t.name == table).unwrap();
    let i = t.columns.iter().position(|c| c.key == key).unwrap();
    t.rows.iter().map(|r| r[i].plain()).collect()
}

/// Brute-force totals of records grouped by a key.
fn sums<'a>(
    records: impl Iterator<Item = &'a UsageRecord>,
    key: impl Fn(&UsageRecord) -> String,
) -> BTreeMap<String, Totals> {
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for r in records {
        out.entry(key(r)).or_default().add(&Totals::of(r));
    }
    out
}

#[test]
fn summary_trend_and_comparison_match_brute_force() {
    for seed in 1..=3 {
        let l = ledger(3_000, seed);
        let mut rng = StdRng::seed_from_u64(seed + 100);
        let from = date(2026, 3, 1)
            .checked_add(jiff::Span::new().days(rng.random_range(0..30)))
            .unwrap();
        let to = from
            .checked_add(jiff::Span::new().days(rng.random_range(0..30)))
            .unwrap();
        let days = Days::new(from, to);

        // Summary: totals and every listed value's cost and requests.
        let mut req = Request::new(Kind::Summary, days);
        req.top = 10;
        let doc = l.run(&req);
        let all = sums(l.within(days), |_| String::new());
        let total = all.values().next().copied().unwrap_or_default();
        assert_eq!(
            column(&doc, "totals", "cost_usd"),
            [total.cost.to_decimal_string()]
        );
        assert_eq!(
            column(&doc, "totals", "unpriced"),
            [total.unpriced.to_string()]
        );
        assert_eq!(
            column(&doc, "totals", "revenue_usd"),
            [total.revenue.to_decimal_string()]
        );
        let dims = column(&doc, "top", "dimension");
        let keys = column(&doc, "top", "key");
        let costs = column(&doc, "top", "cost_usd");
        let requests = column(&doc, "top", "requests");
        for dim in [Dimension::Model, Dimension::Project, Dimension::User] {
            let want = sums(l.within(days), |r| dim.value_of(r).to_string());
            let got: BTreeMap<String, (String, String)> = (0..dims.len())
                .filter(|i| dims[*i] == dim.name())
                .map(|i| (keys[i].clone(), (costs[i].clone(), requests[i].clone())))
                .collect();
            let want: BTreeMap<String, (String, String)> = want
                .into_iter()
                .map(|(k, t)| (k, (t.cost.to_decimal_string(), t.requests.to_string())))
                .collect();
            assert_eq!(got, want, "seed {seed}, {}", dim.name());
        }

        // Trend by day, week and month, empty buckets included.
        for by in [Dimension::Day, Dimension::Week, Dimension::Month] {
            let mut req = Request::new(Kind::Trend, days);
            req.group_by = by;
            let doc = l.run(&req);
            let want = sums(l.within(days), |r| {
                time_bucket(by, l.day_of(r), Weekday::Monday)
            });
            let buckets = column(&doc, "trend", "bucket");
            let costs = column(&doc, "trend", "cost_usd");
            let expected_buckets: Vec<String> = {
                let mut v: Vec<String> = days
                    .days()
                    .map(|d| time_bucket(by, d, Weekday::Monday))
                    .collect();
                v.dedup();
                v
            };
            assert_eq!(buckets, expected_buckets, "seed {seed}");
            for (b, c) in buckets.iter().zip(&costs) {
                let want = want.get(b).map_or(Money::ZERO, |t| t.cost);
                assert_eq!(*c, want.to_decimal_string(), "seed {seed} {b}");
            }
        }

        // Comparison with the range before, by project.
        let mut req = Request::new(Kind::Compare, days);
        req.group_by = Dimension::Project;
        let doc = l.run(&req);
        let before = sums(l.within(days.previous()), |r| r.project.clone());
        let after = sums(l.within(days), |r| r.project.clone());
        let keys = column(&doc, "comparison", "key");
        let presence = column(&doc, "comparison", "presence");
        let change = column(&doc, "comparison", "change_usd");
        for i in 1..keys.len() {
            let b = before.get(&keys[i]).map_or(Money::ZERO, |t| t.cost);
            let a = after.get(&keys[i]).map_or(Money::ZERO, |t| t.cost);
            assert_eq!(change[i], (a - b).to_decimal_string(), "{}", keys[i]);
            let want = match (before.contains_key(&keys[i]), after.contains_key(&keys[i])) {
                (true, true) => "both",
                (false, true) => "new",
                _ => "gone",
            };
            assert_eq!(presence[i], want, "{}", keys[i]);
        }
        let union: std::collections::BTreeSet<&String> =
            before.keys().chain(after.keys()).collect();
        assert_eq!(keys.len() - 1, union.len());
    }
}

#[test]
fn what_if_equals_pricing_each_call_on_the_other_model() {
    let l = ledger(2_000, 9);
    let days = Days::new(date(2026, 3, 1), date(2026, 4, 30));
    let mut req = Request::new(Kind::WhatIf, days);
    req.group_by = Dimension::Project;
    req.scenario = Scenario::Models {
        map: vec![("claude-opus-4-1".into(), "claude-sonnet-4-5".into())],
    };
    let doc = l.run(&req);
    let keys = column(&doc, "what_if", "key");
    let actual = column(&doc, "what_if", "actual_usd");
    let what_if = column(&doc, "what_if", "what_if_usd");
    let left_out = column(&doc, "what_if", "left_out");
    for i in 1..keys.len() {
        let mine = l.within(days).filter(|r| r.project == keys[i]);
        let (mut a, mut w, mut out) = (Money::ZERO, Money::ZERO, 0u64);
        for r in mine {
            let Some(cost) = r.cost.amount() else {
                out += 1;
                continue;
            };
            a += cost;
            let mut moved = r.clone();
            if moved.model == "claude-opus-4-1" {
                moved.model = "claude-sonnet-4-5".into();
            }
            w += l.book.price(&moved).unwrap().0;
        }
        assert_eq!(actual[i], a.to_decimal_string(), "{}", keys[i]);
        assert_eq!(what_if[i], w.to_decimal_string(), "{}", keys[i]);
        assert_eq!(left_out[i], out.to_string(), "{}", keys[i]);
    }
    assert!(
        doc.notes.iter().any(|n| n.contains("no-price-model")),
        "{:?}",
        doc.notes
    );
}

#[test]
fn reconciliation_flags_the_days_billing_disagrees_with() {
    let mut l = ledger(500, 4);
    // Bill each UTC day of opus in March at the estimate, except two days.
    let mut by_day: BTreeMap<Date, Money> = BTreeMap::new();
    for r in l.records.iter().filter(|r| r.model == "claude-opus-4-1") {
        let day = r.at.to_zoned(jiff::tz::TimeZone::UTC).date();
        if day.month() == 3 {
            *by_day.entry(day).or_default() += r.cost.amount().unwrap();
        }
    }
    let off: Vec<Date> = by_day.keys().copied().take(2).collect();
    let bills: Vec<UsageRecord> = by_day
        .iter()
        .map(|(day, amount)| {
            let at = day.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
            // The export names the dated id; the price book joins the two.
            let mut r = UsageRecord::new(at, "anthropic", "claude-opus-4-1-20250805");
            r.requests = 0;
            r.cost = Cost::Reported {
                amount: Money::ZERO,
            };
            let amount = if off.contains(day) {
                Money::from_ratio(amount.nanos() as i128 * 12, 10)
            } else {
                *amount
            };
            r.billed = Some(amount);
            r.source = "anthropic-costs".into();
            r.request_id = Some(format!("bill-{day}"));
            r
        })
        .collect();
    l.store.insert_batch(&bills).unwrap();
    let doc = l.run(&Request::new(
        Kind::Reconcile,
        Days::new(date(2026, 3, 1), date(2026, 3, 31)),
    ));
    let days = column(&doc, "reconciliation", "day");
    let models = column(&doc, "reconciliation", "model");
    let flagged = column(&doc, "reconciliation", "flagged");
    let estimated = column(&doc, "reconciliation", "estimated_usd");
    let opus: Vec<usize> = (0..days.len())
        .filter(|i| models[*i] == "claude-opus-4-1")
        .collect();
    assert_eq!(
        opus.len(),
        by_day.len(),
        "one line per billed day: {models:?}"
    );
    for i in opus {
        let day: Date = days[i].parse().unwrap();
        assert_eq!(estimated[i], by_day[&day].to_decimal_string());
        let apart = off.contains(&day) && by_day[&day] > Money::from_nanos(50_000_000);
        assert_eq!(flagged[i] == "true", apart, "{day}");
    }
}

/// CSV read back: per table, each column's exact values.
fn csv_tables(bytes: &[u8]) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().unwrap().clone();
    let mut out: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let fields: BTreeMap<String, String> = headers
            .iter()
            .zip(row.iter())
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        let table = fields.get("table").cloned().unwrap_or_default();
        out.entry(table).or_default().push(fields);
    }
    out
}

#[test]
fn exports_read_back_to_the_report() {
    let l = ledger(1_500, 11);
    let days = Days::new(date(2026, 3, 1), date(2026, 4, 30));
    for kind in [
        Kind::Summary,
        Kind::Trend,
        Kind::Compare,
        Kind::Projection,
        Kind::WhatIf,
    ] {
        let mut req = Request::new(kind, days);
        req.group_by = if kind == Kind::Trend {
            Dimension::Week
        } else {
            Dimension::Project
        };
        req.scenario = Scenario::PerfectCaching;
        let doc = l.run(&req);

        // CSV: every cell back, formulas neutralised, numbers plain.
        let tables = csv_tables(&export::render(&doc, Format::Csv));
        for t in &doc.tables {
            let name = if doc.tables.len() > 1 { t.name } else { "" };
            let rows = tables.get(name).map_or(&[][..], |v| v.as_slice());
            assert_eq!(rows.len(), t.rows.len(), "{} {}", doc.report, t.name);
            for (row, cells) in rows.iter().zip(&t.rows) {
                for (c, cell) in t.columns.iter().zip(cells) {
                    let text = &row[c.key];
                    match cell {
                        Cell::Text(s) if s.starts_with('=') => {
                            assert_eq!(*text, format!("'{s}"), "neutralised")
                        }
                        other => assert_eq!(*text, other.plain(), "{} {}", t.name, c.key),
                    }
                }
            }
        }

        // Markdown: every table row has its columns' worth of cells, whatever
        // the names hold.
        let md = String::from_utf8(export::render(&doc, Format::Markdown)).unwrap();
        for line in md.lines().filter(|l| l.starts_with('|')) {
            let unescaped = line.replace("\\\\", "").replace("\\|", "");
            let cells = unescaped.matches('|').count() - 1;
            let table = doc.tables.iter().find(|t| t.columns.len() == cells);
            assert!(table.is_some(), "a row with {cells} cells: {line}");
        }
        assert!(!md.contains("line\nbreak"), "a raw newline inside a row");

        // JSON: the documented schema.
        let json: Value = serde_json::from_slice(&export::render(&doc, Format::Json)).unwrap();
        check_schema(&json, &doc);
    }
}

/// The README's `tally-report/1` schema, checked field by field.
fn check_schema(json: &Value, doc: &Document) {
    assert_eq!(json["schema"], "tally-report/1");
    assert_eq!(json["report"], doc.report);
    assert!(json["title"].is_string());
    assert!(
        json["generated_at"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .is_ok()
    );
    assert!(json["notes"].is_array());
    let tables = json["tables"].as_array().unwrap();
    assert_eq!(tables.len(), doc.tables.len());
    for (t, want) in tables.iter().zip(&doc.tables) {
        assert_eq!(t["name"], want.name);
        let columns = t["columns"].as_array().unwrap();
        for c in columns {
            let kind = c["type"].as_str().unwrap();
            assert!(
                [
                    "text", "money", "integer", "percent", "date", "time", "amount", "boolean"
                ]
                .contains(&kind),
                "{kind}"
            );
            let key = c["key"].as_str().unwrap();
            for row in t["rows"].as_array().unwrap() {
                let v = &row[key];
                let ok = v.is_null()
                    || match kind {
                        "money" => v
                            .as_str()
                            .is_some_and(|s| Money::parse_usd(s).is_ok() && s.contains('.')),
                        "integer" => v.is_i64() || v.is_u64(),
                        "boolean" => v.is_boolean(),
                        "date" => v.as_str().is_some_and(|s| s.parse::<Date>().is_ok()),
                        "time" => v.as_str().is_some_and(|s| s.parse::<Timestamp>().is_ok()),
                        _ => v.is_string(),
                    };
                assert!(ok, "{key} ({kind}): {v}");
            }
        }
    }
}

#[test]
fn a_write_into_a_read_only_folder_fails_clearly_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let target = locked.join("report.csv");
    std::fs::write(&target, "the old report").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores permissions: there the folder is made immutable instead.
    let chattr = |flag: &str| {
        Command::new("chattr")
            .arg(flag)
            .arg(&locked)
            .status()
            .is_ok_and(|s| s.success())
    };
    let probe = || std::fs::File::create(locked.join("probe")).is_ok();
    let immutable = probe() && {
        let _ = std::fs::remove_file(locked.join("probe"));
        chattr("+i")
    };
    if probe() {
        let _ = std::fs::remove_file(locked.join("probe"));
        eprintln!("cannot make a read-only folder here (root without chattr): skipped that part");
    } else {
        let err = export::write_atomic(&target, b"new")
            .unwrap_err()
            .to_string();
        assert!(err.contains("report.csv"), "{err}");
        assert!(
            err.contains("ermission") || err.contains("not permitted"),
            "{err}"
        );
        let names: Vec<_> = std::fs::read_dir(&locked)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "the old report");
    }
    if immutable {
        assert!(chattr("-i"), "the folder is writable again");
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A writer that fails half-way leaves the old file and no temporary one.
    let failed = export::write_atomic_with(&target, |out| {
        use std::io::Write;
        out.write_all(b"half")?;
        Err(std::io::Error::other("the disk is full"))
    });
    assert!(failed.unwrap_err().to_string().contains("the disk is full"));
    let names: Vec<_> = std::fs::read_dir(&locked)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().ends_with(".part")),
        "{names:?}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "the old report");
}

fn tally(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("LANGUAGE", "en")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap()
}

#[test]
fn the_command_line_writes_each_report_and_the_records() {
    let l = ledger(800, 5);
    let dir = tempfile::tempdir().unwrap();
    let range = ["--since", "2026-03-01", "--until", "2026-04-30"];
    for (kind, extra) in [
        ("summary", vec![]),
        ("trend", vec!["--group-by", "week"]),
        ("compare", vec!["--against", "2026-01-01..2026-02-28"]),
        ("projection", vec![]),
        ("what-if", vec!["--to", "claude-haiku-4-5"]),
        ("reconcile", vec![]),
    ] {
        for ext in ["csv", "md", "json"] {
            let out = dir.path().join(format!("{kind}.{ext}"));
            let mut args = vec!["report", kind];
            args.extend(range);
            args.extend(extra.iter().copied());
            args.extend(["--out", out.to_str().unwrap()]);
            let o = tally(&l.db, &args);
            assert!(
                o.status.success(),
                "{kind}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let text = std::fs::read_to_string(&out).unwrap();
            if ext == "json" {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["report"], kind);
            }
        }
        // And on the terminal, as a table.
        let mut args = vec!["report", kind];
        args.extend(range);
        args.extend(extra.iter().copied());
        let o = tally(&l.db, &args);
        assert!(o.status.success(), "{kind}");
        let json: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("{kind}.json"))).unwrap(),
        )
        .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(
            text.lines().next(),
            json["title"].as_str(),
            "{kind}: {text}"
        );
    }
    // The records themselves, streamed: as many rows as records, exact costs.
    let out = dir.path().join("usage.csv");
    let usage = [
        "report",
        "usage",
        "--since",
        "2026-03-01",
        "--until",
        "2026-04-30",
    ];
    let o = tally(
        &l.db,
        &[&usage[..], &["--out", out.to_str().unwrap()]].concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let within: Vec<&UsageRecord> = l
        .within(Days::new(date(2026, 3, 1), date(2026, 4, 30)))
        .collect();
    assert_eq!(rows.len(), within.len());
    let cost_at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "cost_usd")
        .unwrap();
    let sum: i64 = rows
        .iter()
        .filter(|r| !r[cost_at].is_empty())
        .map(|r| Money::parse_usd(&r[cost_at]).unwrap().nanos())
        .sum();
    let want: i64 = within
        .iter()
        .filter_map(|r| r.cost.amount())
        .map(|m| m.nanos())
        .sum();
    assert_eq!(sum, want);
    // The streamed, parallel file and the terminal's CSV are the same bytes.
    let o = tally(&l.db, &[&usage[..], &["--format", "csv"]].concat());
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        std::fs::read_to_string(&out).unwrap()
    );
    // Bad input is named.
    let o = tally(&l.db, &["report", "summary", "--period", "fortnight"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("fortnight"));
    let o = tally(&l.db, &["report", "what-if"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--to MODEL"));
}

#[test]
fn the_monthly_report_is_written_once_a_month_and_caught_up() {
    let mut l = ledger(600, 21);
    let folder = tempfile::tempdir().unwrap();
    let at = |t: &str| t.parse::<Timestamp>().unwrap();
    // Off until a folder is chosen.
    assert!(
        reports::write_monthly(&mut l.store, at("2026-04-02T09:00:00Z"))
            .unwrap()
            .is_empty()
    );
    tally::settings::MONTHLY_REPORT_FOLDER
        .set(
            &mut l.store,
            Some(&folder.path().to_str().unwrap().to_string()),
        )
        .unwrap();
    assert!(reports::monthly_due(&l.store, at("2026-04-02T09:00:00Z")));
    let written = reports::write_monthly(&mut l.store, at("2026-04-02T09:00:00Z")).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["tally-report-2026-03.md", "tally-report-2026-03.csv"]
    );
    // March's cost, exactly, in the CSV.
    let march: Money = l
        .within(Days::new(date(2026, 3, 1), date(2026, 3, 31)))
        .filter_map(|r| r.cost.amount())
        .fold(Money::ZERO, |a, b| a + b);
    let csv = std::fs::read_to_string(folder.path().join("tally-report-2026-03.csv")).unwrap();
    assert!(csv.contains(&march.to_decimal_string()), "{csv}");
    // Once: later in April nothing more is due or written.
    assert!(!reports::monthly_due(&l.store, at("2026-04-29T09:00:00Z")));
    assert!(
        reports::write_monthly(&mut l.store, at("2026-04-29T09:00:00Z"))
            .unwrap()
            .is_empty()
    );
    // Off until mid-July: April, May and June come after.
    let written = reports::write_monthly(&mut l.store, at("2026-07-15T09:00:00Z")).unwrap();
    assert_eq!(written.len(), 6);
    for m in ["04", "05", "06"] {
        assert!(
            folder
                .path()
                .join(format!("tally-report-2026-{m}.md"))
                .exists()
        );
    }
    let md = std::fs::read_to_string(folder.path().join("tally-report-2026-04.md")).unwrap();
    assert!(
        md.starts_with("# Summary · 2026-04-01 – 2026-04-30"),
        "{md}"
    );
}

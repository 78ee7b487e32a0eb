//! Ledger benchmarks with their targets. `cargo bench --bench ledger` (or `make bench`).
//!
//! - bulk insert through the store: at least 500,000 records/s (issue 14)
//! - `tally record` as a whole process on a 1,000,000-record ledger: median ≤ 15 ms
//! - `tally usage --group-by day --group-by model` on that ledger: median ≤ 50 ms
//! - `tally check` with 100 policies on that ledger: median ≤ 10 ms
//! - policy evaluation after one write, 100 policies, in process: median ≤ 1 ms
//!
//! - `tally import claude-code`, whole process, on ~1,000,000 generated lines (~700 MB):
//!   first import ≤ 2.5 s per million lines and ≤ 200 MB peak RSS; a re-import with
//!   nothing new ≤ 50 ms (issue 14)
//! - `tally import gemini-cli | qwen-code | copilot | amp | opencode` (`-- agents`),
//!   whole process, each on a generated corpus of 2,000 files (OpenCode: its
//!   database): first import ≥ 300 MB/s; a re-import with nothing new ≤ 50 ms
//!   (issue 16)
//! - `tally watch` on the 1,000,000-record ledger (`-- follow`): 1,000 lines
//!   appended to a followed log, stored, median ≤ 100 ms
//!
//! - the dashboard on a 10,000,000-record ledger: the window's first drawn
//!   dashboard frame ≤ 500 ms from starting `tally-app` (needs a display), its
//!   peak RSS ≤ 200 MB, and reloading the dashboard's data after a write ≤ 50 ms
//!
//! - each report (summary, trend, compare, projection, what-if, reconcile) over
//!   90 days of that 10,000,000-record ledger, in process: median ≤ 200 ms
//! - `tally report usage --out usage.csv` of 1,000,000 records: median ≤ 3 s
//!
//! - the window on the 1,000,000-record ledger with a Claude Code and Codex
//!   user's logs imported and followed (`-- app`, needs a display): first frame
//!   ≤ 500 ms and RSS ≤ 150 MB then; idle CPU ≤ 1 % of a core (median of 30
//!   one-second samples); another process's `tally record` visible in the
//!   Usage history and on the dashboard, median ≤ 300 ms each; the longest
//!   main-loop stall while another process imports a million log lines
//!   ≤ 100 ms
//!
//! - `tally record` while a webhook that never answers has deliveries due
//!   (`-- webhook`): median ≤ 20 ms
//!
//! - `tally serve` on the 1,000,000-record ledger (`-- serve`): OTLP intake
//!   from 8 concurrent exporters ≥ 20,000 records/s with p99 export latency
//!   ≤ 20 ms and peak RSS ≤ 100 MB; `POST /api/v1/check` p50 ≤ 1 ms, p99
//!   ≤ 5 ms (issue 17)
//!
//! - team sync through a PostgreSQL server the bench starts (`-- team`):
//!   push and first pull ≥ 50,000 calls/s, whole process; the first pull of
//!   a 10,000,000-call team ledger ≤ 60 s with peak RSS ≤ 300 MB; `tally
//!   check` ≤ 10 ms with the team's server down (issue 18)
//!
//! The ledger's year of calls ends today, so every policy window holds usage.
//! Prints medians (and the spread) and the ratio to each target; exits non-zero
//! when a target is missed, so a regression is seen.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tally::core::Money;
use tally::core::policy::{Action, Metric, Policy};
use tally::core::usage::{Cost, TokenCounts, UsageRecord};
use tally::store::Store;

#[path = "../tests/support/agent_logs.rs"]
mod agent_logs;
#[path = "support/agents.rs"]
mod agents;
#[path = "support/app.rs"]
mod app;
#[path = "support/serve.rs"]
mod serve;
#[path = "support/team.rs"]
mod team;

const LEDGER_RECORDS: u64 = 1_000_000;
/// Records per transaction, as an import stores them.
const BATCH: usize = tally::ingest::CHUNK;

fn record(i: u64) -> UsageRecord {
    const MODELS: [(&str, &str); 6] = [
        ("claude-sonnet-4-5", "anthropic"),
        ("claude-opus-4-1", "anthropic"),
        ("gpt-4o", "openai"),
        ("gpt-5", "openai"),
        ("gemini-2.5-pro", "google"),
        ("grok-4", "xai"),
    ];
    let (model, provider) = MODELS[(i % 6) as usize];
    // A year of calls up to today, one every ~31 s.
    let at = Timestamp::from_second(year_ago() + (i as i64 * 31) % 31_536_000).unwrap_or_default();
    let mut r = UsageRecord::new(at, provider, model);
    r.source = "bench".into();
    r.user = ["alice", "bob", "carol"][(i % 3) as usize].into();
    r.project = ["web", "api", "data", "ml"][(i % 4) as usize].into();
    r.agent = ["claude-code", "codex"][(i % 2) as usize].into();
    r.request_id = Some(format!("req_{i:012}"));
    r.tokens = TokenCounts {
        input: 1_000 + i % 5_000,
        output: 200 + i % 800,
        cache_read: i % 20_000,
        ..TokenCounts::default()
    };
    r.cost = Cost::Priced {
        amount: Money::from_nanos(1_000_000 + (i % 9_000_000) as i64),
        price_version: "bench".into(),
    };
    r
}

/// Midnight UTC a year before today, in unix seconds.
fn year_ago() -> i64 {
    let now = Timestamp::now().as_second();
    now - now % 86_400 - 365 * 86_400
}

/// 100 policies over every scope kind, period kind and the three usual metrics,
/// with limits high enough that none fires (firing is a rare write, not the
/// common path measured here).
fn add_policies(store: &mut Store) {
    if !store.policies().expect("policies").is_empty() {
        return;
    }
    let scopes = [
        "global",
        "model:claude-*",
        "project:web",
        "user:alice",
        "agent:codex",
        "provider:openai",
        "model:gpt-?",
    ];
    let periods = ["daily", "weekly", "monthly", "rolling:24h", "monthly:15"];
    let metrics = [Metric::Cost, Metric::Tokens, Metric::Requests];
    for i in 0..100usize {
        let metric = metrics[i % 3];
        let p = Policy {
            id: 0,
            name: format!("bench-{i}"),
            scope: scopes[i % scopes.len()].parse().expect("scope"),
            metric,
            period: periods[i % periods.len()].parse().expect("period"),
            zone: if i % 2 == 0 { "UTC" } else { "Europe/Berlin" }.into(),
            limit: i64::MAX / 4,
            soft_percent: 80,
            action: Action::Warn,
            enabled: true,
            created_at: Timestamp::now(),
            reset_at: None,
            override_: None,
            team: None,
        };
        store.add_policy(&p, "bench").expect("add policy");
    }
}

fn median(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    (
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1],
    )
}

/// Fills a new ledger at `path` with `records` calls (a ledger already there
/// is kept, as the *_LEDGER variables ask) and gives it the 100 policies.
/// The 1,000,000-record ledger the process figures run on: at
/// TALLY_BENCH_LEDGER (kept for the next run) or in `dir`, filled if new.
fn million_ledger(dir: &Path) -> std::path::PathBuf {
    kept_ledger(dir, "TALLY_BENCH_LEDGER", "million.sqlite", LEDGER_RECORDS)
}

/// The 10,000,000-record ledger (about 3 GB) of the dashboard and report
/// figures, at TALLY_BENCH_LEDGER10M or in `dir`.
fn ten_million_ledger(dir: &Path) -> std::path::PathBuf {
    kept_ledger(
        dir,
        "TALLY_BENCH_LEDGER10M",
        "ten-million.sqlite",
        10_000_000,
    )
}

fn kept_ledger(dir: &Path, var: &str, name: &str, records: u64) -> std::path::PathBuf {
    let path = std::env::var_os(var).map_or_else(|| dir.join(name), Into::into);
    prepare_ledger(&path, records);
    path
}

fn prepare_ledger(path: &Path, records: u64) {
    if !path.exists() {
        let mut store = Store::open(path).expect("open");
        // One bulk write: its end empties the WAL, as the next opener wants.
        let took = store
            .in_bulk(|s| Ok::<_, tally::store::StoreError>(fill(s, 0, records)))
            .expect("fill");
        println!(
            "filled a {records}-record ledger in {:.1} s",
            took.as_secs_f64()
        );
    }
    add_policies(&mut Store::open(path).expect("open"));
}

/// Inserts `count` records in batches, as an import does (in one bulk write),
/// and says how long the inserts took (making the records aside).
fn fill(store: &mut Store, from: u64, count: u64) -> Duration {
    let mut took = Duration::ZERO;
    store
        .in_bulk(|store| {
            let mut i = from;
            while i < from + count {
                let batch: Vec<UsageRecord> = (i..(i + BATCH as u64).min(from + count))
                    .map(record)
                    .collect();
                let start = Instant::now();
                store.insert_batch(&batch)?;
                took += start.elapsed();
                i += BATCH as u64;
            }
            Ok::<_, tally::store::StoreError>(())
        })
        .expect("insert");
    took
}

fn report(name: &str, got: f64, target: f64, unit: &str, higher_is_better: bool) -> bool {
    let ok = if higher_is_better {
        got >= target
    } else {
        got <= target
    };
    let ratio = if higher_is_better {
        got / target
    } else {
        target / got
    };
    println!(
        "{name:<52} {got:>10.1} {unit:<10} target {} {target} {unit}  ({ratio:.2}× the target) {}",
        if higher_is_better { "≥" } else { "≤" },
        if ok { "ok" } else { "MISSED" }
    );
    ok
}

fn time_process(db: &Path, args: &[&str], runs: usize) -> (Duration, Duration, Duration) {
    let tally = env!("CARGO_BIN_EXE_tally");
    let samples = (0..runs)
        .map(|n| {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("{n}", &n.to_string()))
                .collect();
            let start = Instant::now();
            let out = Command::new(tally)
                .arg("--db")
                .arg(db)
                .args(&args)
                .output()
                .expect("run tally");
            let took = start.elapsed();
            assert!(
                out.status.success(),
                "tally {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            took
        })
        .collect();
    median(samples)
}

fn main() {
    // `cargo bench --bench ledger -- insert` runs only the parts whose name contains "insert".
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut all_ok = true;
    if wanted("insert") {
        all_ok &= bench_insert(dir.path());
    }
    if wanted("import") {
        all_ok &= bench_import(dir.path());
    }
    if wanted("agents") {
        all_ok &= agents::bench_agents(dir.path());
    }
    if wanted("dashboard") {
        all_ok &= bench_dashboard(dir.path());
    }
    if wanted("reports") {
        all_ok &= bench_reports(dir.path());
    }
    if wanted("app") {
        all_ok &= app::bench_app(dir.path());
    }
    if wanted("webhook") {
        all_ok &= bench_webhook(dir.path());
    }
    if wanted("follow") {
        all_ok &= bench_follow(dir.path());
    }
    if wanted("serve") {
        all_ok &= serve::bench_serve(dir.path());
    }
    if wanted("team") {
        all_ok &= team::bench_team(dir.path());
    }
    if wanted("record") || wanted("usage") || wanted("check") || wanted("evaluate") {
        all_ok &= bench_processes(dir.path(), &wanted);
    }
    std::process::exit(i32::from(!all_ok));
}

/// Bulk insert: five fresh ledgers of 200,000 records each.
fn bench_insert(dir: &Path) -> bool {
    let mut rates = Vec::new();
    for run in 0..5 {
        let path = dir.join(format!("bulk-{run}.sqlite"));
        let mut store = Store::open(&path).expect("open");
        let took = fill(&mut store, 0, 200_000);
        rates.push(Duration::from_secs_f64(
            1.0 / (200_000.0 / took.as_secs_f64()),
        ));
    }
    let (best, mid, worst) = median(rates);
    let per_sec = |d: Duration| 1.0 / d.as_secs_f64();
    println!(
        "bulk insert, 5 runs of 200,000: median {:.0}/s (best {:.0}/s, worst {:.0}/s)",
        per_sec(mid),
        per_sec(best),
        per_sec(worst)
    );
    report(
        "bulk insert through the store (median)",
        per_sec(mid),
        500_000.0,
        "records/s",
        true,
    )
}

/// Peak resident memory of the last child waited for, from `getrusage`.
fn children_peak_rss_mb() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0 // kB
}

/// First import of about a million Claude Code lines (about 700 MB, written by
/// the fixture generator with every kind of noise), then re-imports with nothing new.
fn bench_import(dir: &Path) -> bool {
    // TALLY_BENCH_LOGS keeps the generated logs at a path of your choice, to profile by hand.
    let logs = std::env::var_os("TALLY_BENCH_LOGS").map_or_else(|| dir.join("claude"), Into::into);
    let _ = std::fs::remove_dir_all(&logs);
    let cfg = agent_logs::ClaudeConfig {
        seed: 1,
        projects: 20,
        sessions: 50,
        calls: 310,
        noise: true,
        padding: 270,
    };
    let truth = agent_logs::write_claude_logs(&logs, &cfg);
    println!(
        "generated {} lines, {:.0} MB, {} files, {} calls",
        truth.lines,
        truth.bytes as f64 / 1e6,
        truth.files,
        truth.calls.len()
    );
    let db = dir.join("import.sqlite");
    let tally = env!("CARGO_BIN_EXE_tally");
    let run = || {
        let start = Instant::now();
        let out = Command::new(tally)
            .arg("--db")
            .arg(&db)
            .args(["import", "claude-code", "--json"])
            .arg(&logs)
            .output()
            .expect("run tally");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let imported: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        (start.elapsed(), imported)
    };
    // Written moments ago, the files are in the page cache, as an agent's recent logs are.
    let (first, imported) = run();
    let peak = children_peak_rss_mb();
    assert_eq!(
        imported["new"],
        truth.calls.len() as u64,
        "every call, once"
    );
    let rate = truth.lines as f64 / first.as_secs_f64();
    println!(
        "first import of {} lines: {:.2} s ({rate:.0} lines/s), peak RSS {peak:.0} MB",
        truth.lines,
        first.as_secs_f64()
    );
    let mut ok = report(
        "first import of the lines (whole process)",
        first.as_secs_f64() * truth.lines as f64 / 1e6,
        2.5,
        "s per million lines",
        false,
    );
    ok &= report("first import, peak RSS", peak, 200.0, "MB", false);
    // The import checkpointed at its end: the ledger file is all of it.
    let bytes = std::fs::metadata(&db).map_or(0, |m| m.len());
    ok &= report(
        "ledger size per call after the first import",
        bytes as f64 / truth.calls.len() as f64,
        120.0,
        "bytes",
        false,
    );
    let (lo, mid, hi) = median((0..11).map(|_| run().0).collect());
    println!(
        "re-import of {} files with nothing new, 11 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})",
        truth.files
    );
    ok &= report(
        "re-import with nothing new (median)",
        mid.as_secs_f64() * 1e3,
        50.0,
        "ms",
        false,
    );
    ok
}

fn bench_processes(dir: &Path, wanted: &dyn Fn(&str) -> bool) -> bool {
    let mut all_ok = true;

    // A 1,000,000-record ledger for the whole-process figures. TALLY_BENCH_LEDGER
    // keeps it at a path of your choice, and reuses it on the next run.
    let path = million_ledger(dir);

    if wanted("record") {
        let (lo, mid, hi) = time_process(
            &path,
            &[
                "record",
                "--model",
                "claude-sonnet-4-5",
                "--input",
                "1200",
                "--output",
                "300",
                "--request-id",
                "bench-{n}",
            ],
            51,
        );
        println!("tally record, 51 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})");
        all_ok &= report(
            "`tally record` on a 1M-record ledger (median)",
            mid.as_secs_f64() * 1e3,
            15.0,
            "ms",
            false,
        );
    }
    if wanted("usage") {
        let (lo, mid, hi) = time_process(
            &path,
            &[
                "usage",
                "--group-by",
                "day",
                "--group-by",
                "model",
                "--json",
            ],
            21,
        );
        println!(
            "tally usage --group-by day --group-by model, 21 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})"
        );
        all_ok &= report(
            "`tally usage` day × model on 1M records (median)",
            mid.as_secs_f64() * 1e3,
            50.0,
            "ms",
            false,
        );
    }
    if wanted("check") {
        let (lo, mid, hi) = time_process(
            &path,
            &[
                "check",
                "--model",
                "claude-sonnet-4-5",
                "--estimated-input",
                "20000",
                "--estimated-output",
                "2000",
                "--project",
                "web",
            ],
            51,
        );
        println!(
            "tally check, 100 policies, 51 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})"
        );
        all_ok &= report(
            "`tally check`, 100 policies, 1M records (median)",
            mid.as_secs_f64() * 1e3,
            10.0,
            "ms",
            false,
        );
    }
    if wanted("evaluate") {
        let mut store = Store::open(&path).expect("open");
        let samples = (0..51)
            .map(|n| {
                let mut r = record(n);
                r.at = Timestamp::now();
                r.request_id = Some(format!("evaluate-{n}-{}", r.at.as_nanosecond()));
                store.insert(&r).expect("insert");
                let start = Instant::now();
                tally::engine::evaluate(&mut store, Timestamp::now()).expect("evaluate");
                start.elapsed()
            })
            .collect();
        let (lo, mid, hi) = median(samples);
        println!(
            "evaluation after one write, 100 policies, 51 runs: median {mid:.2?} (min {lo:.2?}, max {hi:.2?})"
        );
        all_ok &= report(
            "policy evaluation after one write, 100 policies (median)",
            mid.as_secs_f64() * 1e3,
            1.0,
            "ms",
            false,
        );
    }
    all_ok
}

/// The dashboard on ten million records: the data a refresh reads after a
/// write, in process; then the whole app's start to its first drawn dashboard.
fn bench_dashboard(dir: &Path) -> bool {
    const RECORDS: u64 = 10_000_000;
    let path = ten_million_ledger(dir);
    let mut store = Store::open(&path).expect("open");
    let mut samples = Vec::new();
    for i in 0..21 {
        let mut r = record(RECORDS + 1_000 + i);
        r.at = Timestamp::now();
        store.insert(&r).expect("write");
        let start = Instant::now();
        let data = tally::ui::dashboard_data::load(
            &store,
            Timestamp::now(),
            30,
            tally::core::usage::Dimension::Model,
        )
        .expect("dashboard data");
        samples.push(start.elapsed());
        assert!(data.last_call.is_some() && !data.shares.is_empty());
    }
    let (lo, mid, hi) = median(samples);
    println!(
        "dashboard data after a write, 21 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})"
    );
    let mut ok = report(
        "dashboard refresh after a write, 10M records (median)",
        mid.as_secs_f64() * 1e3,
        50.0,
        "ms",
        false,
    );
    if std::env::var_os("DISPLAY").is_none() {
        println!("no DISPLAY: the first-frame figure needs one (run under tools/with-display.sh)");
        return ok;
    }
    let (frames, peak) = app::first_frames(&path, dir, 7);
    let (lo, mid, hi) = median(frames);
    println!(
        "tally-app start to the first drawn dashboard, 7 runs: median {mid:.0?} (min {lo:.0?}, max {hi:.0?}), peak RSS {peak:.0} MB"
    );
    ok &= report(
        "start to first dashboard frame, 10M records (median)",
        mid.as_secs_f64() * 1e3,
        500.0,
        "ms",
        false,
    );
    ok &= report("the app's peak RSS", peak, 200.0, "MB", false);
    ok
}

/// Each report over the last 90 days of the 10M ledger, and the CSV export of
/// the 1M ledger's records.
fn bench_reports(dir: &Path) -> bool {
    use tally::core::report::Days;
    use tally::core::report::what_if::Scenario;
    use tally::reports::{Context, Kind, Request};
    let path = ten_million_ledger(dir);
    let store = Store::open(&path).expect("open");
    let book = tally::prices::load(&store).expect("prices");
    let now = Timestamp::now();
    let today = now.to_zoned(store.zone().clone()).date();
    let days = Days::preset("last-90-days", today, jiff::civil::Weekday::Monday).expect("preset");
    let ctx = Context {
        store: &store,
        book: &book,
        now,
        week_start: jiff::civil::Weekday::Monday,
    };
    let mut ok = true;
    for kind in Kind::ALL {
        let mut req = Request::new(kind, days);
        req.scenario = Scenario::Models {
            map: vec![("*".into(), "claude-haiku-4-5".into())],
        };
        let samples: Vec<Duration> = (0..11)
            .map(|_| {
                let start = Instant::now();
                let doc = tally::reports::run(&ctx, &req).expect("report");
                let took = start.elapsed();
                assert!(!doc.tables.is_empty());
                took
            })
            .collect();
        let (lo, mid, hi) = median(samples);
        println!(
            "report {}, 90 days of 10M records, 11 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})",
            kind.name()
        );
        ok &= report(
            &format!("report {}, 90 days, 10M records (median)", kind.name()),
            mid.as_secs_f64() * 1e3,
            200.0,
            "ms",
            false,
        );
    }
    drop(store);
    let million = million_ledger(dir);
    let out = dir.join("usage.csv");
    let since = (today - jiff::Span::new().days(400)).to_string();
    let args = [
        "report",
        "usage",
        "--since",
        &since,
        "--out",
        out.to_str().expect("path"),
    ];
    let (lo, mid, hi) = time_process(&million, &args, 5);
    let rows = std::fs::read_to_string(&out).expect("csv").lines().count() - 1;
    // The process benches add their records to this ledger too.
    assert!(rows as u64 >= LEDGER_RECORDS, "every record exported");
    println!("CSV export of {rows} records, 5 runs: median {mid:.2?} (min {lo:.2?}, max {hi:.2?})");
    ok &= report(
        "CSV export of 1,000,000 records (median)",
        mid.as_secs_f64(),
        3.0,
        "s",
        false,
    );
    ok
}

/// `tally record` while ten alert deliveries are due to a webhook that
/// accepts and never answers: the write must not wait for any of them.
fn bench_webhook(dir: &Path) -> bool {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let _ = stream.read(&mut [0u8; 4096]);
            held.push(stream);
        }
    });
    let db = dir.join("webhook.sqlite");
    let tally = env!("CARGO_BIN_EXE_tally");
    let run = |args: &[&str]| {
        let out = Command::new(tally)
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .expect("run tally");
        assert!(out.status.success(), "tally {args:?}: {out:?}");
    };
    run(&["alerts", "webhook", &url]);
    for i in 0..10 {
        run(&["policy", "add", &format!("tiny-{i}"), "--limit", "0.01"]);
    }
    // Crosses all ten: their alerts' webhook deliveries are due.
    run(&["record", "--model", "gpt-4o", "--input", "8000"]);
    let ledger = rusqlite::Connection::open(&db).expect("ledger");
    let samples = (0..21)
        .map(|n| {
            // Every delivery due again (a sender's lease lifted), as after a
            // webhook outage: the record finds ten waiting.
            let due = ledger
                .execute(
                    "UPDATE alert_deliveries SET next_try_ms = 0
                     WHERE delivered_ms IS NULL AND channel = 'webhook'",
                    [],
                )
                .expect("deliveries due");
            assert!(due >= 10, "{due} deliveries due");
            let start = Instant::now();
            let id = format!("hook-{n}");
            run(&[
                "record",
                "--model",
                "gpt-4o",
                "--input",
                "100",
                "--request-id",
                &id,
            ]);
            start.elapsed()
        })
        .collect();
    let (lo, mid, hi) = median(samples);
    println!(
        "tally record with webhook deliveries due to a webhook that never answers, 21 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})"
    );
    report(
        "`tally record`, a hanging webhook with deliveries due (median)",
        mid.as_secs_f64() * 1e3,
        20.0,
        "ms",
        false,
    )
}

/// `tally watch` following a log on a 1,000,000-record ledger: 1,000 lines
/// appended at once, 7 times; how long until their calls are stored (the
/// budgets are evaluated right after, in about a millisecond).
fn bench_follow(dir: &Path) -> bool {
    let path = million_ledger(dir);
    let logs = dir.join("followed");
    let log = logs.join("-home-ada-live/live.jsonl");
    std::fs::create_dir_all(log.parent().expect("folder")).expect("log folder");
    std::fs::write(&log, "").expect("log");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(&path)
        .args(["watch", "--claude-code"])
        .arg(&logs)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tally watch");
    std::thread::sleep(Duration::from_secs(3));
    // Ids no earlier run (or the ledger's own imports) used.
    let batch = Timestamp::now().as_nanosecond();
    // A connection of its own for each look, so no read holds the WAL.
    let last_id = || -> i64 {
        rusqlite::Connection::open(&path)
            .and_then(|c| c.query_row("SELECT MAX(id) FROM calls", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    let mut samples = Vec::new();
    for run in 0..7 {
        let before = last_id();
        let lines: String = (0..1000)
            .map(|i| {
                format!(
                    r#"{{"type":"assistant","timestamp":"2026-11-30T10:00:00.000Z","sessionId":"s","cwd":"/home/ada/live","requestId":"req_{batch}_{run}_{i}","message":{{"id":"msg_{batch}_{run}_{i}","model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"hi"}}],"usage":{{"input_tokens":10,"output_tokens":5}}}}}}"#
                ) + "\n"
            })
            .collect();
        let start = Instant::now();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .and_then(|mut f| std::io::Write::write_all(&mut f, lines.as_bytes()))
            .expect("append");
        while last_id() < before + 1000 && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(2));
        }
        samples.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let (lo, mid, hi) = median(samples);
    println!(
        "1,000 lines appended to a followed log → stored, 7 runs: median {mid:.1?} (min {lo:.1?}, max {hi:.1?})"
    );
    report(
        "append 1,000 lines to a followed log → stored (median)",
        mid.as_secs_f64() * 1e3,
        100.0,
        "ms",
        false,
    )
}

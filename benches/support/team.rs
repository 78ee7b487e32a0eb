//! Team sync (`-- team`), the real binary against a PostgreSQL server the
//! bench starts on loopback (as the tests do):
//! - push: 500,000 calls a machine recorded, `tally team sync`, whole process;
//! - pull: another machine's first sync of those 500,000;
//! - first pull of a team ledger of 10,000,000 calls (`TALLY_BENCH_TEAM_ROWS`
//!   to change it), generated on the server: time and peak RSS;
//! - `tally check` with the team's server stopped.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tally::core::Money;
use tally::core::usage::{Cost, TokenCounts, UsageRecord};
use tally::store::Store;

#[path = "../../tests/support/postgres.rs"]
mod postgres_server;
use postgres_server::{PASSWORD, Pg};

use super::{children_peak_rss_mb, median, report};

const PUSHED: u64 = 500_000;

fn tally(db: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("PGPASSWORD", PASSWORD)
        .output()
        .expect("run tally");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "tally {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn calls(n: u64) -> Vec<UsageRecord> {
    let start = Timestamp::now().as_second() - 365 * 86_400;
    (0..n)
        .map(|i| {
            let at = Timestamp::from_second(start + (i as i64 * 31_536_000 / n as i64)).unwrap();
            let mut r = UsageRecord::new(at, "anthropic", "claude-sonnet-4-5");
            r.source = "claude-code".into();
            r.agent = "claude-code".into();
            r.project = format!("project-{}", i % 12);
            r.request_id = Some(format!("msg_bench_{i:09}"));
            r.session = Some(format!("session-{}", i / 400));
            r.tokens = TokenCounts {
                input: 3 + i % 50,
                output: 200 + i % 900,
                cache_read: 20_000 + i % 30_000,
                cache_write_5m: i % 2_000,
                ..TokenCounts::default()
            };
            r.cost = Cost::Reported {
                amount: Money::from_nanos(1_000_000 + (i as i64 % 50_000) * 1_000),
            };
            r
        })
        .collect()
}

pub fn bench_team(dir: &Path) -> bool {
    let pg = Pg::start();
    let mut ok = true;
    let a = dir.join("team-a.sqlite");
    let b = dir.join("team-b.sqlite");
    drop(Store::open(&a).expect("ledger a"));
    tally(&a, &["team", "join", &pg.address(), "--machine", "a"]);
    {
        let mut store = Store::open(&a).expect("ledger a");
        for chunk in calls(PUSHED).chunks(50_000) {
            store.insert_batch(chunk).expect("fill a");
        }
    }
    let push = tally(&a, &["team", "sync"]);
    let pull = tally(&b, &["team", "join", &pg.address(), "--machine", "b"]);
    let rate = |d: Duration| PUSHED as f64 / d.as_secs_f64();
    println!(
        "team: push of {PUSHED} calls {:.2} s, first pull {:.2} s (whole processes)",
        push.as_secs_f64(),
        pull.as_secs_f64()
    );
    ok &= report(
        "team push, whole process",
        rate(push),
        50_000.0,
        "calls/s",
        true,
    );
    ok &= report(
        "team first pull, whole process",
        rate(pull),
        50_000.0,
        "calls/s",
        true,
    );

    // A team ledger of millions, made on the server as other machines would have pushed it.
    let rows: i64 = std::env::var("TALLY_BENCH_TEAM_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let made = Instant::now();
    pg.team()
        .execute(
            "INSERT INTO tally_records (gkey, machine, pushed_by, revision, digest, ts_ms,
                 provider, model, user_name, project, agent, source, session, request_id, input,
                 output, cache_read, cache_write_5m, cache_write_1h, reasoning, cost_kind,
                 cost_nanos)
             SELECT decode(md5(i::text), 'hex'), 'm' || (i % 50), 'm' || (i % 50), 1, '\\x00',
                 1764000000000 + i * 3000, 'anthropic', 'claude-sonnet-4-5', 'user' || (i % 50),
                 'project-' || (i % 40), 'claude-code', 'claude-code', 'session-' || (i / 500),
                 'msg_team_' || i, i % 50, 200 + i % 900, 20000 + i % 30000, i % 2000, 0, 0, 1,
                 1000000 + (i % 50000) * 1000
             FROM generate_series(1, $1::bigint) AS i",
            &[&rows],
        )
        .expect("make the team ledger");
    println!(
        "team: {rows} calls made on the server in {:.1} s",
        made.elapsed().as_secs_f64()
    );
    let c = dir.join("team-c.sqlite");
    let first = tally(&c, &["team", "join", &pg.address(), "--machine", "c"]);
    let rss = children_peak_rss_mb();
    ok &= report(
        "team first pull of the big team ledger",
        first.as_secs_f64(),
        60.0 * rows as f64 / 10_000_000.0,
        "s",
        false,
    );
    ok &= report("its peak RSS", rss, 300.0, "MB", false);

    // Checks with the server gone: nothing of them waits on it.
    pg.stop();
    let samples: Vec<Duration> = (0..30)
        .map(|_| {
            tally(
                &a,
                &[
                    "check",
                    "--model",
                    "claude-sonnet-4-5",
                    "--estimated-input",
                    "1000",
                ],
            )
        })
        .collect();
    let (_, mid, _) = median(samples);
    ok &= report(
        "tally check, team server unreachable (median)",
        mid.as_secs_f64() * 1000.0,
        10.0,
        "ms",
        false,
    );
    ok
}

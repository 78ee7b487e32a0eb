//! Budgets end to end: spend per policy against a brute-force count, `tally
//! check` decisions and exit codes, and alerts raised exactly once when several
//! processes record at the same time.

use std::path::PathBuf;
use std::process::{Command, Output};

use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tally::core::Money;
use tally::core::period::Period;
use tally::core::policy::{Action, Dims, Metric, Policy};
use tally::core::usage::{Cost, TokenCounts, Totals, UsageRecord};
use tally::store::Store;

struct Ledger {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Ledger {
    fn new() -> Ledger {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("ledger.sqlite");
        Ledger { dir, db }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tally"));
        c.arg("--db").arg(&self.db).args(args);
        c.env("LANGUAGE", "en")
            .env("LC_ALL", "C.UTF-8")
            .env("TZ", "UTC")
            .env("USER", "tester")
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            // No desktop here: the desktop channel fails and is retried later,
            // which must not disturb anything else.
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .env_remove("TALLY_USER")
            .env_remove("TALLY_PROJECT")
            .env_remove("TALLY_AGENT");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run tally")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tally {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("valid JSON")
    }

    /// Removes the default forecast and anomaly rules (ids 4 and 5), whose
    /// firing depends on the time of day the test runs at.
    fn thresholds_only(&self) {
        self.ok(&["rules", "rm", "4"]);
        self.ok(&["rules", "rm", "5"]);
    }

    /// Replaces the default threshold rules (ids 1–3) with ones without cooldown.
    fn no_cooldown(&self) {
        for id in ["1", "2", "3"] {
            self.ok(&["rules", "rm", id]);
        }
        self.ok(&["rules", "add", "--on", "soft", "--cooldown", "0s"]);
        self.ok(&[
            "rules",
            "add",
            "--on",
            "95",
            "--severity",
            "critical",
            "--cooldown",
            "0s",
        ]);
        self.ok(&[
            "rules",
            "add",
            "--on",
            "100%",
            "--severity",
            "critical",
            "--cooldown",
            "0s",
        ]);
    }

    fn alert_kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.json(&["alerts", "list", "--all", "--json"])["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .map(|a| {
                format!(
                    "{} {}",
                    a["policy"].as_str().unwrap_or(""),
                    a["kind"].as_str().unwrap_or("")
                )
            })
            .collect();
        kinds.sort();
        kinds
    }
}

const MODELS: [(&str, &str); 5] = [
    ("anthropic", "claude-opus-4-1"),
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("google", "gemini-2.5-pro"),
];

fn random_record(rng: &mut StdRng, now: Timestamp, i: usize) -> UsageRecord {
    let (provider, model) = MODELS[rng.random_range(0..MODELS.len())];
    // From 70 days ago to a day ahead (clocks differ; future usage still counts
    // wherever its window says).
    let secs = rng.random_range(-70 * 86_400..86_400i64);
    let at = now.checked_add(SignedDuration::from_secs(secs)).unwrap();
    let mut r = UsageRecord::new(at, provider, model);
    r.source = "test".into();
    r.request_id = Some(format!("r{i}"));
    r.user = ["ana", "ben", "chloé"][rng.random_range(0..3)].into();
    r.project = ["website", "api", "web-v2", ""][rng.random_range(0..4)].into();
    r.agent = ["claude-code", "codex", ""][rng.random_range(0..3)].into();
    r.tokens = TokenCounts {
        input: rng.random_range(0..50_000),
        output: rng.random_range(0..5_000),
        cache_read: rng.random_range(0..20_000),
        ..TokenCounts::default()
    };
    r.images.count = if rng.random_bool(0.1) {
        rng.random_range(1..4)
    } else {
        0
    };
    r.cost = if rng.random_bool(0.05) {
        Cost::Unpriced {
            reason: "unknown".into(),
        }
    } else {
        Cost::Priced {
            amount: Money::from_nanos(rng.random_range(1..90_000_000)),
            price_version: "test".into(),
        }
    };
    r
}

fn policy(
    i: usize,
    scope: &str,
    metric: Metric,
    period: &str,
    zone: &str,
    now: Timestamp,
) -> Policy {
    Policy {
        id: 0,
        name: format!("p{i}"),
        scope: scope.parse().unwrap(),
        metric,
        period: period.parse().unwrap(),
        zone: zone.into(),
        limit: 1,
        soft_percent: 80,
        action: Action::Warn,
        enabled: true,
        created_at: now
            .checked_sub(SignedDuration::from_hours(24 * 9 + 5))
            .unwrap(),
        reset_at: None,
        override_: None,
        team: None,
    }
}

#[test]
fn spend_per_policy_matches_a_brute_force_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite")).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    // A time that is not on any day or hour boundary, in the middle of a month.
    let now: Timestamp = "2026-03-29T13:47:11.250Z".parse().unwrap();
    let records: Vec<UsageRecord> = (0..6000).map(|i| random_record(&mut rng, now, i)).collect();
    store.insert_batch(&records).unwrap();

    let scopes = [
        "global",
        "model:claude-*",
        "model:gpt-4o",
        "provider:openai",
        "user:chloé",
        "project:web*",
        "project:website",
        "agent:codex",
        "agent:",
    ];
    let periods = [
        "daily",
        "weekly:sunday",
        "monthly",
        "monthly:31",
        "monthly:15",
        "rolling:36h",
        "manual",
        "custom:2026-02-10T08:30:00Z/2026-03-20T00:00:00Z",
    ];
    let zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"];
    let mut policies = Vec::new();
    for (i, scope) in scopes.iter().enumerate() {
        if scope.ends_with(':') {
            continue; // an empty pattern is refused; the parser test covers it
        }
        for (j, period) in periods.iter().enumerate() {
            let metric = Metric::ALL[(i + j) % 4];
            let zone = zones[(i * 3 + j) % zones.len()];
            let mut p = policy(policies.len(), scope, metric, period, zone, now);
            if j % 3 == 0 {
                // A manual reset partway through the window.
                p.reset_at = Some(
                    now.checked_sub(SignedDuration::from_secs(3 * 3600 + 17))
                        .unwrap(),
                );
            }
            policies.push(p);
        }
    }
    let spend = store.policy_spend(&policies, now).unwrap();
    for (p, s) in policies.iter().zip(&spend) {
        let w = p.window(now).unwrap();
        assert_eq!(s.window, w);
        let mut expected = Totals::default();
        for r in &records {
            let dims = Dims {
                provider: &r.provider,
                model: &r.model,
                user: &r.user,
                project: &r.project,
                agent: &r.agent,
                machine: &r.machine,
            };
            if w.contains(r.at) && p.scope.matches(&dims) {
                expected.add(&Totals::of(r));
            }
        }
        assert_eq!(
            s.used,
            p.metric.of(&expected),
            "{} {} {} {} window {:?}",
            p.scope,
            p.metric.name(),
            p.period,
            p.zone,
            w
        );
        assert_eq!(s.totals, expected, "{} {}", p.scope, p.period);
    }
    // Sanity: the test is not trivially comparing zeros.
    assert!(spend.iter().filter(|s| s.used > 0).count() > policies.len() / 2);
    assert!(policies.iter().any(|p| p.period == Period::Manual));
}

#[test]
fn check_answers_allow_warn_throttle_and_block_with_exit_codes() {
    let l = Ledger::new();
    l.thresholds_only();
    l.ok(&[
        "policy",
        "add",
        "opus daily",
        "--limit",
        "5",
        "--period",
        "daily",
        "--scope",
        "model:claude-opus-*",
        "--action",
        "block",
    ]);
    l.ok(&[
        "policy", "add", "monthly", "--limit", "100", "--action", "throttle",
    ]);
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--json"];
        args.extend_from_slice(extra);
        l.run(&args)
    };
    // claude-opus-4-1: $15 in / $75 out per million. 100k in + 20k out = $3.00.
    let out = check(&[
        "--model",
        "claude-opus-4-1",
        "--estimated-input",
        "100000",
        "--estimated-output",
        "20000",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"]["verdict"], "allow");
    assert_eq!(v["estimate"]["cost_usd"], "3.000000000");

    // $3.50 used: another $0.60 takes it to $4.10 ≥ 80 % of $5 → warn, exit 0.
    l.ok(&[
        "record",
        "--model",
        "claude-opus-4-1",
        "--input",
        "100000",
        "--output",
        "26666",
    ]);
    let out = check(&["--model", "claude-opus-4-1", "--estimated-input", "40000"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"]["verdict"], "warn");
    assert_eq!(v["decision"]["reasons"][0]["policy"], "opus daily");
    assert_eq!(v["decision"]["reasons"][0]["why"], "over_soft_limit");

    // $3 more would pass $5: blocked, exit 3, recorded as a POLICY_VIOLATION.
    let out = check(&[
        "--model",
        "claude-opus-4-1",
        "--estimated-input",
        "100000",
        "--estimated-output",
        "20000",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"]["verdict"], "block");
    assert_eq!(l.alert_kinds(), ["opus daily POLICY_VIOLATION"]);

    // Another model is not in the opus scope; the monthly throttle applies past
    // its soft limit ($80): record $82 of gpt-4o, then ask.
    l.ok(&["record", "--model", "gpt-4o", "--input", "32800000"]);
    let out = check(&["--model", "gpt-4o", "--estimated-input", "1000"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"]["verdict"], "throttle");
    let delay = v["decision"]["delay"].as_f64().unwrap();
    assert!(delay > 0.0 && delay <= 3600.0, "{delay}");
    // The text form says how long.
    let text = l.run(&["check", "--model", "gpt-4o", "--estimated-input", "1000"]);
    assert_eq!(text.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&text.stdout).contains("seconds"));
}

#[test]
fn check_waits_when_asked_and_bad_flags_exit_2_writing_nothing() {
    let l = Ledger::new();
    l.thresholds_only();
    l.ok(&[
        "policy",
        "add",
        "tiny",
        "--limit",
        "1",
        "--period",
        "rolling:1h",
        "--action",
        "throttle",
    ]);
    l.ok(&["record", "--model", "gpt-4o", "--input", "360000"]); // $0.90
    // $0.0025 of a $0.10 remainder over an hour: 90 s, too long for a test; a
    // smaller call waits a fraction of a second and then exits 0.
    let start = std::time::Instant::now();
    let out = l.run(&[
        "check",
        "--model",
        "gpt-4o",
        "--estimated-input",
        "4",
        "--wait",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(start.elapsed().as_millis() >= 100);

    // The ledger and its write-ahead log, where a write would land first.
    let files = || {
        let wal = l.db.with_extension("sqlite-wal");
        (
            std::fs::read(&l.db).unwrap(),
            std::fs::read(&wal).unwrap_or_default(),
        )
    };
    let before = files();
    let alerts_before = l.alert_kinds();
    assert_eq!(alerts_before, ["tiny THRESHOLD_WARNING"]);
    for bad in [
        vec!["check", "--model", "gpt-4o", "--estimated-input", "-5"],
        vec!["check", "--model", "gpt-4o", "--estimated-output", "ten"],
        vec!["check", "--model", "", "--estimated-input", "5"],
        vec!["check", "--estimated-input", "5"],
    ] {
        let out = l.run(&bad);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
    assert!(files() == before, "a refused check changed the ledger");
    assert_eq!(l.alert_kinds(), alerts_before);
}

#[test]
fn policies_validate_audit_and_override() {
    let l = Ledger::new();
    for (args, says) in [
        (vec!["--limit", "0"], "more than zero"),
        (vec!["--limit", "ten"], "is not a limit"),
        (
            vec!["--limit", "5", "--period", "monthly:32"],
            "between 1 and 31",
        ),
        (vec!["--limit", "5", "--scope", "team:x"], "unknown scope"),
        (vec!["--limit", "5", "--soft", "120"], "between 1 and 100"),
        (
            vec!["--limit", "5", "--action", "explode"],
            "unknown action",
        ),
        (
            vec!["--limit", "1.5", "--metric", "images"],
            "is not a limit",
        ),
    ] {
        let mut full = vec!["policy", "add", "bad"];
        full.extend(args);
        let out = l.run(&full);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{full:?}: {err}");
    }
    assert!(
        l.json(&["status", "--json"])["policies"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    l.ok(&[
        "policy", "add", "images", "--limit", "2,500", "--metric", "images",
    ]);
    let dup = l.run(&["policy", "add", "images", "--limit", "5"]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    l.ok(&[
        "policy", "edit", "images", "--limit", "3000", "--soft", "90",
    ]);
    l.ok(&[
        "policy",
        "override",
        "images",
        "--for",
        "2h",
        "--reason",
        "launch day",
    ]);
    l.ok(&["policy", "reset", "images", "--reason", "new quota"]);
    let shown = l.json(&["policy", "show", "images", "--json"]);
    let actions: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "edited", "override", "reset"]);
    assert_eq!(
        shown["audit"][1]["detail"],
        "limit: 2,500 → 3,000; soft: 80% → 90%"
    );
    assert_eq!(shown["audit"][2]["actor"], "tester");
    assert!(
        shown["audit"][2]["detail"]
            .as_str()
            .unwrap()
            .contains("launch day")
    );
    assert_eq!(shown["status"]["limit"], "3000");
    assert!(shown["status"]["override_until"].is_string());
    l.ok(&["policy", "rm", "images"]);
    assert!(!l.run(&["policy", "show", "images"]).status.success());
}

#[test]
fn concurrent_writers_raise_each_crossing_exactly_once() {
    let l = Ledger::new();
    l.thresholds_only();
    l.no_cooldown();
    l.ok(&["policy", "add", "team", "--limit", "1", "--period", "daily"]);
    // 40 processes each record $0.05 at once: $2.00 in all, crossing 80 %, 95 %
    // and 100 % of $1 somewhere in the middle, in whatever order they commit.
    let children: Vec<_> = (0..40)
        .map(|i| {
            l.cmd(&[
                "record",
                "--model",
                "gpt-4o",
                "--input",
                "20000",
                "--request-id",
                &format!("c{i}"),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let used = l.json(&["status", "--json"])["policies"][0]["used"].clone();
    assert_eq!(used, "2.000000000");
    let kinds = l.alert_kinds();
    // Each threshold once. A writer that finds spend already past two notifies
    // only the higher; but never twice, and the limit always.
    let count = |k: &str| kinds.iter().filter(|x| x.ends_with(k)).count();
    assert!(count("THRESHOLD_WARNING") <= 1, "{kinds:?}");
    assert!(count("THRESHOLD_CRITICAL") <= 1, "{kinds:?}");
    assert_eq!(count("LIMIT_EXCEEDED"), 1, "{kinds:?}");
    // The log channel wrote one line per alert, from whichever process raised it.
    let log = std::fs::read_to_string(l.dir.path().join("state/tally/alerts.jsonl")).unwrap();
    assert_eq!(log.lines().count(), kinds.len(), "{log}");
}

#[test]
fn thresholds_fire_in_order_then_ack_and_resolve() {
    let l = Ledger::new();
    l.ok(&["policy", "add", "month", "--limit", "1"]);
    // Without cooldown, every threshold notifies as it is crossed.
    l.thresholds_only();
    l.no_cooldown();
    let rec = |id: &str, input: &str| {
        l.ok(&[
            "record",
            "--model",
            "gpt-4o",
            "--input",
            input,
            "--request-id",
            id,
        ]);
    };
    rec("a", "316000"); // $0.79
    assert_eq!(l.alert_kinds(), Vec::<String>::new());
    rec("b", "4000"); // $0.80: the soft limit
    rec("c", "4000"); // $0.81: nothing new
    rec("d", "60000"); // $0.96
    rec("e", "20000"); // $1.01
    rec("f", "20000"); // $1.06: nothing new
    let listed = l.json(&["alerts", "list", "--json"]);
    let alerts = listed["alerts"].as_array().unwrap();
    let kinds: Vec<&str> = alerts
        .iter()
        .rev()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["THRESHOLD_WARNING", "THRESHOLD_CRITICAL", "LIMIT_EXCEEDED"]
    );
    assert_eq!(alerts[2]["title"], "Budget “month” at 80 %");
    assert!(
        alerts[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("$1.01 of $1.00 used")
    );
    let id = alerts[0]["id"].as_i64().unwrap().to_string();
    l.ok(&["alerts", "ack", &id]);
    l.ok(&["alerts", "resolve", &id]);
    let open = l.json(&["alerts", "list", "--json"]);
    assert_eq!(open["alerts"].as_array().unwrap().len(), 2);
    let all = l.json(&["alerts", "list", "--all", "--json"]);
    assert_eq!(all["alerts"][0]["state"], "resolved");
    assert_eq!(all["alerts"][0]["acknowledged_by"], "tester");
}

/// A loopback webhook that takes one POST and answers 204: its URL, and the
/// request's head and body once it came.
fn one_post_server() -> (String, std::thread::JoinHandle<(String, String)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        (head, String::from_utf8(body).unwrap())
    });
    (url, server)
}

#[test]
fn setting_a_webhook_sends_the_default_rules_alerts_there() {
    let (url, server) = one_post_server();
    let l = Ledger::new();
    l.thresholds_only();
    let said = l.ok(&["alerts", "webhook", &url]);
    assert!(said.contains("3 alert rules now send to it too"), "{said}");
    l.ok(&[
        "policy", "add", "hook", "--limit", "0.01", "--period", "daily",
    ]);
    l.ok(&["record", "--model", "gpt-4o", "--input", "8000"]); // $0.02
    let (head, body) = server.join().unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    let alert: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["policy"], "hook");
    // A second time adds nothing.
    let again = l.ok(&["alerts", "webhook", &url]);
    assert!(!again.contains("now send"), "{again}");
}

#[test]
fn the_webhook_channel_posts_the_alert_as_json() {
    let (url, server) = one_post_server();
    let l = Ledger::new();
    l.thresholds_only();
    for id in ["1", "2", "3"] {
        l.ok(&["rules", "rm", id]);
    }
    l.ok(&[
        "rules",
        "add",
        "--on",
        "100",
        "--severity",
        "critical",
        "--channels",
        "webhook",
    ]);
    l.ok(&["alerts", "webhook", &url]);
    l.ok(&[
        "policy", "add", "hook", "--limit", "0.01", "--period", "daily",
    ]);
    l.ok(&["record", "--model", "gpt-4o", "--input", "8000"]); // $0.02
    let (head, body) = server.join().unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    let alert: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["kind"], "LIMIT_EXCEEDED");
    assert_eq!(alert["policy"], "hook");
    assert_eq!(alert["detail"]["used"], "0.020000000");
    assert_eq!(alert["detail"]["limit"], "0.010000000");
}

/// A notifier that fails its first `failures` sends, then records the rest.
struct Flaky {
    failures: std::cell::Cell<u32>,
    sent: std::cell::RefCell<Vec<String>>,
}

impl tally::notifier::Notifier for Flaky {
    fn send(
        &self,
        channel: tally::core::alerts::Channel,
        alert: &tally::store::Alert,
    ) -> Result<(), String> {
        if self.failures.get() > 0 {
            self.failures.set(self.failures.get() - 1);
            return Err("server away".into());
        }
        self.sent
            .borrow_mut()
            .push(format!("{} {}", channel.name(), alert.title));
        Ok(())
    }
}

#[test]
fn a_failed_channel_is_retried_later_and_never_blocks_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite")).unwrap();
    for id in [1, 2, 4, 5] {
        store.remove_rule(id).unwrap();
    }
    let now: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
    let mut p = policy(0, "global", Metric::Requests, "daily", "UTC", now);
    p.limit = 2;
    store.add_policy(&p, "test").unwrap();
    let flaky = Flaky {
        failures: std::cell::Cell::new(2),
        sent: Default::default(),
    };
    for i in 0..3 {
        let mut r = UsageRecord::new(now, "openai", "gpt-4o");
        r.request_id = Some(format!("r{i}"));
        store.insert(&r).unwrap();
        tally::engine::after_write(&mut store, now, &flaky);
    }
    // The limit was crossed once; both channels (desktop, log) failed once each.
    assert!(flaky.sent.borrow().is_empty());
    assert_eq!(store.alerts(&[], 10).unwrap().len(), 1);
    // Not due yet: nothing is sent again at once.
    tally::engine::deliver_due(&mut store, now, &flaky);
    assert!(flaky.sent.borrow().is_empty());
    // After the retry delay both go out, once.
    let later = now.checked_add(SignedDuration::from_secs(31)).unwrap();
    tally::engine::deliver_due(&mut store, later, &flaky);
    tally::engine::deliver_due(&mut store, later, &flaky);
    let mut sent = flaky.sent.borrow().clone();
    sent.sort();
    assert_eq!(
        sent,
        ["desktop Budget “p0” exceeded", "log Budget “p0” exceeded"]
    );
}

#[test]
fn kept_past_days_follow_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let mut store = Store::open(&path).unwrap();
    let now: Timestamp = "2026-03-20T12:00:00Z".parse().unwrap();
    let p = policy(0, "global", Metric::Requests, "monthly", "UTC", now);
    let used = |s: &Store| s.policy_spend(std::slice::from_ref(&p), now).unwrap()[0].used;
    let rec = |day: &str, id: &str| {
        let mut r = UsageRecord::new(
            format!("{day}T08:00:00Z").parse().unwrap(),
            "openai",
            "gpt-4o",
        );
        r.request_id = Some(id.into());
        r
    };
    store.insert(&rec("2026-03-10", "a")).unwrap();
    assert_eq!(used(&store), 1);
    // This connection writes an earlier day: the kept days are dropped.
    store.insert(&rec("2026-03-11", "b")).unwrap();
    assert_eq!(used(&store), 2);
    store.insert_batch(&[rec("2026-03-12", "c")]).unwrap();
    assert_eq!(used(&store), 3);
    // Another connection writes an earlier day: data_version moves.
    Store::open(&path)
        .unwrap()
        .insert(&rec("2026-03-13", "d"))
        .unwrap();
    assert_eq!(used(&store), 4);
    // Today is never kept.
    store.insert(&rec("2026-03-20", "e")).unwrap();
    assert_eq!(used(&store), 5);
    // A later "today" does not reuse the old copy.
    let next_day: Timestamp = "2026-03-21T12:00:00Z".parse().unwrap();
    assert_eq!(
        store
            .policy_spend(std::slice::from_ref(&p), next_day)
            .unwrap()[0]
            .used,
        5
    );
}

#[test]
fn a_rule_added_without_a_cooldown_takes_the_preferred_one() {
    let l = Ledger::new();
    l.ok(&["rules", "add", "--on", "91"]);
    Store::open(&l.db)
        .unwrap()
        .set_setting("default_cooldown", Some("90m"))
        .unwrap();
    l.ok(&["rules", "add", "--on", "92"]);
    l.ok(&["rules", "add", "--on", "93", "--cooldown", "5m"]);
    let list = l.ok(&["rules", "list"]);
    let cooldown_of = |threshold: &str| {
        list.lines()
            .find(|line| line.contains(threshold))
            .unwrap_or_else(|| panic!("no rule at {threshold}: {list}"))
            .to_string()
    };
    assert!(cooldown_of("91%").contains("1h "), "{list}");
    assert!(cooldown_of("92%").contains("1h 30m"), "{list}");
    assert!(cooldown_of("93%").contains("5m"), "{list}");
}

/// A loopback webhook that reads each request and never answers: its URL,
/// and how many requests came.
fn hanging_webhook() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let came = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = came.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            if stream.read(&mut buf).is_ok_and(|n| n > 0) {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            held.push(stream);
        }
    });
    (url, came)
}

#[test]
fn a_webhook_that_never_answers_holds_up_no_write_and_is_sent_to_later() {
    let (url, came) = hanging_webhook();
    let l = Ledger::new();
    l.thresholds_only();
    l.ok(&["alerts", "webhook", &url]);
    for i in 0..6 {
        let name = format!("tiny-{i}");
        l.ok(&[
            "policy", "add", &name, "--limit", "0.01", "--period", "daily",
        ]);
    }
    // Six budgets crossed at once: a dozen deliveries due, each of which
    // would wait out the webhook's 5 s timeout.
    let start = std::time::Instant::now();
    l.ok(&["record", "--model", "gpt-4o", "--input", "8000"]);
    let took = start.elapsed();
    assert!(
        took < std::time::Duration::from_secs(4),
        "the write waited for the webhook ({took:?}): less than one timeout is the bound"
    );
    let start = std::time::Instant::now();
    l.ok(&["record", "--model", "gpt-4o", "--input", "10"]);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(4),
        "nor the next one"
    );
    // Sent from another process meanwhile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while came.load(std::sync::atomic::Ordering::SeqCst) < 6 && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        came.load(std::sync::atomic::Ordering::SeqCst) >= 6,
        "the deliveries went to the webhook ({} came)",
        came.load(std::sync::atomic::Ordering::SeqCst)
    );
}

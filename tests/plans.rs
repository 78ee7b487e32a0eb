//! `tally plan`: Codex's own window figures as its logs report them, newest
//! first; Claude's windows estimated from the ledger; and the alerts a window
//! raises, once per window and threshold.

use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

struct Ledger {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Ledger {
    fn new() -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ledger.sqlite");
        Ledger { _dir: dir, db }
    }

    fn dir(&self) -> &Path {
        self._dir.path()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env("LANGUAGE", "en")
            .env("TZ", "UTC")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tally {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn record(&self, at: Timestamp, dollars: &str, id: &str) {
        self.ok(&[
            "record",
            "--model",
            "claude-sonnet-4-5",
            "--agent",
            "claude-code",
            "--input",
            "1000",
            "--cost",
            dollars,
            "--at",
            &at.to_string(),
            "--request-id",
            id,
        ]);
    }

    fn alert_kinds(&self) -> Vec<String> {
        let v = self.json(&["alerts", "list", "--json"]);
        let mut kinds: Vec<String> = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_string())
            .collect();
        kinds.reverse(); // oldest first
        kinds
    }
}

fn top_of_hour(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second() - t.as_second().rem_euclid(3600)).unwrap()
}

#[test]
fn a_claude_window_is_estimated_from_the_ledger_and_alerts_once_per_threshold() {
    let l = Ledger::new();
    let now = Timestamp::now();
    let hours = |h: i64| SignedDuration::from_hours(h);
    // A call 20 hours ago opened a window long over; after the gap, two calls
    // open the window in force at the top of the first one's hour.
    l.record(now - hours(20), "50", "old");
    l.ok(&["plan", "set", "claude-code", "custom:35"]);
    let first = now - hours(2);
    l.record(first, "10", "a");
    assert!(l.alert_kinds().is_empty(), "$10 of $35 is under 80 %");
    l.record(now - hours(1), "18", "b");

    let status = l.json(&["plan", "status", "--json"]);
    let claude = &status[0];
    assert_eq!(claude["agent"], "claude-code");
    assert_eq!(claude["plan"], "custom:35");
    let w = &claude["window"];
    let start = top_of_hour(first);
    assert_eq!(w["window"]["start"], start.to_string());
    assert_eq!(w["window"]["end"], (start + hours(5)).to_string());
    assert_eq!(w["window"]["calls"], 2);
    assert_eq!(w["window"]["cost_nanos"], 28_000_000_000_i64);
    assert_eq!(w["used_bp"], 8_000);
    // $28 over the window so far (2 to 3 hours since it opened at the top of
    // its first call's hour), projected to its end: $28 × 5 h ÷ elapsed.
    let elapsed = now.duration_since(start).as_secs_f64() / 3600.0;
    let burn = w["burn_per_hour"].as_i64().unwrap() as f64 / 1e9;
    assert!(
        (burn - 28.0 / elapsed).abs() < 0.05,
        "{burn} ≈ 28 / {elapsed}"
    );
    let projected = w["projected_nanos"].as_i64().unwrap() as f64 / 1e9;
    assert!(
        (projected - 28.0 * 5.0 / elapsed).abs() < 0.25,
        "{projected}"
    );
    assert_eq!(claude["week_calls"], 3);

    // 80 % reached: a warning; the projection past 100 % waits for the cooldown.
    assert_eq!(l.alert_kinds(), ["THRESHOLD_WARNING"]);
    l.record(now - hours(1) + SignedDuration::from_mins(1), "1", "c");
    assert_eq!(
        l.alert_kinds(),
        ["THRESHOLD_WARNING"],
        "no alert twice, none within the cooldown"
    );
    // Used up: said at once, cooldown or not.
    l.record(now - SignedDuration::from_mins(30), "7", "d");
    assert_eq!(l.alert_kinds(), ["THRESHOLD_WARNING", "LIMIT_EXCEEDED"]);
    let alerts = l.json(&["alerts", "list", "--json"]);
    assert!(
        alerts["alerts"][0]["title"]
            .as_str()
            .unwrap()
            .contains("Claude Code"),
        "{alerts}"
    );

    // Watching nothing: no more plan alerts, and it says so.
    l.ok(&["plan", "alerts", "none"]);
    assert_eq!(l.ok(&["plan", "alerts"]).trim(), "none");
    let text = l.ok(&["plan", "status"]);
    assert!(text.contains("Claude Code · $35.00 per 5 hours"), "{text}");
    assert!(text.contains("estimated from the logs"), "{text}");
}

fn codex_file(dir: &Path, name: &str, seen: &str, five_hour: f64, weekly: f64, resets: i64) {
    let lines = [
        json!({"timestamp": seen, "type": "session_meta", "payload": {"id": name, "cwd": "/home/ada/api"}}),
        json!({"timestamp": seen, "type": "turn_context", "payload": {"model": "gpt-5-codex", "cwd": "/home/ada/api"}}),
        json!({"timestamp": seen, "type": "event_msg", "payload": {"type": "token_count", "info": null, "rate_limits": {
            "primary": {"used_percent": five_hour, "window_minutes": 300, "resets_at": resets},
            "secondary": {"used_percent": weekly, "window_minutes": 10080, "resets_at": resets + 86_400}}}}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let path = dir.join(format!("rollout-2026-12-01T10-00-00-{name}.jsonl"));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn codex_windows_show_the_newest_figures_its_logs_report() {
    let l = Ledger::new();
    let sessions = l.dir().join("codex/sessions/2026/12/01");
    let resets = Timestamp::now().as_second() + 3 * 3600;
    // The file read first holds the newer figures; the one read after it, older ones.
    codex_file(
        &sessions,
        "00000000-0000-0000-0000-00000000000a",
        "2026-12-01T10:30:00Z",
        42.0,
        9.0,
        resets,
    );
    codex_file(
        &sessions,
        "00000000-0000-0000-0000-00000000000b",
        "2026-12-01T09:00:00Z",
        12.0,
        5.0,
        resets,
    );
    l.ok(&[
        "import",
        "codex",
        l.dir().join("codex/sessions").to_str().unwrap(),
    ]);
    let status = l.json(&["plan", "status", "--json"]);
    let codex = &status[0];
    assert_eq!(codex["agent"], "codex");
    assert_eq!(
        codex["plan"],
        Value::Null,
        "shown as reported, plan or none"
    );
    let reported = codex["reported"].as_array().unwrap();
    assert_eq!(reported.len(), 2);
    assert_eq!(
        (
            reported[0]["window_minutes"].as_u64(),
            reported[0]["used_percent"].as_f64()
        ),
        (Some(300), Some(42.0))
    );
    assert_eq!(reported[0]["seen_at"], "2026-12-01T10:30:00Z");
    assert_eq!(
        reported[0]["resets_at"],
        Timestamp::from_second(resets).unwrap().to_string()
    );
    assert_eq!(
        (
            reported[1]["window_minutes"].as_u64(),
            reported[1]["used_percent"].as_f64()
        ),
        (Some(10080), Some(9.0))
    );
    // A later figure, in any file, replaces it.
    codex_file(
        &sessions,
        "00000000-0000-0000-0000-00000000000c",
        "2026-12-01T11:00:00Z",
        85.0,
        20.0,
        resets,
    );
    l.ok(&[
        "import",
        "codex",
        l.dir().join("codex/sessions").to_str().unwrap(),
    ]);
    l.ok(&["plan", "set", "codex", "chatgpt-pro"]);
    let text = l.ok(&["plan", "status"]);
    assert!(text.contains("Codex CLI · ChatGPT Pro"), "{text}");
    assert!(text.contains("5-hour window: 85 % used"), "{text}");
    assert!(text.contains("weekly window: 20 % used"), "{text}");
}

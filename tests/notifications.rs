//! Desktop notifications end to end: a real notification server (dunst) on the
//! private session bus that `make test` provides, with `dbus-monitor` recording
//! every Notify call, while `tally record` pushes a budget across its thresholds.

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/session.rs"]
mod session;

fn tally(db: &PathBuf, state: &PathBuf, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("LANGUAGE", "en")
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC")
        .env("XDG_STATE_HOME", state)
        .output()
        .expect("run tally");
    assert!(
        out.status.success(),
        "tally {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Notify calls in dbus-monitor's output: (summary, body, urgency byte).
fn notify_calls(log: &str) -> Vec<(String, String, Option<u8>)> {
    let mut calls = Vec::new();
    for call in log.split("method call").skip(1) {
        if !call.contains("member=Notify") {
            continue;
        }
        let strings: Vec<String> = call
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix("string \""))
            .map(|s| s.trim_end_matches('"').to_string())
            .collect();
        // app_name, app_icon, summary, body, then action and hint strings.
        let urgency = call
            .split("string \"urgency\"")
            .nth(1)
            .and_then(|rest| rest.split("variant").nth(1))
            .and_then(|v| v.trim().strip_prefix("byte "))
            .and_then(|b| b.split_whitespace().next())
            .and_then(|b| b.parse().ok());
        calls.push((strings[2].clone(), strings[3].clone(), urgency));
    }
    calls
}

#[test]
fn crossing_thresholds_sends_one_notification_each_with_the_figures() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && std::env::var_os("DISPLAY").is_some(),
        "run under tools/with-display.sh (make test): this test needs a private session bus and display"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let state = dir.path().join("state");
    let capture = dir.path().join("monitor.txt");

    let _server = session::notification_server(&capture);

    tally(
        &db,
        &state,
        &[
            "policy", "add", "team", "--limit", "1", "--period", "monthly",
        ],
    );
    for id in ["1", "2", "3", "4", "5"] {
        tally(&db, &state, &["rules", "rm", id]);
    }
    for (on, severity) in [("soft", "warning"), ("95", "critical"), ("100", "critical")] {
        tally(
            &db,
            &state,
            &[
                "rules",
                "add",
                "--on",
                on,
                "--severity",
                severity,
                "--channels",
                "desktop",
                "--cooldown",
                "0s",
            ],
        );
    }
    // gpt-4o input is $2.50 per million: 316,000 tokens = $0.79.
    for (id, input) in [
        ("a", "316000"),
        ("b", "4000"),
        ("c", "4000"),
        ("d", "60000"),
        ("e", "20000"),
        ("f", "20000"),
    ] {
        tally(
            &db,
            &state,
            &[
                "record",
                "--model",
                "gpt-4o",
                "--input",
                input,
                "--request-id",
                id,
            ],
        );
    }

    // dbus-monitor writes as calls pass; give it a moment to flush.
    let deadline = Instant::now() + Duration::from_secs(5);
    let calls = loop {
        let mut text = String::new();
        std::fs::File::open(&capture)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let calls = notify_calls(&text);
        if calls.len() >= 3 || Instant::now() > deadline {
            break calls;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let summaries: Vec<&str> = calls.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "Budget “team” at 80 %",
            "Budget “team” at 96 %",
            "Budget “team” exceeded"
        ]
    );
    assert!(
        calls[0]
            .1
            .starts_with("$0.80 of $1.00 used; $0.20 left until"),
        "{}",
        calls[0].1
    );
    assert_eq!(calls[2].1, "$1.01 of $1.00 used.");
    // Urgency follows severity: normal (1) for the warning, critical (2) after.
    assert_eq!(
        calls.iter().map(|c| c.2).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(2)]
    );
}

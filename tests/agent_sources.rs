//! `tally import gemini-cli | qwen-code | copilot | amp | opencode` on records
//! written here the way those agents write them (see `support/more_agents.rs`):
//! each corpus imports to its generator's ground truth, again adds nothing,
//! and what is added later comes in once.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

#[path = "support/agent_logs.rs"]
mod agent_logs;
#[path = "support/ground_truth.rs"]
mod ground_truth;

use agent_logs::Truth;
use agent_logs::more::{self, AgentConfig};
use ground_truth::{expected_groups, ledger_groups, skipped_as_map, truth_skipped};

struct Setup {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ledger.sqlite");
        Setup { dir, db }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tally"));
        c.arg("--db").arg(&self.db).args(args);
        c.env("LANGUAGE", "en")
            .env("TZ", "UTC")
            .env("HOME", self.path("home"));
        for v in more::AGENT_ENV {
            c.env_remove(v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    fn import(&self, agent: &str, dir: &Path) -> Value {
        let out = self.run(&["import", agent, dir.to_str().unwrap(), "--json"], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn config(seed: u64) -> AgentConfig {
    AgentConfig {
        seed,
        sessions: 12,
        calls: 15,
        noise: true,
        padding: 1000,
    }
}

/// Imports `dir` as `agent` and holds the report and the ledger to `truth`;
/// then imports again and finds nothing new.
fn imports_to_truth(s: &Setup, agent: &str, dir: &Path, truth: &Truth) -> Value {
    assert!(truth.calls.len() > 50, "a corpus worth the name");
    let r = s.import(agent, dir);
    assert_eq!(r["files"], truth.files, "{agent}: {r}");
    assert_eq!(r["lines"], truth.lines, "{agent}: {r}");
    assert_eq!(r["new"], truth.calls.len() as u64, "{agent}: {r}");
    assert_eq!(skipped_as_map(&r), truth_skipped(truth), "{agent}");
    assert_eq!(r["already_imported"], truth.already, "{agent}: {r}");
    let mut errors: Vec<&str> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    let mut places = truth.malformed.clone();
    errors.sort();
    places.sort();
    assert_eq!(errors.len(), places.len(), "{agent}: {r}");
    for (e, at) in errors.iter().zip(&places) {
        assert!(e.starts_with(&format!("{at}:")), "{agent}: {e} names {at}");
    }
    assert_eq!(
        ledger_groups(&s.db),
        expected_groups(&truth.calls),
        "{agent}"
    );
    let again = s.import(agent, dir);
    assert_eq!(again["new"], 0, "{agent}: {again}");
    assert_eq!(again["updated"], 0, "{agent}: {again}");
    r
}

fn requests(s: &Setup) -> u64 {
    let out = s.run(&["usage", "--json"], &[]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["total"]["requests"].as_u64().unwrap()
}

fn append(path: &Path, line: &Value) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(f, "{}", serde_json::to_string(line).unwrap()).unwrap();
}

/// The first file under `dir` (sorted) whose name ends with `suffix`.
fn first_file(dir: &Path, suffix: &str) -> PathBuf {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                found.push(p);
            }
        }
    }
    found.sort();
    found.into_iter().next().expect("a file")
}

#[test]
fn gemini_cli_sessions_import_to_their_ground_truth_and_an_appended_reply_comes_in_once() {
    let s = Setup::new();
    let tmp = s.path("home/.gemini/tmp");
    let truth = more::write_gemini(&tmp, &config(11));
    let r = imports_to_truth(&s, "gemini-cli", &tmp, &truth);
    assert!(r["skipped"]["copy"].as_u64().unwrap() > 20, "{r}");
    let before = requests(&s);
    let file = first_file(&tmp, ".jsonl");
    append(
        &file,
        &json!({"id": "late", "type": "gemini", "timestamp": "2026-02-02T10:00:00Z", "model": "gemini-2.5-pro",
        "tokens": {"input": 10, "output": 5, "cached": 0, "thoughts": 0, "tool": 0, "total": 15}}),
    );
    let r = s.import("gemini-cli", &tmp);
    assert_eq!(
        (r["new"].as_u64(), r["lines"].as_u64()),
        (Some(1), Some(1)),
        "only the new line is read: {r}"
    );
    assert_eq!(requests(&s), before + 1);
    // The usual place, found from HOME and from GEMINI_CLI_HOME.
    let out = s.run(&["import", "gemini-cli", "--json"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let elsewhere = s.path("elsewhere");
    let out = s.run(
        &["import", "gemini-cli"],
        &[("GEMINI_CLI_HOME", &elsewhere)],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && said.contains("No Gemini CLI records found in ~/.gemini/tmp (GEMINI_CLI_HOME)"),
        "{said}"
    );
}

#[test]
fn qwen_code_sessions_import_to_their_ground_truth_and_a_fork_counts_once() {
    let s = Setup::new();
    let projects = s.path("qwen/projects");
    let truth = more::write_qwen(&projects, &config(12));
    let r = imports_to_truth(&s, "qwen-code", &projects, &truth);
    assert!(
        r["skipped"]["copy"].as_u64().unwrap() >= 15,
        "forks were written: {r}"
    );
    assert!(
        r["unpriced"].as_u64().unwrap() > 0,
        "qwen3-coder-plus has no price: it stays unpriced, never $0"
    );
    let qwen = s.path("qwen").display().to_string();
    let out = s.run(
        &["import", "qwen-code", "--json"],
        &[("QWEN_HOME", Path::new(&qwen))],
    );
    assert!(
        out.status.success(),
        "QWEN_HOME is honoured: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn copilot_exports_import_to_their_ground_truth_counting_chat_spans_only() {
    let s = Setup::new();
    let otel = s.path("home/.copilot/otel");
    let truth = more::write_copilot(&otel, &config(13));
    let r = imports_to_truth(&s, "copilot", &otel, &truth);
    assert!(r["skipped"]["aggregate"].as_u64().unwrap() > 30, "{r}");
    assert_eq!(
        r["unpriced"], 0,
        "claude-sonnet-4.5 is Anthropic's claude-sonnet-4-5: {r}"
    );
    // Without the export, the message says how to switch it on.
    let out = s.run(&["import", "copilot"], &[("HOME", &s.path("nobody"))]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("COPILOT_OTEL_EXPORTER_TYPE=file"), "{said}");
}

#[test]
fn amp_threads_import_to_their_ground_truth_and_a_rewritten_thread_adds_only_its_new_reply() {
    let s = Setup::new();
    let threads = s.path("data/amp/threads");
    let truth = more::write_amp(&threads, &config(14));
    imports_to_truth(&s, "amp", &threads, &truth);
    // Amp rewrites the whole thread as it grows.
    let file = first_file(&threads, ".json");
    let mut thread: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    thread["messages"].as_array_mut().unwrap().push(json!({"role": "assistant", "messageId": 999,
        "usage": {"model": "claude-haiku-4-5", "timestamp": "2026-02-02T10:00:00Z", "inputTokens": 5, "outputTokens": 7, "cacheCreationInputTokens": 0, "cacheReadInputTokens": 100}}));
    std::fs::write(&file, serde_json::to_string(&thread).unwrap()).unwrap();
    let r = s.import("amp", &threads);
    assert_eq!(r["new"], 1, "{r}");
    assert_eq!(
        r["already_imported"], 15,
        "the thread's other replies are known: {r}"
    );
    let data = s.path("data");
    let out = s.run(&["import", "amp", "--json"], &[("XDG_DATA_HOME", &data)]);
    assert!(
        out.status.success(),
        "XDG_DATA_HOME is honoured: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn opencode_database_and_message_files_import_to_their_ground_truth() {
    let s = Setup::new();
    let data = s.path("home/.local/share/opencode");
    let truth = more::write_opencode(&data, &config(15));
    imports_to_truth(&s, "opencode", &data, &truth);
    // A reply that finishes: its row updated in place with its tokens.
    let db = rusqlite::Connection::open(data.join("opencode.db")).unwrap();
    // OpenCode stamps a row with the time it writes it.
    let now = jiff::Timestamp::now().as_second();
    more::opencode_session(&db, "ses_late", "/home/ada/late", now);
    let mut rng = agent_logs::Rng::new(1);
    let (msg, _) =
        more::opencode_message(&mut rng, "msg_late", "ses_late", now, "/home/ada/late", 0);
    db.execute(
        "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES ('msg_late', 'ses_late', ?1, ?1, ?2)",
        rusqlite::params![now * 1000, msg.to_string()],
    )
    .unwrap();
    let r = s.import("opencode", &data);
    assert_eq!(r["new"], 1, "{r}");
    let out = s.run(&["import", "opencode", "--json"], &[]);
    assert!(
        out.status.success(),
        "the usual place: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn opencode_writing_its_database_during_imports_loses_and_doubles_nothing() {
    let s = Setup::new();
    let data = s.path("opencode");
    let small = AgentConfig {
        seed: 3,
        sessions: 2,
        calls: 5,
        noise: false,
        padding: 100,
    };
    let truth = more::write_opencode(&data, &small);
    let path = data.join("opencode.db");
    // OpenCode itself: another connection inserting replies, and finishing
    // ones it started with no tokens, in transactions of its own.
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let db = rusqlite::Connection::open(&path).unwrap();
            db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
            let start = jiff::Timestamp::now().as_second();
            more::opencode_session(&db, "ses_live", "/home/ada/live", start);
            let mut rng = agent_logs::Rng::new(9);
            let (mut calls, mut input) = (0, 0);
            for i in 0..300 {
                let now = jiff::Timestamp::now().as_second();
                let id = format!("msg_live{i:04}");
                let (mut msg, call) = more::opencode_message(
                    &mut rng,
                    &id,
                    "ses_live",
                    now,
                    "/home/ada/live",
                    i as usize,
                );
                input += call.input;
                let finished = msg.clone();
                if i % 3 == 0 {
                    msg["tokens"] = json!({"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}});
                }
                db.execute(
                    "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?1, 'ses_live', ?2, ?2, ?3)",
                    rusqlite::params![id, jiff::Timestamp::now().as_millisecond(), msg.to_string()],
                )
                .unwrap();
                if i % 3 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    db.execute(
                        "UPDATE message SET data = ?2, time_updated = ?3 WHERE id = ?1",
                        rusqlite::params![
                            id,
                            finished.to_string(),
                            jiff::Timestamp::now().as_millisecond()
                        ],
                    )
                    .unwrap();
                }
                calls += 1;
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            (calls, input)
        })
    };
    let mut imports = 0;
    while !writer.is_finished() {
        s.import("opencode", &data);
        imports += 1;
    }
    let (written, input) = writer.join().unwrap();
    s.import("opencode", &data);
    assert!(imports >= 2, "imports ran while OpenCode wrote ({imports})");
    assert_eq!(requests(&s), truth.calls.len() as u64 + written);
    let out = s.run(&["usage", "--group-by", "project", "--json"], &[]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let live = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["project"] == "/home/ada/live")
        .unwrap();
    assert_eq!(live["records"], written, "each reply once");
    assert_eq!(live["input_tokens"], input, "with its final tokens");
}

//! `tally import claude-code` and `tally import codex` on real log files written
//! here the way the agents write them: content blocks, snapshots, replays, resumed
//! and archived copies, re-emitted counts and bad lines.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "support/agent_logs.rs"]
mod agent_logs;
#[path = "support/ground_truth.rs"]
mod ground_truth;
#[path = "support/session.rs"]
mod session;

use ground_truth::{expected_groups, skipped_as_map, truth_skipped};

fn ledger_groups(s: &Setup) -> ground_truth::Groups {
    ground_truth::ledger_groups(&s.db)
}

use agent_logs::{Call, ClaudeConfig, CodexConfig};

struct Line<'a> {
    msg: &'a str,
    req: &'a str,
    output: u64,
    project: &'a str,
    at: &'a str,
    extra: &'a str,
}

impl Line<'_> {
    fn text(&self) -> String {
        format!(
            r#"{{"parentUuid":null,"type":"assistant","timestamp":"{at}","sessionId":"s","version":"2.0.1","cwd":"{project}","requestId":"{req}","message":{{"id":"{msg}","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"hi"}}],"usage":{{"input_tokens":10,"output_tokens":{output},"cache_read_input_tokens":100,"cache_creation_input_tokens":30,"cache_creation":{{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20}},"service_tier":"standard"}}}}{extra}}}"#,
            at = self.at,
            project = self.project,
            req = self.req,
            msg = self.msg,
            output = self.output,
            extra = self.extra,
        )
    }
}

fn line<'a>(msg: &'a str, req: &'a str, output: u64) -> Line<'a> {
    Line {
        msg,
        req,
        output,
        project: "/home/ada/web",
        at: "2025-09-01T10:00:00.000Z",
        extra: "",
    }
}

fn append(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

struct Setup {
    _dir: tempfile::TempDir,
    db: PathBuf,
    logs: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ledger.sqlite");
        let logs = dir.path().join("projects");
        Setup {
            _dir: dir,
            db,
            logs,
        }
    }

    fn tally(&self, args: &[&str]) -> (Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env("LANGUAGE", "en")
            .env("LC_ALL", "C.UTF-8")
            .env("TZ", "UTC")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "tally {args:?}: {stderr}");
        (serde_json::from_slice(&out.stdout).expect("JSON"), stderr)
    }

    fn tally_fails(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_tally"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env("LANGUAGE", "en")
            .output()
            .unwrap();
        assert!(!out.status.success(), "tally {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    fn import(&self) -> Value {
        self.tally(&[
            "import",
            "claude-code",
            self.logs.to_str().unwrap(),
            "--json",
        ])
        .0
    }

    fn import_codex(&self, dirs: &[&Path]) -> Value {
        let mut args = vec!["import", "codex", "--json"];
        args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
        self.tally(&args).0
    }

    fn total(&self) -> Value {
        self.tally(&["usage", "--json"]).0["total"].clone()
    }

    /// `tally watch` on this ledger with `args`, run in `dir`; stopped
    /// however the test ends.
    fn watch(&self, dir: &Path, args: &[&str]) -> session::Killed {
        session::Killed(
            Command::new(env!("CARGO_BIN_EXE_tally"))
                .current_dir(dir)
                .arg("--db")
                .arg(&self.db)
                .arg("watch")
                .args(args)
                .env("LANGUAGE", "en")
                .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    /// Waits up to `limit` for the ledger to hold `requests` calls; how long
    /// that took, if it did.
    fn wait_for_requests(
        &self,
        requests: u64,
        limit: std::time::Duration,
    ) -> Option<std::time::Duration> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if self.total()["requests"] == requests {
                return Some(start.elapsed());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

#[test]
fn every_call_counts_once_and_every_skipped_line_is_explained() {
    let s = Setup::new();
    let session = s.logs.join("-home-ada-web/s1.jsonl");
    let mut text = String::new();
    for l in [
        line("msg_1", "req_1", 5),  // first content block
        line("msg_1", "req_1", 5),  // second block, same usage
        line("msg_1", "req_1", 50), // final snapshot
        line("msg_2", "req_2", 7),
    ] {
        text.push_str(&l.text());
        text.push('\n');
    }
    text.push_str(
        &Line {
            extra: r#","isApiErrorMessage":true"#,
            ..line("msg_e", "req_e", 1)
        }
        .text(),
    );
    text.push('\n');
    text.push_str(
        &line("msg_s", "req_s", 1)
            .text()
            .replace("claude-sonnet-4-5-20250929", "<synthetic>"),
    );
    text.push('\n');
    text.push_str("{\"type\":\"assistant\",\"timestamp\":\n"); // a crash mid-write
    text.push_str(r#"{"type":"user","message":{"role":"user","content":"hi"}}"#);
    text.push('\n');
    append(&session, &text);
    // A subagent replays msg_2 under another request id; a resumed session copies msg_1.
    let replay = Line {
        extra: r#","isSidechain":true"#,
        ..line("msg_2", "req_9", 7)
    };
    append(
        &s.logs.join("-home-ada-web/s1/subagents/agent-1.jsonl"),
        &format!("{}\n", replay.text()),
    );
    append(
        &s.logs.join("-home-ada-web/s2.jsonl"),
        &format!("{}\n", line("msg_1", "req_1", 50).text()),
    );

    let r = s.import();
    assert_eq!(r["files"], 3);
    assert_eq!(r["new"], 2, "{r}");
    let skipped = &r["skipped"];
    assert_eq!(skipped["duplicate_block"], 1);
    assert_eq!(skipped["streaming_snapshot"], 1);
    assert_eq!(skipped["resumed_copy"], 1);
    assert_eq!(skipped["sidechain_replay"], 1);
    assert_eq!(skipped["api_error"], 1);
    assert_eq!(skipped["synthetic"], 1);
    assert_eq!(skipped["malformed"], 1);
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    let error = errors[0].as_str().unwrap();
    assert!(
        error.starts_with(&format!("{}:7: not JSON", session.display())),
        "{error}"
    );

    let total = s.total();
    assert_eq!(total["requests"], 2);
    assert_eq!(
        total["output_tokens"], 57,
        "the largest snapshot of msg_1 (50) and msg_2 (7)"
    );
    // Per call: 10×$3 + out×$15 + 100×$0.30 + 10×$3.75 (5m) + 20×$6 (1h), per million.
    // msg_1: 30 + 750 + 30 + 37.5 + 120 = 967.5 µ$; msg_2: 30 + 105 + 30 + 37.5 + 120 = 322.5 µ$.
    assert_eq!(total["cost_usd"], "0.001290000");
    let by_project = s
        .tally(&[
            "usage",
            "--group-by",
            "project",
            "--group-by",
            "agent",
            "--json",
        ])
        .0;
    assert_eq!(by_project["rows"][0]["project"], "/home/ada/web");
    assert_eq!(by_project["rows"][0]["agent"], "claude-code");

    // Again: nothing new is read at all (each file's offset is kept), nothing
    // counted twice.
    let again = s.import();
    assert_eq!(
        (
            again["new"].as_u64(),
            again["already_imported"].as_u64(),
            again["lines"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(s.total()["requests"], 2);
}

#[test]
fn a_log_that_grows_is_followed_without_under_or_double_counting() {
    let s = Setup::new();
    let file = s.logs.join("-home-ada-api/s.jsonl");
    let project = "/home/ada/api";
    append(
        &file,
        &format!(
            "{}\n",
            Line {
                project,
                ..line("msg_1", "req_1", 10)
            }
            .text()
        ),
    );
    // The last line is still being written.
    let half = Line {
        project,
        ..line("msg_2", "req_2", 5)
    }
    .text();
    append(&file, &half[..40]);
    let first = s.import();
    assert_eq!(first["new"], 1);
    assert_eq!(first["skipped"]["incomplete_line"], 1);

    // Claude Code finishes the line, and writes a bigger snapshot of msg_1.
    append(&file, &format!("{}\n", &half[40..]));
    append(
        &file,
        &format!(
            "{}\n",
            Line {
                project,
                ..line("msg_1", "req_1", 80)
            }
            .text()
        ),
    );
    let second = s.import();
    assert_eq!(
        (second["new"].as_u64(), second["updated"].as_u64()),
        (Some(1), Some(1)),
        "{second}"
    );
    let total = s.total();
    assert_eq!(total["requests"], 2);
    assert_eq!(total["output_tokens"], 85);
    let by_day = s.tally(&["usage", "--group-by", "day", "--json"]).0;
    assert_eq!(
        by_day["rows"][0]["output_tokens"], 85,
        "the daily rollup follows the update"
    );
}

#[test]
fn a_replay_imported_in_another_run_than_its_parent_counts_once() {
    for parent_first in [true, false] {
        let s = Setup::new();
        let parent = s.logs.join("-home-ada-web/s1.jsonl");
        let subagent = s.logs.join("-home-ada-web/s1/subagents/agent-1.jsonl");
        let parent_line = format!("{}\n", line("msg_2", "req_2", 7).text());
        let replay = Line {
            extra: r#","isSidechain":true"#,
            ..line("msg_2", "req_replayed", 7)
        };
        let replay_line = format!("{}\n", replay.text());
        let (first, second) = if parent_first {
            ((&parent, &parent_line), (&subagent, &replay_line))
        } else {
            ((&subagent, &replay_line), (&parent, &parent_line))
        };
        append(first.0, first.1);
        assert_eq!(s.import()["new"], 1);
        append(second.0, second.1);
        let r = s.import();
        assert_eq!(
            (r["new"].as_u64(), r["already_imported"].as_u64()),
            (Some(0), Some(1)),
            "{r}"
        );
        assert_eq!(
            s.total()["output_tokens"],
            7,
            "parent first: {parent_first}"
        );
    }
}

#[test]
fn dry_run_writes_nothing_and_bad_folders_are_named() {
    let s = Setup::new();
    append(
        &s.logs.join("p/s.jsonl"),
        &format!("{}\n", line("msg_1", "req_1", 10).text()),
    );
    let r = s
        .tally(&[
            "import",
            "claude-code",
            s.logs.to_str().unwrap(),
            "--dry-run",
            "--json",
        ])
        .0;
    assert_eq!(r["new"], 1);
    assert_eq!(s.total()["requests"], 0);
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(&s.db)
        .args(["import", "claude-code", "/no/such/folder"])
        .env("LANGUAGE", "en")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/folder"));
}

fn token_count(at: &str, input: u64, cached: u64, output: u64, reasoning: u64) -> String {
    format!(
        r#"{{"timestamp":"{at}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{input},"cached_input_tokens":{cached},"output_tokens":{output},"reasoning_output_tokens":{reasoning},"total_tokens":{}}},"last_token_usage":{{"input_tokens":0}}}},"rate_limits":null}}}}"#,
        input + output
    ) + "\n"
}

#[test]
fn codex_sessions_count_each_call_once_across_archived_copies() {
    let s = Setup::new();
    let home = s.logs.join("codex");
    let name = "rollout-2025-09-01T10-00-00-5f2b1c3d-1111-2222-3333-444455556666.jsonl";
    let live = home.join("sessions/2025/09/01").join(name);
    let mut text = String::new();
    text.push_str(r#"{"timestamp":"2025-09-01T10:00:00Z","type":"session_meta","payload":{"id":"5f2b1c3d-1111-2222-3333-444455556666","cwd":"/home/ada/api"}}"#);
    text.push('\n');
    text.push_str(r#"{"timestamp":"2025-09-01T10:00:01Z","type":"turn_context","payload":{"model":"gpt-5-codex","cwd":"/home/ada/api"}}"#);
    text.push('\n');
    text.push_str(&token_count("2025-09-01T10:00:02Z", 1_000, 200, 100, 40));
    text.push_str(&token_count("2025-09-01T10:00:03Z", 1_000, 200, 100, 40)); // re-emitted
    text.push_str(&token_count("2025-09-01T10:00:04Z", 3_000, 1_200, 150, 40));
    append(&live, &text);
    append(&home.join("archived_sessions").join(name), &text);

    let sessions = home.join("sessions");
    let archived = home.join("archived_sessions");
    let r = s.import_codex(&[&sessions, &archived]);
    assert_eq!(r["new"], 2, "{r}");
    assert_eq!(r["skipped"]["re_emitted"], 2, "once in each copy");
    assert_eq!(r["skipped"]["archived_copy"], 2);
    let total = s.total();
    // gpt-5-codex, $1.25 in / $0.125 cached / $10 out per million:
    // call 1: 800×1.25 + 200×0.125 + 100×10 = 2,025 µ$; call 2: 1,000×1.25 + 1,000×0.125 + 50×10 = 1,875 µ$.
    assert_eq!(total["cost_usd"], "0.003900000");
    assert_eq!(total["input_tokens"], 1_800);
    assert_eq!(total["cache_read_tokens"], 1_200);
    assert_eq!(total["reasoning_tokens"], 40);

    assert_eq!(
        s.import_codex(&[&sessions, &archived])["new"],
        0,
        "nothing new"
    );
    append(
        &live,
        &token_count("2025-09-01T10:05:00Z", 4_000, 1_200, 200, 40),
    );
    let third = s.import_codex(&[&sessions, &archived]);
    assert_eq!(third["new"], 1, "only the new call");
    assert_eq!(third["lines"], 1, "only the appended line is read");
    // The running total was kept with the file's offset: the new call is the
    // difference from the last count, not the whole session again.
    let total = s.total();
    assert_eq!(total["requests"], 3);
    assert_eq!(total["input_tokens"], 2_800);
    assert_eq!(total["output_tokens"], 200);
}

#[test]
fn reimport_reads_only_what_was_appended_and_notices_a_rewritten_file() {
    let s = Setup::new();
    let file = s.logs.join("-home-ada-web/s.jsonl");
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&line(&format!("msg_{i}"), &format!("req_{i}"), 10).text());
        text.push('\n');
    }
    append(&file, &text);
    let first = s.import();
    assert_eq!(
        (first["new"].as_u64(), first["lines"].as_u64()),
        (Some(50), Some(50))
    );

    append(
        &file,
        &format!("{}\n{{broken\n", line("msg_50", "req_50", 10).text()),
    );
    let second = s.import();
    assert_eq!(
        (second["new"].as_u64(), second["lines"].as_u64()),
        (Some(1), Some(2)),
        "{second}"
    );
    // Line numbers go on from where the last import stopped.
    let error = second["errors"][0].as_str().unwrap();
    assert!(
        error.ends_with(":52: not JSON") || error.contains(":52: not JSON"),
        "{error}"
    );

    // The file is replaced by another (a rotation): read from the start, and
    // the calls already in the ledger are not counted again.
    std::fs::remove_file(&file).unwrap();
    let mut rotated = String::new();
    for i in 40..55 {
        rotated.push_str(&line(&format!("msg_{i}"), &format!("req_{i}"), 10).text());
        rotated.push('\n');
    }
    append(&file, &rotated);
    let third = s.import();
    assert_eq!(third["rewritten"], 1, "{third}");
    assert_eq!(
        (third["new"].as_u64(), third["already_imported"].as_u64()),
        (Some(4), Some(11))
    );
    assert_eq!(s.total()["requests"], 55);
}

#[test]
fn csv_and_jsonl_in_tallys_format_keep_good_rows_and_name_bad_ones() {
    let s = Setup::new();
    let csv = s.logs.join("gateway.csv");
    append(
        &csv,
        "model,project,time,input,cache_read,output,request_id,team\n\
         gpt-4o,\"web, new\",2025-09-01T10:00:00Z,10000,4000,1000,r1,blue\n\
         gpt-4o,web,2025-09-01T11:00:00Z,-5,0,1,r2,blue\n\
         claude-sonnet-4-5,api,2025-09-01T12:00:00Z,1000,0,100,r3,\n",
    );
    let (r, stderr) = s.tally(&["import", "csv", csv.to_str().unwrap(), "--json"]);
    assert_eq!(
        (r["new"].as_u64(), r["skipped"]["malformed"].as_u64()),
        (Some(2), Some(1)),
        "{r}"
    );
    let error = r["errors"][0].as_str().unwrap();
    assert!(
        error.starts_with(&format!("{}:3: input:", csv.display())),
        "{error}"
    );
    assert!(
        stderr.is_empty(),
        "JSON mode reports errors in the JSON: {stderr}"
    );
    // gpt-4o 6,000×$2.50 + 4,000×$1.25 + 1,000×$10 = $0.03; Sonnet 1,000×$3 + 100×$15 = $0.0045.
    assert_eq!(s.total()["cost_usd"], "0.034500000");
    let by_project = s.tally(&["usage", "--group-by", "project", "--json"]).0;
    assert_eq!(by_project["rows"][1]["project"], "web, new");

    let jsonl = s.logs.join("gateway.jsonl");
    append(
        &jsonl,
        "{\"time\":\"2025-09-02T10:00:00Z\",\"model\":\"gpt-4o-mini\",\"input\":1000000,\"output\":0,\"request_id\":\"j1\"}\n\
         [1, 2]\n\
         {\"time\":\"2025-09-02T11:00:00Z\",\"model\":\"mystery\",\"input\":5,\"cost_usd\":\"0.25\",\"request_id\":\"j2\"}",
    );
    let r = s
        .tally(&["import", "jsonl", jsonl.to_str().unwrap(), "--json"])
        .0;
    assert_eq!(r["new"], 2, "{r}");
    assert!(
        r["errors"][0]
            .as_str()
            .unwrap()
            .contains("gateway.jsonl:2: not a JSON object")
    );
    // $0.15 for a million gpt-4o-mini input tokens, and the gateway's own $0.25.
    assert_eq!(s.total()["cost_usd"], "0.434500000");
    let again = s
        .tally(&["import", "jsonl", jsonl.to_str().unwrap(), "--json"])
        .0;
    assert_eq!(
        (again["new"].as_u64(), again["already_imported"].as_u64()),
        (Some(0), Some(2))
    );

    let headless = s.logs.join("bad.csv");
    append(&headless, "a,b\n1,2\n");
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(&s.db)
        .args(["import", "csv", headless.to_str().unwrap()])
        .env("LANGUAGE", "en")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("time and model"));
}

#[test]
fn watch_imports_appended_lines_and_leaves_the_ledger_alone_on_unchanged_logs() {
    let s = Setup::new();
    let file = s.logs.join("-home-ada-web/live.jsonl");
    append(&file, &format!("{}\n", line("msg_1", "req_1", 10).text()));
    let logs = s.logs.to_str().unwrap();
    let child = s.watch(Path::new("."), &["--poll", "5", "--claude-code", logs]);
    let wait_for = |requests| s.wait_for_requests(requests, std::time::Duration::from_secs(10));
    let initial = wait_for(1);
    // An agent writes a new line (in two pieces, as streams do), and a new file.
    let next = line("msg_2", "req_2", 20).text();
    append(&file, &next[..50]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    append(&file, &format!("{}\n", &next[50..]));
    let appended = wait_for(2);
    append(
        &s.logs.join("-home-ada-api/new-session.jsonl"),
        &format!("{}\n", line("msg_3", "req_3", 30).text()),
    );
    let new_file = wait_for(3);
    // Then nothing is written for longer than the watcher's 5-second poll: it
    // must neither commit nor checkpoint (other connections would see the
    // ledger change).
    let other = rusqlite::Connection::open(&s.db).unwrap();
    let version = || -> i64 {
        other
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap()
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = version();
    std::thread::sleep(std::time::Duration::from_secs(6));
    let after = version();
    drop(child);
    eprintln!("initial {initial:?}, appended {appended:?}, new file {new_file:?}");
    assert!(initial.is_some(), "the existing log is imported at start");
    assert!(appended.is_some(), "an appended line is imported");
    assert!(new_file.is_some(), "a new log file is imported");
    assert_eq!(s.total()["output_tokens"], 60);
    assert_eq!(before, after, "idle, the watcher changed the ledger");
}

#[test]
fn watch_hears_an_append_without_waiting_for_its_poll_whatever_the_folder_is_called() {
    let s = Setup::new();
    let file = s.logs.join("-home-ada-web/live.jsonl");
    append(&file, &format!("{}\n", line("msg_1", "req_1", 10).text()));
    // A folder named relative to where tally runs, and a poll that never
    // comes: only the change notification can bring the new line in.
    let child = s.watch(
        s.logs.parent().unwrap(),
        &["--poll", "3600", "--claude-code", "projects"],
    );
    let wait_for = |requests| {
        s.wait_for_requests(requests, std::time::Duration::from_secs(20))
            .is_some()
    };
    assert!(wait_for(1), "the log is imported at start");
    append(&file, &format!("{}\n", line("msg_2", "req_2", 20).text()));
    assert!(
        wait_for(2),
        "the appended line is imported on its notification"
    );
    drop(child);
}

/// Counts the follower's imports.
struct Imports(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl tally::ingest::watch::Observer for Imports {
    fn imported(&mut self, _: tally::ingest::Agent, _: &tally::ingest::ImportReport) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn the_follower_imports_only_on_its_poll_while_logs_are_unchanged() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let s = Setup::new();
    for (i, project) in ["-home-ada-web", "-home-ada-api"].iter().enumerate() {
        let (msg, req) = (format!("msg_{i}"), format!("req_{i}"));
        append(
            &s.logs.join(project).join("session.jsonl"),
            &format!("{}\n", line(&msg, &req, 10).text()),
        );
    }
    let imports = Arc::new(AtomicU64::new(0));
    let (stopper, wakes) = tally::ingest::watch::wakes();
    let sources = tally::ingest::watch::Sources(
        [(tally::ingest::Agent::ClaudeCode, vec![s.logs.clone()])].into(),
    );
    let (db, count) = (s.db.clone(), imports.clone());
    let follower = std::thread::spawn(move || {
        let mut store = tally::store::Store::open(&db).unwrap();
        tally::ingest::watch::follow(
            &mut store,
            &sources,
            Some(tally::ingest::watch::POLL),
            wakes,
            &mut Imports(count),
        )
        .unwrap();
    });
    // The first import, then six seconds in which nothing is written: one
    // 5-second poll, not imports set off by the last one's reading the logs.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let first = imports.load(Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_secs(6));
    let idle = imports.load(Ordering::SeqCst) - first;
    stopper.stop();
    follower.join().unwrap();
    assert_eq!(first, 1, "the logs are imported once at the start");
    assert!(idle <= 2, "{idle} imports in 6 s of unchanged logs");
    assert_eq!(s.total()["requests"], 2);
}

#[test]
fn provider_exports_count_each_bucket_once_and_keep_billed_beside_estimates() {
    let s = Setup::new();
    let dir = s.logs.parent().unwrap().to_path_buf();
    let usage_nov1 = "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,service_tier,input_tokens,output_tokens,input_cached_tokens,input_audio_tokens\n\
        1761955200,1762041600,2025-11-01T00:00:00+00:00,2025-11-02T00:00:00+00:00,proj_a,12,,key_1,gpt-4o-2024-08-06,false,default,120000,8000,40000,0\n";
    std::fs::write(dir.join("u1.csv"), usage_nov1).unwrap();
    let first = s
        .tally(&[
            "import",
            "openai-usage",
            dir.join("u1.csv").to_str().unwrap(),
            "--json",
        ])
        .0;
    assert_eq!(first["new"], 1, "{first}");
    // gpt-4o: 80,000 uncached × $2.50 + 40,000 cached × $1.25 + 8,000 out × $10 = $0.33
    let total = s.total();
    assert_eq!(
        (total["requests"].as_u64(), total["records"].as_u64()),
        (Some(12), Some(1))
    );
    assert_eq!(total["cost_usd"], "0.330000000");

    // A later export overlapping Nov 1 (now complete) and adding Nov 2, with a bad row.
    let usage_both = format!(
        "{}1762041600,1762128000,,,proj_a,5,,key_1,gpt-4o-mini,false,default,10000,1000,0,0\n1762041600,1762128000,,,proj_a,x,,key_1,gpt-4o,false,default,1,1,0,0\n",
        usage_nov1.replace("120000,8000,40000", "160000,9000,40000")
    );
    std::fs::write(dir.join("u2.csv"), usage_both).unwrap();
    let second = s
        .tally(&[
            "import",
            "openai-usage",
            dir.join("u2.csv").to_str().unwrap(),
            "--json",
        ])
        .0;
    assert_eq!(
        (second["new"].as_u64(), second["updated"].as_u64()),
        (Some(1), Some(1)),
        "{second}"
    );
    let error = second["errors"][0].as_str().unwrap();
    assert!(
        error.ends_with("u2.csv:4: num_model_requests: “x” is not a whole number"),
        "{error}"
    );
    let total = s.total();
    assert_eq!(total["requests"], 17);
    assert_eq!(total["records"], 2);

    // The billed side: kept apart from the estimate.
    let costs = "start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,line_item,project_id,organization_id,organization_name\n\
        1761955200,1762041600,,,0.31,usd,\"gpt-4o-2024-08-06, input\",proj_a,org,Org\n\
        1761955200,1762041600,,,0.09,usd,\"gpt-4o-2024-08-06, output\",proj_a,org,Org\n";
    std::fs::write(dir.join("c.csv"), costs).unwrap();
    s.tally(&[
        "import",
        "openai-costs",
        dir.join("c.csv").to_str().unwrap(),
        "--json",
    ]);
    let again = s
        .tally(&[
            "import",
            "openai-costs",
            dir.join("c.csv").to_str().unwrap(),
            "--json",
        ])
        .0;
    assert_eq!(again["new"], 0, "the same export again adds nothing");
    let total = s.total();
    assert_eq!(total["billed_usd"], "0.400000000");
    assert_eq!(total["requests"], 17, "billed lines are no calls");

    // Anthropic: a row billed at long-context rates says so in context_window.
    let anthropic = "usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,usage_output_tokens,web_search_count,inference_geo,speed\n\
        2025-11-01,claude-sonnet-4-5-20250929,key,Default,standard,0-200k,100000,0,0,0,1000,0,,\n\
        2025-11-01,claude-sonnet-4-5-20250929,key,Default,standard,200k-1M,100000,0,0,0,1000,0,,\n";
    std::fs::write(dir.join("a.csv"), anthropic).unwrap();
    s.tally(&[
        "import",
        "anthropic-usage",
        dir.join("a.csv").to_str().unwrap(),
        "--json",
    ]);
    let by_source = s.tally(&["usage", "--group-by", "source", "--json"]).0;
    let row = by_source["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "anthropic-usage")
        .unwrap()
        .clone();
    // Base: 100,000 × $3 + 1,000 × $15 = $0.315; long: 100,000 × $6 + 1,000 × $22.50 = $0.6225.
    assert_eq!(row["cost_usd"], "0.937500000");
    let wrong = s.tally_fails(&[
        "import",
        "anthropic-usage",
        dir.join("c.csv").to_str().unwrap(),
    ]);
    assert!(
        wrong.contains("not an anthropic-usage export: no column usage_date_utc"),
        "{wrong}"
    );
}

/// Writes `files` sessions across `projects` folders, `calls` calls each, every
/// call on two lines (two content blocks).
fn many_calls(logs: &Path, projects: usize, files: usize, calls: usize) {
    for f in 0..files {
        let mut text = String::with_capacity(calls * 2 * 700);
        for c in 0..calls {
            let (msg, req) = (format!("m{f}_{c}"), format!("r{f}_{c}"));
            let l = line(&msg, &req, 5).text();
            text.push_str(&l);
            text.push('\n');
            text.push_str(&l);
            text.push('\n');
        }
        append(
            &logs.join(format!("-home-ada-p{}/s{f}.jsonl", f % projects)),
            &text,
        );
    }
}

#[test]
fn a_large_import_is_stored_in_chunks_and_survives_being_killed() {
    let s = Setup::new();
    // 24,000 calls in three project folders: more than one chunk of 20,000.
    many_calls(&s.logs, 3, 12, 2_000);
    let r = s.import();
    assert_eq!(r["new"], 24_000, "{}", r["skipped"]);
    assert_eq!(r["skipped"]["duplicate_block"], 24_000);
    assert_eq!(s.total()["requests"], 24_000);

    assert_eq!(s.total()["output_tokens"], 24_000 * 5);
}

#[test]
fn an_import_killed_at_20_random_moments_and_run_again_counts_every_call_once() {
    // Generated logs with every kind of noise, more calls than one chunk, so a
    // kill can land before, between and after the chunks are stored.
    let logs = tempfile::tempdir().unwrap();
    let cfg = ClaudeConfig {
        seed: 99,
        projects: 6,
        sessions: 8,
        calls: 520,
        noise: true,
        padding: 100,
    };
    let truth = agent_logs::write_claude_logs(logs.path(), &cfg);
    assert!(truth.calls.len() > 20_000, "{}", truth.calls.len());
    let expected = expected_groups(&truth.calls);
    // How long an import takes here, so the kills spread over all of it.
    let whole = Setup::new();
    let started = std::time::Instant::now();
    whole.tally(&[
        "import",
        "claude-code",
        logs.path().to_str().unwrap(),
        "--json",
    ]);
    let took = started.elapsed();
    assert_eq!(ledger_groups(&whole), expected);
    let mut rng = agent_logs::Rng::new(7);
    let (mut kills, mut partial) = (0, 0);
    while kills < 20 {
        // Kill one ledger's imports until one gets to the end, then run it again.
        let s = Setup::new();
        while kills < 20 {
            let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
                .arg("--db")
                .arg(&s.db)
                .args(["import", "claude-code", "--json"])
                .arg(logs.path())
                .env("TZ", "UTC")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            if kills % 2 == 0 {
                std::thread::sleep(took.mul_f64(rng.below(1_000) as f64 / 1_000.0));
            } else {
                // Right after a chunk lands, when the next is being read.
                let before = stored_records(&s.db);
                while stored_records(&s.db) == before && child.try_wait().unwrap().is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                std::thread::sleep(std::time::Duration::from_millis(rng.below(200)));
            }
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            kills += 1;
            let stored = s.total()["records"].as_u64().unwrap_or(0);
            if stored == truth.calls.len() as u64 {
                break;
            }
            partial += u64::from(stored > 0);
        }
        s.tally(&[
            "import",
            "claude-code",
            logs.path().to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(ledger_groups(&s), expected, "after {kills} kills");
    }
    assert!(partial >= 1, "no kill landed between chunks");
}

/// Records in a ledger, read without the CLI (fast enough to poll).
fn stored_records(db: &Path) -> i64 {
    let Ok(c) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    c.query_row("SELECT COUNT(*) FROM usage", [], |r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn generated_claude_code_logs_import_to_the_generators_ground_truth() {
    let s = Setup::new();
    let cfg = ClaudeConfig {
        seed: 20_260_131,
        projects: 4,
        sessions: 6,
        calls: 40,
        noise: true,
        padding: 300,
    };
    let truth = agent_logs::write_claude_logs(&s.logs, &cfg);
    let crossing: std::collections::BTreeSet<String> = truth.calls.iter().map(Call::day).collect();
    assert!(
        crossing.len() >= 3,
        "calls span days and a month end: {crossing:?}"
    );
    assert!(crossing.contains("2026-01-31") && crossing.contains("2026-02-01"));
    assert!(truth.calls.iter().any(|c| c.input + c.cache_read > 200_000));

    let r = s.import();
    assert_eq!(r["files"], truth.files, "{r}");
    assert_eq!(r["lines"], truth.lines, "{r}");
    assert_eq!(r["new"], truth.calls.len() as u64, "{r}");
    assert_eq!(skipped_as_map(&r), truth_skipped(&truth));
    let mut errors: Vec<&str> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    errors.sort();
    let mut malformed = truth.malformed.clone();
    malformed.sort();
    assert_eq!(errors.len(), malformed.len(), "{errors:#?}");
    for (error, at) in errors.iter().zip(&malformed) {
        assert!(error.starts_with(&format!("{at}: ")), "{error} names {at}");
    }
    let expected = expected_groups(&truth.calls);
    assert!(
        expected.values().any(|g| g[7] > 0),
        "some calls are unpriced"
    );
    assert_eq!(ledger_groups(&s), expected);

    // The agent finishes the line it was writing: that call, and nothing else, comes in.
    let (path, rest, call) = truth.unfinished.clone().unwrap();
    append(&path, &rest);
    let r = s.import();
    assert_eq!(
        (r["new"].as_u64(), r["lines"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let mut calls = truth.calls.clone();
    calls.push(call);
    assert_eq!(ledger_groups(&s), expected_groups(&calls));

    let r = s.import();
    assert_eq!(
        (r["new"].as_u64(), r["lines"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
}

#[test]
fn generated_codex_sessions_import_to_the_generators_ground_truth() {
    let s = Setup::new();
    let home = s.logs.join("codex");
    let cfg = CodexConfig {
        seed: 5,
        sessions: 12,
        calls: 30,
        noise: true,
        padding: 300,
    };
    let truth = agent_logs::write_codex_logs(&home, &cfg);
    let (sessions, archived) = (home.join("sessions"), home.join("archived_sessions"));
    let r = s.import_codex(&[&sessions, &archived]);
    assert_eq!(r["files"], truth.files, "{r}");
    assert_eq!(r["lines"], truth.lines, "{r}");
    assert_eq!(r["new"], truth.calls.len() as u64, "{r}");
    assert_eq!(skipped_as_map(&r), truth_skipped(&truth));
    assert_eq!(
        r["errors"].as_array().unwrap().len(),
        truth.malformed.len(),
        "{r}"
    );
    assert_eq!(ledger_groups(&s), expected_groups(&truth.calls));
    assert_eq!(s.import_codex(&[&sessions, &archived])["new"], 0);
}

/// Runs `tally` and waits for it to end by itself; a run that does not end
/// within a minute is a hang, and fails the test.
fn ends(s: &Setup, args: &[&str]) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(&s.db)
        .args(args)
        .env("LANGUAGE", "en")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("tally {args:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "tally {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn a_fifo_and_a_folder_link_loop_among_the_logs_neither_hang_nor_count_twice() {
    let s = Setup::new();
    let project = s.logs.join("p");
    append(
        &project.join("s.jsonl"),
        &format!("{}\n", line("msg_1", "req_1", 10).text()),
    );
    let fifo = project.join("x.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    // A link back to the folder it is in, and one to its parent: loops.
    std::os::unix::fs::symlink("../p", project.join("self")).unwrap();
    std::os::unix::fs::symlink("..", project.join("up")).unwrap();

    let r = ends(
        &s,
        &["import", "claude-code", s.logs.to_str().unwrap(), "--json"],
    );
    assert_eq!(r["new"], 1, "the one real call, once: {r}");
    let errors = r["errors"].to_string();
    assert!(
        errors.contains("x.jsonl") && errors.contains("not a regular file"),
        "the FIFO is named: {errors}"
    );
    assert_eq!(s.total()["requests"], 1);
}

#[test]
fn a_header_that_names_a_column_twice_is_refused_and_nothing_is_stored() {
    let s = Setup::new();
    let csv = s.logs.join("twice.csv");
    append(
        &csv,
        "time,model,input,output,Input\n2025-09-01T10:00:00Z,gpt-4o,10,1,99999\n",
    );
    let error = s.tally_fails(&["import", "csv", csv.to_str().unwrap()]);
    assert!(
        error.contains("“input” twice (columns 3 and 5)") && error.contains("twice.csv"),
        "{error}"
    );
    assert_eq!(s.total()["requests"], 0);

    let export = s.logs.join("openai.csv");
    append(
        &export,
        "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,input_tokens,output_tokens,input_cached_tokens,model,model,batch\n",
    );
    let error = s.tally_fails(&["import", "openai-usage", export.to_str().unwrap()]);
    assert!(
        error.contains("“model” twice (columns 10 and 11)"),
        "{error}"
    );
}

#[test]
fn usage_files_are_read_within_bounds_and_a_stream_is_refused() {
    let s = Setup::new();
    let error = s.tally_fails(&["import", "csv", "/dev/zero"]);
    assert!(error.contains("/dev/zero: not a regular file"), "{error}");

    std::fs::create_dir_all(&s.logs).unwrap();
    let sparse = s.logs.join("sparse.csv");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let error = s.tally_fails(&["import", "csv", sparse.to_str().unwrap()]);
    assert!(error.contains("more than the 256 MB"), "{error}");

    let long = s.logs.join("long.jsonl");
    let good = r#"{"time":"2025-09-01T10:00:00Z","model":"gpt-4o","input":10}"#;
    let text = format!("{good}\n{}\n", "x".repeat(17 << 20));
    std::fs::write(&long, text).unwrap();
    let error = s.tally_fails(&["import", "jsonl", long.to_str().unwrap()]);
    assert!(
        error.contains("long.jsonl:2: a line longer than 16 MB"),
        "{error}"
    );
    assert_eq!(s.total()["requests"], 0, "nothing was stored");
}

/// `tally import` with a file-size limit standing in for a full disk: writes
/// past `limit` bytes fail as they would with no space left.
fn import_on_a_full_disk(s: &Setup, logs: &Path, limit: u64) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(env!("CARGO_BIN_EXE_tally"));
    c.arg("--db")
        .arg(&s.db)
        .args(["import", "claude-code", logs.to_str().unwrap()])
        .env("LANGUAGE", "en")
        .env("TZ", "UTC");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            // Past the limit a write fails (EFBIG) instead of killing the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.output().unwrap()
}

#[test]
fn an_import_that_runs_out_of_disk_says_what_it_stored_and_the_next_one_finishes() {
    let logs = tempfile::tempdir().unwrap();
    let cfg = ClaudeConfig {
        seed: 5,
        projects: 12,
        sessions: 8,
        calls: 520,
        noise: false,
        padding: 100,
    };
    let truth = agent_logs::write_claude_logs(logs.path(), &cfg);
    let expected = expected_groups(&truth.calls);
    let whole = Setup::new();
    whole.tally(&[
        "import",
        "claude-code",
        logs.path().to_str().unwrap(),
        "--json",
    ]);
    let size = std::fs::metadata(&whole.db).unwrap().len();
    // Room for the first chunk's WAL, not for all of them.
    let s = Setup::new();
    let out = import_on_a_full_disk(&s, logs.path(), size * 6 / 10);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{said}{err}");
    let stored: i64 = rusqlite::Connection::open(&s.db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM usage", [], |r| r.get(0))
        .unwrap();
    assert!(
        stored > 0 && (stored as usize) < truth.calls.len(),
        "{stored}"
    );
    assert!(
        said.contains(&format!("{} new records", thousands(stored as u64))),
        "the summary counts what was stored ({stored}): {said}"
    );
    assert!(err.contains("stopped"), "and says why it stopped: {err}");
    // With room again, the next import stores the rest, each call once.
    s.tally(&[
        "import",
        "claude-code",
        logs.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(ledger_groups(&s), expected);
}

fn thousands(n: u64) -> String {
    tally::core::money::group_thousands(n)
}

#[test]
fn a_log_line_too_long_to_hold_is_skipped_by_name_and_the_rest_imported() {
    let s = Setup::new();
    let file = s.logs.join("-home-ada-web/s.jsonl");
    let long = format!(
        "{{\"type\":\"user\",\"text\":\"{}\"}}",
        "x".repeat(17 << 20)
    );
    append(
        &file,
        &format!(
            "{}\n{long}\n{}\n",
            line("msg_1", "req_1", 10).text(),
            line("msg_2", "req_2", 20).text()
        ),
    );
    let (report, _) = s.tally(&["import", "claude-code", s.logs.to_str().unwrap(), "--json"]);
    assert_eq!(report["new"], 2, "{report}");
    let errors = report["errors"].to_string();
    assert!(
        errors.contains("s.jsonl:2: a line longer than 16 MB"),
        "{errors}"
    );
}

#[test]
fn a_sparse_log_of_more_than_a_read_is_taken_a_part_at_a_time_in_bounded_memory() {
    let s = Setup::new();
    let file = s.logs.join("-home-ada-web/s.jsonl");
    append(
        &file,
        &format!(
            "{}\n{}\n",
            line("msg_1", "req_1", 10).text(),
            line("msg_2", "req_2", 20).text()
        ),
    );
    // 1.25 GiB of nothing after them (a hole, no disk used): more than one
    // read, and a "line" with no end.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(5 << 28)
        .unwrap();
    let import = || {
        s.tally(&["import", "claude-code", s.logs.to_str().unwrap(), "--json"])
            .0
    };
    let first = import();
    assert_eq!(first["new"], 2, "{first}");
    assert!(
        first["errors"]
            .to_string()
            .contains("the rest at the next import"),
        "{first}"
    );
    let second = import();
    assert_eq!(second["new"], 0, "{second}");
    assert!(
        second["errors"]
            .to_string()
            .contains("s.jsonl:3: a line longer than"),
        "{second}"
    );
    // Lines written after it are read as ever.
    append(&file, &format!("\n{}\n", line("msg_3", "req_3", 30).text()));
    let third = import();
    assert_eq!(third["new"], 1, "{third}");
    assert_eq!(s.total()["output_tokens"], 60);
}

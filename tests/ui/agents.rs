//! Every coding agent on one computer: the Sources view finds all seven, the
//! dashboard shows Claude's window at 85 % of its plan and Codex's own
//! windows, and the next call raises the plan's alert through a real
//! notification server.

use super::agent_logs::more::{self, AgentConfig};
use super::session;
use super::support::*;
use tally::core::Money;
use tally::core::plan::Plan;
use tally::ingest::Agent;

fn small(seed: u64) -> AgentConfig {
    AgentConfig {
        seed,
        sessions: 3,
        calls: 4,
        noise: true,
        padding: 100,
    }
}

/// A Claude Code line at `at`, with `tokens` of input.
fn claude_at(msg: &str, at: jiff::Timestamp, tokens: u64) -> String {
    claude_line(msg, &format!("req_{msg}"))
        .replace(
            "2025-11-13T10:00:00.000Z",
            &at.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
        )
        .replace(
            r#""input_tokens":10,"#,
            &format!(r#""input_tokens":{tokens},"#),
        )
}

/// Every agent's records in `home`, imported into `db`, and a Claude plan
/// whose window in force is at 85 %.
pub fn seven_agents(home: &Path, db: &Path) {
    let share = home.join(".local/share");
    more::write_gemini(&home.join(".gemini/tmp"), &small(1));
    more::write_qwen(&home.join(".qwen/projects"), &small(2));
    more::write_copilot(&home.join(".copilot/otel"), &small(3));
    more::write_amp(&share.join("amp/threads"), &small(4));
    more::write_opencode(&share.join("opencode"), &small(5));
    let now = jiff::Timestamp::now();
    let resets = now.as_second() + 2 * 3600;
    let codex = home.join(".codex/sessions/2026/12/01");
    std::fs::create_dir_all(&codex).expect("codex folder");
    let stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string();
    std::fs::write(
        codex.join("rollout-2026-12-01T08-00-00-00000000-0000-0000-0000-000000000001.jsonl"),
        format!(
            "{}\n{}\n{}\n",
            serde_json::json!({"timestamp": stamp, "type": "session_meta", "payload": {"id": "s1", "cwd": "/home/ada/api"}}),
            serde_json::json!({"timestamp": stamp, "type": "turn_context", "payload": {"model": "gpt-5-codex", "cwd": "/home/ada/api"}}),
            serde_json::json!({"timestamp": stamp, "type": "event_msg", "payload": {"type": "token_count",
                "info": {"total_token_usage": {"input_tokens": 5000, "cached_input_tokens": 1000, "output_tokens": 300, "reasoning_output_tokens": 100, "total_tokens": 5300}},
                "rate_limits": {"primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": resets},
                                "secondary": {"used_percent": 12.0, "window_minutes": 10080, "resets_at": resets + 86_400 * 3}}}}),
        ),
    )
    .expect("codex log");
    let log = home.join(".claude/projects/-home-ada-web/session.jsonl");
    std::fs::create_dir_all(log.parent().expect("folder")).expect("claude folder");
    let hour = jiff::SignedDuration::from_hours(1);
    std::fs::write(
        &log,
        claude_at("msg_a", now - hour, 20_000) + &claude_at("msg_b", now - hour / 2, 20_000),
    )
    .expect("claude log");
    for agent in Agent::ALL {
        assert!(
            tally(db, &["import", agent.source()]),
            "import {}",
            agent.source()
        );
    }
    let mut store = Store::open(db).expect("ledger");
    let uses = store
        .plan_uses("claude-code", now - hour * 24, now)
        .expect("uses");
    let window = tally::core::plan::windows(&uses);
    let cost = window.last().expect("a window").cost_nanos;
    let limit = Money::from_nanos(cost * 100 / 85);
    tally::settings::plan(Agent::ClaudeCode)
        .set(
            &mut store,
            Some(&Plan::Custom {
                window_limit: limit,
            }),
        )
        .expect("plan");
}

pub async fn all_agents_and_their_plan_windows(check: &Check) {
    let capture = tempfile::NamedTempFile::new().expect("capture file");
    let _server = session::notification_server(capture.path());
    check.show("sources");
    for agent in Agent::ALL {
        let row = check.widget(&format!("source-{}", agent.source()));
        let found = wait_for(Duration::from_secs(10), || {
            row.downcast_ref::<adw::ExpanderRow>().is_some_and(|r| {
                r.subtitle().contains(" record") && !r.subtitle().contains("· 0 records")
            })
        })
        .await;
        check.expect(
            found.is_some(),
            &format!("the Sources view found {}'s records", agent.name()),
        );
    }
    pause(300).await;
    screenshot("sources-seven-agents").await;

    check.show("dashboard");
    let bar = |name: &str| {
        find(&check.window, name)
            .and_then(|r| find_where(&r, &|w| w.is::<gtk::ProgressBar>()))
            .and_then(|b| b.downcast::<gtk::ProgressBar>().ok())
    };
    let shown = wait_for(Duration::from_secs(10), || {
        bar("plan-claude-code").is_some()
    })
    .await;
    check.expect(shown.is_some(), "the dashboard shows Claude's plan window");
    if let Some(b) = bar("plan-claude-code") {
        check.expect(
            (b.fraction() - 0.85).abs() < 0.01,
            &format!("at 85 % of its plan ({:.3})", b.fraction()),
        );
    }
    check.expect(
        bar("plan-codex-300").is_some_and(|b| (b.fraction() - 0.42).abs() < 0.001),
        "and Codex's 5-hour window as Codex reported it",
    );
    check.expect(bar("plan-codex-10080").is_some(), "and its weekly window");
    pause(300).await;
    screenshot("dashboard-plan-windows").await;

    // The next call (a small one) is read by the follower; the window, past
    // 80 % of the plan, raises its alert on the desktop.
    let log = PathBuf::from(std::env::var("HOME").expect("home"))
        .join(".claude/projects/-home-ada-web/session.jsonl");
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(claude_at("msg_c", jiff::Timestamp::now(), 1).as_bytes()))
        .expect("append");
    let notified = wait_for(Duration::from_secs(15), || {
        std::fs::read_to_string(capture.path())
            .is_ok_and(|t| t.contains("Claude Code") && t.contains("5-hour window"))
    })
    .await;
    check.expect(
        notified.is_some(),
        &format!("the plan window's alert reaches the notification server ({notified:?})"),
    );
}

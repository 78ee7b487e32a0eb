//! A Claude Code and Codex user's home, imported and followed.

use super::agent_logs;
use super::support::*;

/// A Claude Code and Codex user's home, as the generator writes it (noise and
/// all), imported with `tally import` before the app first opens, as a new
/// user does; and a larger corpus beside it (`big`) for another process to
/// import while the window is open.
pub fn a_real_users_home(home: &Path, db: &Path, big: &Path) {
    agents_logs_imported(home, db);
    let large = agent_logs::ClaudeConfig {
        seed: 8,
        projects: 8,
        sessions: 10,
        calls: 250,
        noise: true,
        padding: 400,
    };
    agent_logs::write_claude_logs(big, &large);
}

/// Claude Code and Codex logs written into `home` and imported into `db`
/// as a new user does.
pub fn agents_logs_imported(home: &Path, db: &Path) {
    agent_logs::imported_home(home, db, 7);
}

pub async fn a_real_home_idles_and_never_blocks(check: &Check, db: &Path) {
    // The imported calls are months old: the dashboard says the range is
    // empty and when the last call was, not the first-run page.
    let quiet = wait_for(Duration::from_secs(10), || {
        check.dashboard_page() == "content" && check.widget("dashboard-quiet").is_visible()
    })
    .await;
    check.expect(
        quiet.is_some(),
        &format!(
            "an old-only ledger shows “nothing in this range” ({}: {:?})",
            check.dashboard_page(),
            check.label("dashboard-quiet")
        ),
    );
    check.expect(
        check
            .label("dashboard-quiet")
            .contains("The last call was on"),
        "and says when the last call was",
    );
    screenshot("real-home-dashboard").await;

    idles(check, db).await;
    let other = rusqlite::Connection::open(db).expect("ledger");

    // Another process imports a large corpus while the history is shown,
    // scrolled down a little (a row GTK tracks, which a change in place would
    // make it look for among every new row): the window goes on drawing.
    check.show("history");
    let shown = wait_for(Duration::from_secs(10), || check.rows() > 0).await;
    check.expect(shown.is_some(), "the history lists the imported calls");
    let before = check.rows();
    if let Some(scroller) = check
        .widget("history-list")
        .parent()
        .and_then(|p| p.downcast::<gtk::ScrolledWindow>().ok())
    {
        let adj = scroller.vadjustment();
        adj.set_value(adj.upper() / 2.0);
    }
    pause(500).await;
    let beat = Heartbeat::start();
    let import = std::cell::RefCell::new(
        Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["import", "claude-code", "--db"])
            .arg(db)
            .arg(db.parent().expect("folder").join("big"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("run tally import"),
    );
    let finished = wait_for(Duration::from_secs(120), || {
        import.borrow_mut().try_wait().ok().flatten().is_some()
    })
    .await;
    let stored: u32 = other
        .query_row("SELECT COUNT(*) FROM usage", [], |r| r.get(0))
        .unwrap_or(0);
    let listed = wait_for(Duration::from_secs(10), || check.rows() == stored).await;
    let longest = beat.stop();
    check.expect(finished.is_some(), "the other import finished");
    check.expect(
        longest < Duration::from_millis(250),
        &format!("the main loop never stalled during the import (longest gap {longest:?})"),
    );
    check.expect(
        listed.is_some() && stored > before,
        &format!(
            "the history lists every call ({before} → {} of {stored})",
            check.rows()
        ),
    );
    screenshot("real-home-history").await;

    // A budget switched on in the window crosses its limit, and its alert
    // goes to a webhook that hangs: the window goes on drawing.
    let (url, came) = slow_webhook(Duration::from_secs(10));
    let added = tally(
        db,
        &["policy", "add", "Tiny", "--limit", "0.01", "--disabled"],
    );
    check.expect(added, "a switched-off budget");
    let recorded = tally(db, &["record", "--model", "gpt-4o", "--input", "100000"]);
    check.expect(recorded, "a call this month, over that budget");
    let rule = tally(
        db,
        &[
            "rules",
            "add",
            "--on",
            "100",
            "--channels",
            "webhook",
            "--policy",
            "Tiny",
        ],
    );
    check.expect(rule, "a rule that sends the budget's alerts to the webhook");
    {
        let mut store = Store::open(db).expect("ledger");
        store
            .set_setting("webhook_url", Some(&url))
            .expect("setting");
    }
    check.show("policies");
    let row = wait_for(Duration::from_secs(10), || {
        find(&check.window, "policy-row-Tiny").is_some()
    })
    .await;
    check.expect(row.is_some(), "the budget is listed");
    let beat = Heartbeat::start();
    if let Some(row) = find(&check.window, "policy-row-Tiny") {
        let id: i64 = other
            .query_row("SELECT id FROM policies WHERE name = 'Tiny'", [], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        let _ = WidgetExt::activate_action(&row, "policies.toggle", Some(&id.to_variant()));
    }
    let delivered = wait_for(Duration::from_secs(10), || {
        came.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    let badge = check.widget("alerts-badge");
    let shown = wait_for(Duration::from_secs(10), || badge.is_visible()).await;
    pause(6000).await;
    let longest = beat.stop();
    check.expect(delivered.is_some(), "the alert went to the webhook");
    check.expect(shown.is_some(), "the alert is shown in the window");
    check.expect(
        longest < Duration::from_millis(250),
        &format!("the main loop never stalled while the webhook hung (longest gap {longest:?})"),
    );
}

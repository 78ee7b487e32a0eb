//! The agents' logs: the first-run offer, following them, and watching
//! with the window closed.

use super::session;
use super::support::*;

/// An empty ledger and Claude Code logs: the app offers to import them; saying
/// yes imports them, and a line the agent appends shows up by itself.
pub async fn first_run_imports_and_follows(check: &Check) {
    let offered = wait_for(Duration::from_secs(10), || {
        toplevel("sources-first-run").is_some()
    })
    .await;
    check.expect(
        offered.is_some(),
        "an empty ledger with logs found offers to import them",
    );
    pause(300).await;
    screenshot("sources-first-run").await;
    let Some(dialog) =
        toplevel("sources-first-run").and_then(|w| w.downcast::<adw::MessageDialog>().ok())
    else {
        return;
    };
    check.expect(click_import(&dialog), "the offer has an Import button");
    // The history follows the ledger while shown (a hidden view refreshes
    // when it is shown): look there, as a person would.
    check.show("history");
    let imported = wait_for(Duration::from_secs(10), || check.rows() == 1).await;
    check.expect(
        imported.is_some(),
        &format!("the log is imported (rows: {})", check.rows()),
    );
    let log = std::path::PathBuf::from(std::env::var("HOME").expect("home"))
        .join(".claude/projects/-home-ada-web/session.jsonl");
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(claude_line("msg_2", "req_2").as_bytes()))
        .expect("append");
    let followed = wait_for(Duration::from_secs(10), || check.rows() == 2).await;
    check.expect(
        followed.is_some(),
        &format!("a line appended to the log appears by itself ({followed:?})"),
    );
    let window = check
        .window
        .clone()
        .downcast::<gtk::Window>()
        .expect("window");
    window.activate_action("win.view-sources", None).ok();
    let source = check.widget("source-claude-code");
    if let Some(row) = source.downcast_ref::<adw::ExpanderRow>() {
        row.set_expanded(true);
    }
    let said = wait_for(Duration::from_secs(10), || {
        source
            .downcast_ref::<adw::ExpanderRow>()
            .is_some_and(|r| r.subtitle().contains("2 records"))
    })
    .await;
    check.expect(said.is_some(), "the Sources view counts the records");
    pause(500).await;
    screenshot("sources").await;
}

/// With "Run in Background" on, closing the window hides it: the app goes on
/// following the logs, and a budget crossed by what it imports raises a desktop
/// notification (to a real notification server on the private bus). Opening
/// Tally again shows the window.
pub async fn watches_with_the_window_closed(check: &Check, db: &Path) {
    let capture = tempfile::NamedTempFile::new().expect("capture file");
    let _server = session::notification_server(capture.path());
    let Some(dialog) = wait_for(Duration::from_secs(10), || {
        toplevel("sources-first-run").is_some()
    })
    .await
    .and_then(|_| toplevel("sources-first-run"))
    .and_then(|w| w.downcast::<adw::MessageDialog>().ok()) else {
        check.expect(false, "the first-run offer appears");
        return;
    };
    click_import(&dialog);
    check.show("history");
    let imported = wait_for(Duration::from_secs(10), || check.rows() == 1).await;
    check.expect(imported.is_some(), "the log is imported");
    // A budget today's next call will cross (each costs about $0.00047), and
    // the preference on.
    check.expect(
        tally(
            db,
            &[
                "policy", "add", "Tiny", "--limit", "0.0003", "--period", "daily",
            ],
        ),
        "a budget is added",
    );
    Store::open(db)
        .expect("ledger")
        .set_setting("run_in_background", Some("on"))
        .expect("setting");
    let window = check
        .window
        .clone()
        .downcast::<gtk::Window>()
        .expect("window");
    window.close();
    pause(500).await;
    check.expect(!window.is_visible(), "closing hides the window");
    check.expect(window.application().is_some(), "and the app keeps running");
    let log = PathBuf::from(std::env::var("HOME").expect("home"))
        .join(".claude/projects/-home-ada-web/session.jsonl");
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| {
            let now = jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%S.000Z")
                .to_string();
            f.write_all(
                claude_line("msg_2", "req_2")
                    .replace("2025-11-13T10:00:00.000Z", &now)
                    .as_bytes(),
            )
        })
        .expect("append");
    let notified = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(capture.path()).is_ok_and(|t| t.contains("Tiny"))
    })
    .await;
    check.expect(
        notified.is_some(),
        &format!("the hidden app imports the new line and notifies ({notified:?})"),
    );
    if let Some(app) = window.application() {
        app.activate();
    }
    pause(300).await;
    check.expect(window.is_visible(), "opening Tally again shows the window");
}

//! Budgets made, edited and crossed in the window, and their alerts.

use super::support::*;

/// Creates a policy through the editor's widgets (after a bad limit is refused),
/// sees it listed with its bar, and sees the alert it raises in the Alerts view.
pub async fn policies_and_alerts(check: &Check, db: &Path) {
    let window = check
        .window
        .clone()
        .downcast::<gtk::Window>()
        .expect("window");
    check.expect(
        window.activate_action("win.view-policies", None).is_ok(),
        "Ctrl+2's action shows the policies",
    );
    pause(300).await;
    let policies = check.widget("policies-view");
    let empty_shown = find(&policies, "policies-empty").is_some_and(|w| w.is_mapped());
    check.expect(empty_shown, "with no policies, the view explains them");
    screenshot("policies-empty").await;

    check
        .widget("policies-add")
        .downcast::<gtk::Button>()
        .expect("button")
        .emit_clicked();
    let opened = wait_for(Duration::from_secs(10), || {
        toplevel("policy-editor").is_some()
    })
    .await;
    check.expect(opened.is_some(), "Add Policy opens the editor");
    let Some(editor) = toplevel("policy-editor") else {
        return;
    };
    let ed: gtk::Widget = editor.clone().upcast();
    let error = find(&ed, "policy-error")
        .and_then(|w| w.downcast::<gtk::Label>().ok())
        .expect("error label");
    let save = find(&ed, "policy-save")
        .and_then(|w| w.downcast::<gtk::Button>().ok())
        .expect("save button");
    check.expect(!save.is_sensitive(), "an empty form cannot be saved");
    let zone = find(&ed, "policy-zone")
        .and_then(|w| w.downcast::<adw::EntryRow>().ok())
        .map(|e| e.text().to_string());
    check.expect(
        zone.as_deref() == Some("America/New_York"),
        &format!("a new policy starts in the preferred zone ({zone:?})"),
    );
    set_text(&ed, "policy-name", "Team budget");
    set_text(&ed, "policy-limit", "two dollars");
    pause(100).await;
    check.expect(
        error.is_visible() && error.text().contains("is not a limit"),
        &format!("a bad limit is explained inline ({:?})", error.text()),
    );
    check.expect(!save.is_sensitive(), "and cannot be saved");
    pause(300).await;
    screenshot("policy-editor-error").await;
    set_text(&ed, "policy-limit", "2");
    pause(100).await;
    check.expect(!error.is_visible(), "a good limit clears the message");
    check.expect(save.is_sensitive(), "and can be saved");
    save.emit_clicked();
    let listed = wait_for(Duration::from_secs(10), || {
        find(&policies, "policy-row-Team budget").is_some()
    })
    .await;
    check.expect(listed.is_some(), "the new policy is listed");
    check.expect(toplevel("policy-editor").is_none(), "the editor closed");
    let row = find(&policies, "policy-row-Team budget");
    let bar = row
        .as_ref()
        .and_then(|r| find_where(r, &|w| w.is::<gtk::ProgressBar>()))
        .and_then(|w| w.downcast::<gtk::ProgressBar>().ok());
    check.expect(
        bar.as_ref()
            .is_some_and(|b| (b.fraction() - 0.75).abs() < 1e-9),
        &format!(
            "its bar shows $1.50 of $2 ({:?})",
            bar.as_ref().map(|b| b.fraction())
        ),
    );
    check.expect(
        bar.as_ref().is_some_and(|b| b.has_css_class("state-ok")),
        "under the soft limit the bar is in the normal colour",
    );
    // Let the empty page's crossfade finish.
    pause(800).await;
    screenshot("policies").await;

    // Saving evaluated the budget: 75 % is under the 80 % soft limit, so no
    // alert yet. Spend $0.20 more from "another process" and one arrives.
    let badge = check.widget("alerts-badge");
    check.expect(!badge.is_visible(), "no open alerts yet");
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(db)
        .args(["record", "--model", "gpt-4o", "--input", "80000"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .expect("tally record");
    check.expect(out.status.success(), "tally record from another process");
    let arrived = wait_for(Duration::from_secs(10), || badge.is_visible()).await;
    check.expect(arrived.is_some(), "the alert shows up in the window");
    let warned = wait_for(Duration::from_secs(10), || {
        find(&policies, "policy-row-Team budget")
            .and_then(|r| find_where(&r, &|w| w.is::<gtk::ProgressBar>()))
            .is_some_and(|b| b.has_css_class("state-warning"))
    })
    .await;
    check.expect(
        warned.is_some(),
        "past the soft limit the bar turns to the warning colour",
    );
    window.activate_action("win.view-alerts", None).ok();
    pause(300).await;
    let alerts = check.widget("alerts-view");
    let row = find_where(&alerts, &|w| w.widget_name().starts_with("alert-row-"));
    check.expect(row.is_some(), "the Alerts view lists it");
    let title = row
        .as_ref()
        .and_then(|r| {
            r.downcast_ref::<adw::ActionRow>()
                .map(|a| a.title().to_string())
        })
        .unwrap_or_default();
    check.expect(
        title.contains("Team budget"),
        &format!("with the policy's name ({title})"),
    );
    screenshot("alerts").await;
    // Acknowledge each open alert (the soft limit, and perhaps the forecast).
    while let Some(ack) = find(&alerts, "alert-ack") {
        ack.downcast::<gtk::Button>()
            .expect("button")
            .emit_clicked();
        pause(100).await;
    }
    let acked = wait_for(Duration::from_secs(10), || !badge.is_visible()).await;
    check.expect(acked.is_some(), "acknowledging clears the open count");
}

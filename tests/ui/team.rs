//! A ledger in a team whose server is down: the window works as ever (the
//! follower's failed syncs stay off the main loop), the Usage history offers
//! the team's machines as a filter, and Preferences → Team says the last
//! sync failed and why.

use super::support::*;

/// A server address nothing listens on (the discard port on loopback).
pub const DOWN: &str = "postgres://tally@127.0.0.1:9/team?sslmode=disable";

/// Calls of this machine ("laptop") and of another ("desktop"), and the
/// settings of a joined team.
pub fn a_team_ledger_whose_server_is_down(db: &Path) {
    let mut store = Store::open(db).expect("ledger");
    store
        .set_setting("team.server", Some(DOWN))
        .expect("setting");
    store.take_machine_name("laptop").expect("machine name");
    let desktop: Vec<UsageRecord> = (5000..5040)
        .map(|i| {
            let mut r = record(i, "gpt-4o", "openai", "desktop-project");
            r.machine = "desktop".into();
            r
        })
        .collect();
    store
        .insert_batch(&desktop)
        .expect("the other machine's calls");
}

pub async fn works_while_the_server_is_down(check: &Check, db: &Path) {
    // The history's first show stalls GTK 4.8 on its own (issue 12): the
    // heartbeats below watch the team's work, with the history up.
    check.show("history");
    let menu = wait_for(Duration::from_secs(10), || {
        check
            .widget("history-machine")
            .parent()
            .is_some_and(|slot| slot.is_visible())
    })
    .await;
    check.expect(
        menu.is_some(),
        "the history offers the machines as a filter when the ledger holds two",
    );
    // 1 is "desktop" (the menu lists them by name after "All machines").
    select(check, "history-machine", 1);
    let filtered = wait_for(Duration::from_secs(10), || {
        check.count_label().starts_with("40 ")
    })
    .await;
    check.expect(
        filtered.is_some(),
        &format!(
            "the machine filter lists the desktop's 40 calls: “{}”",
            check.count_label()
        ),
    );
    pause(300).await;
    screenshot("history-team-machine").await;
    select(check, "history-machine", 0);

    // The follower has tried the server by now and noted why it failed.
    let noted = wait_for(Duration::from_secs(20), || {
        Store::open_to_read(db)
            .ok()
            .and_then(|s| s.setting("team.last_sync").ok().flatten())
            .is_some_and(|t| t.contains("\"ok\":false"))
    })
    .await;
    check.expect(noted.is_some(), "the failed sync is noted");
    let window = check
        .window
        .clone()
        .downcast::<gtk::Window>()
        .expect("window");
    let _ = WidgetExt::activate_action(&window, "win.preferences", None);
    pause(800).await;
    // The preferences look at the sync's progress while open.
    let beat = Heartbeat::start();
    let prefs = gtk::Window::list_toplevels()
        .into_iter()
        .filter_map(|w| w.downcast::<gtk::Window>().ok())
        .find(|w| w.type_().is_a(adw::PreferencesWindow::static_type()) && w.is_visible());
    let row = |name: &str| {
        prefs
            .as_ref()
            .and_then(|p| find(p.upcast_ref(), name))
            .and_then(|w| w.downcast::<adw::ActionRow>().ok())
    };
    let server = row("team-server");
    check.expect(
        server
            .as_ref()
            .and_then(|r| r.subtitle())
            .is_some_and(|s| s.contains("127.0.0.1:9")),
        "Preferences → Team names the server",
    );
    let last = row("team-last-sync")
        .and_then(|r| r.subtitle())
        .map(|s| s.to_string())
        .unwrap_or_default();
    check.expect(
        last.contains("failed") && last.contains("127.0.0.1"),
        &format!("Preferences → Team says the last sync failed and why: “{last}”"),
    );
    // Sync Now against the server that is down: tried off the main loop.
    let sync = prefs
        .as_ref()
        .and_then(|p| find(p.upcast_ref(), "team-sync-now"))
        .and_then(|w| w.downcast::<gtk::Button>().ok());
    check.expect(sync.is_some(), "Preferences → Team offers Sync Now");
    if let Some(b) = &sync {
        b.emit_clicked();
    }
    pause(3000).await;
    // Scrolled down to the Team group, as a person would.
    if let Some(scroller) = server
        .as_ref()
        .and_then(|r| r.ancestor(gtk::ScrolledWindow::static_type()))
        .and_then(|w| w.downcast::<gtk::ScrolledWindow>().ok())
    {
        let adj = scroller.vadjustment();
        adj.set_value(adj.upper() - adj.page_size() - 200.0);
    }
    pause(600).await;
    screenshot("preferences-team").await;
    let longest = beat.stop();
    check.expect(
        longest < Duration::from_millis(250),
        &format!(
            "the main loop never stalled while a sync failed against the server that is down (longest gap {longest:?})"
        ),
    );
    if let Some(p) = prefs {
        p.close();
    }
}

//! The window as it opens: empty, a ledger it cannot read, narrow and dark,
//! in German; its windows from the menu.

use super::support::*;

/// A ledger written by a newer Tally is not touched; the app says so in a window,
/// since from the desktop menu there is no terminal to read.
pub async fn newer_ledger_is_explained(failures: &Rc<Cell<u32>>) {
    let dialog = gtk::Window::list_toplevels()
        .into_iter()
        .filter_map(|w| w.downcast::<adw::MessageDialog>().ok())
        .find(|w| w.is_visible());
    let body = dialog
        .as_ref()
        .map(|d| d.body().to_string())
        .unwrap_or_default();
    let ok = body.contains("newer Tally") && body.contains("99");
    eprintln!(
        "  {}: the app explains it cannot open a newer ledger ({body:?})",
        if ok { "ok" } else { "FAILED" }
    );
    if !ok {
        failures.set(failures.get() + 1);
    }
    screenshot("newer-ledger").await;
}

/// The about window and the shortcuts window open from their actions, and the
/// search shortcut's action puts the focus in the search field.
pub async fn windows_open_from_the_menu(window: &gtk::Window, check: &Check) {
    // Dialogs are toplevels of their own, not necessarily the application's windows.
    let toplevels = || {
        gtk::Window::list_toplevels()
            .into_iter()
            .filter_map(|w| w.downcast::<gtk::Window>().ok())
    };
    let has = |t: glib::Type| toplevels().any(|w| w.type_().is_a(t) && w.is_visible());
    let _ = WidgetExt::activate_action(window, "win.about", None);
    pause(300).await;
    check.expect(
        has(adw::AboutWindow::static_type()),
        "“About Tally” opens the about window",
    );
    screenshot("about").await;
    for w in toplevels() {
        if w.type_().is_a(adw::AboutWindow::static_type()) {
            w.close();
        }
    }
    let _ = WidgetExt::activate_action(window, "win.show-help-overlay", None);
    pause(300).await;
    check.expect(
        has(gtk::ShortcutsWindow::static_type()),
        "the shortcuts window opens",
    );
    screenshot("shortcuts").await;
    for w in toplevels() {
        if w.type_().is_a(gtk::ShortcutsWindow::static_type()) {
            w.close();
        }
    }
    // Preferences → Prices says when the price book was last checked.
    let _ = WidgetExt::activate_action(window, "win.preferences", None);
    pause(300).await;
    let prefs = toplevels()
        .find(|w| w.type_().is_a(adw::PreferencesWindow::static_type()) && w.is_visible());
    let book = prefs
        .as_ref()
        .and_then(|p| find(p.upcast_ref(), "price-book"))
        .and_then(|w| w.downcast::<adw::ActionRow>().ok());
    let subtitle = book
        .and_then(|r| r.subtitle())
        .map(|s| s.to_string())
        .unwrap_or_default();
    check.expect(
        subtitle.starts_with("Checked on 20"),
        &format!("the preferences say when prices were checked: “{subtitle}”"),
    );
    if let Some(p) = prefs {
        p.close();
    }
    pause(100).await;
    let _ = WidgetExt::activate_action(window, "win.search", None);
    pause(200).await;
    let search = check.widget("history-search");
    let focused =
        GtkWindowExt::focus(window).is_some_and(|f| f == search || f.is_ancestor(&search));
    check.expect(focused, "Ctrl+F puts the focus in the search field");
}

/// A damaged ledger is found so by the page check that runs once the
/// window is up, and turns read-only: a bar above the view says so and
/// leads to the restore, and nothing is written to it.
pub async fn damaged_is_shown_read_only(check: &Check) {
    let bar = check
        .widget("read-only-bar")
        .downcast::<gtk::InfoBar>()
        .expect("an info bar");
    // The page check runs once the window is up.
    wait_for(Duration::from_secs(20), || bar.is_revealed()).await;
    check.expect(bar.is_revealed(), "the read-only bar is shown");
    let text = labels(bar.upcast_ref()).join(" ");
    check.expect(
        text.contains("damaged") && text.contains("backup"),
        &format!("it says the ledger is damaged and how to heal it ({text})"),
    );
    pause(300).await;
    screenshot("damaged").await;
    let restore = find_where(bar.upcast_ref(), &|w| {
        w.downcast_ref::<gtk::Button>()
            .is_some_and(|b| b.label().is_some_and(|l| l.starts_with("Restore")))
    });
    check.expect(restore.is_some(), "with a Restore… button");
    if let Some(button) = restore.and_downcast::<gtk::Button>() {
        button.emit_clicked();
    }
    let shown = wait_for(Duration::from_secs(5), || {
        gtk::Window::list_toplevels()
            .into_iter()
            .any(|w| w.is::<adw::PreferencesWindow>() && w.is_visible())
    })
    .await;
    check.expect(
        shown.is_some(),
        "Restore… opens the preferences, where the restore is",
    );
}

/// A ledger from the Tally before the narrow ledger, rewritten before the
/// window opened: its calls are all there, in this version's format.
pub async fn old_format_is_rewritten(check: &Check, db: &std::path::Path, calls: u64) {
    let version: i64 = rusqlite::Connection::open(db)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .unwrap_or(0);
    check.expect(
        version == tally::store::schema::VERSION,
        &format!("the ledger is in this version's format (schema {version})"),
    );
    check.show("history");
    let want = format!("{} records", tally::core::money::group_thousands(calls));
    wait_for(Duration::from_secs(20), || check.count_label() == want).await;
    check.expect(
        check.count_label() == want,
        &format!(
            "the history counts every call ({}, want {want})",
            check.count_label()
        ),
    );
    pause(300).await;
    screenshot("old-format-history").await;
}

/// An empty ledger: where usage comes from, on the dashboard and in the history.
pub async fn empty(check: &Check) {
    check.expect(
        check.dashboard_page() == "empty",
        "the dashboard of an empty ledger says where usage comes from",
    );
    pause(300).await;
    screenshot("empty").await;
    check.show("history");
    // Counted off the main loop once shown.
    wait_for(Duration::from_secs(10), || check.page() == "empty").await;
    check.expect(
        check.page() == "empty",
        "an empty ledger's history shows the how-to-start page",
    );
    check.expect(check.rows() == 0, "no rows");
    check.expect(check.count_label() == "0 records", "count says 0 records");
    pause(300).await;
    screenshot("empty-history").await;
}

/// A narrow window in dark mode.
pub async fn narrow_dark(check: &Check) {
    let shown = |name: &str| find(&check.window, name).is_some_and(|w| w.is_mapped());
    let dashboard = wait_for(Duration::from_secs(10), || {
        shown("dashboard-stack") && !shown("sidebar-dashboard")
    })
    .await;
    check.expect(
        dashboard.is_some(),
        "at 360 px the dashboard is shown alone",
    );
    pause(300).await;
    screenshot("narrow-dark-dashboard").await;
    check.show("history");
    let folded = wait_for(Duration::from_secs(10), || {
        shown("history-list") && !shown("sidebar-history")
    })
    .await;
    check.expect(shown("history-list"), "at 360 px the history is shown");
    check.expect(folded.is_some(), "the sidebar is folded away");
    check.expect(
        check.window.width() <= 400,
        &format!("the window is narrow ({} px)", check.window.width()),
    );
    pause(300).await;
    screenshot("narrow-dark").await;
}

/// The dashboard in German, dark, amounts in euros.
pub async fn dashboard_de_dark(check: &Check) {
    let content = wait_for(Duration::from_secs(10), || {
        check.dashboard_page() == "content"
    })
    .await;
    check.expect(content.is_some(), "the dashboard shows the budget");
    let title = check.label("dashboard-spend-title");
    check.expect(
        title.starts_with("Ausgaben pro Tag") && title.ends_with("1,38\u{a0}€"),
        &format!("the dashboard speaks German, in euros ({title})"),
    );
    check.expect(adw::StyleManager::default().is_dark(), "and is drawn dark");
    pause(300).await;
    screenshot("dashboard-de-dark").await;
}

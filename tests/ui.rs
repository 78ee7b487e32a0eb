//! The real app window, under a real display (`make test` starts Xvfb and a private
//! D-Bus). Each scenario runs in its own process, because GTK starts once per process;
//! this file's `main` runs them all and saves a screenshot of each in `artifacts/`.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use relm4::adw;
use relm4::adw::prelude::*;
use relm4::gtk::{self, gio, glib};
use tally::core::Money;
use tally::core::usage::{Cost, TokenCounts, UsageRecord};
use tally::store::Store;

#[path = "support/agent_logs.rs"]
mod agent_logs;
#[path = "support/session.rs"]
mod session;

const SCENARIOS: &[&str] = &[
    "empty",
    "seeded",
    "narrow-dark",
    "newer-ledger",
    "policies",
    "sources",
    "dashboard-de-dark",
    "background",
    "reports",
    "million",
    "real-home",
];

fn main() {
    if let Ok(name) = std::env::var("TALLY_UI_SCENARIO") {
        std::process::exit(run_scenario(&name));
    }
    if std::env::var_os("DISPLAY").is_none() {
        eprintln!("ui tests need a display: run them through `make test`, which starts Xvfb");
        std::process::exit(1);
    }
    let (mut passed, mut failed) = (0, 0);
    for name in SCENARIOS {
        let status = Command::new(std::env::current_exe().expect("test binary path"))
            .env("TALLY_UI_SCENARIO", name)
            .status()
            .expect("run scenario");
        if status.success() {
            println!("test ui::{name} ... ok");
            passed += 1;
        } else {
            println!("test ui::{name} ... FAILED ({status})");
            failed += 1;
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    println!("{passed} passed, {failed} failed");
    std::process::exit(i32::from(failed > 0));
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

fn record(i: u64, model: &str, provider: &str, project: &str) -> UsageRecord {
    let at = jiff::Timestamp::from_second(1_763_000_000 + i as i64 * 600).expect("valid time");
    let mut r = UsageRecord::new(at, provider, model);
    r.source = "test".into();
    r.project = project.into();
    r.user = "alice".into();
    r.request_id = Some(format!("req_{i}"));
    r.tokens = TokenCounts {
        input: 1_000 + i,
        output: 200,
        ..TokenCounts::default()
    };
    r.cost = Cost::Priced {
        amount: Money::from_nanos(1_234_000 * (i as i64 + 1)),
        price_version: "test".into(),
    };
    r
}

/// Depth-first search for the first widget that `wanted` accepts.
fn find_where(root: &gtk::Widget, wanted: &dyn Fn(&gtk::Widget) -> bool) -> Option<gtk::Widget> {
    if wanted(root) {
        return Some(root.clone());
    }
    let mut child = root.first_child();
    while let Some(c) = child {
        if let Some(found) = find_where(&c, wanted) {
            return Some(found);
        }
        child = c.next_sibling();
    }
    None
}

fn find(root: &gtk::Widget, name: &str) -> Option<gtk::Widget> {
    find_where(root, &|w| w.widget_name() == name)
}

struct Check {
    window: gtk::Widget,
    failures: Rc<Cell<u32>>,
}

impl Check {
    fn widget(&self, name: &str) -> gtk::Widget {
        find(&self.window, name).unwrap_or_else(|| panic!("no widget named {name}"))
    }

    fn expect(&self, ok: bool, what: &str) {
        if ok {
            eprintln!("  ok: {what}");
        } else {
            eprintln!("  FAILED: {what}");
            self.failures.set(self.failures.get() + 1);
        }
    }

    fn rows(&self) -> u32 {
        let view = self
            .widget("history-list")
            .downcast::<gtk::ColumnView>()
            .expect("a column view");
        view.model().map_or(0, |m| m.n_items())
    }

    fn page(&self) -> String {
        let stack = self
            .widget("history-stack")
            .downcast::<gtk::Stack>()
            .expect("a stack");
        stack
            .visible_child_name()
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    fn dashboard_page(&self) -> String {
        self.widget("dashboard-stack")
            .downcast::<gtk::Stack>()
            .expect("a stack")
            .visible_child_name()
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    fn label(&self, name: &str) -> String {
        self.widget(name)
            .downcast::<gtk::Label>()
            .map(|l| l.label().to_string())
            .unwrap_or_default()
    }

    fn show(&self, view: &str) {
        let _ = WidgetExt::activate_action(&self.window, &format!("win.view-{view}"), None);
    }

    fn count_label(&self) -> String {
        self.widget("history-count")
            .downcast::<gtk::Label>()
            .expect("a label")
            .text()
            .to_string()
    }
}

async fn pause(ms: u64) {
    glib::timeout_future(Duration::from_millis(ms)).await;
}

/// Waits until `done` holds, up to `limit`; returns how long it took, if it did.
async fn wait_for(limit: Duration, done: impl Fn() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        pause(20).await;
    }
    done().then(|| start.elapsed())
}

/// Runs `tally … --db db` from another process; says why when it fails.
fn tally(db: &Path, args: &[&str]) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run tally");
    if !out.status.success() {
        eprintln!(
            "  tally {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    out.status.success()
}

/// Saves a picture of the screen. Taking it blocks the main loop, so the
/// window is first given time to end its transitions (GTK's last 200–250 ms)
/// and paint what the test just changed, or the picture shows an older frame.
async fn screenshot(name: &str) {
    pause(400).await;
    let path = artifacts().join(format!("ui-{name}.png"));
    let ok = Command::new("import")
        .args(["-window", "root"])
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    eprintln!(
        "  screenshot {}: {}",
        path.display(),
        if ok {
            "saved"
        } else {
            "FAILED (is imagemagick installed?)"
        }
    );
}

fn run_scenario(name: &str) -> i32 {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("ledger.sqlite");
    // A home of the test's own: the app looks for agents' logs there, and must
    // not find (or offer to import) the developer's own.
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    if name == "sources" || name == "background" {
        let log = home.join(".claude/projects/-home-ada-web/session.jsonl");
        std::fs::create_dir_all(log.parent().expect("folder")).expect("log folder");
        std::fs::write(&log, claude_line("msg_1", "req_1")).expect("log");
    }
    if name == "real-home" {
        a_real_users_home(&home, &db, &dir.path().join("big"));
    }
    // SAFETY: the scenario process has no other threads yet.
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::remove_var("CLAUDE_CONFIG_DIR");
        std::env::remove_var("CODEX_HOME");
    }
    // The renderer the app picks on this machine, as `tally-app` does.
    tally::ui::choose_renderer();
    {
        let mut store = Store::open(&db).expect("open ledger");
        if name == "million" {
            seed_a_million(&mut store);
        } else if !matches!(name, "empty" | "sources" | "background" | "real-home") {
            let mut records: Vec<UsageRecord> = (0..250)
                .map(|i| record(i, "claude-sonnet-4-5", "anthropic", "website"))
                .collect();
            records.extend((250..262).map(|i| {
                record(
                    i,
                    "gpt-4o",
                    "openai",
                    "=HYPERLINK(\"x\") a very long project name that does not fit",
                )
            }));
            store.insert_batch(&records).expect("seed");
        }
        if name == "policies" || name == "dashboard-de-dark" {
            // $1.50 spent today, for a budget to count.
            let now = jiff::Timestamp::now();
            let today: Vec<UsageRecord> = (0..30)
                .map(|i| {
                    let mut r = record(1000 + i, "gpt-4o", "openai", "website");
                    r.at = now - jiff::SignedDuration::from_secs(60 * i as i64);
                    r.cost = Cost::Priced {
                        amount: Money::from_nanos(50_000_000),
                        price_version: "test".into(),
                    };
                    r
                })
                .collect();
            store.insert_batch(&today).expect("seed today");
            // Forecast and anomaly alerts depend on the day of the month the test
            // runs; only the thresholds are wanted here.
            store.remove_rule(4).expect("no forecast rule");
            store.remove_rule(5).expect("no anomaly rule");
            // A zone from the preferences, for new policies.
            if name == "policies" {
                store
                    .set_setting("default_zone", Some("America/New_York"))
                    .expect("setting");
            }
            // Amounts in euros, at 0.92 to the dollar.
            if name == "dashboard-de-dark" {
                store.set_setting("currency", Some("EUR")).expect("setting");
                store
                    .set_setting("usd_rate", Some("0.92"))
                    .expect("setting");
            }
        }
    }
    if name == "dashboard-de-dark" {
        assert!(
            tally(&db, &["policy", "add", "Team", "--limit", "2"]),
            "a budget for the dashboard"
        );
        // SAFETY: the scenario process has no other threads yet.
        unsafe {
            std::env::set_var("LANGUAGE", "de");
            std::env::set_var("LC_ALL", "de_DE.UTF-8");
        }
    }
    tally::i18n::init();
    if name == "newer-ledger" {
        rusqlite::Connection::open(&db)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
    }
    let failures = Rc::new(Cell::new(0));
    let app = adw::Application::new(
        Some("io.github.tallyapp.Tally.Test"),
        gio::ApplicationFlags::NON_UNIQUE,
    );
    if name == "narrow-dark" || name == "dashboard-de-dark" {
        app.connect_startup(|_| {
            adw::StyleManager::default().set_color_scheme(adw::ColorScheme::ForceDark)
        });
    }
    let (f, scenario, db_path) = (failures.clone(), name.to_string(), db.clone());
    app.connect_activate(move |app| {
        let (f, scenario, app, db_path) =
            (f.clone(), scenario.clone(), app.clone(), db_path.clone());
        glib::MainContext::default().spawn_local(async move {
            pause(300).await;
            if scenario == "newer-ledger" {
                newer_ledger_is_explained(&f).await;
                app.quit();
                return;
            }
            let Some(window) = app.windows().into_iter().next() else {
                eprintln!("  FAILED: no window");
                f.set(1);
                app.quit();
                return;
            };
            if scenario == "narrow-dark" {
                window.set_default_size(360, 640);
                pause(300).await;
            }
            let check = Check {
                window: window.clone().upcast(),
                failures: f.clone(),
            };
            drive(&scenario, &check, &db_path).await;
            if scenario == "seeded" {
                windows_open_from_the_menu(&window, &check).await;
            }
            app.quit();
        });
    });
    let code = tally::ui::launch(app, Some(db), false);
    if name == "newer-ledger" && code != std::process::ExitCode::FAILURE {
        eprintln!("  FAILED: a ledger that cannot be opened ends the app with a failure status");
        failures.set(failures.get() + 1);
    }
    drop(dir);
    i32::from(failures.get() > 0)
}

/// A ledger written by a newer Tally is not touched; the app says so in a window,
/// since from the desktop menu there is no terminal to read.
async fn newer_ledger_is_explained(failures: &Rc<Cell<u32>>) {
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
async fn windows_open_from_the_menu(window: &gtk::Window, check: &Check) {
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
    pause(100).await;
    let _ = WidgetExt::activate_action(window, "win.search", None);
    pause(200).await;
    let search = check.widget("history-search");
    let focused =
        GtkWindowExt::focus(window).is_some_and(|f| f == search || f.is_ancestor(&search));
    check.expect(focused, "Ctrl+F puts the focus in the search field");
}

async fn drive(scenario: &str, check: &Check, db: &Path) {
    match scenario {
        "empty" => {
            check.expect(
                check.dashboard_page() == "empty",
                "the dashboard of an empty ledger says where usage comes from",
            );
            pause(300).await;
            screenshot("empty").await;
            check.show("history");
            check.expect(
                check.page() == "empty",
                "an empty ledger's history shows the how-to-start page",
            );
            check.expect(check.rows() == 0, "no rows");
            check.expect(check.count_label() == "0 records", "count says 0 records");
            pause(300).await;
            screenshot("empty-history").await;
        }
        "seeded" => {
            let content = wait_for(Duration::from_secs(10), || {
                check.dashboard_page() == "content"
            })
            .await;
            check.expect(
                content.is_some(),
                "a seeded ledger's dashboard shows its figures",
            );
            let before = check.label("dashboard-spend-title");
            check.expect(
                before.ends_with("$0.00"),
                &format!("the seeded calls are older than 30 days ({before})"),
            );
            check.show("history");
            check.expect(check.page() == "list", "a seeded ledger shows the list");
            check.expect(
                check.rows() == 262,
                &format!("all 262 rows are there (saw {})", check.rows()),
            );
            check.expect(
                check.count_label() == "262 records",
                &format!("count label ({})", check.count_label()),
            );
            pause(300).await;
            screenshot("seeded").await;

            let search = check
                .widget("history-search")
                .downcast::<gtk::SearchEntry>()
                .expect("search entry");
            search.set_text("gpt");
            let filtered = wait_for(Duration::from_secs(10), || check.rows() == 12).await;
            check.expect(
                filtered.is_some(),
                &format!(
                    "searching “gpt” leaves the 12 gpt-4o rows (saw {})",
                    check.rows()
                ),
            );
            pause(200).await;
            screenshot("seeded-search").await;

            search.set_text("no such thing");
            let none = wait_for(Duration::from_secs(10), || check.page() == "no-match").await;
            check.expect(
                none.is_some(),
                &format!(
                    "a search with no match says so (page {}, {} rows)",
                    check.page(),
                    check.rows()
                ),
            );
            let page = check.widget("history-no-match");
            let button =
                find_where(&page, &|w| w.is::<gtk::Button>()).and_downcast::<gtk::Button>();
            check.expect(button.is_some(), "the no-match page offers “Clear Filters”");
            if let Some(b) = button {
                b.emit_clicked();
            }
            let cleared = wait_for(Duration::from_secs(10), || check.rows() == 262).await;
            check.expect(cleared.is_some(), "“Clear Filters” brings every row back");
            check.expect(search.text().is_empty(), "and empties the search field");

            let provider = check
                .widget("history-provider")
                .downcast::<gtk::DropDown>()
                .expect("provider menu");
            provider.set_selected(1); // anthropic (sorted first)
            let by_provider = wait_for(Duration::from_secs(10), || check.rows() == 250).await;
            check.expect(
                by_provider.is_some(),
                &format!(
                    "filtering by provider anthropic leaves 250 (saw {})",
                    check.rows()
                ),
            );
            provider.set_selected(0);
            wait_for(Duration::from_secs(10), || check.rows() == 262).await;

            // Dates: nothing seeded is from today; a custom range around the seeded
            // days finds all of them.
            let range = check
                .widget("history-range")
                .downcast::<gtk::DropDown>()
                .expect("range menu");
            range.set_selected(1);
            let today = wait_for(Duration::from_secs(10), || check.page() == "no-match").await;
            check.expect(
                today.is_some(),
                &format!("“Today” has no seeded records (saw {})", check.rows()),
            );
            range.set_selected(6);
            pause(300).await;
            let day = |y, m, d| glib::DateTime::from_local(y, m, d, 0, 0, 0.0).expect("date");
            let calendar = |name: &str| {
                gtk::Window::list_toplevels()
                    .into_iter()
                    .chain([check.window.clone()])
                    .find_map(|w| find(&w, name))
                    .and_downcast::<gtk::Calendar>()
            };
            let (from, to) = (calendar("history-range-from"), calendar("history-range-to"));
            check.expect(
                from.is_some() && to.is_some(),
                "“Custom range…” shows two calendars",
            );
            if let (Some(from), Some(to)) = (from, to) {
                from.select_day(&day(2025, 11, 1));
                to.select_day(&day(2025, 11, 30));
                screenshot("custom-range").await;
                let apply = find(
                    &from.root().expect("popover root").upcast(),
                    "history-range-apply",
                )
                .and_downcast::<gtk::Button>();
                if let Some(b) = apply {
                    b.emit_clicked();
                }
            }
            let november = wait_for(Duration::from_secs(10), || check.rows() == 262).await;
            check.expect(
                november.is_some(),
                &format!("1–30 November holds all 262 (saw {})", check.rows()),
            );
            let label = range
                .selected_item()
                .and_downcast::<gtk::StringObject>()
                .map(|s| s.string().to_string());
            check.expect(
                label.as_deref() == Some("2025-11-01 – 2025-11-30"),
                &format!("the date menu names the custom range ({label:?})"),
            );
            range.set_selected(0);
            wait_for(Duration::from_secs(10), || check.rows() == 262).await;

            // Another process writes; the view follows (how fast is the
            // benchmark's to say: a latency asserted here fails on a busy machine).
            let recorded = tally(
                db,
                &[
                    "record", "--model", "gpt-4o", "--input", "100", "--output", "10",
                ],
            );
            check.expect(recorded, "tally record succeeds");
            let seen = wait_for(Duration::from_secs(10), || check.rows() == 263).await;
            check.expect(
                seen.is_some(),
                &format!("a record from another process shows in the history ({seen:?})"),
            );

            // And on the dashboard: a $2.50 call recorded now.
            check.show("dashboard");
            let recorded = tally(
                db,
                &[
                    "record", "--model", "gpt-4o", "--input", "1000000", "--output", "0",
                ],
            );
            check.expect(recorded, "tally record succeeds");
            let seen = wait_for(Duration::from_secs(10), || {
                check.label("dashboard-spend-title").ends_with("$2.50")
            })
            .await;
            check.expect(
                seen.is_some(),
                &format!(
                    "a $2.50 call from another process is on the dashboard ({seen:?}, {})",
                    check.label("dashboard-spend-title")
                ),
            );
            // Calls that say whether their job succeeded: cost per successful job.
            for (success, quality) in [("true", "0.9"), ("false", "0.4")] {
                let meta = format!("success={success}");
                let score = format!("quality={quality}");
                let recorded = tally(
                    db,
                    &[
                        "record", "--model", "gpt-4o", "--input", "400000", "--meta", &meta,
                        "--meta", &score,
                    ],
                );
                check.expect(recorded, "a job is recorded");
            }
            let jobs = wait_for(Duration::from_secs(10), || {
                check.label("dashboard-jobs")
                    == "2 jobs · 50 % succeeded · $2.00 per successful job · quality 0.65 on average"
            })
            .await;
            check.expect(
                jobs.is_some(),
                &format!("jobs are counted ({})", check.label("dashboard-jobs")),
            );

            pause(300).await;
            screenshot("dashboard").await;
            // Today by the hour: the $2.50 call and the two $1.00 jobs.
            check
                .widget("dashboard-range-1")
                .downcast::<gtk::ToggleButton>()
                .expect("a toggle")
                .set_active(true);
            let hourly = wait_for(Duration::from_secs(10), || {
                check.label("dashboard-spend-title") == "Spend per Hour · $4.50"
            })
            .await;
            check.expect(
                hourly.is_some(),
                &format!(
                    "today by the hour ({})",
                    check.label("dashboard-spend-title")
                ),
            );
            pause(300).await;
            screenshot("dashboard-today").await;
        }
        "narrow-dark" => {
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
        "policies" => policies_and_alerts(check, db).await,
        "dashboard-de-dark" => {
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
        "sources" => first_run_imports_and_follows(check).await,
        "reports" => each_report_runs_and_exports(check).await,
        "million" => {
            let content = wait_for(Duration::from_secs(10), || {
                check.dashboard_page() == "content"
            })
            .await;
            check.expect(
                content.is_some(),
                "a million-record ledger's dashboard shows its figures",
            );
            let want = million_last_30_days();
            let title = check.label("dashboard-spend-title");
            check.expect(
                title.ends_with(&want),
                &format!("the last 30 days of a million calls: {want} ({title})"),
            );
            pause(300).await;
            screenshot("dashboard-million").await;
        }
        "background" => watches_with_the_window_closed(check, db).await,
        "real-home" => a_real_home_idles_and_never_blocks(check, db).await,
        other => check.expect(false, &format!("unknown scenario {other}")),
    }
}

fn toplevel(name: &str) -> Option<gtk::Window> {
    gtk::Window::list_toplevels()
        .into_iter()
        .filter_map(|w| w.downcast::<gtk::Window>().ok())
        .find(|w| w.widget_name() == name && w.is_visible())
}

fn set_text(root: &gtk::Widget, name: &str, text: &str) {
    find(root, name)
        .and_then(|w| w.downcast::<gtk::Editable>().ok())
        .unwrap_or_else(|| panic!("no entry named {name}"))
        .set_text(text);
}

/// Creates a policy through the editor's widgets (after a bad limit is refused),
/// sees it listed with its bar, and sees the alert it raises in the Alerts view.
async fn policies_and_alerts(check: &Check, db: &Path) {
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

fn claude_line(msg: &str, req: &str) -> String {
    format!(
        r#"{{"parentUuid":null,"isSidechain":false,"type":"assistant","timestamp":"2025-11-13T10:00:00.000Z","sessionId":"s","version":"2.0.1","cwd":"/home/ada/web","requestId":"{req}","message":{{"id":"{msg}","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"hi"}}],"usage":{{"input_tokens":10,"output_tokens":20,"cache_read_input_tokens":100,"cache_creation_input_tokens":30,"service_tier":"standard"}}}}}}"#
    ) + "\n"
}

/// Clicks the first-run offer's Import button (answering and closing as a
/// person's click does); false when it has none.
fn click_import(dialog: &adw::MessageDialog) -> bool {
    let import = find_where(dialog.upcast_ref(), &|w| {
        w.downcast_ref::<gtk::Button>()
            .and_then(|b| b.label())
            .is_some_and(|l| l == "_Import")
    })
    .and_then(|w| w.downcast::<gtk::Button>().ok());
    if let Some(b) = &import {
        b.emit_clicked();
    }
    import.is_some()
}

/// An empty ledger and Claude Code logs: the app offers to import them; saying
/// yes imports them, and a line the agent appends shows up by itself.
async fn first_run_imports_and_follows(check: &Check) {
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
async fn watches_with_the_window_closed(check: &Check, db: &Path) {
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

/// Every label under `root`, in order.
fn labels(root: &gtk::Widget) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(w) = stack.pop() {
        if let Some(l) = w.downcast_ref::<gtk::Label>() {
            out.push(l.label().to_string());
        }
        let mut child = w.last_child();
        while let Some(c) = child {
            child = c.prev_sibling();
            stack.push(c);
        }
    }
    out
}

fn select(check: &Check, name: &str, index: u32) {
    check
        .widget(name)
        .downcast::<gtk::DropDown>()
        .expect("a drop-down")
        .set_selected(index);
}

/// Saves the report through the Export button's file chooser.
async fn export_through_the_chooser(check: &Check, button: &str, path: &Path) -> bool {
    check
        .widget(button)
        .downcast::<gtk::Button>()
        .expect("a button")
        .emit_clicked();
    let found = wait_for(Duration::from_secs(10), || {
        gtk::Window::list_toplevels()
            .into_iter()
            .any(|w| w.is::<gtk::FileChooserDialog>() && w.is_visible())
    })
    .await;
    let Some(dialog) = gtk::Window::list_toplevels()
        .into_iter()
        .filter(|w| w.is_visible())
        .find_map(|w| w.downcast::<gtk::FileChooserDialog>().ok())
        .filter(|_| found.is_some())
    else {
        return false;
    };
    // The chooser may still be loading its first folder: set ours until it holds.
    let folder = gio::File::for_path(path.parent().expect("a folder"));
    let name = path
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .to_string();
    let chosen = wait_for(Duration::from_secs(10), || {
        let _ = dialog.set_current_folder(Some(&folder));
        dialog.set_current_name(&name);
        dialog.file().and_then(|f| f.path()).as_deref() == Some(path)
    })
    .await;
    if chosen.is_none() {
        eprintln!("  the chooser would not take {}", path.display());
        return false;
    }
    dialog.response(gtk::ResponseType::Accept);
    wait_for(Duration::from_secs(10), || path.exists())
        .await
        .is_some()
}

/// Runs each report over the seeded days, sees its figures, and exports two.
async fn each_report_runs_and_exports(check: &Check) {
    check.show("reports");
    // The seeded calls are from November 2025: a custom range.
    select(
        check,
        "reports-range",
        tally::core::report::PRESETS.len() as u32,
    );
    pause(100).await;
    set_text(&check.window, "reports-from", "2025-11-01");
    set_text(&check.window, "reports-to", "2025-11-30");
    check
        .widget("reports-to")
        .downcast::<gtk::Entry>()
        .expect("an entry")
        .emit_activate();
    // 1,234,000 nano-dollars × (1 + 2 + … + 262): the seeded calls' cost.
    let total = Money::from_nanos(1_234_000 * (262 * 263 / 2)).display();
    let expected: [(u32, &str, &str); 6] = [
        (0, "summary", "Totals"),
        (1, "trend", "Cost by day"),
        (2, "compare", "By model"),
        (3, "projection", "By the End of Each Period"),
        (4, "what-if", "Cheaper Models of the Same Kind"),
        (5, "reconcile", "Per UTC Day and Model"),
    ];
    for (index, name, title) in expected {
        select(check, "reports-kind", index);
        let tables = check.widget("reports-tables");
        // The figure proves the run for this range has landed, not an earlier one.
        let figure = match name {
            "summary" | "compare" => total.as_str(),
            "what-if" => "claude-sonnet-4-5",
            _ => title,
        };
        let shown = wait_for(Duration::from_secs(10), || {
            let spinner = check.widget("reports-spinner");
            let all = labels(&tables);
            !spinner.is_visible()
                && all.iter().any(|l| l == title)
                && all.iter().any(|l| l == figure)
        })
        .await;
        check.expect(
            shown.is_some(),
            &format!("the {name} report shows “{title}”"),
        );
        let all = labels(&tables);
        match name {
            "summary" | "compare" => check.expect(
                all.contains(&total),
                &format!("the {name} holds the range's {total}"),
            ),
            "what-if" => check.expect(
                all.iter().any(|l| l == "claude-sonnet-4-5"),
                "the what-if lists the model that was used",
            ),
            _ => {}
        }
        pause(200).await;
        screenshot(&format!("reports-{name}")).await;
        // Each exported, the formats in turn.
        let (format, ext) = [(0, "csv"), (1, "md"), (2, "json")][index as usize % 3];
        let file = artifacts().join(format!("report-{name}.{ext}"));
        let _ = std::fs::remove_file(&file);
        select(check, "reports-format", format);
        let saved = export_through_the_chooser(check, "reports-export", &file).await;
        check.expect(
            saved,
            &format!("the {name} is exported to {}", file.display()),
        );
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let plain = Money::from_nanos(1_234_000 * (262 * 263 / 2)).to_decimal_string();
        let right = match ext {
            "csv" => {
                let rows = csv::Reader::from_reader(text.as_bytes()).records().count();
                rows > 0 && (name != "summary" || text.contains(&plain))
            }
            "md" => text.starts_with("# ") && text.contains(&format!("## {title}")),
            _ => {
                serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v["report"] == name)
            }
        };
        check.expect(
            right,
            &format!("the exported {name} ({ext}) holds the report"),
        );
    }
    // The usage history exports the records it lists.
    check.show("history");
    let file = artifacts().join("usage-history.csv");
    let _ = std::fs::remove_file(&file);
    let saved = export_through_the_chooser(check, "history-export", &file).await;
    let said = wait_for(Duration::from_secs(10), || {
        check
            .label("history-export-status")
            .starts_with("Exported 262 records")
    })
    .await;
    check.expect(
        saved && said.is_some(),
        "the history's records are exported and it says so",
    );
    let rows = std::fs::read_to_string(&file).map_or(0, |t| t.lines().count());
    check.expect(rows == 263, &format!("a header and 262 rows ({rows})"));
}

/// The million-record ledger: call `i` made `i` × 5 s before now (about 58
/// days), costing 1,000 + (i mod 1,000) nano-dollars.
const MILLION: i64 = 1_000_000;

fn million_call(i: i64, now: jiff::Timestamp) -> UsageRecord {
    let model = ["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro"][(i % 3) as usize];
    let mut r = record(0, model, "openai", "web");
    r.at = now - jiff::SignedDuration::from_secs(i * 5);
    r.request_id = Some(format!("m{i}"));
    r.cost = Cost::Priced {
        amount: Money::from_nanos(1_000 + i % 1_000),
        price_version: "test".into(),
    };
    r
}

fn million_now() -> jiff::Timestamp {
    static NOW: std::sync::OnceLock<jiff::Timestamp> = std::sync::OnceLock::new();
    *NOW.get_or_init(jiff::Timestamp::now)
}

fn seed_a_million(store: &mut Store) {
    let now = million_now();
    store
        .in_bulk(|s| {
            for start in (0..MILLION).step_by(20_000) {
                let batch: Vec<UsageRecord> = (start..start + 20_000)
                    .map(|i| million_call(i, now))
                    .collect();
                s.insert_batch(&batch)?;
            }
            Ok::<_, tally::store::StoreError>(())
        })
        .expect("a million calls");
}

/// The dashboard's 30 days (today and the 29 before, in the ledger's zone),
/// summed call by call.
fn million_last_30_days() -> String {
    let zone = jiff::tz::TimeZone::system();
    let now = million_now();
    let today = now.to_zoned(zone.clone()).date();
    let first = today
        .checked_sub(jiff::Span::new().days(29))
        .expect("a day");
    let total: i64 = (0..MILLION)
        .map(|i| million_call(i, now))
        .filter(|r| r.at.to_zoned(zone.clone()).date() >= first)
        .map(|r| r.cost.amount().expect("priced").nanos())
        .sum();
    Money::from_nanos(total).display()
}

/// A Claude Code and Codex user's home, as the generator writes it (noise and
/// all), imported with `tally import` before the app first opens, as a new
/// user does; and a larger corpus beside it (`big`) for another process to
/// import while the window is open.
fn a_real_users_home(home: &Path, db: &Path, big: &Path) {
    let claude = agent_logs::ClaudeConfig {
        seed: 7,
        projects: 4,
        sessions: 6,
        calls: 40,
        noise: true,
        padding: 200,
    };
    agent_logs::write_claude_logs(&home.join(".claude/projects"), &claude);
    let codex = agent_logs::CodexConfig {
        seed: 7,
        sessions: 6,
        calls: 30,
        noise: true,
        padding: 100,
    };
    agent_logs::write_codex_logs(&home.join(".codex"), &codex);
    for agent in ["claude-code", "codex"] {
        let out = Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["import", agent, "--db"])
            .arg(db)
            .env("HOME", home)
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("CODEX_HOME")
            .output()
            .expect("run tally import");
        assert!(out.status.success(), "tally import {agent}: {out:?}");
    }
    // The first-run question was answered (follow both) when the user imported.
    let mut store = Store::open(db).expect("ledger");
    store
        .set_setting("sources.asked", Some("yes"))
        .expect("setting");
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

/// CPU time this process has used, in clock ticks (a tick is 10 ms).
fn own_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Records the longest time between two runs of a 50 ms main-loop timer: how
/// long the window could not have drawn or answered a click.
struct Heartbeat {
    longest: Rc<Cell<Duration>>,
    source: Option<glib::SourceId>,
}

impl Heartbeat {
    fn start() -> Heartbeat {
        let longest = Rc::new(Cell::new(Duration::ZERO));
        let (l, last) = (longest.clone(), Cell::new(Instant::now()));
        let source = glib::timeout_add_local(Duration::from_millis(50), move || {
            let gap = last.replace(Instant::now()).elapsed();
            l.set(l.get().max(gap));
            glib::ControlFlow::Continue
        });
        Heartbeat {
            longest,
            source: Some(source),
        }
    }

    fn stop(mut self) -> Duration {
        if let Some(s) = self.source.take() {
            s.remove();
        }
        self.longest.get()
    }
}

/// A loopback HTTP server that takes one request and answers it only after
/// `delay`: a webhook that hangs. Returns its URL and whether a request came.
fn slow_webhook(delay: Duration) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let came = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = came.clone();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(delay);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (url, came)
}

async fn a_real_home_idles_and_never_blocks(check: &Check, db: &Path) {
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

    // Idle, with the agents' folders followed: no reloads, no commits.
    pause(2000).await;
    let other = rusqlite::Connection::open(db).expect("ledger");
    let version = || -> i64 {
        other
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap_or(-1)
    };
    let (v0, t0) = (version(), own_cpu_ticks());
    pause(10_000).await;
    let (v1, used) = (version(), own_cpu_ticks() - t0);
    check.expect(
        used <= 30,
        &format!("idle for 10 s, the app used {used} ticks of CPU (at most 30)"),
    );
    check.expect(v0 == v1, "idle, nothing changed the ledger (data_version)");

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

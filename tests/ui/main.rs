//! The real app window, under a real display (`make test` starts Xvfb and a private
//! D-Bus). Each scenario runs in its own process, because GTK starts once per process;
//! this file's `main` runs them all and saves a screenshot of each in `artifacts/`.

#[path = "../support/agent_logs.rs"]
mod agent_logs;
mod agents;
mod million;
mod otlp;
mod policies;
mod real_home;
mod reports;
mod seeded;
#[path = "../support/session.rs"]
mod session;
mod sources;
mod start;
mod support;
mod team;
#[path = "../support/wide_ledger.rs"]
mod wide_ledger;

use support::*;

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
    "damaged",
    "old-format",
    "agents",
    "otlp",
    "team",
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

/// Calls added to the schema-16 fixture for "old-format": enough that its
/// rewrite outlasts the moment before its window shows.
const OLD_FORMAT_CALLS: u64 = 150_000;

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
        real_home::a_real_users_home(&home, &db, &dir.path().join("big"));
    }
    // SAFETY: the scenario process has no other threads yet.
    unsafe {
        std::env::set_var("HOME", &home);
        for v in agent_logs::more::AGENT_ENV {
            std::env::remove_var(v);
        }
    }
    if name == "agents" {
        agents::seven_agents(&home, &db);
    }
    // The renderer the app picks on this machine, as `tally-app` does.
    tally::ui::choose_renderer();
    if name == "old-format" {
        // Written by the Tally before the narrow ledger: rewritten as the app starts.
        wide_ledger::grown_to(&db, OLD_FORMAT_CALLS);
    } else {
        let mut store = Store::open(&db).expect("open ledger");
        if name == "million" {
            million::seed_a_million(&mut store);
            real_home::agents_logs_imported(&home, &db);
        } else if !matches!(
            name,
            "empty" | "sources" | "background" | "real-home" | "agents"
        ) {
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
            // $1.50 spent today, for a budget to count: today in UTC and in
            // New York (the new policy's zone) alike, whatever the hour.
            let now = jiff::Timestamp::now();
            let start = ["UTC", "America/New_York"]
                .iter()
                .map(|z| {
                    let day = now.in_tz(z).expect("zone").start_of_day();
                    day.expect("a day").timestamp()
                })
                .max()
                .expect("two zones");
            let span = now.duration_since(start);
            let today: Vec<UsageRecord> = (0..30)
                .map(|i| {
                    let mut r = record(1000 + i, "gpt-4o", "openai", "website");
                    r.at = start + span * (i as i32) / 30;
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
    if name == "damaged" {
        damage_the_middle(&db);
    }
    if name == "otlp" {
        otlp::receive_on_a_free_port(&db);
    }
    if name == "team" {
        team::a_team_ledger_whose_server_is_down(&db);
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
                start::newer_ledger_is_explained(&f).await;
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
                start::windows_open_from_the_menu(&window, &check).await;
            }
            app.quit();
        });
    });
    // The update's window, watched while it is up (before the app's own).
    let update_seen = Rc::new(Cell::new(0.0f64));
    if name == "old-format" {
        let seen = update_seen.clone();
        glib::timeout_add_local(std::time::Duration::from_millis(20), move || {
            let bar = gtk::Window::list_toplevels().into_iter().find_map(|w| {
                find(&w, "format-update-progress")
                    .and_then(|b| b.downcast::<gtk::ProgressBar>().ok())
            });
            if let Some(bar) = bar.filter(|b| b.is_mapped()) {
                seen.set(seen.get().max(bar.fraction().max(0.001)));
            }
            glib::ControlFlow::Continue
        });
    }
    let code = tally::ui::launch(app, Some(db), false);
    if name == "old-format" {
        let fraction = update_seen.get();
        eprintln!(
            "  the update window showed progress up to {:.0} %",
            fraction * 100.0
        );
        if fraction == 0.0 {
            eprintln!("  FAILED: the rewrite of an old ledger shows a window with its progress");
            failures.set(failures.get() + 1);
        }
    }
    if name == "newer-ledger" && code != std::process::ExitCode::FAILURE {
        eprintln!("  FAILED: a ledger that cannot be opened ends the app with a failure status");
        failures.set(failures.get() + 1);
    }
    drop(dir);
    i32::from(failures.get() > 0)
}

/// Overwrites a page in the middle of the ledger with noise, as a failing
/// disk or a stray write would.
fn damage_the_middle(db: &Path) {
    use std::io::{Seek, Write};
    let conn = rusqlite::Connection::open(db).expect("ledger");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(conn);
    let pages = std::fs::metadata(db).expect("ledger").len() / 4096;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(db)
        .expect("ledger");
    file.seek(std::io::SeekFrom::Start(pages / 2 * 4096))
        .expect("seek");
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    file.write_all(&noise).expect("damage");
}

async fn drive(scenario: &str, check: &Check, db: &Path) {
    match scenario {
        "empty" => start::empty(check).await,
        "seeded" => seeded::seeded(check, db).await,
        "narrow-dark" => start::narrow_dark(check).await,
        "policies" => policies::policies_and_alerts(check, db).await,
        "dashboard-de-dark" => start::dashboard_de_dark(check).await,
        "sources" => sources::first_run_imports_and_follows(check).await,
        "reports" => reports::each_report_runs_and_exports(check).await,
        "million" => million::million(check, db).await,
        "background" => sources::watches_with_the_window_closed(check, db).await,
        "real-home" => real_home::a_real_home_idles_and_never_blocks(check, db).await,
        "damaged" => start::damaged_is_shown_read_only(check).await,
        "old-format" => start::old_format_is_rewritten(check, db, OLD_FORMAT_CALLS + 34).await,
        "agents" => agents::all_agents_and_their_plan_windows(check).await,
        "otlp" => otlp::receives_and_counts_and_stops(check, db).await,
        "team" => team::works_while_the_server_is_down(check, db).await,
        other => check.expect(false, &format!("unknown scenario {other}")),
    }
}

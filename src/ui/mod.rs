//! The desktop app: Relm4 + libadwaita over the same ledger as the CLI.

mod a11y;
mod alerts;
mod amounts;
mod app;
mod breakdown_table;
mod chart;
mod dashboard;
pub mod dashboard_data;
mod dashboard_text;
mod dashboard_widgets;
mod date_range;
mod follow;
mod format_update;
mod history;
mod history_columns;
mod ledger;
mod ledger_model;
mod ledger_row;
mod otlp;
mod plan_prefs;
mod plan_rows;
mod policies;
mod policy_editor;
mod policy_form;
mod preferences;
mod price_book;
mod price_dialog;
mod probe;
mod report_chart;
mod report_tables;
mod reports;
mod sources;
mod team_prefs;

use std::path::PathBuf;
use std::process::ExitCode;

use relm4::adw::prelude::*;
use relm4::gtk::{self, gio, glib};
use relm4::{RelmApp, adw};

use crate::config;
use crate::i18n::gettext;
use crate::store::Store;

/// Shows a file chooser and calls `on_accept` with the file picked. GTK does
/// not keep native dialogs alive, so one dropped after `show` never appears:
/// the chooser holds itself until it is answered.
fn choose_file(chooser: gtk::FileChooserNative, on_accept: impl Fn(PathBuf) + 'static) {
    let keep = std::cell::RefCell::new(Some(chooser.clone()));
    chooser.connect_response(move |c, response| {
        if response == gtk::ResponseType::Accept
            && let Some(path) = c.file().and_then(|f| f.path())
        {
            on_accept(path);
        }
        keep.borrow_mut().take();
    });
    chooser.show();
}

thread_local! {
    /// Where failures go: the window's toasts (set when the window is built).
    static FAILURES: std::cell::RefCell<Option<relm4::Sender<app::AppInput>>> =
        const { std::cell::RefCell::new(None) };
}

/// The one way a failure reaches the user: a toast saying what did not happen,
/// with the error behind its Details button (and in the log).
fn report_failure<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) {
    if let Err(e) = result {
        let details = e.to_string();
        tracing::warn!("{what}: {details}");
        FAILURES.with_borrow(|s| {
            if let Some(s) = s {
                s.emit(app::AppInput::Failed {
                    summary: what.to_string(),
                    details,
                });
            }
        });
    }
}

/// The body of a list page (Policies, Alerts, Sources): `children` stacked in a
/// column of readable width, scrolling vertically.
fn scrolling_column(children: &[&gtk::Widget], spacing: i32) -> gtk::ScrolledWindow {
    let column = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(spacing)
        .margin_top(18)
        .margin_bottom(18)
        .margin_start(12)
        .margin_end(12)
        .build();
    for child in children {
        column.append(*child);
    }
    let clamp = adw::Clamp::builder()
        .maximum_size(860)
        .child(&column)
        .build();
    gtk::ScrolledWindow::builder()
        .hscrollbar_policy(gtk::PolicyType::Never)
        .vexpand(true)
        .child(&clamp)
        .build()
}

/// Registers the compiled resources (style, shortcuts window, icons).
fn register_resources() {
    gio::resources_register_include!("tally.gresource")
        .expect("the resource bundle is compiled into the binary");
}

/// Started from the desktop menu there is no terminal to read: say what went wrong
/// in a window, then quit.
fn show_fatal(app: &adw::Application, heading: &str, body: &str) {
    let (heading, body) = (heading.to_string(), body.to_string());
    app.connect_activate(move |app| {
        let dialog = adw::MessageDialog::builder()
            .heading(&heading)
            .body(&body)
            .application(app)
            .build();
        dialog.add_response("close", &gettext("_Close"));
        dialog.connect_response(None, |d, _| d.close());
        dialog.present();
    });
    app.run_with_args::<&str>(&[]);
}

/// Runs the app on the ledger at `db` (or the default one) until it quits. One
/// instance runs per session: starting Tally again shows its window. With
/// `background` (from the autostart entry) the window starts hidden.
pub fn run(db: Option<PathBuf>, background: bool) -> ExitCode {
    choose_renderer();
    let app = adw::Application::new(Some(config::APP_ID), gio::ApplicationFlags::default());
    launch(app, db, background)
}

/// Draws with cairo and leaves GL off on a machine without a GPU, unless the
/// environment chose already. Call it before GTK starts, while the process
/// has one thread (it sets environment variables).
pub fn choose_renderer() {
    let chosen = ["GSK_RENDERER", "GDK_DEBUG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if !chosen && !has_render_node(std::path::Path::new("/dev/dri")) {
        // SAFETY: called before GTK or anything else has started a thread
        // that could read the environment.
        unsafe {
            std::env::set_var("GSK_RENDERER", "cairo");
            // GDK 4.8 loads GL for any renderer; this is its only switch.
            std::env::set_var("GDK_DEBUG", "gl-disable");
        }
    }
}

/// Whether the machine has a GPU to render with (a DRM render node). Without
/// one GTK's GL runs on the CPU (llvmpipe): measured on a 10M-record ledger,
/// the first frame took 0.73 s and 214 MB with it and 0.45 s and 75 MB with
/// cairo and GL off, which are then used unless `GSK_RENDERER` or `GDK_DEBUG`
/// say otherwise.
fn has_render_node(dri: &std::path::Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Runs the app as `app`; tests pass one of their own to drive it.
pub fn launch(app: adw::Application, db: Option<PathBuf>, background: bool) -> ExitCode {
    register_resources();
    // Style, the shortcuts window and icons come from here, whatever the app id
    // (tests run under an id of their own).
    app.set_resource_base_path(Some("/io/github/tallyapp/Tally"));
    let path = db.unwrap_or_else(config::default_db_path);
    // Three connections: the views read on one, the ledger worker writes on
    // another, and slow reads run on the third.
    // A damaged ledger, or one this user may not write, is shown read-only.
    // A page check that is due (the ledger changed while no Tally had it
    // open) runs once the window is up: on ten million calls it takes seconds.
    format_update::update_if_needed(&path);
    let three = || {
        let (reader, due) = Store::open_check_later(&path)?;
        let (writer, _) = Store::open_check_later(&path)?;
        let (background, _) = Store::open_check_later(&path)?;
        Ok::<_, crate::store::StoreError>((reader, writer, background, due))
    };
    let opened = three().or_else(|e| {
        if e.allows_reading() {
            let first = Store::open_read_only(&path)?;
            Ok((
                first.reopen_read_only()?,
                first.reopen_read_only()?,
                first,
                false,
            ))
        } else {
            Err(e)
        }
    });
    let ledger = match opened {
        Ok((reader, writer, background, due)) => {
            let ledger = ledger::Ledger::new(reader, writer, background);
            if due {
                ledger.check_pages();
            }
            ledger
        }
        Err(e) => {
            let shown = path.display().to_string();
            let detail = if e.to_string().contains(&shown) {
                e.to_string()
            } else {
                format!("{shown}: {e}")
            };
            eprintln!("tally: cannot open the ledger {detail}");
            show_fatal(&app, &gettext("Tally Cannot Open Its Ledger"), &detail);
            return ExitCode::FAILURE;
        }
    };
    app.connect_startup(|_| {
        if let Some(display) = gtk::gdk::Display::default() {
            gtk::IconTheme::for_display(&display)
                .add_resource_path("/io/github/tallyapp/Tally/icons");
        }
        gtk::Window::set_default_icon_name(config::APP_ID);
    });
    // Activated again (a second launch, a notification): show the window, hidden
    // or not. The first activation creates it (below).
    app.connect_activate(|app| {
        if let Some(window) = app.windows().first() {
            window.present();
        }
    });
    if background {
        // Started at login: watch and alert, but show nothing until asked.
        let first = std::cell::Cell::new(true);
        app.connect_window_added(move |_, window| {
            if first.replace(false) {
                let w = window.clone();
                glib::idle_add_local_once(move || w.set_visible(false));
            }
        });
    }
    let quit = gio::SimpleAction::new("quit", None);
    let a = app.clone();
    quit.connect_activate(move |_, _| a.quit());
    app.add_action(&quit);
    // When Tally already runs in this session, `run` hands over to it (which
    // shows its window) and returns at once; Relm4 then waits for one more
    // main-loop event before it returns, so one is left coming for it.
    app.connect_notify_local(Some("is-registered"), |app, _| {
        // (It also changes when the app unregisters at the end.)
        if app.is_registered() && app.is_remote() {
            glib::timeout_add_local_once(std::time::Duration::from_millis(200), || {});
        }
    });
    // GTK must not read Tally's own command-line flags.
    RelmApp::from_app(app)
        .with_args(Vec::new())
        .run::<app::App>((ledger, path));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_render_node_is_a_gpu_to_draw_with() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!super::has_render_node(&dir.path().join("missing")));
        std::fs::write(dir.path().join("card0"), "").unwrap();
        assert!(!super::has_render_node(dir.path()));
        std::fs::write(dir.path().join("renderD128"), "").unwrap();
        assert!(super::has_render_node(dir.path()));
    }
}

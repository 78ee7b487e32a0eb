//! The main window: a sidebar of views beside the current one, folding into a
//! single pane on narrow screens.

use std::rc::Rc;

use relm4::adw::prelude::*;
use relm4::gtk::{self, gio, glib};
use relm4::{
    Component, ComponentController, ComponentParts, ComponentSender, Controller, SimpleComponent,
    adw,
};

use super::a11y;
use super::alerts::{AlertsInput, AlertsOutput, AlertsView};
use super::dashboard::{DashboardInput, DashboardOutput, DashboardView};
use super::history::{HistoryInput, HistoryView};
use super::ledger::Ledger;
use super::policies::{PoliciesInput, PoliciesView};
use super::reports::{ReportsInput, ReportsView};
use super::sources::{SourcesInput, SourcesView};
use crate::config;
use crate::i18n::{fill, gettext};
use crate::store::{ReadOnly, Store};

/// The views, in sidebar order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Policies,
    History,
    Reports,
    Alerts,
    Sources,
}

impl Page {
    const ALL: [Page; 6] = [
        Page::Dashboard,
        Page::Policies,
        Page::History,
        Page::Reports,
        Page::Alerts,
        Page::Sources,
    ];

    /// The stack page's name (and the `win.view-NAME` action's).
    pub fn name(self) -> &'static str {
        match self {
            Page::Dashboard => "dashboard",
            Page::Policies => "policies",
            Page::History => "history",
            Page::Reports => "reports",
            Page::Alerts => "alerts",
            Page::Sources => "sources",
        }
    }

    fn title(self) -> String {
        gettext(match self {
            Page::Dashboard => "Dashboard",
            Page::Policies => "Policies",
            Page::History => "Usage history",
            Page::Reports => "Reports",
            Page::Alerts => "Alerts",
            Page::Sources => "Sources",
        })
    }

    fn icon(self) -> &'static str {
        match self {
            Page::Dashboard => "io.github.tallyapp.Tally-symbolic",
            Page::Policies => "emblem-ok-symbolic",
            Page::History => "view-list-symbolic",
            Page::Reports => "x-office-spreadsheet-symbolic",
            Page::Alerts => "preferences-system-notifications-symbolic",
            Page::Sources => "folder-download-symbolic",
        }
    }

    fn index(self) -> usize {
        Page::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    fn at(index: usize) -> Option<Page> {
        Page::ALL.get(index).copied()
    }
}

#[derive(Debug)]
pub enum AppInput {
    Show(Page),
    Search,
    /// Reload every view (F5).
    Reload,
    /// The ledger changed (this app's write or another process's).
    LedgerChanged,
    /// A minute passed: time alone changes budgets and forecasts.
    Tick,
    /// An alert was raised while the window is open.
    Toast(String),
    /// Something the user asked for did not happen.
    Failed {
        summary: String,
        details: String,
    },
    /// How many alerts are open.
    OpenAlerts(usize),
}

pub struct App {
    ledger: Rc<Ledger>,
    current: Page,
    /// Views that missed a change while hidden: they refresh when shown.
    stale: Vec<Page>,
    /// Set when a view was chosen, so a folded window turns to it.
    navigate: std::cell::Cell<bool>,
    dashboard: Controller<DashboardView>,
    history: Controller<HistoryView>,
    policies: Controller<PoliciesView>,
    reports: Controller<ReportsView>,
    alerts: Controller<AlertsView>,
    sources: Controller<SourcesView>,
    toasts: Vec<String>,
    failures: Vec<(String, String)>,
    open_alerts: usize,
    /// Why the ledger is open read-only, if it is (see `Ledger::read_only`).
    read_only: Option<ReadOnly>,
}

pub struct AppWidgets {
    leaflet: adw::Leaflet,
    sidebar: gtk::ListBox,
    stack: gtk::Stack,
    title: adw::WindowTitle,
    toaster: adw::ToastOverlay,
    alerts_badge: gtk::Label,
    read_only: ReadOnlyBar,
}

/// Says, above every view, that the ledger is open read-only and why; for
/// a damaged one, with the way to a backup (`show_read_only` fills it in).
struct ReadOnlyBar {
    bar: gtk::InfoBar,
    text: gtk::Label,
    restore: gtk::Button,
}

impl ReadOnlyBar {
    fn new() -> ReadOnlyBar {
        let text = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .hexpand(true)
            .build();
        let bar = gtk::InfoBar::builder()
            .message_type(gtk::MessageType::Warning)
            .revealed(false)
            .build();
        bar.set_widget_name("read-only-bar");
        bar.add_child(&text);
        let restore = gtk::Button::builder()
            .label(gettext("Restore…"))
            .action_name("win.preferences")
            .valign(gtk::Align::Center)
            .build();
        bar.add_action_widget(&restore, gtk::ResponseType::Accept);
        ReadOnlyBar { bar, text, restore }
    }

    fn show(&self, why: Option<&ReadOnly>) {
        self.bar.set_revealed(why.is_some());
        let damaged = matches!(why, Some(ReadOnly::Damaged(_)));
        self.restore.set_visible(damaged);
        self.text.set_label(&if damaged {
            gettext(
                "The ledger is damaged. Tally shows what it can still read and writes nothing to it; restore it from a backup.",
            )
        } else {
            gettext("You cannot write to this ledger here, so Tally shows it read-only.")
        });
    }
}

fn sidebar_row(page: Page, badge: Option<&gtk::Label>) -> gtk::ListBoxRow {
    let row = gtk::Box::builder()
        .spacing(12)
        .margin_top(6)
        .margin_bottom(6)
        .margin_start(6)
        .margin_end(6)
        .build();
    row.append(&gtk::Image::from_icon_name(page.icon()));
    row.append(
        &gtk::Label::builder()
            .label(page.title())
            .hexpand(true)
            .xalign(0.0)
            .build(),
    );
    if let Some(b) = badge {
        row.append(b);
    }
    let item = gtk::ListBoxRow::builder().child(&row).build();
    item.set_widget_name(&format!("sidebar-{}", page.name()));
    item
}

fn main_menu() -> gio::Menu {
    let menu = gio::Menu::new();
    let section = gio::Menu::new();
    section.append(Some(&gettext("_Preferences")), Some("win.preferences"));
    section.append(
        Some(&gettext("_Keyboard Shortcuts")),
        Some("win.show-help-overlay"),
    );
    section.append(Some(&gettext("_About Tally")), Some("win.about"));
    menu.append_section(None, &section);
    menu
}

impl App {
    fn add_actions(
        window: &adw::ApplicationWindow,
        sender: &ComponentSender<Self>,
        ledger: &Rc<Ledger>,
        db: &std::path::Path,
    ) {
        let action = |name: &str, msg: fn() -> AppInput| {
            let a = gio::SimpleAction::new(name, None);
            let s = sender.clone();
            a.connect_activate(move |_, _| s.input(msg()));
            window.add_action(&a);
        };
        let about = gio::SimpleAction::new("about", None);
        let w = window.clone();
        about.connect_activate(move |_, _| Self::show_about(&w));
        window.add_action(&about);
        let preferences = gio::SimpleAction::new("preferences", None);
        let (w, l, d) = (window.clone(), ledger.clone(), db.to_path_buf());
        preferences.connect_activate(move |_, _| {
            super::preferences::show(w.upcast_ref(), l.clone(), d.clone())
        });
        window.add_action(&preferences);
        action("search", || AppInput::Search);
        action("reload", || AppInput::Reload);
        for page in Page::ALL {
            let a = gio::SimpleAction::new(&format!("view-{}", page.name()), None);
            let s = sender.clone();
            a.connect_activate(move |_, _| s.input(AppInput::Show(page)));
            window.add_action(&a);
        }
        if let Some(app) = relm4::main_adw_application().downcast_ref::<adw::Application>() {
            app.set_accels_for_action("win.search", &["<Primary>f"]);
            app.set_accels_for_action("win.reload", &["<Primary>r", "F5"]);
            for page in Page::ALL {
                let accel = format!("<Primary>{}", page.index() + 1);
                app.set_accels_for_action(&format!("win.view-{}", page.name()), &[&accel]);
            }
            app.set_accels_for_action("app.quit", &["<Primary>q"]);
            app.set_accels_for_action("win.preferences", &["<Primary>comma"]);
            app.set_accels_for_action("window.close", &["<Primary>w"]);
        }
    }

    /// Writes the monthly report when one is due (at a month's start, or
    /// later after the computer was off), on a worker thread with its own
    /// connection; checked every minute. A failure is said once, then left
    /// until the next start.
    fn write_monthly_reports(
        ledger: &Rc<Ledger>,
        db: &std::path::Path,
        sender: &ComponentSender<Self>,
    ) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let busy = Arc::new(AtomicBool::new(false));
        let (l, db, s) = (ledger.clone(), db.to_path_buf(), sender.clone());
        let check = move || {
            let now = jiff::Timestamp::now();
            if !busy.load(Ordering::Relaxed) && l.read(|st| crate::reports::monthly_due(st, now)) {
                busy.store(true, Ordering::Relaxed);
                let (db, s, busy) = (db.clone(), s.clone(), busy.clone());
                std::thread::spawn(move || {
                    let result = Store::open(&db)
                        .map_err(anyhow::Error::from)
                        .and_then(|mut st| crate::reports::write_monthly(&mut st, now));
                    match result {
                        Ok(written) => {
                            if let Some(first) = written.first() {
                                let folder = first.parent().unwrap_or(first).display().to_string();
                                s.input(AppInput::Toast(fill(
                                    &gettext("Monthly report written to {}"),
                                    &[&folder],
                                )));
                            }
                            busy.store(false, Ordering::Relaxed);
                        }
                        // Stays busy: no retry every minute.
                        Err(e) => s.input(AppInput::Toast(format!("{:#}", e))),
                    }
                });
            }
            glib::ControlFlow::Continue
        };
        glib::timeout_add_seconds_local(60, check.clone());
        glib::timeout_add_seconds_local_once(10, move || {
            check();
        });
    }

    fn show(&mut self, page: Page) {
        self.current = page;
        self.navigate.set(true);
        if let Some(i) = self.stale.iter().position(|p| *p == page) {
            self.stale.remove(i);
            self.refresh(page);
        }
    }

    /// Tells one view to read the ledger again.
    fn refresh(&self, page: Page) {
        match page {
            Page::Dashboard => self.dashboard.emit(DashboardInput::Refresh),
            Page::Policies => self.policies.emit(PoliciesInput::Refresh),
            Page::History => self.history.emit(HistoryInput::LedgerChanged),
            Page::Reports => self.reports.emit(ReportsInput::Reload),
            Page::Alerts => self.alerts.emit(AlertsInput::Refresh),
            Page::Sources => self.sources.emit(SourcesInput::Refresh),
        }
    }

    fn show_about(window: &adw::ApplicationWindow) {
        let about = adw::AboutWindow::builder()
            .transient_for(window)
            .application_name("Tally")
            .application_icon(config::APP_ID)
            .version(config::VERSION)
            .developer_name(gettext("The Tally developers"))
            .comments(gettext(
                "Track what you spend on AI APIs and hold it to budgets.",
            ))
            .website("https://github.com/tallyapp/tally")
            .issue_url("https://github.com/tallyapp/tally/issues")
            .license_type(gtk::License::Gpl30)
            .translator_credits(gettext("translator-credits"))
            .build();
        about.present();
    }
}

impl SimpleComponent for App {
    type Init = (Rc<Ledger>, std::path::PathBuf);
    type Input = AppInput;
    type Output = ();
    type Root = adw::ApplicationWindow;
    type Widgets = AppWidgets;

    fn init_root() -> adw::ApplicationWindow {
        adw::ApplicationWindow::builder()
            .title("Tally")
            .default_width(1100)
            .default_height(700)
            .width_request(360)
            .height_request(360)
            .icon_name(config::APP_ID)
            .build()
    }

    fn init(
        (ledger, db): (Rc<Ledger>, std::path::PathBuf),
        window: adw::ApplicationWindow,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        super::amounts::load(&ledger);
        let history = HistoryView::builder().launch(ledger.clone()).detach();
        let ledger_for_window = ledger.clone();
        let dashboard =
            DashboardView::builder()
                .launch(ledger.clone())
                .forward(sender.input_sender(), |out| match out {
                    DashboardOutput::Show(page) => AppInput::Show(page),
                });
        let policies = PoliciesView::builder().launch(ledger.clone()).detach();
        let reports = ReportsView::builder().launch(db.clone()).detach();
        let sources = SourcesView::builder()
            .launch((ledger.clone(), db.clone()))
            .detach();
        let alerts = AlertsView::builder()
            .launch(ledger)
            .forward(sender.input_sender(), |out| match out {
                AlertsOutput::Raised(title) => AppInput::Toast(title),
                AlertsOutput::Open(n) => AppInput::OpenAlerts(n),
            });
        let alerts_badge = gtk::Label::builder()
            .css_classes(["alerts-badge"])
            .visible(false)
            .build();
        alerts_badge.set_widget_name("alerts-badge");

        let sidebar = gtk::ListBox::builder()
            .css_classes(["navigation-sidebar"])
            .vexpand(true)
            .build();
        a11y::set_label(&sidebar, &gettext("Views"));
        for page in Page::ALL {
            sidebar.append(&sidebar_row(
                page,
                (page == Page::Alerts).then_some(&alerts_badge),
            ));
        }
        let s = sender.clone();
        sidebar.connect_row_activated(move |_, row| {
            if let Some(page) = Page::at(row.index().max(0) as usize) {
                s.input(AppInput::Show(page));
            }
        });

        let menu_button = gtk::MenuButton::builder()
            .icon_name("open-menu-symbolic")
            .menu_model(&main_menu())
            .primary(true)
            .tooltip_text(gettext("Main Menu"))
            .build();
        let sidebar_header = adw::HeaderBar::builder()
            .title_widget(&adw::WindowTitle::new("Tally", ""))
            .show_end_title_buttons(false)
            .build();
        sidebar_header.pack_end(&menu_button);
        let sidebar_pane = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .width_request(200)
            .build();
        sidebar_pane.append(&sidebar_header);
        sidebar_pane.append(&sidebar);

        let title = adw::WindowTitle::new(&Page::Dashboard.title(), "");
        let back = gtk::Button::builder()
            .icon_name("go-previous-symbolic")
            .tooltip_text(gettext("Back"))
            .build();
        a11y::set_label(&back, &gettext("Back to the view list"));
        let reload = gtk::Button::builder()
            .icon_name("view-refresh-symbolic")
            .tooltip_text(gettext("Reload"))
            .action_name("win.reload")
            .build();
        let content_header = adw::HeaderBar::builder().title_widget(&title).build();
        content_header.pack_start(&back);
        content_header.pack_end(&reload);

        // Not homogeneous: a homogeneous stack measures every page, so the
        // history list built its rows before the first frame of the dashboard.
        let stack = gtk::Stack::builder()
            .vexpand(true)
            .hexpand(true)
            .hhomogeneous(false)
            .vhomogeneous(false)
            .build();
        stack.add_named(dashboard.widget(), Some(Page::Dashboard.name()));
        stack.add_named(policies.widget(), Some(Page::Policies.name()));
        stack.add_named(history.widget(), Some(Page::History.name()));
        stack.add_named(reports.widget(), Some(Page::Reports.name()));
        stack.add_named(alerts.widget(), Some(Page::Alerts.name()));
        stack.add_named(sources.widget(), Some(Page::Sources.name()));
        let content_pane = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .hexpand(true)
            .build();
        content_pane.append(&content_header);
        let read_only_bar = ReadOnlyBar::new();
        content_pane.append(&read_only_bar.bar);
        content_pane.append(&stack);

        let leaflet = adw::Leaflet::builder().can_navigate_back(true).build();
        leaflet.append(&sidebar_pane);
        let separator = leaflet.append(&gtk::Separator::new(gtk::Orientation::Vertical));
        separator.set_navigatable(false);
        leaflet.append(&content_pane);
        leaflet.set_visible_child(&content_pane);
        let l = leaflet.clone();
        back.connect_clicked(move |_| {
            l.navigate(adw::NavigationDirection::Back);
        });
        // Folded, each pane has its own window buttons and the content a way back.
        leaflet
            .bind_property("folded", &back, "visible")
            .sync_create()
            .build();
        leaflet
            .bind_property("folded", &sidebar_header, "show-end-title-buttons")
            .sync_create()
            .build();
        leaflet
            .bind_property("folded", &content_header, "show-start-title-buttons")
            .sync_create()
            .build();

        let h = history.sender().clone();
        leaflet.connect_folded_notify(move |l| h.emit(HistoryInput::Compact(l.is_folded())));
        history.emit(HistoryInput::Compact(leaflet.is_folded()));
        let toaster = adw::ToastOverlay::new();
        toaster.set_child(Some(&leaflet));
        window.set_content(Some(&toaster));
        Self::add_actions(&window, &sender, &ledger_for_window, &db);
        // With "Run in Background" on, closing hides the window: the app keeps
        // following sources and raising alerts, and opening Tally again shows it.
        let l = ledger_for_window.clone();
        window.connect_close_request(move |w| {
            if super::preferences::runs_in_background(&l) {
                w.set_visible(false);
                glib::Propagation::Stop
            } else {
                glib::Propagation::Proceed
            }
        });
        if let Some(row) = sidebar.row_at_index(0) {
            sidebar.select_row(Some(&row));
        }
        Self::write_monthly_reports(&ledger_for_window, &db, &sender);
        let failures = sender.input_sender().clone();
        super::FAILURES.with_borrow_mut(|f| *f = Some(failures));
        // One watcher for the whole window: each change reaches each view once.
        let s = sender.clone();
        ledger_for_window.watch(move || s.input(AppInput::LedgerChanged));
        super::probe::heartbeat();
        if super::probe::wants("history") {
            sender.input(AppInput::Show(Page::History));
        }
        let s = sender.clone();
        glib::timeout_add_seconds_local(60, move || {
            s.input(AppInput::Tick);
            glib::ControlFlow::Continue
        });

        let read_only = ledger_for_window.read_only();
        let model = App {
            ledger: ledger_for_window,
            current: Page::Dashboard,
            stale: Vec::new(),
            navigate: std::cell::Cell::new(false),
            dashboard,
            history,
            policies,
            reports,
            alerts,
            sources,
            toasts: Vec::new(),
            failures: Vec::new(),
            open_alerts: 0,
            read_only,
        };
        let widgets = AppWidgets {
            leaflet,
            sidebar,
            stack,
            title,
            toaster,
            alerts_badge,
            read_only: read_only_bar,
        };
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: AppInput, _sender: ComponentSender<Self>) {
        self.toasts.clear();
        self.failures.clear();
        match msg {
            AppInput::Show(page) => self.show(page),
            AppInput::Search => {
                self.show(Page::History);
                self.history.emit(HistoryInput::FocusSearch);
            }
            AppInput::Reload => {
                self.stale.clear();
                for page in Page::ALL {
                    self.refresh(page);
                }
            }
            AppInput::LedgerChanged => {
                // A check found the ledger damaged (stop following the logs
                // into it), or a restore healed it (follow them again).
                let now = self.ledger.read_only();
                if now.is_some() != self.read_only.is_some() {
                    self.sources.emit(SourcesInput::Restart);
                }
                self.read_only = now;
                // The alerts view counts open alerts for the sidebar's badge
                // and raises toasts, so it follows every change; the others
                // refresh now if shown, or when they are.
                self.refresh(Page::Alerts);
                for page in Page::ALL.into_iter().filter(|p| *p != Page::Alerts) {
                    if page == self.current {
                        self.refresh(page);
                    } else if !self.stale.contains(&page) {
                        self.stale.push(page);
                    }
                }
            }
            // Its end is heard as a change, which refreshes what is shown.
            AppInput::Tick => self.ledger.evaluate(),
            AppInput::Toast(title) => self.toasts.push(title),
            AppInput::Failed { summary, details } => self.failures.push((summary, details)),
            AppInput::OpenAlerts(n) => self.open_alerts = n,
        }
    }

    fn update_view(&self, widgets: &mut AppWidgets, _sender: ComponentSender<Self>) {
        widgets.stack.set_visible_child_name(self.current.name());
        widgets.title.set_title(&self.current.title());
        if let Some(row) = widgets.sidebar.row_at_index(self.current.index() as i32) {
            widgets.sidebar.select_row(Some(&row));
        }
        for title in &self.toasts {
            let toast = adw::Toast::builder()
                .title(glib::markup_escape_text(title))
                .button_label(gettext("Show"))
                .action_name("win.view-alerts")
                .build();
            widgets.toaster.add_toast(toast);
        }
        for (summary, details) in &self.failures {
            let toast = adw::Toast::builder()
                .title(glib::markup_escape_text(summary))
                .button_label(gettext("Details"))
                .priority(adw::ToastPriority::High)
                .build();
            let (heading, body, w) = (summary.clone(), details.clone(), widgets.toaster.clone());
            toast.connect_button_clicked(move |_| {
                let dialog = adw::MessageDialog::builder()
                    .heading(&heading)
                    .body(&body)
                    .modal(true)
                    .build();
                dialog.set_transient_for(w.root().and_downcast::<gtk::Window>().as_ref());
                dialog.add_response("close", &gettext("_Close"));
                dialog.present();
            });
            widgets.toaster.add_toast(toast);
        }
        widgets.read_only.show(self.read_only.as_ref());
        widgets.alerts_badge.set_visible(self.open_alerts > 0);
        widgets
            .alerts_badge
            .set_label(&self.open_alerts.to_string());
        if self.navigate.take() && widgets.leaflet.is_folded() {
            widgets.leaflet.navigate(adw::NavigationDirection::Forward);
        }
    }
}

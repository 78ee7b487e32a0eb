//! The Alerts view: open alerts (or all), newest first, with acknowledge and
//! resolve. It also notices alerts raised while the window is open, by any
//! process, and tells the window so it can show a toast.

use std::rc::Rc;

use jiff::Timestamp;
use relm4::adw::prelude::*;
use relm4::gtk::{self, glib};
use relm4::{ComponentParts, ComponentSender, SimpleComponent, adw};

use super::a11y;
use super::ledger::Ledger;
use crate::core::alerts::{AlertKind, Severity};
use crate::i18n::local_time;
use crate::i18n::{fill, gettext};
use crate::store::{Alert, AlertState};

const SHOWN: usize = 500;

#[derive(Debug)]
pub enum AlertsInput {
    Refresh,
    ShowAll(bool),
    Acknowledge(i64),
    Resolve(i64),
}

#[derive(Debug)]
pub enum AlertsOutput {
    /// A new alert arrived: its title, for a toast.
    Raised(String),
    /// How many alerts are open, for the sidebar.
    Open(usize),
}

pub struct AlertsView {
    ledger: Rc<Ledger>,
    alerts: Vec<Alert>,
    show_all: bool,
    /// The newest alert seen, so only later ones make a toast; `None` until the
    /// first read, whose alerts are listed but not toasted.
    newest: Option<i64>,
}

pub struct AlertsWidgets {
    stack: gtk::Stack,
    list: gtk::ListBox,
}

fn severity_icon(s: Severity) -> &'static str {
    match s {
        Severity::Info => "dialog-information-symbolic",
        Severity::Warning => "dialog-warning-symbolic",
        Severity::Critical => "dialog-error-symbolic",
    }
}

fn kind_name(k: AlertKind) -> String {
    match k {
        AlertKind::ThresholdWarning => gettext("Soft limit reached"),
        AlertKind::ThresholdCritical => gettext("Nearly at the limit"),
        AlertKind::LimitExceeded => gettext("Limit exceeded"),
        AlertKind::ForecastOverrun => gettext("Forecast over the limit"),
        AlertKind::Anomaly => gettext("Unusual usage"),
        AlertKind::PolicyViolation => gettext("Call blocked"),
    }
}

fn state_name(s: AlertState) -> String {
    match s {
        AlertState::Active => gettext("Open"),
        AlertState::Acknowledged => gettext("Acknowledged"),
        AlertState::Resolved => gettext("Resolved"),
    }
}

fn alert_row(a: &Alert, sender: &ComponentSender<AlertsView>) -> adw::ActionRow {
    let row = adw::ActionRow::builder()
        .title(glib::markup_escape_text(&a.title))
        .subtitle(glib::markup_escape_text(&format!(
            "{}\n{} · {} · {}",
            a.body,
            local_time(a.at),
            kind_name(a.kind),
            state_name(a.state)
        )))
        .subtitle_lines(3)
        .build();
    row.set_widget_name(&format!("alert-row-{}", a.id));
    let icon = gtk::Image::from_icon_name(severity_icon(a.severity));
    icon.add_css_class(match a.severity {
        Severity::Info => "accent",
        Severity::Warning => "warning",
        Severity::Critical => "error",
    });
    a11y::set_label(&icon, a.severity.name());
    row.add_prefix(&icon);
    if a.state == AlertState::Active {
        let ack = gtk::Button::builder()
            .label(gettext("Acknowledge"))
            .valign(gtk::Align::Center)
            .build();
        ack.set_widget_name("alert-ack");
        let (s, id) = (sender.clone(), a.id);
        ack.connect_clicked(move |_| s.input(AlertsInput::Acknowledge(id)));
        row.add_suffix(&ack);
    }
    if a.state != AlertState::Resolved {
        let resolve = gtk::Button::builder()
            .icon_name("object-select-symbolic")
            .tooltip_text(gettext("Resolve"))
            .valign(gtk::Align::Center)
            .css_classes(["flat"])
            .build();
        a11y::set_label(&resolve, &fill(&gettext("Resolve “{}”"), &[&a.title]));
        let (s, id) = (sender.clone(), a.id);
        resolve.connect_clicked(move |_| s.input(AlertsInput::Resolve(id)));
        row.add_suffix(&resolve);
    }
    row
}

impl AlertsView {
    fn reload(&mut self, sender: &ComponentSender<Self>) {
        let states: &[AlertState] = if self.show_all {
            &[]
        } else {
            &[AlertState::Active, AlertState::Acknowledged]
        };
        let Ok(alerts) = self.ledger.read(|s| s.alerts(states, SHOWN)) else {
            return;
        };
        if let Some(seen) = self.newest {
            for a in alerts.iter().rev().filter(|a| a.id > seen) {
                let _ = sender.output(AlertsOutput::Raised(a.title.clone()));
            }
        }
        let max = alerts.iter().map(|a| a.id).max().unwrap_or(0);
        self.newest = Some(self.newest.unwrap_or(0).max(max));
        let open = alerts
            .iter()
            .filter(|a| a.state == AlertState::Active)
            .count();
        let _ = sender.output(AlertsOutput::Open(open));
        self.alerts = alerts;
    }
}

impl SimpleComponent for AlertsView {
    type Init = Rc<Ledger>;
    type Input = AlertsInput;
    type Output = AlertsOutput;
    type Root = gtk::Box;
    type Widgets = AlertsWidgets;

    fn init_root() -> gtk::Box {
        gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .build()
    }

    fn init(
        ledger: Rc<Ledger>,
        root: gtk::Box,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        root.set_widget_name("alerts-view");
        let filter =
            gtk::DropDown::from_strings(&[&gettext("Open alerts"), &gettext("All alerts")]);
        filter.set_widget_name("alerts-filter");
        filter.set_halign(gtk::Align::Start);
        a11y::set_label(&filter, &gettext("Which alerts to show"));
        let s = sender.clone();
        filter.connect_selected_notify(move |d| s.input(AlertsInput::ShowAll(d.selected() == 1)));

        let list = gtk::ListBox::builder()
            .selection_mode(gtk::SelectionMode::None)
            .css_classes(["boxed-list"])
            .valign(gtk::Align::Start)
            .build();
        list.set_widget_name("alerts-list");
        a11y::set_label(&list, &gettext("Alerts"));
        let scroller = super::scrolling_column(&[filter.upcast_ref(), list.upcast_ref()], 12);
        let empty = adw::StatusPage::builder()
            .icon_name("object-select-symbolic")
            .title(gettext("No open alerts"))
            .description(gettext(
                "Alerts appear here, and as desktop notifications, when a budget reaches its soft limit, 95 % or its limit, is forecast to run over, or a day is far above usual.",
            ))
            .vexpand(true)
            .build();
        empty.set_widget_name("alerts-empty");
        let show_all = gtk::Button::builder()
            .label(gettext("Show Past Alerts"))
            .halign(gtk::Align::Center)
            .css_classes(["pill"])
            .build();
        let f = filter.clone();
        show_all.connect_clicked(move |_| f.set_selected(1));
        empty.set_child(Some(&show_all));
        let stack = gtk::Stack::builder()
            .transition_type(gtk::StackTransitionType::Crossfade)
            .build();
        stack.add_named(&scroller, Some("list"));
        stack.add_named(&empty, Some("empty"));
        root.append(&stack);

        let mut model = AlertsView {
            ledger,
            alerts: Vec::new(),
            show_all: false,
            newest: None,
        };
        model.reload(&sender);
        let widgets = AlertsWidgets { stack, list };
        // The first update fills the view.
        sender.input(AlertsInput::Refresh);
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: AlertsInput, sender: ComponentSender<Self>) {
        let now = Timestamp::now();
        let me = crate::config::user_name();
        match msg {
            AlertsInput::Refresh => {}
            AlertsInput::ShowAll(all) => self.show_all = all,
            AlertsInput::Acknowledge(id) => self.ledger.write(
                move |s| s.acknowledge_alert(id, &me, now),
                |r| super::report_failure(&gettext("The alert was not acknowledged"), r),
            ),
            AlertsInput::Resolve(id) => self.ledger.write(
                move |s| s.resolve_alert(id, now),
                |r| super::report_failure(&gettext("The alert was not resolved"), r),
            ),
        }
        self.reload(&sender);
    }

    fn update_view(&self, widgets: &mut AlertsWidgets, sender: ComponentSender<Self>) {
        while let Some(child) = widgets.list.first_child() {
            widgets.list.remove(&child);
        }
        for a in &self.alerts {
            widgets.list.append(&alert_row(a, &sender));
        }
        let page = if self.alerts.is_empty() && !self.show_all {
            "empty"
        } else {
            "list"
        };
        widgets.stack.set_visible_child_name(page);
    }
}

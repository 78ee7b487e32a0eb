//! The policy editor: a dialog whose fields are checked as they are typed, with
//! the first problem shown under them and Save enabled only when there is none.

use std::cell::RefCell;
use std::rc::Rc;

use jiff::Timestamp;
use relm4::adw;
use relm4::adw::prelude::*;
use relm4::gtk;

use super::policy_form::{self, Form};
use super::preferences::PolicyDefaults;
use crate::core::policy::Policy;
use crate::i18n::gettext;
use crate::i18n::local_time;
use crate::store::AuditEntry;

struct Fields {
    name: adw::EntryRow,
    scope: adw::ComboRow,
    pattern: adw::EntryRow,
    metric: adw::ComboRow,
    limit: adw::EntryRow,
    period: adw::ComboRow,
    detail: adw::EntryRow,
    zone: adw::EntryRow,
    action: adw::ComboRow,
    soft: gtk::SpinButton,
}

impl Fields {
    fn form(&self) -> Form {
        Form {
            name: self.name.text().to_string(),
            scope_kind: self.scope.selected() as usize,
            pattern: self.pattern.text().to_string(),
            metric: self.metric.selected() as usize,
            limit: self.limit.text().to_string(),
            period_kind: self.period.selected() as usize,
            period_detail: self.detail.text().to_string(),
            soft_percent: self.soft.value() as u32,
            action: self.action.selected() as usize,
            zone: self.zone.text().to_string(),
        }
    }

    fn fill(&self, f: &Form) {
        self.name.set_text(&f.name);
        self.scope.set_selected(f.scope_kind as u32);
        self.pattern.set_text(&f.pattern);
        self.metric.set_selected(f.metric as u32);
        self.limit.set_text(&f.limit);
        self.period.set_selected(f.period_kind as u32);
        self.detail.set_text(&f.period_detail);
        self.zone.set_text(&f.zone);
        self.action.set_selected(f.action as u32);
        self.soft.set_value(f.soft_percent.into());
    }

    /// Shows only the fields the chosen kinds need, titled for what they hold.
    fn adapt(&self) {
        self.pattern.set_visible(self.scope.selected() != 0);
        let (visible, title) =
            match policy_form::PERIOD_KINDS[(self.period.selected() as usize).min(5)] {
                "weekly" => (true, gettext("Week starts on (e.g. monday)")),
                "monthly" => (true, gettext("Reset day of the month (1–31)")),
                "rolling" => (true, gettext("Hours")),
                "custom" => (
                    true,
                    gettext("From/to, e.g. 2026-01-01T00:00:00Z/2026-04-01T00:00:00Z"),
                ),
                _ => (false, String::new()),
            };
        self.detail.set_visible(visible);
        self.detail.set_title(&title);
        let unit = if self.metric.selected() == 0 {
            gettext("Limit in US dollars")
        } else {
            gettext("Limit")
        };
        self.limit.set_title(&unit);
    }
}

fn combo(title: &str, names: &[String], name: &str) -> adw::ComboRow {
    let model = gtk::StringList::new(&names.iter().map(String::as_str).collect::<Vec<_>>());
    let row = adw::ComboRow::builder().title(title).model(&model).build();
    row.set_widget_name(name);
    row
}

fn entry(title: &str, name: &str) -> adw::EntryRow {
    let row = adw::EntryRow::builder().title(title).build();
    row.set_widget_name(name);
    row
}

fn group(title: &str) -> adw::PreferencesGroup {
    adw::PreferencesGroup::builder().title(title).build()
}

/// Tells the editor how saving went: it closes, or shows why not.
pub type Saved = Box<dyn FnOnce(Result<(), String>)>;

/// Opens the editor for `existing` (or a new policy). `save` stores the policy
/// and returns an error to show (a taken name, say), or `Ok` to close.
pub fn open(
    parent: &gtk::Window,
    existing: Option<Policy>,
    audit: Vec<AuditEntry>,
    defaults: PolicyDefaults,
    save: impl Fn(Policy, Saved) + 'static,
) {
    let title = if existing.is_some() {
        gettext("Edit Policy")
    } else {
        gettext("New Policy")
    };
    let window = adw::Window::builder()
        .transient_for(parent)
        .modal(true)
        .title(&title)
        .default_width(520)
        .default_height(680)
        .build();
    window.set_widget_name("policy-editor");

    let fields = Rc::new(Fields {
        name: entry(&gettext("Name"), "policy-name"),
        scope: combo(
            &gettext("Counts"),
            &policy_form::scope_names(),
            "policy-scope",
        ),
        pattern: entry(&gettext("Named (* matches anything)"), "policy-pattern"),
        metric: combo(
            &gettext("Measure"),
            &policy_form::metric_names(),
            "policy-metric",
        ),
        limit: entry(&gettext("Limit in US dollars"), "policy-limit"),
        period: combo(
            &gettext("Period"),
            &policy_form::period_names(),
            "policy-period",
        ),
        detail: entry("", "policy-period-detail"),
        zone: entry(&gettext("Time zone"), "policy-zone"),
        action: combo(
            &gettext("At the limit"),
            &policy_form::action_names(),
            "policy-action",
        ),
        soft: gtk::SpinButton::with_range(1.0, 100.0, 1.0),
    });
    fields.soft.set_valign(gtk::Align::Center);
    fields.soft.set_widget_name("policy-soft");

    let what = group(&gettext("What it counts"));
    what.add(&fields.name);
    what.add(&fields.scope);
    what.add(&fields.pattern);
    what.add(&fields.metric);
    what.add(&fields.limit);
    let when = group(&gettext("When it resets"));
    when.add(&fields.period);
    when.add(&fields.detail);
    when.add(&fields.zone);
    let then = group(&gettext("What happens"));
    let soft_row = adw::ActionRow::builder()
        .title(gettext("Warn from (percent of the limit)"))
        .build();
    soft_row.add_suffix(&fields.soft);
    then.add(&soft_row);
    then.add(&fields.action);
    // A new policy of a ledger in a team can be the team's (an existing
    // one stays what it is); the editor says which a team policy is.
    let (team_row, team_switch) = super::preferences::switch_row(
        &gettext("For the Whole Team"),
        &gettext("Kept on the team’s server; every machine counts everyone’s calls against it"),
        false,
    );
    team_switch.set_widget_name("policy-team");
    match &existing {
        None if defaults.in_team => then.add(&team_row),
        Some(p) if p.team.is_some() => {
            team_switch.set_active(true);
            team_switch.set_sensitive(false);
            then.add(&team_row);
        }
        _ => {}
    }

    let error = gtk::Label::builder()
        .xalign(0.0)
        .wrap(true)
        .css_classes(["error"])
        .build();
    error.set_widget_name("policy-error");

    let content = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(24)
        .margin_top(24)
        .margin_bottom(24)
        .margin_start(12)
        .margin_end(12)
        .build();
    content.append(&what);
    content.append(&when);
    content.append(&then);
    content.append(&error);
    if !audit.is_empty() {
        let log = group(&gettext("Changes"));
        for e in audit.iter().rev() {
            let row = adw::ActionRow::builder()
                .title(format!("{} · {} · {}", local_time(e.at), e.action, e.actor))
                .subtitle(&e.detail)
                .build();
            log.add(&row);
        }
        content.append(&log);
    }
    let clamp = adw::Clamp::builder()
        .maximum_size(560)
        .child(&content)
        .build();
    let scrolled = gtk::ScrolledWindow::builder()
        .hscrollbar_policy(gtk::PolicyType::Never)
        .vexpand(true)
        .child(&clamp)
        .build();

    let cancel = gtk::Button::with_mnemonic(&gettext("_Cancel"));
    let save_button = gtk::Button::builder()
        .label(gettext("_Save"))
        .use_underline(true)
        .css_classes(["suggested-action"])
        .build();
    save_button.set_widget_name("policy-save");
    let header = adw::HeaderBar::builder()
        .show_end_title_buttons(false)
        .show_start_title_buttons(false)
        .build();
    header.pack_start(&cancel);
    header.pack_end(&save_button);
    let root = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .build();
    root.append(&header);
    root.append(&scrolled);
    window.set_content(Some(&root));

    let form = match &existing {
        Some(p) => Form::from_policy(p),
        None => Form {
            period_kind: 2,
            period_detail: "1".into(),
            soft_percent: defaults.soft.into(),
            zone: defaults.zone.clone(),
            ..Form::default()
        },
    };
    fields.fill(&form);
    fields.adapt();

    let base = Rc::new(existing);
    // The first check waits for the first edit, so a new form does not open in red.
    let touched = Rc::new(std::cell::Cell::new(base.is_some()));
    let validate = {
        let (fields, error, save_button, base, touched) = (
            fields.clone(),
            error.clone(),
            save_button.clone(),
            base.clone(),
            touched.clone(),
        );
        Rc::new(move || {
            fields.adapt();
            let result = fields
                .form()
                .to_policy(base.as_ref().as_ref(), Timestamp::now());
            save_button.set_sensitive(result.is_ok());
            let message = match (&result, touched.get()) {
                (Err(e), true) => e.clone(),
                _ => String::new(),
            };
            error.set_label(&message);
            error.set_visible(!message.is_empty());
        })
    };
    for e in [
        &fields.name,
        &fields.pattern,
        &fields.limit,
        &fields.detail,
        &fields.zone,
    ] {
        let (v, t) = (validate.clone(), touched.clone());
        e.connect_changed(move |_| {
            t.set(true);
            v();
        });
    }
    for c in [
        &fields.scope,
        &fields.metric,
        &fields.period,
        &fields.action,
    ] {
        let v = validate.clone();
        c.connect_selected_notify(move |_| v());
    }
    // A new kind of period gets a detail that fits it.
    let (f, week_start) = (fields.clone(), defaults.week_start);
    fields.period.connect_selected_notify(move |c| {
        let kind = policy_form::PERIOD_KINDS[(c.selected() as usize).min(5)];
        if let Some(d) = policy_form::detail_for(kind, &f.detail.text(), week_start) {
            f.detail.set_text(&d);
        }
    });
    let v = validate.clone();
    fields.soft.connect_value_changed(move |_| v());
    validate();

    let w = window.clone();
    cancel.connect_clicked(move |_| w.close());
    let save = Rc::new(RefCell::new(save));
    let (w, f, err) = (window.clone(), fields.clone(), error.clone());
    save_button.connect_clicked(move |button| {
        let for_team = team_switch.is_active();
        let shown = {
            let err = err.clone();
            move |message: &str| {
                err.set_label(message);
                err.set_visible(true);
            }
        };
        match f.form().to_policy(base.as_ref().as_ref(), Timestamp::now()) {
            Ok(mut p) => {
                if for_team && p.team.is_none() {
                    p.team = Some(crate::team::policies::new_uid());
                }
                // Saved on the ledger worker (a team's on the server): the
                // editor waits for the answer.
                button.set_sensitive(false);
                let (w, b) = (w.clone(), button.clone());
                (save.borrow())(
                    p,
                    Box::new(move |result| match result {
                        Ok(()) => w.close(),
                        Err(message) => {
                            b.set_sensitive(true);
                            shown(&message);
                        }
                    }),
                );
            }
            Err(message) => shown(&message),
        }
    });
    window.present();
}

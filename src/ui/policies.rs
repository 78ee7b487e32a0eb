//! The Policies view: every budget with a bar of how much is used, coloured by
//! state; add and edit through the editor; override, reset, switch off and
//! delete from each row's menu, with confirmation.

use super::amounts;
use std::rc::Rc;

use jiff::{SignedDuration, Timestamp};
use relm4::adw::prelude::*;
use relm4::gtk::{self, gio, glib};
use relm4::{ComponentParts, ComponentSender, SimpleComponent, adw};

use super::a11y;
use super::ledger::Ledger;
use super::policy_editor;
use crate::core::period::Period;
use crate::core::policy::{Override, Policy, State};
use crate::engine::{self, PolicyStatus};
use crate::i18n::{fill, gettext};
use crate::team::policies::Change;

#[derive(Debug)]
pub enum PoliciesInput {
    Refresh,
    Add,
    /// A row was activated: edit the policy at this position.
    Activated(usize),
    Edit(i64),
    Override(i64),
    EndOverride(i64),
    Reset(i64),
    Toggle(i64),
    Delete(i64),
}

pub struct PoliciesView {
    ledger: Rc<Ledger>,
    /// For the dialogs, which need a window to belong to.
    root: gtk::Box,
    statuses: Vec<PolicyStatus>,
    error: Option<String>,
}

pub struct PoliciesWidgets {
    stack: gtk::Stack,
    list: gtk::ListBox,
    error: gtk::Label,
}

use crate::i18n::{local_time, percent};

fn state_name(s: &PolicyStatus) -> String {
    if !s.enabled {
        return gettext("Off");
    }
    match s.state {
        State::Ok => gettext("On track"),
        State::Warning => gettext("Warning"),
        State::Critical => gettext("Critical"),
        State::Exceeded => gettext("Exceeded"),
    }
}

pub(super) fn state_class(s: &PolicyStatus) -> &'static str {
    if !s.enabled {
        return "state-off";
    }
    match s.state {
        State::Ok => "state-ok",
        State::Warning => "state-warning",
        State::Critical => "state-critical",
        State::Exceeded => "state-exceeded",
    }
}

/// A period as a person says it: "daily", "monthly from the 15th", "last 24 hours".
pub fn period_label(text: &str) -> String {
    match text.parse::<Period>() {
        Ok(Period::Daily) => gettext("daily"),
        Ok(Period::Weekly { start }) => fill(&gettext("weekly from {}"), &[&weekday_label(start)]),
        Ok(Period::Monthly { reset_day: 1 }) => gettext("monthly"),
        Ok(Period::Monthly { reset_day }) => {
            fill(&gettext("monthly from day {}"), &[&reset_day.to_string()])
        }
        Ok(Period::Rolling { hours }) => fill(&gettext("last {} hours"), &[&hours.to_string()]),
        Ok(Period::Custom { start, end }) => format!("{} – {}", local_time(start), local_time(end)),
        Ok(Period::Manual) => gettext("until reset by hand"),
        Err(_) => text.to_string(),
    }
}

pub fn weekday_label(d: jiff::civil::Weekday) -> String {
    use jiff::civil::Weekday::*;
    match d {
        Monday => gettext("Monday"),
        Tuesday => gettext("Tuesday"),
        Wednesday => gettext("Wednesday"),
        Thursday => gettext("Thursday"),
        Friday => gettext("Friday"),
        Saturday => gettext("Saturday"),
        Sunday => gettext("Sunday"),
    }
}

/// What a row says under the name: where the money goes and when it resets.
fn subtitle(s: &PolicyStatus) -> String {
    let m = s.metric;
    let mut parts = Vec::new();
    if s.team {
        parts.push(gettext("the team’s, on every machine"));
    }
    parts.extend([
        if s.scope == "global" {
            gettext("everything")
        } else {
            s.scope.clone()
        },
        period_label(&s.period),
    ]);
    parts.push(match s.resets_at {
        Some(at) => fill(&gettext("resets {}"), &[&local_time(at)]),
        None => gettext("no automatic reset"),
    });
    if let Some(p) = s.projection {
        parts.push(fill(
            &gettext("forecast {}"),
            &[&m.display_in(&amounts::current(), p.expected)],
        ));
    }
    if let Some(until) = s.override_until {
        parts.push(fill(&gettext("overridden until {}"), &[&local_time(until)]));
    }
    parts.join(" · ")
}

fn row_menu(id: i64, s: &PolicyStatus) -> gio::Menu {
    let menu = gio::Menu::new();
    let item = |label: &str, action: &str| {
        let i = gio::MenuItem::new(Some(label), None);
        i.set_action_and_target_value(Some(action), Some(&id.to_variant()));
        i
    };
    menu.append_item(&item(&gettext("_Edit…"), "policies.edit"));
    if s.override_until.is_some() {
        menu.append_item(&item(&gettext("End _Override"), "policies.end-override"));
    } else {
        menu.append_item(&item(&gettext("_Override…"), "policies.override"));
    }
    menu.append_item(&item(&gettext("_Reset Count…"), "policies.reset"));
    let toggle = if s.enabled {
        gettext("Switch O_ff")
    } else {
        gettext("Switch O_n")
    };
    menu.append_item(&item(&toggle, "policies.toggle"));
    menu.append_item(&item(&gettext("_Delete…"), "policies.delete"));
    menu
}

fn policy_row(s: &PolicyStatus) -> gtk::ListBoxRow {
    let m = s.metric;
    let name = gtk::Label::builder()
        .label(&s.name)
        .xalign(0.0)
        .ellipsize(gtk::pango::EllipsizeMode::End)
        .hexpand(true)
        .css_classes(["heading"])
        .build();
    let figures = gtk::Label::builder()
        .label(fill(
            &gettext("{} of {} · {}"),
            &[
                &m.display_in(&amounts::current(), s.used),
                &m.display_in(&amounts::current(), s.limit),
                &percent(s.basis_points),
            ],
        ))
        .css_classes(["amount"])
        .build();
    let pill = gtk::Label::builder()
        .label(state_name(s))
        .css_classes(["state-pill", state_class(s)])
        .valign(gtk::Align::Center)
        .build();
    let menu = gtk::MenuButton::builder()
        .icon_name("view-more-symbolic")
        .menu_model(&row_menu(s.id, s))
        .valign(gtk::Align::Center)
        .css_classes(["flat"])
        .tooltip_text(gettext("More Actions"))
        .build();
    a11y::set_label(&menu, &fill(&gettext("Actions for “{}”"), &[&s.name]));
    let top = gtk::Box::builder().spacing(12).build();
    top.append(&name);
    top.append(&figures);
    top.append(&pill);
    top.append(&menu);

    let bar = gtk::ProgressBar::builder()
        .fraction((s.basis_points as f64 / 10_000.0).clamp(0.0, 1.0))
        .css_classes(["budget", state_class(s)])
        .build();
    a11y::set_label(
        &bar,
        &fill(
            &gettext("{} of the limit used"),
            &[&percent(s.basis_points)],
        ),
    );
    let sub = gtk::Label::builder()
        .label(subtitle(s))
        .xalign(0.0)
        .wrap(true)
        .css_classes(["dim-label", "caption"])
        .build();
    let body = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(6)
        .margin_top(10)
        .margin_bottom(10)
        .margin_start(12)
        .margin_end(6)
        .build();
    body.append(&top);
    body.append(&bar);
    body.append(&sub);
    let row = gtk::ListBoxRow::builder()
        .child(&body)
        .activatable(true)
        .build();
    row.set_widget_name(&format!("policy-row-{}", s.name));
    row
}

impl PoliciesView {
    fn reload(&mut self) {
        match self.ledger.read(|s| engine::status(s, Timestamp::now())) {
            Ok(statuses) => {
                self.statuses = statuses;
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn policy(&self, id: i64) -> Option<Policy> {
        self.ledger
            .read(|s| s.find_policy(&id.to_string()))
            .ok()
            .flatten()
    }

    fn parent(widget: &impl IsA<gtk::Widget>) -> Option<gtk::Window> {
        widget.root().and_then(|r| r.downcast::<gtk::Window>().ok())
    }

    fn open_editor(&self, existing: Option<Policy>, root: &gtk::Box) {
        let Some(parent) = Self::parent(root) else {
            return;
        };
        let audit = existing
            .as_ref()
            .and_then(|p| self.ledger.read(|s| s.audit_log(Some(p.id))).ok())
            .unwrap_or_default();
        let ledger = self.ledger.clone();
        let actor = crate::config::user_name();
        let defaults = super::preferences::policy_defaults(&self.ledger);
        // The list is read again when the ledger worker reports the write.
        policy_editor::open(&parent, existing, audit, defaults, move |p, saved| {
            if p.team.is_some() {
                let detail = crate::store::describe_policy(&p);
                let action = if p.id == 0 { "created" } else { "edited" };
                Self::team_change(&ledger, p, Change::Save { action, detail }, saved);
                return;
            }
            let actor = actor.clone();
            ledger.write(
                move |store| {
                    let result = if p.id == 0 {
                        store.add_policy(&p, &actor).map(|_| ())
                    } else {
                        store.update_policy(&p, Timestamp::now(), &actor)
                    };
                    result.map_err(|e| match e {
                        crate::store::PolicyStoreError::NameTaken(n) => {
                            fill(&gettext("A policy named “{}” already exists."), &[&n])
                        }
                        other => other.to_string(),
                    })
                },
                saved,
            );
        });
    }

    /// Changes a team policy on the team's server. It waits on the network,
    /// so it runs on a thread of its own (not the main loop, not the
    /// ledger's writer); the policy comes back into the ledger from the
    /// server, and the view with the ledger's next change.
    fn team_change(
        ledger: &Ledger,
        p: Policy,
        change: Change<'static>,
        done: impl FnOnce(Result<(), String>) + 'static,
    ) {
        super::team_prefs::off_main(
            ledger.path().to_path_buf(),
            move |s| {
                let actor = crate::config::user_name();
                crate::team::policies::change(s, &p, change, &actor, Timestamp::now())
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            done,
        );
    }

    /// Asks before a change; `extra` adds fields to the dialog.
    fn confirm(
        root: &gtk::Box,
        heading: &str,
        body: &str,
        verb: &str,
        destructive: bool,
        extra: Option<&gtk::Widget>,
        then: impl Fn() + 'static,
    ) {
        let Some(parent) = Self::parent(root) else {
            return;
        };
        let dialog = adw::MessageDialog::builder()
            .transient_for(&parent)
            .modal(true)
            .heading(heading)
            .body(body)
            .build();
        dialog.set_widget_name("policy-confirm");
        dialog.add_response("cancel", &gettext("_Cancel"));
        dialog.add_response("go", verb);
        dialog.set_response_appearance(
            "go",
            if destructive {
                adw::ResponseAppearance::Destructive
            } else {
                adw::ResponseAppearance::Suggested
            },
        );
        dialog.set_default_response(Some("cancel"));
        dialog.set_close_response("cancel");
        if let Some(w) = extra {
            dialog.set_extra_child(Some(w));
        }
        dialog.connect_response(Some("go"), move |_, _| then());
        dialog.present();
    }

    fn override_dialog(&self, p: Policy, root: &gtk::Box) {
        let reason = gtk::Entry::builder()
            .placeholder_text(gettext("Why (kept in the audit log)"))
            .build();
        reason.set_widget_name("override-reason");
        let hours = gtk::SpinButton::with_range(1.0, 168.0, 1.0);
        hours.set_value(2.0);
        let hours_row = gtk::Box::builder().spacing(12).build();
        hours_row.append(&gtk::Label::new(Some(&gettext("Hours"))));
        hours_row.append(&hours);
        let fields = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(12)
            .build();
        fields.append(&reason);
        fields.append(&hours_row);
        let ledger = self.ledger.clone();
        Self::confirm(
            root,
            &fill(&gettext("Override “{}”?"), &[&p.name]),
            &gettext(
                "While the override lasts, calls this policy would block or slow down go ahead with a warning.",
            ),
            &gettext("_Override"),
            false,
            Some(fields.upcast_ref()),
            move || {
                let why = reason.text().trim().to_string();
                let why = if why.is_empty() {
                    gettext("no reason given")
                } else {
                    why
                };
                let now = Timestamp::now();
                let Ok(until) = now.checked_add(SignedDuration::from_hours(hours.value() as i64))
                else {
                    return;
                };
                let actor = crate::config::user_name();
                let o = Override {
                    by: actor.clone(),
                    reason: why,
                    until,
                };
                if p.team.is_some() {
                    let detail = format!("{} until {}: {}", o.by, o.until, o.reason);
                    let p = Policy {
                        override_: Some(o),
                        ..p.clone()
                    };
                    let change = Change::Save {
                        action: "override",
                        detail,
                    };
                    Self::team_change(&ledger, p, change, |r| {
                        super::report_failure(&gettext("The override was not saved"), r)
                    });
                    return;
                }
                let p = p.clone();
                ledger.write(
                    move |st| st.set_override(&p, Some(&o), now, &actor),
                    |r| super::report_failure(&gettext("The override was not saved"), r),
                );
            },
        );
    }
}

impl SimpleComponent for PoliciesView {
    type Init = Rc<Ledger>;
    type Input = PoliciesInput;
    type Output = ();
    type Root = gtk::Box;
    type Widgets = PoliciesWidgets;

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
        root.set_widget_name("policies-view");
        let actions = gio::SimpleActionGroup::new();
        let add_action = |name: &str, msg: fn(i64) -> PoliciesInput| {
            let a = gio::SimpleAction::new(name, Some(glib::VariantTy::INT64));
            let s = sender.clone();
            a.connect_activate(move |_, v| {
                if let Some(id) = v.and_then(|v| v.get::<i64>()) {
                    s.input(msg(id));
                }
            });
            actions.add_action(&a);
        };
        add_action("edit", PoliciesInput::Edit);
        add_action("override", PoliciesInput::Override);
        add_action("end-override", PoliciesInput::EndOverride);
        add_action("reset", PoliciesInput::Reset);
        add_action("toggle", PoliciesInput::Toggle);
        add_action("delete", PoliciesInput::Delete);
        root.insert_action_group("policies", Some(&actions));

        let add = gtk::Button::builder()
            .label(gettext("_Add Policy"))
            .use_underline(true)
            .css_classes(["suggested-action"])
            .halign(gtk::Align::End)
            .build();
        add.set_widget_name("policies-add");
        let s = sender.clone();
        add.connect_clicked(move |_| s.input(PoliciesInput::Add));

        let list = gtk::ListBox::builder()
            .selection_mode(gtk::SelectionMode::None)
            .css_classes(["boxed-list"])
            .valign(gtk::Align::Start)
            .build();
        list.set_widget_name("policies-list");
        a11y::set_label(&list, &gettext("Policies"));
        let s = sender.clone();
        list.connect_row_activated(move |_, row| {
            s.input(PoliciesInput::Activated(row.index().max(0) as usize));
        });
        let error = gtk::Label::builder()
            .css_classes(["error"])
            .wrap(true)
            .visible(false)
            .build();
        let scroller = super::scrolling_column(
            &[add.upcast_ref(), error.upcast_ref(), list.upcast_ref()],
            12,
        );

        let empty = adw::StatusPage::builder()
            .icon_name("io.github.tallyapp.Tally-symbolic")
            .title(gettext("No budgets yet"))
            .description(gettext(
                "A policy holds spending to a limit: $100 a month for everything, $20 a week for a project, at most 2,500 images. Tally warns at the soft limit and can block or slow calls at the limit.",
            ))
            .vexpand(true)
            .build();
        empty.set_widget_name("policies-empty");
        let first = gtk::Button::builder()
            .label(gettext("_Add a Policy"))
            .use_underline(true)
            .halign(gtk::Align::Center)
            .css_classes(["pill", "suggested-action"])
            .build();
        let s = sender.clone();
        first.connect_clicked(move |_| s.input(PoliciesInput::Add));
        empty.set_child(Some(&first));

        let stack = gtk::Stack::builder()
            .transition_type(gtk::StackTransitionType::Crossfade)
            .build();
        stack.add_named(&scroller, Some("list"));
        stack.add_named(&empty, Some("empty"));
        root.append(&stack);

        let mut model = PoliciesView {
            ledger,
            root: root.clone(),
            statuses: Vec::new(),
            error: None,
        };
        model.reload();
        let widgets = PoliciesWidgets { stack, list, error };
        // The first update fills the view.
        sender.input(PoliciesInput::Refresh);
        // Rows are built only while the view is on screen (a hundred budgets
        // are a lot of widgets to build at start-up for a page not shown).
        let s = sender.clone();
        root.connect_map(move |_| s.input(PoliciesInput::Refresh));
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: PoliciesInput, sender: ComponentSender<Self>) {
        let root = self.root.clone();
        let actor = crate::config::user_name();
        let now = Timestamp::now();
        match msg {
            PoliciesInput::Refresh => self.reload(),
            PoliciesInput::Add => self.open_editor(None, &root),
            PoliciesInput::Activated(i) => {
                if let Some(id) = self.statuses.get(i).map(|s| s.id) {
                    sender.input(PoliciesInput::Edit(id));
                }
            }
            PoliciesInput::Edit(id) => {
                if let Some(p) = self.policy(id) {
                    self.open_editor(Some(p), &root);
                }
            }
            PoliciesInput::Override(id) => {
                if let Some(p) = self.policy(id) {
                    self.override_dialog(p, &root);
                }
            }
            PoliciesInput::EndOverride(id) => {
                if let Some(p) = self.policy(id) {
                    if p.team.is_some() {
                        let p = Policy {
                            override_: None,
                            ..p
                        };
                        let detail = gettext("override ended");
                        let change = Change::Save {
                            action: "override",
                            detail,
                        };
                        Self::team_change(&self.ledger, p, change, |r| {
                            super::report_failure(&gettext("The override was not ended"), r)
                        });
                        return;
                    }
                    self.ledger.write(
                        move |s| s.set_override(&p, None, now, &actor),
                        |r| super::report_failure(&gettext("The override was not ended"), r),
                    );
                }
            }
            PoliciesInput::Toggle(id) => {
                if let Some(mut p) = self.policy(id) {
                    p.enabled = !p.enabled;
                    if p.team.is_some() {
                        let detail = crate::store::describe_policy(&p);
                        let change = Change::Save {
                            action: "edited",
                            detail,
                        };
                        Self::team_change(&self.ledger, p, change, |r| {
                            super::report_failure(&gettext("The policy was not changed"), r)
                        });
                        return;
                    }
                    self.ledger.write(
                        move |s| s.update_policy(&p, now, &actor),
                        |r| super::report_failure(&gettext("The policy was not changed"), r),
                    );
                }
            }
            PoliciesInput::Reset(id) => {
                if let Some(p) = self.policy(id) {
                    let ledger = self.ledger.clone();
                    Self::confirm(
                        &root,
                        &fill(&gettext("Reset “{}”?"), &[&p.name]),
                        &gettext(
                            "The policy counts again from now. Usage so far stays in the ledger; the reset is written to the audit log.",
                        ),
                        &gettext("_Reset"),
                        false,
                        None,
                        move || {
                            let why = gettext("reset in the app");
                            if p.team.is_some() {
                                let p = Policy {
                                    reset_at: Some(Timestamp::now()),
                                    ..p.clone()
                                };
                                let change = Change::Save {
                                    action: "reset",
                                    detail: why,
                                };
                                Self::team_change(&ledger, p, change, |r| {
                                    super::report_failure(&gettext("The policy was not reset"), r)
                                });
                                return;
                            }
                            let (p, actor) = (p.clone(), actor.clone());
                            ledger.write(
                                move |s| s.reset_policy(&p, Timestamp::now(), &actor, &why),
                                |r| super::report_failure(&gettext("The policy was not reset"), r),
                            );
                        },
                    );
                }
            }
            PoliciesInput::Delete(id) => {
                if let Some(p) = self.policy(id) {
                    let ledger = self.ledger.clone();
                    Self::confirm(
                        &root,
                        &fill(&gettext("Delete “{}”?"), &[&p.name]),
                        &gettext("Its alerts and audit log are kept. Usage is not affected."),
                        &gettext("_Delete"),
                        true,
                        None,
                        move || {
                            if p.team.is_some() {
                                Self::team_change(&ledger, p.clone(), Change::Remove, |r| {
                                    super::report_failure(&gettext("The policy was not deleted"), r)
                                });
                                return;
                            }
                            let (p, actor) = (p.clone(), actor.clone());
                            ledger.write(
                                move |s| s.remove_policy(&p, Timestamp::now(), &actor),
                                |r| {
                                    super::report_failure(&gettext("The policy was not deleted"), r)
                                },
                            );
                        },
                    );
                }
            }
        }
    }

    fn update_view(&self, widgets: &mut PoliciesWidgets, _sender: ComponentSender<Self>) {
        widgets.error.set_visible(self.error.is_some());
        widgets.error.set_label(self.error.as_deref().unwrap_or(""));
        if widgets.stack.is_mapped() || self.statuses.is_empty() {
            while let Some(child) = widgets.list.first_child() {
                widgets.list.remove(&child);
            }
            for s in &self.statuses {
                widgets.list.append(&policy_row(s));
            }
        }
        let page = if self.statuses.is_empty() && self.error.is_none() {
            "empty"
        } else {
            "list"
        };
        widgets.stack.set_visible_child_name(page);
    }
}

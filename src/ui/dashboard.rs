//! The Dashboard: the main budget at a glance (meter with its marks, what is
//! left, when it resets, where it is heading), the other budgets in brief,
//! spend per day stacked by model with the forecast and the budget per day,
//! where the money went by a dimension, open alerts and calls without a price.
//! It follows every write to the ledger, from this app or any other process.

use std::rc::Rc;

use jiff::Timestamp;
use relm4::adw::prelude::*;
use relm4::gtk::{self, glib};
use relm4::{ComponentParts, ComponentSender, SimpleComponent, adw};

use super::app::Page;
use super::dashboard_data::{self, DashboardData};
use super::dashboard_text;
use super::dashboard_widgets::{self, DashboardWidgets};
use super::ledger::Ledger;
use super::policies::period_label;
use crate::core::breakdown::{SortBy, sort};
use crate::core::usage::Dimension;
use crate::i18n::{fill, gettext, local_time};

/// Days of spend to show; 1 is today by the hour.
pub const RANGES: [usize; 4] = [1, 7, 30, 90];
/// Other budgets listed under the main one.
const OTHER_BUDGETS: usize = 5;
pub const DIMENSIONS: [Dimension; 6] = [
    Dimension::Model,
    Dimension::Provider,
    Dimension::Project,
    Dimension::User,
    Dimension::Agent,
    Dimension::Machine,
];

#[derive(Debug)]
pub enum DashboardInput {
    Refresh,
    /// Days of spend to show.
    Range(usize),
    /// Index in `DIMENSIONS`.
    Dimension(u32),
    Sort(SortBy),
    Acknowledge(i64),
    AddPrices,
}

#[derive(Debug)]
pub enum DashboardOutput {
    /// Go to this view.
    Show(Page),
}

pub struct DashboardView {
    ledger: Rc<Ledger>,
    /// For the dialogs, which need a window to belong to.
    root: gtk::Box,
    days: usize,
    dimension: usize,
    sort: (SortBy, bool),
    data: DashboardData,
    error: Option<String>,
}

impl DashboardView {
    fn reload(&mut self) {
        let now = Timestamp::now();
        let dim = DIMENSIONS[self.dimension];
        match self
            .ledger
            .read(|s| dashboard_data::load(s, now, self.days, dim))
        {
            Ok(mut data) => {
                sort(&mut data.shares, self.sort.0, self.sort.1);
                self.data = data;
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }
}

impl SimpleComponent for DashboardView {
    type Init = Rc<Ledger>;
    type Input = DashboardInput;
    type Output = DashboardOutput;
    type Root = gtk::Box;
    type Widgets = DashboardWidgets;

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
        let widgets = dashboard_widgets::build(&root, &sender);
        // A plan window's countdown moves with the clock, not only with writes.
        let (s, plans) = (sender.clone(), widgets.plans_card.clone());
        glib::timeout_add_seconds_local(60, move || {
            if plans.is_mapped() {
                s.input(DashboardInput::Refresh);
            }
            glib::ControlFlow::Continue
        });
        let model = DashboardView {
            ledger,
            root: root.clone(),
            days: 30,
            dimension: 0,
            sort: (SortBy::Cost, true),
            data: DashboardData::default(),
            error: None,
        };
        sender.input(DashboardInput::Refresh);
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: DashboardInput, sender: ComponentSender<Self>) {
        match msg {
            DashboardInput::AddPrices => {
                let s = sender.clone();
                super::price_dialog::show(self.root.upcast_ref(), self.ledger.clone(), move || {
                    s.input(DashboardInput::Refresh)
                });
                return;
            }
            DashboardInput::Refresh => {}
            DashboardInput::Range(days) => self.days = days,
            DashboardInput::Dimension(i) => {
                self.dimension = (i as usize).min(DIMENSIONS.len() - 1);
            }
            DashboardInput::Sort(by) => {
                // The same column again turns the order round.
                self.sort = if self.sort.0 == by {
                    (by, !self.sort.1)
                } else {
                    (by, by != SortBy::Name)
                };
            }
            DashboardInput::Acknowledge(id) => {
                let me = crate::config::user_name();
                // The change watcher refreshes the dashboard once it is written.
                self.ledger.write(
                    move |s| s.acknowledge_alert(id, &me, Timestamp::now()),
                    |r| super::report_failure(&gettext("The alert was not acknowledged"), r),
                );
                return;
            }
        }
        self.reload();
    }

    fn update_view(&self, w: &mut DashboardWidgets, sender: ComponentSender<Self>) {
        let d = &self.data;
        w.error.set_visible(self.error.is_some());
        w.error.set_label(self.error.as_deref().unwrap_or_default());
        // The first-run page is for a ledger with nothing in it at all.
        let empty = d.last_call.is_none() && d.statuses.is_empty() && self.error.is_none();
        w.stack
            .set_visible_child_name(if empty { "empty" } else { "content" });

        // The main budget.
        let main = d.main.map(|i| &d.statuses[i]);
        w.budget.set_visible(main.is_some());
        w.no_budget.set_visible(main.is_none());
        if let Some(s) = main {
            w.budget_name.set_label(&s.name);
            w.budget_figures
                .set_label(&dashboard_text::budget_figures(s));
            w.budget_left
                .set_label(&dashboard_text::budget_left(s, &period_label(&s.period)));
            let outlook = d
                .outlook
                .as_ref()
                .map(dashboard_text::outlook)
                .unwrap_or_default();
            w.budget_outlook.set_visible(!outlook.is_empty());
            w.budget_outlook.set_label(&outlook);
            w.meter.set(d.meter.clone());
        }
        while let Some(row) = w.others.row_at_index(0) {
            w.others.remove(&row);
        }
        // The budgets nearest their limits; the Policies view has them all.
        let mut others: Vec<&crate::engine::PolicyStatus> = d
            .statuses
            .iter()
            .enumerate()
            .filter(|(i, s)| Some(*i) != d.main && s.enabled)
            .map(|(_, s)| s)
            .collect();
        others.sort_by_key(|s| std::cmp::Reverse(s.basis_points));
        for s in others.iter().take(OTHER_BUDGETS) {
            w.others.append(&dashboard_widgets::other_row(s));
        }
        if others.len() > OTHER_BUDGETS {
            let all = gtk::Button::builder()
                .label(fill(
                    &gettext("All {} Budgets"),
                    &[&d.statuses.len().to_string()],
                ))
                .css_classes(["flat"])
                .build();
            let s = sender.clone();
            all.connect_clicked(move |_| {
                let _ = s.output(DashboardOutput::Show(Page::Policies));
            });
            w.others.append(&all);
        }
        w.others.set_visible(!others.is_empty());

        while let Some(row) = w.plans.row_at_index(0) {
            w.plans.remove(&row);
        }
        let plan_rows = super::plan_rows::rows(&d.plans, d.now);
        w.plans_card.set_visible(!plan_rows.is_empty());
        for r in &plan_rows {
            w.plans.append(r);
        }

        // Open alerts.
        while let Some(row) = w.alerts.row_at_index(0) {
            w.alerts.remove(&row);
        }
        for a in &d.alerts {
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(&a.title))
                .subtitle(local_time(a.at))
                .build();
            let ack = gtk::Button::builder()
                .label(gettext("Acknowledge"))
                .valign(gtk::Align::Center)
                .build();
            let (s, id) = (sender.clone(), a.id);
            ack.connect_clicked(move |_| s.input(DashboardInput::Acknowledge(id)));
            row.add_suffix(&ack);
            w.alerts.append(&row);
        }
        w.alerts_card.set_visible(!d.alerts.is_empty());

        w.unpriced.set_visible(d.unpriced > 0);
        w.unpriced_label
            .set_label(&dashboard_text::unpriced(d.unpriced));
        w.spend_title
            .set_label(&dashboard_text::spend_title(self.days, d.range_total.cost));
        w.spend.set(d.spend.clone());
        let quiet = d.range_total.records == 0 && d.last_call.is_some();
        w.spend.area.set_visible(!quiet);
        w.where_card.set_visible(!quiet);
        w.quiet.set_visible(quiet);
        if let Some(last) = d.last_call.filter(|_| quiet) {
            let day = last.to_zoned(jiff::tz::TimeZone::system()).date();
            w.quiet_label
                .set_label(&dashboard_text::quiet(self.days, day));
        }
        w.bars
            .area
            .set_content_height((d.bars.bars.len().max(1) * 28) as i32);
        w.bars.set(d.bars.clone());
        let s = sender.clone();
        super::breakdown_table::fill(
            &w.table,
            &d.shares,
            DIMENSIONS[self.dimension],
            self.sort,
            move |by| s.input(DashboardInput::Sort(by)),
        );
        let jobs = dashboard_text::jobs(&d.jobs);
        w.jobs.set_visible(jobs.is_some());
        w.jobs.set_label(jobs.as_deref().unwrap_or_default());
        if let Some(last) = d.last_call {
            super::probe::say(&format!("dashboard {}", last.as_millisecond()));
            super::probe::first_frame(w.stack.upcast_ref());
        }
    }
}

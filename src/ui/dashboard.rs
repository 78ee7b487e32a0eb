//! The Dashboard: the main budget at a glance (meter with its marks, what is
//! left, when it resets, where it is heading), the other budgets in brief,
//! spend per day stacked by model with the forecast and the budget per day,
//! where the money went by a dimension, open alerts and calls without a price.
//! It follows every write to the ledger, from this app or any other process.

use super::amounts;
use std::rc::Rc;

use jiff::Timestamp;
use relm4::adw::prelude::*;
use relm4::gtk::{self, glib};
use relm4::{ComponentParts, ComponentSender, SimpleComponent, adw};

use super::a11y;
use super::app::Page;
use super::chart::Chart;
use super::dashboard_data::{self, DashboardData};
use super::ledger::Ledger;
use super::policies::period_label;
use crate::charts::{self, Bars, Meter, SpendChart};
use crate::core::breakdown::{SortBy, sort};
use crate::core::usage::Dimension;
use crate::i18n::{fill, gettext, local_time, long_date, ngettext, percent, short_date};

/// Days of spend to show; 1 is today by the hour.
const RANGES: [usize; 4] = [1, 7, 30, 90];
/// Other budgets listed under the main one.
const OTHER_BUDGETS: usize = 5;
const DIMENSIONS: [Dimension; 5] = [
    Dimension::Model,
    Dimension::Provider,
    Dimension::Project,
    Dimension::User,
    Dimension::Agent,
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

pub struct DashboardWidgets {
    stack: gtk::Stack,
    budget: gtk::Box,
    no_budget: gtk::Box,
    budget_name: gtk::Label,
    budget_figures: gtk::Label,
    budget_left: gtk::Label,
    budget_outlook: gtk::Label,
    meter: Chart<Meter>,
    others: gtk::ListBox,
    spend_title: gtk::Label,
    spend: Chart<SpendChart>,
    bars: Chart<Bars>,
    table: gtk::Grid,
    jobs: gtk::Label,
    alerts: gtk::ListBox,
    alerts_card: gtk::Box,
    unpriced: gtk::Box,
    unpriced_label: gtk::Label,
    quiet: gtk::Box,
    quiet_label: gtk::Label,
    where_card: gtk::Box,
    error: gtk::Label,
}

fn card(title: &str, children: &[&gtk::Widget]) -> gtk::Box {
    let b = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(8)
        .css_classes(["card", "dashboard-card"])
        .build();
    if !title.is_empty() {
        b.append(
            &gtk::Label::builder()
                .label(title)
                .xalign(0.0)
                .css_classes(["heading"])
                .build(),
        );
    }
    for c in children {
        b.append(*c);
    }
    b
}

fn label(classes: &[&str]) -> gtk::Label {
    gtk::Label::builder()
        .xalign(0.0)
        .wrap(true)
        .css_classes(classes.to_vec())
        .build()
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

    /// "Heading for $48.20 (between $40.10 and $55.00) · limit reached about
    /// 28 Nov · $1.60 a day"
    fn outlook_text(&self) -> String {
        let Some(o) = &self.data.outlook else {
            return String::new();
        };
        let m = |v: i64| amounts::money(crate::core::Money::from_nanos(v));
        let p = o.projection;
        let mut parts = vec![if p.low == p.high {
            fill(&gettext("Heading for {}"), &[&m(p.expected)])
        } else {
            fill(
                &gettext("Heading for {} (between {} and {})"),
                &[&m(p.expected), &m(p.low), &m(p.high)],
            )
        }];
        if let Some(day) = o.limit_day {
            parts.push(fill(
                &gettext("limit reached about {}"),
                &[&short_date(day)],
            ));
        }
        parts.push(fill(&gettext("{} a day"), &[&m(o.burn_per_day)]));
        if o.by_weekday {
            parts.push(gettext("by weekday"));
        }
        parts.join(" · ")
    }
}

fn other_row(s: &crate::engine::PolicyStatus) -> gtk::ListBoxRow {
    let name = gtk::Label::builder()
        .label(&s.name)
        .xalign(0.0)
        .ellipsize(gtk::pango::EllipsizeMode::End)
        .width_chars(10)
        .hexpand(true)
        .build();
    let bar = gtk::ProgressBar::builder()
        .fraction((s.basis_points as f64 / 10_000.0).clamp(0.0, 1.0))
        .valign(gtk::Align::Center)
        .hexpand(true)
        .css_classes(["budget", super::policies::state_class(s)])
        .build();
    a11y::set_label(
        &bar,
        &fill(
            &gettext("{}: {} of the limit used"),
            &[&s.name, &percent(s.basis_points)],
        ),
    );
    let figures = gtk::Label::builder()
        .label(fill(
            &gettext("{} of {}"),
            &[
                &s.metric.display_in(&amounts::current(), s.used),
                &s.metric.display_in(&amounts::current(), s.limit),
            ],
        ))
        .css_classes(["amount", "dim-label"])
        .build();
    let row = gtk::Box::builder()
        .spacing(12)
        .margin_top(8)
        .margin_bottom(8)
        .margin_start(12)
        .margin_end(12)
        .homogeneous(true)
        .build();
    row.append(&name);
    row.append(&bar);
    row.append(&figures);
    gtk::ListBoxRow::builder()
        .child(&row)
        .activatable(false)
        .build()
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

    // The closures around the draw functions are not redundant: each call
    // instantiates the function for that draw's cairo context lifetime.
    #[allow(clippy::redundant_closure)]
    fn init(
        ledger: Rc<Ledger>,
        root: gtk::Box,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        // Nothing yet: say where usage comes from.
        let empty = adw::StatusPage::builder()
            .icon_name("io.github.tallyapp.Tally-symbolic")
            .title(gettext("Nothing Spent Yet"))
            .description(gettext(
                "Import your coding agents’ logs or record a call, and what you spend shows here. Budgets you add are watched from the start.",
            ))
            .vexpand(true)
            .build();
        // One above the other, so the page fits a narrow window.
        let buttons = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(12)
            .halign(gtk::Align::Center)
            .build();
        for (text, page, suggested) in [
            (gettext("Import Agent Logs…"), Page::Sources, true),
            (gettext("Add a Budget…"), Page::Policies, false),
        ] {
            let b = gtk::Button::builder()
                .label(text)
                .css_classes(if suggested {
                    vec!["pill", "suggested-action"]
                } else {
                    vec!["pill"]
                })
                .build();
            let s = sender.clone();
            b.connect_clicked(move |_| {
                let _ = s.output(DashboardOutput::Show(page));
            });
            buttons.append(&b);
        }
        empty.set_child(Some(&buttons));

        let budget_name = label(&["title-3"]);
        let budget_figures = label(&["amount"]);
        let budget_left = label(&["dim-label"]);
        let budget_outlook = label(&[]);
        budget_outlook.set_widget_name("dashboard-outlook");
        let meter = Chart::new(|a, d, p| charts::draw_meter(a, d, p), 32);
        a11y::set_label(&meter.area, &gettext("Budget used, with the warning marks"));
        let budget = card(
            "",
            &[
                budget_name.upcast_ref(),
                budget_figures.upcast_ref(),
                meter.area.upcast_ref(),
                budget_left.upcast_ref(),
                budget_outlook.upcast_ref(),
            ],
        );
        let add_budget = gtk::Button::builder()
            .label(gettext("Add a Budget…"))
            .halign(gtk::Align::Start)
            .build();
        let s = sender.clone();
        add_budget.connect_clicked(move |_| {
            let _ = s.output(DashboardOutput::Show(Page::Policies));
        });
        let no_budget_text = label(&["dim-label"]);
        no_budget_text.set_label(&gettext(
            "No budget yet. Add one to see how much is left and where it is heading.",
        ));
        let no_budget = card(
            &gettext("Budget"),
            &[no_budget_text.upcast_ref(), add_budget.upcast_ref()],
        );
        let others = gtk::ListBox::builder()
            .selection_mode(gtk::SelectionMode::None)
            .css_classes(["boxed-list"])
            .build();
        a11y::set_label(&others, &gettext("Other budgets"));

        // Spend per day, with a choice of range.
        let ranges = gtk::Box::builder()
            .css_classes(["linked", "range-buttons"])
            .build();
        let mut first: Option<gtk::ToggleButton> = None;
        for days in RANGES {
            let label = match days {
                1 => gettext("Today"),
                _ => fill(
                    &ngettext("{} day", "{} days", days as u32),
                    &[&days.to_string()],
                ),
            };
            let b = gtk::ToggleButton::builder()
                .label(label)
                .active(days == 30)
                .build();
            b.set_widget_name(&format!("dashboard-range-{days}"));
            if let Some(f) = &first {
                b.set_group(Some(f));
            } else {
                first = Some(b.clone());
            }
            let s = sender.clone();
            b.connect_toggled(move |b| {
                if b.is_active() {
                    s.input(DashboardInput::Range(days));
                }
            });
            ranges.append(&b);
        }
        let spend_title = gtk::Label::builder()
            .xalign(0.0)
            .hexpand(true)
            .wrap(true)
            .css_classes(["heading"])
            .build();
        spend_title.set_widget_name("dashboard-spend-title");
        // The range buttons under the title, so both fit a narrow window.
        ranges.set_halign(gtk::Align::Start);
        let spend_head = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(8)
            .build();
        spend_head.append(&spend_title);
        spend_head.append(&ranges);
        let spend = Chart::new(|a, d, p| charts::draw_spend(a, d, p), 240);
        spend.area.set_has_tooltip(true);
        let data = spend.shared();
        spend.area.connect_query_tooltip(move |area, x, _, _, tip| {
            let d = data.borrow();
            let n = d.days.len();
            // The plot's left edge: the chart's margin and its axis labels.
            let (left, width) = (64.0, area.width() as f64 - 72.0);
            if n == 0 || width <= 0.0 || (x as f64) < left {
                return false;
            }
            let i = (((x as f64 - left) / width) * n as f64) as usize;
            let Some(day) = d.days.get(i) else {
                return false;
            };
            let mut lines = vec![format!("<b>{}</b>", glib::markup_escape_text(day))];
            let money =
                |v: f64| amounts::money(crate::core::Money::from_nanos((v * 1e9).round() as i64));
            let total: f64 = d.series.iter().map(|(_, v)| v[i]).sum();
            lines.push(fill(&gettext("Spent: {}"), &[&money(total)]));
            for (label, values) in d.series.iter().filter(|(_, v)| v[i] > 0.0) {
                lines.push(format!(
                    "{}: {}",
                    glib::markup_escape_text(label),
                    money(values[i])
                ));
            }
            if let Some(f) = d.forecast.get(i).copied().flatten() {
                lines.push(fill(&gettext("Forecast: {}"), &[&money(f)]));
            }
            tip.set_markup(Some(&lines.join("\n")));
            true
        });
        a11y::set_label(&spend.area, &gettext("Spend per day by model"));
        // A range with nothing in it, in a ledger that has calls: say when the
        // last one was, and where to see it.
        let quiet_label = label(&["dim-label"]);
        quiet_label.set_widget_name("dashboard-quiet");
        quiet_label.set_justify(gtk::Justification::Center);
        quiet_label.set_xalign(0.5);
        let quiet_button = gtk::Button::builder()
            .label(gettext("Show Usage History"))
            .halign(gtk::Align::Center)
            .css_classes(["pill"])
            .build();
        let s = sender.clone();
        quiet_button.connect_clicked(move |_| {
            let _ = s.output(DashboardOutput::Show(Page::History));
        });
        let quiet = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(12)
            .margin_top(24)
            .margin_bottom(24)
            .visible(false)
            .build();
        quiet.append(&quiet_label);
        quiet.append(&quiet_button);
        let spend_card = card(
            "",
            &[
                spend_head.upcast_ref(),
                spend.area.upcast_ref(),
                quiet.upcast_ref(),
            ],
        );

        // Where the money went.
        let names: Vec<String> = DIMENSIONS
            .iter()
            .map(|d| crate::i18n::dimension_title(*d))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let dims = gtk::DropDown::from_strings(&names);
        dims.set_tooltip_text(Some(&gettext("Break down by")));
        a11y::set_label(&dims, &gettext("Break down by"));
        let s = sender.clone();
        dims.connect_selected_notify(move |d| s.input(DashboardInput::Dimension(d.selected())));
        let where_head = gtk::Box::builder().spacing(12).build();
        where_head.append(
            &gtk::Label::builder()
                .label(gettext("Where the Money Went"))
                .xalign(0.0)
                .hexpand(true)
                .css_classes(["heading"])
                .build(),
        );
        where_head.append(&dims);
        let bars = Chart::new(|a, d, p| charts::draw_bars(a, d, p), 120);
        a11y::set_label(&bars.area, &gettext("The biggest costs"));
        let table = gtk::Grid::builder()
            .column_spacing(18)
            .row_spacing(6)
            .build();
        table.set_widget_name("dashboard-breakdown");
        let table_scroll = gtk::ScrolledWindow::builder()
            .vscrollbar_policy(gtk::PolicyType::Never)
            .child(&table)
            .build();
        let jobs = label(&["dim-label"]);
        jobs.set_widget_name("dashboard-jobs");
        let where_card = card(
            "",
            &[
                where_head.upcast_ref(),
                bars.area.upcast_ref(),
                table_scroll.upcast_ref(),
                jobs.upcast_ref(),
            ],
        );

        let alerts = gtk::ListBox::builder()
            .selection_mode(gtk::SelectionMode::None)
            .css_classes(["boxed-list"])
            .build();
        let all_alerts = gtk::Button::builder()
            .label(gettext("All Alerts"))
            .halign(gtk::Align::Start)
            .css_classes(["flat"])
            .build();
        let s = sender.clone();
        all_alerts.connect_clicked(move |_| {
            let _ = s.output(DashboardOutput::Show(Page::Alerts));
        });
        let alerts_card = card(
            &gettext("Open Alerts"),
            &[alerts.upcast_ref(), all_alerts.upcast_ref()],
        );

        let unpriced_label = label(&[]);
        unpriced_label.set_hexpand(true);
        let prices = gtk::Button::builder()
            .label(gettext("Add Prices…"))
            .valign(gtk::Align::Center)
            .build();
        let s = sender.clone();
        prices.connect_clicked(move |_| s.input(DashboardInput::AddPrices));
        let unpriced = gtk::Box::builder()
            .spacing(12)
            .css_classes(["card", "dashboard-card", "unpriced-banner"])
            .build();
        unpriced.append(&gtk::Image::from_icon_name("dialog-warning-symbolic"));
        unpriced.append(&unpriced_label);
        unpriced.append(&prices);

        let error = label(&["error"]);
        let content = super::scrolling_column(
            &[
                error.upcast_ref(),
                unpriced.upcast_ref(),
                budget.upcast_ref(),
                no_budget.upcast_ref(),
                others.upcast_ref(),
                alerts_card.upcast_ref(),
                spend_card.upcast_ref(),
                where_card.upcast_ref(),
            ],
            18,
        );
        let stack = gtk::Stack::builder().hhomogeneous(false).build();
        stack.set_widget_name("dashboard-stack");
        stack.add_named(&empty, Some("empty"));
        stack.add_named(&content, Some("content"));
        root.append(&stack);

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
        let widgets = DashboardWidgets {
            stack,
            budget,
            no_budget,
            budget_name,
            budget_figures,
            budget_left,
            budget_outlook,
            meter,
            others,
            spend_title,
            spend,
            bars,
            table,
            jobs,
            alerts,
            alerts_card,
            unpriced,
            unpriced_label,
            quiet,
            quiet_label,
            where_card,
            error,
        };
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
            w.budget_figures.set_label(&fill(
                &gettext("{} of {} · {}"),
                &[
                    &s.metric.display_in(&amounts::current(), s.used),
                    &s.metric.display_in(&amounts::current(), s.limit),
                    &percent(s.basis_points),
                ],
            ));
            let mut left = vec![
                if s.remaining > 0 {
                    fill(
                        &gettext("{} left"),
                        &[&s.metric.display_in(&amounts::current(), s.remaining)],
                    )
                } else {
                    fill(
                        &gettext("{} over"),
                        &[&s.metric.display_in(&amounts::current(), s.used - s.limit)],
                    )
                },
                period_label(&s.period),
            ];
            left.push(match s.resets_at {
                Some(at) => fill(&gettext("resets {}"), &[&local_time(at)]),
                None => gettext("no automatic reset"),
            });
            w.budget_left.set_label(&left.join(" · "));
            let outlook = self.outlook_text();
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
            w.others.append(&other_row(s));
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
        w.unpriced_label.set_label(&fill(
            &ngettext(
                "{} call in these days has no price, so its cost is not in the totals.",
                "{} calls in these days have no price, so their cost is not in the totals.",
                d.unpriced.min(u32::MAX as u64) as u32,
            ),
            &[&amounts::count(d.unpriced)],
        ));

        let title = match self.days {
            1 => gettext("Spend per Hour · {}"),
            _ => gettext("Spend per Day · {}"),
        };
        w.spend_title
            .set_label(&fill(&title, &[&amounts::money(d.range_total.cost)]));
        w.spend.set(d.spend.clone());
        let quiet = d.range_total.records == 0 && d.last_call.is_some();
        w.spend.area.set_visible(!quiet);
        w.where_card.set_visible(!quiet);
        w.quiet.set_visible(quiet);
        if let Some(last) = d.last_call.filter(|_| quiet) {
            let last = long_date(last.to_zoned(jiff::tz::TimeZone::system()).date());
            w.quiet_label.set_label(&if self.days == 1 {
                fill(
                    &gettext("Nothing spent today. The last call was on {}."),
                    &[&last],
                )
            } else {
                fill(
                    &ngettext(
                        "Nothing spent in the last {} day. The last call was on {}.",
                        "Nothing spent in the last {} days. The last call was on {}.",
                        self.days as u32,
                    ),
                    &[&self.days.to_string(), &last],
                )
            });
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
        let jobs = &d.jobs;
        w.jobs.set_visible(jobs.attempts > 0);
        if let Some(rate) = jobs.success_bp() {
            let per = jobs
                .cost_per_success()
                .map_or_else(|| "—".into(), amounts::money);
            let mut text = fill(
                &ngettext(
                    "{} job · {} succeeded · {} per successful job",
                    "{} jobs · {} succeeded · {} per successful job",
                    jobs.attempts.min(u32::MAX as u64) as u32,
                ),
                &[&amounts::count(jobs.attempts), &percent(rate), &per],
            );
            if let Some(q) = jobs.mean_quality() {
                // Scores come on the caller's own scale: shown as given.
                let mean = format!("{q:.2}").replace('.', &amounts::current().decimal.to_string());
                text.push_str(&fill(&gettext(" · quality {} on average"), &[&mean]));
            }
            w.jobs.set_label(&text);
        }
        if let Some(last) = d.last_call {
            super::probe::say(&format!("dashboard {}", last.as_millisecond()));
            super::probe::first_frame(w.stack.upcast_ref());
        }
    }
}

//! The dashboard's widgets: built once, filled by the view on each change.

use relm4::adw::prelude::*;
use relm4::gtk;
use relm4::{ComponentSender, adw};

use super::a11y;
use super::amounts;
use super::app::Page;
use super::chart::Chart;
use super::dashboard::{DIMENSIONS, DashboardInput, DashboardOutput, DashboardView, RANGES};
use super::dashboard_text;
use crate::charts::{self, Bars, Meter, SpendChart};
use crate::i18n::{fill, gettext, ngettext, percent};

pub struct DashboardWidgets {
    pub stack: gtk::Stack,
    pub budget: gtk::Box,
    pub no_budget: gtk::Box,
    pub budget_name: gtk::Label,
    pub budget_figures: gtk::Label,
    pub budget_left: gtk::Label,
    pub budget_outlook: gtk::Label,
    pub meter: Chart<Meter>,
    pub others: gtk::ListBox,
    pub plans: gtk::ListBox,
    pub plans_card: gtk::Box,
    pub spend_title: gtk::Label,
    pub spend: Chart<SpendChart>,
    pub bars: Chart<Bars>,
    pub table: gtk::Grid,
    pub jobs: gtk::Label,
    pub alerts: gtk::ListBox,
    pub alerts_card: gtk::Box,
    pub unpriced: gtk::Box,
    pub unpriced_label: gtk::Label,
    pub quiet: gtk::Box,
    pub quiet_label: gtk::Label,
    pub where_card: gtk::Box,
    pub error: gtk::Label,
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

pub fn other_row(s: &crate::engine::PolicyStatus) -> gtk::ListBoxRow {
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

/// Builds the dashboard in `root`: the first-run page and the content page
/// (budget, other budgets, alerts, spend, where the money went).
// The closures around the draw functions are not redundant: each call
// instantiates the function for that draw's cairo context lifetime.
#[allow(clippy::redundant_closure)]
pub fn build(root: &gtk::Box, sender: &ComponentSender<DashboardView>) -> DashboardWidgets {
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
    let plans = gtk::ListBox::builder()
        .selection_mode(gtk::SelectionMode::None)
        .css_classes(["boxed-list"])
        .build();
    a11y::set_label(&plans, &gettext("Plan windows"));
    let plans_card = card(&gettext("Plan Windows"), &[plans.upcast_ref()]);
    plans_card.set_widget_name("dashboard-plans");

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
        let chart = data.borrow();
        let shown = dashboard_text::day_at(&chart, f64::from(x), f64::from(area.width()))
            .and_then(|i| dashboard_text::spend_tooltip(&chart, i));
        tip.set_markup(shown.as_deref());
        shown.is_some()
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
            plans_card.upcast_ref(),
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

    DashboardWidgets {
        stack,
        budget,
        no_budget,
        budget_name,
        budget_figures,
        budget_left,
        budget_outlook,
        meter,
        others,
        plans,
        plans_card,
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
    }
}

//! The Reports view: pick a report, a range and a grouping (and for a what-if,
//! a scenario and a model); the report runs on a worker thread with its own
//! connection, then shows as a chart and tables, and exports to CSV, Markdown
//! or JSON.

use std::path::PathBuf;

use relm4::adw::prelude::*;
use relm4::gtk;
use relm4::{Component, ComponentParts, ComponentSender, adw};

use super::a11y;
use super::chart::Chart;
use super::report_chart::chart_of;
use super::report_tables::table_widget;
use crate::charts::{self, Bars, SpendChart};
use crate::core::pricing::Mode;
use crate::core::report::what_if::Scenario;
use crate::core::report::{Days, PRESETS};
use crate::core::usage::{Dimension, ServiceTier};
use crate::export::{self, Document, Format};
use crate::i18n::{fill, gettext};
use crate::reports::{self, Context, Kind, Request};
use crate::store::Store;

const GROUPS: [Dimension; 8] = [
    Dimension::Model,
    Dimension::Provider,
    Dimension::Project,
    Dimension::User,
    Dimension::Agent,
    Dimension::Day,
    Dimension::Week,
    Dimension::Month,
];

const FORMATS: [Format; 3] = [Format::Csv, Format::Markdown, Format::Json];

fn preset_title(name: &str) -> String {
    match name {
        "today" => gettext("Today"),
        "yesterday" => gettext("Yesterday"),
        "this-week" => gettext("This week"),
        "last-week" => gettext("Last week"),
        "last-7-days" => gettext("Last 7 days"),
        "last-30-days" => gettext("Last 30 days"),
        "last-90-days" => gettext("Last 90 days"),
        "this-month" => gettext("This month"),
        "last-month" => gettext("Last month"),
        "this-year" => gettext("This year"),
        "last-year" => gettext("Last year"),
        other => other.to_string(),
    }
}

fn group_title(d: Dimension) -> String {
    match d {
        Dimension::Model => gettext("By model"),
        Dimension::Provider => gettext("By provider"),
        Dimension::Project => gettext("By project"),
        Dimension::User => gettext("By user"),
        Dimension::Agent => gettext("By agent"),
        Dimension::Day => gettext("By day"),
        Dimension::Week => gettext("By week"),
        Dimension::Month => gettext("By month"),
        Dimension::Source => gettext("By source"),
        Dimension::Machine => gettext("By machine"),
    }
}

#[derive(Debug)]
pub enum ReportsInput {
    /// A control changed: run the report again.
    Changed,
    /// The view was shown: run once if nothing has run yet.
    Shown,
    /// The ledger may have changed: run again if a report is showing.
    Reload,
    Export,
    Exported(Result<PathBuf, String>),
}

pub struct ReportsView {
    db: PathBuf,
    controls: Controls,
    /// Bumped per run, so a slow earlier run never replaces a later one.
    generation: u64,
    running: bool,
    doc: Option<Document>,
    /// Set when `doc` is new and the tables need building.
    fresh: std::cell::Cell<bool>,
    status: String,
}

/// The inputs, read when a run starts.
#[derive(Clone)]
struct Controls {
    kind: gtk::DropDown,
    range: gtk::DropDown,
    from: gtk::Entry,
    to: gtk::Entry,
    group: gtk::DropDown,
    scenario: gtk::DropDown,
    model: gtk::DropDown,
    models: gtk::StringList,
    format: gtk::DropDown,
}

pub struct ReportsWidgets {
    spinner: gtk::Spinner,
    tables: gtk::Box,
    status: gtk::Label,
    from: gtk::Entry,
    to: gtk::Entry,
    group: gtk::DropDown,
    scenario_box: gtk::Box,
    spend: Chart<SpendChart>,
    bars: Chart<Bars>,
}

fn dropdown(items: &[String], name: &str, accessible: &str) -> gtk::DropDown {
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    let d = gtk::DropDown::from_strings(&refs);
    d.set_widget_name(name);
    d.set_valign(gtk::Align::Center);
    a11y::set_label(&d, accessible);
    d
}

impl Controls {
    fn kind(&self) -> Kind {
        Kind::ALL[(self.kind.selected() as usize).min(Kind::ALL.len() - 1)]
    }

    fn custom(&self) -> bool {
        self.range.selected() as usize >= PRESETS.len()
    }

    fn range(&self) -> Result<Range, String> {
        if !self.custom() {
            return Ok(Range::Preset(PRESETS[self.range.selected() as usize]));
        }
        let parse = |e: &gtk::Entry| {
            let text = e.text().trim().to_string();
            text.parse::<jiff::civil::Date>()
                .map_err(|_| fill(&gettext("“{}” is not a date (YYYY-MM-DD)"), &[&text]))
        };
        Ok(Range::Custom(Days::new(
            parse(&self.from)?,
            parse(&self.to)?,
        )))
    }

    fn scenario(&self) -> Scenario {
        match self.scenario.selected() {
            1 => Scenario::Tier {
                tier: ServiceTier::Batch,
            },
            2 => Scenario::PerfectCaching,
            3 => Scenario::Tier {
                tier: ServiceTier::Flex,
            },
            4 => Scenario::StandardSpeed,
            _ => {
                let to = self
                    .models
                    .string(self.model.selected())
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                Scenario::Models {
                    map: vec![("*".into(), to)],
                }
            }
        }
    }

    fn format(&self) -> Format {
        FORMATS[(self.format.selected() as usize).min(FORMATS.len() - 1)]
    }
}

/// Chat models in the price book as `provider/model`, for the what-if picker.
fn chat_models(db: &std::path::Path) -> Vec<String> {
    let book = Store::open_to_read(db)
        .ok()
        .and_then(|s| crate::prices::load(&s).ok());
    let mut names: Vec<String> = book
        .map(|b| {
            b.entries()
                .iter()
                .filter(|e| e.mode == Mode::Chat)
                .map(|e| format!("{}/{}", e.provider, e.model))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

/// The range picked. A preset becomes days on the worker, against the
/// ledger's today and week start, which take a connection to read.
enum Range {
    Preset(&'static str),
    Custom(Days),
}

/// What to run, as read from the controls.
struct Asked {
    kind: Kind,
    range: Range,
    group: Dimension,
    scenario: Scenario,
}

/// Runs a report on its own connection (called on a worker thread).
fn run(db: &std::path::Path, asked: Asked) -> Result<Document, String> {
    let store = Store::open_to_read(db).map_err(|e| e.to_string())?;
    let book = crate::prices::load(&store).map_err(|e| e.to_string())?;
    let ctx = Context {
        store: &store,
        book: &book,
        now: jiff::Timestamp::now(),
        week_start: reports::week_start(&store),
    };
    let days = match asked.range {
        Range::Custom(days) => days,
        Range::Preset(name) => {
            Days::preset(name, ctx.today(), ctx.week_start).ok_or_else(|| name.to_string())?
        }
    };
    let mut req = Request::new(asked.kind, days);
    req.group_by = asked.group;
    req.scenario = asked.scenario;
    reports::run(&ctx, &req).map_err(|e| e.to_string())
}

impl ReportsView {
    /// A trend groups by time, the rest by a dimension: the group picker
    /// follows the report kind (which runs the report again).
    fn fit_group(&self) -> bool {
        let group = GROUPS[(self.controls.group.selected() as usize).min(GROUPS.len() - 1)];
        let want = match self.controls.kind() {
            Kind::Trend if !group.is_time() => Dimension::Day,
            Kind::Trend => return false,
            _ if group.is_time() => Dimension::Model,
            _ => return false,
        };
        let index = GROUPS.iter().position(|g| *g == want).unwrap_or(0);
        self.controls.group.set_selected(index as u32);
        true
    }

    fn start(&mut self, sender: &ComponentSender<Self>) {
        if self.fit_group() {
            return;
        }
        let range = match self.controls.range() {
            Ok(r) => r,
            Err(e) => {
                self.status = e;
                return;
            }
        };
        let asked = Asked {
            kind: self.controls.kind(),
            range,
            group: GROUPS[(self.controls.group.selected() as usize).min(GROUPS.len() - 1)],
            scenario: self.controls.scenario(),
        };
        self.generation += 1;
        self.running = true;
        self.status.clear();
        let (db, generation) = (self.db.clone(), self.generation);
        sender.spawn_oneshot_command(move || (generation, run(&db, asked)));
    }
}

impl Component for ReportsView {
    type Init = PathBuf;
    type Input = ReportsInput;
    type Output = ();
    type CommandOutput = (u64, Result<Document, String>);
    type Root = gtk::ScrolledWindow;
    type Widgets = ReportsWidgets;

    fn init_root() -> gtk::ScrolledWindow {
        gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .build()
    }

    #[allow(clippy::redundant_closure)] // the chart needs closures, not fn items of other types
    fn init(
        db: PathBuf,
        root: gtk::ScrolledWindow,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let kinds: Vec<String> = Kind::ALL.iter().map(|k| k.title()).collect();
        let kind = dropdown(&kinds, "reports-kind", &gettext("Report"));
        let mut ranges: Vec<String> = PRESETS.iter().map(|p| preset_title(p)).collect();
        ranges.push(gettext("Custom range"));
        let range = dropdown(&ranges, "reports-range", &gettext("Range"));
        range.set_selected(PRESETS.iter().position(|p| *p == "this-month").unwrap_or(0) as u32);
        let today = jiff::Zoned::now().date();
        let date_entry = |name: &str, text: String, label: String| {
            let e = gtk::Entry::builder()
                .text(text)
                .width_chars(11)
                .visible(false)
                .placeholder_text("YYYY-MM-DD")
                .valign(gtk::Align::Center)
                .build();
            e.set_widget_name(name);
            a11y::set_label(&e, &label);
            e
        };
        let from = date_entry(
            "reports-from",
            today.first_of_month().to_string(),
            gettext("From"),
        );
        let to = date_entry("reports-to", today.to_string(), gettext("To"));
        let groups: Vec<String> = GROUPS.iter().map(|g| group_title(*g)).collect();
        let group = dropdown(&groups, "reports-group", &gettext("Group by"));
        let scenarios = [
            gettext("On another model"),
            gettext("Through batch APIs"),
            gettext("Perfectly cached"),
            gettext("At the flex tier"),
            gettext("Without fast mode"),
        ];
        let scenario = dropdown(&scenarios, "reports-scenario", &gettext("What if"));
        // Filled when the view is first shown: reading the price book is no
        // reason to delay the window's first frame.
        let models = gtk::StringList::new(&[]);
        let model = gtk::DropDown::builder()
            .model(&models)
            .enable_search(true)
            .expression(gtk::PropertyExpression::new(
                gtk::StringObject::static_type(),
                None::<gtk::Expression>,
                "string",
            ))
            .valign(gtk::Align::Center)
            .build();
        model.set_widget_name("reports-model");
        a11y::set_label(&model, &gettext("Model"));
        let format_names = [
            "CSV".to_string(),
            "Markdown".to_string(),
            "JSON".to_string(),
        ];
        let format = dropdown(&format_names, "reports-format", &gettext("Export format"));
        let export_button = gtk::Button::builder()
            .label(gettext("Export…"))
            .valign(gtk::Align::Center)
            .css_classes(["suggested-action"])
            .build();
        export_button.set_widget_name("reports-export");
        let s = sender.clone();
        export_button.connect_clicked(move |_| s.input(ReportsInput::Export));

        let controls = Controls {
            kind,
            range,
            from,
            to,
            group,
            scenario,
            model,
            models,
            format,
        };
        for d in [
            &controls.kind,
            &controls.range,
            &controls.group,
            &controls.scenario,
            &controls.model,
        ] {
            let s = sender.clone();
            d.connect_selected_notify(move |_| s.input(ReportsInput::Changed));
        }
        for e in [&controls.from, &controls.to] {
            let s = sender.clone();
            e.connect_activate(move |_| s.input(ReportsInput::Changed));
        }

        // Controls wrap onto more lines in a narrow window.
        let bar = gtk::FlowBox::builder()
            .selection_mode(gtk::SelectionMode::None)
            .column_spacing(6)
            .row_spacing(6)
            .max_children_per_line(8)
            .build();
        for w in [
            controls.kind.upcast_ref::<gtk::Widget>(),
            controls.range.upcast_ref(),
            controls.from.upcast_ref(),
            controls.to.upcast_ref(),
            controls.group.upcast_ref(),
        ] {
            bar.insert(w, -1);
        }
        let scenario_box = gtk::Box::builder().spacing(6).visible(false).build();
        scenario_box.append(&controls.scenario);
        scenario_box.append(&controls.model);
        bar.insert(&scenario_box, -1);
        let export_box = gtk::Box::builder().spacing(6).build();
        export_box.append(&controls.format);
        export_box.append(&export_button);
        bar.insert(&export_box, -1);
        // Each control at its own width, not stretched to share the line.
        let mut child = bar.first_child();
        while let Some(c) = child {
            c.set_halign(gtk::Align::Start);
            c.set_hexpand(false);
            child = c.next_sibling();
        }

        let spinner = gtk::Spinner::builder().halign(gtk::Align::Center).build();
        spinner.set_widget_name("reports-spinner");
        let status = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .visible(false)
            .build();
        status.set_widget_name("reports-status");
        let spend = Chart::new(|a, d, p| charts::draw_spend(a, d, p), 220);
        let bars = Chart::new(|a, d, p| charts::draw_bars(a, d, p), 160);
        spend.area.set_visible(false);
        bars.area.set_visible(false);
        let tables = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(12)
            .build();
        tables.set_widget_name("reports-tables");

        let column = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(12)
            .margin_top(18)
            .margin_bottom(18)
            .margin_start(12)
            .margin_end(12)
            .build();
        for w in [
            bar.upcast_ref::<gtk::Widget>(),
            status.upcast_ref(),
            spinner.upcast_ref(),
            spend.area.upcast_ref(),
            bars.area.upcast_ref(),
            tables.upcast_ref(),
        ] {
            column.append(w);
        }
        // Wide tables use the window's width: no margin grows before the
        // column reaches its widest.
        let clamp = adw::Clamp::builder()
            .maximum_size(1100)
            .tightening_threshold(1100)
            .child(&column)
            .build();
        root.set_child(Some(&clamp));
        let s = sender.clone();
        root.connect_map(move |_| s.input(ReportsInput::Shown));

        let widgets = ReportsWidgets {
            spinner,
            tables,
            status,
            from: controls.from.clone(),
            to: controls.to.clone(),
            group: controls.group.clone(),
            scenario_box,
            spend,
            bars,
        };
        let model = ReportsView {
            db,
            controls,
            generation: 0,
            running: false,
            doc: None,
            fresh: std::cell::Cell::new(false),
            status: String::new(),
        };
        ComponentParts { model, widgets }
    }

    fn update(&mut self, input: ReportsInput, sender: ComponentSender<Self>, root: &Self::Root) {
        match input {
            ReportsInput::Changed => self.start(&sender),
            ReportsInput::Shown if self.generation == 0 => {
                let names = chat_models(&self.db);
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                self.controls.models.splice(0, 0, &refs);
                if let Some(i) = names.iter().position(|n| n.ends_with("/claude-haiku-4-5")) {
                    self.controls.model.set_selected(i as u32);
                }
                self.start(&sender);
            }
            ReportsInput::Shown => {}
            ReportsInput::Reload if self.generation > 0 => self.start(&sender),
            ReportsInput::Reload => {}
            ReportsInput::Export => {
                let Some(doc) = self.doc.clone() else {
                    return;
                };
                let format = self.controls.format();
                let parent = root.root().and_then(|r| r.downcast::<gtk::Window>().ok());
                let chooser = gtk::FileChooserNative::new(
                    Some(&gettext("Export the Report")),
                    parent.as_ref(),
                    gtk::FileChooserAction::Save,
                    Some(&gettext("_Export")),
                    Some(&gettext("_Cancel")),
                );
                let range = match (doc.from, doc.to) {
                    (Some(f), Some(t)) => format!("-{f}-{t}"),
                    _ => format!("-{}", jiff::Zoned::now().date()),
                };
                chooser.set_current_name(&format!(
                    "tally-{}{range}.{}",
                    doc.report,
                    format.extension()
                ));
                let s = sender.clone();
                super::choose_file(chooser, move |path| {
                    let bytes = export::render(&doc, format);
                    let done = export::write_atomic(&path, &bytes)
                        .map(|()| path)
                        .map_err(|e| e.to_string());
                    s.input(ReportsInput::Exported(done));
                });
            }
            ReportsInput::Exported(Ok(path)) => {
                self.status = fill(&gettext("Exported to {}"), &[&path.display().to_string()]);
            }
            ReportsInput::Exported(Err(e)) => self.status = e,
        }
    }

    fn update_cmd(
        &mut self,
        (generation, result): (u64, Result<Document, String>),
        _sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        if generation != self.generation {
            return;
        }
        self.running = false;
        match result {
            Ok(doc) => {
                self.status = doc.notes.join("\n");
                self.doc = Some(doc);
                self.fresh.set(true);
            }
            Err(e) => self.status = e,
        }
    }

    fn update_view(&self, widgets: &mut ReportsWidgets, _sender: ComponentSender<Self>) {
        widgets.spinner.set_spinning(self.running);
        widgets.spinner.set_visible(self.running);
        widgets.status.set_label(&self.status);
        widgets.status.set_visible(!self.status.is_empty());
        let kind = self.controls.kind();
        // A projection is about now, whatever the range.
        let ranged = kind != Kind::Projection;
        let custom = self.controls.custom();
        self.controls.range.set_visible(ranged);
        widgets.from.set_visible(ranged && custom);
        widgets.to.set_visible(ranged && custom);
        widgets.scenario_box.set_visible(kind == Kind::WhatIf);
        widgets.group.set_visible(
            kind != Kind::Projection && kind != Kind::Reconcile && kind != Kind::Summary,
        );
        self.controls
            .model
            .set_visible(self.controls.scenario.selected() == 0);
        if !self.fresh.take() {
            return;
        }
        let Some(doc) = &self.doc else {
            return;
        };
        while let Some(child) = widgets.tables.first_child() {
            widgets.tables.remove(&child);
        }
        for t in &doc.tables {
            widgets.tables.append(&table_widget(t));
        }
        let (spend, bars) = chart_of(doc);
        widgets.spend.area.set_visible(spend.is_some());
        widgets
            .bars
            .area
            .set_visible(bars.as_ref().is_some_and(|b| !b.bars.is_empty()));
        if let Some(s) = spend {
            widgets.spend.set(s);
        }
        if let Some(b) = bars {
            // As tall as its bars need.
            widgets
                .bars
                .area
                .set_content_height((b.bars.len() as i32 * 28 + 16).max(60));
            widgets.bars.set(b);
        }
    }
}

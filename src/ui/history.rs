//! The Usage history view: every record, newest first, with filters.

use super::amounts;
use std::cell::Cell;
use std::rc::Rc;

use jiff::Zoned;
use relm4::adw::prelude::*;
use relm4::gtk;
use relm4::{ComponentParts, ComponentSender, SimpleComponent, adw};

use super::a11y;
use super::date_range::{
    CUSTOM_RANGE, custom_range_popover, day_range_bounds, preset_days, range_names,
};
use super::history_columns::append_columns;
use super::ledger::Ledger;
use super::ledger_model::{Counted, LedgerModel, PageAsk};
use crate::i18n::{fill, gettext, ngettext, plural_n};
use crate::store::{HistoryFilter, Store, StoreError};

#[derive(Debug)]
pub enum HistoryInput {
    Search(String),
    Model(u32),
    Provider(u32),
    Machine(u32),
    Range(u32),
    /// The first and last day of a range picked on the calendars.
    CustomRange(jiff::civil::Date, jiff::civil::Date),
    CustomRangeClosed,
    ClearFilters,
    /// Another process (or this one) wrote to the ledger.
    LedgerChanged,
    /// The view was put on screen.
    Shown,
    /// The reads thread counted what a filter lists (and, after a change to
    /// the ledger, read the models and providers for the menus). Answers to
    /// an older question than the last one asked are dropped.
    Counted(u64, Box<Result<(Counted, Option<Menus>), StoreError>>),
    FocusSearch,
    /// A narrow window: keep only time, model and cost.
    Compact(bool),
    /// An export finished: how many records went to which file, or why not.
    Exported(Result<(u64, std::path::PathBuf), String>),
}

/// The models, providers and machines in the ledger, for the filter menus.
#[derive(Debug)]
pub struct Menus {
    models: Vec<String>,
    providers: Vec<String>,
    machines: Vec<String>,
}

impl Menus {
    fn read(store: &Store) -> Result<Menus, StoreError> {
        Ok(Menus {
            models: store.distinct_values("model")?,
            providers: store.distinct_values("provider")?,
            machines: store.distinct_values("machine")?,
        })
    }
}

pub struct HistoryView {
    ledger: Rc<Ledger>,
    model: LedgerModel,
    scroller: gtk::ScrolledWindow,
    /// The filter as the user set it; ahead of the model's until counted.
    filter: Rc<std::cell::RefCell<HistoryFilter>>,
    /// The last count asked for, and whether one has been answered yet.
    asked: Cell<u64>,
    counted: Cell<bool>,
    models: std::cell::RefCell<Vec<String>>,
    providers: std::cell::RefCell<Vec<String>>,
    machines: std::cell::RefCell<Vec<String>>,
    /// Menus read with the last count, to fill in.
    menus: std::cell::RefCell<Option<Menus>>,
    /// Set while the menus are rebuilt, so their "selected" signals are ignored.
    refilling: Rc<Cell<bool>>,
    focus_search: Cell<bool>,
    /// "Clear Filters" was pressed: reset the controls too.
    clear_controls: Cell<bool>,
    compact: Cell<bool>,
    range: RangeState,
    /// What the last export did, shown under the filters until the next.
    exported: std::cell::RefCell<Option<String>>,
}

/// The date menu's state between messages and the view update.
#[derive(Default)]
struct RangeState {
    /// The entry in force (a preset, or `CUSTOM_RANGE` once days were applied).
    chosen: Cell<u32>,
    custom: std::cell::RefCell<Option<(jiff::civil::Date, jiff::civil::Date)>>,
    show_calendars: Cell<bool>,
    /// The calendars closed: the menu shows the range in force again.
    closed: Cell<bool>,
}

pub struct HistoryWidgets {
    search: gtk::SearchEntry,
    model_menu: gtk::DropDown,
    provider_menu: gtk::DropDown,
    /// Shown when the ledger holds more than one machine's calls (a team's).
    machine_menu: gtk::DropDown,
    range_menu: gtk::DropDown,
    range_names: gtk::StringList,
    range_popover: gtk::Popover,
    stack: gtk::Stack,
    count: gtk::Label,
    export_status: gtk::Label,
    /// Hidden in a narrow window.
    secondary_columns: [gtk::ColumnViewColumn; 3],
}

fn string_list(first: &str, values: &[String]) -> gtk::StringList {
    let list = gtk::StringList::new(&[first]);
    for v in values {
        list.append(if v.is_empty() { "—" } else { v });
    }
    list
}

fn dropdown(items: &gtk::StringList, accessible: &str) -> gtk::DropDown {
    let menu = gtk::DropDown::builder()
        .model(items)
        .tooltip_text(accessible)
        .build();
    a11y::set_label(&menu, accessible);
    menu
}

impl HistoryView {
    fn refill_menus(&self, widgets: &HistoryWidgets, menus: Menus) {
        let keep = |menu: &gtk::DropDown, old: &[String], new: &[String]| {
            let chosen = (menu.selected() as usize)
                .checked_sub(1)
                .and_then(|i| old.get(i))
                .cloned();
            chosen
                .and_then(|c| new.iter().position(|v| *v == c))
                .map_or(0, |i| i as u32 + 1)
        };
        let Menus {
            models,
            providers,
            machines,
        } = menus;
        if models == *self.models.borrow()
            && providers == *self.providers.borrow()
            && machines == *self.machines.borrow()
        {
            return;
        }
        self.refilling.set(true);
        let model_pick = keep(&widgets.model_menu, &self.models.borrow(), &models);
        let provider_pick = keep(&widgets.provider_menu, &self.providers.borrow(), &providers);
        widgets
            .model_menu
            .set_model(Some(&string_list(&gettext("All models"), &models)));
        widgets.model_menu.set_selected(model_pick);
        widgets
            .provider_menu
            .set_model(Some(&string_list(&gettext("All providers"), &providers)));
        widgets.provider_menu.set_selected(provider_pick);
        let machine_pick = keep(&widgets.machine_menu, &self.machines.borrow(), &machines);
        widgets
            .machine_menu
            .set_model(Some(&string_list(&gettext("All machines"), &machines)));
        widgets.machine_menu.set_selected(machine_pick);
        // The flow box's slot, not only the menu, or an empty slot stays.
        if let Some(slot) = widgets.machine_menu.parent() {
            slot.set_visible(machines.len() > 1);
        }
        self.refilling.set(false);
        self.models.replace(models);
        self.providers.replace(providers);
        self.machines.replace(machines);
    }

    fn update_filter(
        &self,
        sender: &ComponentSender<Self>,
        change: impl FnOnce(&mut HistoryFilter),
    ) {
        let mut filter = self.filter.borrow().clone();
        change(&mut filter);
        if filter != *self.filter.borrow() {
            self.filter.replace(filter);
            self.count(sender, false);
        }
    }

    /// Asks the reads thread to count what the filter lists (and to read the
    /// menus' values when `menus`); the answer comes as `Counted`.
    fn count(&self, sender: &ComponentSender<Self>, menus: bool) {
        let asked = self.asked.get() + 1;
        self.asked.set(asked);
        let ask = self.model.ask(self.filter.borrow().clone());
        let sender = sender.clone();
        self.ledger.query(
            move |store| {
                let counted = Counted::read(store, ask)?;
                let menus = menus.then(|| Menus::read(store)).transpose()?;
                Ok((counted, menus))
            },
            move |answer| sender.input(HistoryInput::Counted(asked, Box::new(answer))),
        );
    }

    /// Shows what was counted; a new filter starts at the top.
    fn show_counted(&self, counted: Counted) {
        let new_filter = counted.filter != self.model.filter();
        // The first position on screen, as far as the scroll bar tells.
        let adj = self.scroller.vadjustment();
        let seen = if !new_filter && adj.upper() > 0.0 {
            (adj.value() / adj.upper() * f64::from(self.model.count())) as u32
        } else {
            0
        };
        self.model.refresh(counted, seen);
        if new_filter {
            self.scroller.vadjustment().set_value(0.0);
        }
        self.counted.set(true);
    }
}

impl SimpleComponent for HistoryView {
    type Init = Rc<Ledger>;
    type Input = HistoryInput;
    type Output = ();
    type Root = gtk::Box;
    type Widgets = HistoryWidgets;

    fn init_root() -> gtk::Box {
        gtk::Box::new(gtk::Orientation::Vertical, 0)
    }

    fn init(
        ledger: Rc<Ledger>,
        root: gtk::Box,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        // Empty until the first count comes from the reads thread.
        let reads = ledger.clone();
        let model = LedgerModel::new(Rc::new(move |ask: PageAsk, done| {
            reads.query(move |store| ask.read(store), done)
        }));
        let filter = Rc::new(std::cell::RefCell::new(HistoryFilter::default()));
        let refilling = Rc::new(Cell::new(false));

        let search = gtk::SearchEntry::builder()
            .placeholder_text(gettext("Search models, projects, users…"))
            .hexpand(true)
            .build();
        search.set_widget_name("history-search");
        a11y::set_label(&search, &gettext("Search the usage history"));
        let s = sender.clone();
        search.connect_search_changed(move |e| s.input(HistoryInput::Search(e.text().to_string())));

        let model_menu = dropdown(
            &string_list(&gettext("All models"), &[]),
            &gettext("Filter by model"),
        );
        model_menu.set_widget_name("history-model");
        let provider_menu = dropdown(
            &string_list(&gettext("All providers"), &[]),
            &gettext("Filter by provider"),
        );
        provider_menu.set_widget_name("history-provider");
        let machine_menu = dropdown(
            &string_list(&gettext("All machines"), &[]),
            &gettext("Filter by machine"),
        );
        machine_menu.set_widget_name("history-machine");
        let ranges: Vec<String> = range_names();
        let range_refs: Vec<&str> = ranges.iter().map(String::as_str).collect();
        let range_names = gtk::StringList::new(&range_refs);
        let range_menu = dropdown(&range_names, &gettext("Filter by date"));
        range_menu.set_widget_name("history-range");
        let (apply, closed) = (sender.clone(), sender.clone());
        let range_popover = custom_range_popover(
            &range_menu,
            move |first, last| apply.input(HistoryInput::CustomRange(first, last)),
            move || closed.input(HistoryInput::CustomRangeClosed),
        );
        for (menu, make) in [
            (&model_menu, HistoryInput::Model as fn(u32) -> HistoryInput),
            (&provider_menu, HistoryInput::Provider),
            (&machine_menu, HistoryInput::Machine),
            (&range_menu, HistoryInput::Range),
        ] {
            let (s, busy) = (sender.clone(), refilling.clone());
            menu.connect_selected_notify(move |m| {
                if !busy.get() {
                    s.input(make(m.selected()));
                }
            });
        }

        let filters = gtk::FlowBox::builder()
            .selection_mode(gtk::SelectionMode::None)
            .max_children_per_line(4)
            .min_children_per_line(1)
            .column_spacing(6)
            .row_spacing(6)
            .homogeneous(true)
            .build();
        for w in [&model_menu, &provider_menu, &machine_menu, &range_menu] {
            filters.append(w);
        }
        if let Some(slot) = machine_menu.parent() {
            slot.set_visible(false);
        }
        let bar = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(6)
            .margin_start(12)
            .margin_end(12)
            .margin_top(12)
            .margin_bottom(6)
            .build();
        let export = gtk::Button::builder()
            .icon_name("document-save-as-symbolic")
            .tooltip_text(gettext("Export the Listed Records…"))
            .valign(gtk::Align::Center)
            .build();
        export.set_widget_name("history-export");
        a11y::set_label(&export, &gettext("Export the listed records as CSV"));
        let (f, s) = (filter.clone(), sender.clone());
        let db = ledger.path().to_path_buf();
        export
            .connect_clicked(move |b| export_listed(b, f.borrow().clone(), db.clone(), s.clone()));
        let search_row = gtk::Box::builder().spacing(6).build();
        search.set_hexpand(true);
        search_row.append(&search);
        search_row.append(&export);
        bar.append(&search_row);
        bar.append(&filters);

        let columns = gtk::ColumnView::builder()
            .model(&gtk::NoSelection::new(Some(model.clone())))
            .show_row_separators(true)
            .reorderable(false)
            .build();
        columns.set_widget_name("history-list");
        columns.add_css_class("history-list");
        a11y::set_label(&columns, &gettext("Usage records"));
        let secondary_columns = append_columns(&columns);
        let scroller = gtk::ScrolledWindow::builder()
            .child(&columns)
            .vexpand(true)
            .build();

        let empty = adw::StatusPage::builder()
            .icon_name("io.github.tallyapp.Tally-symbolic")
            .title(gettext("No usage yet"))
            .description(gettext(
                "Record a call from any script and it appears here at once:\n\n<tt>tally record --model gpt-4o --input 1200 --output 300</tt>",
            ))
            .vexpand(true)
            .build();
        empty.set_widget_name("history-empty");
        let copy = gtk::Button::builder()
            .label(gettext("Copy Example Command"))
            .halign(gtk::Align::Center)
            .css_classes(["pill", "suggested-action"])
            .build();
        copy.connect_clicked(|b| {
            b.clipboard()
                .set_text("tally record --model gpt-4o --input 1200 --output 300")
        });
        empty.set_child(Some(&copy));

        let no_match = adw::StatusPage::builder()
            .icon_name("edit-find-symbolic")
            .title(gettext("No matching usage"))
            .description(gettext("Nothing in the ledger matches these filters."))
            .vexpand(true)
            .build();
        no_match.set_widget_name("history-no-match");
        let clear = gtk::Button::builder()
            .label(gettext("Clear Filters"))
            .halign(gtk::Align::Center)
            .css_classes(["pill"])
            .build();
        let s = sender.clone();
        clear.connect_clicked(move |_| s.input(HistoryInput::ClearFilters));
        no_match.set_child(Some(&clear));

        let stack = gtk::Stack::builder()
            .transition_type(gtk::StackTransitionType::Crossfade)
            .build();
        stack.set_widget_name("history-stack");
        stack.add_named(&scroller, Some("list"));
        stack.add_named(&empty, Some("empty"));
        stack.add_named(&no_match, Some("no-match"));

        let count = gtk::Label::builder()
            .xalign(0.0)
            .margin_start(12)
            .margin_end(12)
            .margin_top(6)
            .margin_bottom(6)
            .css_classes(["dim-label", "caption"])
            .build();
        count.set_widget_name("history-count");
        let export_status = gtk::Label::builder()
            .xalign(0.0)
            .wrap(true)
            .margin_start(12)
            .margin_end(12)
            .visible(false)
            .css_classes(["caption"])
            .build();
        export_status.set_widget_name("history-export-status");
        bar.append(&export_status);

        root.append(&bar);
        root.append(&stack);
        root.append(&gtk::Separator::new(gtk::Orientation::Horizontal));
        root.append(&count);

        let view = HistoryView {
            ledger,
            model,
            scroller: scroller.clone(),
            filter,
            asked: Cell::new(0),
            counted: Cell::new(false),
            models: Default::default(),
            providers: Default::default(),
            machines: Default::default(),
            menus: Default::default(),
            refilling,
            focus_search: Cell::new(false),
            clear_controls: Cell::new(false),
            compact: Cell::new(false),
            range: RangeState::default(),
            exported: std::cell::RefCell::new(None),
        };
        let widgets = HistoryWidgets {
            search,
            model_menu,
            provider_menu,
            machine_menu,
            range_menu,
            range_names,
            range_popover,
            stack,
            count,
            export_status,
            secondary_columns,
        };
        // Counted when first shown: a hidden list would make its rows'
        // widgets at start-up, before the first frame.
        let s = sender.clone();
        root.connect_map(move |_| s.input(HistoryInput::Shown));
        view.show_state(&widgets);
        ComponentParts {
            model: view,
            widgets,
        }
    }

    fn update(&mut self, msg: HistoryInput, sender: ComponentSender<Self>) {
        match msg {
            HistoryInput::Search(text) => {
                self.update_filter(&sender, |f| {
                    f.text = Some(text).filter(|t| !t.trim().is_empty())
                });
            }
            HistoryInput::Model(i) => {
                let chosen = (i as usize)
                    .checked_sub(1)
                    .and_then(|i| self.models.borrow().get(i).cloned());
                self.update_filter(&sender, |f| f.model = chosen);
            }
            HistoryInput::Provider(i) => {
                let chosen = (i as usize)
                    .checked_sub(1)
                    .and_then(|i| self.providers.borrow().get(i).cloned());
                self.update_filter(&sender, |f| f.provider = chosen);
            }
            HistoryInput::Machine(i) => {
                let chosen = (i as usize)
                    .checked_sub(1)
                    .and_then(|i| self.machines.borrow().get(i).cloned());
                self.update_filter(&sender, |f| f.machine = chosen);
            }
            HistoryInput::Range(CUSTOM_RANGE) => self.range.show_calendars.set(true),
            HistoryInput::Range(i) => {
                self.range.chosen.set(i);
                let days = preset_days(i, Zoned::now().date());
                let (since, until) =
                    days.map_or((None, None), |(first, last)| day_range_bounds(first, last));
                self.update_filter(&sender, |f| {
                    f.since_ms = since;
                    f.until_ms = until;
                });
            }
            HistoryInput::CustomRange(first, last) => {
                self.range.chosen.set(CUSTOM_RANGE);
                self.range.custom.replace(Some((first, last)));
                let (since, until) = day_range_bounds(first, last);
                self.update_filter(&sender, |f| {
                    f.since_ms = since;
                    f.until_ms = until;
                });
            }
            HistoryInput::CustomRangeClosed => self.range.closed.set(true),
            HistoryInput::ClearFilters => {
                self.update_filter(&sender, |f| *f = HistoryFilter::default());
                self.clear_controls.set(true);
            }
            HistoryInput::LedgerChanged => self.count(&sender, true),
            HistoryInput::Shown if self.asked.get() == 0 => self.count(&sender, true),
            HistoryInput::Shown => {}
            HistoryInput::Counted(asked, _) if asked != self.asked.get() => {}
            HistoryInput::Counted(_, answer) => match *answer {
                Ok((counted, menus)) => {
                    self.show_counted(counted);
                    self.menus.replace(menus);
                }
                Err(e) => super::report_failure(
                    &gettext("Cannot read the usage history"),
                    Err::<(), _>(e),
                ),
            },
            HistoryInput::FocusSearch => self.focus_search.set(true),
            HistoryInput::Compact(on) => self.compact.set(on),
            HistoryInput::Exported(result) => {
                self.exported.replace(Some(match result {
                    Ok((n, path)) => fill(
                        &ngettext(
                            "Exported {} record to {}",
                            "Exported {} records to {}",
                            plural_n(n),
                        ),
                        &[&amounts::count(n), &path.display().to_string()],
                    ),
                    Err(e) => e,
                }));
            }
        }
    }

    fn update_view(&self, widgets: &mut HistoryWidgets, _sender: ComponentSender<Self>) {
        if let Some(menus) = self.menus.take() {
            self.refill_menus(widgets, menus);
        }
        self.show_range(widgets);
        self.show_state(widgets);
        if self.focus_search.take() {
            widgets.search.grab_focus();
        }
        if let Some(text) = self.exported.take() {
            widgets.export_status.set_label(&text);
            widgets.export_status.set_visible(true);
        }
    }
}

impl HistoryView {
    /// Opens the calendars when asked, and keeps the date menu on the range in force:
    /// the custom entry names the days it covers.
    fn show_range(&self, widgets: &HistoryWidgets) {
        if self.range.show_calendars.take() {
            widgets.range_popover.popup();
            return;
        }
        let custom_label = match *self.range.custom.borrow() {
            Some((first, last)) => format!("{first} – {last}"),
            None => gettext("Custom range…"),
        };
        let current = widgets
            .range_names
            .string(CUSTOM_RANGE)
            .map(|s| s.to_string());
        self.refilling.set(true);
        if current.as_deref() != Some(custom_label.as_str()) {
            widgets
                .range_names
                .splice(CUSTOM_RANGE, 1, &[custom_label.as_str()]);
        }
        if self.range.closed.take() || widgets.range_menu.selected() != self.range.chosen.get() {
            widgets.range_menu.set_selected(self.range.chosen.get());
        }
        self.refilling.set(false);
    }

    /// Puts the controls, the page (list, empty ledger, no match) and the count in
    /// line with the model.
    fn show_state(&self, widgets: &HistoryWidgets) {
        let filter = self.model.filter();
        if self.clear_controls.take() {
            // Their signals are ignored meanwhile: the filter is already clear.
            self.refilling.set(true);
            widgets.search.set_text("");
            widgets.model_menu.set_selected(0);
            widgets.provider_menu.set_selected(0);
            widgets.machine_menu.set_selected(0);
            widgets.range_menu.set_selected(0);
            self.range.chosen.set(0);
            self.range.custom.replace(None);
            self.refilling.set(false);
        }
        for column in &widgets.secondary_columns {
            column.set_visible(!self.compact.get());
        }
        let n = self.model.count();
        if !self.counted.get() {
            // Not counted yet: an empty list, not the "no usage yet" page.
            widgets.stack.set_visible_child_name("list");
            widgets.count.set_text(&gettext("Counting records…"));
            return;
        }
        super::probe::say(&format!("history {n}"));
        let page = if n > 0 {
            "list"
        } else if filter == HistoryFilter::default() {
            "empty"
        } else {
            "no-match"
        };
        widgets.stack.set_visible_child_name(page);
        widgets.count.set_text(&fill(
            &ngettext("{} record", "{} records", n),
            &[&amounts::count(u64::from(n))],
        ));
    }
}

/// Asks where to save the records `filter` lists, then writes them as CSV on a
/// worker thread with its own connection; the view hears how it went.
fn export_listed(
    button: &gtk::Button,
    filter: HistoryFilter,
    db: std::path::PathBuf,
    sender: ComponentSender<HistoryView>,
) {
    let parent = button.root().and_then(|r| r.downcast::<gtk::Window>().ok());
    let chooser = gtk::FileChooserNative::new(
        Some(&gettext("Export the Listed Records")),
        parent.as_ref(),
        gtk::FileChooserAction::Save,
        Some(&gettext("_Export")),
        Some(&gettext("_Cancel")),
    );
    chooser.set_current_name(&format!("tally-usage-{}.csv", Zoned::now().date()));
    super::choose_file(chooser, move |path| {
        let (filter, db, sender) = (filter.clone(), db.clone(), sender.clone());
        std::thread::spawn(move || {
            let result = Store::open_to_read(&db)
                .map_err(anyhow::Error::from)
                .and_then(|store| crate::export::usage::write_csv(&store, &filter, &path))
                .map(|n| (n, path))
                .map_err(|e| format!("{e:#}"));
            sender.input(HistoryInput::Exported(result));
        });
    });
}

//! A report's tables as the window shows them: a grid per table, amounts in
//! the chosen currency, machine words in the user's language.

use relm4::gtk;
use relm4::gtk::prelude::*;

use super::amounts;
use crate::core::usage::Dimension;
use crate::export::{self, Cell};
use crate::i18n::{fill, gettext};

/// Rows shown per table; an export holds them all.
const SHOWN_ROWS: usize = 400;
/// The words machine columns hold, as the window says them.
fn word(key: &str, text: &str) -> Option<String> {
    Some(match (key, text) {
        ("dimension", d) => crate::i18n::dimension_title(d.parse::<Dimension>().ok()?),
        ("presence", "both") => gettext("Both"),
        ("presence", "new") => gettext("New"),
        ("presence", "gone") => gettext("Gone"),
        ("presence", "total") => String::new(),
        ("breach", "already") => gettext("Already"),
        ("breach", "on") => gettext("Expected"),
        ("breach", "not_expected") => gettext("Not expected"),
        ("breach", "unknown") => gettext("Too early to say"),
        ("state", "ok") => gettext("OK"),
        ("state", "warning") => gettext("Warning"),
        ("state", "critical") => gettext("Critical"),
        ("state", "exceeded") => gettext("Exceeded"),
        ("metric", "cost") => gettext("Cost"),
        ("metric", "tokens") => gettext("Tokens"),
        ("metric", "requests") => gettext("Requests"),
        ("metric", "images") => gettext("Images"),
        _ => return None,
    })
}

/// A cell of column `key` as the window shows it: amounts in the chosen
/// currency, machine words in the user's language.
fn shown_in(key: &str, c: &Cell) -> String {
    match c {
        Cell::Text(t) => word(key, t).unwrap_or_else(|| t.clone()),
        other => shown(other),
    }
}

/// A cell as the window shows it: amounts in the chosen currency.
fn shown(c: &Cell) -> String {
    match c {
        Cell::Money(m) => amounts::money(*m),
        Cell::Count(n) => amounts::count(*n),
        Cell::Measure(metric, v) => metric.display_in(&amounts::current(), *v),
        Cell::Bool(true) => "⚠".into(),
        Cell::Bool(false) => String::new(),
        other => other.human(),
    }
}

fn cell_label(text: &str, number: bool) -> gtk::Label {
    let label = gtk::Label::builder()
        .label(text)
        .xalign(if number { 1.0 } else { 0.0 })
        .selectable(true)
        .build();
    if number {
        label.add_css_class("numeric");
    } else {
        // Long names are cut, never squeezed below a readable width.
        let chars = text.chars().count() as i32;
        label.set_ellipsize(gtk::pango::EllipsizeMode::End);
        label.set_width_chars((chars + 2).min(18));
        label.set_max_width_chars(36);
        if chars > 36 {
            label.set_tooltip_text(Some(text));
        }
    }
    label
}

pub fn table_widget(t: &export::Table) -> gtk::Widget {
    let grid = gtk::Grid::builder()
        .column_spacing(14)
        .row_spacing(6)
        .margin_top(6)
        .margin_bottom(12)
        .build();
    let numbers: Vec<bool> = (0..t.columns.len())
        .map(|i| t.rows.iter().any(|r| r.get(i).is_some_and(Cell::is_number)))
        .collect();
    // A column empty in every row (profit and margin with no revenue
    // recorded) says nothing in the window; the export keeps it.
    let kept: Vec<usize> = (0..t.columns.len())
        .filter(|&i| {
            t.rows.len() <= 1
                || t.rows
                    .iter()
                    .any(|r| r.get(i).is_some_and(|c| !matches!(c, Cell::Empty)))
        })
        .collect();
    for (at, &i) in kept.iter().enumerate() {
        let label = cell_label(&t.columns[i].title, numbers[i]);
        label.add_css_class("heading");
        grid.attach(&label, at as i32, 0, 1, 1);
    }
    let mut previous_first: Option<String> = None;
    for (r, row) in t.rows.iter().take(SHOWN_ROWS).enumerate() {
        for (at, &i) in kept.iter().enumerate() {
            let Some(cell) = row.get(i) else {
                continue;
            };
            let mut text = shown_in(t.columns[i].key, cell);
            // A first column that repeats (the summary's dimension) is said once.
            if i == 0 && !numbers[0] {
                if previous_first.as_deref() == Some(text.as_str()) {
                    text.clear();
                } else {
                    previous_first = Some(text.clone());
                }
            }
            let label = cell_label(&text, numbers[i]);
            if matches!(cell, Cell::Bool(true)) {
                label.add_css_class("warning");
            }
            grid.attach(&label, at as i32, r as i32 + 1, 1, 1);
        }
    }
    let scroller = gtk::ScrolledWindow::builder()
        .vscrollbar_policy(gtk::PolicyType::Never)
        .child(&grid)
        .build();
    // One wide row reads better as a list of figures, two a line where there is room.
    let body: gtk::Widget = match t.rows.as_slice() {
        [row] if t.columns.len() > 6 => figures(t, row),
        _ => scroller.upcast(),
    };
    let card = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .css_classes(["card", "report-table"])
        .build();
    let title = gtk::Label::builder()
        .label(&t.title)
        .xalign(0.0)
        .wrap(true)
        .css_classes(["title-4"])
        .margin_top(12)
        .margin_start(12)
        .build();
    card.append(&title);
    body.set_margin_start(12);
    body.set_margin_end(12);
    card.append(&body);
    if t.rows.is_empty() {
        let empty = gtk::Label::builder()
            .label(gettext("Nothing to show for this range."))
            .css_classes(["dim-label"])
            .margin_bottom(12)
            .build();
        card.append(&empty);
    } else if t.rows.len() > SHOWN_ROWS {
        let more = gtk::Label::builder()
            .label(fill(
                &gettext("The first {} of {} rows; an export holds them all."),
                &[&SHOWN_ROWS.to_string(), &t.rows.len().to_string()],
            ))
            .css_classes(["dim-label"])
            .margin_bottom(12)
            .build();
        card.append(&more);
    }
    card.upcast()
}

/// A single row's figures as title and value pairs that wrap to the width.
fn figures(t: &export::Table, row: &[Cell]) -> gtk::Widget {
    let flow = gtk::FlowBox::builder()
        .selection_mode(gtk::SelectionMode::None)
        .homogeneous(true)
        .min_children_per_line(1)
        .max_children_per_line(2)
        .column_spacing(24)
        .row_spacing(6)
        .margin_top(6)
        .margin_bottom(12)
        .build();
    for (c, cell) in t.columns.iter().zip(row) {
        let pair = gtk::Box::builder().spacing(12).build();
        let title = cell_label(&c.title, false);
        title.add_css_class("dim-label");
        title.set_hexpand(true);
        pair.append(&title);
        pair.append(&cell_label(&shown_in(c.key, cell), true));
        flow.insert(&pair, -1);
    }
    flow.upcast()
}

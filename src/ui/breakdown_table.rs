//! The dashboard's breakdown as a table: one row per model (or provider,
//! project…) with its cost, share, requests, tokens and cost per request,
//! profit and margin when revenue was recorded; each column sorts it.

use super::amounts;
use relm4::gtk::{self, prelude::*};

use super::ledger_row::key_name;
use crate::core::breakdown::{Share, SortBy};
use crate::core::usage::Dimension;
use crate::i18n::{dimension_title, fill as fill_in, gettext, percent};

/// Fills `table` with the shares of `dimension`; `on_sort` is called with the
/// column clicked.
pub fn fill(
    table: &gtk::Grid,
    shares: &[Share],
    dimension: Dimension,
    (sorted_by, descending): (SortBy, bool),
    on_sort: impl Fn(SortBy) + Clone + 'static,
) {
    while let Some(child) = table.first_child() {
        table.remove(&child);
    }
    let revenue = shares.iter().any(|s| s.profit().is_some());
    let mut columns: Vec<(String, Option<SortBy>)> = vec![
        (dimension_title(dimension), Some(SortBy::Name)),
        (gettext("Cost"), Some(SortBy::Cost)),
        (gettext("Share"), Some(SortBy::Cost)),
        (gettext("Requests"), Some(SortBy::Requests)),
        (gettext("Tokens"), Some(SortBy::Tokens)),
        (gettext("Per Request"), Some(SortBy::CostPerRequest)),
    ];
    if revenue {
        columns.push((gettext("Profit"), None));
        columns.push((gettext("Margin"), None));
    }
    for (c, (title, by)) in columns.iter().enumerate() {
        let arrow = match by {
            Some(b) if *b == sorted_by && c != 2 => {
                if descending {
                    " ↓"
                } else {
                    " ↑"
                }
            }
            _ => "",
        };
        let head = gtk::Button::builder()
            .label(format!("{title}{arrow}"))
            .css_classes(["flat", "heading"])
            .halign(if c == 0 {
                gtk::Align::Start
            } else {
                gtk::Align::End
            })
            .build();
        head.set_tooltip_text(Some(&fill_in(&gettext("Sort by {}"), &[title])));
        match by {
            Some(b) => {
                let (on_sort, b) = (on_sort.clone(), *b);
                head.connect_clicked(move |_| on_sort(b));
            }
            None => head.set_sensitive(false),
        }
        table.attach(&head, c as i32, 0, 1, 1);
    }
    for (r, share) in shares.iter().enumerate() {
        let t = &share.totals;
        // Calls without a price are never shown as costing nothing.
        let cost = match (t.unpriced, t.cost.is_zero()) {
            (0, _) => amounts::money(t.cost),
            (n, true) => fill_in(&gettext("{} unpriced"), &[&amounts::count(n)]),
            (n, false) => fill_in(
                &gettext("{} + {} unpriced"),
                &[&amounts::money(t.cost), &amounts::count(n)],
            ),
        };
        let per_request = share
            .cost_per_request()
            .filter(|_| t.unpriced == 0)
            .map_or_else(|| "—".into(), amounts::money);
        // A project is a working folder for coding agents: named by its
        // last part, the whole path in the tooltip.
        let mut cells = vec![
            key_name(dimension, &share.key),
            cost,
            percent(share.share_bp),
            amounts::count(t.requests),
            amounts::count(share.tokens()),
            per_request,
        ];
        if revenue {
            cells.push(
                share
                    .profit()
                    .map(amounts::money)
                    .unwrap_or_else(|| "—".into()),
            );
            cells.push(share.margin_bp().map(percent).unwrap_or_else(|| "—".into()));
        }
        for (c, text) in cells.into_iter().enumerate() {
            let l = gtk::Label::builder()
                .label(&text)
                .xalign(if c == 0 { 0.0 } else { 1.0 })
                .css_classes(if c == 0 { vec![] } else { vec!["amount"] })
                .build();
            if c == 0 {
                l.set_ellipsize(gtk::pango::EllipsizeMode::Middle);
                l.set_max_width_chars(36);
                l.set_tooltip_text(Some(&share.key));
                l.set_margin_start(12);
            }
            table.attach(&l, c as i32, r as i32 + 1, 1, 1);
        }
    }
}

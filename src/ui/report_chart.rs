//! The chart a report shows above its tables.

use super::amounts;
use crate::charts::{Bars, SpendChart};
use crate::export::{Cell, Document};
use crate::i18n::gettext;

/// The chart a report reads best as: spend over time for a trend, bars of the
/// first amounts for the rest.
pub fn chart_of(doc: &Document) -> (Option<SpendChart>, Option<Bars>) {
    let money_column = |table: &str, label: &str, value: &str| {
        let t = doc.tables.iter().find(|t| t.name == table)?;
        let l = t.columns.iter().position(|c| c.key == label)?;
        let v = t.columns.iter().position(|c| c.key == value)?;
        Some((t, l, v))
    };
    let dollars = |c: &Cell| match c {
        Cell::Money(m) => m.nanos() as f64 / 1e9,
        _ => 0.0,
    };
    match doc.report {
        "trend" => {
            let Some((t, l, v)) = money_column("trend", "bucket", "cost_usd") else {
                return (None, None);
            };
            // Days and weeks by their short date, months as they are.
            let label = |c: &Cell| {
                let text = c.plain();
                text.parse::<jiff::civil::Date>()
                    .map_or(text, crate::i18n::short_date)
            };
            let chart = SpendChart {
                days: t.rows.iter().map(|r| label(&r[l])).collect(),
                series: vec![(
                    gettext("Cost"),
                    t.rows.iter().map(|r| dollars(&r[v])).collect(),
                )],
                forecast: vec![None; t.rows.len()],
                amounts: amounts::current(),
                ..SpendChart::default()
            };
            (Some(chart), None)
        }
        kind => {
            let (table, label, value, skip) = match kind {
                "summary" => ("top", "key", "cost_usd", 0),
                "compare" => ("comparison", "key", "after_usd", 1),
                "what-if" => ("what_if", "key", "what_if_usd", 1),
                _ => return (None, None),
            };
            let Some((t, l, v)) = money_column(table, label, value) else {
                return (None, None);
            };
            let dim = t.columns.iter().position(|c| c.key == "dimension");
            let bars = t
                .rows
                .iter()
                .skip(skip)
                // A summary charts its models only.
                .filter(|r| dim.is_none_or(|d| r[d].plain() == "model"))
                .take(8)
                .map(|r| {
                    (
                        r[l].human(),
                        dollars(&r[v]),
                        amounts::money(money_of(&r[v])),
                    )
                })
                .collect();
            (None, Some(Bars { bars }))
        }
    }
}

fn money_of(c: &Cell) -> crate::core::Money {
    match c {
        Cell::Money(m) => *m,
        _ => crate::core::Money::ZERO,
    }
}

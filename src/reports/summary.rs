//! The summary: totals, the biggest of each dimension, each budget.

use super::{Context, Request, document, unpriced_note};
use crate::core::breakdown::Share;
use crate::core::report::summary;
use crate::core::usage::{Dimension, Totals};
use crate::engine;
use crate::export::{Cell, Column, Document, Table, column};
use crate::i18n::{fill, gettext};
use crate::store::StoreError;

/// The dimensions a summary lists the top of.
const SUMMARY_DIMENSIONS: [Dimension; 5] = [
    Dimension::Provider,
    Dimension::Model,
    Dimension::Project,
    Dimension::User,
    Dimension::Agent,
];

fn totals_table(t: &Totals, profit: Option<crate::core::Money>, margin: Option<i64>) -> Table {
    Table {
        name: "totals",
        title: gettext("Totals"),
        columns: vec![
            column("cost_usd", gettext("Cost")),
            column("unpriced", gettext("Unpriced calls")),
            column("billed_usd", gettext("Billed")),
            column("revenue_usd", gettext("Revenue")),
            column("profit_usd", gettext("Profit")),
            column("margin", gettext("Margin")),
            column("requests", gettext("Requests")),
            column("input_tokens", gettext("Input")),
            column("output_tokens", gettext("Output")),
            column("cache_read_tokens", gettext("Cache reads")),
            column("cache_write_tokens", gettext("Cache writes")),
            column("reasoning_tokens", gettext("Reasoning")),
            column("embedding_tokens", gettext("Embedding")),
            column("images", gettext("Images")),
        ],
        rows: vec![vec![
            Cell::Money(t.cost),
            Cell::Count(t.unpriced),
            Cell::Money(t.billed),
            Cell::Money(t.revenue),
            Cell::money(profit),
            Cell::percent(margin),
            Cell::Count(t.requests),
            Cell::Count(t.tokens.input),
            Cell::Count(t.tokens.output),
            Cell::Count(t.tokens.cache_read),
            Cell::Count(t.tokens.cache_write()),
            Cell::Count(t.tokens.reasoning),
            Cell::Count(t.embedding_tokens),
            Cell::Count(t.images),
        ]],
    }
}

fn share_columns() -> Vec<Column> {
    vec![
        column("dimension", gettext("By")),
        column("key", gettext("Name")),
        column("cost_usd", gettext("Cost")),
        column("share", gettext("Share")),
        column("requests", gettext("Requests")),
        column("tokens", gettext("Tokens")),
        column("cost_per_request_usd", gettext("Per Request")),
        column("unpriced", gettext("Unpriced calls")),
        column("profit_usd", gettext("Profit")),
        column("margin", gettext("Margin")),
    ]
}

fn share_row(dimension: Dimension, s: &Share) -> Vec<Cell> {
    vec![
        Cell::text(dimension.name()),
        if s.key.is_empty() {
            Cell::Empty
        } else {
            Cell::text(s.key.clone())
        },
        Cell::Money(s.totals.cost),
        Cell::Percent(s.share_bp),
        Cell::Count(s.totals.requests),
        Cell::Count(s.tokens()),
        Cell::money(s.cost_per_request()),
        Cell::Count(s.totals.unpriced),
        Cell::money(s.profit()),
        Cell::percent(s.margin_bp()),
    ]
}

pub(super) fn summary_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    let days = req.days;
    let (_, total) = ctx.usage(days, vec![])?;
    let mut by_dimension = Vec::new();
    for d in SUMMARY_DIMENSIONS {
        by_dimension.push((d, ctx.grouped(days, d)?));
    }
    let s = summary::summary(days, total, by_dimension, req.top.max(1));
    let mut top = Vec::new();
    for t in &s.top {
        top.extend(t.shares.iter().map(|sh| share_row(t.dimension, sh)));
        if t.others > 0 {
            let rest = Share {
                key: fill(
                    &crate::i18n::ngettext("{} other", "{} others", t.others as u32),
                    &[&t.others.to_string()],
                ),
                totals: t.others_totals,
                share_bp: crate::core::breakdown::ratio_bp(
                    t.others_totals.cost.nanos(),
                    total.cost.nanos(),
                ),
            };
            top.push(share_row(t.dimension, &rest));
        }
    }
    // Each budget as it stood at the range's end (or now, for a range not over).
    let (_, end) = ctx.bounds(days)?;
    let at = end
        .checked_sub(jiff::SignedDuration::from_millis(1))
        .unwrap_or(end)
        .min(ctx.now);
    let policies = engine::status(ctx.store, at)?
        .iter()
        .map(|p| {
            vec![
                Cell::text(p.name.clone()),
                Cell::text(p.metric.name()),
                Cell::Measure(p.metric, p.used),
                Cell::Measure(p.metric, p.limit),
                Cell::Percent(p.basis_points),
                Cell::text(p.state.name()),
            ]
        })
        .collect();
    let mut doc = document(
        Some(days),
        days.to_string(),
        vec![
            totals_table(&s.totals, s.profit, s.margin_bp),
            Table {
                name: "top",
                title: fill(&gettext("The Top {} of Each"), &[&req.top.to_string()]),
                columns: share_columns(),
                rows: top,
            },
            Table {
                name: "policies",
                title: fill(
                    &gettext("Budgets on {}"),
                    &[&at.to_zoned(ctx.store.zone().clone()).date().to_string()],
                ),
                columns: vec![
                    column("policy", gettext("Budget")),
                    column("metric", gettext("Metric")),
                    column("used", gettext("Used")),
                    column("limit", gettext("Limit")),
                    column("percent", gettext("Used %")),
                    column("state", gettext("State")),
                ],
                rows: policies,
            },
        ],
    );
    if s.totals.unpriced > 0 {
        doc.notes.push(unpriced_note(s.totals.unpriced));
    }
    Ok(doc)
}

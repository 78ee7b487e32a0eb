//! What a range would have cost otherwise, and cheaper models.

use jiff::civil::Date;

use super::{Context, Request, dimension_title, document};
use crate::core::report::Days;
use std::collections::HashMap;

use crate::core::Money;
use crate::core::report::what_if::{Bucket, FastCalls, Scenario, recommend, what_if};
use crate::core::usage::{Dimension, ServiceTier, Speed};
use crate::export::{Cell, Document, Table, column};
use crate::i18n::{fill, gettext};
use crate::store::StoreError;

/// The range's calls as buckets of one day and model within each value of
/// `by`; for `StandardSpeed`, with each bucket's fast-mode calls priced at
/// standard speed.
fn buckets(
    ctx: &Context,
    days: Days,
    by: Dimension,
    scenario: &Scenario,
) -> Result<Vec<Bucket>, StoreError> {
    let (rows, _) = ctx.usage(
        days,
        vec![Dimension::Day, Dimension::Provider, Dimension::Model, by],
    )?;
    let zone = ctx.store.zone();
    let mut fast = if *scenario == Scenario::StandardSpeed {
        fast_by_bucket(ctx, days, by)?
    } else {
        HashMap::new()
    };
    let mut out = Vec::with_capacity(rows.len());
    for (keys, totals) in rows {
        let day: Date = keys[0].parse()?;
        let fast = fast.remove(&keys);
        out.push(Bucket {
            key: keys[3].clone(),
            at: day.to_zoned(zone.clone())?.timestamp(),
            provider: keys[1].clone(),
            model: keys[2].clone(),
            totals,
            fast,
        });
    }
    Ok(out)
}

/// The range's fast-mode calls by bucket (day, provider, model, `by`): their
/// cost, and the cost of the same calls at standard speed.
fn fast_by_bucket(
    ctx: &Context,
    days: Days,
    by: Dimension,
) -> Result<HashMap<Vec<String>, FastCalls>, StoreError> {
    let (since, until) = ctx.bounds(days)?;
    let zone = ctx.store.zone();
    let mut out: HashMap<Vec<String>, FastCalls> = HashMap::new();
    for mut r in ctx.store.fast_calls(since, until)? {
        // `by` is never a time here (`what_if_doc` groups those by model).
        let day = r.at.to_zoned(zone.clone()).date().to_string();
        let key = vec![
            day,
            r.provider.clone(),
            r.model.clone(),
            by.value_of(&r).to_string(),
        ];
        let cost = r.cost.amount().unwrap_or(Money::ZERO);
        r.billing.speed = Speed::Standard;
        // At standard speed, from the book (a reported cost too: the book
        // is what knows the model's standard price).
        let standard = ctx.book.price(&r).map(|(m, _)| m);
        let slot = out.entry(key).or_insert(FastCalls {
            cost: Money::ZERO,
            standard: Ok(Money::ZERO),
        });
        slot.cost += cost;
        slot.standard = match (slot.standard.clone(), standard) {
            (Ok(a), Ok(b)) => Ok(a + b),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    Ok(out)
}

pub fn scenario_text(s: &Scenario) -> String {
    match s {
        Scenario::Tier { tier } => match tier {
            ServiceTier::Batch => gettext("Through the providers’ batch APIs"),
            ServiceTier::Flex => gettext("At the flex tier"),
            ServiceTier::Priority => gettext("At the priority tier"),
            ServiceTier::Standard => gettext("At the standard tier"),
        },
        Scenario::PerfectCaching => gettext("Every prompt token read from the cache"),
        Scenario::StandardSpeed => gettext("Without fast mode"),
        Scenario::Models { map } => {
            let parts: Vec<String> = map
                .iter()
                .map(|(from, to)| {
                    let from = if from == "*" {
                        gettext("every model")
                    } else {
                        from.clone()
                    };
                    format!("{from} → {to}")
                })
                .collect();
            parts.join(", ")
        }
    }
}

pub(super) fn what_if_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    let by = if req.group_by.is_time() {
        Dimension::Model
    } else {
        req.group_by
    };
    let buckets = buckets(ctx, req.days, by, &req.scenario)?;
    let w = what_if(&buckets, &req.scenario, ctx.book);
    let (_, end) = ctx.bounds(req.days)?;
    let recommendations = recommend(&buckets, ctx.book, end.min(ctx.now), 3);
    let row =
        |key: String, r: &crate::core::report::what_if::Row| {
            vec![
                Cell::text(key),
                Cell::Money(r.actual),
                Cell::Money(r.what_if),
                Cell::Money(r.saving()),
                Cell::percent((!r.actual.is_zero()).then(|| {
                    crate::core::breakdown::ratio_bp(r.saving().nanos(), r.actual.nanos())
                })),
                Cell::Count(r.records),
                Cell::Count(r.left_out),
            ]
        };
    let mut rows = vec![row(gettext("All"), &w.total)];
    rows.extend(w.rows.iter().map(|r| row(r.key.clone(), r)));
    let mut doc = document(
        Some(req.days),
        fill(
            &gettext("{}, {}"),
            &[&req.days.to_string(), &scenario_text(&req.scenario)],
        ),
        vec![
            Table {
                name: "what_if",
                title: scenario_text(&req.scenario),
                columns: vec![
                    column("key", dimension_title(by)),
                    column("actual_usd", gettext("Actual")),
                    column("what_if_usd", gettext("What if")),
                    column("saving_usd", gettext("Saving")),
                    column("saving", gettext("Saving %")),
                    column("records", gettext("Calls")),
                    column("left_out", gettext("Left out")),
                ],
                rows,
            },
            Table {
                name: "recommendations",
                title: gettext("Cheaper Models of the Same Kind"),
                columns: vec![
                    column("provider", gettext("Provider")),
                    column("model", gettext("Model")),
                    column("actual_usd", gettext("Actual")),
                    column("candidate_provider", gettext("Instead from")),
                    column("candidate", gettext("Instead")),
                    column("candidate_usd", gettext("Would cost")),
                    column("saving_usd", gettext("Saving")),
                ],
                rows: recommendations
                    .iter()
                    .map(|r| {
                        vec![
                            Cell::text(r.provider.clone()),
                            Cell::text(r.model.clone()),
                            Cell::Money(r.actual),
                            Cell::text(r.candidate_provider.clone()),
                            Cell::text(r.candidate.clone()),
                            Cell::Money(r.candidate_cost),
                            Cell::Money(r.actual - r.candidate_cost),
                        ]
                    })
                    .collect(),
            },
        ],
    );
    doc.notes.push(gettext(
        "Priced per day and model at the prices in force that day; a long-context tier applies by a day’s average prompt per call.",
    ));
    for (why, n) in &w.reasons {
        doc.notes.push(fill(
            &gettext("Left out, {} calls: {}"),
            &[&crate::core::money::group_thousands(*n), why],
        ));
    }
    Ok(doc)
}

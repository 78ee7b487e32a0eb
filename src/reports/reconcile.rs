//! Estimates against billed amounts, per UTC day and model.

use jiff::civil::Date;

use super::{Context, Request, document};
use crate::core::report::reconcile::reconcile;
use crate::core::usage::Totals;
use crate::export::{Cell, Document, Table, column};
use crate::i18n::{fill, gettext};
use crate::store::StoreError;

pub(super) fn reconcile_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    // Providers bill by UTC day.
    let (since, until) = req.days.bounds(&jiff::tz::TimeZone::UTC)?;
    let rows: Vec<(Date, String, String, Totals)> = ctx
        .store
        .by_utc_day(since, until)?
        .into_iter()
        .map(|(day, provider, model, t)| {
            // Exports and logs name one model differently (dated ids): the
            // price book's name joins them.
            let model = ctx
                .book
                .resolve(&provider, &model)
                .map_or(model, |r| r.model);
            (day, provider, model, t)
        })
        .collect();
    let lines = reconcile(rows, req.threshold);
    let flagged = lines.iter().filter(|l| l.flagged).count();
    let mut doc = document(
        Some(req.days),
        req.days.to_string(),
        vec![Table {
            name: "reconciliation",
            title: gettext("Per UTC Day and Model"),
            columns: vec![
                column("day", gettext("Day")),
                column("provider", gettext("Provider")),
                column("model", gettext("Model")),
                column("estimated_usd", gettext("Estimated")),
                column("billed_usd", gettext("Billed")),
                column("difference_usd", gettext("Difference")),
                column("difference", gettext("Difference %")),
                column("unpriced", gettext("Unpriced calls")),
                column("flagged", gettext("Check")),
            ],
            rows: lines
                .iter()
                .map(|l| {
                    vec![
                        Cell::Date(l.day),
                        Cell::text(l.provider.clone()),
                        Cell::text(l.model.clone()),
                        Cell::Money(l.estimated),
                        Cell::Money(l.billed),
                        Cell::Money(l.difference()),
                        Cell::percent(l.difference_bp()),
                        Cell::Count(l.unpriced),
                        Cell::Bool(l.flagged),
                    ]
                })
                .collect(),
        }],
    );
    doc.notes.push(if lines.is_empty() {
        gettext("No billed amounts in this range: import a provider’s cost export first (tally import anthropic-costs, openai-usage).")
    } else {
        fill(
            &gettext("{} of {} lines differ by more than {} and {}, or have unpriced calls."),
            &[
                &flagged.to_string(),
                &lines.len().to_string(),
                &crate::i18n::percent(req.threshold.threshold_bp),
                &req.threshold.at_least.display(),
            ],
        )
    });
    Ok(doc)
}

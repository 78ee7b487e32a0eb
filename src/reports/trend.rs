//! The trend: cost per day, week or month.

use super::{Context, Request, dimension_title, document, unpriced_note};
use crate::core::report::trend;
use crate::core::usage::Dimension;
use crate::export::{Cell, Document, Table, column};
use crate::i18n::{fill, gettext};
use crate::store::StoreError;

pub(super) fn trend_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    let by = if req.group_by.is_time() {
        req.group_by
    } else {
        Dimension::Day
    };
    let rows = ctx.grouped(req.days, by)?;
    let points = trend::trend(
        req.days,
        by,
        ctx.week_start,
        &rows,
        trend::default_window(by),
    );
    let unpriced: u64 = points.iter().map(|p| p.totals.unpriced).sum();
    let mut doc = document(
        Some(req.days),
        req.days.to_string(),
        vec![Table {
            name: "trend",
            title: fill(
                &gettext("Cost by {}"),
                &[&dimension_title(by).to_lowercase()],
            ),
            columns: vec![
                column("bucket", dimension_title(by)),
                column("cost_usd", gettext("Cost")),
                column("moving_average_usd", gettext("Moving average")),
                column("change", gettext("Change")),
                column("requests", gettext("Requests")),
                column("tokens", gettext("Tokens")),
                column("unpriced", gettext("Unpriced calls")),
            ],
            rows: points
                .iter()
                .map(|p| {
                    vec![
                        Cell::text(p.bucket.clone()),
                        Cell::Money(p.totals.cost),
                        Cell::Money(p.moving_average),
                        Cell::percent(p.change_bp),
                        Cell::Count(p.totals.requests),
                        Cell::Count(p.totals.tokens.total() + p.totals.embedding_tokens),
                        Cell::Count(p.totals.unpriced),
                    ]
                })
                .collect(),
        }],
    );
    if unpriced > 0 {
        doc.notes.push(unpriced_note(unpriced));
    }
    Ok(doc)
}

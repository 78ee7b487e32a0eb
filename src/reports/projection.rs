//! Where each budget, and this month as a whole, is heading.

use jiff::Span;
use jiff::civil::Date;

use super::{Context, document};
use crate::core::outlook::outlook;
use crate::core::period::Window;
use crate::core::policy::Metric;
use crate::core::report::Days;
use crate::core::report::projection::{Breach, Line, breach};
use crate::core::usage::Dimension;
use crate::engine;
use crate::export::{Cell, Document, Table, column};
use crate::i18n::gettext;
use crate::store::StoreError;

/// Each budget's projection, and the whole ledger's for this calendar month.
fn projection_lines(ctx: &Context) -> Result<Vec<Line>, StoreError> {
    let zone = ctx.store.zone().clone();
    let mut lines: Vec<Line> = engine::status(ctx.store, ctx.now)?
        .into_iter()
        .filter(|s| s.enabled)
        .map(|s| Line {
            breach: breach(
                s.used,
                s.limit,
                s.projection.as_ref(),
                ctx.now,
                s.resets_at,
                &zone,
            ),
            name: s.name,
            metric: s.metric,
            used: s.used,
            limit: Some(s.limit),
            period_end: s.resets_at,
            projection: s.projection,
        })
        .collect();
    let today = ctx.today();
    let month = Days::new(today.first_of_month(), today.last_of_month());
    let (start, end) = ctx.bounds(month)?;
    let (_, used) = ctx.usage(month, vec![])?;
    let back = today.checked_sub(Span::new().days(70)).unwrap_or(today);
    let history: Vec<(Date, i64)> = ctx
        .grouped(Days::new(back, today), Dimension::Day)?
        .into_iter()
        .filter_map(|(d, t)| Some((d.parse().ok()?, t.cost.nanos())))
        .filter(|(d, _)| *d < today)
        .collect();
    let window = Window {
        start,
        end: Some(end),
    };
    let o = outlook(
        used.cost.nanos(),
        i64::MAX,
        &window,
        ctx.now,
        &zone,
        &history,
    );
    lines.push(Line {
        name: gettext("All usage, this month"),
        metric: Metric::Cost,
        used: used.cost.nanos(),
        limit: None,
        period_end: Some(end),
        projection: o.map(|o| o.projection),
        breach: Breach::NotExpected,
    });
    Ok(lines)
}

pub(super) fn projection_doc(ctx: &Context) -> Result<Document, StoreError> {
    let lines = projection_lines(ctx)?;
    let rows = lines
        .iter()
        .map(|l| {
            let m = |v: Option<i64>| v.map_or(Cell::Empty, |v| Cell::Measure(l.metric, v));
            let (kind, day) = match l.breach {
                Breach::Already => ("already", Cell::Empty),
                Breach::On(d) => ("on", Cell::Date(d)),
                Breach::NotExpected => ("not_expected", Cell::Empty),
                Breach::Unknown => ("unknown", Cell::Empty),
            };
            vec![
                Cell::text(l.name.clone()),
                Cell::text(l.metric.name()),
                Cell::Measure(l.metric, l.used),
                m(l.limit),
                m(l.projection.map(|p| p.expected)),
                m(l.projection.map(|p| p.low)),
                m(l.projection.map(|p| p.high)),
                l.period_end.map_or(Cell::Empty, Cell::Time),
                Cell::text(kind),
                day,
            ]
        })
        .collect();
    let today = ctx.today();
    Ok(document(
        None,
        today.to_string(),
        vec![Table {
            name: "projection",
            title: gettext("By the End of Each Period"),
            columns: vec![
                column("name", gettext("Budget")),
                column("metric", gettext("Metric")),
                column("used", gettext("Used")),
                column("limit", gettext("Limit")),
                column("expected", gettext("Expected")),
                column("low", gettext("Low")),
                column("high", gettext("High")),
                column("period_end", gettext("Period ends")),
                column("breach", gettext("Limit reached")),
                column("breach_day", gettext("Reached on")),
            ],
            rows,
        }],
    ))
}

//! Reports from the ledger: the store's grouped totals (rollups only) run
//! through `core::report`, then laid out as a [`Document`] that the terminal,
//! the window and every export format show.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};

use crate::core::PriceBook;
use crate::core::report::Days;
use crate::core::report::reconcile::Threshold;
use crate::core::report::what_if::Scenario;
use crate::core::usage::{Dimension, ServiceTier, Totals};
use crate::export::{Document, Table};
use crate::i18n::{fill, gettext};
use crate::store::{Store, StoreError, UsageQuery};

mod compare;
mod monthly;
mod projection;
mod reconcile;
mod summary;
mod trend;
mod what_if;

pub use monthly::{monthly_due, write_monthly};
pub use what_if::scenario_text;

/// The week start the preferences chose for weekly figures; Monday unset.
pub fn week_start(store: &Store) -> Weekday {
    crate::settings::WEEK_START.get_or(store, Weekday::Monday)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Summary,
    Trend,
    Compare,
    Projection,
    WhatIf,
    Reconcile,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Summary,
        Kind::Trend,
        Kind::Compare,
        Kind::Projection,
        Kind::WhatIf,
        Kind::Reconcile,
    ];

    /// The stable name: the CLI's word and the JSON's `report`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Summary => "summary",
            Kind::Trend => "trend",
            Kind::Compare => "compare",
            Kind::Projection => "projection",
            Kind::WhatIf => "what-if",
            Kind::Reconcile => "reconcile",
        }
    }

    pub fn title(self) -> String {
        match self {
            Kind::Summary => gettext("Summary"),
            Kind::Trend => gettext("Trend"),
            Kind::Compare => gettext("Comparison"),
            Kind::Projection => gettext("Projection"),
            Kind::WhatIf => gettext("What If"),
            Kind::Reconcile => gettext("Estimated and Billed"),
        }
    }
}

/// What to report on.
#[derive(Clone, Debug)]
pub struct Request {
    pub kind: Kind,
    pub days: Days,
    /// The breakdown of a comparison or what-if, the buckets of a trend.
    pub group_by: Dimension,
    /// A comparison's earlier range; the range before `days` when unset.
    pub against: Option<Days>,
    pub scenario: Scenario,
    /// How many values of each dimension a summary lists.
    pub top: usize,
    pub threshold: Threshold,
}

impl Request {
    pub fn new(kind: Kind, days: Days) -> Request {
        Request {
            kind,
            days,
            group_by: match kind {
                Kind::Trend => Dimension::Day,
                _ => Dimension::Model,
            },
            against: None,
            scenario: Scenario::Tier {
                tier: ServiceTier::Batch,
            },
            top: 5,
            threshold: Threshold::default(),
        }
    }
}

/// A group's keys (one per dimension) and totals.
type Grouped = (Vec<String>, Totals);

/// What reports read besides the request: the ledger, prices, the clock.
pub struct Context<'a> {
    pub store: &'a Store,
    pub book: &'a PriceBook,
    pub now: Timestamp,
    pub week_start: Weekday,
}

impl Context<'_> {
    /// `[start of from, start of the day after to)` in the ledger's zone.
    fn bounds(&self, days: Days) -> Result<(Timestamp, Timestamp), StoreError> {
        Ok(days.bounds(self.store.zone())?)
    }

    fn usage(
        &self,
        days: Days,
        group_by: Vec<Dimension>,
    ) -> Result<(Vec<Grouped>, Totals), StoreError> {
        let (since, until) = self.bounds(days)?;
        let (rows, total) = self.store.usage(&UsageQuery {
            since: Some(since),
            until: Some(until),
            group_by,
            zone: self.store.zone().clone(),
            week_start: self.week_start,
        })?;
        Ok((
            rows.into_iter().map(|r| (r.keys, r.totals)).collect(),
            total,
        ))
    }

    fn grouped(&self, days: Days, by: Dimension) -> Result<Vec<(String, Totals)>, StoreError> {
        let (rows, _) = self.usage(days, vec![by])?;
        Ok(rows
            .into_iter()
            .map(|(mut k, t)| (k.swap_remove(0), t))
            .collect())
    }

    pub fn today(&self) -> Date {
        self.now.to_zoned(self.store.zone().clone()).date()
    }
}

pub fn run(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    let mut doc = match req.kind {
        Kind::Summary => summary::summary_doc(ctx, req)?,
        Kind::Trend => trend::trend_doc(ctx, req)?,
        Kind::Compare => compare::compare_doc(ctx, req)?,
        Kind::Projection => projection::projection_doc(ctx)?,
        Kind::WhatIf => what_if::what_if_doc(ctx, req)?,
        Kind::Reconcile => reconcile::reconcile_doc(ctx, req)?,
    };
    doc.report = req.kind.name();
    doc.title = format!("{} · {}", req.kind.title(), doc.title);
    doc.generated_at = ctx.now;
    Ok(doc)
}

pub(super) fn document(days: Option<Days>, title: String, tables: Vec<Table>) -> Document {
    Document {
        report: "",
        title,
        from: days.map(|d| d.from),
        to: days.map(|d| d.to),
        generated_at: Timestamp::UNIX_EPOCH,
        notes: Vec::new(),
        tables,
    }
}

use crate::i18n::dimension_title;

pub(super) fn unpriced_note(n: u64) -> String {
    fill(
        &crate::i18n::ngettext(
            "{} call has no price; its cost is not in these figures.",
            "{} calls have no price; their cost is not in these figures.",
            n.min(u64::from(u32::MAX)) as u32,
        ),
        &[&crate::core::money::group_thousands(n)],
    )
}

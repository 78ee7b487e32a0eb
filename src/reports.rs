//! Reports from the ledger: the store's grouped totals (rollups only) run
//! through `core::report`, then laid out as a [`Document`] that the terminal,
//! the window and every export format show.

use jiff::civil::{Date, Weekday};
use jiff::{Span, Timestamp};

use crate::core::PriceBook;
use crate::core::breakdown::Share;
use crate::core::outlook::outlook;
use crate::core::period::Window;
use crate::core::policy::Metric;
use crate::core::report::projection::{Breach, Line, breach};
use crate::core::report::reconcile::{Threshold, reconcile};
use crate::core::report::what_if::{Bucket, Scenario, recommend, what_if};
use crate::core::report::{Days, compare, summary, trend};
use crate::core::usage::{Dimension, Totals};
use crate::engine;
use crate::export::{Cell, Column, Document, Table, column};
use crate::i18n::{fill, gettext};
use crate::store::{Store, StoreError, UsageQuery};

/// The setting for the day weeks start on (weekly trends, new weekly budgets).
pub const WEEK_SETTING: &str = "week_start";

/// The week start the preferences chose for weekly figures; Monday unset.
pub fn week_start(store: &Store) -> Weekday {
    store
        .setting(WEEK_SETTING)
        .ok()
        .flatten()
        .and_then(|d| crate::core::period::parse_weekday(&d).ok())
        .unwrap_or(Weekday::Monday)
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
            scenario: Scenario::Batch,
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
        let zone = self.store.zone();
        let start = days.from.to_zoned(zone.clone())?.timestamp();
        let end = days.to.tomorrow()?.to_zoned(zone.clone())?.timestamp();
        Ok((start, end))
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
        Kind::Summary => summary_doc(ctx, req)?,
        Kind::Trend => trend_doc(ctx, req)?,
        Kind::Compare => compare_doc(ctx, req)?,
        Kind::Projection => projection_doc(ctx)?,
        Kind::WhatIf => what_if_doc(ctx, req)?,
        Kind::Reconcile => reconcile_doc(ctx, req)?,
    };
    doc.report = req.kind.name();
    doc.title = format!("{} · {}", req.kind.title(), doc.title);
    doc.generated_at = ctx.now;
    Ok(doc)
}

fn document(days: Option<Days>, title: String, tables: Vec<Table>) -> Document {
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

pub fn dimension_title(d: Dimension) -> String {
    match d {
        Dimension::Day => gettext("Day"),
        Dimension::Week => gettext("Week"),
        Dimension::Month => gettext("Month"),
        Dimension::Provider => gettext("Provider"),
        Dimension::Model => gettext("Model"),
        Dimension::User => gettext("User"),
        Dimension::Project => gettext("Project"),
        Dimension::Agent => gettext("Agent"),
        Dimension::Source => gettext("Source"),
    }
}

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

fn summary_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
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

fn unpriced_note(n: u64) -> String {
    fill(
        &crate::i18n::ngettext(
            "{} call has no price; its cost is not in these figures.",
            "{} calls have no price; their cost is not in these figures.",
            n.min(u64::from(u32::MAX)) as u32,
        ),
        &[&crate::core::money::group_thousands(n)],
    )
}

fn trend_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
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

fn compare_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    let after = req.days;
    let before = req.against.unwrap_or_else(|| after.previous());
    let by = req.group_by;
    let c = compare::compare(
        before,
        after,
        ctx.grouped(before, by)?,
        ctx.grouped(after, by)?,
    );
    let presence = |p: compare::Presence| match p {
        compare::Presence::Both => "both",
        compare::Presence::New => "new",
        compare::Presence::Gone => "gone",
    };
    let row = |key: String, status: &str, ch: &compare::Change| {
        vec![
            Cell::text(key),
            Cell::text(status),
            Cell::Money(ch.before.cost),
            Cell::Money(ch.after.cost),
            Cell::Money(ch.delta()),
            Cell::percent(ch.delta_bp()),
            Cell::Count(ch.before.requests),
            Cell::Count(ch.after.requests),
        ]
    };
    let mut rows = vec![row(gettext("All"), "total", &c.total)];
    rows.extend(
        c.rows
            .iter()
            .map(|ch| row(ch.key.clone(), presence(ch.presence), ch)),
    );
    let mut doc = document(
        Some(after),
        fill(
            &gettext("{} against {}"),
            &[&after.to_string(), &before.to_string()],
        ),
        vec![Table {
            name: "comparison",
            title: fill(&gettext("By {}"), &[&dimension_title(by).to_lowercase()]),
            columns: vec![
                column("key", dimension_title(by)),
                column("presence", gettext("In")),
                column("before_usd", gettext("Before")),
                column("after_usd", gettext("After")),
                column("change_usd", gettext("Change")),
                column("change", gettext("Change %")),
                column("requests_before", gettext("Requests before")),
                column("requests_after", gettext("Requests after")),
            ],
            rows,
        }],
    );
    let new = c
        .rows
        .iter()
        .filter(|r| r.presence == compare::Presence::New)
        .count();
    let gone = c
        .rows
        .iter()
        .filter(|r| r.presence == compare::Presence::Gone)
        .count();
    if new + gone > 0 {
        doc.notes.push(fill(
            &gettext("New since the earlier range: {}; gone: {}."),
            &[&new.to_string(), &gone.to_string()],
        ));
    }
    Ok(doc)
}

/// Each budget's projection, and the whole ledger's for this calendar month.
pub fn projection_lines(ctx: &Context) -> Result<Vec<Line>, StoreError> {
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

fn projection_doc(ctx: &Context) -> Result<Document, StoreError> {
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

/// The range's calls as buckets of one day and model within each value of `by`.
fn buckets(ctx: &Context, days: Days, by: Dimension) -> Result<Vec<Bucket>, StoreError> {
    let (rows, _) = ctx.usage(
        days,
        vec![Dimension::Day, Dimension::Provider, Dimension::Model, by],
    )?;
    let zone = ctx.store.zone();
    let mut out = Vec::with_capacity(rows.len());
    for (keys, totals) in rows {
        let day: Date = keys[0].parse()?;
        out.push(Bucket {
            key: keys[3].clone(),
            at: day.to_zoned(zone.clone())?.timestamp(),
            provider: keys[1].clone(),
            model: keys[2].clone(),
            totals,
        });
    }
    Ok(out)
}

pub fn scenario_text(s: &Scenario) -> String {
    match s {
        Scenario::Batch => gettext("Through the providers’ batch APIs (half price)"),
        Scenario::PerfectCaching => gettext("Every prompt token read from the cache"),
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

fn what_if_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    let by = if req.group_by.is_time() {
        Dimension::Model
    } else {
        req.group_by
    };
    let buckets = buckets(ctx, req.days, by)?;
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

fn reconcile_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    // Providers bill by UTC day.
    let utc = |d: Date| d.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp());
    let (since, until) = (utc(req.days.from)?, utc(req.days.to.tomorrow()?)?);
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

/// The folder the monthly report is written to; unset, there is none.
pub const MONTHLY_FOLDER_SETTING: &str = "monthly_report_folder";
/// The month (`YYYY-MM-01`) whose report was written last.
pub const MONTHLY_LAST_SETTING: &str = "monthly_report_last";

/// Whether a monthly report is due: cheap, for a timer on the main loop.
pub fn monthly_due(store: &Store, now: Timestamp) -> bool {
    let folder = store.setting(MONTHLY_FOLDER_SETTING).ok().flatten();
    let last = store
        .setting(MONTHLY_LAST_SETTING)
        .ok()
        .flatten()
        .and_then(|d| d.parse().ok());
    let today = now.to_zoned(store.zone().clone()).date();
    folder.is_some() && !crate::core::report::schedule::due_months(last, today).is_empty()
}

/// Writes the summary of each finished month not yet written, as
/// `tally-report-YYYY-MM.md` and `.csv` in the chosen folder, each file whole
/// or not at all; records each month as done once both files are there.
pub fn write_monthly(store: &mut Store, now: Timestamp) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let Some(folder) = store.setting(MONTHLY_FOLDER_SETTING)? else {
        return Ok(Vec::new());
    };
    let folder = std::path::PathBuf::from(folder);
    let last = store
        .setting(MONTHLY_LAST_SETTING)?
        .and_then(|d| d.parse().ok());
    let today = now.to_zoned(store.zone().clone()).date();
    let book = crate::prices::load(store)?;
    let mut written = Vec::new();
    for month in crate::core::report::schedule::due_months(last, today) {
        let days = Days::new(month, month.last_of_month());
        let ctx = Context {
            store,
            book: &book,
            now,
            week_start: week_start(store),
        };
        let mut req = Request::new(Kind::Summary, days);
        req.top = 10;
        let doc = run(&ctx, &req)?;
        let name = format!("tally-report-{}", month.strftime("%Y-%m"));
        for format in [crate::export::Format::Markdown, crate::export::Format::Csv] {
            let path = folder.join(format!("{name}.{}", format.extension()));
            crate::export::write_atomic(&path, &crate::export::render(&doc, format))?;
            written.push(path);
        }
        store.set_setting(MONTHLY_LAST_SETTING, Some(&month.to_string()))?;
    }
    Ok(written)
}

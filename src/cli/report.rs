//! `tally report`: summary, trend, comparison, projection, what-if and
//! reconciliation, as a table on the terminal or exported to CSV, Markdown or
//! JSON; `tally report usage` exports the records themselves.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use jiff::civil::Date;

use super::args;
use super::table::Table;
use crate::core::report::reconcile::Threshold;
use crate::core::report::what_if::Scenario;
use crate::core::report::{Days, PRESETS};
use crate::core::usage::{Dimension, ServiceTier};
use crate::export::{self, Cell, Document, Format};
use crate::i18n::{fill, gettext};
use crate::reports::{self, Context, Kind, Request};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Totals, the biggest providers, models, projects, users and agents, and each budget
    Summary(ReportArgs),
    /// Cost per day, week or month with a moving average and the change from the one before
    Trend(ReportArgs),
    /// A range against the range before it (or --against), by a dimension
    Compare(ReportArgs),
    /// Where each budget, and all usage this month, is heading
    Projection(ReportArgs),
    /// What the range would have cost on another model, in batch, or fully cached
    WhatIf(ReportArgs),
    /// Tally's estimates against billed amounts, per UTC day and model
    Reconcile(ReportArgs),
    /// The records themselves, oldest first
    Usage(ReportArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Md,
    Json,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// First day (YYYY-MM-DD)
    #[arg(long, value_name = "D")]
    pub since: Option<Date>,
    /// Last day, included (YYYY-MM-DD) [default: today]
    #[arg(long, value_name = "D")]
    pub until: Option<Date>,
    /// A named range: today, yesterday, this-week, last-week, last-7-days, last-30-days, last-90-days, this-month, last-month, this-year, last-year [default: this-month]
    #[arg(long, value_name = "NAME", conflicts_with_all = ["since", "until"])]
    pub period: Option<String>,
    /// Group by day, week, month, provider, model, user, project, agent or source
    #[arg(long = "group-by", value_name = "DIM", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<Dimension>()))]
    pub group_by: Option<Dimension>,
    /// compare: the earlier range, FROM..TO (YYYY-MM-DD..YYYY-MM-DD)
    #[arg(long, value_name = "FROM..TO")]
    pub against: Option<String>,
    /// what-if: every call on this model instead (e.g. claude-haiku-4-5, openai/gpt-4o-mini)
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["map", "batch", "tier", "perfect_caching", "without_fast"])]
    pub to: Option<String>,
    /// what-if: calls of one model on another, FROM=TO (repeatable)
    #[arg(long, value_name = "FROM=TO")]
    pub map: Vec<String>,
    /// what-if: through the providers' batch APIs (as --tier batch)
    #[arg(long, conflicts_with_all = ["perfect_caching", "tier"])]
    pub batch: bool,
    /// what-if: at another service tier: batch, flex or priority
    #[arg(long, value_name = "TIER", value_parser = args::service_tier, conflicts_with = "perfect_caching")]
    pub tier: Option<ServiceTier>,
    /// what-if: every prompt token read from the cache
    #[arg(long)]
    pub perfect_caching: bool,
    /// what-if: the calls made in fast mode at standard speed
    #[arg(long, conflicts_with_all = ["perfect_caching", "tier", "batch"])]
    pub without_fast: bool,
    /// reconcile: flag a day and model apart by more than this percent [default: 5]
    #[arg(long, value_name = "PERCENT")]
    pub threshold: Option<u32>,
    /// summary: how many of each dimension to list [default: 5]
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// table (for the terminal), csv, md or json [default: from --out's extension, else table]
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write to this file (whole or not at all) instead of the terminal
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn days(a: &ReportArgs, today: Date, week_start: jiff::civil::Weekday) -> anyhow::Result<Days> {
    if let Some(name) = &a.period {
        return Days::preset(name, today, week_start).with_context(|| {
            fill(
                &gettext("“{}” is not a period (one of {})"),
                &[name, &PRESETS.join(", ")],
            )
        });
    }
    match (a.since, a.until) {
        (None, None) => Ok(Days::preset("this-month", today, week_start).expect("a preset")),
        (since, until) => {
            let until = until.unwrap_or(today);
            let since = since.unwrap_or(until.first_of_month());
            if since > until {
                bail!(gettext("--since is after --until"));
            }
            Ok(Days::new(since, until))
        }
    }
}

fn against(text: &str) -> anyhow::Result<Days> {
    let bad = || {
        fill(
            &gettext("“{}” is not a range FROM..TO (e.g. 2026-01-01..2026-01-31)"),
            &[text],
        )
    };
    let (from, to) = text.split_once("..").with_context(bad)?;
    let (from, to): (Date, Date) = (
        from.trim().parse().with_context(bad)?,
        to.trim().parse().with_context(bad)?,
    );
    if from > to {
        bail!(bad());
    }
    Ok(Days::new(from, to))
}

fn scenario(a: &ReportArgs) -> anyhow::Result<Scenario> {
    if let Some(to) = &a.to {
        return Ok(Scenario::Models {
            map: vec![("*".into(), to.clone())],
        });
    }
    if !a.map.is_empty() {
        let map = a
            .map
            .iter()
            .map(|m| {
                m.split_once('=')
                    .filter(|(f, t)| !f.trim().is_empty() && !t.trim().is_empty())
                    .map(|(f, t)| (f.trim().to_string(), t.trim().to_string()))
                    .with_context(|| {
                        fill(
                            &gettext(
                                "“{}” is not FROM=TO (e.g. claude-opus-4-1=claude-sonnet-4-5)",
                            ),
                            &[m],
                        )
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        return Ok(Scenario::Models { map });
    }
    if a.perfect_caching {
        return Ok(Scenario::PerfectCaching);
    }
    if a.without_fast {
        return Ok(Scenario::StandardSpeed);
    }
    if a.batch {
        return Ok(Scenario::Tier {
            tier: ServiceTier::Batch,
        });
    }
    if let Some(tier) = a.tier {
        return Ok(Scenario::Tier { tier });
    }
    bail!(gettext(
        "say what if: --to MODEL, --map FROM=TO, --batch, --tier TIER, --without-fast or --perfect-caching"
    ))
}

pub fn run(store: &Store, command: ReportCommand) -> anyhow::Result<()> {
    let (kind, a) = match command {
        ReportCommand::Summary(a) => (Some(Kind::Summary), a),
        ReportCommand::Trend(a) => (Some(Kind::Trend), a),
        ReportCommand::Compare(a) => (Some(Kind::Compare), a),
        ReportCommand::Projection(a) => (Some(Kind::Projection), a),
        ReportCommand::WhatIf(a) => (Some(Kind::WhatIf), a),
        ReportCommand::Reconcile(a) => (Some(Kind::Reconcile), a),
        ReportCommand::Usage(a) => (None, a),
    };
    let now = jiff::Timestamp::now();
    let week_start = reports::week_start(store);
    let today = now.to_zoned(store.zone().clone()).date();
    let range = days(&a, today, week_start)?;
    let format = match (a.format, &a.out) {
        (Some(f), _) => f,
        (None, Some(path)) => match Format::from_path(path) {
            Some(Format::Csv) => OutputFormat::Csv,
            Some(Format::Markdown) => OutputFormat::Md,
            Some(Format::Json) => OutputFormat::Json,
            None => OutputFormat::Table,
        },
        (None, None) => OutputFormat::Table,
    };
    let Some(kind) = kind else {
        return usage(store, range, format, a.out.as_deref());
    };
    let book = crate::prices::load(store)?;
    let mut req = Request::new(kind, range);
    if let Some(d) = a.group_by {
        req.group_by = d;
    }
    if let Some(text) = &a.against {
        req.against = Some(against(text)?);
    }
    if kind == Kind::WhatIf {
        req.scenario = scenario(&a)?;
    }
    if let Some(p) = a.threshold {
        req.threshold = Threshold {
            threshold_bp: i64::from(p) * 100,
            ..Threshold::default()
        };
    }
    if let Some(n) = a.top {
        req.top = n.max(1);
    }
    let ctx = Context {
        store,
        book: &book,
        now,
        week_start,
    };
    let doc = reports::run(&ctx, &req)?;
    emit(&doc, format, a.out.as_deref())
}

/// Writes the document to the file or the terminal in the format asked for.
fn emit(doc: &Document, format: OutputFormat, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let bytes = match format {
        OutputFormat::Table => terminal(doc).into_bytes(),
        OutputFormat::Csv => export::render(doc, Format::Csv),
        OutputFormat::Md => export::render(doc, Format::Markdown),
        OutputFormat::Json => export::render(doc, Format::Json),
    };
    match out {
        Some(path) => {
            export::write_atomic(path, &bytes)?;
            eprintln!(
                "{}",
                fill(&gettext("Wrote {}"), &[&path.display().to_string()])
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
}

/// The document as text tables, amounts as people read them.
fn terminal(doc: &Document) -> String {
    let mut out = format!("{}\n\n", doc.title);
    for t in &doc.tables {
        out.push_str(&format!("{}\n", t.title));
        if t.rows.is_empty() {
            out.push_str(&format!("{}\n\n", gettext("None.")));
            continue;
        }
        // One wide row reads better as a list.
        if let [row] = t.rows.as_slice()
            && t.columns.len() > 6
        {
            let width = t
                .columns
                .iter()
                .map(|c| c.title.chars().count())
                .max()
                .unwrap_or(0);
            for (c, cell) in t.columns.iter().zip(row) {
                let pad = " ".repeat(width - c.title.chars().count());
                out.push_str(&format!("  {}{pad}  {}\n", c.title, cell.human()));
            }
            out.push('\n');
            continue;
        }
        let right = |i: usize| t.rows.iter().any(|r| r.get(i).is_some_and(Cell::is_number));
        let mut table = Table::new(
            t.columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.title.clone(), right(i)))
                .collect(),
        );
        for r in &t.rows {
            table.row(r.iter().map(Cell::human).collect());
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    for note in &doc.notes {
        out.push_str(&format!("{note}\n"));
    }
    out
}

fn usage_filter(store: &Store, days: Days) -> anyhow::Result<crate::store::HistoryFilter> {
    let (since, until) = days.bounds(store.zone())?;
    Ok(crate::store::HistoryFilter {
        since_ms: Some(since.as_millisecond()),
        until_ms: Some(until.as_millisecond()),
        ..Default::default()
    })
}

fn usage(
    store: &Store,
    days: Days,
    format: OutputFormat,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if let (OutputFormat::Csv, Some(path)) = (format, out) {
        let n = export::usage::write_csv(store, &usage_filter(store, days)?, path)?;
        eprintln!(
            "{}",
            fill(
                &gettext("Wrote {} records to {}"),
                &[
                    &crate::core::money::group_thousands(n),
                    &path.display().to_string()
                ]
            )
        );
        return Ok(());
    }
    let title = fill(&gettext("Usage · {}"), &[&days.to_string()]);
    let mut doc = export::usage::document(store, &usage_filter(store, days)?, title)?;
    (doc.from, doc.to) = (Some(days.from), Some(days.to));
    emit(&doc, format, out)
}

//! `tally usage`: totals by time and dimension. Its JSON is a documented contract.

use std::io::Write;

use clap::Args;
use jiff::tz::TimeZone;

use super::args::{self, When};
use super::table::{Table, thousands};
use crate::core::usage::{Dimension, Totals};
use crate::i18n::{gettext, ngettext};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct UsageArgs {
    /// From this day or time (a date means its first moment, in --tz)
    #[arg(long, value_name = "D", value_parser = args::when)]
    pub since: Option<When>,
    /// Up to this day or time (a date includes the whole day)
    #[arg(long, value_name = "D", value_parser = args::when)]
    pub until: Option<When>,
    /// Group by day, week, month, provider, model, user, project, agent or source (repeatable)
    #[arg(long = "group-by", value_name = "DIM", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<Dimension>()))]
    pub group_by: Vec<Dimension>,
    /// The time zone whose days count [default: the system's]
    #[arg(long, value_name = "ZONE", value_parser = args::zone)]
    pub tz: Option<TimeZone>,
    /// Print JSON (see the README for the schema)
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &Store, a: UsageArgs) -> anyhow::Result<()> {
    let zone = a.tz.clone().unwrap_or_else(TimeZone::system);
    let since = a
        .since
        .as_ref()
        .map(|w| w.start(&zone))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let until = a
        .until
        .as_ref()
        .map(|w| w.end(&zone))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut group_by = a.group_by.clone();
    group_by.dedup();
    let ask = crate::api::UsageAsk::new(since, until, group_by.clone(), zone)
        .map_err(|e| anyhow::anyhow!(e.error))?;
    let (rows, total) = crate::api::usage_rows(store, &ask)?;

    if a.json {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        serde_json::to_writer_pretty(&mut out, &crate::api::UsageDoc::new(&ask, &rows, &total))?;
        writeln!(out)?;
        return Ok(());
    }

    if total.requests == 0 {
        println!(
            "{}",
            gettext(
                "No usage in this range. Record some with: tally record --model MODEL --input N --output N"
            )
        );
        return Ok(());
    }
    let mut columns: Vec<(String, bool)> = group_by
        .iter()
        .map(|d| (crate::i18n::dimension_title(*d), false))
        .collect();
    for h in [
        gettext("Requests"),
        gettext("Input"),
        gettext("Output"),
        gettext("Cache read"),
        gettext("Cache write"),
        gettext("Reasoning"),
        gettext("Cost"),
    ] {
        columns.push((h, true));
    }
    let mut table = Table::new(columns);
    let cells = |keys: Vec<String>, t: &Totals| {
        let mut c = keys;
        c.extend([
            thousands(t.requests),
            thousands(t.tokens.input),
            thousands(t.tokens.output),
            thousands(t.tokens.cache_read),
            thousands(t.tokens.cache_write()),
            thousands(t.tokens.reasoning),
            cost_cell(t),
        ]);
        c
    };
    for r in &rows {
        let keys = r
            .keys
            .iter()
            .map(|k| {
                if k.is_empty() {
                    "—".to_string()
                } else {
                    k.clone()
                }
            })
            .collect();
        table.row(cells(keys, &r.totals));
    }
    if !group_by.is_empty() {
        let mut keys = vec![String::new(); group_by.len()];
        keys[0] = gettext("Total");
        table.row(cells(keys, &total));
    }
    print!("{}", table.render());
    if total.unpriced > 0 {
        let n = total.unpriced;
        let text = ngettext(
            "{} record has no price and is not in the cost. See: tally prices list --unpriced",
            "{} records have no price and are not in the cost. See: tally prices list --unpriced",
            u32::try_from(n).unwrap_or(u32::MAX),
        );
        println!("\n{}", text.replace("{}", &thousands(n)));
    }
    Ok(())
}

fn cost_cell(t: &Totals) -> String {
    if t.unpriced > 0 {
        format!("{} + {} ?", t.cost.display(), thousands(t.unpriced))
    } else {
        t.cost.display()
    }
}

//! `tally usage`: totals by time and dimension. Its JSON is a documented contract.

use clap::Args;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use super::args::{self, When};
use super::print_json;
use super::table::{Table, thousands};
use crate::core::usage::{Dimension, Totals};
use crate::i18n::{gettext, ngettext};
use crate::store::{Store, UsageQuery};

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

fn totals_json(t: &Totals) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("requests".into(), json!(t.requests));
    m.insert("input_tokens".into(), json!(t.tokens.input));
    m.insert("output_tokens".into(), json!(t.tokens.output));
    m.insert("cache_read_tokens".into(), json!(t.tokens.cache_read));
    m.insert("cache_write_tokens".into(), json!(t.tokens.cache_write()));
    m.insert("cache_write_1h_tokens".into(), json!(t.tokens.cache_write_1h));
    m.insert("reasoning_tokens".into(), json!(t.tokens.reasoning));
    m.insert("embedding_tokens".into(), json!(t.embedding_tokens));
    m.insert("images".into(), json!(t.images));
    m.insert("cost_usd".into(), json!(t.cost.to_decimal_string()));
    m.insert("unpriced".into(), json!(t.unpriced));
    m
}

pub fn run(store: &Store, a: UsageArgs) -> anyhow::Result<()> {
    let zone = a.tz.unwrap_or_else(TimeZone::system);
    let since = a.since.as_ref().map(|w| w.start(&zone)).transpose().map_err(anyhow::Error::msg)?;
    let until = a.until.as_ref().map(|w| w.end(&zone)).transpose().map_err(anyhow::Error::msg)?;
    if let (Some(s), Some(u)) = (since, until) {
        if u <= s {
            anyhow::bail!(gettext("--until must be after --since"));
        }
    }
    let mut group_by = a.group_by.clone();
    group_by.dedup();
    let query = UsageQuery { since, until, group_by: group_by.clone(), zone: zone.clone(), week_start: Weekday::Monday };
    let (rows, total) = store.usage(&query)?;

    if a.json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for (dim, key) in group_by.iter().zip(&r.keys) {
                    m.insert(dim.name().into(), json!(key));
                }
                m.extend(totals_json(&r.totals));
                Value::Object(m)
            })
            .collect();
        return print_json(&json!({
            "zone": zone.iana_name().unwrap_or("UTC"),
            "since": since.map(|t| t.to_string()),
            "until": until.map(|t| t.to_string()),
            "rows": rows,
            "total": totals_json(&total),
        }));
    }

    if total.requests == 0 {
        println!("{}", gettext("No usage in this range. Record some with: tally record --model MODEL --input N --output N"));
        return Ok(());
    }
    let mut columns: Vec<(String, bool)> = group_by.iter().map(|d| (heading(*d), false)).collect();
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
        let keys = r.keys.iter().map(|k| if k.is_empty() { "—".to_string() } else { k.clone() }).collect();
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

fn heading(d: Dimension) -> String {
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

//! `tally reprice`: cost the ledger again with the prices known now.

use clap::Args;
use jiff::tz::TimeZone;
use serde_json::json;

use super::args::{self, When};
use super::print_json;
use super::table::thousands;
use crate::core::UsageRecord;
use crate::i18n::{fill, gettext};
use crate::prices;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct RepriceArgs {
    /// Only this model's records
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// Only records from this day or time on
    #[arg(long, value_name = "D", value_parser = args::when)]
    since: Option<When>,
    /// Show what would change, and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(store: &mut Store, a: RepriceArgs) -> anyhow::Result<()> {
    let since = a
        .since
        .as_ref()
        .map(|w| w.start(&TimeZone::system()))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let book = prices::load(store)?;
    let model = a.model.as_deref().map(str::trim);
    let wanted = |r: &UsageRecord| {
        model.is_none_or(|m| r.model.eq_ignore_ascii_case(m)) && since.is_none_or(|s| r.at >= s)
    };
    let o = store.reprice_or_preview(&book, wanted, a.dry_run)?;
    if a.json {
        return print_json(&json!({
            "dry_run": a.dry_run,
            "examined": o.examined,
            "changed": o.changed,
            "cost_changed": o.cost_changed,
            "newly_priced": o.newly_priced,
            "still_unpriced": o.still_unpriced,
            "before_usd": o.before,
            "after_usd": o.after,
        }));
    }
    let n = thousands;
    let text = if a.dry_run {
        gettext("Would reprice {} of {} records: {} → {}.")
    } else {
        gettext("Repriced {} of {} records: {} → {}.")
    };
    println!(
        "{}",
        fill(
            &text,
            &[
                &n(o.changed),
                &n(o.examined),
                &o.before.display(),
                &o.after.display()
            ]
        )
    );
    if o.newly_priced > 0 {
        println!(
            "{}",
            fill(
                &gettext("{} records that had no price now have one."),
                &[&n(o.newly_priced)]
            )
        );
    }
    if o.still_unpriced > 0 {
        println!(
            "{}",
            fill(
                &gettext("{} records still have no price: see tally prices list --unpriced"),
                &[&n(o.still_unpriced)]
            )
        );
    }
    Ok(())
}

//! `tally calc-cost`: what a call would cost, without recording it.

use clap::Args;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::args::{self, When};
use super::record::{build_record, cost_json};
use super::{TokenArgs, print_json};
use crate::core::usage::Cost;
use crate::i18n::{fill, gettext};
use crate::prices;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct CalcArgs {
    /// The model
    #[arg(long, value_name = "M")]
    pub model: String,
    /// The provider; found from the model when left out
    #[arg(long, value_name = "P")]
    pub provider: Option<String>,
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// Price as of this time [default: now]
    #[arg(long, value_name = "TIME", value_parser = args::when)]
    pub at: Option<When>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &Store, a: CalcArgs) -> anyhow::Result<()> {
    let at = match &a.at {
        Some(w) => w.start(&TimeZone::system()).map_err(anyhow::Error::msg)?,
        None => Timestamp::now(),
    };
    let book = prices::load(store)?;
    let record = build_record(&book, &a.model, a.provider.as_deref(), &a.tokens, at)?;
    if a.json {
        return print_json(&cost_json(&record));
    }
    match &record.cost {
        Cost::Unpriced { reason } => {
            anyhow::bail!(fill(&gettext("Cannot price this call: {}"), &[reason]))
        }
        cost => println!("{}", cost.amount().unwrap_or_default().display()),
    }
    Ok(())
}

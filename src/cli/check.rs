//! `tally check`: may this call go ahead? Scripts ask before an expensive call.
//! Exit status: 0 allow or warn, 2 usage error, 3 blocked, 4 throttled.

use clap::Args;
use jiff::Timestamp;

use super::args;
use super::{Exit, print_json};
use crate::core::check::{Decision, Verdict, Why};
use crate::engine;
use crate::i18n::{fill, gettext};
use crate::notifier::System;
use crate::prices;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The model the call will use
    #[arg(long, value_name = "M")]
    pub model: String,
    /// The provider; found from the model when left out
    #[arg(long, value_name = "P")]
    pub provider: Option<String>,
    /// Input tokens the call is expected to send
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub estimated_input: u64,
    /// Output tokens the call is expected to produce
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub estimated_output: u64,
    /// Images the call will generate
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub images: u64,
    /// Who makes the call
    #[arg(long, value_name = "U", env = "TALLY_USER", default_value = "")]
    pub user: String,
    /// The project it is for
    #[arg(long, value_name = "P", env = "TALLY_PROJECT", default_value = "")]
    pub project: String,
    /// The agent or tool making it
    #[arg(long, value_name = "A", env = "TALLY_AGENT", default_value = "")]
    pub agent: String,
    /// When throttled, wait the delay and then exit 0
    #[arg(long)]
    pub wait: bool,
    /// Print the decision as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(store: &mut Store, a: CheckArgs) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let book = prices::load(store)?;
    let request = crate::api::CheckRequest {
        model: a.model.clone(),
        provider: a.provider.clone(),
        estimated_input: a.estimated_input,
        estimated_output: a.estimated_output,
        images: a.images,
        user: a.user.clone(),
        project: a.project.clone(),
        agent: a.agent.clone(),
    };
    let (decision, doc) = match crate::api::check(store, &book, &request, now) {
        Ok(answer) => answer,
        Err(crate::api::ApiError::Bad(b)) => return Err(Exit::usage(b.error).into()),
        Err(crate::api::ApiError::Store(e)) => return Err(e.into()),
    };
    if decision.verdict == Verdict::Block
        && engine::deliver_quick(store, now, &System::for_store(store))
    {
        super::send_in_background(store.path());
    }
    if a.json {
        print_json(&doc)?;
    } else {
        print_text(&decision, &a.model);
    }
    match decision.verdict {
        Verdict::Allow | Verdict::Warn => Ok(()),
        Verdict::Block => Err(Exit(3, None).into()),
        Verdict::Throttle { delay } => {
            if a.wait {
                std::thread::sleep(delay.unsigned_abs());
                Ok(())
            } else {
                Err(Exit(4, None).into())
            }
        }
    }
}

fn print_text(d: &Decision, model: &str) {
    let head = match d.verdict {
        Verdict::Allow => fill(&gettext("allow: {} may go ahead"), &[model]),
        Verdict::Warn => gettext("warn: go ahead, but a budget is running low"),
        Verdict::Throttle { delay } => fill(
            &gettext("throttle: wait {} seconds before this call"),
            &[&format!("{:.1}", delay.as_secs_f64())],
        ),
        Verdict::Block => gettext("block: this call would break a budget"),
    };
    println!("{head}");
    for r in &d.reasons {
        let m = r.metric;
        let why = match r.why {
            Why::OverLimit => gettext("over the limit"),
            Why::OverSoftLimit => gettext("past the soft limit"),
            Why::Overridden => gettext("over the limit, but overridden"),
            Why::Unpriced => gettext("the model has no price, so this call counts $0"),
        };
        println!(
            "  {}",
            fill(
                &gettext("{} ({}): {} → {} of {}, {}"),
                &[
                    &r.policy,
                    r.verdict.name(),
                    &m.display(r.used),
                    &m.display(r.after),
                    &m.display(r.limit),
                    &why
                ]
            )
        );
    }
}

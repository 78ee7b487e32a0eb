//! `tally plan set|clear|status|alerts`: the subscription plan each agent runs
//! on, and where its windows stand.

use clap::{Args, Subcommand};
use jiff::Timestamp;

use super::print_json;
use super::table::thousands;
use crate::core::Money;
use crate::core::plan::{Plan, Reported};
use crate::i18n::{fill, gettext, local_time, time_left};
use crate::ingest::Agent;
use crate::plans::{self, PlanStatus};
use crate::settings;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum PlanCommand {
    /// Say which plan an agent runs on: claude-pro, claude-max-5x, claude-max-20x, chatgpt-plus, chatgpt-pro or custom:DOLLARS (list-price dollars per 5-hour window)
    Set(SetArgs),
    /// Forget an agent's plan
    Clear(AgentArg),
    /// Where each plan's windows stand: Codex's own figures, the others estimated from the logs
    Status(StatusArgs),
    /// What plan windows are watched for, as alert triggers: e.g. 80,100,forecast, or none
    Alerts(AlertsArgs),
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// The agent: claude-code, codex, gemini-cli, opencode, amp, qwen-code or copilot
    #[arg(value_parser = parse_agent)]
    agent: Agent,
    /// The plan
    #[arg(value_parser = parse_plan)]
    plan: Plan,
}

#[derive(Args, Debug)]
pub struct AgentArg {
    /// The agent
    #[arg(value_parser = parse_agent)]
    agent: Agent,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// Triggers, comma-separated: percents of a window (1–1000) and forecast; none stops them [default: show them]
    triggers: Option<String>,
}

fn parse_agent(text: &str) -> Result<Agent, String> {
    Agent::from_source(text.trim()).ok_or_else(|| {
        let names: Vec<&str> = Agent::ALL.iter().map(|a| a.source()).collect();
        fill(
            &gettext("unknown agent “{}”: use {}"),
            &[text, &names.join(", ")],
        )
    })
}

fn parse_plan(text: &str) -> Result<Plan, String> {
    Plan::parse(text).map_err(|e| e.to_string())
}

pub fn run(store: &mut Store, command: PlanCommand) -> anyhow::Result<()> {
    match command {
        PlanCommand::Set(a) => {
            settings::plan(a.agent).set(store, Some(&a.plan))?;
            println!(
                "{}",
                fill(
                    &gettext("{} runs on {}."),
                    &[a.agent.name(), &a.plan.name()]
                )
            );
        }
        PlanCommand::Clear(a) => {
            settings::plan(a.agent).set(store, None)?;
            println!(
                "{}",
                fill(&gettext("{} has no plan now."), &[a.agent.name()])
            );
        }
        PlanCommand::Alerts(a) => match a.triggers {
            Some(text) => {
                plans::parse_triggers(&text)?;
                settings::PLAN_ALERTS.set(store, Some(&text.trim().to_string()))?;
                println!(
                    "{}",
                    fill(&gettext("Plan windows are watched for: {}"), &[text.trim()])
                );
            }
            None => {
                let shown: Vec<String> = plans::triggers(store)
                    .iter()
                    .map(|t| t.to_string())
                    .collect();
                println!(
                    "{}",
                    if shown.is_empty() {
                        "none".to_string()
                    } else {
                        shown.join(",")
                    }
                );
            }
        },
        PlanCommand::Status(a) => {
            let now = Timestamp::now();
            let statuses = plans::status(store, now)?;
            if a.json {
                return print_json(&serde_json::to_value(&statuses)?);
            }
            if statuses.is_empty() {
                println!(
                    "{}",
                    gettext(
                        "No plans yet. Say which plan an agent runs on: tally plan set claude-code claude-max-5x"
                    )
                );
            }
            for s in &statuses {
                print!("{}", text(s, now));
            }
        }
    }
    Ok(())
}

fn dollars(nanos: i64) -> String {
    Money::from_nanos(nanos).display()
}

fn percent(bp: i64) -> String {
    format!("{} %", bp / 100)
}

fn reported_line(r: &Reported, now: Timestamp) -> String {
    let window = plans::window_label(r.window_minutes);
    let resets = match r.resets_at {
        Some(t) if t > now => fill(
            &gettext("resets {} (in {})"),
            &[&local_time(t), &time_left(now, t)],
        ),
        Some(t) => fill(&gettext("reset at {}: not seen since"), &[&local_time(t)]),
        None => gettext("reset time not reported"),
    };
    fill(
        &gettext("  {}: {} used, {} · as reported at {}\n"),
        &[
            &window,
            &crate::i18n::percent(r.used_bp()),
            &resets,
            &local_time(r.seen_at),
        ],
    )
}

fn text(s: &PlanStatus, now: Timestamp) -> String {
    let mut out = match &s.plan_name {
        Some(p) => format!("{} · {p}\n", s.agent_name),
        None => format!("{}\n", s.agent_name),
    };
    for r in &s.reported {
        out.push_str(&reported_line(r, now));
    }
    match &s.window {
        Some(w) => {
            let of = match (w.limit_nanos, w.used_bp) {
                (Some(limit), Some(bp)) => fill(
                    &gettext("{} of an estimated {} ({})"),
                    &[&dollars(w.window.cost_nanos), &dollars(limit), &percent(bp)],
                ),
                _ => dollars(w.window.cost_nanos),
            };
            out.push_str(&fill(
                &gettext("  5-hour window from {}: {} at list prices, {} tokens, {} calls\n"),
                &[
                    &local_time(w.window.start),
                    &of,
                    &thousands(w.window.tokens),
                    &thousands(w.window.calls),
                ],
            ));
            let projected = match w.projected_bp {
                Some(bp) => format!("{} ({})", dollars(w.projected_nanos), percent(bp)),
                None => dollars(w.projected_nanos),
            };
            out.push_str(&fill(
                &gettext("  burning {} an hour, projected {} at its end · resets in {}\n"),
                &[
                    &dollars(w.burn_per_hour),
                    &projected,
                    &time_left(now, w.window.end),
                ],
            ));
        }
        None if s.reported.is_empty() => {
            out.push_str(&gettext("  no window open: the next call starts one\n"))
        }
        None => {}
    }
    out.push_str(&fill(
        &gettext("  last 7 days: {} at list prices, {} tokens, {} calls\n"),
        &[
            &dollars(s.week_cost_nanos),
            &thousands(s.week_tokens),
            &thousands(s.week_calls),
        ],
    ));
    if s.window.is_some() {
        out.push_str(&gettext(
            "  (estimated from the logs: the plan's real limits are not published)\n",
        ));
    }
    out
}

//! `tally alerts list|ack|resolve|webhook` and `tally rules list|add|rm`.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::policy::actor;
use super::print_json;
use super::table::Table;
use crate::core::alerts::{Channel, DEFAULT_COOLDOWN, Rule, Severity, Trigger};
use crate::i18n::local_time;
use crate::i18n::{fill, gettext, ngettext};
use crate::settings;
use crate::store::{AlertState, Store};

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// List active and acknowledged alerts (all with --all)
    List(ListArgs),
    /// Acknowledge alerts: seen, still open
    Ack(IdsArgs),
    /// Resolve alerts: dealt with
    Resolve(IdsArgs),
    /// Set or clear the URL that alerts are POSTed to as JSON
    Webhook(WebhookArgs),
    /// Send the alerts that are due now (run in the background after a write)
    #[command(hide = true)]
    Send,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Include resolved alerts
    #[arg(long)]
    pub all: bool,
    /// At most this many
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct IdsArgs {
    /// Alert ids, as `tally alerts list` shows them
    #[arg(required = true)]
    pub ids: Vec<i64>,
}

#[derive(Args, Debug)]
pub struct WebhookArgs {
    /// An http:// or https:// URL
    #[arg(required_unless_present = "clear")]
    pub url: Option<String>,
    /// Stop sending alerts to a webhook
    #[arg(long)]
    pub clear: bool,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// List alert rules
    List(JsonArgs),
    /// Add an alert rule
    Add(RuleArgs),
    /// Remove an alert rule
    Rm(RuleId),
}

#[derive(Args, Debug)]
pub struct JsonArgs {
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RuleId {
    pub id: i64,
}

#[derive(Args, Debug)]
pub struct RuleArgs {
    /// When it fires: soft (the policy's soft limit), a percent of the limit (e.g. 50), forecast or anomaly
    #[arg(long = "on", value_name = "TRIGGER")]
    pub trigger: String,
    /// info, warning or critical
    #[arg(long, value_name = "SEVERITY", default_value = "warning")]
    pub severity: String,
    /// Where it goes, comma-separated: desktop, log, webhook
    #[arg(
        long,
        value_name = "LIST",
        default_value = "desktop,log",
        value_delimiter = ','
    )]
    pub channels: Vec<String>,
    /// How long later threshold alerts of the same policy wait, e.g. 1h, 15m
    #[arg(long, value_name = "DURATION")]
    pub cooldown: Option<String>,
    /// Only for this policy (name or id) [default: every policy]
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,
}

pub fn run_alerts(store: &mut Store, command: AlertsCommand) -> anyhow::Result<()> {
    let now = Timestamp::now();
    match command {
        AlertsCommand::List(a) => list(store, &a),
        AlertsCommand::Ack(a) => {
            for id in a.ids {
                if store.acknowledge_alert(id, &actor(), now)? {
                    println!(
                        "{}",
                        fill(&gettext("Alert {} acknowledged."), &[&id.to_string()])
                    );
                } else {
                    eprintln!(
                        "{}",
                        fill(&gettext("Alert {} is not active."), &[&id.to_string()])
                    );
                }
            }
            Ok(())
        }
        AlertsCommand::Resolve(a) => {
            for id in a.ids {
                if store.resolve_alert(id, now)? {
                    println!(
                        "{}",
                        fill(&gettext("Alert {} resolved."), &[&id.to_string()])
                    );
                } else {
                    eprintln!(
                        "{}",
                        fill(
                            &gettext("Alert {} does not exist or is already resolved."),
                            &[&id.to_string()]
                        )
                    );
                }
            }
            Ok(())
        }
        AlertsCommand::Send => {
            let notifier = crate::notifier::System::for_store(store);
            crate::engine::deliver_due_concurrently(store, Timestamp::now(), &notifier);
            Ok(())
        }
        AlertsCommand::Webhook(a) => {
            if a.clear {
                settings::WEBHOOK_URL.set(store, None)?;
                println!("{}", gettext("Alerts are no longer sent to a webhook."));
                return Ok(());
            }
            let url = a.url.unwrap_or_default();
            if !crate::notifier::is_webhook_url(&url) {
                bail!(fill(
                    &gettext("“{}” is not an http:// or https:// URL"),
                    &[&url]
                ));
            }
            let added = crate::notifier::set_webhook(store, &url)?;
            println!(
                "{}",
                fill(&gettext("Alerts on the webhook channel go to {}."), &[&url])
            );
            if added > 0 {
                println!(
                    "{}",
                    fill(
                        &ngettext(
                            "{} alert rule now sends to it too.",
                            "{} alert rules now send to it too.",
                            added.min(u64::from(u32::MAX)) as u32,
                        ),
                        &[&added.to_string()]
                    )
                );
            }
            Ok(())
        }
    }
}

fn list(store: &Store, a: &ListArgs) -> anyhow::Result<()> {
    let states: &[AlertState] = if a.all {
        &[]
    } else {
        &[AlertState::Active, AlertState::Acknowledged]
    };
    let alerts = store.alerts(states, a.limit)?;
    if a.json {
        return print_json(&json!({ "alerts": alerts }));
    }
    if alerts.is_empty() {
        println!("{}", gettext("No alerts."));
        return Ok(());
    }
    let mut t = Table::new(vec![
        (gettext("Id"), true),
        (gettext("When"), false),
        (gettext("Severity"), false),
        (gettext("Kind"), false),
        (gettext("State"), false),
        (gettext("Alert"), false),
    ]);
    for al in &alerts {
        t.row(vec![
            al.id.to_string(),
            local_time(al.at),
            al.severity.name().into(),
            al.kind.name().into(),
            al.state.name().into(),
            format!("{} — {}", al.title, al.body),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

fn cooldown(text: &str) -> anyhow::Result<SignedDuration> {
    let d: SignedDuration = text.trim().parse().map_err(|_| {
        anyhow::anyhow!(fill(
            &gettext("“{}” is not a duration (e.g. 2h, 30m, 1d)"),
            &[text]
        ))
    })?;
    if d < SignedDuration::ZERO {
        bail!(gettext("the cooldown cannot be negative"));
    }
    Ok(d)
}

pub fn run_rules(store: &mut Store, command: RulesCommand) -> anyhow::Result<()> {
    match command {
        RulesCommand::List(a) => {
            let rules = store.rules()?;
            let names = store.policies()?;
            let policy_name = |id: Option<i64>| match id {
                None => gettext("every policy"),
                Some(id) => names
                    .iter()
                    .find(|p| p.id == id)
                    .map_or(id.to_string(), |p| p.name.clone()),
            };
            if a.json {
                return print_json(&json!({ "rules": rules }));
            }
            let mut t = Table::new(vec![
                (gettext("Id"), true),
                (gettext("On"), false),
                (gettext("Severity"), false),
                (gettext("Channels"), false),
                (gettext("Cooldown"), true),
                (gettext("Policy"), false),
            ]);
            for r in &rules {
                t.row(vec![
                    r.id.to_string(),
                    r.trigger.to_string(),
                    r.severity.name().into(),
                    r.channels
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!("{:#}", r.cooldown),
                    policy_name(r.policy_id),
                ]);
            }
            print!("{}", t.render());
            Ok(())
        }
        RulesCommand::Add(a) => {
            let trigger: Trigger = a.trigger.parse()?;
            let severity: Severity = a.severity.parse()?;
            let channels = a
                .channels
                .iter()
                .map(|c| c.parse::<Channel>())
                .collect::<Result<Vec<_>, _>>()?;
            let policy_id = match &a.policy {
                Some(key) => Some(
                    store
                        .find_policy(key)?
                        .with_context(|| fill(&gettext("No policy “{}”."), &[key]))?
                        .id,
                ),
                None => None,
            };
            let cooldown = match a.cooldown.as_deref() {
                Some(text) => cooldown(text)?,
                None => settings::DEFAULT_COOLDOWN
                    .get(store)?
                    .and_then(|v| cooldown(&v).ok())
                    .unwrap_or(DEFAULT_COOLDOWN),
            };
            let rule = Rule {
                id: 0,
                policy_id,
                trigger,
                severity,
                channels,
                cooldown,
            };
            let id = store.add_rule(&rule)?;
            println!("{}", fill(&gettext("Added rule {}."), &[&id.to_string()]));
            Ok(())
        }
        RulesCommand::Rm(r) => {
            if !store.remove_rule(r.id)? {
                bail!(fill(&gettext("No rule {}."), &[&r.id.to_string()]));
            }
            println!(
                "{}",
                fill(&gettext("Removed rule {}."), &[&r.id.to_string()])
            );
            Ok(())
        }
    }
}

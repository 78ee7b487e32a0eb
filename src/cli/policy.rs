//! `tally policy add|list|show|edit|rm|override|reset` and `tally status`.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::args::{self, When};
use super::print_json;
use super::table::Table;
use crate::core::period::Period;
use crate::core::policy::{Action, DEFAULT_SOFT_PERCENT, Metric, Override, Policy, Scope};
use crate::engine::{self, PolicyStatus};
use crate::i18n::{fill, gettext};
use crate::store::Store;
use crate::team::policies::Change;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Add a budget policy
    Add(AddArgs),
    /// List policies with where each stands
    List(JsonFlag),
    /// Show one policy, where it stands and its audit log
    Show(ShowArgs),
    /// Change a policy's settings
    Edit(EditArgs),
    /// Remove a policy (its audit log and past alerts stay)
    Rm(NameArgs),
    /// Let calls through a blocking or throttling policy for a while
    Override(OverrideArgs),
    /// Start a policy's count again from now
    Reset(ResetArgs),
}

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct NameArgs {
    /// The policy's name or id
    pub policy: String,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The policy's name or id
    pub policy: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// A name to refer to it by, e.g. “monthly” or “opus daily”
    pub name: String,
    /// The limit: dollars for cost (e.g. 100 or 12.50), a whole number otherwise
    #[arg(long, value_name = "AMOUNT")]
    pub limit: String,
    /// What to count: cost, tokens, requests or images
    #[arg(long, value_name = "METRIC", default_value = "cost")]
    pub metric: String,
    /// daily, weekly[:DAY], monthly[:RESET_DAY], rolling:HOURSh, custom:START/END or manual
    #[arg(long, value_name = "PERIOD", default_value = "monthly")]
    pub period: String,
    /// global, or user|provider|model|project|agent:PATTERN (* and ? wildcards)
    #[arg(long, value_name = "SCOPE", default_value = "global")]
    pub scope: String,
    /// Warn from this percent of the limit on
    #[arg(long = "soft", value_name = "PERCENT", default_value_t = DEFAULT_SOFT_PERCENT as u32)]
    pub soft_percent: u32,
    /// At the limit: warn, block, throttle or notify
    #[arg(long, value_name = "ACTION", default_value = "warn")]
    pub action: String,
    /// The zone whose days, weeks and months the period follows [default: the system's]
    #[arg(long, value_name = "ZONE", value_parser = args::zone)]
    pub zone: Option<TimeZone>,
    /// Save it switched off
    #[arg(long)]
    pub disabled: bool,
    /// Keep it on the team's server: one budget for every machine of the team, counted on their calls together
    #[arg(long)]
    pub team: bool,
}

#[derive(Args, Debug)]
pub struct EditArgs {
    /// The policy's name or id
    pub policy: String,
    /// A new name
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A new limit (required when the metric changes)
    #[arg(long, value_name = "AMOUNT")]
    pub limit: Option<String>,
    /// cost, tokens, requests or images
    #[arg(long, value_name = "METRIC")]
    pub metric: Option<String>,
    /// daily, weekly[:DAY], monthly[:RESET_DAY], rolling:HOURSh, custom:START/END or manual
    #[arg(long, value_name = "PERIOD")]
    pub period: Option<String>,
    /// global, or user|provider|model|project|agent:PATTERN
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Warn from this percent of the limit on
    #[arg(long = "soft", value_name = "PERCENT")]
    pub soft_percent: Option<u32>,
    /// warn, block, throttle or notify
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// The zone the period follows
    #[arg(long, value_name = "ZONE", value_parser = args::zone)]
    pub zone: Option<TimeZone>,
    /// Switch the policy on
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Switch the policy off
    #[arg(long)]
    pub disable: bool,
}

#[derive(Args, Debug)]
pub struct OverrideArgs {
    /// The policy's name or id
    pub policy: String,
    /// How long the override lasts, e.g. 2h or 30m
    #[arg(long = "for", value_name = "DURATION", value_parser = duration, conflicts_with = "until")]
    pub for_: Option<SignedDuration>,
    /// When the override ends (e.g. 2026-11-23T18:00)
    #[arg(long, value_name = "TIME", value_parser = args::when)]
    pub until: Option<When>,
    /// Why it is needed (kept in the audit log)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Who asks for it [default: $USER]
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// End the override now
    #[arg(long, conflicts_with_all = ["for_", "until", "reason"])]
    pub clear: bool,
}

#[derive(Args, Debug)]
pub struct ResetArgs {
    /// The policy's name or id
    pub policy: String,
    /// Why (kept in the audit log)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
}

/// `90m`, `2h`, `1d`, `1h30m`: whatever jiff reads as a friendly duration.
fn duration(text: &str) -> Result<SignedDuration, String> {
    let d: SignedDuration = text.trim().parse().map_err(|_| {
        fill(
            &gettext("“{}” is not a duration (e.g. 2h, 30m, 1d)"),
            &[text],
        )
    })?;
    if d <= SignedDuration::ZERO {
        return Err(gettext("the duration must be more than zero"));
    }
    Ok(d)
}

pub use crate::config::user_name as actor;

fn find(store: &Store, key: &str) -> anyhow::Result<Policy> {
    store
        .find_policy(key)?
        .with_context(|| fill(&gettext("No policy “{}”. See tally policy list."), &[key]))
}

fn system_zone_name() -> String {
    TimeZone::system().iana_name().unwrap_or("UTC").to_string()
}

/// A team policy is saved on the team's server, and comes back here from it.
fn team_save(
    store: &mut Store,
    p: &Policy,
    action: &str,
    detail: String,
    now: Timestamp,
) -> anyhow::Result<()> {
    team_change(store, p, Change::Save { action, detail }, now)
}

/// A team policy is changed on the team's server, and comes back here from it.
fn team_change(
    store: &mut Store,
    p: &Policy,
    change: Change,
    now: Timestamp,
) -> anyhow::Result<()> {
    crate::team::policies::change(store, p, change, &actor(), now)?;
    Ok(())
}

pub fn run(store: &mut Store, command: PolicyCommand) -> anyhow::Result<()> {
    let now = Timestamp::now();
    match command {
        PolicyCommand::Add(a) => {
            let metric: Metric = a.metric.parse()?;
            let p = Policy {
                id: 0,
                name: a.name.trim().to_string(),
                scope: a.scope.parse::<Scope>()?,
                metric,
                period: a.period.parse::<Period>()?,
                zone: a.zone.map_or_else(system_zone_name, |z| {
                    z.iana_name().unwrap_or("UTC").to_string()
                }),
                limit: metric.parse_amount(&a.limit)?,
                soft_percent: u8::try_from(a.soft_percent).unwrap_or(0),
                action: a.action.parse::<Action>()?,
                enabled: !a.disabled,
                created_at: now,
                reset_at: None,
                override_: None,
                team: None,
            };
            if u32::from(p.soft_percent) != a.soft_percent {
                bail!(crate::core::policy::PolicyError::SoftPercent(
                    a.soft_percent
                ));
            }
            p.validate()?;
            if a.team {
                let p = Policy {
                    team: Some(crate::team::policies::new_uid()),
                    ..p
                };
                let detail = crate::store::describe_policy(&p);
                team_save(store, &p, "created", detail, now)?;
                println!(
                    "{}",
                    fill(
                        &gettext("Added team policy “{}”: every machine of the team counts it."),
                        &[&p.name]
                    )
                );
                return Ok(());
            }
            let saved = store.add_policy(&p, &actor())?;
            println!(
                "{}",
                fill(
                    &gettext("Added policy “{}” (id {})."),
                    &[&saved.name, &saved.id.to_string()]
                )
            );
            Ok(())
        }
        PolicyCommand::List(f) => list(store, now, f.json),
        PolicyCommand::Show(a) => show(store, now, &a.policy, a.json),
        PolicyCommand::Edit(a) => {
            let old = find(store, &a.policy)?;
            let mut p = old.clone();
            if let Some(n) = a.name {
                p.name = n.trim().to_string();
            }
            if let Some(m) = a.metric {
                p.metric = m.parse()?;
                if p.metric != old.metric && a.limit.is_none() {
                    bail!(gettext("A new metric needs a new --limit in its units."));
                }
            }
            if let Some(l) = a.limit {
                p.limit = p.metric.parse_amount(&l)?;
            }
            if let Some(x) = a.period {
                p.period = x.parse()?;
            }
            if let Some(x) = a.scope {
                p.scope = x.parse()?;
            }
            if let Some(x) = a.soft_percent {
                p.soft_percent = u8::try_from(x)
                    .map_err(|_| crate::core::policy::PolicyError::SoftPercent(x))?;
            }
            if let Some(x) = a.action {
                p.action = x.parse()?;
            }
            if let Some(z) = a.zone {
                p.zone = z.iana_name().unwrap_or("UTC").to_string();
            }
            if a.enable {
                p.enabled = true;
            }
            if a.disable {
                p.enabled = false;
            }
            p.validate()?;
            if p.team.is_some() {
                let detail = crate::store::describe_policy(&p);
                team_save(store, &p, "edited", detail, now)?;
            } else {
                store.update_policy(&p, now, &actor())?;
            }
            println!("{}", fill(&gettext("Saved policy “{}”."), &[&p.name]));
            Ok(())
        }
        PolicyCommand::Rm(a) => {
            let p = find(store, &a.policy)?;
            if p.team.is_some() {
                team_change(store, &p, Change::Remove, now)?;
            } else {
                store.remove_policy(&p, now, &actor())?;
            }
            println!("{}", fill(&gettext("Removed policy “{}”."), &[&p.name]));
            Ok(())
        }
        PolicyCommand::Override(a) => {
            let p = find(store, &a.policy)?;
            if a.clear {
                if p.team.is_some() {
                    let cleared = Policy {
                        override_: None,
                        ..p.clone()
                    };
                    let detail = gettext("override ended");
                    team_save(store, &cleared, "override", detail, now)?;
                } else {
                    store.set_override(&p, None, now, &actor())?;
                }
                println!("{}", fill(&gettext("Override of “{}” ended."), &[&p.name]));
                return Ok(());
            }
            let until = match (a.for_, a.until) {
                (Some(d), _) => now.checked_add(d)?,
                (None, Some(w)) => w.start(&TimeZone::system()).map_err(anyhow::Error::msg)?,
                (None, None) => bail!(gettext("Say how long: --for 2h or --until TIME.")),
            };
            if until <= now {
                bail!(gettext("The override must end in the future."));
            }
            let Some(reason) = a.reason.filter(|r| !r.trim().is_empty()) else {
                bail!(gettext(
                    "Say why with --reason: it goes into the audit log."
                ));
            };
            let o = Override {
                by: a.by.unwrap_or_else(actor),
                reason,
                until,
            };
            if p.team.is_some() {
                let detail = format!("{} until {}: {}", o.by, o.until, o.reason);
                let overridden = Policy {
                    override_: Some(o),
                    ..p.clone()
                };
                team_save(store, &overridden, "override", detail, now)?;
            } else {
                store.set_override(&p, Some(&o), now, &actor())?;
            }
            println!(
                "{}",
                fill(
                    &gettext("“{}” lets calls through until {}."),
                    &[&p.name, &local_time(until)]
                )
            );
            Ok(())
        }
        PolicyCommand::Reset(a) => {
            let p = find(store, &a.policy)?;
            if p.team.is_some() {
                let reset = Policy {
                    reset_at: Some(now),
                    ..p.clone()
                };
                let detail = a.reason.clone();
                team_save(store, &reset, "reset", detail, now)?;
            } else {
                store.reset_policy(&p, now, &actor(), &a.reason)?;
            }
            println!(
                "{}",
                fill(&gettext("“{}” counts again from now."), &[&p.name])
            );
            Ok(())
        }
    }
}

use crate::i18n::local_time;

fn percent(bp: i64) -> String {
    format!("{}.{} %", bp / 100, (bp % 100) / 10)
}

fn state_word(s: &PolicyStatus) -> String {
    if !s.enabled {
        return gettext("off");
    }
    let word = match s.state {
        crate::core::policy::State::Ok => gettext("ok"),
        crate::core::policy::State::Warning => gettext("warning"),
        crate::core::policy::State::Critical => gettext("critical"),
        crate::core::policy::State::Exceeded => gettext("exceeded"),
    };
    if s.override_until.is_some() {
        format!("{word} ({})", gettext("overridden"))
    } else {
        word
    }
}

/// `tally status` and `tally policy list`: one line per policy.
pub fn list(store: &Store, now: Timestamp, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&crate::api::status(store, now)?);
    }
    let statuses = engine::status(store, now)?;
    if statuses.is_empty() {
        println!(
            "{}",
            gettext("No policies yet. Add one, e.g.: tally policy add monthly --limit 100")
        );
        return Ok(());
    }
    let mut t = Table::new(vec![
        (gettext("Policy"), false),
        (gettext("Scope"), false),
        (gettext("Used"), true),
        (gettext("Limit"), true),
        (gettext("Share"), true),
        (gettext("Left"), true),
        (gettext("Forecast"), true),
        (gettext("Resets"), false),
        (gettext("State"), false),
    ]);
    for s in &statuses {
        let m = s.metric;
        t.row(vec![
            if s.team {
                fill(&gettext("{} (team)"), &[&s.name])
            } else {
                s.name.clone()
            },
            s.scope.clone(),
            m.display(s.used),
            format!("{} / {}", m.display(s.limit), s.period),
            percent(s.basis_points),
            m.display(s.remaining),
            s.projection.map_or("—".into(), |p| m.display(p.expected)),
            s.resets_at.map_or("—".into(), local_time),
            state_word(s),
        ]);
    }
    print!("{}", t.render());
    let unpriced: u64 = statuses
        .iter()
        .filter(|s| s.metric == Metric::Cost)
        .map(|s| s.unpriced)
        .max()
        .unwrap_or(0);
    if unpriced > 0 {
        println!(
            "{}",
            fill(
                &gettext(
                    "{} records in these windows have no price and count $0 until priced: tally prices list --unpriced"
                ),
                &[&unpriced.to_string()]
            )
        );
    }
    Ok(())
}

fn show(store: &Store, now: Timestamp, key: &str, json: bool) -> anyhow::Result<()> {
    let p = find(store, key)?;
    let status = engine::status(store, now)?
        .into_iter()
        .find(|s| s.id == p.id)
        .context("policy vanished")?;
    let audit = store.audit_log(Some(p.id))?;
    if json {
        return print_json(&json!({
            "status": crate::api::status_json(&status),
            "soft_percent": p.soft_percent,
            "zone": p.zone,
            "override": p.override_.as_ref().map(|o| json!({
                "by": o.by, "reason": o.reason, "until": o.until.to_string(),
            })),
            "audit": audit,
        }));
    }
    let m = p.metric;
    println!("{} (id {})", p.name, p.id);
    println!("  {}", crate::store::describe_policy(&p));
    println!(
        "  {}",
        fill(
            &gettext("{} of {} used ({}), {} left; state: {}"),
            &[
                &m.display(status.used),
                &m.display(p.limit),
                &percent(status.basis_points),
                &m.display(status.remaining),
                &state_word(&status),
            ]
        )
    );
    println!(
        "  {}",
        fill(
            &gettext("window from {}; resets {}"),
            &[
                &local_time(status.window_start),
                &status
                    .resets_at
                    .map_or(gettext("never (manual)"), local_time)
            ]
        )
    );
    if let Some(pr) = status.projection {
        println!(
            "  {}",
            fill(
                &gettext("forecast for the period: {} ({} – {})"),
                &[
                    &m.display(pr.expected),
                    &m.display(pr.low),
                    &m.display(pr.high)
                ]
            )
        );
    }
    if let Some(o) = p.override_active(now) {
        println!(
            "  {}",
            fill(
                &gettext("override until {} by {}: {}"),
                &[&local_time(o.until), &o.by, &o.reason]
            )
        );
    }
    println!("{}", gettext("Audit log:"));
    for e in audit {
        println!(
            "  {}  {:<16} {:<10} {}",
            local_time(e.at),
            e.action,
            e.actor,
            e.detail
        );
    }
    Ok(())
}

//! Subscription plans at work: each agent's plan, where its windows stand
//! (Codex's own figures; the others' estimated from the ledger), and the
//! alerts a window raises, through the same alert log, channels and
//! cooldowns as budgets.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::core::alerts::{AlertKind, Channel, DEFAULT_COOLDOWN, Severity, Trigger};
use crate::core::plan::{self, Reported, Standing};
use crate::i18n::{fill, gettext};
use crate::ingest::Agent;
use crate::settings;
use crate::store::{NewAlert, Store, StoreError};

/// Where one agent's plan stands: what `tally plan status`, the dashboard
/// and the Sources view show.
#[derive(Clone, Debug, Serialize)]
pub struct PlanStatus {
    pub agent: &'static str,
    pub agent_name: &'static str,
    pub plan: Option<String>,
    pub plan_name: Option<String>,
    /// The 5-hour window in force, estimated from the ledger.
    pub window: Option<Standing>,
    pub week_calls: u64,
    pub week_tokens: u64,
    pub week_cost_nanos: i64,
    /// The windows as the agent itself reported them (Codex), newest seen.
    pub reported: Vec<Reported>,
}

/// The figures Codex reported last, newest for each window length.
pub fn reported(store: &Store) -> Vec<Reported> {
    settings::CODEX_REPORTED
        .get(store)
        .ok()
        .flatten()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Keeps what an import of Codex's logs saw, unless what is known is newer.
pub fn note_reported(store: &mut Store, seen: &[Reported]) -> Result<(), StoreError> {
    if seen.is_empty() {
        return Ok(());
    }
    let mut known = reported(store);
    let before = known.clone();
    plan::merge_reported(&mut known, seen);
    if known == before {
        return Ok(());
    }
    let text = serde_json::to_string(&known).unwrap_or_default();
    settings::CODEX_REPORTED.set(store, Some(&text))
}

/// How far back the chain of windows is followed: windows run back to back
/// only while calls keep coming, and a day of calls without a five-hour
/// break is rare. Reading a week of calls instead would be a query the
/// window's refresh waits on.
const CHAIN: SignedDuration = SignedDuration::from_hours(24);

/// Every agent with a plan (or with figures of its own), at `now`.
pub fn status(store: &Store, now: Timestamp) -> Result<Vec<PlanStatus>, StoreError> {
    let mut out = Vec::new();
    let mut week: Option<Vec<crate::store::UsageRow>> = None;
    for agent in Agent::ALL {
        let chosen = settings::plan(agent).get(store)?;
        let reported = if agent == Agent::Codex {
            reported(store)
        } else {
            Vec::new()
        };
        if chosen.is_none() && reported.is_empty() {
            continue;
        }
        let since = now.saturating_sub(CHAIN).unwrap_or(now);
        let uses = store.plan_uses(agent.source(), since, now)?;
        let window = plan::current(
            &plan::windows(&uses),
            now,
            chosen.and_then(|p| p.window_limit()),
        );
        // The week from the rollups, for every agent at once.
        if week.is_none() {
            let (rows, _) = store.usage(&crate::store::UsageQuery {
                since: now.saturating_sub(plan::WEEK).ok(),
                until: Some(now),
                group_by: vec![crate::core::usage::Dimension::Agent],
                zone: store.zone().clone(),
                week_start: jiff::civil::Weekday::Monday,
            })?;
            week = Some(rows);
        }
        let totals = week
            .iter()
            .flatten()
            .find(|r| r.keys.first().map(String::as_str) == Some(agent.source()))
            .map(|r| r.totals)
            .unwrap_or_default();
        let (week_calls, week_tokens, week_cost_nanos) =
            (totals.requests, totals.tokens.total(), totals.cost.nanos());
        out.push(PlanStatus {
            agent: agent.source(),
            agent_name: agent.name(),
            plan: chosen.map(|p| p.id()),
            plan_name: chosen.map(|p| p.name()),
            window,
            week_calls,
            week_tokens,
            week_cost_nanos,
            reported,
        });
    }
    Ok(out)
}

/// What plan windows are watched for, unless the user said otherwise: 80 %
/// and 100 % of the window, and a projection past its limit.
pub const DEFAULT_ALERTS: &str = "80,100,forecast";

/// The triggers in `PLAN_ALERTS`, or the default ones.
pub fn triggers(store: &Store) -> Vec<Trigger> {
    let text = settings::PLAN_ALERTS
        .get(store)
        .ok()
        .flatten()
        .unwrap_or_else(|| DEFAULT_ALERTS.into());
    parse_triggers(&text).unwrap_or_default()
}

/// `80,100,forecast` (an empty list watches nothing).
pub fn parse_triggers(text: &str) -> Result<Vec<Trigger>, crate::core::alerts::RuleError> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "none")
        .map(str::parse)
        .collect()
}

/// Which alerts have fired for which window: `agent/window` → triggers and
/// when the last one fired.
#[derive(Default, Serialize, Deserialize)]
struct Marks(BTreeMap<String, (Vec<String>, i64)>);

/// One window that alerts can watch.
struct Watched {
    agent: Agent,
    key: String,
    label: String,
    used_bp: i64,
    projected_bp: Option<i64>,
    body: String,
    ends: Timestamp,
}

/// A plan window by its length: `5-hour window`, `weekly window`.
pub fn window_label(minutes: u32) -> String {
    match minutes {
        300 => gettext("5-hour window"),
        10_080 => gettext("weekly window"),
        m => fill(&gettext("{}-minute window"), &[&m.to_string()]),
    }
}

fn watched(statuses: &[PlanStatus], now: Timestamp) -> Vec<Watched> {
    let mut out = Vec::new();
    for s in statuses {
        let Some(agent) = Agent::from_source(s.agent) else {
            continue;
        };
        if let Some(w) = &s.window
            && let (Some(used_bp), Some(limit)) = (w.used_bp, w.limit_nanos)
        {
            let dollars = |n: i64| crate::core::Money::from_nanos(n).display();
            out.push(Watched {
                agent,
                key: format!("{}/{}", s.agent, w.window.start.as_millisecond()),
                label: window_label(300),
                used_bp,
                projected_bp: w.projected_bp,
                body: fill(
                    &gettext("{} of an estimated {} ({}) used in the 5-hour window that ends at {}, at list prices; projected {}. Estimated from the logs: the plan's real limit is not published."),
                    &[
                        &dollars(w.window.cost_nanos),
                        &dollars(limit),
                        s.plan_name.as_deref().unwrap_or_default(),
                        &crate::i18n::local_time(w.window.end),
                        &dollars(w.projected_nanos),
                    ],
                ),
                ends: w.window.end,
            });
        }
        for r in &s.reported {
            let Some(resets) = r.resets_at.filter(|t| *t > now) else {
                continue;
            };
            out.push(Watched {
                agent,
                key: format!("{}/{}/{}", s.agent, r.window_minutes, resets.as_second()),
                label: window_label(r.window_minutes),
                used_bp: r.used_bp(),
                projected_bp: None,
                body: fill(
                    &gettext("{} used, as {} reported at {}; the window starts over at {}."),
                    &[
                        &crate::i18n::percent(r.used_bp()),
                        s.agent_name,
                        &crate::i18n::local_time(r.seen_at),
                        &crate::i18n::local_time(resets),
                    ],
                ),
                ends: resets,
            });
        }
    }
    out
}

/// Raises the plan-window alerts that are due, once per window and trigger
/// (the highest threshold crossed speaks for the lower ones), no sooner than
/// the budgets' cooldown after the agent's last one. Returns the new alerts' ids.
pub fn evaluate(store: &mut Store, now: Timestamp) -> Result<Vec<i64>, StoreError> {
    store.locked(|store| {
        let statuses = status(store, now)?;
        let triggers = triggers(store);
        if statuses.is_empty() || triggers.is_empty() {
            return Ok(Vec::new());
        }
        // The budgets' own channels and cooldown, from their general threshold rule.
        let rules = store.rules()?;
        let general = rules
            .iter()
            .find(|r| r.policy_id.is_none() && matches!(r.trigger, Trigger::Threshold { .. }));
        let channels = general.map_or_else(
            || vec![Channel::Desktop, Channel::Log],
            |r| r.channels.clone(),
        );
        let cooldown = general.map_or(DEFAULT_COOLDOWN, |r| r.cooldown);
        let before = settings::PLAN_MARKS.get(store)?;
        let mut marks: Marks = before
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let mut raised = Vec::new();
        for w in watched(&statuses, now) {
            let fired = marks.0.entry(w.key.clone()).or_default().0.clone();
            let cooling =
                now.as_millisecond() - last_of(&marks, w.agent) < cooldown.as_millis() as i64;
            let due: Vec<(Trigger, i64)> = triggers
                .iter()
                .filter(|t| !fired.contains(&t.to_string()))
                .filter_map(|t| match t {
                    Trigger::Threshold { percent } => {
                        let at = i64::from(percent.unwrap_or(80)) * 100;
                        (w.used_bp >= at).then_some((*t, at))
                    }
                    Trigger::Forecast => w
                        .projected_bp
                        .filter(|p| *p >= 10_000 && w.used_bp < 10_000)
                        .map(|p| (*t, p)),
                    Trigger::Anomaly => None,
                })
                .collect();
            let Some(&(top, at)) = due
                .iter()
                .filter(|(t, _)| matches!(t, Trigger::Threshold { .. }))
                .max_by_key(|(_, at)| *at)
                .or_else(|| due.first())
            else {
                continue;
            };
            let exceeded = matches!(top, Trigger::Threshold { .. }) && at >= 10_000;
            if cooling && !exceeded {
                continue; // fires at the next look after the cooldown
            }
            let (kind, severity, title) = match top {
                Trigger::Forecast => (
                    AlertKind::ForecastOverrun,
                    Severity::Warning,
                    fill(
                        &gettext("{}: the {} is heading past its limit"),
                        &[w.agent.name(), &w.label],
                    ),
                ),
                _ if exceeded => (
                    AlertKind::LimitExceeded,
                    Severity::Critical,
                    fill(
                        &gettext("{}: the {} is used up"),
                        &[w.agent.name(), &w.label],
                    ),
                ),
                _ => (
                    AlertKind::ThresholdWarning,
                    Severity::Warning,
                    fill(
                        &gettext("{}: {} of the {} used"),
                        &[w.agent.name(), &format!("{} %", w.used_bp / 100), &w.label],
                    ),
                ),
            };
            let alert = NewAlert {
                policy_id: None,
                policy: fill(&gettext("{} plan"), &[w.agent.name()]),
                kind,
                severity,
                channels: channels.clone(),
                title,
                body: w.body.clone(),
                detail: json!({
                    "agent": w.agent.source(),
                    "window": w.label,
                    "percent": w.used_bp as f64 / 100.0,
                    "projected_percent": w.projected_bp.map(|p| p as f64 / 100.0),
                    "window_end": w.ends.to_string(),
                }),
            };
            raised.push(store.insert_alert(&alert, now)?);
            // The threshold that fired speaks for those below it.
            let mut now_fired = fired;
            for (t, t_at) in &due {
                if *t == top || (matches!(t, Trigger::Threshold { .. }) && *t_at <= at) {
                    now_fired.push(t.to_string());
                }
            }
            marks.0.insert(w.key, (now_fired, now.as_millisecond()));
        }
        // Windows long over are forgotten.
        let week_ago = now
            .saturating_sub(SignedDuration::from_hours(24 * 8))
            .unwrap_or(now);
        marks
            .0
            .retain(|_, (_, last)| *last == 0 || *last >= week_ago.as_millisecond());
        marks.0.retain(|_, (fired, _)| !fired.is_empty());
        let text = serde_json::to_string(&marks).unwrap_or_default();
        if before.as_deref() != Some(text.as_str()) {
            store.write_setting(settings::PLAN_MARKS.key, Some(&text))?;
        }
        Ok(raised)
    })
}

/// When the agent's last plan alert fired (unix ms), 0 for never.
fn last_of(marks: &Marks, agent: Agent) -> i64 {
    let prefix = format!("{}/", agent.source());
    marks
        .0
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, (_, last))| *last)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_read_as_alert_rules_write_them() {
        assert_eq!(
            parse_triggers(DEFAULT_ALERTS).unwrap(),
            vec![
                Trigger::Threshold { percent: Some(80) },
                Trigger::Threshold { percent: Some(100) },
                Trigger::Forecast
            ]
        );
        assert_eq!(parse_triggers("none").unwrap(), vec![]);
        assert!(parse_triggers("80,sometimes").is_err());
    }
}

//! Ties the store, the core and the channels together: after every write, work
//! out where each policy stands, raise the alerts that are due (once, whichever
//! process gets there first), and deliver them.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::json;

use crate::core::alerts::{self, AlertKind, Channel, Firing, Observation, Severity};
use crate::core::check::{Decision, Verdict};
use crate::core::forecast::{self, Projection};
use crate::core::period::Window;
use crate::core::policy::{Metric, Policy, State, basis_points};
use crate::i18n::{fill, gettext};
use crate::notifier::Notifier;
use crate::store::{Delivery, NewAlert, PolicySpend, Store, StoreError};

/// Where a policy stands now: what `tally status`, the Policies view and the
/// dashboard show.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyStatus {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub metric: Metric,
    pub period: String,
    pub action: &'static str,
    pub enabled: bool,
    pub used: i64,
    pub limit: i64,
    /// Where warnings start, in percent of the limit.
    pub soft_percent: u8,
    /// Hundredths of a percent of the limit used.
    pub basis_points: i64,
    pub remaining: i64,
    pub state: State,
    pub window_start: Timestamp,
    /// When the budget starts over, for periods that reset.
    pub resets_at: Option<Timestamp>,
    pub projection: Option<Projection>,
    pub override_until: Option<Timestamp>,
    pub unpriced: u64,
    /// Kept on the team's server and counted on the team's calls.
    pub team: bool,
}

/// The smallest spread anomaly scores assume, per metric: going from nothing to
/// less than a few dollars (or a few requests) is not "unusual".
fn anomaly_floor(metric: Metric) -> i64 {
    match metric {
        Metric::Cost => 1_000_000_000,
        Metric::Tokens => 10_000,
        Metric::Requests => 10,
        Metric::Images => 5,
    }
}

fn status_of(p: &Policy, s: &PolicySpend, now: Timestamp) -> PolicyStatus {
    let projection = forecast::project(s.used, &s.window, now, &s.daily).filter(|_| {
        p.period.resets() || matches!(p.period, crate::core::period::Period::Custom { .. })
    });
    PolicyStatus {
        id: p.id,
        name: p.name.clone(),
        scope: p.scope.to_string(),
        metric: p.metric,
        period: p.period.to_string(),
        action: p.action.name(),
        enabled: p.enabled,
        used: s.used,
        limit: p.limit,
        soft_percent: p.soft_percent,
        basis_points: basis_points(s.used, p.limit),
        remaining: (p.limit - s.used).max(0),
        state: p.state(s.used),
        window_start: s.window.start,
        resets_at: s.window.end.filter(|_| p.period.resets()),
        projection,
        override_until: p.override_active(now).map(|o| o.until),
        unpriced: s.totals.unpriced,
        team: p.team.is_some(),
    }
}

/// Every policy's status at `now`.
pub fn status(store: &Store, now: Timestamp) -> Result<Vec<PolicyStatus>, StoreError> {
    let policies = store.policies()?;
    let spend = store.policy_spend(&policies, now)?;
    Ok(policies
        .iter()
        .zip(&spend)
        .map(|(p, s)| status_of(p, s, now))
        .collect())
}

/// Evaluates every enabled policy and raises the alerts that are due, under the
/// store's write lock so that concurrent writers raise each crossing once.
/// A team-wide policy is left to the team (`team::policies`): its alerts are
/// claimed on the server, once for every machine. Returns the new alerts' ids.
pub fn evaluate(store: &mut Store, now: Timestamp) -> Result<Vec<i64>, StoreError> {
    store.locked(|store| {
        let policies: Vec<Policy> = store
            .policies()?
            .into_iter()
            .filter(|p| p.enabled && p.team.is_none())
            .collect();
        if policies.is_empty() {
            return Ok(Vec::new());
        }
        let rules = store.rules()?;
        let spend = store.policy_spend(&policies, now)?;
        let all_marks = store.marks()?;
        let mut raised = Vec::new();
        for (p, s) in policies.iter().zip(&spend) {
            let marks = all_marks.get(&p.id).map_or(&[][..], Vec::as_slice);
            let (out, alerts) = decide(p, s, now, &rules, marks);
            if out.fire.is_empty() && out.rearm.is_empty() {
                continue;
            }
            store.save_marks(p.id, &out.fire, &out.rearm, now)?;
            for alert in &alerts {
                raised.push(store.insert_alert(alert, now)?);
            }
        }
        Ok(raised)
    })
}

/// What the rules make of a policy's spend: the marks to keep and the
/// alerts to raise. The same for a machine's policies and the team's.
pub fn decide(
    p: &Policy,
    s: &PolicySpend,
    now: Timestamp,
    rules: &[alerts::Rule],
    marks: &[alerts::Mark],
) -> (alerts::Outcome, Vec<NewAlert>) {
    let st = status_of(p, s, now);
    let anomaly =
        forecast::anomaly(&s.history, s.today, anomaly_floor(p.metric)).map(|a| (s.today_key, a));
    let obs = Observation {
        policy: p,
        window: s.window,
        used: s.used,
        projection: st.projection,
        anomaly,
    };
    let out = alerts::evaluate(now, &obs, rules, marks);
    let raised = out
        .fire
        .iter()
        .filter(|f| f.notify)
        .map(|f| {
            let (title, body) = words(p, f, &st);
            NewAlert {
                policy_id: Some(p.id),
                policy: p.name.clone(),
                kind: f.kind,
                severity: f.severity,
                channels: f.channels.clone(),
                title,
                body,
                detail: detail(p, f, &s.window),
            }
        })
        .collect();
    (out, raised)
}

/// Evaluates, then delivers whatever is due (this evaluation's alerts and
/// earlier failures whose retry time has come). A channel that fails is logged
/// and retried later; it never fails the write that led here.
pub fn after_write(store: &mut Store, now: Timestamp, notifier: &dyn Notifier) -> Vec<i64> {
    let raised = evaluate_logged(store, now);
    deliver_due(store, now, notifier);
    raised
}

/// As `after_write` for a command that ends at once: the desktop and the log
/// are told now (quick and local); whether a webhook delivery is due comes
/// back, to be sent by another process (see `cli::send_in_background`).
pub fn after_write_quick(
    store: &mut Store,
    now: Timestamp,
    notifier: &dyn Notifier,
) -> (Vec<i64>, bool) {
    let raised = evaluate_logged(store, now);
    (raised, deliver_quick(store, now, notifier))
}

/// Tells the desktop and the log what is due (quick and local); true when a
/// webhook delivery is due too, for another process to send.
pub fn deliver_quick(store: &mut Store, now: Timestamp, notifier: &dyn Notifier) -> bool {
    deliver_due_on(store, now, notifier, &[Channel::Desktop, Channel::Log]);
    store
        .delivery_due_on(now, Channel::Webhook)
        .unwrap_or(false)
}

fn evaluate_logged(store: &mut Store, now: Timestamp) -> Vec<i64> {
    let mut raised = evaluate(store, now).unwrap_or_else(|e| {
        tracing::warn!("evaluating budgets failed: {e}");
        Vec::new()
    });
    match crate::plans::evaluate(store, now) {
        Ok(more) => raised.extend(more),
        Err(e) => tracing::warn!("evaluating plan windows failed: {e}"),
    }
    raised
}

/// Sends the deliveries that are due through `notifier`.
pub fn deliver_due(store: &mut Store, now: Timestamp, notifier: &dyn Notifier) {
    deliver_due_on(store, now, notifier, &Channel::ALL);
}

/// As `deliver_due`, on `channels` only.
pub fn deliver_due_on(
    store: &mut Store,
    now: Timestamp,
    notifier: &dyn Notifier,
    channels: &[Channel],
) {
    for d in take_due(store, now, channels) {
        let result = notifier.send(d.channel, &d.alert);
        finish(store, &d, result, now);
    }
}

/// The due deliveries on `channels`, leased; none when the outbox cannot be
/// read (said in the log; they stay due).
fn take_due(store: &mut Store, now: Timestamp, channels: &[Channel]) -> Vec<Delivery> {
    store
        .take_due_deliveries_on(now, channels)
        .unwrap_or_else(|e| {
            tracing::warn!("reading the alert outbox failed: {e}");
            Vec::new()
        })
}

fn finish(store: &mut Store, d: &Delivery, result: Result<(), String>, now: Timestamp) {
    if let Err(e) = &result {
        tracing::warn!(
            "alert {} on {}: {e} (will retry)",
            d.alert.id,
            d.channel.name()
        );
    }
    if let Err(e) = store.finish_delivery(d, result, now) {
        tracing::warn!("recording a delivery failed: {e}");
    }
}

/// Sends every due delivery at once, each on a thread of its own (a webhook
/// waits up to its timeout, and one that hangs must not hold up the others),
/// and records how each went.
pub fn deliver_due_concurrently(
    store: &mut Store,
    now: Timestamp,
    notifier: &(dyn Notifier + Sync),
) {
    let due = take_due(store, now, &Channel::ALL);
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let sending: Vec<_> = due
            .iter()
            .map(|d| scope.spawn(move || notifier.send(d.channel, &d.alert)))
            .collect();
        sending
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("the sender failed".into())))
            .collect()
    });
    for (d, result) in due.iter().zip(results) {
        finish(store, d, result, now);
    }
}

/// Records a `tally check` that was refused as a POLICY_VIOLATION alert.
pub fn record_violation(
    store: &mut Store,
    now: Timestamp,
    decision: &Decision,
    model: &str,
) -> Result<Option<i64>, StoreError> {
    let Some(reason) = decision
        .reasons
        .iter()
        .find(|r| r.verdict == Verdict::Block)
    else {
        return Ok(None);
    };
    let rules = store.rules()?;
    let channels = rules
        .iter()
        .find(|r| r.severity == Severity::Critical)
        .map(|r| r.channels.clone())
        .unwrap_or_default();
    let m = reason.metric;
    let alert = NewAlert {
        policy_id: Some(reason.policy_id),
        policy: reason.policy.clone(),
        kind: AlertKind::PolicyViolation,
        severity: Severity::Critical,
        channels,
        title: fill(&gettext("A call was blocked by “{}”"), &[&reason.policy]),
        body: fill(
            &gettext("{}: {} would have made it {} of {}."),
            &[
                model,
                &m.display(reason.after - reason.used),
                &m.display(reason.after),
                &m.display(reason.limit),
            ],
        ),
        detail: json!({
            "model": model,
            "metric": m.name(),
            "used": m.plain(reason.used),
            "after": m.plain(reason.after),
            "limit": m.plain(reason.limit),
        }),
    };
    store.locked(|s| s.insert_alert(&alert, now).map(Some))
}

fn percent_text(bp: i64) -> String {
    format!("{} %", bp / 100)
}

fn local_day(t: Timestamp) -> String {
    t.to_zoned(TimeZone::system())
        .strftime("%a %b %-d")
        .to_string()
}

/// The title and body of an alert, with the figures a person acts on.
fn words(p: &Policy, f: &Firing, st: &PolicyStatus) -> (String, String) {
    let m = p.metric;
    let name = p.name.as_str();
    let used_of = fill(
        &gettext("{} of {} used"),
        &[&m.display(f.used), &m.display(f.limit)],
    );
    let left = match st.resets_at {
        Some(at) => fill(
            &gettext("{} left until {}."),
            &[&m.display(st.remaining), &local_day(at)],
        ),
        None => fill(&gettext("{} left."), &[&m.display(st.remaining)]),
    };
    match f.kind {
        AlertKind::ThresholdWarning | AlertKind::ThresholdCritical => (
            fill(
                &gettext("Budget “{}” at {}"),
                &[name, &percent_text(basis_points(f.used, f.limit))],
            ),
            format!("{used_of}; {left}"),
        ),
        AlertKind::LimitExceeded => (
            fill(&gettext("Budget “{}” exceeded"), &[name]),
            format!("{used_of}."),
        ),
        AlertKind::ForecastOverrun => {
            let pr = f.projection.unwrap_or(Projection {
                expected: f.used,
                low: f.used,
                high: f.used,
            });
            (
                fill(&gettext("Budget “{}” is heading over its limit"), &[name]),
                fill(
                    &gettext("Expected {} of {} by the end of the period; {} so far."),
                    &[
                        &m.display(pr.expected),
                        &m.display(f.limit),
                        &m.display(f.used),
                    ],
                ),
            )
        }
        AlertKind::Anomaly => {
            let (value, usual) = f.anomaly.map_or((0, 0), |a| (a.value, a.usual));
            (
                fill(&gettext("Unusual usage for “{}”"), &[name]),
                fill(
                    &gettext("{} today; a usual day is {}."),
                    &[&m.display(value), &m.display(usual)],
                ),
            )
        }
        AlertKind::PolicyViolation => (name.to_string(), used_of),
    }
}

/// A forecast's expected figure and its range, as amounts of `m`.
pub fn projection_json(m: Metric, p: Projection) -> serde_json::Value {
    json!({
        "expected": m.plain(p.expected),
        "low": m.plain(p.low),
        "high": m.plain(p.high),
    })
}

/// The figures behind an alert, for the log channel, webhooks and `--json`.
fn detail(p: &Policy, f: &Firing, w: &Window) -> serde_json::Value {
    let m = p.metric;
    json!({
        "metric": m.name(),
        "used": m.plain(f.used),
        "limit": m.plain(f.limit),
        "threshold": f.threshold.map(|t| m.plain(t)),
        "percent": basis_points(f.used, f.limit) as f64 / 100.0,
        "window_start": w.start.to_string(),
        "window_end": w.end.map(|e| e.to_string()),
        "forecast": f.projection.map(|pr| projection_json(m, pr)),
        "anomaly": f.anomaly.map(|a| json!({
            "value": m.plain(a.value),
            "usual": m.plain(a.usual),
            "score": (a.score * 100.0).round() / 100.0,
        })),
    })
}

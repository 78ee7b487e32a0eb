//! The alert engine's logic: given where a policy stands and which alerts have
//! already fired, which fire now. The store keeps the state and serialises the
//! decision, so two processes never fire the same crossing twice.

use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::forecast::{Anomaly, Projection};
use super::period::{Period, Window};
use super::policy::Policy;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertKind {
    ThresholdWarning,
    ThresholdCritical,
    LimitExceeded,
    ForecastOverrun,
    Anomaly,
    PolicyViolation,
}

impl AlertKind {
    pub const ALL: [AlertKind; 6] = [
        AlertKind::ThresholdWarning,
        AlertKind::ThresholdCritical,
        AlertKind::LimitExceeded,
        AlertKind::ForecastOverrun,
        AlertKind::Anomaly,
        AlertKind::PolicyViolation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AlertKind::ThresholdWarning => "THRESHOLD_WARNING",
            AlertKind::ThresholdCritical => "THRESHOLD_CRITICAL",
            AlertKind::LimitExceeded => "LIMIT_EXCEEDED",
            AlertKind::ForecastOverrun => "FORECAST_OVERRUN",
            AlertKind::Anomaly => "ANOMALY",
            AlertKind::PolicyViolation => "POLICY_VIOLATION",
        }
    }

    pub fn parse(text: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.name() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl FromStr for Severity {
    type Err = RuleError;
    fn from_str(text: &str) -> Result<Severity, RuleError> {
        Severity::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| RuleError::Severity(text.into()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Desktop,
    Log,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Desktop, Channel::Log, Channel::Webhook];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Desktop => "desktop",
            Channel::Log => "log",
            Channel::Webhook => "webhook",
        }
    }
}

impl FromStr for Channel {
    type Err = RuleError;
    fn from_str(text: &str) -> Result<Channel, RuleError> {
        Channel::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| RuleError::Channel(text.into()))
    }
}

/// What makes a rule fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "on")]
pub enum Trigger {
    /// Usage reaching a share of the limit; `None` is the policy's soft limit.
    Threshold { percent: Option<u32> },
    /// The period's projection passing the limit.
    Forecast,
    /// A day far above the scope's usual days.
    Anomaly,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Threshold { percent: None } => write!(f, "soft"),
            Trigger::Threshold { percent: Some(p) } => write!(f, "{p}%"),
            Trigger::Forecast => write!(f, "forecast"),
            Trigger::Anomaly => write!(f, "anomaly"),
        }
    }
}

impl FromStr for Trigger {
    type Err = RuleError;
    /// `soft`, `95`, `95%`, `forecast`, `anomaly`.
    fn from_str(text: &str) -> Result<Trigger, RuleError> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "soft" => Ok(Trigger::Threshold { percent: None }),
            "forecast" => Ok(Trigger::Forecast),
            "anomaly" => Ok(Trigger::Anomaly),
            _ => match t.trim_end_matches('%').parse::<u32>() {
                Ok(p @ 1..=1000) => Ok(Trigger::Threshold { percent: Some(p) }),
                _ => Err(RuleError::Trigger(text.into())),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "“{0}” is not a trigger: use soft, a percent of the limit (1–1000, e.g. 95), forecast or anomaly"
    )]
    Trigger(String),
    #[error("unknown severity “{0}”: use info, warning or critical")]
    Severity(String),
    #[error("unknown channel “{0}”: use desktop, log or webhook")]
    Channel(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: i64,
    /// `None`: applies to every policy.
    pub policy_id: Option<i64>,
    pub trigger: Trigger,
    pub severity: Severity,
    pub channels: Vec<Channel>,
    /// After an alert for a policy, further threshold alerts for it wait this long.
    #[serde(serialize_with = "seconds")]
    pub cooldown: SignedDuration,
}

fn seconds<S: serde::Serializer>(d: &SignedDuration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.as_secs())
}

pub const DEFAULT_COOLDOWN: SignedDuration = SignedDuration::from_hours(1);

impl Rule {
    pub fn applies_to(&self, policy: &Policy) -> bool {
        self.policy_id.is_none_or(|id| id == policy.id)
    }

    /// The amount of the policy's metric at which a threshold rule fires.
    pub fn threshold(&self, policy: &Policy) -> Option<i64> {
        match self.trigger {
            Trigger::Threshold { percent: None } => Some(policy.soft_limit()),
            Trigger::Threshold { percent: Some(p) } => {
                Some((i128::from(policy.limit) * i128::from(p) / 100) as i64)
            }
            _ => None,
        }
    }

    pub fn kind(&self, policy: &Policy) -> AlertKind {
        match self.trigger {
            Trigger::Forecast => AlertKind::ForecastOverrun,
            Trigger::Anomaly => AlertKind::Anomaly,
            Trigger::Threshold { .. } => {
                if self.threshold(policy).is_some_and(|t| t >= policy.limit) {
                    AlertKind::LimitExceeded
                } else if self.severity == Severity::Critical {
                    AlertKind::ThresholdCritical
                } else {
                    AlertKind::ThresholdWarning
                }
            }
        }
    }
}

/// A rule that has fired (or been passed over) for a policy in a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub rule_id: i64,
    pub window_key: i64,
    pub at: Timestamp,
    /// Passed over because a higher threshold fired at the same time.
    pub superseded: bool,
}

/// Where a policy stands, as the engine sees it.
pub struct Observation<'a> {
    pub policy: &'a Policy,
    pub window: Window,
    pub used: i64,
    pub projection: Option<Projection>,
    /// Today's anomaly, if any, with the start of the day (unix ms) as its key.
    pub anomaly: Option<(i64, Anomaly)>,
}

/// An alert to raise (or, when `notify` is false, a threshold to mark as passed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Firing {
    pub rule_id: i64,
    pub policy_id: i64,
    pub kind: AlertKind,
    pub severity: Severity,
    pub channels: Vec<Channel>,
    pub window_key: i64,
    pub used: i64,
    pub limit: i64,
    pub threshold: Option<i64>,
    pub projection: Option<Projection>,
    pub anomaly: Option<Anomaly>,
    pub notify: bool,
}

#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub fire: Vec<Firing>,
    /// Rules whose threshold usage has fallen back under (after a reprice, or as a
    /// rolling window slides): their marks are cleared so they can fire again.
    pub rearm: Vec<i64>,
}

/// The key of a policy's current window in the marks: its start, except for a
/// rolling window, which slides and so keeps one key (re-armed by falling back).
pub fn window_key(policy: &Policy, window: &Window) -> i64 {
    match policy.period {
        Period::Rolling { .. } => 0,
        _ => window.start.as_millisecond(),
    }
}

pub fn evaluate(now: Timestamp, obs: &Observation, rules: &[Rule], marks: &[Mark]) -> Outcome {
    let mut out = Outcome::default();
    let p = obs.policy;
    if !p.enabled {
        return out;
    }
    let key = window_key(p, &obs.window);
    let marked = |rule: i64, k: i64| marks.iter().any(|m| m.rule_id == rule && m.window_key == k);
    let firing = |r: &Rule, k: i64, notify: bool| Firing {
        rule_id: r.id,
        policy_id: p.id,
        kind: r.kind(p),
        severity: r.severity,
        channels: r.channels.clone(),
        window_key: k,
        used: obs.used,
        limit: p.limit,
        threshold: r.threshold(p),
        projection: obs.projection,
        anomaly: obs.anomaly.map(|(_, a)| a),
        notify,
    };
    let applicable: Vec<&Rule> = rules.iter().filter(|r| r.applies_to(p)).collect();

    let mut thresholds: Vec<(&Rule, i64)> = applicable
        .iter()
        .filter_map(|r| r.threshold(p).map(|t| (*r, t)))
        .collect();
    thresholds.sort_by_key(|(r, t)| (*t, r.id));
    let crossed = |t: i64| obs.used > 0 && obs.used >= t;
    for (r, t) in &thresholds {
        if !crossed(*t) && marked(r.id, key) {
            out.rearm.push(r.id);
        }
    }
    let pending: Vec<&(&Rule, i64)> = thresholds
        .iter()
        .filter(|(r, t)| crossed(*t) && !marked(r.id, key))
        .collect();
    if let Some((top, _)) = pending.last() {
        let last_alert = marks
            .iter()
            .filter(|m| m.window_key == key && !m.superseded)
            .filter(|m| thresholds.iter().any(|(r, _)| r.id == m.rule_id))
            .map(|m| m.at)
            .max();
        let cooling = last_alert.is_some_and(|at| now.duration_since(at) < top.cooldown);
        if !cooling {
            for (r, _) in &pending[..pending.len() - 1] {
                out.fire.push(firing(r, key, false));
            }
            out.fire.push(firing(top, key, true));
        }
    }

    for r in &applicable {
        match r.trigger {
            Trigger::Forecast => {
                let overrun = obs
                    .projection
                    .is_some_and(|pr| pr.expected > p.limit && obs.used < p.limit);
                if overrun && !marked(r.id, key) {
                    out.fire.push(firing(r, key, true));
                }
            }
            Trigger::Anomaly => {
                if let Some((day, _)) = obs.anomaly
                    && !marked(r.id, day)
                {
                    out.fire.push(firing(r, day, true));
                }
            }
            Trigger::Threshold { .. } => {}
        }
    }
    out
}

/// The rules a new ledger starts with: a warning at each policy's soft limit,
/// critical at 95 %, exceeded at 100 %, and the forecast and anomaly alerts.
pub fn default_rules() -> Vec<Rule> {
    let rule = |trigger, severity| Rule {
        id: 0,
        policy_id: None,
        trigger,
        severity,
        channels: vec![Channel::Desktop, Channel::Log],
        cooldown: DEFAULT_COOLDOWN,
    };
    vec![
        rule(Trigger::Threshold { percent: None }, Severity::Warning),
        rule(Trigger::Threshold { percent: Some(95) }, Severity::Critical),
        rule(
            Trigger::Threshold { percent: Some(100) },
            Severity::Critical,
        ),
        rule(Trigger::Forecast, Severity::Warning),
        rule(Trigger::Anomaly, Severity::Warning),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::{Action, Metric, Scope};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy() -> Policy {
        Policy {
            id: 1,
            name: "monthly".into(),
            scope: Scope::Global,
            metric: Metric::Requests,
            period: Period::Monthly { reset_day: 1 },
            zone: "UTC".into(),
            limit: 100,
            soft_percent: 80,
            action: Action::Warn,
            enabled: true,
            created_at: ts("2026-01-01T00:00:00Z"),
            reset_at: None,
            override_: None,
            team: None,
        }
    }

    fn rules() -> Vec<Rule> {
        default_rules()
            .into_iter()
            .enumerate()
            .map(|(i, mut r)| {
                r.id = i as i64 + 1;
                r
            })
            .collect()
    }

    /// Feeds usage values in at the given times, keeping marks as the store would,
    /// and returns the kinds that notified.
    fn run(p: &Policy, steps: &[(&str, i64)]) -> Vec<(String, AlertKind)> {
        let rules = rules();
        let mut marks: Vec<Mark> = Vec::new();
        let mut notified = Vec::new();
        for (at, used) in steps {
            let now = ts(at);
            let obs = Observation {
                policy: p,
                window: p.window(now).unwrap(),
                used: *used,
                projection: None,
                anomaly: None,
            };
            let out = evaluate(now, &obs, &rules, &marks);
            marks.retain(|m| !out.rearm.contains(&m.rule_id));
            for f in out.fire {
                marks.push(Mark {
                    rule_id: f.rule_id,
                    window_key: f.window_key,
                    at: now,
                    superseded: !f.notify,
                });
                if f.notify {
                    notified.push((at.to_string(), f.kind));
                }
            }
        }
        notified
    }

    #[test]
    fn each_threshold_fires_once_per_period() {
        use AlertKind::*;
        let got = run(
            &policy(),
            &[
                ("2026-03-01T10:00:00Z", 79),
                ("2026-03-02T10:00:00Z", 80),
                ("2026-03-02T10:01:00Z", 81),
                ("2026-03-03T10:00:00Z", 96),
                ("2026-03-04T10:00:00Z", 100),
                ("2026-03-05T10:00:00Z", 150),
                // April: a new window re-arms every threshold.
                ("2026-04-01T10:00:00Z", 85),
            ],
        );
        let kinds: Vec<AlertKind> = got.iter().map(|(_, k)| *k).collect();
        assert_eq!(
            kinds,
            [
                ThresholdWarning,
                ThresholdCritical,
                LimitExceeded,
                ThresholdWarning
            ]
        );
    }

    #[test]
    fn a_jump_past_several_thresholds_notifies_once_for_the_highest() {
        let got = run(
            &policy(),
            &[("2026-03-01T10:00:00Z", 120), ("2026-03-05T10:00:00Z", 130)],
        );
        assert_eq!(
            got,
            [("2026-03-01T10:00:00Z".into(), AlertKind::LimitExceeded)]
        );
    }

    #[test]
    fn the_cooldown_defers_the_next_threshold_until_it_has_passed() {
        let got = run(
            &policy(),
            &[
                ("2026-03-01T10:00:00Z", 80),
                // Critical crossed 10 minutes later: held back by the 1 h cooldown.
                ("2026-03-01T10:10:00Z", 96),
                ("2026-03-01T10:59:00Z", 97),
                // After the cooldown, still past 95 %: it fires now.
                ("2026-03-01T11:00:00Z", 97),
            ],
        );
        assert_eq!(
            got,
            [
                ("2026-03-01T10:00:00Z".into(), AlertKind::ThresholdWarning),
                ("2026-03-01T11:00:00Z".into(), AlertKind::ThresholdCritical)
            ]
        );
    }

    #[test]
    fn falling_back_under_a_threshold_rearms_it() {
        let mut p = policy();
        p.period = Period::Rolling { hours: 24 };
        let got = run(
            &p,
            &[
                ("2026-03-01T10:00:00Z", 85),
                ("2026-03-01T12:00:00Z", 85),
                ("2026-03-02T12:00:00Z", 10),
                ("2026-03-02T14:00:00Z", 90),
            ],
        );
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn forecast_and_anomaly_fire_once_each() {
        let p = policy();
        let rules = rules();
        let now = ts("2026-03-10T00:00:00Z");
        let obs = Observation {
            policy: &p,
            window: p.window(now).unwrap(),
            used: 50,
            projection: Some(Projection {
                expected: 160,
                low: 140,
                high: 180,
            }),
            anomaly: Some((
                ts("2026-03-10T00:00:00Z").as_millisecond(),
                Anomaly {
                    value: 30,
                    usual: 2,
                    score: 9.0,
                },
            )),
        };
        let out = evaluate(now, &obs, &rules, &[]);
        let kinds: Vec<AlertKind> = out.fire.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [AlertKind::ForecastOverrun, AlertKind::Anomaly]);
        let marks: Vec<Mark> = out
            .fire
            .iter()
            .map(|f| Mark {
                rule_id: f.rule_id,
                window_key: f.window_key,
                at: now,
                superseded: false,
            })
            .collect();
        assert!(evaluate(now, &obs, &rules, &marks).fire.is_empty());
        let mut p2 = p.clone();
        p2.enabled = false;
        let obs2 = Observation { policy: &p2, ..obs };
        assert!(evaluate(now, &obs2, &rules, &[]).fire.is_empty());
    }

    #[test]
    fn rules_scoped_to_another_policy_do_not_apply() {
        let p = policy();
        let mut r = rules();
        for rule in &mut r {
            rule.policy_id = Some(99);
        }
        let now = ts("2026-03-10T00:00:00Z");
        let obs = Observation {
            policy: &p,
            window: p.window(now).unwrap(),
            used: 100,
            projection: None,
            anomaly: None,
        };
        assert!(evaluate(now, &obs, &r, &[]).fire.is_empty());
        assert_eq!(
            "95%".parse::<Trigger>(),
            Ok(Trigger::Threshold { percent: Some(95) })
        );
        assert!("0".parse::<Trigger>().is_err());
    }
}

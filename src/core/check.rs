//! `tally check`: given what a call is expected to use and where each matching
//! policy stands, decide whether it may go ahead.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::period::{Period, Window};
use super::policy::{Action, Metric, Policy};
use super::usage::Totals;

/// A policy that matches the call, with what it has used in its current window.
pub struct PolicyUse<'a> {
    pub policy: &'a Policy,
    pub window: Window,
    pub used: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    Allow,
    Warn,
    Throttle {
        #[serde(serialize_with = "seconds")]
        delay: SignedDuration,
    },
    Block,
}

fn seconds<S: serde::Serializer>(d: &SignedDuration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Warn => "warn",
            Verdict::Throttle { .. } => "throttle",
            Verdict::Block => "block",
        }
    }
}

/// Why a policy asked for more than "allow".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The call would take the policy past its limit.
    OverLimit,
    /// The call would take the policy past its soft limit.
    OverSoftLimit,
    /// Past the limit, but an override lets it through with a warning.
    Overridden,
    /// The model has no price, so a cost policy cannot count this call.
    Unpriced,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    pub policy_id: i64,
    pub policy: String,
    pub metric: Metric,
    pub verdict: Verdict,
    pub why: Why,
    pub used: i64,
    /// What the policy would have used after the call.
    pub after: i64,
    pub limit: i64,
    pub resets_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    #[serde(flatten)]
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
}

/// The longest a throttle asks anyone to wait in one go; the caller checks again after.
pub const MAX_DELAY: SignedDuration = SignedDuration::from_hours(1);

/// Decides on a call expected to add `call` to every policy in `uses` (the
/// policies that match it). `priced` is false when the call's model has no price.
pub fn decide(now: Timestamp, call: &Totals, priced: bool, uses: &[PolicyUse]) -> Decision {
    let mut reasons = Vec::new();
    for u in uses.iter().filter(|u| u.policy.enabled) {
        if let Some(r) = judge(now, call, priced, u) {
            reasons.push(r);
        }
    }
    let verdict = reasons
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Allow);
    reasons.sort_by_key(|r| std::cmp::Reverse(r.verdict));
    Decision { verdict, reasons }
}

fn judge(now: Timestamp, call: &Totals, priced: bool, u: &PolicyUse) -> Option<Reason> {
    let p = u.policy;
    let adds = p.metric.of(call);
    let after = u.used.saturating_add(adds);
    let reason = |verdict, why| Reason {
        policy_id: p.id,
        policy: p.name.clone(),
        metric: p.metric,
        verdict,
        why,
        used: u.used,
        after,
        limit: p.limit,
        resets_at: u.window.end.filter(|_| p.period.resets()),
    };
    let over = after > p.limit || u.used >= p.limit;
    let (verdict, why) = if over {
        let strict = matches!(p.action, Action::Block | Action::Throttle);
        if strict && p.override_active(now).is_some() {
            (Verdict::Warn, Why::Overridden)
        } else {
            let v = match p.action {
                Action::Notify => return None,
                Action::Warn => Verdict::Warn,
                Action::Block => Verdict::Block,
                Action::Throttle => match wait_for_room(now, u, after) {
                    Some(delay) => Verdict::Throttle { delay },
                    None => Verdict::Block,
                },
            };
            (v, Why::OverLimit)
        }
    } else if after >= p.soft_limit() {
        let v = match p.action {
            Action::Notify => return None,
            Action::Throttle => Verdict::Throttle {
                delay: spread(now, u, adds),
            },
            Action::Warn | Action::Block => Verdict::Warn,
        };
        (v, Why::OverSoftLimit)
    } else if !priced && p.metric == Metric::Cost {
        (Verdict::Warn, Why::Unpriced)
    } else {
        return None;
    };
    Some(reason(verdict, why))
}

/// Past the soft limit, a throttled call waits its share of the time left: if
/// what remains of the budget were spent evenly until the reset, this call's
/// amount would come due after `adds / remaining × time left`.
fn spread(now: Timestamp, u: &PolicyUse, adds: i64) -> SignedDuration {
    let remaining = u.policy.limit - u.used;
    let time_left = match (u.policy.period, u.window.end) {
        (Period::Rolling { hours }, _) => SignedDuration::from_hours(i64::from(hours)),
        (_, Some(end)) if end > now => end.duration_since(now),
        _ => return SignedDuration::ZERO,
    };
    if remaining <= 0 || adds <= 0 {
        return SignedDuration::ZERO;
    }
    let secs = time_left.as_secs_f64() * (adds as f64 / remaining as f64);
    SignedDuration::from_secs_f64(secs.min(MAX_DELAY.as_secs_f64()))
}

/// Past the limit, a throttled call waits until the budget resets (capped; the
/// caller checks again). With no reset to wait for, it is blocked.
fn wait_for_room(now: Timestamp, u: &PolicyUse, after: i64) -> Option<SignedDuration> {
    let p = u.policy;
    let wait = match (p.period, u.window.end) {
        // A rolling window frees room as old usage slides out; wait for the
        // share of the window the overshoot represents.
        (Period::Rolling { hours }, _) => {
            let window = SignedDuration::from_hours(i64::from(hours)).as_secs_f64();
            let over = (after - p.limit).max(1) as f64 / p.limit as f64;
            SignedDuration::from_secs_f64((window * over).min(window))
        }
        (period, Some(end)) if period.resets() && end > now => end.duration_since(now),
        _ => return None,
    };
    Some(wait.min(MAX_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Money;
    use crate::core::policy::{Override, Scope};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy(action: Action, limit_usd: i64) -> Policy {
        Policy {
            id: 7,
            name: "monthly".into(),
            scope: Scope::Global,
            metric: Metric::Cost,
            period: Period::Monthly { reset_day: 1 },
            zone: "UTC".into(),
            limit: limit_usd * 1_000_000_000,
            soft_percent: 80,
            action,
            enabled: true,
            created_at: ts("2026-01-01T00:00:00Z"),
            reset_at: None,
            override_: None,
            team: None,
        }
    }

    fn call(usd: &str) -> Totals {
        Totals {
            requests: 1,
            cost: Money::parse_usd(usd).unwrap(),
            ..Totals::default()
        }
    }

    fn check(p: &Policy, used_usd: &str, call_usd: &str, now: &str) -> Decision {
        let now = ts(now);
        let use_ = PolicyUse {
            policy: p,
            window: p.window(now).unwrap(),
            used: Money::parse_usd(used_usd).unwrap().nanos(),
        };
        decide(now, &call(call_usd), true, &[use_])
    }

    const MID_MONTH: &str = "2026-03-16T00:00:00Z";

    #[test]
    fn under_the_soft_limit_a_call_is_allowed() {
        let d = check(&policy(Action::Block, 100), "50", "1", MID_MONTH);
        assert_eq!(d.verdict, Verdict::Allow);
        assert!(d.reasons.is_empty());
    }

    #[test]
    fn past_the_soft_limit_a_call_is_warned() {
        let d = check(&policy(Action::Block, 100), "79.50", "0.50", MID_MONTH);
        assert_eq!(d.verdict, Verdict::Warn);
        assert_eq!(d.reasons[0].why, Why::OverSoftLimit);
        assert_eq!(d.reasons[0].after, 80_000_000_000);
    }

    #[test]
    fn past_the_limit_block_blocks_and_warn_warns() {
        let d = check(&policy(Action::Block, 100), "99.50", "0.51", MID_MONTH);
        assert_eq!(d.verdict, Verdict::Block);
        assert_eq!(d.reasons[0].resets_at, Some(ts("2026-04-01T00:00:00Z")));
        // Exactly reaching the limit is still allowed through (with a warning).
        let d = check(&policy(Action::Block, 100), "99.50", "0.50", MID_MONTH);
        assert_eq!(d.verdict, Verdict::Warn);
        let d = check(&policy(Action::Warn, 100), "120", "1", MID_MONTH);
        assert_eq!(d.verdict, Verdict::Warn);
        assert_eq!(d.reasons[0].why, Why::OverLimit);
        assert_eq!(
            check(&policy(Action::Notify, 100), "120", "1", MID_MONTH).verdict,
            Verdict::Allow
        );
    }

    #[test]
    fn throttle_spreads_what_is_left_over_the_time_left() {
        // $10 left for 16 days; a $0.01 call is 1/1000 of it: 16 days / 1000 = 1382.4 s.
        let d = check(&policy(Action::Throttle, 100), "90", "0.01", MID_MONTH);
        assert_eq!(
            d.verdict,
            Verdict::Throttle {
                delay: SignedDuration::from_secs_f64(1382.4)
            }
        );
        // A big call is capped at an hour.
        let d = check(&policy(Action::Throttle, 100), "90", "5", MID_MONTH);
        assert_eq!(d.verdict, Verdict::Throttle { delay: MAX_DELAY });
        // Past the limit it waits for the reset, 10 minutes away here.
        let d = check(
            &policy(Action::Throttle, 100),
            "100",
            "1",
            "2026-03-31T23:50:00Z",
        );
        assert_eq!(
            d.verdict,
            Verdict::Throttle {
                delay: SignedDuration::from_mins(10)
            }
        );
        // With no reset to wait for, it blocks.
        let mut manual = policy(Action::Throttle, 100);
        manual.period = Period::Manual;
        assert_eq!(
            check(&manual, "100", "1", MID_MONTH).verdict,
            Verdict::Block
        );
    }

    #[test]
    fn an_active_override_turns_a_block_into_a_warning() {
        let mut p = policy(Action::Block, 100);
        p.override_ = Some(Override {
            by: "ana".into(),
            reason: "release day".into(),
            until: ts("2026-03-17T00:00:00Z"),
        });
        let d = check(&p, "100", "1", MID_MONTH);
        assert_eq!(
            (d.verdict, d.reasons[0].why),
            (Verdict::Warn, Why::Overridden)
        );
        // Expired: blocks again.
        assert_eq!(
            check(&p, "100", "1", "2026-03-18T00:00:00Z").verdict,
            Verdict::Block
        );
    }

    #[test]
    fn the_strictest_policy_decides_and_comes_first() {
        let strict = policy(Action::Block, 10);
        let mut lax = policy(Action::Warn, 100);
        lax.id = 8;
        let now = ts(MID_MONTH);
        let uses = [
            PolicyUse {
                policy: &lax,
                window: lax.window(now).unwrap(),
                used: 90_000_000_000,
            },
            PolicyUse {
                policy: &strict,
                window: strict.window(now).unwrap(),
                used: 10_000_000_000,
            },
        ];
        let d = decide(now, &call("1"), true, &uses);
        assert_eq!(d.verdict, Verdict::Block);
        assert_eq!(
            d.reasons.iter().map(|r| r.policy_id).collect::<Vec<_>>(),
            [7, 8]
        );
        let mut off = strict.clone();
        off.enabled = false;
        let uses = [PolicyUse {
            policy: &off,
            window: off.window(now).unwrap(),
            used: 10_000_000_000,
        }];
        assert_eq!(decide(now, &call("1"), true, &uses).verdict, Verdict::Allow);
    }

    #[test]
    fn an_unpriced_model_is_warned_about_by_cost_policies() {
        let p = policy(Action::Block, 100);
        let now = ts(MID_MONTH);
        let uses = [PolicyUse {
            policy: &p,
            window: p.window(now).unwrap(),
            used: 0,
        }];
        let d = decide(
            now,
            &Totals {
                requests: 1,
                ..Totals::default()
            },
            false,
            &uses,
        );
        assert_eq!(
            (d.verdict, d.reasons[0].why),
            (Verdict::Warn, Why::Unpriced)
        );
    }
}

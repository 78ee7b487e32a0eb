//! Subscription plans and their usage windows. A plan (Claude Pro or Max,
//! ChatGPT Plus or Pro, or one the user describes) limits use per 5-hour
//! window and per week rather than in dollars.
//!
//! Codex logs carry the plan's own figures (`rate_limits`): they are shown as
//! they are. Claude Code's logs carry none, so its windows are estimated as
//! the peers estimate them (ccusage `blocks`, Claude-Code-Usage-Monitor): a
//! window starts at the first call after the previous one ended, at the top of
//! that call's hour (UTC), and lasts five hours; what it holds is priced at
//! list prices and set against a limit in those dollars. Anthropic changes
//! its limits without notice: every figure here is an estimate.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::money::Money;

/// How long a plan window lasts.
pub const WINDOW: SignedDuration = SignedDuration::from_hours(5);
/// The weekly total looks back this far.
pub const WEEK: SignedDuration = SignedDuration::from_hours(24 * 7);

/// A subscription plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "plan")]
pub enum Plan {
    ClaudePro,
    ClaudeMax5,
    ClaudeMax20,
    ChatgptPlus,
    ChatgptPro,
    /// The user's own limit per 5-hour window, in list-price dollars.
    Custom {
        #[serde(serialize_with = "usd")]
        window_limit: Money,
    },
}

fn usd<S: serde::Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&m.to_decimal_string())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "unknown plan “{0}”: use claude-pro, claude-max-5x, claude-max-20x, chatgpt-plus, chatgpt-pro or custom:DOLLARS (list-price dollars per 5-hour window)"
    )]
    Unknown(String),
    #[error("a custom plan's limit is a positive amount of dollars, not “{0}”")]
    Limit(String),
}

impl Plan {
    pub const NAMED: [Plan; 5] = [
        Plan::ClaudePro,
        Plan::ClaudeMax5,
        Plan::ClaudeMax20,
        Plan::ChatgptPlus,
        Plan::ChatgptPro,
    ];

    /// How it is written in settings and on the command line.
    pub fn id(&self) -> String {
        match self {
            Plan::ClaudePro => "claude-pro".into(),
            Plan::ClaudeMax5 => "claude-max-5x".into(),
            Plan::ClaudeMax20 => "claude-max-20x".into(),
            Plan::ChatgptPlus => "chatgpt-plus".into(),
            Plan::ChatgptPro => "chatgpt-pro".into(),
            Plan::Custom { window_limit } => {
                let exact = window_limit.to_decimal_string();
                format!(
                    "custom:{}",
                    exact.trim_end_matches('0').trim_end_matches('.')
                )
            }
        }
    }

    /// Its name as its maker writes it.
    pub fn name(&self) -> String {
        match self {
            Plan::ClaudePro => "Claude Pro".into(),
            Plan::ClaudeMax5 => "Claude Max 5×".into(),
            Plan::ClaudeMax20 => "Claude Max 20×".into(),
            Plan::ChatgptPlus => "ChatGPT Plus".into(),
            Plan::ChatgptPro => "ChatGPT Pro".into(),
            Plan::Custom { window_limit } => format!("{} per 5 hours", window_limit.display()),
        }
    }

    pub fn parse(text: &str) -> Result<Plan, PlanError> {
        let t = text.trim().to_ascii_lowercase();
        if let Some(limit) = t.strip_prefix("custom:") {
            return Money::parse_usd(limit.trim_start_matches('$'))
                .ok()
                .filter(|m| m.nanos() > 0)
                .map(|window_limit| Plan::Custom { window_limit })
                .ok_or_else(|| PlanError::Limit(limit.into()));
        }
        Plan::NAMED
            .into_iter()
            .find(|p| p.id() == t)
            .ok_or_else(|| PlanError::Unknown(text.into()))
    }

    /// The estimated limit of a 5-hour window, in list-price dollars: the
    /// figures Claude-Code-Usage-Monitor uses for Claude's plans (Pro $18,
    /// Max 5× $35, Max 20× $140), or the user's own. ChatGPT's plans need
    /// none: Codex logs their real use.
    pub fn window_limit(&self) -> Option<Money> {
        match self {
            Plan::ClaudePro => Some(Money::from_nanos(18_000_000_000)),
            Plan::ClaudeMax5 => Some(Money::from_nanos(35_000_000_000)),
            Plan::ClaudeMax20 => Some(Money::from_nanos(140_000_000_000)),
            Plan::ChatgptPlus | Plan::ChatgptPro => None,
            Plan::Custom { window_limit } => Some(*window_limit),
        }
    }
}

/// One call, as a plan window counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Use {
    pub at: Timestamp,
    pub tokens: u64,
    /// Nano-dollars at list price; 0 for an unpriced call.
    pub cost: i64,
    pub unpriced: bool,
}

/// A 5-hour window and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
    pub first: Timestamp,
    pub last: Timestamp,
    pub calls: u64,
    pub tokens: u64,
    pub cost_nanos: i64,
    pub unpriced: u64,
}

fn top_of_hour(t: Timestamp) -> Timestamp {
    let s = t.as_second();
    Timestamp::from_second(s - s.rem_euclid(3600)).unwrap_or(t)
}

/// The windows `uses` (in time order) fall into: each starts at the top of
/// the hour of the first call after the previous window ended.
pub fn windows(uses: &[Use]) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    for u in uses {
        match out.last_mut() {
            Some(w) if u.at < w.end => {
                w.last = u.at;
                w.calls += 1;
                w.tokens += u.tokens;
                w.cost_nanos += u.cost;
                w.unpriced += u64::from(u.unpriced);
            }
            _ => {
                let start = top_of_hour(u.at);
                out.push(Window {
                    start,
                    end: start.saturating_add(WINDOW).unwrap_or(start),
                    first: u.at,
                    last: u.at,
                    calls: 1,
                    tokens: u.tokens,
                    cost_nanos: u.cost,
                    unpriced: u64::from(u.unpriced),
                });
            }
        }
    }
    out
}

/// The shortest stretch a burn rate is taken over, in seconds.
const BURN_FLOOR: i64 = 1800;

/// Where the current window stands at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Standing {
    pub window: Window,
    /// Nano-dollars an hour, over the window so far (half an hour at least).
    pub burn_per_hour: i64,
    /// The window's cost at its end if use goes on at this rate.
    pub projected_nanos: i64,
    pub limit_nanos: Option<i64>,
    /// Hundredths of a percent of the limit used, and projected.
    pub used_bp: Option<i64>,
    pub projected_bp: Option<i64>,
}

/// The window in force at `now`, if a call opened one less than five hours ago.
pub fn current(windows: &[Window], now: Timestamp, limit: Option<Money>) -> Option<Standing> {
    let w = *windows.last().filter(|w| w.start <= now && now < w.end)?;
    // The rate over the window so far, and at least half an hour of it: one
    // large call in a window's first minutes does not project a hundredfold.
    let elapsed = now.duration_since(w.start).as_secs().max(BURN_FLOOR);
    let left = w.end.duration_since(now).as_secs().max(0);
    let burn_per_hour = (i128::from(w.cost_nanos) * 3600 / i128::from(elapsed)) as i64;
    let projected_nanos =
        w.cost_nanos + (i128::from(w.cost_nanos) * i128::from(left) / i128::from(elapsed)) as i64;
    let limit_nanos = limit.map(|m| m.nanos());
    let bp = |v: i64| {
        limit_nanos
            .filter(|l| *l > 0)
            .map(|l| (i128::from(v) * 10_000 / i128::from(l)) as i64)
    };
    Some(Standing {
        window: w,
        burn_per_hour,
        projected_nanos,
        limit_nanos,
        used_bp: bp(w.cost_nanos),
        projected_bp: bp(projected_nanos),
    })
}

/// A plan window's use as Codex logs it (`rate_limits.primary` and `.secondary`).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Reported {
    pub used_percent: f64,
    pub window_minutes: u32,
    pub resets_at: Option<Timestamp>,
    /// The time of the log line that said so.
    pub seen_at: Timestamp,
}

impl Reported {
    /// The share used, in hundredths of a percent.
    pub fn used_bp(&self) -> i64 {
        (self.used_percent * 100.0).round() as i64
    }
}

/// Keeps the newest figure for each window length: a file read later may
/// hold an older one.
pub fn merge_reported(into: &mut Vec<Reported>, seen: &[Reported]) {
    for r in seen {
        match into
            .iter_mut()
            .find(|k| k.window_minutes == r.window_minutes)
        {
            Some(k) if k.seen_at >= r.seen_at => {}
            Some(k) => *k = r.clone(),
            None => into.push(r.clone()),
        }
    }
    into.sort_by_key(|r| r.window_minutes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn use_(t: &str, dollars: i64) -> Use {
        Use {
            at: at(t),
            tokens: 1_000,
            cost: dollars * 1_000_000_000,
            unpriced: false,
        }
    }

    #[test]
    fn plans_read_back_as_written() {
        for p in Plan::NAMED {
            assert_eq!(Plan::parse(&p.id()), Ok(p));
        }
        let custom = Plan::parse("custom:$42.50").unwrap();
        assert_eq!(
            custom.window_limit(),
            Some(Money::from_nanos(42_500_000_000))
        );
        assert_eq!(custom.id(), "custom:42.5");
        assert_eq!(Plan::parse(&custom.id()), Ok(custom));
        assert!(matches!(Plan::parse("custom:0"), Err(PlanError::Limit(_))));
        assert!(matches!(
            Plan::parse("claude-ultra"),
            Err(PlanError::Unknown(_))
        ));
        assert_eq!(
            Plan::ClaudeMax5.window_limit(),
            Some(Money::from_nanos(35_000_000_000))
        );
        assert_eq!(Plan::ChatgptPro.window_limit(), None);
    }

    #[test]
    fn a_window_starts_at_the_hour_of_the_first_call_after_the_last_ended() {
        let uses = [
            use_("2026-03-07T22:40:00Z", 1), // opens 22:00–03:00, across midnight
            use_("2026-03-08T01:10:00Z", 2),
            use_("2026-03-08T02:59:59Z", 3),
            use_("2026-03-08T03:00:00Z", 4), // the window ended at 03:00: a new one, 03:00–08:00
            use_("2026-03-08T14:30:00Z", 5), // after a gap of more than five hours: 14:00–19:00
        ];
        let w = windows(&uses);
        assert_eq!(w.len(), 3);
        assert_eq!(
            (w[0].start, w[0].end),
            (at("2026-03-07T22:00:00Z"), at("2026-03-08T03:00:00Z"))
        );
        assert_eq!((w[0].calls, w[0].cost_nanos), (3, 6_000_000_000));
        assert_eq!(
            (w[1].start, w[1].end, w[1].calls),
            (at("2026-03-08T03:00:00Z"), at("2026-03-08T08:00:00Z"), 1)
        );
        assert_eq!(w[2].start, at("2026-03-08T14:00:00Z"));
        // New York moved its clocks at 02:00 local on 2026-03-08 (07:00 UTC):
        // the window is five real hours whatever the clock on the wall says.
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let local = |t: Timestamp| t.to_zoned(ny.clone()).strftime("%H:%M %Z").to_string();
        assert_eq!(
            (local(w[1].start), local(w[1].end)),
            ("22:00 EST".to_string(), "04:00 EDT".to_string())
        );
    }

    #[test]
    fn the_current_window_projects_its_burn_rate_to_its_end() {
        let uses = [
            use_("2026-03-08T14:30:00Z", 6),
            use_("2026-03-08T15:30:00Z", 6),
        ];
        let w = windows(&uses);
        // At 16:30: $12 over the 2.5 hours since the window opened at 14:00,
        // $4.80 an hour; 2.5 hours left to 19:00 add $12: $24 projected
        // against a $35 limit.
        let s = current(
            &w,
            at("2026-03-08T16:30:00Z"),
            Plan::ClaudeMax5.window_limit(),
        )
        .unwrap();
        assert_eq!(s.burn_per_hour, 4_800_000_000);
        assert_eq!(s.projected_nanos, 24_000_000_000);
        assert_eq!(s.used_bp, Some(3_428));
        assert_eq!(s.projected_bp, Some(6_857));
        // Five minutes into a window, a $6 call burns at $12 an hour (taken
        // over half an hour), not $72.
        let early = windows(&[use_("2026-03-08T20:01:00Z", 6)]);
        let s = current(&early, at("2026-03-08T20:05:00Z"), None).unwrap();
        assert_eq!(s.burn_per_hour, 12_000_000_000);
        assert!(
            current(&w, at("2026-03-08T19:00:00Z"), None).is_none(),
            "the window has ended"
        );
    }

    #[test]
    fn the_newest_reported_figure_stands() {
        let r = |pct: f64, minutes: u32, seen: &str| Reported {
            used_percent: pct,
            window_minutes: minutes,
            resets_at: None,
            seen_at: at(seen),
        };
        let mut known = vec![];
        merge_reported(
            &mut known,
            &[
                r(40.0, 300, "2026-03-08T12:00:00Z"),
                r(10.0, 10080, "2026-03-08T12:00:00Z"),
            ],
        );
        merge_reported(&mut known, &[r(20.0, 300, "2026-03-08T11:00:00Z")]);
        assert_eq!(
            known[0].used_percent, 40.0,
            "an older file read later does not overwrite"
        );
        merge_reported(&mut known, &[r(55.0, 300, "2026-03-08T13:00:00Z")]);
        assert_eq!(
            known.iter().map(|k| k.used_percent).collect::<Vec<_>>(),
            [55.0, 10.0]
        );
    }
}

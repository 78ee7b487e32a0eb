//! Budget policies: what they count (scope × metric), over which period, up to
//! which limit, and what happens at the limit. Also the state a policy is in for
//! a given amount used.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::Money;
use super::period::{Period, Window};
use super::usage::Totals;

/// Which records a policy counts: all of them, or those whose dimension matches
/// a pattern (`*` and `?` wildcards, case-sensitive, whole value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    Match { dim: ScopeDim, pattern: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeDim {
    User,
    Provider,
    Model,
    Project,
    Agent,
    Machine,
}

impl ScopeDim {
    pub const ALL: [ScopeDim; 6] = [
        ScopeDim::User,
        ScopeDim::Provider,
        ScopeDim::Model,
        ScopeDim::Project,
        ScopeDim::Agent,
        ScopeDim::Machine,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScopeDim::User => "user",
            ScopeDim::Provider => "provider",
            ScopeDim::Model => "model",
            ScopeDim::Project => "project",
            ScopeDim::Agent => "agent",
            ScopeDim::Machine => "machine",
        }
    }
}

/// The dimensions of a call or a group of calls, as policies see them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dims<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub user: &'a str,
    pub project: &'a str,
    pub agent: &'a str,
    pub machine: &'a str,
}

impl Dims<'_> {
    fn get(&self, dim: ScopeDim) -> &str {
        match dim {
            ScopeDim::User => self.user,
            ScopeDim::Provider => self.provider,
            ScopeDim::Model => self.model,
            ScopeDim::Project => self.project,
            ScopeDim::Agent => self.agent,
            ScopeDim::Machine => self.machine,
        }
    }
}

impl Scope {
    pub fn matches(&self, dims: &Dims) -> bool {
        match self {
            Scope::Global => true,
            Scope::Match { dim, pattern } => glob(pattern.as_bytes(), dims.get(*dim).as_bytes()),
        }
    }
}

/// `*` matches any run of characters, `?` one character; everything else itself.
/// Iterative with one backtrack point, so it is linear for the patterns people write.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            // `?` steps over one byte; a multi-byte character is matched by `*`.
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "unknown scope “{0}”: use global, or user|provider|model|project|agent|machine:PATTERN"
    )]
    Scope(String),
    #[error("the scope pattern is empty; use * to match every value")]
    EmptyPattern,
    #[error("unknown metric “{0}”: use cost, tokens, requests or images")]
    Metric(String),
    #[error("unknown action “{0}”: use warn, block, throttle or notify")]
    Action(String),
    #[error("the limit must be more than zero")]
    ZeroLimit,
    #[error("“{0}” is not a limit: give dollars for cost (e.g. 100 or 12.50) or a whole number")]
    Limit(String),
    #[error("the soft limit must be between 1 and 100 percent, not {0}")]
    SoftPercent(u32),
    #[error("the name is empty")]
    EmptyName,
    #[error("“{0}” is not a time zone")]
    Zone(String),
}

impl FromStr for Scope {
    type Err = PolicyError;

    /// `global`, or `DIM:PATTERN` such as `model:claude-opus-*` or `project:website`.
    fn from_str(text: &str) -> Result<Scope, PolicyError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("global") {
            return Ok(Scope::Global);
        }
        let (dim, pattern) = t
            .split_once(':')
            .ok_or_else(|| PolicyError::Scope(text.into()))?;
        let dim = ScopeDim::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(dim.trim()))
            .ok_or_else(|| PolicyError::Scope(text.into()))?;
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err(PolicyError::EmptyPattern);
        }
        Ok(Scope::Match {
            dim,
            pattern: pattern.to_string(),
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Global => write!(f, "global"),
            Scope::Match { dim, pattern } => write!(f, "{}:{pattern}", dim.name()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Cost,
    Tokens,
    Requests,
    Images,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::Cost,
        Metric::Tokens,
        Metric::Requests,
        Metric::Images,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Cost => "cost",
            Metric::Tokens => "tokens",
            Metric::Requests => "requests",
            Metric::Images => "images",
        }
    }

    /// What a group of records adds up to: nano-dollars for cost, else a count.
    pub fn of(self, t: &Totals) -> i64 {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        match self {
            Metric::Cost => t.cost.nanos(),
            Metric::Tokens => n(t.tokens.total() + t.embedding_tokens),
            Metric::Requests => n(t.requests),
            Metric::Images => n(t.images),
        }
    }

    /// A limit as given by a person: dollars for cost, a whole number otherwise.
    pub fn parse_amount(self, text: &str) -> Result<i64, PolicyError> {
        let t = text.trim();
        let bad = || PolicyError::Limit(text.to_string());
        let value = match self {
            Metric::Cost => Money::parse_usd(t.trim_start_matches('$'))
                .map_err(|_| bad())?
                .nanos(),
            _ => t
                .replace(['_', ','], "")
                .parse::<i64>()
                .map_err(|_| bad())?,
        };
        if value <= 0 {
            return Err(PolicyError::ZeroLimit);
        }
        Ok(value)
    }

    /// An amount for people: `$1,234.56` or `2,500`.
    pub fn display(self, amount: i64) -> String {
        self.display_in(&super::money::AmountStyle::USD, amount)
    }

    /// [`Metric::display`] in the currency and separators the window shows.
    pub fn display_in(self, style: &super::money::AmountStyle, amount: i64) -> String {
        match self {
            Metric::Cost => style.format(Money::from_nanos(amount)),
            _ if amount < 0 => format!("-{}", style.count(amount.unsigned_abs())),
            _ => style.count(amount as u64),
        }
    }

    /// An amount for machines: a decimal dollar string or a whole number.
    pub fn plain(self, amount: i64) -> String {
        match self {
            Metric::Cost => Money::from_nanos(amount).to_decimal_string(),
            _ => amount.to_string(),
        }
    }
}

impl FromStr for Metric {
    type Err = PolicyError;
    fn from_str(text: &str) -> Result<Metric, PolicyError> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| PolicyError::Metric(text.into()))
    }
}

/// What a policy does when a call would take it past its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Alerts only; `tally check` says nothing more than other alerts would.
    Notify,
    /// `tally check` warns but lets the call go.
    Warn,
    /// `tally check` asks the caller to wait, spreading what is left.
    Throttle,
    /// `tally check` refuses the call.
    Block,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Warn,
        Action::Block,
        Action::Throttle,
        Action::Notify,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Notify => "notify",
            Action::Warn => "warn",
            Action::Throttle => "throttle",
            Action::Block => "block",
        }
    }
}

impl FromStr for Action {
    type Err = PolicyError;
    fn from_str(text: &str) -> Result<Action, PolicyError> {
        Action::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| PolicyError::Action(text.into()))
    }
}

/// A time-limited exemption: while it lasts, block and throttle become warnings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Override {
    pub by: String,
    pub reason: String,
    pub until: Timestamp,
}

pub const DEFAULT_SOFT_PERCENT: u8 = 80;

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// 0 until the store has saved it.
    pub id: i64,
    pub name: String,
    pub scope: Scope,
    pub metric: Metric,
    pub period: Period,
    /// IANA name of the zone whose days, weeks and months the period follows.
    pub zone: String,
    /// Nano-dollars for cost, a count otherwise.
    pub limit: i64,
    pub soft_percent: u8,
    pub action: Action,
    pub enabled: bool,
    pub created_at: Timestamp,
    /// The last manual reset: usage before it no longer counts in this window.
    pub reset_at: Option<Timestamp>,
    pub override_: Option<Override>,
    /// The team's key for a team-wide policy: kept on the team's server,
    /// the same on every machine, evaluated on the merged ledger.
    pub team: Option<String>,
}

impl Policy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.name.trim().is_empty() {
            return Err(PolicyError::EmptyName);
        }
        if self.limit <= 0 {
            return Err(PolicyError::ZeroLimit);
        }
        if !(1..=100).contains(&self.soft_percent) {
            return Err(PolicyError::SoftPercent(self.soft_percent.into()));
        }
        if let Scope::Match { pattern, .. } = &self.scope
            && pattern.is_empty()
        {
            return Err(PolicyError::EmptyPattern);
        }
        self.time_zone()?;
        Ok(())
    }

    pub fn time_zone(&self) -> Result<TimeZone, PolicyError> {
        TimeZone::get(&self.zone).map_err(|_| PolicyError::Zone(self.zone.clone()))
    }

    /// The window counted at `now`: the period's window, started later by a
    /// manual reset that falls inside it.
    pub fn window(&self, now: Timestamp) -> Result<Window, super::period::PeriodError> {
        let zone = TimeZone::get(&self.zone).unwrap_or(TimeZone::UTC);
        let anchor = self.reset_at.unwrap_or(self.created_at);
        let mut w = self.period.window(now, &zone, anchor)?;
        if let Some(reset) = self.reset_at
            && reset > w.start
            && w.end.is_none_or(|e| reset < e)
        {
            w.start = reset;
        }
        Ok(w)
    }

    pub fn soft_limit(&self) -> i64 {
        ((i128::from(self.limit) * i128::from(self.soft_percent)) / 100) as i64
    }

    pub fn override_active(&self, now: Timestamp) -> Option<&Override> {
        self.override_.as_ref().filter(|o| o.until > now)
    }
}

/// Where a policy stands for an amount used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    /// At or past the soft limit.
    Warning,
    /// At or past 95 % of the limit.
    Critical,
    /// At or past the limit.
    Exceeded,
}

pub const CRITICAL_PERCENT: u32 = 95;

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Warning => "warning",
            State::Critical => "critical",
            State::Exceeded => "exceeded",
        }
    }
}

/// `used` as a share of `limit` in hundredths of a percent, so 79.99 % is not 80 %.
pub fn basis_points(used: i64, limit: i64) -> i64 {
    if limit <= 0 {
        return 0;
    }
    ((i128::from(used) * 10_000) / i128::from(limit)) as i64
}

impl Policy {
    pub fn state(&self, used: i64) -> State {
        let bp = basis_points(used, self.limit);
        if used >= self.limit {
            State::Exceeded
        } else if bp >= i64::from(CRITICAL_PERCENT) * 100 {
            State::Critical
        } else if used >= self.soft_limit() {
            State::Warning
        } else {
            State::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn policy(scope: &str, metric: Metric, limit: i64) -> Policy {
        Policy {
            id: 1,
            name: "test".into(),
            scope: scope.parse().unwrap(),
            metric,
            period: Period::Monthly { reset_day: 1 },
            zone: "UTC".into(),
            limit,
            soft_percent: DEFAULT_SOFT_PERCENT,
            action: Action::Warn,
            enabled: true,
            created_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            reset_at: None,
            override_: None,
            team: None,
        }
    }

    #[test]
    fn glob_matches_whole_values() {
        let g = |p: &str, t: &str| glob(p.as_bytes(), t.as_bytes());
        assert!(g("claude-opus-*", "claude-opus-4-1"));
        assert!(!g("claude-opus-*", "claude-sonnet-4"));
        assert!(g("*", ""));
        assert!(g("gpt-?o", "gpt-4o"));
        assert!(!g("gpt-?o", "gpt-4o-mini"));
        assert!(g("*mini*", "gpt-4o-mini-2024"));
        assert!(g("a*b*c", "aXXbYYbZc"));
        assert!(!g("a*b*c", "aXXbYYbZ"));
        assert!(!g("website", "Website"));
        assert!(g("", "") && !g("", "x"));
    }

    #[test]
    fn scopes_parse_and_match_one_dimension() {
        let s: Scope = "model:claude-opus-*".parse().unwrap();
        let dims = Dims {
            model: "claude-opus-4-5",
            project: "website",
            ..Dims::default()
        };
        assert!(s.matches(&dims));
        assert!("project:website".parse::<Scope>().unwrap().matches(&dims));
        assert!(!"project:web".parse::<Scope>().unwrap().matches(&dims));
        assert!("GLOBAL".parse::<Scope>().unwrap().matches(&dims));
        assert_eq!(s.to_string(), "model:claude-opus-*");
        assert_eq!(
            "team:x".parse::<Scope>(),
            Err(PolicyError::Scope("team:x".into()))
        );
        assert_eq!("model: ".parse::<Scope>(), Err(PolicyError::EmptyPattern));
    }

    #[test]
    fn limits_parse_per_metric() {
        assert_eq!(Metric::Cost.parse_amount("$100").unwrap(), 100_000_000_000);
        assert_eq!(Metric::Cost.parse_amount("12.5").unwrap(), 12_500_000_000);
        assert_eq!(Metric::Images.parse_amount("2,500").unwrap(), 2500);
        assert_eq!(
            Metric::Images.parse_amount("0"),
            Err(PolicyError::ZeroLimit)
        );
        assert_eq!(Metric::Cost.parse_amount("-3"), Err(PolicyError::ZeroLimit));
        assert!(matches!(
            Metric::Tokens.parse_amount("1.5"),
            Err(PolicyError::Limit(_))
        ));
        assert_eq!(Metric::Cost.display(100_000_000_000), "$100.00");
        assert_eq!(Metric::Images.display(2500), "2,500");
    }

    #[test]
    fn states_follow_soft_critical_and_hard_limits() {
        let p = policy("global", Metric::Requests, 1000);
        assert_eq!(p.state(799), State::Ok);
        assert_eq!(p.state(800), State::Warning);
        assert_eq!(p.state(949), State::Warning);
        assert_eq!(p.state(950), State::Critical);
        assert_eq!(p.state(1000), State::Exceeded);
        assert_eq!(basis_points(7999, 10_000), 7999);
    }

    #[test]
    fn validation_names_the_problem() {
        let mut p = policy("global", Metric::Cost, 1);
        assert_eq!(p.validate(), Ok(()));
        p.soft_percent = 0;
        assert_eq!(p.validate(), Err(PolicyError::SoftPercent(0)));
        p.soft_percent = 80;
        p.zone = "Mars/Olympus".into();
        assert_eq!(p.validate(), Err(PolicyError::Zone("Mars/Olympus".into())));
        p.zone = "UTC".into();
        p.limit = 0;
        assert_eq!(p.validate(), Err(PolicyError::ZeroLimit));
        p.limit = 5;
        p.name = " ".into();
        assert_eq!(p.validate(), Err(PolicyError::EmptyName));
    }

    #[test]
    fn a_manual_reset_starts_the_window_later() {
        let mut p = policy("global", Metric::Cost, 1);
        let now: Timestamp = "2026-03-20T00:00:00Z".parse().unwrap();
        assert_eq!(
            p.window(now).unwrap().start.to_string(),
            "2026-03-01T00:00:00Z"
        );
        p.reset_at = Some("2026-03-10T08:00:00Z".parse().unwrap());
        assert_eq!(
            p.window(now).unwrap().start.to_string(),
            "2026-03-10T08:00:00Z"
        );
        // A reset from an earlier month does not reach into this one.
        p.reset_at = Some("2026-02-10T08:00:00Z".parse().unwrap());
        assert_eq!(
            p.window(now).unwrap().start.to_string(),
            "2026-03-01T00:00:00Z"
        );
    }
}

//! The policy editor's fields and how they become a `Policy`, with every
//! mistake explained in the user's language. No widgets here, so it is tested
//! without a display.

use jiff::Timestamp;

use crate::core::period::{Period, PeriodError};
use crate::core::policy::{Action, Metric, Policy, PolicyError, ScopeDim};
use crate::i18n::{fill, gettext};

/// Scope kinds in the order the editor lists them; index 0 is "everything".
pub const SCOPE_KINDS: [Option<ScopeDim>; 7] = [
    None,
    Some(ScopeDim::Model),
    Some(ScopeDim::Provider),
    Some(ScopeDim::Project),
    Some(ScopeDim::User),
    Some(ScopeDim::Agent),
    Some(ScopeDim::Machine),
];

pub fn scope_names() -> Vec<String> {
    vec![
        gettext("Everything"),
        gettext("Model"),
        gettext("Provider"),
        gettext("Project"),
        gettext("User"),
        gettext("Agent"),
        gettext("Machine"),
    ]
}

pub const METRICS: [Metric; 4] = [
    Metric::Cost,
    Metric::Tokens,
    Metric::Requests,
    Metric::Images,
];

pub fn metric_names() -> Vec<String> {
    vec![
        gettext("Cost"),
        gettext("Tokens"),
        gettext("Requests"),
        gettext("Images"),
    ]
}

/// Period kinds; the detail field gives the reset day, start day or hours.
pub const PERIOD_KINDS: [&str; 6] = ["daily", "weekly", "monthly", "rolling", "manual", "custom"];

pub fn period_names() -> Vec<String> {
    vec![
        gettext("Daily"),
        gettext("Weekly"),
        gettext("Monthly"),
        gettext("Rolling hours"),
        gettext("Until reset by hand"),
        gettext("A fixed range"),
    ]
}

pub const ACTIONS: [Action; 4] = [
    Action::Warn,
    Action::Throttle,
    Action::Block,
    Action::Notify,
];

pub fn action_names() -> Vec<String> {
    vec![
        gettext("Warn"),
        gettext("Throttle"),
        gettext("Block"),
        gettext("Notify only"),
    ]
}

/// What the editor's widgets hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Form {
    pub name: String,
    pub scope_kind: usize,
    pub pattern: String,
    pub metric: usize,
    pub limit: String,
    pub period_kind: usize,
    /// Monthly: reset day (1–31); weekly: a day name; rolling: hours; a fixed
    /// range: START/END as RFC 3339 instants.
    pub period_detail: String,
    pub soft_percent: u32,
    pub action: usize,
    pub zone: String,
}

/// A period detail that fits `kind` when the one typed does not, for when the
/// period kind changes: the preferred week start, the 1st, a day of hours.
pub fn detail_for(kind: &str, current: &str, week_start: jiff::civil::Weekday) -> Option<String> {
    let number = current.trim().parse::<u32>().ok();
    match kind {
        "weekly" if crate::core::period::parse_weekday(current).is_err() => {
            Some(crate::core::period::weekday_name(week_start).to_string())
        }
        "monthly" if !number.is_some_and(|d| (1..=31).contains(&d)) => Some("1".into()),
        "rolling" if number.is_none_or(|h| h == 0) => Some("24".into()),
        _ => None,
    }
}

impl Form {
    pub fn from_policy(p: &Policy) -> Form {
        let (period_kind, period_detail) = match p.period {
            Period::Daily => (0, String::new()),
            Period::Custom { start, end } => (5, format!("{start}/{end}")),
            Period::Weekly { start } => (1, crate::core::period::weekday_name(start).to_string()),
            Period::Monthly { reset_day } => (2, reset_day.to_string()),
            Period::Rolling { hours } => (3, hours.to_string()),
            Period::Manual => (4, String::new()),
        };
        let (scope_kind, pattern) = match &p.scope {
            crate::core::policy::Scope::Global => (0, String::new()),
            crate::core::policy::Scope::Match { dim, pattern } => (
                SCOPE_KINDS
                    .iter()
                    .position(|k| *k == Some(*dim))
                    .unwrap_or(0),
                pattern.clone(),
            ),
        };
        Form {
            name: p.name.clone(),
            scope_kind,
            pattern,
            metric: METRICS.iter().position(|m| *m == p.metric).unwrap_or(0),
            limit: match p.metric {
                Metric::Cost => crate::core::Money::from_nanos(p.limit)
                    .to_decimal_string()
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string(),
                _ => p.limit.to_string(),
            },
            period_kind,
            period_detail,
            soft_percent: p.soft_percent.into(),
            action: ACTIONS.iter().position(|a| *a == p.action).unwrap_or(0),
            zone: p.zone.clone(),
        }
    }

    /// The policy these fields describe, built on `base` (id, creation, overrides
    /// kept), or the first thing wrong with them.
    pub fn to_policy(&self, base: Option<&Policy>, now: Timestamp) -> Result<Policy, String> {
        let metric = METRICS[self.metric.min(METRICS.len() - 1)];
        if self.name.trim().is_empty() {
            return Err(gettext("Give the policy a name."));
        }
        let scope = match SCOPE_KINDS.get(self.scope_kind).copied().flatten() {
            None => "global".to_string(),
            Some(dim) => format!("{}:{}", dim.name(), self.pattern.trim()),
        };
        let scope = scope.parse().map_err(|e| explain_policy(&e))?;
        if self.limit.trim().is_empty() {
            return Err(gettext("Enter a limit."));
        }
        let limit = metric
            .parse_amount(&self.limit)
            .map_err(|e| explain_policy(&e))?;
        let kind = PERIOD_KINDS[self.period_kind.min(PERIOD_KINDS.len() - 1)];
        let detail = self.period_detail.trim();
        let period_text = match (kind, detail.is_empty()) {
            ("rolling", true) => {
                return Err(gettext("Enter how many hours the rolling window spans."));
            }
            ("rolling", false) => format!("rolling:{detail}h"),
            ("custom", true) => {
                return Err(gettext(
                    "Enter the range as START/END, e.g. 2026-01-01T00:00:00Z/2026-04-01T00:00:00Z.",
                ));
            }
            ("daily" | "manual", _) | (_, true) => kind.to_string(),
            (_, false) => format!("{kind}:{detail}"),
        };
        let period: Period = period_text.parse().map_err(|e| explain_period(&e))?;
        let p = Policy {
            id: base.map_or(0, |b| b.id),
            name: self.name.trim().to_string(),
            scope,
            metric,
            period,
            zone: self.zone.trim().to_string(),
            limit,
            soft_percent: u8::try_from(self.soft_percent).unwrap_or(0),
            action: ACTIONS[self.action.min(ACTIONS.len() - 1)],
            enabled: base.is_none_or(|b| b.enabled),
            created_at: base.map_or(now, |b| b.created_at),
            reset_at: base.and_then(|b| b.reset_at),
            override_: base.and_then(|b| b.override_.clone()),
            team: base.and_then(|b| b.team.clone()),
        };
        p.validate().map_err(|e| explain_policy(&e))?;
        Ok(p)
    }
}

pub fn explain_policy(e: &PolicyError) -> String {
    match e {
        PolicyError::Scope(_) | PolicyError::EmptyPattern => {
            gettext("Enter which names the scope matches; * matches any run of characters.")
        }
        PolicyError::Metric(m) => fill(&gettext("Unknown metric “{}”."), &[m]),
        PolicyError::Action(a) => fill(&gettext("Unknown action “{}”."), &[a]),
        PolicyError::ZeroLimit => gettext("The limit must be more than zero."),
        PolicyError::Limit(l) => fill(
            &gettext(
                "“{}” is not a limit: enter dollars for cost (e.g. 100 or 12.50), a whole number otherwise.",
            ),
            &[l],
        ),
        PolicyError::SoftPercent(_) => gettext("The soft limit must be between 1 and 100 percent."),
        PolicyError::EmptyName => gettext("Give the policy a name."),
        PolicyError::Zone(z) => fill(
            &gettext("“{}” is not a time zone (e.g. Europe/Berlin)."),
            &[z],
        ),
    }
}

pub fn explain_period(e: &PeriodError) -> String {
    match e {
        PeriodError::ResetDay(d) => fill(
            &gettext("The reset day must be between 1 and 31, not “{}”."),
            &[d],
        ),
        PeriodError::Weekday(d) => fill(&gettext("“{}” is not a day of the week."), &[d]),
        PeriodError::RollingHours(h) => fill(
            &gettext("A rolling window is 1 to 8784 hours long, not “{}”."),
            &[h],
        ),
        PeriodError::CustomRange(_) => {
            gettext("Enter the range as START/END, e.g. 2026-01-01T00:00:00Z/2026-04-01T00:00:00Z.")
        }
        PeriodError::CustomEmpty => gettext("The range must end after it starts."),
        PeriodError::Unknown(_) | PeriodError::Time(_) => gettext("This period is not valid."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> Form {
        Form {
            name: "website".into(),
            scope_kind: 3,
            pattern: "website".into(),
            metric: 0,
            limit: "20".into(),
            period_kind: 1,
            period_detail: "sunday".into(),
            soft_percent: 80,
            action: 0,
            zone: "Europe/Berlin".into(),
        }
    }

    #[test]
    fn a_changed_period_kind_gets_a_detail_that_fits_it() {
        use jiff::civil::Weekday::Sunday;
        assert_eq!(detail_for("weekly", "1", Sunday).as_deref(), Some("sunday"));
        assert_eq!(detail_for("weekly", "tue", Sunday), None);
        assert_eq!(
            detail_for("monthly", "sunday", Sunday).as_deref(),
            Some("1")
        );
        assert_eq!(detail_for("monthly", "15", Sunday), None);
        assert_eq!(
            detail_for("rolling", "sunday", Sunday).as_deref(),
            Some("24")
        );
        assert_eq!(detail_for("rolling", "48", Sunday), None);
        assert_eq!(detail_for("daily", "x", Sunday), None);
    }

    #[test]
    fn a_filled_form_becomes_a_policy_and_back() {
        let now = "2026-11-22T10:00:00Z".parse().unwrap();
        let p = form().to_policy(None, now).unwrap();
        assert_eq!(p.scope.to_string(), "project:website");
        assert_eq!(p.period.to_string(), "weekly:sunday");
        assert_eq!(p.limit, 20_000_000_000);
        assert_eq!(Form::from_policy(&p), form());
    }

    #[test]
    fn mistakes_are_explained() {
        let now = "2026-11-22T10:00:00Z".parse().unwrap();
        let with = |f: &dyn Fn(&mut Form)| {
            let mut x = form();
            f(&mut x);
            x.to_policy(None, now).unwrap_err()
        };
        assert!(with(&|f| f.limit = "abc".into()).contains("is not a limit"));
        assert!(with(&|f| f.limit = "0".into()).contains("more than zero"));
        assert!(with(&|f| f.limit = String::new()).contains("Enter a limit"));
        assert!(with(&|f| f.name = " ".into()).contains("name"));
        assert!(with(&|f| f.pattern = String::new()).contains("scope"));
        assert!(with(&|f| f.zone = "Nowhere/City".into()).contains("time zone"));
        assert!(
            with(&|f| {
                f.period_kind = 2;
                f.period_detail = "40".into();
            })
            .contains("between 1 and 31")
        );
        assert!(with(&|f| f.period_kind = 3).contains("hours"));
        assert!(
            with(&|f| {
                f.period_kind = 5;
                f.period_detail = "2026-02-01T00:00:00Z/2026-01-01T00:00:00Z".into();
            })
            .contains("end after")
        );
    }

    #[test]
    fn a_fixed_range_survives_the_editor() {
        let now = "2026-11-22T10:00:00Z".parse().unwrap();
        let mut f = form();
        f.period_kind = 5;
        f.period_detail = "2026-01-01T00:00:00Z/2026-04-01T00:00:00Z".into();
        let p = f.to_policy(None, now).unwrap();
        assert_eq!(
            p.period.to_string(),
            "custom:2026-01-01T00:00:00Z/2026-04-01T00:00:00Z"
        );
        assert_eq!(Form::from_policy(&p), f);
    }
}

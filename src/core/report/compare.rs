//! One range against another: the change of each value of a dimension,
//! absolute and relative, and which values are new or gone.

use serde::Serialize;

use super::Days;
use crate::core::Money;
use crate::core::breakdown::ratio_bp;
use crate::core::usage::Totals;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Both,
    /// Only in the later range.
    New,
    /// Only in the earlier range.
    Gone,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub key: String,
    pub before: Totals,
    pub after: Totals,
    pub presence: Presence,
}

impl Change {
    /// Cost after less cost before.
    pub fn delta(&self) -> Money {
        self.after.cost - self.before.cost
    }

    /// The change relative to before, in basis points; `None` from nothing.
    pub fn delta_bp(&self) -> Option<i64> {
        let before = self.before.cost.nanos();
        (before != 0).then(|| ratio_bp(self.delta().nanos(), before))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub before_days: Days,
    pub after_days: Days,
    pub total: Change,
    /// Biggest absolute change first, then by key.
    pub rows: Vec<Change>,
}

/// Compares the rows of two ranges grouped by the same dimension.
pub fn compare(
    before_days: Days,
    after_days: Days,
    before: Vec<(String, Totals)>,
    after: Vec<(String, Totals)>,
) -> Comparison {
    let mut by_key: std::collections::BTreeMap<String, (Totals, Totals, bool, bool)> =
        Default::default();
    for (k, t) in before {
        let e = by_key.entry(k).or_default();
        e.0.add(&t);
        e.2 = true;
    }
    for (k, t) in after {
        let e = by_key.entry(k).or_default();
        e.1.add(&t);
        e.3 = true;
    }
    let (mut all_before, mut all_after) = (Totals::default(), Totals::default());
    let mut rows: Vec<Change> = by_key
        .into_iter()
        .map(|(key, (before, after, was, is))| {
            all_before.add(&before);
            all_after.add(&after);
            let presence = match (was, is) {
                (true, false) => Presence::Gone,
                (false, true) => Presence::New,
                _ => Presence::Both,
            };
            Change {
                key,
                before,
                after,
                presence,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.delta()
            .nanos()
            .unsigned_abs()
            .cmp(&a.delta().nanos().unsigned_abs())
            .then_with(|| a.key.cmp(&b.key))
    });
    Comparison {
        before_days,
        after_days,
        total: Change {
            key: String::new(),
            before: all_before,
            after: all_after,
            presence: Presence::Both,
        },
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn d(n: i64) -> Totals {
        Totals {
            cost: Money::from_nanos(n * 1_000_000_000),
            records: 1,
            ..Totals::default()
        }
    }

    #[test]
    fn changes_new_and_gone_by_hand() {
        let after_days = Days::new(date(2026, 3, 1), date(2026, 3, 31));
        let before = vec![
            ("opus".to_string(), d(10)),
            ("sonnet".to_string(), d(4)),
            ("gpt-4o".to_string(), d(3)),
        ];
        let after = vec![
            ("opus".to_string(), d(6)),
            ("sonnet".to_string(), d(5)),
            ("haiku".to_string(), d(2)),
        ];
        let c = compare(after_days.previous(), after_days, before, after);
        let rows: Vec<(&str, i64, Option<i64>, Presence)> = c
            .rows
            .iter()
            .map(|r| {
                (
                    r.key.as_str(),
                    r.delta().nanos() / 1_000_000_000,
                    r.delta_bp(),
                    r.presence,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("opus", -4, Some(-4000), Presence::Both),
                ("gpt-4o", -3, Some(-10_000), Presence::Gone),
                ("haiku", 2, None, Presence::New),
                ("sonnet", 1, Some(2500), Presence::Both),
            ]
        );
        assert_eq!(c.total.delta().nanos(), -4_000_000_000);
        assert_eq!(c.total.delta_bp(), Some(-2353)); // -4 / 17
    }
}

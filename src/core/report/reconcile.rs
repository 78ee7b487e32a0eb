//! Tally's estimates against what providers billed, per day and model, for
//! the days a provider's cost export covers; days that differ by more than a
//! threshold are flagged.

use jiff::civil::Date;
use serde::Serialize;

use crate::core::Money;
use crate::core::breakdown::ratio_bp;
use crate::core::usage::Totals;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    /// A UTC day, as providers bill.
    pub day: Date,
    pub provider: String,
    pub model: String,
    pub estimated: Money,
    pub billed: Money,
    /// Calls Tally could not price that day: the estimate is short by them.
    pub unpriced: u64,
    pub flagged: bool,
}

impl Line {
    /// Billed less estimated.
    pub fn difference(&self) -> Money {
        self.billed - self.estimated
    }

    /// The difference relative to the billed amount, in basis points.
    pub fn difference_bp(&self) -> Option<i64> {
        let billed = self.billed.nanos();
        (billed != 0).then(|| ratio_bp(self.difference().nanos(), billed))
    }
}

/// When a line is flagged: a relative difference above `threshold_bp` and an
/// absolute one above `at_least`, or unpriced calls on a billed day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Threshold {
    pub threshold_bp: i64,
    pub at_least: Money,
}

impl Default for Threshold {
    /// 5 % and a cent.
    fn default() -> Self {
        Threshold {
            threshold_bp: 500,
            at_least: Money::from_nanos(10_000_000),
        }
    }
}

/// Lines for `rows` (UTC day, provider, model, totals), keeping the days on
/// which the provider billed anything; in day, provider, model order.
pub fn reconcile(rows: Vec<(Date, String, String, Totals)>, threshold: Threshold) -> Vec<Line> {
    let billed_days: std::collections::HashSet<(Date, String)> = rows
        .iter()
        .filter(|(_, _, _, t)| !t.billed.is_zero())
        .map(|(d, p, _, _)| (*d, p.clone()))
        .collect();
    let mut merged: std::collections::BTreeMap<(Date, String, String), Totals> = Default::default();
    for (day, provider, model, t) in rows {
        if billed_days.contains(&(day, provider.clone())) {
            merged.entry((day, provider, model)).or_default().add(&t);
        }
    }
    merged
        .into_iter()
        .map(|((day, provider, model), t)| {
            let mut line = Line {
                day,
                provider,
                model,
                estimated: t.cost,
                billed: t.billed,
                unpriced: t.unpriced,
                flagged: false,
            };
            let apart = line.difference().nanos().unsigned_abs();
            let base = line.billed.nanos().abs().max(line.estimated.nanos().abs());
            let relative = ratio_bp(apart as i64, base);
            line.flagged = line.unpriced > 0
                || (apart > threshold.at_least.nanos().unsigned_abs()
                    && relative > threshold.threshold_bp);
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn t(estimated: i64, billed: i64, unpriced: u64) -> Totals {
        Totals {
            cost: Money::from_nanos(estimated * 10_000_000),
            billed: Money::from_nanos(billed * 10_000_000),
            unpriced,
            ..Totals::default()
        }
    }

    #[test]
    fn flags_days_apart_by_more_than_the_threshold() {
        let (d1, d2) = (date(2026, 3, 1), date(2026, 3, 2));
        let row = |d, p: &str, m: &str, t| (d, p.to_string(), m.to_string(), t);
        let lines = reconcile(
            vec![
                row(d1, "anthropic", "opus", t(1000, 1040, 0)), // 3.8 %: fine
                row(d1, "anthropic", "haiku", t(100, 0, 0)),    // estimated, not billed
                row(d2, "anthropic", "opus", t(1000, 1100, 0)), // 9 %: flagged
                row(d2, "anthropic", "sonnet", t(0, 50, 4)),    // unpriced calls
                row(d2, "openai", "gpt-4o", t(500, 0, 0)),      // openai billed nothing: out
                row(d1, "anthropic", "tiny", t(1, 2, 0)),       // 50 %, but a cent
            ],
            Threshold::default(),
        );
        let got: Vec<(Date, &str, bool)> = lines
            .iter()
            .map(|l| (l.day, l.model.as_str(), l.flagged))
            .collect();
        assert_eq!(
            got,
            [
                (d1, "haiku", true),
                (d1, "opus", false),
                (d1, "tiny", false),
                (d2, "opus", true),
                (d2, "sonnet", true),
            ]
        );
        assert_eq!(lines[1].difference().nanos(), 400_000_000);
        assert_eq!(lines[1].difference_bp(), Some(385));
        assert_eq!(lines[0].difference_bp(), None);
    }
}

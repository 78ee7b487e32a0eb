//! A range at a glance: its totals, margin, and the biggest values of each
//! dimension.

use serde::Serialize;

use super::Days;
use crate::core::Money;
use crate::core::breakdown::{Share, ratio_bp, shares};
use crate::core::usage::{Dimension, Totals};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub days: Days,
    pub totals: Totals,
    /// Revenue less cost, when revenue was recorded.
    pub profit: Option<Money>,
    /// Profit over revenue, in basis points.
    pub margin_bp: Option<i64>,
    /// The biggest `n` values per dimension, then what the rest add up to.
    pub top: Vec<Top>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Top {
    pub dimension: Dimension,
    pub shares: Vec<Share>,
    /// The values past the first `n`, summed: how many and their totals.
    pub others: usize,
    pub others_totals: Totals,
}

/// The summary of `totals` over `days`, with each dimension's rows (any order)
/// cut to the biggest `n`.
pub fn summary(
    days: Days,
    totals: Totals,
    by_dimension: Vec<(Dimension, Vec<(String, Totals)>)>,
    n: usize,
) -> Summary {
    let profit = (!totals.revenue.is_zero()).then(|| totals.revenue - totals.cost);
    let top = by_dimension
        .into_iter()
        .map(|(dimension, rows)| {
            let mut all = shares(rows);
            let rest = all.split_off(n.min(all.len()));
            let mut others_totals = Totals::default();
            for s in &rest {
                others_totals.add(&s.totals);
            }
            Top {
                dimension,
                shares: all,
                others: rest.len(),
                others_totals,
            }
        })
        .collect();
    Summary {
        days,
        totals,
        profit,
        margin_bp: profit.map(|p| ratio_bp(p.nanos(), totals.revenue.nanos())),
        top,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn cost(dollars: i64, revenue: i64) -> Totals {
        Totals {
            cost: Money::from_nanos(dollars * 1_000_000_000),
            revenue: Money::from_nanos(revenue * 1_000_000_000),
            requests: 1,
            records: 1,
            ..Totals::default()
        }
    }

    #[test]
    fn keeps_the_biggest_and_sums_the_rest() {
        let rows = vec![
            ("a".to_string(), cost(1, 0)),
            ("b".to_string(), cost(5, 0)),
            ("c".to_string(), cost(3, 0)),
            ("d".to_string(), cost(1, 0)),
        ];
        let mut total = Totals::default();
        rows.iter().for_each(|(_, t)| total.add(t));
        let days = Days::new(date(2026, 3, 1), date(2026, 3, 31));
        let s = summary(days, total, vec![(Dimension::Model, rows)], 2);
        let top = &s.top[0];
        let keys: Vec<&str> = top.shares.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["b", "c"]);
        assert_eq!(top.shares[0].share_bp, 5000);
        assert_eq!(
            (top.others, top.others_totals.cost.nanos()),
            (2, 2_000_000_000)
        );
        assert_eq!(s.profit, None);
        assert_eq!(s.margin_bp, None);
    }

    #[test]
    fn margin_is_profit_over_revenue() {
        let days = Days::new(date(2026, 3, 1), date(2026, 3, 1));
        let s = summary(days, cost(3, 4), vec![], 5);
        assert_eq!(s.profit, Some(Money::from_nanos(1_000_000_000)));
        assert_eq!(s.margin_bp, Some(2500));
        let loss = summary(days, cost(5, 4), vec![], 5);
        assert_eq!(loss.margin_bp, Some(-2500));
    }
}

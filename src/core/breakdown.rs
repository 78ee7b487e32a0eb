//! Where the money went: each value of a dimension (a model, a project…) with
//! its share of the range's cost, requests, tokens, cost per request and, when
//! revenue was recorded, profit and margin; and the per-day series a chart
//! stacks, the biggest few apart and the rest together.

use jiff::civil::Date;

use super::Money;
use super::usage::Totals;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Share {
    pub key: String,
    pub totals: Totals,
    /// Of the range's cost, in basis points (10,000 is all of it).
    pub share_bp: i64,
}

impl Share {
    pub fn tokens(&self) -> u64 {
        self.totals.tokens.total() + self.totals.embedding_tokens
    }

    /// Cost per request, `None` without requests.
    pub fn cost_per_request(&self) -> Option<Money> {
        (self.totals.requests > 0).then(|| {
            Money::from_ratio(
                self.totals.cost.nanos() as i128,
                self.totals.requests as i128,
            )
        })
    }

    /// Revenue less cost, when revenue was recorded.
    pub fn profit(&self) -> Option<Money> {
        (!self.totals.revenue.is_zero())
            .then(|| Money::from_nanos(self.totals.revenue.nanos() - self.totals.cost.nanos()))
    }

    /// Profit over revenue, in basis points.
    pub fn margin_bp(&self) -> Option<i64> {
        let profit = self.profit()?;
        Some(ratio_bp(profit.nanos(), self.totals.revenue.nanos()))
    }
}

/// `part / whole` in basis points, rounded half away from zero.
pub(crate) fn ratio_bp(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        return 0;
    }
    let (p, w) = (part as i128 * 10_000, whole as i128);
    let q = (p.abs() * 2 + w.abs()) / (w.abs() * 2);
    (if (p < 0) != (w < 0) { -q } else { q }) as i64
}

/// The rows of one dimension as shares of their total cost, biggest first
/// (ties by name, so the order is stable).
pub fn shares(rows: Vec<(String, Totals)>) -> Vec<Share> {
    let total: i64 = rows.iter().map(|(_, t)| t.cost.nanos()).sum();
    let mut out: Vec<Share> = rows
        .into_iter()
        .map(|(key, totals)| Share {
            share_bp: ratio_bp(totals.cost.nanos(), total),
            key,
            totals,
        })
        .collect();
    sort(&mut out, SortBy::Cost, true);
    out
}

/// The columns a breakdown table sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Cost,
    Requests,
    Tokens,
    CostPerRequest,
}

pub fn sort(shares: &mut [Share], by: SortBy, descending: bool) {
    shares.sort_by(|a, b| {
        let order = match by {
            SortBy::Name => a.key.cmp(&b.key),
            SortBy::Cost => a.totals.cost.cmp(&b.totals.cost),
            SortBy::Requests => a.totals.requests.cmp(&b.totals.requests),
            SortBy::Tokens => a.tokens().cmp(&b.tokens()),
            SortBy::CostPerRequest => a.cost_per_request().cmp(&b.cost_per_request()),
        };
        let order = if descending { order.reverse() } else { order };
        order.then_with(|| a.key.cmp(&b.key))
    });
}

/// Calls that say whether their job succeeded (metadata `success`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Jobs {
    pub attempts: u64,
    pub succeeded: u64,
    /// What all the attempts cost, failed ones included.
    pub cost: Money,
    /// The attempts' `quality` scores, where they have a numeric one: their
    /// sum and how many (a mean of scores, not money: `f64` is right here).
    pub quality_sum: f64,
    pub quality_count: u64,
}

impl Jobs {
    /// Succeeded over attempted, in basis points.
    pub fn success_bp(&self) -> Option<i64> {
        (self.attempts > 0).then(|| ratio_bp(self.succeeded as i64, self.attempts as i64))
    }

    /// The mean quality score, on whatever scale the scores were given.
    pub fn mean_quality(&self) -> Option<f64> {
        (self.quality_count > 0).then(|| self.quality_sum / self.quality_count as f64)
    }

    /// What each success cost, paying for the failures too.
    pub fn cost_per_success(&self) -> Option<Money> {
        (self.succeeded > 0)
            .then(|| Money::from_ratio(self.cost.nanos() as i128, self.succeeded as i128))
    }
}

/// Per-day amounts of a few series over consecutive days.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DailyStacks {
    pub days: Vec<Date>,
    /// (label, one amount per day), biggest total first; `other` last.
    pub series: Vec<(String, Vec<Money>)>,
}

/// Stacks `rows` (day, key, cost) over `days` days from `first`: the `top` keys
/// with the most cost each get a series, the rest are summed under `other`.
/// Rows outside the days are ignored.
pub fn daily_stacks(
    rows: &[(Date, String, Money)],
    first: Date,
    days: usize,
    top: usize,
    other: &str,
) -> DailyStacks {
    let dates: Vec<Date> = (0..days as i64)
        .filter_map(|i| first.checked_add(jiff::Span::new().days(i)).ok())
        .collect();
    let slotted: Vec<(usize, &str, Money)> = rows
        .iter()
        .filter_map(|(d, key, cost)| Some((dates.binary_search(d).ok()?, key.as_str(), *cost)))
        .collect();
    DailyStacks {
        series: stacks(&slotted, dates.len(), top, other),
        days: dates,
    }
}

/// Stacks `rows` (slot, key, cost) over `slots` consecutive slots (days,
/// hours): the `top` keys with the most cost each get a series, the rest are
/// summed under `other`. Rows past the last slot are ignored.
pub fn stacks(
    rows: &[(usize, &str, Money)],
    slots: usize,
    top: usize,
    other: &str,
) -> Vec<(String, Vec<Money>)> {
    let rows: Vec<&(usize, &str, Money)> = rows.iter().filter(|r| r.0 < slots).collect();
    let mut totals: std::collections::HashMap<&str, Money> = std::collections::HashMap::new();
    for (_, key, cost) in &rows {
        *totals.entry(key).or_default() += *cost;
    }
    let mut keys: Vec<(&str, Money)> = totals.into_iter().collect();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let kept: Vec<&str> = keys.iter().take(top).map(|(k, _)| *k).collect();
    let folded = keys.len() > kept.len();
    let mut series: Vec<(String, Vec<Money>)> = kept
        .iter()
        .map(|k| (k.to_string(), vec![Money::ZERO; slots]))
        .collect();
    if folded {
        series.push((other.to_string(), vec![Money::ZERO; slots]));
    }
    for (i, key, cost) in rows {
        let s = kept
            .iter()
            .position(|k| k == key)
            .unwrap_or(series.len() - 1);
        series[s].1[*i] += *cost;
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn totals(cost_cents: i64, requests: u64, revenue_cents: i64) -> Totals {
        Totals {
            cost: Money::from_nanos(cost_cents * 10_000_000),
            requests,
            revenue: Money::from_nanos(revenue_cents * 10_000_000),
            ..Totals::default()
        }
    }

    #[test]
    fn shares_cost_per_request_and_margin_by_hand() {
        let s = shares(vec![
            ("haiku".into(), totals(100, 50, 0)),
            ("opus".into(), totals(300, 3, 600)),
        ]);
        assert_eq!(s[0].key, "opus");
        assert_eq!((s[0].share_bp, s[1].share_bp), (7_500, 2_500));
        assert_eq!(s[0].cost_per_request().unwrap().display(), "$1.00");
        assert_eq!(s[1].cost_per_request().unwrap().display(), "$0.02");
        assert_eq!(s[0].profit().unwrap().display(), "$3.00");
        assert_eq!(s[0].margin_bp(), Some(5_000));
        assert_eq!(s[1].profit(), None, "no revenue recorded");
        // A loss is a negative margin.
        let loss = shares(vec![("x".into(), totals(300, 1, 200))]);
        assert_eq!(loss[0].margin_bp(), Some(-5_000));
    }

    #[test]
    fn a_success_pays_for_the_failures() {
        let jobs = Jobs {
            attempts: 4,
            succeeded: 3,
            cost: Money::from_nanos(900_000_000),
            quality_sum: 2.5,
            quality_count: 3,
        };
        assert_eq!(jobs.success_bp(), Some(7_500));
        assert!((jobs.mean_quality().unwrap() - 2.5 / 3.0).abs() < 1e-12);
        assert_eq!(Jobs::default().mean_quality(), None);
        assert_eq!(jobs.cost_per_success().unwrap().display(), "$0.30");
        assert_eq!(Jobs::default().success_bp(), None);
        let failed = Jobs {
            succeeded: 0,
            ..jobs
        };
        assert_eq!(failed.cost_per_success(), None);
    }

    #[test]
    fn sorting_by_each_column_is_stable() {
        let mut s = shares(vec![
            ("b".into(), totals(100, 5, 0)),
            ("a".into(), totals(100, 10, 0)),
            ("c".into(), totals(50, 10, 0)),
        ]);
        assert_eq!(keys(&s), ["a", "b", "c"], "cost, then name");
        sort(&mut s, SortBy::Requests, false);
        assert_eq!(keys(&s), ["b", "a", "c"]);
        sort(&mut s, SortBy::CostPerRequest, true);
        assert_eq!(keys(&s), ["b", "a", "c"]);
        sort(&mut s, SortBy::Name, true);
        assert_eq!(keys(&s), ["c", "b", "a"]);
    }

    fn keys(s: &[Share]) -> Vec<&str> {
        s.iter().map(|x| x.key.as_str()).collect()
    }

    #[test]
    fn random_rows_stack_to_the_brute_force_sums() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let first: Date = "2026-01-25".parse().unwrap();
        let models = ["a", "b", "c", "d", "e", "f"];
        let rows: Vec<(Date, String, Money)> = (0..2_000)
            .map(|_| {
                let day = first
                    .checked_add(jiff::Span::new().days(rng.random_range(-3..40)))
                    .unwrap();
                let model = models[rng.random_range(0..models.len())].to_string();
                (
                    day,
                    model,
                    Money::from_nanos(rng.random_range(0..5_000_000)),
                )
            })
            .collect();
        let stacks = daily_stacks(&rows, first, 30, 3, "other");
        assert_eq!(stacks.days.len(), 30);
        assert_eq!(stacks.series.len(), 4);
        assert_eq!(stacks.series[3].0, "other");
        for (i, day) in stacks.days.iter().enumerate() {
            let brute: Money = rows.iter().filter(|r| r.0 == *day).map(|r| r.2).sum();
            let stacked: Money = stacks.series.iter().map(|(_, v)| v[i]).sum();
            assert_eq!(stacked, brute, "{day}");
            for (label, values) in &stacks.series[..3] {
                let brute: Money = rows
                    .iter()
                    .filter(|r| r.0 == *day && &r.1 == label)
                    .map(|r| r.2)
                    .sum();
                assert_eq!(values[i], brute);
            }
        }
        // The kept series are the three biggest over the range.
        let in_range = |m: &str| -> Money {
            rows.iter()
                .filter(|r| r.1 == m && stacks.days.contains(&r.0))
                .map(|r| r.2)
                .sum()
        };
        let smallest_kept = stacks.series[..3]
            .iter()
            .map(|(l, _)| in_range(l))
            .min()
            .unwrap();
        for m in models {
            if !stacks.series.iter().any(|(l, _)| l == m) {
                assert!(in_range(m) <= smallest_kept);
            }
        }
        // Shares of random totals add up to the whole, within rounding.
        let s = shares(
            models
                .iter()
                .map(|m| {
                    (
                        m.to_string(),
                        Totals {
                            cost: in_range(m),
                            ..Totals::default()
                        },
                    )
                })
                .collect(),
        );
        let sum: i64 = s.iter().map(|x| x.share_bp).sum();
        assert!((sum - 10_000).abs() <= models.len() as i64, "{sum}");
    }
}

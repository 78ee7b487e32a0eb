//! What a range would have cost otherwise: on another model (or a mapping of
//! models), at another service tier (batch, flex, priority, as the price book
//! bills each model's), or with every prompt token read from a cache;
//! and the cheapest models of the same kind as those used.
//!
//! Usage comes as buckets (a day's calls of one model, by the report's group),
//! priced as the pricing engine prices a provider's daily bucket: a long-context
//! tier applies by the bucket's average prompt per call. A bucket with unpriced
//! calls or images is left out of both columns and counted, never guessed.

use jiff::Timestamp;
use serde::Serialize;

use crate::core::Money;
use crate::core::pricing::{Mode, ModelPrice, ONE, PriceBook};
use crate::core::usage::{ServiceTier, Totals, UsageRecord};

/// One day's calls of one model within one value of the report's group.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub key: String,
    /// Prices in force at this instant apply (the day's start).
    pub at: Timestamp,
    pub provider: String,
    pub model: String,
    pub totals: Totals,
    /// Its calls in fast mode, where the scenario asks (`StandardSpeed`).
    pub fast: Option<FastCalls>,
}

/// A bucket's calls that ran in fast mode: what they cost, and what they
/// would have cost at standard speed (or why that is not known).
#[derive(Clone, Debug, PartialEq)]
pub struct FastCalls {
    pub cost: Money,
    pub standard: Result<Money, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scenario {
    /// Calls of `from` (`*`: any model) made on `to` instead; the first match wins.
    Models { map: Vec<(String, String)> },
    /// At another service tier (batch, flex, priority), at the multiple of
    /// the price the book states for each model (or its own rates at that
    /// tier); a model without that tier stays as it was.
    Tier { tier: ServiceTier },
    /// Every prompt token (input and cache writes) billed as a cache read: the
    /// most caching could save.
    PerfectCaching,
    /// The calls made in fast mode at standard speed instead.
    StandardSpeed,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Row {
    pub key: String,
    pub actual: Money,
    pub what_if: Money,
    /// Calls compared (in both columns).
    pub records: u64,
    /// Calls left out: unpriced now, or not priceable in the scenario.
    pub left_out: u64,
}

impl Row {
    pub fn saving(&self) -> Money {
        self.actual - self.what_if
    }

    fn add(&mut self, o: &Row) {
        self.actual += o.actual;
        self.what_if += o.what_if;
        self.records += o.records;
        self.left_out += o.left_out;
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhatIf {
    pub scenario: Scenario,
    /// Biggest saving first.
    pub rows: Vec<Row>,
    pub total: Row,
    /// Why buckets were left out, with how many calls each reason covers.
    pub reasons: Vec<(String, u64)>,
}

pub fn what_if(buckets: &[Bucket], scenario: &Scenario, book: &PriceBook) -> WhatIf {
    let mut rows: std::collections::BTreeMap<&str, Row> = Default::default();
    let mut reasons: std::collections::BTreeMap<String, u64> = Default::default();
    for b in buckets {
        let row = rows.entry(&b.key).or_insert_with(|| Row {
            key: b.key.clone(),
            ..Row::default()
        });
        let records = b.totals.records;
        let priced = if b.totals.unpriced > 0 {
            Err(format!("no price for model “{}”", b.model))
        } else if b.totals.images > 0
            && !matches!(scenario, Scenario::Tier { .. } | Scenario::StandardSpeed)
        {
            Err("image calls are priced per image, not repriced here".to_string())
        } else {
            price_in(b, scenario, book)
        };
        match priced {
            Ok(cost) => {
                row.actual += b.totals.cost;
                row.what_if += cost;
                row.records += records;
            }
            Err(why) => {
                row.left_out += records;
                *reasons.entry(why).or_default() += records;
            }
        }
    }
    let mut rows: Vec<Row> = rows.into_values().collect();
    rows.sort_by(|a, b| b.saving().cmp(&a.saving()).then_with(|| a.key.cmp(&b.key)));
    let mut total = Row::default();
    rows.iter().for_each(|r| total.add(r));
    WhatIf {
        scenario: scenario.clone(),
        rows,
        total,
        reasons: reasons.into_iter().collect(),
    }
}

/// The bucket's calls as one record of many requests, as the pricing engine
/// prices a provider's daily bucket.
fn as_record(b: &Bucket, provider: &str, model: &str) -> UsageRecord {
    let mut r = UsageRecord::new(b.at, provider, model);
    r.tokens = b.totals.tokens;
    r.embedding_tokens = b.totals.embedding_tokens;
    r.requests = b.totals.requests.max(1);
    r
}

fn price_in(b: &Bucket, scenario: &Scenario, book: &PriceBook) -> Result<Money, String> {
    match scenario {
        Scenario::Models { map } => {
            let to = map
                .iter()
                .find(|(from, _)| from == "*" || from.eq_ignore_ascii_case(&b.model))
                .map(|(_, to)| to.as_str());
            match to {
                // A model the mapping does not name stays as it was.
                None => Ok(b.totals.cost),
                Some(to) => {
                    let (provider, model) = split_target(to);
                    book.price(&as_record(b, provider, model)).map(|(m, _)| m)
                }
            }
        }
        // The calls' own cost (reported ones too) at the tier's multiple; a
        // model the book sells no such tier of stays as it was: its calls
        // could not have moved.
        Scenario::Tier { tier } => Ok(
            match book.tier_multiple(&b.provider, &b.model, b.at, *tier) {
                Ok(m) => Money::from_ratio(
                    i128::from(b.totals.cost.nanos()) * i128::from(m),
                    i128::from(ONE),
                ),
                // A tier priced outright: the calls at its rates; one the
                // book does not sell stays as it was.
                Err(_) => {
                    let mut r = as_record(b, &b.provider, &b.model);
                    r.billing.tier = *tier;
                    book.price(&r).map_or(b.totals.cost, |(m, _)| m)
                }
            },
        ),
        // Only the fast calls change; a bucket without any stays as it was.
        Scenario::StandardSpeed => match &b.fast {
            None => Ok(b.totals.cost),
            Some(fast) => fast
                .standard
                .clone()
                .map(|standard| b.totals.cost - fast.cost + standard),
        },
        Scenario::PerfectCaching => {
            let mut r = as_record(b, &b.provider, &b.model);
            let t = &mut r.tokens;
            t.cache_read += t.input + t.cache_write_5m + t.cache_write_1h;
            (t.input, t.cache_write_5m, t.cache_write_1h) = (0, 0, 0);
            book.price(&r).map(|(m, _)| m)
        }
    }
}

/// `anthropic/claude-haiku-4-5` → (`anthropic`, `claude-haiku-4-5`); a bare
/// model leaves the provider to the price book.
fn split_target(to: &str) -> (&str, &str) {
    match to.split_once('/') {
        Some((p, m)) if !m.is_empty() => (p, m),
        _ => ("", to),
    }
}

/// A cheaper model of the same kind than one used in the range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    pub provider: String,
    pub model: String,
    /// What its calls cost, and would have cost on the candidate.
    pub actual: Money,
    pub candidate_provider: String,
    pub candidate: String,
    pub candidate_cost: Money,
}

/// Context sizes that count as the same class: up to 32k, 128k, 400k, beyond.
fn context_class(max_input: Option<u64>) -> u8 {
    match max_input {
        None => 0,
        Some(n) if n <= 32_768 => 1,
        Some(n) if n <= 131_072 => 2,
        Some(n) if n <= 400_000 => 3,
        Some(_) => 4,
    }
}

/// For each model used (most expensive first), the `per_model` cheapest models
/// in the book of the same mode and context class that would have cost less,
/// priced on the range's summed tokens at the prices in force at `at`.
pub fn recommend(
    buckets: &[Bucket],
    book: &PriceBook,
    at: Timestamp,
    per_model: usize,
) -> Vec<Recommendation> {
    let mut used: std::collections::BTreeMap<(String, String), Totals> = Default::default();
    for b in buckets
        .iter()
        .filter(|b| b.totals.unpriced == 0 && b.totals.images == 0)
    {
        used.entry((b.provider.clone(), b.model.clone()))
            .or_default()
            .add(&b.totals);
    }
    let mut used: Vec<((String, String), Totals)> = used.into_iter().collect();
    used.sort_by(|a, b| b.1.cost.cmp(&a.1.cost).then_with(|| a.0.cmp(&b.0)));
    // One entry per model: the latest of each.
    let mut latest: std::collections::BTreeMap<(&str, &str), &ModelPrice> = Default::default();
    for e in book.entries() {
        let slot = latest.entry((&e.provider, &e.model)).or_insert(e);
        if e.effective_from > slot.effective_from {
            *slot = e;
        }
    }
    let mut out = Vec::new();
    for ((provider, model), totals) in used {
        let Ok(resolved) = book.resolve(&provider, &model) else {
            continue;
        };
        let Some(own) = book.price_at(&resolved, at) else {
            continue;
        };
        let class = (own.mode, context_class(own.max_input_tokens));
        let bucket = Bucket {
            key: String::new(),
            at,
            provider: provider.clone(),
            model: model.clone(),
            totals,
            fast: None,
        };
        let mut candidates: Vec<(Money, &ModelPrice)> = latest
            .values()
            .filter(|e| (e.mode, context_class(e.max_input_tokens)) == class)
            .filter(|e| !(e.provider == resolved.provider && e.model == resolved.model))
            .filter(|e| e.mode != Mode::Image)
            .filter_map(|e| {
                let cost = book
                    .price(&as_record(&bucket, &e.provider, &e.model))
                    .ok()?
                    .0;
                (cost < totals.cost).then_some((cost, *e))
            })
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.model.cmp(&b.1.model)));
        out.extend(
            candidates
                .into_iter()
                .take(per_model)
                .map(|(cost, e)| Recommendation {
                    provider: provider.clone(),
                    model: model.clone(),
                    actual: totals.cost,
                    candidate_provider: e.provider.clone(),
                    candidate: e.model.clone(),
                    candidate_cost: cost,
                }),
        );
    }
    out
}

#[cfg(test)]
#[path = "what_if_tests.rs"]
mod tests;

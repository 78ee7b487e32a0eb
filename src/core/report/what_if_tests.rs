use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::core::price_file::parse_book;
use crate::core::usage::{ServiceTier, TokenCounts};

fn book() -> PriceBook {
    let (_, prices) = parse_book(include_str!("../../../data/prices/prices.json")).unwrap();
    PriceBook::new(prices)
}

/// Random calls as the ledger holds them: priced on their own model, tokens
/// below any long-context threshold.
fn calls(book: &PriceBook, n: usize, seed: u64) -> Vec<(String, UsageRecord)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let models = [
        ("anthropic", "claude-opus-4-1"),
        ("openai", "gpt-4o"),
        ("anthropic", "claude-haiku-4-5"),
    ];
    let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    (0..n)
        .map(|_| {
            let (provider, model) = models[rng.random_range(0..models.len())];
            let day = rng.random_range(0..30);
            let at = start + jiff::SignedDuration::from_hours(24 * day);
            let mut r = UsageRecord::new(at, provider, model);
            r.tokens = TokenCounts {
                input: rng.random_range(0..20_000),
                output: rng.random_range(0..4_000),
                cache_read: rng.random_range(0..100_000),
                cache_write_5m: rng.random_range(0..5_000),
                ..TokenCounts::default()
            };
            r.cost = book.cost(&r);
            let project = ["web", "api", "batch"][rng.random_range(0..3)];
            (project.to_string(), r)
        })
        .collect()
}

/// The buckets the store would hand over: per project, day, provider and model.
fn buckets(calls: &[(String, UsageRecord)]) -> Vec<Bucket> {
    let mut map: std::collections::BTreeMap<(String, Timestamp, String, String), Totals> =
        Default::default();
    for (key, r) in calls {
        map.entry((key.clone(), r.at, r.provider.clone(), r.model.clone()))
            .or_default()
            .add(&Totals::of(r));
    }
    map.into_iter()
        .map(|((key, at, provider, model), totals)| Bucket {
            key,
            at,
            provider,
            model,
            totals,
            fast: None,
        })
        .collect()
}

#[test]
fn another_model_costs_what_pricing_each_call_on_it_costs() {
    let book = book();
    let calls = calls(&book, 2_000, 7);
    let scenario = Scenario::Models {
        map: vec![
            ("claude-opus-4-1".into(), "claude-sonnet-4-5".into()),
            ("gpt-4o".into(), "openai/gpt-4o-mini".into()),
        ],
    };
    let report = what_if(&buckets(&calls), &scenario, &book);
    for row in &report.rows {
        let mine = calls.iter().filter(|(k, _)| *k == row.key);
        let (mut actual, mut priced) = (Money::ZERO, Money::ZERO);
        for (_, r) in mine {
            actual += r.cost.amount().unwrap();
            let mut moved = r.clone();
            match r.model.as_str() {
                "claude-opus-4-1" => moved.model = "claude-sonnet-4-5".into(),
                "gpt-4o" => moved.model = "gpt-4o-mini".into(),
                _ => {}
            }
            priced += book.price(&moved).unwrap().0;
        }
        assert_eq!((row.actual, row.what_if), (actual, priced), "{}", row.key);
        assert_eq!(row.left_out, 0);
    }
    assert_eq!(report.total.records, 2_000);
    assert!(report.total.saving() > Money::ZERO);
    // Biggest saving first.
    assert!(
        report
            .rows
            .windows(2)
            .all(|w| w[0].saving() >= w[1].saving())
    );
}

#[test]
fn batch_halves_what_a_batch_api_exists_for_and_caching_bills_prompts_as_reads() {
    let book = book();
    let at: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let bucket = |provider: &str, model: &str, cost: i64, tokens: TokenCounts| Bucket {
        key: model.into(),
        at,
        provider: provider.into(),
        model: model.into(),
        totals: Totals {
            cost: Money::from_nanos(cost),
            tokens,
            // 200,000 prompt tokens a call on average: not above the long-context tier.
            requests: 10,
            records: 10,
            ..Totals::default()
        },
        fast: None,
    };
    let tokens = TokenCounts {
        input: 1_000_000,
        cache_write_5m: 1_000_000,
        ..TokenCounts::default()
    };
    let b = [
        bucket("anthropic", "claude-sonnet-4-5", 3_000_000_001, tokens),
        bucket(
            "elsewhere",
            "some-model",
            1_000_000_000,
            TokenCounts::default(),
        ),
    ];
    let batch = what_if(
        &b,
        &Scenario::Tier {
            tier: ServiceTier::Batch,
        },
        &book,
    );
    let by_key = |w: &WhatIf, k: &str| w.rows.iter().find(|r| r.key == k).unwrap().what_if;
    assert_eq!(by_key(&batch, "claude-sonnet-4-5").nanos(), 1_500_000_001); // half, rounded away
    assert_eq!(by_key(&batch, "some-model").nanos(), 1_000_000_000);
    // 2M prompt tokens as reads at $0.30 per million: $0.60.
    let cached = what_if(&b[..1], &Scenario::PerfectCaching, &book);
    assert_eq!(cached.total.what_if.nanos(), 600_000_000);
    // As one call of 2M prompt tokens, the whole call is at long-context rates.
    let mut one = b[0].clone();
    one.totals.requests = 1;
    let tiered = what_if(&[one], &Scenario::PerfectCaching, &book);
    assert_eq!(tiered.total.what_if.nanos(), 1_200_000_000);
}

#[test]
fn unpriced_calls_and_unknown_targets_are_left_out_and_said_why() {
    let book = book();
    let at: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let unpriced = Bucket {
        key: "x".into(),
        at,
        provider: "acme".into(),
        model: "mystery".into(),
        totals: Totals {
            unpriced: 3,
            records: 3,
            ..Totals::default()
        },
        fast: None,
    };
    let mut known = unpriced.clone();
    known.model = "gpt-4o".into();
    known.provider = "openai".into();
    known.totals.unpriced = 0;
    let scenario = Scenario::Models {
        map: vec![("*".into(), "no-such-model".into())],
    };
    let w = what_if(&[unpriced, known], &scenario, &book);
    assert_eq!(w.total.left_out, 6);
    assert_eq!(w.total.records, 0);
    assert_eq!(w.reasons.len(), 2, "{:?}", w.reasons);
    assert!(
        w.reasons
            .iter()
            .any(|(why, n)| why.contains("mystery") && *n == 3)
    );
}

#[test]
fn cheaper_models_of_the_same_kind_are_recommended() {
    let book = book();
    let calls = calls(&book, 300, 3);
    let at: Timestamp = "2026-04-01T00:00:00Z".parse().unwrap();
    let recs = recommend(&buckets(&calls), &book, at, 3);
    let for_opus: Vec<&Recommendation> = recs
        .iter()
        .filter(|r| r.model == "claude-opus-4-1")
        .collect();
    assert!(!for_opus.is_empty());
    assert!(for_opus.len() <= 3);
    for r in &recs {
        assert!(r.candidate_cost < r.actual, "{r:?}");
        assert_ne!(r.candidate, r.model);
    }
    // Cheapest first within a model.
    assert!(
        for_opus
            .windows(2)
            .all(|w| w[0].candidate_cost <= w[1].candidate_cost)
    );
    // Same context class as opus (200k): never a 1M-context model.
    assert!(
        for_opus.iter().all(|r| r.candidate != "claude-sonnet-4-5"),
        "{for_opus:?}"
    );
}

#[test]
fn flex_and_priority_follow_each_models_multiple_in_the_book() {
    let book = book();
    let at: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let bucket = |model: &str| Bucket {
        key: model.into(),
        at,
        provider: "openai".into(),
        model: model.into(),
        totals: Totals {
            cost: Money::from_nanos(2_250_000_000),
            tokens: TokenCounts {
                input: 1_000_000,
                output: 100_000,
                ..TokenCounts::default()
            },
            requests: 10,
            records: 10,
            ..Totals::default()
        },
        fast: None,
    };
    let b = [bucket("gpt-5"), bucket("gpt-4o")];
    let at_tier = |tier| what_if(&b, &Scenario::Tier { tier }, &book);
    let by_key = |w: &WhatIf, k: &str| w.rows.iter().find(|r| r.key == k).unwrap().what_if;
    // gpt-5's $2.25: flex half, priority twice; gpt-4o sells neither here.
    let flex = at_tier(ServiceTier::Flex);
    assert_eq!(by_key(&flex, "gpt-5"), Money::from_nanos(1_125_000_000));
    assert_eq!(by_key(&flex, "gpt-4o"), Money::from_nanos(2_250_000_000));
    let priority = at_tier(ServiceTier::Priority);
    assert_eq!(by_key(&priority, "gpt-5"), Money::from_nanos(4_500_000_000));
}

#[test]
fn without_fast_mode_only_the_fast_calls_change_and_unknown_ones_are_left_out() {
    let book = book();
    let at: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
    let bucket = |key: &str, cost: i64, fast: Option<FastCalls>| Bucket {
        key: key.into(),
        at,
        provider: "anthropic".into(),
        model: "claude-opus-4-6".into(),
        totals: Totals {
            cost: Money::from_nanos(cost),
            requests: 4,
            records: 4,
            ..Totals::default()
        },
        fast,
    };
    // $10 of calls, $6 of them in fast mode, which would have cost $1 at
    // standard speed: $5 in all. A bucket without fast calls stays at $3;
    // one whose fast calls cannot be priced at standard speed is left out.
    let b = [
        bucket(
            "a",
            10_000_000_000,
            Some(FastCalls {
                cost: Money::from_nanos(6_000_000_000),
                standard: Ok(Money::from_nanos(1_000_000_000)),
            }),
        ),
        bucket("b", 3_000_000_000, None),
        bucket(
            "c",
            2_000_000_000,
            Some(FastCalls {
                cost: Money::from_nanos(2_000_000_000),
                standard: Err("no price".into()),
            }),
        ),
    ];
    let w = what_if(&b, &Scenario::StandardSpeed, &book);
    let row = |k: &str| w.rows.iter().find(|r| r.key == k).unwrap().clone();
    assert_eq!(row("a").what_if, Money::from_nanos(5_000_000_000));
    assert_eq!(row("b").what_if, Money::from_nanos(3_000_000_000));
    assert_eq!((row("c").left_out, row("c").records), (4, 0));
    assert_eq!(w.reasons, [("no price".to_string(), 4)]);
}

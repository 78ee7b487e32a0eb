//! One test per pricing rule in FACTS.md, each with the dollars worked out by hand.

use super::*;
use crate::core::price_file::{PriceSpec, RateSpec, parse_book};
use crate::core::usage::{
    Billing, ImageUsage, MediaTokens, ModalTokens, ServiceTier, Speed, TokenCounts,
};

fn book() -> PriceBook {
    let (_, prices) =
        parse_book(include_str!("../../../data/prices/prices.json")).expect("shipped book parses");
    PriceBook::new(prices)
}

fn rec(model: &str, at: &str, tokens: TokenCounts) -> UsageRecord {
    let mut r = UsageRecord::new(at.parse().unwrap(), "", model);
    r.tokens = tokens;
    r
}

fn usd(text: &str) -> Money {
    Money::parse_usd(text).unwrap()
}

fn cost(book: &PriceBook, r: &UsageRecord) -> Money {
    book.price(r)
        .unwrap_or_else(|e| panic!("{}: {e}", r.model))
        .0
}

const NOV_2025: &str = "2025-11-01T12:00:00Z";

#[test]
fn anthropic_cache_reads_and_both_write_lifetimes() {
    // claude-sonnet-4-5: $3 in, $15 out, read 0.1× = $0.30, 5m write 1.25× = $3.75, 1h write 2× = $6.
    let t = TokenCounts {
        input: 1_000,
        output: 500,
        cache_read: 10_000,
        cache_write_5m: 2_000,
        cache_write_1h: 3_000,
        reasoning: 0,
    };
    // 1000×3 + 500×15 + 10000×0.30 + 2000×3.75 + 3000×6 = 3000+7500+3000+7500+18000 = 39000 µ$ = $0.039
    assert_eq!(
        cost(&book(), &rec("claude-sonnet-4-5", NOV_2025, t)),
        usd("0.039")
    );
}

#[test]
fn anthropic_cache_rates_follow_from_input_when_a_file_omits_them() {
    let spec = PriceSpec {
        provider: "anthropic".into(),
        model: "claude-test".into(),
        from: "2025-01-01".parse().unwrap(),
        rates: RateSpec {
            input: Some("2".into()),
            output: Some("10".into()),
            ..RateSpec::default()
        },
        ..PriceSpec::default()
    };
    let p = spec.to_price(Origin::Imported, "t").unwrap();
    assert_eq!(p.rates.cache_read, Some(200_000_000)); // $0.20
    assert_eq!(p.rates.cache_write_5m, Some(2_500_000_000)); // $2.50
    assert_eq!(p.rates.cache_write_1h, Some(4_000_000_000)); // $4
}

#[test]
fn openai_input_includes_cached_tokens() {
    // gpt-4o: $2.50 in, $1.25 cached, $10 out. 10,000 prompt tokens of which 4,000 cached.
    let t = TokenCounts::from_openai(10_000, 4_000, 1_000, 0);
    // 6000×2.50 + 4000×1.25 + 1000×10 = 15000 + 5000 + 10000 = 30000 µ$ = $0.03
    assert_eq!(cost(&book(), &rec("gpt-4o", NOV_2025, t)), usd("0.03"));
}

#[test]
fn reasoning_is_part_of_output_and_billed_at_the_output_rate() {
    // o4-mini: $4.40 out. 5,000 output tokens of which 4,000 reasoning: 5000×4.40 = $0.022, not more.
    let t = TokenCounts {
        output: 5_000,
        reasoning: 4_000,
        ..TokenCounts::default()
    };
    assert_eq!(cost(&book(), &rec("o4-mini", NOV_2025, t)), usd("0.022"));
}

#[test]
fn a_separate_reasoning_rate_applies_only_to_the_reasoning_part() {
    let spec = PriceSpec {
        provider: "example".into(),
        model: "thinker".into(),
        from: "2025-01-01".parse().unwrap(),
        rates: RateSpec {
            input: Some("1".into()),
            output: Some("4".into()),
            reasoning: Some("3.5".into()),
            ..RateSpec::default()
        },
        ..PriceSpec::default()
    };
    let b = PriceBook::new(vec![spec.to_price(Origin::User, "t").unwrap()]);
    let t = TokenCounts {
        output: 5_000,
        reasoning: 4_000,
        ..TokenCounts::default()
    };
    // 1000×4 + 4000×3.5 = 4000 + 14000 = 18000 µ$
    assert_eq!(cost(&b, &rec("thinker", NOV_2025, t)), usd("0.018"));
}

#[test]
fn long_context_tier_starts_above_200000_prompt_tokens_and_reprices_everything() {
    let b = book();
    let at = |input| {
        rec(
            "claude-sonnet-4-5",
            NOV_2025,
            TokenCounts {
                input,
                output: 1_000,
                ..TokenCounts::default()
            },
        )
    };
    // 200,000 is not above the threshold: 200000×3 + 1000×15 = 615000 µ$
    assert_eq!(cost(&b, &at(200_000)), usd("0.615"));
    // 200,001 is: every token at $6 / $22.50. 200001×6 + 1000×22.5 = 1200006 + 22500
    assert_eq!(cost(&b, &at(200_001)), usd("1.222506"));
}

#[test]
fn long_context_threshold_counts_cache_reads_and_writes() {
    let t = TokenCounts {
        input: 100_000,
        cache_read: 90_000,
        cache_write_5m: 10_000,
        cache_write_1h: 1,
        output: 0,
        reasoning: 0,
    };
    // prompt = 200,001 → tier: 100000×6 + 90000×0.60 + 10000×7.50 + 1×12
    //        = 600000 + 54000 + 75000 + 12 = 729012 µ$
    assert_eq!(
        cost(&book(), &rec("claude-sonnet-4-5", NOV_2025, t)),
        usd("0.729012")
    );
}

#[test]
fn openai_272k_tier() {
    let b = book();
    let t = |input| TokenCounts {
        input,
        output: 100,
        ..TokenCounts::default()
    };
    // gpt-5.4: 272000×2.50 + 100×15 = 680000 + 1500
    assert_eq!(
        cost(&b, &rec("gpt-5.4", "2026-06-01T00:00:00Z", t(272_000))),
        usd("0.6815")
    );
    // 272001×5 + 100×22.50 = 1360005 + 2250
    assert_eq!(
        cost(&b, &rec("gpt-5.4", "2026-06-01T00:00:00Z", t(272_001))),
        usd("1.362255")
    );
}

#[test]
fn images_are_priced_by_size_and_quality() {
    let b = book();
    let image = |model: &str, count, size: Option<&str>, quality: Option<&str>| {
        let mut r = rec(model, NOV_2025, TokenCounts::default());
        r.images = ImageUsage {
            count,
            size: size.map(Into::into),
            quality: quality.map(Into::into),
        };
        r
    };
    assert_eq!(
        cost(&b, &image("dall-e-3", 2, Some("1024x1792"), Some("hd"))),
        usd("0.24")
    );
    assert_eq!(cost(&b, &image("dall-e-3", 1, None, None)), usd("0.04"));
    assert_eq!(
        cost(
            &b,
            &image("gpt-image-1", 3, Some("1536x1024"), Some("high"))
        ),
        usd("0.75")
    );
    assert_eq!(
        cost(&b, &image("gpt-image-1", 1, Some("1024-x-1024"), None)),
        usd("0.042")
    );
    assert_eq!(
        cost(&b, &image("dall-e-2", 5, Some("256x256"), None)),
        usd("0.08")
    );
    let err = b
        .price(&image("dall-e-3", 1, Some("640x480"), None))
        .unwrap_err();
    assert!(err.contains("640x480"), "{err}");
}

#[test]
fn image_prompt_tokens_bill_at_the_input_rate_beside_the_images() {
    let mut r = rec(
        "gpt-image-1",
        NOV_2025,
        TokenCounts {
            input: 1_000,
            ..TokenCounts::default()
        },
    );
    r.images = ImageUsage {
        count: 1,
        size: None,
        quality: Some("low".into()),
    };
    // 1000×$5/M = $0.005, plus $0.011
    assert_eq!(cost(&book(), &r), usd("0.016"));
}

#[test]
fn embeddings_bill_input_tokens_only() {
    let mut r = rec("text-embedding-3-small", NOV_2025, TokenCounts::default());
    r.embedding_tokens = 1_000_000;
    assert_eq!(cost(&book(), &r), usd("0.02"));
}

#[test]
fn unknown_models_are_unpriced_never_zero_and_never_a_prefix_match() {
    let b = book();
    for model in [
        "gpt-4o-mini-foo",
        "claude-sonnet-4-5-experimental",
        "gpt-4",
        "gpt-4o-2099-01-01",
        "mystery",
    ] {
        let err = b.price(&rec(
            model,
            NOV_2025,
            TokenCounts {
                input: 10,
                ..TokenCounts::default()
            },
        ));
        assert!(err.is_err(), "{model} must stay unpriced, got {err:?}");
    }
}

#[test]
fn dated_ids_resolve_only_by_the_explicit_rules() {
    let b = book();
    let resolve = |p: &str, m: &str| b.resolve(p, m).map(|r| (r.provider, r.model));
    let pair = |p: &str, m: &str| Ok((p.to_string(), m.to_string()));
    // Anthropic dated ids are their family: listed or not.
    assert_eq!(
        resolve("", "claude-sonnet-4-20250514"),
        pair("anthropic", "claude-sonnet-4")
    );
    assert_eq!(
        resolve("", "claude-haiku-4-5-20991231"),
        pair("anthropic", "claude-haiku-4-5")
    );
    assert_eq!(
        resolve("", "anthropic/claude-sonnet-4-5-20250929"),
        pair("anthropic", "claude-sonnet-4-5")
    );
    assert_eq!(
        resolve("", "CLAUDE-OPUS-4-1"),
        pair("anthropic", "claude-opus-4-1")
    );
    // Copilot's dotted versions are Anthropic's dashed ones; other makers' dots stay.
    assert_eq!(
        resolve("", "claude-sonnet-4.5"),
        pair("anthropic", "claude-sonnet-4-5")
    );
    assert_eq!(
        resolve("", "gemini-2.5-pro"),
        pair("google", "gemini-2.5-pro")
    );
    // OpenAI dated ids can have their own price: gpt-4o-2024-05-13 is not gpt-4o.
    assert_eq!(
        resolve("", "gpt-4o-2024-05-13"),
        pair("openai", "gpt-4o-2024-05-13")
    );
    assert_eq!(resolve("", "gpt-4o-2024-08-06"), pair("openai", "gpt-4o"));
    assert_eq!(
        resolve("", "gemini/gemini-2.5-pro"),
        pair("google", "gemini-2.5-pro")
    );
    assert_eq!(
        resolve("gemini", "gemini-2.5-pro"),
        pair("google", "gemini-2.5-pro")
    );
    assert_eq!(
        resolve("", "meta-llama/llama-4-scout-17b-16e-instruct"),
        pair("groq", "meta-llama/llama-4-scout-17b-16e-instruct")
    );
    assert!(
        resolve("openai", "claude-sonnet-4-5").is_err(),
        "a provider that does not sell it"
    );
    assert_eq!(
        cost(
            &b,
            &rec(
                "gpt-4o-2024-05-13",
                NOV_2025,
                TokenCounts {
                    input: 1_000_000,
                    ..TokenCounts::default()
                }
            )
        ),
        usd("5")
    );
}

#[test]
fn the_price_in_force_on_the_records_day_applies() {
    let b = book();
    let t = TokenCounts {
        input: 1_000_000,
        ..TokenCounts::default()
    };
    // o3 launched at $10 and dropped to $2 on 2025-06-10.
    assert_eq!(cost(&b, &rec("o3", "2025-06-09T23:59:59Z", t)), usd("10"));
    assert_eq!(cost(&b, &rec("o3", "2025-06-10T00:00:00Z", t)), usd("2"));
    // Before the first known price, the first known price.
    assert_eq!(cost(&b, &rec("o3", "2024-01-01T00:00:00Z", t)), usd("10"));
    let (_, version) = b.price(&rec("o3", NOV_2025, t)).unwrap();
    assert_eq!(version, "shipped 2026-12-01");
}

#[test]
fn a_users_price_beats_shipped_and_imported_ones() {
    let mut b = book();
    let spec = |origin: Origin, input: &str, from: &str| {
        PriceSpec {
            provider: "openai".into(),
            model: "gpt-4o".into(),
            from: from.parse().unwrap(),
            rates: RateSpec {
                input: Some(input.into()),
                output: Some("1".into()),
                ..RateSpec::default()
            },
            ..PriceSpec::default()
        }
        .to_price(origin, &format!("{origin:?}"))
        .unwrap()
    };
    b.add(spec(Origin::Imported, "7", "2025-10-01"));
    let t = TokenCounts {
        input: 1_000_000,
        ..TokenCounts::default()
    };
    assert_eq!(
        cost(&b, &rec("gpt-4o", "2025-09-30T00:00:00Z", t)),
        usd("2.5"),
        "shipped before the import's date"
    );
    assert_eq!(
        cost(&b, &rec("gpt-4o", NOV_2025, t)),
        usd("7"),
        "imported from its date"
    );
    b.add(spec(Origin::User, "1.5", "2020-01-01"));
    assert_eq!(cost(&b, &rec("gpt-4o", NOV_2025, t)), usd("1.5"));
    assert_eq!(b.price(&rec("gpt-4o", NOV_2025, t)).unwrap().1, "User");
    // The team's shared book beats the user's own price, from its date on.
    b.add(spec(Origin::Team, "3", "2025-10-15"));
    assert_eq!(cost(&b, &rec("gpt-4o", NOV_2025, t)), usd("3"));
    assert_eq!(
        cost(&b, &rec("gpt-4o", "2025-10-01T00:00:00Z", t)),
        usd("1.5"),
        "the user's own before the team's date"
    );
}

#[test]
fn the_shipped_book_covers_every_provider_the_brief_names() {
    let b = book();
    for provider in ["openai", "anthropic", "google", "mistral", "groq", "xai"] {
        let n = b
            .entries()
            .iter()
            .filter(|e| e.provider == provider)
            .count();
        assert!(n >= 3, "{provider}: {n} models");
    }
    for mode in [Mode::Chat, Mode::Embedding, Mode::Image] {
        assert!(
            b.entries()
                .iter()
                .any(|e| e.mode == mode && e.provider == "openai"),
            "{mode:?}"
        );
    }
}

#[test]
fn a_daily_bucket_is_tiered_by_its_average_prompt_or_by_what_its_export_says() {
    let b = book();
    let bucket = |input: u64, requests: u64| {
        let mut r = rec(
            "claude-sonnet-4-5",
            NOV_2025,
            TokenCounts {
                input,
                output: 1_000,
                ..TokenCounts::default()
            },
        );
        r.requests = requests;
        r
    };
    // 1,000,000 prompt tokens over 10 calls: 100,000 each, base rates.
    // 1000000×3 + 1000×15 = 3015000 µ$
    assert_eq!(cost(&b, &bucket(1_000_000, 10)), usd("3.015"));
    // The same tokens in 4 calls: 250,000 each, long-context rates.
    // 1000000×6 + 1000×22.5 = 6022500 µ$
    assert_eq!(cost(&b, &bucket(1_000_000, 4)), usd("6.0225"));
    // An export that names the tier wins over the average.
    let mut named = bucket(1_000_000, 0);
    named
        .metadata
        .insert(LONG_CONTEXT_KEY.into(), serde_json::Value::Bool(false));
    assert_eq!(cost(&b, &named), usd("3.015"));
    named
        .metadata
        .insert(LONG_CONTEXT_KEY.into(), serde_json::Value::Bool(true));
    assert_eq!(cost(&b, &bucket(1_000, 1)), usd("0.018"));
    assert_eq!(cost(&b, &named), usd("6.0225"));
}

#[test]
fn every_shipped_entry_is_reachable_by_its_id_and_each_alias() {
    let book = book();
    let mut claimed: HashMap<(String, String, jiff::civil::Date), &str> = HashMap::new();
    for e in book.entries() {
        for name in std::iter::once(&e.model).chain(&e.aliases) {
            // A name with a provider's head (Groq's `openai/gpt-oss-120b`) too.
            let found = book
                .resolve(&e.provider, name)
                .unwrap_or_else(|why| panic!("{} {name}: {why}", e.provider));
            assert_eq!(
                (found.provider.as_str(), found.model.as_str()),
                (e.provider.as_str(), e.model.as_str()),
                "{name}"
            );
            // No two entries claim one name on one day (a price change is a
            // later date for the same entry).
            let key = (e.provider.clone(), name.clone(), e.effective_from);
            if let Some(other) = claimed.insert(key, &e.model) {
                panic!("{} {name} claimed by {other} and {}", e.provider, e.model);
            }
        }
        assert!(
            e.version.starts_with("shipped "),
            "{}: {}",
            e.model,
            e.version
        );
    }
}

#[test]
fn a_model_id_with_a_providers_head_is_found_whole_before_the_head_is_split_off() {
    let book = book();
    let at = NOV_2025;
    // Groq sells OpenAI's open-weight model under `openai/gpt-oss-120b`:
    // $0.15 in, $0.60 out. 1M in, 1M out = $0.75, given Groq or no provider.
    let mut r = rec(
        "openai/gpt-oss-120b",
        at,
        TokenCounts {
            input: 1_000_000,
            output: 1_000_000,
            ..TokenCounts::default()
        },
    );
    assert_eq!(cost(&book, &r), usd("0.75"));
    r.provider = "groq".into();
    assert_eq!(cost(&book, &r), usd("0.75"));
    // OpenAI itself does not sell it: unpriced, not Groq's price.
    r.provider = "openai".into();
    assert!(book.price(&r).is_err());
    // A prefix the book does not list whole is still split off.
    let r = rec(
        "openai/gpt-4o",
        at,
        TokenCounts {
            input: 1_000_000,
            ..TokenCounts::default()
        },
    );
    assert_eq!(cost(&book, &r), usd("2.50"));
}

const JUN_2026: &str = "2026-06-01T12:00:00Z";

fn tokens(input: u64, output: u64) -> TokenCounts {
    TokenCounts {
        input,
        output,
        ..TokenCounts::default()
    }
}

fn billed(model: &str, at: &str, t: TokenCounts, billing: Billing) -> UsageRecord {
    let mut r = rec(model, at, t);
    r.billing = billing;
    r
}

fn tier(tier: ServiceTier) -> Billing {
    Billing {
        tier,
        ..Billing::default()
    }
}

#[test]
fn batch_halves_the_whole_price_cache_included() {
    // claude-sonnet-4-5 standard: 1,000 in × $3 = $0.003; 500 out × $15 = $0.0075;
    // 10,000 cache reads × $0.30 = $0.003; 2,000 5m writes × $3.75 = $0.0075;
    // 3,000 1h writes × $6 = $0.018: $0.039. Batch (Anthropic: 50 % off, cache
    // multipliers stack): $0.0195.
    let book = book();
    let t = TokenCounts {
        input: 1_000,
        output: 500,
        cache_read: 10_000,
        cache_write_5m: 2_000,
        cache_write_1h: 3_000,
        reasoning: 0,
    };
    let standard = rec("claude-sonnet-4-5", NOV_2025, t);
    assert_eq!(cost(&book, &standard), usd("0.039"));
    let batch = billed("claude-sonnet-4-5", NOV_2025, t, tier(ServiceTier::Batch));
    assert_eq!(cost(&book, &batch), usd("0.0195"));
    // OpenAI's and Google's batches too: gpt-4o 1M in × $2.50 + 1M out × $10 = $12.50 → $6.25.
    let batch = billed(
        "gpt-4o",
        NOV_2025,
        tokens(1_000_000, 1_000_000),
        tier(ServiceTier::Batch),
    );
    assert_eq!(cost(&book, &batch), usd("6.25"));
}

#[test]
fn flex_and_priority_bill_their_own_multiples_and_an_unlisted_tier_is_unpriced() {
    // gpt-5: 1M in × $1.25 + 100,000 out × $10 = $2.25; flex half: $1.125;
    // priority twice: $4.50.
    let book = book();
    let t = tokens(1_000_000, 100_000);
    assert_eq!(cost(&book, &rec("gpt-5", NOV_2025, t)), usd("2.25"));
    let flex = billed("gpt-5", NOV_2025, t, tier(ServiceTier::Flex));
    assert_eq!(cost(&book, &flex), usd("1.125"));
    let priority = billed("gpt-5", NOV_2025, t, tier(ServiceTier::Priority));
    assert_eq!(cost(&book, &priority), usd("4.50"));
    // Anthropic sells no flex tier: unpriced with that reason, never the standard price.
    let flex = billed("claude-sonnet-4-5", NOV_2025, t, tier(ServiceTier::Flex));
    let why = book.price(&flex).unwrap_err();
    assert_eq!(why, "no flex price for “claude-sonnet-4-5”");
    assert!(book.cost(&flex).is_unpriced());
}

#[test]
fn fast_mode_bills_six_times_on_opus_4_6_and_is_refused_where_not_offered() {
    // claude-opus-4-6: 1M in × $5 + 100,000 out × $25 = $7.50; fast: × 6 = $45.
    let book = book();
    let t = tokens(1_000_000, 100_000);
    assert_eq!(
        cost(&book, &rec("claude-opus-4-6", JUN_2026, t)),
        usd("7.50")
    );
    let fast = Billing {
        speed: Speed::Fast,
        ..Billing::default()
    };
    assert_eq!(
        cost(&book, &billed("claude-opus-4-6", JUN_2026, t, fast.clone())),
        usd("45")
    );
    let why = book
        .price(&billed("claude-sonnet-4-5", JUN_2026, t, fast))
        .unwrap_err();
    assert_eq!(why, "“claude-sonnet-4-5” has no fast mode price");
}

#[test]
fn us_only_inference_bills_a_tenth_more_where_the_book_says_so() {
    // claude-opus-4-6 $7.50 (above) × 1.1 = $8.25 in the US; a region the book
    // does not bill apart is the standard price; so is every region of a model
    // without a regional price.
    let book = book();
    let t = tokens(1_000_000, 100_000);
    let region = |r: &str| Billing {
        region: Some(r.into()),
        ..Billing::default()
    };
    assert_eq!(
        cost(&book, &billed("claude-opus-4-6", JUN_2026, t, region("us"))),
        usd("8.25")
    );
    assert_eq!(
        cost(
            &book,
            &billed("claude-opus-4-6", JUN_2026, t, region("global"))
        ),
        usd("7.50")
    );
    // claude-sonnet-4-5: 100,000 in × $3 + 10,000 out × $15 = $0.45.
    let t = tokens(100_000, 10_000);
    assert_eq!(
        cost(
            &book,
            &billed("claude-sonnet-4-5", JUN_2026, t, region("us"))
        ),
        usd("0.45")
    );
}

#[test]
fn web_searches_cost_their_fee_per_thousand_and_unknown_fees_are_unpriced() {
    // claude-sonnet-4-5: 1,000 in × $3 = $0.003; 3 searches × $10 / 1,000 = $0.03.
    let book = book();
    let searches = Billing {
        web_searches: 3,
        ..Billing::default()
    };
    let r = billed(
        "claude-sonnet-4-5",
        NOV_2025,
        tokens(1_000, 0),
        searches.clone(),
    );
    assert_eq!(cost(&book, &r), usd("0.033"));
    // Batched: the tokens halve, the search fee does not: $0.0015 + $0.03.
    let mut batched = r.clone();
    batched.billing.tier = ServiceTier::Batch;
    assert_eq!(cost(&book, &batched), usd("0.0315"));
    // No web-search price is known for xAI here: unpriced, not free.
    let r = billed("grok-4", NOV_2025, tokens(1_000, 0), searches);
    assert_eq!(
        book.price(&r).unwrap_err(),
        "no web-search price for “grok-4”"
    );
}

#[test]
fn a_book_is_stale_after_sixty_days_counted_from_its_newest_check() {
    let d = |t: &str| t.parse::<jiff::civil::Date>().unwrap();
    assert_eq!(
        stale_days(d("2026-11-22"), d("2027-01-21")),
        None,
        "60 days"
    );
    assert_eq!(stale_days(d("2026-11-22"), d("2027-01-22")), Some(61));
    let checked = checked_on(
        d("2026-11-22"),
        ["litellm 2027-01-10", "litellm 2026-10-01", "x"],
    );
    assert_eq!(checked, d("2027-01-10"));
    assert_eq!(
        checked_on(d("2026-11-22"), ["litellm 2026-10-01"]),
        d("2026-11-22")
    );
}

fn with_media(mut r: UsageRecord, audio: ModalTokens, image: ModalTokens) -> UsageRecord {
    r.media = MediaTokens { audio, image };
    r.validate().expect("a valid record");
    r
}

#[test]
fn audio_tokens_bill_at_their_own_rates_within_the_counts() {
    // gpt-realtime: text $4 in, $0.40 cached, $16 out; audio $32 in, $0.40
    // cached, $64 out. 10,000 input of which 6,000 audio; 2,000 cached of
    // which 1,000 audio; 3,000 output of which 2,500 audio.
    let r = with_media(
        rec(
            "gpt-realtime",
            NOV_2025,
            TokenCounts {
                input: 10_000,
                cache_read: 2_000,
                output: 3_000,
                ..TokenCounts::default()
            },
        ),
        ModalTokens {
            input: 6_000,
            cache_read: 1_000,
            output: 2_500,
        },
        ModalTokens::default(),
    );
    // text: 4000×4 + 1000×0.40 + 500×16 = 16000 + 400 + 8000 = 24400 µ$
    // audio: 6000×32 + 1000×0.40 + 2500×64 = 192000 + 400 + 160000 = 352400 µ$
    assert_eq!(cost(&book(), &r), usd("0.3768"));
    // gpt-4o bills no audio rate: such a call is unpriced, never at text rates.
    let mut no_audio = r.clone();
    no_audio.model = "gpt-4o".into();
    let why = book().price(&no_audio).unwrap_err();
    assert!(why.contains("no audio input token price"), "{why}");
}

#[test]
fn gemini_audio_input_and_image_tokens_of_gpt_image() {
    // gemini-2.5-flash: text $0.30 in, $2.50 out; audio in $1.
    // 100,000 input, 40,000 audio; 1,000 output.
    let r = with_media(
        rec("gemini-2.5-flash", NOV_2025, tokens(100_000, 1_000)),
        ModalTokens {
            input: 40_000,
            ..ModalTokens::default()
        },
        ModalTokens::default(),
    );
    // 60000×0.30 + 40000×1 + 1000×2.50 = 18000 + 40000 + 2500 = 60500 µ$
    assert_eq!(cost(&book(), &r), usd("0.0605"));
    // gpt-image-1: text in $5, image in $10, image out $40. 200 text + 1,000
    // image tokens in, 4,160 image tokens out.
    let img = with_media(
        rec("gpt-image-1", NOV_2025, tokens(1_200, 4_160)),
        ModalTokens::default(),
        ModalTokens {
            input: 1_000,
            output: 4_160,
            ..ModalTokens::default()
        },
    );
    // 200×5 + 1000×10 + 4160×40 = 1000 + 10000 + 166400 = 177400 µ$
    assert_eq!(cost(&book(), &img), usd("0.1774"));
}

#[test]
fn media_tokens_cannot_exceed_the_counts_they_are_part_of() {
    let mut r = rec("gpt-realtime", NOV_2025, tokens(100, 10));
    r.media.audio.input = 101;
    assert!(matches!(
        r.validate(),
        Err(crate::core::usage::UsageError::MediaExceeds {
            media: 101,
            all: 100,
            ..
        })
    ));
}

#[test]
fn dated_changes_price_each_side_of_their_day() {
    let b = book();
    // Claude Sonnet 5: $2/$10 until 2026-08-31, $3/$15 from 2026-09-01.
    let t = tokens(1_000_000, 100_000);
    // 1M×2 + 100k×10 = $3; then 1M×3 + 100k×15 = $4.50
    assert_eq!(
        cost(&b, &rec("claude-sonnet-5", "2026-08-31T23:59:59Z", t)),
        usd("3")
    );
    assert_eq!(
        cost(&b, &rec("claude-sonnet-5", "2026-09-01T00:00:00Z", t)),
        usd("4.50")
    );
    // Claude Opus 4.6 billed prompts over 200,000 at $10/$37.50 until
    // 2026-03-12 and at its flat $5/$25 from 2026-03-13.
    let long = tokens(250_000, 10_000);
    // 250k×10 + 10k×37.50 = $2.875; flat: 250k×5 + 10k×25 = $1.50
    assert_eq!(
        cost(&b, &rec("claude-opus-4-6", "2026-03-12T12:00:00Z", long)),
        usd("2.875")
    );
    assert_eq!(
        cost(&b, &rec("claude-opus-4-6", "2026-03-13T12:00:00Z", long)),
        usd("1.50")
    );
}

/// The newest models' standard prices, dollars per million tokens: input,
/// output, cached input. From each provider's page, as genai-prices (data of
/// 2026-08-21) and the LiteLLM snapshot (each entry's `source`) cite them:
/// - Anthropic: https://www.anthropic.com/pricing#api and
///   https://platform.claude.com/docs/en/about-claude/pricing
/// - OpenAI: https://platform.openai.com/docs/pricing
/// - Google: https://ai.google.dev/gemini-api/docs/pricing
/// - Mistral: https://mistral.ai/pricing#api-pricing
/// - Groq: https://groq.com/pricing
/// - xAI: https://docs.x.ai/docs/models
const NEWEST: &[(&str, &str, &str, &str, &str)] = &[
    ("anthropic", "claude-opus-4-8", "5", "25", "0.50"),
    ("anthropic", "claude-opus-5", "5", "25", "0.50"),
    ("anthropic", "claude-sonnet-5", "3", "15", "0.30"),
    ("anthropic", "claude-fable-5", "10", "50", "1"),
    ("openai", "gpt-5.2-pro", "21", "168", "21"),
    ("openai", "gpt-5.3", "1.75", "14", "0.175"),
    ("openai", "gpt-5.3-codex", "1.75", "14", "0.175"),
    ("openai", "gpt-5.4-pro", "30", "180", "30"),
    ("openai", "gpt-5.5-pro", "30", "180", "30"),
    ("openai", "gpt-5.6-sol", "5", "30", "0.50"),
    ("openai", "gpt-5.6-terra", "2.50", "15", "0.25"),
    ("openai", "gpt-5.6-luna", "1", "6", "0.10"),
    ("openai", "o1-pro", "150", "600", "150"),
    ("openai", "o3-pro", "20", "80", "20"),
    ("openai", "codex-mini", "1.50", "6", "0.375"),
    ("openai", "gpt-realtime", "4", "16", "0.40"),
    ("openai", "gpt-realtime-mini", "0.60", "2.40", "0.06"),
    ("openai", "gpt-audio", "2.50", "10", "2.50"),
    ("google", "gemini-3.1-flash-lite", "0.25", "1.50", "0.025"),
    ("google", "gemini-3.5-flash", "1.50", "9", "0.15"),
    ("google", "gemini-3.5-flash-lite", "0.30", "2.50", "0.03"),
    ("google", "gemini-3.6-flash", "1.50", "7.50", "0.15"),
    ("mistral", "mistral-large-2512", "0.50", "1.50", "0.05"),
    ("mistral", "ministral-3b-2512", "0.10", "0.10", "0.01"),
    ("mistral", "ministral-14b-2512", "0.20", "0.20", "0.02"),
    ("mistral", "mistral-nemo", "0.15", "0.15", "0.15"),
    ("mistral", "pixtral-12b", "0.15", "0.15", "0.15"),
    ("groq", "qwen/qwen3-32b", "0.29", "0.59", "0.29"),
    ("groq", "moonshotai/kimi-k2-instruct", "1", "3", "0.50"),
    ("xai", "grok-4.3", "1.25", "2.50", "0.20"),
    ("xai", "grok-4.5", "2", "6", "0.50"),
    ("xai", "grok-3-fast", "5", "25", "1.25"),
    // From the LiteLLM snapshot's entries and the pages they name.
    ("anthropic", "claude-opus-5-5", "4", "20", "0.20"),
    ("anthropic", "claude-sonnet-5-5", "2", "10", "0.10"),
    ("anthropic", "claude-haiku-5-5", "0.10", "0.50", "0.01"),
    ("anthropic", "claude-fable-5-1", "10", "50", "0.25"),
    ("openai", "gpt-6-astra", "10", "50", "1"),
    ("openai", "gpt-6-sol", "2", "10", "0.20"),
    ("openai", "gpt-6-luna", "0.10", "0.50", "0.01"),
    ("openai", "gpt-6.1-sol", "2", "10", "0.10"),
    ("openai", "gpt-6.1-terra", "1", "5", "0.05"),
    ("google", "gemini-3.7-flash", "0.75", "3.75", "0.075"),
    ("google", "gemini-3.8-flash", "0.75", "3.75", "0.075"),
    ("google", "gemini-4-argon", "2", "10", "0.10"),
    ("mistral", "mistral-large-4", "1.36", "4.18", "0.14"),
    ("mistral", "mistral-medium-3-5", "1.50", "7.50", "0.15"),
    ("xai", "grok-4.6", "2", "6", "0.50"),
    ("xai", "grok-4.7", "2", "6", "0.50"),
];

#[test]
fn haiku_5_5_bills_a_prompt_over_100000_tokens_at_its_larger_rates() {
    // $0.10/$0.50 up to 100,000 prompt tokens; above, every token at
    // $0.50/$2.50. 100,000 in + 1,000 out: $0.01 + $0.0005; 100,001 in:
    // 100001 × 0.50 + 1000 × 2.50 = 50,000.5 + 2,500 µ$.
    let b = book();
    let at = "2026-11-30T12:00:00Z";
    assert_eq!(
        cost(&b, &rec("claude-haiku-5-5", at, tokens(100_000, 1_000))),
        usd("0.0105")
    );
    assert_eq!(
        cost(&b, &rec("claude-haiku-5-5", at, tokens(100_001, 1_000))),
        usd("0.0525005")
    );
    // Gemini 3.8 Flash at the priority tier: 1.8 times. 1M in: $1.35.
    let r = billed(
        "gemini-3.8-flash",
        at,
        tokens(1_000_000, 0),
        tier(ServiceTier::Priority),
    );
    assert_eq!(cost(&b, &r), usd("1.35"));
}

#[test]
fn the_newest_models_bill_what_their_providers_pages_say() {
    let b = book();
    let now = "2026-11-30T12:00:00Z";
    for &(provider, model, input, output, cached) in NEWEST {
        // 100,000 tokens of one kind at a time (below every long-context
        // tier), ten times over: the cost is that kind's rate per million.
        let one = |t: TokenCounts| {
            let mut r = rec(model, now, t);
            r.provider = provider.into();
            Money::from_nanos(cost(&b, &r).nanos() * 10)
        };
        let m = 100_000;
        let row = format!("{provider} {model}");
        assert_eq!(one(tokens(m, 0)), usd(input), "{row} input");
        assert_eq!(one(tokens(0, m)), usd(output), "{row} output");
        let read = TokenCounts {
            cache_read: m,
            ..TokenCounts::default()
        };
        assert_eq!(one(read), usd(cached), "{row} cached input");
    }
}

#[test]
fn a_tier_priced_outright_bills_its_own_rates_below_the_long_context_threshold() {
    let rate = |v: &str| Some(v.to_string());
    let spec = PriceSpec {
        provider: "openai".into(),
        model: "gpt-x".into(),
        from: "2025-01-01".parse().unwrap(),
        rates: RateSpec {
            input: rate("1.25"),
            output: rate("10"),
            cache_read: rate("0.125"),
            ..RateSpec::default()
        },
        long_context: vec![crate::core::price_file::TierSpec {
            above: 272_000,
            rates: RateSpec {
                input: rate("2.50"),
                output: rate("15"),
                ..RateSpec::default()
            },
        }],
        modifiers: crate::core::price_file::ModifierSpec {
            // Flex halves the input but bills three quarters of the output.
            tier_rates: [(
                "flex".to_string(),
                RateSpec {
                    input: rate("0.625"),
                    output: rate("7.50"),
                    cache_read: rate("0.0625"),
                    ..RateSpec::default()
                },
            )]
            .into(),
            ..Default::default()
        },
        ..PriceSpec::default()
    };
    let b = PriceBook::new(vec![spec.to_price(Origin::Imported, "t").unwrap()]);
    let flex = |input, cache_read| {
        let mut r = rec(
            "gpt-x",
            NOV_2025,
            TokenCounts {
                input,
                cache_read,
                output: 10_000,
                ..TokenCounts::default()
            },
        );
        r.billing = tier(ServiceTier::Flex);
        r
    };
    // 80,000 × 0.625 + 20,000 × 0.0625 + 10,000 × 7.50
    // = 50,000 + 1,250 + 75,000 = 126,250 µ$
    assert_eq!(cost(&b, &flex(80_000, 20_000)), usd("0.12625"));
    // Over 272,000 prompt tokens the book has no flex rates: unpriced, not
    // a guess between the two.
    let why = b.price(&flex(300_000, 0)).unwrap_err();
    assert_eq!(why, "no long-context flex price for “gpt-x”");
    // The spec round-trips through the stored form.
    let back = PriceSpec::from_price(&spec.to_price(Origin::Imported, "t").unwrap());
    assert_eq!(
        back.modifiers.tier_rates["flex"].output.as_deref(),
        Some("7.5")
    );
}

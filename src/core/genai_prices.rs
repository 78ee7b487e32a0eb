//! Reading genai-prices' data file (pydantic/genai-prices, `prices/data.json`):
//! providers, each with models whose prices are dollars per million tokens,
//! possibly tiered by prompt size and possibly changed on dated days. Text in,
//! entries out; no I/O.
//!
//! What Tally takes: a model's id and the exact names its match rule lists
//! (`equals`), never its loose rules (`starts_with`, `contains`, `regex`):
//! a price found by a loose match is how a tracker bills one model at
//! another's rate. What it explains and leaves out: prices by time of day,
//! per-request fees and media it does not bill, entries with no price, and a
//! maker's model resold by another maker (Claude on Google's Vertex AI),
//! which would make the model's name ambiguous.

use std::collections::{BTreeMap, BTreeSet};

use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::{Map, Value};

use super::price_file::{PriceFileError, PriceImport, all_zero, number_rate};
use super::pricing::{
    Mode, ModelPrice, Modifiers, Origin, Rate, Rates, Tier, is_maker, normalize_provider,
};

/// Where a genai-prices field goes in Tally's rates; none for a field Tally
/// does not bill.
fn slot<'r>(r: &'r mut Rates, field: &str) -> Option<&'r mut Option<Rate>> {
    Some(match field {
        "input_mtok" => &mut r.input,
        "output_mtok" => &mut r.output,
        "cache_read_mtok" => &mut r.cache_read,
        "cache_write_mtok" => &mut r.cache_write_5m,
        "input_audio_mtok" => &mut r.audio.input,
        "cache_audio_read_mtok" => &mut r.audio.cache_read,
        "output_audio_mtok" => &mut r.audio.output,
        "input_image_mtok" => &mut r.image.input,
        "cache_image_read_mtok" => &mut r.image.cache_read,
        "output_image_mtok" => &mut r.image.output,
        _ => return None,
    })
}

fn set(r: &mut Rates, field: &str, rate: Rate) {
    if let Some(s) = slot(r, field) {
        *s = Some(rate);
    }
}

/// Dollars per million tokens, as written, to nano-dollars per million.
fn rate(v: &Value) -> Result<Rate, String> {
    let n = v
        .as_number()
        .ok_or_else(|| format!("price {v} is not a number"))?;
    let r = number_rate(n, 9)?;
    if r < 0 {
        return Err(format!("price {n} is out of range"));
    }
    Ok(r)
}

/// One set of prices (`ModelPrice` in genai-prices' schema): the base rates
/// and the long-context tiers.
fn read_prices(prices: &Map<String, Value>) -> Result<(Rates, Vec<Tier>), String> {
    let mut base = Rates::default();
    // start → (field → rate), for the fields that are tiered.
    let mut tiered: BTreeMap<u64, BTreeMap<&str, Rate>> = BTreeMap::new();
    for (field, value) in prices {
        let field = field.as_str();
        if slot(&mut base, field).is_none() {
            if value.as_f64().is_some_and(|v| v == 0.0) {
                continue;
            }
            return Err(format!("bills {field}, which Tally cannot price yet"));
        }
        let priced = |v: &Value| rate(v).map_err(|e| format!("{field}: {e}"));
        match value {
            Value::Object(t) => {
                let b = t.get("base").ok_or_else(|| format!("{field}: no base"))?;
                set(&mut base, field, priced(b)?);
                for tier in t
                    .get("tiers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let start = tier.get("start").and_then(Value::as_u64);
                    let price = tier.get("price").map(priced).transpose();
                    match (start, price) {
                        (Some(start), Ok(Some(r))) => {
                            tiered.entry(start).or_default().insert(field, r);
                        }
                        _ => return Err(format!("{field}: a tier without start or price")),
                    }
                }
            }
            v => set(&mut base, field, priced(v)?),
        }
    }
    // A tier bills every field: at its tiered price where the file gives one
    // (the highest tier at or below this start), else at the base price.
    let mut tiers = Vec::new();
    for &start in tiered.keys() {
        let mut rates = base;
        for (_, fields) in tiered.range(..=start) {
            for (field, r) in fields {
                set(&mut rates, field, *r);
            }
        }
        tiers.push(Tier {
            above_tokens: start,
            rates,
        });
    }
    Ok((base, tiers))
}

/// Whether a match rule (`equals`, `starts_with`, `ends_with`, `contains`,
/// `or`, `and`) holds for a name. A regex rule never holds here: Tally has no
/// regex engine, and only uses rules to tell a maker's models.
fn matches(rule: &Value, name: &str) -> bool {
    let Some(obj) = rule.as_object() else {
        return false;
    };
    let text = |key: &str| obj.get(key).and_then(Value::as_str);
    if let Some(t) = text("equals") {
        return name == t;
    }
    if let Some(t) = text("starts_with") {
        return name.starts_with(t);
    }
    if let Some(t) = text("ends_with") {
        return name.ends_with(t);
    }
    if let Some(t) = text("contains") {
        return name.contains(t);
    }
    let list = |key: &str| obj.get(key).and_then(Value::as_array);
    if let Some(any) = list("or") {
        return any.iter().any(|r| matches(r, name));
    }
    if let Some(all) = list("and") {
        return all.iter().all(|r| matches(r, name));
    }
    false
}

/// The exact names a match rule lists through `or`.
fn exact_names(rule: &Value, out: &mut BTreeSet<String>) {
    if let Some(t) = rule.get("equals").and_then(Value::as_str) {
        out.insert(t.to_lowercase());
    }
    for r in rule
        .get("or")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        exact_names(r, out);
    }
}

/// The mode a model is billed in, from what it is priced for.
fn mode_of(id: &str, base: &Rates) -> Result<Mode, String> {
    match (base.input, base.output) {
        (_, Some(_)) => Ok(Mode::Chat),
        (Some(_), None) if id.contains("embed") => Ok(Mode::Embedding),
        (Some(_), None) if id.contains("image") => Ok(Mode::Image),
        _ => Err("no output price".into()),
    }
}

/// One entry's dated prices: (first day, base, tiers). The undated price is
/// in force from `from`, or, when the entry dates a change, up to the day
/// before its first change (so usage before that change takes it).
type Dated = (Date, Rates, Vec<Tier>);

fn dated_prices(model: &Map<String, Value>, from: Date) -> Result<Vec<Dated>, String> {
    let prices = model.get("prices").ok_or("no prices")?;
    let conditional: Vec<(Option<Date>, &Map<String, Value>)> = match prices {
        Value::Object(p) => vec![(None, p)],
        Value::Array(list) => list
            .iter()
            .map(|c| {
                let p = c
                    .get("prices")
                    .and_then(Value::as_object)
                    .ok_or("a conditional price without prices")?;
                let day = match c.get("constraint") {
                    None | Some(Value::Null) => None,
                    Some(k) if k.get("start_time").is_some() => {
                        return Err("prices by time of day, which Tally cannot".to_string());
                    }
                    Some(k) => Some(
                        k.get("start_date")
                            .and_then(Value::as_str)
                            .and_then(|d| d.parse::<Date>().ok())
                            .ok_or("a constraint Tally does not know")?,
                    ),
                };
                Ok((day, p))
            })
            .collect::<Result<_, String>>()?,
        _ => return Err("prices is neither an object nor a list".into()),
    };
    let first_change = conditional.iter().filter_map(|(d, _)| *d).min();
    let undated_from = first_change.map_or(from, |c| from.min(c.checked_sub(1.day()).unwrap_or(c)));
    let mut out = Vec::new();
    for (day, p) in conditional {
        let (base, tiers) = read_prices(p)?;
        out.push((day.unwrap_or(undated_from), base, tiers));
    }
    Ok(out)
}

/// Reads genai-prices' data file. Every entry becomes prices or is listed in
/// `skipped` with its reason.
pub fn parse_genai_prices(
    text: &str,
    version: &str,
    from: Date,
) -> Result<PriceImport, PriceFileError> {
    let root: Vec<Map<String, Value>> = serde_json::from_str(text)?;
    let mut out = PriceImport::default();
    // The maker providers' rules, to tell whose model a name is.
    let makers: Vec<(String, &Value)> = root
        .iter()
        .filter_map(|p| {
            let id = normalize_provider(p.get("id")?.as_str()?);
            Some((id, p.get("model_match")?))
        })
        .filter(|(id, _)| is_maker(id))
        .collect();
    let mut seen: BTreeSet<(String, String, Date)> = BTreeSet::new();
    for p in &root {
        let Some(raw) = p.get("id").and_then(Value::as_str) else {
            out.skipped
                .push(("(a provider)".into(), "no provider id".into()));
            continue;
        };
        let provider = normalize_provider(raw);
        for model in p
            .get("models")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(model) = model.as_object() else {
                out.skipped
                    .push((raw.into(), "a model that is not an object".into()));
                continue;
            };
            let id = model
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase();
            let key = format!("{raw}/{id}");
            if id.is_empty() {
                out.skipped.push((key, "no model id".into()));
                continue;
            }
            if is_maker(&provider)
                && let Some((maker, _)) = makers
                    .iter()
                    .find(|(m, rule)| *m != provider && matches(rule, &id))
            {
                out.skipped.push((
                    key,
                    format!(
                        "{maker}'s model resold by {provider}: Tally prices it at {maker}'s price"
                    ),
                ));
                continue;
            }
            let dated = match dated_prices(model, from) {
                Ok(d) => d,
                Err(why) => {
                    out.skipped.push((key, why));
                    continue;
                }
            };
            let mut names = BTreeSet::new();
            if let Some(rule) = model.get("match") {
                exact_names(rule, &mut names);
            }
            names.remove(&id);
            for (day, base, tiers) in dated {
                if all_zero(&base) {
                    out.skipped.push((
                        key.clone(),
                        "no input or output price (free or not known)".into(),
                    ));
                    continue;
                }
                let mode = match mode_of(&id, &base) {
                    Ok(m) => m,
                    Err(why) => {
                        out.skipped.push((key.clone(), why));
                        continue;
                    }
                };
                if !seen.insert((provider.clone(), id.clone(), day)) {
                    out.skipped
                        .push((key.clone(), format!("a second price for {day}")));
                    continue;
                }
                let price = ModelPrice {
                    provider: provider.clone(),
                    model: id.clone(),
                    aliases: names.iter().cloned().collect(),
                    mode,
                    effective_from: day,
                    rates: base,
                    long_context: tiers,
                    images: Vec::new(),
                    default_image_quality: None,
                    max_input_tokens: model.get("context_window").and_then(Value::as_u64),
                    // What the file does not say comes from the shipped book's rules.
                    modifiers: Modifiers::default(),
                    origin: Origin::Imported,
                    version: version.to_string(),
                };
                match price.complete() {
                    Ok(p) => out.prices.push(p),
                    Err(e) => out.skipped.push((key.clone(), e.to_string())),
                }
            }
        }
    }
    Ok(out)
}

/// Whether a price file is genai-prices' (a list of providers) rather than
/// LiteLLM's (an object keyed by model).
pub fn is_genai_prices(text: &str) -> bool {
    text.trim_start().starts_with('[')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pricing::ONE;

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn tiers_dates_aliases_and_what_is_left_out() {
        let text = r#"[
          {"id": "anthropic", "model_match": {"contains": "claude"}, "models": [
            {"id": "claude-x", "match": {"or": [{"equals": "claude-x"}, {"equals": "claude-x-20260101"}, {"starts_with": "claude-x-"}]},
             "prices": [
               {"prices": {"input_mtok": {"base": 3, "tiers": [{"start": 200000, "price": 6}]}, "output_mtok": 15}},
               {"constraint": {"start_date": "2026-03-13"}, "prices": {"input_mtok": 3, "output_mtok": 15, "cache_read_mtok": 0.3}}
             ]}
          ]},
          {"id": "google", "model_match": {"contains": "gemini"}, "models": [
            {"id": "claude-x", "match": {"equals": "claude-x"}, "prices": {"input_mtok": 3, "output_mtok": 15}},
            {"id": "gemini-y", "match": {"equals": "gemini-y"}, "prices": {"input_mtok": 0.3, "output_mtok": 2.5, "input_audio_mtok": 1}},
            {"id": "gemma", "match": {"equals": "gemma"}, "prices": {}}
          ]},
          {"id": "deepseek", "models": [
            {"id": "night", "match": {"equals": "night"}, "prices": [
              {"prices": {"input_mtok": 1, "output_mtok": 2}},
              {"constraint": {"start_time": "16:30:00Z", "end_time": "00:30:00Z"}, "prices": {"input_mtok": 0.5, "output_mtok": 1}}]}
          ]},
          {"id": "perplexity", "models": [
            {"id": "sonar", "match": {"equals": "sonar"}, "prices": {"input_mtok": 1, "output_mtok": 1, "requests_kcount": 5}}
          ]},
          {"id": "openai", "models": [
            {"id": "text-embedding-z", "match": {"equals": "text-embedding-z"}, "prices": {"input_mtok": 0.02}}
          ]}
        ]"#;
        let import =
            parse_genai_prices(text, "genai-prices 2026-12-01", day("2026-12-01")).unwrap();
        let got: Vec<(&str, &str, String)> = import
            .prices
            .iter()
            .map(|p| {
                (
                    p.provider.as_str(),
                    p.model.as_str(),
                    p.effective_from.to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                // The undated price holds up to the day before the change.
                ("anthropic", "claude-x", "2026-03-12".to_string()),
                ("anthropic", "claude-x", "2026-03-13".to_string()),
                ("google", "gemini-y", "2026-12-01".to_string()),
                ("openai", "text-embedding-z", "2026-12-01".to_string()),
            ]
        );
        let first = &import.prices[0];
        assert_eq!(first.aliases, ["claude-x-20260101"]);
        assert_eq!(first.rates.input, Some(3 * ONE));
        assert_eq!(first.long_context[0].above_tokens, 200_000);
        assert_eq!(first.long_context[0].rates.input, Some(6 * ONE));
        // A field without tiers bills its base price above the threshold.
        assert_eq!(first.long_context[0].rates.output, Some(15 * ONE));
        assert!(import.prices[1].long_context.is_empty());
        assert_eq!(import.prices[2].rates.audio.input, Some(ONE));
        assert_eq!(import.prices[3].mode, Mode::Embedding);
        let reasons: Vec<(&str, &str)> = import
            .skipped
            .iter()
            .map(|(k, why)| (k.as_str(), why.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    "google/claude-x",
                    "anthropic's model resold by google: Tally prices it at anthropic's price"
                ),
                (
                    "google/gemma",
                    "no input or output price (free or not known)"
                ),
                (
                    "deepseek/night",
                    "prices by time of day, which Tally cannot"
                ),
                (
                    "perplexity/sonar",
                    "bills requests_kcount, which Tally cannot price yet"
                ),
            ]
        );
    }

    /// The trimmed copy of genai-prices' data file (see tests/data/README.md).
    const DATA: &str = include_str!("../../tests/data/genai_prices.json");

    #[test]
    fn every_entry_of_the_real_file_is_taken_or_explained() {
        let import =
            parse_genai_prices(DATA, "genai-prices 2026-12-01", day("2026-12-01")).unwrap();
        let root: Vec<Value> = serde_json::from_str(DATA).unwrap();
        let taken: BTreeSet<String> = import.prices.iter().map(|p| p.model.clone()).collect();
        let explained: BTreeSet<&str> = import.skipped.iter().map(|(k, _)| k.as_str()).collect();
        let mut entries = 0;
        for p in &root {
            let provider = p["id"].as_str().unwrap();
            for m in p["models"].as_array().unwrap() {
                entries += 1;
                let id = m["id"].as_str().unwrap().to_lowercase();
                assert!(
                    taken.contains(&id) || explained.contains(format!("{provider}/{id}").as_str()),
                    "{provider}/{id} neither taken nor explained"
                );
            }
        }
        assert_eq!(entries, 241);
        assert!(import.prices.len() > 200, "{}", import.prices.len());
    }

    #[test]
    fn its_dated_changes_price_each_side_of_the_change() {
        use crate::core::pricing::PriceBook;
        use crate::core::usage::{TokenCounts, UsageRecord};
        let import =
            parse_genai_prices(DATA, "genai-prices 2026-12-01", day("2026-12-01")).unwrap();
        let book = PriceBook::new(import.prices);
        let cost = |model: &str, at: &str, input: u64, output: u64| {
            let mut r = UsageRecord::new(at.parse().unwrap(), "", model);
            r.tokens = TokenCounts {
                input,
                output,
                ..TokenCounts::default()
            };
            book.price(&r).unwrap().0.to_decimal_string()
        };
        for (model, at, input, output, want) in [
            // Claude Sonnet 5: $2/$10 until 2026-08-31, $3/$15 from
            // 2026-09-01. 1M in + 100k out: 2 + 1 = $3; 3 + 1.5 = $4.50.
            (
                "claude-sonnet-5",
                "2026-08-31T23:59:59Z",
                1_000_000,
                100_000,
                "3",
            ),
            (
                "claude-sonnet-5",
                "2026-09-01T00:00:00Z",
                1_000_000,
                100_000,
                "4.5",
            ),
            // Claude Opus 4.6 over 200,000 prompt tokens: $10/$37.50 until
            // 2026-03-12, flat $5/$25 from 2026-03-13. 250k in + 10k out.
            (
                "claude-opus-4-6",
                "2026-03-12T12:00:00Z",
                250_000,
                10_000,
                "2.875",
            ),
            (
                "claude-opus-4-6",
                "2026-03-13T12:00:00Z",
                250_000,
                10_000,
                "1.5",
            ),
            // o3: $10/$40 until 2025-06-09, $2/$8 from 2025-06-10. 1M in.
            ("o3", "2025-06-09T12:00:00Z", 1_000_000, 0, "10"),
            ("o3", "2025-06-10T12:00:00Z", 1_000_000, 0, "2"),
        ] {
            let want = crate::core::Money::parse_usd(want)
                .unwrap()
                .to_decimal_string();
            assert_eq!(cost(model, at, input, output), want, "{model} at {at}");
        }
    }

    #[test]
    fn the_format_is_told_by_its_first_character() {
        assert!(is_genai_prices("  [{\"id\": \"openai\"}]"));
        assert!(!is_genai_prices("{\"gpt-4o\": {}}"));
    }
}

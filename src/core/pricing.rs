//! The price book and the cost of a record.
//!
//! Rates are exact integers: nano-dollars per million tokens (so `$3 / Mtok` is
//! `3_000_000_000`). A record's cost is `Σ tokens × rate` in i128, divided once.
//! The rules follow FACTS.md: Anthropic cache multipliers, cached-inclusive OpenAI
//! input converted on the way in, reasoning billed as output, and long-context tiers
//! that re-price *every* token of a request whose prompt exceeds the threshold.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::money::Money;
use super::usage::{Cost, ServiceTier, Speed, UsageRecord};

/// Nano-dollars per million tokens.
pub type Rate = i64;

const TOKENS_PER_RATE: i128 = 1_000_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub input: Option<Rate>,
    pub output: Option<Rate>,
    pub cache_read: Option<Rate>,
    pub cache_write_5m: Option<Rate>,
    pub cache_write_1h: Option<Rate>,
    /// Only where a provider bills thinking apart from output.
    pub reasoning: Option<Rate>,
    /// Audio and image tokens, where a provider bills them at their own rates.
    #[serde(default)]
    pub audio: ModalRates,
    #[serde(default)]
    pub image: ModalRates,
}

/// The rates of one medium's tokens (audio, or image tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModalRates {
    pub input: Option<Rate>,
    pub cache_read: Option<Rate>,
    pub output: Option<Rate>,
}

impl ModalRates {
    fn values(&self) -> [Option<Rate>; 3] {
        [self.input, self.cache_read, self.output]
    }

    /// What a tier leaves out, it bills as the base does.
    fn or(self, base: ModalRates) -> ModalRates {
        ModalRates {
            input: self.input.or(base.input),
            cache_read: self.cache_read.or(base.cache_read),
            output: self.output.or(base.output),
        }
    }
}

/// Rates that apply to a whole request once its prompt exceeds `above_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub above_tokens: u64,
    pub rates: Rates,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePrice {
    /// `1024x1024`, or `*` for any size.
    pub size: String,
    /// `standard`, `hd`, `low`, …, or `*` for any quality.
    pub quality: String,
    pub price: Money,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Chat,
    Embedding,
    Image,
}

/// A multiple of a price, exact: billionths (0.5 is 500,000,000).
pub type Multiple = i64;

/// The multiple that changes nothing.
pub const ONE: Multiple = 1_000_000_000;

/// How a model's price changes with the way a call was billed: its service
/// tier, fast mode, the region it ran in, and per-call tool fees. What the
/// book does not list is not sold (or not known): such a call is unpriced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modifiers {
    /// The multiple of the standard price each other tier bills (batch 0.5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<(ServiceTier, Multiple)>,
    /// Tiers priced outright rather than by one multiple (a flex tier that
    /// halves the input price but not the output's): their rates, below any
    /// long-context threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tier_rates: Vec<(ServiceTier, Rates)>,
    /// Fast mode's multiple, on the models that offer it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<Multiple>,
    /// Regions billed apart, with their multiple (Anthropic's `us`: 1.1). A
    /// region not listed bills the standard price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<(String, Multiple)>,
    /// Dollars per 1,000 web searches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<Money>,
}

impl Modifiers {
    pub fn tier(&self, tier: ServiceTier) -> Option<Multiple> {
        if tier == ServiceTier::Standard {
            return Some(ONE);
        }
        self.tiers.iter().find(|(t, _)| *t == tier).map(|(_, m)| *m)
    }

    /// The rates a tier is priced at outright, where the book says.
    pub fn rates_at(&self, tier: ServiceTier) -> Option<&Rates> {
        self.tier_rates
            .iter()
            .find(|(t, _)| *t == tier)
            .map(|(_, r)| r)
    }

    /// Fills in what this entry does not say from its provider's rules.
    pub fn or_from(&mut self, provider: &Modifiers) {
        for &(tier, m) in &provider.tiers {
            if self.tier(tier).is_none() && self.rates_at(tier).is_none() {
                self.tiers.push((tier, m));
            }
        }
        self.tiers.sort();
        self.fast = self.fast.or(provider.fast);
        for (region, m) in &provider.regions {
            if !self.regions.iter().any(|(r, _)| r == region) {
                self.regions.push((region.clone(), *m));
            }
        }
        self.web_search = self.web_search.or(provider.web_search);
    }

    /// `cost` as billed for `record`'s tier, speed and region, plus its tool
    /// fees; or why it cannot be known.
    /// `tier_priced`: the cost is at the tier's own rates already.
    fn apply(
        &self,
        model: &str,
        record: &UsageRecord,
        cost: Money,
        tier_priced: bool,
    ) -> Result<Money, String> {
        let b = &record.billing;
        let tier = match tier_priced {
            true => ONE,
            false => self
                .tier(b.tier)
                .ok_or_else(|| format!("no {} price for “{model}”", b.tier.name()))?,
        };
        let speed = match b.speed {
            Speed::Standard => ONE,
            Speed::Fast => self
                .fast
                .ok_or_else(|| format!("“{model}” has no fast mode price"))?,
        };
        let region = b
            .region
            .as_deref()
            .and_then(|r| self.regions.iter().find(|(name, _)| name == r))
            .map_or(ONE, |(_, m)| *m);
        let mut cost = cost;
        for m in [tier, speed, region] {
            cost = Money::checked_from_ratio(
                i128::from(cost.nanos()) * i128::from(m),
                i128::from(ONE),
            )
            .ok_or_else(too_large)?;
        }
        if b.web_searches > 0 {
            let per_thousand = self
                .web_search
                .ok_or_else(|| format!("no web-search price for “{model}”"))?;
            let fees = Money::checked_from_ratio(
                i128::from(per_thousand.nanos()) * i128::from(b.web_searches),
                1_000,
            )
            .ok_or_else(too_large)?;
            cost = cost.checked_add(fees).ok_or_else(too_large)?;
        }
        Ok(cost)
    }
}

/// Where a price came from. The team's shared price book beats everything
/// (every machine of the team prices alike); then a user's own price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Shipped,
    Imported,
    User,
    Team,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub provider: String,
    pub model: String,
    /// Other names for the same model at the same price (dated ids, `-latest`).
    pub aliases: Vec<String>,
    pub mode: Mode,
    pub effective_from: Date,
    pub rates: Rates,
    pub long_context: Vec<Tier>,
    pub images: Vec<ImagePrice>,
    pub default_image_quality: Option<String>,
    pub max_input_tokens: Option<u64>,
    #[serde(default)]
    pub modifiers: Modifiers,
    pub origin: Origin,
    /// Names the price list it came from: `shipped 2026-11-01`, `litellm 2026-11-22`, `user 2026-11-22`.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("{model}: a {mode:?} price needs an input and an output rate")]
    MissingRates { model: String, mode: Mode },
    #[error("{model}: an image price needs at least one per-image price or token rates")]
    NoImagePrice { model: String },
    #[error("{model}: rates cannot be negative")]
    Negative { model: String },
}

impl ModelPrice {
    /// Checks the entry and fills in what the provider's rules imply, so that
    /// costing never guesses: Anthropic's cache rates follow from its input rate,
    /// and a long-context tier without cache rates scales the base ones.
    pub fn complete(mut self) -> Result<ModelPrice, PriceError> {
        let model = self.model.clone();
        let all_rates =
            std::iter::once(&self.rates).chain(self.long_context.iter().map(|t| &t.rates));
        for r in all_rates {
            let values = [
                r.input,
                r.output,
                r.cache_read,
                r.cache_write_5m,
                r.cache_write_1h,
                r.reasoning,
            ];
            let media = r.audio.values().into_iter().chain(r.image.values());
            if values.into_iter().chain(media).flatten().any(|v| v < 0)
                || self.images.iter().any(|i| i.price < Money::ZERO)
            {
                return Err(PriceError::Negative { model });
            }
        }
        match self.mode {
            Mode::Chat if self.rates.input.is_none() || self.rates.output.is_none() => {
                return Err(PriceError::MissingRates {
                    model,
                    mode: self.mode,
                });
            }
            Mode::Embedding if self.rates.input.is_none() => {
                return Err(PriceError::MissingRates {
                    model,
                    mode: self.mode,
                });
            }
            Mode::Image if self.images.is_empty() && self.rates.input.is_none() => {
                return Err(PriceError::NoImagePrice { model });
            }
            _ => {}
        }
        let anthropic = self.provider == "anthropic";
        let base = self.rates;
        fill_rules(&mut self.rates, anthropic, None);
        for tier in &mut self.long_context {
            fill_rules(&mut tier.rates, anthropic, Some(&base));
        }
        self.long_context.sort_by_key(|t| t.above_tokens);
        self.aliases.iter_mut().for_each(|a| *a = a.to_lowercase());
        self.model = self.model.to_lowercase();
        Ok(self)
    }
}

fn scale(rate: Rate, num: i64, den: i64) -> Rate {
    Money::from_ratio(i128::from(rate) * i128::from(num), i128::from(den)).nanos()
}

fn fill_rules(r: &mut Rates, anthropic: bool, base: Option<&Rates>) {
    let Some(input) = r.input else { return };
    // A tier that omits cache rates scales the base ones by its input multiplier.
    if let Some(b) = base.filter(|b| b.input.is_some_and(|i| i > 0)) {
        let (num, den) = (input, b.input.unwrap_or(1));
        r.cache_read = r.cache_read.or(b.cache_read.map(|v| scale(v, num, den)));
        r.cache_write_5m = r
            .cache_write_5m
            .or(b.cache_write_5m.map(|v| scale(v, num, den)));
        r.cache_write_1h = r
            .cache_write_1h
            .or(b.cache_write_1h.map(|v| scale(v, num, den)));
        if r.output.is_none() {
            r.output = b.output.map(|v| scale(v, num, den));
        }
        r.audio = r.audio.or(b.audio);
        r.image = r.image.or(b.image);
    }
    if anthropic {
        r.cache_read = r.cache_read.or(Some(scale(input, 1, 10)));
        r.cache_write_5m = r.cache_write_5m.or(Some(scale(input, 5, 4)));
        r.cache_write_1h = r.cache_write_1h.or(Some(input * 2));
    }
}

/// How many days a price book may go unchecked before Tally says so:
/// providers change prices and add models every few weeks.
pub const STALE_AFTER_DAYS: i64 = 60;

/// The days since the book was last `checked`, when that is more than
/// `STALE_AFTER_DAYS` as of `today`.
pub fn stale_days(checked: Date, today: Date) -> Option<i64> {
    let days = i64::from((today - checked).get_days());
    (days > STALE_AFTER_DAYS).then_some(days)
}

/// The day a book was last checked: the shipped book's date, or the newest
/// import's (`litellm 2026-11-22`) if later.
pub fn checked_on<'a>(shipped: Date, imported: impl IntoIterator<Item = &'a str>) -> Date {
    imported
        .into_iter()
        .filter_map(|version| version.rsplit(' ').next()?.parse::<Date>().ok())
        .fold(shipped, Date::max)
}

/// What the book knows about a name: the provider and canonical model it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub provider: String,
    pub model: String,
}

/// Providers whose name may prefix a model id (`gemini/gemini-2.5-pro`), mapped to
/// the provider name Tally uses. Nothing else is stripped.
const PROVIDER_PREFIXES: &[(&str, &str)] = &[
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("google", "google"),
    ("gemini", "google"),
    ("mistral", "mistral"),
    ("groq", "groq"),
    ("xai", "xai"),
    ("x-ai", "xai"),
];

/// Providers that sell their own models. When a name is ambiguous and no provider
/// was given, the maker's price is the one meant, never a reseller's.
const MAKERS: &[&str] = &["openai", "anthropic", "google", "mistral", "xai"];

/// Whether a provider makes the models it sells (rather than reselling others').
pub fn is_maker(provider: &str) -> bool {
    MAKERS.contains(&provider)
}

/// Canonical provider name: lower case, with the aliases above folded.
pub fn normalize_provider(provider: &str) -> String {
    let p = provider.trim().to_lowercase();
    PROVIDER_PREFIXES
        .iter()
        .find(|(from, _)| *from == p)
        .map_or(p, |(_, to)| (*to).to_string())
}

/// Splits a known provider prefix off a model id: `gemini/gemini-2.5-pro` →
/// (`google`, `gemini-2.5-pro`). Only the prefixes above; `meta-llama/…` stays whole.
pub fn split_provider_prefix(model: &str) -> (Option<String>, String) {
    let m = model.trim().to_lowercase();
    if let Some((head, rest)) = m.split_once('/')
        && let Some((_, provider)) = PROVIDER_PREFIXES.iter().find(|(from, _)| *from == head)
        && !rest.is_empty()
    {
        return (Some((*provider).to_string()), rest.to_string());
    }
    (None, m)
}

/// Anthropic's dated snapshot ids (`claude-sonnet-4-20250514`) are the same model
/// and price as their family alias; this is the one date rule. OpenAI's dated ids
/// can differ in price (`gpt-4o-2024-05-13`), so they are only found by explicit alias.
fn anthropic_family(model: &str) -> Option<&str> {
    let (family, date) = model.rsplit_once('-')?;
    let dated = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    (model.starts_with("claude-") && dated).then_some(family)
}

/// GitHub Copilot and some gateways write Claude's version with a dot
/// (`claude-sonnet-4.5`) where Anthropic writes a dash (`claude-sonnet-4-5`).
fn anthropic_dotted(model: &str) -> Option<String> {
    (model.starts_with("claude-") && model.contains('.')).then(|| model.replace('.', "-"))
}

#[derive(Clone, Debug, Default)]
pub struct PriceBook {
    entries: Vec<ModelPrice>,
    /// (provider, lower-case name or alias) → indices of entries for that model.
    by_name: HashMap<(String, String), Vec<usize>>,
    /// lower-case name or alias → providers that have it.
    providers_of: HashMap<String, Vec<String>>,
}

impl PriceBook {
    pub fn new(entries: Vec<ModelPrice>) -> PriceBook {
        let mut book = PriceBook::default();
        for e in entries {
            book.add(e);
        }
        book
    }

    pub fn add(&mut self, entry: ModelPrice) {
        let index = self.entries.len();
        let names = std::iter::once(entry.model.clone()).chain(entry.aliases.iter().cloned());
        for name in names {
            let slot = self
                .by_name
                .entry((entry.provider.clone(), name.clone()))
                .or_default();
            if !slot.contains(&index) {
                slot.push(index);
            }
            let providers = self.providers_of.entry(name).or_default();
            if !providers.contains(&entry.provider) {
                providers.push(entry.provider.clone());
            }
        }
        self.entries.push(entry);
    }

    pub fn entries(&self) -> &[ModelPrice] {
        &self.entries
    }

    /// Finds the model a name means, with the explicit rules only: a known provider
    /// prefix is split off, names and aliases match exactly (case aside), and an
    /// Anthropic dated id falls back to its family. No prefix guessing.
    pub fn resolve(&self, provider: &str, model: &str) -> Result<Resolved, String> {
        let given = Some(normalize_provider(provider)).filter(|p| !p.is_empty());
        // A name the book lists whole is that model, even where its head is a
        // provider's name: Groq sells `openai/gpt-oss-120b` under that id.
        let whole = model.trim().to_lowercase();
        if whole.contains('/')
            && let Ok(found) = self.find(given.clone(), std::slice::from_ref(&whole))
        {
            return Ok(found);
        }
        let (prefixed, name) = split_provider_prefix(model);
        let provider = given.or(prefixed);
        let mut candidates = vec![name.clone()];
        if let Some(family) = anthropic_family(&name) {
            candidates.push(family.to_string());
        }
        if let Some(dashed) = anthropic_dotted(&name) {
            candidates.push(dashed);
        }
        self.find(provider.clone(), &candidates).map_err(|e| {
            e.unwrap_or_else(|| match provider {
                Some(p) => format!("no price for model “{name}” from provider “{p}”"),
                None => format!("no price for model “{name}”"),
            })
        })
    }

    /// The first of `candidates` the book has from `provider` (or from the one
    /// provider that sells it); `Err(None)` when none is known, `Err(Some(why))`
    /// when a name is ambiguous.
    fn find(
        &self,
        provider: Option<String>,
        candidates: &[String],
    ) -> Result<Resolved, Option<String>> {
        for name in candidates {
            let found = match &provider {
                Some(p) => self
                    .by_name
                    .contains_key(&(p.clone(), name.clone()))
                    .then(|| p.clone()),
                None => self.only_provider(name).map_err(Some)?,
            };
            if let Some(p) = found {
                let index = self.by_name[&(p.clone(), name.clone())][0];
                return Ok(Resolved {
                    provider: p,
                    model: self.entries[index].model.clone(),
                });
            }
        }
        Err(None)
    }

    fn only_provider(&self, name: &str) -> Result<Option<String>, String> {
        let Some(providers) = self.providers_of.get(name) else {
            return Ok(None);
        };
        if providers.len() == 1 {
            return Ok(Some(providers[0].clone()));
        }
        let makers: Vec<&String> = providers
            .iter()
            .filter(|p| MAKERS.contains(&p.as_str()))
            .collect();
        match makers.as_slice() {
            [one] => Ok(Some((*one).clone())),
            _ => Err(format!(
                "model “{name}” is sold by {}: say which provider",
                providers.join(", ")
            )),
        }
    }

    /// The price in force for a resolved model at an instant. The team's price
    /// wins whenever one is in force, then a user's; otherwise the latest shipped or imported price
    /// whose date has come (imported wins a tie). Usage from before a model's first
    /// known price takes that first price: the nearest truth there is.
    pub fn price_at(&self, resolved: &Resolved, at: Timestamp) -> Option<&ModelPrice> {
        let day = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        let indices = self
            .by_name
            .get(&(resolved.provider.clone(), resolved.model.clone()))?;
        let entries: Vec<&ModelPrice> = indices.iter().map(|&i| &self.entries[i]).collect();
        let latest_in_force = |origins: &[Origin]| {
            entries
                .iter()
                .filter(|e| origins.contains(&e.origin) && e.effective_from <= day)
                .max_by_key(|e| (e.effective_from, e.origin))
                .copied()
        };
        latest_in_force(&[Origin::Team])
            .or_else(|| latest_in_force(&[Origin::User]))
            .or_else(|| latest_in_force(&[Origin::Shipped, Origin::Imported]))
            .or_else(|| {
                entries
                    .iter()
                    .min_by_key(|e| (e.effective_from, std::cmp::Reverse(e.origin)))
                    .copied()
            })
    }

    /// The record's cost under this book: priced, or unpriced with the reason.
    pub fn cost(&self, record: &UsageRecord) -> Cost {
        as_cost(self.price(record))
    }

    /// Prices a record, or says why it cannot be priced.
    pub fn price(&self, record: &UsageRecord) -> Result<(Money, String), String> {
        let resolved = self.resolve(&record.provider, &record.model)?;
        self.price_resolved(&resolved, record)
    }

    /// The multiple of the standard price `tier` bills for a model at `at`,
    /// or why it is not known.
    pub fn tier_multiple(
        &self,
        provider: &str,
        model: &str,
        at: Timestamp,
        tier: ServiceTier,
    ) -> Result<Multiple, String> {
        let resolved = self.resolve(provider, model)?;
        let entry = self
            .price_at(&resolved, at)
            .ok_or_else(|| format!("no price for model “{model}”"))?;
        entry
            .modifiers
            .tier(tier)
            .ok_or_else(|| format!("no {} price for “{}”", tier.name(), entry.model))
    }

    fn price_resolved(
        &self,
        resolved: &Resolved,
        record: &UsageRecord,
    ) -> Result<(Money, String), String> {
        let entry = self
            .price_at(resolved, record.at)
            .ok_or_else(|| format!("no price for model “{}”", record.model))?;
        cost_of(entry, record).map(|m| (m, entry.version.clone()))
    }
}

fn as_cost(priced: Result<(Money, String), String>) -> Cost {
    match priced {
        Ok((amount, price_version)) => Cost::Priced {
            amount,
            price_version,
        },
        Err(reason) => Cost::Unpriced { reason },
    }
}

/// Prices many records (an import, a reprice), resolving each model name once.
pub struct Pricer<'a> {
    book: &'a PriceBook,
    /// provider → model → what the book resolves it to.
    resolved: HashMap<String, HashMap<String, Result<Resolved, String>>>,
}

impl<'a> Pricer<'a> {
    pub fn new(book: &'a PriceBook) -> Pricer<'a> {
        Pricer {
            book,
            resolved: HashMap::new(),
        }
    }

    /// The provider whose model `model` is, when the book knows it: for an
    /// agent that runs several makers' models and does not say whose.
    pub fn maker(&mut self, model: &str) -> Option<String> {
        let book = self.book;
        self.resolved
            .entry(String::new())
            .or_default()
            .entry(model.to_string())
            .or_insert_with(|| book.resolve("", model))
            .as_ref()
            .ok()
            .map(|r| r.provider.clone())
    }

    /// The same as `PriceBook::cost`.
    pub fn cost(&mut self, record: &UsageRecord) -> Cost {
        let book = self.book;
        let (provider, model) = (&record.provider, &record.model);
        if !self
            .resolved
            .get(provider)
            .is_some_and(|m| m.contains_key(model))
        {
            self.resolved
                .entry(provider.clone())
                .or_default()
                .insert(model.clone(), book.resolve(provider, model));
        }
        as_cost(match &self.resolved[provider][model] {
            Ok(r) => book.price_resolved(r, record),
            Err(why) => Err(why.clone()),
        })
    }
}

/// The rates that apply to a request: the highest tier its prompt exceeds, else the base.
fn rates_for(entry: &ModelPrice, prompt_tokens: u64) -> &Rates {
    entry
        .long_context
        .iter()
        .rev()
        .find(|t| prompt_tokens > t.above_tokens)
        .map_or(&entry.rates, |t| &t.rates)
}

/// The metadata key a provider's export sets on a daily bucket billed wholly at
/// long-context rates (Anthropic's `context_window` column): `true` or `false`.
pub const LONG_CONTEXT_KEY: &str = "long_context";

/// The rates for a record. A call is tiered by its prompt. A bucket of many
/// calls cannot be: its export says which tier it was billed at, or else it is
/// tiered by its average prompt per call.
fn rates_for_record<'a>(entry: &'a ModelPrice, record: &UsageRecord) -> &'a Rates {
    let prompt = record.tokens.prompt_total();
    match record
        .metadata
        .get(LONG_CONTEXT_KEY)
        .and_then(|v| v.as_bool())
    {
        Some(true) => entry
            .long_context
            .first()
            .map_or(&entry.rates, |t| &t.rates),
        Some(false) => &entry.rates,
        None if record.requests > 1 => rates_for(entry, prompt / record.requests),
        None => rates_for(entry, prompt),
    }
}

/// The metadata key a source sets on a call billed in a way Tally does not
/// know (a service tier or speed it has no name for): the call counts, and
/// stays unpriced with that reason until a Tally that knows it reprices it.
pub const UNKNOWN_BILLING_KEY: &str = "unknown_billing";

/// Why a cost past what money can hold is refused.
fn too_large() -> String {
    "the cost is too large to record (over $9.2 billion)".to_string()
}

fn cost_of(entry: &ModelPrice, record: &UsageRecord) -> Result<Money, String> {
    if let Some(how) = record.metadata.get(UNKNOWN_BILLING_KEY) {
        let how = how.as_str().unwrap_or("an unknown tier");
        return Err(format!(
            "billed at {how}, which Tally does not know how to price"
        ));
    }
    let t = &record.tokens;
    let tier = record.billing.tier;
    let tier_rates = match tier {
        ServiceTier::Standard => None,
        _ => entry.modifiers.rates_at(tier),
    };
    let standard = rates_for_record(entry, record);
    let r = match tier_rates {
        None => standard,
        // A tier's own rates hold below the long-context threshold only.
        Some(_) if !std::ptr::eq(standard, &entry.rates) => {
            return Err(format!(
                "no long-context {} price for “{}”",
                tier.name(),
                entry.model
            ));
        }
        Some(rates) => rates,
    };
    let bills_tokens = t.total() + record.embedding_tokens > 0;
    let (input, output) = match (r.input, r.output) {
        (Some(i), o) => (i, o.unwrap_or(0)),
        // An image model priced only per image does not bill its prompt tokens.
        (None, _) if entry.mode == Mode::Image => (0, 0),
        (None, _) if !bills_tokens => (0, 0),
        (None, _) => return Err(format!("“{}” has no token price", entry.model)),
    };
    let cache_read = r.cache_read.unwrap_or(input);
    let write_5m = r.cache_write_5m.unwrap_or(input);
    let write_1h = r.cache_write_1h.unwrap_or(write_5m);
    let reasoning = r.reasoning.unwrap_or(output);
    let (audio, image) = (&record.media.audio, &record.media.image);
    // Audio and image tokens are a part of the counts, billed at their own rates.
    let text_input = t.input.saturating_sub(audio.input + image.input);
    let text_cached = t
        .cache_read
        .saturating_sub(audio.cache_read + image.cache_read);
    let text_output = t
        .output
        .saturating_sub(t.reasoning)
        .saturating_sub(audio.output + image.output);
    let terms = [
        (text_input + record.embedding_tokens, input),
        (text_cached, cache_read),
        (t.cache_write_5m, write_5m),
        (t.cache_write_1h, write_1h),
        (text_output, output),
        (t.reasoning.min(t.output), reasoning),
    ];
    let mut scaled: i128 = terms
        .iter()
        .map(|&(n, rate)| i128::from(n) * i128::from(rate))
        .sum();
    if !record.media.is_empty() {
        for (medium, counts, rates) in [("audio", audio, &r.audio), ("image", image, &r.image)] {
            for (kind, n, rate) in [
                ("input", counts.input, rates.input),
                ("cached input", counts.cache_read, rates.cache_read),
                ("output", counts.output, rates.output),
            ] {
                if n > 0 {
                    let rate = rate.ok_or_else(|| {
                        format!("“{}” has no {medium} {kind} token price", entry.model)
                    })?;
                    scaled += i128::from(n) * i128::from(rate);
                }
            }
        }
    }
    let mut cost = Money::checked_from_ratio(scaled, TOKENS_PER_RATE).ok_or_else(too_large)?;
    // Where the image tokens are known they are the bill; a per-image price
    // stands in for them only where they are not.
    if record.images.count > 0 && image.output == 0 {
        let images = image_price(entry, record)?
            .checked_times(record.images.count)
            .ok_or_else(too_large)?;
        cost = cost.checked_add(images).ok_or_else(too_large)?;
    }
    entry
        .modifiers
        .apply(&entry.model, record, cost, tier_rates.is_some())
}

/// Image sizes are written many ways: `1024x1024`, `1024-x-1024`, `1024×1024`.
pub fn normalize_image_size(size: &str) -> String {
    size.trim()
        .to_lowercase()
        .replace("-x-", "x")
        .replace('×', "x")
        .replace(' ', "")
}

const DEFAULT_IMAGE_SIZE: &str = "1024x1024";

fn image_price(entry: &ModelPrice, record: &UsageRecord) -> Result<Money, String> {
    let size = normalize_image_size(record.images.size.as_deref().unwrap_or(DEFAULT_IMAGE_SIZE));
    let quality = match &record.images.quality {
        Some(q) => q.trim().to_lowercase(),
        None => entry
            .default_image_quality
            .clone()
            .unwrap_or_else(|| "*".into()),
    };
    let fits = |want: &str, have: &str| have == "*" || want == "*" || want == have;
    let matching: Vec<&ImagePrice> = entry
        .images
        .iter()
        .filter(|p| fits(&size, &p.size) && fits(&quality, &p.quality))
        .collect();
    match matching.as_slice() {
        [] => Err(format!(
            "no image price for “{}” at size {size}, quality {quality}",
            entry.model
        )),
        [first, rest @ ..] if rest.iter().all(|p| p.price == first.price) => Ok(first.price),
        several => {
            let qualities: Vec<&str> = several.iter().map(|p| p.quality.as_str()).collect();
            Err(format!(
                "“{}” prices images by quality: give one of {}",
                entry.model,
                qualities.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests;

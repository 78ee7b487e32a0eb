//! Reading price lists: Tally's own format (the shipped book and user prices) and
//! LiteLLM's `model_prices_and_context_window.json`. Text in, entries out; no I/O.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::money::{Money, parse_scaled};
use super::pricing::{
    ImagePrice, ModalRates, Mode, ModelPrice, Modifiers, Multiple, ONE, Origin, PriceError, Rate,
    Rates, Tier, normalize_image_size, normalize_provider,
};
use super::usage::ServiceTier;

/// One model's price in Tally's format: dollars per million tokens as decimal strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    pub provider: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub mode: Mode,
    /// First day (UTC) this price applies.
    pub from: Date,
    #[serde(flatten)]
    pub rates: RateSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub long_context: Vec<TierSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_quality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input: Option<u64>,
    #[serde(flatten)]
    pub modifiers: ModifierSpec,
}

/// How the price changes with a call's billing, as decimal strings: the
/// multiple of the standard price a tier, fast mode or a region bills
/// (`"0.5"`), and dollars per 1,000 web searches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifierSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Tiers priced outright (`{"flex": {"input": "0.625", "output": "5"}}`)
    /// where no one multiple holds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tier_rates: BTreeMap<String, RateSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub regions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<String>,
}

impl ModifierSpec {
    fn to_modifiers(&self, model: &str) -> Result<Modifiers, PriceFileError> {
        let multiple = |field: &'static str, text: &str| -> Result<Multiple, PriceFileError> {
            parse_scaled(text, 9)
                .ok()
                .and_then(|m| Multiple::try_from(m).ok())
                .filter(|m| *m >= 0)
                .ok_or_else(|| PriceFileError::BadRate {
                    model: model.into(),
                    field,
                    value: text.into(),
                })
        };
        let mut tiers = Vec::new();
        for (tier, field, text) in [
            (ServiceTier::Batch, "batch", &self.batch),
            (ServiceTier::Flex, "flex", &self.flex),
            (ServiceTier::Priority, "priority", &self.priority),
        ] {
            if let Some(text) = text {
                tiers.push((tier, multiple(field, text)?));
            }
        }
        let fast = self
            .fast
            .as_deref()
            .map(|t| multiple("fast", t))
            .transpose()?;
        let regions = self
            .regions
            .iter()
            .map(|(r, t)| Ok((r.to_lowercase(), multiple("regions", t)?)))
            .collect::<Result<_, PriceFileError>>()?;
        let web_search = self
            .web_search
            .as_deref()
            .map(|t| {
                Money::parse_usd(t).map_err(|_| PriceFileError::BadRate {
                    model: model.into(),
                    field: "web_search",
                    value: t.into(),
                })
            })
            .transpose()?;
        let tier_rates = self
            .tier_rates
            .iter()
            .map(|(name, spec)| {
                let tier = ServiceTier::parse(name)
                    .filter(|t| *t != ServiceTier::Standard)
                    .ok_or_else(|| PriceFileError::BadRate {
                        model: model.into(),
                        field: "tier_rates",
                        value: name.clone(),
                    })?;
                Ok((tier, spec.to_rates(model)?))
            })
            .collect::<Result<_, PriceFileError>>()?;
        Ok(Modifiers {
            tiers,
            tier_rates,
            fast,
            regions,
            web_search,
        })
    }

    fn from_modifiers(m: &Modifiers) -> ModifierSpec {
        let text = |v: Multiple| rate_to_string(v);
        let tier = |t: ServiceTier| m.tiers.iter().find(|(x, _)| *x == t).map(|(_, v)| text(*v));
        ModifierSpec {
            batch: tier(ServiceTier::Batch),
            flex: tier(ServiceTier::Flex),
            priority: tier(ServiceTier::Priority),
            tier_rates: m
                .tier_rates
                .iter()
                .map(|(t, r)| (t.name().to_string(), RateSpec::from_rates(r)))
                .collect(),
            fast: m.fast.map(text),
            regions: m
                .regions
                .iter()
                .map(|(r, v)| (r.clone(), text(*v)))
                .collect(),
            web_search: m.web_search.map(|v| rate_to_string(v.nanos())),
        }
    }
}

/// Dollars per million tokens, as decimal strings (`"3"`, `"0.30"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Audio and image tokens' own rates, where a provider bills them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_cache_read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_cache_read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_output: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub above: u64,
    #[serde(flatten)]
    pub rates: RateSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    #[serde(default = "any")]
    pub size: String,
    #[serde(default = "any")]
    pub quality: String,
    /// Dollars per image.
    pub price: String,
}

fn any() -> String {
    "*".into()
}

/// The shipped price book file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookFile {
    /// The date the prices were checked, `YYYY-MM-DD`.
    pub version: String,
    #[serde(default)]
    pub sources: Vec<String>,
    /// What a provider's tiers, fast mode, regions and tools bill, for every
    /// model of its that does not say otherwise.
    #[serde(default)]
    pub providers: BTreeMap<String, ModifierSpec>,
    pub models: Vec<PriceSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum PriceFileError {
    #[error("not a price file: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{model}: {field} “{value}” is not a price in dollars")]
    BadRate {
        model: String,
        field: &'static str,
        value: String,
    },
    #[error(transparent)]
    Invalid(#[from] PriceError),
}

fn rate(
    model: &str,
    field: &'static str,
    value: &Option<String>,
) -> Result<Option<Rate>, PriceFileError> {
    let Some(text) = value else { return Ok(None) };
    let bad = || PriceFileError::BadRate {
        model: model.into(),
        field,
        value: text.clone(),
    };
    let nanos = parse_scaled(text, 9).map_err(|_| bad())?;
    Rate::try_from(nanos).map(Some).map_err(|_| bad())
}

impl RateSpec {
    fn to_rates(&self, model: &str) -> Result<Rates, PriceFileError> {
        Ok(Rates {
            input: rate(model, "input", &self.input)?,
            output: rate(model, "output", &self.output)?,
            cache_read: rate(model, "cache_read", &self.cache_read)?,
            cache_write_5m: rate(model, "cache_write_5m", &self.cache_write_5m)?,
            cache_write_1h: rate(model, "cache_write_1h", &self.cache_write_1h)?,
            reasoning: rate(model, "reasoning", &self.reasoning)?,
            audio: ModalRates {
                input: rate(model, "audio_input", &self.audio_input)?,
                cache_read: rate(model, "audio_cache_read", &self.audio_cache_read)?,
                output: rate(model, "audio_output", &self.audio_output)?,
            },
            image: ModalRates {
                input: rate(model, "image_input", &self.image_input)?,
                cache_read: rate(model, "image_cache_read", &self.image_cache_read)?,
                output: rate(model, "image_output", &self.image_output)?,
            },
        })
    }

    pub fn from_rates(r: &Rates) -> RateSpec {
        let text = |v: Option<Rate>| v.map(rate_to_string);
        RateSpec {
            input: text(r.input),
            output: text(r.output),
            cache_read: text(r.cache_read),
            cache_write_5m: text(r.cache_write_5m),
            cache_write_1h: text(r.cache_write_1h),
            reasoning: text(r.reasoning),
            audio_input: text(r.audio.input),
            audio_cache_read: text(r.audio.cache_read),
            audio_output: text(r.audio.output),
            image_input: text(r.image.input),
            image_cache_read: text(r.image.cache_read),
            image_output: text(r.image.output),
        }
    }
}

/// A rate as the shortest exact decimal: `3`, `0.3`, `0.075`.
pub fn rate_to_string(rate: Rate) -> String {
    let s = Money::from_nanos(rate).to_decimal_string();
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl PriceSpec {
    pub fn to_price(&self, origin: Origin, version: &str) -> Result<ModelPrice, PriceFileError> {
        let model = &self.model;
        let long_context = self
            .long_context
            .iter()
            .map(|t| {
                Ok(Tier {
                    above_tokens: t.above,
                    rates: t.rates.to_rates(model)?,
                })
            })
            .collect::<Result<Vec<_>, PriceFileError>>()?;
        let images = self
            .images
            .iter()
            .map(|i| {
                let price = Money::parse_usd(&i.price).map_err(|_| PriceFileError::BadRate {
                    model: model.clone(),
                    field: "images.price",
                    value: i.price.clone(),
                })?;
                Ok(ImagePrice {
                    size: normalize_image_size(&i.size),
                    quality: i.quality.to_lowercase(),
                    price,
                })
            })
            .collect::<Result<Vec<_>, PriceFileError>>()?;
        let price = ModelPrice {
            provider: normalize_provider(&self.provider),
            model: model.clone(),
            aliases: self.aliases.clone(),
            mode: self.mode,
            effective_from: self.from,
            rates: self.rates.to_rates(model)?,
            long_context,
            images,
            default_image_quality: self.default_quality.as_ref().map(|q| q.to_lowercase()),
            max_input_tokens: self.max_input,
            modifiers: self.modifiers.to_modifiers(model)?,
            origin,
            version: version.to_string(),
        };
        Ok(price.complete()?)
    }

    /// The spec of an entry, for showing and storing it.
    pub fn from_price(p: &ModelPrice) -> PriceSpec {
        PriceSpec {
            provider: p.provider.clone(),
            model: p.model.clone(),
            aliases: p.aliases.clone(),
            mode: p.mode,
            from: p.effective_from,
            rates: RateSpec::from_rates(&p.rates),
            long_context: p
                .long_context
                .iter()
                .map(|t| TierSpec {
                    above: t.above_tokens,
                    rates: RateSpec::from_rates(&t.rates),
                })
                .collect(),
            images: p
                .images
                .iter()
                .map(|i| ImageSpec {
                    size: i.size.clone(),
                    quality: i.quality.clone(),
                    price: Money::to_decimal_string(i.price)
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .to_string(),
                })
                .collect(),
            default_quality: p.default_image_quality.clone(),
            max_input: p.max_input_tokens,
            modifiers: ModifierSpec::from_modifiers(&p.modifiers),
        }
    }
}

/// Parses the shipped book. Its version names every price it holds: `shipped 2026-11-01`.
pub fn parse_book(text: &str) -> Result<(String, Vec<ModelPrice>), PriceFileError> {
    let file: BookFile = serde_json::from_str(text)?;
    let version = format!("shipped {}", file.version);
    let rules = provider_rules(&file)?;
    let mut prices = file
        .models
        .iter()
        .map(|spec| spec.to_price(Origin::Shipped, &version))
        .collect::<Result<Vec<_>, _>>()?;
    for price in &mut prices {
        apply_provider_rules(price, &rules);
    }
    Ok((file.version, prices))
}

/// The book's rules by provider (see `BookFile::providers`).
pub fn book_rules(text: &str) -> Result<BTreeMap<String, Modifiers>, PriceFileError> {
    provider_rules(&serde_json::from_str(text)?)
}

fn provider_rules(file: &BookFile) -> Result<BTreeMap<String, Modifiers>, PriceFileError> {
    file.providers
        .iter()
        .map(|(p, spec)| Ok((normalize_provider(p), spec.to_modifiers(p)?)))
        .collect()
}

/// Fills in what `price` does not say about tiers, fast mode, regions and
/// tools from its provider's rules: a user's or an imported price of an
/// Anthropic model is half price in batch too.
pub fn apply_provider_rules(price: &mut ModelPrice, rules: &BTreeMap<String, Modifiers>) {
    if let Some(rule) = rules.get(&price.provider) {
        price.modifiers.or_from(rule);
    }
}

/// What an import made of a price file.
#[derive(Debug, Default)]
pub struct PriceImport {
    pub prices: Vec<ModelPrice>,
    /// (entry name, why it was not imported), in file order.
    pub skipped: Vec<(String, String)>,
}

const PER_TOKEN_TO_RATE_SCALE: u32 = 15; // $/token → nano-$ per million tokens

/// LiteLLM states prices as float dollars per token. Its shortest decimal form is
/// the number as written in the file, so it converts exactly. Some entries were
/// written from float arithmetic (`1.0000000000000001e-7` for $0.10/M) or are
/// repeating decimals (8/7 dollars per million); those are rounded to Tally's unit,
/// 10^-15 dollars per token, which recovers the decimal meant and is at most half a
/// millionth of a cent per million tokens away.
fn litellm_rate(v: &Value) -> Result<Option<Rate>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => number_rate(n, PER_TOKEN_TO_RATE_SCALE).map(Some),
        other => Err(format!("price {other} is not a number")),
    }
}

/// A price file's number as a rate, `scale` decimal places from the file's
/// unit to nano-dollars per million tokens: exactly as written where it has
/// no more places than that, else the float rounded to the last one.
pub(super) fn number_rate(n: &serde_json::Number, scale: u32) -> Result<Rate, String> {
    let text = n.to_string();
    let scaled = parse_scaled(&text, scale)
        .or_else(|_| {
            let units = n
                .as_f64()
                .map(|v| (v * 10f64.powi(scale as i32)).round())
                .filter(|u| u.is_finite());
            units.map(|u| u as i128).ok_or(())
        })
        .map_err(|_| format!("price {text} is not a finite number"))?;
    Rate::try_from(scaled).map_err(|_| format!("price {text} is too large"))
}

fn field_rate(obj: &serde_json::Map<String, Value>, key: &str) -> Result<Option<Rate>, String> {
    obj.get(key).map_or(Ok(None), |v| {
        litellm_rate(v).map_err(|e| format!("{key}: {e}"))
    })
}

/// `hd/1024-x-1024/dall-e-3` → (`hd`, `1024x1024`, `dall-e-3`); `256-x-256/dall-e-2` → (`standard`, …).
fn sized_image_key(name: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = name.split('/').collect();
    let is_size = |s: &str| {
        let s = normalize_image_size(s);
        s.split_once('x').is_some_and(|(w, h)| {
            !w.is_empty() && !h.is_empty() && (w.to_owned() + h).bytes().all(|b| b.is_ascii_digit())
        })
    };
    match parts.as_slice() {
        [size, model] if is_size(size) => Some((
            "standard".into(),
            normalize_image_size(size),
            (*model).into(),
        )),
        [quality, size, model] if is_size(size) => Some((
            quality.to_lowercase(),
            normalize_image_size(size),
            (*model).into(),
        )),
        _ => None,
    }
}

fn pixels(size: &str) -> Option<u64> {
    let (w, h) = size.split_once('x')?;
    Some(w.parse::<u64>().ok()? * h.parse::<u64>().ok()?)
}

/// Per-pixel prices are floats; published per-image prices are whole tenths of a
/// cent, so the product is rounded to $0.001.
fn per_pixel_image_price(per_pixel: f64, size: &str) -> Option<Money> {
    let mills = (per_pixel * pixels(size)? as f64 * 1000.0).round();
    (mills.is_finite() && mills >= 0.0).then(|| Money::from_nanos(mills as i64 * 1_000_000))
}

#[derive(Default)]
struct Draft {
    key: String,
    provider: String,
    model: String,
    mode: Option<Mode>,
    rates: Rates,
    tiers: BTreeMap<u64, Rates>,
    images: Vec<ImagePrice>,
    max_input: Option<u64>,
    modifiers: Modifiers,
}

/// The multiple of the standard rates a LiteLLM tier (`*_batches`, `*_flex`,
/// `*_priority`) bills, when its input and output rates agree on one (to a
/// millionth); a tier priced some other way keeps its own rates.
fn tier_multiple(base: &Rates, input: Option<Rate>, output: Option<Rate>) -> Option<Multiple> {
    let ratio = |tier: Rate, base: Rate| -> Option<i128> {
        (base > 0).then(|| i128::from(tier) * i128::from(ONE) / i128::from(base))
    };
    let m_in = ratio(input?, base.input?)?;
    let agrees = match (output, base.output) {
        (Some(o), Some(b)) => ratio(o, b).is_some_and(|m_out| (m_out - m_in).abs() <= 1_000),
        (None, _) => true,
        _ => false,
    };
    agrees.then(|| Multiple::try_from(m_in).ok()).flatten()
}

fn mode_of(v: &serde_json::Map<String, Value>) -> Result<Mode, String> {
    match v.get("mode").and_then(Value::as_str) {
        Some("chat" | "completion" | "responses") => Ok(Mode::Chat),
        Some("embedding") => Ok(Mode::Embedding),
        Some("image_generation") => Ok(Mode::Image),
        Some(other) => Err(format!(
            "mode “{other}” is not priced by Tally (chat, embedding and image only)"
        )),
        None => Err("no mode".into()),
    }
}

fn read_rates(obj: &serde_json::Map<String, Value>, draft: &mut Draft) -> Result<(), String> {
    draft.rates = Rates {
        input: field_rate(obj, "input_cost_per_token")?,
        output: field_rate(obj, "output_cost_per_token")?,
        cache_read: field_rate(obj, "cache_read_input_token_cost")?,
        cache_write_5m: field_rate(obj, "cache_creation_input_token_cost")?,
        cache_write_1h: field_rate(obj, "cache_creation_input_token_cost_above_1hr")?,
        reasoning: field_rate(obj, "output_cost_per_reasoning_token")?,
        audio: ModalRates {
            input: field_rate(obj, "input_cost_per_audio_token")?,
            cache_read: field_rate(obj, "cache_read_input_audio_token_cost")?,
            output: field_rate(obj, "output_cost_per_audio_token")?,
        },
        image: ModalRates {
            input: field_rate(obj, "input_cost_per_image_token")?,
            cache_read: field_rate(obj, "cache_read_input_image_token_cost")?,
            output: field_rate(obj, "output_cost_per_image_token")?,
        },
    };
    for key in obj.keys() {
        let Some(k) = key
            .strip_prefix("input_cost_per_token_above_")
            .and_then(|rest| rest.strip_suffix("k_tokens"))
        else {
            continue;
        };
        let Ok(thousands) = k.parse::<u64>() else {
            continue;
        };
        let suffix = format!("above_{k}k_tokens");
        let tier = Rates {
            input: field_rate(obj, key)?,
            output: field_rate(obj, &format!("output_cost_per_token_{suffix}"))?,
            cache_read: field_rate(obj, &format!("cache_read_input_token_cost_{suffix}"))?,
            cache_write_5m: field_rate(obj, &format!("cache_creation_input_token_cost_{suffix}"))?,
            cache_write_1h: field_rate(
                obj,
                &format!("cache_creation_input_token_cost_above_1hr_{suffix}"),
            )?,
            ..Rates::default()
        };
        draft.tiers.insert(thousands * 1000, tier);
    }
    for (tier, suffix) in [
        (ServiceTier::Batch, "batches"),
        (ServiceTier::Flex, "flex"),
        (ServiceTier::Priority, "priority"),
    ] {
        let input = field_rate(obj, &format!("input_cost_per_token_{suffix}"))?;
        let output = field_rate(obj, &format!("output_cost_per_token_{suffix}"))?;
        if let Some(m) = tier_multiple(&draft.rates, input, output) {
            draft.modifiers.tiers.push((tier, m));
        } else if input.is_some() && (output.is_some() || draft.rates.output.is_none()) {
            // No one multiple: the tier's own rates.
            let rates = Rates {
                input,
                output,
                cache_read: field_rate(obj, &format!("cache_read_input_token_cost_{suffix}"))?,
                cache_write_5m: field_rate(
                    obj,
                    &format!("cache_creation_input_token_cost_{suffix}"),
                )?,
                ..Rates::default()
            };
            draft.modifiers.tier_rates.push((tier, rates));
        }
    }
    if let Some(per_image) = field_rate(obj, "output_cost_per_image")? {
        // $/image read at the per-token scale: rate / 10^6 nano-dollars.
        draft.images.push(ImagePrice {
            size: "*".into(),
            quality: "*".into(),
            price: Money::from_ratio(i128::from(per_image), 1_000_000),
        });
    }
    Ok(())
}

/// Whether an entry's input and output prices are both zero or absent: a
/// price file's way of writing "unknown" or "free".
pub(super) fn all_zero(r: &Rates) -> bool {
    [r.input, r.output].iter().all(|v| v.unwrap_or(0) == 0)
}

/// Reads a LiteLLM price file. Every chat, embedding and image entry that carries
/// a real price becomes an entry; everything else is listed with its reason.
pub fn parse_litellm(text: &str, version: &str, from: Date) -> Result<PriceImport, PriceFileError> {
    let root: serde_json::Map<String, Value> = serde_json::from_str(text)?;
    let mut out = PriceImport::default();
    let mut drafts: Vec<Draft> = Vec::new();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut sized: Vec<(String, String, String, String, ImagePrice)> = Vec::new();

    for (key, value) in &root {
        if key == "sample_spec" {
            continue;
        }
        let Some(obj) = value.as_object() else {
            out.skipped.push((key.clone(), "not an object".into()));
            continue;
        };
        let mode = match mode_of(obj) {
            Ok(m) => m,
            Err(why) => {
                out.skipped.push((key.clone(), why));
                continue;
            }
        };
        let Some(raw_provider) = obj.get("litellm_provider").and_then(Value::as_str) else {
            out.skipped
                .push((key.clone(), "no litellm_provider".into()));
            continue;
        };
        let provider = normalize_provider(raw_provider);
        let name = key
            .strip_prefix(&format!("{raw_provider}/"))
            .or_else(|| key.strip_prefix(&format!("{provider}/")))
            .unwrap_or(key)
            .to_lowercase();

        if mode == Mode::Image
            && let Some((quality, size, model)) = sized_image_key(&name)
        {
            let per_image = field_rate(obj, "output_cost_per_image")
                .ok()
                .flatten()
                .or(field_rate(obj, "input_cost_per_image").ok().flatten())
                .map(|r| Money::from_ratio(i128::from(r), 1_000_000))
                .filter(|m| !m.is_zero());
            let per_pixel = ["input_cost_per_pixel", "output_cost_per_pixel"]
                .iter()
                .filter_map(|k| obj.get(*k).and_then(Value::as_f64))
                .find(|v| *v > 0.0)
                .and_then(|v| per_pixel_image_price(v, &size));
            match per_image.or(per_pixel) {
                Some(price) => sized.push((
                    key.clone(),
                    provider.clone(),
                    model.to_lowercase(),
                    quality.clone(),
                    ImagePrice {
                        size,
                        quality,
                        price,
                    },
                )),
                None => out
                    .skipped
                    .push((key.clone(), "no per-image or per-pixel price".into())),
            }
            continue;
        }

        if index.contains_key(&(provider.clone(), name.clone())) {
            out.skipped.push((
                key.clone(),
                format!("duplicate of another entry for {provider} {name}"),
            ));
            continue;
        }
        let mut draft = Draft {
            key: key.clone(),
            provider: provider.clone(),
            model: name.clone(),
            mode: Some(mode),
            max_input: obj.get("max_input_tokens").and_then(Value::as_u64),
            ..Draft::default()
        };
        if let Err(why) = read_rates(obj, &mut draft) {
            out.skipped.push((key.clone(), why));
            continue;
        }
        index.insert((provider, name), drafts.len());
        drafts.push(draft);
    }

    // Sized image prices join their model's entry, or make one of their own.
    for (key, provider, model, _quality, price) in sized {
        let slot = match index.get(&(provider.clone(), model.clone())) {
            Some(&i) => i,
            None => {
                index.insert((provider.clone(), model.clone()), drafts.len());
                drafts.push(Draft {
                    key: key.clone(),
                    provider,
                    model,
                    mode: Some(Mode::Image),
                    ..Draft::default()
                });
                drafts.len() - 1
            }
        };
        drafts[slot].images.push(price);
    }

    for d in drafts {
        let mode = d.mode.unwrap_or(Mode::Chat);
        let has_images = !d.images.is_empty();
        if all_zero(&d.rates) && !(mode == Mode::Image && has_images) {
            out.skipped.push((
                d.key,
                "every rate is zero: LiteLLM writes 0 for unknown or free prices".into(),
            ));
            continue;
        }
        let default_quality = d
            .images
            .iter()
            .map(|i| i.quality.as_str())
            .find(|q| matches!(*q, "standard" | "medium"))
            .map(str::to_string);
        let price = ModelPrice {
            provider: d.provider,
            model: d.model,
            aliases: Vec::new(),
            mode,
            effective_from: from,
            rates: d.rates,
            long_context: d
                .tiers
                .into_iter()
                .map(|(above_tokens, rates)| Tier {
                    above_tokens,
                    rates,
                })
                .collect(),
            images: d.images,
            default_image_quality: default_quality,
            // What LiteLLM does not say comes from the shipped book's rules.
            modifiers: d.modifiers,
            max_input_tokens: d.max_input,
            origin: Origin::Imported,
            version: version.to_string(),
        };
        match price.complete() {
            Ok(p) => out.prices.push(p),
            Err(e) => out.skipped.push((d.key, e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_noise_in_litellm_prices_is_read_as_the_decimal_meant() {
        let rate = |text: &str| litellm_rate(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(rate("3e-06"), Some(3_000_000_000));
        assert_eq!(rate("1.0000000000000001e-7"), Some(100_000_000)); // $0.10 / M
        assert_eq!(rate("0.000015000020000000002"), Some(15_000_020_000));
        assert_eq!(rate("8.900000000000001e-7"), Some(890_000_000));
        assert_eq!(rate("1.1428571428571428e-6"), Some(1_142_857_143)); // 8/7 $ per M, rounded
        assert_eq!(rate("0"), Some(0));
        assert!(litellm_rate(&serde_json::json!("cheap")).is_err());
    }

    #[test]
    fn litellm_tiers_become_multiples_where_input_and_output_agree() {
        let text = r#"{"gpt-x": {"litellm_provider": "openai", "mode": "chat",
            "input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06,
            "input_cost_per_token_batches": 5e-07, "output_cost_per_token_batches": 2e-06,
            "input_cost_per_token_priority": 2e-06, "output_cost_per_token_priority": 8e-06,
            "input_cost_per_token_flex": 5e-07, "output_cost_per_token_flex": 3e-06}}"#;
        let import = parse_litellm(text, "litellm test", "2026-01-01".parse().unwrap()).unwrap();
        let m = &import.prices[0].modifiers;
        assert_eq!(m.tier(ServiceTier::Batch), Some(ONE / 2));
        assert_eq!(m.tier(ServiceTier::Priority), Some(2 * ONE));
        // Flex halves the input but not the output: no single multiple, so
        // the tier keeps its own rates ($0.50 in, $3 out).
        assert_eq!(m.tier(ServiceTier::Flex), None);
        let flex = m.rates_at(ServiceTier::Flex).unwrap();
        assert_eq!((flex.input, flex.output), (Some(ONE / 2), Some(3 * ONE)));
    }
}

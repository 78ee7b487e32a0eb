//! `tally record`: add one priced usage record to the ledger.

use anyhow::bail;
use clap::Args;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use super::args::{self, When};
use super::{TokenArgs, print_json};
use crate::core::usage::{
    Billing, Cost, ImageUsage, MediaTokens, ModalTokens, TokenCounts, UsageRecord,
    input_includes_cache,
};
use crate::core::{Money, PriceBook};
use crate::i18n::{fill, gettext};
use crate::prices;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The model, as the provider names it (e.g. gpt-4o, claude-sonnet-4-5)
    #[arg(long, value_name = "M")]
    pub model: String,
    /// The provider (openai, anthropic, google, mistral, groq, xai, …); found from the model when left out
    #[arg(long, value_name = "P")]
    pub provider: Option<String>,
    #[command(flatten)]
    pub tokens: TokenArgs,
    /// Who made the call
    #[arg(long, value_name = "U", env = "TALLY_USER", default_value = "")]
    pub user: String,
    /// The project it was for
    #[arg(long, value_name = "P", env = "TALLY_PROJECT", default_value = "")]
    pub project: String,
    /// The agent or tool that made it
    #[arg(long, value_name = "A", env = "TALLY_AGENT", default_value = "")]
    pub agent: String,
    /// The task or job it was part of
    #[arg(long, value_name = "T")]
    pub task: Option<String>,
    /// The session it was part of
    #[arg(long, value_name = "S")]
    pub session: Option<String>,
    /// The provider's request id: recording the same id twice counts once
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    /// When the call was made (RFC 3339, e.g. 2025-09-01T10:00:00Z) [default: now]
    #[arg(long, value_name = "TIME", value_parser = args::when)]
    pub at: Option<When>,
    /// What the call cost, when known (a gateway's figure); used instead of the price book
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    pub cost: Option<Money>,
    /// What the call earned, for margins
    #[arg(long, value_name = "USD", value_parser = args::usd, allow_negative_numbers = true)]
    pub revenue: Option<Money>,
    /// Extra facts as KEY=VALUE (repeatable), e.g. --meta success=true
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = meta_pair)]
    pub metadata: Vec<(String, String)>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

fn meta_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(fill(&gettext("“{}” is not KEY=VALUE"), &[text])),
    }
}

/// Builds a priced record from command-line counts, converting the provider's
/// token convention to Tally's.
pub fn build_record(
    book: &PriceBook,
    model: &str,
    provider: Option<&str>,
    t: &TokenArgs,
    at: Timestamp,
) -> anyhow::Result<UsageRecord> {
    let model = model.trim();
    if model.is_empty() {
        bail!(gettext("--model cannot be empty"));
    }
    let resolved = book.resolve(provider.unwrap_or(""), model).ok();
    let provider = match (provider, &resolved) {
        (Some(p), _) => crate::core::pricing::normalize_provider(p),
        (None, Some(r)) => r.provider.clone(),
        (None, None) => String::new(),
    };
    let mut tokens = TokenCounts {
        input: t.input,
        output: t.output,
        cache_read: t.cache_read,
        cache_write_5m: t.cache_write,
        cache_write_1h: t.cache_write_1h,
        reasoning: t.reasoning,
    };
    if input_includes_cache(&provider) && t.cache_read > 0 {
        if t.cache_read > t.input {
            bail!(fill(
                &gettext(
                    "--cache-read ({}) cannot exceed --input ({}): this provider counts cached tokens inside input"
                ),
                &[&t.cache_read.to_string(), &t.input.to_string()]
            ));
        }
        tokens.input = t.input - t.cache_read;
    }
    if t.reasoning > t.output {
        bail!(fill(
            &gettext("--reasoning ({}) cannot exceed --output ({}): output includes reasoning"),
            &[&t.reasoning.to_string(), &t.output.to_string()]
        ));
    }
    let mut record = UsageRecord::new(at, &provider, model);
    record.tokens = tokens;
    record.embedding_tokens = t.embedding;
    record.images = ImageUsage {
        count: t.images,
        size: t.image_size.clone(),
        quality: t.image_quality.clone(),
    };
    record.billing = Billing {
        tier: t.service_tier,
        speed: t.speed,
        region: t
            .region
            .as_deref()
            .map(|r| r.trim().to_lowercase())
            .filter(|r| !r.is_empty()),
        web_searches: t.web_searches,
    };
    record.media = media_tokens(t, input_includes_cache(&provider))?;
    record.validate()?;
    record.cost = book.cost(&record);
    Ok(record)
}

/// The audio and image parts of the counts, in Tally's convention (the
/// cached ones apart from the input).
fn media_tokens(t: &TokenArgs, cache_in_input: bool) -> anyhow::Result<MediaTokens> {
    let modal = |input: u64, cached: u64, output: u64, flags: [&str; 2]| {
        ModalTokens::from_counts(input, cached, output, cache_in_input).ok_or_else(|| {
            anyhow::anyhow!(fill(
                &gettext(
                    "{} ({}) cannot exceed {} ({}): this provider counts cached tokens inside input"
                ),
                &[flags[1], &cached.to_string(), flags[0], &input.to_string()]
            ))
        })
    };
    Ok(MediaTokens {
        audio: modal(
            t.audio_input,
            t.audio_cached,
            t.audio_output,
            ["--audio-input", "--audio-cached"],
        )?,
        image: modal(
            t.image_input_tokens,
            t.image_cached_tokens,
            t.image_output_tokens,
            ["--image-input-tokens", "--image-cached-tokens"],
        )?,
    })
}

/// JSON fields describing a record's cost, shared by `record` and `calc-cost`.
pub fn cost_json(record: &UsageRecord) -> serde_json::Value {
    let (version, reason) = match &record.cost {
        Cost::Priced { price_version, .. } => (Some(price_version.as_str()), None),
        Cost::Reported { .. } => (Some("reported"), None),
        Cost::Unpriced { reason } => (None, Some(reason.as_str())),
    };
    json!({
        "provider": record.provider,
        "model": record.model,
        "cost_usd": record.cost.amount().map(Money::to_decimal_string),
        "unpriced": record.cost.is_unpriced(),
        "unpriced_reason": reason,
        "price_version": version,
    })
}

pub fn run(store: &mut Store, a: RecordArgs) -> anyhow::Result<()> {
    let zone = TimeZone::system();
    let at = match &a.at {
        Some(w) => w.start(&zone).map_err(anyhow::Error::msg)?,
        None => Timestamp::now(),
    };
    // Calls to a model API happen after 1970 and before the last year a day
    // and its budget periods can be computed in (9999 has no next day).
    let year = at.to_zoned(TimeZone::UTC).year();
    if !(1970..=9998).contains(&year) {
        anyhow::bail!(fill(
            &gettext("--at {}: a call's time must be in the years 1970 to 9998"),
            &[&at.to_string()]
        ));
    }
    let book = prices::load(store)?;
    let mut record = build_record(&book, &a.model, a.provider.as_deref(), &a.tokens, at)?;
    record.user = a.user.trim().to_string();
    record.project = a.project.trim().to_string();
    record.agent = a.agent.trim().to_string();
    record.task = a.task;
    record.session = a.session;
    record.request_id = a.request_id;
    record.source = "cli".into();
    record.revenue = a.revenue;
    for (k, v) in a.metadata {
        let value = serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v));
        record.metadata.insert(k, value);
    }
    if let Some(amount) = a.cost {
        record.cost = Cost::Reported { amount };
    }
    let outcome = store.insert(&record)?;
    if !outcome.new {
        // A duplicate reports what the ledger holds, not what this call computed.
        if let Some(stored) = store.record(outcome.id)? {
            record = stored;
        }
    }
    if a.json {
        let mut v = cost_json(&record);
        v["id"] = json!(outcome.id);
        v["new"] = json!(outcome.new);
        v["at"] = json!(record.at.to_string());
        return print_json(&v);
    }
    let cost = match &record.cost {
        Cost::Unpriced { reason } => fill(&gettext("unpriced ({})"), &[reason]),
        other => other.amount().unwrap_or_default().display(),
    };
    if outcome.new {
        println!(
            "{}",
            fill(&gettext("Recorded {} call: {}"), &[&record.model, &cost])
        );
    } else {
        println!(
            "{}",
            fill(
                &gettext("Already recorded (entry {}): {} — nothing added"),
                &[&outcome.id.to_string(), &cost]
            )
        );
    }
    if record.cost.is_unpriced() {
        eprintln!(
            "{}",
            fill(
                &gettext(
                    "Tally has no price for {}. Add one with: tally prices set {} --input USD --output USD"
                ),
                &[&record.model, &record.model]
            )
        );
    }
    Ok(())
}

//! One usage record: a model call, an image batch or an embedding request.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::money::Money;

/// Token counts by kind, in Tally's own convention:
/// - `input` is the *uncached* input; `cache_read` and the two cache writes are
///   separate, so the four input buckets add up (Anthropic's convention; OpenAI's
///   cached-inclusive counts are converted on the way in).
/// - `output` includes `reasoning`; `reasoning` only says how much of it was thinking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenCounts {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub reasoning: u64,
}

impl TokenCounts {
    /// Everything the model read for this request: the figure long-context tiers test.
    pub fn prompt_total(&self) -> u64 {
        self.input + self.cache_read + self.cache_write_5m + self.cache_write_1h
    }

    pub fn cache_write(&self) -> u64 {
        self.cache_write_5m + self.cache_write_1h
    }

    pub fn total(&self) -> u64 {
        self.prompt_total() + self.output
    }

    /// From OpenAI-style counts, where `prompt` *includes* `cached` and `completion`
    /// includes `reasoning`. Cached tokens beyond the prompt are an inconsistency in
    /// the source; they are capped so no bucket goes negative.
    pub fn from_openai(prompt: u64, cached: u64, completion: u64, reasoning: u64) -> TokenCounts {
        let cached = cached.min(prompt);
        TokenCounts {
            input: prompt - cached,
            cache_read: cached,
            output: completion,
            reasoning: reasoning.min(completion),
            ..TokenCounts::default()
        }
    }

    /// From Anthropic-style counts (additive buckets). The cache write total and its
    /// 5m/1h split can disagree (a 0/0 split beside a non-zero total): the write count
    /// is max(total, split sum), the 1h part is billed at the 1h rate, the rest at 5m.
    pub fn from_anthropic(
        input: u64,
        output: u64,
        cache_read: u64,
        write_total: u64,
        split_5m: u64,
        split_1h: u64,
    ) -> TokenCounts {
        let writes = write_total.max(split_5m + split_1h);
        TokenCounts {
            input,
            output,
            cache_read,
            cache_write_5m: writes - split_1h,
            cache_write_1h: split_1h,
            reasoning: 0,
        }
    }
}

/// How many of a record's input, cached input and output tokens were of one
/// medium (audio, or image tokens). They are a part of `TokenCounts`, as
/// `reasoning` is a part of `output`, not more tokens: providers that bill
/// audio or image tokens at their own rates say how many of each there were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModalTokens {
    #[serde(default)]
    pub input: u64,
    #[serde(default)]
    pub cache_read: u64,
    #[serde(default)]
    pub output: u64,
}

impl ModalTokens {
    pub fn is_empty(&self) -> bool {
        *self == ModalTokens::default()
    }

    /// From a source's counts, where `input` includes the `cached` ones when
    /// `cache_in_input` (OpenAI's convention, as `TokenCounts::from_openai`);
    /// none when the cached ones exceed the input they are a part of.
    pub fn from_counts(
        input: u64,
        cached: u64,
        output: u64,
        cache_in_input: bool,
    ) -> Option<ModalTokens> {
        let input = if cache_in_input {
            input.checked_sub(cached)?
        } else {
            input
        };
        Some(ModalTokens {
            input,
            cache_read: cached,
            output,
        })
    }
}

/// The audio and image tokens within a record's tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaTokens {
    #[serde(default)]
    pub audio: ModalTokens,
    #[serde(default)]
    pub image: ModalTokens,
}

impl MediaTokens {
    pub fn is_empty(&self) -> bool {
        self.audio.is_empty() && self.image.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageUsage {
    pub count: u64,
    /// Pixel size as the provider names it, e.g. `1024x1024`.
    pub size: Option<String>,
    /// e.g. `standard`, `hd`, `low`, `medium`, `high`.
    pub quality: Option<String>,
}

/// The service tier a provider ran a call at, as it bills them apart.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ServiceTier {
    #[default]
    Standard,
    /// Asynchronous batches (half price at most providers).
    Batch,
    /// Slower, cheaper (OpenAI, Google).
    Flex,
    /// Faster, dearer (OpenAI, Google, Anthropic).
    Priority,
}

/// How fast a provider ran a call: Anthropic's fast mode bills a multiple.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speed {
    #[default]
    Standard,
    Fast,
}

impl ServiceTier {
    pub const ALL: [ServiceTier; 4] = [
        ServiceTier::Standard,
        ServiceTier::Batch,
        ServiceTier::Flex,
        ServiceTier::Priority,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Batch => "batch",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }

    /// A tier as providers write it: OpenAI's `default` and `auto` and
    /// Anthropic's `standard_only` are the standard tier, `scale` is priority.
    pub fn parse(text: &str) -> Option<ServiceTier> {
        match text.trim().to_ascii_lowercase().as_str() {
            "standard" | "default" | "auto" | "standard_only" | "on_demand" | "" => {
                Some(ServiceTier::Standard)
            }
            "batch" | "batches" => Some(ServiceTier::Batch),
            "flex" => Some(ServiceTier::Flex),
            "priority" | "scale" => Some(ServiceTier::Priority),
            _ => None,
        }
    }
}

impl Speed {
    pub fn name(self) -> &'static str {
        match self {
            Speed::Standard => "standard",
            Speed::Fast => "fast",
        }
    }

    pub fn parse(text: &str) -> Option<Speed> {
        match text.trim().to_ascii_lowercase().as_str() {
            "standard" | "normal" | "" => Some(Speed::Standard),
            "fast" => Some(Speed::Fast),
            _ => None,
        }
    }
}

/// Anthropic's `inference_geo` as a region billed apart (`us`), or none where
/// Anthropic chose where to run the call (`global`, `not_available`).
pub fn inference_region(geo: &str) -> Option<String> {
    Some(geo.trim().to_ascii_lowercase())
        .filter(|g| !matches!(g.as_str(), "" | "global" | "not_available"))
}

/// How a call was billed beyond its tokens: the service tier, the speed, the
/// region it ran in where a provider bills regions apart, and the server
/// tools it used that bill per call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Billing {
    pub tier: ServiceTier,
    pub speed: Speed,
    /// Anthropic's `inference_geo` (`us`); none where the provider chose.
    pub region: Option<String>,
    pub web_searches: u64,
}

/// What a record cost, and how Tally knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cost {
    /// Computed from the price book; `price_version` names the price that applied.
    Priced {
        amount: Money,
        price_version: String,
    },
    /// Given by the caller (a gateway that knows the charge); never repriced.
    Reported { amount: Money },
    /// No price is known: the usage counts, the money does not, and it is shown.
    Unpriced { reason: String },
}

impl Cost {
    pub fn amount(&self) -> Option<Money> {
        match self {
            Cost::Priced { amount, .. } | Cost::Reported { amount } => Some(*amount),
            Cost::Unpriced { .. } => None,
        }
    }

    pub fn is_unpriced(&self) -> bool {
        matches!(self, Cost::Unpriced { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub at: Timestamp,
    pub provider: String,
    pub model: String,
    pub user: String,
    pub project: String,
    pub agent: String,
    /// Where the record came from: `cli`, `claude-code`, `openai-usage`, …
    pub source: String,
    /// The team member's machine that recorded the call; empty for this one.
    /// Not part of the call's identity: one call synced from two machines is one call.
    #[serde(default)]
    pub machine: String,
    pub session: Option<String>,
    pub request_id: Option<String>,
    pub task: Option<String>,
    pub tokens: TokenCounts,
    /// How many of `tokens` were audio or image tokens.
    #[serde(default)]
    pub media: MediaTokens,
    pub images: ImageUsage,
    pub embedding_tokens: u64,
    /// How many calls the record stands for: 1 for a call; a provider's daily
    /// bucket holds many; 0 when unknown or for a billed-only line.
    pub requests: u64,
    pub cost: Cost,
    /// What the provider billed, when an export says so.
    pub billed: Option<Money>,
    pub revenue: Option<Money>,
    #[serde(default)]
    pub billing: Billing,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("the model name is empty")]
    EmptyModel,
    #[error(
        "reasoning tokens ({reasoning}) cannot exceed output tokens ({output}): output includes reasoning"
    )]
    ReasoningExceedsOutput { reasoning: u64, output: u64 },
    #[error("an image size or quality was given without an image count")]
    ImageDetailsWithoutCount,
    #[error("a count of {0} is beyond what the ledger can hold")]
    CountTooLarge(u64),
    #[error(
        "audio and image {kind} tokens ({media}) cannot exceed {kind} tokens ({all}): they are a part of them"
    )]
    MediaExceeds {
        kind: &'static str,
        media: u64,
        all: u64,
    },
}

impl UsageRecord {
    /// A record with the given instant and model and nothing else; the caller fills in the rest.
    pub fn new(at: Timestamp, provider: &str, model: &str) -> Self {
        UsageRecord {
            at,
            provider: provider.to_string(),
            model: model.to_string(),
            user: String::new(),
            project: String::new(),
            agent: String::new(),
            source: String::new(),
            machine: String::new(),
            session: None,
            request_id: None,
            task: None,
            tokens: TokenCounts::default(),
            media: MediaTokens::default(),
            images: ImageUsage::default(),
            embedding_tokens: 0,
            requests: 1,
            cost: Cost::Unpriced {
                reason: "not priced yet".into(),
            },
            billed: None,
            revenue: None,
            billing: Billing::default(),
            metadata: serde_json::Map::new(),
        }
    }

    /// Every count the record carries: tokens by kind, images, embedded tokens.
    fn counts(&self) -> [u64; 8] {
        let t = &self.tokens;
        [
            t.input,
            t.output,
            t.cache_read,
            t.cache_write_5m,
            t.cache_write_1h,
            t.reasoning,
            self.images.count,
            self.embedding_tokens,
        ]
    }

    pub fn validate(&self) -> Result<(), UsageError> {
        if self.model.trim().is_empty() {
            return Err(UsageError::EmptyModel);
        }
        if self.tokens.reasoning > self.tokens.output {
            return Err(UsageError::ReasoningExceedsOutput {
                reasoning: self.tokens.reasoning,
                output: self.tokens.output,
            });
        }
        if let Some(&n) = self
            .counts()
            .iter()
            .chain([&self.requests])
            .find(|&&n| i64::try_from(n).is_err())
        {
            return Err(UsageError::CountTooLarge(n));
        }
        let (a, i, t) = (&self.media.audio, &self.media.image, &self.tokens);
        for (kind, media, all) in [
            ("input", a.input.saturating_add(i.input), t.input),
            (
                "cached input",
                a.cache_read.saturating_add(i.cache_read),
                t.cache_read,
            ),
            (
                "non-reasoning output",
                a.output.saturating_add(i.output),
                t.output - t.reasoning,
            ),
        ] {
            if media > all {
                return Err(UsageError::MediaExceeds { kind, media, all });
            }
        }
        if self.images.count == 0 && (self.images.size.is_some() || self.images.quality.is_some()) {
            return Err(UsageError::ImageDetailsWithoutCount);
        }
        Ok(())
    }

    /// The idempotency key: source + request id when there is one, else a hash of
    /// everything that makes the call what it is. Recording the same call twice
    /// yields the same key, so the store counts it once.
    pub fn dedupe_key(&self) -> [u8; 16] {
        if let Some(id) = &self.request_id {
            return request_key(&self.source, id);
        }
        let mut h = blake3::Hasher::new();
        let mut field = |s: &str| {
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field(&self.source);
        field("content");
        field(&self.at.as_nanosecond().to_string());
        for s in [
            &self.provider,
            &self.model,
            &self.user,
            &self.project,
            &self.agent,
        ] {
            field(s);
        }
        for s in [&self.session, &self.task] {
            field(s.as_deref().unwrap_or("\u{0}"));
        }
        field(&format!("{:?}", self.counts()));
        field(self.images.size.as_deref().unwrap_or(""));
        field(self.images.quality.as_deref().unwrap_or(""));
        short_key(h.finalize())
    }
}

/// The idempotency key of a call a source names by `request_id`.
pub fn request_key(source: &str, request_id: &str) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    for s in [source, "request", request_id] {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    short_key(h.finalize())
}

/// 128 bits of a digest: collisions are out of reach for any ledger.
fn short_key(digest: blake3::Hash) -> [u8; 16] {
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest.as_bytes()[..16]);
    key
}

/// Whether a provider counts cached tokens inside its input count. Anthropic
/// reports them apart; OpenAI and the providers that follow its API do not.
pub fn input_includes_cache(provider: &str) -> bool {
    provider != "anthropic"
}

/// Sums over a group of records: what every report and query adds up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub requests: u64,
    pub tokens: TokenCounts,
    pub images: u64,
    pub embedding_tokens: u64,
    /// Sum of the priced and reported costs; unpriced records add nothing here.
    pub cost: Money,
    /// Records with no price: shown beside `cost`, never folded into it as $0.
    pub unpriced: u64,
    pub billed: Money,
    pub revenue: Money,
    /// Records counted (a provider's daily bucket is one record of many requests).
    pub records: u64,
}

impl Totals {
    pub fn of(r: &UsageRecord) -> Totals {
        Totals {
            requests: r.requests,
            tokens: r.tokens,
            images: r.images.count,
            embedding_tokens: r.embedding_tokens,
            cost: r.cost.amount().unwrap_or(Money::ZERO),
            unpriced: u64::from(r.cost.is_unpriced()),
            billed: r.billed.unwrap_or(Money::ZERO),
            revenue: r.revenue.unwrap_or(Money::ZERO),
            records: 1,
        }
    }

    /// Takes away a part that `self` includes (the records after `now` in the
    /// current hour's rollup row).
    pub fn remove(&mut self, o: &Totals) {
        self.requests -= o.requests.min(self.requests);
        let (t, u) = (&mut self.tokens, &o.tokens);
        t.input -= u.input.min(t.input);
        t.output -= u.output.min(t.output);
        t.cache_read -= u.cache_read.min(t.cache_read);
        t.cache_write_5m -= u.cache_write_5m.min(t.cache_write_5m);
        t.cache_write_1h -= u.cache_write_1h.min(t.cache_write_1h);
        t.reasoning -= u.reasoning.min(t.reasoning);
        self.images -= o.images.min(self.images);
        self.embedding_tokens -= o.embedding_tokens.min(self.embedding_tokens);
        self.cost = self.cost - o.cost;
        self.unpriced -= o.unpriced.min(self.unpriced);
        self.billed = self.billed - o.billed;
        self.revenue = self.revenue - o.revenue;
        self.records -= o.records.min(self.records);
    }

    /// As `add`, holding each sum at its type's limit instead of overflowing.
    pub fn add_saturating(&mut self, o: &Totals) {
        let sat = |a: &mut u64, b: u64| *a = a.saturating_add(b);
        sat(&mut self.requests, o.requests);
        let (t, u) = (&mut self.tokens, &o.tokens);
        sat(&mut t.input, u.input);
        sat(&mut t.output, u.output);
        sat(&mut t.cache_read, u.cache_read);
        sat(&mut t.cache_write_5m, u.cache_write_5m);
        sat(&mut t.cache_write_1h, u.cache_write_1h);
        sat(&mut t.reasoning, u.reasoning);
        sat(&mut self.images, o.images);
        sat(&mut self.embedding_tokens, o.embedding_tokens);
        self.cost = self.cost.saturating_add(o.cost);
        sat(&mut self.unpriced, o.unpriced);
        self.billed = self.billed.saturating_add(o.billed);
        self.revenue = self.revenue.saturating_add(o.revenue);
        sat(&mut self.records, o.records);
    }

    pub fn add(&mut self, o: &Totals) {
        self.requests += o.requests;
        let (t, u) = (&mut self.tokens, &o.tokens);
        t.input += u.input;
        t.output += u.output;
        t.cache_read += u.cache_read;
        t.cache_write_5m += u.cache_write_5m;
        t.cache_write_1h += u.cache_write_1h;
        t.reasoning += u.reasoning;
        self.images += o.images;
        self.embedding_tokens += o.embedding_tokens;
        self.cost += o.cost;
        self.unpriced += o.unpriced;
        self.billed += o.billed;
        self.revenue += o.revenue;
        self.records += o.records;
    }
}

/// What usage can be grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Day,
    Week,
    Month,
    Provider,
    Model,
    User,
    Project,
    Agent,
    Source,
    Machine,
}

impl Dimension {
    pub const ALL: [Dimension; 10] = [
        Dimension::Day,
        Dimension::Week,
        Dimension::Month,
        Dimension::Provider,
        Dimension::Model,
        Dimension::User,
        Dimension::Project,
        Dimension::Agent,
        Dimension::Source,
        Dimension::Machine,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dimension::Day => "day",
            Dimension::Week => "week",
            Dimension::Month => "month",
            Dimension::Provider => "provider",
            Dimension::Model => "model",
            Dimension::User => "user",
            Dimension::Project => "project",
            Dimension::Agent => "agent",
            Dimension::Source => "source",
            Dimension::Machine => "machine",
        }
    }

    pub fn is_time(self) -> bool {
        matches!(self, Dimension::Day | Dimension::Week | Dimension::Month)
    }

    /// The record's value for a non-time dimension.
    pub fn value_of(self, r: &UsageRecord) -> &str {
        match self {
            Dimension::Provider => &r.provider,
            Dimension::Model => &r.model,
            Dimension::User => &r.user,
            Dimension::Project => &r.project,
            Dimension::Agent => &r.agent,
            Dimension::Source => &r.source,
            Dimension::Machine => &r.machine,
            Dimension::Day | Dimension::Week | Dimension::Month => "",
        }
    }
}

impl std::str::FromStr for Dimension {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Dimension::ALL.iter().map(|d| d.name()).collect();
                format!("“{s}” is not a dimension (one of {})", names.join(", "))
            })
    }
}

/// The bucket a local day falls in: itself, the week that holds it (named by its
/// first day, weeks starting on `week_start`), or its month (`YYYY-MM`).
pub fn time_bucket(
    dim: Dimension,
    day: jiff::civil::Date,
    week_start: jiff::civil::Weekday,
) -> String {
    match dim {
        Dimension::Week => {
            let back = i64::from(day.weekday().since(week_start));
            let start = day.checked_sub(jiff::Span::new().days(back)).unwrap_or(day);
            start.to_string()
        }
        Dimension::Month => format!("{:04}-{:02}", day.year(), day.month()),
        _ => day.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> UsageRecord {
        let mut r = UsageRecord::new("2025-09-01T10:00:00Z".parse().unwrap(), "openai", "gpt-4o");
        r.source = "cli".into();
        r.tokens.input = 100;
        r.tokens.output = 20;
        r
    }

    #[test]
    fn same_call_same_key_and_any_difference_changes_it() {
        let a = record();
        assert_eq!(a.dedupe_key(), record().dedupe_key());
        let mut b = record();
        b.tokens.output = 21;
        assert_ne!(a.dedupe_key(), b.dedupe_key());
        let mut c = record();
        c.project = "x".into();
        assert_ne!(a.dedupe_key(), c.dedupe_key());
    }

    #[test]
    fn request_id_decides_alone_within_a_source() {
        let mut a = record();
        a.request_id = Some("req_1".into());
        let mut b = a.clone();
        b.tokens.output = 999;
        assert_eq!(a.dedupe_key(), b.dedupe_key());
        b.source = "other".into();
        assert_ne!(a.dedupe_key(), b.dedupe_key());
    }

    #[test]
    fn openai_counts_split_cached_out_of_input() {
        let t = TokenCounts::from_openai(10_000, 4_000, 1_000, 600);
        assert_eq!(
            (t.input, t.cache_read, t.output, t.reasoning),
            (6_000, 4_000, 1_000, 600)
        );
        assert_eq!(t.prompt_total(), 10_000);
        let odd = TokenCounts::from_openai(100, 150, 10, 20);
        assert_eq!((odd.input, odd.cache_read, odd.reasoning), (0, 100, 10));
    }

    #[test]
    fn anthropic_cache_write_split_takes_the_larger_count() {
        let zero_split = TokenCounts::from_anthropic(10, 5, 0, 1_000, 0, 0);
        assert_eq!(
            (zero_split.cache_write_5m, zero_split.cache_write_1h),
            (1_000, 0)
        );
        let split = TokenCounts::from_anthropic(10, 5, 0, 1_000, 300, 700);
        assert_eq!((split.cache_write_5m, split.cache_write_1h), (300, 700));
        let short_total = TokenCounts::from_anthropic(10, 5, 0, 500, 300, 700);
        assert_eq!(
            (short_total.cache_write_5m, short_total.cache_write_1h),
            (300, 700)
        );
        let long_total = TokenCounts::from_anthropic(10, 5, 0, 1_200, 300, 700);
        assert_eq!(
            (long_total.cache_write_5m, long_total.cache_write_1h),
            (500, 700)
        );
    }

    #[test]
    fn time_buckets_name_their_first_day() {
        let d: jiff::civil::Date = "2025-09-03".parse().unwrap(); // a Wednesday
        let monday = jiff::civil::Weekday::Monday;
        assert_eq!(time_bucket(Dimension::Day, d, monday), "2025-09-03");
        assert_eq!(time_bucket(Dimension::Week, d, monday), "2025-09-01");
        assert_eq!(
            time_bucket(Dimension::Week, d, jiff::civil::Weekday::Sunday),
            "2025-08-31"
        );
        assert_eq!(
            time_bucket(Dimension::Week, "2025-09-01".parse().unwrap(), monday),
            "2025-09-01"
        );
        assert_eq!(time_bucket(Dimension::Month, d, monday), "2025-09");
    }

    #[test]
    fn validation_names_the_problem() {
        let mut r = record();
        r.tokens.reasoning = 50;
        assert_eq!(
            r.validate(),
            Err(UsageError::ReasoningExceedsOutput {
                reasoning: 50,
                output: 20
            })
        );
        let mut r = record();
        r.model = " ".into();
        assert_eq!(r.validate(), Err(UsageError::EmptyModel));
    }
}

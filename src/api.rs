//! What the command line's `--json`, the REST API and the MCP tools answer:
//! one function per question, so `tally status --json`, `GET /api/v1/status`
//! and the `budget_status` tool can never drift apart. The request types are
//! what the handlers parse and what the OpenAPI document describes.

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cli::TokenArgs;
use crate::cli::args::{self, When};
use crate::cli::record::{build_record, cost_json};
use crate::core::check::{Decision, PolicyUse, decide};
use crate::core::policy::Dims;
use crate::core::usage::{Cost, Dimension, Totals, UsageRecord};
use crate::engine::{self, PolicyStatus};
use crate::i18n::{fill, gettext};
use crate::store::{AlertState, Inserted, Store, StoreError, UsageQuery};

/// Bad input, with the field it was found in.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BadInput {
    /// The request field that is wrong, when one is.
    pub field: Option<String>,
    pub error: String,
}

impl BadInput {
    pub fn new(field: &str, error: impl Into<String>) -> BadInput {
        BadInput {
            field: Some(field.to_string()),
            error: error.into(),
        }
    }

    /// A message from the command-line builders, which name flags
    /// (`--cache-read`): the field is the first flag named, in the API's spelling.
    fn from_cli(message: String) -> BadInput {
        let field = message.split_whitespace().find_map(|w| {
            let flag = w.strip_prefix("--")?;
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            Some(match name.as_str() {
                "cache-write" => "cache_write".to_string(),
                "estimated-input" => "estimated_input".to_string(),
                other => other.replace('-', "_"),
            })
        });
        BadInput {
            field,
            error: message,
        }
    }
}

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// Why a question could not be answered: the caller's input, or the ledger.
#[derive(Debug)]
pub enum ApiError {
    Bad(BadInput),
    Store(StoreError),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Store(e)
    }
}

impl From<BadInput> for ApiError {
    fn from(e: BadInput) -> ApiError {
        ApiError::Bad(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Bad(b) => b.fmt(f),
            ApiError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ApiError {}

// ---------------------------------------------------------------- status

/// One budget, as `tally status --json` shows it.
pub fn status_json(s: &PolicyStatus) -> Value {
    let m = s.metric;
    json!({
        "id": s.id,
        "name": s.name,
        "scope": s.scope,
        "metric": m.name(),
        "period": s.period,
        "action": s.action,
        "enabled": s.enabled,
        "used": m.plain(s.used),
        "limit": m.plain(s.limit),
        "percent": s.basis_points as f64 / 100.0,
        "remaining": m.plain(s.remaining),
        "state": s.state.name(),
        "window_start": s.window_start.to_string(),
        "resets_at": s.resets_at.map(|t| t.to_string()),
        "forecast": s.projection.map(|p| engine::projection_json(m, p)),
        "override_until": s.override_until.map(|t| t.to_string()),
        "unpriced_records": s.unpriced,
        "team": s.team,
    })
}

/// Every budget at `now`.
pub fn status(store: &Store, now: Timestamp) -> Result<Value, StoreError> {
    let statuses = engine::status(store, now)?;
    Ok(json!({
        "at": now.to_string(),
        "policies": statuses.iter().map(status_json).collect::<Vec<_>>(),
    }))
}

// ---------------------------------------------------------------- usage

/// `GET /api/v1/usage`, the `usage_summary` tool: `tally usage`'s options.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRequest {
    /// From this day or time (2026-11-01, 2026-11-01T10:00 or RFC 3339)
    pub since: Option<String>,
    /// Up to this day or time (a date includes the whole day)
    pub until: Option<String>,
    /// day, week, month, provider, model, user, project, agent or source, comma-separated
    pub group_by: Option<String>,
    /// An IANA time zone whose days count [default: the system's]
    pub tz: Option<String>,
}

/// The range and grouping a usage question asks for, checked.
#[derive(Debug, Clone)]
pub struct UsageAsk {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub group_by: Vec<Dimension>,
    pub zone: TimeZone,
}

impl UsageRequest {
    pub fn ask(&self) -> Result<UsageAsk, BadInput> {
        let zone = match &self.tz {
            Some(z) => args::zone(z).map_err(|e| BadInput::new("tz", e))?,
            None => TimeZone::system(),
        };
        let at = |field: &str, text: &Option<String>, end: bool| {
            text.as_deref()
                .map(|t| {
                    let w: When = args::when(t).map_err(|e| BadInput::new(field, e))?;
                    if end { w.end(&zone) } else { w.start(&zone) }
                        .map_err(|e| BadInput::new(field, e))
                })
                .transpose()
        };
        let since = at("since", &self.since, false)?;
        let until = at("until", &self.until, true)?;
        let mut group_by = Vec::new();
        for part in self.group_by.iter().flat_map(|g| g.split(',')) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let d: Dimension = part
                .parse()
                .map_err(|e: String| BadInput::new("group_by", e))?;
            if !group_by.contains(&d) {
                group_by.push(d);
            }
        }
        UsageAsk::new(since, until, group_by, zone)
    }
}

impl UsageAsk {
    pub fn new(
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        group_by: Vec<Dimension>,
        zone: TimeZone,
    ) -> Result<UsageAsk, BadInput> {
        if let (Some(s), Some(u)) = (since, until)
            && u <= s
        {
            return Err(BadInput::new(
                "until",
                gettext("--until must be after --since"),
            ));
        }
        Ok(UsageAsk {
            since,
            until,
            group_by,
            zone,
        })
    }
}

/// One row of the usage document: its dimensions, then the totals. Serialized
/// directly (no intermediate `Value`): a year by day × model is thousands of rows.
pub struct UsageRowDoc<'a> {
    dims: &'a [Dimension],
    keys: &'a [String],
    totals: &'a Totals,
}

impl Serialize for UsageRowDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let t = self.totals;
        let mut m = s.serialize_map(Some(self.dims.len() + 13))?;
        for (dim, key) in self.dims.iter().zip(self.keys) {
            m.serialize_entry(dim.name(), key)?;
        }
        m.serialize_entry("requests", &t.requests)?;
        m.serialize_entry("input_tokens", &t.tokens.input)?;
        m.serialize_entry("output_tokens", &t.tokens.output)?;
        m.serialize_entry("cache_read_tokens", &t.tokens.cache_read)?;
        m.serialize_entry("cache_write_tokens", &t.tokens.cache_write())?;
        m.serialize_entry("cache_write_1h_tokens", &t.tokens.cache_write_1h)?;
        m.serialize_entry("reasoning_tokens", &t.tokens.reasoning)?;
        m.serialize_entry("embedding_tokens", &t.embedding_tokens)?;
        m.serialize_entry("images", &t.images)?;
        m.serialize_entry("cost_usd", &t.cost)?;
        m.serialize_entry("unpriced", &t.unpriced)?;
        m.serialize_entry("billed_usd", &t.billed)?;
        m.serialize_entry("records", &t.records)?;
        m.end()
    }
}

/// The usage document, `tally usage --json`'s contract.
#[derive(Serialize)]
pub struct UsageDoc<'a> {
    zone: &'a str,
    since: Option<String>,
    until: Option<String>,
    rows: Vec<UsageRowDoc<'a>>,
    total: UsageRowDoc<'a>,
}

/// The rows and the total a usage question asks for.
pub fn usage_rows(
    store: &Store,
    ask: &UsageAsk,
) -> Result<(Vec<crate::store::UsageRow>, Totals), StoreError> {
    store.usage(&UsageQuery {
        since: ask.since,
        until: ask.until,
        group_by: ask.group_by.clone(),
        zone: ask.zone.clone(),
        week_start: Weekday::Monday,
    })
}

impl<'a> UsageDoc<'a> {
    pub fn new(
        ask: &'a UsageAsk,
        rows: &'a [crate::store::UsageRow],
        total: &'a Totals,
    ) -> UsageDoc<'a> {
        UsageDoc {
            zone: ask.zone.iana_name().unwrap_or("UTC"),
            since: ask.since.map(|t| t.to_string()),
            until: ask.until.map(|t| t.to_string()),
            rows: rows
                .iter()
                .map(|r| UsageRowDoc {
                    dims: &ask.group_by,
                    keys: &r.keys,
                    totals: &r.totals,
                })
                .collect(),
            total: UsageRowDoc {
                dims: &[],
                keys: &[],
                totals: total,
            },
        }
    }
}

/// The usage document as a value (the MCP tool's answer).
pub fn usage(store: &Store, ask: &UsageAsk) -> Result<Value, StoreError> {
    let (rows, total) = usage_rows(store, ask)?;
    Ok(serde_json::to_value(UsageDoc::new(ask, &rows, &total)).unwrap_or(Value::Null))
}

// ---------------------------------------------------------------- check

/// `POST /api/v1/check`, the `check_budget` tool: may this call go ahead?
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The model the call will use
    pub model: String,
    /// The provider; found from the model when left out
    pub provider: Option<String>,
    /// Input tokens the call is expected to send
    #[serde(default)]
    pub estimated_input: u64,
    /// Output tokens the call is expected to produce
    #[serde(default)]
    pub estimated_output: u64,
    /// Images the call will generate
    #[serde(default)]
    pub images: u64,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub agent: String,
}

/// The decision and the document `tally check --json` prints. A blocked
/// call is recorded as a policy-violation alert, as from the command line.
pub fn check(
    store: &mut Store,
    book: &crate::core::PriceBook,
    req: &CheckRequest,
    now: Timestamp,
) -> Result<(Decision, Value), ApiError> {
    let tokens = TokenArgs {
        input: checked_count("estimated_input", req.estimated_input)?,
        output: checked_count("estimated_output", req.estimated_output)?,
        images: checked_count("images", req.images)?,
        ..TokenArgs::default()
    };
    let record = build_record(book, &req.model, req.provider.as_deref(), &tokens, now)
        .map_err(|e| bad_model_or(e.to_string()))?;
    let call = Totals::of(&record);
    let machine = store.this_machine()?;
    let dims = Dims {
        provider: &record.provider,
        model: &record.model,
        user: &req.user,
        project: &req.project,
        agent: &req.agent,
        machine: &machine,
    };
    let matching: Vec<_> = store
        .policies()?
        .into_iter()
        .filter(|p| p.enabled && p.scope.matches(&dims))
        .collect();
    let spend = store.policy_spend(&matching, now)?;
    let uses: Vec<PolicyUse> = matching
        .iter()
        .zip(&spend)
        .map(|(p, s)| PolicyUse {
            policy: p,
            window: s.window,
            used: s.used,
        })
        .collect();
    let decision = decide(now, &call, !record.cost.is_unpriced(), &uses);
    if decision.verdict == crate::core::check::Verdict::Block {
        engine::record_violation(store, now, &decision, &record.model)?;
    }
    let doc = json!({
        "decision": decision,
        "estimate": cost_json(&record),
        "policies_checked": matching.len(),
    });
    Ok((decision, doc))
}

fn bad_model_or(message: String) -> BadInput {
    let b = BadInput::from_cli(message);
    if b.field.is_some() {
        b
    } else {
        BadInput {
            field: Some("model".into()),
            error: b.error,
        }
    }
}

fn checked_count(field: &str, n: u64) -> Result<u64, BadInput> {
    args::count(&n.to_string()).map_err(|e| BadInput::new(field, e))
}

// ---------------------------------------------------------------- record

/// `POST /api/v1/record`, the `record_usage` tool: `tally record`'s fields.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    /// The model, as the provider names it (e.g. gpt-4o, claude-sonnet-4-5)
    pub model: String,
    /// openai, anthropic, google, …; found from the model when left out
    pub provider: Option<String>,
    /// Input tokens as the provider reports them (OpenAI, Google, xAI, Mistral and Groq count cached tokens inside)
    #[serde(default)]
    pub input: u64,
    /// Output tokens, reasoning included
    #[serde(default)]
    pub output: u64,
    #[serde(default)]
    pub cache_read: u64,
    /// Input tokens written to the cache (5-minute lifetime)
    #[serde(default)]
    pub cache_write: u64,
    #[serde(default)]
    pub cache_write_1h: u64,
    #[serde(default)]
    pub reasoning: u64,
    #[serde(default)]
    pub embedding: u64,
    #[serde(default)]
    pub images: u64,
    pub image_size: Option<String>,
    pub image_quality: Option<String>,
    /// standard, batch, flex or priority
    pub service_tier: Option<String>,
    /// standard or fast
    pub speed: Option<String>,
    #[serde(default)]
    pub web_searches: u64,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub agent: String,
    pub task: Option<String>,
    pub session: Option<String>,
    /// The provider's request id: recording the same id twice counts once
    pub request_id: Option<String>,
    /// When the call was made (RFC 3339) [default: now]
    pub at: Option<String>,
    /// What the call cost, when known, as a decimal string or number of dollars
    pub cost_usd: Option<Value>,
    pub revenue_usd: Option<Value>,
    #[serde(default)]
    pub metadata: serde_json::Map<String, Value>,
}

/// A dollar amount given as `"0.25"` or `0.25`.
fn dollars(field: &str, v: &Option<Value>) -> Result<Option<crate::core::Money>, BadInput> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(BadInput::new(field, gettext("not an amount of dollars"))),
    };
    args::usd(&text)
        .map(Some)
        .map_err(|e| BadInput::new(field, e))
}

impl RecordRequest {
    /// The priced record this asks to store, from `source`.
    pub fn to_record(
        &self,
        book: &crate::core::PriceBook,
        source: &str,
        now: Timestamp,
    ) -> Result<UsageRecord, BadInput> {
        let at = match &self.at {
            Some(t) => args::when(t)
                .and_then(|w| w.start(&TimeZone::system()))
                .map_err(|e| BadInput::new("at", e))?,
            None => now,
        };
        let year = at.to_zoned(TimeZone::UTC).year();
        if !(1970..=9998).contains(&year) {
            return Err(BadInput::new(
                "at",
                fill(
                    &gettext("--at {}: a call's time must be in the years 1970 to 9998"),
                    &[&at.to_string()],
                ),
            ));
        }
        let tier = match &self.service_tier {
            Some(t) => args::service_tier(t).map_err(|e| BadInput::new("service_tier", e))?,
            None => Default::default(),
        };
        let speed = match &self.speed {
            Some(s) => args::speed(s).map_err(|e| BadInput::new("speed", e))?,
            None => Default::default(),
        };
        if self.images == 0 && (self.image_size.is_some() || self.image_quality.is_some()) {
            return Err(BadInput::new(
                "images",
                gettext("an image size or quality was given without an image count"),
            ));
        }
        let tokens = TokenArgs {
            input: checked_count("input", self.input)?,
            output: checked_count("output", self.output)?,
            cache_read: checked_count("cache_read", self.cache_read)?,
            cache_write: checked_count("cache_write", self.cache_write)?,
            cache_write_1h: checked_count("cache_write_1h", self.cache_write_1h)?,
            reasoning: checked_count("reasoning", self.reasoning)?,
            embedding: checked_count("embedding", self.embedding)?,
            images: checked_count("images", self.images)?,
            image_size: self.image_size.clone(),
            image_quality: self.image_quality.clone(),
            service_tier: tier,
            speed,
            web_searches: checked_count("web_searches", self.web_searches)?,
            ..TokenArgs::default()
        };
        let mut record = build_record(book, &self.model, self.provider.as_deref(), &tokens, at)
            .map_err(|e| bad_model_or(e.to_string()))?;
        record.user = self.user.trim().to_string();
        record.project = self.project.trim().to_string();
        record.agent = self.agent.trim().to_string();
        record.task = self.task.clone();
        record.session = self.session.clone();
        record.request_id = self.request_id.clone().filter(|r| !r.is_empty());
        record.source = source.to_string();
        record.revenue = dollars("revenue_usd", &self.revenue_usd)?;
        record.metadata = self.metadata.clone();
        if let Some(amount) = dollars("cost_usd", &self.cost_usd)? {
            record.cost = Cost::Reported { amount };
        }
        Ok(record)
    }
}

/// A stored record, as `POST record` answers and the `record` event carries.
pub fn record_json(id: i64, r: &UsageRecord) -> Value {
    let mut v = cost_json(r);
    let t = &r.tokens;
    let extra = json!({
        "id": id,
        "at": r.at.to_string(),
        "user": r.user,
        "project": r.project,
        "agent": r.agent,
        "source": r.source,
        "machine": r.machine,
        "session": r.session,
        "request_id": r.request_id,
        "input_tokens": t.input,
        "output_tokens": t.output,
        "cache_read_tokens": t.cache_read,
        "cache_write_tokens": t.cache_write(),
        "reasoning_tokens": t.reasoning,
        "images": r.images.count,
        "requests": r.requests,
    });
    if let (Value::Object(m), Value::Object(more)) = (&mut v, extra) {
        m.extend(more);
    }
    v
}

/// What storing a record answers: the record as the ledger holds it, and
/// whether it is new.
pub fn stored_json(outcome: Inserted, stored: &UsageRecord) -> Value {
    let mut v = record_json(outcome.id, stored);
    v["new"] = json!(outcome.new);
    v
}

// ---------------------------------------------------------------- alerts

/// `GET /api/v1/alerts`: open alerts (every one with `all`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsRequest {
    /// Include resolved alerts
    #[serde(default)]
    pub all: bool,
    /// At most this many [default: 50]
    pub limit: Option<usize>,
}

pub fn alerts(store: &Store, req: &AlertsRequest) -> Result<Value, StoreError> {
    let states: &[AlertState] = if req.all {
        &[]
    } else {
        &[AlertState::Active, AlertState::Acknowledged]
    };
    let list = store.alerts(states, req.limit.unwrap_or(50).min(10_000))?;
    Ok(json!({ "alerts": list }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_in_a_message_names_the_api_field() {
        let b = BadInput::from_cli(
            "--cache-read (5) cannot exceed --input (4): this provider counts".into(),
        );
        assert_eq!(b.field.as_deref(), Some("cache_read"));
        assert_eq!(BadInput::from_cli("no flag".into()).field, None);
    }

    #[test]
    fn usage_requests_are_checked_field_by_field() {
        let bad = UsageRequest {
            group_by: Some("model,colour".into()),
            ..Default::default()
        };
        assert_eq!(bad.ask().unwrap_err().field.as_deref(), Some("group_by"));
        let backwards = UsageRequest {
            since: Some("2026-11-02".into()),
            until: Some("2026-11-01T00:00:00Z".into()),
            tz: Some("UTC".into()),
            ..Default::default()
        };
        assert_eq!(backwards.ask().unwrap_err().field.as_deref(), Some("until"));
        let ok = UsageRequest {
            group_by: Some("model, day,model".into()),
            tz: Some("UTC".into()),
            ..Default::default()
        };
        assert_eq!(
            ok.ask().unwrap().group_by,
            vec![Dimension::Model, Dimension::Day]
        );
    }
}

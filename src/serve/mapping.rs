//! What an OTLP item means to the ledger: a model call (a usage record, in
//! the agent's own source so that the same call from its log files counts
//! once), a sum of calls told elsewhere, or something that is not usage.
//!
//! Per-request usage, as each agent sends it (checked against their public
//! source and documentation, late 2026):
//! - Claude Code: the log event `claude_code.api_request` (`model`,
//!   `input_tokens`, `output_tokens`, `cache_read_tokens`,
//!   `cache_creation_tokens`, `cost_usd`, `session.id`, `prompt.id`);
//!   Anthropic's counts, cache beside input.
//! - Codex: the log event `codex.sse_event` with `event.kind` =
//!   `response.completed` (`input_token_count` with the cached ones inside,
//!   `cached_token_count`, `output_token_count`, `reasoning_token_count`,
//!   `conversation.id`).
//! - Gemini CLI: the log event `gemini_cli.api_response` (`input_token_count`,
//!   `cached_content_token_count` inside it, `output_token_count`,
//!   `thoughts_token_count`, `tool_token_count`, `total_token_count`).
//! - GitHub Copilot CLI and any app on the GenAI semantic conventions:
//!   `chat` spans with `gen_ai.usage.*` (see `ingest::copilot`).
//!
//! The metrics (`claude_code.token.usage`, `gen_ai.client.token.usage`) are
//! sums of the calls the events tell: counted, never recorded.

use jiff::Timestamp;
use serde_json::Value;

use super::otlp::{Item, Kind};
use crate::core::usage::{Speed, TokenCounts, UsageRecord};
use crate::ingest::agent::Agent;
use crate::ingest::copilot::{self, Skip};

/// What one item is.
#[derive(Debug)]
pub enum Mapped {
    Record(Box<UsageRecord>),
    /// A sum of calls (a metric, an agent span) or another view of one.
    Aggregate,
    /// Telemetry that tells no usage: a tool call, a prompt, a span.
    NotUsage,
    /// Usage that cannot be read, and why.
    Bad(String),
}

/// The metadata key of a record named by its contents, not by an id the
/// agent gave: a log file's copy of the call is found by its counts.
pub const FINGERPRINT: &str = "otel_fingerprint";

/// The agent a service name stands for, where Tally reads that agent.
fn agent_of(service: &str) -> Option<Agent> {
    let s = service.to_ascii_lowercase();
    if s.contains("claude") {
        Some(Agent::ClaudeCode)
    } else if s.contains("codex") {
        Some(Agent::Codex)
    } else if s.contains("gemini") {
        Some(Agent::GeminiCli)
    } else if s.contains("qwen") {
        Some(Agent::QwenCode)
    } else if s.contains("copilot") {
        Some(Agent::Copilot)
    } else if s.contains("opencode") {
        Some(Agent::OpenCode)
    } else {
        None
    }
}

/// A whole number of tokens, given as a number or a numeral (Claude Code's
/// attributes are text).
fn count(item: &Item, key: &str) -> Result<u64, String> {
    match item.attributes.get(key) {
        None | Some(Value::Null) => Some(0),
        Some(Value::String(s)) if s.trim().is_empty() => Some(0),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Some(_) => None,
    }
    .filter(|n| *n <= 1_000_000_000_000)
    .ok_or_else(|| format!("{key} is not a whole number of tokens"))
}

pub fn map(item: &Item) -> Mapped {
    if item.kind == Kind::Metric {
        return Mapped::Aggregate;
    }
    let event = item.name.rsplit('.').next().unwrap_or("");
    let service = item.text("service.name").unwrap_or("");
    let result = match item.name.as_str() {
        "claude_code.api_request" => claude_code(item),
        "api_request" if agent_of(service) == Some(Agent::ClaudeCode) => claude_code(item),
        "codex.sse_event" => {
            if item.text("event.kind") != Some("response.completed") {
                return Mapped::NotUsage;
            }
            codex(item)
        }
        "gemini_cli.api_response" => gemini(item),
        _ if item
            .attributes
            .keys()
            .any(|k| k.starts_with("gen_ai.usage.")) =>
        {
            return genai(item, service);
        }
        _ => {
            let _ = event;
            return Mapped::NotUsage;
        }
    };
    match result {
        Ok(mut r) => {
            dimensions(item, &mut r);
            Mapped::Record(Box::new(r))
        }
        Err(why) => Mapped::Bad(why),
    }
}

/// The user, project and host an item's resource names.
fn dimensions(item: &Item, r: &mut UsageRecord) {
    if r.user.is_empty() {
        r.user = [
            "enduser.id",
            "user.email",
            "user.name",
            "user.id",
            "user.account_uuid",
        ]
        .iter()
        .find_map(|k| item.text(k))
        .unwrap_or_default()
        .to_string();
    }
    if let Some(p) = item.text("tally.project") {
        r.project = p.to_string();
    }
    for (key, meta) in [
        ("host.name", "host"),
        ("organization.id", "organization"),
        ("service.version", "agent_version"),
    ] {
        if let Some(v) = item.text(key) {
            r.metadata.insert(meta.into(), Value::String(v.to_string()));
        }
    }
    r.metadata
        .insert("via".into(), Value::String("otlp".into()));
}

fn time(item: &Item) -> Result<Timestamp, String> {
    item.text("event.timestamp")
        .and_then(|t| t.parse().ok())
        .or(item.time)
        .ok_or_else(|| format!("{} without a valid time", item.name))
}

/// Names a call by the agent's id for it, or else by its contents: the same
/// event sent twice is one call.
fn name_call(item: &Item, r: &mut UsageRecord, id_keys: &[&str]) {
    if let Some(id) = id_keys.iter().find_map(|k| item.text(k)) {
        r.request_id = Some(id.to_string());
        return;
    }
    let mut h = blake3::Hasher::new();
    for part in [
        r.session.as_deref().unwrap_or(""),
        &r.at.as_nanosecond().to_string(),
        &r.model,
        &format!("{:?}", r.tokens),
        item.text("event.sequence").unwrap_or(""),
    ] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let hex = h.finalize().to_hex();
    r.request_id = Some(format!("otel:{}", &hex[..32]));
    r.metadata.insert(FINGERPRINT.into(), Value::Bool(true));
}

fn agent_record(agent: Agent, at: Timestamp, provider: &str, model: &str) -> UsageRecord {
    let mut r = UsageRecord::new(at, provider, model);
    r.source = agent.source().into();
    r.agent = agent.source().into();
    r
}

fn claude_code(item: &Item) -> Result<UsageRecord, String> {
    let model = item.text("model").unwrap_or("unknown");
    let mut r = agent_record(Agent::ClaudeCode, time(item)?, "anthropic", model);
    r.tokens = TokenCounts::from_anthropic(
        count(item, "input_tokens")?,
        count(item, "output_tokens")?,
        count(item, "cache_read_tokens")?,
        count(item, "cache_creation_tokens")?,
        0,
        0,
    );
    if item.text("speed") == Some("fast") {
        r.billing.speed = Speed::Fast;
    }
    r.session = item.text("session.id").map(str::to_string);
    // Claude Code's `cost_usd` is a list-price estimate: Tally prices the
    // call from its own book, as it does the log file's copy.
    // The log importer names a call by its message id: an event that
    // carries it meets its log line by id.
    name_call(item, &mut r, &["message.id"]);
    Ok(r)
}

fn codex(item: &Item) -> Result<UsageRecord, String> {
    let model = item.text("model").unwrap_or("unknown");
    let mut r = agent_record(Agent::Codex, time(item)?, "openai", model);
    let prompt = count(item, "input_token_count")?;
    let cached = count(item, "cached_token_count")?;
    let output = count(item, "output_token_count")?;
    let reasoning = count(item, "reasoning_token_count")?;
    r.tokens = TokenCounts::from_openai(prompt, cached, output, reasoning);
    r.session = item.text("conversation.id").map(str::to_string);
    // Codex's log names a call by its session and running total, which
    // the event does not carry: its log line is found by its counts.
    name_call(item, &mut r, &[]);
    Ok(r)
}

fn gemini(item: &Item) -> Result<UsageRecord, String> {
    let model = item.text("model").unwrap_or("unknown");
    let mut r = agent_record(Agent::GeminiCli, time(item)?, "google", model);
    let input = count(item, "input_token_count")?;
    let cached = count(item, "cached_content_token_count")?;
    let output = count(item, "output_token_count")?;
    let thoughts = count(item, "thoughts_token_count")?;
    let tool = count(item, "tool_token_count")?;
    let total = count(item, "total_token_count")?;
    let prompt = input + tool;
    let beside = crate::ingest::fields::thoughts_beside_output(total, prompt, output, thoughts);
    let output = if beside { output + thoughts } else { output };
    r.tokens = TokenCounts::from_openai(prompt, cached, output, thoughts);
    r.session = item.text("session.id").map(str::to_string);
    name_call(item, &mut r, &[]);
    Ok(r)
}

fn genai(item: &Item, service: &str) -> Mapped {
    let id = item.id.as_deref();
    match copilot::genai_record(
        &item.name,
        &item.attributes,
        item.time,
        id,
        item.kind == Kind::Log,
    ) {
        Ok(Some(mut r)) => {
            let agent = agent_of(service);
            r.source = agent.map_or("otel", |a| a.source()).into();
            r.agent = agent.map_or(service, |a| a.source()).into();
            dimensions(item, &mut r);
            Mapped::Record(Box::new(r))
        }
        Ok(None) => Mapped::NotUsage,
        Err(Skip::Aggregate) => Mapped::Aggregate,
        Err(Skip::Bad(why)) => Mapped::Bad(why),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn item(kind: Kind, name: &str, attributes: Value) -> Item {
        let Value::Object(attributes) = attributes else {
            panic!()
        };
        Item {
            kind,
            name: name.into(),
            attributes,
            time: Some("2026-11-30T10:00:00Z".parse().unwrap()),
            id: Some("t:s".into()),
        }
    }

    fn record(m: Mapped) -> UsageRecord {
        match m {
            Mapped::Record(r) => *r,
            other => panic!("not a record: {other:?}"),
        }
    }

    #[test]
    fn a_claude_code_api_request_is_a_call_in_claude_codes_source() {
        let it = item(
            Kind::Log,
            "claude_code.api_request",
            json!({"service.name": "claude-code", "model": "claude-sonnet-4-5",
                "input_tokens": "100", "output_tokens": "50", "cache_read_tokens": "1000",
                "cache_creation_tokens": "200", "cost_usd": "0.01", "session.id": "s1",
                "user.email": "ann@example.com", "tally.project": "web", "host.name": "box"}),
        );
        let r = record(map(&it));
        assert_eq!(
            (r.source.as_str(), r.agent.as_str(), r.provider.as_str()),
            ("claude-code", "claude-code", "anthropic")
        );
        assert_eq!(
            (r.tokens.input, r.tokens.output, r.tokens.cache_read),
            (100, 50, 1000)
        );
        assert_eq!(r.tokens.cache_write(), 200);
        assert_eq!(
            (r.user.as_str(), r.project.as_str()),
            ("ann@example.com", "web")
        );
        assert_eq!(r.metadata["host"], "box");
        assert_eq!(r.metadata[FINGERPRINT], true);
        // The same event again is the same call.
        assert_eq!(record(map(&it)).request_id, r.request_id);
    }

    #[test]
    fn codex_counts_its_cached_tokens_inside_input() {
        let it = item(
            Kind::Log,
            "codex.sse_event",
            json!({"event.kind": "response.completed", "model": "gpt-5-codex",
                "input_token_count": 1000, "cached_token_count": 800, "output_token_count": 60,
                "reasoning_token_count": 40, "conversation.id": "c1", "response.id": "resp_1"}),
        );
        let r = record(map(&it));
        assert_eq!((r.tokens.input, r.tokens.cache_read), (200, 800));
        assert_eq!(r.metadata[FINGERPRINT], true);
        assert_eq!(r.source, "codex");
        let other = item(
            Kind::Log,
            "codex.sse_event",
            json!({"event.kind": "response.output_text.delta"}),
        );
        assert!(matches!(map(&other), Mapped::NotUsage));
    }

    #[test]
    fn genai_spans_take_the_service_as_their_agent() {
        let attrs = json!({"service.name": "invoice-bot", "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.id": "chatcmpl-1", "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 20});
        let r = record(map(&item(Kind::Span, "chat gpt-4o", attrs.clone())));
        assert_eq!(
            (r.source.as_str(), r.agent.as_str()),
            ("otel", "invoice-bot")
        );
        assert_eq!(r.request_id.as_deref(), Some("chatcmpl-1"));
        let mut copilot = attrs;
        copilot["service.name"] = json!("github-copilot");
        let r = record(map(&item(Kind::Span, "chat", copilot)));
        assert_eq!(r.source, "copilot");
        assert!(matches!(
            map(&item(Kind::Metric, "gen_ai.client.token.usage", json!({}))),
            Mapped::Aggregate
        ));
        assert!(matches!(
            map(&item(Kind::Log, "claude_code.tool_result", json!({}))),
            Mapped::NotUsage
        ));
        let bad = item(
            Kind::Log,
            "claude_code.api_request",
            Value::Object(Map::from_iter([("input_tokens".into(), json!("many"))])),
        );
        assert!(matches!(map(&bad), Mapped::Bad(why) if why.contains("input_tokens")));
    }
}

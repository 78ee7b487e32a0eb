//! Tally's own import format, for any script or gateway log: one record per CSV
//! row or JSON line, with the same fields as `tally record` (documented in the
//! README). Other fields are kept as the record's metadata.

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::core::usage::{
    Billing, Cost, ImageUsage, MediaTokens, ModalTokens, ServiceTier, Speed, TokenCounts,
    UsageRecord, input_includes_cache,
};
use crate::core::{Money, PriceBook};

/// The fields Tally reads; anything else becomes metadata.
const FIELDS: [&str; 32] = [
    "time",
    "model",
    "provider",
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "reasoning",
    "embedding",
    "images",
    "image_size",
    "image_quality",
    "user",
    "project",
    "agent",
    "machine",
    "task",
    "session",
    "request_id",
    "cost_usd",
    "revenue_usd",
    "service_tier",
    "speed",
    "region",
    "web_searches",
    "audio_input",
    "audio_cached",
    "audio_output",
    "image_input_tokens",
    "image_cached_tokens",
    "image_output_tokens",
];

fn text<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn count(fields: &Map<String, Value>, key: &str) -> Result<u64, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("{key}: {n} is not a count of zero or more")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(0),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("{key}: “{s}” is not a count of zero or more")),
        Some(other) => Err(format!("{key}: {other} is not a count")),
    }
}

fn money(fields: &Map<String, Value>, key: &str) -> Result<Option<Money>, String> {
    let text = match fields.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => return Err(format!("{key}: {other} is not an amount")),
    };
    match Money::parse_usd(&text) {
        Ok(m) if m >= Money::ZERO => Ok(Some(m)),
        Ok(_) => Err(format!("{key}: amounts cannot be negative")),
        Err(e) => Err(format!("{key}: {e}")),
    }
}

/// A priced record from one row's fields, or what is wrong with them.
pub fn record_from_fields(
    fields: &Map<String, Value>,
    book: &PriceBook,
    source: &str,
) -> Result<UsageRecord, String> {
    let at: Timestamp = text(fields, "time")
        .ok_or("time: missing (an RFC 3339 time such as 2025-09-01T10:00:00Z)")?
        .parse()
        .map_err(|e| format!("time: {e}"))?;
    let model = text(fields, "model").ok_or("model: missing")?;
    let given = text(fields, "provider");
    let provider = match given {
        Some(p) => crate::core::pricing::normalize_provider(p),
        None => book
            .resolve("", model)
            .map(|r| r.provider)
            .unwrap_or_default(),
    };
    let (input, cache_read) = (count(fields, "input")?, count(fields, "cache_read")?);
    let (output, reasoning) = (count(fields, "output")?, count(fields, "reasoning")?);
    let uncached = if input_includes_cache(&provider) {
        input
            .checked_sub(cache_read)
            .ok_or_else(|| format!("cache_read ({cache_read}) exceeds input ({input}): {provider} counts cached tokens inside input"))?
    } else {
        input
    };
    let mut r = UsageRecord::new(at, &provider, model);
    r.tokens = TokenCounts {
        input: uncached,
        output,
        cache_read,
        cache_write_5m: count(fields, "cache_write")?,
        cache_write_1h: count(fields, "cache_write_1h")?,
        reasoning,
    };
    r.embedding_tokens = count(fields, "embedding")?;
    r.images = ImageUsage {
        count: count(fields, "images")?,
        size: text(fields, "image_size").map(str::to_string),
        quality: text(fields, "image_quality").map(str::to_string),
    };
    let owned = |key: &str| text(fields, key).map(str::to_string);
    r.user = owned("user").unwrap_or_default();
    r.project = owned("project").unwrap_or_default();
    r.agent = owned("agent").unwrap_or_default();
    r.machine = owned("machine").unwrap_or_default();
    r.task = owned("task");
    r.session = owned("session");
    r.request_id = owned("request_id");
    r.source = source.into();
    r.revenue = money(fields, "revenue_usd")?;
    r.billing = Billing {
        tier: match text(fields, "service_tier") {
            None => ServiceTier::Standard,
            Some(t) => ServiceTier::parse(t).ok_or_else(|| {
                format!("service_tier: “{t}” is not standard, batch, flex or priority")
            })?,
        },
        speed: match text(fields, "speed") {
            None => Speed::Standard,
            Some(t) => {
                Speed::parse(t).ok_or_else(|| format!("speed: “{t}” is not standard or fast"))?
            }
        },
        region: text(fields, "region").map(str::to_ascii_lowercase),
        web_searches: count(fields, "web_searches")?,
    };
    // Counted as `input` is: with the cached ones where the provider counts
    // those inside input.
    let modal = |m: &str, input: &str, cached: &str, output: &str| {
        let (i, c) = (count(fields, input)?, count(fields, cached)?);
        ModalTokens::from_counts(i, c, count(fields, output)?, input_includes_cache(&provider))
            .ok_or_else(|| format!("{cached} ({c}) exceeds {input} ({i}): {provider} counts cached {m} tokens inside input"))
    };
    r.media = MediaTokens {
        audio: modal("audio", "audio_input", "audio_cached", "audio_output")?,
        image: modal(
            "image",
            "image_input_tokens",
            "image_cached_tokens",
            "image_output_tokens",
        )?,
    };
    for (key, value) in fields {
        if !FIELDS.contains(&key.as_str()) && !value.is_null() && value.as_str() != Some("") {
            r.metadata.insert(key.clone(), value.clone());
        }
    }
    r.validate().map_err(|e| e.to_string())?;
    r.cost = match money(fields, "cost_usd")? {
        Some(amount) => Cost::Reported { amount },
        None => book.cost(&r),
    };
    Ok(r)
}

/// A row's line number and its fields, or what is wrong with the row.
pub type Row = (u64, Result<Map<String, Value>, String>);

/// A header row that names a column twice is refused: which of the two
/// counts would be a guess (the last one silently won).
pub fn no_column_twice(headers: &[String]) -> Result<(), String> {
    for (i, h) in headers.iter().enumerate() {
        if let Some(j) = headers[..i].iter().position(|earlier| earlier == h) {
            return Err(format!(
                "the header row names the column “{h}” twice (columns {} and {})",
                j + 1,
                i + 1
            ));
        }
    }
    Ok(())
}

/// The rows of a CSV file as field maps, numbered by line; a bad row is an error.
pub fn csv_rows(text: &str) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    no_column_twice(&headers)?;
    if !headers.iter().any(|h| h == "time") || !headers.iter().any(|h| h == "model") {
        return Err("the header row needs at least the columns time and model".into());
    }
    let mut out = Vec::new();
    for row in reader.records() {
        match row {
            Ok(row) => {
                let line = row.position().map_or(0, |p| p.line());
                let fields: Map<String, Value> = headers
                    .iter()
                    .cloned()
                    .zip(row.iter().map(|v| Value::String(v.to_string())))
                    .collect();
                out.push((line, Ok(fields)));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.push((line, Err(e.to_string())));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::price_file::parse_book;

    fn book() -> PriceBook {
        PriceBook::new(
            parse_book(include_str!("../../data/prices/prices.json"))
                .unwrap()
                .1,
        )
    }

    fn fields(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_row_becomes_a_priced_record_and_keeps_unknown_fields() {
        let r = record_from_fields(
            &fields(r#"{"time":"2025-09-01T10:00:00Z","model":"gpt-4o","input":"10000","cache_read":4000,"output":1000,"project":"web","team":"blue"}"#),
            &book(),
            "jsonl",
        )
        .unwrap();
        assert_eq!((r.tokens.input, r.tokens.cache_read), (6_000, 4_000));
        assert_eq!(r.cost.amount(), Some(Money::parse_usd("0.03").unwrap()));
        assert_eq!(r.metadata["team"], "blue");
        assert_eq!(r.provider, "openai");
    }

    #[test]
    fn a_row_says_its_audio_tokens_counted_as_its_input_is() {
        // gpt-realtime, input counted with the cached: 10,000 in of which
        // 2,000 cached; audio 6,000 of which 1,000 cached; 3,000 out, 2,500 audio.
        // Uncached: 8,000, of which 5,000 audio. Text 3000×4 + 1000×0.40 +
        // 500×16 = 20,400 µ$; audio 5000×32 + 1000×0.40 + 2500×64 = 320,400 µ$:
        // $0.3408.
        let r = record_from_fields(
            &fields(r#"{"time":"2025-11-01T10:00:00Z","model":"gpt-realtime","input":10000,"cache_read":2000,"output":3000,"audio_input":6000,"audio_cached":1000,"audio_output":2500}"#),
            &book(),
            "jsonl",
        )
        .unwrap();
        let a = r.media.audio;
        assert_eq!((a.input, a.cache_read, a.output), (5_000, 1_000, 2_500));
        assert_eq!(r.cost.amount(), Some(Money::parse_usd("0.3408").unwrap()));
    }

    #[test]
    fn a_row_says_its_tier_speed_region_and_searches() {
        // gpt-4o in batch: 1M in × $2.50 + 100,000 out × $10 = $3.50, halved: $1.75.
        let r = record_from_fields(
            &fields(r#"{"time":"2025-09-01T10:00:00Z","model":"gpt-4o","input":1000000,"output":100000,"service_tier":"batch","region":"EU"}"#),
            &book(),
            "jsonl",
        )
        .unwrap();
        assert_eq!(r.billing.tier, ServiceTier::Batch);
        assert_eq!(r.billing.region.as_deref(), Some("eu"));
        assert_eq!(r.cost.amount(), Some(Money::parse_usd("1.75").unwrap()));
        assert!(r.metadata.is_empty(), "read, not kept as metadata");
        let err = record_from_fields(
            &fields(r#"{"time":"2025-09-01T10:00:00Z","model":"gpt-4o","speed":"warp"}"#),
            &book(),
            "csv",
        )
        .unwrap_err();
        assert_eq!(err, "speed: “warp” is not standard or fast");
    }

    #[test]
    fn errors_name_the_field() {
        let b = book();
        let err = |json: &str| record_from_fields(&fields(json), &b, "csv").unwrap_err();
        assert!(err(r#"{"model":"gpt-4o"}"#).starts_with("time:"));
        assert!(err(r#"{"time":"2025-09-01T10:00:00Z"}"#).starts_with("model:"));
        assert!(
            err(r#"{"time":"2025-09-01T10:00:00Z","model":"gpt-4o","input":"-5"}"#)
                .starts_with("input:")
        );
        assert!(
            err(r#"{"time":"2025-09-01T10:00:00Z","model":"gpt-4o","cost_usd":"-1"}"#)
                .starts_with("cost_usd:")
        );
        assert!(
            err(r#"{"time":"2025-09-01T10:00:00Z","model":"gpt-4o","input":1,"cache_read":5}"#)
                .starts_with("cache_read")
        );
    }

    #[test]
    fn csv_columns_are_found_by_name_in_any_order() {
        let rows = csv_rows("model,Project,time,input,output,note\ngpt-4o,\"web, new\",2025-09-01T10:00:00Z,10,5,\"a \"\"quote\"\"\"\n").unwrap();
        let (line, fields) = &rows[0];
        let fields = fields.as_ref().unwrap();
        assert_eq!(*line, 2);
        assert_eq!(fields["project"], "web, new");
        assert_eq!(fields["note"], "a \"quote\"");
        assert!(
            csv_rows("a,b\n1,2\n")
                .unwrap_err()
                .contains("time and model")
        );
    }
}

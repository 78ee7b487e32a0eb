//! OpenAI's and Anthropic's usage and cost exports (CSV, columns found by name;
//! providers add columns over time). Usage rows are daily buckets of many calls;
//! cost rows are *billed* amounts, kept beside Tally's estimates so the two can
//! be reconciled. Each row's key is its bucket, so importing the same export
//! twice, or exports whose dates overlap, counts every bucket once.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::Value;

use crate::core::Money;
use crate::core::pricing::LONG_CONTEXT_KEY;
use crate::core::usage::{
    Billing, Cost, MediaTokens, ModalTokens, ServiceTier, Speed, TokenCounts, UsageRecord,
    inference_region,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    OpenAiUsage,
    OpenAiCosts,
    AnthropicUsage,
    AnthropicCosts,
}

impl Export {
    pub fn source(self) -> &'static str {
        match self {
            Export::OpenAiUsage => "openai-usage",
            Export::OpenAiCosts => "openai-costs",
            Export::AnthropicUsage => "anthropic-usage",
            Export::AnthropicCosts => "anthropic-costs",
        }
    }

    /// Whether rows are billed amounts rather than usage to price.
    pub fn is_billing(self) -> bool {
        matches!(self, Export::OpenAiCosts | Export::AnthropicCosts)
    }

    /// Columns a file must have to be this export.
    fn required(self) -> &'static [&'static str] {
        match self {
            Export::OpenAiUsage => &[
                "model",
                "input_tokens",
                "output_tokens",
                "num_model_requests",
            ],
            Export::OpenAiCosts => &["amount_value", "line_item"],
            Export::AnthropicUsage => &["usage_date_utc", "model_version", "usage_output_tokens"],
            Export::AnthropicCosts => &["usage_date_utc", "model", "cost_usd"],
        }
    }
}

/// One row's cells by column name.
struct Cells<'a> {
    by_name: &'a HashMap<String, usize>,
    row: &'a csv::StringRecord,
}

impl Cells<'_> {
    fn text(&self, name: &str) -> &str {
        self.by_name
            .get(name)
            .and_then(|&i| self.row.get(i))
            .map_or("", str::trim)
    }

    fn count(&self, name: &str) -> Result<u64, String> {
        let t = self.text(name);
        if t.is_empty() {
            return Ok(0);
        }
        // Some exports write whole numbers as 12.0.
        t.parse::<u64>()
            .or_else(|_| match t.parse::<f64>() {
                Ok(f) if f >= 0.0 && f.fract() == 0.0 && f < 1e15 => Ok(f as u64),
                _ => Err(()),
            })
            .map_err(|_| format!("{name}: “{t}” is not a whole number"))
    }

    fn usd(&self, name: &str) -> Result<Money, String> {
        let t = self.text(name);
        Money::parse_usd(t).map_err(|_| format!("{name}: “{t}” is not an amount"))
    }

    /// A bucket's start: unix seconds in `start_time`, else RFC 3339 in
    /// `start_time_iso`, else a date in `usage_date_utc` (its midnight, UTC).
    fn start(&self) -> Result<Timestamp, String> {
        let secs = self.text("start_time");
        if !secs.is_empty() {
            return secs
                .parse::<i64>()
                .ok()
                .and_then(|s| Timestamp::from_second(s).ok())
                .ok_or_else(|| format!("start_time: “{secs}” is not unix seconds"));
        }
        let iso = self.text("start_time_iso");
        if !iso.is_empty() {
            return iso
                .parse::<Timestamp>()
                .map_err(|_| format!("start_time_iso: “{iso}” is not a time"));
        }
        let day = self.text("usage_date_utc");
        // Anthropic writes a date, sometimes with a time after it.
        let date = day.get(..10).unwrap_or(day);
        date.parse::<Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
            .ok_or_else(|| format!("usage_date_utc: “{day}” is not a date"))
    }

    /// The row's identity from these columns, for the bucket's key.
    fn key(&self, start: Timestamp, names: &[&str]) -> String {
        let mut key = format!("{}", start.as_second());
        for n in names {
            key.push('|');
            key.push_str(self.text(n));
        }
        key
    }
}

fn meta(r: &mut UsageRecord, cells: &Cells, names: &[&str]) {
    for n in names {
        let v = cells.text(n);
        if !v.is_empty() {
            r.metadata.insert((*n).into(), Value::String(v.into()));
        }
    }
}

/// A service tier or speed cell as the provider writes it; an empty cell is
/// standard, one Tally does not know is named (never priced as standard).
fn known<T>(c: &Cells, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, String> {
    let text = c.text(column);
    parse(text).ok_or_else(|| format!("{column}: “{text}” is not one Tally knows"))
}

/// The audio or image part of an OpenAI usage row: `input_{m}_tokens`
/// counts the cached ones too, as `input_tokens` does.
fn modal(c: &Cells, m: &str) -> Result<ModalTokens, String> {
    let input = c.count(&format!("input_{m}_tokens"))?;
    let cached = c.count(&format!("input_cached_{m}_tokens"))?;
    let output = c.count(&format!("output_{m}_tokens"))?;
    ModalTokens::from_counts(input, cached, output, true).ok_or_else(|| {
        format!("input_cached_{m}_tokens: {cached} is more than input_{m}_tokens ({input})")
    })
}

fn openai_usage(c: &Cells) -> Result<UsageRecord, String> {
    let model = c.text("model");
    if model.is_empty() {
        return Err("model: empty (export the usage grouped by model)".into());
    }
    let at = c.start()?;
    let mut r = UsageRecord::new(at, "openai", model);
    let input = c.count("input_tokens")?;
    let cached = c.count("input_cached_tokens")?;
    if cached > input {
        return Err(format!(
            "input_cached_tokens: {cached} is more than input_tokens ({input})"
        ));
    }
    r.tokens = TokenCounts::from_openai(input, cached, c.count("output_tokens")?, 0);
    r.media = MediaTokens {
        audio: modal(c, "audio")?,
        image: modal(c, "image")?,
    };
    r.requests = c.count("num_model_requests")?;
    r.project = c.text("project_id").into();
    r.user = c.text("user_id").into();
    r.request_id = Some(c.key(
        at,
        &[
            "project_id",
            "user_id",
            "api_key_id",
            "model",
            "batch",
            "service_tier",
        ],
    ));
    meta(&mut r, c, &["api_key_id", "batch", "service_tier"]);
    let batch = c.text("batch").trim().eq_ignore_ascii_case("true");
    r.billing.tier = if batch {
        ServiceTier::Batch
    } else {
        known(c, "service_tier", ServiceTier::parse)?
    };
    Ok(r)
}

fn anthropic_usage(c: &Cells) -> Result<UsageRecord, String> {
    let at = c.start()?;
    let model = c.text("model_version");
    if model.is_empty() {
        return Err("model_version: empty".into());
    }
    let mut r = UsageRecord::new(at, "anthropic", model);
    r.tokens = TokenCounts {
        input: c.count("usage_input_tokens_no_cache")?,
        output: c.count("usage_output_tokens")?,
        cache_read: c.count("usage_input_tokens_cache_read")?,
        cache_write_5m: c.count("usage_input_tokens_cache_write_5m")?,
        cache_write_1h: c.count("usage_input_tokens_cache_write_1h")?,
        reasoning: 0,
    };
    // The export does not say how many calls a row holds.
    r.requests = 0;
    r.project = c.text("workspace").into();
    let window = c.text("context_window");
    if !window.is_empty() {
        // "0-200k" or "200k-1M": the row was billed at base or long-context rates.
        let long = !window.starts_with('0');
        r.metadata
            .insert(LONG_CONTEXT_KEY.into(), Value::Bool(long));
    }
    r.request_id = Some(c.key(
        at,
        &[
            "workspace",
            "api_key",
            "model_version",
            "usage_type",
            "context_window",
            "inference_geo",
            "speed",
        ],
    ));
    meta(
        &mut r,
        c,
        &[
            "api_key",
            "usage_type",
            "context_window",
            "web_search_count",
            "inference_geo",
            "speed",
        ],
    );
    r.billing = Billing {
        // `usage_type` names batch use; every other kind is the standard tier.
        tier: if c.text("usage_type").to_ascii_lowercase().contains("batch") {
            ServiceTier::Batch
        } else {
            ServiceTier::Standard
        },
        speed: known(c, "speed", Speed::parse)?,
        region: inference_region(c.text("inference_geo")),
        web_searches: c.count("web_search_count")?,
    };
    Ok(r)
}

/// A billed amount: no calls, no tokens, cost reported as nothing (the
/// estimate comes from the usage), the amount in `billed`.
fn billed(at: Timestamp, provider: &str, model: &str, amount: Money) -> UsageRecord {
    let mut r = UsageRecord::new(at, provider, model);
    r.requests = 0;
    r.cost = Cost::Reported {
        amount: Money::ZERO,
    };
    r.billed = Some(amount);
    r
}

fn openai_cost(c: &Cells) -> Result<UsageRecord, String> {
    let at = c.start()?;
    let currency = c.text("amount_currency");
    if !currency.is_empty() && !currency.eq_ignore_ascii_case("usd") {
        return Err(format!(
            "amount_currency: “{currency}”, only USD is supported"
        ));
    }
    let item = c.text("line_item");
    // "gpt-4o-2024-08-06, input": the model, then what of it was billed.
    let model = item.split(',').next().unwrap_or(item).trim();
    let mut r = billed(at, "openai", model, c.usd("amount_value")?);
    r.project = c.text("project_id").into();
    r.request_id = Some(c.key(at, &["project_id", "organization_id", "line_item"]));
    meta(&mut r, c, &["line_item", "organization_id"]);
    Ok(r)
}

fn anthropic_cost(c: &Cells) -> Result<UsageRecord, String> {
    let at = c.start()?;
    let mut r = billed(at, "anthropic", c.text("model"), c.usd("cost_usd")?);
    r.project = c.text("workspace").into();
    r.request_id = Some(c.key(
        at,
        &[
            "workspace",
            "api_key",
            "api_key_id",
            "model",
            "usage_type",
            "context_window",
            "token_type",
            "cost_type",
            "inference_geo",
            "speed",
        ],
    ));
    meta(
        &mut r,
        c,
        &["token_type", "cost_type", "usage_type", "list_price_usd"],
    );
    Ok(r)
}

/// Which export a CSV file is, from its header row; `None` for anything else
/// (Tally's own format, say).
pub fn detect(text: &str) -> Option<Export> {
    let header = text.lines().next()?.to_lowercase();
    let names: Vec<&str> = header
        .split(',')
        .map(|h| h.trim().trim_matches('"').trim_start_matches('\u{feff}'))
        .collect();
    [
        Export::OpenAiUsage,
        Export::OpenAiCosts,
        Export::AnthropicUsage,
        Export::AnthropicCosts,
    ]
    .into_iter()
    .find(|e| e.required().iter().all(|c| names.contains(c)))
}

/// A row's line number, and its record or what is wrong with it.
pub type Row = (u64, Result<UsageRecord, String>);

/// Every row of an export as a record, or what is wrong with it, by line.
/// A file without the export's columns is an error as a whole.
pub fn rows(export: Export, text: &str) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header row: {e}"))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    super::generic::no_column_twice(&names)?;
    let by_name: HashMap<String, usize> =
        names.into_iter().enumerate().map(|(i, h)| (h, i)).collect();
    let missing: Vec<&str> = export
        .required()
        .iter()
        .copied()
        .filter(|c| !by_name.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "not an {} export: no column {}",
            export.source(),
            missing.join(", ")
        ));
    }
    let mut out = Vec::new();
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                out.push((e.position().map_or(0, |p| p.line()), Err(e.to_string())));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line());
        let cells = Cells {
            by_name: &by_name,
            row: &row,
        };
        let mut record = match export {
            Export::OpenAiUsage => openai_usage(&cells),
            Export::OpenAiCosts => openai_cost(&cells),
            Export::AnthropicUsage => anthropic_usage(&cells),
            Export::AnthropicCosts => anthropic_cost(&cells),
        };
        if let Ok(r) = &mut record {
            r.source = export.source().into();
            if let Err(e) = r.validate() {
                record = Err(e.to_string());
            }
        }
        out.push((line, record));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_usage_rows_are_buckets_of_calls() {
        let text = "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,service_tier,input_tokens,output_tokens,input_cached_tokens\n\
            1761955200,1762041600,2025-11-01T00:00:00+00:00,2025-11-02T00:00:00+00:00,proj_a,12,,key_1,gpt-4o-2024-08-06,false,default,120000,8000,40000\n\
            1761955200,1762041600,,,proj_a,3,,key_1,,false,default,10,10,0\n";
        let rows = super::rows(Export::OpenAiUsage, text).unwrap();
        let r = rows[0].1.as_ref().unwrap();
        assert_eq!(r.requests, 12);
        assert_eq!(
            (r.tokens.input, r.tokens.cache_read, r.tokens.output),
            (80_000, 40_000, 8_000)
        );
        assert_eq!(r.at.to_string(), "2025-11-01T00:00:00Z");
        assert_eq!(r.project, "proj_a");
        assert_eq!(rows[1].0, 3);
        assert!(rows[1].1.as_ref().unwrap_err().starts_with("model: empty"));
        assert!(
            super::rows(Export::OpenAiUsage, "a,b\n1,2\n")
                .unwrap_err()
                .contains("no column model")
        );
    }

    #[test]
    fn anthropic_usage_keeps_the_billed_context_window() {
        let text = "usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,usage_output_tokens\n\
            2025-11-01,claude-sonnet-4-5-20250929,key,Default,standard,200k-1M,1000,10,20,300,50\n";
        let r = rows(Export::AnthropicUsage, text)
            .unwrap()
            .remove(0)
            .1
            .unwrap();
        assert_eq!(r.metadata[LONG_CONTEXT_KEY], Value::Bool(true));
        assert_eq!(r.tokens.cache_write_1h, 20);
        assert_eq!(r.requests, 0);
    }

    #[test]
    fn the_tier_speed_region_and_searches_of_export_rows_are_kept() {
        let text = "start_time,end_time,project_id,num_model_requests,model,batch,service_tier,input_tokens,output_tokens,input_cached_tokens\n\
            1761955200,1762041600,p,1,gpt-5,true,default,10,10,0\n\
            1761955200,1762041600,p,1,gpt-5,false,flex,10,10,0\n\
            1761955200,1762041600,p,1,gpt-5,false,,10,10,0\n\
            1761955200,1762041600,p,1,gpt-5,false,turbo,10,10,0\n";
        let openai = rows(Export::OpenAiUsage, text).unwrap();
        let tier = |i: usize| {
            openai[i]
                .1
                .as_ref()
                .map(|r| r.billing.tier)
                .map_err(|e| e.as_str())
        };
        assert_eq!(tier(0), Ok(ServiceTier::Batch));
        assert_eq!(tier(1), Ok(ServiceTier::Flex));
        assert_eq!(tier(2), Ok(ServiceTier::Standard));
        assert_eq!(tier(3), Err("service_tier: “turbo” is not one Tally knows"));

        // Audio and image tokens: a part of the counts, the cached ones apart.
        let text = "start_time,end_time,project_id,num_model_requests,model,input_tokens,output_tokens,input_cached_tokens,input_audio_tokens,input_cached_audio_tokens,output_audio_tokens,input_image_tokens,output_image_tokens\n\
            1761955200,1762041600,p,2,gpt-realtime,10000,3000,2000,6000,1000,2500,0,0\n\
            1761955200,1762041600,p,1,gpt-image-1,1200,4160,0,0,0,0,1000,4160\n\
            1761955200,1762041600,p,1,gpt-realtime,10,0,0,20,0,0,0,0\n";
        let media = rows(Export::OpenAiUsage, text).unwrap();
        let m = |i: usize| media[i].1.as_ref().map(|r| r.media);
        let audio = m(0).unwrap().audio;
        assert_eq!(
            (audio.input, audio.cache_read, audio.output),
            (5000, 1000, 2500)
        );
        let image = m(1).unwrap().image;
        assert_eq!((image.input, image.output), (1000, 4160));
        // More audio than input is the row's error, never stored.
        let bad = media[2].1.as_ref().unwrap_err();
        assert!(
            bad.starts_with("audio and image input tokens (20)"),
            "{bad}"
        );

        let text = "usage_date_utc,model_version,api_key,workspace,usage_type,usage_input_tokens_no_cache,usage_output_tokens,web_search_count,inference_geo,speed\n\
            2026-06-01,claude-opus-4-6,key,Default,standard,1000,50,4,us,fast\n\
            2026-06-01,claude-opus-4-6,key,Default,batch,1000,50,0,global,\n";
        let anthropic = rows(Export::AnthropicUsage, text).unwrap();
        let b = &anthropic[0].1.as_ref().unwrap().billing;
        assert_eq!(
            (b.tier, b.speed, b.region.as_deref(), b.web_searches),
            (ServiceTier::Standard, Speed::Fast, Some("us"), 4)
        );
        assert_eq!(
            anthropic[1].1.as_ref().unwrap().billing,
            Billing {
                tier: ServiceTier::Batch,
                ..Billing::default()
            }
        );
    }

    #[test]
    fn exports_are_recognised_by_their_header() {
        assert_eq!(
            detect("start_time,model,input_tokens,output_tokens,num_model_requests\n"),
            Some(Export::OpenAiUsage)
        );
        assert_eq!(
            detect("\u{feff}start_time,amount_value,line_item\n"),
            Some(Export::OpenAiCosts)
        );
        assert_eq!(
            detect("usage_date_utc,model_version,usage_output_tokens\n"),
            Some(Export::AnthropicUsage)
        );
        assert_eq!(
            detect("usage_date_utc,model,cost_usd\n"),
            Some(Export::AnthropicCosts)
        );
        assert_eq!(detect("time,model,input\n"), None);
    }

    #[test]
    fn cost_rows_are_billed_amounts() {
        let text = "start_time,end_time,amount_value,amount_currency,line_item,project_id\n1761955200,1762041600,1.2345,usd,\"gpt-4o-2024-08-06, input\",proj_a\n1761955200,1762041600,2,eur,x,proj_a\n";
        let rows = super::rows(Export::OpenAiCosts, text).unwrap();
        let r = rows[0].1.as_ref().unwrap();
        assert_eq!(r.billed, Some(Money::parse_usd("1.2345").unwrap()));
        assert_eq!(r.model, "gpt-4o-2024-08-06");
        assert_eq!((r.requests, r.tokens.total()), (0, 0));
        assert!(rows[1].1.as_ref().unwrap_err().contains("only USD"));
    }
}

//! Every parser of outside input, fed mutated copies of real-shaped input:
//! none may panic (a hang or a runaway allocation shows as a test that does
//! not end). Seeded, so a failure repeats: the message names the parser, the
//! seed and the input. `make test` runs a few hundred inputs per parser;
//! `make fuzz` (TALLY_FUZZ_ITERATIONS) runs as many as asked.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tally::core::pricing::PriceBook;
use tally::ingest::{claude_code, codex, exports, generic};

const CLAUDE: &str = r#"{"parentUuid":"a","isSidechain":false,"userType":"external","cwd":"/home/ada/web","sessionId":"s1","version":"2.0.1","type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":30,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":0},"service_tier":"standard"}},"requestId":"req_1","uuid":"u1","timestamp":"2025-09-01T10:00:00.000Z"}"#;

const CODEX: [&str; 3] = [
    r#"{"timestamp":"2025-09-01T10:00:00Z","type":"session_meta","payload":{"id":"s1","cwd":"/home/ada/web","cli_version":"0.40.0"}}"#,
    r#"{"timestamp":"2025-09-01T10:00:01Z","type":"turn_context","payload":{"cwd":"/home/ada/web","model":"gpt-5-codex"}}"#,
    r#"{"timestamp":"2025-09-01T10:00:02Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":1200,"cached_input_tokens":200,"output_tokens":300,"reasoning_output_tokens":50,"total_tokens":1500},"last_token_usage":{"input_tokens":1200,"cached_input_tokens":200,"output_tokens":300,"reasoning_output_tokens":50,"total_tokens":1500}},"rate_limits":{}}}"#,
];

const CSV: &str = "model,project,time,input,cache_read,output,request_id,team\n\
                   gpt-4o,\"web, new\",2025-09-01T10:00:00Z,10000,4000,1000,r1,blue\n\
                   claude-sonnet-4-5,api,2025-09-01T12:00:00Z,1000,0,100,r3,\n";

const OPENAI_USAGE: &str = "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,input_tokens,output_tokens,input_cached_tokens,model,batch\n\
                            1756684800,1756771200,2025-09-01T00:00:00+00:00,2025-09-02T00:00:00+00:00,proj_1,12,120000,4000,20000,gpt-4o-2024-08-06,False\n";

const LITELLM: &str = r#"{"gpt-4o":{"litellm_provider":"openai","mode":"chat","input_cost_per_token":2.5e-06,"output_cost_per_token":1e-05,"cache_read_input_token_cost":1.25e-06},
"text-embedding-3-small":{"litellm_provider":"openai","mode":"embedding","input_cost_per_token":2e-08},
"dall-e-3":{"litellm_provider":"openai","mode":"image_generation","output_cost_per_image":0.04}}"#;

/// Text that is hard on parsers, to splice in.
const NASTY: &[&str] = &[
    "NaN",
    "1e309",
    "-1",
    "-9223372036854775808",
    "99999999999999999999999999",
    "null",
    "[]",
    "{}",
    "\"\"",
    "\u{0}",
    "\u{feff}",
    "\u{1b}]0;x\u{7}",
    "\"\\ud800\"",
    ",,,,",
    "\n",
    "\r\n",
    "\"",
    "0.0000000000000000000001",
    "true",
];

fn iterations() -> usize {
    std::env::var("TALLY_FUZZ_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

/// `seed` changed a few times: characters replaced, cut, repeated, nasty
/// text spliced in, numbers made huge, the whole nested deep.
fn mutate(rng: &mut StdRng, seed: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for _ in 0..rng.random_range(1..6) {
        if chars.is_empty() {
            chars.push('{');
        }
        let at = rng.random_range(0..chars.len());
        match rng.random_range(0..7) {
            0 => chars[at] = char::from(rng.random_range(0x20u8..0x7f)),
            1 => chars.truncate(at),
            2 => {
                let end = (at + rng.random_range(1..40)).min(chars.len());
                let piece: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, piece);
            }
            3 => {
                let nasty = NASTY[rng.random_range(0..NASTY.len())];
                chars.splice(at..at, nasty.chars());
            }
            4 => {
                if chars[at].is_ascii_digit() {
                    chars.splice(at..at, "9".repeat(rng.random_range(1..30)).chars());
                }
            }
            5 => {
                let end = (at + rng.random_range(1..20)).min(chars.len());
                chars.drain(at..end);
            }
            _ => {
                let depth = rng.random_range(1..2_000);
                let mut nested = "[".repeat(depth);
                nested.push_str(&chars.iter().collect::<String>());
                nested.push_str(&"]".repeat(depth));
                chars = nested.chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

/// Feeds `parse` the seed and mutations of it; a panic fails the test with
/// the input that caused it.
fn survives(name: &str, seed: &str, parse: impl Fn(&str)) {
    parse(seed);
    for i in 0..iterations() {
        let mut rng = StdRng::seed_from_u64(i as u64);
        let input = mutate(&mut rng, seed);
        let outcome = catch_unwind(AssertUnwindSafe(|| parse(&input)));
        assert!(
            outcome.is_ok(),
            "{name} panicked on seed {i}: {:?}",
            input.chars().take(500).collect::<String>()
        );
    }
}

fn book() -> PriceBook {
    PriceBook::new(tally::prices::shipped())
}

#[test]
fn claude_code_lines() {
    survives("claude_code::parse_line", CLAUDE, |text| {
        let _ = claude_code::parse_line(text);
    });
}

#[test]
fn codex_sessions() {
    let seed = CODEX.join("\n");
    survives("codex::read_session", &seed, |text| {
        let lines: Vec<(u64, &str)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l))
            .collect();
        let _ = codex::read_session(&lines, &mut Default::default());
    });
}

#[test]
fn csv_and_jsonl_in_tallys_format() {
    let book = book();
    survives("generic::csv_rows", CSV, |text| {
        if let Ok(rows) = generic::csv_rows(text) {
            for (_, row) in rows {
                if let Ok(fields) = row {
                    let _ = generic::record_from_fields(&fields, &book, "csv");
                }
            }
        }
    });
    let line = r#"{"time":"2025-09-01T10:00:00Z","model":"gpt-4o","input":"10000","cache_read":4000,"output":1000,"cost":0.5,"project":"web"}"#;
    survives("generic::record_from_fields (JSONL)", line, |text| {
        if let Ok(fields) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        {
            let _ = generic::record_from_fields(&fields, &book, "jsonl");
        }
    });
}

#[test]
fn provider_exports() {
    survives("exports::rows", OPENAI_USAGE, |text| {
        if let Some(export) = exports::detect(text) {
            let _ = exports::rows(export, text);
        }
        let _ = exports::rows(exports::Export::OpenAiUsage, text);
    });
}

#[test]
fn price_files() {
    let shipped = include_str!("../data/prices/prices.json");
    // The shipped book is large: its first entries make the seed.
    let cut = shipped
        .char_indices()
        .nth(4_000)
        .map_or(shipped.len(), |(i, _)| i);
    survives("price_file::parse_book", &shipped[..cut], |text| {
        let _ = tally::core::price_file::parse_book(text);
    });
    let from = jiff::civil::date(2025, 9, 1);
    survives("price_file::parse_litellm", LITELLM, |text| {
        let _ = tally::core::price_file::parse_litellm(text, "test", from);
    });
}

/// An OTLP/JSON batch as an agent sends it: a Claude Code event and a GenAI span.
const OTLP_LOGS: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}},{"key":"host.name","value":{"stringValue":"box"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"1764496800000000000","body":{"stringValue":"claude_code.api_request"},"attributes":[{"key":"model","value":{"stringValue":"claude-sonnet-4-5"}},{"key":"input_tokens","value":{"stringValue":"12"}},{"key":"output_tokens","value":{"intValue":"30"}},{"key":"cost_usd","value":{"doubleValue":0.01}},{"key":"session.id","value":{"stringValue":"s1"}}]}]}]}]}"#;
const OTLP_SPANS: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"app"}}]},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"chat gpt-4o","startTimeUnixNano":"1764496800000000000","endTimeUnixNano":"1764496801000000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},{"key":"gen_ai.response.id","value":{"stringValue":"r1"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":100}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"7"}}],"events":[{"name":"gen_ai.choice","attributes":[]}]}]}]}]}"#;

#[test]
fn otlp_requests() {
    use tally::serve::mapping;
    use tally::serve::otlp::{self, Format, Signal};
    let read = |signal: Signal, format: Format, body: &[u8]| {
        if let Ok(items) = otlp::decode(signal, format, body) {
            for item in &items {
                let _ = mapping::map(item);
            }
        }
    };
    survives("otlp::decode (JSON logs)", OTLP_LOGS, |text| {
        read(Signal::Logs, Format::Json, text.as_bytes());
    });
    survives("otlp::decode (JSON traces)", OTLP_SPANS, |text| {
        read(Signal::Traces, Format::Json, text.as_bytes());
        read(Signal::Metrics, Format::Json, text.as_bytes());
    });
    // Protobuf: the same mutations over bytes (a cut, a repeat, a spliced
    // text) make lengths and tags that lie.
    survives(
        "otlp::decode (protobuf)",
        "\u{a}\u{5}\u{12}\u{3}\u{a}\u{1}x",
        |text| {
            read(Signal::Logs, Format::Protobuf, text.as_bytes());
            read(Signal::Traces, Format::Protobuf, text.as_bytes());
            let _ = otlp::gunzip(text.as_bytes());
        },
    );
}

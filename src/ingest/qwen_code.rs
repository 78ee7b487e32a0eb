//! Qwen Code's sessions: `~/.qwen/projects/<project>/chats/<session>.jsonl`
//! (`QWEN_HOME` for `~/.qwen`), one self-contained record a line, appended.
//! An `assistant` record carries `model`, `cwd`, `sessionId`, `uuid` and the
//! API's `usageMetadata {promptTokenCount, candidatesTokenCount,
//! thoughtsTokenCount, cachedContentTokenCount, totalTokenCount}` (Gemini's
//! convention: the prompt includes the cached part). A forked session copies
//! its parent's records verbatim, uuid and all (`forkedFrom`), so the uuid
//! names the call and a copy counts once.

use serde_json::Value;

use super::fields::{self, Parsed};
use crate::core::UsageRecord;
use crate::core::usage::TokenCounts;

pub const SOURCE: &str = "qwen-code";

/// Reads a session's lines; each stands alone.
pub fn read_lines(lines: &[(u64, &str)]) -> Parsed {
    let mut out = Parsed::default();
    for &(number, line) in lines {
        if fields::passed_over(line, &["\"usageMetadata\""], number, &mut out) {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.malformed(number, format!("not JSON: {e}"));
                continue;
            }
        };
        if v.get("type").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let Some(usage) = v.get("usageMetadata").filter(|u| u.is_object()) else {
            continue;
        };
        match record(&v, usage) {
            Ok(Some(r)) => out.records.push(r),
            Ok(None) => {}
            Err(why) => out.malformed(number, why),
        }
    }
    out
}

fn record(v: &Value, usage: &Value) -> Result<Option<UsageRecord>, String> {
    let n = |key: &str| fields::count(usage, &[key]).map_err(|why| format!("usageMetadata.{why}"));
    let (prompt, output, thoughts, cached, total) = (
        n("promptTokenCount")?,
        n("candidatesTokenCount")?,
        n("thoughtsTokenCount")?,
        n("cachedContentTokenCount")?,
        n("totalTokenCount")?,
    );
    if prompt + output + thoughts == 0 {
        return Ok(None); // a response cut off before the API counted it
    }
    let at = v
        .get("timestamp")
        .and_then(fields::time)
        .ok_or("an assistant record without a valid timestamp")?;
    let id = v
        .get("forkedFrom")
        .and_then(|f| fields::text(f, "messageUuid"))
        .or_else(|| fields::text(v, "uuid"))
        .ok_or("an assistant record without a uuid")?;
    // Qwen Code talks to many providers: the model says whose it is.
    let mut r = UsageRecord::new(at, "", fields::text(v, "model").unwrap_or("unknown"));
    let output = if fields::thoughts_beside_output(total, prompt, output, thoughts) {
        output + thoughts
    } else {
        output
    };
    r.tokens = TokenCounts::from_openai(prompt, cached, output, thoughts);
    r.source = SOURCE.into();
    r.agent = SOURCE.into();
    r.project = fields::text(v, "cwd").unwrap_or_default().to_string();
    r.session = fields::text(v, "sessionId").map(str::to_string);
    r.request_id = Some(id.to_string());
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::SkipReason;

    #[test]
    fn assistant_records_with_usage_are_calls_and_a_fork_names_its_parent() {
        let lines = [
            r#"{"uuid":"u1","sessionId":"s","timestamp":"2026-05-01T08:00:00Z","type":"user","cwd":"/w"}"#,
            r#"{"uuid":"a1","sessionId":"s","timestamp":"2026-05-01T08:00:03Z","type":"assistant","cwd":"/w","model":"qwen3-coder-plus","usageMetadata":{"promptTokenCount":900,"candidatesTokenCount":100,"thoughtsTokenCount":20,"cachedContentTokenCount":300,"totalTokenCount":1020}}"#,
            r#"{"uuid":"a1","sessionId":"fork","timestamp":"2026-05-01T09:00:00Z","type":"assistant","cwd":"/w","model":"qwen3-coder-plus","forkedFrom":{"sessionId":"s","messageUuid":"a1"},"usageMetadata":{"promptTokenCount":900,"candidatesTokenCount":100,"thoughtsTokenCount":20,"cachedContentTokenCount":300,"totalTokenCount":1020}}"#,
            r#"{"uuid":"a2","sessionId":"s","timestamp":"2026-05-01T08:01:00Z","type":"assistant","model":"qwen3-coder-plus","usageMetadata":{"promptTokenCount":"many"}}"#,
            r#"{"uuid":"a3","sessionId":"s","type":"assistant","model":"m","usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1}}"#,
        ];
        let numbered: Vec<(u64, &str)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, *l))
            .collect();
        let p = read_lines(&numbered);
        assert_eq!(p.records.len(), 2);
        let r = &p.records[0];
        assert_eq!(
            (
                r.tokens.input,
                r.tokens.cache_read,
                r.tokens.output,
                r.tokens.reasoning
            ),
            (600, 300, 120, 20)
        );
        assert_eq!(r.project, "/w");
        assert_eq!(
            p.records[1].request_id, r.request_id,
            "the fork's copy is the same call"
        );
        assert_eq!(
            p.skipped,
            vec![SkipReason::Malformed, SkipReason::Malformed]
        );
        assert_eq!(p.errors[0].0, 4);
        assert!(
            p.errors[0].1.contains("usageMetadata.promptTokenCount"),
            "{}",
            p.errors[0].1
        );
        assert!(p.errors[1].1.contains("timestamp"));
    }
}

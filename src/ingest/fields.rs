//! Reading the fields the agents' JSON records share: token counts that must
//! be whole numbers, and times written as ISO 8601 text or as milliseconds.

use jiff::Timestamp;
use serde_json::Value;

use super::SkipReason;
use crate::core::UsageRecord;

/// What reading an agent's lines or document gave.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<UsageRecord>,
    pub skipped: Vec<SkipReason>,
    /// (line number, what is wrong); line 0 for a document as a whole.
    pub errors: Vec<(u64, String)>,
    /// A plan's windows as the agent reported them (Codex's `rate_limits`).
    pub reported: Vec<crate::core::plan::Reported>,
}

impl Parsed {
    /// A line that could not be read, and why.
    pub fn malformed(&mut self, line: u64, why: String) {
        self.skipped.push(SkipReason::Malformed);
        self.errors.push((line, why));
    }
}

/// Whether a line can hold usage, told by a marker it must contain: the rest
/// (prompts, tool output, most of a log's bytes) are passed over without
/// being parsed. A line passed over that is cut short is still reported.
pub fn passed_over(line: &str, markers: &[&str], number: u64, out: &mut Parsed) -> bool {
    let bytes = line.as_bytes();
    if markers
        .iter()
        .any(|m| memchr::memmem::find(bytes, m.as_bytes()).is_some())
    {
        return false;
    }
    if !line.trim_end().ends_with('}') {
        out.malformed(number, "not JSON: the line is cut short".into());
    }
    true
}

/// The count at `path` (keys, one level down each), 0 when absent or null; an
/// error naming the field when it is anything but a whole number.
pub fn count(v: &Value, path: &[&str]) -> Result<u64, String> {
    let mut at = v;
    for key in path {
        match at.get(key) {
            None | Some(Value::Null) => return Ok(0),
            Some(x) => at = x,
        }
    }
    at.as_u64()
        .or_else(|| {
            at.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9e15)
                .map(|f| f as u64)
        })
        .ok_or_else(|| format!("{} is not a whole number of tokens: {at}", path.join(".")))
}

/// A time as the agents write it: ISO 8601 text, or milliseconds since 1970.
pub fn time(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
        _ => None,
    }
}

/// The text at `key`, if it is text and not empty.
pub fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Whether a thinking count is a part of the output count or beside it, told
/// by the total where the agent gives one (`prompt + output + thoughts` or
/// `prompt + output`); beside it, as Gemini counts, when the total says neither.
pub fn thoughts_beside_output(total: u64, prompt: u64, output: u64, thoughts: u64) -> bool {
    !(thoughts > 0 && total > 0 && total == prompt + output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_whole_numbers_or_named() {
        let v: Value = serde_json::json!({"a": 3, "b": {"c": 4.0}, "d": -1, "e": "7", "f": null});
        assert_eq!(count(&v, &["a"]), Ok(3));
        assert_eq!(count(&v, &["b", "c"]), Ok(4));
        assert_eq!(count(&v, &["f"]), Ok(0));
        assert_eq!(count(&v, &["missing", "x"]), Ok(0));
        assert!(count(&v, &["d"]).unwrap_err().starts_with("d is not"));
        assert!(count(&v, &["e"]).is_err());
    }

    #[test]
    fn lines_without_a_marker_are_passed_over_and_cut_ones_reported() {
        let mut out = Parsed::default();
        assert!(!passed_over(
            r#"{"tokens":{}}"#,
            &["\"tokens\""],
            1,
            &mut out
        ));
        assert!(passed_over(
            r#"{"type":"user"}"#,
            &["\"tokens\""],
            2,
            &mut out
        ));
        assert!(passed_over(r#"{"type":"us"#, &["\"tokens\""], 3, &mut out));
        assert_eq!(
            out.errors,
            vec![(3, "not JSON: the line is cut short".to_string())]
        );
    }

    #[test]
    fn times_are_text_or_milliseconds() {
        let iso = serde_json::json!("2026-03-01T10:00:00.250Z");
        let ms = serde_json::json!(1_772_359_200_250_i64);
        assert_eq!(time(&iso), time(&ms));
        assert_eq!(time(&serde_json::json!(true)), None);
    }
}

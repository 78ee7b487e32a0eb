//! The generators' ground truth beside what the ledger holds: both grouped by
//! UTC day, model and project, with every token bucket, unpriced count and cost.
#![allow(dead_code)] // each includer uses part of it

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::agent_logs::{Call, Truth};

/// Per (day, model, project): records, the token buckets, unpriced records and cost.
pub type Groups = std::collections::BTreeMap<(String, String, String), [u64; 9]>;

/// The ground truth grouped as `tally usage` groups it, each call priced by the
/// shipped book on its own.
pub fn expected_groups(calls: &[Call]) -> Groups {
    use tally::core::usage::{TokenCounts, UsageRecord};
    let book = tally::core::PriceBook::new(tally::prices::shipped());
    let mut out = Groups::new();
    for c in calls {
        let mut r = UsageRecord::new(
            jiff::Timestamp::from_second(c.at).unwrap(),
            c.provider,
            &c.model,
        );
        r.tokens = TokenCounts {
            input: c.input,
            output: c.output,
            cache_read: c.cache_read,
            cache_write_5m: c.cache_write_5m,
            cache_write_1h: c.cache_write_1h,
            reasoning: c.reasoning,
        };
        let cost = book.cost(&r);
        let g = out
            .entry((c.day(), c.model.clone(), c.project.clone()))
            .or_default();
        let add = [
            1,
            c.input,
            c.output,
            c.cache_read,
            c.cache_write_5m + c.cache_write_1h,
            c.cache_write_1h,
            c.reasoning,
            cost.is_unpriced() as u64,
            cost.amount().map_or(0, |m| m.nanos() as u64),
        ];
        for (a, b) in g.iter_mut().zip(add) {
            *a += b;
        }
    }
    out
}

/// The ledger at `db` grouped by day, model and project, as `tally usage` says.
pub fn ledger_groups(db: &Path) -> Groups {
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(db)
        .args(["usage", "--group-by", "day", "--group-by", "model"])
        .args(["--group-by", "project", "--json"])
        .env("LANGUAGE", "en")
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let usage: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut out = Groups::new();
    for row in usage["rows"].as_array().unwrap() {
        let n = |k: &str| row[k].as_u64().unwrap();
        let cost = tally::core::Money::parse_usd(row["cost_usd"].as_str().unwrap()).unwrap();
        let key = (
            row["day"].as_str().unwrap().to_string(),
            row["model"].as_str().unwrap().to_string(),
            row["project"].as_str().unwrap().to_string(),
        );
        out.insert(
            key,
            [
                n("records"),
                n("input_tokens"),
                n("output_tokens"),
                n("cache_read_tokens"),
                n("cache_write_tokens"),
                n("cache_write_1h_tokens"),
                n("reasoning_tokens"),
                n("unpriced"),
                cost.nanos() as u64,
            ],
        );
    }
    out
}

pub fn skipped_as_map(report: &Value) -> std::collections::BTreeMap<String, u64> {
    report["skipped"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

pub fn truth_skipped(truth: &Truth) -> std::collections::BTreeMap<String, u64> {
    truth
        .skipped
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect()
}

//! The `tally` binary end to end, on a temporary ledger.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Ledger {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Ledger {
    fn new() -> Ledger {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("ledger.sqlite");
        Ledger { _dir: dir, db }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tally"));
        c.arg("--db").arg(&self.db).args(args);
        c.env("LANGUAGE", "en")
            .env("LC_ALL", "C.UTF-8")
            .env("TZ", "UTC");
        c.env_remove("TALLY_USER")
            .env_remove("TALLY_PROJECT")
            .env_remove("TALLY_AGENT");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run tally")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tally {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("valid JSON")
    }

    /// The usage history since `day`, exported as CSV: its rows, each as
    /// column → value.
    fn exported(&self, day: &str) -> Vec<std::collections::HashMap<String, String>> {
        let out = self._dir.path().join("usage.csv");
        self.ok(&[
            "report",
            "usage",
            "--since",
            day,
            "--out",
            out.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        lines
            .map(|l| {
                header
                    .iter()
                    .zip(l.split(','))
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    fn count(&self) -> u64 {
        self.json(&["usage", "--json"])["total"]["requests"]
            .as_u64()
            .expect("requests")
    }
}

#[test]
fn record_then_usage_shows_it_priced() {
    let l = Ledger::new();
    // gpt-4o: 10,000 prompt tokens of which 4,000 cached, 1,000 out = $0.03.
    let r = l.json(&[
        "record",
        "--model",
        "gpt-4o",
        "--input",
        "10000",
        "--cache-read",
        "4000",
        "--output",
        "1000",
        "--project",
        "website",
        "--at",
        "2025-09-01T10:00:00Z",
        "--json",
    ]);
    assert_eq!(r["cost_usd"], "0.030000000");
    assert_eq!(r["provider"], "openai");
    assert_eq!(r["new"], true);

    let u = l.json(&[
        "usage",
        "--group-by",
        "day",
        "--group-by",
        "model",
        "--json",
    ]);
    let row = &u["rows"][0];
    assert_eq!(row["day"], "2025-09-01");
    assert_eq!(row["model"], "gpt-4o");
    assert_eq!(row["requests"], 1);
    assert_eq!(row["input_tokens"], 6000);
    assert_eq!(row["cache_read_tokens"], 4000);
    assert_eq!(row["cost_usd"], "0.030000000");
    assert_eq!(row["unpriced"], 0);
    assert_eq!(u["total"]["cost_usd"], "0.030000000");
    // The keys come in the documented order: dimensions first.
    let keys: Vec<&String> = row.as_object().expect("object").keys().collect();
    assert_eq!(keys[..3], ["day", "model", "requests"]);
}

#[test]
fn usage_json_has_every_documented_field() {
    let l = Ledger::new();
    l.ok(&[
        "record",
        "--model",
        "claude-sonnet-4-5",
        "--input",
        "100",
        "--output",
        "50",
        "--cache-read",
        "10",
        "--cache-write",
        "20",
        "--cache-write-1h",
        "30",
        "--at",
        "2025-09-02T00:30:00Z",
    ]);
    l.ok(&[
        "record",
        "--model",
        "o4-mini",
        "--input",
        "100",
        "--output",
        "50",
        "--reasoning",
        "40",
        "--at",
        "2025-09-02T01:00:00Z",
    ]);
    let u = l.json(&["usage", "--group-by", "provider", "--json"]);
    let total = &u["total"];
    for field in [
        "requests",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
        "cost_usd",
        "unpriced",
    ] {
        assert!(total.get(field).is_some(), "total lacks {field}");
    }
    assert_eq!(total["cache_write_tokens"], 50, "5m + 1h");
    assert_eq!(total["cache_write_1h_tokens"], 30);
    assert_eq!(total["reasoning_tokens"], 40);
    let providers: Vec<&str> = u["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["anthropic", "openai"]);
}

#[test]
fn recording_the_same_request_twice_counts_once() {
    let l = Ledger::new();
    let args = [
        "record",
        "--model",
        "gpt-4o-mini",
        "--input",
        "10",
        "--output",
        "5",
        "--request-id",
        "req_abc",
        "--json",
    ];
    let first = l.json(&args);
    let second = l.json(&args);
    assert_eq!(first["new"], true);
    assert_eq!(second["new"], false);
    assert_eq!(first["id"], second["id"]);
    assert_eq!(l.count(), 1);
    let text = l.ok(&args[..args.len() - 1]);
    assert!(text.contains("Already recorded"), "{text}");
}

#[test]
fn an_unknown_model_is_recorded_unpriced_and_repriced_when_a_price_arrives() {
    let l = Ledger::new();
    let r = l.json(&[
        "record", "--model", "acme-1", "--input", "1000000", "--output", "0", "--json",
    ]);
    assert_eq!(r["unpriced"], true);
    assert_eq!(r["cost_usd"], Value::Null, "unpriced is not $0");
    let u = l.json(&["usage", "--json"]);
    assert_eq!(u["total"]["unpriced"], 1);
    assert_eq!(u["total"]["cost_usd"], "0.000000000");
    let listed = l.json(&["prices", "list", "--unpriced", "--json"]);
    assert_eq!(listed["unpriced"][0]["model"], "acme-1");

    l.ok(&[
        "prices", "set", "acme-1", "--input", "2.5", "--output", "10",
    ]);
    let u = l.json(&["usage", "--json"]);
    assert_eq!(u["total"]["unpriced"], 0);
    assert_eq!(
        u["total"]["cost_usd"], "2.500000000",
        "1M input tokens at $2.50/M"
    );
}

#[test]
fn a_users_price_reprices_history_and_totals() {
    let l = Ledger::new();
    l.ok(&[
        "record",
        "--model",
        "gpt-4o",
        "--input",
        "1000000",
        "--output",
        "0",
        "--at",
        "2025-09-01T00:00:00Z",
    ]);
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "2.500000000"
    );
    l.ok(&["prices", "set", "gpt-4o", "--input", "1", "--output", "4"]);
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "1.000000000"
    );
    l.ok(&["prices", "remove", "gpt-4o"]);
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "2.500000000"
    );
}

#[test]
fn reported_costs_are_kept_as_given() {
    let l = Ledger::new();
    let r = l.json(&[
        "record", "--model", "gpt-4o", "--input", "10", "--output", "10", "--cost", "0.5", "--json",
    ]);
    assert_eq!(r["cost_usd"], "0.500000000");
    assert_eq!(r["price_version"], "reported");
    l.ok(&["prices", "set", "gpt-4o", "--input", "1", "--output", "1"]);
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "0.500000000"
    );
}

#[test]
fn days_follow_the_requested_zone() {
    let l = Ledger::new();
    // 23:30 UTC on 1 Sept is already 2 Sept in Berlin.
    l.ok(&[
        "record",
        "--model",
        "gpt-4o",
        "--input",
        "10",
        "--output",
        "1",
        "--at",
        "2025-09-01T23:30:00Z",
    ]);
    let utc = l.json(&["usage", "--group-by", "day", "--json"]);
    assert_eq!(utc["rows"][0]["day"], "2025-09-01");
    let berlin = l.json(&[
        "usage",
        "--group-by",
        "day",
        "--tz",
        "Europe/Berlin",
        "--json",
    ]);
    assert_eq!(berlin["rows"][0]["day"], "2025-09-02");
    let inside = l.json(&[
        "usage",
        "--since",
        "2025-09-02",
        "--until",
        "2025-09-02",
        "--tz",
        "Europe/Berlin",
        "--json",
    ]);
    assert_eq!(inside["total"]["requests"], 1);
    let outside = l.json(&[
        "usage",
        "--since",
        "2025-09-02",
        "--until",
        "2025-09-02",
        "--json",
    ]);
    assert_eq!(outside["total"]["requests"], 0);
}

fn assert_rejected(l: &Ledger, args: &[&str], mentions: &str) {
    let before = l.count();
    let out = l.run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(
        err.contains(mentions),
        "{args:?}: error should mention {mentions:?}: {err}"
    );
    assert_eq!(l.count(), before, "{args:?} must not write");
}

#[test]
fn bad_input_is_named_and_nothing_is_written() {
    let l = Ledger::new();
    l.ok(&[
        "record", "--model", "gpt-4o", "--input", "1", "--output", "1",
    ]);
    assert_rejected(
        &l,
        &["record", "--model", "gpt-4o", "--input", "-5"],
        "--input",
    );
    assert_rejected(
        &l,
        &["record", "--model", "gpt-4o", "--input", "-5"],
        "negative",
    );
    assert_rejected(
        &l,
        &["record", "--model", "gpt-4o", "--output", "lots"],
        "--output",
    );
    assert_rejected(
        &l,
        &["record", "--model", "gpt-4o", "--at", "2025-02-30"],
        "--at",
    );
    assert_rejected(
        &l,
        &["record", "--model", "gpt-4o", "--at", "yesterday"],
        "not a date",
    );
    assert_rejected(
        &l,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--output",
            "5",
            "--reasoning",
            "9",
        ],
        "--reasoning",
    );
    assert_rejected(
        &l,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--input",
            "5",
            "--cache-read",
            "9",
        ],
        "--cache-read",
    );
    assert_rejected(&l, &["record", "--model", "", "--input", "5"], "--model");
    assert_rejected(
        &l,
        &["record", "--model", "gpt-4o", "--cost", "-1"],
        "negative",
    );
    assert_rejected(
        &l,
        &["record", "--model", "gpt-4o", "--cost", "0.0000000001"],
        "decimal places",
    );
    assert_rejected(&l, &["record", "--model", "gpt-4o", "--wat", "1"], "--wat");
    assert_rejected(
        &l,
        &["record", "--model", "dall-e-3", "--image-size", "1024x1024"],
        "--images",
    );
    assert_rejected(&l, &["usage", "--group-by", "colour"], "colour");
    assert_rejected(&l, &["usage", "--tz", "Mars/Olympus"], "Mars/Olympus");
    assert_rejected(
        &l,
        &["usage", "--since", "2025-09-02", "--until", "2025-09-01"],
        "--until",
    );
    assert_rejected(&l, &["prices", "set", "x", "--input", "abc"], "--input");
}

#[test]
fn calc_cost_prices_without_recording() {
    let l = Ledger::new();
    let v = l.json(&[
        "calc-cost",
        "--model",
        "claude-sonnet-4-5",
        "--input",
        "200001",
        "--output",
        "1000",
        "--json",
    ]);
    assert_eq!(v["cost_usd"], "1.222506000", "long-context tier");
    assert_eq!(l.count(), 0);
    let out = l.run(&["calc-cost", "--model", "nobody-knows", "--input", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody-knows"));
}

#[test]
fn prices_show_and_list() {
    let l = Ledger::new();
    let shown = l.json(&["prices", "show", "claude-sonnet-4-5-20250929", "--json"]);
    assert_eq!(shown["model"], "claude-sonnet-4-5");
    assert_eq!(shown["in_force"]["input"], "3");
    assert_eq!(shown["in_force"]["long_context"][0]["above"], 200000);
    let listed = l.json(&["prices", "list", "--provider", "xai", "--json"]);
    assert!(listed["prices"].as_array().unwrap().len() >= 3);
    let book: Value = serde_json::from_str(include_str!("../data/prices/prices.json")).unwrap();
    assert_eq!(
        listed["checked"], book["version"],
        "the book's date is shown"
    );
    assert!(listed["stale"].is_boolean());
    assert!(l.ok(&["prices", "list"]).contains("claude-opus-4-1"));
}

#[test]
fn every_shipped_id_with_a_slash_is_reachable_by_calc_cost_and_prices_show() {
    let l = Ledger::new();
    let book: Value = serde_json::from_str(include_str!("../data/prices/prices.json")).unwrap();
    let slashed: Vec<(&str, &str)> = book["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["provider"].as_str().unwrap(),
                m["model"].as_str().unwrap(),
            )
        })
        .filter(|(_, model)| model.contains('/'))
        .collect();
    assert!(slashed.len() >= 4, "{slashed:?}");
    for (provider, model) in slashed {
        let cost = l.json(&[
            "calc-cost",
            "--model",
            model,
            "--provider",
            provider,
            "--input",
            "1000",
            "--json",
        ]);
        assert_eq!(cost["unpriced"], false, "{provider} {model}: {cost}");
        let shown = l.json(&["prices", "show", model, "--provider", provider, "--json"]);
        assert_eq!(
            (shown["provider"].as_str(), shown["model"].as_str()),
            (Some(provider), Some(model))
        );
    }
}

/// A quarter of LiteLLM's price file (every fourth entry, and the entries this
/// test names), committed so that a fresh clone tests on its own.
fn litellm_snapshot() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/litellm_model_prices.json")
}

#[test]
fn litellm_import_takes_every_priceable_entry_and_explains_the_rest() {
    let file = litellm_snapshot();
    let raw: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let l = Ledger::new();
    l.ok(&[
        "record",
        "--model",
        "magistral-medium-latest",
        "--provider",
        "mistral",
        "--input",
        "1000000",
        "--output",
        "0",
    ]);
    let v = l.json(&[
        "prices",
        "import",
        file.to_str().unwrap(),
        "--from",
        "2020-01-01",
        "--json",
    ]);
    let imported = v["imported"].as_u64().unwrap();
    let skipped = v["skipped"].as_array().unwrap();
    assert!(imported > 600, "imported {imported}");
    for s in skipped {
        assert!(!s["reason"].as_str().unwrap().is_empty(), "{s}");
    }
    // Every entry is accounted for: imported (sized image entries fold into their
    // model, so they count through it) or skipped with a reason.
    let priceable_modes = [
        "chat",
        "completion",
        "responses",
        "embedding",
        "image_generation",
    ];
    let skipped_names: std::collections::HashSet<&str> = skipped
        .iter()
        .map(|s| s["entry"].as_str().unwrap())
        .collect();
    for (name, entry) in &raw {
        if name == "sample_spec" {
            continue;
        }
        let mode = entry.get("mode").and_then(Value::as_str).unwrap_or("");
        if !priceable_modes.contains(&mode) {
            assert!(
                skipped_names.contains(name.as_str()),
                "{name} ({mode}) neither imported nor skipped"
            );
        }
    }
    // Every chat or embedding entry with a real price was taken, whatever float
    // noise its numbers carry (`1.0000000000000001e-7`).
    let priced = |e: &Value, k: &str| e.get(k).and_then(Value::as_f64).is_some_and(|v| v > 0.0);
    for s in skipped {
        let name = s["entry"].as_str().unwrap();
        let entry = &raw[name];
        let mode = entry.get("mode").and_then(Value::as_str).unwrap_or("");
        let chat = matches!(mode, "chat" | "completion" | "responses")
            && priced(entry, "input_cost_per_token")
            && priced(entry, "output_cost_per_token");
        let embedding = mode == "embedding" && priced(entry, "input_cost_per_token");
        let reason = s["reason"].as_str().unwrap();
        assert!(
            !(chat || embedding) || reason.starts_with("duplicate"),
            "{name} was priceable: {reason}"
        );
    }
    // Zero-priced entries are not imported as free.
    let zero = raw
        .iter()
        .find(|(_, e)| {
            e.get("mode").and_then(Value::as_str) == Some("chat")
                && e.get("input_cost_per_token") == Some(&serde_json::json!(0))
        })
        .map(|(k, _)| k.as_str())
        .expect("the snapshot has a zero-priced chat entry");
    assert!(skipped_names.contains(zero), "{zero} should be skipped");
    assert_eq!(
        v["newly_priced"], 1,
        "the unpriced Mistral record got its price"
    );
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "1.500000000"
    );

    // Imported prices carry the file's long-context tiers and image sizes.
    let pro = l.json(&["prices", "show", "gemini/gemini-3.1-pro-preview", "--json"]);
    assert_eq!(pro["in_force"]["long_context"][0]["above"], 200000);
    let img = l.json(&[
        "prices",
        "show",
        "gpt-image-1",
        "--provider",
        "openai",
        "--json",
    ]);
    let sizes = img["history"].as_array().unwrap().iter().any(|h| {
        h["images"].as_array().is_some_and(|i| {
            i.iter()
                .any(|p| p["size"] == "1024x1536" && p["quality"] == "high")
        })
    });
    assert!(sizes, "gpt-image-1 sized prices imported: {img}");
}

#[test]
fn a_genai_prices_update_prices_the_unpriced_and_previews_the_rest() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/genai_prices.json");
    let l = Ledger::new();
    // A model only genai-prices knows: unpriced until the update.
    l.ok(&[
        "record",
        "--model",
        "gpt-4-32k",
        "--provider",
        "openai",
        "--input",
        "1000000",
        "--at",
        "2026-06-01",
        "--request-id",
        "a",
    ]);
    // GPT-5.5 over 272,000 prompt tokens: the shipped book bills its long-context
    // rate ($10/M: $3.00); genai-prices lists it flat ($5/M: $1.50).
    l.ok(&[
        "record",
        "--model",
        "gpt-5.5",
        "--input",
        "300000",
        "--at",
        "2026-06-01",
        "--request-id",
        "b",
    ]);
    let v = l.json(&[
        "prices",
        "update",
        file.to_str().unwrap(),
        "--from",
        "2026-05-01",
        "--json",
    ]);
    assert_eq!(v["format"], "genai-prices");
    assert!(v["imported"].as_u64().unwrap() > 200, "{v}");
    let reasons: Vec<&str> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"prices by time of day, which Tally cannot"),
        "{reasons:?}"
    );
    assert_eq!(v["newly_priced"], 1);
    // $60/M (gpt-4-32k) × 1M = $60 now priced; GPT-5.5 kept until asked.
    assert_eq!(v["reprice_would_change"], 1);
    assert_eq!(v["reprice_before_usd"], "63.000000000");
    assert_eq!(v["reprice_after_usd"], "61.500000000");
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "63.000000000"
    );
    let dry = l.json(&["reprice", "--dry-run", "--json"]);
    assert_eq!(
        (dry["changed"].as_u64(), dry["after_usd"].as_str()),
        (Some(1), Some("61.500000000"))
    );
    l.ok(&["reprice"]);
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "61.500000000"
    );
}

#[test]
fn the_cli_speaks_german_under_a_german_locale() {
    let l = Ledger::new();
    let out = l
        .cmd(&["usage"])
        .env("LC_ALL", "de_DE.UTF-8")
        .env("LANGUAGE", "de")
        .output()
        .expect("run tally");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Keine Nutzung in diesem Zeitraum"),
        "expected German, got: {text}"
    );
    let out = l
        .cmd(&["record", "--model", "gpt-4o", "--input", "-1"])
        .env("LC_ALL", "de_DE.UTF-8")
        .env("LANGUAGE", "de")
        .output()
        .expect("run tally");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nicht negativ"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reprice_brings_old_costs_to_the_current_book_and_dry_run_changes_nothing() {
    let l = Ledger::new();
    l.ok(&[
        "record",
        "--model",
        "gpt-4o",
        "--input",
        "1000000",
        "--output",
        "0",
        "--at",
        "2025-09-01T00:00:00Z",
    ]);
    l.ok(&[
        "record",
        "--model",
        "o3",
        "--input",
        "1000000",
        "--output",
        "0",
        "--at",
        "2025-09-02T00:00:00Z",
    ]);
    // As if an older Tally had priced gpt-4o at $5/M.
    let c = rusqlite::Connection::open(&l.db).unwrap();
    c.execute_batch(
        "INSERT INTO names (name) VALUES ('shipped 2024-01-01');
         UPDATE calls SET cost_nanos = 5000000000, price = last_insert_rowid()
         WHERE dims IN (SELECT id FROM dims WHERE model = 'gpt-4o')",
    )
    .unwrap();
    c.execute(
        "UPDATE usage_daily SET cost_nanos = 5000000000 WHERE model = 'gpt-4o'",
        [],
    )
    .unwrap();
    drop(c);
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "7.000000000"
    );

    let preview = l.json(&["reprice", "--dry-run", "--json"]);
    assert_eq!(
        (preview["examined"].as_u64(), preview["changed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (
            preview["before_usd"].as_str(),
            preview["after_usd"].as_str()
        ),
        (Some("7.000000000"), Some("4.500000000"))
    );
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "7.000000000",
        "a dry run writes nothing"
    );

    let only_o3 = l.json(&["reprice", "--model", "o3", "--json"]);
    assert_eq!(only_o3["changed"], 0);
    let done = l.json(&["reprice", "--since", "2025-09-01", "--json"]);
    assert_eq!(done["changed"], 1);
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "4.500000000",
        "totals follow"
    );
    let by_day = l.json(&["usage", "--group-by", "day", "--json"]);
    assert_eq!(by_day["rows"][0]["cost_usd"], "2.500000000");
}

#[test]
fn a_total_past_what_the_ledger_holds_is_refused_and_every_report_still_reads() {
    let l = Ledger::new();
    l.ok(&[
        "record",
        "--model",
        "gpt-4o",
        "--cost",
        "9223372036",
        "--request-id",
        "a",
    ]);
    // One dollar more would pass 2^63 nano-dollars.
    assert_rejected(
        &l,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--cost",
            "1",
            "--request-id",
            "b",
        ],
        "past what it can hold exactly",
    );
    // So would another huge call on another day, for the ledger as a whole.
    assert_rejected(
        &l,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--cost",
            "5",
            "--request-id",
            "c",
            "--at",
            "2024-01-01T00:00:00Z",
        ],
        "past what it can hold exactly",
    );
    assert_eq!(
        l.json(&["usage", "--json"])["total"]["cost_usd"],
        "9223372036.000000000"
    );
    l.ok(&["status"]);
    l.ok(&["report", "summary"]);
}

#[test]
fn a_ledger_whose_totals_overflowed_reads_again_after_the_update() {
    let l = Ledger::new();
    // As an older Tally left it (schema 14, before the bounds and the rebuild
    // after them): two calls of $9 billion each that cannot be added up, and a
    // day's sum SQLite turned into a REAL when it overflowed.
    {
        let old = tally::store::Store::open_at_version(&l.db, 14).unwrap();
        let c = old.connection();
        for (ts, id) in [(1_700_000_000_000i64, "a"), (1_700_000_001_000, "z")] {
            c.execute(
                "INSERT INTO usage (dedupe_key, ts_ms, provider, model, user, project, agent,
                     source, request_id, input, output, cache_read, cache_write_5m,
                     cache_write_1h, reasoning, images, embedding_tokens, cost_kind, cost_nanos,
                     created_ms)
                 VALUES (?1, ?2, 'openai', 'gpt-4o', 'me', '', '', 'cli', ?3, 0, 0, 0, 0, 0, 0,
                     0, 0, 'reported', 9000000000000000000, 0)",
                rusqlite::params![&tally::core::usage::request_key("cli", id)[..], ts, id],
            )
            .unwrap();
        }
        c.execute_batch(
            "INSERT INTO usage_daily (day, provider, model, user, project, agent, source,
                 requests, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning,
                 images, embedding_tokens, cost_nanos, unpriced, billed_nanos, revenue_nanos, records)
             VALUES ('2023-11-14', 'openai', 'gpt-4o', 'me', '', '', 'cli', 2, 0, 0, 0, 0, 0, 0,
                 0, 0, 1.0e19, 0, 0, 0, 2);",
        )
        .unwrap();
    }
    // The second is set aside as unpriced, saying why; every report reads.
    let usage = l.json(&["usage", "--json"]);
    assert_eq!(usage["total"]["requests"], 2, "{usage}");
    assert_eq!(
        usage["total"]["cost_usd"], "9000000000.000000000",
        "{usage}"
    );
    assert_eq!(usage["total"]["unpriced"], 1, "{usage}");
    l.ok(&["status"]);
    l.ok(&["report", "summary"]);
    l.ok(&["report", "usage", "--since", "2000-01-01"]);
    // The bounds were reckoned from the records: the $9 billion kept leaves
    // room for less than $300 million more, on any day.
    assert_rejected(
        &l,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--cost",
            "300000000",
            "--request-id",
            "y",
            "--at",
            "2024-01-01T00:00:00Z",
        ],
        "past what it can hold exactly",
    );
    // And it takes new calls again.
    l.ok(&[
        "record",
        "--model",
        "gpt-4o",
        "--cost",
        "1",
        "--request-id",
        "b",
    ]);
}

#[test]
fn a_closed_pipe_a_year_out_of_range_and_terminal_escapes_are_handled() {
    let l = Ledger::new();
    l.ok(&["record", "--model", "gpt-4o", "--input", "10"]);
    // Piped into something that stops reading: no panic.
    let mut child = l
        .cmd(&["usage"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{out:?}"
    );

    assert_rejected(
        &l,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--input",
            "1",
            "--at",
            "0000-01-01",
        ],
        "years 1970 to 9998",
    );

    // A name with an escape sequence that would retitle the terminal.
    l.ok(&[
        "record",
        "--model",
        "evil\u{1b}]0;pwned\u{7}",
        "--input",
        "10",
    ]);
    let shown = l.ok(&["usage", "--group-by", "model"]);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
    assert!(shown.contains("evil\\u{1b}]0;pwned\\u{7}"), "{shown}");
}

#[test]
fn doctor_tells_a_sound_ledger_from_a_damaged_one() {
    let l = Ledger::new();
    {
        let mut store = tally::store::Store::open(&l.db).unwrap();
        let records: Vec<tally::core::UsageRecord> = (0..3_000)
            .map(|i| {
                let at = jiff::Timestamp::from_second(1_756_684_800 + i * 60).unwrap();
                let mut r = tally::core::UsageRecord::new(at, "openai", "gpt-4o");
                r.request_id = Some(format!("req-{i}"));
                r.project = format!("project-{}", i % 7);
                r
            })
            .collect();
        store.insert_batch(&records).unwrap();
    }
    let said = l.ok(&["doctor"]);
    assert!(said.contains("Pages: sound"), "{said}");
    assert!(said.contains("Records: 3000"), "{said}");

    // 8 KB in the middle of the file overwritten, as a bad disk or a stray
    // write would (every page in the file first, none left in the WAL).
    rusqlite::Connection::open(&l.db)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let len = std::fs::metadata(&l.db).unwrap().len();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&l.db).unwrap();
        f.seek(SeekFrom::Start(len / 2 / 4096 * 4096)).unwrap();
        f.write_all(&[0xff; 8192]).unwrap();
    }
    let out = l.run(&["doctor"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("DAMAGED") || said.contains("cannot be opened"),
        "{said}"
    );
    assert!(said.contains("from a backup"), "{said}");
}

#[test]
fn a_calls_tier_speed_region_and_searches_are_kept_and_exported() {
    let l = Ledger::new();
    // claude-opus-4-6: 1M in × $5 + 100,000 out × $25 = $7.50; fast 6× and
    // US-only 1.1×: $49.50; 2 searches × $10 / 1,000: $0.02.
    let v = l.json(&[
        "record",
        "--model",
        "claude-opus-4-6",
        "--input",
        "1000000",
        "--output",
        "100000",
        "--speed",
        "fast",
        "--region",
        "us",
        "--web-searches",
        "2",
        "--at",
        "2026-06-01T12:00:00Z",
        "--json",
    ]);
    assert_eq!(v["cost_usd"], "49.520000000", "{v}");
    let v = l.json(&[
        "record",
        "--model",
        "gpt-4o",
        "--input",
        "1000000",
        "--service-tier",
        "batch",
        "--at",
        "2026-06-01T13:00:00Z",
        "--json",
    ]);
    assert_eq!(v["cost_usd"], "1.250000000", "half of $2.50: {v}");
    let rows = l.exported("2026-06-01");
    let billing = |r: &std::collections::HashMap<String, String>| {
        ["service_tier", "speed", "region", "web_searches"].map(|c| r[c].clone())
    };
    assert_eq!(billing(&rows[0]), ["standard", "fast", "us", "2"]);
    assert_eq!(billing(&rows[1]), ["batch", "standard", "", "0"]);
}

#[test]
fn what_if_without_fast_mode_prices_only_the_fast_calls_at_standard_speed() {
    let l = Ledger::new();
    // Claude Opus 4.6, 100,000 in and 10,000 out: $0.50 + $0.25 = $0.75 at
    // standard speed, six times that ($4.50) in fast mode.
    let call = |id: &str, extra: &[&str]| {
        let mut args = vec![
            "record",
            "--model",
            "claude-opus-4-6",
            "--input",
            "100000",
            "--output",
            "10000",
            "--at",
            "2026-11-20",
            "--request-id",
            id,
        ];
        args.extend_from_slice(extra);
        l.ok(&args);
    };
    call("fast", &["--speed", "fast"]);
    call("standard", &[]);
    let v = l.json(&[
        "report",
        "what-if",
        "--without-fast",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-30",
        "--format",
        "json",
    ]);
    let all = &v["tables"][0]["rows"][0];
    assert_eq!(all["key"], "All");
    assert_eq!(all["actual_usd"], "5.250000000");
    assert_eq!(all["what_if_usd"], "1.500000000");
    assert_eq!(all["records"], 2);
}

#[test]
fn a_calls_audio_tokens_are_priced_kept_and_exported() {
    let l = Ledger::new();
    // gpt-realtime: 10,000 in (2,000 cached) of which 6,000 audio (1,000
    // cached); 3,000 out of which 2,500 audio. Uncached 8,000: text 3,000 ×
    // $4 + 1,000 × $0.40 + 500 × $16 = $0.0204; audio 5,000 × $32 + 1,000 ×
    // $0.40 + 2,500 × $64 = $0.3204. $0.3408.
    let v = l.json(&[
        "record",
        "--model",
        "gpt-realtime",
        "--input",
        "10000",
        "--cache-read",
        "2000",
        "--output",
        "3000",
        "--audio-input",
        "6000",
        "--audio-cached",
        "1000",
        "--audio-output",
        "2500",
        "--at",
        "2026-06-01T12:00:00Z",
        "--json",
    ]);
    assert_eq!(v["cost_usd"], "0.340800000", "{v}");
    // More cached audio than audio input is refused, naming both flags.
    let out = l.run(&[
        "record",
        "--model",
        "gpt-realtime",
        "--input",
        "100",
        "--audio-input",
        "10",
        "--audio-cached",
        "20",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--audio-cached (20) cannot exceed --audio-input (10)"),
        "{err}"
    );
    // A model without audio rates leaves such a call unpriced.
    let v = l.json(&[
        "record",
        "--model",
        "gpt-4o",
        "--input",
        "1000",
        "--audio-input",
        "500",
        "--at",
        "2026-06-01T13:00:00Z",
        "--json",
    ]);
    assert!(v["cost_usd"].is_null(), "{v}");
    let first = &l.exported("2026-06-01")[0];
    let audio = [
        "audio_input_tokens",
        "audio_cache_read_tokens",
        "audio_output_tokens",
    ]
    .map(|c| first[c].as_str());
    assert_eq!(audio, ["5000", "1000", "2500"]);
}

#[test]
fn a_price_update_dated_after_the_book_is_the_day_prices_were_checked() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/genai_prices.json");
    let l = Ledger::new();
    l.ok(&[
        "prices",
        "update",
        file.to_str().unwrap(),
        "--from",
        "2027-01-15",
    ]);
    let listed = l.json(&["prices", "list", "--json"]);
    assert_eq!(listed["checked"], "2027-01-15");
}

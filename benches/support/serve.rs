//! `tally serve` (`-- serve`), the real binary on a copy of the
//! 1,000,000-record ledger with its 100 budgets:
//! - OTLP intake: 8 concurrent exporters, each posting protobuf exports of
//!   100 GenAI spans (an SDK batch exporter's size) for 10 s: first as fast
//!   as the server takes them (records stored a second), then each at its
//!   share of 20,000 records/s (the p99 latency of an export at that rate);
//!   the server's peak RSS over it all;
//! - `POST /api/v1/check` from one client, 2,000 asks: p50 and p99.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::report;

const EXPORTERS: usize = 8;
const SPANS_PER_EXPORT: usize = 100;
const RUN: Duration = Duration::from_secs(10);

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// One export of `SPANS_PER_EXPORT` chat spans, each its own call.
fn export(exporter: usize, n: u64) -> Vec<u8> {
    let now = jiff::Timestamp::now().as_nanosecond() as u64;
    let spans = (0..SPANS_PER_EXPORT)
        .map(|i| {
            let s = |v: &str| any_value::Value::StringValue(v.into());
            Span {
                trace_id: (exporter as u128 * 1_000_000_000 + n as u128)
                    .to_be_bytes()
                    .to_vec(),
                span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                name: "chat gpt-4o".into(),
                start_time_unix_nano: now - 1_000_000_000,
                end_time_unix_nano: now,
                attributes: vec![
                    kv("gen_ai.operation.name", s("chat")),
                    kv("gen_ai.provider.name", s("openai")),
                    kv("gen_ai.request.model", s("gpt-4o")),
                    kv(
                        "gen_ai.response.id",
                        s(&format!("bench-{exporter}-{n}-{i}")),
                    ),
                    kv(
                        "gen_ai.usage.input_tokens",
                        any_value::Value::IntValue(1200),
                    ),
                    kv(
                        "gen_ai.usage.output_tokens",
                        any_value::Value::IntValue(300),
                    ),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue(format!("bench-app-{exporter}")),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs the exporters for `RUN`, each sending an export every `every` (as
/// fast as answered when None); records a second, and the p99 latency.
fn intake(base: &str, every: Option<Duration>) -> (f64, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    // The paced run's calls are new ones, not the first run's again.
    let offset = every.map_or(0, |_| 1_000_000);
    let started = Instant::now();
    let exporters: Vec<_> = (0..EXPORTERS)
        .map(|e| {
            let (url, stop, failed) = (format!("{base}/v1/traces"), stop.clone(), failed.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut latencies = Vec::new();
                let mut n = offset;
                let begun = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if let Some(every) = every {
                        // Each exporter at its own phase, as real ones are.
                        let due =
                            every * (latencies.len() as u32) + every * e as u32 / EXPORTERS as u32;
                        if let Some(wait) = due.checked_sub(begun.elapsed()) {
                            std::thread::sleep(wait);
                        }
                    }
                    let body = export(e, n);
                    let t = Instant::now();
                    let ok = agent
                        .post(&url)
                        .header("Content-Type", "application/x-protobuf")
                        .send(&body[..])
                        .is_ok_and(|r| r.status().is_success());
                    latencies.push(t.elapsed());
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = exporters
        .into_iter()
        .flat_map(|h| h.join().expect("exporter"))
        .collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let rate = (latencies.len() * SPANS_PER_EXPORT) as f64 / elapsed.as_secs_f64();
    let p99 = percentile(&latencies, 0.99);
    println!(
        "OTLP intake{}: {} exports of {SPANS_PER_EXPORT} spans from {EXPORTERS} exporters in {:.1} s, {} failed; latency p50 {:.1} ms, p99 {:.1} ms",
        if every.is_some() { " (paced)" } else { "" },
        latencies.len(),
        elapsed.as_secs_f64(),
        failed.load(Ordering::Relaxed),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
    assert_eq!(failed.load(Ordering::Relaxed), 0, "exports refused");
    (rate, p99)
}

pub fn bench_serve(dir: &Path) -> bool {
    let source = super::million_ledger(dir);
    let db = dir.join("serve.sqlite");
    let conn = rusqlite::Connection::open(&source).expect("ledger");
    conn.execute("VACUUM INTO ?1", [db.to_string_lossy()])
        .expect("copy the ledger");
    drop(conn);

    let mut child = Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg("--db")
        .arg(&db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tally serve");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let base = loop {
        line.clear();
        assert!(err.read_line(&mut line).expect("read") > 0, "serve ended");
        if let Some(rest) = line.split("http://").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().expect("addr"));
        }
    };
    std::thread::spawn(move || for _ in err.lines() {});

    let (rate, _) = intake(&base, None);
    let mut ok = report(
        "OTLP intake, 8 exporters, 1M ledger",
        rate,
        20_000.0,
        "records/s",
        true,
    );
    let target = Duration::from_secs_f64((EXPORTERS * SPANS_PER_EXPORT) as f64 / 20_000.0);
    let (paced, p99) = intake(&base, Some(target));
    ok &= report(
        "OTLP intake paced at 20,000/s: achieved",
        paced,
        19_000.0,
        "records/s",
        true,
    );
    ok &= report(
        "OTLP export latency p99 at 20,000/s",
        p99.as_secs_f64() * 1e3,
        20.0,
        "ms",
        false,
    );

    // Checks.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base}/api/v1/check");
    let mut checks: Vec<Duration> = (0..2_000)
        .map(|i| {
            let body = format!(
                r#"{{"model":"gpt-4o","estimated_input":{},"estimated_output":500,"project":"web","user":"alice"}}"#,
                1000 + i
            );
            let t = Instant::now();
            let r = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body)
                .expect("check");
            assert!(r.status().is_success());
            t.elapsed()
        })
        .collect();
    checks.sort();
    let rss = peak_rss_mb(child.id());
    ok &= report(
        "POST /api/v1/check p50 (100 budgets)",
        percentile(&checks, 0.5).as_secs_f64() * 1e3,
        1.0,
        "ms",
        false,
    );
    ok &= report(
        "POST /api/v1/check p99",
        percentile(&checks, 0.99).as_secs_f64() * 1e3,
        5.0,
        "ms",
        false,
    );
    ok &= report("tally serve peak RSS", rss, 100.0, "MB", false);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    ok
}

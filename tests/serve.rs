//! `tally serve` and `tally mcp` as a user runs them: the real binary on a
//! temporary ledger, OTLP sent by the OpenTelemetry SDK's own HTTP exporter
//! and by curl, REST and events over real sockets, MCP through rmcp's client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TALLY: &str = env!("CARGO_BIN_EXE_tally");

fn tally(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(TALLY)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("TALLY_USER")
        .env_remove("TALLY_PROJECT")
        .env_remove("TALLY_AGENT")
        .output()
        .unwrap()
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = tally(db, args);
    assert!(
        out.status.success(),
        "tally {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn usage_json(db: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["usage", "--json", "--tz", "UTC"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(db, &args)).unwrap()
}

fn requests(db: &Path) -> u64 {
    usage_json(db, &[])["total"]["requests"].as_u64().unwrap()
}

/// A running `tally serve`; stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    base: String,
    _home: tempfile::TempDir,
}

impl Server {
    fn start(db: &Path, extra: &[&str]) -> Server {
        let home = tempfile::tempdir().unwrap();
        let mut child = Command::new(TALLY)
            .arg("--db")
            .arg(db)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let base = loop {
            line.clear();
            assert!(err.read_line(&mut line).unwrap() > 0, "serve ended early");
            if let Some(rest) = line.split("http://").nth(1) {
                break format!("http://{}", rest.split_whitespace().next().unwrap());
            }
        };
        // Keep reading its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in err.lines() {});
        Server {
            child,
            base,
            _home: home,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn term(&mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.term();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut r = agent()
        .post(url)
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (
        r.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn get(url: &str) -> (u16, Value) {
    let mut r = agent().get(url).call().unwrap();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (r.status().as_u16(), serde_json::from_str(&text).unwrap())
}

fn curl_json(url: &str, body: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST"])
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
            url,
        ])
        .output()
        .expect("curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

fn ledger() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    ok(&db, &["prices", "list"]);
    (dir, db)
}

fn kv(key: &str, v: Value) -> Value {
    let value = match v {
        Value::String(s) => json!({"stringValue": s}),
        Value::Number(n) => json!({"intValue": n.to_string()}),
        other => other,
    };
    json!({"key": key, "value": value})
}

/// A Claude Code `api_request` event as OTLP/JSON, as Claude Code sends it
/// (its counts are text).
fn claude_event(session: &str, at_ns: u64, input: u64, output: u64, cache_read: u64) -> Value {
    json!({"resourceLogs": [{
        "resource": {"attributes": [kv("service.name", json!("claude-code")), kv("host.name", json!("box")),
            kv("tally.project", json!("web"))]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": [{
            "timeUnixNano": at_ns.to_string(),
            "body": {"stringValue": "claude_code.api_request"},
            "attributes": [kv("event.name", json!("api_request")), kv("model", json!("claude-sonnet-4-5")),
                kv("input_tokens", json!(input.to_string())), kv("output_tokens", json!(output.to_string())),
                kv("cache_read_tokens", json!(cache_read.to_string())), kv("cache_creation_tokens", json!("0")),
                kv("cost_usd", json!("0.01")), kv("session.id", json!(session)),
                kv("user.email", json!("ann@example.com"))]
        }, {
            "timeUnixNano": at_ns.to_string(),
            "body": {"stringValue": "claude_code.tool_result"},
            "attributes": [kv("tool_name", json!("Bash"))]
        }]}]
    }]})
}

/// A GenAI `chat` span as OTLP/JSON.
fn genai_span(service: &str, response_id: &str, input: u64, output: u64) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [kv("service.name", json!(service)), kv("enduser.id", json!("bob"))]},
        "scopeSpans": [{"spans": [{
            "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": format!("{:0>16}", response_id.len()),
            "name": "chat gpt-4o", "kind": 3,
            "startTimeUnixNano": "1764496800000000000", "endTimeUnixNano": "1764496801000000000",
            "attributes": [kv("gen_ai.operation.name", json!("chat")), kv("gen_ai.provider.name", json!("openai")),
                kv("gen_ai.request.model", json!("gpt-4o")), kv("gen_ai.response.id", json!(response_id)),
                kv("gen_ai.usage.input_tokens", json!(input)), kv("gen_ai.usage.output_tokens", json!(output))]
        }]}]
    }]})
}

#[test]
fn otlp_json_from_curl_becomes_exactly_the_expected_records() {
    let (_dir, db) = ledger();
    let server = Server::start(&db, &[]);
    let logs = server.url("/v1/logs");
    let event = claude_event("s1", 1_764_496_800_000_000_000, 1200, 300, 5000).to_string();
    let (code, body) = curl_json(&logs, &event);
    assert_eq!((code, body.as_str()), (200, "{}"));
    // The same export again (an exporter's retry) counts once.
    assert_eq!(curl_json(&logs, &event).0, 200);
    let (code, _) = curl_json(
        &server.url("/v1/traces"),
        &genai_span("invoice-bot", "chatcmpl-1", 1000, 200).to_string(),
    );
    assert_eq!(code, 200);

    let by = usage_json(
        &db,
        &[
            "--group-by",
            "source",
            "--group-by",
            "user",
            "--group-by",
            "project",
        ],
    );
    let rows = by["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let claude = rows.iter().find(|r| r["source"] == "claude-code").unwrap();
    assert_eq!(claude["requests"], 1);
    assert_eq!(
        (
            &claude["input_tokens"],
            &claude["output_tokens"],
            &claude["cache_read_tokens"]
        ),
        (&json!(1200), &json!(300), &json!(5000))
    );
    assert_eq!(
        (&claude["user"], &claude["project"]),
        (&json!("ann@example.com"), &json!("web"))
    );
    // Priced from Tally's book: $3/M in, $15/M out, $0.30/M cache reads.
    assert_eq!(claude["cost_usd"], "0.009600000");
    let bot = rows.iter().find(|r| r["source"] == "otel").unwrap();
    assert_eq!(
        (&bot["input_tokens"], &bot["user"]),
        (&json!(1000), &json!("bob"))
    );
    let agents = usage_json(&db, &["--group-by", "agent"]);
    let names: Vec<&str> = agents["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["claude-code", "invoice-bot"]);

    // The tool result is not usage: counted under its name, not dropped.
    let (_, intake) = get(&server.url("/api/v1/otlp"));
    assert_eq!(
        intake["not_usage"]["claude_code.tool_result"], 2,
        "{intake}"
    );
    assert_eq!(
        (&intake["recorded"], &intake["duplicates"]),
        (&json!(2), &json!(1))
    );
    drop(server);
    let status = ok(&db, &["serve", "status", "--json"]);
    let kept: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(kept["not_usage"]["claude_code.tool_result"], 2);
}

#[test]
fn malformed_and_foreign_bodies_are_refused_and_write_nothing() {
    let (_dir, db) = ledger();
    let server = Server::start(&db, &[]);
    let logs = server.url("/v1/logs");
    let (code, body) = curl_json(&logs, "{\"resourceLogs\": [{\"scopeLogs\": ");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not JSON"), "{body}");
    let (code, _) = post(&logs, "application/x-protobuf", &[0xff, 0x01, 0x02]);
    assert_eq!(code, 400);
    let (code, _) = post(&logs, "text/plain", b"hello");
    assert_eq!(code, 415);
    // Usage that cannot be read is rejected by count, with why; the rest is taken.
    let mut event = claude_event("s2", 1_764_496_800_000_000_000, 1, 1, 0);
    event["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"][2] =
        kv("input_tokens", json!("lots"));
    let (code, body) = curl_json(&logs, &event.to_string());
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedLogRecords"], "1", "{body}");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("input_tokens")
    );
    drop(server);
    assert_eq!(requests(&db), 0);
}

#[test]
fn the_sdks_own_http_exporter_sends_protobuf_that_becomes_records() {
    use opentelemetry::KeyValue;
    use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider};
    use opentelemetry::trace::{Span, Tracer, TracerProvider};
    use opentelemetry_otlp::{Protocol, WithExportConfig};

    let (_dir, db) = ledger();
    let server = Server::start(&db, &[]);
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("claude-code")
        .with_attribute(KeyValue::new("tally.project", "api"))
        .build();
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(server.url("/v1/logs"))
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_resource(resource.clone())
        .with_simple_exporter(exporter)
        .build();
    let logger = provider.logger("com.anthropic.claude_code.events");
    for (i, session) in ["a", "b", "c"].iter().enumerate() {
        let mut rec = logger.create_log_record();
        rec.set_body(AnyValue::from("claude_code.api_request"));
        rec.set_timestamp(std::time::UNIX_EPOCH + Duration::from_secs(1_764_496_800 + i as u64));
        rec.add_attribute("model", "claude-haiku-4-5");
        rec.add_attribute("input_tokens", (100 * (i + 1)) as i64);
        rec.add_attribute("output_tokens", 10_i64);
        rec.add_attribute("session.id", session.to_string());
        logger.emit(rec);
    }
    provider.shutdown().unwrap();

    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(server.url("/v1/traces"))
        .build()
        .unwrap();
    let tracers = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("support-bot")
                .build(),
        )
        .with_simple_exporter(spans)
        .build();
    let tracer = tracers.tracer("openllmetry");
    let mut span = tracer.start("chat gpt-4o-mini");
    span.set_attributes([
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.system", "openai"),
        KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
        KeyValue::new("gen_ai.response.id", "chatcmpl-sdk"),
        KeyValue::new("gen_ai.usage.input_tokens", 2000_i64),
        KeyValue::new("gen_ai.usage.output_tokens", 100_i64),
    ]);
    span.end();
    tracers.shutdown().unwrap();

    let by = usage_json(&db, &["--group-by", "agent", "--group-by", "model"]);
    let rows = by["rows"].as_array().unwrap();
    let claude = rows.iter().find(|r| r["agent"] == "claude-code").unwrap();
    assert_eq!(
        (
            &claude["model"],
            &claude["requests"],
            &claude["input_tokens"]
        ),
        (&json!("claude-haiku-4-5"), &json!(3), &json!(600))
    );
    let bot = rows.iter().find(|r| r["agent"] == "support-bot").unwrap();
    assert_eq!(
        (&bot["model"], &bot["input_tokens"], &bot["output_tokens"]),
        (&json!("gpt-4o-mini"), &json!(2000), &json!(100))
    );
    assert_eq!(bot["unpriced"], 0);
}

#[test]
fn a_call_from_otlp_and_from_its_log_file_counts_once() {
    let (dir, db) = ledger();
    // Copilot's file export and the same span over OTLP share the response id.
    let span = genai_span("github-copilot", "resp-shared", 5000, 300);
    let otel = dir.path().join("copilot-otel");
    std::fs::create_dir_all(&otel).unwrap();
    std::fs::write(otel.join("export.jsonl"), format!("{span}\n")).unwrap();
    ok(&db, &["import", "copilot", otel.to_str().unwrap()]);
    // Claude Code's log line (named by its message id), then its OTLP event.
    let projects = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&projects).unwrap();
    let line = json!({"type": "assistant", "sessionId": "s9", "timestamp": "2025-11-30T10:00:00.500Z",
        "requestId": "req_1", "cwd": "/work/web",
        "message": {"id": "msg_1", "model": "claude-sonnet-4-5", "role": "assistant",
            "usage": {"input_tokens": 40, "output_tokens": 20, "cache_read_input_tokens": 900,
                "cache_creation_input_tokens": 0}}});
    std::fs::write(projects.join("s9.jsonl"), format!("{line}\n")).unwrap();
    ok(
        &db,
        &[
            "import",
            "claude-code",
            dir.path().join("claude/projects").to_str().unwrap(),
        ],
    );
    assert_eq!(requests(&db), 2);

    let server = Server::start(&db, &[]);
    assert_eq!(
        curl_json(&server.url("/v1/traces"), &span.to_string()).0,
        200
    );
    let event = claude_event("s9", 1_764_496_800_000_000_000, 40, 20, 900);
    assert_eq!(
        curl_json(&server.url("/v1/logs"), &event.to_string()).0,
        200
    );
    let (_, intake) = get(&server.url("/api/v1/otlp"));
    assert_eq!(
        (&intake["recorded"], &intake["duplicates"]),
        (&json!(0), &json!(2)),
        "{intake}"
    );
    drop(server);
    assert_eq!(requests(&db), 2);
}

#[test]
fn a_log_line_imported_after_its_otlp_event_counts_once() {
    let (dir, db) = ledger();
    let server = Server::start(&db, &[]);
    let event = claude_event("s7", 1_764_496_800_000_000_000, 40, 20, 900);
    assert_eq!(
        curl_json(&server.url("/v1/logs"), &event.to_string()).0,
        200
    );
    drop(server);
    assert_eq!(requests(&db), 1);
    // The same call in Claude Code's log, and one the event stream never told.
    let projects = dir.path().join("claude/projects/p");
    std::fs::create_dir_all(&projects).unwrap();
    let line = |msg: &str, input: u64| {
        json!({"type": "assistant", "sessionId": "s7", "timestamp": "2025-11-30T10:00:01.200Z",
            "requestId": format!("req_{msg}"), "cwd": "/work/web",
            "message": {"id": msg, "model": "claude-sonnet-4-5", "role": "assistant",
                "usage": {"input_tokens": input, "output_tokens": 20, "cache_read_input_tokens": 900,
                    "cache_creation_input_tokens": 0}}})
    };
    std::fs::write(
        projects.join("s7.jsonl"),
        format!("{}\n{}\n", line("msg_7", 40), line("msg_8", 41)),
    )
    .unwrap();
    let out = ok(
        &db,
        &[
            "import",
            "claude-code",
            "--json",
            dir.path().join("claude/projects").to_str().unwrap(),
        ],
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&report["new"], &report["already_imported"]),
        (&json!(1), &json!(1)),
        "{report}"
    );
    assert_eq!(requests(&db), 2);
}

#[test]
fn rest_answers_as_the_command_line_does_and_names_bad_fields() {
    let (_dir, db) = ledger();
    ok(
        &db,
        &[
            "policy", "add", "daily", "--limit", "1", "--period", "daily", "--action", "block",
        ],
    );
    let server = Server::start(&db, &[]);
    let (code, v) = post(
        &server.url("/api/v1/record"),
        "application/json",
        br#"{"model":"gpt-4o","input":100000,"output":1000,"request_id":"r-1","project":"web"}"#,
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        (&v["cost_usd"], &v["new"]),
        (&json!("0.260000000"), &json!(true))
    );
    let (code, again) = post(
        &server.url("/api/v1/record"),
        "application/json",
        br#"{"model":"gpt-4o","input":100000,"output":1000,"request_id":"r-1","project":"web"}"#,
    );
    assert_eq!(
        (code, &again["new"], &again["id"]),
        (200, &json!(false), &v["id"])
    );
    for (body, field) in [
        (r#"{"model":"gpt-4o","input":-3}"#, "input"),
        (r#"{"model":"gpt-4o","inptu":3}"#, "inptu"),
        (r#"{"model":"gpt-4o","at":"yesterday-ish"}"#, "at"),
        (
            r#"{"model":"gpt-4o","output":5,"reasoning":9}"#,
            "reasoning",
        ),
        (r#"{"model":"","input":1}"#, "model"),
        (r#"{"model":"gpt-4o","cost_usd":"-1"}"#, "cost_usd"),
    ] {
        let (code, e) = post(
            &server.url("/api/v1/record"),
            "application/json",
            body.as_bytes(),
        );
        assert_eq!(
            (code, e["field"].as_str()),
            (400, Some(field)),
            "{body}: {e}"
        );
    }
    let (code, e) = get(&server.url("/api/v1/usage?group_by=colour"));
    assert_eq!((code, e["field"].as_str()), (400, Some("group_by")));

    // The same documents as the command line's --json.
    let (_, usage) = get(&server.url("/api/v1/usage?group_by=model,project&tz=UTC"));
    assert_eq!(
        usage,
        usage_json(&db, &["--group-by", "model", "--group-by", "project"])
    );
    // The forecast moves with the clock between the two asks: left out.
    let budgets = |mut v: Value| {
        for p in v["policies"].as_array_mut().unwrap() {
            p.as_object_mut().unwrap().remove("forecast");
        }
        v["policies"].clone()
    };
    let (_, status) = get(&server.url("/api/v1/status"));
    let cli: Value = serde_json::from_str(&ok(&db, &["status", "--json"])).unwrap();
    assert_eq!(budgets(status), budgets(cli));
    let (code, check) = post(
        &server.url("/api/v1/check"),
        "application/json",
        br#"{"model":"gpt-4o","estimated_input":500000}"#,
    );
    assert_eq!(code, 200);
    assert_eq!(check["decision"]["verdict"], "block", "{check}");
    let cli = tally(
        &db,
        &[
            "check",
            "--model",
            "gpt-4o",
            "--estimated-input",
            "500000",
            "--json",
        ],
    );
    assert_eq!(cli.status.code(), Some(3));
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(check["decision"], cli["decision"]);

    // The blocked check raised an alert; acknowledging it over HTTP shows.
    let (_, alerts) = get(&server.url("/api/v1/alerts"));
    let id = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "POLICY_VIOLATION")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (code, acked) = post(
        &server.url(&format!("/api/v1/alerts/{id}/ack")),
        "application/json",
        b"",
    );
    assert_eq!((code, &acked["acknowledged"]), (200, &json!(true)));
    assert_eq!(acked["alert"]["state"], "acknowledged");
    let (code, _) = post(
        &server.url("/api/v1/alerts/99999/ack"),
        "application/json",
        b"",
    );
    assert_eq!(code, 404);

    let (_, doc) = get(&server.url("/api/v1/openapi.json"));
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["components"]["schemas"]["RecordRequest"]["properties"]["request_id"].is_object());
    assert_eq!(requests(&db), 1);
}

/// Reads WebSocket messages until `n` events came, or fails after 20 s.
fn ws_events(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    n: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} events: {out:?}",
            out.len()
        );
        match socket.read() {
            Ok(tungstenite::Message::Text(t)) => out.push(serde_json::from_str(&t).unwrap()),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("websocket: {e}"),
        }
    }
    out
}

fn connect(
    url: &str,
) -> tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>> {
    let (socket, _) = tungstenite::connect(url).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
    }
    socket
}

fn record_over_http(server: &Server, id: &str) {
    let body =
        json!({"model": "gpt-4o-mini", "input": 1000, "output": 10, "request_id": id}).to_string();
    let (code, v) = post(
        &server.url("/api/v1/record"),
        "application/json",
        body.as_bytes(),
    );
    assert_eq!(code, 201, "{v}");
}

#[test]
fn events_come_live_and_a_client_that_comes_back_gets_exactly_what_it_missed() {
    let (_dir, db) = ledger();
    let server = Server::start(&db, &[]);
    let ws = server.url("/api/v1/events").replace("http://", "ws://");
    let mut socket = connect(&ws);
    record_over_http(&server, "live-1");
    let first = ws_events(&mut socket, 1);
    assert_eq!(
        (&first[0]["event"], &first[0]["data"]["request_id"]),
        (&json!("record"), &json!("live-1"))
    );
    let last = first[0]["id"].as_str().unwrap().to_string();
    socket.close(None).unwrap();
    drop(socket);

    // Missed while away: two over HTTP and one from the command line.
    record_over_http(&server, "missed-1");
    record_over_http(&server, "missed-2");
    ok(
        &db,
        &[
            "record",
            "--model",
            "gpt-4o-mini",
            "--input",
            "5",
            "--request-id",
            "missed-3",
        ],
    );
    let mut socket = connect(&format!("{ws}?last_event_id={last}"));
    let caught = ws_events(&mut socket, 3);
    let ids: Vec<&str> = caught
        .iter()
        .map(|e| e["data"]["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["missed-1", "missed-2", "missed-3"]);
    // And nothing more: the next event is a new one.
    record_over_http(&server, "after");
    let next = ws_events(&mut socket, 1);
    assert_eq!(next[0]["data"]["request_id"], "after");
    assert_eq!(requests(&db), 5);

    // Server-Sent Events for curl users, resumed the same way.
    let out = Command::new("curl")
        .args([
            "-s",
            "-N",
            "--max-time",
            "3",
            "-H",
            &format!("Last-Event-ID: {last}"),
        ])
        .arg(server.url("/api/v1/events"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let told: Vec<&str> = text.lines().filter(|l| l.starts_with("event: ")).collect();
    assert_eq!(told, ["event: record"; 4], "{text}");
}

#[test]
fn off_loopback_a_token_is_required_and_a_wrong_one_writes_nothing() {
    let (dir, db) = ledger();
    let out = tally(&db, &["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without a token"));

    let token = dir.path().join("token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef\n").unwrap();
    let server = Server::start(&db, &["--token-file", token.to_str().unwrap()]);
    let body = br#"{"model":"gpt-4o","input":10}"#;
    for auth in [None, Some("Bearer wrong-token-wrong-token-00")] {
        let mut req = agent()
            .post(&server.url("/api/v1/record"))
            .header("Content-Type", "application/json");
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        assert_eq!(req.send(&body[..]).unwrap().status().as_u16(), 401);
    }
    let (code, _) = {
        let r = agent()
            .post(&server.url("/v1/logs"))
            .header("Content-Type", "application/json")
            .send(claude_event("x", 1_764_496_800_000_000_000, 1, 1, 0).to_string())
            .unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(code, 401);
    assert_eq!(requests(&db), 0);
    let r = agent()
        .post(&server.url("/api/v1/record"))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer 0123456789abcdef0123456789abcdef")
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(requests(&db), 1);
}

#[test]
fn sigterm_during_a_burst_loses_no_answered_request_and_doubles_none() {
    let (_dir, db) = ledger();
    let mut server = Server::start(&db, &[]);
    let url = server.url("/v1/traces");
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let senders: Vec<_> = (0..8)
        .map(|t| {
            let (url, answered) = (url.clone(), answered.clone());
            std::thread::spawn(move || {
                for i in 0..1250 {
                    let id = format!("burst-{t}-{i}");
                    let body = genai_span("burst", &id, 10, 1).to_string();
                    let sent = agent()
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .send(body);
                    match sent {
                        Ok(r) if r.status().is_success() => answered.lock().unwrap().push(id),
                        Ok(_) => {}
                        Err(_) => return, // refused: the server has stopped
                    }
                }
            })
        })
        .collect();
    // Stop it part way through the burst.
    while answered.lock().unwrap().len() < 2000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = server.term();
    assert!(status.success(), "serve ended with {status}");
    for s in senders {
        s.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 2000 && answered.len() < 10_000,
        "{}",
        answered.len()
    );
    // Every answered id is in the ledger, and no id is there twice.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare("SELECT request_id, count(*) FROM usage WHERE request_id LIKE 'burst-%' GROUP BY request_id")
        .unwrap();
    let stored: std::collections::HashMap<String, i64> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(stored.values().all(|n| *n == 1), "a call stored twice");
    let missing: Vec<&String> = answered
        .iter()
        .filter(|id| !stored.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "answered but not stored: {missing:?}");
}

#[test]
fn the_mcp_server_answers_an_agent_over_stdio() {
    let (_dir, db) = ledger();
    ok(
        &db,
        &[
            "policy", "add", "tight", "--limit", "0.50", "--period", "monthly", "--action", "block",
        ],
    );
    ok(
        &db,
        &[
            "record",
            "--model",
            "gpt-4o",
            "--input",
            "300000",
            "--output",
            "1000",
            "--project",
            "web",
        ],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use rmcp::ServiceExt;
        use rmcp::model::CallToolRequestParams;
        use rmcp::transport::TokioChildProcess;
        let mut command = tokio::process::Command::new(TALLY);
        command.arg("--db").arg(&db).arg("mcp");
        let client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
        let tools: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        for t in [
            "budget_status",
            "check_budget",
            "usage_summary",
            "estimate_cost",
            "cheaper_models",
            "record_usage",
        ] {
            assert!(tools.contains(&t.to_string()), "{t} missing from {tools:?}");
        }
        let prompts = client.list_all_prompts().await.unwrap();
        assert_eq!(prompts.len(), 3);

        let text = |r: rmcp::model::CallToolResult| -> Value {
            let t = r.content[0].as_text().unwrap().text.clone();
            serde_json::from_str(&t).unwrap()
        };
        let args = |v: Value| v.as_object().cloned();
        let check = client
            .call_tool(CallToolRequestParams::new("check_budget").with_arguments(
                args(json!({"model": "gpt-4o", "estimated_input": 10000})).unwrap(),
            ))
            .await
            .unwrap();
        let check = text(check);
        assert_eq!(check["decision"]["verdict"], "block", "{check}");
        assert_eq!(check["decision"]["reasons"][0]["policy"], "tight");
        assert_eq!(check["decision"]["reasons"][0]["why"], "over_limit");

        let summary =
            client
                .call_tool(CallToolRequestParams::new("usage_summary").with_arguments(
                    args(json!({"group_by": "model,project", "tz": "UTC"})).unwrap(),
                ))
                .await
                .unwrap();
        assert_eq!(
            text(summary),
            usage_json(&db, &["--group-by", "model", "--group-by", "project"])
        );

        let prompt = client
            .get_prompt(rmcp::model::GetPromptRequestParams::new(
                "will_i_stay_within_budget",
            ))
            .await
            .unwrap();
        let said = serde_json::to_string(&prompt.messages).unwrap();
        assert!(said.contains("tight"), "{said}");
        client.cancel().await.unwrap();
    });
}

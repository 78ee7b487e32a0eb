//! Writes Gemini CLI, Qwen Code, Copilot CLI, Amp and OpenCode records the way
//! those agents keep them (from their public source, see the README), with the
//! copies and views that make counting hard, and keeps the ground truth:
//! every billed call once, in Tally's convention, and the lines each skip
//! reason must explain. Deterministic for a seed.

use std::path::Path;

use serde_json::{Value, json};

use super::{Call, LogFile, PROJECT_NAMES, Rng, Truth, filler, session_start, timestamp};

/// The environment variables that move an agent's folders: a test clears
/// them, so the agents it finds are its own.
pub const AGENT_ENV: [&str; 8] = [
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "XDG_DATA_HOME",
    "GEMINI_CLI_HOME",
    "QWEN_HOME",
    "OPENCODE_DATA_DIR",
    "COPILOT_HOME",
    "COPILOT_OTEL_FILE_EXPORTER_PATH",
];

/// The shape of a generated set of one agent's records.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub seed: u64,
    pub sessions: usize,
    pub calls: usize,
    /// Copies, other views, malformed lines.
    pub noise: bool,
    /// About this many bytes of text in each call's prompt and tool output,
    /// as sessions hold (Copilot's export holds no text: a tool span for
    /// each 500; OpenCode keeps the text in its `part` table, which Tally
    /// does not read).
    pub padding: usize,
}

fn project(s: usize) -> String {
    format!("/home/ada/{}", PROJECT_NAMES[s % PROJECT_NAMES.len()])
}

fn line(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

/// A whole document, one line, as the agents write a thread or message file.
fn write_document(path: &Path, v: &Value, truth: &mut Truth) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text = line(v);
    std::fs::write(path, &text).unwrap();
    truth.files += 1;
    truth.lines += 1;
    truth.bytes += text.len() as u64;
}

/// Prompt, cached part, output and thinking for one call.
fn sizes(rng: &mut Rng) -> (u64, u64, u64, u64) {
    let cached = rng.range(0, 30_000);
    (
        cached + rng.range(50, 8_000),
        cached,
        rng.range(10, 2_000),
        rng.range(0, 800),
    )
}

const GEMINI_MODELS: [&str; 2] = ["gemini-2.5-pro", "gemini-2.5-flash"];

/// Gemini CLI under `tmp` (`~/.gemini/tmp`): JSONL sessions with messages
/// appended again as they change and `$set` copies, sessions from before
/// 2026 as one document (some resumed into a JSONL copy), subagents' own
/// sessions, and project folders with and without `.project_root`.
pub fn write_gemini(tmp: &Path, cfg: &AgentConfig) -> Truth {
    let mut rng = Rng::new(cfg.seed);
    let mut truth = Truth::default();
    for s in 0..cfg.sessions {
        let slug = format!("slug{}", s % 3);
        let folder = tmp.join(&slug);
        let project = if s % 3 == 2 {
            slug.clone()
        } else {
            let p = project(s % 3);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join(".project_root"), format!("{p}\n")).unwrap();
            p
        };
        let session = rng.uuid();
        let mut at = session_start(&mut rng);
        let meta = json!({"sessionId": session, "projectHash": slug, "startTime": timestamp(at), "lastUpdated": timestamp(at)});
        let stem = format!(
            "session-{}-{}",
            timestamp(at)[..16].replace(':', "-"),
            &session[..8]
        );
        let mut messages: Vec<Value> = Vec::new();
        for c in 0..cfg.calls {
            at += rng.range(20, 600) as i64;
            let (prompt, cached, output, thoughts) = sizes(&mut rng);
            let tool = if rng.percent(30) {
                rng.range(1, 300)
            } else {
                0
            };
            let model = GEMINI_MODELS[(s + c) % 2];
            let text = filler(&mut rng, cfg.padding);
            messages.push(json!({"id": rng.uuid(), "type": "user", "timestamp": timestamp(at - 2), "content": [{"text": text}]}));
            messages.push(json!({"id": rng.uuid(), "type": "gemini", "timestamp": timestamp(at), "model": model, "content": "done",
                "tokens": {"input": prompt, "output": output, "cached": cached, "thoughts": thoughts, "tool": tool, "total": prompt + output + thoughts + tool}}));
            truth.calls.push(Call {
                at,
                provider: "google",
                model: model.to_string(),
                project: project.clone(),
                input: prompt + tool - cached,
                output: output + thoughts,
                cache_read: cached,
                cache_write_5m: 0,
                cache_write_1h: 0,
                reasoning: thoughts,
            });
        }
        let chats = folder.join("chats");
        if cfg.noise && s % 4 == 1 {
            let mut doc = meta.clone();
            doc["messages"] = Value::Array(messages.clone());
            write_document(&chats.join(format!("{stem}.json")), &doc, &mut truth);
            if s % 8 == 1 {
                // Resumed: the whole session copied into a JSONL file.
                let mut copy = LogFile::create(chats.join(format!("{stem}.jsonl")));
                copy.put(&line(&meta), &mut truth);
                for m in &messages {
                    copy.put(&line(m), &mut truth);
                }
                truth.files += 1;
                truth.skip_n("copy", cfg.calls as u64);
            }
            continue;
        }
        let mut file = LogFile::create(chats.join(format!("{stem}.jsonl")));
        file.put(&line(&meta), &mut truth);
        for (i, pair) in messages.chunks(2).enumerate() {
            file.put(&line(&pair[0]), &mut truth);
            let mut first = pair[1].clone();
            first.as_object_mut().unwrap().remove("tokens");
            file.put(&line(&first), &mut truth);
            file.put(&line(&pair[1]), &mut truth);
            if cfg.noise && rng.percent(25) {
                let mut again = pair[1].clone();
                again["toolCalls"] = json!([{"id": "t", "name": "read_file"}]);
                file.put(&line(&again), &mut truth);
                truth.skip("copy");
            }
            if cfg.noise && i == cfg.calls / 2 {
                let so_far = &messages[..(i + 1) * 2];
                file.put(
                    &line(&json!({"$set": {"messages": so_far, "lastUpdated": "x"}})),
                    &mut truth,
                );
                truth.skip_n("copy", i as u64 + 1);
                file.put(&line(&json!({"$rewindTo": pair[0]["id"]})), &mut truth);
            }
        }
        if cfg.noise && s % 5 == 3 {
            file.put_malformed(&line(&messages[1]), &mut truth);
        }
        truth.files += 1;
        drop(file);
        if cfg.noise && s % 6 == 0 {
            // A subagent's own session, nested under its parent's id: its calls are its own.
            let sub = rng.uuid();
            let mut file = LogFile::create(chats.join(&session).join(format!("{sub}.jsonl")));
            file.put(
                &line(&json!({"sessionId": sub, "projectHash": slug, "kind": "subagent"})),
                &mut truth,
            );
            at += 5;
            let (prompt, cached, output, thoughts) = sizes(&mut rng);
            file.put(&line(&json!({"id": "s1", "type": "gemini", "timestamp": timestamp(at), "model": "gemini-2.5-flash",
                "tokens": {"input": prompt, "output": output, "cached": cached, "thoughts": thoughts, "tool": 0, "total": prompt + output + thoughts}})), &mut truth);
            truth.files += 1;
            truth.calls.push(Call {
                at,
                provider: "google",
                model: "gemini-2.5-flash".into(),
                project: project.clone(),
                input: prompt - cached,
                output: output + thoughts,
                cache_read: cached,
                cache_write_5m: 0,
                cache_write_1h: 0,
                reasoning: thoughts,
            });
        }
    }
    truth
}

/// Qwen Code under `projects` (`~/.qwen/projects`): self-contained records,
/// forked sessions that copy their parent's, a model without a price.
pub fn write_qwen(projects: &Path, cfg: &AgentConfig) -> Truth {
    let mut rng = Rng::new(cfg.seed);
    let mut truth = Truth::default();
    for s in 0..cfg.sessions {
        let cwd = project(s);
        let chats = projects.join(cwd.replace('/', "-")).join("chats");
        let session = rng.uuid();
        let mut at = session_start(&mut rng);
        let mut file = LogFile::create(chats.join(format!("{session}.jsonl")));
        let mut answers = Vec::new();
        for c in 0..cfg.calls {
            at += rng.range(20, 600) as i64;
            let (prompt, cached, output, thoughts) = sizes(&mut rng);
            let (model, provider) = if (s + c) % 3 == 0 {
                ("qwen3-coder-plus", "")
            } else {
                ("gpt-5-mini", "openai")
            };
            let base =
                json!({"sessionId": session, "cwd": cwd, "version": "0.9.0", "gitBranch": "main"});
            let with = |mut v: Value, extra: Value| {
                for (k, x) in extra.as_object().unwrap() {
                    v[k] = x.clone();
                }
                v
            };
            let text = filler(&mut rng, cfg.padding);
            file.put(&line(&with(base.clone(), json!({"uuid": rng.uuid(), "type": "user", "timestamp": timestamp(at - 3), "message": {"role": "user", "parts": [{"text": text}]}}))), &mut truth);
            let answer = with(
                base.clone(),
                json!({"uuid": rng.uuid(), "type": "assistant", "timestamp": timestamp(at), "model": model,
                "message": {"role": "model", "parts": [{"text": "ok"}]},
                "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": output, "thoughtsTokenCount": thoughts, "cachedContentTokenCount": cached, "totalTokenCount": prompt + output + thoughts}}),
            );
            file.put(&line(&answer), &mut truth);
            answers.push(answer);
            file.put(&line(&with(base.clone(), json!({"uuid": rng.uuid(), "type": "system", "subtype": "ui_telemetry", "timestamp": timestamp(at + 1), "systemPayload": {"uiEvent": {"input_token_count": prompt}}}))), &mut truth);
            truth.calls.push(Call {
                at,
                provider,
                model: model.to_string(),
                project: cwd.clone(),
                input: prompt - cached,
                output: output + thoughts,
                cache_read: cached,
                cache_write_5m: 0,
                cache_write_1h: 0,
                reasoning: thoughts,
            });
        }
        if cfg.noise && s % 5 == 2 {
            file.put_malformed(&line(&answers[0]), &mut truth);
        }
        truth.files += 1;
        drop(file);
        if cfg.noise && s % 4 == 0 {
            // /branch: every record copied into a new session, uuid kept.
            let fork = rng.uuid();
            let mut file = LogFile::create(chats.join(format!("{fork}.jsonl")));
            for a in &answers {
                let mut copy = a.clone();
                copy["sessionId"] = json!(fork);
                copy["forkedFrom"] = json!({"sessionId": session, "messageUuid": a["uuid"]});
                file.put(&line(&copy), &mut truth);
            }
            truth.files += 1;
            truth.skip_n("copy", answers.len() as u64);
        }
    }
    truth
}

const COPILOT_MODELS: [(&str, &str); 3] = [
    ("claude-sonnet-4.5", "anthropic"),
    ("gpt-5", "openai"),
    ("gemini-2.5-pro", "google"),
];

fn attrs(pairs: &[(&str, Value)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Number(n) => json!({"intValue": n.to_string()}),
                    other => json!({"stringValue": other.as_str().unwrap()}),
                };
                json!({"key": k, "value": value})
            })
            .collect(),
    )
}

/// Copilot CLI's OpenTelemetry file export under `otel`: a `chat` span per
/// call, `invoke_agent` spans that sum them, log events that tell them again.
pub fn write_copilot(otel: &Path, cfg: &AgentConfig) -> Truth {
    let mut rng = Rng::new(cfg.seed);
    let mut truth = Truth::default();
    for s in 0..cfg.sessions {
        let mut file = LogFile::create(otel.join(format!("copilot-{s:03}.jsonl")));
        let conversation = rng.uuid();
        let trace = rng.uuid().replace('-', "");
        let mut at = session_start(&mut rng);
        let mut summed = 0;
        for c in 0..cfg.calls {
            at += rng.range(20, 600) as i64;
            let (model, provider) = COPILOT_MODELS[(s + c) % 3];
            let (uncached, read, output, reasoning) = {
                let (p, cached, o, r) = sizes(&mut rng);
                (p - cached, cached, o + r, r)
            };
            let written = if provider == "anthropic" {
                rng.range(0, 2_000)
            } else {
                0
            };
            let input = uncached + read + written;
            let ns = |t: i64| (t as i128 * 1_000_000_000).to_string();
            let usage = [
                ("gen_ai.usage.input_tokens", json!(input)),
                ("gen_ai.usage.output_tokens", json!(output)),
                ("gen_ai.usage.cache_read.input_tokens", json!(read)),
                ("gen_ai.usage.cache_creation.input_tokens", json!(written)),
                ("gen_ai.usage.reasoning.output_tokens", json!(reasoning)),
            ];
            let mut chat = vec![
                ("gen_ai.operation.name", json!("chat")),
                ("gen_ai.provider.name", json!("github")),
                ("gen_ai.request.model", json!(model)),
                (
                    "gen_ai.response.id",
                    json!(format!("chatcmpl-{}", rng.uuid())),
                ),
                ("gen_ai.conversation.id", json!(conversation)),
            ];
            chat.extend(usage.iter().cloned());
            let mut spans = vec![
                json!({"traceId": trace, "spanId": format!("{c:016x}"), "name": format!("chat {model}"), "kind": 3,
                "startTimeUnixNano": ns(at - 4), "endTimeUnixNano": ns(at), "attributes": attrs(&chat)}),
            ];
            // The tools the reply asked for, run before the next call.
            for t in 0..cfg.padding / 500 {
                spans.push(json!({"traceId": trace, "spanId": format!("t{c:07x}{t:08x}"), "name": "execute_tool bash",
                    "startTimeUnixNano": ns(at + 1), "endTimeUnixNano": ns(at + 2), "attributes": attrs(&[
                        ("gen_ai.operation.name", json!("execute_tool")),
                        ("gen_ai.tool.name", json!("bash")),
                        ("gen_ai.tool.call.id", json!(format!("call_{}", rng.uuid()))),
                        ("gen_ai.tool.type", json!("function")),
                        ("github.copilot.tool.duration_ms", json!(rng.range(5, 5_000))),
                    ])}));
            }
            summed += input;
            if cfg.noise && c % 3 == 2 {
                spans.push(json!({"traceId": trace, "spanId": format!("a{c:015x}"), "name": "invoke_agent copilot",
                    "startTimeUnixNano": ns(at - 900), "endTimeUnixNano": ns(at + 1),
                    "attributes": attrs(&[("gen_ai.operation.name", json!("invoke_agent")), ("gen_ai.usage.input_tokens", json!(summed))])}));
                truth.skip("aggregate");
            }
            let resource = json!({"attributes": attrs(&[("service.name", json!("github-copilot")), ("service.version", json!("1.0.41"))])});
            file.put(&line(&json!({"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "github.copilot"}, "spans": spans}]}]})), &mut truth);
            if cfg.noise && rng.percent(20) {
                let mut event = vec![(
                    "event.name",
                    json!("gen_ai.client.inference.operation.details"),
                )];
                event.extend(usage.iter().cloned());
                file.put(&line(&json!({"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [{"timeUnixNano": ns(at), "attributes": attrs(&event)}]}]}]})), &mut truth);
                truth.skip("aggregate");
            }
            truth.calls.push(Call {
                at,
                provider,
                model: model.to_string(),
                project: String::new(),
                input: uncached,
                output,
                cache_read: read,
                cache_write_5m: written,
                cache_write_1h: 0,
                reasoning,
            });
        }
        if cfg.noise && s % 3 == 1 {
            file.put_malformed(
                &format!(
                    "{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{}]}}]}}]}}",
                    "x".repeat(40)
                ),
                &mut truth,
            );
        }
        truth.files += 1;
    }
    truth
}

const AMP_MODELS: [&str; 2] = ["claude-sonnet-4-5", "claude-haiku-4-5"];

/// Amp's threads under `threads`: messages with usage and the ledger that
/// repeats them, older threads with the ledger alone, a thread cut short.
pub fn write_amp(threads: &Path, cfg: &AgentConfig) -> Truth {
    let mut rng = Rng::new(cfg.seed);
    let mut truth = Truth::default();
    for s in 0..cfg.sessions {
        let id = format!("T-{}", rng.uuid());
        let mut at = session_start(&mut rng);
        let older = cfg.noise && s % 3 == 2;
        let cwd = project(s);
        let (mut messages, mut events) = (vec![], vec![]);
        for c in 0..cfg.calls {
            at += rng.range(20, 600) as i64;
            let model = AMP_MODELS[(s + c) % 2];
            let (input, read, written, output) = (
                rng.range(1, 500),
                rng.range(0, 40_000),
                rng.range(0, 4_000),
                rng.range(10, 3_000),
            );
            let text = filler(&mut rng, cfg.padding);
            messages.push(json!({"role": "user", "messageId": c * 2, "content": [{"type": "text", "text": text}]}));
            let mut answer = json!({"role": "assistant", "messageId": c * 2 + 1, "content": [{"type": "text", "text": "done"}]});
            if !older {
                answer["usage"] = json!({"model": model, "timestamp": timestamp(at), "inputTokens": input, "outputTokens": output,
                    "cacheCreationInputTokens": written, "cacheReadInputTokens": read, "totalTokens": input + output + read + written});
            }
            messages.push(answer);
            let ledger_input = if older { input } else { input + read + written };
            events.push(json!({"id": rng.uuid(), "timestamp": timestamp(at), "model": model, "credits": 1.5,
                "tokens": {"input": ledger_input, "output": output}, "operationType": "inference", "fromMessageId": c * 2, "toMessageId": c * 2 + 1}));
            let (read, written) = if older { (0, 0) } else { (read, written) };
            if !older {
                truth.skip("aggregate");
            }
            truth.calls.push(Call {
                at,
                provider: "anthropic",
                model: model.to_string(),
                project: cwd.clone(),
                input,
                output,
                cache_read: read,
                cache_write_5m: written,
                cache_write_1h: 0,
                reasoning: 0,
            });
        }
        let thread = json!({"v": 210, "id": id, "created": (at - 3_600) * 1000, "title": "work",
            "env": {"initial": {"trees": [{"displayName": "app", "uri": format!("file://{cwd}")}]}},
            "messages": messages, "usageLedger": {"events": events}});
        write_document(&threads.join(format!("{id}.json")), &thread, &mut truth);
    }
    if cfg.noise {
        // A thread Amp was writing when the import read it.
        let path = threads.join("T-cut.json");
        let whole = line(
            &json!({"id": "T-cut", "messages": [{"role": "user", "content": "a long enough message to cut"}]}),
        );
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        truth.files += 1;
        truth.lines += 1;
        truth.skip("malformed");
        truth.malformed.push(format!("{}:1", path.display()));
    }
    truth
}

/// OpenCode's schema, as its migrations leave it (the columns Tally reads).
pub const OPENCODE_SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE project (id TEXT PRIMARY KEY, worktree TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL);
    CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, parent_id TEXT, slug TEXT NOT NULL, directory TEXT NOT NULL,
        title TEXT NOT NULL, version TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL);
    CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES session(id) ON DELETE CASCADE,
        time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);
    CREATE INDEX message_session_time_created_id_idx ON message (session_id, time_created, id);
    CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL, session_id TEXT NOT NULL,
        time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);";

const OPENCODE_MODELS: [(&str, &str, &str); 3] = [
    ("claude-sonnet-4-5", "anthropic", "anthropic"),
    ("gpt-5", "opencode", "openai"),
    ("gemini-2.5-pro", "google", "google"),
];

/// Adds a session to an OpenCode database: its messages refer to it.
pub fn opencode_session(db: &rusqlite::Connection, id: &str, directory: &str, at: i64) {
    db.execute(
        "INSERT INTO session (id, project_id, slug, directory, title, version, time_created, time_updated) VALUES (?1, 'p', 's', ?2, 't', '1.0.0', ?3, ?3)",
        rusqlite::params![id, directory, at * 1000],
    )
    .unwrap();
}

/// One OpenCode assistant message's JSON and the call it is.
pub fn opencode_message(
    rng: &mut Rng,
    id: &str,
    session: &str,
    at: i64,
    cwd: &str,
    pick: usize,
) -> (Value, Call) {
    let (model, via, provider) = OPENCODE_MODELS[pick % 3];
    let (input, read, written, output) = (
        rng.range(1, 800),
        rng.range(0, 30_000),
        rng.range(0, 3_000),
        rng.range(10, 2_500),
    );
    let reasoning = if provider == "anthropic" {
        0
    } else {
        rng.range(0, 600)
    };
    // Gemini's thinking is beside the output in OpenCode's counts; OpenAI's inside.
    let (written_output, total_output) = match provider {
        "google" => (output, output + reasoning),
        _ => (output + reasoning, output + reasoning),
    };
    let written = if provider == "anthropic" { written } else { 0 };
    let data = json!({"id": id, "sessionID": session, "role": "assistant", "parentID": "msg_user", "modelID": model, "providerID": via,
        "mode": "build", "path": {"cwd": format!("{cwd}/src"), "root": cwd}, "cost": 0.01, "system": [],
        "time": {"created": at * 1000, "completed": at * 1000 + 4000},
        "tokens": {"input": input, "output": written_output, "reasoning": reasoning, "cache": {"read": read, "write": written}}});
    let call = Call {
        at,
        provider,
        model: model.to_string(),
        project: cwd.to_string(),
        input,
        output: total_output,
        cache_read: read,
        cache_write_5m: written,
        cache_write_1h: 0,
        reasoning,
    };
    (data, call)
}

/// OpenCode's data folder `data`: its database, and message files from
/// before it (some carried over into it, some not), user messages and one
/// still streaming (no tokens yet).
pub fn write_opencode(data: &Path, cfg: &AgentConfig) -> Truth {
    let mut rng = Rng::new(cfg.seed);
    let mut truth = Truth::default();
    std::fs::create_dir_all(data).unwrap();
    let db = rusqlite::Connection::open(data.join("opencode.db")).unwrap();
    db.execute_batch(OPENCODE_SCHEMA).unwrap();
    // Git snapshots and message parts: many files, none of them usage.
    std::fs::create_dir_all(data.join("snapshot/proj/objects")).unwrap();
    std::fs::write(data.join("snapshot/proj/objects/msg_x.json"), "{}").unwrap();
    std::fs::create_dir_all(data.join("storage/part/msg_1")).unwrap();
    std::fs::write(data.join("storage/part/msg_1/prt_1.json"), "{}").unwrap();
    let mut rows = 0;
    // One transaction, as a corpus of a quarter of a million rows needs.
    db.execute_batch("BEGIN").unwrap();
    for s in 0..cfg.sessions {
        let session = format!("ses_{s:04}{}", &rng.uuid()[..8]);
        let cwd = project(s);
        let mut at = session_start(&mut rng);
        // Old sessions live in files only; some were carried into the database too.
        let in_db = !(cfg.noise && s % 3 == 0);
        let in_files = cfg.noise && s % 3 != 2;
        if in_db {
            opencode_session(&db, &session, &cwd, at);
        }
        for c in 0..cfg.calls {
            at += rng.range(20, 600) as i64;
            let user = json!({"id": format!("msg_{s:04}{c:04}u"), "sessionID": session, "role": "user", "time": {"created": (at - 5) * 1000}});
            let id = format!("msg_{s:04}{c:04}a");
            let (data_json, call) = opencode_message(&mut rng, &id, &session, at, &cwd, s + c);
            for (mid, v) in [
                (format!("msg_{s:04}{c:04}u"), &user),
                (id.clone(), &data_json),
            ] {
                if in_db {
                    db.execute(
                        "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?1, ?2, ?3, ?3, ?4)",
                        rusqlite::params![mid, session, at * 1000, line(v)],
                    )
                    .unwrap();
                    rows += 1;
                }
                if in_files {
                    write_document(
                        &data
                            .join("storage/message")
                            .join(&session)
                            .join(format!("{mid}.json")),
                        v,
                        &mut truth,
                    );
                }
            }
            if in_db && cfg.padding > 0 {
                let part = json!({"type": "text", "text": filler(&mut rng, cfg.padding)});
                db.execute(
                    "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                    rusqlite::params![format!("prt_{s:04}{c:04}"), id, session, at * 1000, line(&part)],
                )
                .unwrap();
            }
            if in_db && in_files {
                truth.already += 1;
            }
            truth.calls.push(call);
        }
        if in_db && cfg.noise && s % 4 == 1 {
            // The reply being written now: no tokens yet, so no call yet.
            let mut streaming =
                opencode_message(&mut rng, "msg_streaming", &session, at + 10, &cwd, 0).0;
            streaming["tokens"] =
                json!({"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}});
            db.execute(
                "INSERT OR REPLACE INTO message (id, session_id, time_created, time_updated, data) VALUES (?1, ?2, ?3, ?3, ?4)",
                rusqlite::params![format!("msg_{s:04}streaming"), session, (at + 10) * 1000, line(&streaming)],
            )
            .unwrap();
            rows += 1;
        }
    }
    db.execute_batch("COMMIT").unwrap();
    if cfg.noise {
        opencode_session(&db, "ses_bad", "/home/ada", 0);
        db.execute(
            "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES ('msg_bad', 'ses_bad', 0, 0, '{\"role\":')",
            [],
        )
        .unwrap();
        rows += 1;
        truth.skip("malformed");
        truth
            .malformed
            .push(format!("{}", data.join("opencode.db").display()));
    }
    truth.files += 1;
    truth.lines += rows;
    truth
}

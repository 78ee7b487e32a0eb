//! Writes Claude Code and Codex CLI logs the way the agents write them, with the
//! noise that makes counting hard (content blocks, streaming snapshots, sidechain
//! replays, resumed and archived copies, re-emitted counts, synthetic, API-error
//! and malformed lines, a last line still being written), and keeps the ground
//! truth: every billed call once with its final tokens, and how many lines each
//! skip reason must explain. Deterministic for a seed.
//!
//! Shared by the import tests and the benchmarks (included with `#[path]`).
#![allow(dead_code)] // each includer uses part of it

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

#[path = "more_agents.rs"]
pub mod more;

/// splitmix64: small, fast and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::new();
        while s.len() < digits {
            write!(s, "{:016x}", self.next()).unwrap();
        }
        s.truncate(digits);
        s
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(4),
            self.hex(12)
        )
    }
}

/// One billed call, as the ledger must hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Unix seconds.
    pub at: i64,
    pub provider: &'static str,
    pub model: String,
    pub project: String,
    /// In Tally's additive convention: `input` excludes cached tokens.
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub reasoning: u64,
}

impl Call {
    /// Its counts as Claude Code writes them: input, output, cache read, 5m and
    /// 1h cache writes.
    fn usage(&self) -> [u64; 5] {
        [
            self.input,
            self.output,
            self.cache_read,
            self.cache_write_5m,
            self.cache_write_1h,
        ]
    }

    /// The UTC day, `YYYY-MM-DD`.
    pub fn day(&self) -> String {
        Timestamp::from_second(self.at)
            .unwrap()
            .strftime("%Y-%m-%d")
            .to_string()
    }
}

/// What the logs hold, counted by the generator as it wrote them.
#[derive(Debug, Default)]
pub struct Truth {
    pub calls: Vec<Call>,
    pub files: u64,
    /// Complete lines written (the unfinished last line is not one).
    pub lines: u64,
    pub bytes: u64,
    /// Lines each skip reason must explain, by the reason's JSON name.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Calls read twice that the ledger already holds by then (an OpenCode
    /// message in its database and in the file it was carried over from).
    pub already: u64,
    /// `file:line` of every malformed line.
    pub malformed: Vec<String>,
    /// A file whose last line is still being written: the rest of that line and
    /// the call it completes.
    pub unfinished: Option<(PathBuf, String, Call)>,
}

impl Truth {
    fn skip(&mut self, reason: &'static str) {
        self.skip_n(reason, 1);
    }

    fn skip_n(&mut self, reason: &'static str, n: u64) {
        if n > 0 {
            *self.skipped.entry(reason).or_default() += n;
        }
    }
}

/// The shape of a generated set of Claude Code logs.
#[derive(Clone, Debug)]
pub struct ClaudeConfig {
    pub seed: u64,
    pub projects: usize,
    /// Sessions per project.
    pub sessions: usize,
    /// Calls per session.
    pub calls: usize,
    /// Duplicated blocks, snapshots, replays, resumed copies, synthetic, API-error,
    /// malformed lines and an unfinished last line. Without it, one line per call.
    pub noise: bool,
    /// Average bytes of text and tool output a line carries.
    pub padding: usize,
}

const CLAUDE_MODELS: [&str; 4] = [
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-haiku-4-5-20251001",
    // Not in any price book: must come out unpriced, never $0.
    "claude-experimental-preview",
];

const PROJECT_NAMES: [&str; 6] = [
    "web",
    "api",
    "data-pipeline",
    "ml",
    "infra",
    "a-project-with-a-rather-long-name-that-keeps-going",
];

/// Sessions start between 2026-01-30 and 2026-02-01 (UTC), a quarter of them a
/// few minutes before midnight, so calls fall across a day and a month end.
fn session_start(rng: &mut Rng) -> i64 {
    const JAN_30: i64 = 1_769_731_200; // 2026-01-30T00:00:00Z
    let day = JAN_30 + 86_400 * rng.below(3) as i64;
    if rng.percent(25) {
        day + 86_400 - 60 * rng.range(1, 10) as i64
    } else {
        day + rng.below(86_400) as i64
    }
}

fn timestamp(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S.%3fZ")
        .to_string()
}

/// Text of about `n` bytes that needs no JSON escaping.
fn filler(rng: &mut Rng, n: usize) -> String {
    const WORDS: [&str; 8] = [
        "fn",
        "let",
        "cargo",
        "test",
        "passed",
        "src/lib.rs",
        "error",
        "ok",
    ];
    let mut s = String::with_capacity(n + 16);
    while s.len() < n {
        s.push_str(WORDS[rng.below(8) as usize]);
        s.push(' ');
    }
    s
}

struct Session {
    id: String,
    cwd: String,
    model: &'static str,
}

/// One assistant line's fields.
struct Assistant<'a> {
    session: &'a Session,
    at: i64,
    msg: &'a str,
    req: &'a str,
    model: &'a str,
    sidechain: bool,
    usage: [u64; 5], // input, output, cache read, 5m, 1h
    extra: &'a str,
    text: &'a str,
}

impl Assistant<'_> {
    fn line(&self) -> String {
        let [input, output, read, w5, w1] = self.usage;
        format!(
            concat!(
                r#"{{"parentUuid":null,"isSidechain":{},"userType":"external","cwd":"{}","sessionId":"{}","version":"2.0.14","gitBranch":"main","#,
                r#""message":{{"id":"{}","type":"message","role":"assistant","model":"{}","content":[{{"type":"text","text":"{}"}}],"#,
                r#""stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":{},"cache_creation_input_tokens":{},"cache_read_input_tokens":{},"#,
                r#""cache_creation":{{"ephemeral_5m_input_tokens":{},"ephemeral_1h_input_tokens":{}}},"output_tokens":{},"service_tier":"standard"}}}},"#,
                r#""requestId":"{}","type":"assistant","uuid":"{}","timestamp":"{}"{}}}"#
            ),
            self.sidechain,
            self.session.cwd,
            self.session.id,
            self.msg,
            self.model,
            self.text,
            input,
            w5 + w1,
            read,
            w5,
            w1,
            output,
            self.req,
            self.msg.replace("msg_", "u-"),
            timestamp(self.at),
            self.extra,
        )
    }
}

fn user_line(session: &Session, at: i64, text: &str) -> String {
    format!(
        r#"{{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"{}","sessionId":"{}","version":"2.0.14","gitBranch":"main","type":"user","message":{{"role":"user","content":[{{"tool_use_id":"toolu_01","type":"tool_result","content":"{}","is_error":false}}]}},"timestamp":"{}"}}"#,
        session.cwd,
        session.id,
        text,
        timestamp(at)
    )
}

/// A file being written, counting its lines.
struct LogFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    lines: u64,
}

impl LogFile {
    fn create(path: PathBuf) -> LogFile {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        LogFile {
            path,
            out,
            lines: 0,
        }
    }

    fn put(&mut self, line: &str, truth: &mut Truth) {
        self.out.write_all(line.as_bytes()).unwrap();
        self.out.write_all(b"\n").unwrap();
        self.lines += 1;
        truth.lines += 1;
        truth.bytes += line.len() as u64 + 1;
    }

    /// A line that cannot be read: a line cut short (never at a closing brace,
    /// which could leave something that parses).
    fn put_malformed(&mut self, line: &str, truth: &mut Truth) {
        let cut = line[..line.len() / 2].trim_end_matches('}');
        self.put(cut, truth);
        truth.skip("malformed");
        truth
            .malformed
            .push(format!("{}:{}", self.path.display(), self.lines));
    }
}

/// Writes `cfg`'s Claude Code logs into `dir` (a `projects/` folder) and returns the truth.
pub fn write_claude_logs(dir: &Path, cfg: &ClaudeConfig) -> Truth {
    let mut rng = Rng::new(cfg.seed);
    let mut truth = Truth::default();
    let mut message = 0u64;
    for p in 0..cfg.projects {
        let name = match PROJECT_NAMES.get(p) {
            Some(n) => n.to_string(),
            None => format!("project-{p}"),
        };
        let cwd = format!("/home/ada/{name}");
        let folder = dir.join(cwd.replace('/', "-"));
        for s in 0..cfg.sessions {
            let session = Session {
                // Resumed sessions get ids that sort after every original, so
                // the copies are read (and explained) after what they copy.
                id: format!("{}{}", rng.below(10), &rng.uuid()[1..]),
                cwd: cwd.clone(),
                model: CLAUDE_MODELS[(rng.below(100) as usize * 3 / 100).min(2)],
            };
            let mut file = LogFile::create(folder.join(format!("{}.jsonl", session.id)));
            let mut at = session_start(&mut rng);
            let mut written: Vec<String> = Vec::new(); // final lines, for copies
            let mut parent_calls: Vec<(String, String)> = Vec::new();
            for _ in 0..cfg.calls {
                at += rng.range(5, 240) as i64;
                let pad = rng.range(cfg.padding as u64 / 2, cfg.padding as u64 * 3 / 2) as usize;
                file.put(
                    &user_line(&session, at - 2, &filler(&mut rng, pad)),
                    &mut truth,
                );
                if cfg.noise && rng.percent(2) {
                    let synthetic = Assistant {
                        session: &session,
                        at,
                        msg: &format!("msg_synthetic_{}", rng.hex(12)),
                        req: "",
                        model: "<synthetic>",
                        sidechain: false,
                        usage: [0; 5],
                        extra: "",
                        text: "No response requested.",
                    };
                    file.put(&synthetic.line(), &mut truth);
                    truth.skip("synthetic");
                    continue;
                }
                if cfg.noise && rng.percent(1) {
                    let error = Assistant {
                        session: &session,
                        at,
                        msg: &format!("msg_err_{}", rng.hex(12)),
                        req: &format!("req_err_{}", rng.hex(12)),
                        model: session.model,
                        sidechain: false,
                        usage: [0; 5],
                        extra: r#","isApiErrorMessage":true"#,
                        text: "API Error: 529 Overloaded",
                    };
                    file.put(&error.line(), &mut truth);
                    truth.skip("api_error");
                    continue;
                }
                message += 1;
                let msg = format!("msg_01{message:012}{}", rng.hex(8));
                let req = format!("req_011{}", rng.hex(20));
                let model = if cfg.noise && rng.percent(3) {
                    CLAUDE_MODELS[3]
                } else {
                    session.model
                };
                let call = claude_call(&mut rng, at, model, &cwd);
                let usage = call.usage();
                let text = filler(&mut rng, pad / 2);
                let line = |at: i64, output: u64, extra: &str| {
                    let mut u = usage;
                    u[1] = output;
                    Assistant {
                        session: &session,
                        at,
                        msg: &msg,
                        req: &req,
                        model,
                        sidechain: false,
                        usage: u,
                        extra,
                        text: &text,
                    }
                    .line()
                };
                // Streaming snapshots: earlier lines whose output was still growing.
                let snapshots = if cfg.noise && rng.percent(15) {
                    rng.range(1, 2)
                } else {
                    0
                };
                let late = snapshots > 0 && rng.percent(20); // the last one written after the final
                for k in 0..snapshots {
                    if late && k == snapshots - 1 {
                        continue;
                    }
                    let partial = call.output * (k + 1) / (snapshots + 2);
                    file.put(&line(at - 1, partial, ""), &mut truth);
                    truth.skip("streaming_snapshot");
                }
                let blocks = if cfg.noise { rng.range(1, 3) } else { 1 };
                let final_line = line(at, call.output, "");
                for _ in 0..blocks {
                    file.put(&final_line, &mut truth);
                }
                truth.skip_n("duplicate_block", blocks - 1);
                if late {
                    let partial = call.output * snapshots / (snapshots + 2);
                    file.put(&line(at - 1, partial, ""), &mut truth);
                    truth.skip("streaming_snapshot");
                }
                if cfg.noise && rng.percent(1) {
                    file.put_malformed(&final_line, &mut truth);
                }
                written.push(final_line);
                parent_calls.push((msg.clone(), req.clone()));
                truth.calls.push(call);
            }
            if cfg.noise && s % 3 == 1 {
                write_subagent(
                    &mut rng,
                    &folder,
                    &session,
                    &parent_calls,
                    &written,
                    &mut truth,
                );
            }
            if cfg.noise && s % 4 == 2 && !written.is_empty() {
                // A resumed session: a new file (and session id) that starts with
                // copies of the old session's lines.
                let resumed = Session {
                    id: format!("f{}", &rng.uuid()[1..]),
                    cwd: cwd.clone(),
                    model: session.model,
                };
                let mut copy = LogFile::create(folder.join(format!("{}.jsonl", resumed.id)));
                let copies = written.len().min(5);
                for line in &written[..copies] {
                    let line = line.replace(&session.id, &resumed.id);
                    copy.put(&line, &mut truth);
                    truth.skip("resumed_copy");
                }
                truth.files += 1;
                copy.out.flush().unwrap();
            }
            if cfg.noise && p == 0 && s == 0 {
                // The agent is still writing this file's last line.
                message += 1;
                let msg = format!("msg_01{message:012}unfinished");
                at += 30;
                let call = claude_call(&mut rng, at, session.model, &cwd);
                let full = Assistant {
                    session: &session,
                    at,
                    msg: &msg,
                    req: "req_011unfinished",
                    model: session.model,
                    sidechain: false,
                    usage: call.usage(),
                    extra: "",
                    text: "almost",
                }
                .line();
                let (head, rest) = full.split_at(full.len() / 2);
                file.out.write_all(head.as_bytes()).unwrap();
                truth.bytes += head.len() as u64;
                truth.skip("incomplete_line");
                truth.unfinished = Some((file.path.clone(), format!("{rest}\n"), call));
            }
            truth.files += 1;
            file.out.flush().unwrap();
        }
    }
    truth
}

/// A call's tokens as Claude Code reports them: little fresh input, a large
/// cached prompt, cache writes split between 5 minutes and 1 hour, and now and
/// then a prompt over 200k tokens (billed at the long-context rate).
fn claude_call(rng: &mut Rng, at: i64, model: &str, project: &str) -> Call {
    let long = rng.percent(5);
    let cache_read = if long {
        rng.range(195_000, 260_000)
    } else {
        rng.range(0, 150_000)
    };
    let writes = rng.range(0, 20_000);
    let (w5, w1) = match rng.below(3) {
        0 => (writes, 0),
        1 => (0, writes),
        _ => {
            let h = rng.below(writes + 1);
            (writes - h, h)
        }
    };
    Call {
        at,
        provider: "anthropic",
        model: model.to_string(),
        project: project.to_string(),
        input: rng.range(1, 60),
        output: rng.range(20, 4_000),
        cache_read,
        cache_write_5m: w5,
        cache_write_1h: w1,
        reasoning: 0,
    }
}

/// A subagent's log beside its parent session: its own calls (on the sidechain,
/// often a smaller model), and replays of parent calls under new request ids.
fn write_subagent(
    rng: &mut Rng,
    folder: &Path,
    parent: &Session,
    parent_calls: &[(String, String)],
    parent_lines: &[String],
    truth: &mut Truth,
) {
    let path = folder
        .join(&parent.id)
        .join("subagents")
        .join(format!("agent-{}.jsonl", rng.hex(8)));
    let mut file = LogFile::create(path);
    let mut at = session_start(rng);
    for (i, (msg, req)) in parent_calls.iter().enumerate().take(3) {
        let replay = parent_lines[i]
            .replacen(r#""isSidechain":false"#, r#""isSidechain":true"#, 1)
            .replace(req.as_str(), &format!("req_011replay{}", rng.hex(12)));
        debug_assert!(replay.contains(msg.as_str()));
        file.put(&replay, truth);
        truth.skip("sidechain_replay");
    }
    for n in 0..4 {
        at += rng.range(5, 60) as i64;
        let msg = format!("msg_01sub{}{n}", rng.hex(14));
        let req = format!("req_011sub{}", rng.hex(16));
        let model = CLAUDE_MODELS[2];
        let call = claude_call(rng, at, model, &parent.cwd);
        let line = Assistant {
            session: parent,
            at,
            msg: &msg,
            req: &req,
            model,
            sidechain: true,
            usage: call.usage(),
            extra: "",
            text: "searching",
        }
        .line();
        let blocks = rng.range(1, 2);
        for _ in 0..blocks {
            file.put(&line, truth);
        }
        truth.skip_n("duplicate_block", blocks - 1);
        truth.calls.push(call);
    }
    truth.files += 1;
    file.out.flush().unwrap();
}

/// The shape of a generated set of Codex CLI sessions.
#[derive(Clone, Debug)]
pub struct CodexConfig {
    pub seed: u64,
    pub sessions: usize,
    pub calls: usize,
    /// Re-emitted counts, rate-limit-only counts, archived copies, malformed lines.
    pub noise: bool,
    pub padding: usize,
}

const CODEX_MODELS: [&str; 3] = ["gpt-5-codex", "gpt-5", "gpt-5.1-codex-max"];

/// Writes `cfg`'s Codex sessions under `home` (`sessions/` and `archived_sessions/`).
pub fn write_codex_logs(home: &Path, cfg: &CodexConfig) -> Truth {
    let mut rng = Rng::new(cfg.seed);
    let mut truth = Truth::default();
    for s in 0..cfg.sessions {
        let id = rng.uuid();
        let start = session_start(&mut rng);
        let stamp = Timestamp::from_second(start).unwrap();
        let name = format!("rollout-{}-{id}.jsonl", stamp.strftime("%Y-%m-%dT%H-%M-%S"));
        let day = stamp.strftime("%Y/%m/%d").to_string();
        let cwd = format!("/home/ada/{}", PROJECT_NAMES[s % PROJECT_NAMES.len()]);
        let path = home.join("sessions").join(day).join(&name);
        let mut file = LogFile::create(path.clone());
        let mut lines: Vec<String> = Vec::new();
        let mut calls: Vec<Call> = Vec::new();
        lines.push(
            format!(
                r#"{{"timestamp":"{}","type":"session_meta","payload":{{"id":"{id}","timestamp":"{}","cwd":"{cwd}","originator":"codex_cli_rs","cli_version":"0.58.0","instructions":null}}}}"#,
                timestamp(start),
                timestamp(start)
            ));
        let mut model = CODEX_MODELS[s % 3];
        let context = |model: &str, at: i64| {
            format!(
                r#"{{"timestamp":"{}","type":"turn_context","payload":{{"cwd":"{cwd}","approval_policy":"on-request","sandbox_policy":{{"mode":"workspace-write"}},"model":"{model}","effort":"medium","summary":"auto"}}}}"#,
                timestamp(at)
            )
        };
        lines.push(context(model, start));
        let mut at = start;
        let [mut input, mut cached, mut output, mut reasoning] = [0u64; 4];
        let mut rereads = 0;
        for c in 0..cfg.calls {
            at += rng.range(5, 300) as i64;
            if cfg.noise && c > 0 && rng.percent(5) {
                model = CODEX_MODELS[rng.below(3) as usize];
                lines.push(context(model, at - 1));
            }
            let pad = rng.range(cfg.padding as u64 / 2, cfg.padding as u64 * 3 / 2) as usize;
            lines.push(format!(
                    r#"{{"timestamp":"{}","type":"response_item","payload":{{"type":"function_call_output","call_id":"call_{}","output":"{}"}}}}"#,
                    timestamp(at - 1),
                    rng.hex(8),
                    filler(&mut rng, pad)
                ));
            let call_cached = rng.range(0, 40_000);
            let call_input = call_cached + rng.range(100, 20_000);
            let call_reasoning = rng.range(0, 2_000);
            let call_output = call_reasoning + rng.range(10, 3_000);
            input += call_input;
            cached += call_cached;
            output += call_output;
            reasoning += call_reasoning;
            let count = |at: i64| {
                format!(
                    r#"{{"timestamp":"{}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{input},"cached_input_tokens":{cached},"output_tokens":{output},"reasoning_output_tokens":{reasoning},"total_tokens":{}}},"last_token_usage":{{"input_tokens":{call_input},"cached_input_tokens":{call_cached},"output_tokens":{call_output},"reasoning_output_tokens":{call_reasoning},"total_tokens":{}}},"model_context_window":272000}},"rate_limits":{{"primary":{{"used_percent":12.0,"window_minutes":300}}}}}}}}"#,
                    timestamp(at),
                    input + output,
                    call_input + call_output
                )
            };
            lines.push(count(at));
            if cfg.noise && rng.percent(10) {
                lines.push(count(at + 1));
                rereads += 1;
            }
            if cfg.noise && rng.percent(5) {
                lines.push(format!(
                        r#"{{"timestamp":"{}","type":"event_msg","payload":{{"type":"token_count","info":null,"rate_limits":{{"primary":{{"used_percent":13.0}}}}}}}}"#,
                        timestamp(at + 2)
                    ));
            }
            calls.push(Call {
                at,
                provider: "openai",
                model: model.to_string(),
                project: cwd.clone(),
                input: call_input - call_cached,
                output: call_output,
                cache_read: call_cached,
                cache_write_5m: 0,
                cache_write_1h: 0,
                reasoning: call_reasoning,
            });
        }
        let malformed = cfg.noise && s % 5 == 3;
        for line in &lines {
            file.put(line, &mut truth);
        }
        if malformed {
            file.put_malformed(&lines[lines.len() - 1], &mut truth);
        }
        truth.files += 1;
        truth.skip_n("re_emitted", rereads);
        file.out.flush().unwrap();
        if cfg.noise && s % 3 == 0 {
            // Archived: the same rollout, moved to `archived_sessions/` by an
            // older Codex that also left it in place.
            let mut copy = LogFile::create(home.join("archived_sessions").join(&name));
            for line in &lines {
                copy.put(line, &mut truth);
            }
            truth.files += 1;
            truth.skip_n("re_emitted", rereads);
            truth.skip_n("archived_copy", calls.len() as u64);
            copy.out.flush().unwrap();
        }
        truth.calls.extend(calls);
    }
    truth
}

/// A Claude Code and Codex user's home: both agents' logs written into
/// `home` (noise and all), then imported into `db` with `tally import` as a
/// new user does, and the app's first-run question answered (follow both).
pub fn imported_home(home: &Path, db: &Path, seed: u64) {
    let claude = ClaudeConfig {
        seed,
        projects: 4,
        sessions: 6,
        calls: 40,
        noise: true,
        padding: 200,
    };
    write_claude_logs(&home.join(".claude/projects"), &claude);
    let codex = CodexConfig {
        seed,
        sessions: 6,
        calls: 30,
        noise: true,
        padding: 100,
    };
    write_codex_logs(&home.join(".codex"), &codex);
    for agent in ["claude-code", "codex"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["import", agent, "--db"])
            .arg(db)
            .env("HOME", home)
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("CODEX_HOME")
            .output()
            .expect("run tally import");
        assert!(out.status.success(), "tally import {agent}: {out:?}");
    }
    let mut store = tally::store::Store::open(db).expect("ledger");
    tally::settings::SOURCES_ASKED
        .set(&mut store, Some(&true))
        .expect("setting");
}

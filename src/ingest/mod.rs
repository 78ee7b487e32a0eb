//! Bringing usage in from where agents and providers write it. Each source turns
//! its files into `UsageRecord`s; this module reads the files, prices the records
//! and stores them, and explains every line it did not count.

pub mod agent;
pub mod amp;
pub mod claude_code;
pub mod codex;
pub mod copilot;
pub mod exports;
pub mod fields;
pub mod gemini_cli;
pub mod generic;
pub mod opencode;
pub(crate) mod ordered;
pub mod qwen_code;
pub mod watch;

pub use agent::{Agent, Layout};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::core::PriceBook;
use crate::core::pricing::Pricer;
use crate::core::usage::UsageRecord;
use crate::store::{BatchOutcome, FileState, Store, StoreError};

/// Why a line did not become a record of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Another content block of a message already counted, with the same usage.
    DuplicateBlock,
    /// An earlier or later snapshot of a streaming message; the largest counts.
    StreamingSnapshot,
    /// A subagent's replay of a message its parent already counted.
    SidechainReplay,
    /// A line a resumed session copied from an earlier file.
    ResumedCopy,
    /// Codex: the same session in `archived_sessions/` as in `sessions/`.
    ArchivedCopy,
    /// Codex: a token count that did not advance the session's total.
    ReEmitted,
    /// The same call written again: a message rewritten as it grew, a
    /// resumed or forked session's copy, an older form beside the newer.
    Copy,
    /// A sum of calls, or another view of one, that is counted from the
    /// call's own record (Copilot's agent spans and log events).
    Aggregate,
    /// Claude Code's own placeholder messages, which are not billed.
    Synthetic,
    /// An API error reported as a message; nothing was billed.
    ApiError,
    /// A line that could not be read; the error names the file and line.
    Malformed,
    /// A last line still being written; it is read once it is complete.
    IncompleteLine,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    pub files: u64,
    pub lines: u64,
    /// Records new to the ledger.
    pub new: u64,
    /// Records the ledger had with fewer tokens (an earlier snapshot), now updated.
    pub updated: u64,
    /// Records the ledger already had.
    pub already_imported: u64,
    pub unpriced: u64,
    /// Files read again from the start: replaced or rewritten since the last import.
    pub rewritten: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
    /// `file:line: what is wrong`, for every line or file that could not be read.
    pub errors: Vec<String>,
    /// Why the import stopped before its end (a full disk, say). The counts
    /// of records are then what was stored before it, from `files_stored`
    /// files; the next import goes on from there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub files_stored: u64,
    /// Plan windows as the agent reported them, the newest of each length.
    #[serde(skip)]
    pub reported: Vec<crate::core::plan::Reported>,
}

/// `dir` by its real, absolute path (links resolved), or as absolute as it
/// can be made when it does not exist.
fn real_folder(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}

/// How deep below a log folder files are looked for.
const MAX_DEPTH: usize = 32;

/// The usage files of `agent` under `dirs`, subfolders included, in a stable
/// order. Only regular files are taken: a FIFO would block the import
/// forever, and a socket or device is no log; each is named in `errors`.
/// Symbolic links are followed, each real folder read once (by device and
/// inode), so a link loop ends.
pub fn log_files(agent: Agent, dirs: &[PathBuf], errors: &mut Vec<String>) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<(PathBuf, usize)> = dirs.iter().map(|d| (d.clone(), 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&dir) else {
            errors.push(format!("{}: cannot be read", dir.display()));
            continue;
        };
        if !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Through a link to what it names; a dangling link is passed over.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                let name = entry.file_name();
                if !agent.descends(&name.to_string_lossy(), depth) {
                    continue;
                }
                if depth < MAX_DEPTH {
                    stack.push((path, depth + 1));
                } else {
                    errors.push(format!(
                        "{}: more than {MAX_DEPTH} folders deep, not read",
                        path.display()
                    ));
                }
            } else if agent.layout_of(&path).is_some() {
                if meta.is_file() {
                    out.push(path);
                } else {
                    errors.push(format!(
                        "{}: not a regular file (a pipe, socket or device), skipped",
                        path.display()
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The largest file `import csv`, `import jsonl` and the exports read: held
/// in memory whole, and a usage export of this size is millions of rows.
pub const MAX_FILE: u64 = 256 << 20;
/// The longest line a usage file may have.
pub const MAX_LINE: usize = 16 << 20;

/// Reads a usage file (CSV, JSONL, an export) whole, within bounds: a
/// regular file only (`/dev/zero` or a pipe never ends), at most `MAX_FILE`
/// bytes, no line longer than `MAX_LINE`. The error names the file and why.
pub fn read_usage_file(path: &Path) -> Result<String, String> {
    let named = |why: String| format!("{}: {why}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| named(e.to_string()))?;
    if !meta.is_file() {
        return Err(named("not a regular file".into()));
    }
    if meta.len() > MAX_FILE {
        return Err(named(format!(
            "{} MB, more than the {} MB a file may have; split it",
            meta.len() >> 20,
            MAX_FILE >> 20
        )));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(path).map_err(|e| named(e.to_string()))?,
            MAX_FILE + 1,
        ),
        &mut text,
    )
    .map_err(|e| named(e.to_string()))?;
    if text.len() as u64 > MAX_FILE {
        return Err(named(
            "grew past the size a file may have while read".into(),
        ));
    }
    if let Some((n, _)) = text
        .split('\n')
        .enumerate()
        .find(|(_, line)| line.len() > MAX_LINE)
    {
        return Err(format!(
            "{}:{}: a line longer than {} MB; nothing was imported",
            path.display(),
            n + 1,
            MAX_LINE >> 20
        ));
    }
    Ok(text)
}

/// The complete lines of a text that are not blank, numbered from `first`; how
/// many complete lines there are, blank ones included; and whether a last line
/// lacks its newline (it is left for the next import: it may still be being
/// written).
fn complete_lines(text: &str, first: u64) -> (Vec<(u64, &str)>, u64, bool) {
    let mut lines: Vec<(u64, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (first + i as u64, l))
        .collect();
    let incomplete = lines.pop().is_some_and(|(_, last)| !last.trim().is_empty());
    let complete = lines.len() as u64;
    lines.retain(|(_, l)| !l.trim().is_empty());
    (lines, complete, incomplete)
}

/// How many bytes of a file's start identify it: a file replaced by another
/// (rotated, rewritten) almost surely starts differently.
const HEAD_BYTES: u64 = 1024;

fn head_hash(file: &mut std::fs::File, len: u64) -> std::io::Result<[u8; 16]> {
    use std::io::{Read, Seek, SeekFrom};
    let mut head = vec![0u8; len.min(HEAD_BYTES) as usize];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut head)?;
    let mut out = [0u8; 16];
    out.copy_from_slice(&blake3::hash(&head).as_bytes()[..16]);
    Ok(out)
}

/// What is new in a log file since the last import: the text after the saved
/// offset (or all of it, for a new, rotated or rewritten file), and where the
/// state to save after reading it starts.
struct NewText {
    text: String,
    /// The offset `text` starts at, and the line number of its first line.
    start: u64,
    first_line: u64,
    /// The source's running state at `start`, if it keeps one.
    state: Option<String>,
    inode: u64,
    /// The file's size, or where this read stopped when it took a part.
    size: u64,
    /// Bytes after `text` that were passed over: a line too long to read.
    passed_over: u64,
    /// The read took `MAX_LOG_READ` and left the rest for the next.
    more: bool,
}

/// The most of one log file read at once: a file that grew by more (or a
/// sparse file of terabytes) is read a part at a time, one per import, so
/// memory stays bounded whatever the folder holds.
const MAX_LOG_READ: u64 = 1 << 30;

/// Reads on from where `file` is to just past its next newline, holding
/// nothing: how many bytes that was, or None at the end of the file.
fn bytes_to_next_line(file: &mut std::fs::File) -> std::io::Result<Option<u64>> {
    use std::io::Read;
    let mut block = vec![0u8; 1 << 20];
    let mut passed = 0u64;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &block[..n]) {
            return Ok(Some(passed + i as u64 + 1));
        }
        passed += n as u64;
    }
}

thread_local! {
    /// Each reading thread's buffer, used again from file to file: a new one
    /// per file was new memory, mapped, zeroed and paged in each time (a
    /// tenth of a first import).
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A read buffer larger than this is let go after use, so a thread that
/// lives on (the app's follower) does not keep the largest file's size.
const KEEP_BUFFER: usize = 16 << 20;

/// Hands a file's text back to this thread's `READ_BUFFER`.
fn keep_buffer(text: String) {
    let bytes = text.into_bytes();
    if bytes.capacity() <= KEEP_BUFFER {
        READ_BUFFER.with(|b| *b.borrow_mut() = bytes);
    }
}

fn read_new(path: &Path, before: Option<&FileState>) -> std::io::Result<Option<NewText>> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::MetadataExt;
    // Unchanged since the last import: known without opening the file, which a
    // follower polling thousands of files would otherwise do every few seconds.
    let meta = std::fs::metadata(path)?;
    if let Some(b) = before
        && b.inode == meta.ino()
        && b.size == meta.len()
        && b.offset <= b.size
    {
        return Ok(None);
    }
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let (inode, size) = (meta.ino(), meta.len());
    let resume = match before {
        Some(b) if b.inode == inode && size >= b.offset => {
            head_hash(&mut file, b.offset)? == b.head_hash
        }
        _ => false,
    };
    let (start, first_line, state) = match (resume, before) {
        (true, Some(b)) => (b.offset, b.lines + 1, b.state.clone()),
        _ => (0, 1, None),
    };
    if resume && start == size {
        return Ok(None);
    }
    let left = size - start;
    let want = left.min(MAX_LOG_READ);
    let mut bytes = READ_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
    bytes.clear();
    bytes.reserve(want as usize);
    file.seek(SeekFrom::Start(start))?;
    (&mut file).take(want).read_to_end(&mut bytes)?;
    let (mut size, mut passed_over, more) = (size, 0, left > want);
    if more {
        // Up to the last complete line now; the rest at the next import.
        match memchr::memrchr(b'\n', &bytes) {
            Some(i) => bytes.truncate(i + 1),
            None => {
                // A line longer than a whole read is passed over (to its
                // end, or the file's), counted as one line.
                let rest = bytes_to_next_line(&mut file)?;
                passed_over = bytes.len() as u64 + rest.unwrap_or(size - start - want);
                bytes.clear();
                if rest.is_some() {
                    bytes.push(b'\n');
                    passed_over -= 1;
                }
            }
        }
        size = start + bytes.len() as u64 + passed_over;
    }
    Ok(Some(NewText {
        // Valid UTF-8 (the usual case) is taken as it is, without a copy.
        text: String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        start,
        first_line,
        state,
        inode,
        size,
        passed_over,
        more,
    }))
}

/// Imports an agent's logs from `dirs`: every call once, priced, stored (unless
/// `dry_run`). Unreadable files and lines are reported and skipped; the rest is stored.
pub fn import_logs(
    store: &mut Store,
    book: &PriceBook,
    agent: Agent,
    dirs: &[PathBuf],
    dry_run: bool,
) -> Result<ImportReport, StoreError> {
    import_logs_with_progress(store, book, agent, dirs, dry_run, &mut |_, _, _| {})
}

/// What reading one log file gave: its calls (priced), the lines it skipped and
/// why, and where its reading stopped.
struct FileRead {
    lines: u64,
    rewritten: bool,
    skipped: BTreeMap<SkipReason, u64>,
    errors: Vec<String>,
    claude: Option<claude_code::FileCalls>,
    /// Every other agent's calls.
    records: Vec<UsageRecord>,
    /// Plan windows as the agent reported them.
    reported: Vec<crate::core::plan::Reported>,
    state: FileState,
}

/// Counts what a parser skipped into a file's tally, its errors named by file
/// and line (a document's as a whole by the file), and prices its records.
fn absorb(
    parsed: fields::Parsed,
    path: &Path,
    pricer: &mut Pricer,
    skipped: &mut BTreeMap<SkipReason, u64>,
    errors: &mut Vec<String>,
) -> Vec<UsageRecord> {
    for reason in parsed.skipped {
        *skipped.entry(reason).or_default() += 1;
    }
    for (number, why) in parsed.errors {
        errors.push(match number {
            0 => format!("{}: {why}", path.display()),
            n => format!("{}:{n}: {why}", path.display()),
        });
    }
    let mut records = parsed.records;
    for record in &mut records {
        // An agent that runs several makers' models leaves the provider to the model.
        if record.provider.is_empty() {
            record.provider = pricer.maker(&record.model).unwrap_or_default();
        }
        record.cost = pricer.cost(record);
    }
    records
}

/// Reads the lines of an agent other than Claude Code, from its saved state;
/// what they gave and the state to save after them.
fn parse_lines(
    agent: Agent,
    path: &Path,
    lines: &[(u64, &str)],
    saved: Option<&str>,
) -> (fields::Parsed, Option<String>) {
    fn resume<T: serde::de::DeserializeOwned>(saved: Option<&str>) -> Option<T> {
        saved.and_then(|s| serde_json::from_str(s).ok())
    }
    match agent {
        Agent::Codex => {
            let mut running = resume(saved)
                .unwrap_or_else(|| codex::SessionState::new(&codex::session_from_file_name(path)));
            let parsed = codex::read_session(lines, &mut running);
            (parsed, serde_json::to_string(&running).ok())
        }
        Agent::GeminiCli => {
            let mut running = resume(saved).unwrap_or_else(|| gemini_cli::SessionState {
                session: String::new(),
                project: gemini_cli::project_of(path),
            });
            let parsed = gemini_cli::read_lines(lines, &mut running);
            (parsed, serde_json::to_string(&running).ok())
        }
        Agent::QwenCode => (qwen_code::read_lines(lines), None),
        Agent::Copilot => (copilot::read_lines(lines), None),
        // Claude Code is read by its collector; the others write no lines.
        Agent::ClaudeCode | Agent::OpenCode | Agent::Amp => (fields::Parsed::default(), None),
    }
}

/// A file's change time, to the nanosecond: a document rewritten in place
/// to the same size is still read again.
fn changed_at(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{}.{:09}", meta.mtime(), meta.mtime_nsec())
}

/// Reads a whole JSON document (a Gemini CLI session before 2026, an Amp
/// thread, an OpenCode message file) when it changed since the last import.
fn read_document(
    agent: Agent,
    path: &Path,
    before: Option<&FileState>,
    book: &PriceBook,
) -> Result<Option<FileRead>, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let stamp = changed_at(&meta);
    if let Some(b) = before
        && b.inode == meta.ino()
        && b.size == meta.len()
        && b.state.as_deref() == Some(stamp.as_str())
    {
        return Ok(None);
    }
    let text = read_usage_file(path)?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let parsed = match agent {
        Agent::GeminiCli => gemini_cli::read_document(&text, &gemini_cli::project_of(path)),
        Agent::Amp => amp::read_document(&text, &stem),
        _ => opencode::read_document(&text),
    };
    let lines = text.lines().count() as u64;
    let (mut skipped, mut errors) = (BTreeMap::new(), Vec::new());
    let records = absorb(
        parsed,
        path,
        &mut Pricer::new(book),
        &mut skipped,
        &mut errors,
    );
    Ok(Some(FileRead {
        lines,
        rewritten: false,
        skipped,
        errors,
        claude: None,
        records,
        reported: Vec::new(),
        state: FileState {
            path: path.to_string_lossy().into_owned(),
            source: agent.source().to_string(),
            inode: meta.ino(),
            size: meta.len(),
            head_hash: [0; 16],
            offset: meta.len(),
            lines: 0,
            state: Some(stamp),
        },
    }))
}

/// Reads what an OpenCode database gained since the last import, a page at a
/// time, each page stored with where the reading stopped.
fn read_databases(
    databases: &[PathBuf],
    before: &HashMap<String, FileState>,
    book: &PriceBook,
    report: &mut ImportReport,
    writer: &mut BatchWriter,
) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    for path in databases {
        report.files += 1;
        let key = path.to_string_lossy().into_owned();
        let known = before.get(&key);
        let mut saved: opencode::DatabaseState = known
            .and_then(|b| b.state.as_deref())
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        if known.is_some() && !saved.in_pass() && opencode::stamp(path) == saved.stamp {
            continue;
        }
        let mut pricer = Pricer::new(book);
        loop {
            let read = match opencode::read_database(path, &saved, opencode::PAGE) {
                Ok(read) => read,
                Err(why) => {
                    report.errors.push(why);
                    break;
                }
            };
            let meta = std::fs::metadata(path).ok();
            report.lines += read.rows;
            let mut records = absorb(
                read.parsed,
                path,
                &mut pricer,
                &mut report.skipped,
                &mut report.errors,
            );
            let state = FileState {
                path: key.clone(),
                source: Agent::OpenCode.source().to_string(),
                inode: meta.as_ref().map_or(0, |m| m.ino()),
                size: meta.as_ref().map_or(0, |m| m.len()),
                head_hash: [0; 16],
                offset: 0,
                lines: 0,
                state: serde_json::to_string(&read.state).ok(),
            };
            flush(
                writer,
                &mut claude_code::Collector::default(),
                &mut records,
                &mut HashMap::new(),
                &mut vec![state],
                report,
            )?;
            if !read.state.in_pass() {
                break;
            }
            saved = read.state;
        }
    }
    Ok(())
}

/// Reads what is new in one log file. Runs on a worker thread: no store here.
fn read_file(
    agent: Agent,
    path: &Path,
    before: Option<&FileState>,
    book: &PriceBook,
) -> Result<Option<FileRead>, String> {
    if agent.layout_of(path) == Some(Layout::Document) {
        return read_document(agent, path, before, book);
    }
    let new = match read_new(path, before) {
        Ok(Some(new)) => new,
        Ok(None) => return Ok(None), // nothing appended since the last import
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    // Up to the end of the last complete line; a line still being written
    // is read next time.
    let consumed = new.text.rfind('\n').map_or(0, |i| i + 1);
    let (mut lines, complete, incomplete) = complete_lines(&new.text, new.first_line);
    let mut skipped = BTreeMap::new();
    if incomplete {
        skipped.insert(SkipReason::IncompleteLine, 1);
    }
    let mut errors = Vec::new();
    let mut too_long = |number: u64| {
        *skipped.entry(SkipReason::Malformed).or_default() += 1;
        errors.push(format!(
            "{}:{number}: a line longer than {} MB, skipped",
            path.display(),
            MAX_LINE >> 20
        ));
    };
    if new.passed_over > 0 {
        too_long(new.first_line);
    }
    lines.retain(|&(number, line)| {
        let fits = line.len() <= MAX_LINE;
        if !fits {
            too_long(number);
        }
        fits
    });
    if new.more {
        errors.push(format!(
            "{}: more than {} MB new since the last import: read up to line {}, the rest at the next import",
            path.display(),
            MAX_LOG_READ >> 20,
            new.first_line - 1 + complete
        ));
    }
    let mut pricer = Pricer::new(book);
    let (mut claude, mut records, mut state) = (None, Vec::new(), None);
    let mut reported = Vec::new();
    if agent == Agent::ClaudeCode {
        let mut calls = claude_code::Collector::default();
        for &(number, line) in &lines {
            match claude_code::parse_line(line) {
                Ok(claude_code::Line::Usage(usage)) => calls.add(*usage, 0),
                Ok(claude_code::Line::Skipped(reason)) => {
                    *skipped.entry(reason).or_default() += 1;
                }
                Ok(claude_code::Line::Other) => {}
                Err(why) => {
                    *skipped.entry(SkipReason::Malformed).or_default() += 1;
                    errors.push(format!("{}:{number}: {why}", path.display()));
                }
            }
        }
        let (mut entries, calls_skipped) = calls.into_parts();
        for (reason, n) in calls_skipped {
            *skipped.entry(reason).or_default() += n;
        }
        for (entry, _) in &mut entries {
            let record = entry.record_mut();
            record.cost = pricer.cost(record);
        }
        claude = Some((entries, BTreeMap::new()));
    } else {
        let (mut parsed, next) = parse_lines(agent, path, &lines, new.state.as_deref());
        state = next;
        reported = std::mem::take(&mut parsed.reported);
        records = absorb(parsed, path, &mut pricer, &mut skipped, &mut errors);
    }
    let offset = new.start + consumed as u64 + new.passed_over;
    let lines = lines.len() as u64;
    keep_buffer(new.text);
    let head = std::fs::File::open(path)
        .and_then(|mut f| head_hash(&mut f, offset))
        .unwrap_or_default();
    Ok(Some(FileRead {
        lines,
        rewritten: before.is_some() && new.start == 0,
        skipped,
        errors,
        claude,
        records,
        reported,
        state: FileState {
            path: path.to_string_lossy().into_owned(),
            source: agent.source().to_string(),
            inode: new.inode,
            size: new.size,
            head_hash: head,
            offset,
            lines: new.first_line - 1 + complete,
            state,
        },
    }))
}

/// As `import_logs`, calling `progress(files done, files, lines read)` after each file.
/// Files are read and parsed on worker threads while this one stores what they found.
pub fn import_logs_with_progress(
    store: &mut Store,
    book: &PriceBook,
    agent: Agent,
    dirs: &[PathBuf],
    dry_run: bool,
    progress: &mut dyn FnMut(usize, usize, u64),
) -> Result<ImportReport, StoreError> {
    store.in_bulk(|store| {
        let mut report = ImportReport::default();
        // What was stored stays stored: a write that fails part way (a full
        // disk) ends the import with the report of what went before.
        if let Err(e) = import_files(store, book, agent, dirs, dry_run, progress, &mut report) {
            report.stopped = Some(e.to_string());
        }
        Ok(report)
    })
}

fn import_files(
    store: &mut Store,
    book: &PriceBook,
    agent: Agent,
    dirs: &[PathBuf],
    dry_run: bool,
    progress: &mut dyn FnMut(usize, usize, u64),
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    // Where each file stopped is kept by path: the same folder reached through a
    // link or `..` must meet its saved state, or every file is read again.
    let dirs: Vec<PathBuf> = dirs.iter().map(|d| real_folder(d)).collect();
    let dirs = &dirs[..];
    let (databases, files): (Vec<PathBuf>, Vec<PathBuf>) =
        log_files(agent, dirs, &mut report.errors)
            .into_iter()
            .partition(|f| agent.layout_of(f) == Some(Layout::Database));
    let before = store.import_states(agent.source())?;
    std::thread::scope(|scope| {
        let mut writer = BatchWriter::start(scope, store, dry_run);
        // A database first: its messages are the newer form of the files'.
        if let Err(e) = read_databases(&databases, &before, book, report, &mut writer) {
            writer.finish(report)?;
            return Err(e);
        }
        let read = read_files(
            agent,
            dirs,
            &files,
            &before,
            book,
            progress,
            report,
            &mut writer,
        );
        let stored = writer.finish(report);
        read.and(stored)
    })?;
    if !dry_run {
        crate::plans::note_reported(store, &report.reported)?;
    }
    Ok(())
}

/// Reads, parses and merges the files (on worker threads, taken in order
/// here), handing what was collected to `writer` between project folders.
#[allow(clippy::too_many_arguments)]
fn read_files(
    agent: Agent,
    dirs: &[PathBuf],
    files: &[PathBuf],
    before: &std::collections::HashMap<String, FileState>,
    book: &PriceBook,
    progress: &mut dyn FnMut(usize, usize, u64),
    report: &mut ImportReport,
    writer: &mut BatchWriter,
) -> Result<(), StoreError> {
    let mut claude = claude_code::Collector::default();
    // Every other agent's calls, each once: by request id, the largest copy.
    let mut records: Vec<UsageRecord> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut states = Vec::new();
    let project_of = |p: &Path| {
        dirs.iter()
            .find_map(|d| p.strip_prefix(d).ok())
            .and_then(|rest| rest.components().next())
            .map(|c| c.as_os_str().to_owned())
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut last_flush = Instant::now();
    let read = |n: usize| {
        let path = &files[n];
        read_file(agent, path, before.get(&*path.to_string_lossy()), book)
    };
    ordered::for_each(
        files.len(),
        threads,
        read,
        |n, read| -> Result<(), StoreError> {
            progress(n, files.len(), report.lines);
            let new_project = n > 0 && project_of(&files[n]) != project_of(&files[n - 1]);
            let due = !states.is_empty() && last_flush.elapsed() >= FLUSH_EVERY;
            let full = match agent {
                Agent::ClaudeCode => (claude.len() >= CHUNK || due) && new_project,
                _ => records.len() >= CHUNK || due,
            };
            if full {
                last_flush = Instant::now();
                flush(
                    writer,
                    &mut claude,
                    &mut records,
                    &mut seen,
                    &mut states,
                    report,
                )?;
            }
            report.files += 1;
            let read = match read {
                Ok(Some(read)) => read,
                Ok(None) => return Ok(()),
                Err(why) => {
                    report.errors.push(why);
                    return Ok(());
                }
            };
            report.lines += read.lines;
            report.rewritten += u64::from(read.rewritten);
            for (reason, count) in read.skipped {
                *report.skipped.entry(reason).or_default() += count;
            }
            report.errors.extend(read.errors);
            crate::core::plan::merge_reported(&mut report.reported, &read.reported);
            if let Some(calls) = read.claude {
                claude.merge(calls, n);
            }
            let copy = match agent {
                Agent::Codex => SkipReason::ArchivedCopy,
                _ => SkipReason::Copy,
            };
            for record in read.records {
                let Some(id) = record.request_id.clone() else {
                    records.push(record);
                    continue;
                };
                match seen.get(&id) {
                    Some(&at) => {
                        if record.tokens.total() > records[at].tokens.total() {
                            records[at] = record;
                        }
                        skip(copy, report);
                    }
                    None => {
                        seen.insert(id, records.len());
                        records.push(record);
                    }
                }
            }
            states.push(read.state);
            Ok(())
        },
    )?;
    progress(files.len(), files.len(), report.lines);
    flush(
        writer,
        &mut claude,
        &mut records,
        &mut seen,
        &mut states,
        report,
    )
}

/// How many calls an import holds in memory before storing them. Claude Code's
/// calls are stored only between project folders, where no duplicate can span.
pub const CHUNK: usize = 20_000;

/// A long import also stores what it has this often (between project folders),
/// so the app shows it arriving and a crash loses little.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Stores an import's batches on a thread of its own, so that the next files
/// are merged meanwhile: on two cores the thread that took the parsed files
/// also stored them, and the import waited on it (56 % of the CPU time, the
/// workers idle). A batch is handed over only when the writer takes it, so
/// memory holds two at most (the one stored, the one collected).
struct BatchWriter<'scope> {
    send: Option<mpsc::SyncSender<(Vec<UsageRecord>, Vec<FileState>)>>,
    thread: Option<std::thread::ScopedJoinHandle<'scope, Written>>,
    /// The store, when no thread could be had: batches are stored as they come.
    here: Option<&'scope mut Store>,
    /// What was stored here, or by the writer thread once it has ended.
    written: Written,
    dry_run: bool,
}

/// What a writer stored, and the error it stopped on.
#[derive(Default)]
struct Written {
    outcome: BatchOutcome,
    files: u64,
    error: Option<StoreError>,
}

impl Written {
    /// Stores a batch and counts it; false once stopped by an error.
    fn store(&mut self, store: &mut Store, records: &[UsageRecord], states: &[FileState]) -> bool {
        // Logs are read while agents write them: a later, larger snapshot
        // replaces an earlier one. Where each file stopped is saved with the records.
        match store.insert_import(records, states) {
            Ok(outcome) => {
                self.outcome.inserted += outcome.inserted;
                self.outcome.updated += outcome.updated;
                self.outcome.duplicates += outcome.duplicates;
                self.files += states.len() as u64;
                true
            }
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
}

impl<'scope> BatchWriter<'scope> {
    fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        store: &'scope mut Store,
        dry_run: bool,
    ) -> BatchWriter<'scope> {
        let mut writer = BatchWriter {
            send: None,
            thread: None,
            here: None,
            written: Written::default(),
            dry_run,
        };
        if dry_run {
            return writer;
        }
        let (send, receive) = mpsc::sync_channel::<(Vec<UsageRecord>, Vec<FileState>)>(0);
        // The store goes to the thread once it runs; without one, it stays here.
        let (give, take) = mpsc::channel::<&'scope mut Store>();
        let writing = move || {
            let mut written = Written::default();
            if let Ok(store) = take.recv() {
                for (records, states) in receive {
                    if !written.store(store, &records, &states) {
                        break;
                    }
                }
            }
            written
        };
        // Named, so a profile tells it from the threads that read.
        match std::thread::Builder::new()
            .name("tally-writer".into())
            .spawn_scoped(scope, writing)
        {
            Ok(thread) => {
                // The thread holds the other end until the store comes.
                let _ = give.send(store);
                writer.send = Some(send);
                writer.thread = Some(thread);
            }
            Err(_) => writer.here = Some(store),
        }
        writer
    }

    /// Hands a batch over. If the writer has stopped on an error, that error.
    fn write(
        &mut self,
        records: Vec<UsageRecord>,
        states: Vec<FileState>,
    ) -> Result<(), StoreError> {
        if let Some(store) = &mut self.here {
            self.written.store(store, &records, &states);
        } else if let Some(send) = &self.send
            && send.send((records, states)).is_err()
        {
            // The thread ended on an error: what it stored, and why.
            self.send = None;
            self.join();
        }
        self.written.error.take().map_or(Ok(()), Err)
    }

    /// Waits for the writer thread (if any) to end, and takes what it stored.
    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.written = thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    }

    /// Waits for what was handed over to be stored and counts it into
    /// `report`; the error the writer stopped on, if it did.
    fn finish(mut self, report: &mut ImportReport) -> Result<(), StoreError> {
        self.send = None;
        self.join();
        let written = &mut self.written;
        report.new += written.outcome.inserted;
        report.updated += written.outcome.updated;
        report.already_imported += written.outcome.duplicates;
        report.files_stored += written.files;
        written.error.take().map_or(Ok(()), Err)
    }
}

/// Prices what has been collected so far and hands it (with where each file
/// stopped) to the writer, so a large import holds a bounded amount in memory.
fn flush(
    writer: &mut BatchWriter,
    claude: &mut claude_code::Collector,
    others: &mut Vec<UsageRecord>,
    seen: &mut HashMap<String, usize>,
    states: &mut Vec<FileState>,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    // A copy in a later batch is the ledger's to recognise.
    seen.clear();
    if claude.is_empty() && others.is_empty() && states.is_empty() {
        // Nothing read: no transaction, so nothing for other connections to see.
        return Ok(());
    }
    let (mut records, skipped) = std::mem::take(claude).finish();
    for (reason, count) in skipped {
        *report.skipped.entry(reason).or_default() += count;
    }
    records.append(others);
    report.unpriced += records.iter().filter(|r| r.cost.is_unpriced()).count() as u64;
    if writer.dry_run {
        report.new += records.len() as u64;
        states.clear();
        return Ok(());
    }
    writer.write(records, std::mem::take(states))
}

/// Files to import: Tally's own formats, for scripts and gateways (see
/// `generic`), and the providers' usage and cost exports (see `exports`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Jsonl,
    Export(exports::Export),
}

/// Imports a CSV or JSONL file in Tally's format. Each bad row is reported with
/// its line and field and skipped; the good ones are stored (unless `dry_run`).
/// A CSV without the required columns is an error, and nothing is stored.
pub fn import_file(
    store: &mut Store,
    book: &PriceBook,
    name: &str,
    text: &str,
    format: FileFormat,
    dry_run: bool,
) -> Result<Result<ImportReport, String>, StoreError> {
    let mut report = ImportReport {
        files: 1,
        ..ImportReport::default()
    };
    if let FileFormat::Export(export) = format {
        let rows = match exports::rows(export, text) {
            Ok(rows) => rows,
            Err(why) => return Ok(Err(format!("{name}: {why}"))),
        };
        let mut records = Vec::new();
        for (line, row) in rows {
            report.lines += 1;
            match row {
                Ok(mut r) => {
                    if !export.is_billing() {
                        r.cost = book.cost(&r);
                    }
                    records.push(r);
                }
                Err(why) => {
                    skip(SkipReason::Malformed, &mut report);
                    report.errors.push(format!("{name}:{line}: {why}"));
                }
            }
        }
        // A later export of a day still under way has more in the same bucket.
        store_records(store, &records, dry_run, true, &mut report)?;
        return Ok(Ok(report));
    }
    let (source, rows) = match format {
        FileFormat::Export(_) => unreachable!("handled above"),
        FileFormat::Csv => match generic::csv_rows(text) {
            Ok(rows) => ("csv", rows),
            Err(why) => return Ok(Err(format!("{name}: {why}"))),
        },
        FileFormat::Jsonl => {
            let rows = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| {
                    let fields = match serde_json::from_str::<serde_json::Value>(l) {
                        Ok(serde_json::Value::Object(map)) => Ok(map),
                        Ok(_) => Err("not a JSON object".to_string()),
                        Err(e) => Err(format!("not JSON: {e}")),
                    };
                    (i as u64 + 1, fields)
                })
                .collect();
            ("jsonl", rows)
        }
    };
    let mut records = Vec::new();
    for (line, fields) in rows {
        report.lines += 1;
        match fields.and_then(|f| generic::record_from_fields(&f, book, source)) {
            Ok(record) => records.push(record),
            Err(why) => {
                skip(SkipReason::Malformed, &mut report);
                report.errors.push(format!("{name}:{line}: {why}"));
            }
        }
    }
    store_records(store, &records, dry_run, false, &mut report)?;
    Ok(Ok(report))
}

/// Stores an import's records (unless `dry_run`) and counts the outcome into `report`.
fn store_records(
    store: &mut Store,
    records: &[UsageRecord],
    dry_run: bool,
    keep_largest: bool,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    report.unpriced = records.iter().filter(|r| r.cost.is_unpriced()).count() as u64;
    if dry_run {
        report.new = records.len() as u64;
        return Ok(());
    }
    let outcome = if keep_largest {
        store.insert_batch_keep_largest(records)?
    } else {
        store.insert_batch(records)?
    };
    report.new = outcome.inserted;
    report.updated = outcome.updated;
    report.already_imported = outcome.duplicates;
    Ok(())
}

fn skip(reason: SkipReason, report: &mut ImportReport) {
    *report.skipped.entry(reason).or_default() += 1;
}

#[cfg(test)]
mod tests {
    use super::complete_lines;

    #[test]
    fn a_last_line_without_its_newline_waits() {
        let (lines, complete, incomplete) = complete_lines("a\n\nb\nc", 1);
        assert_eq!(lines, vec![(1, "a"), (3, "b")]);
        assert_eq!(complete, 3, "the blank line counts");
        assert!(incomplete);
        let (lines, complete, incomplete) = complete_lines("a\nb\n", 41);
        assert_eq!(lines, vec![(41, "a"), (42, "b")]);
        assert_eq!(complete, 2);
        assert!(!incomplete);
    }
}

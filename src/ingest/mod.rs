//! Bringing usage in from where agents and providers write it. Each source turns
//! its files into `UsageRecord`s; this module reads the files, prices the records
//! and stores them, and explains every line it did not count.

pub mod claude_code;
pub mod codex;
pub mod generic;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::core::PriceBook;
use crate::core::usage::UsageRecord;
use crate::store::{Store, StoreError};

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
    /// Claude Code's own placeholder messages, which are not billed.
    Synthetic,
    /// An API error reported as a message; nothing was billed.
    ApiError,
    /// A line that could not be read; the error names the file and line.
    Malformed,
    /// A last line still being written; it is read once it is complete.
    IncompleteLine,
}

#[derive(Debug, Default, Serialize)]
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
    pub skipped: BTreeMap<SkipReason, u64>,
    /// `file:line: what is wrong`, for every line or file that could not be read.
    pub errors: Vec<String>,
}

/// The `.jsonl` files under `dirs`, subfolders included, in a stable order.
pub fn jsonl_files(dirs: &[PathBuf], errors: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The complete lines of a file, numbered from 1; a last line without its newline
/// is left for the next import (it may still be being written).
fn complete_lines(text: &str) -> (Vec<(u64, &str)>, bool) {
    let mut lines: Vec<(u64, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l))
        .collect();
    let incomplete = lines.pop().is_some_and(|(_, last)| !last.trim().is_empty());
    lines.retain(|(_, l)| !l.trim().is_empty());
    (lines, incomplete)
}

/// The agents whose local logs Tally reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    ClaudeCode,
    Codex,
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
    let mut report = ImportReport::default();
    let files = jsonl_files(dirs, &mut report.errors);
    let mut claude = claude_code::Collector::default();
    let mut codex_records = Vec::new();
    let mut codex_seen = HashSet::new();
    for (n, path) in files.iter().enumerate() {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                report.errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        report.files += 1;
        let (lines, incomplete) = complete_lines(&text);
        report.lines += lines.len() as u64;
        if incomplete {
            skip(SkipReason::IncompleteLine, &mut report);
        }
        match agent {
            Agent::ClaudeCode => {
                for (number, line) in lines {
                    match claude_code::parse_line(line) {
                        Ok(claude_code::Line::Usage(entry)) => claude.add(*entry, n),
                        Ok(claude_code::Line::Skipped(reason)) => skip(reason, &mut report),
                        Ok(claude_code::Line::Other) => {}
                        Err(why) => {
                            skip(SkipReason::Malformed, &mut report);
                            report
                                .errors
                                .push(format!("{}:{number}: {why}", display(path)));
                        }
                    }
                }
            }
            Agent::Codex => {
                let session = codex::read_session(&lines, &codex::session_from_file_name(path));
                for reason in session.skipped {
                    skip(reason, &mut report);
                }
                for (number, why) in session.errors {
                    report
                        .errors
                        .push(format!("{}:{number}: {why}", display(path)));
                }
                for record in session.records {
                    if codex_seen.insert(record.request_id.clone()) {
                        codex_records.push(record);
                    } else {
                        skip(SkipReason::ArchivedCopy, &mut report);
                    }
                }
            }
        }
    }
    let mut records = match agent {
        Agent::ClaudeCode => {
            let (records, skipped) = claude.finish();
            for (reason, count) in skipped {
                *report.skipped.entry(reason).or_default() += count;
            }
            records
        }
        Agent::Codex => codex_records,
    };
    price_all(book, &mut records);
    // Logs are read while agents write them: a later, larger snapshot replaces an earlier one.
    store_records(store, &records, dry_run, true, &mut report)?;
    Ok(report)
}

/// Tally's own formats, for scripts and gateways (see `generic`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Jsonl,
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
    let (source, rows) = match format {
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

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn price_all(book: &PriceBook, records: &mut [UsageRecord]) {
    for r in records {
        r.cost = book.cost(r);
    }
}

#[cfg(test)]
mod tests {
    use super::complete_lines;

    #[test]
    fn a_last_line_without_its_newline_waits() {
        let (lines, incomplete) = complete_lines("a\n\nb\nc");
        assert_eq!(lines, vec![(1, "a"), (3, "b")]);
        assert!(incomplete);
        let (lines, incomplete) = complete_lines("a\nb\n");
        assert_eq!(lines, vec![(1, "a"), (2, "b")]);
        assert!(!incomplete);
    }
}

//! `tally import`: bring in usage that agents logged.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::print_json;
use super::table::thousands;
use crate::i18n::{fill, gettext};
use crate::ingest::exports::Export;
use crate::ingest::{self, Agent, FileFormat, ImportReport, SkipReason};
use crate::prices;
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Claude Code's local logs (~/.claude/projects, ~/.config/claude/projects, CLAUDE_CONFIG_DIR)
    ClaudeCode(ImportArgs),
    /// Codex CLI's session logs (~/.codex/sessions and archived_sessions, CODEX_HOME)
    Codex(ImportArgs),
    /// Gemini CLI's sessions (~/.gemini/tmp/*/chats, GEMINI_CLI_HOME)
    GeminiCli(ImportArgs),
    /// OpenCode's messages (~/.local/share/opencode: opencode.db and storage/message; OPENCODE_DATA_DIR, XDG_DATA_HOME)
    Opencode(ImportArgs),
    /// Amp's threads (~/.local/share/amp/threads, XDG_DATA_HOME)
    Amp(ImportArgs),
    /// Qwen Code's sessions (~/.qwen/projects/*/chats, QWEN_HOME)
    QwenCode(ImportArgs),
    /// GitHub Copilot CLI's OpenTelemetry file export (~/.copilot/otel, COPILOT_OTEL_FILE_EXPORTER_PATH)
    Copilot(ImportArgs),
    /// A CSV file in Tally's format (see the README): a header row, one call a row
    Csv(FileArgs),
    /// A JSON Lines file in Tally's format (see the README): one call an object
    Jsonl(FileArgs),
    /// OpenAI's usage export (CSV of daily buckets), priced with the price book
    OpenaiUsage(FileArgs),
    /// OpenAI's cost export (CSV): billed amounts, kept beside the estimates
    OpenaiCosts(FileArgs),
    /// Anthropic Console's usage export (CSV), priced with the price book
    AnthropicUsage(FileArgs),
    /// Anthropic Console's cost export (CSV): billed amounts, kept beside the estimates
    AnthropicCosts(FileArgs),
}

#[derive(Args, Debug)]
pub struct FileArgs {
    /// The file
    file: PathBuf,
    #[command(flatten)]
    report: ReportFlags,
}

/// What every import takes: try it, explain it, or speak JSON.
#[derive(Args, Debug)]
pub struct ReportFlags {
    /// Read and count, but write nothing
    #[arg(long)]
    dry_run: bool,
    /// List every line that could not be read, not just the first ten
    #[arg(long)]
    explain: bool,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

fn import_file(store: &mut Store, a: FileArgs, format: FileFormat) -> anyhow::Result<()> {
    let text = ingest::read_usage_file(&a.file).map_err(anyhow::Error::msg)?;
    let book = prices::load(store)?;
    let name = a.file.display().to_string();
    // A file is stored whole or not at all.
    let report = ingest::import_file(store, &book, &name, &text, format, a.report.dry_run)
        .map_err(|e| {
            anyhow::anyhow!(fill(
                &gettext("the import of {} stopped: {}. Nothing from it was stored."),
                &[&name, &e.to_string()]
            ))
        })?
        .map_err(anyhow::Error::msg)?;
    show(&report, &a.report)
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Folders to read instead of the usual places
    dirs: Vec<PathBuf>,
    #[command(flatten)]
    report: ReportFlags,
}

fn reason_text(reason: SkipReason) -> String {
    match reason {
        SkipReason::DuplicateBlock => gettext("repeated content blocks of a counted message"),
        SkipReason::StreamingSnapshot => gettext("streaming snapshots (the largest counts)"),
        SkipReason::SidechainReplay => gettext("subagent replays of counted messages"),
        SkipReason::ResumedCopy => gettext("lines copied by resumed sessions"),
        SkipReason::ArchivedCopy => gettext("archived copies of sessions already read"),
        SkipReason::ReEmitted => gettext("token counts repeated without new usage"),
        SkipReason::Copy => {
            gettext("copies of calls already counted (rewritten, resumed or forked)")
        }
        SkipReason::Aggregate => gettext("sums and other views of calls counted on their own"),
        SkipReason::Synthetic => gettext("synthetic messages (not billed)"),
        SkipReason::ApiError => gettext("API errors (not billed)"),
        SkipReason::Malformed => gettext("lines that could not be read"),
        SkipReason::IncompleteLine => gettext("last lines still being written (read next time)"),
    }
}

pub fn run(store: &mut Store, command: ImportCommand) -> anyhow::Result<()> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (agent, a) = match command {
        ImportCommand::Csv(a) => return import_file(store, a, FileFormat::Csv),
        ImportCommand::Jsonl(a) => return import_file(store, a, FileFormat::Jsonl),
        ImportCommand::OpenaiUsage(a) => {
            return import_file(store, a, FileFormat::Export(Export::OpenAiUsage));
        }
        ImportCommand::OpenaiCosts(a) => {
            return import_file(store, a, FileFormat::Export(Export::OpenAiCosts));
        }
        ImportCommand::AnthropicUsage(a) => {
            return import_file(store, a, FileFormat::Export(Export::AnthropicUsage));
        }
        ImportCommand::AnthropicCosts(a) => {
            return import_file(store, a, FileFormat::Export(Export::AnthropicCosts));
        }
        ImportCommand::ClaudeCode(a) => (Agent::ClaudeCode, a),
        ImportCommand::Codex(a) => (Agent::Codex, a),
        ImportCommand::GeminiCli(a) => (Agent::GeminiCli, a),
        ImportCommand::Opencode(a) => (Agent::OpenCode, a),
        ImportCommand::Amp(a) => (Agent::Amp, a),
        ImportCommand::QwenCode(a) => (Agent::QwenCode, a),
        ImportCommand::Copilot(a) => (Agent::Copilot, a),
    };
    let dirs = if a.dirs.is_empty() {
        let usual = agent.default_dirs(&ingest::agent::process_env, home.as_deref());
        if usual.is_empty() {
            let mut why = fill(
                &gettext("No {} records found in {}. Name a folder: tally import {} DIR"),
                &[agent.name(), agent.usual_places(), agent.source()],
            );
            if agent == Agent::Copilot {
                why.push_str(&fill(
                    &gettext(". Copilot CLI writes its usage only with its OpenTelemetry file export on: {}"),
                    &[ingest::copilot::HOW_TO_ENABLE],
                ));
            }
            anyhow::bail!(why);
        }
        usual
    } else {
        if let Some(missing) = a.dirs.iter().find(|d| !d.is_dir()) {
            anyhow::bail!(fill(
                &gettext("{} is not a folder"),
                &[&missing.display().to_string()]
            ));
        }
        a.dirs.clone()
    };
    let book = prices::load(store)?;
    let bar = progress_bar(a.report.json);
    let started = std::time::Instant::now();
    let report = ingest::import_logs_with_progress(
        store,
        &book,
        agent,
        &dirs,
        a.report.dry_run,
        &mut |done, files, lines| {
            if let Some(bar) = &bar {
                bar.set_length(files as u64);
                bar.set_position(done as u64);
                let rate = lines as f64 / started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(fill(
                    &gettext("{} lines, {} lines/s"),
                    &[&thousands(lines), &thousands(rate as u64)],
                ));
            }
        },
    )?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    show(&report, &a.report)?;
    match &report.stopped {
        // What was stored is evaluated against the budgets all the same.
        Some(why) if report.files_stored == 0 => Err(super::Partial(fill(
            &gettext("the import stopped before its end: {}. Nothing was stored; run the import again when that is fixed."),
            &[why],
        ))
        .into()),
        Some(why) => Err(super::Partial(fill(
            &gettext(
                "the import stopped before its end: {}. The records counted above, from {} files, are stored; run the import again to go on from there."
            ),
            &[why, &thousands(report.files_stored)],
        ))
        .into()),
        None => Ok(()),
    }
}

/// A progress bar on a terminal (stderr), none when piped or printing JSON.
fn progress_bar(json: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").ok()?;
    bar.set_style(style);
    Some(bar)
}

fn show(report: &ImportReport, flags: &ReportFlags) -> anyhow::Result<()> {
    if flags.json {
        return print_json(&serde_json::to_value(report)?);
    }
    print_report(report, flags.dry_run, flags.explain);
    Ok(())
}

fn print_report(r: &ImportReport, dry_run: bool, explain: bool) {
    let n = thousands;
    let summary = if dry_run {
        gettext("Read {} files ({} lines): {} calls would be recorded (dry run, nothing written).")
    } else {
        gettext("Read {} files ({} lines): {} new records, {} updated, {} already in the ledger.")
    };
    println!(
        "{}",
        fill(
            &summary,
            &[
                &n(r.files),
                &n(r.lines),
                &n(r.new),
                &n(r.updated),
                &n(r.already_imported)
            ]
        )
    );
    if r.rewritten > 0 {
        println!(
            "{}",
            fill(
                &gettext(
                    "{} files were replaced or rewritten since the last import and were read again from the start."
                ),
                &[&n(r.rewritten)]
            )
        );
    }
    if r.unpriced > 0 {
        println!(
            "{}",
            fill(
                &gettext("{} records have no price: see tally prices list --unpriced"),
                &[&n(r.unpriced)]
            )
        );
    }
    if !r.skipped.is_empty() {
        println!("{}", gettext("Lines not counted on their own:"));
        for (reason, count) in &r.skipped {
            println!("  {:>8}  {}", n(*count), reason_text(*reason));
        }
    }
    let shown = if explain {
        r.errors.len()
    } else {
        r.errors.len().min(10)
    };
    for e in &r.errors[..shown] {
        eprintln!("{e}");
    }
    if shown < r.errors.len() {
        eprintln!(
            "{}",
            fill(
                &gettext("… and {} more: see --explain"),
                &[&n((r.errors.len() - shown) as u64)]
            )
        );
    }
}

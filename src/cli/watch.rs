//! `tally watch`: follow the agents' logs in the foreground, for headless use
//! (the app does the same while it runs).

use std::path::PathBuf;

use clap::Args;

use crate::i18n::{fill, gettext};
use crate::ingest::watch::{Observer, Sources, default_sources, follow, wakes};
use crate::ingest::{Agent, ImportReport};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Claude Code log folders (repeatable) [default: the usual places]
    #[arg(long = "claude-code", value_name = "DIR")]
    pub claude_code: Vec<PathBuf>,
    /// Codex session folders (repeatable) [default: ~/.codex/sessions and archived_sessions]
    #[arg(long = "codex", value_name = "DIR")]
    pub codex: Vec<PathBuf>,
    /// Gemini CLI folders (repeatable) [default: ~/.gemini/tmp]
    #[arg(long = "gemini-cli", value_name = "DIR")]
    pub gemini_cli: Vec<PathBuf>,
    /// OpenCode data folders (repeatable) [default: ~/.local/share/opencode]
    #[arg(long = "opencode", value_name = "DIR")]
    pub opencode: Vec<PathBuf>,
    /// Amp thread folders (repeatable) [default: ~/.local/share/amp/threads]
    #[arg(long = "amp", value_name = "DIR")]
    pub amp: Vec<PathBuf>,
    /// Qwen Code project folders (repeatable) [default: ~/.qwen/projects]
    #[arg(long = "qwen-code", value_name = "DIR")]
    pub qwen_code: Vec<PathBuf>,
    /// Copilot CLI OpenTelemetry export folders (repeatable) [default: ~/.copilot/otel]
    #[arg(long = "copilot", value_name = "DIR")]
    pub copilot: Vec<PathBuf>,
    /// Also look for new lines every this many seconds, for file systems that do not report changes [default: 60, or 5 where changes cannot be watched]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub poll: Option<u64>,
}

pub fn run(store: &mut Store, a: WatchArgs) -> anyhow::Result<()> {
    let named = Sources(
        [
            (Agent::ClaudeCode, a.claude_code),
            (Agent::Codex, a.codex),
            (Agent::GeminiCli, a.gemini_cli),
            (Agent::OpenCode, a.opencode),
            (Agent::Amp, a.amp),
            (Agent::QwenCode, a.qwen_code),
            (Agent::Copilot, a.copilot),
        ]
        .into_iter()
        .collect(),
    );
    let sources = if named.is_empty() {
        default_sources()
    } else {
        named
    };
    if sources.is_empty() {
        anyhow::bail!(gettext(
            "No agent logs found. Name the folders: tally watch --claude-code DIR --codex DIR (or --gemini-cli, --opencode, --amp, --qwen-code, --copilot)"
        ));
    }
    for d in sources.folders() {
        println!(
            "{}",
            fill(&gettext("Following {}"), &[&d.display().to_string()])
        );
    }
    println!(
        "{}",
        gettext("New usage is imported as it is written. Ctrl+C stops.")
    );
    // Ctrl+C ends the process; nothing else stops it.
    let (_stopper, wakes) = wakes();
    let poll = a.poll.map(std::time::Duration::from_secs);
    // The ledger's team, if it has one, is synced while the watch runs.
    let _team = crate::team::follow::Follower::start(store.path())?;
    follow(store, &sources, poll, wakes, &mut Printer)?;
    Ok(())
}

/// Prints a line for each import that found something.
struct Printer;

impl Observer for Printer {
    fn imported(&mut self, agent: Agent, report: &ImportReport) {
        if report.new + report.updated == 0 && report.errors.is_empty() && report.stopped.is_none()
        {
            return;
        }
        let name = agent.source();
        let now = jiff::Zoned::now().strftime("%H:%M:%S").to_string();
        println!(
            "{now}  {}",
            fill(
                &gettext("{}: {} new, {} updated"),
                &[name, &report.new.to_string(), &report.updated.to_string()]
            )
        );
        for e in &report.errors {
            eprintln!("{now}  {e}");
        }
        if let Some(why) = &report.stopped {
            eprintln!(
                "{now}  {}",
                fill(
                    &gettext(
                        "the import stopped before its end ({}); it goes on at the next change"
                    ),
                    &[why]
                )
            );
        }
    }
}

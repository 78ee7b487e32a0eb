//! The `tally` command line: thin edges over the store and the core.

mod alerts;
pub(crate) mod args;
mod backup;
mod calc;
mod check;
mod doctor;
pub mod help;
mod import;
mod plan;
mod policy;
mod prices;
pub(crate) mod record;
mod report;
mod reprice;
mod serve;
mod table;
mod team;
mod usage;
mod watch;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config;
use crate::core::usage::{ServiceTier, Speed};
use crate::store::Store;

#[derive(Parser, Debug)]
#[command(
    name = "tally",
    version,
    about = "Track what you spend on AI/LLM APIs and hold it to budgets.",
    long_about = "Track what you spend on AI/LLM APIs and hold it to budgets.\n\n\
        Without a command, opens the Tally window. With one, works on the same ledger from the terminal."
)]
pub struct Cli {
    /// The ledger file [default: $XDG_DATA_HOME/tally/ledger.sqlite]
    #[arg(long, global = true, env = "TALLY_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Record one model call, image batch or embedding request
    Record(record::RecordArgs),
    /// Show usage and cost, grouped by time and dimensions
    Usage(usage::UsageArgs),
    /// List, show, set and import model prices
    #[command(subcommand)]
    Prices(prices::PricesCommand),
    /// Work out what a call would cost, without recording it
    CalcCost(calc::CalcArgs),
    /// Bring in usage that agents logged
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Cost the ledger again with the prices known now, each record at its own date
    Reprice(reprice::RepriceArgs),
    /// Add, change and list budget policies
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Subscription plans (Claude Pro/Max, ChatGPT Plus/Pro) and their 5-hour and weekly windows
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// Where every budget stands: used, limit, left, forecast, reset
    Status(policy::JsonFlag),
    /// Ask whether a call may go ahead (exit 0 allow/warn, 3 block, 4 throttle)
    Check(check::CheckArgs),
    /// List, acknowledge and resolve alerts
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// The rules that turn budget usage into alerts
    #[command(subcommand)]
    Rules(alerts::RulesCommand),
    /// Follow the agents' logs and import new usage as it is written
    Watch(watch::WatchArgs),
    /// Reports (summary, trend, compare, projection, what-if, reconcile) and exports
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Check that the ledger is sound: its pages, its totals, who may read it
    Doctor(policy::JsonFlag),
    /// Copy the ledger to a file, as it is at one moment
    Backup(backup::BackupArgs),
    /// Replace the ledger with a backup, after checking it (a damaged ledger too)
    Restore(backup::RestoreArgs),
    /// Serve OpenTelemetry intake, a REST API, live events and MCP on one address
    Serve(serve::ServeArgs),
    /// Tally's MCP server on stdin and stdout, for an agent to ask its budget
    Mcp,
    /// Share spend with a team: every machine's ledger synced through PostgreSQL
    #[command(subcommand)]
    Team(team::TeamCommand),
}

/// Ends the program with a particular exit status, after the command printed
/// what it had to say: `tally check`'s 3 (blocked) and 4 (throttled), and 2 for
/// a usage error found after parsing.
#[derive(Debug)]
pub struct Exit(pub u8, pub Option<String>);

impl Exit {
    pub fn usage(message: String) -> Exit {
        Exit(2, Some(message))
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.1 {
            Some(m) => f.write_str(m),
            None => write!(f, "exit status {}", self.0),
        }
    }
}

impl std::error::Error for Exit {}

/// Token and image counts, shared by `record` and `calc-cost`.
#[derive(Args, Debug, Clone, Default)]
pub struct TokenArgs {
    /// Input tokens as the provider reports them. OpenAI, Google, xAI, Mistral and Groq
    /// count cached tokens inside input; Anthropic does not.
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub input: u64,
    /// Output tokens, reasoning included
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub output: u64,
    /// Input tokens read from the prompt cache
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub cache_read: u64,
    /// Input tokens written to the cache (5-minute lifetime)
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub cache_write: u64,
    /// Input tokens written to the cache with a 1-hour lifetime
    #[arg(long = "cache-write-1h", value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub cache_write_1h: u64,
    /// The part of the output that was reasoning
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub reasoning: u64,
    /// Tokens embedded (embedding models)
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub embedding: u64,
    /// Images generated
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub images: u64,
    /// Image size, e.g. 1024x1024
    #[arg(long, value_name = "S", requires = "images")]
    pub image_size: Option<String>,
    /// Image quality, e.g. standard, hd, low, medium, high
    #[arg(long, value_name = "Q", requires = "images")]
    pub image_quality: Option<String>,
    /// The service tier it ran at: standard, batch, flex or priority
    #[arg(long, value_name = "TIER", value_parser = args::service_tier, default_value = "standard")]
    pub service_tier: ServiceTier,
    /// standard, or fast (Anthropic's fast mode)
    #[arg(long, value_name = "S", value_parser = args::speed, default_value = "standard")]
    pub speed: Speed,
    /// Where it ran, where the provider bills regions apart (e.g. us for Anthropic's US-only inference)
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// Web searches the provider ran for it (billed per 1,000)
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub web_searches: u64,
    /// How many of the input tokens were audio (counted like --input: with the cached ones where the provider counts those inside input)
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub audio_input: u64,
    /// How many of the cached input tokens were audio
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub audio_cached: u64,
    /// How many of the output tokens were audio
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub audio_output: u64,
    /// How many of the input tokens were image tokens (counted like --input)
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub image_input_tokens: u64,
    /// How many of the cached input tokens were image tokens
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub image_cached_tokens: u64,
    /// How many of the output tokens were image tokens
    #[arg(long, value_name = "N", value_parser = args::count, allow_negative_numbers = true, default_value = "0")]
    pub image_output_tokens: u64,
}

/// Runs a subcommand; the exit code follows the usual convention (0 fine, 1 failed).
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        anyhow::bail!("no command given");
    };
    let path = cli.db.clone().unwrap_or_else(config::default_db_path);
    // A ledger of one's own choosing goes in a folder that exists: a typo
    // should not make a tree of folders and an empty ledger in it.
    if let Some(dir) = cli
        .db
        .as_deref()
        .and_then(std::path::Path::parent)
        .filter(|d| !d.as_os_str().is_empty() && !d.is_dir())
    {
        anyhow::bail!(crate::i18n::fill(
            &crate::i18n::gettext(
                "the folder {} does not exist: create it first, or check the --db path"
            ),
            &[&dir.display().to_string()]
        ));
    }
    // A ledger in an older format is rewritten as it opens, saying how far it
    // is (seconds on a large one); silent otherwise.
    let rewrite = std::cell::RefCell::new(RewriteProgress::default());
    let open = || {
        Store::open_updating(&path, &mut |f| rewrite.borrow_mut().tell(f))
            .with_context(|| format!("cannot open the ledger {}", path.display()))
    };
    // Commands that only read still answer from a damaged ledger, or one
    // they may not write, and say so.
    let read = || {
        let store = Store::open_to_read_updating(&path, &mut |f| rewrite.borrow_mut().tell(f))
            .with_context(|| format!("cannot open the ledger {}", path.display()))?;
        if store.read_only().is_some() {
            eprintln!("{}", read_only_warning(&path, &store));
        }
        anyhow::Ok(store)
    };
    // Commands that change usage, prices or policies evaluate the budgets after.
    let (mut store, result) = match command {
        Command::Usage(a) => return usage::run(&read()?, a),
        Command::CalcCost(a) => return calc::run(&read()?, a),
        Command::Status(a) => return policy::list(&read()?, jiff::Timestamp::now(), a.json),
        Command::Check(a) => return check::run(&mut open()?, a),
        Command::Alerts(c) => return alerts::run_alerts(&mut open()?, c),
        Command::Rules(c) => return alerts::run_rules(&mut open()?, c),
        Command::Watch(a) => return watch::run(&mut open()?, a),
        Command::Report(c) => return report::run(&read()?, c),
        Command::Doctor(a) => return doctor::run(&path, a.json),
        Command::Backup(a) => return backup::backup(&mut read()?, &a),
        Command::Restore(a) => return backup::restore(&path, &a),
        Command::Serve(a) => {
            drop(open()?);
            return serve::run(&path, a);
        }
        Command::Mcp => {
            drop(open()?);
            return serve::mcp(&path);
        }
        Command::Record(a) => with(open()?, |s| record::run(s, a)),
        Command::Prices(c) => with(open()?, |s| prices::run(s, c)),
        Command::Import(c) => with(open()?, |s| import::run(s, c)),
        Command::Reprice(a) => with(open()?, |s| reprice::run(s, a)),
        Command::Plan(c) => with(open()?, |s| plan::run(s, c)),
        Command::Policy(c) => with(open()?, |s| policy::run(s, c)),
        Command::Team(c) => with(open()?, |s| team::run(s, c)),
    };
    // An import that stopped part way stored what it counted: the budgets
    // see that before the failure is reported.
    let partial = match result {
        Ok(()) => None,
        Err(e) => match e.downcast::<Partial>() {
            Ok(Partial(why)) => Some(why),
            Err(e) => return Err(e),
        },
    };
    let notifier = crate::notifier::System::for_store(&store);
    let (raised, webhook) =
        crate::engine::after_write_quick(&mut store, jiff::Timestamp::now(), &notifier);
    if webhook {
        send_in_background(&path);
    }
    for id in raised {
        if let Ok(Some(a)) = store.alert(id) {
            eprintln!(
                "{}: {} — {}",
                a.severity.name(),
                table::printable(&a.title),
                table::printable(&a.body)
            );
        }
    }
    match partial {
        Some(why) => Err(Exit(1, Some(why)).into()),
        None => Ok(()),
    }
}

/// A command that stored part of what it was asked to before it failed.
#[derive(Debug)]
pub struct Partial(pub String);

impl std::fmt::Display for Partial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Partial {}

/// What a command that reads says on stderr of a ledger open read-only.
fn read_only_warning(path: &std::path::Path, store: &Store) -> String {
    use crate::i18n::{fill, gettext};
    let shown = path.display().to_string();
    match store.read_only() {
        Some(crate::store::ReadOnly::Damaged(problems)) => fill(
            &gettext(
                "warning: the ledger {} is damaged ({}); what can still be read is shown, and nothing is written. `tally doctor` says more; restore it from a backup with `tally restore FILE` or in the app (Preferences → Ledger → Restore).",
            ),
            &[&shown, problems.first().map_or("", String::as_str)],
        ),
        _ => fill(
            &gettext("note: the ledger {} cannot be written by you here; it is shown read-only."),
            &[&shown],
        ),
    }
}

/// Starts `tally alerts send` on its own, not waited for: a webhook that
/// hangs (up to its timeout, for each alert) never holds up the command
/// that wrote. A delivery it cannot make stays due, for the next writer, the
/// app or `tally watch`.
pub fn send_in_background(db: &std::path::Path) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let started = std::process::Command::new(exe)
        .arg("--db")
        .arg(db)
        .args(["alerts", "send"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = started {
        tracing::warn!("cannot start sending alerts in the background: {e}");
    }
}

fn with(
    mut store: Store,
    f: impl FnOnce(&mut Store) -> anyhow::Result<()>,
) -> (Store, anyhow::Result<()>) {
    let result = f(&mut store);
    (store, result)
}

/// Replaces this process with the desktop app, `tally-app`, installed beside it.
pub fn open_app(db: Option<&std::path::Path>) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("cannot find the tally program")?;
    let app = exe.with_file_name("tally-app");
    let mut command = std::process::Command::new(&app);
    if let Some(db) = db {
        command.arg("--db").arg(db);
    }
    let error = command.exec();
    Err(error).with_context(|| format!("cannot start the app {}", app.display()))
}

/// Prints a value as pretty JSON followed by a newline.
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Tells on stderr how far the rewrite of an older ledger into this
/// version's format is: one line redrawn on a terminal, a line per tenth
/// elsewhere, and how long it took. Says nothing unless one happens.
#[derive(Default)]
struct RewriteProgress {
    started: Option<std::time::Instant>,
    shown: Option<i64>,
}

impl RewriteProgress {
    fn tell(&mut self, fraction: f64) {
        use std::io::{IsTerminal, Write};
        let terminal = std::io::stderr().is_terminal();
        let started = *self.started.get_or_insert_with(std::time::Instant::now);
        let percent = (fraction * 100.0).floor() as i64;
        if self
            .shown
            .is_some_and(|shown| percent == shown || (!terminal && percent / 10 == shown / 10))
        {
            return;
        }
        self.shown = Some(percent);
        let line = crate::i18n::fill(
            &crate::i18n::gettext("Updating the ledger to this version's format: {} %"),
            &[&percent.to_string()],
        );
        let mut err = std::io::stderr();
        let _ = if terminal {
            write!(err, "\r{line}")
        } else {
            writeln!(err, "{line}")
        };
        if fraction >= 1.0 {
            if terminal {
                let _ = writeln!(err);
            }
            let _ = writeln!(
                err,
                "{}",
                crate::i18n::fill(
                    &crate::i18n::gettext("Updated the ledger in {} s."),
                    &[&format!("{:.1}", started.elapsed().as_secs_f64())]
                )
            );
        }
        let _ = err.flush();
    }
}

impl Drop for RewriteProgress {
    /// A rewrite that stopped part way leaves its line open on a terminal:
    /// the error that follows starts on a line of its own.
    fn drop(&mut self) {
        use std::io::IsTerminal;
        if self.shown.is_some_and(|p| p < 100) && std::io::stderr().is_terminal() {
            eprintln!();
        }
    }
}

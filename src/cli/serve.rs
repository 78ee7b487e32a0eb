//! `tally serve` and `tally mcp`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::print_json;
use super::table::{Table, thousands};
use crate::i18n::{fill, gettext};
use crate::serve::{self, Options};
use crate::store::Store;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    /// The address to listen on; anything but loopback needs --token-file
    #[arg(long, value_name = "ADDR", default_value = serve::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// A file whose first line is the Bearer token every request must carry
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum ServeCommand {
    /// What the OpenTelemetry intake has taken, and what it could not use
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(db: &Path, a: ServeArgs) -> anyhow::Result<()> {
    if let Some(ServeCommand::Status { json }) = a.command {
        return status(&Store::open_to_read(db)?, json);
    }
    let token = a.token_file.as_deref().map(serve::read_token).transpose()?;
    serve::run(
        db,
        Options {
            listen: a.listen,
            token,
        },
    )
}

fn status(store: &Store, json: bool) -> anyhow::Result<()> {
    let intake = serve::intake(store);
    if json {
        return print_json(&serde_json::to_value(&intake)?);
    }
    if intake.items == 0 {
        println!(
            "{}",
            gettext(
                "Nothing has come in over OpenTelemetry yet. Start `tally serve` and point an agent at it, e.g. OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318"
            )
        );
        return Ok(());
    }
    let mut t = Table::new(vec![(gettext("Received"), false), (gettext("Count"), true)]);
    t.row(vec![gettext("Items"), thousands(intake.items)]);
    t.row(vec![gettext("Calls recorded"), thousands(intake.recorded)]);
    t.row(vec![
        gettext("Already recorded"),
        thousands(intake.duplicates),
    ]);
    t.row(vec![
        gettext("Sums of calls (not recorded)"),
        thousands(intake.aggregates),
    ]);
    t.row(vec![gettext("Rejected"), thousands(intake.rejected)]);
    print!("{}", t.render());
    if let Some(why) = &intake.last_rejection {
        println!("{}", fill(&gettext("Last rejected: {}"), &[why]));
    }
    if !intake.not_usage.is_empty() {
        println!("\n{}", gettext("Telemetry without usage, by name:"));
        let mut u = Table::new(vec![(gettext("Name"), false), (gettext("Count"), true)]);
        for (name, n) in &intake.not_usage {
            u.row(vec![super::table::printable(name), thousands(*n)]);
        }
        print!("{}", u.render());
    }
    Ok(())
}

/// `tally mcp`: Tally's MCP server on stdio.
pub fn mcp(db: &Path) -> anyhow::Result<()> {
    serve::mcp::run_stdio(db.to_path_buf())
}

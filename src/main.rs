//! `tally`: the command line, and with no command, the desktop app.

use std::process::ExitCode;

use clap::Parser;
use tally::cli::Cli;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("RUST_LOG"))
        .with_writer(std::io::stderr)
        .init();
    tally::i18n::init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => tally::cli::open_app(cli.db.as_deref()),
        Some(_) => tally::cli::run(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally: {e:#}");
            ExitCode::FAILURE
        }
    }
}

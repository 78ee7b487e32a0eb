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
    if cli.command.is_none() {
        return tally::ui::run(cli.db);
    }
    match tally::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `tally`: the command line, and with no command, the desktop app.

use std::process::ExitCode;

use clap::FromArgMatches;
use tally::cli::Cli;

fn main() -> ExitCode {
    // Piped into `head`, end quietly as other Unix tools do, not with a
    // panic on the closed pipe.
    // SAFETY: first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tally::init_process();
    let matches = tally::cli::help::localized().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        None => tally::cli::open_app(cli.db.as_deref()),
        Some(_) => tally::cli::run(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<tally::cli::Exit>() {
            Some(exit) => {
                if let Some(message) = &exit.1 {
                    eprintln!("tally: {message}");
                }
                ExitCode::from(exit.0)
            }
            None => {
                eprintln!("tally: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

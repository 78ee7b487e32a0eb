//! `tally`: the command line, and with no command, the desktop app.

use std::process::ExitCode;

use clap::FromArgMatches;
use tally::cli::Cli;

// An import allocates and frees millions of small strings across its threads:
// with mimalloc the first import of 995,000 Claude Code lines took 2.31 s
// instead of glibc's 2.63 s (medians of 5, interleaved). See `main` for how
// soon it gives freed memory back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the mimalloc this crate builds (v3; the Rust
/// bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Piped into `head`, end quietly as other Unix tools do, not with a
    // panic on the closed pipe.
    // SAFETY: first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Freed memory goes back to the system after 100 ms: with mimalloc's own
    // delays that import peaked at 224 MB, with this at 167 MB (glibc: 157 MB)
    // and as fast; purged at once it was as slow as glibc.
    // SAFETY: sets an option; mimalloc reads it when it next purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
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

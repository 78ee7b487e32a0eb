//! The desktop app. `tally` with no command starts this program; it is separate so
//! that the command line, which scripts call on every model request, does not pay
//! for loading GTK (about 12 ms per process on Debian 12).

use std::process::ExitCode;

fn main() -> ExitCode {
    tally::init_process();
    let db = std::env::args_os()
        .skip_while(|a| a != "--db")
        .nth(1)
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("TALLY_DB").map(Into::into));
    let background = std::env::args_os().any(|a| a == "--background");
    tally::ui::run(db, background)
}

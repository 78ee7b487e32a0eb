//! `--help` in the user's language. clap takes its help texts from doc comments;
//! here every one of them goes through gettext, and the same walk lists them for
//! the translation catalogue (`po/update-pot.sh`).

use clap::{Command, CommandFactory};

use super::Cli;
use crate::i18n::gettext;

/// The command line with its help texts translated.
pub fn localized() -> Command {
    let mut cmd = Cli::command();
    cmd.build();
    translate(cmd)
}

fn translate(cmd: Command) -> Command {
    let about = cmd.get_about().map(|s| gettext(s.to_string()));
    let long_about = cmd.get_long_about().map(|s| gettext(s.to_string()));
    let mut cmd = cmd
        .mut_args(|arg| {
            let help = arg.get_help().map(|h| gettext(h.to_string()));
            let long_help = arg.get_long_help().map(|h| gettext(h.to_string()));
            let arg = match help {
                Some(h) => arg.help(h),
                None => arg,
            };
            match long_help {
                Some(h) => arg.long_help(h),
                None => arg,
            }
        })
        .mut_subcommands(translate);
    if let Some(text) = about {
        cmd = cmd.about(text);
    }
    if let Some(text) = long_about {
        cmd = cmd.long_about(text);
    }
    cmd
}

/// Every help text of the command line, once each, in a stable order.
pub fn texts() -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    collect(&cmd, &mut out);
    out.sort();
    out.dedup();
    out
}

fn collect(cmd: &Command, out: &mut Vec<String>) {
    out.extend(cmd.get_about().map(ToString::to_string));
    out.extend(cmd.get_long_about().map(ToString::to_string));
    for arg in cmd.get_arguments() {
        out.extend(arg.get_help().map(ToString::to_string));
        out.extend(arg.get_long_help().map(ToString::to_string));
    }
    for sub in cmd.get_subcommands() {
        collect(sub, out);
    }
}

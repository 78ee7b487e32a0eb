//! Where alerts go: the desktop's notification server, a log file of JSON lines,
//! and a webhook. Each channel fails on its own; the engine retries it later.

mod desktop;
mod log;
mod webhook;

use std::path::PathBuf;

use crate::core::alerts::Channel;
use crate::store::{Alert, Store};

pub trait Notifier {
    fn send(&self, channel: Channel, alert: &Alert) -> Result<(), String>;
}

/// The setting that holds the webhook URL.
pub const WEBHOOK_SETTING: &str = "webhook_url";

/// The real channels, configured from the ledger's settings and the XDG state dir.
pub struct System {
    pub log_file: Option<PathBuf>,
    pub webhook: Option<String>,
}

impl System {
    pub fn for_store(store: &Store) -> System {
        System {
            log_file: log::default_path(),
            webhook: store.setting(WEBHOOK_SETTING).ok().flatten(),
        }
    }
}

impl Notifier for System {
    fn send(&self, channel: Channel, alert: &Alert) -> Result<(), String> {
        match channel {
            Channel::Desktop => desktop::show(alert),
            Channel::Log => match &self.log_file {
                Some(path) => log::append(path, alert),
                None => Err("no state folder for the alert log".into()),
            },
            // No URL set: there is nowhere to send, which is not a failure to retry.
            Channel::Webhook => match &self.webhook {
                Some(url) => webhook::post(url, alert),
                None => Ok(()),
            },
        }
    }
}

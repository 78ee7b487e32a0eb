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
/// Whether `url` can be a webhook: http or https.
pub fn is_webhook_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// Settings that switch a channel off for every rule when set to `off`.
pub const DESKTOP_SETTING: &str = "desktop_notifications";
pub const LOG_SETTING: &str = "alert_log";

/// The real channels, configured from the ledger's settings and the XDG state dir.
pub struct System {
    pub log_file: Option<PathBuf>,
    pub webhook: Option<String>,
    pub desktop: bool,
}

impl System {
    pub fn for_store(store: &Store) -> System {
        let on = |key: &str| store.setting(key).ok().flatten().as_deref() != Some("off");
        System {
            log_file: log::default_path().filter(|_| on(LOG_SETTING)),
            webhook: store.setting(WEBHOOK_SETTING).ok().flatten(),
            desktop: on(DESKTOP_SETTING),
        }
    }
}

impl Notifier for System {
    fn send(&self, channel: Channel, alert: &Alert) -> Result<(), String> {
        match channel {
            // Switched off in the preferences: nothing to send, nothing to retry.
            Channel::Desktop if !self.desktop => Ok(()),
            Channel::Desktop => desktop::show(alert),
            Channel::Log => match &self.log_file {
                Some(path) => log::append(path, alert),
                None => Ok(()),
            },
            // No URL set: there is nowhere to send, which is not a failure to retry.
            Channel::Webhook => match &self.webhook {
                Some(url) => webhook::post(url, alert),
                None => Ok(()),
            },
        }
    }
}

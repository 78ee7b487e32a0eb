//! Where alerts go: the desktop's notification server, a log file of JSON lines,
//! and a webhook. Each channel fails on its own; the engine retries it later.

mod desktop;
mod log;
mod webhook;

use std::path::PathBuf;

use crate::core::alerts::Channel;
use crate::settings;
use crate::store::{Alert, Store};

pub trait Notifier {
    fn send(&self, channel: Channel, alert: &Alert) -> Result<(), String>;
}

/// Whether `text` can be a webhook: an http or https URL with a host (and a
/// port that exists), as the URL standard reads it.
pub fn is_webhook_url(text: &str) -> bool {
    url::Url::parse(text.trim()).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    }) && !text.trim().contains(char::is_whitespace)
}

/// Sends alerts to `url` from now on: the URL is kept, and the webhook added
/// to every alert rule that lacks it (a URL alone sent nothing: the rules
/// name their channels). Returns how many rules were changed.
pub fn set_webhook(store: &mut Store, url: &str) -> Result<u64, crate::store::StoreError> {
    settings::WEBHOOK_URL.set(store, Some(&url.to_string()))?;
    store.add_channel_to_rules(Channel::Webhook)
}

/// The real channels, configured from the ledger's settings and the XDG state dir.
pub struct System {
    pub log_file: Option<PathBuf>,
    pub webhook: Option<String>,
    pub desktop: bool,
}

impl System {
    pub fn for_store(store: &Store) -> System {
        System {
            log_file: log::default_path().filter(|_| settings::ALERT_LOG.get_or(store, true)),
            webhook: settings::WEBHOOK_URL.get(store).ok().flatten(),
            desktop: settings::DESKTOP_NOTIFICATIONS.get_or(store, true),
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

#[cfg(test)]
mod tests {
    use super::is_webhook_url;

    #[test]
    fn a_webhook_is_an_http_url_with_a_host() {
        for good in [
            "https://hooks.example.com/x?y=1",
            "http://127.0.0.1:8080/hook",
            "HTTP://example.com/",
            "https://user:secret@example.com/h",
        ] {
            assert!(is_webhook_url(good), "{good}");
        }
        for bad in [
            "https://",
            "https://example.com:99999/",
            "https://exa mple.com/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "example.com/hook",
            "",
        ] {
            assert!(!is_webhook_url(bad), "{bad}");
        }
    }
}

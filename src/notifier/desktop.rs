//! Desktop notifications through the freedesktop notification server.

use notify_rust::{Hint, Notification, Timeout, Urgency};

use crate::config::APP_ID;
use crate::core::alerts::Severity;
use crate::store::Alert;

pub fn show(alert: &Alert) -> Result<(), String> {
    let urgency = match alert.severity {
        Severity::Info => Urgency::Low,
        Severity::Warning => Urgency::Normal,
        Severity::Critical => Urgency::Critical,
    };
    // No "default" action: with the desktop-entry hint, clicking the
    // notification opens Tally through its desktop file, even after the
    // process that raised the alert (a CLI call, say) has exited.
    Notification::new()
        .appname("Tally")
        .summary(&alert.title)
        .body(&alert.body)
        .icon(APP_ID)
        .urgency(urgency)
        .hint(Hint::DesktopEntry(APP_ID.into()))
        .hint(Hint::Category("x-tally.budget".into()))
        .timeout(Timeout::Default)
        .show()
        .map(|_| ())
        .map_err(|e| format!("desktop notification: {e}"))
}

//! Every setting Tally keeps in the ledger (its `settings` table), in one
//! place: the key, the type of its value and how that reads as text. Callers
//! say `settings::WEBHOOK_URL.get(&store)`, never a key string, so a setting
//! cannot be read under one name and written under another, or read as a
//! number where it was written as a word.

use std::marker::PhantomData;

use jiff::civil::Weekday;

use crate::core::period::{parse_weekday, weekday_name};
use crate::core::plan::Plan;
use crate::ingest::Agent;
use crate::store::{Store, StoreError};

/// A setting whose value is a `T`.
pub struct Setting<T> {
    pub key: &'static str,
    value: PhantomData<fn() -> T>,
}

impl<T> Clone for Setting<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Setting<T> {}

/// How a setting's value is written in the ledger.
pub trait Value: Sized {
    /// None for text that is not a value of this type.
    fn parse(text: &str) -> Option<Self>;
    fn text(&self) -> String;
}

impl Value for String {
    fn parse(text: &str) -> Option<Self> {
        Some(text.to_string())
    }
    fn text(&self) -> String {
        self.clone()
    }
}

/// `on` or `off` (`yes`/`no`, `true`/`false` read too).
impl Value for bool {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "on" | "yes" | "true" => Some(true),
            "off" | "no" | "false" => Some(false),
            _ => None,
        }
    }
    fn text(&self) -> String {
        if *self { "on" } else { "off" }.into()
    }
}

impl Value for u8 {
    fn parse(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn text(&self) -> String {
        self.to_string()
    }
}

/// An English day name, `monday`.
impl Value for Weekday {
    fn parse(text: &str) -> Option<Self> {
        parse_weekday(text).ok()
    }
    fn text(&self) -> String {
        weekday_name(*self).to_string()
    }
}

impl<T: Value> Setting<T> {
    const fn new(key: &'static str) -> Self {
        Setting {
            key,
            value: PhantomData,
        }
    }

    /// The value, if set; text that does not read as a `T` counts as unset.
    pub fn get(self, store: &Store) -> Result<Option<T>, StoreError> {
        Ok(store.setting(self.key)?.as_deref().and_then(T::parse))
    }

    /// The value, or `default` when unset or unreadable (a ledger that
    /// cannot be read included: a setting is never worth failing for).
    pub fn get_or(self, store: &Store, default: T) -> T {
        self.get(store).ok().flatten().unwrap_or(default)
    }

    /// Sets the value, or unsets it with None.
    pub fn set(self, store: &mut Store, value: Option<&T>) -> Result<(), StoreError> {
        store.set_setting(self.key, value.map(T::text).as_deref())
    }
}

/// Keep running, watching and alerting with the window closed.
pub const RUN_IN_BACKGROUND: Setting<bool> = Setting::new("run_in_background");
/// Alert channels that every rule skips when off.
pub const DESKTOP_NOTIFICATIONS: Setting<bool> = Setting::new("desktop_notifications");
pub const ALERT_LOG: Setting<bool> = Setting::new("alert_log");
/// Where the webhook channel posts alerts.
pub const WEBHOOK_URL: Setting<String> = Setting::new("webhook_url");
/// The cooldown of rules added without one (a duration such as `90m`).
pub const DEFAULT_COOLDOWN: Setting<String> = Setting::new("default_cooldown");
/// What a new policy starts from.
pub const DEFAULT_SOFT_PERCENT: Setting<u8> = Setting::new("default_soft_percent");
pub const DEFAULT_ZONE: Setting<String> = Setting::new("default_zone");
/// The day weeks start on (weekly trends, new weekly budgets).
pub const WEEK_START: Setting<Weekday> = Setting::new("week_start");
/// The currency amounts are shown in (an ISO code; dollars unset), and how
/// many of it one dollar buys (a decimal, `0.92`).
pub const CURRENCY: Setting<String> = Setting::new("currency");
pub const USD_RATE: Setting<String> = Setting::new("usd_rate");
/// Where the monthly report is written, and the last month written there.
pub const MONTHLY_REPORT_FOLDER: Setting<String> = Setting::new("monthly_report_folder");
pub const MONTHLY_REPORT_LAST: Setting<String> = Setting::new("monthly_report_last");
/// The first-run question (import and follow the agents' logs?) was answered.
pub const SOURCES_ASKED: Setting<bool> = Setting::new("sources.asked");
/// The app receives OpenTelemetry (runs `tally serve`'s server) while this
/// is on; where it listens, and the token it asks for off loopback.
pub const OTLP_RECEIVE: Setting<bool> = Setting::new("otlp.receive");
pub const OTLP_LISTEN: Setting<String> = Setting::new("otlp.listen");
pub const OTLP_TOKEN: Setting<String> = Setting::new("otlp.token");

/// The last backup made with Tally: when, a tab, and where (a restore keeps it).
const LAST_BACKUP: Setting<String> = Setting::new("last_backup");

/// Notes a backup just made at `path`, for `tally doctor` and the way back
/// from a damaged ledger. A note that cannot be written loses no backup.
pub fn note_backup(store: &mut Store, path: &std::path::Path, at: jiff::Timestamp) {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let value = format!("{at}\t{}", path.display());
    if let Err(e) = LAST_BACKUP.set(store, Some(&value)) {
        tracing::warn!("cannot note the backup: {e}");
    }
}

/// When and where the last backup made with Tally went.
pub fn last_backup(store: &Store) -> Option<(jiff::Timestamp, std::path::PathBuf)> {
    let value = LAST_BACKUP.get(store).ok().flatten()?;
    let (at, path) = value.split_once('\t')?;
    Some((at.parse().ok()?, path.into()))
}

/// A subscription plan, as `Plan::id` writes it.
impl Value for Plan {
    fn parse(text: &str) -> Option<Self> {
        Plan::parse(text).ok()
    }
    fn text(&self) -> String {
        self.id()
    }
}

/// The plan `agent` runs on, if the user said.
pub const fn plan(agent: Agent) -> Setting<Plan> {
    match agent {
        Agent::ClaudeCode => Setting::new("plan.claude-code"),
        Agent::Codex => Setting::new("plan.codex"),
        Agent::GeminiCli => Setting::new("plan.gemini-cli"),
        Agent::OpenCode => Setting::new("plan.opencode"),
        Agent::Amp => Setting::new("plan.amp"),
        Agent::QwenCode => Setting::new("plan.qwen-code"),
        Agent::Copilot => Setting::new("plan.copilot"),
    }
}

/// The plan windows Codex last reported (JSON, `plan::Reported`s).
pub const CODEX_REPORTED: Setting<String> = Setting::new("plan.codex.reported");
/// What plan windows are watched for: triggers as alert rules write them.
pub const PLAN_ALERTS: Setting<String> = Setting::new("plan.alerts");
/// Which plan-window alerts have fired, by agent (JSON).
pub const PLAN_MARKS: Setting<String> = Setting::new("plan.marks");

/// Follow `agent`'s logs while the app runs (on unless set off).
pub const fn follow(agent: Agent) -> Setting<bool> {
    match agent {
        Agent::ClaudeCode => Setting::new("follow.claude-code"),
        Agent::Codex => Setting::new("follow.codex"),
        Agent::GeminiCli => Setting::new("follow.gemini-cli"),
        Agent::OpenCode => Setting::new("follow.opencode"),
        Agent::Amp => Setting::new("follow.amp"),
        Agent::QwenCode => Setting::new("follow.qwen-code"),
        Agent::Copilot => Setting::new("follow.copilot"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_written_and_bad_text_counts_as_unset() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("ledger.sqlite")).unwrap();
        assert_eq!(WEEK_START.get(&store).unwrap(), None);
        WEEK_START.set(&mut store, Some(&Weekday::Sunday)).unwrap();
        assert_eq!(WEEK_START.get(&store).unwrap(), Some(Weekday::Sunday));
        assert_eq!(
            store.setting("week_start").unwrap().as_deref(),
            Some("sunday")
        );

        DESKTOP_NOTIFICATIONS.set(&mut store, Some(&false)).unwrap();
        assert_eq!(
            store.setting("desktop_notifications").unwrap().as_deref(),
            Some("off")
        );
        assert!(!DESKTOP_NOTIFICATIONS.get_or(&store, true));
        // Written by an older Tally.
        store.set_setting("sources.asked", Some("yes")).unwrap();
        assert_eq!(SOURCES_ASKED.get(&store).unwrap(), Some(true));

        store
            .set_setting("default_soft_percent", Some("lots"))
            .unwrap();
        assert_eq!(DEFAULT_SOFT_PERCENT.get(&store).unwrap(), None);
        assert_eq!(DEFAULT_SOFT_PERCENT.get_or(&store, 80), 80);

        WEBHOOK_URL
            .set(&mut store, Some(&"https://example.com/h".into()))
            .unwrap();
        WEBHOOK_URL.set(&mut store, None).unwrap();
        assert_eq!(store.setting("webhook_url").unwrap(), None);
    }
}

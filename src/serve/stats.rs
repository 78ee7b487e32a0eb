//! What the OTLP intake took and what it could not use, counted by name and
//! kept in the ledger's settings, so `tally serve status` and the Sources
//! view show it after the server has stopped.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// The setting the counts are kept under.
pub const SETTING: &str = "otlp_intake";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Intake {
    /// Spans, log records and data points received.
    pub items: u64,
    /// Calls recorded, and calls already in the ledger (the same export
    /// again, or the agent's log file's copy).
    pub recorded: u64,
    pub duplicates: u64,
    /// Sums of calls told elsewhere (metrics, agent spans).
    pub aggregates: u64,
    /// Usage that could not be read, rejected with why.
    pub rejected: u64,
    pub last_rejection: Option<String>,
    /// Telemetry without usage, by its name: what was not understood.
    pub not_usage: BTreeMap<String, u64>,
    /// Calls received by source (the new and the ones already recorded).
    pub by_source: BTreeMap<String, u64>,
    pub last_at: Option<Timestamp>,
}

/// How many names of telemetry without usage are kept: the rest are summed
/// under "other".
const NAMES: usize = 40;

impl Intake {
    pub fn not_usage(&mut self, name: &str) {
        let name = if name.is_empty() { "(unnamed)" } else { name };
        if self.not_usage.len() >= NAMES && !self.not_usage.contains_key(name) {
            *self.not_usage.entry("other".into()).or_default() += 1;
        } else {
            *self.not_usage.entry(name.to_string()).or_default() += 1;
        }
    }

    pub fn add(&mut self, other: &Intake) {
        self.items += other.items;
        self.recorded += other.recorded;
        self.duplicates += other.duplicates;
        self.aggregates += other.aggregates;
        self.rejected += other.rejected;
        if other.last_rejection.is_some() {
            self.last_rejection.clone_from(&other.last_rejection);
        }
        for (k, n) in &other.not_usage {
            for _ in 0..*n {
                self.not_usage(k);
            }
        }
        for (k, n) in &other.by_source {
            *self.by_source.entry(k.clone()).or_default() += n;
        }
        self.last_at = other.last_at.or(self.last_at);
    }

    pub fn load(store: &Store) -> Intake {
        store
            .setting(SETTING)
            .ok()
            .flatten()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, store: &mut Store) -> Result<(), StoreError> {
        let text = serde_json::to_string(self).unwrap_or_default();
        store.set_setting(SETTING, Some(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_beyond_the_limit_are_summed_as_other() {
        let mut i = Intake::default();
        for n in 0..NAMES + 5 {
            i.not_usage(&format!("event{n}"));
        }
        i.not_usage("event0");
        assert_eq!(i.not_usage["other"], 5);
        assert_eq!(i.not_usage["event0"], 2);
        let mut total = Intake::default();
        total.add(&i);
        assert_eq!(total.not_usage.values().sum::<u64>(), (NAMES + 6) as u64);
    }
}

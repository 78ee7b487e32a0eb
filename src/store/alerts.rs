//! Alert rules, the marks that make each crossing fire once, the alerts
//! themselves (active → acknowledged → resolved) and their delivery outbox.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Store, StoreError};
use crate::core::alerts::{AlertKind, Channel, Firing, Mark, Rule, Severity};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    pub at: Timestamp,
    pub policy_id: Option<i64>,
    pub policy: String,
    pub kind: AlertKind,
    pub severity: Severity,
    pub title: String,
    pub body: String,
    /// The figures behind the alert, as JSON (amounts as decimal strings).
    pub detail: serde_json::Value,
    pub state: AlertState,
    pub acknowledged_by: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Active,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn name(self) -> &'static str {
        match self {
            AlertState::Active => "active",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }

    fn parse(text: &str) -> Result<AlertState, StoreError> {
        [
            AlertState::Active,
            AlertState::Acknowledged,
            AlertState::Resolved,
        ]
        .into_iter()
        .find(|s| s.name() == text)
        .ok_or_else(|| StoreError::Corrupt(format!("alert state {text}")))
    }
}

/// A new alert as the engine words it, before it has an id.
pub struct NewAlert {
    pub policy_id: Option<i64>,
    pub policy: String,
    pub kind: AlertKind,
    pub severity: Severity,
    pub channels: Vec<Channel>,
    pub title: String,
    pub body: String,
    pub detail: serde_json::Value,
}

/// One channel's delivery of one alert that is due.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub alert: Alert,
    pub channel: Channel,
    pub attempts: i64,
}

fn ts(ms: i64) -> Result<Timestamp, StoreError> {
    Ok(Timestamp::from_millisecond(ms)?)
}

fn rule_from_row(row: &Row) -> Result<Rule, StoreError> {
    let bad = |e: String| StoreError::Corrupt(format!("alert rule: {e}"));
    let channels: String = row.get(4)?;
    Ok(Rule {
        id: row.get(0)?,
        policy_id: row.get(1)?,
        trigger: row
            .get::<_, String>(2)?
            .parse()
            .map_err(|e: crate::core::alerts::RuleError| bad(e.to_string()))?,
        severity: row
            .get::<_, String>(3)?
            .parse()
            .map_err(|e: crate::core::alerts::RuleError| bad(e.to_string()))?,
        channels: channels
            .split(',')
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse()
                    .map_err(|e: crate::core::alerts::RuleError| bad(e.to_string()))
            })
            .collect::<Result<_, _>>()?,
        cooldown: SignedDuration::from_secs(row.get(5)?),
    })
}

pub(super) fn channel_list(channels: &[Channel]) -> String {
    channels
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) const ALERT_COLUMNS: &str =
    "id, at_ms, policy_id, policy_name, kind, severity, title, body, detail, state, acked_by";

pub(super) fn alert_from_row(row: &Row) -> Result<Alert, StoreError> {
    let kind: String = row.get(4)?;
    let severity: String = row.get(5)?;
    let detail: String = row.get(8)?;
    Ok(Alert {
        id: row.get(0)?,
        at: ts(row.get(1)?)?,
        policy_id: row.get(2)?,
        policy: row.get(3)?,
        kind: AlertKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("alert kind {kind}")))?,
        severity: severity
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("alert severity {severity}")))?,
        title: row.get(6)?,
        body: row.get(7)?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("alert detail: {e}")))?,
        state: AlertState::parse(&row.get::<_, String>(9)?)?,
        acknowledged_by: row.get(10)?,
    })
}

/// How long a process that took a delivery has before another may retry it.
const DELIVERY_LEASE: SignedDuration = SignedDuration::from_secs(60);
/// After the n-th failure, wait n × this (at most an hour) before trying again.
const RETRY_STEP: SignedDuration = SignedDuration::from_secs(30);

impl Store {
    pub fn rules(&self) -> Result<Vec<Rule>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, policy_id, trigger, severity, channels, cooldown_s FROM alert_rules ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(rule_from_row(row)?);
        }
        Ok(out)
    }

    pub fn add_rule(&mut self, r: &Rule) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO alert_rules (policy_id, trigger, severity, channels, cooldown_s)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                r.policy_id,
                r.trigger.to_string(),
                r.severity.name(),
                channel_list(&r.channels),
                r.cooldown.as_secs()
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Adds `channel` to every rule that lacks it; returns how many changed.
    pub fn add_channel_to_rules(&mut self, channel: Channel) -> Result<u64, StoreError> {
        let mut changed = 0;
        for mut rule in self.rules()? {
            if rule.channels.contains(&channel) {
                continue;
            }
            rule.channels.push(channel);
            self.conn.execute(
                "UPDATE alert_rules SET channels = ?2 WHERE id = ?1",
                params![rule.id, channel_list(&rule.channels)],
            )?;
            changed += 1;
        }
        Ok(changed)
    }

    pub fn remove_rule(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM alert_rules WHERE id = ?1", [id])?
            > 0)
    }

    /// Every policy's marks, by policy id: one query for the whole evaluation.
    pub(crate) fn marks(&self) -> Result<HashMap<i64, Vec<Mark>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT policy_id, rule_id, window_key, at_ms, superseded FROM alert_marks",
        )?;
        let mut rows = stmt.query([])?;
        let mut out: HashMap<i64, Vec<Mark>> = HashMap::new();
        while let Some(row) = rows.next()? {
            out.entry(row.get(0)?).or_default().push(Mark {
                rule_id: row.get(1)?,
                window_key: row.get(2)?,
                at: ts(row.get(3)?)?,
                superseded: row.get(4)?,
            });
        }
        Ok(out)
    }

    pub(crate) fn save_marks(
        &self,
        policy_id: i64,
        fired: &[Firing],
        rearm: &[i64],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        for rule in rearm {
            self.conn.execute(
                "DELETE FROM alert_marks WHERE policy_id = ?1 AND rule_id = ?2",
                params![policy_id, rule],
            )?;
        }
        let mut stmt = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO alert_marks (policy_id, rule_id, window_key, at_ms, superseded)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for f in fired {
            stmt.execute(params![
                policy_id,
                f.rule_id,
                f.window_key,
                now.as_millisecond(),
                !f.notify
            ])?;
        }
        Ok(())
    }

    /// Adds an alert and queues it on its channels; returns its id.
    pub(crate) fn insert_alert(&self, a: &NewAlert, now: Timestamp) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO alerts (at_ms, policy_id, policy_name, kind, severity, title, body, detail, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'active')",
            params![
                now.as_millisecond(),
                a.policy_id,
                a.policy,
                a.kind.name(),
                a.severity.name(),
                a.title,
                a.body,
                a.detail.to_string()
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        for c in &a.channels {
            self.conn.execute(
                "INSERT INTO alert_deliveries (alert_id, channel, attempts, next_try_ms)
                 VALUES (?1, ?2, 0, ?3)",
                params![id, c.name(), now.as_millisecond()],
            )?;
        }
        Ok(id)
    }

    /// Alerts, newest first; `states` empty means all.
    pub fn alerts(&self, states: &[AlertState], limit: usize) -> Result<Vec<Alert>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts ORDER BY at_ms DESC, id DESC"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let a = alert_from_row(row)?;
            if states.is_empty() || states.contains(&a.state) {
                out.push(a);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    pub fn alert(&self, id: i64) -> Result<Option<Alert>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))?;
        stmt.query_row([id], |row| Ok(alert_from_row(row)))
            .optional()?
            .transpose()
    }

    /// Marks an active alert acknowledged; false if it was not active.
    pub fn acknowledge_alert(
        &mut self,
        id: i64,
        by: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE alerts SET state = 'acknowledged', acked_ms = ?2, acked_by = ?3
             WHERE id = ?1 AND state = 'active'",
            params![id, now.as_millisecond(), by],
        )? > 0)
    }

    /// Resolves an alert that is not resolved yet; false otherwise.
    pub fn resolve_alert(&mut self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE alerts SET state = 'resolved', resolved_ms = ?2 WHERE id = ?1 AND state != 'resolved'",
            params![id, now.as_millisecond()],
        )? > 0)
    }

    /// Takes the deliveries that are due, leasing them so another process does not
    /// send them too.
    pub fn take_due_deliveries(&mut self, now: Timestamp) -> Result<Vec<Delivery>, StoreError> {
        self.take_due_deliveries_on(now, &Channel::ALL)
    }

    /// Whether a delivery on `channel` is due.
    pub fn delivery_due_on(&self, now: Timestamp, channel: Channel) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM alert_deliveries
             WHERE delivered_ms IS NULL AND next_try_ms <= ?1 AND channel = ?2)",
            params![now.as_millisecond(), channel.name()],
            |r| r.get(0),
        )?)
    }

    /// As `take_due_deliveries`, on `channels` only.
    pub fn take_due_deliveries_on(
        &mut self,
        now: Timestamp,
        channels: &[Channel],
    ) -> Result<Vec<Delivery>, StoreError> {
        let names: Vec<&str> = channels.iter().map(|c| c.name()).collect();
        let tx = self.write_tx()?;
        let mut due: Vec<(i64, String, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT alert_id, channel, attempts FROM alert_deliveries
                 WHERE delivered_ms IS NULL AND next_try_ms <= ?1",
            )?;
            stmt.query_map([now.as_millisecond()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?
        };
        due.retain(|(_, channel, _)| names.contains(&channel.as_str()));
        let lease = now.checked_add(DELIVERY_LEASE)?.as_millisecond();
        for (id, channel, _) in &due {
            tx.execute(
                "UPDATE alert_deliveries SET next_try_ms = ?3 WHERE alert_id = ?1 AND channel = ?2",
                params![id, channel, lease],
            )?;
        }
        tx.commit()?;
        let mut out = Vec::new();
        for (id, channel, attempts) in due {
            let Some(alert) = self.alert(id)? else {
                continue;
            };
            let channel = channel
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("alert channel {channel}")))?;
            out.push(Delivery {
                alert,
                channel,
                attempts,
            });
        }
        Ok(out)
    }

    /// Records how a delivery went: done, or failed and to be retried later.
    pub fn finish_delivery(
        &mut self,
        d: &Delivery,
        result: Result<(), String>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let attempts = d.attempts + 1;
        match result {
            Ok(()) => self.conn.execute(
                "UPDATE alert_deliveries SET attempts = ?3, delivered_ms = ?4, last_error = NULL
                 WHERE alert_id = ?1 AND channel = ?2",
                params![d.alert.id, d.channel.name(), attempts, now.as_millisecond()],
            )?,
            Err(e) => {
                let wait = (RETRY_STEP * attempts as i32).min(SignedDuration::from_hours(1));
                self.conn.execute(
                    "UPDATE alert_deliveries SET attempts = ?3, next_try_ms = ?4, last_error = ?5
                     WHERE alert_id = ?1 AND channel = ?2",
                    params![
                        d.alert.id,
                        d.channel.name(),
                        attempts,
                        now.checked_add(wait)?.as_millisecond(),
                        e
                    ],
                )?
            }
        };
        Ok(())
    }

    /// A setting the user chose (webhook URL, …), if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        self.write_setting(key, value)
    }

    /// As `set_setting`, inside a transaction `locked` holds.
    pub(crate) fn write_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        match value {
            Some(v) => self.conn.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                params![key, v],
            )?,
            None => self
                .conn
                .execute("DELETE FROM settings WHERE key = ?1", [key])?,
        };
        Ok(())
    }
}

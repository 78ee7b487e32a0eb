//! Policies and their audit log: every change, override and reset is written
//! in the same transaction as the change itself.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::{Store, StoreError};
use crate::core::policy::{Override, Policy};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    pub policy_id: i64,
    pub policy: String,
    pub at: Timestamp,
    pub actor: String,
    /// `created`, `edited`, `removed`, `override`, `override-cleared`, `reset`.
    pub action: String,
    pub detail: String,
}

const POLICY_COLUMNS: &str = "id, name, scope, metric, period, zone, limit_amount, soft_percent,
    action, enabled, created_ms, reset_ms, override_by, override_reason, override_until_ms, team_uid";

fn ts(ms: i64) -> Result<Timestamp, StoreError> {
    Ok(Timestamp::from_millisecond(ms)?)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn policy_from_row(row: &Row) -> Result<Policy, StoreError> {
    let text = |i: usize| -> Result<String, StoreError> { Ok(row.get::<_, String>(i)?) };
    let override_ = match (
        row.get::<_, Option<String>>(12)?,
        row.get::<_, Option<String>>(13)?,
        row.get::<_, Option<i64>>(14)?,
    ) {
        (Some(by), Some(reason), Some(until)) => Some(Override {
            by,
            reason,
            until: ts(until)?,
        }),
        _ => None,
    };
    Ok(Policy {
        id: row.get(0)?,
        name: text(1)?,
        scope: text(2)?.parse().map_err(|e| corrupt("policy scope", e))?,
        metric: text(3)?.parse().map_err(|e| corrupt("policy metric", e))?,
        period: text(4)?.parse().map_err(|e| corrupt("policy period", e))?,
        zone: text(5)?,
        limit: row.get(6)?,
        soft_percent: row.get(7)?,
        action: text(8)?.parse().map_err(|e| corrupt("policy action", e))?,
        enabled: row.get(9)?,
        created_at: ts(row.get(10)?)?,
        reset_at: row.get::<_, Option<i64>>(11)?.map(ts).transpose()?,
        override_,
        team: row.get(15)?,
    })
}

/// What a person reads in the audit log about a policy's settings.
pub fn describe(p: &Policy) -> String {
    format!(
        "scope {}, {} ≤ {} per {}, soft {}%, {}, zone {}{}",
        p.scope,
        p.metric.name(),
        p.metric.display(p.limit),
        p.period,
        p.soft_percent,
        p.action.name(),
        p.zone,
        if p.enabled { "" } else { ", disabled" }
    )
}

/// The settings that differ between two versions of a policy, as `field: old → new`.
pub(super) fn changes(old: &Policy, new: &Policy) -> String {
    let mut out = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name}: {a} → {b}"));
        }
    };
    field("name", old.name.clone(), new.name.clone());
    field("scope", old.scope.to_string(), new.scope.to_string());
    field("metric", old.metric.name().into(), new.metric.name().into());
    field("period", old.period.to_string(), new.period.to_string());
    field("zone", old.zone.clone(), new.zone.clone());
    field(
        "limit",
        old.metric.display(old.limit),
        new.metric.display(new.limit),
    );
    field(
        "soft",
        format!("{}%", old.soft_percent),
        format!("{}%", new.soft_percent),
    );
    field("action", old.action.name().into(), new.action.name().into());
    field("enabled", old.enabled.to_string(), new.enabled.to_string());
    if out.is_empty() {
        "no change".into()
    } else {
        out.join("; ")
    }
}

pub(super) fn audit(
    tx: &Transaction,
    p: &Policy,
    at: Timestamp,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO policy_audit (policy_id, policy_name, at_ms, actor, action, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![p.id, p.name, at.as_millisecond(), actor, action, detail],
    )?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyStoreError {
    #[error("a policy named “{0}” already exists")]
    NameTaken(String),
    #[error("no policy “{0}”")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for PolicyStoreError {
    fn from(e: rusqlite::Error) -> Self {
        PolicyStoreError::Store(e.into())
    }
}

impl Store {
    pub fn policies(&self) -> Result<Vec<Policy>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {POLICY_COLUMNS} FROM policies ORDER BY id"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(policy_from_row(row)?);
        }
        Ok(out)
    }

    /// A policy by id (digits) or by name.
    pub fn find_policy(&self, key: &str) -> Result<Option<Policy>, StoreError> {
        let sql = format!(
            "SELECT {POLICY_COLUMNS} FROM policies WHERE name = ?1 OR CAST(id AS TEXT) = ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([key])?;
        match rows.next()? {
            Some(row) => Ok(Some(policy_from_row(row)?)),
            None => Ok(None),
        }
    }

    fn name_taken(tx: &Transaction, name: &str, except: i64) -> Result<bool, StoreError> {
        Ok(tx
            .query_row(
                "SELECT 1 FROM policies WHERE name = ?1 AND id != ?2",
                params![name, except],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Saves a new policy (its `id` is ignored) and returns it with its id.
    pub fn add_policy(&mut self, p: &Policy, actor: &str) -> Result<Policy, PolicyStoreError> {
        let tx = self.write_tx()?;
        if Self::name_taken(&tx, &p.name, 0)? {
            return Err(PolicyStoreError::NameTaken(p.name.clone()));
        }
        tx.execute(
            "INSERT INTO policies (name, scope, metric, period, zone, limit_amount, soft_percent,
                 action, enabled, created_ms, team_uid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                p.name,
                p.scope.to_string(),
                p.metric.name(),
                p.period.to_string(),
                p.zone,
                p.limit,
                p.soft_percent,
                p.action.name(),
                p.enabled,
                p.created_at.as_millisecond(),
                p.team
            ],
        )?;
        let saved = Policy {
            id: tx.last_insert_rowid(),
            ..p.clone()
        };
        audit(
            &tx,
            &saved,
            p.created_at,
            actor,
            "created",
            &describe(&saved),
        )?;
        tx.commit()?;
        Ok(saved)
    }

    /// Saves new settings for an existing policy, logging what changed.
    pub fn update_policy(
        &mut self,
        p: &Policy,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), PolicyStoreError> {
        let old = self
            .find_policy(&p.id.to_string())?
            .ok_or_else(|| PolicyStoreError::NotFound(p.id.to_string()))?;
        let tx = self.write_tx()?;
        if Self::name_taken(&tx, &p.name, p.id)? {
            return Err(PolicyStoreError::NameTaken(p.name.clone()));
        }
        tx.execute(
            "UPDATE policies SET name = ?2, scope = ?3, metric = ?4, period = ?5, zone = ?6,
                 limit_amount = ?7, soft_percent = ?8, action = ?9, enabled = ?10
             WHERE id = ?1",
            params![
                p.id,
                p.name,
                p.scope.to_string(),
                p.metric.name(),
                p.period.to_string(),
                p.zone,
                p.limit,
                p.soft_percent,
                p.action.name(),
                p.enabled
            ],
        )?;
        audit(&tx, p, at, actor, "edited", &changes(&old, p))?;
        tx.commit()?;
        Ok(())
    }

    pub fn remove_policy(
        &mut self,
        p: &Policy,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.execute("DELETE FROM policies WHERE id = ?1", [p.id])?;
        audit(&tx, p, at, actor, "removed", &describe(p))?;
        tx.commit()?;
        Ok(())
    }

    /// Sets (or with `None` clears) a policy's emergency override.
    pub fn set_override(
        &mut self,
        p: &Policy,
        o: Option<&Override>,
        at: Timestamp,
        actor: &str,
    ) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.execute(
            "UPDATE policies SET override_by = ?2, override_reason = ?3, override_until_ms = ?4
             WHERE id = ?1",
            params![
                p.id,
                o.map(|o| &o.by),
                o.map(|o| &o.reason),
                o.map(|o| o.until.as_millisecond())
            ],
        )?;
        match o {
            Some(o) => audit(
                &tx,
                p,
                at,
                actor,
                "override",
                &format!("until {} by {}: {}", o.until, o.by, o.reason),
            )?,
            None => audit(&tx, p, at, actor, "override-cleared", "")?,
        }
        tx.commit()?;
        Ok(())
    }

    /// Starts the policy's count again from `at`.
    pub fn reset_policy(
        &mut self,
        p: &Policy,
        at: Timestamp,
        actor: &str,
        why: &str,
    ) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.execute(
            "UPDATE policies SET reset_ms = ?2 WHERE id = ?1",
            params![p.id, at.as_millisecond()],
        )?;
        audit(&tx, p, at, actor, "reset", why)?;
        tx.commit()?;
        Ok(())
    }

    /// The audit log of one policy (or of all, with `None`), oldest first.
    pub fn audit_log(&self, policy_id: Option<i64>) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT policy_id, policy_name, at_ms, actor, action, detail FROM policy_audit
             WHERE ?1 IS NULL OR policy_id = ?1 ORDER BY at_ms, id",
        )?;
        let mut rows = stmt.query([policy_id])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(AuditEntry {
                policy_id: row.get(0)?,
                policy: row.get(1)?,
                at: ts(row.get(2)?)?,
                actor: row.get(3)?,
                action: row.get(4)?,
                detail: row.get(5)?,
            });
        }
        Ok(out)
    }
}

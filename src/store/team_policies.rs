//! Team-wide policies as this ledger keeps them: a copy of the server's,
//! found by their team key, evaluated on the merged ledger like any other;
//! and the team's alerts, each taken once by the server's id. The server's
//! side is in `crate::team::policies`.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::alerts::NewAlert;
use super::policies::{audit, changes, describe};
use super::{Store, StoreError};
use crate::core::policy::Policy;

/// A team alert's state, as one ledger or the server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamAlertState {
    pub team_id: i64,
    pub state: String,
    pub acked_by: Option<String>,
    pub acked_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
}

impl TeamAlertState {
    /// The SQL of an alert row's state as a number: states only move forward.
    pub const RANK_SQL: &str =
        "CASE state WHEN 'active' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END";

    /// This state's number in `RANK_SQL`'s order.
    pub fn rank(&self) -> i32 {
        match self.state.as_str() {
            "active" => 0,
            "acknowledged" => 1,
            _ => 2,
        }
    }
}

/// What taking the team's policies changed here.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Mirrored {
    pub added: u32,
    pub changed: u32,
    pub removed: u32,
}

impl Store {
    /// Makes this ledger's team policies the team's `team` (each with its
    /// key in `team`), logging each change as made by the team. A local
    /// policy that holds the name keeps it; the team's is named with
    /// “(team)” after it here.
    pub fn mirror_team_policies(
        &mut self,
        team: &[Policy],
        at: Timestamp,
    ) -> Result<Mirrored, StoreError> {
        let ours = self.policies()?;
        let tx = self.write_tx()?;
        let mut m = Mirrored::default();
        for p in team {
            let Some(uid) = p.team.as_deref() else {
                continue;
            };
            let old = ours.iter().find(|o| o.team.as_deref() == Some(uid));
            let clash = ours.iter().any(|o| o.team.is_none() && o.name == p.name);
            let name = if clash {
                format!("{} (team)", p.name)
            } else {
                p.name.clone()
            };
            let mut new = Policy {
                id: old.map_or(0, |o| o.id),
                name,
                ..p.clone()
            };
            let row = params![
                new.name,
                new.scope.to_string(),
                new.metric.name(),
                new.period.to_string(),
                new.zone,
                new.limit,
                new.soft_percent,
                new.action.name(),
                new.enabled,
                new.created_at.as_millisecond(),
                new.reset_at.map(|t| t.as_millisecond()),
                new.override_.as_ref().map(|o| o.by.clone()),
                new.override_.as_ref().map(|o| o.reason.clone()),
                new.override_.as_ref().map(|o| o.until.as_millisecond()),
                uid
            ];
            match old {
                Some(o) if *o == new => {}
                Some(o) => {
                    tx.execute(
                        "UPDATE policies SET name = ?1, scope = ?2, metric = ?3, period = ?4,
                             zone = ?5, limit_amount = ?6, soft_percent = ?7, action = ?8,
                             enabled = ?9, created_ms = ?10, reset_ms = ?11, override_by = ?12,
                             override_reason = ?13, override_until_ms = ?14
                         WHERE team_uid = ?15",
                        row,
                    )?;
                    audit(&tx, &new, at, "team", "edited", &changes(o, &new))?;
                    m.changed += 1;
                }
                None => {
                    tx.execute(
                        "INSERT INTO policies (name, scope, metric, period, zone, limit_amount,
                             soft_percent, action, enabled, created_ms, reset_ms, override_by,
                             override_reason, override_until_ms, team_uid)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                        row,
                    )?;
                    new.id = tx.last_insert_rowid();
                    audit(&tx, &new, at, "team", "created", &describe(&new))?;
                    m.added += 1;
                }
            }
        }
        for o in ours.iter().filter(|o| {
            o.team
                .as_deref()
                .is_some_and(|uid| !team.iter().any(|p| p.team.as_deref() == Some(uid)))
        }) {
            tx.execute("DELETE FROM policies WHERE id = ?1", [o.id])?;
            audit(&tx, o, at, "team", "removed", "")?;
            m.removed += 1;
        }
        tx.commit()?;
        Ok(m)
    }

    /// The newest team alert this ledger has (the server's id), 0 for none.
    pub fn last_team_alert(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(team_id), 0) FROM alerts", [], |r| {
                r.get(0)
            })?)
    }

    /// The state of this ledger's team alerts that are no longer active:
    /// (server id, state, acknowledged by, when, resolved when).
    pub fn team_alert_states(&self) -> Result<Vec<TeamAlertState>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT team_id, state, acked_by, acked_ms, resolved_ms FROM alerts
             WHERE team_id IS NOT NULL AND state != 'active'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TeamAlertState {
                team_id: r.get(0)?,
                state: r.get(1)?,
                acked_by: r.get(2)?,
                acked_ms: r.get(3)?,
                resolved_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Takes a team alert's state from the team: acknowledged or resolved
    /// on another machine is so here. A state only moves forward.
    pub fn take_team_alert_state(&mut self, s: &TeamAlertState) -> Result<bool, StoreError> {
        if !matches!(s.state.as_str(), "acknowledged" | "resolved") {
            return Ok(false);
        }
        let wanted = s.rank();
        Ok(self.conn.execute(
            &format!(
                "UPDATE alerts SET state = ?2, acked_by = coalesce(acked_by, ?3),
                     acked_ms = coalesce(acked_ms, ?4), resolved_ms = coalesce(resolved_ms, ?5)
                 WHERE team_id = ?1 AND {} < ?6",
                TeamAlertState::RANK_SQL
            ),
            params![
                s.team_id,
                s.state,
                s.acked_by,
                s.acked_ms,
                s.resolved_ms,
                wanted
            ],
        )? > 0)
    }

    /// Adds a team alert, once: `None` when this ledger has it already.
    pub fn insert_team_alert(
        &mut self,
        team_id: i64,
        alert: &NewAlert,
        at: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        self.locked(|s| {
            let known = s
                .conn
                .query_row("SELECT id FROM alerts WHERE team_id = ?1", [team_id], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?;
            if known.is_some() {
                return Ok(None);
            }
            let id = s.insert_alert(alert, at)?;
            s.conn.execute(
                "UPDATE alerts SET team_id = ?1 WHERE id = ?2",
                params![team_id, id],
            )?;
            Ok(Some(id))
        })
    }
}

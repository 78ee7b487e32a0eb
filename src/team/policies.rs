//! Team-wide policies on the server: kept there, copied into every
//! machine's ledger, evaluated on each machine's merged ledger. A crossing
//! raises one team alert: each machine that sees it takes a per-policy lock
//! on the server, reads the marks every machine shares (which rule fired in
//! which window, and when: the cooldown), and only the first writes the
//! alert; every machine then takes the team's new alerts into its ledger.

use jiff::Timestamp;
use postgres::Client;
use serde_json::{Value, json};

use super::TeamError;
use crate::core::alerts::{Channel, Mark, Rule};
use crate::core::policy::{Override, Policy};
use crate::store::{Mirrored, NewAlert, Store, TeamAlertState};

/// A policy as the server keeps it (its id is each ledger's own).
fn body(p: &Policy) -> String {
    json!({
        "name": p.name,
        "scope": p.scope.to_string(),
        "metric": p.metric.name(),
        "period": p.period.to_string(),
        "zone": p.zone,
        "limit": p.limit,
        "soft_percent": p.soft_percent,
        "action": p.action.name(),
        "enabled": p.enabled,
        "created_ms": p.created_at.as_millisecond(),
        "reset_ms": p.reset_at.map(|t| t.as_millisecond()),
        "override": p.override_.as_ref().map(|o| json!({
            "by": o.by, "reason": o.reason, "until_ms": o.until.as_millisecond()
        })),
    })
    .to_string()
}

fn from_body(uid: &str, text: &str) -> Result<Policy, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let s = |k: &str| v[k].as_str().ok_or_else(|| format!("no {k}"));
    let ms = |x: &Value| {
        x.as_i64()
            .and_then(|m| Timestamp::from_millisecond(m).ok())
            .ok_or("a time out of range")
    };
    let override_ = match &v["override"] {
        Value::Null => None,
        o => Some(Override {
            by: o["by"].as_str().unwrap_or_default().to_string(),
            reason: o["reason"].as_str().unwrap_or_default().to_string(),
            until: ms(&o["until_ms"])?,
        }),
    };
    let p = Policy {
        id: 0,
        name: s("name")?.to_string(),
        scope: s("scope")?.parse().map_err(|e| format!("{e}"))?,
        metric: s("metric")?.parse().map_err(|e| format!("{e}"))?,
        period: s("period")?.parse().map_err(|e| format!("{e}"))?,
        zone: s("zone")?.to_string(),
        limit: v["limit"].as_i64().ok_or("no limit")?,
        soft_percent: v["soft_percent"]
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .ok_or("no soft percent")?,
        action: s("action")?.parse().map_err(|e| format!("{e}"))?,
        enabled: v["enabled"].as_bool().unwrap_or(true),
        created_at: ms(&v["created_ms"])?,
        reset_at: match &v["reset_ms"] {
            Value::Null => None,
            t => Some(ms(t)?),
        },
        override_,
        team: Some(uid.to_string()),
    };
    p.validate().map_err(|e| e.to_string())?;
    Ok(p)
}

/// The team's policies. One a newer Tally wrote in a way this one cannot
/// read is left out (and logged), not a reason to stop syncing.
pub fn fetch(client: &mut Client) -> Result<Vec<Policy>, TeamError> {
    let mut out = Vec::new();
    for row in client.query("SELECT uid, body FROM tally_policies ORDER BY uid", &[])? {
        let (uid, text): (String, String) = (row.get(0), row.get(1));
        match from_body(&uid, &text) {
            Ok(p) => out.push(p),
            Err(e) => tracing::warn!("the team's policy {uid} cannot be read: {e}"),
        }
    }
    Ok(out)
}

/// A new key for a team policy.
pub fn new_uid() -> String {
    super::new_id(24)
}

/// Saves a team policy on the server (new, or changed from `old`), with the
/// audit entry every machine can read.
pub fn publish(
    client: &mut Client,
    p: &Policy,
    machine: &str,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), TeamError> {
    let uid = p
        .team
        .as_deref()
        .ok_or_else(|| TeamError::Server(format!("“{}” is not a team policy", p.name)))?;
    let mut tx = client.transaction()?;
    let taken: i64 = tx
        .query_one(
            "SELECT count(*) FROM tally_policies WHERE name = $1 AND uid <> $2",
            &[&p.name, &uid],
        )?
        .get(0);
    if taken > 0 {
        return Err(TeamError::PolicyNameTaken(p.name.clone()));
    }
    tx.execute(
        "INSERT INTO tally_policies (uid, name, body, changed_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (uid) DO UPDATE SET name = excluded.name, body = excluded.body,
             revision = tally_policies.revision + 1, changed_by = excluded.changed_by,
             changed_at = now()",
        &[&uid, &p.name, &body(p), &machine],
    )?;
    audit(&mut tx, machine, actor, uid, &p.name, action, detail)?;
    tx.commit()?;
    Ok(())
}

/// Removes a team policy from the team (its alerts and audit stay).
pub fn remove(
    client: &mut Client,
    p: &Policy,
    machine: &str,
    actor: &str,
) -> Result<(), TeamError> {
    let Some(uid) = p.team.as_deref() else {
        return Ok(());
    };
    let mut tx = client.transaction()?;
    tx.execute("DELETE FROM tally_policies WHERE uid = $1", &[&uid])?;
    tx.execute("DELETE FROM tally_marks WHERE policy_uid = $1", &[&uid])?;
    audit(&mut tx, machine, actor, uid, &p.name, "removed", "")?;
    tx.commit()?;
    Ok(())
}

fn audit(
    tx: &mut postgres::Transaction,
    machine: &str,
    actor: &str,
    uid: &str,
    name: &str,
    action: &str,
    detail: &str,
) -> Result<(), TeamError> {
    tx.execute(
        "INSERT INTO tally_audit (machine, actor, policy_uid, policy_name, action, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&machine, &actor, &uid, &name, &action, &detail],
    )?;
    Ok(())
}

/// How a team policy changes.
pub enum Change<'a> {
    Save { action: &'a str, detail: String },
    Remove,
}

/// Changes a team policy on the server, then takes the team's policies
/// into this ledger again (and claims what the change makes due).
pub fn change(
    store: &mut Store,
    p: &Policy,
    change: Change,
    actor: &str,
    now: Timestamp,
) -> Result<TeamPolicies, TeamError> {
    let team = super::Membership::of(store)?.ok_or(TeamError::NotJoined)?;
    let mut client = team.open()?;
    match change {
        Change::Save { action, detail } => {
            publish(&mut client, p, &team.machine, actor, action, &detail)?
        }
        Change::Remove => remove(&mut client, p, &team.machine, actor)?,
    }
    sync(&mut client, store, &team.machine, now)
}

/// The rules team alerts follow.
fn rules(client: &mut Client) -> Result<Vec<Rule>, TeamError> {
    let mut out = Vec::new();
    for row in client.query(
        "SELECT id, trigger, severity, channels, cooldown_s FROM tally_rules ORDER BY id",
        &[],
    )? {
        let (id, trigger, severity, channels, cooldown): (i32, String, String, String, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let parsed = (|| {
            Ok::<_, crate::core::alerts::RuleError>(Rule {
                id: id.into(),
                policy_id: None,
                trigger: trigger.parse()?,
                severity: severity.parse()?,
                channels: channels
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::parse)
                    .collect::<Result<_, _>>()?,
                cooldown: jiff::SignedDuration::from_secs(cooldown.max(0)),
            })
        })();
        match parsed {
            Ok(r) => out.push(r),
            Err(e) => tracing::warn!("the team's alert rule {id} cannot be read: {e}"),
        }
    }
    Ok(out)
}

/// What a sync did with the team's policies and alerts.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct TeamPolicies {
    pub policies: Mirrored,
    /// Team alerts this machine claimed (raised for the team).
    pub claimed: u32,
    /// Team alerts taken into this ledger (claimed here or elsewhere).
    pub alerts: u32,
}

/// Takes the team's policies into the ledger, claims the alerts their
/// crossings raise, and takes the team's new alerts in.
pub fn sync(
    client: &mut Client,
    store: &mut Store,
    machine: &str,
    now: Timestamp,
) -> Result<TeamPolicies, TeamError> {
    let team = fetch(client)?;
    let mut out = TeamPolicies {
        policies: store.mirror_team_policies(&team, now)?,
        ..Default::default()
    };
    let policies: Vec<Policy> = store
        .policies()?
        .into_iter()
        .filter(|p| p.enabled && p.team.is_some())
        .collect();
    if !policies.is_empty() {
        let rules = rules(client)?;
        let spend = store.policy_spend(&policies, now)?;
        for (p, s) in policies.iter().zip(&spend) {
            out.claimed += claim(client, p, s, &rules, machine, now)?;
        }
    }
    out.alerts = take_alerts(client, store, machine, now)?;
    share_alert_states(client, store)?;
    Ok(out)
}

/// A team alert acknowledged or resolved on one machine is so on all: this
/// ledger's changes go to the server, the server's come here. States only
/// move forward (active, acknowledged, resolved), so the order of machines'
/// syncs does not matter.
fn share_alert_states(client: &mut Client, store: &mut Store) -> Result<(), TeamError> {
    for s in store.team_alert_states()? {
        let wanted = s.rank();
        client.execute(
            &format!(
                "UPDATE tally_alerts SET state = $2, acked_by = coalesce(acked_by, $3),
                     acked_ms = coalesce(acked_ms, $4), resolved_ms = coalesce(resolved_ms, $5)
                 WHERE id = $1 AND {} < $6",
                TeamAlertState::RANK_SQL
            ),
            &[
                &s.team_id,
                &s.state,
                &s.acked_by,
                &s.acked_ms,
                &s.resolved_ms,
                &wanted,
            ],
        )?;
    }
    for row in client.query(
        "SELECT id, state, acked_by, acked_ms, resolved_ms FROM tally_alerts
         WHERE state <> 'active'",
        &[],
    )? {
        store.take_team_alert_state(&TeamAlertState {
            team_id: row.get(0),
            state: row.get(1),
            acked_by: row.get(2),
            acked_ms: row.get(3),
            resolved_ms: row.get(4),
        })?;
    }
    Ok(())
}

/// Evaluates one team policy under the server's lock for it: the marks
/// read there are every machine's, so a crossing is claimed once.
fn claim(
    client: &mut Client,
    p: &Policy,
    s: &crate::store::PolicySpend,
    rules: &[Rule],
    machine: &str,
    now: Timestamp,
) -> Result<u32, TeamError> {
    let uid = p.team.as_deref().unwrap_or_default();
    let mut tx = client.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(704199321, hashtext($1))",
        &[&uid],
    )?;
    let mut marks = Vec::new();
    for row in tx.query(
        "SELECT rule_id, window_key, at_ms, superseded FROM tally_marks WHERE policy_uid = $1",
        &[&uid],
    )? {
        marks.push(Mark {
            rule_id: row.get::<_, i32>(0).into(),
            window_key: row.get(1),
            at: Timestamp::from_millisecond(row.get(2)).unwrap_or(Timestamp::UNIX_EPOCH),
            superseded: row.get(3),
        });
    }
    let (outcome, alerts) = crate::engine::decide(p, s, now, rules, &marks);
    if outcome.fire.is_empty() && outcome.rearm.is_empty() {
        return Ok(0);
    }
    for rule in &outcome.rearm {
        let rule = *rule as i32;
        tx.execute(
            "DELETE FROM tally_marks WHERE policy_uid = $1 AND rule_id = $2",
            &[&uid, &rule],
        )?;
    }
    let at = now.as_millisecond();
    for f in &outcome.fire {
        let (rule, superseded) = (f.rule_id as i32, !f.notify);
        tx.execute(
            "INSERT INTO tally_marks (policy_uid, rule_id, window_key, at_ms, superseded)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (policy_uid, rule_id, window_key)
             DO UPDATE SET at_ms = excluded.at_ms, superseded = excluded.superseded",
            &[&uid, &rule, &f.window_key, &at, &superseded],
        )?;
    }
    for a in &alerts {
        let channels: Vec<&str> = a.channels.iter().map(|c| c.name()).collect();
        tx.execute(
            "INSERT INTO tally_alerts (policy_uid, policy_name, claimed_by, at_ms, kind, severity,
                 channels, title, body, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &uid,
                &a.policy,
                &machine,
                &at,
                &a.kind.name(),
                &a.severity.name(),
                &channels.join(","),
                &a.title,
                &a.body,
                &a.detail.to_string(),
            ],
        )?;
    }
    tx.commit()?;
    Ok(alerts.len() as u32)
}

/// Takes the team's alerts this ledger has not seen. Every machine shows
/// them on its desktop and in its log; a webhook hears only the machine
/// that claimed it, so the team's hook is called once. One older than an
/// hour (a machine back from a week offline) is listed, not popped up.
fn take_alerts(
    client: &mut Client,
    store: &mut Store,
    machine: &str,
    now: Timestamp,
) -> Result<u32, TeamError> {
    let after = store.last_team_alert()?;
    let policies = store.policies()?;
    let mut taken = 0;
    for row in client.query(
        "SELECT id, policy_uid, policy_name, claimed_by, at_ms, kind, severity, channels,
             title, body, detail
         FROM tally_alerts WHERE id > $1 ORDER BY id",
        &[&after],
    )? {
        let id: i64 = row.get(0);
        let uid: String = row.get(1);
        let claimed_by: String = row.get(3);
        let (Some(kind), Ok(severity)) = (
            crate::core::alerts::AlertKind::parse(row.get(5)),
            row.get::<_, String>(6).parse(),
        ) else {
            tracing::warn!("the team's alert {id} cannot be read");
            continue;
        };
        let at = Timestamp::from_millisecond(row.get(4)).unwrap_or(Timestamp::UNIX_EPOCH);
        let fresh = now.duration_since(at) < jiff::SignedDuration::from_hours(1);
        let channels = row
            .get::<_, String>(7)
            .split(',')
            .filter_map(|c| c.parse::<Channel>().ok())
            .filter(|c| fresh && (*c != Channel::Webhook || claimed_by == machine))
            .collect();
        let mut detail: Value = serde_json::from_str(row.get(10)).unwrap_or_else(|_| json!({}));
        detail["team"] = json!({ "id": id, "claimed_by": claimed_by });
        let alert = NewAlert {
            policy_id: policies
                .iter()
                .find(|p| p.team.as_deref() == Some(uid.as_str()))
                .map(|p| p.id),
            policy: row.get(2),
            kind,
            severity,
            channels,
            title: row.get(8),
            body: row.get(9),
            detail,
        };
        if store.insert_team_alert(id, &alert, at)?.is_some() {
            taken += 1;
        }
    }
    Ok(taken)
}

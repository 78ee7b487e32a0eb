//! Prices across a team. Each call keeps the cost the machine that recorded
//! it computed, so two machines that price a model differently disagree:
//! each sync tells the server the price this machine has for every model it
//! used lately, and where machines differ is shown (`tally team status`,
//! Preferences → Team). A team can set a shared price book on the server
//! (`tally prices set … --team`): every machine takes it, it wins over any
//! price of their own, and every machine reprices the calls it concerns,
//! everyone's, so all ledgers agree.

use std::collections::BTreeSet;

use jiff::{Timestamp, ToSpan};
use postgres::Client;
use serde::Serialize;

use super::TeamError;
use crate::core::price_file::{PriceSpec, rate_to_string};
use crate::core::pricing::{ModelPrice, Origin};
use crate::store::{Store, StoredPrice};

/// How far back the models a machine uses are looked for.
const RECENT_DAYS: i64 = 90;

/// A model two or more machines price differently.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Conflict {
    pub provider: String,
    pub model: String,
    /// Each machine and the price it has, e.g. `laptop: in $2.50 · out $10 per M`.
    pub machines: Vec<String>,
}

/// What a sync did with prices.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TeamPrices {
    /// Entries of the team's shared book this ledger took (0: unchanged).
    pub shared: u32,
    /// Calls repriced because the shared book changed.
    pub repriced: u64,
    pub conflicts: Vec<Conflict>,
}

/// Adds (or replaces) a price in the team's shared book.
pub fn publish(client: &mut Client, spec: &PriceSpec, machine: &str) -> Result<(), TeamError> {
    let version = format!(
        "team {} ({machine})",
        Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
    );
    let json = serde_json::to_string(spec).map_err(|e| TeamError::Server(e.to_string()))?;
    client.execute(
        "INSERT INTO tally_prices (provider, model, effective_from, spec, version, set_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (provider, model, effective_from) DO UPDATE SET spec = excluded.spec,
             version = excluded.version, set_by = excluded.set_by, set_at = now()",
        &[
            &spec.provider,
            &spec.model,
            &spec.from.to_string(),
            &json,
            &version,
            &machine,
        ],
    )?;
    Ok(())
}

/// Removes a model's prices from the team's shared book; how many there were.
pub fn remove(client: &mut Client, provider: &str, model: &str) -> Result<u64, TeamError> {
    Ok(client.execute(
        "DELETE FROM tally_prices WHERE provider = $1 AND model = $2",
        &[&provider, &model],
    )?)
}

/// Changes the team's shared book with `f` on the server, then takes it
/// here at once (repricing what it changed).
pub fn change(
    store: &mut Store,
    f: impl FnOnce(&mut Client, &str) -> Result<u64, TeamError>,
) -> Result<TeamPrices, TeamError> {
    let team = super::Membership::of(store)?.ok_or(TeamError::NotJoined)?;
    let mut client = team.open()?;
    f(&mut client, &team.machine)?;
    sync(&mut client, store, &team.machine, Timestamp::now())
}

fn fetch(client: &mut Client) -> Result<Vec<StoredPrice>, TeamError> {
    let mut out = Vec::new();
    for row in client.query(
        "SELECT spec, version FROM tally_prices ORDER BY provider, model, effective_from",
        &[],
    )? {
        let text: String = row.get(0);
        match serde_json::from_str::<PriceSpec>(&text) {
            Ok(spec) => out.push(StoredPrice {
                origin: Origin::Team,
                spec,
                version: row.get(1),
            }),
            Err(e) => tracing::warn!("a team price cannot be read: {e}"),
        }
    }
    Ok(out)
}

/// Takes the team's shared book (repricing what it changed), tells the
/// server this machine's prices, and reads where machines differ.
pub fn sync(
    client: &mut Client,
    store: &mut Store,
    machine: &str,
    now: Timestamp,
) -> Result<TeamPrices, TeamError> {
    let mut out = TeamPrices::default();
    let shared = fetch(client)?;
    let had = store.team_prices()?;
    // Models whose entries changed: added, changed or removed.
    let touched = (shared != had).then(|| {
        let models = |list: &[StoredPrice]| -> BTreeSet<(String, String)> {
            list.iter()
                .map(|p| (p.spec.provider.clone(), p.spec.model.clone()))
                .collect()
        };
        let mut touched = models(&shared);
        touched.extend(models(&had));
        touched.retain(|key| {
            let of = |list: &[StoredPrice]| -> Vec<StoredPrice> {
                list.iter()
                    .filter(|p| (&p.spec.provider, &p.spec.model) == (&key.0, &key.1))
                    .cloned()
                    .collect()
            };
            of(&shared) != of(&had)
        });
        touched
    });
    if touched.is_some() {
        store.replace_team_prices(&shared)?;
        out.shared = shared.len() as u32;
    }
    // The book with the team's prices as the server has them, read once.
    let book = crate::prices::load(store)?;
    if let Some(touched) = touched {
        let wanted = |r: &crate::core::UsageRecord| {
            book.resolve(&r.provider, &r.model).is_ok_and(|x| {
                touched.contains(&(x.provider.clone(), x.model.clone()))
                    || touched.contains(&(r.provider.clone(), r.model.to_lowercase()))
            })
        };
        out.repriced = store.reprice_everyones(&book, wanted)?.changed;
    }
    tell_prices(client, store, &book, machine, now)?;
    out.conflicts = conflicts(client)?;
    Ok(out)
}

/// A price as people compare it: its rates per million tokens.
fn summary(p: &ModelPrice) -> String {
    let r = &p.rates;
    let mut parts = Vec::new();
    for (name, rate) in [("in", r.input), ("cached", r.cache_read), ("out", r.output)] {
        if let Some(v) = rate {
            parts.push(format!("{name} ${}", rate_to_string(v)));
        }
    }
    if parts.is_empty() {
        return p.version.clone();
    }
    format!("{} per M ({})", parts.join(" · "), p.version)
}

/// What makes two prices the same: every term, not where it came from.
fn digest(p: &ModelPrice) -> String {
    let terms = serde_json::json!([p.mode, p.rates, p.long_context, p.images, p.modifiers]);
    blake3::hash(terms.to_string().as_bytes()).to_hex()[..16].to_string()
}

/// Tells the server the price this machine has today for each model its
/// calls of the last `RECENT_DAYS` used.
fn tell_prices(
    client: &mut Client,
    store: &Store,
    book: &crate::core::PriceBook,
    machine: &str,
    now: Timestamp,
) -> Result<(), TeamError> {
    let since = now
        .checked_sub((RECENT_DAYS * 24).hours())
        .unwrap_or(now)
        .to_zoned(store.zone().clone())
        .date();
    let models = store.models_of_machine(machine, since)?;
    let mut tx = client.transaction()?;
    tx.execute(
        "DELETE FROM tally_machine_prices WHERE machine = $1",
        &[&machine],
    )?;
    for (provider, model) in models {
        let price = book
            .resolve(&provider, &model)
            .ok()
            .and_then(|x| book.price_at(&x, now).cloned());
        let (digest, summary) = match &price {
            Some(p) => (digest(p), summary(p)),
            None => ("unpriced".to_string(), "no price".to_string()),
        };
        tx.execute(
            "INSERT INTO tally_machine_prices (machine, provider, model, digest, summary)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&machine, &provider, &model, &digest, &summary],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The models machines price differently.
pub fn conflicts(client: &mut Client) -> Result<Vec<Conflict>, TeamError> {
    Ok(client
        .query(
            "SELECT provider, model,
                    array_agg(machine || ': ' || summary ORDER BY machine)
             FROM tally_machine_prices GROUP BY provider, model
             HAVING count(DISTINCT digest) > 1 ORDER BY provider, model",
            &[],
        )?
        .iter()
        .map(|row| Conflict {
            provider: row.get(0),
            model: row.get(1),
            machines: row.get(2),
        })
        .collect())
}

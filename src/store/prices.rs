//! Prices kept in the ledger: the user's own and those imported from a price file.

use jiff::Timestamp;
use rusqlite::params;

use super::{Store, StoreError};
use crate::core::price_file::PriceSpec;
use crate::core::pricing::Origin;

#[derive(Clone, Debug, PartialEq)]
pub struct StoredPrice {
    pub origin: Origin,
    pub spec: PriceSpec,
    pub version: String,
}

fn origin_name(origin: Origin) -> &'static str {
    match origin {
        Origin::User => "user",
        Origin::Imported | Origin::Shipped => "imported",
        // The team's prices are kept apart (`team_prices`), as the server has them.
        Origin::Team => "team",
    }
}

impl Store {
    /// Saves prices (replacing any of the same origin, model and date) in one transaction.
    pub fn save_prices(
        &mut self,
        origin: Origin,
        specs: &[PriceSpec],
        version: &str,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().as_millisecond();
        let tx = self.write_tx()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO prices (origin, provider, model, effective_from, spec, version, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (origin, provider, model, effective_from)
                 DO UPDATE SET spec = excluded.spec, version = excluded.version, created_ms = excluded.created_ms",
            )?;
            for spec in specs {
                let json =
                    serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                stmt.execute(params![
                    origin_name(origin),
                    spec.provider,
                    spec.model,
                    spec.from.to_string(),
                    json,
                    version,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes the user's prices for a model; returns how many there were.
    pub fn remove_user_prices(&mut self, provider: &str, model: &str) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM prices WHERE origin = 'user' AND provider = ?1 AND model = ?2",
            params![provider, model],
        )?)
    }

    /// The versions of the imported price files (`litellm 2026-11-22`).
    pub fn imported_price_versions(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT version FROM prices WHERE origin = 'imported'")?;
        let versions = stmt.query_map([], |r| r.get(0))?;
        Ok(versions.collect::<Result<_, _>>()?)
    }

    /// The team's shared price book, as the last sync took it.
    pub fn team_prices(&self) -> Result<Vec<StoredPrice>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT spec, version FROM team_prices ORDER BY provider, model, effective_from",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            let spec: PriceSpec = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("team price {text}: {e}")))?;
            out.push(StoredPrice {
                origin: Origin::Team,
                spec,
                version: row.get(1)?,
            });
        }
        Ok(out)
    }

    /// Makes the team's shared price book `prices`, whole.
    pub fn replace_team_prices(&mut self, prices: &[StoredPrice]) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.execute("DELETE FROM team_prices", [])?;
        {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO team_prices (provider, model, effective_from, spec, version)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for p in prices {
                let json = serde_json::to_string(&p.spec)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                stmt.execute(params![
                    p.spec.provider,
                    p.spec.model,
                    p.spec.from.to_string(),
                    json,
                    p.version
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn stored_prices(&self) -> Result<Vec<StoredPrice>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT origin, spec, version FROM prices ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let origin: String = row.get(0)?;
            let text: String = row.get(1)?;
            let spec: PriceSpec = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("price {text}: {e}")))?;
            out.push(StoredPrice {
                origin: if origin == "user" {
                    Origin::User
                } else {
                    Origin::Imported
                },
                spec,
                version: row.get(2)?,
            });
        }
        Ok(out)
    }
}

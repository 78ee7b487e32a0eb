//! What `tally doctor` reads of a ledger: SQLite's own check of its pages,
//! sums an older Tally let turn into floats, and how much of what the totals
//! can hold is used.

use serde::Serialize;

use super::rollup::SUMMED;
use super::{Store, StoreError};

#[derive(Debug, Serialize)]
pub struct Health {
    /// SQLite's `quick_check`: empty when every page reads as it should.
    pub damage: Vec<String>,
    /// Rollup cells holding a float instead of an exact integer.
    pub inexact_sums: u64,
    /// The largest share of what 64 bits hold that any column's bound uses,
    /// in basis points.
    pub bound_used_bp: i64,
    pub records: u64,
    pub wal_bytes: u64,
}

impl Store {
    pub fn health(&self) -> Result<Health, StoreError> {
        let damage = super::integrity::quick_check(&self.conn)?;
        let mut inexact_sums = 0;
        for table in ["usage_daily", "usage_hourly"] {
            let any: Vec<String> = SUMMED
                .iter()
                .map(|c| format!("typeof({c}) = 'real'"))
                .collect();
            let n: i64 = self.conn.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE {}", any.join(" OR ")),
                [],
                |r| r.get(0),
            )?;
            inexact_sums += n as u64;
        }
        let largest = SUMMED
            .iter()
            .map(|c| format!("abs({c})"))
            .collect::<Vec<_>>()
            .join(", ");
        let bound: i64 = self
            .conn
            .query_row(
                &format!("SELECT max({largest}) FROM ledger_bounds WHERE id = 1"),
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        let records: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM calls", [], |r| r.get(0))?;
        let wal = super::beside(&self.path, "-wal");
        Ok(Health {
            damage,
            inexact_sums,
            bound_used_bp: (i128::from(bound) * 10_000 / i128::from(i64::MAX)) as i64,
            records: records as u64,
            wal_bytes: std::fs::metadata(&wal).map_or(0, |m| m.len()),
        })
    }
}

//! A call as a row of `tally_records`: the fields most calls set as
//! columns, the rest as one JSON object (`rest`, NULL for most), and the
//! key and digest that make pushing idempotent.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::core::usage::{Billing, Cost, ImageUsage, MediaTokens, TokenCounts};
use crate::core::{Money, UsageRecord};

/// The fields few calls set.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Rest {
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<String>,
    #[serde(skip_serializing_if = "is_default")]
    images: ImageUsage,
    #[serde(skip_serializing_if = "is_default")]
    embedding_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billed_nanos: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revenue_nanos: Option<i64>,
    #[serde(skip_serializing_if = "is_default")]
    billing: Billing,
    #[serde(skip_serializing_if = "is_default")]
    media: MediaTokens,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    metadata: serde_json::Map<String, serde_json::Value>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// One call's columns, in the order of `COLUMNS`.
pub struct Row {
    pub gkey: Vec<u8>,
    pub digest: Vec<u8>,
    pub machine: String,
    pub record: UsageRecord,
    rest: Option<String>,
}

/// The columns a push writes and a pull reads after `xid`, in order.
pub const COLUMNS: &str = "gkey, machine, digest, ts_ms, provider, model, user_name, project,
    agent, source, session, request_id, input, output, cache_read, cache_write_5m,
    cache_write_1h, reasoning, cost_kind, cost_nanos, price, rest";

/// Their types, for a binary COPY.
pub fn types() -> Vec<postgres::types::Type> {
    use postgres::types::Type;
    let mut t = vec![Type::BYTEA, Type::TEXT, Type::BYTEA, Type::INT8];
    t.extend([Type::TEXT; 8]);
    t.extend([Type::INT8; 6]);
    t.extend([Type::INT2, Type::INT8, Type::TEXT, Type::TEXT]);
    t
}

impl Row {
    /// The row of a call this machine (`machine`) recorded.
    pub fn of(record: UsageRecord, machine: &str) -> Row {
        let rest = Rest {
            task: record.task.clone(),
            images: record.images.clone(),
            embedding_tokens: record.embedding_tokens,
            requests: (record.requests != 1).then_some(record.requests),
            billed_nanos: record.billed.map(Money::nanos),
            revenue_nanos: record.revenue.map(Money::nanos),
            billing: record.billing.clone(),
            media: record.media,
            metadata: record.metadata.clone(),
        };
        let rest =
            (rest != Rest::default()).then(|| serde_json::to_string(&rest).unwrap_or_default());
        Row {
            gkey: record.dedupe_key().to_vec(),
            digest: digest(&record, rest.as_deref()).to_vec(),
            machine: machine.to_string(),
            record,
            rest,
        }
    }

    /// Writes the row to a binary COPY.
    pub fn write(
        &self,
        copy: &mut postgres::binary_copy::BinaryCopyInWriter,
    ) -> Result<(), postgres::Error> {
        let r = &self.record;
        let t = &r.tokens;
        let (kind, nanos, price) = cost_columns(&r.cost);
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        copy.write(&[
            &self.gkey,
            &self.machine,
            &self.digest,
            &r.at.as_millisecond(),
            &r.provider,
            &r.model,
            &r.user,
            &r.project,
            &r.agent,
            &r.source,
            &r.session,
            &r.request_id,
            &n(t.input),
            &n(t.output),
            &n(t.cache_read),
            &n(t.cache_write_5m),
            &n(t.cache_write_1h),
            &n(t.reasoning),
            &kind,
            &nanos,
            &price,
            &self.rest,
        ])
    }

    /// The call of a pulled row (its columns from `first`, in `COLUMNS` order).
    pub fn read(row: &postgres::Row, first: usize) -> Result<UsageRecord, String> {
        let at = |i: usize| first + i;
        let ts: i64 = row.get(at(3));
        let mut r = UsageRecord::new(
            Timestamp::from_millisecond(ts).map_err(|e| e.to_string())?,
            row.get(at(4)),
            row.get(at(5)),
        );
        r.machine = row.get(at(1));
        r.user = row.get(at(6));
        r.project = row.get(at(7));
        r.agent = row.get(at(8));
        r.source = row.get(at(9));
        r.session = row.get(at(10));
        r.request_id = row.get(at(11));
        let count = |i: usize| -> Result<u64, String> {
            u64::try_from(row.get::<_, i64>(at(i))).map_err(|_| "a negative count".to_string())
        };
        r.tokens = TokenCounts {
            input: count(12)?,
            output: count(13)?,
            cache_read: count(14)?,
            cache_write_5m: count(15)?,
            cache_write_1h: count(16)?,
            reasoning: count(17)?,
        };
        let kind: i16 = row.get(at(18));
        let nanos: Option<i64> = row.get(at(19));
        let price: Option<String> = row.get(at(20));
        r.cost = match (kind, nanos) {
            (0, Some(n)) => Cost::Priced {
                amount: Money::from_nanos(n),
                price_version: price.unwrap_or_default(),
            },
            (1, Some(n)) => Cost::Reported {
                amount: Money::from_nanos(n),
            },
            (2, None) => Cost::Unpriced {
                reason: price.unwrap_or_default(),
            },
            _ => return Err(format!("cost kind {kind} with amount {nanos:?}")),
        };
        let rest: Option<String> = row.get(at(21));
        if let Some(text) = rest {
            let rest: Rest = serde_json::from_str(&text).map_err(|e| format!("rest: {e}"))?;
            r.task = rest.task;
            r.images = rest.images;
            r.embedding_tokens = rest.embedding_tokens;
            r.requests = rest.requests.unwrap_or(1);
            r.billed = rest.billed_nanos.map(Money::from_nanos);
            r.revenue = rest.revenue_nanos.map(Money::from_nanos);
            r.billing = rest.billing;
            r.media = rest.media;
            r.metadata = rest.metadata;
        }
        Ok(r)
    }
}

/// A cost's columns as the ledger stores them; the kind in the server's smallint.
fn cost_columns(cost: &Cost) -> (i16, Option<i64>, Option<&str>) {
    let (kind, nanos, price) = crate::store::cost_columns(cost);
    (kind as i16, nanos, price)
}

/// What a revision of a call holds that others must see: its time, tokens,
/// cost and the rest. Two pushes of the same content change nothing.
fn digest(r: &UsageRecord, rest: Option<&str>) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    let t = &r.tokens;
    for v in [
        r.at.as_millisecond(),
        t.input as i64,
        t.output as i64,
        t.cache_read as i64,
        t.cache_write_5m as i64,
        t.cache_write_1h as i64,
        t.reasoning as i64,
    ] {
        h.update(&v.to_le_bytes());
    }
    let (kind, nanos, price) = cost_columns(&r.cost);
    h.update(&kind.to_le_bytes());
    h.update(&nanos.unwrap_or(i64::MIN).to_le_bytes());
    for s in [price.unwrap_or("\0"), rest.unwrap_or("\0")] {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

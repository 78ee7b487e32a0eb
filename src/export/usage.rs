//! The usage history as a file: one row per record, in the columns below.

use std::path::Path;

use super::{Cell, CellRef, Column, Document, Table, column};
use crate::core::Money;
use crate::i18n::gettext;
use crate::store::{HistoryFilter, RawRecord, Store};

/// The columns of an exported usage history.
pub fn columns() -> Vec<Column> {
    vec![
        column("time", gettext("Time")),
        column("provider", gettext("Provider")),
        column("model", gettext("Model")),
        column("user", gettext("User")),
        column("project", gettext("Project")),
        column("agent", gettext("Agent")),
        column("source", gettext("Source")),
        column("session", gettext("Session")),
        column("request_id", gettext("Request")),
        column("requests", gettext("Requests")),
        column("input_tokens", gettext("Input")),
        column("output_tokens", gettext("Output")),
        column("cache_read_tokens", gettext("Cache reads")),
        column("cache_write_5m_tokens", gettext("Cache writes (5 min)")),
        column("cache_write_1h_tokens", gettext("Cache writes (1 h)")),
        column("reasoning_tokens", gettext("Reasoning")),
        column("embedding_tokens", gettext("Embedding")),
        column("images", gettext("Images")),
        column("cost_usd", gettext("Cost")),
        column("cost_kind", gettext("Cost is")),
        column("price_version", gettext("Price")),
        column("billed_usd", gettext("Billed")),
        column("revenue_usd", gettext("Revenue")),
        column("service_tier", gettext("Service tier")),
        column("speed", gettext("Speed")),
        column("region", gettext("Region")),
        column("web_searches", gettext("Web searches")),
        column("audio_input_tokens", gettext("Audio input")),
        column("audio_cache_read_tokens", gettext("Audio cache reads")),
        column("audio_output_tokens", gettext("Audio output")),
        column("image_input_tokens", gettext("Image input")),
        column("image_cache_read_tokens", gettext("Image cache reads")),
        column("image_output_tokens", gettext("Image output")),
        // Last, so the columns before keep the places they had.
        column("machine", gettext("Machine")),
    ]
}

/// A record's cells in the order of [`columns`].
fn cells<'a>(r: &RawRecord<'a>) -> [CellRef<'a>; 34] {
    let text = |s: Option<&'a str>| s.map_or(CellRef::Empty, CellRef::Text);
    let money = |n: Option<i64>| n.map_or(CellRef::Empty, |n| CellRef::Money(Money::from_nanos(n)));
    let count = |k: usize| CellRef::Count(r.counts[k].max(0) as u64);
    let media = |k: usize| CellRef::Count(r.media[k].max(0) as u64);
    let [provider, model, user, project, agent, source, machine] = r.dimensions;
    let time = jiff::Timestamp::from_millisecond(r.ts_ms).map_or(CellRef::Empty, CellRef::Time);
    [
        time,
        CellRef::Text(provider),
        CellRef::Text(model),
        CellRef::Text(user),
        CellRef::Text(project),
        CellRef::Text(agent),
        CellRef::Text(source),
        text(r.session),
        text(r.request_id),
        count(0),
        count(1),
        count(2),
        count(3),
        count(4),
        count(5),
        count(6),
        count(7),
        count(8),
        money(r.cost_nanos),
        CellRef::Text(r.cost_kind),
        text(r.price_version),
        money(r.billed_nanos),
        money(r.revenue_nanos),
        CellRef::Text(r.service_tier),
        CellRef::Text(r.speed),
        text(r.region),
        CellRef::Count(r.web_searches.max(0) as u64),
        media(0),
        media(1),
        media(2),
        media(3),
        media(4),
        media(5),
        CellRef::Text(machine),
    ]
}

/// Parts an export is cut into, by time, so both cores format rows.
const EXPORT_PARTS: usize = 16;

/// Writes every record `filter` matches to `path` as CSV, oldest first, whole
/// or not at all. Millions never sit in memory: the time range is cut into
/// parts, formatted on worker threads (each with its own connection) and
/// written in order. Returns how many.
pub fn write_csv(store: &Store, filter: &HistoryFilter, path: &Path) -> anyhow::Result<u64> {
    let (start, end) = store.time_span(filter)?;
    let step = (end - start) / EXPORT_PARTS as i64 + 1;
    let part = |i: usize| HistoryFilter {
        since_ms: Some(start + step * i as i64),
        until_ms: Some((start + step * (i as i64 + 1)).min(end)),
        ..filter.clone()
    };
    let db = store.path().to_path_buf();
    let read_only = store.read_only().cloned();
    let format = |i: usize| -> anyhow::Result<(Vec<u8>, u64)> {
        // Each part's connection trusts the first's check of the pages.
        let store = match &read_only {
            Some(why) => Store::open_read_only_as(&db, why.clone())?,
            None => Store::open(&db)?,
        };
        let mut stream = super::csv::Stream::rows_only(Vec::with_capacity(1 << 20));
        let mut scratch = String::with_capacity(32);
        let n = store.for_each_raw_record(&part(i), |r| {
            stream.row_refs(&cells(r), &mut scratch)?;
            Ok::<(), anyhow::Error>(())
        })?;
        Ok((stream.into_inner()?, n))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut total = 0;
    super::write_atomic_with(path, |out| {
        use std::io::Write;
        super::csv::Stream::new(&mut *out, &columns())?.into_inner()?;
        crate::ingest::ordered::for_each(EXPORT_PARTS, threads, format, |_, done| {
            let (bytes, n) = done.map_err(std::io::Error::other)?;
            total += n;
            out.write_all(&bytes)
        })
    })?;
    Ok(total)
}

/// The records `filter` matches as a document (for Markdown or JSON, or CSV
/// on a terminal): all in memory, so for ranges of a readable size.
pub fn document(store: &Store, filter: &HistoryFilter, title: String) -> anyhow::Result<Document> {
    let mut rows = Vec::new();
    store.for_each_raw_record(filter, |r| {
        rows.push(cells(r).iter().map(|c| c.to_cell()).collect::<Vec<Cell>>());
        Ok::<(), crate::store::StoreError>(())
    })?;
    Ok(Document {
        report: "usage",
        title,
        from: None,
        to: None,
        generated_at: jiff::Timestamp::now(),
        notes: Vec::new(),
        tables: vec![Table {
            name: "usage",
            title: gettext("Records"),
            columns: columns(),
            rows,
        }],
    })
}

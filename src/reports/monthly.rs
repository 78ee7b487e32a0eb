//! The monthly report, written at each month's start and caught up.

use std::path::PathBuf;

use jiff::Timestamp;
use jiff::civil::Date;

use super::{Context, Kind, Request, run, week_start};
use crate::core::report::Days;
use crate::core::report::schedule::due_months;
use crate::settings;
use crate::store::{Store, StoreError};

/// The report folder and the first days of the months still to write there;
/// `None` while no folder is chosen.
fn due(store: &Store, now: Timestamp) -> Result<Option<(PathBuf, Vec<Date>)>, StoreError> {
    let Some(folder) = settings::MONTHLY_REPORT_FOLDER.get(store)? else {
        return Ok(None);
    };
    let last = settings::MONTHLY_REPORT_LAST
        .get(store)?
        .and_then(|d| d.parse().ok());
    let today = now.to_zoned(store.zone().clone()).date();
    Ok(Some((PathBuf::from(folder), due_months(last, today))))
}

/// Whether a monthly report is due: cheap, for a timer on the main loop.
pub fn monthly_due(store: &Store, now: Timestamp) -> bool {
    due(store, now)
        .ok()
        .flatten()
        .is_some_and(|(_, months)| !months.is_empty())
}

/// Writes the summary of each finished month not yet written, as
/// `tally-report-YYYY-MM.md` and `.csv` in the chosen folder, each file whole
/// or not at all; records each month as done once both files are there.
pub fn write_monthly(store: &mut Store, now: Timestamp) -> anyhow::Result<Vec<PathBuf>> {
    let Some((folder, months)) = due(store, now)? else {
        return Ok(Vec::new());
    };
    let week_start = week_start(store);
    let book = crate::prices::load(store)?;
    let mut written = Vec::new();
    for month in months {
        let days = Days::new(month, month.last_of_month());
        let ctx = Context {
            store,
            book: &book,
            now,
            week_start,
        };
        let mut req = Request::new(Kind::Summary, days);
        req.top = 10;
        let doc = run(&ctx, &req)?;
        let name = format!("tally-report-{}", month.strftime("%Y-%m"));
        for format in [crate::export::Format::Markdown, crate::export::Format::Csv] {
            let path = folder.join(format!("{name}.{}", format.extension()));
            crate::export::write_atomic(&path, &crate::export::render(&doc, format))?;
            written.push(path);
        }
        settings::MONTHLY_REPORT_LAST.set(store, Some(&month.to_string()))?;
    }
    Ok(written)
}

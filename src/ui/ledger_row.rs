//! One row of the Usage history as GTK holds it: the texts of its cells, as
//! properties the cells are bound to. When the ledger changes under a row on
//! screen the row takes the new record and its cells follow, so no widget is
//! made again (GTK 4.8 keeps about 200 rows of widgets, and making them anew
//! costs the main loop a frame or more).

use std::cell::RefCell;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use relm4::gtk::{glib, prelude::*, subclass::prelude::*};

use super::amounts;
use crate::core::UsageRecord;
use crate::core::usage::{Cost, Dimension};
use crate::i18n::{fill, gettext, ngettext};
use crate::store::HistoryRow;

mod imp {
    use super::*;

    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::LedgerRow)]
    pub struct LedgerRow {
        #[property(get)]
        pub time: RefCell<String>,
        #[property(get)]
        pub model: RefCell<String>,
        #[property(get)]
        pub provider: RefCell<String>,
        /// User · project, the project by its folder's name.
        #[property(get)]
        pub dims: RefCell<String>,
        /// The same with the project's whole path.
        #[property(get)]
        pub dims_details: RefCell<String>,
        #[property(get)]
        pub tokens: RefCell<String>,
        #[property(get)]
        pub tokens_details: RefCell<String>,
        #[property(get)]
        pub cost: RefCell<String>,
        #[property(get)]
        pub cost_details: RefCell<String>,
        #[property(get)]
        pub unpriced: RefCell<bool>,
        #[property(get)]
        pub unpriced_reason: RefCell<String>,
        pub row: RefCell<Option<HistoryRow>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for LedgerRow {
        const NAME: &'static str = "TallyLedgerRow";
        type Type = super::LedgerRow;
    }

    #[glib::derived_properties]
    impl ObjectImpl for LedgerRow {}
}

glib::wrapper! {
    pub struct LedgerRow(ObjectSubclass<imp::LedgerRow>);
}

impl LedgerRow {
    /// A row showing `row`, or empty until `set_row`.
    pub fn new(row: Option<HistoryRow>) -> LedgerRow {
        let object: LedgerRow = glib::Object::new();
        if let Some(row) = row {
            object.set_row(row);
        }
        object
    }

    /// The record's id and time, for paging after it.
    pub fn key(&self) -> Option<(i64, i64)> {
        self.imp()
            .row
            .borrow()
            .as_ref()
            .map(|r| (r.record.at.as_millisecond(), r.id))
    }

    /// Shows `row`; cells whose text changed hear of it, the others do not.
    pub fn set_row(&self, row: HistoryRow) {
        let imp = self.imp();
        if imp.row.borrow().as_ref() == Some(&row) {
            return;
        }
        let r = &row.record;
        let (dims, dims_details) = dims_text(r);
        let (unpriced, reason) = match &r.cost {
            Cost::Unpriced { reason } => (true, reason.clone()),
            _ => (false, String::new()),
        };
        let texts = [
            (&imp.time, "time", local_time(r.at)),
            (&imp.model, "model", r.model.clone()),
            (&imp.provider, "provider", or_dash(&r.provider)),
            (&imp.dims, "dims", dims),
            (&imp.dims_details, "dims-details", dims_details),
            (&imp.tokens, "tokens", tokens_summary(r)),
            (&imp.tokens_details, "tokens-details", token_details(r)),
            (&imp.cost, "cost", cost_text(r)),
            (&imp.cost_details, "cost-details", cost_tooltip(r)),
            (&imp.unpriced_reason, "unpriced-reason", reason),
        ];
        imp.row.replace(Some(row));
        for (cell, name, text) in texts {
            if *cell.borrow() != text {
                cell.replace(text);
                self.notify(name);
            }
        }
        if imp.unpriced.replace(unpriced) != unpriced {
            self.notify("unpriced");
        }
    }
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "—".into()
    } else {
        text.to_string()
    }
}

fn local_time(at: Timestamp) -> String {
    at.to_zoned(TimeZone::system())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

fn cost_text(r: &UsageRecord) -> String {
    r.cost
        .amount()
        .map_or_else(|| "—".to_string(), amounts::detailed)
}

/// "user · project" as shown (a project that is a folder by its name) and in
/// full for the tooltip.
fn dims_text(r: &UsageRecord) -> (String, String) {
    let join = |project: &str| {
        let parts: Vec<&str> = [r.user.as_str(), project]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        or_dash(&parts.join(" · "))
    };
    let mut details = join(&r.project);
    if !r.machine.is_empty() {
        details.push_str(&fill(&gettext("\nRecorded on {}"), &[&r.machine]));
    }
    (join(&project_name(&r.project)), details)
}

/// A breakdown's key as shown: a project by `project_name`, anything else
/// as it is.
pub fn key_name(dimension: Dimension, key: &str) -> String {
    match dimension {
        Dimension::Project => project_name(key),
        _ => key.to_string(),
    }
}

/// A project that is a working folder (as coding agents record it) by its
/// last part: `/home/ada/work/web` is `web`.
pub fn project_name(project: &str) -> String {
    if !project.contains('/') {
        return project.to_string();
    }
    project
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .unwrap_or(project)
        .to_string()
}

fn cost_tooltip(r: &UsageRecord) -> String {
    match &r.cost {
        Cost::Priced {
            amount,
            price_version,
        } => fill(
            &gettext("{} exactly, priced with {}"),
            &[&amount.to_decimal_string(), price_version],
        ),
        Cost::Reported { amount } => fill(
            &gettext("{} as reported by the caller"),
            &[&amount.to_decimal_string()],
        ),
        Cost::Unpriced { reason } => fill(&gettext("No price: {}"), &[reason]),
    }
}

/// The short form in the Tokens column: `12,000 in · 1,000 out`, or images, or embeddings.
fn tokens_summary(r: &UsageRecord) -> String {
    let n = crate::core::money::group_thousands;
    let t = &r.tokens;
    let mut parts = Vec::new();
    if t.prompt_total() > 0 || t.output > 0 {
        parts.push(fill(
            &gettext("{} in · {} out"),
            &[&n(t.prompt_total()), &n(t.output)],
        ));
    }
    if r.images.count > 0 {
        parts.push(fill(
            &ngettext("{} image", "{} images", r.images.count as u32),
            &[&n(r.images.count)],
        ));
    }
    if r.embedding_tokens > 0 {
        parts.push(fill(&gettext("{} embedded"), &[&n(r.embedding_tokens)]));
    }
    or_dash(&parts.join(" · "))
}

fn token_details(r: &UsageRecord) -> String {
    let t = &r.tokens;
    let n = crate::core::money::group_thousands;
    let mut lines = vec![
        fill(&gettext("Input: {}"), &[&n(t.input)]),
        fill(&gettext("Output: {}"), &[&n(t.output)]),
    ];
    if t.cache_read > 0 {
        lines.push(fill(&gettext("Cache read: {}"), &[&n(t.cache_read)]));
    }
    if t.cache_write() > 0 {
        lines.push(fill(&gettext("Cache write: {}"), &[&n(t.cache_write())]));
    }
    if t.reasoning > 0 {
        lines.push(fill(&gettext("Reasoning: {}"), &[&n(t.reasoning)]));
    }
    if r.images.count > 0 {
        lines.push(fill(&gettext("Images: {}"), &[&n(r.images.count)]));
    }
    if r.embedding_tokens > 0 {
        lines.push(fill(&gettext("Embedded: {}"), &[&n(r.embedding_tokens)]));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::project_name;

    #[test]
    fn a_working_folder_is_named_by_its_last_part() {
        assert_eq!(project_name("/home/bob/work/docs-site"), "docs-site");
        assert_eq!(project_name("/home/bob/work/api/"), "api");
        assert_eq!(project_name("website"), "website");
        assert_eq!(project_name("/"), "/");
        assert_eq!(project_name(""), "");
    }
}

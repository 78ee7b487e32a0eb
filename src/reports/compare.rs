//! One range against another, by a dimension.

use super::{Context, Request, dimension_title, document};
use crate::core::report::compare;
use crate::export::{Cell, Document, Table, column};
use crate::i18n::{fill, gettext};
use crate::store::StoreError;

pub(super) fn compare_doc(ctx: &Context, req: &Request) -> Result<Document, StoreError> {
    let after = req.days;
    let before = req.against.unwrap_or_else(|| after.previous());
    let by = req.group_by;
    let c = compare::compare(
        before,
        after,
        ctx.grouped(before, by)?,
        ctx.grouped(after, by)?,
    );
    let presence = |p: compare::Presence| match p {
        compare::Presence::Both => "both",
        compare::Presence::New => "new",
        compare::Presence::Gone => "gone",
    };
    let row = |key: String, status: &str, ch: &compare::Change| {
        vec![
            Cell::text(key),
            Cell::text(status),
            Cell::Money(ch.before.cost),
            Cell::Money(ch.after.cost),
            Cell::Money(ch.delta()),
            Cell::percent(ch.delta_bp()),
            Cell::Count(ch.before.requests),
            Cell::Count(ch.after.requests),
        ]
    };
    let mut rows = vec![row(gettext("All"), "total", &c.total)];
    rows.extend(
        c.rows
            .iter()
            .map(|ch| row(ch.key.clone(), presence(ch.presence), ch)),
    );
    let mut doc = document(
        Some(after),
        fill(
            &gettext("{} against {}"),
            &[&after.to_string(), &before.to_string()],
        ),
        vec![Table {
            name: "comparison",
            title: fill(&gettext("By {}"), &[&dimension_title(by).to_lowercase()]),
            columns: vec![
                column("key", dimension_title(by)),
                column("presence", gettext("In")),
                column("before_usd", gettext("Before")),
                column("after_usd", gettext("After")),
                column("change_usd", gettext("Change")),
                column("change", gettext("Change %")),
                column("requests_before", gettext("Requests before")),
                column("requests_after", gettext("Requests after")),
            ],
            rows,
        }],
    );
    let new = c
        .rows
        .iter()
        .filter(|r| r.presence == compare::Presence::New)
        .count();
    let gone = c
        .rows
        .iter()
        .filter(|r| r.presence == compare::Presence::Gone)
        .count();
    if new + gone > 0 {
        doc.notes.push(fill(
            &gettext("New since the earlier range: {}; gone: {}."),
            &[&new.to_string(), &gone.to_string()],
        ));
    }
    Ok(doc)
}

//! The usage history's columns and the text of their cells.

use super::amounts;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use relm4::gtk::{self, glib, prelude::*};

use crate::core::UsageRecord;
use crate::core::usage::Cost;
use crate::i18n::{fill, gettext, ngettext};
use crate::store::HistoryRow;

/// Adds the columns to `view`; returns those a narrow window hides (provider,
/// user · project, tokens), keeping time, model and cost.
pub fn append_columns(view: &gtk::ColumnView) -> [gtk::ColumnViewColumn; 3] {
    let time = text_column(
        &gettext("Time"),
        130,
        |r| local_time(r.record.at),
        None,
        false,
    );
    let provider = text_column(&gettext("Provider"), 90, provider_text, None, false);
    let dims = text_column(&gettext("User · Project"), 170, dims_text, None, false);
    let tokens = text_column(
        &gettext("Tokens"),
        150,
        |r| tokens_summary(&r.record),
        Some(|r| token_details(&r.record)),
        true,
    );
    let cost = text_column(&gettext("Cost"), 90, cost_text, Some(cost_tooltip), true);
    for column in [&time, &model_column(), &provider, &dims, &tokens, &cost] {
        view.append_column(column);
    }
    [provider, dims, tokens]
}

fn local_time(at: Timestamp) -> String {
    at.to_zoned(TimeZone::system())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

fn cost_text(row: &HistoryRow) -> String {
    row.record
        .cost
        .amount()
        .map_or_else(|| "—".to_string(), amounts::detailed)
}

fn provider_text(row: &HistoryRow) -> String {
    if row.record.provider.is_empty() {
        "—".into()
    } else {
        row.record.provider.clone()
    }
}

fn dims_text(row: &HistoryRow) -> String {
    let r = &row.record;
    let parts: Vec<&str> = [r.user.as_str(), r.project.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(" · ")
    }
}

type CellText = fn(&HistoryRow) -> String;

/// A column of labels filled from each row, `width` pixels wide so that narrow
/// windows scroll instead of squeezing every cell to an ellipsis.
fn text_column(
    title: &str,
    width: i32,
    text: CellText,
    tooltip: Option<CellText>,
    numeric: bool,
) -> gtk::ColumnViewColumn {
    let factory = gtk::SignalListItemFactory::new();
    factory.connect_setup(move |_, item| {
        let Some(item) = item.downcast_ref::<gtk::ListItem>() else {
            return;
        };
        let label = gtk::Label::builder()
            .xalign(if numeric { 1.0 } else { 0.0 })
            .ellipsize(gtk::pango::EllipsizeMode::End)
            .build();
        if numeric {
            label.add_css_class("amount");
            label.add_css_class("numeric");
        }
        item.set_child(Some(&label));
    });
    factory.connect_bind(move |_, item| {
        let Some(item) = item.downcast_ref::<gtk::ListItem>() else {
            return;
        };
        let (Some(label), Some(obj)) = (
            item.child().and_downcast::<gtk::Label>(),
            item.item().and_downcast::<glib::BoxedAnyObject>(),
        ) else {
            return;
        };
        let row = obj.borrow::<HistoryRow>();
        label.set_text(&text(&row));
        label.set_tooltip_text(tooltip.map(|t| t(&row)).as_deref());
    });
    gtk::ColumnViewColumn::builder()
        .title(title)
        .factory(&factory)
        .resizable(true)
        .fixed_width(width)
        .build()
}

/// The model column: the name, and a badge when the record has no price.
fn model_column() -> gtk::ColumnViewColumn {
    let factory = gtk::SignalListItemFactory::new();
    factory.connect_setup(|_, item| {
        let Some(item) = item.downcast_ref::<gtk::ListItem>() else {
            return;
        };
        let row = gtk::Box::new(gtk::Orientation::Horizontal, 6);
        let name = gtk::Label::builder()
            .xalign(0.0)
            .ellipsize(gtk::pango::EllipsizeMode::Middle)
            .build();
        let badge = gtk::Label::new(Some(&gettext("Unpriced")));
        badge.add_css_class("unpriced-badge");
        row.append(&name);
        row.append(&badge);
        item.set_child(Some(&row));
    });
    factory.connect_bind(|_, item| {
        let Some(item) = item.downcast_ref::<gtk::ListItem>() else {
            return;
        };
        let (Some(row_box), Some(obj)) = (
            item.child().and_downcast::<gtk::Box>(),
            item.item().and_downcast::<glib::BoxedAnyObject>(),
        ) else {
            return;
        };
        let row = obj.borrow::<HistoryRow>();
        let (Some(name), Some(badge)) = (
            row_box.first_child().and_downcast::<gtk::Label>(),
            row_box.last_child().and_downcast::<gtk::Label>(),
        ) else {
            return;
        };
        name.set_text(&row.record.model);
        name.set_tooltip_text(Some(&row.record.model));
        match &row.record.cost {
            Cost::Unpriced { reason } => {
                badge.set_visible(true);
                badge.set_tooltip_text(Some(reason));
            }
            _ => badge.set_visible(false),
        }
    });
    gtk::ColumnViewColumn::builder()
        .title(gettext("Model"))
        .factory(&factory)
        .resizable(true)
        .fixed_width(140)
        .expand(true)
        .build()
}

fn cost_tooltip(row: &HistoryRow) -> String {
    match &row.record.cost {
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
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(" · ")
    }
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

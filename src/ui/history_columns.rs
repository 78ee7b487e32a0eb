//! The usage history's columns: each cell is bound to a property of the row
//! it shows (`LedgerRow`), so a row that changes under it is redrawn without
//! making its widgets again.

use relm4::gtk::{self, prelude::*};

use super::ledger_row::LedgerRow;
use crate::i18n::gettext;

/// Adds the columns to `view`; returns those a narrow window hides (provider,
/// user · project, tokens), keeping time, model and cost.
pub fn append_columns(view: &gtk::ColumnView) -> [gtk::ColumnViewColumn; 3] {
    let time = text_column(&gettext("Time"), 130, "time", None, false);
    let provider = text_column(&gettext("Provider"), 90, "provider", None, false);
    let dims = text_column(
        &gettext("User · Project"),
        170,
        "dims",
        Some("dims-details"),
        false,
    );
    let tokens = text_column(
        &gettext("Tokens"),
        150,
        "tokens",
        Some("tokens-details"),
        true,
    );
    let cost = text_column(&gettext("Cost"), 90, "cost", Some("cost-details"), true);
    for column in [&time, &model_column(), &provider, &dims, &tokens, &cost] {
        view.append_column(column);
    }
    [provider, dims, tokens]
}

/// `property` of the row a list item shows.
fn row_property(property: &str) -> gtk::Expression {
    gtk::PropertyExpression::new(
        gtk::ListItem::static_type(),
        None::<gtk::Expression>,
        "item",
    )
    .chain_property::<LedgerRow>(property)
    .upcast()
}

/// A column of labels showing the row's `text` (and `tooltip`), `width`
/// pixels wide so that narrow windows scroll instead of squeezing every cell
/// to an ellipsis.
fn text_column(
    title: &str,
    width: i32,
    text: &'static str,
    tooltip: Option<&'static str>,
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
        row_property(text).bind(&label, "label", Some(item));
        if let Some(tooltip) = tooltip {
            row_property(tooltip).bind(&label, "tooltip-text", Some(item));
        }
        item.set_child(Some(&label));
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
        badge.set_visible(false);
        row_property("model").bind(&name, "label", Some(item));
        row_property("model").bind(&name, "tooltip-text", Some(item));
        row_property("unpriced").bind(&badge, "visible", Some(item));
        row_property("unpriced-reason").bind(&badge, "tooltip-text", Some(item));
        row.append(&name);
        row.append(&badge);
        item.set_child(Some(&row));
    });
    gtk::ColumnViewColumn::builder()
        .title(gettext("Model"))
        .factory(&factory)
        .resizable(true)
        .fixed_width(140)
        .expand(true)
        .build()
}

//! "Add Prices": a price of the user's own for a model the price book does not
//! know. The calls already recorded are priced at once, as `tally prices set`
//! does.

use super::amounts;
use std::rc::Rc;

use jiff::civil::Date;
use relm4::adw;
use relm4::adw::prelude::*;
use relm4::gtk;

use super::a11y;
use super::ledger::Ledger;
use crate::core::Money;
use crate::core::price_file::{PriceSpec, RateSpec};
use crate::i18n::{fill, gettext, ngettext};

/// A price per million tokens as typed: "3", "0.25", "$15".
fn per_million(text: &str) -> Option<Money> {
    let t = text.trim().trim_start_matches('$').trim();
    Money::parse_usd(t).ok().filter(|m| m.nanos() >= 0)
}

/// Shows the dialog over `parent`; `done` runs after a price was saved.
pub fn show(parent: &gtk::Widget, ledger: Rc<Ledger>, done: impl Fn() + 'static) {
    let models = ledger.read(|s| s.unpriced_models()).unwrap_or_default();
    let dialog = adw::MessageDialog::builder()
        .heading(gettext("Add a Price"))
        .body(gettext(
            "Calls to these models have no price. Give one per million tokens, as the provider lists it; the calls already recorded are priced with it.",
        ))
        .modal(true)
        .build();
    if let Some(w) = parent.root().and_downcast::<gtk::Window>() {
        dialog.set_transient_for(Some(&w));
    }
    let names: Vec<String> = models
        .iter()
        .map(|u| {
            let (p, m, n) = (&u.provider, &u.model, &u.calls);
            let who = if p.is_empty() {
                m.clone()
            } else {
                format!("{p} · {m}")
            };
            let calls = ngettext("{} ({} call)", "{} ({} calls)", crate::i18n::plural_n(*n));
            fill(&calls, &[&who, &amounts::count(*n)])
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let model = gtk::DropDown::from_strings(&names);
    a11y::set_label(&model, &gettext("Model"));
    let entry = |placeholder: String| {
        gtk::Entry::builder()
            .placeholder_text(placeholder)
            .input_purpose(gtk::InputPurpose::Number)
            .build()
    };
    let input = entry(gettext("Input, $ per million tokens"));
    let output = entry(gettext("Output, $ per million tokens"));
    input.set_widget_name("price-input");
    output.set_widget_name("price-output");
    a11y::set_label(&input, &gettext("Input price, dollars per million tokens"));
    a11y::set_label(
        &output,
        &gettext("Output price, dollars per million tokens"),
    );
    let form = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(8)
        .build();
    form.append(&model);
    form.append(&input);
    form.append(&output);
    dialog.set_extra_child(Some(&form));
    dialog.add_response("cancel", &gettext("_Cancel"));
    dialog.add_response("save", &gettext("_Save"));
    dialog.set_response_appearance("save", adw::ResponseAppearance::Suggested);
    dialog.set_default_response(Some("save"));
    dialog.set_close_response("cancel");
    let valid = {
        let (input, output) = (input.clone(), output.clone());
        move || per_million(&input.text()).is_some() && per_million(&output.text()).is_some()
    };
    dialog.set_response_enabled("save", false);
    for e in [&input, &output] {
        let (d, valid) = (dialog.clone(), valid.clone());
        e.connect_changed(move |_| d.set_response_enabled("save", valid() && !names_empty(&d)));
    }
    let models = Rc::new(models);
    let done = Rc::new(done);
    dialog.connect_response(Some("save"), move |d, _| {
        let Some(crate::store::UnpricedModel {
            provider,
            model: name,
            ..
        }) = models.get(model.selected() as usize)
        else {
            return;
        };
        let (Some(i), Some(o)) = (per_million(&input.text()), per_million(&output.text())) else {
            return;
        };
        let spec = PriceSpec {
            provider: provider.clone(),
            model: name.clone(),
            from: Date::constant(1970, 1, 1),
            rates: RateSpec {
                input: Some(i.to_decimal_string()),
                output: Some(o.to_decimal_string()),
                ..RateSpec::default()
            },
            ..PriceSpec::default()
        };
        let (d, done) = (d.clone(), done.clone());
        ledger.write(
            move |s| crate::prices::save_user_price(s, &spec).map_err(|e| e.to_string()),
            move |saved| match saved {
                Ok(_) => done(),
                Err(e) => {
                    let why = adw::MessageDialog::builder()
                        .heading(gettext("The Price Was Not Saved"))
                        .body(e)
                        .modal(true)
                        .build();
                    why.set_transient_for(d.transient_for().as_ref());
                    why.add_response("close", &gettext("_Close"));
                    why.present();
                }
            },
        );
    });
    dialog.present();
}

/// With no unpriced model left there is nothing to save.
fn names_empty(d: &adw::MessageDialog) -> bool {
    d.extra_child()
        .and_then(|f| f.first_child())
        .and_downcast::<gtk::DropDown>()
        .and_then(|m| m.model())
        .is_none_or(|m| m.n_items() == 0)
}

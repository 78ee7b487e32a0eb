//! Preferences → Prices: the day the price book was last checked (a warning
//! once it is stale), and updating it from a LiteLLM or genai-prices file,
//! after which the app offers to reprice what the new prices change.

use std::path::PathBuf;
use std::rc::Rc;

use adw::prelude::*;
use relm4::adw;
use relm4::gtk::{self, glib};

use super::amounts;
use super::ledger::Ledger;
use crate::core::Money;
use crate::core::pricing::stale_days;
use crate::i18n::{fill, gettext, ngettext, plural_n};
use crate::prices;

/// What the price book row says: the day it was checked, and whether that
/// is too long ago.
pub fn checked_text(
    checked: Option<jiff::civil::Date>,
    today: jiff::civil::Date,
) -> (String, bool) {
    let Some(day) = checked else {
        return (gettext("The shipped price book could not be read"), true);
    };
    match stale_days(day, today) {
        Some(days) => (
            fill(
                &gettext(
                    "Checked on {}, {} days ago: providers change prices often, update them from a price file",
                ),
                &[&day.to_string(), &days.to_string()],
            ),
            true,
        ),
        None => (fill(&gettext("Checked on {}"), &[&day.to_string()]), false),
    }
}

pub fn group(window: &adw::PreferencesWindow, ledger: &Rc<Ledger>) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Prices"))
        .build();
    let row = adw::ActionRow::builder()
        .title(gettext("Price Book"))
        .subtitle_lines(3)
        .build();
    row.set_widget_name("price-book");
    let show_checked = {
        let (row, ledger) = (row.clone(), ledger.clone());
        move || {
            let checked = ledger.read(|s| prices::checked_on(s).ok().flatten());
            let (text, stale) = checked_text(checked, jiff::Zoned::now().date());
            row.set_subtitle(&glib::markup_escape_text(&text));
            if stale {
                row.add_css_class("warning");
            } else {
                row.remove_css_class("warning");
            }
        }
    };
    show_checked();
    let button = gtk::Button::builder()
        .label(gettext("Update…"))
        .tooltip_text(gettext(
            "Take prices from LiteLLM's model_prices_and_context_window.json or genai-prices' data.json",
        ))
        .valign(gtk::Align::Center)
        .build();
    let (w, l) = (window.clone(), ledger.clone());
    let show_checked = Rc::new(show_checked);
    button.connect_clicked(move |_| choose(&w, l.clone(), show_checked.clone()));
    row.add_suffix(&button);
    group.add(&row);
    group
}

fn choose(window: &adw::PreferencesWindow, ledger: Rc<Ledger>, refresh: Rc<dyn Fn()>) {
    let chooser = gtk::FileChooserNative::builder()
        .title(gettext("Update Prices"))
        .action(gtk::FileChooserAction::Open)
        .transient_for(window)
        .modal(true)
        .accept_label(gettext("_Update"))
        .build();
    let filter = gtk::FileFilter::new();
    filter.set_name(Some(&gettext("Price files (JSON)")));
    filter.add_pattern("*.json");
    chooser.add_filter(&filter);
    let w = window.clone();
    super::choose_file(chooser, move |path| {
        update(&w, ledger.clone(), path, refresh.clone())
    });
}

/// What an update found, for the dialog after it.
struct Updated {
    taken: usize,
    skipped: usize,
    newly_priced: u64,
    would_change: u64,
    before: Money,
    after: Money,
}

fn update(
    window: &adw::PreferencesWindow,
    ledger: Rc<Ledger>,
    path: PathBuf,
    refresh: Rc<dyn Fn()>,
) {
    let (w, l) = (window.clone(), ledger.clone());
    // On the ledger worker: reading, saving and repricing take seconds on a
    // large ledger.
    ledger.write(
        move |store| {
            let text = crate::ingest::read_usage_file(&path)?;
            let today = jiff::Zoned::now().date();
            let u = prices::update(store, &text, today)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok::<_, String>(Updated {
                taken: u.import.prices.len(),
                skipped: u.import.skipped.len(),
                newly_priced: u.priced.newly_priced,
                would_change: u.preview.cost_changed,
                before: u.preview.before,
                after: u.preview.after,
            })
        },
        move |done| {
            refresh();
            match done {
                Ok(u) => offer_reprice(&w, l, u),
                Err(e) => w.add_toast(adw::Toast::new(&glib::markup_escape_text(&e))),
            }
        },
    );
}

/// Says what the update took; when it would change priced records, offers
/// to reprice them (nothing changes unless the user says so).
fn offer_reprice(window: &adw::PreferencesWindow, ledger: Rc<Ledger>, u: Updated) {
    let mut body = fill(
        &ngettext(
            "Took {} price; {} entries of the file could not be used (tally prices update FILE --explain lists them).",
            "Took {} prices; {} entries of the file could not be used (tally prices update FILE --explain lists them).",
            plural_n(u.taken as u64),
        ),
        &[
            &amounts::count(u.taken as u64),
            &amounts::count(u.skipped as u64),
        ],
    );
    if u.newly_priced > 0 {
        body.push_str("\n\n");
        body.push_str(&fill(
            &ngettext(
                "{} call that had no price now has one.",
                "{} calls that had no price now have one.",
                plural_n(u.newly_priced),
            ),
            &[&amounts::count(u.newly_priced)],
        ));
    }
    let dialog = adw::MessageDialog::builder()
        .heading(gettext("Prices Updated"))
        .transient_for(window)
        .modal(true)
        .build();
    if u.would_change == 0 {
        dialog.set_body(&body);
        dialog.add_response("close", &gettext("_Close"));
        dialog.present();
        return;
    }
    body.push_str("\n\n");
    body.push_str(&fill(
        &ngettext(
            "With the new prices, {} call would cost {} instead of {}. Reprice it?",
            "With the new prices, {} calls would cost {} instead of {}. Reprice them?",
            plural_n(u.would_change),
        ),
        &[
            &amounts::count(u.would_change),
            &u.after.display(),
            &u.before.display(),
        ],
    ));
    dialog.set_body(&body);
    dialog.add_response("keep", &gettext("_Keep Current Costs"));
    dialog.add_response("reprice", &gettext("_Reprice"));
    dialog.set_response_appearance("reprice", adw::ResponseAppearance::Suggested);
    dialog.set_default_response(Some("keep"));
    dialog.set_close_response("keep");
    let w = window.clone();
    dialog.connect_response(Some("reprice"), move |_, _| {
        let w = w.clone();
        ledger.write(
            |store| {
                let book = prices::load(store).map_err(|e| e.to_string())?;
                store
                    .reprice(&book, |_| true)
                    .map(|o| o.cost_changed)
                    .map_err(|e| e.to_string())
            },
            move |done| {
                let text = match done {
                    Ok(n) => fill(
                        &ngettext("Repriced {} call.", "Repriced {} calls.", plural_n(n)),
                        &[&amounts::count(n)],
                    ),
                    Err(e) => e,
                };
                w.add_toast(adw::Toast::new(&glib::markup_escape_text(&text)));
            },
        );
    });
    dialog.present();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_warns_once_the_book_is_sixty_days_old() {
        let day = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
        let (text, stale) = checked_text(Some(day("2026-10-01")), day("2026-11-30"));
        assert_eq!((text.as_str(), stale), ("Checked on 2026-10-01", false));
        let (text, stale) = checked_text(Some(day("2026-10-01")), day("2026-12-01"));
        assert!(stale);
        assert!(text.contains("61 days ago"), "{text}");
        assert!(checked_text(None, day("2026-12-01")).1);
    }
}

//! How the window writes amounts: the currency the user picked in the
//! preferences (converted at their rate; the ledger stays in dollars) and the
//! separators of their language. The command line always writes dollars.

use std::cell::Cell;

use crate::core::Money;
use crate::core::money::{AmountStyle, CURRENCIES};
use crate::i18n::pgettext;

use super::ledger::Ledger;
use crate::settings;

thread_local! {
    static STYLE: Cell<AmountStyle> = const { Cell::new(AmountStyle::USD) };
}

/// Reads the preferences into the style every view writes amounts with.
pub fn load(ledger: &Ledger) {
    let (code, rate) = ledger.read(|s| {
        (
            settings::CURRENCY.get(s).ok().flatten(),
            settings::USD_RATE.get(s).ok().flatten(),
        )
    });
    STYLE.set(style(code.as_deref(), rate.as_deref()));
}

/// The style for a currency code and rate as stored; anything unreadable
/// falls back to dollars, which is what the ledger holds.
pub fn style(code: Option<&str>, rate: Option<&str>) -> AmountStyle {
    // Translators: the separator between thousands in a number (1,234,567).
    let thousands = pgettext("thousands separator", ",");
    // Translators: the decimal mark in a number (12.50).
    let decimal = pgettext("decimal mark", ".");
    // Translators: "before" to write amounts as $12.50, "after" for 12.50 $.
    let after = pgettext("currency symbol position", "before") == "after";
    let one = |s: String, or| {
        s.chars()
            .next()
            .filter(|_| s.chars().count() == 1)
            .unwrap_or(or)
    };
    let mut style = AmountStyle {
        thousands: one(thousands, ','),
        decimal: one(decimal, '.'),
        symbol_after: after,
        ..AmountStyle::USD
    };
    let rate = rate.and_then(|r| crate::core::money::parse_scaled(r, 6).ok());
    let found = CURRENCIES.iter().find(|(c, _)| Some(*c) == code);
    if let (Some((c, symbol)), Some(rate)) = (found, rate)
        && *c != "USD"
        && rate > 0
        && rate <= i128::from(i64::MAX)
    {
        style.symbol = symbol;
        style.per_usd_micros = rate as i64;
    }
    style
}

pub fn current() -> AmountStyle {
    STYLE.get()
}

/// `$1,234.56`, or `1.135,80 €` in German with euros picked.
pub fn money(m: Money) -> String {
    STYLE.get().format(m)
}

/// A single call's amount, with four decimals below ten.
pub fn detailed(m: Money) -> String {
    STYLE.get().detailed(m)
}

/// A count with the language's thousands separator.
pub fn count(n: u64) -> String {
    STYLE.get().count(n)
}

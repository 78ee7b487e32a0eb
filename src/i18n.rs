//! Translations through the system's gettext.

pub use gettextrs::{gettext, ngettext, pgettext};

/// A count as `ngettext` takes it: past `u32::MAX` every language's plural
/// form is already the one for many.
pub fn plural_n(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

use crate::config;

/// Binds the `tally` domain; call once at start-up, before any string is looked up.
/// A failure leaves the program in English, which is no reason to stop.
pub fn init() {
    let _ = gettextrs::setlocale(gettextrs::LocaleCategory::LcAll, "");
    let _ = gettextrs::bindtextdomain(config::GETTEXT_DOMAIN, config::locale_dir());
    let _ = gettextrs::bind_textdomain_codeset(config::GETTEXT_DOMAIN, "UTF-8");
    let _ = gettextrs::textdomain(config::GETTEXT_DOMAIN);
}

/// An instant as people read it here: `2026-11-23 14:05` in the system's zone.
pub fn local_time(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// How long from `now` until `t`, as people read it: `45 min`, `2 h 10 min`,
/// `3 d 4 h`.
pub fn time_left(now: jiff::Timestamp, t: jiff::Timestamp) -> String {
    let minutes = (t.as_second() - now.as_second()).max(0) / 60;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => fill(&gettext("{} min"), &[&mins.to_string()]),
        (0, h) => fill(
            &gettext("{} h {} min"),
            &[&h.to_string(), &mins.to_string()],
        ),
        (d, h) => fill(&gettext("{} d {} h"), &[&d.to_string(), &h.to_string()]),
    }
}

/// A day as people read it in a chart or a sentence: `Nov 30`, in German `30.11.`.
pub fn short_date(d: jiff::civil::Date) -> String {
    // Translators: a short date, as jiff's strftime writes it: %b the month's
    // English abbreviation, %-d the day, %-m the month number. Use numbers
    // where English month names would look out of place.
    d.strftime(&gettext("%b %-d")).to_string()
}

/// A date with its year, for what may be long ago.
pub fn long_date(d: jiff::civil::Date) -> String {
    // Translators: a date with its year, as jiff's strftime writes it: %b the
    // month's English abbreviation, %-d the day, %Y the year.
    d.strftime(&gettext("%b %-d, %Y")).to_string()
}

/// A dimension's name as a heading: `Model`, `Project`, `Day`…
pub fn dimension_title(d: crate::core::usage::Dimension) -> String {
    use crate::core::usage::Dimension;
    match d {
        Dimension::Day => gettext("Day"),
        Dimension::Week => gettext("Week"),
        Dimension::Month => gettext("Month"),
        Dimension::Provider => gettext("Provider"),
        Dimension::Model => gettext("Model"),
        Dimension::User => gettext("User"),
        Dimension::Project => gettext("Project"),
        Dimension::Agent => gettext("Agent"),
        Dimension::Source => gettext("Source"),
        Dimension::Machine => gettext("Machine"),
    }
}

/// A share in basis points as a whole percent: `78 %`.
pub fn percent(bp: i64) -> String {
    format!("{} %", bp / 100)
}

/// Fills `{}` placeholders in a translated string, in order. Translators may not
/// reorder them, so messages keep one placeholder where order could matter.
pub fn fill(template: &str, args: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    let mut args = args.iter();
    while let Some(i) = rest.find("{}") {
        out.push_str(&rest[..i]);
        out.push_str(args.next().copied().unwrap_or("{}"));
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_waits_in_minutes_long_ones_in_days() {
        let at = |s: i64| jiff::Timestamp::from_second(s).unwrap();
        let now = at(1_000_000);
        assert_eq!(super::time_left(now, at(1_000_000 + 45 * 60)), "45 min");
        assert_eq!(
            super::time_left(now, at(1_000_000 + 130 * 60)),
            "2 h 10 min"
        );
        assert_eq!(
            super::time_left(now, at(1_000_000 + 3 * 86_400 + 4 * 3600 + 59)),
            "3 d 4 h"
        );
        assert_eq!(super::time_left(now, at(0)), "0 min");
    }

    #[test]
    fn fill_replaces_in_order_and_keeps_extras_visible() {
        assert_eq!(super::fill("{} of {}", &["3", "5"]), "3 of 5");
        assert_eq!(super::fill("{} and {}", &["a"]), "a and {}");
    }
}

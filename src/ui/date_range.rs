//! The usage history's date filter: presets, and a range picked on two calendars.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{ToSpan, Zoned};
use relm4::gtk::{self, glib, prelude::*};

use super::a11y;
use crate::i18n::gettext;

pub fn range_names() -> Vec<String> {
    vec![
        gettext("All time"),
        gettext("Today"),
        gettext("Last 7 days"),
        gettext("Last 30 days"),
        gettext("This month"),
        gettext("Last month"),
        gettext("Custom range…"),
    ]
}

/// The range menu's last entry, which opens the calendars.
pub const CUSTOM_RANGE: u32 = 6;

fn to_glib_date(d: Date) -> Option<glib::DateTime> {
    glib::DateTime::from_local(
        i32::from(d.year()),
        i32::from(d.month()),
        i32::from(d.day()),
        0,
        0,
        0.0,
    )
    .ok()
}

fn from_glib_date(d: &glib::DateTime) -> Option<Date> {
    Date::new(
        i16::try_from(d.year()).ok()?,
        i8::try_from(d.month()).ok()?,
        i8::try_from(d.day_of_month()).ok()?,
    )
    .ok()
}

/// The days `[first, last]` as `[since, until)` in unix milliseconds, in the system zone.
pub fn day_range_bounds(first: Date, last: Date) -> (Option<i64>, Option<i64>) {
    let zone = TimeZone::system();
    let start_of = |d: Date| {
        d.to_zoned(zone.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    };
    let (first, last) = if first <= last {
        (first, last)
    } else {
        (last, first)
    };
    (start_of(first), last.tomorrow().ok().and_then(start_of))
}

/// A popover with two calendars for a range of days of the user's choosing.
pub fn custom_range_popover(
    anchor: &gtk::DropDown,
    on_apply: impl Fn(Date, Date) + 'static,
    on_closed: impl Fn() + 'static,
) -> gtk::Popover {
    let today = Zoned::now().date();
    // The calendars start on the last 30 days.
    let (first, last) = preset_days(3, today).unwrap_or((today, today));
    let calendar = |name: &str, day: Date| {
        let c = gtk::Calendar::new();
        c.set_widget_name(name);
        if let Some(d) = to_glib_date(day) {
            c.select_day(&d);
        }
        c
    };
    let from = calendar("history-range-from", first);
    let to = calendar("history-range-to", last);
    let column = |title: String, c: &gtk::Calendar| {
        let b = gtk::Box::new(gtk::Orientation::Vertical, 6);
        let label = gtk::Label::builder()
            .label(title)
            .xalign(0.0)
            .css_classes(["heading"])
            .build();
        b.append(&label);
        b.append(c);
        a11y::set_label(c, &label.text());
        b
    };
    let calendars = gtk::Box::new(gtk::Orientation::Horizontal, 12);
    calendars.append(&column(gettext("From"), &from));
    calendars.append(&column(gettext("To"), &to));
    let apply = gtk::Button::builder()
        .label(gettext("_Apply"))
        .use_underline(true)
        .halign(gtk::Align::End)
        .css_classes(["suggested-action"])
        .build();
    apply.set_widget_name("history-range-apply");
    let content = gtk::Box::new(gtk::Orientation::Vertical, 12);
    content.append(&calendars);
    content.append(&apply);
    let popover = gtk::Popover::builder().child(&content).build();
    popover.set_parent(anchor);
    let p = popover.clone();
    apply.connect_clicked(move |_| {
        if let Some((first, last)) = from_glib_date(&from.date()).zip(from_glib_date(&to.date())) {
            on_apply(first, last);
        }
        p.popdown();
    });
    popover.connect_closed(move |_| on_closed());
    popover
}

/// The first and last day of a range preset (none for "All time").
pub fn preset_days(choice: u32, today: Date) -> Option<(Date, Date)> {
    let first_of_month = today.first_of_month();
    match choice {
        1 => Some((today, today)),
        2 => Some((today.checked_sub(6.days()).ok()?, today)),
        3 => Some((today.checked_sub(29.days()).ok()?, today)),
        4 => Some((first_of_month, today)),
        5 => Some((
            first_of_month.checked_sub(1.month()).ok()?,
            first_of_month.yesterday().ok()?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_cover_whole_days() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        let today = d("2026-03-15");
        assert_eq!(preset_days(0, today), None);
        assert_eq!(preset_days(1, today), Some((today, today)));
        assert_eq!(preset_days(2, today), Some((d("2026-03-09"), today)));
        assert_eq!(preset_days(3, today), Some((d("2026-02-14"), today)));
        assert_eq!(preset_days(4, today), Some((d("2026-03-01"), today)));
        assert_eq!(
            preset_days(5, today),
            Some((d("2026-02-01"), d("2026-02-28")))
        );
    }
}

//! The monthly report's schedule: which finished months still need their
//! report, so a computer that was off at a month's end catches up later.

use jiff::civil::Date;

/// Months caught up at most, should the report have been off for years.
pub const CATCH_UP_MONTHS: usize = 12;

/// The first days of the finished months after `last_written` (a month's first
/// day) up to the month before `today`, oldest first. With nothing written
/// yet, only the month just finished: turning the report on does not write
/// the whole past.
pub fn due_months(last_written: Option<Date>, today: Date) -> Vec<Date> {
    let this_month = today.first_of_month();
    let Some(previous) = this_month.yesterday().ok().map(|d| d.first_of_month()) else {
        return Vec::new();
    };
    let Some(last) = last_written else {
        return vec![previous];
    };
    let mut months = Vec::new();
    let mut month = last.first_of_month();
    while let Some(next) = month
        .last_of_month()
        .tomorrow()
        .ok()
        .filter(|m| *m < this_month)
    {
        months.push(next);
        month = next;
    }
    let skip = months.len().saturating_sub(CATCH_UP_MONTHS);
    months.split_off(skip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn once_per_month_and_caught_up_after_a_gap() {
        let march = date(2026, 3, 1);
        // Never written: last month only.
        assert_eq!(due_months(None, date(2026, 4, 2)), [march]);
        // Written for March: nothing more during April.
        assert_eq!(due_months(Some(march), date(2026, 4, 30)), []);
        // Off from April to mid-July: April, May and June.
        assert_eq!(
            due_months(Some(march), date(2026, 7, 15)),
            [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]
        );
        // Across a year's end.
        assert_eq!(
            due_months(Some(date(2025, 11, 1)), date(2026, 1, 1)),
            [date(2025, 12, 1)]
        );
        // Years off: the last twelve.
        let long = due_months(Some(date(2020, 1, 1)), date(2026, 1, 10));
        assert_eq!(long.len(), CATCH_UP_MONTHS);
        assert_eq!(long.last(), Some(&date(2025, 12, 1)));
    }
}

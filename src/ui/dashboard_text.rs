//! The dashboard's sentences: what the figures say, in the user's language
//! and currency, kept apart from the widgets so they can be tested as text.

use jiff::civil::Date;

use super::amounts;
use crate::charts::SpendChart;
use crate::core::Money;
use crate::core::breakdown::Jobs;
use crate::core::outlook::Outlook;
use crate::engine::PolicyStatus;
use crate::i18n::{fill, gettext, local_time, long_date, ngettext, percent, plural_n, short_date};

/// "$12.00 of $50.00 · 24 %"
pub fn budget_figures(s: &PolicyStatus) -> String {
    let style = amounts::current();
    fill(
        &gettext("{} of {} · {}"),
        &[
            &s.metric.display_in(&style, s.used),
            &s.metric.display_in(&style, s.limit),
            &percent(s.basis_points),
        ],
    )
}

/// "$38.00 left · monthly · resets Dec 1, 00:00", or what is over the limit.
pub fn budget_left(s: &PolicyStatus, period: &str) -> String {
    let style = amounts::current();
    let left = if s.remaining > 0 {
        fill(
            &gettext("{} left"),
            &[&s.metric.display_in(&style, s.remaining)],
        )
    } else {
        fill(
            &gettext("{} over"),
            &[&s.metric.display_in(&style, s.used - s.limit)],
        )
    };
    let reset = match s.resets_at {
        Some(at) => fill(&gettext("resets {}"), &[&local_time(at)]),
        None => gettext("no automatic reset"),
    };
    [left, period.to_string(), reset].join(" · ")
}

/// "Heading for $48.20 (between $40.10 and $55.00) · limit reached about
/// 28 Nov · $1.60 a day"
pub fn outlook(o: &Outlook) -> String {
    let m = |v: i64| amounts::money(Money::from_nanos(v));
    let p = o.projection;
    let mut parts = vec![if p.low == p.high {
        fill(&gettext("Heading for {}"), &[&m(p.expected)])
    } else {
        fill(
            &gettext("Heading for {} (between {} and {})"),
            &[&m(p.expected), &m(p.low), &m(p.high)],
        )
    }];
    if let Some(day) = o.limit_day {
        parts.push(fill(
            &gettext("limit reached about {}"),
            &[&short_date(day)],
        ));
    }
    parts.push(fill(&gettext("{} a day"), &[&m(o.burn_per_day)]));
    if o.by_weekday {
        parts.push(gettext("by weekday"));
    }
    parts.join(" · ")
}

/// The spend chart's title: by the hour for today, else by the day.
pub fn spend_title(days: usize, total: Money) -> String {
    let title = match days {
        1 => gettext("Spend per Hour · {}"),
        _ => gettext("Spend per Day · {}"),
    };
    fill(&title, &[&amounts::money(total)])
}

/// A range with nothing spent in a ledger that has calls: when the last was.
pub fn quiet(days: usize, last: Date) -> String {
    let last = long_date(last);
    if days == 1 {
        fill(
            &gettext("Nothing spent today. The last call was on {}."),
            &[&last],
        )
    } else {
        fill(
            &ngettext(
                "Nothing spent in the last {} day. The last call was on {}.",
                "Nothing spent in the last {} days. The last call was on {}.",
                days as u32,
            ),
            &[&days.to_string(), &last],
        )
    }
}

pub fn unpriced(calls: u64) -> String {
    fill(
        &ngettext(
            "{} call in these days has no price, so its cost is not in the totals.",
            "{} calls in these days have no price, so their cost is not in the totals.",
            plural_n(calls),
        ),
        &[&amounts::count(calls)],
    )
}

/// "2 jobs · 50 % succeeded · $2.00 per successful job · quality 0.65 on
/// average"; none when no call said whether its job succeeded.
pub fn jobs(jobs: &Jobs) -> Option<String> {
    let rate = jobs.success_bp()?;
    let per = jobs
        .cost_per_success()
        .map_or_else(|| "—".into(), amounts::money);
    let mut text = fill(
        &ngettext(
            "{} job · {} succeeded · {} per successful job",
            "{} jobs · {} succeeded · {} per successful job",
            plural_n(jobs.attempts),
        ),
        &[&amounts::count(jobs.attempts), &percent(rate), &per],
    );
    if let Some(q) = jobs.mean_quality() {
        // Scores come on the caller's own scale: shown as given.
        let mean = format!("{q:.2}").replace('.', &amounts::current().decimal.to_string());
        text.push_str(&fill(&gettext(" · quality {} on average"), &[&mean]));
    }
    Some(text)
}

/// The spend chart's plot spans the area less its margin and axis labels.
const PLOT_LEFT: f64 = 64.0;
const PLOT_RIGHT_MARGIN: f64 = 8.0;

/// The day under `x` on a spend chart `width` pixels wide.
pub fn day_at(chart: &SpendChart, x: f64, width: f64) -> Option<usize> {
    let plot = width - PLOT_LEFT - PLOT_RIGHT_MARGIN;
    let n = chart.days.len();
    if n == 0 || plot <= 0.0 || x < PLOT_LEFT {
        return None;
    }
    let i = ((x - PLOT_LEFT) / plot * n as f64) as usize;
    (i < n).then_some(i)
}

/// The tooltip (Pango markup) for day `i` of a spend chart: the day, what
/// was spent, each model's part and the forecast.
pub fn spend_tooltip(chart: &SpendChart, i: usize) -> Option<String> {
    let day = chart.days.get(i)?;
    let escape = |t: &str| relm4::gtk::glib::markup_escape_text(t).to_string();
    let money = |v: f64| amounts::money(Money::from_nanos((v * 1e9).round() as i64));
    let mut lines = vec![format!("<b>{}</b>", escape(day))];
    let total: f64 = chart.series.iter().map(|(_, v)| v[i]).sum();
    lines.push(fill(&gettext("Spent: {}"), &[&money(total)]));
    for (label, values) in chart.series.iter().filter(|(_, v)| v[i] > 0.0) {
        lines.push(format!("{}: {}", escape(label), money(values[i])));
    }
    if let Some(f) = chart.forecast.get(i).copied().flatten() {
        lines.push(fill(&gettext("Forecast: {}"), &[&money(f)]));
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::forecast::Projection;

    fn chart() -> SpendChart {
        SpendChart {
            days: vec!["Nov 1".into(), "Nov 2".into()],
            series: vec![
                ("gpt-4o".into(), vec![1.5, 0.0]),
                ("<b>odd</b>".into(), vec![0.25, 0.0]),
            ],
            forecast: vec![None, Some(2.0)],
            ..SpendChart::default()
        }
    }

    #[test]
    fn the_tooltip_names_the_day_its_spend_and_forecast() {
        let c = chart();
        assert_eq!(
            spend_tooltip(&c, 0).unwrap(),
            "<b>Nov 1</b>\nSpent: $1.75\ngpt-4o: $1.50\n&lt;b&gt;odd&lt;/b&gt;: $0.25"
        );
        assert_eq!(
            spend_tooltip(&c, 1).unwrap(),
            "<b>Nov 2</b>\nSpent: $0.00\nForecast: $2.00"
        );
        assert_eq!(spend_tooltip(&c, 2), None);
    }

    #[test]
    fn the_day_under_the_pointer_is_found_within_the_plot_only() {
        let c = chart();
        // 200 px wide: the plot is 128 px from x = 64, 64 px a day.
        assert_eq!(day_at(&c, 10.0, 200.0), None, "over the axis labels");
        assert_eq!(day_at(&c, 64.0, 200.0), Some(0));
        assert_eq!(day_at(&c, 191.0, 200.0), Some(1));
        assert_eq!(day_at(&c, 193.0, 200.0), None, "past the plot");
        assert_eq!(day_at(&c, 100.0, 60.0), None, "no room to plot");
    }

    #[test]
    fn an_outlook_says_where_spend_is_heading() {
        let o = Outlook {
            projection: Projection {
                expected: 48_200_000_000,
                low: 40_100_000_000,
                high: 55_000_000_000,
            },
            burn_per_day: 1_600_000_000,
            limit_day: None,
            by_weekday: true,
            days_ahead: Vec::new(),
        };
        assert_eq!(
            outlook(&o),
            "Heading for $48.20 (between $40.10 and $55.00) · $1.60 a day · by weekday"
        );
    }

    #[test]
    fn a_quiet_range_says_when_the_last_call_was() {
        let last = jiff::civil::date(2026, 2, 2);
        assert_eq!(
            quiet(30, last),
            "Nothing spent in the last 30 days. The last call was on Feb 2, 2026."
        );
        assert_eq!(
            quiet(1, last),
            "Nothing spent today. The last call was on Feb 2, 2026."
        );
    }

    #[test]
    fn jobs_are_told_only_when_calls_said_how_they_went() {
        assert_eq!(jobs(&Jobs::default()), None);
        let two = Jobs {
            attempts: 2,
            succeeded: 1,
            cost: Money::from_nanos(2_000_000_000),
            quality_sum: 1.3,
            quality_count: 2,
        };
        assert_eq!(
            jobs(&two).unwrap(),
            "2 jobs · 50 % succeeded · $2.00 per successful job · quality 0.65 on average"
        );
        assert_eq!(
            unpriced(1),
            "1 call in these days has no price, so its cost is not in the totals."
        );
    }
}

//! The dashboard's plan windows: a meter for each window in force, with what
//! it holds, when it starts over, and (for an estimate) where it is heading.

use jiff::Timestamp;
use relm4::gtk;
use relm4::gtk::prelude::*;

use super::a11y;
use crate::core::Money;
use crate::core::plan::{Reported, Standing};
use crate::i18n::{fill, gettext, local_time, percent, time_left};
use crate::plans::PlanStatus;

/// The meter's colour at a share of the window used (hundredths of a percent).
fn state_class(bp: i64) -> &'static str {
    match bp {
        ..8_000 => "state-ok",
        8_000..10_000 => "state-warning",
        _ => "state-exceeded",
    }
}

fn row(title: &str, bp: i64, figures: &str, name: &str) -> gtk::ListBoxRow {
    let head = gtk::Label::builder()
        .label(title)
        .xalign(0.0)
        .ellipsize(gtk::pango::EllipsizeMode::End)
        .build();
    let bar = gtk::ProgressBar::builder()
        .fraction((bp as f64 / 10_000.0).clamp(0.0, 1.0))
        .css_classes(["budget", state_class(bp)])
        .build();
    a11y::set_label(&bar, &fill(&gettext("{}: {} used"), &[title, &percent(bp)]));
    let figures = gtk::Label::builder()
        .label(figures)
        .xalign(0.0)
        .wrap(true)
        .css_classes(["dim-label", "caption"])
        .build();
    let b = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(6)
        .margin_top(10)
        .margin_bottom(10)
        .margin_start(12)
        .margin_end(12)
        .build();
    b.append(&head);
    b.append(&bar);
    b.append(&figures);
    let r = gtk::ListBoxRow::builder()
        .child(&b)
        .activatable(false)
        .build();
    r.set_widget_name(name);
    r
}

fn estimated(s: &PlanStatus, w: &Standing, now: Timestamp) -> gtk::ListBoxRow {
    let used = Money::from_nanos(w.window.cost_nanos).display();
    let title = fill(
        &gettext("{} · {} · 5-hour window"),
        &[s.agent_name, s.plan_name.as_deref().unwrap_or_default()],
    );
    let mut figures = match (w.limit_nanos, w.used_bp) {
        (Some(limit), Some(bp)) => fill(
            &gettext("{} of an estimated {} ({}) at list prices"),
            &[&used, &Money::from_nanos(limit).display(), &percent(bp)],
        ),
        _ => fill(&gettext("{} at list prices"), &[&used]),
    };
    figures.push_str(" · ");
    figures.push_str(&fill(
        &gettext("starts over in {}"),
        &[&time_left(now, w.window.end)],
    ));
    if let Some(p) = w.projected_bp {
        figures.push_str(" · ");
        figures.push_str(&fill(&gettext("heading for {}"), &[&percent(p)]));
    }
    figures.push('\n');
    figures.push_str(&gettext(
        "Estimated from the logs; the plan’s real limits are not published.",
    ));
    row(
        &title,
        w.used_bp.unwrap_or(0),
        &figures,
        &format!("plan-{}", s.agent),
    )
}

fn reported(s: &PlanStatus, r: &Reported, now: Timestamp) -> Option<gtk::ListBoxRow> {
    let resets = r.resets_at.filter(|t| *t > now)?;
    let window = crate::plans::window_label(r.window_minutes);
    let title = match &s.plan_name {
        Some(p) => format!("{} · {p} · {window}", s.agent_name),
        None => format!("{} · {window}", s.agent_name),
    };
    let bp = r.used_bp();
    let figures = fill(
        &gettext("{} used · starts over in {} · as {} reported at {}"),
        &[
            &percent(bp),
            &time_left(now, resets),
            s.agent_name,
            &local_time(r.seen_at),
        ],
    );
    Some(row(
        &title,
        bp,
        &figures,
        &format!("plan-{}-{}", s.agent, r.window_minutes),
    ))
}

/// A row for each plan window in force.
pub fn rows(statuses: &[PlanStatus], now: Timestamp) -> Vec<gtk::ListBoxRow> {
    let mut out = Vec::new();
    for s in statuses {
        out.extend(s.reported.iter().filter_map(|r| reported(s, r, now)));
        // Codex's own figures say more than an estimate would.
        if s.reported.is_empty()
            && let Some(w) = &s.window
        {
            out.push(estimated(s, w, now));
        }
    }
    out
}

//! Preferences → Plans: the subscription plan each coding agent runs on, and
//! what its windows are watched for.

use std::rc::Rc;

use relm4::adw::prelude::*;
use relm4::{adw, gtk};

use super::ledger::Ledger;
use crate::core::Money;
use crate::core::plan::Plan;
use crate::i18n::{fill, gettext, percent};
use crate::ingest::Agent;
use crate::settings;

/// The plans offered for an agent; custom is always last.
fn offered(agent: Agent) -> Vec<Plan> {
    match agent {
        Agent::ClaudeCode => vec![Plan::ClaudePro, Plan::ClaudeMax5, Plan::ClaudeMax20],
        Agent::Codex => vec![Plan::ChatgptPlus, Plan::ChatgptPro],
        _ => Vec::new(),
    }
}

/// The custom limit a new custom plan starts from, in dollars per 5 hours.
const CUSTOM_START: f64 = 20.0;

fn plan_row(window: &adw::PreferencesWindow, ledger: &Rc<Ledger>, agent: Agent) -> adw::ActionRow {
    let plans = offered(agent);
    let mut names = vec![gettext("None")];
    names.extend(plans.iter().map(Plan::name));
    names.push(gettext("Custom"));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let choice = gtk::DropDown::from_strings(&names);
    choice.set_valign(gtk::Align::Center);
    super::a11y::set_label(&choice, &fill(&gettext("{} plan"), &[agent.name()]));
    let dollars = gtk::SpinButton::with_range(1.0, 10_000.0, 1.0);
    dollars.set_digits(2);
    dollars.set_valign(gtk::Align::Center);
    super::a11y::set_label(
        &dollars,
        &gettext("Dollars per 5-hour window, at list prices"),
    );
    let current = ledger.read(|s| settings::plan(agent).get(s)).ok().flatten();
    let custom_at = plans.len() as u32 + 1;
    let selected = match current {
        None => 0,
        Some(Plan::Custom { window_limit }) => {
            dollars.set_value(window_limit.nanos() as f64 / 1e9);
            custom_at
        }
        Some(p) => plans
            .iter()
            .position(|q| *q == p)
            .map_or(0, |i| i as u32 + 1),
    };
    if selected != custom_at {
        dollars.set_value(CUSTOM_START);
    }
    choice.set_selected(selected);
    dollars.set_visible(selected == custom_at);
    let row = adw::ActionRow::builder()
        .title(agent.name())
        .subtitle(match agent {
            Agent::Codex => gettext("Codex logs the plan’s own figures"),
            Agent::ClaudeCode => gettext("Windows estimated from the logs"),
            _ => gettext("Your own limit per 5-hour window"),
        })
        .build();
    row.set_widget_name(&format!("plan-{}", agent.source()));
    row.add_suffix(&dollars);
    row.add_suffix(&choice);
    let plan_of = {
        let (choice, dollars) = (choice.clone(), dollars.clone());
        move || -> Option<Plan> {
            match choice.selected() {
                0 => None,
                i if i == custom_at => Some(Plan::Custom {
                    window_limit: Money::from_nanos((dollars.value() * 1e9).round() as i64),
                }),
                i => plans.get(i as usize - 1).copied(),
            }
        }
    };
    let plan_of = Rc::new(plan_of);
    let (w, l, p, d) = (
        window.clone(),
        ledger.clone(),
        plan_of.clone(),
        dollars.clone(),
    );
    choice.connect_selected_notify(move |c| {
        d.set_visible(c.selected() == custom_at);
        super::preferences::save(&w, &l, settings::plan(agent), p());
    });
    let (w, l, p) = (window.clone(), ledger.clone(), plan_of);
    dollars.connect_value_changed(move |_| {
        super::preferences::save(&w, &l, settings::plan(agent), p());
    });
    row
}

fn alerts_row(window: &adw::PreferencesWindow, ledger: &Rc<Ledger>) -> adw::ActionRow {
    let (row, switch) = super::preferences::switch_row(
        &gettext("Alert on Plan Windows"),
        &fill(
            &gettext("At {} and {} of a window, and when one is heading past its limit"),
            &[&percent(8_000), &percent(10_000)],
        ),
        ledger
            .read(|s| Ok::<_, ()>(!crate::plans::triggers(s).is_empty()))
            .unwrap_or(true),
    );
    let (w, l) = (window.clone(), ledger.clone());
    switch.connect_active_notify(move |s| {
        // On is the default: unset rather than written.
        let value = (!s.is_active()).then(|| "none".to_string());
        super::preferences::save(&w, &l, settings::PLAN_ALERTS, value);
    });
    row
}

pub fn group(window: &adw::PreferencesWindow, ledger: &Rc<Ledger>) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Plans"))
        .description(gettext(
            "A subscription limits use per 5-hour window and per week. Anthropic does not publish its limits: Tally estimates Claude’s windows from the logs, with the figures other trackers use.",
        ))
        .build();
    for agent in Agent::ALL {
        group.add(&plan_row(window, ledger, agent));
    }
    group.add(&alerts_row(window, ledger));
    group
}

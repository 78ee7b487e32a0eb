//! Preferences: running in the background and at login, where alerts go, and
//! the ledger itself (where it is, back up, restore).

use super::amounts;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use jiff::civil::Weekday;
use relm4::adw;
use relm4::adw::prelude::*;
use relm4::gtk::{self, gio, glib};

use super::ledger::Ledger;
use super::policies::weekday_label;
use crate::autostart;
use crate::core::alerts::DEFAULT_COOLDOWN;
use crate::core::money::CURRENCIES;
use crate::core::period::WEEKDAYS;
use crate::i18n::{fill, gettext, ngettext, plural_n};
use crate::settings::{self, Setting, Value};

/// A setting's value; one that cannot be read counts as unset.
fn setting<T: Value>(ledger: &Ledger, setting: Setting<T>) -> Option<T> {
    ledger.read(|s| setting.get(s)).ok().flatten()
}

/// What a new policy starts from.
#[derive(Clone, Debug)]
pub struct PolicyDefaults {
    pub soft: u8,
    pub zone: String,
    /// The day a new weekly budget's week begins.
    pub week_start: Weekday,
    /// The ledger is in a team: a new policy may be the team's.
    pub in_team: bool,
}

/// The preferences' soft limit, time zone and week start, else 80 %, the
/// system's zone and Monday.
pub fn policy_defaults(ledger: &Ledger) -> PolicyDefaults {
    let soft = setting(ledger, settings::DEFAULT_SOFT_PERCENT)
        .filter(|v| (1..=100).contains(v))
        .unwrap_or(crate::core::policy::DEFAULT_SOFT_PERCENT);
    let zone = setting(ledger, settings::DEFAULT_ZONE)
        .filter(|z| jiff::tz::TimeZone::get(z).is_ok())
        .unwrap_or_else(|| {
            jiff::tz::TimeZone::system()
                .iana_name()
                .unwrap_or("UTC")
                .to_string()
        });
    let week_start = ledger.read(crate::reports::week_start);
    let in_team = ledger.read(|s| crate::team::Membership::of(s).ok().flatten().is_some());
    PolicyDefaults {
        soft,
        zone,
        week_start,
        in_team,
    }
}

pub fn runs_in_background(ledger: &Ledger) -> bool {
    setting(ledger, settings::RUN_IN_BACKGROUND) == Some(true)
}

pub(super) fn switch_row(
    title: &str,
    subtitle: &str,
    active: bool,
) -> (adw::ActionRow, gtk::Switch) {
    let switch = gtk::Switch::builder()
        .active(active)
        .valign(gtk::Align::Center)
        .build();
    let row = adw::ActionRow::builder()
        .title(title)
        .subtitle(subtitle)
        .activatable_widget(&switch)
        .build();
    row.add_suffix(&switch);
    (row, switch)
}

fn toast(window: &adw::PreferencesWindow, text: &str) {
    window.add_toast(adw::Toast::new(&glib::markup_escape_text(text)));
}

/// Saves a setting (None unsets it); says so if the ledger refuses.
pub(super) fn save<T: Value + Send + 'static>(
    window: &adw::PreferencesWindow,
    ledger: &Rc<Ledger>,
    setting: Setting<T>,
    value: Option<T>,
) {
    save_then(window, ledger, setting, value, || {});
}

/// As `save`, then runs `then` once the setting is in the ledger.
pub(super) fn save_then<T: Value + Send + 'static>(
    window: &adw::PreferencesWindow,
    ledger: &Rc<Ledger>,
    setting: Setting<T>,
    value: Option<T>,
    then: impl FnOnce() + 'static,
) {
    let w = window.clone();
    ledger.write(
        move |s| setting.set(s, value.as_ref()).map_err(|e| e.to_string()),
        move |saved| match saved {
            Ok(()) => then(),
            Err(e) => toast(&w, &e),
        },
    );
}

pub fn show(parent: &gtk::Window, ledger: Rc<Ledger>, db: PathBuf) {
    let window = adw::PreferencesWindow::builder()
        .transient_for(parent)
        .modal(true)
        .search_enabled(false)
        .default_width(560)
        .build();
    let page = adw::PreferencesPage::new();
    window.add(&page);

    // In the background.
    let background = adw::PreferencesGroup::builder()
        .title(gettext("In the Background"))
        .build();
    let (row, run) = switch_row(
        &gettext("Run in Background"),
        &gettext("Keep watching sources and raising alerts after the window is closed"),
        runs_in_background(&ledger),
    );
    let (w, l) = (window.clone(), ledger.clone());
    run.connect_active_notify(move |s| {
        save(&w, &l, settings::RUN_IN_BACKGROUND, Some(s.is_active()));
    });
    background.add(&row);
    let config_home = autostart::config_home();
    let (row, login) = switch_row(
        &gettext("Start at Login"),
        &gettext("Start in the background when you log in"),
        config_home.as_deref().is_some_and(autostart::is_on),
    );
    login.set_sensitive(config_home.is_some());
    let w = window.clone();
    login.connect_active_notify(move |s| {
        let app = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tally-app"));
        let done = match &config_home {
            Some(home) => autostart::set(home, s.is_active(), &app),
            None => Ok(()),
        };
        if let Err(e) = done {
            toast(&w, &e.to_string());
        }
    });
    background.add(&row);
    page.add(&background);

    // Where alerts go.
    let alerts = adw::PreferencesGroup::builder()
        .title(gettext("Alerts"))
        .description(gettext(
            "Each rule picks its channels; these switch a channel off for all of them.",
        ))
        .build();
    for (channel, title, subtitle) in [
        (
            settings::DESKTOP_NOTIFICATIONS,
            gettext("Desktop Notifications"),
            gettext("A notification for each alert"),
        ),
        (
            settings::ALERT_LOG,
            gettext("Alert Log"),
            gettext("Each alert as a line of JSON in Tally’s state folder"),
        ),
    ] {
        let (row, switch) = switch_row(&title, &subtitle, setting(&ledger, channel) != Some(false));
        let (w, l) = (window.clone(), ledger.clone());
        switch.connect_active_notify(move |s| {
            // On is the default: unset rather than written.
            save(&w, &l, channel, (!s.is_active()).then_some(false));
        });
        alerts.add(&row);
    }
    alerts.add(&cooldown_row(&window, &ledger));
    let webhook = adw::EntryRow::builder()
        .title(gettext("Webhook URL"))
        .text(setting(&ledger, settings::WEBHOOK_URL).unwrap_or_default())
        .show_apply_button(true)
        .build();
    let (w, l) = (window.clone(), ledger.clone());
    webhook.connect_apply(move |e| {
        let url = e.text().trim().to_string();
        if !url.is_empty() && !crate::notifier::is_webhook_url(&url) {
            toast(
                &w,
                &fill(&gettext("“{}” is not an http:// or https:// URL"), &[&url]),
            );
            return;
        }
        if url.is_empty() {
            save(&w, &l, settings::WEBHOOK_URL, None);
            return;
        }
        let t = w.clone();
        l.write(
            move |s| crate::notifier::set_webhook(s, &url),
            move |done| match done {
                Ok(0) => {}
                Ok(n) => toast(
                    &t,
                    &fill(
                        &ngettext(
                            "{} alert rule now sends to the webhook too.",
                            "{} alert rules now send to the webhook too.",
                            plural_n(n),
                        ),
                        &[&n.to_string()],
                    ),
                ),
                Err(e) => toast(&t, &e.to_string()),
            },
        );
    });
    alerts.add(&webhook);
    page.add(&alerts);

    // What a new budget starts from.
    let budgets = adw::PreferencesGroup::builder()
        .title(gettext("New Budgets"))
        .build();
    let defaults = policy_defaults(&ledger);
    let spin = gtk::SpinButton::with_range(1.0, 100.0, 1.0);
    spin.set_value(f64::from(defaults.soft));
    spin.set_valign(gtk::Align::Center);
    let row = adw::ActionRow::builder()
        .title(gettext("Warn From"))
        .subtitle(gettext("Percent of the limit where warnings start"))
        .activatable_widget(&spin)
        .build();
    row.add_suffix(&spin);
    let (w, l) = (window.clone(), ledger.clone());
    spin.connect_value_changed(move |s| {
        save(
            &w,
            &l,
            settings::DEFAULT_SOFT_PERCENT,
            Some(s.value() as u8),
        );
    });
    budgets.add(&row);
    let zone_row = adw::EntryRow::builder()
        .title(gettext("Time Zone"))
        .text(&defaults.zone)
        .show_apply_button(true)
        .build();
    zone_row.set_tooltip_text(Some(&gettext(
        "Whose days, weeks and months a new budget follows, e.g. Europe/Berlin",
    )));
    let (w, l) = (window.clone(), ledger.clone());
    zone_row.connect_apply(move |e| {
        let zone = e.text().trim().to_string();
        if jiff::tz::TimeZone::get(&zone).is_err() {
            toast(
                &w,
                &fill(
                    &gettext("“{}” is not a time zone (e.g. Europe/Berlin)."),
                    &[&zone],
                ),
            );
            return;
        }
        save(&w, &l, settings::DEFAULT_ZONE, Some(zone));
    });
    budgets.add(&zone_row);
    let days: Vec<String> = WEEKDAYS.iter().map(|(d, _)| weekday_label(*d)).collect();
    let week = adw::ComboRow::builder()
        .title(gettext("Weeks Start On"))
        .subtitle(gettext("For weekly budgets and weekly reports"))
        .model(&gtk::StringList::new(
            &days.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .selected(
            WEEKDAYS
                .iter()
                .position(|(d, _)| *d == defaults.week_start)
                .unwrap_or(0) as u32,
        )
        .build();
    let (w, l) = (window.clone(), ledger.clone());
    week.connect_selected_notify(move |c| {
        let day = WEEKDAYS[(c.selected() as usize).min(WEEKDAYS.len() - 1)].0;
        save(&w, &l, settings::WEEK_START, Some(day));
    });
    budgets.add(&week);
    page.add(&budgets);
    page.add(&amounts_group(&window, parent, &ledger));
    page.add(&monthly_group(&window, &ledger));
    page.add(&super::price_book::group(&window, &ledger));
    page.add(&super::plan_prefs::group(&window, &ledger));
    page.add(&super::otlp::group(&window, &ledger));
    page.add(&super::team_prefs::group(&window, &ledger));

    // The ledger.
    let data = adw::PreferencesGroup::builder()
        .title(gettext("Ledger"))
        .build();
    let location = adw::ActionRow::builder()
        .title(gettext("Location"))
        .subtitle(glib::markup_escape_text(&db.display().to_string()))
        .build();
    let open = gtk::Button::builder()
        .label(gettext("Open Folder"))
        .valign(gtk::Align::Center)
        .build();
    let folder = db.parent().map(Path::to_path_buf).unwrap_or_default();
    open.connect_clicked(move |_| {
        let uri = gio::File::for_path(&folder).uri();
        let _ = gio::AppInfo::launch_default_for_uri(&uri, None::<&gio::AppLaunchContext>);
    });
    location.add_suffix(&open);
    data.add(&location);

    let backup = adw::ActionRow::builder()
        .title(gettext("Back Up"))
        .subtitle(gettext(
            "A copy of every record, budget and price, as it is now",
        ))
        .build();
    let button = gtk::Button::builder()
        .label(gettext("Back Up…"))
        .valign(gtk::Align::Center)
        .build();
    let (w, l) = (window.clone(), ledger.clone());
    button.connect_clicked(move |_| back_up(&w, l.clone()));
    backup.add_suffix(&button);
    data.add(&backup);

    let restore = adw::ActionRow::builder()
        .title(gettext("Restore"))
        .subtitle(gettext(
            "Replace the ledger with a backup, after checking it",
        ))
        .build();
    let button = gtk::Button::builder()
        .label(gettext("Restore…"))
        .valign(gtk::Align::Center)
        .css_classes(["destructive-action"])
        .build();
    let (w, l) = (window.clone(), ledger.clone());
    button.connect_clicked(move |_| choose_restore(&w, l.clone()));
    restore.add_suffix(&button);
    data.add(&restore);
    page.add(&data);
    window.present();
}

fn back_up(window: &adw::PreferencesWindow, ledger: Rc<Ledger>) {
    let chooser = gtk::FileChooserNative::builder()
        .title(gettext("Back Up the Ledger"))
        .action(gtk::FileChooserAction::Save)
        .transient_for(window)
        .modal(true)
        .accept_label(gettext("_Back Up"))
        .build();
    let today = jiff::Zoned::now().date();
    chooser.set_current_name(&format!("tally-backup-{today}.sqlite"));
    let w = window.clone();
    // On the ledger worker: copying a large ledger takes seconds.
    super::choose_file(chooser, move |path| {
        let (w, shown) = (w.clone(), path.display().to_string());
        ledger.run(
            move |s| {
                s.backup_to(&path).map_err(|e| e.to_string())?;
                crate::settings::note_backup(s, &path, jiff::Timestamp::now());
                Ok::<(), String>(())
            },
            move |done| match done {
                Ok(()) => toast(&w, &fill(&gettext("Backed up to {}"), &[&shown])),
                Err(e) => toast(&w, &e),
            },
        );
    });
}

fn choose_restore(window: &adw::PreferencesWindow, ledger: Rc<Ledger>) {
    let chooser = gtk::FileChooserNative::builder()
        .title(gettext("Restore a Backup"))
        .action(gtk::FileChooserAction::Open)
        .transient_for(window)
        .modal(true)
        .accept_label(gettext("_Restore"))
        .build();
    let w = window.clone();
    super::choose_file(chooser, move |path| {
        confirm_restore(&w, ledger.clone(), path)
    });
}

fn confirm_restore(window: &adw::PreferencesWindow, ledger: Rc<Ledger>, path: PathBuf) {
    let dialog = adw::MessageDialog::builder()
        .heading(gettext("Replace the Ledger?"))
        .body(fill(
            &gettext("Everything recorded after the backup {} was made will be lost. Back up the ledger first if you may want it."),
            &[&path.display().to_string()],
        ))
        .transient_for(window)
        .modal(true)
        .build();
    dialog.add_response("cancel", &gettext("_Cancel"));
    dialog.add_response("restore", &gettext("_Replace"));
    dialog.set_response_appearance("restore", adw::ResponseAppearance::Destructive);
    dialog.set_close_response("cancel");
    let w = window.clone();
    dialog.connect_response(Some("restore"), move |_, _| {
        let w = w.clone();
        let path = path.clone();
        let l = ledger.clone();
        ledger.write(
            move |s| s.restore_from(&path).map_err(|e| e.to_string()),
            move |restored| match restored {
                Ok(n) => {
                    l.restored();
                    toast(
                        &w,
                        &fill(
                            &ngettext("Restored {} record.", "Restored {} records.", plural_n(n)),
                            &[&amounts::count(n)],
                        ),
                    );
                }
                Err(e) => toast(&w, &e),
            },
        );
    });
    dialog.present();
}

/// How long a rule added without a cooldown waits before the same policy's
/// next alert.
fn cooldown_row(window: &adw::PreferencesWindow, ledger: &Rc<Ledger>) -> adw::ActionRow {
    let minutes = setting(ledger, settings::DEFAULT_COOLDOWN)
        .and_then(|v| v.parse::<jiff::SignedDuration>().ok())
        .unwrap_or(DEFAULT_COOLDOWN)
        .as_mins();
    let spin = gtk::SpinButton::with_range(0.0, 7.0 * 24.0 * 60.0, 5.0);
    spin.set_value(minutes as f64);
    spin.set_valign(gtk::Align::Center);
    super::a11y::set_label(&spin, &gettext("Minutes between alerts"));
    let row = adw::ActionRow::builder()
        .title(gettext("Minutes Between Alerts"))
        .subtitle(gettext(
            "How long a new alert rule waits before it alerts about the same budget again",
        ))
        .activatable_widget(&spin)
        .build();
    row.add_suffix(&spin);
    let (w, l) = (window.clone(), ledger.clone());
    spin.connect_value_changed(move |s| {
        let value = format!("{}m", s.value() as i64);
        save(&w, &l, settings::DEFAULT_COOLDOWN, Some(value));
    });
    row
}

/// The currency amounts are shown in, and its rate to the ledger's dollars.
fn amounts_group(
    window: &adw::PreferencesWindow,
    parent: &gtk::Window,
    ledger: &Rc<Ledger>,
) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Amounts"))
        .description(gettext(
            "Tally records US dollars, as providers bill them. Another currency is shown at the rate you set here; exports and the command line stay in dollars.",
        ))
        .build();
    let names: Vec<String> = CURRENCIES
        .iter()
        .map(|(code, _)| currency_name(code))
        .collect();
    let code = setting(ledger, settings::CURRENCY).unwrap_or_else(|| "USD".into());
    let currency = adw::ComboRow::builder()
        .title(gettext("Currency"))
        .model(&gtk::StringList::new(
            &names.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .selected(CURRENCIES.iter().position(|(c, _)| *c == code).unwrap_or(0) as u32)
        .build();
    let rate = adw::EntryRow::builder()
        .title(gettext("One US Dollar In It"))
        .text(setting(ledger, settings::USD_RATE).unwrap_or_default())
        .show_apply_button(true)
        .input_purpose(gtk::InputPurpose::Number)
        .visible(code != "USD")
        .build();
    // Every view writes amounts again once the style changed.
    let reload = {
        let (l, p) = (ledger.clone(), parent.clone());
        move || {
            amounts::load(&l);
            let _ = p.activate_action("win.reload", None);
        }
    };
    let (w, l, r, again) = (window.clone(), ledger.clone(), rate.clone(), reload.clone());
    currency.connect_selected_notify(move |c| {
        let (code, _) = CURRENCIES[(c.selected() as usize).min(CURRENCIES.len() - 1)];
        r.set_visible(code != "USD");
        save_then(
            &w,
            &l,
            settings::CURRENCY,
            Some(code.to_string()),
            again.clone(),
        );
        if code != "USD" && r.text().is_empty() {
            toast(
                &w,
                &gettext("Set how much one US dollar is in this currency."),
            );
        }
    });
    let (w, l) = (window.clone(), ledger.clone());
    rate.connect_apply(move |e| {
        let text = e.text().trim().replace(',', ".");
        match crate::core::money::parse_scaled(&text, 6) {
            Ok(v) if v > 0 => {
                save_then(&w, &l, settings::USD_RATE, Some(text), reload.clone());
            }
            _ => toast(
                &w,
                &fill(&gettext("“{}” is not a rate (e.g. 0.92)"), &[&text]),
            ),
        }
    });
    group.add(&currency);
    group.add(&rate);
    group
}

fn currency_name(code: &str) -> String {
    let name = match code {
        "USD" => gettext("US Dollar"),
        "EUR" => gettext("Euro"),
        "GBP" => gettext("British Pound"),
        "CHF" => gettext("Swiss Franc"),
        "JPY" => gettext("Japanese Yen"),
        "CAD" => gettext("Canadian Dollar"),
        "AUD" => gettext("Australian Dollar"),
        "INR" => gettext("Indian Rupee"),
        other => other.to_string(),
    };
    format!("{name} ({code})")
}

/// The monthly report: a folder to write it to, or off.
fn monthly_group(window: &adw::PreferencesWindow, ledger: &Rc<Ledger>) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Monthly Report"))
        .description(gettext(
            "At each month’s start, last month’s summary is written as Markdown and CSV (tally-report-YYYY-MM.md); months missed while the computer was off are written later.",
        ))
        .build();
    let folder = setting(ledger, settings::MONTHLY_REPORT_FOLDER);
    let row = adw::ActionRow::builder()
        .title(gettext("Folder"))
        .subtitle(glib::markup_escape_text(
            &folder.clone().unwrap_or_else(|| gettext("Off")),
        ))
        .build();
    let choose = gtk::Button::builder()
        .label(gettext("Choose Folder…"))
        .valign(gtk::Align::Center)
        .build();
    let off = gtk::Button::builder()
        .label(gettext("Turn Off"))
        .valign(gtk::Align::Center)
        .css_classes(["flat"])
        .visible(folder.is_some())
        .build();
    let (w, l, r, o) = (window.clone(), ledger.clone(), row.clone(), off.clone());
    choose.connect_clicked(move |_| {
        let chooser = gtk::FileChooserNative::builder()
            .title(gettext("Monthly Report Folder"))
            .action(gtk::FileChooserAction::SelectFolder)
            .transient_for(&w)
            .modal(true)
            .accept_label(gettext("_Choose"))
            .build();
        let (w, l, r, o) = (w.clone(), l.clone(), r.clone(), o.clone());
        super::choose_file(chooser, move |path| {
            let text = path.display().to_string();
            save(&w, &l, settings::MONTHLY_REPORT_FOLDER, Some(text.clone()));
            r.set_subtitle(&glib::markup_escape_text(&text));
            o.set_visible(true);
        });
    });
    let (w, l, r) = (window.clone(), ledger.clone(), row.clone());
    off.connect_clicked(move |b| {
        save(&w, &l, settings::MONTHLY_REPORT_FOLDER, None);
        r.set_subtitle(&gettext("Off"));
        b.set_visible(false);
    });
    row.add_suffix(&off);
    row.add_suffix(&choose);
    group.add(&row);
    group
}

//! Preferences: running in the background and at login, where alerts go, and
//! the ledger itself (where it is, back up, restore).

use std::path::{Path, PathBuf};
use std::rc::Rc;

use relm4::adw;
use relm4::adw::prelude::*;
use relm4::gtk::{self, gio, glib};

use super::ledger::Ledger;
use crate::autostart;
use crate::i18n::{fill, gettext, ngettext};
use crate::notifier::{DESKTOP_SETTING, LOG_SETTING, WEBHOOK_SETTING};

/// The setting that keeps the app running, watching and alerting, with its
/// window closed.
pub const BACKGROUND_SETTING: &str = "run_in_background";

/// A setting's value; one that cannot be read counts as unset.
fn setting(ledger: &Ledger, key: &str) -> Option<String> {
    ledger.read(|s| s.setting(key)).ok().flatten()
}

/// Settings a new policy starts from.
pub const SOFT_SETTING: &str = "default_soft_percent";
pub const ZONE_SETTING: &str = "default_zone";

/// A new policy's soft limit and time zone: the preferences', else 80 % and
/// the system's zone.
pub fn policy_defaults(ledger: &Ledger) -> (u8, String) {
    let soft = setting(ledger, SOFT_SETTING)
        .and_then(|v| v.parse().ok())
        .filter(|v| (1..=100).contains(v))
        .unwrap_or(crate::core::policy::DEFAULT_SOFT_PERCENT);
    let zone = setting(ledger, ZONE_SETTING)
        .filter(|z| jiff::tz::TimeZone::get(z).is_ok())
        .unwrap_or_else(|| {
            jiff::tz::TimeZone::system()
                .iana_name()
                .unwrap_or("UTC")
                .to_string()
        });
    (soft, zone)
}

pub fn runs_in_background(ledger: &Ledger) -> bool {
    setting(ledger, BACKGROUND_SETTING).as_deref() == Some("on")
}

fn switch_row(title: &str, subtitle: &str, active: bool) -> (adw::ActionRow, gtk::Switch) {
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

/// Saves a setting, `off` or `on`/a value; says so if the ledger refuses.
fn save(window: &adw::PreferencesWindow, ledger: &Ledger, key: &str, value: Option<&str>) {
    if let Err(e) = ledger.write(|s| s.set_setting(key, value)) {
        toast(window, &e.to_string());
    }
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
        let value = if s.is_active() { "on" } else { "off" };
        save(&w, &l, BACKGROUND_SETTING, Some(value));
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
    for (key, title, subtitle) in [
        (
            DESKTOP_SETTING,
            gettext("Desktop Notifications"),
            gettext("A notification for each alert"),
        ),
        (
            LOG_SETTING,
            gettext("Alert Log"),
            gettext("Each alert as a line of JSON in Tally’s state folder"),
        ),
    ] {
        let (row, switch) = switch_row(
            &title,
            &subtitle,
            setting(&ledger, key).as_deref() != Some("off"),
        );
        let (w, l) = (window.clone(), ledger.clone());
        switch.connect_active_notify(move |s| {
            save(&w, &l, key, (!s.is_active()).then_some("off"));
        });
        alerts.add(&row);
    }
    let webhook = adw::EntryRow::builder()
        .title(gettext("Webhook URL"))
        .text(setting(&ledger, WEBHOOK_SETTING).unwrap_or_default())
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
        save(
            &w,
            &l,
            WEBHOOK_SETTING,
            (!url.is_empty()).then_some(url.as_str()),
        );
    });
    alerts.add(&webhook);
    page.add(&alerts);

    // What a new budget starts from.
    let budgets = adw::PreferencesGroup::builder()
        .title(gettext("New Budgets"))
        .build();
    let (soft, zone) = policy_defaults(&ledger);
    let spin = gtk::SpinButton::with_range(1.0, 100.0, 1.0);
    spin.set_value(f64::from(soft));
    spin.set_valign(gtk::Align::Center);
    let row = adw::ActionRow::builder()
        .title(gettext("Warn From"))
        .subtitle(gettext("Percent of the limit where warnings start"))
        .activatable_widget(&spin)
        .build();
    row.add_suffix(&spin);
    let (w, l) = (window.clone(), ledger.clone());
    spin.connect_value_changed(move |s| {
        save(&w, &l, SOFT_SETTING, Some(&(s.value() as u8).to_string()));
    });
    budgets.add(&row);
    let zone_row = adw::EntryRow::builder()
        .title(gettext("Time Zone"))
        .text(zone)
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
        save(&w, &l, ZONE_SETTING, Some(&zone));
    });
    budgets.add(&zone_row);
    page.add(&budgets);

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
    chooser.connect_response(move |c, response| {
        if response == gtk::ResponseType::Accept
            && let Some(path) = c.file().and_then(|f| f.path())
        {
            match ledger.read(|s| s.backup_to(&path)) {
                Ok(()) => toast(
                    &w,
                    &fill(&gettext("Backed up to {}"), &[&path.display().to_string()]),
                ),
                Err(e) => toast(&w, &e.to_string()),
            }
        }
        c.destroy();
    });
    chooser.show();
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
    chooser.connect_response(move |c, response| {
        if response == gtk::ResponseType::Accept
            && let Some(path) = c.file().and_then(|f| f.path())
        {
            confirm_restore(&w, ledger.clone(), path);
        }
        c.destroy();
    });
    chooser.show();
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
        match ledger.write(|s| s.restore_from(&path)) {
            Ok(n) => {
                ledger.evaluate();
                toast(
                    &w,
                    &fill(
                        &ngettext(
                            "Restored {} record.",
                            "Restored {} records.",
                            n.min(u32::MAX as u64) as u32,
                        ),
                        &[&crate::core::money::group_thousands(n)],
                    ),
                );
            }
            Err(e) => toast(&w, &e.to_string()),
        }
    });
    dialog.present();
}

//! Preferences → Team: join a team's PostgreSQL server (the password goes
//! to the desktop's keyring), see how the last sync went, sync now, leave.
//! Joining, syncing and leaving talk to the server, so they run on threads
//! of their own with a ledger connection of their own; the main loop only
//! shows where they stand (the pull's progress too, whoever runs it).

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use relm4::adw::prelude::*;
use relm4::gtk::glib;
use relm4::{adw, gtk};

use super::ledger::Ledger;
use crate::i18n::{fill, gettext, local_time};
use crate::store::Store;
use crate::team::{self, ACTIVITY, Membership};

/// What the group shows: the team joined, if any, and the last sync.
struct Shown {
    team: Option<(String, String)>,
    last: Option<serde_json::Value>,
    unpushed: u64,
}

fn shown(ledger: &Ledger) -> Shown {
    ledger.read(|s| Shown {
        team: Membership::of(s)
            .ok()
            .flatten()
            .map(|m| (m.server.shown, m.machine)),
        last: s
            .setting(team::LAST_SYNC)
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str(&t).ok()),
        unpushed: s.outgoing_count().unwrap_or(0),
    })
}

/// How the last sync went, in a line.
pub fn last_sync_text(last: Option<&serde_json::Value>) -> String {
    let Some(last) = last else {
        return gettext("Not synced yet");
    };
    let at = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(local_time)
            .unwrap_or_default()
    };
    if last["ok"] == true {
        let r = &last["report"];
        fill(
            &gettext("{}: sent {} calls, took in {}"),
            &[
                &at(&r["at"]),
                &r["pushed"]["written"].as_u64().unwrap_or(0).to_string(),
                &r["pulled"]["new"].as_u64().unwrap_or(0).to_string(),
            ],
        )
    } else {
        fill(
            &gettext("{}: failed: {}"),
            &[&at(&last["at"]), last["error"].as_str().unwrap_or("")],
        )
    }
}

/// The models the team's machines price differently, as the last sync
/// found them: each with every machine's price. Each call keeps its own
/// machine's cost until the team shares a price book.
fn conflicts_text(last: Option<&serde_json::Value>) -> Option<String> {
    let list = last?["report"]["prices"]["conflicts"].as_array()?;
    if list.is_empty() {
        return None;
    }
    let lines: Vec<String> = list
        .iter()
        .map(|c| {
            let machines: Vec<&str> = c["machines"]
                .as_array()
                .map(|m| m.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            format!(
                "{}: {}",
                c["model"].as_str().unwrap_or(""),
                machines.join("; ")
            )
        })
        .collect();
    Some(format!(
        "{}\n{}",
        lines.join("\n"),
        gettext(
            "Each call keeps its own machine’s cost. To make them agree: tally prices set MODEL … --team"
        )
    ))
}

/// Runs `work` on a thread with its own connection to the ledger, then
/// `done` on the main loop with what it returned: for what waits on the
/// team's server (not the main loop, not the ledger's writer).
pub(super) fn off_main<T: Send + 'static>(
    db: PathBuf,
    work: impl FnOnce(&mut Store) -> Result<T, String> + Send + 'static,
    done: impl FnOnce(Result<T, String>) + 'static,
) {
    let (tx, rx) = relm4::channel::<Result<T, String>>();
    let spawned = std::thread::Builder::new()
        .name("tally-team-ui".into())
        .spawn(move || {
            let result = Store::open(&db)
                .map_err(|e| e.to_string())
                .and_then(|mut s| work(&mut s));
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        done(Err(e.to_string()));
        return;
    }
    relm4::spawn_local(async move {
        if let Some(result) = rx.recv().await {
            done(result);
        }
    });
}

fn toast(window: &adw::PreferencesWindow, text: &str) {
    window.add_toast(adw::Toast::new(&glib::markup_escape_text(text)));
}

pub fn group(window: &adw::PreferencesWindow, ledger: &Rc<Ledger>) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Team"))
        .description(gettext(
            "Share this ledger’s calls with other machines through the team’s PostgreSQL server. Each machine keeps its own ledger and works offline; team budgets count everyone’s calls.",
        ))
        .build();

    // Joining.
    let address = adw::EntryRow::builder()
        .title(gettext("Server Address (postgres://user@host/database)"))
        .build();
    address.set_widget_name("team-address");
    let password = adw::PasswordEntryRow::builder()
        .title(gettext("Password (kept in the keyring)"))
        .build();
    let machine = adw::EntryRow::builder()
        .title(gettext("This Machine’s Name"))
        .text(team::default_machine().as_str())
        .build();
    let join_row = adw::ActionRow::builder()
        .title(gettext("Join the Team"))
        .subtitle(gettext(
            "The connection is encrypted unless the address says sslmode=disable",
        ))
        .build();
    let join = gtk::Button::builder()
        .label(gettext("Join"))
        .valign(gtk::Align::Center)
        .css_classes(["suggested-action"])
        .build();
    join_row.add_suffix(&join);

    // Joined.
    let server_row = adw::ActionRow::builder().title(gettext("Server")).build();
    server_row.set_widget_name("team-server");
    let machine_row = adw::ActionRow::builder()
        .title(gettext("This Machine"))
        .build();
    let sync_row = adw::ActionRow::builder()
        .title(gettext("Last Sync"))
        .build();
    sync_row.set_widget_name("team-last-sync");
    let sync = gtk::Button::builder()
        .label(gettext("Sync Now"))
        .valign(gtk::Align::Center)
        .build();
    sync.set_widget_name("team-sync-now");
    sync_row.add_suffix(&sync);
    let prices_row = adw::ActionRow::builder()
        .title(gettext("Machines Price Models Differently"))
        .visible(false)
        .build();
    prices_row.set_widget_name("team-price-conflicts");
    let bar = gtk::ProgressBar::builder()
        .valign(gtk::Align::Center)
        .hexpand(true)
        .show_text(true)
        .build();
    let progress_row = adw::ActionRow::builder()
        .title(gettext("Syncing"))
        .visible(false)
        .build();
    progress_row.add_suffix(&bar);
    let leave_row = adw::ActionRow::builder()
        .title(gettext("Leave the Team"))
        .subtitle(gettext(
            "This ledger keeps every call it has, the team’s too, and stops syncing",
        ))
        .build();
    let leave = gtk::Button::builder()
        .label(gettext("Leave…"))
        .valign(gtk::Align::Center)
        .css_classes(["destructive-action"])
        .build();
    leave_row.add_suffix(&leave);

    for row in [
        address.upcast_ref::<gtk::Widget>(),
        password.upcast_ref(),
        machine.upcast_ref(),
        join_row.upcast_ref(),
        server_row.upcast_ref(),
        machine_row.upcast_ref(),
        sync_row.upcast_ref(),
        prices_row.upcast_ref(),
        progress_row.upcast_ref(),
        leave_row.upcast_ref(),
    ] {
        group.add(row);
    }

    let refresh: Rc<dyn Fn()> = {
        let ledger = ledger.clone();
        let joining = [
            address.clone().upcast::<gtk::Widget>(),
            password.clone().upcast(),
            machine.clone().upcast(),
            join_row.clone().upcast(),
        ];
        let joined = [&server_row, &machine_row, &sync_row, &leave_row]
            .map(|w| w.clone().upcast::<gtk::Widget>());
        let (server_row, machine_row, sync_row, prices_row) = (
            server_row.clone(),
            machine_row.clone(),
            sync_row.clone(),
            prices_row.clone(),
        );
        Rc::new(move || {
            let s = shown(&ledger);
            for w in &joining {
                w.set_visible(s.team.is_none());
            }
            for w in &joined {
                w.set_visible(s.team.is_some());
            }
            if let Some((server, machine)) = &s.team {
                server_row.set_subtitle(&glib::markup_escape_text(server));
                machine_row.set_subtitle(&glib::markup_escape_text(machine));
                let mut text = last_sync_text(s.last.as_ref());
                if s.unpushed > 0 {
                    text.push_str(" · ");
                    text.push_str(&fill(
                        &gettext("{} calls wait to be sent"),
                        &[&s.unpushed.to_string()],
                    ));
                }
                sync_row.set_subtitle(&glib::markup_escape_text(&text));
            }
            let conflicts = conflicts_text(s.last.as_ref()).filter(|_| s.team.is_some());
            prices_row.set_visible(conflicts.is_some());
            prices_row.set_subtitle(&glib::markup_escape_text(
                conflicts.as_deref().unwrap_or(""),
            ));
        })
    };
    refresh();

    // The pull's progress, whoever syncs: looked at while the window is open.
    {
        let (bar, progress_row, sync, refresh) = (
            bar.downgrade(),
            progress_row.downgrade(),
            sync.downgrade(),
            refresh.clone(),
        );
        let was_running = std::cell::Cell::new(false);
        glib::timeout_add_local(Duration::from_millis(250), move || {
            let (Some(bar), Some(row), Some(sync)) =
                (bar.upgrade(), progress_row.upgrade(), sync.upgrade())
            else {
                return glib::ControlFlow::Break;
            };
            let now = ACTIVITY.now();
            row.set_visible(now.is_some());
            sync.set_sensitive(now.is_none());
            if let Some((received, total)) = now {
                if total > 0 {
                    bar.set_fraction((received as f64 / total as f64).min(1.0));
                    bar.set_text(Some(&fill(
                        &gettext("{} of {} calls"),
                        &[&received.to_string(), &total.to_string()],
                    )));
                } else {
                    bar.pulse();
                    bar.set_text(None);
                }
            } else if was_running.get() {
                refresh();
            }
            was_running.set(now.is_some());
            glib::ControlFlow::Continue
        });
    }

    {
        let (w, l, refresh) = (window.clone(), ledger.clone(), refresh.clone());
        let (address, password, machine) = (address.clone(), password.clone(), machine.clone());
        join.connect_clicked(move |button| {
            let text = address.text().trim().to_string();
            if text.is_empty() {
                toast(&w, &gettext("Enter the team server’s address."));
                return;
            }
            let secret = password.text().to_string();
            let name = machine.text().trim().to_string();
            button.set_sensitive(false);
            let (w, button, refresh, password) =
                (w.clone(), button.clone(), refresh.clone(), password.clone());
            off_main(
                l.path().to_path_buf(),
                move |s| {
                    team::join_with(s, &text, Some(&secret), &name).map_err(|e| e.to_string())?;
                    // The first pull, here so its progress shows; the
                    // follower finds the ledger in step after it.
                    let now = jiff::Timestamp::now();
                    team::sync_now(s, now, &mut ()).map_err(|e| e.to_string())?;
                    let notifier = crate::notifier::System::for_store(s);
                    crate::engine::after_write(s, now, &notifier);
                    Ok(())
                },
                move |result| {
                    button.set_sensitive(true);
                    password.set_text("");
                    refresh();
                    if let Err(e) = result {
                        toast(&w, &e);
                    }
                },
            );
        });
    }

    {
        let (w, l, refresh) = (window.clone(), ledger.clone(), refresh.clone());
        sync.connect_clicked(move |_| {
            let (w, refresh) = (w.clone(), refresh.clone());
            off_main(
                l.path().to_path_buf(),
                |s| {
                    let now = jiff::Timestamp::now();
                    let report = team::sync_now(s, now, &mut ()).map_err(|e| e.to_string())?;
                    let notifier = crate::notifier::System::for_store(s);
                    crate::engine::after_write(s, now, &notifier);
                    Ok(report)
                },
                move |result| {
                    refresh();
                    if let Err(e) = result {
                        toast(&w, &e);
                    }
                },
            );
        });
    }

    {
        let (w, l, refresh) = (window.clone(), ledger.clone(), refresh);
        leave.connect_clicked(move |_| {
            let dialog = adw::MessageDialog::builder()
                .transient_for(&w)
                .modal(true)
                .heading(gettext("Leave the team?"))
                .body(gettext(
                    "This ledger keeps every call it has and stops syncing. The team’s server keeps what this machine sent.",
                ))
                .build();
            dialog.add_response("cancel", &gettext("Cancel"));
            dialog.add_response("leave", &gettext("Leave"));
            dialog.set_response_appearance("leave", adw::ResponseAppearance::Destructive);
            let (w, l, refresh) = (w.clone(), l.clone(), refresh.clone());
            dialog.connect_response(None, move |_, response| {
                if response != "leave" {
                    return;
                }
                let (w, refresh) = (w.clone(), refresh.clone());
                off_main(
                    l.path().to_path_buf(),
                    |s| team::leave(s).map_err(|e| e.to_string()),
                    move |result| {
                        refresh();
                        if let Err(e) = result {
                            toast(&w, &e);
                        }
                    },
                );
            });
            dialog.present();
        });
    }
    group
}

//! "Receive OpenTelemetry": while it is on, the app runs the server of
//! `tally serve` (OTLP intake, REST, events, MCP) on threads of its own. It
//! is started and stopped off the main loop: it opens the ledger before it
//! listens, and stopping waits for the requests under way.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use relm4::adw::prelude::*;
use relm4::gtk::glib;
use relm4::{adw, gtk};

use super::ledger::Ledger;
use crate::i18n::{fill, gettext};
use crate::serve::{self, Options, Running};
use crate::settings;

#[derive(Clone, Debug, Default, PartialEq)]
pub enum State {
    #[default]
    Off,
    Starting,
    Listening(SocketAddr),
    Failed(String),
}

impl State {
    pub fn text(&self) -> String {
        match self {
            State::Off => gettext("Off"),
            State::Starting => gettext("Starting…"),
            State::Listening(addr) => {
                fill(&gettext("Receiving on http://{}"), &[&addr.to_string()])
            }
            State::Failed(why) => fill(&gettext("Not receiving: {}"), &[why]),
        }
    }
}

/// Told of every change of state.
type Listener = Rc<dyn Fn(&State)>;

#[derive(Default)]
struct Receiver {
    running: Option<Running>,
    /// Counts the changes asked for: only the last one's outcome is kept.
    asked: u64,
    state: Option<State>,
    told: Vec<Listener>,
}

thread_local! {
    static RECEIVER: RefCell<Receiver> = RefCell::new(Receiver::default());
}

/// Where the receiver stands now.
pub fn state() -> State {
    RECEIVER.with(|r| r.borrow().state.clone().unwrap_or(State::Off))
}

/// Calls `f` with every change of state (on the main loop).
pub fn on_change(f: impl Fn(&State) + 'static) {
    RECEIVER.with(|r| r.borrow_mut().told.push(Rc::new(f)));
}

fn set_state(state: State) {
    let told = RECEIVER.with(|r| {
        let mut r = r.borrow_mut();
        r.state = Some(state.clone());
        r.told.clone()
    });
    for f in told {
        f(&state);
    }
}

/// The options the settings ask for, or None when receiving is off.
pub fn wanted(ledger: &Ledger) -> Option<Result<Options, String>> {
    let on = ledger.read(|s| settings::OTLP_RECEIVE.get_or(s, false));
    if !on || ledger.read_only().is_some() {
        return None;
    }
    let listen = ledger
        .read(|s| settings::OTLP_LISTEN.get(s))
        .ok()
        .flatten()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| serve::DEFAULT_LISTEN.to_string());
    let token = ledger
        .read(|s| settings::OTLP_TOKEN.get(s))
        .ok()
        .flatten()
        .filter(|t| !t.trim().is_empty());
    Some(
        listen
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| {
                fill(
                    &gettext("“{}” is not an address and port (e.g. 127.0.0.1:4318)"),
                    &[&listen],
                )
            })
            .map(|listen| Options {
                listen,
                token: token.map(|t| t.trim().to_string()),
            })
            .and_then(|o| o.check().map(|()| o)),
    )
}

/// Starts, restarts or stops the receiver as the settings say.
pub fn apply(ledger: &Ledger) {
    let db: PathBuf = ledger.path().to_path_buf();
    let want = match wanted(ledger) {
        Some(Err(why)) => {
            stop_then(State::Failed(why));
            return;
        }
        Some(Ok(o)) => Some(o),
        None => None,
    };
    let (old, asked) = RECEIVER.with(|r| {
        let mut r = r.borrow_mut();
        r.asked += 1;
        (r.running.take(), r.asked)
    });
    if want.is_none() && old.is_none() {
        set_state(State::Off);
        return;
    }
    set_state(if want.is_some() {
        State::Starting
    } else {
        State::Off
    });
    let (tx, rx) = relm4::channel::<Result<Running, String>>();
    let spawned = std::thread::Builder::new()
        .name("tally-otlp-start".into())
        .spawn(move || {
            drop(old);
            if let Some(options) = want {
                // With the window gone, the server is stopped here as it is dropped.
                let _ = tx.send(serve::start(&db, options).map_err(|e| format!("{e:#}")));
            }
        });
    if let Err(e) = spawned {
        set_state(State::Failed(e.to_string()));
        return;
    }
    relm4::spawn_local(async move {
        let Some(result) = rx.recv().await else {
            return;
        };
        let current = RECEIVER.with(|r| r.borrow().asked) == asked;
        match result {
            Ok(running) if current => {
                let addr = running.addr;
                RECEIVER.with(|r| r.borrow_mut().running = Some(running));
                set_state(State::Listening(addr));
            }
            // A later change took over: this one is let go, off the main loop.
            Ok(running) => {
                std::thread::spawn(move || drop(running));
            }
            Err(why) if current => set_state(State::Failed(why)),
            Err(_) => {}
        }
    });
}

fn stop_then(state: State) {
    let old = RECEIVER.with(|r| {
        let mut r = r.borrow_mut();
        r.asked += 1;
        r.running.take()
    });
    if let Some(old) = old {
        std::thread::spawn(move || drop(old));
    }
    set_state(state);
}

/// What each agent needs in its environment to send here.
pub fn agent_setups(addr: &str, token: bool) -> Vec<(&'static str, String)> {
    let endpoint = format!("http://{addr}");
    let header = if token {
        " OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer TOKEN\"".to_string()
    } else {
        String::new()
    };
    vec![
        (
            "Claude Code",
            format!(
                "CLAUDE_CODE_ENABLE_TELEMETRY=1 OTEL_LOGS_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}{header}"
            ),
        ),
        (
            "Codex",
            format!(
                "~/.codex/config.toml: [otel] exporter = {{ otlp-http = {{ endpoint = \"{endpoint}/v1/logs\", protocol = \"binary\" }} }}"
            ),
        ),
        (
            "Gemini CLI",
            format!(
                "~/.gemini/settings.json: \"telemetry\": {{\"enabled\": true, \"otlpEndpoint\": \"{endpoint}\", \"otlpProtocol\": \"http\"}}"
            ),
        ),
        (
            "Copilot CLI",
            format!("COPILOT_OTEL_ENABLED=true OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}{header}"),
        ),
        (
            "OpenTelemetry GenAI apps",
            format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT={endpoint} OTEL_RESOURCE_ATTRIBUTES=tally.project=NAME{header}"
            ),
        ),
    ]
}

fn copy_row(title: &str, text: &str) -> adw::ActionRow {
    let row = adw::ActionRow::builder()
        .title(title)
        .subtitle(glib::markup_escape_text(text))
        .subtitle_lines(4)
        .build();
    let copy = gtk::Button::builder()
        .icon_name("edit-copy-symbolic")
        .valign(gtk::Align::Center)
        .tooltip_text(gettext("Copy"))
        .css_classes(["flat"])
        .build();
    super::a11y::set_label(&copy, &fill(&gettext("Copy the setting for {}"), &[title]));
    let text = text.to_string();
    copy.connect_clicked(move |b| b.clipboard().set_text(&text));
    row.add_suffix(&copy);
    row
}

/// Saves a setting, then starts, restarts or stops the receiver with it.
fn save_and_apply<T: settings::Value + Send + 'static>(
    window: &adw::PreferencesWindow,
    ledger: &Rc<Ledger>,
    setting: settings::Setting<T>,
    value: Option<T>,
) {
    let l = ledger.clone();
    super::preferences::save_then(window, ledger, setting, value, move || apply(&l));
}

/// Preferences → Receive OpenTelemetry.
pub fn group(window: &adw::PreferencesWindow, ledger: &Rc<Ledger>) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Receive OpenTelemetry"))
        .description(gettext(
            "Agents and apps send each call to Tally as they make it (OTLP/HTTP). The same address serves Tally’s REST API, live events and MCP for agents.",
        ))
        .build();
    let on = ledger.read(|s| settings::OTLP_RECEIVE.get_or(s, false));
    let (switch_row, switch) =
        super::preferences::switch_row(&gettext("Receive OpenTelemetry"), &state().text(), on);
    switch_row.set_widget_name("otlp-receive");
    let listen = ledger
        .read(|s| settings::OTLP_LISTEN.get(s))
        .ok()
        .flatten()
        .unwrap_or_else(|| serve::DEFAULT_LISTEN.to_string());
    let address = adw::EntryRow::builder()
        .title(gettext("Address"))
        .text(listen.as_str())
        .show_apply_button(true)
        .build();
    address.set_widget_name("otlp-address");
    let token = adw::PasswordEntryRow::builder()
        .title(gettext("Token (needed on any address but loopback)"))
        .text(
            ledger
                .read(|s| settings::OTLP_TOKEN.get(s))
                .ok()
                .flatten()
                .unwrap_or_default()
                .as_str(),
        )
        .show_apply_button(true)
        .build();
    let setups = adw::ExpanderRow::builder()
        .title(gettext("Settings for Each Agent"))
        .subtitle(gettext(
            "Copy these into the agent’s environment or configuration",
        ))
        .build();
    let shown: Rc<RefCell<Vec<adw::ActionRow>>> = Rc::default();
    let fill_setups = {
        let (setups, shown, address, token) = (
            setups.clone(),
            shown.clone(),
            address.clone(),
            token.clone(),
        );
        move || {
            for r in shown.borrow_mut().drain(..) {
                setups.remove(&r);
            }
            let rows: Vec<adw::ActionRow> =
                agent_setups(address.text().trim(), !token.text().is_empty())
                    .iter()
                    .map(|(title, text)| copy_row(title, text))
                    .collect();
            for r in &rows {
                setups.add_row(r);
            }
            *shown.borrow_mut() = rows;
        }
    };
    fill_setups();
    group.add(&switch_row);
    group.add(&address);
    group.add(&token);
    group.add(&setups);

    // The switch row says where the receiver stands.
    let weak = switch_row.downgrade();
    on_change(move |s| {
        if let Some(row) = weak.upgrade() {
            row.set_subtitle(&glib::markup_escape_text(&s.text()));
        }
    });
    let (w, l) = (window.clone(), ledger.clone());
    switch.connect_active_notify(move |s| {
        save_and_apply(
            &w,
            &l,
            settings::OTLP_RECEIVE,
            s.is_active().then_some(true),
        );
    });
    let (w, l, f) = (window.clone(), ledger.clone(), fill_setups.clone());
    address.connect_apply(move |e| {
        let text = e.text().trim().to_string();
        f();
        let value = (text != serve::DEFAULT_LISTEN && !text.is_empty()).then_some(text);
        save_and_apply(&w, &l, settings::OTLP_LISTEN, value);
    });
    let (w, l, f) = (window.clone(), ledger.clone(), fill_setups);
    token.connect_apply(move |e| {
        let text = e.text().trim().to_string();
        f();
        save_and_apply(
            &w,
            &l,
            settings::OTLP_TOKEN,
            (!text.is_empty()).then_some(text),
        );
    });
    group
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_is_told_the_address_and_the_token_header_when_one_is_set() {
        let open = agent_setups("127.0.0.1:4318", false);
        assert_eq!(open.len(), 5);
        assert!(
            open.iter()
                .all(|(_, t)| t.contains("http://127.0.0.1:4318"))
        );
        assert!(open.iter().all(|(_, t)| !t.contains("Bearer")));
        let guarded = agent_setups("10.0.0.2:4318", true);
        assert!(guarded[0].1.contains("Authorization=Bearer TOKEN"));
    }
}

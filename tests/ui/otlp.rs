//! Receive OpenTelemetry: with the preference on, the app runs the server;
//! an agent's OTLP export becomes a record the Sources view counts, the main
//! loop never stalls meanwhile, and switching it off stops the server.

use super::support::*;

/// A free loopback port, and the settings that have the app listen on it.
pub fn receive_on_a_free_port(db: &Path) -> u16 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut store = Store::open(db).expect("ledger");
    store
        .set_setting("otlp.receive", Some("true"))
        .expect("setting");
    store
        .set_setting("otlp.listen", Some(&format!("127.0.0.1:{port}")))
        .expect("setting");
    port
}

fn port_of(db: &Path) -> u16 {
    let store = Store::open_to_read(db).expect("ledger");
    let listen = store.setting("otlp.listen").ok().flatten().expect("listen");
    listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Claude Code's `api_request` event, as its OTLP/JSON export sends it.
fn claude_event() -> String {
    let kv = |k: &str, v: &str| serde_json::json!({"key": k, "value": {"stringValue": v}});
    let now = jiff::Timestamp::now().as_nanosecond().to_string();
    serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [kv("service.name", "claude-code")]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": now,
            "body": {"stringValue": "claude_code.api_request"},
            "attributes": [kv("model", "claude-sonnet-4-5"), kv("input_tokens", "1200"),
                kv("output_tokens", "300"), kv("session.id", "otlp-session")]
        }]}]
    }]})
    .to_string()
}

pub async fn receives_and_counts_and_stops(check: &Check, db: &Path) {
    let port = port_of(db);
    let up = wait_for(Duration::from_secs(20), || listening(port)).await;
    check.expect(
        up.is_some(),
        "the app listens for OpenTelemetry when the preference is on",
    );
    let beat = Heartbeat::start();
    let event = claude_event();
    let sent = gio::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        (0..20)
            .map(|_| {
                agent
                    .post(&format!("http://127.0.0.1:{port}/v1/logs"))
                    .header("Content-Type", "application/json")
                    .send(&event)
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
            .all(|code| code == 200)
    })
    .await
    .unwrap_or(false);
    check.expect(sent, "the app's server takes an agent's OTLP export (200)");

    let window = check
        .window
        .clone()
        .downcast::<gtk::Window>()
        .expect("window");
    window.activate_action("win.view-sources", None).ok();
    let row = check.widget("source-otlp");
    if let Some(r) = row.downcast_ref::<adw::ExpanderRow>() {
        r.set_expanded(true);
    }
    let subtitle = || {
        row.downcast_ref::<adw::ExpanderRow>()
            .map(|r| r.subtitle().to_string())
            .unwrap_or_default()
    };
    // The same event 20 times is one call (an exporter's retries).
    let counted = wait_for(Duration::from_secs(15), || {
        subtitle().contains("Receiving on") && subtitle().contains("1 call")
    })
    .await;
    check.expect(
        counted.is_some(),
        &format!(
            "the Sources view says the app receives and counted one call: “{}”",
            subtitle()
        ),
    );
    let longest = beat.stop();
    check.expect(
        longest < Duration::from_millis(250),
        &format!("the main loop never stalled while receiving (longest gap {longest:?})"),
    );
    pause(300).await;
    screenshot("sources-otlp").await;

    // Preferences → Receive OpenTelemetry says the same, and turns it off.
    let _ = WidgetExt::activate_action(&window, "win.preferences", None);
    pause(500).await;
    let prefs = toplevel_of_type(adw::PreferencesWindow::static_type());
    let receive = prefs
        .as_ref()
        .and_then(|p| find(p.upcast_ref(), "otlp-receive"))
        .and_then(|w| w.downcast::<adw::ActionRow>().ok());
    check.expect(
        receive
            .as_ref()
            .and_then(|r| r.subtitle())
            .is_some_and(|s| s.contains(&format!("127.0.0.1:{port}"))),
        "the preferences say where the app receives",
    );
    if let Some(r) = &receive {
        // The address and the agents' settings in view, as a person scrolls to them.
        if let Some(address) = prefs
            .as_ref()
            .and_then(|p| find(p.upcast_ref(), "otlp-address"))
        {
            address.grab_focus();
        }
        pause(300).await;
        screenshot("preferences-otlp").await;
        if let Some(switch) = r
            .activatable_widget()
            .and_then(|w| w.downcast::<gtk::Switch>().ok())
        {
            switch.set_active(false);
        }
    }
    let stopped = wait_for(Duration::from_secs(15), || !listening(port)).await;
    check.expect(stopped.is_some(), "switching it off stops the server");
    if let Some(p) = prefs {
        p.close();
    }
}

fn toplevel_of_type(t: glib::Type) -> Option<gtk::Window> {
    gtk::Window::list_toplevels()
        .into_iter()
        .filter_map(|w| w.downcast::<gtk::Window>().ok())
        .find(|w| w.type_().is_a(t) && w.is_visible())
}

//! The private session bus `make test` provides: processes on it that end with
//! the test, bus names, and a real notification server (dunst) with
//! `dbus-monitor` writing every Notify call to a file.
//!
//! Shared by the tests that need the bus (included with `#[path]`).
#![allow(dead_code)] // each includer uses part of it

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `name` has an owner on the session bus.
pub fn owns_name(name: &str) -> bool {
    Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{name}"),
        ])
        .output()
        .expect("dbus-send")
        .stdout
        .windows(12)
        .any(|w| w == b"boolean true")
}

/// Starts dunst and a monitor writing the Notify calls to `capture`, and waits
/// until dunst owns its name, so the first notification finds it.
pub fn notification_server(capture: &Path) -> (Killed, Killed) {
    let server = Killed(
        Command::new("dunst")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dunst (Debian package dunst) must be installed"),
    );
    let monitor = Killed(
        Command::new("dbus-monitor")
            .args([
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ])
            .stdout(std::fs::File::create(capture).expect("capture file"))
            .spawn()
            .expect("dbus-monitor"),
    );
    let started = Instant::now();
    while !owns_name("org.freedesktop.Notifications") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "dunst did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, monitor)
}

//! One Tally per session: starting it again hands over to the running instance
//! (which shows its window) instead of opening a second app on the same ledger.
//! Needs the display and private session bus `make test` provides.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/session.rs"]
mod session;

use session::{Killed, owns_name};

#[test]
fn a_second_launch_hands_over_to_the_first() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && std::env::var_os("DISPLAY").is_some(),
        "run under tools/with-display.sh (make test): this test needs a session bus and a display"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.sqlite");
    let app = || {
        Command::new(env!("CARGO_BIN_EXE_tally-app"))
            .arg("--db")
            .arg(&db)
            .env("HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tally-app")
    };
    let mut first = Killed(app());
    let started = Instant::now();
    while !owns_name("io.github.tallyapp.Tally") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first instance registers its id on the session bus"
        );
        assert!(
            first.0.try_wait().unwrap().is_none(),
            "the first instance keeps running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut second = app();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = second.kill();
            panic!("a second launch is still running after 10 s: two instances");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "the second launch ends cleanly ({status})"
    );
    assert!(
        first.0.try_wait().unwrap().is_none(),
        "and the first goes on"
    );
}

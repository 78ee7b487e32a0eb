//! What the benchmarks watch: with `TALLY_BENCH_PROBE` set, the window says on
//! stdout when it reaches a state (`first-frame`, `history N` records listed,
//! `dashboard MS` the last call it shows), and `benches/ledger.rs` notes the
//! time each line came. The variable lists what to do beyond that, comma
//! separated: `history` opens the Usage history, `heartbeat` reports each
//! main-loop gap over 40 ms (`gap MS`). Unset, none of this runs.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use relm4::gtk::{self, glib, prelude::*};

/// Read once: the probe speaks on every refresh.
fn asked() -> Option<&'static str> {
    static ASKED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ASKED
        .get_or_init(|| std::env::var("TALLY_BENCH_PROBE").ok())
        .as_deref()
}

pub fn wants(what: &str) -> bool {
    asked().is_some_and(|a| a.split(',').any(|w| w == what))
}

/// Says `line` on stdout when probed.
pub fn say(line: &str) {
    if asked().is_some() {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Says `first-frame` once `widget` has been painted (the first time this
/// is called; later calls do nothing).
pub fn first_frame(widget: &gtk::Widget) {
    static ARMED: AtomicBool = AtomicBool::new(false);
    if asked().is_none() || ARMED.swap(true, Ordering::Relaxed) {
        return;
    }
    watch_paint(widget);
}

fn watch_paint(widget: &gtk::Widget) {
    match widget.frame_clock() {
        Some(clock) => {
            let said = std::cell::Cell::new(false);
            clock.connect_after_paint(move |_| {
                if !said.replace(true) {
                    say("first-frame");
                }
            });
        }
        // Not on screen yet: once it is.
        None => {
            widget.connect_realize(watch_paint);
        }
    }
}

/// Starts the heartbeat when asked: a 20 ms timer that reports each gap
/// between its runs over 40 ms, the time the window could not draw.
pub fn heartbeat() {
    if !wants("heartbeat") {
        return;
    }
    say("heartbeat");
    let last = std::cell::Cell::new(Instant::now());
    glib::timeout_add_local(Duration::from_millis(20), move || {
        let gap = last.replace(Instant::now()).elapsed();
        if gap > Duration::from_millis(40) {
            say(&format!("gap {}", gap.as_millis()));
        }
        glib::ControlFlow::Continue
    });
}

//! Keeping a ledger in step with its team while a long-lived process runs
//! (`tally serve`, `tally watch`, the app): a sync when the follower starts,
//! another when the server says a machine pushed (`LISTEN tally_records`)
//! or when this ledger holds calls not pushed yet, and one a minute
//! otherwise. A ledger in no team is looked at again now and then, so a
//! join made meanwhile is followed. A server that is down is tried again a
//! minute later; nothing local ever waits for it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use postgres::fallible_iterator::FallibleIterator;

use super::{Membership, sync_now};
use crate::store::Store;

/// How often local calls not pushed yet are looked for, and `stop` heeded.
const TICK: Duration = Duration::from_secs(2);
/// A sync at least this often, notifications or not.
const POLL: Duration = Duration::from_secs(60);

/// A follower on a thread of its own; stops when dropped.
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    pub fn start(db: &Path) -> std::io::Result<Follower> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (db, stop) = (db.to_path_buf(), stop.clone());
            std::thread::Builder::new()
                .name("tally-team".into())
                .spawn(move || follow(&db, &stop))?
        };
        Ok(Follower {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits up to `d`, returning early (true) when told to stop.
fn wait(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep(TICK.min(until - Instant::now()));
    }
    stop.load(Ordering::Relaxed)
}

fn follow(db: &Path, stop: &AtomicBool) {
    // One connection for the follower's life: opening the ledger again and
    // again would cost more than the reads it makes while idle.
    let mut store = loop {
        match Store::open(db) {
            Ok(store) => break store,
            Err(e) => {
                tracing::warn!("team sync: cannot open the ledger: {e}");
                if wait(POLL, stop) {
                    return;
                }
            }
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let pause = match Membership::of(&store) {
            Ok(Some(team)) => match follow_joined(&mut store, &team, stop) {
                Ok(()) => Duration::ZERO,
                Err(e) => {
                    tracing::info!("team sync: {e}; trying again in a minute");
                    POLL
                }
            },
            Ok(None) => POLL / 4,
            Err(e) => {
                tracing::warn!("team sync: {e}");
                POLL
            }
        };
        if wait(pause, stop) {
            return;
        }
    }
}

/// Follows one team until `stop`, an error, or the ledger leaving it.
fn follow_joined(
    store: &mut Store,
    team: &Membership,
    stop: &AtomicBool,
) -> Result<(), super::TeamError> {
    let mut client = team.connect().inspect_err(|e| {
        super::note_failure(store, Timestamp::now(), e);
    })?;
    client.batch_execute("LISTEN tally_records")?;
    let mut due = true;
    let mut last = Instant::now();
    loop {
        if due {
            let now = Timestamp::now();
            sync_now(store, now, &mut ())?;
            // What came in counts against the budgets, as after any import.
            let notifier = crate::notifier::System::for_store(store);
            crate::engine::after_write(store, now, &notifier);
            last = Instant::now();
            due = false;
        }
        // The server's word that another machine pushed, within one tick.
        let mut notes = client.notifications();
        let mut heard = notes.timeout_iter(TICK);
        while let Some(note) = heard.next()? {
            if note.payload() != team.machine {
                due = true;
                break;
            }
        }
        drop(heard);
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        match Membership::of(store)? {
            Some(now) if now.machine == team.machine && now.server.shown == team.server.shown => {}
            // Left, or joined elsewhere: start over.
            _ => return Ok(()),
        }
        due |= store.outgoing_count()? > 0 || last.elapsed() >= POLL;
    }
}

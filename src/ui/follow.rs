//! Following the agents' logs while the app runs: a thread with its own ledger
//! connection runs the same importer as `tally watch`. The window learns of new
//! records through the ledger (data_version) and of the imports' details
//! through `Progress`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::ingest::watch::{Observer, Sources, Stopper, follow, wakes};
use crate::ingest::{Agent, ImportReport};
use crate::store::Store;

/// What the follower has done, for the Sources view.
#[derive(Default)]
pub struct Progress {
    /// An import is running now, at file `done` of `files`, `lines` read.
    pub busy: AtomicBool,
    pub done: AtomicU64,
    pub files: AtomicU64,
    pub lines: AtomicU64,
    /// The last import of each agent that found something, with its time.
    pub last: Mutex<HashMap<&'static str, (jiff::Timestamp, ImportReport)>>,
    /// Why the follower stopped, if it did.
    pub failed: Mutex<Option<String>>,
}

/// Passes the follower's news on to `Progress`.
struct Reporter<'a>(&'a Progress);

impl Observer for Reporter<'_> {
    fn imported(&mut self, agent: Agent, report: &ImportReport) {
        self.0.busy.store(false, Ordering::Relaxed);
        if (report.lines > 0 || !report.errors.is_empty() || report.stopped.is_some())
            && let Ok(mut last) = self.0.last.lock()
        {
            last.insert(agent.source(), (jiff::Timestamp::now(), report.clone()));
        }
    }

    fn progress(&mut self, _agent: Agent, done: usize, files: usize, lines: u64) {
        // Only a long import is worth showing: one with files still to read.
        self.0.busy.store(done < files, Ordering::Relaxed);
        self.0.files.store(files as u64, Ordering::Relaxed);
        self.0.done.store(done as u64, Ordering::Relaxed);
        self.0.lines.store(lines, Ordering::Relaxed);
    }
}

pub struct Follower {
    stopper: Stopper,
    thread: Option<JoinHandle<()>>,
}

impl Follower {
    /// Starts following `sources` on the ledger at `path`.
    pub fn start(path: PathBuf, sources: Sources, progress: Arc<Progress>) -> Follower {
        let (stopper, wakes) = wakes();
        let thread = std::thread::Builder::new()
            .name("tally-follow".into())
            .spawn(move || {
                let result = Store::open(&path).and_then(|mut store| {
                    follow(&mut store, &sources, None, wakes, &mut Reporter(&progress))
                });
                progress.busy.store(false, Ordering::Relaxed);
                if let Err(e) = result {
                    tracing::warn!("following the agents' logs stopped: {e}");
                    if let Ok(mut f) = progress.failed.lock() {
                        *f = Some(e.to_string());
                    }
                }
            })
            .ok();
        Follower { stopper, thread }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            // The follower wakes at once; an import under way finishes first.
            let _ = t.join();
        }
    }
}

//! Following agents' logs as they are written: the folders are watched (inotify,
//! through the `notify` crate) and, a moment after a change, what was appended
//! is imported. A slow poll backs the watch up, for folders that appear later
//! and for file systems that do not report changes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use super::{Agent, ImportReport, import_logs_with_progress, real_folder};
use crate::store::{Store, StoreError};

/// Changes come in bursts (a streamed reply is many writes): wait this long
/// after the first before importing. Short, for it is most of the time from
/// a line written to its call stored (1,000 lines: 28 ms to import them into
/// a ledger of a million calls, after this).
const SETTLE: Duration = Duration::from_millis(50);
/// How often to look anyway where changes are not reported (no inotify, or
/// a folder it could not watch).
pub const POLL: Duration = Duration::from_secs(5);
/// How often to look anyway where they are: for folders made later and
/// changes the kernel dropped. A look walks every log file (60 ms for
/// 1,600 files), so at 5 s it kept an idle app at 1 % of a core.
pub const POLL_WATCHED: Duration = Duration::from_secs(60);

/// Lines read in one round of imports past which freed memory is given back.
const GIVE_BACK_AFTER: u64 = 100_000;

/// What wakes a follower: a file changed, or it is to stop.
pub enum Wake {
    Changed(PathBuf),
    Stop,
}

/// Stops a `follow` at once: it sleeps until a change, its poll or this,
/// never waking to look for nothing.
#[derive(Clone)]
pub struct Stopper(mpsc::Sender<Wake>);

impl Stopper {
    pub fn stop(&self) {
        let _ = self.0.send(Wake::Stop);
    }
}

/// What a follower waits on: the changes its watcher reports and its
/// stopper's word.
pub struct Wakes {
    tx: mpsc::Sender<Wake>,
    rx: mpsc::Receiver<Wake>,
}

/// A follower's wakes, and what stops it.
pub fn wakes() -> (Stopper, Wakes) {
    let (tx, rx) = mpsc::channel();
    (Stopper(tx.clone()), Wakes { tx, rx })
}

/// The folders to follow for each agent.
#[derive(Clone, Debug, Default)]
pub struct Sources(pub BTreeMap<Agent, Vec<PathBuf>>);

impl Sources {
    pub fn of(&self, agent: Agent) -> &[PathBuf] {
        self.0.get(&agent).map_or(&[], Vec::as_slice)
    }

    /// Every folder, of every agent.
    pub fn folders(&self) -> impl Iterator<Item = &PathBuf> {
        self.0.values().flatten()
    }

    /// No folder to follow.
    pub fn is_empty(&self) -> bool {
        self.folders().next().is_none()
    }

    /// The agents with folders to follow, in their order.
    pub fn agents(&self) -> Vec<Agent> {
        self.0
            .iter()
            .filter(|(_, dirs)| !dirs.is_empty())
            .map(|(a, _)| *a)
            .collect()
    }

    fn agent_of(&self, path: &std::path::Path) -> Option<Agent> {
        self.0
            .iter()
            .find(|(_, dirs)| dirs.iter().any(|d| path.starts_with(d)))
            .map(|(a, _)| *a)
    }
}

/// Every agent's usual folders that exist here, as its own environment
/// variables and the home folder's defaults say.
pub fn default_sources() -> Sources {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    Sources(
        Agent::ALL
            .into_iter()
            .map(|a| {
                (
                    a,
                    a.default_dirs(&super::agent::process_env, home.as_deref()),
                )
            })
            .collect(),
    )
}

/// Imports what is new for `agents`, then evaluates the budgets; `done` hears of
/// each import.
/// What a follower tells its owner: each import's report, and its progress
/// through the files (files done, files, lines read) while it runs.
pub trait Observer {
    fn imported(&mut self, agent: Agent, report: &ImportReport);
    fn progress(&mut self, _agent: Agent, _done: usize, _files: usize, _lines: u64) {}
}

fn import_now(
    store: &mut Store,
    sources: &Sources,
    agents: &[Agent],
    observer: &mut dyn Observer,
) -> Result<(), StoreError> {
    let (mut wrote, mut lines) = (false, 0);
    for &agent in agents {
        let dirs: Vec<PathBuf> = sources
            .of(agent)
            .iter()
            .filter(|d| d.is_dir())
            .cloned()
            .collect();
        if dirs.is_empty() {
            continue;
        }
        // Prices can change while we follow (another process imports some).
        let book = crate::prices::load(store)?;
        let report =
            import_logs_with_progress(store, &book, agent, &dirs, false, &mut |d, f, l| {
                observer.progress(agent, d, f, l)
            })?;
        wrote |= report.new + report.updated > 0;
        lines += report.lines;
        observer.imported(agent, &report);
    }
    if wrote {
        let notifier = crate::notifier::System::for_store(store);
        crate::engine::after_write(store, jiff::Timestamp::now(), &notifier);
    }
    if lines >= GIVE_BACK_AFTER {
        // A first import of gigabytes of logs leaves the allocator holding
        // what it freed (243 MB in a new user's app, against 67 MB started
        // on the same ledger); the app runs all day, so it is given back.
        // SAFETY: malloc_trim only releases free memory.
        unsafe { libc::malloc_trim(0) };
    }
    Ok(())
}

/// Whether a change can bring new lines: a file created, written, moved or
/// removed. Opening, reading and closing a file unchanged are events too
/// (inotify reports `IN_OPEN`), and the import itself opens the logs: reacting
/// to those made every import start the next, a core busy for nothing.
fn writes_logs(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// Follows `sources` until its `Stopper` says so, importing a moment after
/// each change, and every `poll` whatever happened (by default
/// `POLL_WATCHED`, or `POLL` where changes cannot be watched).
pub fn follow(
    store: &mut Store,
    sources: &Sources,
    poll: Option<Duration>,
    wakes: Wakes,
    observer: &mut dyn Observer,
) -> Result<(), StoreError> {
    // Watched as absolute, real paths: inotify names a changed file by the
    // path its folder was watched under, and a folder given as `logs` or
    // through a link would never match the folders the changes are
    // sorted by, leaving every change to the poll.
    let real = |dirs: &[PathBuf]| -> Vec<PathBuf> { dirs.iter().map(|d| real_folder(d)).collect() };
    let sources = &Sources(sources.0.iter().map(|(a, dirs)| (*a, real(dirs))).collect());
    let all = sources.agents();
    // `wakes.tx` stays here, so the channel never closes while following.
    let Wakes { tx, rx } = wakes;
    let changes = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && writes_logs(&event.kind)
        {
            for path in event.paths {
                let _ = changes.send(Wake::Changed(path));
            }
        }
    })
    .ok();
    let mut watched: Vec<PathBuf> = Vec::new();
    // Whether a folder could not be watched (no inotify, or its limit of
    // watches reached): then the short poll is all that sees its changes.
    let mut blind = watcher.is_none();
    let mut watch_new_folders = |watcher: &mut Option<notify::RecommendedWatcher>| {
        for dir in sources.folders() {
            if dir.is_dir() && !watched.contains(dir) {
                if let Some(w) = watcher.as_mut()
                    && let Err(e) = w.watch(dir, RecursiveMode::Recursive)
                {
                    tracing::warn!("cannot watch {}: {e}", dir.display());
                    blind = true;
                }
                watched.push(dir.clone());
            }
        }
        blind
    };
    let blind_now = watch_new_folders(&mut watcher);
    let mut every = poll.unwrap_or(if blind_now { POLL } else { POLL_WATCHED });
    import_now(store, sources, &all, observer)?;
    let mut next_poll = Instant::now() + every;
    loop {
        match rx.recv_timeout(next_poll.saturating_duration_since(Instant::now())) {
            Ok(Wake::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Ok(Wake::Changed(first)) => {
                let mut agents: Vec<Agent> = sources.agent_of(&first).into_iter().collect();
                let until = Instant::now() + SETTLE;
                while let Ok(wake) =
                    rx.recv_timeout(until.saturating_duration_since(Instant::now()))
                {
                    match wake {
                        Wake::Changed(path) => {
                            if let Some(a) = sources.agent_of(&path)
                                && !agents.contains(&a)
                            {
                                agents.push(a);
                            }
                        }
                        // What changed is imported by the next start.
                        Wake::Stop => return Ok(()),
                    }
                }
                import_now(store, sources, &agents, observer)?;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= next_poll {
            if watch_new_folders(&mut watcher) && poll.is_none() {
                every = POLL;
            }
            import_now(store, sources, &all, observer)?;
            next_poll = Instant::now() + every;
        }
    }
    Ok(())
}

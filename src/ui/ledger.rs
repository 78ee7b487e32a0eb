//! The app's three ledger connections: one the main loop reads from (quick
//! reads: settings, the dashboard's rollups); one owned by the ledger worker,
//! a thread that runs every write, the budget evaluation after it and the
//! alert delivery that follows (a webhook can take seconds, a desktop
//! notification goes over D-Bus); and one for reads that can take longer
//! than a frame (the history's counts and pages), on a thread of their own so
//! that they never wait behind a write either.
//!
//! The ledger also tells the window when it changed: a file monitor on the
//! WAL and a timer read SQLite's `data_version` (which moves when any other
//! connection commits, the worker's included), and the worker says when it
//! has written; any of them makes the one listener (the window) hear of it
//! once.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use jiff::Timestamp;
use relm4::gtk::{gio, glib, prelude::*};

use crate::engine;
use crate::notifier::System;
use crate::store::{ReadOnly, Store};

/// How often another process's commits are looked for where the ledger's
/// file system does not report its writes. A `PRAGMA data_version` is a few
/// microseconds, and answers without waiting for a writer that holds the lock.
const WATCH: Duration = Duration::from_millis(250);
/// How often where it does: the file monitor tells of each commit at once,
/// and the look only backs it up (each wakes the main loop, which an idle
/// window should not be for nothing).
const WATCH_MONITORED: Duration = Duration::from_secs(2);

type Job = Box<dyn FnOnce(&mut Store) + Send>;

pub struct Ledger {
    reader: Rc<Store>,
    jobs: mpsc::Sender<Job>,
    /// Slow reads, on their own thread and connection.
    reads: mpsc::Sender<Job>,
    /// Writes the worker finished, for `revision`.
    written: Cell<u64>,
    /// The revision the listener last heard of.
    seen: Cell<(i64, u64)>,
    listener: RefCell<Option<Rc<dyn Fn()>>>,
    monitor: RefCell<Option<gio::FileMonitor>>,
    /// Why the ledger is open read-only (damaged, or not ours to write),
    /// until a restore heals it.
    read_only: RefCell<Option<ReadOnly>>,
}

impl Ledger {
    /// Takes the main loop's connection, the worker's and the slow reads'
    /// (which move to their threads; the threads end when the ledger is
    /// dropped).
    pub fn new(reader: Store, writer: Store, background: Store) -> Rc<Ledger> {
        let seen = Cell::new((reader.data_version().unwrap_or(0), 0));
        let read_only = RefCell::new(reader.read_only().cloned());
        Rc::new(Ledger {
            read_only,
            reader: Rc::new(reader),
            jobs: serve("tally-ledger", writer),
            reads: serve("tally-reads", background),
            written: Cell::new(0),
            seen,
            listener: RefCell::new(None),
            monitor: RefCell::new(None),
        })
    }

    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.reader)
    }

    /// Why the ledger is open read-only, if it is.
    pub fn read_only(&self) -> Option<ReadOnly> {
        self.read_only.borrow().clone()
    }

    /// Runs the page check `Store::open_check_later` left due, on a thread
    /// of its own (the window is up meanwhile): a sound ledger is noted as
    /// seen; a damaged one turns read-only, and the window hears of it.
    pub fn check_pages(self: &Rc<Self>) {
        let path = self.path().to_path_buf();
        let (tx, rx) = relm4::channel::<Vec<String>>();
        let spawned = std::thread::Builder::new()
            .name("tally-check".into())
            .spawn(move || {
                let problems = Store::check_pages(&path).unwrap_or_else(|e| {
                    tracing::warn!("cannot check the ledger's pages: {e}");
                    Vec::new()
                });
                tx.send(problems).ok();
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start checking the ledger: {e}");
            return;
        }
        let me = Rc::downgrade(self);
        relm4::spawn_local(async move {
            let (Some(problems), Some(me)) = (rx.recv().await, me.upgrade()) else {
                return;
            };
            if !problems.is_empty() {
                tracing::error!("the ledger is damaged: {}", problems.join("; "));
                me.read_only
                    .replace(Some(ReadOnly::Damaged(problems.clone())));
                me.reader.stop_writing();
                me.query(|s| s.stop_writing(), |()| {});
            }
            me.run(move |s| s.checked(problems), |()| {});
            if let Some(listener) = me.listener.borrow().clone() {
                listener();
            }
        });
    }

    /// A backup replaced the damaged ledger: the worker writes again (the
    /// other connections only read, which they still may).
    pub fn restored(&self) {
        self.read_only.replace(None);
    }

    /// The ledger's file.
    pub fn path(&self) -> &std::path::Path {
        self.reader.path()
    }

    /// Runs `change` on the ledger worker, then the budget evaluation (alerts
    /// for what it crossed, delivered there too); `done` gets its result back
    /// on the main loop, and the window hears that the ledger changed.
    pub fn write<T: Send + 'static>(
        self: &Rc<Self>,
        change: impl FnOnce(&mut Store) -> T + Send + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        let me = Rc::downgrade(self);
        self.run(
            move |store| {
                let out = change(store);
                let notifier = System::for_store(store);
                engine::after_write(store, Timestamp::now(), &notifier);
                out
            },
            move |out| {
                done(out);
                if let Some(me) = me.upgrade() {
                    me.written.set(me.written.get() + 1);
                    me.notice();
                }
            },
        );
    }

    /// Evaluates the budgets with nothing written, on the worker: time alone
    /// can make a forecast cross the limit, start a new period, or make a
    /// failed delivery due again. The window hears of it as of any write, so
    /// figures that depend on the time are read again too.
    pub fn evaluate(self: &Rc<Self>) {
        if self.read_only.borrow().is_none() {
            self.write(|_| (), |()| {});
        }
    }

    /// Runs `job` on the worker, with no evaluation after it and nothing for
    /// the window to hear (a backup), and hands its result to `done` on the
    /// main loop.
    pub fn run<T: Send + 'static>(
        self: &Rc<Self>,
        job: impl FnOnce(&mut Store) -> T + Send + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        if !send(&self.jobs, job, done) {
            tracing::error!("the ledger worker has stopped; a change was not saved");
        }
    }

    /// Runs a read that may take longer than a frame on the reads thread and
    /// hands its result to `done` on the main loop. Reads run in the order
    /// asked; a caller that asks again before an answer comes drops the
    /// stale one itself.
    pub fn query<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Store) -> T + Send + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        if !send(&self.reads, move |store: &mut Store| job(store), done) {
            tracing::error!("the ledger's reads thread has stopped");
        }
    }

    /// Changes whenever anyone (this app's worker or another process) has
    /// committed. A checkpoint moves `data_version` too; writers here do not
    /// checkpoint when they wrote nothing.
    pub fn revision(&self) -> (i64, u64) {
        let remote = self.reader.data_version().unwrap_or(0);
        (remote, self.written.get())
    }

    /// Calls `listener` once for each change to the ledger, from now on.
    pub fn watch(self: &Rc<Self>, listener: impl Fn() + 'static) {
        self.listener.replace(Some(Rc::new(listener)));
        self.seen.set(self.revision());
        // A commit writes the WAL: hearing of that (inotify) shows another
        // process's record at once; the timer is there for file systems
        // that do not tell.
        let wal = crate::store::beside(self.reader.path(), "-wal");
        let mut every = WATCH;
        match gio::File::for_path(wal)
            .monitor_file(gio::FileMonitorFlags::NONE, None::<&gio::Cancellable>)
        {
            Ok(monitor) => {
                monitor.set_rate_limit(50);
                let me = Rc::downgrade(self);
                monitor.connect_changed(move |_, _, _, _| {
                    if let Some(me) = me.upgrade() {
                        me.notice();
                    }
                });
                self.monitor.replace(Some(monitor));
                every = WATCH_MONITORED;
            }
            Err(e) => tracing::debug!("no file monitor on the ledger: {e}"),
        }
        let me = Rc::downgrade(self);
        glib::timeout_add_local(every, move || match me.upgrade() {
            Some(me) => {
                me.notice();
                glib::ControlFlow::Continue
            }
            None => glib::ControlFlow::Break,
        });
    }

    /// Tells the listener if the ledger changed since it last heard: once for
    /// a worker's write, although both the worker and `data_version` report it.
    fn notice(&self) {
        let now = self.revision();
        if self.seen.replace(now) == now {
            return;
        }
        let listener = self.listener.borrow().clone();
        if let Some(listener) = listener {
            listener();
        }
    }
}

/// A thread that owns `store` and runs the jobs sent to it, one at a time.
fn serve(name: &str, store: Store) -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut store = store;
            for job in queue {
                job(&mut store);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the thread {name}: {e}");
    }
    jobs
}

/// Sends `job` to a thread from `serve`, and `done` its result on the main
/// loop. False when the thread is gone.
fn send<T: Send + 'static>(
    jobs: &mpsc::Sender<Job>,
    job: impl FnOnce(&mut Store) -> T + Send + 'static,
    done: impl FnOnce(T) + 'static,
) -> bool {
    let (tx, rx) = relm4::channel::<T>();
    let sent = jobs.send(Box::new(move |store| {
        tx.send(job(store)).ok();
    }));
    if sent.is_err() {
        return false;
    }
    relm4::spawn_local(async move {
        if let Some(out) = rx.recv().await {
            done(out);
        }
    });
    true
}

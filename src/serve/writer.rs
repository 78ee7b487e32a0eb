//! The server's one writer: a thread that owns a read-write ledger
//! connection, takes what the handlers ask to store, commits many requests'
//! records in one transaction (a request is answered only after its
//! records are committed). The budgets are evaluated after, as after every
//! write, by a thread of their own (`evaluate`), so that working out 100
//! budgets on a large ledger never holds up the next commit.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::oneshot;

use super::mapping::FINGERPRINT;
use super::stats::Intake;
use crate::core::UsageRecord;
use crate::store::{Inserted, Store};

/// The most records one transaction takes.
const BATCH: usize = 5_000;

pub enum Job {
    /// An OTLP export's records, with what its items were.
    Records {
        records: Vec<UsageRecord>,
        intake: Intake,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// One record (`POST record`): answered with the record as stored.
    Record {
        record: Box<UsageRecord>,
        done: oneshot::Sender<Result<(Inserted, UsageRecord), String>>,
    },
    /// Acknowledge an alert: whether it was open.
    Ack {
        id: i64,
        by: String,
        done: oneshot::Sender<Result<bool, String>>,
    },
}

#[derive(Clone)]
pub struct Handle {
    jobs: Sender<Job>,
}

impl Handle {
    pub fn send(&self, job: Job) -> Result<(), String> {
        self.jobs
            .send(job)
            .map_err(|_| "the server is stopping".to_string())
    }
}

/// Starts the writer on `store`; `wrote` is told after every commit (the
/// event watcher looks at once). The thread ends when every handle is gone,
/// after the last job is committed.
pub fn start(
    store: Store,
    wrote: Sender<()>,
    changed: Sender<()>,
    totals: Arc<Mutex<Intake>>,
) -> (Handle, std::thread::JoinHandle<()>) {
    let (jobs, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("tally-serve-writer".into())
        .spawn(move || run(store, rx, wrote, changed, totals))
        .expect("cannot start the writer thread");
    (Handle { jobs }, thread)
}

/// Evaluates the budgets on `store` whenever `changed` says the writer
/// stored something, at most once a second under a steady stream, and once
/// more after the last change; webhook deliveries due go to `deliver`.
pub fn evaluate(mut store: Store, changed: Receiver<()>, deliver: Sender<()>) {
    let notifier = crate::notifier::System::for_store(&store);
    while changed.recv().is_ok() {
        while changed.try_recv().is_ok() {}
        let (_, webhook) =
            crate::engine::after_write_quick(&mut store, Timestamp::now(), &notifier);
        if webhook {
            let _ = deliver.send(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn run(
    mut store: Store,
    rx: Receiver<Job>,
    wrote: Sender<()>,
    changed: Sender<()>,
    totals: Arc<Mutex<Intake>>,
) {
    let mut saved = Instant::now();
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let idle = first.is_none();
        if let Some(first) = first {
            let mut batch = vec![first];
            let mut records = size(&batch[0]);
            while records < BATCH {
                match rx.try_recv() {
                    Ok(job) => {
                        records += size(&job);
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            if commit(&mut store, batch, &totals) {
                let _ = changed.send(());
            }
            let _ = wrote.send(());
        }
        if saved.elapsed() >= Duration::from_secs(2) || idle {
            save_totals(&mut store, &totals);
            saved = Instant::now();
        }
    }
    save_totals(&mut store, &totals);
}

fn size(job: &Job) -> usize {
    match job {
        Job::Records { records, .. } => records.len().max(1),
        _ => 1,
    }
}

fn save_totals(store: &mut Store, totals: &Mutex<Intake>) {
    let Ok(t) = totals.lock().map(|t| t.clone()) else {
        return;
    };
    if t == Intake::default() {
        return;
    }
    let mut kept = Intake::load(store);
    kept.add(&t);
    match kept.save(store) {
        Ok(()) => {
            if let Ok(mut live) = totals.lock() {
                *live = Intake::default();
            }
        }
        Err(e) => tracing::warn!("keeping the OTLP counts failed: {e}"),
    }
}

/// Commits a batch; true when anything new was stored.
fn commit(store: &mut Store, batch: Vec<Job>, totals: &Mutex<Intake>) -> bool {
    let mut records = Vec::new();
    let mut waiting = Vec::new();
    let mut intake = Intake::default();
    let mut changed = false;
    for job in batch {
        match job {
            Job::Records {
                records: rs,
                intake: i,
                done,
            } => {
                intake.add(&i);
                for r in rs {
                    // A call named by its contents whose log line is already
                    // stored under the agent's id is that call.
                    if r.metadata.contains_key(FINGERPRINT) {
                        if store.has_twin(&r).unwrap_or(false) {
                            intake.duplicates += 1;
                            continue;
                        }
                        if let Err(e) = store.note_fingerprinted(&r.source) {
                            tracing::warn!("noting OTLP-named calls failed: {e}");
                        }
                    }
                    *intake.by_source.entry(r.source.clone()).or_default() += 1;
                    records.push(r);
                }
                waiting.push(done);
            }
            Job::Record { record, done } => {
                let result = store.insert(&record).map_err(|e| e.to_string());
                let answer = result.and_then(|outcome| {
                    changed |= outcome.new;
                    let stored = if outcome.new {
                        *record
                    } else {
                        store
                            .record(outcome.id)
                            .map_err(|e| e.to_string())?
                            .unwrap_or(*record)
                    };
                    Ok((outcome, stored))
                });
                let _ = done.send(answer);
            }
            Job::Ack { id, by, done } => {
                let result = store
                    .acknowledge_alert(id, &by, Timestamp::now())
                    .map_err(|e| e.to_string());
                changed |= result == Ok(true);
                let _ = done.send(result);
            }
        }
    }
    if waiting.is_empty() {
        return changed;
    }
    let result = if records.is_empty() {
        Ok(())
    } else {
        match store.insert_batch(&records) {
            Ok(outcome) => {
                intake.recorded += outcome.inserted;
                intake.duplicates += outcome.duplicates;
                changed |= outcome.inserted > 0;
                Ok(())
            }
            Err(e) => {
                tracing::warn!("storing OTLP records failed: {e}");
                intake.recorded = 0;
                intake.by_source.clear();
                Err(e.to_string())
            }
        }
    };
    if let Ok(mut t) = totals.lock() {
        t.add(&intake);
    }
    for done in waiting {
        let _ = done.send(result.clone());
    }
    changed
}

//! `tally serve`: one process, one ledger, headless. OTLP/HTTP intake
//! (`/v1/logs`, `/v1/traces`, `/v1/metrics`), the REST API under `/api/v1`,
//! live events (WebSocket and Server-Sent Events) and MCP at `/mcp`. The
//! app runs the same server when "Receive OpenTelemetry" is on.
//!
//! Threads: the HTTP server on a tokio runtime; one writer that commits
//! (see `writer`); a watcher that turns ledger changes into events; a
//! sender for webhook deliveries. Reads run on tokio's blocking pool, each
//! on a pooled ledger connection.

pub mod events;
pub mod mapping;
pub mod mcp;
mod openapi;
pub mod otlp;
mod rest;
pub mod stats;
mod writer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;

use crate::core::PriceBook;
use crate::i18n::{fill, gettext};
use crate::store::Store;

/// OTLP/HTTP's usual port, on loopback.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4318";

#[derive(Clone, Debug)]
pub struct Options {
    pub listen: SocketAddr,
    /// The Bearer token every request must carry; required off loopback.
    pub token: Option<String>,
}

impl Options {
    /// Refuses an address other machines can reach without a token.
    pub fn check(&self) -> Result<(), String> {
        if !self.listen.ip().is_loopback() && self.token.is_none() {
            return Err(fill(
                &gettext(
                    "refusing to listen on {} without a token: anyone who can reach it could read and write your ledger. Give one with --token-file FILE, or listen on 127.0.0.1",
                ),
                &[&self.listen.to_string()],
            ));
        }
        if self.token.as_deref().is_some_and(|t| t.len() < 16) {
            return Err(gettext(
                "the token is too short: use at least 16 characters (e.g. openssl rand -hex 32)",
            ));
        }
        Ok(())
    }
}

/// Reads a token file: its first line, trimmed.
pub fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        anyhow::bail!("the token file {} is empty", path.display());
    }
    Ok(token)
}

/// What every handler shares.
pub struct Shared {
    db: PathBuf,
    writer: writer::Handle,
    readers: Mutex<Vec<Store>>,
    book: RwLock<Arc<PriceBook>>,
    feed: Arc<events::Feed>,
    token: Option<String>,
    intake: Arc<Mutex<stats::Intake>>,
    wrote: std::sync::mpsc::Sender<()>,
    /// Cancelled when the server stops: event streams and MCP sessions end.
    closing: tokio_util::sync::CancellationToken,
}

impl Shared {
    /// Runs `f` on a pooled ledger connection, off the async threads.
    async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, String> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = me.readers.lock().ok().and_then(|mut p| p.pop());
            let mut store = match pooled {
                Some(s) => s,
                None => {
                    let s = Store::open(&me.db).map_err(|e| e.to_string())?;
                    s.set_cache_mib(8).map_err(|e| e.to_string())?;
                    s
                }
            };
            let out = f(&mut store);
            if let Ok(mut p) = me.readers.lock()
                && p.len() < 8
            {
                p.push(store);
            }
            Ok(out)
        })
        .await
        .map_err(|e| e.to_string())?
    }

    fn book(&self) -> Arc<PriceBook> {
        self.book.read().map(|b| b.clone()).unwrap_or_default()
    }

    fn reload_book(&self) {
        let loaded = Store::open_to_read(&self.db)
            .map_err(|e| e.to_string())
            .and_then(|s| crate::prices::load(&s).map_err(|e| e.to_string()));
        match loaded {
            Ok(book) => {
                if let Ok(mut b) = self.book.write() {
                    *b = Arc::new(book);
                }
            }
            Err(e) => tracing::warn!("reloading the prices failed: {e}"),
        }
    }
}

/// A server running on threads of its own (the app's): stop it with `stop`.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Stops taking requests, lets those under way finish, commits, and returns.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Starts the server on threads of its own; returns once it listens.
pub fn start(db: &Path, options: Options) -> anyhow::Result<Running> {
    options.check().map_err(anyhow::Error::msg)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let db = db.to_path_buf();
    let thread = std::thread::Builder::new()
        .name("tally-serve".into())
        .spawn(move || {
            let runtime = runtime()?;
            runtime.block_on(serve(
                db,
                options,
                async {
                    let _ = stop_rx.await;
                },
                |addr| {
                    let _ = ready_tx.send(addr);
                },
            ))
        })?;
    match ready_rx.recv() {
        Ok(addr) => Ok(Running {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Err(_) => Err(thread
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread failed"))?
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("the server stopped before it listened"))),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .thread_name("tally-serve")
        .enable_all()
        .build()?)
}

/// `tally serve`: serves until SIGTERM or SIGINT, then finishes what is
/// under way and commits before returning.
pub fn run(db: &Path, options: Options) -> anyhow::Result<()> {
    options.check().map_err(anyhow::Error::msg)?;
    let runtime = runtime()?;
    runtime.block_on(serve(db.to_path_buf(), options, stop_signal(), |addr| {
        eprintln!(
            "{}",
            fill(
                &gettext("Tally is listening on http://{} (OTLP at /v1/logs and /v1/traces, REST at /api/v1, MCP at /mcp). Stop with Ctrl+C."),
                &[&addr.to_string()]
            )
        );
    }))
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("cannot watch for SIGTERM");
    let mut int = signal(SignalKind::interrupt()).expect("cannot watch for SIGINT");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn serve(
    db: PathBuf,
    options: Options,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let store =
        Store::open(&db).with_context(|| format!("cannot open the ledger {}", db.display()))?;
    let book = crate::prices::load(&store)?;
    let (c, a, e) = store.feed_heads()?;
    let feed = Arc::new(events::Feed::new(events::Cursor {
        call: c,
        alert: a,
        event: e,
    }));
    // The writer keeps the index pages of a large ledger; the other
    // connections read little each, and the server stays small.
    store.set_cache_mib(16)?;
    let (wrote_tx, wrote_rx) = std::sync::mpsc::channel();
    let (changed_tx, changed_rx) = std::sync::mpsc::channel::<()>();
    let (deliver_tx, deliver_rx) = std::sync::mpsc::channel::<()>();
    let intake = Arc::new(Mutex::new(stats::Intake::default()));
    let (writer, writer_thread) =
        writer::start(store, wrote_tx.clone(), changed_tx, intake.clone());
    let evaluator = {
        let store = Store::open(&db)?;
        store.set_cache_mib(8)?;
        std::thread::Builder::new()
            .name("tally-serve-budgets".into())
            .spawn(move || writer::evaluate(store, changed_rx, deliver_tx))?
    };
    let shared = Arc::new(Shared {
        db: db.clone(),
        writer,
        readers: Mutex::new(Vec::new()),
        book: RwLock::new(Arc::new(book)),
        feed: feed.clone(),
        token: options.token.clone(),
        intake,
        wrote: wrote_tx,
        closing: tokio_util::sync::CancellationToken::new(),
    });

    let stopping = Arc::new(AtomicBool::new(false));
    let watcher = {
        let store = Store::open(&db)?;
        store.set_cache_mib(8)?;
        let (store, feed, stopping, me) = (
            store,
            feed.clone(),
            stopping.clone(),
            Arc::downgrade(&shared),
        );
        std::thread::Builder::new()
            .name("tally-serve-events".into())
            .spawn(move || {
                events::watch(store, feed, wrote_rx, stopping, || {
                    if let Some(me) = me.upgrade() {
                        me.reload_book();
                    }
                })
            })?
    };
    let sender = {
        let db = db.clone();
        std::thread::Builder::new()
            .name("tally-serve-alerts".into())
            .spawn(move || deliver(&db, deliver_rx))?
    };

    // The ledger's team, if it has one, is synced while the server runs.
    let team = crate::team::follow::Follower::start(&db)?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    listening(listener.local_addr()?);
    let router = rest::router(shared.clone());
    let closing = shared.closing.clone();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            stop.await;
            closing.cancel();
        })
        .await;
    // Everything asked for has been answered: the writer commits what is
    // queued and ends when the last handle is gone.
    drop(shared);
    stopping.store(true, Ordering::Relaxed);
    let _ = writer_thread.join();
    let _ = evaluator.join();
    let _ = watcher.join();
    let _ = sender.join();
    drop(team);
    served.context("the server failed")
}

/// Sends webhook deliveries when the writer says some are due, each on a
/// thread of its own, so that none holds up a write.
fn deliver(db: &Path, due: std::sync::mpsc::Receiver<()>) {
    while due.recv().is_ok() {
        while due.try_recv().is_ok() {}
        match Store::open(db) {
            Ok(mut store) => {
                let notifier = crate::notifier::System::for_store(&store);
                crate::engine::deliver_due_concurrently(
                    &mut store,
                    jiff::Timestamp::now(),
                    &notifier,
                );
            }
            Err(e) => tracing::warn!("cannot open the ledger to send alerts: {e}"),
        }
    }
}

/// What the OTLP intake has taken, for `tally serve status` and the Sources view.
pub fn intake(store: &Store) -> stats::Intake {
    stats::Intake::load(store)
}

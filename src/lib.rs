//! Tally: what you spend on AI APIs, held to budgets.
//!
//! `core` is the pure domain; `store`, `cli` and `ui` are edges around it.

pub mod api;
pub mod autostart;
pub mod charts;
pub mod cli;
pub mod config;
pub mod core;
pub mod engine;
pub mod export;
pub mod i18n;
pub mod ingest;
pub mod notifier;
pub mod plans;
pub mod prices;
pub mod private;
pub mod reports;
pub mod serve;
pub mod settings;
pub mod store;
pub mod team;
pub mod ui;

/// What both programs do first: log to stderr (filtered by `RUST_LOG`) and bind
/// the translations.
pub fn init_process() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("RUST_LOG"))
        .with_writer(std::io::stderr)
        .init();
    i18n::init();
}

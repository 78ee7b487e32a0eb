//! Tally: what you spend on AI APIs, held to budgets.
//!
//! `core` is the pure domain; `store`, `cli` and `ui` are edges around it.

pub mod cli;
pub mod config;
pub mod core;
pub mod i18n;
pub mod prices;
pub mod store;
pub mod ui;

//! Tally: what you spend on AI APIs, held to budgets.

pub mod core;

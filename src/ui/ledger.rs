//! The app's writing connection, shared by the views that change the ledger
//! (policies, alerts). Writes go through `write`, which evaluates the budgets
//! afterwards as every other writer does and bumps a local revision, since
//! SQLite's data_version only moves for other connections' commits.

use std::cell::{Cell, RefCell};

use jiff::Timestamp;

use crate::engine;
use crate::notifier::System;
use crate::store::Store;

pub struct Ledger {
    store: RefCell<Store>,
    local: Cell<u64>,
}

impl Ledger {
    pub fn new(store: Store) -> Ledger {
        Ledger {
            store: RefCell::new(store),
            local: Cell::new(0),
        }
    }

    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.store.borrow())
    }

    /// Runs a change, then the budget evaluation (alerts for what it crossed).
    pub fn write<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self.store.borrow_mut();
        let out = f(&mut store);
        let notifier = System::for_store(&store);
        engine::after_write(&mut store, Timestamp::now(), &notifier);
        self.local.set(self.local.get() + 1);
        out
    }

    /// Evaluates the budgets with nothing written: time alone can make a
    /// forecast cross the limit, start a new period, or make a failed delivery
    /// due again.
    pub fn evaluate(&self) {
        let mut store = self.store.borrow_mut();
        let notifier = System::for_store(&store);
        let raised = engine::after_write(&mut store, Timestamp::now(), &notifier);
        if !raised.is_empty() {
            self.local.set(self.local.get() + 1);
        }
    }

    /// Changes whenever anyone (this app or another process) has written.
    pub fn revision(&self) -> (i64, u64) {
        let remote = self.store.borrow().data_version().unwrap_or(0);
        (remote, self.local.get())
    }
}

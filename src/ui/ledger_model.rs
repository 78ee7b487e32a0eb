//! A `gio::ListModel` over the ledger, newest first, that loads rows in pages as the
//! view asks for them and keeps only a few pages in memory. A million records
//! scroll like a hundred: the view only ever asks for what is on screen.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use relm4::gtk::{gio, glib, prelude::*, subclass::prelude::*};

use crate::store::{HistoryFilter, HistoryRow, Store};

/// Rows per page, and pages kept: about 3,000 rows at most in memory.
const PAGE: u32 = 200;
const PAGES_KEPT: usize = 16;
/// Up to this many new rows are inserted in front of those shown; more make a
/// new list.
const KEEP_BELOW: u32 = PAGE * 4;

#[derive(Default)]
pub struct State {
    store: Option<Rc<Store>>,
    /// The filter as the user set it.
    filter: HistoryFilter,
    /// The same, narrowed to the days that hold matches: what the queries use.
    effective: HistoryFilter,
    count: u32,
    pages: HashMap<u32, Vec<glib::BoxedAnyObject>>,
    recent: VecDeque<u32>,
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct LedgerModel {
        pub state: RefCell<State>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for LedgerModel {
        const NAME: &'static str = "TallyLedgerModel";
        type Type = super::LedgerModel;
        type Interfaces = (gio::ListModel,);
    }

    impl ObjectImpl for LedgerModel {}

    impl ListModelImpl for LedgerModel {
        fn item_type(&self) -> glib::Type {
            glib::BoxedAnyObject::static_type()
        }

        fn n_items(&self) -> u32 {
            self.state.borrow().count
        }

        fn item(&self, position: u32) -> Option<glib::Object> {
            self.state.borrow_mut().item(position).map(|o| o.upcast())
        }
    }
}

glib::wrapper! {
    pub struct LedgerModel(ObjectSubclass<imp::LedgerModel>) @implements gio::ListModel;
}

impl State {
    fn item(&mut self, position: u32) -> Option<glib::BoxedAnyObject> {
        if position >= self.count {
            return None;
        }
        let page = position / PAGE;
        if !self.pages.contains_key(&page) {
            let rows = self.load(page);
            self.pages.insert(page, rows);
            self.recent.push_back(page);
            while self.recent.len() > PAGES_KEPT {
                if let Some(old) = self.recent.pop_front() {
                    self.pages.remove(&old);
                }
            }
        }
        self.pages
            .get(&page)?
            .get((position % PAGE) as usize)
            .cloned()
    }

    /// Loads a page: by keyset after the page before it when that one is at hand
    /// (the common case while scrolling), by offset after a jump.
    fn load(&self, page: u32) -> Vec<glib::BoxedAnyObject> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        let previous_last = page
            .checked_sub(1)
            .and_then(|p| self.pages.get(&p))
            .and_then(|rows| rows.last())
            .map(|o| {
                let row = o.borrow::<HistoryRow>();
                (row.record.at.as_millisecond(), row.id)
            });
        let rows = match previous_last {
            Some(after) => store.history_after(&self.effective, Some(after), PAGE as usize),
            None if page == 0 => store.history_after(&self.effective, None, PAGE as usize),
            None => store.history_at(&self.effective, u64::from(page * PAGE), PAGE as usize),
        };
        match rows {
            Ok(rows) => rows.into_iter().map(glib::BoxedAnyObject::new).collect(),
            Err(e) => {
                tracing::warn!("cannot load usage history: {e}");
                Vec::new()
            }
        }
    }

    /// Counts the rows the filter matches again; the pages loaded before are
    /// dropped.
    fn recount(&mut self) {
        let counted = self.store.as_ref().map(|store| {
            let effective = store.narrow(&self.filter)?;
            let count = store.history_count(&effective)?;
            Ok::<_, crate::store::StoreError>((effective, count))
        });
        let count = match counted {
            Some(Ok((effective, count))) => {
                self.effective = effective;
                count
            }
            Some(Err(e)) => {
                tracing::warn!("cannot count usage history: {e}");
                0
            }
            None => 0,
        };
        self.count = u32::try_from(count).unwrap_or(u32::MAX);
        self.pages.clear();
        self.recent.clear();
    }

    /// The positions (after `added` new rows in front) of the rows that were
    /// loaded before and now read differently.
    fn changed_rows(
        &mut self,
        before: &HashMap<u32, Vec<glib::BoxedAnyObject>>,
        added: u32,
    ) -> Vec<u32> {
        let mut changed = Vec::new();
        let mut pages: Vec<_> = before.iter().collect();
        pages.sort_by_key(|(page, _)| **page);
        for (page, rows) in pages {
            for (i, old) in rows.iter().enumerate() {
                let position = page * PAGE + i as u32 + added;
                let same = self
                    .item(position)
                    .is_some_and(|new| *new.borrow::<HistoryRow>() == *old.borrow::<HistoryRow>());
                if !same && position < self.count {
                    changed.push(position);
                }
            }
        }
        changed
    }

    fn first_id(&mut self) -> Option<i64> {
        self.item(0).map(|o| o.borrow::<HistoryRow>().id)
    }
}

impl Default for LedgerModel {
    fn default() -> Self {
        glib::Object::new()
    }
}

impl LedgerModel {
    pub fn new(store: Rc<Store>) -> LedgerModel {
        let model = LedgerModel::default();
        {
            let mut s = model.imp().state.borrow_mut();
            s.store = Some(store);
            s.recount();
        }
        model
    }

    pub fn filter(&self) -> HistoryFilter {
        self.imp().state.borrow().filter.clone()
    }

    /// Applies a new filter: everything is counted and paged again, and the
    /// list is a new one.
    pub fn set_filter(&self, filter: HistoryFilter) {
        let (old_count, new_count) = {
            let mut s = self.imp().state.borrow_mut();
            let old = s.count;
            s.filter = filter;
            s.recount();
            (old, s.count)
        };
        if old_count > 0 || new_count > 0 {
            self.items_changed(0, old_count, new_count);
        }
    }

    /// Re-reads the ledger after a change, keeping what it can: rows added in
    /// front (new calls) are inserted there, rows already shown that changed
    /// (a later snapshot, a reprice) are replaced one by one, and a change that
    /// touched nothing shown changes nothing, so GTK rebinds no row and the
    /// view does not jump or flicker. Anything else (a filter, a deletion) is
    /// a new list.
    pub fn reload(&self) {
        let (old_count, old_first, old_pages) = {
            let mut s = self.imp().state.borrow_mut();
            let first = if s.count > 0 { s.first_id() } else { None };
            (s.count, first, std::mem::take(&mut s.pages))
        };
        let new_count = {
            let mut s = self.imp().state.borrow_mut();
            s.recount();
            s.count
        };
        let added = new_count.saturating_sub(old_count);
        // Finding the old first row behind many new ones would page through
        // all of them (an offset): after a large import the list is new.
        let shifted_first = (added <= KEEP_BELOW).then(|| {
            let mut s = self.imp().state.borrow_mut();
            s.item(added).map(|o| o.borrow::<HistoryRow>().id)
        });
        if old_count > 0 && shifted_first == Some(old_first) {
            let changed = self
                .imp()
                .state
                .borrow_mut()
                .changed_rows(&old_pages, added);
            if added > 0 {
                self.items_changed(0, 0, added);
            }
            for position in changed {
                self.items_changed(position, 1, 1);
            }
        } else if old_count != new_count || old_count > 0 {
            self.items_changed(0, old_count, new_count);
        }
    }

    pub fn count(&self) -> u32 {
        self.imp().state.borrow().count
    }
}

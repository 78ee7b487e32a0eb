//! A `gio::ListModel` over the ledger, newest first, that loads rows in pages as the
//! view asks for them and keeps only a few pages in memory. A million records
//! scroll like a hundred: the view only ever asks for what is on screen.
//!
//! A change to the ledger is counted on the reads thread (`Counted::read`),
//! which also reads the pages the rows on screen will need; the model then
//! takes it without a new list. GTK 4.8's list makes every row's widgets again
//! for a new model, and for an `items-changed` that removes the row it tracks
//! it asks for every row added: on a large ledger either stalls the window. So
//! the rows GTK holds are updated in place, and only the length changes at the
//! end, except that a few new calls in front are inserted there.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use relm4::gtk::{gio, glib, prelude::*, subclass::prelude::*};

use super::ledger_row::LedgerRow;
use crate::store::{HistoryFilter, HistoryRow, Store, StoreError};

/// Rows per page, and pages kept: about 3,000 rows at most in memory.
const PAGE: u32 = 200;
const PAGES_KEPT: usize = 16;
/// Up to this many new rows are inserted in front of those shown; more are
/// shown in place of them.
const KEEP_BELOW: u32 = PAGE * 4;
/// At most this many rows on screen are read ahead on the reads thread.
const READ_AHEAD: u32 = PAGE * 3;
/// Rows a change updates in one go: more than a window shows.
const UPDATE_AT_ONCE: u32 = 40;

#[derive(Default)]
pub struct State {
    store: Option<Rc<Store>>,
    /// The filter as the user set it.
    filter: HistoryFilter,
    /// The same, narrowed to the days that hold matches: what the queries use.
    effective: HistoryFilter,
    count: u32,
    pages: HashMap<u32, Vec<HistoryRow>>,
    recent: VecDeque<u32>,
    /// The rows handed to GTK, by position, while it holds them.
    handed: BTreeMap<u32, glib::WeakRef<LedgerRow>>,
    /// Moves on each refresh: rows left to update for an older one are not.
    generation: u64,
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
            LedgerRow::static_type()
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
    /// The row GTK holds for `position`, or a new one for it.
    fn item(&mut self, position: u32) -> Option<LedgerRow> {
        if let Some(row) = self.handed.get(&position).and_then(|w| w.upgrade()) {
            return Some(row);
        }
        let row = LedgerRow::new(self.row(position)?);
        if self.handed.len() > 4 * PAGE as usize {
            self.handed.retain(|_, w| w.upgrade().is_some());
        }
        self.handed.insert(position, row.downgrade());
        Some(row)
    }

    fn row(&mut self, position: u32) -> Option<HistoryRow> {
        if position >= self.count {
            return None;
        }
        let page = position / PAGE;
        if !self.pages.contains_key(&page) {
            let rows = self.load(page);
            self.keep(page, rows);
        }
        self.pages
            .get(&page)?
            .get((position % PAGE) as usize)
            .cloned()
    }

    fn keep(&mut self, page: u32, rows: Vec<HistoryRow>) {
        self.pages.insert(page, rows);
        self.recent.retain(|p| *p != page);
        self.recent.push_back(page);
        while self.recent.len() > PAGES_KEPT {
            if let Some(old) = self.recent.pop_front() {
                self.pages.remove(&old);
            }
        }
    }

    /// Loads a page: by keyset after the page before it when that one is at hand
    /// (the common case while scrolling), by offset after a jump.
    fn load(&self, page: u32) -> Vec<HistoryRow> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        let previous_last = page
            .checked_sub(1)
            .and_then(|p| self.pages.get(&p))
            .and_then(|rows| rows.last())
            .map(|row| (row.record.at.as_millisecond(), row.id));
        let rows = match previous_last {
            Some(after) => store.history_after(&self.effective, Some(after), PAGE as usize),
            None => read_page(store, &self.effective, page),
        };
        rows.unwrap_or_else(|e| {
            tracing::warn!("cannot load usage history: {e}");
            Vec::new()
        })
    }

    /// The first row's key (time, id), when its page is at hand.
    fn first_key(&self) -> Option<(i64, i64)> {
        let row = self.pages.get(&0)?.first()?;
        Some((row.record.at.as_millisecond(), row.id))
    }

    /// The positions of the rows GTK holds, first and last.
    fn on_screen(&self) -> Option<(u32, u32)> {
        let alive = |(p, w): (&u32, &glib::WeakRef<LedgerRow>)| w.upgrade().map(|_| *p);
        let first = self.handed.iter().find_map(alive)?;
        let last = self.handed.iter().rev().find_map(alive)?;
        Some((first, last))
    }
}

fn read_page(
    store: &Store,
    filter: &HistoryFilter,
    page: u32,
) -> Result<Vec<HistoryRow>, StoreError> {
    if page == 0 {
        store.history_after(filter, None, PAGE as usize)
    } else {
        store.history_at(filter, u64::from(page * PAGE), PAGE as usize)
    }
}

impl Default for LedgerModel {
    fn default() -> Self {
        glib::Object::new()
    }
}

/// What the list is asked to show: taken by `LedgerModel::ask` on the main
/// loop, answered by `Counted::read` on the reads thread.
#[derive(Debug, Clone)]
pub struct Ask {
    filter: HistoryFilter,
    /// The first row listed now, when the filter is the same.
    first: Option<(i64, i64)>,
    /// The positions of the rows on screen.
    on_screen: Option<(u32, u32)>,
}

/// How many records a filter lists, counted on the reads thread (with a
/// search term that is a scan of the ledger, too long for the main loop), and
/// the pages the rows on screen will show.
#[derive(Debug, Clone, Default)]
pub struct Counted {
    pub filter: HistoryFilter,
    /// The same, narrowed to the days that hold matches: what the pages read.
    effective: HistoryFilter,
    pub count: u32,
    /// How many rows came in front of the first, when few.
    in_front: Option<u32>,
    pages: Vec<(u32, Vec<HistoryRow>)>,
}

impl Counted {
    pub fn read(store: &Store, ask: Ask) -> Result<Counted, StoreError> {
        let effective = store.narrow(&ask.filter)?;
        let count = u32::try_from(store.history_count(&effective)?).unwrap_or(u32::MAX);
        let in_front = match ask.first {
            Some(first) => {
                let newer = store.history_newer(&effective, first, u64::from(KEEP_BELOW) + 1)?;
                u32::try_from(newer).ok().filter(|n| *n <= KEEP_BELOW)
            }
            None => None,
        };
        let shift = in_front.unwrap_or(0);
        let mut wanted = vec![0];
        if let Some((first, last)) = ask.on_screen {
            let first = first.saturating_add(shift);
            let last = last.saturating_add(shift).min(first + READ_AHEAD);
            wanted.extend((first / PAGE)..=(last / PAGE));
        }
        wanted.dedup();
        let mut pages = Vec::new();
        for page in wanted {
            if page * PAGE < count {
                pages.push((page, read_page(store, &effective, page)?));
            }
        }
        Ok(Counted {
            filter: ask.filter,
            effective,
            count,
            in_front,
            pages,
        })
    }
}

impl LedgerModel {
    /// An empty list until the first `refresh`.
    pub fn new(store: Rc<Store>) -> LedgerModel {
        let model = LedgerModel::default();
        model.imp().state.borrow_mut().store = Some(store);
        model
    }

    pub fn filter(&self) -> HistoryFilter {
        self.imp().state.borrow().filter.clone()
    }

    /// What to read on the reads thread to show `filter`.
    pub fn ask(&self, filter: HistoryFilter) -> Ask {
        let s = self.imp().state.borrow();
        Ask {
            first: (filter == s.filter).then(|| s.first_key()).flatten(),
            filter,
            on_screen: s.on_screen(),
        }
    }

    /// Shows what was counted, keeping what it can: a few new calls in front
    /// are inserted there (the rows on screen stay where they are); anything
    /// else changes the length at the end and the rows GTK holds take their
    /// new records in place. Rows that read the same are not touched, so a
    /// change that touched nothing shown redraws nothing.
    ///
    /// `seen` is about the first position on screen: the rows from there on
    /// are updated at once, the others GTK holds (about 200) a few at a time
    /// while the main loop is idle, so that drawing never waits for all.
    pub fn refresh(&self, counted: Counted, seen: u32) {
        let (old_count, in_front) = {
            let mut s = self.imp().state.borrow_mut();
            let old_count = s.count;
            let in_front = counted
                .in_front
                .filter(|n| *n > 0 && counted.filter == s.filter)
                .filter(|n| old_count > 0 && counted.count == old_count + n);
            s.filter = counted.filter;
            s.effective = counted.effective;
            s.count = counted.count;
            s.pages.clear();
            s.recent.clear();
            for (page, rows) in counted.pages {
                s.keep(page, rows);
            }
            let new_count = s.count;
            let handed = std::mem::take(&mut s.handed);
            let shift = in_front.unwrap_or(0);
            s.handed = handed
                .into_iter()
                .map(|(p, w)| (p + shift, w))
                .filter(|(p, w)| *p < new_count && w.upgrade().is_some())
                .collect();
            (old_count, in_front)
        };
        let new_count = self.count();
        match in_front {
            Some(n) => self.items_changed(0, 0, n),
            None if new_count > old_count => {
                self.items_changed(old_count, 0, new_count - old_count)
            }
            None if new_count < old_count => {
                self.items_changed(new_count, old_count - new_count, 0)
            }
            None => {}
        }
        let mut held: Vec<(u32, glib::WeakRef<LedgerRow>)> = {
            let mut s = self.imp().state.borrow_mut();
            s.generation += 1;
            s.handed.iter().map(|(p, w)| (*p, w.clone())).collect()
        };
        // Nearest the rows on screen first; the list is taken from the end.
        held.sort_by_key(|(p, _)| {
            std::cmp::Reverse(p.abs_diff(seen.saturating_add(UPDATE_AT_ONCE / 2)))
        });
        self.update_rows(&mut held, UPDATE_AT_ONCE);
        if !held.is_empty() {
            let generation = self.imp().state.borrow().generation;
            let model = self.downgrade();
            glib::idle_add_local(move || {
                let Some(model) = model.upgrade() else {
                    return glib::ControlFlow::Break;
                };
                if model.imp().state.borrow().generation != generation {
                    return glib::ControlFlow::Break;
                }
                model.update_rows(&mut held, UPDATE_AT_ONCE);
                if held.is_empty() {
                    glib::ControlFlow::Break
                } else {
                    glib::ControlFlow::Continue
                }
            });
        }
    }

    /// Gives up to `n` rows from the end of `held` their current records.
    fn update_rows(&self, held: &mut Vec<(u32, glib::WeakRef<LedgerRow>)>, n: u32) {
        for _ in 0..n {
            let Some((position, row)) = held.pop() else {
                return;
            };
            let Some(row) = row.upgrade() else {
                continue;
            };
            let record = self.imp().state.borrow_mut().row(position);
            if let Some(record) = record {
                row.set_row(record);
            }
        }
    }

    pub fn count(&self) -> u32 {
        self.imp().state.borrow().count
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use relm4::gtk::subclass::prelude::*;
    use relm4::gtk::{gio, prelude::*};

    use super::{Counted, LedgerModel};
    use crate::core::usage::UsageRecord;
    use crate::store::{HistoryFilter, Store};

    fn call(i: i64) -> UsageRecord {
        let at = jiff::Timestamp::from_second(1_763_000_000 + i * 60).unwrap();
        let mut r = UsageRecord::new(at, "openai", "gpt-4o");
        r.request_id = Some(format!("req_{i}"));
        r
    }

    /// Where a list changed: position, removed, added.
    type Changes = Rc<RefCell<Vec<(u32, u32, u32)>>>;

    /// A model on a ledger of `calls`, refreshed once, and the changes it
    /// reports from then on.
    fn listed(
        calls: impl Iterator<Item = i64>,
    ) -> (tempfile::TempDir, Rc<Store>, LedgerModel, Changes) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("ledger.sqlite")).unwrap();
        store
            .insert_batch(&calls.map(call).collect::<Vec<_>>())
            .unwrap();
        let store = Rc::new(store);
        let model = LedgerModel::new(store.clone());
        refresh(&model, &store);
        let changes = Rc::new(RefCell::new(Vec::new()));
        let c = changes.clone();
        model.connect_items_changed(move |_, at, removed, added| {
            c.borrow_mut().push((at, removed, added))
        });
        (dir, store, model, changes)
    }

    /// Another connection to the ledger, as another process has.
    fn writer(store: &Store) -> Store {
        Store::open(store.path()).unwrap()
    }

    fn refresh(model: &LedgerModel, store: &Store) {
        let ask = model.ask(HistoryFilter::default());
        model.refresh(Counted::read(store, ask).unwrap(), 0);
    }

    fn request_at(model: &LedgerModel, position: u32) -> String {
        let row = model
            .item(position)
            .and_downcast::<super::LedgerRow>()
            .unwrap();
        let request = row
            .imp()
            .row
            .borrow()
            .as_ref()
            .unwrap()
            .record
            .request_id
            .clone();
        request.unwrap()
    }

    #[test]
    fn new_calls_in_front_are_inserted_there() {
        let (_dir, store, model, changes) = listed(0..1_000);
        let shown = model.item(0).unwrap();
        writer(&store)
            .insert_batch(&[call(1_000), call(1_001)])
            .unwrap();
        refresh(&model, &store);
        assert_eq!(*changes.borrow(), vec![(0, 0, 2)]);
        assert_eq!(request_at(&model, 0), "req_1001");
        // The row GTK held is the same object, now two rows down.
        assert_eq!(model.item(2).unwrap(), shown);
        assert_eq!(request_at(&model, 2), "req_999");
    }

    #[test]
    fn a_large_change_keeps_the_rows_held_and_grows_at_the_end() {
        let (_dir, store, model, changes) = listed((0..1_000).map(|i| i * 2));
        let held: Vec<gio::glib::Object> = (0..5).map(|p| model.item(p).unwrap()).collect();
        assert_eq!(request_at(&model, 0), "req_1998");
        // Calls between those listed, too many to insert one by one.
        let between: Vec<_> = (0..1_000).map(|i| call(i * 2 + 1)).collect();
        writer(&store).insert_batch(&between).unwrap();
        refresh(&model, &store);
        assert_eq!(*changes.borrow(), vec![(1_000, 0, 1_000)]);
        assert_eq!(model.n_items(), 2_000);
        for (p, row) in held.iter().enumerate() {
            assert_eq!(
                model.item(p as u32).as_ref(),
                Some(row),
                "the row GTK holds stays"
            );
        }
        assert_eq!(request_at(&model, 0), "req_1999");
        assert_eq!(request_at(&model, 1), "req_1998");
    }

    #[test]
    fn a_change_that_touches_nothing_listed_reports_nothing() {
        let (_dir, store, model, changes) = listed(0..300);
        model.item(0).unwrap();
        refresh(&model, &store);
        assert!(changes.borrow().is_empty());
        assert_eq!(model.n_items(), 300);
    }
}

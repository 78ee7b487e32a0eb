//! A `gio::ListModel` over the ledger, newest first, that loads rows in pages as the
//! view asks for them and keeps only a few pages in memory. A million records
//! scroll like a hundred: the view only ever asks for what is on screen.
//!
//! Pages are read off the main loop (a jump to the end of a million rows is
//! an offset of 100 ms or more): a row asked for before its page is at hand
//! is handed out empty and filled in when the page comes.
//!
//! A change to the ledger is counted on the reads thread (`Counted::read`),
//! which also reads the pages the rows on screen will need; the model then
//! takes it without a new list. GTK 4.8's list makes every row's widgets again
//! for a new model, and for an `items-changed` that removes the row it tracks
//! it asks for every row added: on a large ledger either stalls the window. So
//! the rows GTK holds are updated in place, and only the length changes at the
//! end, except that a few new calls in front are inserted there.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::rc::Rc;

use relm4::gtk::{gio, glib, prelude::*, subclass::prelude::*};

use super::ledger_row::LedgerRow;
use crate::i18n::gettext;
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

/// Reads page `page` of what a filter lists (after the row with this key,
/// when the page before is at hand) off the main loop, and hands it to the
/// callback on the main loop.
pub type Loader = Rc<dyn Fn(PageAsk, Box<dyn FnOnce(Result<Vec<HistoryRow>, StoreError>)>)>;

/// A page to read: see `PageAsk::read`.
#[derive(Debug, Clone)]
pub struct PageAsk {
    filter: HistoryFilter,
    page: u32,
    after: Option<(i64, i64)>,
}

impl PageAsk {
    pub fn read(&self, store: &Store) -> Result<Vec<HistoryRow>, StoreError> {
        match self.after {
            Some(after) => store.history_after(&self.filter, Some(after), PAGE as usize),
            None => read_page(store, &self.filter, self.page),
        }
    }
}

#[derive(Default)]
pub struct State {
    loader: Option<Loader>,
    /// The filter as the user set it.
    filter: HistoryFilter,
    /// The same, narrowed to the days that hold matches: what the queries use.
    effective: HistoryFilter,
    count: u32,
    pages: HashMap<u32, Vec<HistoryRow>>,
    recent: VecDeque<u32>,
    /// The rows handed to GTK, by position, while it holds them.
    handed: BTreeMap<u32, glib::WeakRef<LedgerRow>>,
    /// Moves on each refresh: rows left to update for an older one are not,
    /// and pages read for an older one are dropped.
    generation: u64,
    /// Pages asked for and not come yet.
    pending: HashSet<u32>,
    /// Pages to ask for once the state is no longer borrowed.
    to_ask: Vec<PageAsk>,
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
            let item = self.state.borrow_mut().item(position);
            self.obj().ask_pages();
            item.map(|o| o.upcast())
        }
    }
}

glib::wrapper! {
    pub struct LedgerModel(ObjectSubclass<imp::LedgerModel>) @implements gio::ListModel;
}

impl State {
    /// The row GTK holds for `position`, or a new one for it (empty until
    /// its page comes).
    fn item(&mut self, position: u32) -> Option<LedgerRow> {
        if position >= self.count {
            return None;
        }
        if let Some(row) = self.handed.get(&position).and_then(|w| w.upgrade()) {
            return Some(row);
        }
        let row = LedgerRow::new(self.row(position));
        if self.handed.len() > 4 * PAGE as usize {
            self.handed.retain(|_, w| w.upgrade().is_some());
        }
        self.handed.insert(position, row.downgrade());
        Some(row)
    }

    /// The record at `position` if its page is at hand; else the page is
    /// asked for.
    fn row(&mut self, position: u32) -> Option<HistoryRow> {
        if position >= self.count {
            return None;
        }
        let page = position / PAGE;
        match self.pages.get(&page) {
            Some(rows) => rows.get((position % PAGE) as usize).cloned(),
            None => {
                self.ask(page);
                None
            }
        }
    }

    /// Asks for `page`: by keyset after the page before it when that one is
    /// at hand (the common case while scrolling), by offset after a jump.
    fn ask(&mut self, page: u32) {
        if !self.pending.insert(page) {
            return;
        }
        let after = page
            .checked_sub(1)
            .and_then(|p| self.pages.get(&p))
            .and_then(|rows| rows.last())
            .map(|row| (row.record.at.as_millisecond(), row.id));
        self.to_ask.push(PageAsk {
            filter: self.effective.clone(),
            page,
            after,
        });
    }

    fn keep(&mut self, page: u32, rows: Vec<HistoryRow>) {
        self.pending.remove(&page);
        self.pages.insert(page, rows);
        self.recent.retain(|p| *p != page);
        self.recent.push_back(page);
        while self.recent.len() > PAGES_KEPT {
            if let Some(old) = self.recent.pop_front() {
                self.pages.remove(&old);
            }
        }
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
    count: u32,
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
    /// An empty list until the first `refresh`; pages come through `loader`.
    pub fn new(loader: Loader) -> LedgerModel {
        let model = LedgerModel::default();
        model.imp().state.borrow_mut().loader = Some(loader);
        model
    }

    /// Sends the pages asked for meanwhile to the loader.
    fn ask_pages(&self) {
        let (asks, loader, generation) = {
            let mut s = self.imp().state.borrow_mut();
            (
                std::mem::take(&mut s.to_ask),
                s.loader.clone(),
                s.generation,
            )
        };
        let Some(loader) = loader else {
            return;
        };
        for ask in asks {
            let (model, page) = (self.downgrade(), ask.page);
            loader(
                ask,
                Box::new(move |rows| {
                    if let Some(model) = model.upgrade() {
                        model.arrived(generation, page, rows);
                    }
                }),
            );
        }
    }

    /// A page came: the rows GTK holds in it show their records.
    fn arrived(&self, generation: u64, page: u32, rows: Result<Vec<HistoryRow>, StoreError>) {
        let held: Vec<(LedgerRow, HistoryRow)> = {
            let mut s = self.imp().state.borrow_mut();
            if s.generation != generation {
                return;
            }
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    s.pending.remove(&page);
                    drop(s);
                    super::report_failure(
                        &gettext("Cannot read the usage history"),
                        Err::<(), _>(e),
                    );
                    return;
                }
            };
            let first = page * PAGE;
            let held = s
                .handed
                .range(first..first + PAGE)
                .filter_map(|(p, w)| Some((w.upgrade()?, rows.get((p - first) as usize)?.clone())))
                .collect();
            s.keep(page, rows);
            held
        };
        for (row, record) in held {
            row.set_row(record);
        }
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
            s.generation += 1;
            s.pages.clear();
            s.recent.clear();
            s.pending.clear();
            s.to_ask.clear();
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
            let s = self.imp().state.borrow();
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
    /// Rows whose page is not at hand ask for it, and are filled in when it
    /// comes.
    fn update_rows(&self, held: &mut Vec<(u32, glib::WeakRef<LedgerRow>)>, n: u32) {
        let at_once = held.len().saturating_sub(n as usize);
        for (position, row) in held.drain(at_once..).rev() {
            let Some(row) = row.upgrade() else {
                continue;
            };
            let record = self.imp().state.borrow_mut().row(position);
            if let Some(record) = record {
                row.set_row(record);
            }
        }
        self.ask_pages();
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

    use super::{Counted, LedgerModel, PageAsk};
    use crate::core::usage::UsageRecord;
    use crate::store::{HistoryFilter, HistoryRow, Store, StoreError};

    fn call(i: i64) -> UsageRecord {
        let at = jiff::Timestamp::from_second(1_763_000_000 + i * 60).unwrap();
        let mut r = UsageRecord::new(at, "openai", "gpt-4o");
        r.request_id = Some(format!("req_{i}"));
        r
    }

    /// Where a list changed: position, removed, added.
    type Changes = Rc<RefCell<Vec<(u32, u32, u32)>>>;
    type Done = Box<dyn FnOnce(Result<Vec<HistoryRow>, StoreError>)>;

    /// A model on a ledger, with pages read when the test says (`read`),
    /// as the reads thread answers later.
    struct Listed {
        _dir: tempfile::TempDir,
        store: Store,
        model: LedgerModel,
        asked: Rc<RefCell<Vec<(PageAsk, Done)>>>,
        changes: Changes,
    }

    /// A model on a ledger of `calls`, refreshed once, and the changes it
    /// reports from then on.
    fn listed(calls: impl Iterator<Item = i64>) -> Listed {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("ledger.sqlite")).unwrap();
        store
            .insert_batch(&calls.map(call).collect::<Vec<_>>())
            .unwrap();
        let asked: Rc<RefCell<Vec<(PageAsk, Done)>>> = Rc::default();
        let queue = asked.clone();
        let model = LedgerModel::new(Rc::new(move |ask, done| {
            queue.borrow_mut().push((ask, done))
        }));
        let changes = Rc::new(RefCell::new(Vec::new()));
        let listed = Listed {
            _dir: dir,
            store,
            model,
            asked,
            changes,
        };
        listed.refresh();
        let c = listed.changes.clone();
        listed
            .model
            .connect_items_changed(move |_, at, removed, added| {
                c.borrow_mut().push((at, removed, added))
            });
        listed
    }

    impl Listed {
        /// Another connection to the ledger, as another process has.
        fn writer(&self) -> Store {
            Store::open(self.store.path()).unwrap()
        }

        fn refresh(&self) {
            let ask = self.model.ask(HistoryFilter::default());
            self.model
                .refresh(Counted::read(&self.store, ask).unwrap(), 0);
        }

        /// Answers the pages asked for so far.
        fn read(&self) -> usize {
            let asked: Vec<_> = self.asked.borrow_mut().drain(..).collect();
            let n = asked.len();
            for (ask, done) in asked {
                done(ask.read(&self.store));
            }
            n
        }

        fn request_at(&self, position: u32) -> Option<String> {
            let row = self
                .model
                .item(position)
                .and_downcast::<super::LedgerRow>()
                .unwrap();
            row.imp().row.borrow().as_ref()?.record.request_id.clone()
        }
    }

    #[test]
    fn new_calls_in_front_are_inserted_there() {
        let l = listed(0..1_000);
        let shown = l.model.item(0).unwrap();
        l.writer()
            .insert_batch(&[call(1_000), call(1_001)])
            .unwrap();
        l.refresh();
        assert_eq!(*l.changes.borrow(), vec![(0, 0, 2)]);
        assert_eq!(l.request_at(0).as_deref(), Some("req_1001"));
        // The row GTK held is the same object, now two rows down.
        assert_eq!(l.model.item(2).unwrap(), shown);
        assert_eq!(l.request_at(2).as_deref(), Some("req_999"));
    }

    #[test]
    fn a_large_change_keeps_the_rows_held_and_grows_at_the_end() {
        let l = listed((0..1_000).map(|i| i * 2));
        let held: Vec<gio::glib::Object> = (0..5).map(|p| l.model.item(p).unwrap()).collect();
        assert_eq!(l.request_at(0).as_deref(), Some("req_1998"));
        // Calls between those listed, too many to insert one by one.
        let between: Vec<_> = (0..1_000).map(|i| call(i * 2 + 1)).collect();
        l.writer().insert_batch(&between).unwrap();
        l.refresh();
        assert_eq!(*l.changes.borrow(), vec![(1_000, 0, 1_000)]);
        assert_eq!(l.model.n_items(), 2_000);
        for (p, row) in held.iter().enumerate() {
            assert_eq!(
                l.model.item(p as u32).as_ref(),
                Some(row),
                "the row GTK holds stays"
            );
        }
        assert_eq!(l.request_at(0).as_deref(), Some("req_1999"));
        assert_eq!(l.request_at(1).as_deref(), Some("req_1998"));
    }

    #[test]
    fn a_change_that_touches_nothing_listed_reports_nothing() {
        let l = listed(0..300);
        l.model.item(0).unwrap();
        l.refresh();
        assert!(l.changes.borrow().is_empty());
        assert_eq!(l.model.n_items(), 300);
    }

    #[test]
    fn a_row_far_down_is_empty_until_its_page_is_read_off_the_main_loop() {
        let l = listed(0..5_000);
        assert_eq!(l.read(), 0, "the first page came with the count");
        let far = l.model.item(4_321).unwrap();
        assert_eq!(l.request_at(4_321), None, "nothing read on the main loop");
        l.model.item(4_322).unwrap();
        assert_eq!(l.read(), 1, "one page asked for, once");
        assert_eq!(l.request_at(4_321).as_deref(), Some("req_678"));
        assert_eq!(l.model.item(4_321).unwrap(), far, "the same row, filled in");
        // A page read for the list before a change is dropped; the row
        // held is read again for the list as it is.
        let held = l.model.item(3_000).unwrap();
        l.writer().insert_batch(&[call(5_000)]).unwrap();
        l.refresh();
        assert_eq!(l.read(), 2, "the page asked before the change, and after");
        assert_eq!(l.model.item(3_001).unwrap(), held);
        assert_eq!(l.request_at(3_001).as_deref(), Some("req_1999"));
    }
}

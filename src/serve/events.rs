//! The live event stream: `record`, `alert`, `budget` and `price` events,
//! each with the JSON the REST API answers. An event's id is a position in
//! the ledger (`CALL.ALERT.EVENT`: the newest call, alert and budget-or-price
//! event told so far), so a client that comes back with its last id is told
//! what it missed from the ledger, not from memory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::api;
use crate::store::{Store, StoreError};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub call: i64,
    pub alert: i64,
    pub event: i64,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.call, self.alert, self.event)
    }
}

impl std::str::FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Cursor, String> {
        let parts: Vec<i64> = s
            .trim()
            .split('.')
            .map(|p| p.parse::<i64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("“{s}” is not an event id (CALL.ALERT.EVENT)"))?;
        match parts.as_slice() {
            [call, alert, event] if parts.iter().all(|n| *n >= 0) => Ok(Cursor {
                call: *call,
                alert: *alert,
                event: *event,
            }),
            _ => Err(format!("“{s}” is not an event id (CALL.ALERT.EVENT)")),
        }
    }
}

impl Cursor {
    fn max(self, o: Cursor) -> Cursor {
        Cursor {
            call: self.call.max(o.call),
            alert: self.alert.max(o.alert),
            event: self.event.max(o.event),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Event {
    pub kind: &'static str,
    /// Where this event is: its own kind's part is the event itself.
    pub at: Cursor,
    pub data: Arc<Value>,
}

impl Event {
    /// Whether a client that has been told up to `seen` has not had this one.
    pub fn is_after(&self, seen: &Cursor) -> bool {
        match self.kind {
            "record" => self.at.call > seen.call,
            "alert" => self.at.alert > seen.alert,
            _ => self.at.event > seen.event,
        }
    }

    /// As a client sees it: `{id, event, data}`, the id being everything
    /// it has been told with this.
    pub fn wire(&self, id: &Cursor) -> Value {
        json!({"id": id.to_string(), "event": self.kind, "data": &*self.data})
    }
}

/// Where live events are handed out.
pub struct Feed {
    tx: broadcast::Sender<Event>,
    head: Mutex<Cursor>,
}

impl Feed {
    pub fn new(head: Cursor) -> Feed {
        Feed {
            tx: broadcast::channel(4096).0,
            head: Mutex::new(head),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Whether any client is listening now.
    pub fn listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Moves past calls and alerts no one is listening for: a client that
    /// comes later with its last id reads them from the ledger.
    fn skip_to(&self, call: i64, alert: i64) {
        if let Ok(mut h) = self.head.lock() {
            h.call = h.call.max(call);
            h.alert = h.alert.max(alert);
        }
    }

    pub fn head(&self) -> Cursor {
        self.head.lock().map(|h| *h).unwrap_or_default()
    }

    fn tell(&self, e: Event) {
        if let Ok(mut h) = self.head.lock() {
            *h = h.max(e.at);
        }
        let _ = self.tx.send(e);
    }
}

fn record_event(at: Cursor, id: i64, r: &crate::core::UsageRecord) -> Event {
    Event {
        kind: "record",
        at: Cursor { call: id, ..at },
        data: Arc::new(api::record_json(id, r)),
    }
}

fn alert_event(at: Cursor, a: &crate::store::Alert) -> Event {
    Event {
        kind: "alert",
        at: Cursor { alert: a.id, ..at },
        data: Arc::new(serde_json::to_value(a).unwrap_or(Value::Null)),
    }
}

fn stored_event(at: Cursor, e: crate::store::StoredEvent) -> Event {
    Event {
        kind: if e.kind == "price" { "price" } else { "budget" },
        at: Cursor { event: e.seq, ..at },
        data: Arc::new(e.body),
    }
}

/// Up to `limit` events after `from`, from the ledger: calls, then alerts,
/// then budget and price events. True when there are more.
pub fn read_since(
    store: &Store,
    from: Cursor,
    limit: usize,
) -> Result<(Vec<Event>, bool), StoreError> {
    let mut out = Vec::new();
    for (id, r) in store.records_after(from.call, limit)? {
        out.push(record_event(from, id, &r));
    }
    if out.len() < limit {
        for a in store.alerts_after(from.alert, limit - out.len())? {
            out.push(alert_event(from, &a));
        }
    }
    if out.len() < limit {
        for e in store.events_after(from.event, limit - out.len())? {
            out.push(stored_event(from, e));
        }
    }
    let more = out.len() >= limit;
    Ok((out, more))
}

/// What the watcher remembers between looks.
struct Seen {
    /// Each budget's state and window when last told.
    budgets: BTreeMap<i64, (String, String)>,
    /// Each stored price's text, by provider and model.
    prices: BTreeMap<(String, String), String>,
}

/// Watches the ledger for what any writer did (this server, the app, the
/// command line, an import) and tells it: looks when `poke`d after a commit
/// here, and every 250 ms for other processes' (`data_version`). Calls
/// `prices_changed` when the stored prices change. Ends when `stop` is set.
pub fn watch(
    mut store: Store,
    feed: Arc<Feed>,
    poke: Receiver<()>,
    stop: Arc<AtomicBool>,
    prices_changed: impl Fn(),
) {
    let mut seen = Seen {
        budgets: BTreeMap::new(),
        prices: prices(&store).unwrap_or_default(),
    };
    for body in store.last_budget_events().unwrap_or_default() {
        if let Some(id) = body["policy"]["id"].as_i64() {
            seen.budgets.insert(id, budget_key(&body["policy"]));
        }
    }
    let mut version = store.data_version().unwrap_or(0);
    let mut slow_look = Instant::now() - Duration::from_secs(5);
    let mut pending_slow = true;
    while !stop.load(Ordering::Relaxed) {
        let poked = poke.recv_timeout(Duration::from_millis(250)).is_ok();
        while poke.try_recv().is_ok() {}
        let now_version = store.data_version().unwrap_or(version);
        if poked || now_version != version {
            version = now_version;
            pending_slow = true;
            if let Err(e) = tell_new(&store, &feed) {
                tracing::warn!("reading new records for the event stream failed: {e}");
            }
        }
        // Budgets and prices take longer to work out: at most once a second.
        if pending_slow && slow_look.elapsed() >= Duration::from_secs(1) {
            pending_slow = false;
            slow_look = Instant::now();
            match tell_changes(&mut store, &feed, &mut seen) {
                Ok(true) => prices_changed(),
                Ok(false) => {}
                Err(e) => tracing::warn!("working out budget changes failed: {e}"),
            }
            version = store.data_version().unwrap_or(version);
        }
    }
}

fn tell_new(store: &Store, feed: &Feed) -> Result<(), StoreError> {
    if !feed.listened() {
        let (call, alert, _) = store.feed_heads()?;
        feed.skip_to(call, alert);
        return Ok(());
    }
    loop {
        let head = feed.head();
        let records = store.records_after(head.call, 1000)?;
        let more = records.len() == 1000;
        for (id, r) in &records {
            feed.tell(record_event(feed.head(), *id, r));
        }
        if !more {
            break;
        }
    }
    for a in store.alerts_after(feed.head().alert, 1000)? {
        feed.tell(alert_event(feed.head(), &a));
    }
    Ok(())
}

fn budget_key(status: &Value) -> (String, String) {
    (
        status["state"].as_str().unwrap_or("").to_string(),
        status["window_start"].as_str().unwrap_or("").to_string(),
    )
}

fn prices(store: &Store) -> Result<BTreeMap<(String, String), String>, StoreError> {
    Ok(store
        .stored_prices()?
        .into_iter()
        .map(|p| {
            let key = (p.spec.provider.clone(), p.spec.model.clone());
            (key, format!("{}|{:?}", p.version, p.spec))
        })
        .collect())
}

/// Budget state changes and price changes since the last look, stored as
/// events and told; true when prices changed.
fn tell_changes(store: &mut Store, feed: &Feed, seen: &mut Seen) -> Result<bool, StoreError> {
    let now = Timestamp::now();
    let mut new = Vec::new();
    for s in crate::engine::status(store, now)? {
        let body = api::status_json(&s);
        let (state, window) = budget_key(&body);
        let before = seen.budgets.get(&s.id).cloned();
        let transition = match &before {
            None if state == "ok" => None,
            None => Some(state.clone()),
            Some((was, _)) if *was == state => None,
            Some((_, was_window)) if *was_window != window && state == "ok" => {
                Some("reset".to_string())
            }
            Some(_) => Some(state.clone()),
        };
        seen.budgets.insert(s.id, (state.clone(), window));
        if let Some(t) = transition {
            let previous = before.map(|(st, _)| st);
            new.push((
                now.as_millisecond(),
                "budget",
                json!({"transition": t, "previous": previous, "policy": body}),
            ));
        }
    }
    let current = prices(store)?;
    let mut prices_changed = false;
    for (key, text) in &current {
        if seen.prices.get(key) != Some(text) {
            prices_changed = true;
            let p = store
                .stored_prices()?
                .into_iter()
                .find(|p| p.spec.provider == key.0 && p.spec.model == key.1);
            if let Some(p) = p {
                new.push((
                    now.as_millisecond(),
                    "price",
                    json!({
                        "change": if seen.prices.contains_key(key) { "changed" } else { "added" },
                        "provider": key.0, "model": key.1, "version": p.version,
                        "price": serde_json::to_value(&p.spec).unwrap_or(Value::Null),
                    }),
                ));
            }
        }
    }
    prices_changed |= seen.prices.keys().any(|k| !current.contains_key(k));
    seen.prices = current;
    if new.is_empty() {
        return Ok(prices_changed);
    }
    let seqs = store.add_events(&new)?;
    for ((_, kind, body), seq) in new.into_iter().zip(seqs) {
        feed.tell(Event {
            kind: if kind == "price" { "price" } else { "budget" },
            at: Cursor {
                event: seq,
                ..feed.head()
            },
            data: Arc::new(body),
        });
    }
    Ok(prices_changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_what_they_print() {
        let c = Cursor {
            call: 12,
            alert: 3,
            event: 0,
        };
        assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        assert!("1.2".parse::<Cursor>().is_err());
        assert!("1.-2.3".parse::<Cursor>().is_err());
    }

    #[test]
    fn an_event_is_new_by_its_own_kind() {
        let seen = Cursor {
            call: 5,
            alert: 2,
            event: 7,
        };
        let e = |kind, at| Event {
            kind,
            at,
            data: Arc::new(Value::Null),
        };
        assert!(
            !e(
                "record",
                Cursor {
                    call: 5,
                    alert: 9,
                    event: 9
                }
            )
            .is_after(&seen)
        );
        assert!(e("record", Cursor { call: 6, ..seen }).is_after(&seen));
        assert!(e("alert", Cursor { alert: 3, ..seen }).is_after(&seen));
        assert!(!e("budget", seen).is_after(&seen));
    }
}

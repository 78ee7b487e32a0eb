//! Work on many files at once, results taken in order: `work` runs on worker
//! threads, `take` on the caller's, in index order. Workers stay at most
//! `AHEAD` items ahead of `take`, so a slow item never lets results pile up.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

const AHEAD: usize = 8;

/// Runs `work(i)` for `i` in `0..count` on up to `threads` threads and calls
/// `take(i, result)` for each in order. The first error from `take` stops it.
pub fn for_each<T: Send, E>(
    count: usize,
    threads: usize,
    work: impl Fn(usize) -> T + Sync,
    mut take: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E> {
    if threads <= 1 || count <= 1 {
        return (0..count).try_for_each(|i| take(i, work(i)));
    }
    // (next to claim, next to take, stopped)
    let progress = Mutex::new((0usize, 0usize, false));
    let moved = Condvar::new();
    let claim = || {
        let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (next, taken, stopped) = *p;
            if stopped || next >= count {
                return None;
            }
            if next < taken + AHEAD {
                p.0 += 1;
                return Some(next);
            }
            p = moved.wait(p).unwrap_or_else(|e| e.into_inner());
        }
    };
    std::thread::scope(|scope| {
        let (send, receive) = mpsc::channel();
        let mut started = 0;
        for _ in 0..threads.min(count) {
            let send = send.clone();
            let (claim, work) = (&claim, &work);
            let worker = move || {
                while let Some(i) = claim() {
                    if send.send((i, work(i))).is_err() {
                        return;
                    }
                }
            };
            // Named, so a profile tells the workers from the thread that takes.
            let spawned = std::thread::Builder::new()
                .name("tally-worker".into())
                .spawn_scoped(scope, worker);
            started += usize::from(spawned.is_ok());
        }
        drop(send);
        if started == 0 {
            // No thread to be had: the work is done here, in order, all the same.
            return (0..count).try_for_each(|i| take(i, work(i)));
        }
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        let result = (|| {
            for (i, result) in receive.iter() {
                waiting.insert(i, result);
                while let Some(result) = waiting.remove(&next) {
                    take(next, result)?;
                    next += 1;
                    progress.lock().unwrap_or_else(|e| e.into_inner()).1 = next;
                    moved.notify_all();
                }
            }
            Ok(())
        })();
        // On an error, workers stop claiming; the scope waits for the ones at work.
        progress.lock().unwrap_or_else(|e| e.into_inner()).2 = true;
        moved.notify_all();
        drop(receive);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_and_an_error_stops_the_rest() {
        let mut seen = Vec::new();
        let slow_first = |i: usize| {
            if i == 0 {
                std::thread::sleep(std::time::Duration::from_millis(30));
            }
            i * 10
        };
        for_each(100, 3, slow_first, |i, r| {
            seen.push((i, r));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(seen, (0..100).map(|i| (i, i * 10)).collect::<Vec<_>>());

        let mut taken = 0;
        let stopped = for_each(
            1_000,
            2,
            |i| i,
            |i, _| {
                taken += 1;
                if i == 5 { Err(i) } else { Ok(()) }
            },
        );
        assert_eq!(stopped, Err(5));
        assert_eq!(taken, 6);
    }
}

//! Where a period is heading, and whether a day is out of the ordinary.

use jiff::Timestamp;
use serde::Serialize;

use super::period::Window;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Projection {
    /// Expected amount at the end of the window.
    pub expected: i64,
    /// A rough 90 % interval around it, from how much the days so far varied.
    pub low: i64,
    pub high: i64,
}

/// Too early in a window, one busy hour would forecast a disaster.
const MIN_ELAPSED_SHARE: f64 = 0.1;
const MIN_ELAPSED_SECS: f64 = 6.0 * 3600.0;
const DAY_SECS: f64 = 86_400.0;

/// Projects `used` to the end of `window` at the rate seen so far. `daily` is
/// what each whole day of the window used, for the interval. `None` when the
/// window has no end, or too little of it has passed to say.
pub fn project(used: i64, window: &Window, now: Timestamp, daily: &[i64]) -> Option<Projection> {
    let end = window.end?;
    let total = end.duration_since(window.start).as_secs_f64();
    let elapsed = now.duration_since(window.start).as_secs_f64();
    if total <= 0.0 || elapsed >= total {
        return Some(Projection {
            expected: used,
            low: used,
            high: used,
        });
    }
    if elapsed < MIN_ELAPSED_SECS || elapsed < total * MIN_ELAPSED_SHARE {
        return None;
    }
    let left = total - elapsed;
    let rate = used as f64 / elapsed;
    let expected = used as f64 + rate * left;
    // Daily amounts as independent draws: the spread of the remaining days' sum
    // grows with the square root of their number.
    let spread = if daily.len() >= 2 {
        let mean = daily.iter().sum::<i64>() as f64 / daily.len() as f64;
        let var = daily
            .iter()
            .map(|&d| (d as f64 - mean).powi(2))
            .sum::<f64>()
            / (daily.len() - 1) as f64;
        1.645 * var.sqrt() * (left / DAY_SECS).sqrt()
    } else {
        expected - used as f64
    };
    Some(Projection {
        expected: expected.round() as i64,
        low: (expected - spread).max(used as f64).round() as i64,
        high: (expected + spread).round() as i64,
    })
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Fewer days than this and "usual" means little.
pub const MIN_HISTORY: usize = 7;
/// A robust z-score above this is an anomaly.
pub const ANOMALY_SCORE: f64 = 5.0;

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    pub value: i64,
    pub usual: i64,
    pub score: f64,
}

/// Whether `value` is far above `history` (the same scope's earlier days or
/// hours): a robust z-score from the median and the median absolute deviation,
/// which a few earlier spikes cannot inflate. It must also be at least twice the
/// usual level, so a flat history does not flag small wiggles. `floor` is the
/// smallest spread assumed, in the metric's units, so that going from nothing
/// to a few cents is not an alarm.
pub fn anomaly(history: &[i64], value: i64, floor: i64) -> Option<Anomaly> {
    if history.len() < MIN_HISTORY || value <= 0 {
        return None;
    }
    let mut xs: Vec<f64> = history.iter().map(|&v| v as f64).collect();
    xs.sort_by(f64::total_cmp);
    let med = median(&xs);
    let mut dev: Vec<f64> = xs.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    // 1.4826 scales the MAD to a standard deviation for normal data; a zero MAD
    // (most days identical) falls back to a tenth of the median, or the floor.
    let sigma = (1.4826 * median(&dev))
        .max(med.abs() / 10.0)
        .max(floor.max(1) as f64);
    let score = (value as f64 - med) / sigma;
    (score >= ANOMALY_SCORE && value as f64 >= 2.0 * med).then_some(Anomaly {
        value,
        usual: med.round() as i64,
        score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn march() -> Window {
        Window {
            start: ts("2026-03-01T00:00:00Z"),
            end: Some(ts("2026-03-31T00:00:00Z")),
        }
    }

    #[test]
    fn a_steady_rate_projects_linearly() {
        // 10 of 30 days gone, 100 used: 300 expected; days that vary give an interval.
        let p = project(100, &march(), ts("2026-03-11T00:00:00Z"), &[10; 10]).unwrap();
        assert_eq!(p.expected, 300);
        assert_eq!((p.low, p.high), (300, 300));
        let p = project(
            100,
            &march(),
            ts("2026-03-11T00:00:00Z"),
            &[0, 20, 0, 20, 0, 20, 0, 20, 0, 20],
        )
        .unwrap();
        assert_eq!(p.expected, 300);
        assert!(p.low < 300 && p.high > 300 && p.low >= 100);
    }

    #[test]
    fn too_early_or_no_end_gives_no_projection() {
        assert_eq!(
            project(100, &march(), ts("2026-03-02T00:00:00Z"), &[]),
            None
        );
        let open = Window {
            start: ts("2026-03-01T00:00:00Z"),
            end: None,
        };
        assert_eq!(project(100, &open, ts("2026-03-20T00:00:00Z"), &[]), None);
        let done = project(100, &march(), ts("2026-04-02T00:00:00Z"), &[]).unwrap();
        assert_eq!(done.expected, 100);
    }

    #[test]
    fn a_spike_is_an_anomaly_and_a_usual_day_is_not() {
        let history = [100, 110, 90, 105, 95, 100, 102, 98, 101, 99];
        assert_eq!(anomaly(&history, 120, 1), None);
        let a = anomaly(&history, 1000, 1).unwrap();
        assert_eq!(a.usual, 100);
        assert!(a.score > 50.0);
        // One earlier spike does not hide the next.
        let spiky = [100, 110, 90, 105, 5000, 100, 102, 98, 101, 99];
        assert!(anomaly(&spiky, 1000, 1).is_some());
        // Too little history says nothing.
        assert_eq!(anomaly(&history[..5], 1000, 1), None);
        // A flat history with zero spread still needs twice the usual level.
        assert_eq!(anomaly(&[100; 10], 150, 1), None);
        assert!(anomaly(&[100; 10], 250, 1).is_some());
        // From nothing to something under five floors is not alarming; to a lot is.
        assert_eq!(anomaly(&[0; 10], 3, 1), None);
        assert_eq!(anomaly(&[0; 10], 4_000, 1_000), None);
        assert!(anomaly(&[0; 10], 6_000, 1_000).is_some());
    }
}

//! The window on a 1,000,000-call ledger, as a Claude Code and Codex user has
//! it: their logs imported and followed. Measured through the app's probe
//! (`TALLY_BENCH_PROBE`, see `src/ui/probe.rs`): start to first frame and the
//! memory then, idle CPU, another process's `tally record` until the history
//! and the dashboard show it, and the longest main-loop stall while another
//! process imports a million log lines.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tally::store::Store;

use super::{agent_logs, median, million_ledger, report};

const APP: &str = env!("CARGO_BIN_EXE_tally-app");
const TALLY: &str = env!("CARGO_BIN_EXE_tally");
/// How long any awaited line may take before the run is called broken.
const PATIENCE: Duration = Duration::from_secs(120);

/// A running `tally-app` and the lines its probe says, with when they came.
pub struct App {
    child: Child,
    pub started: Instant,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl App {
    pub fn start(db: &Path, home: &Path, probe: &str) -> App {
        let started = Instant::now();
        let mut child = Command::new(APP)
            .arg("--db")
            .arg(db)
            .env("HOME", home)
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("CODEX_HOME")
            .env("TALLY_BENCH_PROBE", probe)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tally-app");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        App {
            child,
            started,
            lines,
        }
    }

    /// Waits for a line `wanted` accepts; when it came.
    pub fn wait(&self, mut wanted: impl FnMut(&str) -> bool) -> Instant {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if wanted(&line) => return at,
                Ok(_) => {}
                Err(e) => panic!("tally-app never said what was awaited: {e}"),
            }
        }
    }

    /// The last number said after `prefix` among the lines so far.
    fn latest(&self, prefix: &str) -> Option<u64> {
        self.lines
            .try_iter()
            .filter_map(|(_, l)| l.strip_prefix(prefix)?.trim().parse().ok())
            .last()
    }

    pub fn status(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    }

    /// CPU time used so far, in clock ticks (10 ms).
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).expect("/proc stat");
        let fields: Vec<u64> = stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|f| f.parse().ok())
            .collect();
        fields.iter().sum()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A home with a Claude Code and a Codex user's logs, imported into `db` the
/// way a new user does, then followed by the app.
fn real_home(dir: &Path, db: &Path) -> PathBuf {
    let home = dir.join("app-home");
    if home.exists() {
        return home;
    }
    agent_logs::imported_home(&home, db, 11);
    home
}

/// `runs` starts of the app on `db`: each one's time to its first drawn
/// dashboard, and the largest peak RSS among them in MB.
pub fn first_frames(db: &Path, home: &Path, runs: usize) -> (Vec<Duration>, f64) {
    let mut frames = Vec::new();
    let mut peak: f64 = 0.0;
    for _ in 0..runs {
        let app = App::start(db, home, "dashboard");
        let at = app.wait(|l| l == "first-frame");
        frames.push(at - app.started);
        peak = peak.max(app.status("VmHWM:") / 1024.0);
    }
    (frames, peak)
}

fn record_now(db: &Path, n: usize) {
    let out = Command::new(TALLY)
        .args(["record", "--model", "gpt-4o", "--input", "1200", "--output"])
        .arg("300")
        .arg("--request-id")
        .arg(format!(
            "visible-{n}-{}",
            jiff::Timestamp::now().as_nanosecond()
        ))
        .arg("--db")
        .arg(db)
        .output()
        .expect("tally record");
    assert!(out.status.success(), "tally record: {out:?}");
}

pub fn bench_app(dir: &Path) -> bool {
    if std::env::var_os("DISPLAY").is_none() {
        println!("no DISPLAY: the window figures need one (run under tools/with-display.sh)");
        return true;
    }
    let db = million_ledger(dir);
    let home = real_home(dir, &db);
    let mut ok = true;

    // Start to the first drawn dashboard, and the memory the app holds then.
    let (frames, peak) = first_frames(&db, &home, 7);
    let (lo, mid, hi) = median(frames);
    println!(
        "tally-app start to its first drawn dashboard, 1M calls and followed logs, 7 runs: median {mid:.0?} (min {lo:.0?}, max {hi:.0?}), peak RSS {peak:.0} MB"
    );
    ok &= report(
        "start to first dashboard frame, 1M calls (median)",
        mid.as_secs_f64() * 1e3,
        500.0,
        "ms",
        false,
    );
    ok &= report(
        "the app's peak RSS at its first frame",
        peak,
        150.0,
        "MB",
        false,
    );

    // Idle with the agents' folders followed: CPU each second for 30 s.
    let app = App::start(&db, &home, "dashboard");
    app.wait(|l| l == "first-frame");
    std::thread::sleep(Duration::from_secs(5));
    let mut seconds = Vec::new();
    let (first, start) = (app.cpu_ticks(), Instant::now());
    let mut before = first;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_secs(1));
        let now = app.cpu_ticks();
        seconds.push(Duration::from_millis((now - before) * 10));
        before = now;
    }
    let whole = (before - first) as f64 * 10.0 / start.elapsed().as_millis() as f64 * 100.0;
    let (_, mid, hi) = median(seconds);
    let mid_pct = mid.as_secs_f64() * 100.0;
    println!(
        "idle 30 s: median {mid_pct:.1} % of a core per second (max {:.0} %), {whole:.2} % over the whole 30 s",
        hi.as_secs_f64() * 100.0
    );
    ok &= report(
        "idle CPU, followed logs, 1M calls (median of 30 s)",
        mid_pct,
        1.0,
        "% of a core",
        false,
    );
    ok &= report(
        "idle CPU, followed logs, 1M calls (30 s as a whole)",
        whole,
        1.0,
        "% of a core",
        false,
    );
    drop(app);

    // Another process's record until the Usage history lists it.
    let app = App::start(&db, &home, "history");
    let mut listed = 0;
    app.wait(|l| {
        l.strip_prefix("history ")
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| {
                listed = n;
                n > 0
            })
    });
    std::thread::sleep(Duration::from_secs(1));
    listed = app.latest("history ").unwrap_or(listed);
    let mut samples = Vec::new();
    for n in 0..21 {
        let start = Instant::now();
        record_now(&db, n);
        let want = (listed + 1 + n as u64).to_string();
        let at = app.wait(|l| l.strip_prefix("history ") == Some(want.as_str()));
        samples.push(at - start);
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(app);
    let (lo, mid, hi) = median(samples);
    println!(
        "`tally record` until the history lists it, 21 runs: median {mid:.0?} (min {lo:.0?}, max {hi:.0?})"
    );
    ok &= report(
        "record → visible in the Usage history, 1M calls (median)",
        mid.as_secs_f64() * 1e3,
        300.0,
        "ms",
        false,
    );

    // And until the dashboard shows it as the last call.
    let app = App::start(&db, &home, "dashboard");
    app.wait(|l| l == "first-frame");
    std::thread::sleep(Duration::from_secs(1));
    let mut shown = app.latest("dashboard ").unwrap_or(0);
    let mut samples = Vec::new();
    for n in 0..21 {
        let start = Instant::now();
        record_now(&db, 100 + n);
        let at = app.wait(|l| {
            l.strip_prefix("dashboard ")
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|v| {
                    let newer = v > shown;
                    shown = shown.max(v);
                    newer
                })
        });
        samples.push(at - start);
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(app);
    let (lo, mid, hi) = median(samples);
    println!(
        "`tally record` until the dashboard shows it, 21 runs: median {mid:.0?} (min {lo:.0?}, max {hi:.0?})"
    );
    ok &= report(
        "record → visible on the dashboard, 1M calls (median)",
        mid.as_secs_f64() * 1e3,
        300.0,
        "ms",
        false,
    );

    ok &= stall_during_import(dir, &db, &home);
    ok
}

/// Another process imports about a million Claude Code lines into a copy of
/// the ledger while the window shows the Usage history: the longest gap of
/// the main loop from the import's start until the history lists every call.
fn stall_during_import(dir: &Path, million: &Path, home: &Path) -> bool {
    let logs = std::env::var_os("TALLY_BENCH_LOGS").map_or_else(|| dir.join("claude"), Into::into);
    if !logs.exists() {
        let cfg = agent_logs::ClaudeConfig {
            seed: 1,
            projects: 20,
            sessions: 50,
            calls: 310,
            noise: true,
            padding: 270,
        };
        agent_logs::write_claude_logs(&logs, &cfg);
    }
    let db = dir.join("stall.sqlite");
    // The last connection to close folds the WAL in: the copy is whole.
    drop(Store::open(million).expect("ledger"));
    std::fs::copy(million, &db).expect("copy the ledger");
    let app = App::start(&db, home, "history,heartbeat");
    app.wait(|l| l == "heartbeat");
    app.wait(|l| l.starts_with("history ") && l != "history 0");
    std::thread::sleep(Duration::from_secs(2));
    // The gaps of the start (the history's first rows made): they show the
    // heartbeat hears a stall, and are not the import's.
    let before: Vec<u64> = app
        .lines
        .try_iter()
        .filter_map(|(_, l)| l.strip_prefix("gap ")?.parse().ok())
        .collect();
    println!(
        "before the import: {} main-loop gaps over 40 ms while the window started, the longest {} ms",
        before.len(),
        before.iter().max().unwrap_or(&0)
    );
    let start = Instant::now();
    let out = Command::new(TALLY)
        .args(["import", "claude-code", "--db"])
        .arg(&db)
        .arg(&logs)
        .output()
        .expect("tally import");
    assert!(out.status.success(), "tally import: {out:?}");
    let imported = start.elapsed();
    let stored: u64 = Store::open(&db)
        .expect("ledger")
        .history_count(&Default::default())
        .expect("count");
    let mut longest = 0u64;
    let want = format!("history {stored}");
    let mut gaps = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (_, line) = app
            .lines
            .recv_timeout(left)
            .expect("the history never listed every call");
        if let Some(gap) = line
            .strip_prefix("gap ")
            .and_then(|g| g.parse::<u64>().ok())
        {
            longest = longest.max(gap);
            gaps.push(gap);
        }
        if line == want {
            break;
        }
    }
    // Gaps said after this line belong to the import too: let them arrive.
    std::thread::sleep(Duration::from_millis(500));
    for (_, line) in app.lines.try_iter() {
        if let Some(gap) = line
            .strip_prefix("gap ")
            .and_then(|g| g.parse::<u64>().ok())
        {
            longest = longest.max(gap);
            gaps.push(gap);
        }
    }
    drop(app);
    let _ = std::fs::remove_file(&db);
    println!(
        "another process imported the logs in {:.1} s while the history was shown: {} main-loop gaps over 40 ms, the longest {longest} ms",
        imported.as_secs_f64(),
        gaps.len()
    );
    report(
        "longest main-loop stall during a 1M-line import",
        longest as f64,
        100.0,
        "ms",
        false,
    )
}

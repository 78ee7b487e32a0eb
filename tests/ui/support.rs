//! What every scenario uses: finding widgets, waiting for what the window
//! does, running the command line beside it, screenshots.

pub use std::cell::Cell;
pub use std::path::{Path, PathBuf};
pub use std::process::Command;
pub use std::rc::Rc;
pub use std::time::{Duration, Instant};

pub use relm4::adw;
pub use relm4::adw::prelude::*;
pub use relm4::gtk::{self, gio, glib};
pub use tally::core::Money;
pub use tally::core::usage::{Cost, TokenCounts, UsageRecord};
pub use tally::store::Store;

pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

pub fn record(i: u64, model: &str, provider: &str, project: &str) -> UsageRecord {
    let at = jiff::Timestamp::from_second(1_763_000_000 + i as i64 * 600).expect("valid time");
    let mut r = UsageRecord::new(at, provider, model);
    r.source = "test".into();
    r.project = project.into();
    r.user = "alice".into();
    r.request_id = Some(format!("req_{i}"));
    r.tokens = TokenCounts {
        input: 1_000 + i,
        output: 200,
        ..TokenCounts::default()
    };
    r.cost = Cost::Priced {
        amount: Money::from_nanos(1_234_000 * (i as i64 + 1)),
        price_version: "test".into(),
    };
    r
}

/// Depth-first search for the first widget that `wanted` accepts.
pub fn find_where(
    root: &gtk::Widget,
    wanted: &dyn Fn(&gtk::Widget) -> bool,
) -> Option<gtk::Widget> {
    if wanted(root) {
        return Some(root.clone());
    }
    let mut child = root.first_child();
    while let Some(c) = child {
        if let Some(found) = find_where(&c, wanted) {
            return Some(found);
        }
        child = c.next_sibling();
    }
    None
}

pub fn find(root: &gtk::Widget, name: &str) -> Option<gtk::Widget> {
    find_where(root, &|w| w.widget_name() == name)
}

pub struct Check {
    pub window: gtk::Widget,
    pub failures: Rc<Cell<u32>>,
}

impl Check {
    pub fn widget(&self, name: &str) -> gtk::Widget {
        find(&self.window, name).unwrap_or_else(|| panic!("no widget named {name}"))
    }

    pub fn expect(&self, ok: bool, what: &str) {
        if ok {
            eprintln!("  ok: {what}");
        } else {
            eprintln!("  FAILED: {what}");
            self.failures.set(self.failures.get() + 1);
        }
    }

    pub fn rows(&self) -> u32 {
        let view = self
            .widget("history-list")
            .downcast::<gtk::ColumnView>()
            .expect("a column view");
        view.model().map_or(0, |m| m.n_items())
    }

    pub fn page(&self) -> String {
        let stack = self
            .widget("history-stack")
            .downcast::<gtk::Stack>()
            .expect("a stack");
        stack
            .visible_child_name()
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    pub fn dashboard_page(&self) -> String {
        self.widget("dashboard-stack")
            .downcast::<gtk::Stack>()
            .expect("a stack")
            .visible_child_name()
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    pub fn label(&self, name: &str) -> String {
        self.widget(name)
            .downcast::<gtk::Label>()
            .map(|l| l.label().to_string())
            .unwrap_or_default()
    }

    pub fn show(&self, view: &str) {
        let _ = WidgetExt::activate_action(&self.window, &format!("win.view-{view}"), None);
    }

    pub fn count_label(&self) -> String {
        self.widget("history-count")
            .downcast::<gtk::Label>()
            .expect("a label")
            .text()
            .to_string()
    }
}

pub async fn pause(ms: u64) {
    glib::timeout_future(Duration::from_millis(ms)).await;
}

/// Waits until `done` holds, up to `limit`; returns how long it took, if it did.
pub async fn wait_for(limit: Duration, done: impl Fn() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        pause(20).await;
    }
    done().then(|| start.elapsed())
}

/// Runs `tally … --db db` from another process; says why when it fails.
/// As `tally`, on a thread of its own: the main loop runs meanwhile, so a
/// heartbeat measures the window, not the wait for the process.
pub async fn tally_beside(db: &Path, args: &[&str]) -> bool {
    let db = db.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    gio::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tally(&db, &args)
    })
    .await
    .unwrap_or(false)
}

pub fn tally(db: &Path, args: &[&str]) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run tally");
    if !out.status.success() {
        eprintln!(
            "  tally {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    out.status.success()
}

/// Saves a picture of the screen. Taking it blocks the main loop, so the
/// window is first given time to end its transitions (GTK's last 200–250 ms)
/// and paint what the test just changed, or the picture shows an older frame.
pub async fn screenshot(name: &str) {
    pause(400).await;
    let path = artifacts().join(format!("ui-{name}.png"));
    let ok = Command::new("import")
        .args(["-window", "root"])
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    eprintln!(
        "  screenshot {}: {}",
        path.display(),
        if ok {
            "saved"
        } else {
            "FAILED (is imagemagick installed?)"
        }
    );
}

pub fn toplevel(name: &str) -> Option<gtk::Window> {
    gtk::Window::list_toplevels()
        .into_iter()
        .filter_map(|w| w.downcast::<gtk::Window>().ok())
        .find(|w| w.widget_name() == name && w.is_visible())
}

pub fn set_text(root: &gtk::Widget, name: &str, text: &str) {
    find(root, name)
        .and_then(|w| w.downcast::<gtk::Editable>().ok())
        .unwrap_or_else(|| panic!("no entry named {name}"))
        .set_text(text);
}

/// Every label under `root`, in order.
pub fn labels(root: &gtk::Widget) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(w) = stack.pop() {
        if let Some(l) = w.downcast_ref::<gtk::Label>() {
            out.push(l.label().to_string());
        }
        let mut child = w.last_child();
        while let Some(c) = child {
            child = c.prev_sibling();
            stack.push(c);
        }
    }
    out
}

pub fn select(check: &Check, name: &str, index: u32) {
    check
        .widget(name)
        .downcast::<gtk::DropDown>()
        .expect("a drop-down")
        .set_selected(index);
}

/// Saves the report through the Export button's file chooser.
pub async fn export_through_the_chooser(check: &Check, button: &str, path: &Path) -> bool {
    check
        .widget(button)
        .downcast::<gtk::Button>()
        .expect("a button")
        .emit_clicked();
    let found = wait_for(Duration::from_secs(10), || {
        gtk::Window::list_toplevels()
            .into_iter()
            .any(|w| w.is::<gtk::FileChooserDialog>() && w.is_visible())
    })
    .await;
    let Some(dialog) = gtk::Window::list_toplevels()
        .into_iter()
        .filter(|w| w.is_visible())
        .find_map(|w| w.downcast::<gtk::FileChooserDialog>().ok())
        .filter(|_| found.is_some())
    else {
        return false;
    };
    // The chooser may still be loading its first folder: set ours until it holds.
    let folder = gio::File::for_path(path.parent().expect("a folder"));
    let name = path
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .to_string();
    let chosen = wait_for(Duration::from_secs(10), || {
        let _ = dialog.set_current_folder(Some(&folder));
        dialog.set_current_name(&name);
        dialog.file().and_then(|f| f.path()).as_deref() == Some(path)
    })
    .await;
    if chosen.is_none() {
        eprintln!("  the chooser would not take {}", path.display());
        return false;
    }
    dialog.response(gtk::ResponseType::Accept);
    wait_for(Duration::from_secs(10), || path.exists())
        .await
        .is_some()
}

/// CPU time this process has used, in clock ticks (a tick is 10 ms).
pub fn own_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Records the longest time between two runs of a 50 ms main-loop timer: how
/// long the window could not have drawn or answered a click.
pub struct Heartbeat {
    longest: Rc<Cell<Duration>>,
    source: Option<glib::SourceId>,
}

impl Heartbeat {
    pub fn start() -> Heartbeat {
        let longest = Rc::new(Cell::new(Duration::ZERO));
        let (l, last) = (longest.clone(), Cell::new(Instant::now()));
        let source = glib::timeout_add_local(Duration::from_millis(50), move || {
            let gap = last.replace(Instant::now()).elapsed();
            l.set(l.get().max(gap));
            glib::ControlFlow::Continue
        });
        Heartbeat {
            longest,
            source: Some(source),
        }
    }

    pub fn stop(mut self) -> Duration {
        if let Some(s) = self.source.take() {
            s.remove();
        }
        self.longest.get()
    }
}

/// A loopback HTTP server that takes one request and answers it only after
/// `delay`: a webhook that hangs. Returns its URL and whether a request came.
pub fn slow_webhook(delay: Duration) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let came = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = came.clone();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(delay);
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (url, came)
}

pub fn claude_line(msg: &str, req: &str) -> String {
    format!(
        r#"{{"parentUuid":null,"isSidechain":false,"type":"assistant","timestamp":"2025-11-13T10:00:00.000Z","sessionId":"s","version":"2.0.1","cwd":"/home/ada/web","requestId":"{req}","message":{{"id":"{msg}","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"hi"}}],"usage":{{"input_tokens":10,"output_tokens":20,"cache_read_input_tokens":100,"cache_creation_input_tokens":30,"service_tier":"standard"}}}}}}"#
    ) + "\n"
}

/// Clicks the first-run offer's Import button (answering and closing as a
/// person's click does); false when it has none.
pub fn click_import(dialog: &adw::MessageDialog) -> bool {
    let import = find_where(dialog.upcast_ref(), &|w| {
        w.downcast_ref::<gtk::Button>()
            .and_then(|b| b.label())
            .is_some_and(|l| l == "_Import")
    })
    .and_then(|w| w.downcast::<gtk::Button>().ok());
    if let Some(b) = &import {
        b.emit_clicked();
    }
    import.is_some()
}

/// Idle, with the agents' folders followed: over 10 s the app uses at most
/// 0.3 s of CPU, and another connection sees no commit (`data_version`).
pub async fn idles(check: &Check, db: &Path) {
    pause(2000).await;
    let other = rusqlite::Connection::open(db).expect("ledger");
    let version = || -> i64 {
        other
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap_or(-1)
    };
    let (v0, t0) = (version(), own_cpu_ticks());
    pause(10_000).await;
    let (v1, used) = (version(), own_cpu_ticks() - t0);
    check.expect(
        used <= 30,
        &format!("idle for 10 s, the app used {used} ticks of CPU (at most 30)"),
    );
    check.expect(v0 == v1, "idle, nothing changed the ledger (data_version)");
}

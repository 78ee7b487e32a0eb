//! Rewriting a ledger from an older Tally into this version's format, before
//! the window opens: seconds on a large ledger, so it runs on a thread while a
//! small window shows how far it is. A kill meanwhile leaves the old ledger.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use relm4::adw;
use relm4::adw::prelude::*;
use relm4::gtk::{self, glib};

use crate::i18n::gettext;
use crate::store::Store;

/// Shown only if the rewrite is still going after this long: a small ledger
/// is done before a window would be seen.
const SHOW_AFTER: Duration = Duration::from_millis(300);

/// Rewrites the ledger at `path` if it needs it. Whatever goes wrong is left
/// for the ordinary open, which rewrites it too (without a window) or says why.
pub fn update_if_needed(path: &Path) {
    if !Store::needs_rewrite(path) || adw::init().is_err() {
        return;
    }
    let (send, receive) = mpsc::channel::<f64>();
    let owned = path.to_owned();
    let worker = std::thread::Builder::new()
        .name("tally-update".into())
        .spawn(move || {
            let _ = Store::open_updating(&owned, &mut |f| {
                let _ = send.send(f);
            });
        });
    let Ok(worker) = worker else {
        return;
    };
    let bar = gtk::ProgressBar::builder().show_text(true).build();
    bar.set_widget_name("format-update-progress");
    let content = gtk::Box::builder()
        .orientation(gtk::Orientation::Vertical)
        .spacing(12)
        .margin_top(24)
        .margin_bottom(24)
        .margin_start(24)
        .margin_end(24)
        .build();
    let title = gtk::Label::new(Some(&gettext("Updating Your Ledger")));
    title.add_css_class("title-2");
    let body = gtk::Label::builder()
        .label(gettext(
            "Tally is rewriting your ledger into this version’s smaller, faster format. This happens once; nothing is lost if it is stopped.",
        ))
        .wrap(true)
        .max_width_chars(44)
        .justify(gtk::Justification::Center)
        .build();
    content.append(&title);
    content.append(&body);
    content.append(&bar);
    let window = adw::Window::builder()
        .title(gettext("Tally"))
        .content(&content)
        .default_width(420)
        .resizable(false)
        .deletable(false)
        .build();
    let main_loop = glib::MainLoop::new(None, false);
    let started = Instant::now();
    let l = main_loop.clone();
    glib::timeout_add_local(Duration::from_millis(50), move || {
        let mut fraction = None;
        loop {
            match receive.try_recv() {
                Ok(f) => fraction = Some(f),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    l.quit();
                    return glib::ControlFlow::Break;
                }
            }
        }
        if let Some(f) = fraction {
            bar.set_fraction(f);
        }
        if !window.is_visible() && started.elapsed() >= SHOW_AFTER {
            window.present();
        }
        glib::ControlFlow::Continue
    });
    main_loop.run();
    let _ = worker.join();
}

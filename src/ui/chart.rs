//! A chart from `crate::charts` in a `gtk::DrawingArea`, drawn by cairo: it
//! redraws when resized, when its data is replaced and when the style turns
//! light or dark.

use std::cell::RefCell;
use std::rc::Rc;

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, IntoDrawingArea};
use plotters_cairo::CairoBackend;
use relm4::adw;
use relm4::gtk::{self, prelude::*};

use crate::charts::Palette;

type Draw<T> = fn(
    &DrawingArea<CairoBackend, Shift>,
    &T,
    &Palette,
) -> Result<(), plotters::drawing::DrawingAreaErrorKind<gtk::cairo::Error>>;

/// A drawing area showing `data` with `draw`, and the handle to replace the data.
pub struct Chart<T> {
    pub area: gtk::DrawingArea,
    data: Rc<RefCell<T>>,
}

impl<T: Default + 'static> Chart<T> {
    pub fn new(draw: Draw<T>, height: i32) -> Chart<T> {
        let area = gtk::DrawingArea::builder()
            .content_height(height)
            .hexpand(true)
            .build();
        let data: Rc<RefCell<T>> = Rc::default();
        let d = data.clone();
        area.set_draw_func(move |_, cr, w, h| {
            let palette = Palette::for_dark(adw::StyleManager::default().is_dark());
            let Ok(backend) = CairoBackend::new(cr, (w.max(1) as u32, h.max(1) as u32)) else {
                return;
            };
            let root = backend.into_drawing_area();
            // A chart that cannot be drawn leaves its space empty; nothing to recover.
            if let Err(e) = draw(&root, &d.borrow(), &palette) {
                tracing::warn!("a chart could not be drawn: {e}");
            }
            let _ = root.present();
        });
        let a = area.clone();
        adw::StyleManager::default().connect_dark_notify(move |_| a.queue_draw());
        Chart { area, data }
    }

    pub fn set(&self, data: T) {
        *self.data.borrow_mut() = data;
        self.area.queue_draw();
    }

    /// The data, for what else reads it (a tooltip).
    pub fn shared(&self) -> Rc<RefCell<T>> {
        self.data.clone()
    }
}

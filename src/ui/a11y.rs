//! Accessible names. gtk-rs exposes GtkAccessible only from GTK 4.10; Debian 12 has
//! 4.8, whose C call (present since GTK 4.0) is declared and used directly here.

use std::ffi::{c_int, c_void};

use relm4::gtk::glib::gobject_ffi::GValue;
use relm4::gtk::glib::translate::ToGlibPtr;
use relm4::gtk::{self, prelude::*};

/// `GTK_ACCESSIBLE_PROPERTY_LABEL` in GTK's C headers.
const PROPERTY_LABEL: c_int = 4;

unsafe extern "C" {
    fn gtk_accessible_update_property_value(
        accessible: *mut c_void,
        n_properties: c_int,
        properties: *mut c_int,
        values: *const GValue,
    );
}

/// Gives a control the name a screen reader announces.
pub fn set_label(widget: &impl IsA<gtk::Widget>, label: &str) {
    let value = label.to_value();
    let mut property = [PROPERTY_LABEL];
    let widget: &gtk::Widget = widget.upcast_ref();
    let pointer: *mut gtk::ffi::GtkWidget = widget.to_glib_none().0;
    // SAFETY: every GtkWidget implements GtkAccessible; one property with one value,
    // both alive for the call, and GTK copies the value.
    unsafe {
        gtk_accessible_update_property_value(
            pointer.cast(),
            1,
            property.as_mut_ptr(),
            ToGlibPtr::<*const GValue>::to_glib_none(&value).0,
        );
    }
}

#!/bin/sh
# Installs the Debian packages Tally needs to build, run and test, if any are
# missing. Quiet when everything is there; says what to do when not root.
set -eu

PACKAGES="build-essential pkg-config libgtk-4-dev libadwaita-1-dev gettext locales
desktop-file-utils appstream xvfb xauth dbus dbus-x11 imagemagick adwaita-icon-theme fonts-cantarell
dunst curl postgresql gnome-keyring"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "tally: please run as root: $*" >&2
        exit 1
    fi
}

if [ -n "$missing" ]; then
    echo "Installing Debian packages:$missing"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The German translation test runs under de_DE.UTF-8.
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
    echo "Generating the de_DE.UTF-8 locale"
    as_root sh -c "sed -i 's/^# *de_DE.UTF-8 UTF-8/de_DE.UTF-8 UTF-8/' /etc/locale.gen && locale-gen >/dev/null"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "tally: Rust is missing. Install it with rustup (https://rustup.rs), then run make again." >&2
    exit 1
fi

#!/bin/sh
# Runs a command with a private X display (Xvfb) and a private D-Bus session bus,
# both stopped when the command ends. Used by `make test` for the window tests,
# so they never open windows on a developer's own screen.
set -eu
exec dbus-run-session -- xvfb-run --auto-servernum --server-args="-screen 0 1280x800x24" "$@"

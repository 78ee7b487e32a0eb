#!/bin/sh
# Regenerates po/tally.pot from the files in po/POTFILES.in and merges it into
# every translation. Run from anywhere: ./po/update-pot.sh
set -eu
cd "$(dirname "$0")/.."
rust_files=$(grep -v '^#' po/POTFILES.in | grep '\.rs$' || true)
other_files=$(grep -v '^#' po/POTFILES.in | grep -v '\.rs$' || true)
# xgettext has no Rust parser in Debian 12's gettext; the C one reads gettext("…")
# and ngettext("…", "…", n) calls in Rust correctly.
xgettext --from-code=UTF-8 --language=C --keyword=gettext --keyword=ngettext:1,2 --keyword=pgettext:1c,2 \
    --add-comments=Translators --package-name=tally --msgid-bugs-address=https://github.com/tallyapp/tally/issues \
    -o po/tally.pot $rust_files 2>&1 | grep -v "unterminated" >&2 || true
xgettext --from-code=UTF-8 --join-existing --add-comments=Translators -o po/tally.pot $other_files
sed -i 's/charset=CHARSET/charset=UTF-8/' po/tally.pot
# The --help texts live in doc comments, which xgettext cannot see; the program
# lists them itself.
help_pot=$(mktemp)
TALLY_WRITE_HELP_POT="$help_pot" cargo test --quiet --test cli_help every_help_text >/dev/null
msgcat --use-first -o po/tally.pot po/tally.pot "$help_pot"
rm -f "$help_pot"
for lang in $(grep -v '^#' po/LINGUAS); do
    msgmerge --quiet --update --backup=none --no-fuzzy-matching "po/$lang.po" po/tally.pot
done

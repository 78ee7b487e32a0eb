# Tally — build, run, test and install.
#   make run      set up what is missing, then build and open the app
#   make test     set up what is missing, then formatting, lints and every test
#   make bench    the benchmarks (figures in the README)
#   make fuzz     every parser fed mutated input at length (FUZZ=N each)
#   make install  PREFIX=/usr/local (default ~/.local): binary, desktop entry, icons, metainfo, translations

PREFIX ?= $(HOME)/.local
DESTDIR ?=
APP_ID := io.github.tallyapp.Tally
CARGO ?= cargo

.PHONY: deps run build test lint bench fuzz install uninstall pot clean

deps:
	@tools/deps.sh

build: deps
	$(CARGO) build --release

run: build
	$(CARGO) run --release --quiet --bin tally

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --quiet -- -D warnings

# The UI tests need a display and a session bus: both are started here, private
# to this run, and stopped when it ends. Benchmarks are built by the lint step and
# run by `make bench`, in release.
test: lint
	tools/with-display.sh $(CARGO) test --lib --bins --tests

bench: deps
	$(CARGO) bench --bench ledger

# Every parser of outside input fed mutated input at length (make test feeds
# a few hundred per parser): FUZZ=N inputs each.
FUZZ ?= 200000
fuzz: deps
	TALLY_FUZZ_ITERATIONS=$(FUZZ) $(CARGO) test --release --test robustness

install: build
	install -Dm755 target/release/tally $(DESTDIR)$(PREFIX)/bin/tally
	install -Dm755 target/release/tally-app $(DESTDIR)$(PREFIX)/bin/tally-app
	install -d $(DESTDIR)$(PREFIX)/share/applications $(DESTDIR)$(PREFIX)/share/metainfo
	msgfmt --desktop --template data/$(APP_ID).desktop.in -d po -o $(DESTDIR)$(PREFIX)/share/applications/$(APP_ID).desktop
	sed -i "s|^Exec=tally|Exec=$(PREFIX)/bin/tally|" $(DESTDIR)$(PREFIX)/share/applications/$(APP_ID).desktop
	msgfmt --xml --template data/$(APP_ID).metainfo.xml.in -d po -o $(DESTDIR)$(PREFIX)/share/metainfo/$(APP_ID).metainfo.xml
	install -Dm644 data/icons/hicolor/scalable/apps/$(APP_ID).svg $(DESTDIR)$(PREFIX)/share/icons/hicolor/scalable/apps/$(APP_ID).svg
	install -Dm644 data/icons/hicolor/symbolic/apps/$(APP_ID)-symbolic.svg $(DESTDIR)$(PREFIX)/share/icons/hicolor/symbolic/apps/$(APP_ID)-symbolic.svg
	for lang in $$(grep -v '^#' po/LINGUAS); do \
		install -d $(DESTDIR)$(PREFIX)/share/locale/$$lang/LC_MESSAGES; \
		msgfmt -o $(DESTDIR)$(PREFIX)/share/locale/$$lang/LC_MESSAGES/tally.mo po/$$lang.po; \
	done
	-gtk4-update-icon-cache -q -t -f $(DESTDIR)$(PREFIX)/share/icons/hicolor 2>/dev/null
	-update-desktop-database -q $(DESTDIR)$(PREFIX)/share/applications 2>/dev/null

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tally $(DESTDIR)$(PREFIX)/bin/tally-app \
		$(DESTDIR)$(PREFIX)/share/applications/$(APP_ID).desktop \
		$(DESTDIR)$(PREFIX)/share/metainfo/$(APP_ID).metainfo.xml \
		$(DESTDIR)$(PREFIX)/share/icons/hicolor/scalable/apps/$(APP_ID).svg \
		$(DESTDIR)$(PREFIX)/share/icons/hicolor/symbolic/apps/$(APP_ID)-symbolic.svg
	for lang in $$(grep -v '^#' po/LINGUAS); do rm -f $(DESTDIR)$(PREFIX)/share/locale/$$lang/LC_MESSAGES/tally.mo; done

pot:
	po/update-pot.sh

clean:
	$(CARGO) clean
	rm -rf artifacts

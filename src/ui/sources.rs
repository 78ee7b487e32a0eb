//! The Sources view: the agents' logs Tally found, what it has read of them,
//! a switch to follow each live, and importing a file in Tally's CSV/JSONL
//! format. On a first run with an empty ledger it offers to import the logs.

use super::amounts;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use relm4::adw::prelude::*;
use relm4::gtk::{self, glib};
use relm4::{ComponentParts, ComponentSender, SimpleComponent, adw};

use super::follow::{Follower, Progress};
use super::ledger::Ledger;
use crate::core::usage::Dimension;
use crate::i18n::{fill, gettext, ngettext, plural_n};
use crate::ingest::watch::Sources;
use crate::ingest::{Agent, FileFormat, ImportReport, SkipReason};
use crate::settings;
use crate::store::UsageQuery;

const POLL: Duration = Duration::from_secs(1);
/// How long after start-up the follower starts.
const FOLLOW_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub enum SourcesInput {
    Refresh,
    Follow(Agent, bool),
    ImportFile(PathBuf),
    /// The first-run question was answered: import and follow, or not.
    FirstRun(bool),
    /// Follow again with the settings as they now are.
    Restart,
}

/// What the view shows of one agent.
struct AgentState {
    agent: Agent,
    /// The plan's name, if the user said which.
    plan: Option<String>,
    folders: Vec<PathBuf>,
    following: bool,
    files: u64,
    records: u64,
    last: Option<(jiff::Timestamp, ImportReport)>,
}

pub struct SourcesView {
    ledger: Rc<Ledger>,
    db: PathBuf,
    progress: Arc<Progress>,
    follower: Option<Follower>,
    agents: Vec<AgentState>,
    /// The outcome of importing a file, filled in by its thread.
    file_result: Arc<Mutex<Option<String>>>,
    file_busy: bool,
    message: String,
    /// The OpenTelemetry receiver, and what it has taken so far.
    otlp: (super::otlp::State, crate::serve::stats::Intake),
    otlp_started: bool,
    /// Syncs with the ledger's team, if it joins one, while the window lives.
    team: Option<crate::team::follow::Follower>,
}

pub struct SourcesWidgets {
    rows: Vec<adw::ExpanderRow>,
    bar: gtk::ProgressBar,
    switches: Vec<gtk::Switch>,
    /// Each agent row's detail rows, replaced on every update.
    details: Vec<Vec<adw::ActionRow>>,
    status: gtk::Label,
    spinner: gtk::Spinner,
    otlp: adw::ExpanderRow,
    otlp_details: Vec<adw::ActionRow>,
}

fn reason_text(r: SkipReason) -> String {
    match r {
        SkipReason::DuplicateBlock => gettext("repeated content blocks"),
        SkipReason::StreamingSnapshot => gettext("streaming snapshots"),
        SkipReason::SidechainReplay => gettext("subagent replays"),
        SkipReason::ResumedCopy => gettext("resumed-session copies"),
        SkipReason::ArchivedCopy => gettext("archived copies"),
        SkipReason::ReEmitted => gettext("re-emitted counts"),
        SkipReason::Copy => gettext("copies of counted calls"),
        SkipReason::Aggregate => gettext("sums of counted calls"),
        SkipReason::Synthetic => gettext("placeholder messages"),
        SkipReason::ApiError => gettext("API errors"),
        SkipReason::Malformed => gettext("unreadable lines"),
        SkipReason::IncompleteLine => gettext("lines still being written"),
    }
}

fn time(t: jiff::Timestamp) -> String {
    t.to_zoned(TimeZone::system())
        .strftime("%H:%M:%S")
        .to_string()
}

/// The lines under an agent's row: its folders, the last import, its problems.
fn detail_rows(a: &AgentState) -> Vec<adw::ActionRow> {
    let mut rows = Vec::new();
    if let Some(plan) = &a.plan {
        rows.push(
            adw::ActionRow::builder()
                .title(glib::markup_escape_text(plan))
                .subtitle(gettext("Plan (change it in the preferences)"))
                .build(),
        );
    }
    for f in &a.folders {
        rows.push(
            adw::ActionRow::builder()
                .title(glib::markup_escape_text(&f.display().to_string()))
                .subtitle(gettext("Folder"))
                .build(),
        );
    }
    if let Some((at, r)) = &a.last {
        let mut skipped: Vec<String> = r
            .skipped
            .iter()
            .map(|(reason, n)| format!("{} ({n})", reason_text(*reason)))
            .collect();
        if skipped.is_empty() {
            skipped.push(gettext("none"));
        }
        rows.push(
            adw::ActionRow::builder()
                .title(fill(
                    &gettext("Last import {}: {} lines, {} new, {} updated"),
                    &[
                        &time(*at),
                        &r.lines.to_string(),
                        &r.new.to_string(),
                        &r.updated.to_string(),
                    ],
                ))
                .subtitle(glib::markup_escape_text(&fill(
                    &gettext("Not counted on their own: {}"),
                    &[&skipped.join(", ")],
                )))
                .subtitle_lines(3)
                .build(),
        );
        let stopped = r.stopped.as_ref().map(|why| {
            fill(
                &gettext("The import stopped before its end ({}); it goes on at the next change."),
                &[why],
            )
        });
        for e in stopped.iter().chain(r.errors.iter().take(5)) {
            let row = adw::ActionRow::builder()
                .title(glib::markup_escape_text(e))
                .title_lines(2)
                .build();
            row.add_prefix(&gtk::Image::from_icon_name("dialog-warning-symbolic"));
            rows.push(row);
        }
    }
    rows
}

/// What came in over OpenTelemetry, and what was not understood.
fn otlp_rows(intake: &crate::serve::stats::Intake) -> Vec<adw::ActionRow> {
    let row = |title: String, subtitle: String| {
        adw::ActionRow::builder()
            .title(glib::markup_escape_text(&title))
            .subtitle(glib::markup_escape_text(&subtitle))
            .subtitle_lines(3)
            .build()
    };
    let mut rows = vec![row(
        fill(
            &ngettext(
                "{} call recorded, {} already in the ledger",
                "{} calls recorded, {} already in the ledger",
                plural_n(intake.recorded),
            ),
            &[
                &amounts::count(intake.recorded),
                &amounts::count(intake.duplicates),
            ],
        ),
        fill(
            &ngettext(
                "{} item received; {} sums of calls not counted again",
                "{} items received; {} sums of calls not counted again",
                plural_n(intake.items),
            ),
            &[
                &amounts::count(intake.items),
                &amounts::count(intake.aggregates),
            ],
        ),
    )];
    if intake.rejected > 0 {
        let r = row(
            fill(&gettext("{} rejected"), &[&amounts::count(intake.rejected)]),
            intake.last_rejection.clone().unwrap_or_default(),
        );
        r.add_prefix(&gtk::Image::from_icon_name("dialog-warning-symbolic"));
        rows.push(r);
    }
    if !intake.not_usage.is_empty() {
        let mut names: Vec<(&String, &u64)> = intake.not_usage.iter().collect();
        names.sort_by(|a, b| b.1.cmp(a.1));
        let list: Vec<String> = names
            .iter()
            .take(8)
            .map(|(n, c)| format!("{n} ({c})"))
            .collect();
        rows.push(row(gettext("Not usage, by name"), list.join(", ")));
    }
    rows
}

impl SourcesView {
    fn sources(&self, only_followed: bool) -> Sources {
        let found = crate::ingest::watch::default_sources();
        Sources(
            found
                .0
                .into_iter()
                .filter(|(a, _)| !only_followed || self.following(*a))
                .collect(),
        )
    }

    fn following(&self, a: Agent) -> bool {
        self.ledger.read(|s| settings::follow(a).get_or(s, true))
    }

    /// (Re)starts the follower on the agents switched on.
    fn restart(&mut self) {
        self.follower = None;
        // A ledger open read-only takes no imports.
        if self.ledger.read_only().is_some() {
            return;
        }
        let sources = self.sources(true);
        if !sources.is_empty() {
            self.follower = Some(Follower::start(
                self.db.clone(),
                sources,
                self.progress.clone(),
            ));
        }
    }

    fn reload(&mut self) {
        let found = self.sources(false);
        let records = self
            .ledger
            .read(|s| {
                s.usage(&UsageQuery {
                    since: None,
                    until: None,
                    group_by: vec![Dimension::Source],
                    zone: s.zone().clone(),
                    week_start: jiff::civil::Weekday::Monday,
                })
            })
            .map(|(rows, _)| rows)
            .unwrap_or_default();
        let last = self
            .progress
            .last
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        self.agents = Agent::ALL
            .into_iter()
            .map(|agent| {
                let source = agent.source();
                AgentState {
                    agent,
                    plan: self
                        .ledger
                        .read(|s| settings::plan(agent).get(s))
                        .ok()
                        .flatten()
                        .map(|p| p.name()),
                    folders: found.of(agent).to_vec(),
                    following: self.following(agent),
                    files: self.ledger.read(|s| s.imported_files(source)).unwrap_or(0),
                    records: records
                        .iter()
                        .find(|r| r.keys.first().map(String::as_str) == Some(source))
                        .map_or(0, |r| r.totals.requests),
                    last: last.get(source).cloned(),
                }
            })
            .collect();
        self.otlp = (super::otlp::state(), self.ledger.read(crate::serve::intake));
        if let Ok(mut r) = self.file_result.lock()
            && let Some(text) = r.take()
        {
            self.message = text;
            self.file_busy = false;
        }
        if let Ok(f) = self.progress.failed.lock()
            && let Some(e) = f.as_ref()
        {
            self.message = fill(&gettext("Following the logs stopped: {}"), &[e]);
        }
    }

    /// Imports a CSV or JSONL file in Tally's format on a thread of its own.
    fn import_file(&mut self, path: PathBuf) {
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let (db, result) = (self.db.clone(), self.file_result.clone());
        self.file_busy = true;
        self.message = fill(&gettext("Importing {}…"), &[&path.display().to_string()]);
        std::thread::spawn(move || {
            let name = path.display().to_string();
            let outcome = (|| -> anyhow::Result<String> {
                let text = crate::ingest::read_usage_file(&path).map_err(anyhow::Error::msg)?;
                // A provider's export is known by its header; else Tally's format.
                let format = match crate::ingest::exports::detect(&text) {
                    Some(export) => FileFormat::Export(export),
                    None if is_csv => FileFormat::Csv,
                    None => FileFormat::Jsonl,
                };
                let mut store = crate::store::Store::open(&db)?;
                let book = crate::prices::load(&store)?;
                match crate::ingest::import_file(&mut store, &book, &name, &text, format, false)? {
                    Ok(r) => {
                        let notifier = crate::notifier::System::for_store(&store);
                        crate::engine::after_write(&mut store, jiff::Timestamp::now(), &notifier);
                        let mut msg = fill(
                            &gettext("{}: {} new records, {} already in the ledger."),
                            &[&name, &r.new.to_string(), &r.already_imported.to_string()],
                        );
                        if !r.errors.is_empty() {
                            msg.push(' ');
                            msg.push_str(&fill(
                                &ngettext(
                                    "{} row skipped: {}",
                                    "{} rows skipped, the first: {}",
                                    r.errors.len() as u32,
                                ),
                                &[&r.errors.len().to_string(), &r.errors[0]],
                            ));
                        }
                        Ok(msg)
                    }
                    Err(why) => Ok(why),
                }
            })();
            let text = outcome.unwrap_or_else(|e| format!("{name}: {e:#}"));
            if let Ok(mut r) = result.lock() {
                *r = Some(text);
            }
        });
    }

    fn choose_file(root: &gtk::Box, sender: &ComponentSender<Self>) {
        let parent = root.root().and_then(|r| r.downcast::<gtk::Window>().ok());
        let chooser = gtk::FileChooserNative::new(
            Some(&gettext("Import Usage")),
            parent.as_ref(),
            gtk::FileChooserAction::Open,
            Some(&gettext("_Import")),
            Some(&gettext("_Cancel")),
        );
        let filter = gtk::FileFilter::new();
        filter.set_name(Some(&gettext("Usage files (CSV, JSONL)")));
        filter.add_pattern("*.csv");
        filter.add_pattern("*.jsonl");
        chooser.add_filter(&filter);
        let s = sender.clone();
        super::choose_file(chooser, move |path| s.input(SourcesInput::ImportFile(path)));
    }

    /// First run: an empty ledger, logs found, never asked: offer to import them.
    fn offer_first_import(&self, root: &gtk::Box, sender: &ComponentSender<Self>) {
        let asked = self
            .ledger
            .read(|s| settings::SOURCES_ASKED.get_or(s, false));
        let empty = self
            .ledger
            .read(|s| s.history_count(&crate::store::HistoryFilter::default()))
            .is_ok_and(|n| n == 0);
        let found = self.sources(false);
        if asked || !empty || found.is_empty() {
            return;
        }
        let mut places = Vec::new();
        for (agent, dirs) in &found.0 {
            for d in dirs {
                places.push(format!("{} — {}", agent.name(), d.display()));
            }
        }
        let (root, s) = (root.clone(), sender.clone());
        glib::idle_add_local_once(move || {
            let parent = root.root().and_then(|r| r.downcast::<gtk::Window>().ok());
            let dialog = adw::MessageDialog::builder()
                .modal(true)
                .heading(gettext("Import Your Coding Agents’ Usage?"))
                .body(fill(
                    &gettext("Tally found these logs:\n\n{}\n\nImport them now and follow them while Tally runs? Nothing leaves this computer."),
                    &[&places.join("\n")],
                ))
                .build();
            dialog.set_transient_for(parent.as_ref());
            dialog.set_widget_name("sources-first-run");
            dialog.add_response("no", &gettext("_Not Now"));
            dialog.add_response("yes", &gettext("_Import"));
            dialog.set_response_appearance("yes", adw::ResponseAppearance::Suggested);
            dialog.set_default_response(Some("yes"));
            dialog.connect_response(None, move |_, r| {
                s.input(SourcesInput::FirstRun(r == "yes"))
            });
            dialog.present();
        });
    }
}

impl SimpleComponent for SourcesView {
    type Init = (Rc<Ledger>, PathBuf);
    type Input = SourcesInput;
    type Output = ();
    type Root = gtk::Box;
    type Widgets = SourcesWidgets;

    fn init_root() -> gtk::Box {
        gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .build()
    }

    fn init(
        (ledger, db): (Rc<Ledger>, PathBuf),
        root: gtk::Box,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        root.set_widget_name("sources-view");
        let group = adw::PreferencesGroup::builder()
            .title(gettext("Coding agents"))
            .description(gettext(
                "Tally reads the usage your coding agents keep on this computer, counting every call once.",
            ))
            .build();
        let mut switches = Vec::new();
        let rows: Vec<adw::ExpanderRow> = Agent::ALL
            .into_iter()
            .map(|agent| {
                let row = adw::ExpanderRow::builder().title(agent.name()).build();
                row.set_widget_name(&format!("source-{}", agent.source()));
                let switch = gtk::Switch::builder().valign(gtk::Align::Center).build();
                switch.set_widget_name("source-follow");
                super::a11y::set_label(&switch, &fill(&gettext("Follow {} live"), &[agent.name()]));
                let s = sender.clone();
                switch.connect_state_set(move |_, on| {
                    s.input(SourcesInput::Follow(agent, on));
                    glib::Propagation::Proceed
                });
                row.add_action(&switch);
                switches.push(switch);
                group.add(&row);
                row
            })
            .collect();

        let otel = adw::PreferencesGroup::builder()
            .title(gettext("OpenTelemetry"))
            .description(gettext(
                "Calls that agents and apps send as they make them. Switch it on, and see what each agent needs, in the preferences.",
            ))
            .build();
        let otlp = adw::ExpanderRow::builder()
            .title(gettext("OpenTelemetry"))
            .build();
        otlp.set_widget_name("source-otlp");
        otel.add(&otlp);
        let s = sender.clone();
        super::otlp::on_change(move |_| s.input(SourcesInput::Refresh));

        let files = adw::PreferencesGroup::builder()
            .title(gettext("Files"))
            .description(gettext(
                "OpenAI’s and Anthropic’s usage and cost exports (CSV), and usage from scripts and gateways in Tally’s CSV or JSONL format (see the README).",
            ))
            .build();
        let import = gtk::Button::builder()
            .label(gettext("Import File…"))
            .halign(gtk::Align::Start)
            .build();
        import.set_widget_name("sources-import-file");
        let (r, s) = (root.clone(), sender.clone());
        import.connect_clicked(move |_| Self::choose_file(&r, &s));
        files.add(&import);

        let bar = gtk::ProgressBar::builder()
            .show_text(true)
            .visible(false)
            .build();
        bar.set_widget_name("sources-progress");
        let spinner = gtk::Spinner::new();
        let status = gtk::Label::builder()
            .wrap(true)
            .xalign(0.0)
            .css_classes(["dim-label"])
            .build();
        status.set_widget_name("sources-status");
        let status_row = gtk::Box::builder().spacing(8).build();
        status_row.append(&spinner);
        status_row.append(&status);

        root.append(&super::scrolling_column(
            &[
                group.upcast_ref(),
                bar.upcast_ref(),
                otel.upcast_ref(),
                files.upcast_ref(),
                status_row.upcast_ref(),
            ],
            24,
        ));

        // The follower's progress, shown while the view is.
        let (s, shown) = (sender.clone(), root.clone());
        glib::timeout_add_local(POLL, move || {
            if shown.is_mapped() {
                s.input(SourcesInput::Refresh);
            }
            glib::ControlFlow::Continue
        });

        let mut model = SourcesView {
            ledger,
            db,
            progress: Arc::new(Progress::default()),
            follower: None,
            agents: Vec::new(),
            file_result: Arc::new(Mutex::new(None)),
            file_busy: false,
            message: String::new(),
            otlp: Default::default(),
            otlp_started: false,
            team: None,
        };
        let first_run_pending = {
            model.offer_first_import(&root, &sender);
            !model
                .ledger
                .read(|s| settings::SOURCES_ASKED.get_or(s, false))
                && model
                    .ledger
                    .read(|s| s.history_count(&Default::default()))
                    .is_ok_and(|n| n == 0)
        };
        if !first_run_pending {
            // After the first frame: catching up with the logs is not what
            // the window is opened for, and on two cores it would slow it.
            let s = sender.clone();
            glib::timeout_add_local_once(FOLLOW_AFTER, move || s.input(SourcesInput::Restart));
        }
        model.reload();
        let widgets = SourcesWidgets {
            bar,
            details: vec![Vec::new(); rows.len()],
            rows,
            switches,
            status,
            spinner,
            otlp,
            otlp_details: Vec::new(),
        };
        sender.input(SourcesInput::Refresh);
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: SourcesInput, sender: ComponentSender<Self>) {
        // Settings are written on the ledger worker; the follower starts again
        // with them once they are in.
        let restart = move |saved: Result<(), crate::store::StoreError>| {
            super::report_failure(&gettext("The setting was not saved"), saved);
            sender.input(SourcesInput::Restart);
        };
        match msg {
            SourcesInput::Refresh => {}
            SourcesInput::Restart => {
                self.restart();
                if !self.otlp_started {
                    self.otlp_started = true;
                    super::otlp::apply(&self.ledger);
                    self.team = crate::team::follow::Follower::start(self.ledger.path())
                        .map_err(|e| tracing::warn!("cannot start the team sync: {e}"))
                        .ok();
                }
            }
            SourcesInput::Follow(agent, on) => {
                if on != self.following(agent) {
                    // On is the default: unset rather than written.
                    let value = (!on).then_some(false);
                    self.ledger.write(
                        move |s| settings::follow(agent).set(s, value.as_ref()),
                        restart,
                    );
                }
            }
            SourcesInput::ImportFile(path) => self.import_file(path),
            SourcesInput::FirstRun(yes) => {
                self.ledger.write(
                    move |s| {
                        settings::SOURCES_ASKED.set(s, Some(&true))?;
                        for a in Agent::ALL {
                            settings::follow(a).set(s, (!yes).then_some(&false))?;
                        }
                        Ok(())
                    },
                    restart,
                );
            }
        }
        self.reload();
    }

    fn update_view(&self, widgets: &mut SourcesWidgets, _sender: ComponentSender<Self>) {
        let p = &self.progress;
        let following = p.busy.load(Ordering::Relaxed);
        let (done, files) = (
            p.done.load(Ordering::Relaxed),
            p.files.load(Ordering::Relaxed),
        );
        widgets.bar.set_visible(following && files > 0);
        if following && files > 0 {
            widgets.bar.set_fraction(done as f64 / files as f64);
            widgets.bar.set_text(Some(&fill(
                &gettext("Reading the agents’ logs: {} of {} files, {} lines"),
                &[
                    &done.to_string(),
                    &files.to_string(),
                    &amounts::count(p.lines.load(Ordering::Relaxed)),
                ],
            )));
        }
        widgets.spinner.set_spinning(self.file_busy);
        widgets.spinner.set_visible(self.file_busy);
        widgets.status.set_label(&self.message);
        let (state, intake) = &self.otlp;
        let subtitle = match state {
            super::otlp::State::Off if intake.items == 0 => {
                gettext("Off: switch it on in the preferences")
            }
            _ => format!(
                "{} · {}",
                state.text(),
                fill(
                    &ngettext("{} call", "{} calls", plural_n(intake.recorded)),
                    &[&amounts::count(intake.recorded)],
                )
            ),
        };
        widgets
            .otlp
            .set_subtitle(&glib::markup_escape_text(&subtitle));
        for old in widgets.otlp_details.drain(..) {
            widgets.otlp.remove(&old);
        }
        if intake.items > 0 {
            let fresh = otlp_rows(intake);
            for r in &fresh {
                widgets.otlp.add_row(r);
            }
            widgets.otlp_details = fresh;
        }
        for (i, (row, a)) in widgets.rows.iter().zip(&self.agents).enumerate() {
            let subtitle = if a.folders.is_empty() && a.agent == Agent::Copilot {
                fill(
                    &gettext(
                        "No usage found: Copilot CLI writes it only with its file export on ({})",
                    ),
                    &[crate::ingest::copilot::HOW_TO_ENABLE],
                )
            } else if a.folders.is_empty() {
                gettext("No logs found on this computer")
            } else {
                let files = fill(
                    &ngettext("{} file read", "{} files read", plural_n(a.files)),
                    &[&amounts::count(a.files)],
                );
                let records = fill(
                    &ngettext("{} record", "{} records", plural_n(a.records)),
                    &[&amounts::count(a.records)],
                );
                format!("{files} · {records}")
            };
            row.set_subtitle(&subtitle);
            let switch = &widgets.switches[i];
            if switch.is_active() != a.following {
                switch.set_active(a.following);
            }
            row.set_sensitive(!a.folders.is_empty());
            for old in widgets.details[i].drain(..) {
                row.remove(&old);
            }
            let fresh = detail_rows(a);
            for r in &fresh {
                row.add_row(r);
            }
            widgets.details[i] = fresh;
        }
    }
}

//! `tally team`: join a team's PostgreSQL server, sync with it, see how it
//! stands, leave it.

use clap::{Args, Subcommand};
use jiff::Timestamp;

use super::table::{Table, printable, thousands};
use crate::i18n::{fill, gettext};
use crate::store::Store;
use crate::team::{self, Membership, TeamError};

#[derive(Subcommand, Debug)]
pub enum TeamCommand {
    /// Join a team's PostgreSQL server (14 or newer) and sync with it
    Join(JoinArgs),
    /// Push this machine's calls and pull the other machines'
    Sync {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// The team this ledger is in, its machines and the last sync
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Stop syncing; the ledger keeps every call it has
    Leave,
}

#[derive(Args, Debug)]
pub struct JoinArgs {
    /// postgres://user@host/database (TLS unless ?sslmode=disable; the password from ~/.pgpass or PGPASSWORD)
    #[arg(value_name = "ADDRESS")]
    pub address: String,
    /// This machine's name in the team [default: the host name]
    #[arg(long, value_name = "NAME")]
    pub machine: Option<String>,
}

pub fn run(store: &mut Store, c: TeamCommand) -> anyhow::Result<()> {
    match c {
        TeamCommand::Join(a) => {
            let machine = a.machine.unwrap_or_else(team::default_machine);
            let joined = team::join(store, &a.address, &machine)?;
            println!(
                "{}",
                fill(
                    &gettext("Joined the team at {} as “{}”."),
                    &[&joined.server.shown, &printable(&machine)]
                )
            );
            sync(store, false)
        }
        TeamCommand::Sync { json } => sync(store, json),
        TeamCommand::Status { json } => status(store, json),
        TeamCommand::Leave => {
            if Membership::of(store)?.is_none() {
                return Err(TeamError::NotJoined.into());
            }
            team::leave(store)?;
            println!(
                "{}",
                gettext("Left the team. The ledger keeps every call it has.")
            );
            Ok(())
        }
    }
}

/// A progress bar on a terminal, for a first pull of millions of calls.
struct Bar(Option<indicatif::ProgressBar>);

impl team::Progress for Bar {
    fn pull_total(&mut self, total: u64) {
        use std::io::IsTerminal;
        if total >= 100_000 && std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_message(gettext("pulling the team's calls"));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} {bar:30} {human_pos}/{human_len} ({eta})",
            ) {
                bar.set_style(style);
            }
            self.0 = Some(bar);
        }
    }

    fn pulling(&mut self, received: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(received);
        }
    }
}

fn sync(store: &mut Store, json: bool) -> anyhow::Result<()> {
    let mut bar = Bar(None);
    let report = team::sync_now(store, Timestamp::now(), &mut bar);
    if let Some(b) = bar.0 {
        b.finish_and_clear();
    }
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{}",
        fill(
            &gettext(
                "Pushed {} calls ({} new to the team), pulled {} ({} new here, {} changed) in {} ms."
            ),
            &[
                &thousands(report.pushed.sent),
                &thousands(report.pushed.written),
                &thousands(report.pulled.received),
                &thousands(report.pulled.new),
                &thousands(report.pulled.updated),
                &report.millis.to_string(),
            ]
        )
    );
    let p = &report.policies;
    if p.alerts > 0 {
        println!(
            "{}",
            fill(
                &gettext("{} team alerts (raised for the team here: {}): tally alerts list"),
                &[&p.alerts.to_string(), &p.claimed.to_string()]
            )
        );
    }
    Ok(())
}

fn status(store: &mut Store, json: bool) -> anyhow::Result<()> {
    let Some(team) = Membership::of(store)? else {
        if json {
            println!("{}", serde_json::json!({ "joined": false }));
            return Ok(());
        }
        println!("{}", TeamError::NotJoined);
        return Ok(());
    };
    let last: Option<serde_json::Value> = store
        .setting(team::LAST_SYNC)?
        .and_then(|t| serde_json::from_str(&t).ok());
    let unpushed = store.outgoing_count()?;
    // The server is asked, but its being down is a state to show, not an error.
    let mut conflicts = Vec::new();
    let machines = team
        .connect()
        .and_then(|mut c| {
            // A server no machine has brought to this schema yet has none.
            conflicts = team::prices::conflicts(&mut c).unwrap_or_default();
            Ok(c.query(
                "SELECT m.name, m.seen_at::text,
                        (SELECT count(*) FROM tally_records r WHERE r.machine = m.name)
                 FROM tally_machines m ORDER BY m.name",
                &[],
            )?)
        })
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        r.get::<_, String>(1),
                        r.get::<_, i64>(2),
                    )
                })
                .collect::<Vec<_>>()
        });
    if json {
        let doc = serde_json::json!({
            "joined": true,
            "server": team.server.shown,
            "machine": team.machine,
            "unpushed": unpushed,
            "last_sync": last,
            "machines": match &machines {
                Ok(list) => serde_json::json!(list.iter().map(|(name, seen, calls)| serde_json::json!({
                    "name": name, "seen_at": seen, "calls": calls,
                })).collect::<Vec<_>>()),
                Err(_) => serde_json::Value::Null,
            },
            "server_error": machines.as_ref().err().map(|e| e.to_string()),
            "price_conflicts": conflicts,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!(
        "{}",
        fill(&gettext("Team server: {}"), &[&team.server.shown])
    );
    println!(
        "{}",
        fill(&gettext("This machine: {}"), &[&printable(&team.machine)])
    );
    println!(
        "{}",
        fill(
            &gettext("Calls not pushed yet: {}"),
            &[&thousands(unpushed)]
        )
    );
    match last {
        Some(v) if v["ok"] == true => println!(
            "{}",
            fill(
                &gettext("Last sync: {}, pushed {}, pulled {}"),
                &[
                    v["report"]["at"].as_str().unwrap_or(""),
                    &thousands(v["report"]["pushed"]["sent"].as_u64().unwrap_or(0)),
                    &thousands(v["report"]["pulled"]["received"].as_u64().unwrap_or(0)),
                ]
            )
        ),
        Some(v) => println!(
            "{}",
            fill(
                &gettext("Last sync: {} failed: {}"),
                &[
                    v["at"].as_str().unwrap_or(""),
                    v["error"].as_str().unwrap_or(""),
                ]
            )
        ),
        None => println!("{}", gettext("Not synced yet.")),
    }
    match machines {
        Ok(list) => {
            let mut t = Table::new(vec![
                (gettext("Machine"), false),
                (gettext("Last seen"), false),
                (gettext("Calls"), true),
            ]);
            for (name, seen, calls) in list {
                t.row(vec![printable(&name), seen, thousands(calls.max(0) as u64)]);
            }
            print!("\n{}", t.render());
        }
        Err(e) => println!(
            "{}",
            fill(
                &gettext("The server cannot be asked now: {}"),
                &[&e.to_string()]
            )
        ),
    }
    if !conflicts.is_empty() {
        println!(
            "\n{}",
            gettext(
                "Machines price these models differently (each call keeps its own machine's cost; a shared price book makes them agree: tally prices set MODEL … --team):"
            )
        );
        for c in &conflicts {
            println!("  {}", printable(&c.model));
            for m in &c.machines {
                println!("    {}", printable(m));
            }
        }
    }
    Ok(())
}

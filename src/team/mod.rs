//! A team's ledgers synced through PostgreSQL: each machine keeps its own
//! SQLite ledger and pushes the calls it recorded to the team's server, and
//! pulls the calls the other machines recorded (see `sync`). The server's
//! tables are Tally's own, versioned (`schema`).

pub mod follow;
pub mod keyring;
pub mod password;
pub mod policies;
pub mod prices;
pub mod rows;
pub mod schema;
pub mod server;
pub mod sync;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use jiff::Timestamp;
use serde::Serialize;

use crate::store::team::{MACHINE, PUSHED};
use crate::store::{Store, StoreError};
pub use server::Server;

/// Settings: the server's address (without a password), this ledger's id
/// on it, and how the last sync went.
pub const SERVER: &str = "team.server";
pub const LEDGER: &str = "team.ledger";
pub const LAST_SYNC: &str = "team.last_sync";

#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error("{0}")]
    Address(String),
    #[error(
        "the server {host} does not offer TLS: Tally sends the team's usage encrypted unless the address says sslmode=disable (only on a network you trust)"
    )]
    NoTls { host: String },
    #[error("{}", password_message(.user, .host, *.given))]
    Password {
        user: String,
        host: String,
        given: bool,
    },
    #[error("the server {host} refused the connection: {why}")]
    Refused { host: String, why: String },
    #[error("cannot reach the team's server {host}: {why}")]
    Unreachable { host: String, why: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(
        "the team's server holds the tables of a newer Tally (schema {found}; this Tally knows {known}): update Tally on this machine"
    )]
    NewerSchema { found: i32, known: i32 },
    #[error("another machine of the team is named “{0}”: choose another name with --machine NAME")]
    MachineTaken(String),
    #[error("this ledger is in no team: join one with tally team join postgres://…")]
    NotJoined,
    #[error("the team already has a policy named “{0}”: choose another name")]
    PolicyNameTaken(String),
    #[error("the team's server: {0}")]
    Server(String),
    #[error("{0}")]
    Keyring(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn password_message(user: &str, host: &str, given: bool) -> String {
    if given {
        format!("the server {host} refused the password for user “{user}”")
    } else {
        format!(
            "the server {host} asks user “{user}” for a password: give it in the address, in ~/.pgpass or in PGPASSWORD"
        )
    }
}

impl From<postgres::Error> for TeamError {
    fn from(e: postgres::Error) -> TeamError {
        match e.as_db_error() {
            Some(db) => TeamError::Server(db.message().to_string()),
            None if e.is_closed() => TeamError::Server("the connection closed".into()),
            None => TeamError::Server(e.to_string()),
        }
    }
}

/// This ledger's team, as it keeps it.
#[derive(Debug, Clone)]
pub struct Membership {
    pub server: Server,
    pub machine: String,
}

impl Membership {
    /// The team this ledger is in, if any.
    pub fn of(store: &Store) -> Result<Option<Membership>, TeamError> {
        let (Some(address), Some(machine)) = (store.setting(SERVER)?, store.setting(MACHINE)?)
        else {
            return Ok(None);
        };
        let (server, _) = Server::parse(&address)?;
        Ok(Some(Membership { server, machine }))
    }

    pub fn connect(&self) -> Result<postgres::Client, TeamError> {
        let password = password::find(&self.server);
        self.server.connect(password.as_deref())
    }

    /// A connection to a server whose tables are this Tally's (migrated up
    /// when older; refused when newer).
    pub fn open(&self) -> Result<postgres::Client, TeamError> {
        let mut client = self.connect()?;
        let version = schema::version(&mut client)?;
        if version > schema::VERSION {
            return Err(TeamError::NewerSchema {
                found: version,
                known: schema::VERSION,
            });
        }
        if version < schema::VERSION {
            schema::migrate(&mut client)?;
        }
        Ok(client)
    }
}

/// The machine's name when none is given: the host's.
pub fn default_machine() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer we own.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = if ok {
        String::from_utf8_lossy(&buf[..end]).trim().to_string()
    } else {
        String::new()
    };
    if name.is_empty() {
        "this-machine".into()
    } else {
        name
    }
}

/// A machine name people can read and type: not empty, no control characters.
pub fn check_machine(name: &str) -> Result<(), TeamError> {
    if name.trim().is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(TeamError::Address(format!(
            "“{}” cannot name a machine: use 1 to 100 printable characters",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Joins the team at `address` as `machine`: makes or updates the server's
/// tables, claims the name, and names this ledger's calls after it. Nothing
/// local changes unless the server accepted all that.
pub fn join(store: &mut Store, address: &str, machine: &str) -> Result<Membership, TeamError> {
    join_with(store, address, None, machine)
}

/// As `join`, with the password apart from the address (as a window asks
/// for it); it is kept in the keyring like one given in the address.
pub fn join_with(
    store: &mut Store,
    address: &str,
    password: Option<&str>,
    machine: &str,
) -> Result<Membership, TeamError> {
    check_machine(machine)?;
    let (server, in_address) = Server::parse(address)?;
    let given = password
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .or(in_address);
    let password = given.clone().or_else(|| password::find(&server));
    let mut client = server.connect(password.as_deref())?;
    // A password given in the address is kept in the keyring, before
    // anything changes on the server or here, so a keyring that cannot take
    // it leaves both as they were.
    if let Some(p) = &given {
        keyring::store(&server.shown, p).map_err(|e| TeamError::Keyring(e.to_string()))?;
    }
    schema::migrate(&mut client)?;
    let ledger = match store.setting(LEDGER)? {
        Some(id) => id,
        None => new_id(32),
    };
    let claimed = client.execute(
        "INSERT INTO tally_machines (name, ledger, version) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET seen_at = now(), version = excluded.version
         WHERE tally_machines.ledger = excluded.ledger",
        &[&machine, &ledger, &crate::config::VERSION],
    )?;
    if claimed == 0 {
        return Err(TeamError::MachineTaken(machine.to_string()));
    }
    if let Some(was) = store.setting(MACHINE)?
        && was != machine
    {
        // A ledger that joins under another name starts its pushes over.
        store.set_setting(PUSHED, None)?;
    }
    store.set_setting(LEDGER, Some(&ledger))?;
    store.set_setting(SERVER, Some(&server.shown))?;
    store.take_machine_name(machine)?;
    Ok(Membership {
        server,
        machine: machine.to_string(),
    })
}

/// A key no other machine makes: `len` hex digits of a hash of now, this
/// process and this host (a ledger's id, a team policy's key).
fn new_id(len: usize) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&Timestamp::now().as_nanosecond().to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(default_machine().as_bytes());
    h.finalize().to_hex()[..len].to_string()
}

/// Leaves the team: this ledger keeps every call it has, and stops syncing.
pub fn leave(store: &mut Store) -> Result<(), TeamError> {
    if let Some(team) = Membership::of(store)?
        && let Err(e) = keyring::forget(&team.server.shown)
    {
        tracing::debug!("{e}");
    }
    for key in [SERVER, LAST_SYNC] {
        store.set_setting(key, None)?;
    }
    store.forget_team()?;
    Ok(())
}

/// What one sync did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub server: String,
    pub machine: String,
    pub pushed: sync::Pushed,
    pub pulled: sync::Pulled,
    /// The team's policies taken in, and the team alerts claimed and taken.
    pub policies: policies::TeamPolicies,
    /// The team's shared price book taken in, and where machines' prices differ.
    pub prices: prices::TeamPrices,
    pub at: String,
    pub millis: u64,
}

/// What a sync tells as it goes.
pub trait Progress {
    fn pushing(&mut self, _sent: u64) {}
    /// The pull is about to bring at most `total` calls.
    fn pull_total(&mut self, _total: u64) {}
    fn pulling(&mut self, _received: u64) {}
}

impl Progress for () {}

/// Where the sync under way in this process stands, whoever started it (the
/// follower, Sync Now, a join), for a window to show.
pub struct Activity {
    running: AtomicBool,
    total: AtomicU64,
    received: AtomicU64,
}

pub static ACTIVITY: Activity = Activity {
    running: AtomicBool::new(false),
    total: AtomicU64::new(0),
    received: AtomicU64::new(0),
};

impl Activity {
    /// None when no sync runs; else the calls pulled and (once known) how
    /// many the pull brings at most.
    pub fn now(&self) -> Option<(u64, u64)> {
        self.running.load(Ordering::Relaxed).then(|| {
            (
                self.received.load(Ordering::Relaxed),
                self.total.load(Ordering::Relaxed),
            )
        })
    }
}

/// Tells `inner` and `ACTIVITY`.
struct Shown<'a>(&'a mut dyn Progress);

impl Progress for Shown<'_> {
    fn pushing(&mut self, sent: u64) {
        self.0.pushing(sent);
    }
    fn pull_total(&mut self, total: u64) {
        ACTIVITY.total.store(total, Ordering::Relaxed);
        self.0.pull_total(total);
    }
    fn pulling(&mut self, received: u64) {
        ACTIVITY.received.store(received, Ordering::Relaxed);
        self.0.pulling(received);
    }
}

/// One sync at a time in a process: the follower waits for a window's Sync
/// Now (or a join's first pull) and then finds little left to do.
static ONE_SYNC: Mutex<()> = Mutex::new(());

struct Running;

impl Running {
    fn start() -> Running {
        ACTIVITY.total.store(0, Ordering::Relaxed);
        ACTIVITY.received.store(0, Ordering::Relaxed);
        ACTIVITY.running.store(true, Ordering::Relaxed);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        ACTIVITY.running.store(false, Ordering::Relaxed);
    }
}

/// Pushes, then pulls; notes the outcome (or the error) for `team status`.
pub fn sync_now(
    store: &mut Store,
    now: Timestamp,
    progress: &mut dyn Progress,
) -> Result<SyncReport, TeamError> {
    let team = Membership::of(store)?.ok_or(TeamError::NotJoined)?;
    let _one = ONE_SYNC.lock().unwrap_or_else(|e| e.into_inner());
    let _running = Running::start();
    let progress = &mut Shown(progress);
    let started = std::time::Instant::now();
    let result = (|| -> Result<SyncReport, TeamError> {
        let mut client = team.open()?;
        let pushed = sync::push(
            &mut client,
            store,
            &team.machine,
            now.as_millisecond(),
            &mut |n| progress.pushing(n),
        )?;
        let total = sync::pending(&mut client, store, &team.machine)?;
        progress.pull_total(total);
        let pulled = sync::pull(&mut client, store, &team.machine, &mut |n| {
            progress.pulling(n)
        })?;
        // Prices first: a shared book's reprice counts in the budgets.
        let team_prices = prices::sync(&mut client, store, &team.machine, now)?;
        let team_policies = policies::sync(&mut client, store, &team.machine, now)?;
        client.execute(
            "UPDATE tally_machines SET seen_at = now() WHERE name = $1",
            &[&team.machine],
        )?;
        Ok(SyncReport {
            server: team.server.shown.clone(),
            machine: team.machine.clone(),
            pushed,
            pulled,
            policies: team_policies,
            prices: team_prices,
            at: now.to_string(),
            millis: started.elapsed().as_millis() as u64,
        })
    })();
    match &result {
        Ok(report) => note(store, serde_json::json!({ "ok": true, "report": report })),
        Err(e) => note_failure(store, now, e),
    }
    result
}

/// Notes a sync that failed (or could not start), for `team status` and
/// the preferences.
pub fn note_failure(store: &mut Store, now: Timestamp, e: &TeamError) {
    note(
        store,
        serde_json::json!({ "ok": false, "at": now.to_string(), "error": e.to_string() }),
    );
}

fn note(store: &mut Store, noted: serde_json::Value) {
    // What the last sync did is shown, never a reason to fail it.
    if let Err(e) = store.set_setting(LAST_SYNC, Some(&noted.to_string())) {
        tracing::warn!("cannot note the last sync: {e}");
    }
}

//! The team server's password in the desktop's keyring (the Secret Service
//! D-Bus API, as GNOME Keyring and KWallet serve it): kept under the
//! server's address without the password, never in a file of Tally's.

use std::collections::HashMap;

use zbus::{Connection, Proxy};
use zbus::{OwnedObjectPath, Variant as Value};

const SERVICE: &str = "org.freedesktop.secrets";
const PATH: &str = "/org/freedesktop/secrets";
const DEFAULT: &str = "/org/freedesktop/secrets/aliases/default";

/// A secret as the API passes it: session, parameters, value, content type.
type Secret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

/// Why the keyring could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "no keyring answers on this session ({0}): keep the password in ~/.pgpass (mode 0600) or PGPASSWORD instead"
    )]
    Unavailable(String),
    #[error("the keyring is locked: unlock it (log in to the desktop) and try again")]
    Locked,
    #[error("the keyring: {0}")]
    Failed(String),
}

impl From<zbus::Error> for KeyringError {
    fn from(e: zbus::Error) -> KeyringError {
        KeyringError::Failed(e.to_string())
    }
}

struct Keyring {
    conn: Connection,
    session: OwnedObjectPath,
}

fn attributes(server: &str) -> HashMap<&str, &str> {
    HashMap::from([
        ("application", crate::config::APP_ID),
        ("kind", "team-server"),
        ("server", server),
    ])
}

impl Keyring {
    async fn open() -> Result<Keyring, KeyringError> {
        let conn = Connection::session()
            .await
            .map_err(|e| KeyringError::Unavailable(e.to_string()))?;
        let (_, session): (zbus::OwnedVariant, OwnedObjectPath) = service(&conn)
            .await?
            .call("OpenSession", &("plain", Value::from("")))
            .await
            .map_err(|e| KeyringError::Unavailable(e.to_string()))?;
        Ok(Keyring { conn, session })
    }

    /// The items for `server`, unlocked ones first (locked ones unlocked if
    /// that needs no prompt).
    async fn items(&self, server: &str) -> Result<Vec<OwnedObjectPath>, KeyringError> {
        let service = service(&self.conn).await?;
        let (mut unlocked, locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
            service.call("SearchItems", &(attributes(server),)).await?;
        if !locked.is_empty() {
            let (now, prompt): (Vec<OwnedObjectPath>, OwnedObjectPath) =
                service.call("Unlock", &(locked,)).await?;
            if now.is_empty() && prompt.as_str() != "/" {
                return Err(KeyringError::Locked);
            }
            unlocked.extend(now);
        }
        Ok(unlocked)
    }
}

async fn service(conn: &Connection) -> Result<Proxy<'static>, KeyringError> {
    Ok(Proxy::new(conn, SERVICE, PATH, "org.freedesktop.Secret.Service").await?)
}

/// Runs a keyring conversation to its end on this thread (the callers are
/// a command or a sync thread, never the GTK main loop).
fn block_on<T>(
    f: impl std::future::Future<Output = Result<T, KeyringError>>,
) -> Result<T, KeyringError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KeyringError::Failed(e.to_string()))?
        .block_on(f)
}

/// Keeps `password` for `server`, replacing one kept before.
pub fn store(server: &str, password: &str) -> Result<(), KeyringError> {
    block_on(store_async(server, password))
}

async fn store_async(server: &str, password: &str) -> Result<(), KeyringError> {
    let k = Keyring::open().await?;
    let collection = Proxy::new(
        &k.conn,
        SERVICE,
        DEFAULT,
        "org.freedesktop.Secret.Collection",
    )
    .await?;
    let label = format!("Tally team server {server}");
    let props: HashMap<&str, Value> = HashMap::from([
        ("org.freedesktop.Secret.Item.Label", Value::from(label)),
        (
            "org.freedesktop.Secret.Item.Attributes",
            Value::from(attributes(server)),
        ),
    ]);
    let secret: Secret = (
        k.session.clone(),
        Vec::new(),
        password.as_bytes().to_vec(),
        "text/plain".into(),
    );
    let (item, prompt): (OwnedObjectPath, OwnedObjectPath) = collection
        .call("CreateItem", &(props, secret, true))
        .await?;
    if item.as_str() == "/" && prompt.as_str() != "/" {
        return Err(KeyringError::Locked);
    }
    Ok(())
}

/// The password kept for `server`, if any.
pub fn find(server: &str) -> Result<Option<String>, KeyringError> {
    block_on(async {
        let k = Keyring::open().await?;
        let items = k.items(server).await?;
        if items.is_empty() {
            return Ok(None);
        }
        let secrets: HashMap<OwnedObjectPath, Secret> = service(&k.conn)
            .await?
            .call("GetSecrets", &(items, &k.session))
            .await?;
        Ok(secrets
            .into_values()
            .next()
            .map(|(_, _, value, _)| String::from_utf8_lossy(&value).into_owned()))
    })
}

/// Forgets the password kept for `server`.
pub fn forget(server: &str) -> Result<(), KeyringError> {
    block_on(async {
        let k = Keyring::open().await?;
        for item in k.items(server).await? {
            let item = Proxy::new(&k.conn, SERVICE, item, "org.freedesktop.Secret.Item").await?;
            let _prompt: OwnedObjectPath = item.call("Delete", &()).await?;
        }
        Ok(())
    })
}

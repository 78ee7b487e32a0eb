//! Where the password for the team's server comes from: the desktop's
//! keyring, where `tally team join` keeps one given in the address; then as
//! libpq finds it, `PGPASSWORD` and the password file (`PGPASSFILE` or
//! `~/.pgpass`, read only when no one else may read it). Tally writes the
//! password in no file.

use std::path::PathBuf;

use super::Server;

/// The password for `server`, if the user keeps one where libpq looks.
pub fn find(server: &Server) -> Option<String> {
    match super::keyring::find(&server.shown) {
        Ok(Some(p)) => return Some(p),
        Ok(None) => {}
        Err(e) => tracing::debug!("{e}"),
    }
    if let Ok(p) = std::env::var("PGPASSWORD")
        && !p.is_empty()
    {
        return Some(p);
    }
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let meta = std::fs::metadata(&path).ok()?;
    {
        use std::os::unix::fs::PermissionsExt;
        // As libpq: a file others can read is ignored, with a warning.
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "{} is readable by others and is not used: chmod 0600 it",
                path.display()
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    from_pgpass(&text, server)
}

/// The first line of a password file that matches `server`:
/// `host:port:database:user:password`, `*` matching anything, `\` escaping.
fn from_pgpass(text: &str, server: &Server) -> Option<String> {
    let wanted = [
        server.host_name.clone(),
        server.port.to_string(),
        server.dbname.clone(),
        server.user.clone(),
    ];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(&wanted)
                .all(|(f, w)| f == "*" || f == w);
            matches.then(|| fields[4].clone())
        })
}

fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_line_wins_and_escapes_hold() {
        let (server, _) = Server::parse("postgres://ann@db.example.com:6432/team").unwrap();
        let file = "# mine\nother:*:*:*:no\ndb.example.com:6432:team:ann:pa\\:ss\n*:*:*:*:late\n";
        assert_eq!(from_pgpass(file, &server).as_deref(), Some("pa:ss"));
        assert_eq!(
            from_pgpass("*:*:*:bob:x\n", &server),
            None,
            "another user's line"
        );
    }
}

//! A real PostgreSQL server for a test: Debian's `postgresql` binaries,
//! `initdb` into a temp folder and `pg_ctl` on a free loopback port, run as
//! an unprivileged user when the tests run as root (PostgreSQL refuses
//! root). Password login over TCP (scram-sha-256), no TLS. Stopped and
//! removed when dropped.
#![allow(dead_code)] // each includer uses part of it

use std::path::PathBuf;
use std::process::{Command, Stdio};

pub const PASSWORD: &str = "team-secret";

pub struct Pg {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    as_user: Option<String>,
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server is not installed (Debian's postgresql package)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect("no initdb under /usr/lib/postgresql")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    pub fn start() -> Pg {
        let dir = tempfile::tempdir().unwrap();
        let bin = bin_dir();
        let as_user = (unsafe { libc::geteuid() } == 0).then(|| "nobody".to_string());
        let pg = Pg {
            port: free_port(),
            dir,
            bin,
            as_user,
        };
        let data = pg.data();
        std::fs::create_dir(&data).unwrap();
        let pwfile = pg.dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if let Some(user) = &pg.as_user {
            for p in [pg.dir.path(), &data, &pwfile] {
                assert!(
                    Command::new("chown")
                        .args([user, &p.display().to_string()])
                        .status()
                        .unwrap()
                        .success()
                );
            }
        }
        pg.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.start_again();
        pg.admin()
            .batch_execute("CREATE DATABASE team")
            .expect("create the team database");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of the server's tools, run as the unprivileged user when needed.
    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        match &self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again, after `stop`), waiting until it answers.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-o",
                &options,
                "-l",
                &self.dir.path().join("log").display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// The address machines join with (password from PGPASSWORD).
    pub fn address(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/team?sslmode=disable",
            self.port
        )
    }

    /// A superuser connection to the team database.
    pub fn admin(&self) -> postgres::Client {
        self.connect("postgres")
    }

    pub fn team(&self) -> postgres::Client {
        self.connect("team")
    }

    fn connect(&self, db: &str) -> postgres::Client {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password(PASSWORD)
            .dbname(db)
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let data = self.data();
        if data.join("postmaster.pid").exists() {
            let _ = self
                .command("pg_ctl")
                .args(["-D", &data.display().to_string(), "-m", "immediate", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

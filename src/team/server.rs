//! Reaching the team's PostgreSQL server: its address without the password,
//! `sslmode` as libpq reads it (TLS unless the address says otherwise), the
//! password from where the user keeps it, and errors that say what is wrong.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use postgres::config::SslMode as PgSslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::TeamError;

/// How the connection is protected, as libpq's `sslmode` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// TLS when the server offers it, its certificate not checked.
    Prefer,
    /// TLS, its certificate not checked (checked against `sslrootcert` when given).
    Require,
    /// TLS, the certificate signed by a trusted authority.
    VerifyCa,
    /// TLS, the certificate signed by a trusted authority and for this host.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, TeamError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(TeamError::Address(format!(
                    "sslmode “{other}” is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )));
            }
        })
    }
}

/// A team server's address, parsed.
#[derive(Clone, Debug)]
pub struct Server {
    /// The address as shown and kept: the one given without its password.
    pub shown: String,
    /// host:port, for messages.
    pub host: String,
    pub host_name: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    config: postgres::Config,
    ssl: SslMode,
    root_cert: Option<PathBuf>,
}

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Server {
    /// Parses a `postgres://` or `postgresql://` address; returns the
    /// password it held, if any, apart.
    pub fn parse(address: &str) -> Result<(Server, Option<String>), TeamError> {
        let mut url = url::Url::parse(address.trim()).map_err(|e| {
            TeamError::Address(format!("“{address}” is not a postgres:// address: {e}"))
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(TeamError::Address(format!(
                "“{}” is not a postgres:// address",
                url.scheme()
            )));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| TeamError::Address("the address names no host".into()))?
            .to_string();
        let password = url.password().map(percent_decode).filter(|p| !p.is_empty());
        let _ = url.set_password(None);
        let mut ssl = SslMode::VerifyFull;
        let mut root_cert = None;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter_map(|(k, v)| match &*k {
                "sslmode" => {
                    ssl = match SslMode::parse(&v) {
                        Ok(m) => m,
                        Err(_) => return Some((k.into_owned(), v.into_owned())),
                    };
                    None
                }
                "sslrootcert" => {
                    root_cert = Some(PathBuf::from(&*v));
                    None
                }
                _ => Some((k.into_owned(), v.into_owned())),
            })
            .collect();
        if let Some((_, bad)) = kept.iter().find(|(k, _)| k == "sslmode") {
            SslMode::parse(bad)?;
        }
        // What libpq reads apart from the TLS settings goes to the driver.
        let mut for_driver = url.clone();
        for_driver.set_query(None);
        if !kept.is_empty() {
            for_driver.query_pairs_mut().extend_pairs(&kept);
        }
        let mut config: postgres::Config = for_driver
            .as_str()
            .parse()
            .map_err(|e| TeamError::Address(format!("{e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_user().is_none() {
            config.user(&whoami());
        }
        config.application_name("tally");
        config.ssl_mode(match ssl {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        });
        let port = url.port().unwrap_or(5432);
        let user = config.get_user().unwrap_or_default().to_string();
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        Ok((
            Server {
                shown: url.to_string(),
                host: format!("{host}:{port}"),
                host_name: host,
                port,
                user,
                dbname,
                config,
                ssl,
                root_cert,
            },
            password,
        ))
    }

    /// Connects with `password` (or none: the server may trust the user).
    pub fn connect(&self, password: Option<&str>) -> Result<postgres::Client, TeamError> {
        let mut config = self.config.clone();
        if let Some(p) = password {
            config.password(p);
        }
        let result = match self.ssl {
            SslMode::Disable => config.connect(postgres::NoTls),
            _ => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                self.tls_config()?,
            )),
        };
        result.map_err(|e| self.explain(e, password.is_some()))
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, TeamError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TeamError::Tls(e.to_string()))?;
        let roots = Arc::new(self.roots()?);
        let verify = match (self.ssl, &self.root_cert) {
            (SslMode::VerifyFull, _) => None,
            // libpq checks against a root certificate given for `require` too.
            (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Some(Loose::ChainOnly),
            _ => Some(Loose::Nothing),
        };
        let config = match verify {
            None => builder.with_root_certificates(roots).with_no_client_auth(),
            Some(loose) => {
                let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    roots,
                    provider.clone(),
                )
                .build()
                .map_err(|e| TeamError::Tls(e.to_string()))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(LooseVerifier {
                        inner,
                        provider,
                        loose,
                    }))
                    .with_no_client_auth()
            }
        };
        Ok(config)
    }

    /// The authorities a certificate may be signed by: `sslrootcert` when
    /// given, else the system's and the common public ones.
    fn roots(&self) -> Result<rustls::RootCertStore, TeamError> {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(path) = &self.root_cert {
            let text = std::fs::read(path).map_err(|e| {
                TeamError::Tls(format!("cannot read sslrootcert {}: {e}", path.display()))
            })?;
            let mut found = 0;
            for cert in rustls_pki_types_pem(&text) {
                roots
                    .add(cert)
                    .map_err(|e| TeamError::Tls(format!("{}: {e}", path.display())))?;
                found += 1;
            }
            if found == 0 {
                return Err(TeamError::Tls(format!(
                    "sslrootcert {} holds no PEM certificate",
                    path.display()
                )));
            }
            return Ok(roots);
        }
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Ok(roots)
    }

    /// What went wrong connecting, in words that say what to do.
    fn explain(&self, e: postgres::Error, had_password: bool) -> TeamError {
        if let Some(db) = e.as_db_error() {
            return match db.code().code() {
                "28P01" => TeamError::Password {
                    user: self.user.clone(),
                    host: self.host.clone(),
                    given: had_password,
                },
                "3D000" | "28000" => TeamError::Refused {
                    host: self.host.clone(),
                    why: db.message().to_string(),
                },
                _ => TeamError::Server(db.message().to_string()),
            };
        }
        let text = e.to_string();
        let chain = error_chain(&e);
        if chain.contains("server does not support TLS") {
            return TeamError::NoTls {
                host: self.host.clone(),
            };
        }
        if chain.contains("password missing") {
            return TeamError::Password {
                user: self.user.clone(),
                host: self.host.clone(),
                given: false,
            };
        }
        if chain.contains("certificate") || chain.contains("InvalidCertificate") {
            return TeamError::Tls(format!("{}: {chain}", self.host));
        }
        if chain.contains("timed out")
            || chain.contains("refused")
            || chain.contains("error connecting")
            || chain.contains("failed to lookup")
            || chain.contains("resolve")
            || text.contains("error connecting")
        {
            return TeamError::Unreachable {
                host: self.host.clone(),
                why: chain,
            };
        }
        TeamError::Server(chain)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// The login name, as libpq takes it for a user the address does not name.
fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "postgres".into())
}

fn rustls_pki_types_pem(text: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(text)
        .filter_map(Result::ok)
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Loose {
    /// The chain is checked, the name is not (`verify-ca`).
    ChainOnly,
    /// Nothing is checked but the handshake's signatures (`require`, `prefer`).
    Nothing,
}

/// A verifier for the sslmodes that check less than everything.
#[derive(Debug)]
struct LooseVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    loose: Loose,
}

impl ServerCertVerifier for LooseVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.loose {
            Loose::Nothing => Ok(ServerCertVerified::assertion()),
            Loose::ChainOnly => match self.inner.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            },
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_kept_apart_and_tls_is_the_default() {
        let (s, p) = Server::parse("postgres://ann:s%40cret@db.example.com/team").unwrap();
        assert_eq!(p.as_deref(), Some("s@cret"));
        assert!(!s.shown.contains("cret"), "{}", s.shown);
        assert_eq!(s.ssl, SslMode::VerifyFull);
        assert_eq!(s.host, "db.example.com:5432");
        assert_eq!(s.user, "ann");
    }

    #[test]
    fn sslmode_is_read_as_libpq_reads_it() {
        let (s, _) = Server::parse("postgresql://h:6000/t?sslmode=disable").unwrap();
        assert_eq!((s.ssl, s.host.as_str()), (SslMode::Disable, "h:6000"));
        let (s, _) =
            Server::parse("postgres://h/t?sslmode=verify-ca&sslrootcert=/tmp/ca.pem").unwrap();
        assert_eq!(s.ssl, SslMode::VerifyCa);
        assert_eq!(s.root_cert, Some(PathBuf::from("/tmp/ca.pem")));
        let e = Server::parse("postgres://h/t?sslmode=maybe").unwrap_err();
        assert!(e.to_string().contains("maybe"), "{e}");
    }

    #[test]
    fn addresses_that_are_not_postgres_are_refused() {
        for bad in ["mysql://h/t", "postgres:///t", "not an address"] {
            assert!(Server::parse(bad).is_err(), "{bad}");
        }
    }
}

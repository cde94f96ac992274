//! TLS for the agent channel (rustls, TLS 1.3 only, the ring provider the bus already
//! brings). The sensor presents a certificate; with a client CA it also requires each
//! agent to present one that CA signed (mutual TLS). The shared token is still checked
//! inside the tunnel: a certificate says which machine, the token says it is ours.

use crate::error::{Error, Result};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::{
    self,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName},
};

/// The sensor side: its certificate, and the CA agents' certificates must chain to.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
    pub mutual: bool,
}

impl ServerTls {
    pub fn load(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Self> {
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| Error::runtime(format!("TLS: {e}")))?;
        let builder = match client_ca {
            Some(ca) => {
                let roots = Arc::new(root_store(ca)?);
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| Error::input(format!("{}: {e}", ca.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(certificates(cert)?, private_key(key)?)
            .map_err(|e| Error::input(format!("{} and {}: {e}", cert.display(), key.display())))?;
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            mutual: client_ca.is_some(),
        })
    }

    /// Runs the server side of a handshake (the listener, and tests that play a sensor).
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.acceptor.clone()
    }
}

/// The agent side: the CA the sensor's certificate must chain to, the name it must carry,
/// and the agent's own certificate for mutual TLS.
#[derive(Clone)]
pub struct ClientTls {
    pub(super) connector: tokio_rustls::TlsConnector,
    /// Checked against the sensor's certificate; the host of `--connect` by default.
    pub(super) server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

impl ClientTls {
    pub fn load(ca: &Path, identity: Option<(&Path, &Path)>, server_name: Option<&str>) -> Result<Self> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| Error::runtime(format!("TLS: {e}")))?
            .with_root_certificates(root_store(ca)?);
        let config = match identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(certificates(cert)?, private_key(key)?)
                .map_err(|e| Error::input(format!("{} and {}: {e}", cert.display(), key.display())))?,
            None => builder.with_no_client_auth(),
        };
        let server_name = server_name
            .map(|n| {
                ServerName::try_from(n.to_string())
                    .map_err(|_| Error::usage(format!("--tls-server-name {n:?}: not a host name or address")))
            })
            .transpose()?;
        Ok(ClientTls { connector: tokio_rustls::TlsConnector::from(Arc::new(config)), server_name })
    }

    /// The name to verify for `addr` (`HOST:PORT` or `[V6]:PORT`).
    pub(super) fn name_for(&self, addr: &str) -> std::io::Result<ServerName<'static>> {
        if let Some(n) = &self.server_name {
            return Ok(n.clone());
        }
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(host.to_string()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{host:?} is not a name to verify the sensor by; give --tls-server-name"),
            )
        })
    }
}

/// The host names a client certificate vouches for: its DNS subject alternative names,
/// or its subject common names when it has none (the order RFC 6125 gives). Empty for a
/// certificate that does not parse; the handshake has verified its chain already.
pub fn certificate_host_names(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return Vec::new() };
    let dns: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if !dns.is_empty() {
        return dns;
    }
    cert.subject().iter_common_name().filter_map(|cn| cn.as_str().ok()).map(str::to_string).collect()
}

/// Whether `host` is one of `names`: the same ignoring case and a trailing dot, or under
/// a `*.` wildcard, which stands for exactly one leftmost label.
pub fn host_is_named(host: &str, names: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    names.iter().any(|name| {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(suffix) => {
                host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == suffix)
            }
            None => name == host,
        }
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::input(format!("{}: {}", path.display(), pem_error(e))))?;
    if certs.is_empty() {
        return Err(Error::input(format!("{}: no PEM certificate in the file", path.display())));
    }
    Ok(certs)
}

fn root_store(path: &Path) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(path)? {
        roots.add(cert).map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// A private key file, refused when group or others may read it (like the token).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    super::check_private(path, "private key")?;
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| Error::input(format!("{}: {}", path.display(), pem_error(e))))
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(e) => e.to_string(),
        E::NoItemsFound => "no PEM item of the expected kind in the file".into(),
        other => format!("not valid PEM ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::host_is_named;

    #[test]
    fn a_host_is_named_exactly_or_under_a_one_label_wildcard() {
        let names = ["db-1".to_string(), "*.fleet.example".to_string(), "web.example.".to_string()];
        for ok in ["db-1", "DB-1", "db-1.", "a.fleet.example", "web.example"] {
            assert!(host_is_named(ok, &names), "{ok} should be named");
        }
        for refused in ["db-2", "fleet.example", "a.b.fleet.example", ".fleet.example", "", "db-1x", "web"] {
            assert!(!host_is_named(refused, &names), "{refused:?} should not be named");
        }
    }
}

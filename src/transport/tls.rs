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

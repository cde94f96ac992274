//! `--bus URL [--bus-creds FILE] [--bus-ca FILE] [--bus-cert FILE --bus-key FILE]
//! [--bus-replicas N]` → connect options.

use super::BusCounters;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How the process authenticates to the NATS server.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
    /// An nkey seed (`SU…`).
    Nkey(String),
    /// A decentralised-auth `.creds` file (user JWT and nkey seed), read as is.
    CredsFile(String),
}

impl std::fmt::Debug for Credentials {
    // Secrets stay out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::UserPassword { .. } => "UserPassword(…)",
            Credentials::Token(_) => "Token(…)",
            Credentials::Nkey(_) => "Nkey(…)",
            Credentials::CredsFile(_) => "CredsFile(…)",
        })
    }
}

/// The validated bus options.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// `nats://HOST:PORT` or `tls://HOST:PORT`; several separated by commas.
    pub servers: Vec<String>,
    pub credentials: Option<Credentials>,
    /// CA certificate (PEM) to verify the server with; implies TLS.
    pub ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS; implies TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Replicas of the streams this process creates when they do not exist yet (1 on a
    /// single server, 3 on a cluster).
    pub replicas: usize,
}

impl BusConfig {
    /// The bus options as given on the command line.
    pub fn from_args(url: &str, args: &crate::cli::BusArgs) -> Result<BusConfig> {
        let cfg = Self::resolve(url, args.bus_creds.as_deref(), args.bus_ca.as_deref(), args.bus_replicas)?;
        match (&args.bus_cert, &args.bus_key) {
            (Some(cert), Some(key)) => cfg.with_client_certificate(cert, key),
            _ => Ok(cfg),
        }
    }

    /// Presents `cert` to servers that verify clients. The key must be private (0600).
    pub fn with_client_certificate(mut self, cert: &Path, key: &Path) -> Result<BusConfig> {
        if !cert.is_file() {
            return Err(Error::input(format!("--bus-cert {}: not a file", cert.display())));
        }
        crate::transport::check_private(key, "private key")?;
        self.client_cert = Some((cert.to_path_buf(), key.to_path_buf()));
        Ok(self)
    }

    pub fn resolve(url: &str, creds: Option<&Path>, ca: Option<&Path>, replicas: usize) -> Result<BusConfig> {
        let servers: Vec<String> =
            url.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if servers.is_empty() {
            return Err(Error::usage("--bus: expected nats://HOST:PORT"));
        }
        for s in &servers {
            if !(s.starts_with("nats://") || s.starts_with("tls://")) {
                return Err(Error::usage(format!(
                    "--bus {s:?}: expected nats://HOST:PORT or tls://HOST:PORT"
                )));
            }
        }
        if !(1..=5).contains(&replicas) {
            return Err(Error::usage("--bus-replicas must be between 1 and 5"));
        }
        if let Some(ca) = ca {
            if !ca.is_file() {
                return Err(Error::input(format!("--bus-ca {}: not a file", ca.display())));
            }
        }
        let credentials = creds.map(read_credentials).transpose()?;
        Ok(BusConfig { servers, credentials, ca: ca.map(Path::to_path_buf), client_cert: None, replicas })
    }

    /// Connects as `name` (`shellsight-agent HOST`, `shellsight-sensor NAME`) and makes sure
    /// the streams exist. `None` after logging why: the caller keeps running without it.
    pub(super) async fn jetstream(
        &self,
        name: &str,
        counters: Arc<BusCounters>,
    ) -> Option<async_nats::jetstream::Context> {
        match self.connect(name, counters).await {
            Ok(client) => {
                let js = async_nats::jetstream::new(client);
                super::streams::ensure(&js, self.replicas).await;
                Some(js)
            }
            Err(e) => {
                tracing::error!("bus: {e}; {name} keeps running without it");
                None
            }
        }
    }

    /// Connects, retrying in the background while the server is away: the caller never
    /// waits for the bus, and the client reconnects with backoff on its own.
    async fn connect(
        &self,
        name: &str,
        counters: Arc<BusCounters>,
    ) -> std::result::Result<async_nats::Client, String> {
        let mut opts = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(3))
            .ping_interval(Duration::from_secs(5))
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((100u64 << attempts.min(8) as u32).min(10_000))
            })
            .event_callback(move |event| {
                let counters = counters.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            if counters.connected.swap(1, Ordering::Relaxed) == 0
                                && counters.connections.fetch_add(1, Ordering::Relaxed) > 0
                            {
                                // Not the first connection: whoever follows or publishes a
                                // state sends or reads it again.
                                counters.reconnected.notify_one();
                            }
                            tracing::info!("bus: connected");
                        }
                        async_nats::Event::Disconnected => {
                            counters.connected.store(0, Ordering::Relaxed);
                            tracing::warn!("bus: disconnected; reconnecting");
                        }
                        // A wrong password or a refused certificate shows here, on every try.
                        e @ (async_nats::Event::ServerError(_) | async_nats::Event::ClientError(_)) => {
                            tracing::warn!("bus: {e}")
                        }
                        other => tracing::debug!("bus: {other}"),
                    }
                }
            });
        opts = match &self.credentials {
            None => opts,
            Some(Credentials::UserPassword { user, password }) => {
                opts.user_and_password(user.clone(), password.clone())
            }
            Some(Credentials::Token(t)) => opts.token(t.clone()),
            Some(Credentials::Nkey(seed)) => opts.nkey(seed.clone()),
            Some(Credentials::CredsFile(text)) => {
                opts.credentials(text).map_err(|e| format!("--bus-creds: {e}"))?
            }
        };
        if let Some(ca) = &self.ca {
            opts = opts.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.client_cert {
            opts = opts.add_client_certificate(cert.clone(), key.clone()).require_tls(true);
        }
        let addrs: Vec<async_nats::ServerAddr> = self
            .servers
            .iter()
            .map(|s| s.parse().map_err(|e| format!("--bus {s}: {e}")))
            .collect::<std::result::Result<_, _>>()?;
        opts.connect(addrs).await.map_err(|e| e.to_string())
    }
}

/// Reads a credentials file: a NATS `.creds` file, or `key = value` lines with
/// `user` and `password`, `token`, or `nkey` (a seed). `#` starts a comment.
pub fn read_credentials(path: &Path) -> Result<Credentials> {
    // Passwords, tokens and seeds: private, like the agent token.
    crate::transport::check_private(path, "credentials file")?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_credentials(&text).map_err(|why| Error::input(format!("{}: {why}", path.display())))
}

fn parse_credentials(text: &str) -> std::result::Result<Credentials, String> {
    if text.contains("-----BEGIN NATS USER JWT-----") {
        return Ok(Credentials::CredsFile(text.to_string()));
    }
    let (mut user, mut password, mut token, mut nkey) = (None, None, None, None);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected key = value", i + 1));
        };
        let value = value.trim().trim_matches('"').to_string();
        if value.is_empty() {
            return Err(format!("line {}: {} is empty", i + 1, key.trim()));
        }
        match key.trim() {
            "user" => user = Some(value),
            "password" => password = Some(value),
            "token" => token = Some(value),
            "nkey" => nkey = Some(value),
            other => {
                return Err(format!("line {}: unknown key {other:?} (user, password, token, nkey)", i + 1))
            }
        }
    }
    match (user, password, token, nkey) {
        (Some(user), Some(password), None, None) => Ok(Credentials::UserPassword { user, password }),
        (None, None, Some(t), None) => Ok(Credentials::Token(t)),
        (None, None, None, Some(seed)) if seed.starts_with("SU") => Ok(Credentials::Nkey(seed)),
        (None, None, None, Some(_)) => Err("nkey must be a user seed (SU…)".into()),
        (Some(_), None, None, None) | (None, Some(_), None, None) => {
            Err("user and password go together".into())
        }
        (None, None, None, None) => Err("no credentials (user and password, token, or nkey)".into()),
        _ => Err("give one of: user and password, token, nkey".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_files() {
        assert_eq!(
            parse_credentials("# bus\nuser = sensor\npassword = \"s3cret\"\n").unwrap(),
            Credentials::UserPassword { user: "sensor".into(), password: "s3cret".into() }
        );
        assert_eq!(parse_credentials("token=abc").unwrap(), Credentials::Token("abc".into()));
        assert!(matches!(parse_credentials("nkey = SUAB").unwrap(), Credentials::Nkey(_)));
        assert!(parse_credentials("nkey = UAB").is_err());
        assert!(parse_credentials("user = x").unwrap_err().contains("together"));
        assert!(parse_credentials("token = a\nuser = b\npassword = c").is_err());
        assert!(parse_credentials("colour = blue").unwrap_err().contains("line 1"));
        assert!(parse_credentials("").is_err());
        assert!(format!("{:?}", Credentials::Token("abc".into())).find("abc").is_none());
    }

    #[test]
    fn urls_and_replicas_are_checked() {
        assert!(BusConfig::resolve("nats://127.0.0.1:4222", None, None, 1).is_ok());
        assert_eq!(BusConfig::resolve("nats://a:1, nats://b:2", None, None, 3).unwrap().servers.len(), 2);
        assert!(BusConfig::resolve("127.0.0.1:4222", None, None, 1).is_err());
        assert!(BusConfig::resolve("nats://a:1", None, None, 0).is_err());
    }
}

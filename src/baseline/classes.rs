//! What a peer is, at the grains the history keeps: the remote network, the class of the
//! service port, and the direction. Also which port/ASN classes count as the "known
//! services" that workloads normally speak to (databases, queues, object storage and
//! cloud APIs, internal APIs, package mirrors).

use crate::decode::Transport;
use crate::protocols::{self, HIGH_PORT};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The remote end, at the coarsest grain the history keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RemoteNet {
    /// Inside the home networks (or not globally routable).
    Internal,
    /// A global address in this autonomous system.
    Asn(u32),
    /// A global address the ASN database does not know.
    Unknown,
}

impl fmt::Display for RemoteNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteNet::Internal => f.write_str("internal"),
            RemoteNet::Asn(n) => write!(f, "asn:{n}"),
            RemoteNet::Unknown => f.write_str("unknown-net"),
        }
    }
}

impl std::str::FromStr for RemoteNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "internal" => Ok(RemoteNet::Internal),
            "unknown-net" => Ok(RemoteNet::Unknown),
            _ => s
                .strip_prefix("asn:")
                .and_then(|n| n.parse().ok())
                .map(RemoteNet::Asn)
                .ok_or_else(|| format!("`{s}` is not a remote network (internal, unknown-net or asn:N)")),
        }
    }
}

/// Which end of the session the internal host was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The host opened the session.
    Out,
    /// The host accepted it.
    In,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
        }
    }
}

/// Ports of the known service classes. A session to one of these (or to an internal
/// address at all) is the traffic a workload that "only talks to its backends" has.
const DB_PORTS: &[u16] = &[1433, 1521, 3306, 5432, 5984, 6379, 7000, 8086, 9042, 9200, 9300, 11211, 27017];
const QUEUE_PORTS: &[u16] = &[1883, 4222, 5671, 5672, 6650, 8883, 9092, 61613, 61616];
const OBJECT_STORE_PORTS: &[u16] = &[7480, 8333, 9000];
const MIRROR_PORTS: &[u16] = &[873, 3142, 11371];
const API_PORTS: &[u16] = &[80, 443, 2379, 6443, 8080, 8443, 9443, 10250, 50051];

/// Cloud providers whose HTTPS endpoints are object storage and cloud APIs (S3, GCS,
/// Azure Blob, R2, Spaces …): Amazon, Google, Microsoft, Cloudflare, DigitalOcean,
/// Akamai/Linode, Hetzner, OVH.
const CLOUD_API_ASNS: &[u32] = &[16509, 14618, 15169, 396982, 8075, 13335, 14061, 63949, 24940, 16276];
/// CDNs that front the package mirrors (deb.debian.org, PyPI, crates.io's static files).
const MIRROR_ASNS: &[u32] = &[54113];

/// The class of the service port (the responder's port), as the history names it.
pub fn port_class(port: u16) -> &'static str {
    if DB_PORTS.contains(&port) {
        return "db";
    }
    if QUEUE_PORTS.contains(&port) {
        return "queue";
    }
    if OBJECT_STORE_PORTS.contains(&port) {
        return "object-storage";
    }
    if MIRROR_PORTS.contains(&port) {
        return "package-mirror";
    }
    match protocols::service(Transport::Tcp, port) {
        Some(s) => match s.name {
            "http" | "tls" => "web",
            "ssh" => "ssh",
            "telnet" | "rlogin" => "telnet",
            "rdp" | "vnc" => "remote-desktop",
            "smtp" | "pop3" | "imap" => "mail",
            other => other,
        },
        None if port >= HIGH_PORT => "high",
        None => "low",
    }
}

/// Whether a session belongs to the known service classes: databases, queues, object
/// storage and cloud APIs, internal APIs, package mirrors. Internal sessions count too.
pub fn is_service(remote: RemoteNet, service_port: u16) -> bool {
    let class = port_class(service_port);
    if matches!(class, "db" | "queue" | "object-storage" | "package-mirror") {
        return true;
    }
    match remote {
        RemoteNet::Internal => API_PORTS.contains(&service_port),
        RemoteNet::Asn(asn) if service_port == 443 || service_port == 80 => {
            CLOUD_API_ASNS.contains(&asn) || MIRROR_ASNS.contains(&asn)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_name_the_service_ports() {
        assert_eq!(port_class(5432), "db");
        assert_eq!(port_class(9092), "queue");
        assert_eq!(port_class(443), "web");
        assert_eq!(port_class(22), "ssh");
        assert_eq!(port_class(4444), "high");
        assert!(is_service(RemoteNet::Asn(16509), 443));
        assert!(is_service(RemoteNet::Internal, 8080));
        assert!(!is_service(RemoteNet::Asn(7922), 443));
        assert!(!is_service(RemoteNet::Asn(16509), 4444));
        for r in [RemoteNet::Internal, RemoteNet::Asn(7922), RemoteNet::Unknown] {
            assert_eq!(r.to_string().parse::<RemoteNet>(), Ok(r));
        }
    }
}

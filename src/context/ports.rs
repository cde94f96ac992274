//! What a port is for: the protocol expected there, and whether people sit at sessions
//! on it (ssh, telnet, database shells), where an interactive session is ordinary.

use crate::evidence::protocol::Protocol;

/// A well-known service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    /// The protocol we expect to identify there, when we can identify it.
    pub expects: Option<Protocol>,
    /// A person typing into a session on this port is normal.
    pub interactive: bool,
}

const fn svc(name: &'static str, expects: Option<Protocol>, interactive: bool) -> Service {
    Service { name, expects, interactive }
}

pub fn service(port: u16) -> Option<Service> {
    use Protocol::*;
    Some(match port {
        21 => svc("ftp", None, true),
        22 => svc("ssh", Some(Ssh), true),
        23 => svc("telnet", None, true),
        25 | 587 => svc("smtp", Some(Smtp), false),
        53 => svc("dns", Some(Dns), false),
        80 | 8000 | 8008 | 8080 | 8081 => svc("http", Some(Http), false),
        110 => svc("pop3", None, false),
        143 => svc("imap", None, false),
        443 | 8443 | 9443 => svc("https", Some(Tls), false),
        445 | 139 => svc("smb", Some(Smb), false),
        465 | 636 | 853 | 993 | 995 | 5061 | 6443 | 10250 | 8883 => svc("tls", Some(Tls), false),
        513 | 514 => svc("rlogin", None, true),
        1433 => svc("mssql", None, true),
        1521 => svc("oracle", None, true),
        1883 => svc("mqtt", None, false),
        2222 => svc("ssh-alt", Some(Ssh), true),
        3306 => svc("mysql", Some(Mysql), true),
        3389 => svc("rdp", Some(Rdp), true),
        5432 => svc("postgres", Some(Postgres), true),
        5900..=5909 => svc("vnc", Some(Vnc), true),
        6379 => svc("redis", Some(Redis), true),
        6660..=6669 | 6697 | 7000 => svc("irc", Some(Irc), true),
        9200 => svc("elasticsearch", Some(Http), false),
        11211 => svc("memcached", None, true),
        27017 => svc("mongodb", None, true),
        _ => return None,
    })
}

/// Whether `observed` contradicts what the port is for (a shell on 443 that is not TLS).
pub fn mismatch(port: u16, orig: Protocol, resp: Protocol) -> bool {
    let Some(expected) = service(port).and_then(|s| s.expects) else { return false };
    let seen = [orig, resp].into_iter().filter(|p| *p != Protocol::Unseen);
    let mut any = false;
    for p in seen {
        any = true;
        if p == expected {
            return false;
        }
    }
    any
}

/// Ports at or above this that name no service are "high ports" (listener ports of
/// reverse-shell kits: 4444, 1234, 9001, 31337 …).
pub const HIGH_PORT: u16 = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_needs_evidence_against_the_port() {
        assert!(mismatch(443, Protocol::Text, Protocol::Unseen));
        assert!(!mismatch(443, Protocol::Tls, Protocol::Tls));
        assert!(!mismatch(443, Protocol::Unseen, Protocol::Unseen));
        assert!(mismatch(53, Protocol::Text, Protocol::Text));
        assert!(!mismatch(4444, Protocol::Text, Protocol::Text));
    }
}

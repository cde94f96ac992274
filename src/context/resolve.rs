//! Resolves the context of one session from the site policy and the ASN database.

use super::asn::{is_global, AsnInfo};
use super::{AsnClass, AsnLookup};
use crate::config::{ExclusionOutcome, ExclusionQuery, Role, SitePolicy};
use crate::flow::key::Endpoint;
use crate::time::Timestamp;
use crate::verdict::ContextFacts;

/// Read-only context shared by every shard.
pub struct Context {
    pub policy: SitePolicy,
    asn: Option<Box<dyn AsnLookup>>,
}

/// Where a session sits: who is home, who is remote, what network the remote is in.
#[derive(Debug, Clone)]
pub struct Placement {
    pub facts: ContextFacts,
    pub remote_network: Option<AsnInfo>,
    pub role: Option<Role>,
    /// ECS `network.direction` from the initiator's point of view.
    pub direction: &'static str,
    /// The remote end's name, from the SNI or a DNS answer to the shell host.
    pub remote_domain: Option<std::sync::Arc<str>>,
}

impl Context {
    pub fn new(policy: SitePolicy, asn: Option<Box<dyn AsnLookup>>) -> Self {
        Context { policy, asn }
    }

    /// Context for a session whose shell runs on `shell` and whose other end is `remote`.
    /// `remote_speaks_its_port` is true when the remote port carries the protocol it is
    /// for (TLS on 443), which lowers the weight of cloud destinations.
    pub fn place(
        &self,
        initiator: Endpoint,
        responder: Endpoint,
        shell: Endpoint,
        remote: Endpoint,
        remote_speaks_its_port: bool,
        at: Timestamp,
    ) -> Placement {
        let p = &self.policy;
        let remote_network = if p.is_home(remote.ip) || !is_global(remote.ip) {
            None
        } else {
            self.asn.as_ref().and_then(|db| db.remote_network(remote.ip))
        };
        let remote_class = remote_network.as_ref().map(|n| n.class).filter(|c| *c != AsnClass::Unknown);
        let role = p.role_of(shell.ip);
        let facts = ContextFacts {
            remote_class,
            remote_on_service_port: remote_speaks_its_port,
            shell_host_role: role,
            remote_is_admin: p.is_admin(remote.ip),
            off_hours: p.is_off_hours(at),
            remote_naming: Default::default(),
            remote_outside_home: !p.is_home(remote.ip),
        };
        let direction = match (p.is_home(initiator.ip), p.is_home(responder.ip)) {
            (true, false) => "outbound",
            (false, true) => "inbound",
            (true, true) => "internal",
            (false, false) => "external",
        };
        Placement { facts, remote_network, role, direction, remote_domain: None }
    }

    /// Whether `ip` is inside the site's home networks.
    pub fn is_home(&self, ip: std::net::IpAddr) -> bool {
        self.policy.is_home(ip)
    }

    /// Whether a site exclusion covers this session.
    pub fn exclusion(&self, q: &ExclusionQuery<'_>, at: Timestamp) -> ExclusionOutcome {
        self.policy.exclusion_for(q, at)
    }
}

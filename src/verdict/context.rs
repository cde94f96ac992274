//! Where the session sits: the remote end's network, the shell host's role, admin
//! ranges and business hours (from the site policy and the ASN database).

use super::network::NetworkFindings;
use super::reason::Reason;
use super::Weight;
use crate::config::Role;
use crate::context::AsnClass;
use crate::names::services::NameService;

/// Facts about where the session sits, resolved for the shell side and the remote side.
#[derive(Debug, Clone, Default)]
pub struct ContextFacts {
    /// The remote end's network, when it is outside the home networks.
    pub remote_class: Option<AsnClass>,
    /// The remote port speaks the protocol its port is for (TLS on 443).
    pub remote_on_service_port: bool,
    pub shell_host_role: Option<Role>,
    pub remote_is_admin: bool,
    pub off_hours: bool,
    /// How this host named the remote end it called (left unknown for sessions it did not
    /// open, or whose start was not seen).
    pub remote_naming: RemoteNaming,
    /// The remote end is outside the home networks.
    pub remote_outside_home: bool,
}

/// How the shell host named the remote end of a session it opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RemoteNaming {
    #[default]
    Unknown,
    /// No DNS answer to this host and no SNI named the address: a direct-IP callback.
    DirectIp,
    /// A DNS answer or the SNI named it; the name may belong to a dynamic-DNS or
    /// tunnelling service.
    Named(Option<NameService>),
}

pub(super) fn weigh(net: &NetworkFindings, ctx: &ContextFacts, w: &mut Weight) {
    match ctx.remote_class {
        Some(AsnClass::Residential) => w.add(Reason::ResidentialAsn, 15),
        Some(AsnClass::Mobile) => w.add(Reason::MobileAsn, 15),
        // A cloud service on its usual port is what most traffic to clouds is, unless the
        // session's own evidence shows someone on the far side typing into this host:
        // attackers rent their catchers there too.
        Some(AsnClass::Hosting | AsnClass::Cdn) if ctx.remote_on_service_port && !net.someone_typing => {
            w.add(Reason::CloudServicePort, -15)
        }
        Some(AsnClass::Hosting) => w.add(Reason::HostingAsn, 5),
        _ => {}
    }
    match ctx.shell_host_role {
        Some(Role::Server) => w.add(Reason::Role(Role::Server), 5),
        Some(r @ (Role::Workstation | Role::CiRunner | Role::Backup | Role::Admin)) => {
            w.add(Reason::Role(r), -10)
        }
        Some(Role::Bastion) => w.add(Reason::Role(Role::Bastion), -5),
        None => {}
    }
    if ctx.remote_is_admin {
        w.add(Reason::AdminRange, -30);
    }
    if ctx.off_hours {
        w.add(Reason::OffHours, 5);
    }
}

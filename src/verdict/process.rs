//! The process behind the shell side's socket, from the host agent (or auditd, Sysmon):
//! a shell under an exposed service, or one whose stdio is the socket, is high whatever
//! the network says.

use super::context::ContextFacts;
use super::network::NetworkFindings;
use super::reason::Reason;
use super::{Tier, Weight};
use crate::config::Role;

/// What the host agent says about the process behind the shell side's socket.
#[derive(Debug, Clone, Default)]
pub struct ProcessFacts {
    /// The process is a shell or an interpreter.
    pub shell_or_interpreter: Option<String>,
    /// The nearest ancestor that is an exposed service (nginx, php-fpm, postgres …).
    pub exposed_ancestor: Option<String>,
    /// fds 0 and 1 (and 2) are sockets: a shell wired to the network.
    pub stdio_on_socket: bool,
    /// Its stdio is a pty whose master a holder of the socket drives (`pty.spawn`,
    /// `socat ...,pty`, `script`).
    pub stdio_pty_of_socket: bool,
    /// The name of that holder (the pty's driver).
    pub pty_driver: Option<String>,
    /// The command line matches a known reverse-shell idiom.
    pub suspicious_command_line: bool,
    /// The process or an ancestor is known automation (backup, CI runner …).
    pub trusted_automation: Option<String>,
    /// It runs a deleted binary, or one from /tmp, /var/tmp or /dev/shm (its path).
    pub suspicious_image: Option<String>,
}

/// Daemons whose job is to give a remote user a shell on a pty (process names).
const REMOTE_LOGIN_DAEMONS: &[&str] =
    &["sshd", "sshd-session", "dropbear", "telnetd", "in.telnetd", "mosh-server"];

/// `poller`: the session belongs to a series of check-ins (a beacon, or an operator's tasks
/// over one): a shell or an interpreter behind it, a child of an exposed service, or a
/// dropped or deleted binary makes it high.
pub(super) fn weigh(
    net: &NetworkFindings,
    ctx: &ContextFacts,
    p: &ProcessFacts,
    poller: bool,
    w: &mut Weight,
) {
    if let Some(image) = &p.suspicious_image {
        w.add(Reason::SuspiciousImage(image.clone()), 15);
    }
    if poller {
        let behind =
            p.shell_or_interpreter.as_ref().or(p.exposed_ancestor.as_ref()).or(p.suspicious_image.as_ref());
        if let Some(name) = behind {
            w.add(Reason::PollerProcess(name.clone()), 20);
            w.floor(Tier::High);
        }
    }
    if let Some(name) = &p.shell_or_interpreter {
        w.add(Reason::ShellProcess(name.clone()), 0);
        if let Some(parent) = &p.exposed_ancestor {
            w.add(Reason::ExposedServiceParent(parent.clone()), 40);
            w.floor(Tier::High);
        }
        if p.stdio_on_socket {
            w.add(Reason::StdioSocket, 30);
            w.floor(Tier::High);
        } else if p.stdio_pty_of_socket {
            // A login daemon drives the pty of every remote login: that is no tell.
            let login = p.pty_driver.as_deref().is_some_and(|d| REMOTE_LOGIN_DAEMONS.contains(&d));
            if !login && net.service_port.is_none() {
                w.add(Reason::StdioPtyOfSocket, 30);
                w.floor(Tier::High);
            }
        }
        if ctx.shell_host_role == Some(Role::Server) && w.floor.is_none() {
            w.add(Reason::ServerOutboundShell, 0);
            w.floor(Tier::Medium);
        }
    }
    if p.suspicious_command_line {
        w.add(Reason::SuspiciousCommandLine, 20);
    }
    if let Some(name) = &p.trusted_automation {
        if w.floor.is_none() {
            w.add(Reason::TrustedAutomation(name.clone()), -30);
        }
    }
}

//! Evidence and context in, score, tier and reasons out. This is the only place tiers are
//! decided: a reader who wants to know why something is high opens this file.
//!
//! Points, not a single threshold. Network evidence says how much a session looks like a
//! person driving a shell; context says how much that matters here. The defaults follow
//! the article the project comes from: high for shells that are children of exposed
//! services, medium for unusual outbound shell networking from servers, low for
//! workstations unless the destination, parent or command line is ugly. Interactive
//! sessions on their own service port (ssh/22, telnet/23, database ports) stay at most
//! low on network evidence alone.

use crate::config::Role;
use crate::context::ports::{self, HIGH_PORT};
use crate::context::AsnClass;
use crate::evidence::protocol::Protocol;
use crate::evidence::tells::Tell;
use crate::evidence::turns::Interactivity;
use crate::evidence::{Dir, Evidence};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Low,
    Medium,
    High,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Medium => "medium",
            Tier::High => "high",
        }
    }
    /// ECS `event.severity`.
    pub fn severity(self) -> u8 {
        match self {
            Tier::Low => 21,
            Tier::Medium => 47,
            Tier::High => 73,
        }
    }
    fn from_score(score: i32) -> Option<Tier> {
        match score {
            s if s >= HIGH_SCORE => Some(Tier::High),
            s if s >= MEDIUM_SCORE => Some(Tier::Medium),
            s if s >= LOW_SCORE => Some(Tier::Low),
            _ => None,
        }
    }
}

pub const LOW_SCORE: i32 = 20;
pub const MEDIUM_SCORE: i32 = 45;
pub const HIGH_SCORE: i32 = 70;
/// Network evidence alone cannot exceed this: certainty needs context.
const NETWORK_CAP: i32 = 85;
/// The most an interactive session on its own service port may score (below medium).
const SERVICE_PORT_CAP: i32 = MEDIUM_SCORE - 1;

/// The two ends of the session, as the verdict needs them.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub orig: u16,
    pub resp: u16,
}

/// What the network evidence says, before context.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkFindings {
    pub points: i32,
    pub reasons: Vec<String>,
    /// The end that hosts the shell (the victim).
    pub shell_side: Dir,
    pub interactivity: Option<Interactivity>,
    /// An ordinary interactive protocol on its own port: capped below medium.
    pub service_port: Option<&'static str>,
}

/// Quick pre-check so that the per-packet path only builds findings for candidates.
pub fn is_candidate(ev: &Evidence) -> bool {
    !ev.all_tells().is_empty() || ev.stage.is_some() || ev.turns.interactivity().is_some()
}

/// Weighs a session's network evidence.
pub fn assess_network(ev: &Evidence, ports: Ports) -> NetworkFindings {
    let mut points = 0;
    let mut reasons = Vec::new();
    let shell_side = shell_side(ev, ev.turns.interactivity());
    // Turn-taking that contradicts stronger evidence of where the shell is does not count.
    let inter = ev.turns.interactivity().filter(|i| i.typist == shell_side.other());
    let typist = shell_side.other();
    let shell_tells = ev.tells[shell_side.idx()];
    let typist_tells = ev.tells[typist.idx()];
    let shell_proto = ev.protocol[shell_side.idx()];
    let encrypted = ev.protocol.iter().any(|p| p.is_encrypted());
    // Cleartext tells count only when the shell side speaks no known other protocol:
    // a web page that quotes `uid=0(root)` is not a shell.
    let cleartext_shell =
        matches!(shell_proto, Protocol::Text | Protocol::Binary | Protocol::Unseen | Protocol::Telnet);

    match inter {
        Some(i) if i.typist == Dir::Resp => {
            points += 40;
            reasons.push("reverse-interactive".to_string());
            if i.exchanges >= 8 {
                points += 5;
            }
        }
        Some(_) => {
            points += 10;
            reasons.push("interactive".to_string());
        }
        None => {}
    }
    if let Some(i) = inter {
        if i.echoes >= 5 {
            points += 10;
            reasons.push("keystroke-echo".to_string());
        }
    }
    if cleartext_shell {
        let shell_marks: [(Tell, i32, &str); 8] = [
            (Tell::NoJobControl, 35, "no-job-control"),
            (Tell::NoTty, 30, "no-tty"),
            (Tell::UidOutput, 25, "uid-output"),
            (Tell::UidRoot, 5, "uid-root"),
            (Tell::CmdBanner, 40, "cmd-banner"),
            (Tell::PowershellBanner, 35, "powershell-banner"),
            (Tell::PowershellPrompt, 20, "powershell-prompt"),
            (Tell::ShellPrompt, 20, "shell-prompt"),
        ];
        for (tell, p, name) in shell_marks {
            if shell_tells.contains(tell) {
                points += p;
                reasons.push(name.to_string());
            }
        }
        let typist_marks: [(Tell, i32, &str); 4] = [
            (Tell::ShellCommands, 15, "shell-commands"),
            (Tell::ReconCommands, 10, "recon-commands"),
            (Tell::PtyUpgrade, 25, "pty-upgrade"),
            (Tell::ShellSpawn, 15, "shell-spawn"),
        ];
        for (tell, p, name) in typist_marks {
            if typist_tells.contains(tell) {
                points += p;
                reasons.push(name.to_string());
            }
        }
        // The side that accepted the connection typing shell commands at the side that
        // opened it: no client/server protocol works that way round.
        if typist == Dir::Resp && typist_tells.contains(Tell::ShellCommands) {
            points += 15;
            reasons.push("reverse-commands".to_string());
        }
    }
    if let Some((_, h)) = ev.stage {
        if h.executable {
            points += 45;
            reasons.push("staged-executable".to_string());
        } else if ev.stage_complete() {
            points += 35;
            reasons.push("length-prefixed-stage".to_string());
        }
    }
    if encrypted && inter.is_some() {
        let p = if ev.protocol.contains(&Protocol::Ssh) { "encrypted:ssh" } else { "encrypted:tls" };
        reasons.push(p.to_string());
    }

    // Where the shell listens or calls to: the responder's port.
    let port = ports.resp;
    let service = ports::service(port);
    if ports::mismatch(port, ev.protocol[0], ev.protocol[1]) {
        points += 15;
        reasons.push(format!("protocol-mismatch:{port}"));
    } else if service.is_none() && port >= HIGH_PORT && points > 0 {
        points += 5;
        reasons.push("high-port".to_string());
    }
    // A shell the initiator types into, listening on a port that is no interactive service.
    if points > 0 && shell_side == Dir::Resp && inter.is_some_and(|i| i.typist == Dir::Orig) {
        let ordinary =
            service.is_some_and(|s| s.interactive) && !ports::mismatch(port, ev.protocol[0], ev.protocol[1]);
        if !ordinary && (cleartext_shell && !shell_tells.union(typist_tells).is_empty()) {
            points += 15;
            reasons.push("bind-shell".to_string());
        }
    }
    let service_port = match (service, inter) {
        (Some(s), Some(i))
            if s.interactive
                && i.typist == Dir::Orig
                && !ports::mismatch(port, ev.protocol[0], ev.protocol[1]) =>
        {
            // People typing on their own service port is what the port is for: turn-taking
            // and echo say nothing there; only what the shell prints still counts.
            points -= 10 + if i.echoes >= 5 { 10 } else { 0 };
            reasons.retain(|r| r != "interactive" && r != "keystroke-echo");
            reasons.push(format!("service-port:{}", s.name));
            Some(s.name)
        }
        _ => None,
    };
    NetworkFindings {
        points: points.min(NETWORK_CAP),
        reasons,
        shell_side,
        interactivity: inter,
        service_port,
    }
}

/// The end that hosts the shell. A stager decides it (the side that received the stage),
/// then shell output (banners, `uid=`, prompts), then who answers a typist, then who
/// received typed commands; failing all, the initiator.
fn shell_side(ev: &Evidence, inter: Option<Interactivity>) -> Dir {
    if let Some((stager, _)) = ev.stage {
        return stager.other();
    }
    let output = [
        Tell::NoJobControl,
        Tell::NoTty,
        Tell::UidOutput,
        Tell::CmdBanner,
        Tell::PowershellBanner,
        Tell::ShellPrompt,
    ];
    for d in [Dir::Orig, Dir::Resp] {
        if output.iter().any(|t| ev.tells[d.idx()].contains(*t)) {
            return d;
        }
    }
    if let Some(i) = inter {
        return i.typist.other();
    }
    for d in [Dir::Orig, Dir::Resp] {
        if ev.tells[d.idx()].contains(Tell::ShellCommands) {
            return d.other();
        }
    }
    Dir::Orig
}

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
}

/// What the host agent says about the process behind the shell side's socket.
#[derive(Debug, Clone, Default)]
pub struct ProcessFacts {
    /// The process is a shell or an interpreter.
    pub shell_or_interpreter: Option<String>,
    /// The nearest ancestor that is an exposed service (nginx, php-fpm, postgres …).
    pub exposed_ancestor: Option<String>,
    /// fds 0 and 1 (and 2) are sockets: a shell wired to the network.
    pub stdio_on_socket: bool,
    /// The command line matches a known reverse-shell idiom.
    pub suspicious_command_line: bool,
    /// The process or an ancestor is known automation (backup, CI runner …).
    pub trusted_automation: Option<String>,
}

/// The decision for one session at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: i32,
    pub tier: Option<Tier>,
    pub reasons: Vec<String>,
}

/// Combines network findings with context and, when known, process facts.
pub fn decide(net: &NetworkFindings, ctx: &ContextFacts, proc_: Option<&ProcessFacts>) -> Verdict {
    let mut score = net.points;
    let mut reasons = net.reasons.clone();
    let mut floor: Option<Tier> = None;

    match ctx.remote_class {
        Some(AsnClass::Residential) => {
            score += 15;
            reasons.push("residential-asn".into());
        }
        Some(AsnClass::Mobile) => {
            score += 15;
            reasons.push("mobile-asn".into());
        }
        Some(AsnClass::Hosting | AsnClass::Cdn) if ctx.remote_on_service_port => {
            score -= 15;
            reasons.push("cloud-service-port".into());
        }
        Some(AsnClass::Hosting) => {
            score += 5;
            reasons.push("hosting-asn".into());
        }
        _ => {}
    }
    match ctx.shell_host_role {
        Some(Role::Server) => {
            score += 5;
            reasons.push("role:server".into());
        }
        Some(r @ (Role::Workstation | Role::CiRunner | Role::Backup | Role::Admin)) => {
            score -= 10;
            reasons.push(format!("role:{r}"));
        }
        Some(Role::Bastion) => {
            score -= 5;
            reasons.push("role:bastion".into());
        }
        None => {}
    }
    if ctx.remote_is_admin {
        score -= 30;
        reasons.push("admin-range".into());
    }
    if ctx.off_hours {
        score += 5;
        reasons.push("off-hours".into());
    }

    if let Some(p) = proc_ {
        if let Some(name) = &p.shell_or_interpreter {
            reasons.push(format!("shell-process:{name}"));
            if let Some(parent) = &p.exposed_ancestor {
                score += 40;
                reasons.push(format!("exposed-service-parent:{parent}"));
                floor = Some(Tier::High);
            }
            if p.stdio_on_socket {
                score += 30;
                reasons.push("stdio-socket".into());
                floor = Some(Tier::High);
            }
            if ctx.shell_host_role == Some(Role::Server) && floor.is_none() {
                floor = Some(Tier::Medium);
                reasons.push("server-outbound-shell".into());
            }
        }
        if p.suspicious_command_line {
            score += 20;
            reasons.push("suspicious-command-line".into());
        }
        if let Some(name) = &p.trusted_automation {
            if floor.is_none() {
                score -= 30;
                reasons.push(format!("trusted-automation:{name}"));
            }
        }
    }

    if net.service_port.is_some() && proc_.is_none_or(|p| p.exposed_ancestor.is_none() && !p.stdio_on_socket)
    {
        score = score.min(SERVICE_PORT_CAP);
    }
    let score = score.clamp(0, 100);
    let tier = match (Tier::from_score(score), floor) {
        (Some(t), Some(f)) => Some(t.max(f)),
        (t, f) => t.or(f),
    };
    Verdict { score, tier, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(points: i32, service_port: Option<&'static str>) -> NetworkFindings {
        NetworkFindings {
            points,
            reasons: vec!["reverse-interactive".into()],
            shell_side: Dir::Orig,
            interactivity: None,
            service_port,
        }
    }

    #[test]
    fn tier_boundaries() {
        let ctx = ContextFacts::default();
        let tier = |p| decide(&net(p, None), &ctx, None).tier;
        assert_eq!(tier(LOW_SCORE - 1), None);
        assert_eq!(tier(LOW_SCORE), Some(Tier::Low));
        assert_eq!(tier(MEDIUM_SCORE), Some(Tier::Medium));
        assert_eq!(tier(HIGH_SCORE), Some(Tier::High));
        assert_eq!(Tier::High.severity(), 73);
    }

    #[test]
    fn remote_network_class_moves_the_score() {
        let n = net(40, None);
        let base = decide(&n, &ContextFacts::default(), None).score;
        let res = decide(
            &n,
            &ContextFacts { remote_class: Some(AsnClass::Residential), ..Default::default() },
            None,
        );
        let cloud = decide(
            &n,
            &ContextFacts {
                remote_class: Some(AsnClass::Hosting),
                remote_on_service_port: true,
                ..Default::default()
            },
            None,
        );
        assert!(res.score > base && cloud.score < base);
        assert!(res.tier > cloud.tier);
        assert!(res.reasons.contains(&"residential-asn".to_string()));
    }

    #[test]
    fn an_ordinary_session_on_its_service_port_stays_below_medium() {
        let ctx =
            ContextFacts { remote_class: Some(AsnClass::Residential), off_hours: true, ..Default::default() };
        let v = decide(&net(80, Some("telnet")), &ctx, None);
        assert!(v.tier <= Some(Tier::Low), "{v:?}");
    }

    #[test]
    fn a_shell_under_an_exposed_service_is_high_whatever_the_network_says() {
        let p = ProcessFacts {
            shell_or_interpreter: Some("bash".into()),
            exposed_ancestor: Some("php-fpm8.2".into()),
            ..Default::default()
        };
        let v = decide(&net(5, None), &ContextFacts::default(), Some(&p));
        assert_eq!(v.tier, Some(Tier::High));
        assert!(v.reasons.contains(&"exposed-service-parent:php-fpm8.2".to_string()));
    }

    #[test]
    fn a_shell_on_a_server_is_at_least_medium_and_automation_lowers() {
        let ctx = ContextFacts { shell_host_role: Some(Role::Server), ..Default::default() };
        let p = ProcessFacts { shell_or_interpreter: Some("sh".into()), ..Default::default() };
        assert_eq!(decide(&net(10, None), &ctx, Some(&p)).tier, Some(Tier::Medium));
        let backup = ProcessFacts { trusted_automation: Some("restic".into()), ..Default::default() };
        let v = decide(&net(50, None), &ContextFacts::default(), Some(&backup));
        assert!(v.tier < Some(Tier::Medium), "{v:?}");
    }

    #[test]
    fn admin_ranges_lower_the_score() {
        let v = decide(&net(60, None), &ContextFacts { remote_is_admin: true, ..Default::default() }, None);
        assert_eq!(v.tier, Some(Tier::Low));
        assert!(v.reasons.contains(&"admin-range".to_string()));
    }
}

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
use crate::evidence::turns::{AnswerShape, Interactivity};
use crate::evidence::{Dir, Evidence};
use crate::names::services::NameService;
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
    /// Someone on the far side types into this host and gets command output or keystroke
    /// echo back: what a cloud destination on its usual port must not explain away.
    pub someone_typing: bool,
    /// The answers look like a shell's (output, echo, or cleartext shell tells): the
    /// network evidence stands on more than turn-taking.
    pub corroborated: bool,
    /// The session is SSH, where connecting to an address rather than a name is ordinary.
    pub ssh: bool,
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
    let typist = shell_side.other();
    let shell_tells = ev.tells[shell_side.idx()];
    let typist_tells = ev.tells[typist.idx()];
    let shell_proto = ev.protocol[shell_side.idx()];
    let encrypted = ev.protocol.iter().any(|p| p.is_encrypted());
    let tls = ev.protocol.contains(&Protocol::Tls);
    // Cleartext tells count only when the shell side speaks no known other protocol:
    // a web page that quotes `uid=0(root)` is not a shell.
    let cleartext_shell =
        matches!(shell_proto, Protocol::Text | Protocol::Binary | Protocol::Unseen | Protocol::Telnet);
    let cleartext_evidence = cleartext_shell && !shell_tells.union(typist_tells).is_empty();
    // Turn-taking that contradicts stronger evidence of where the shell is does not count,
    // and neither does a "typist" whose every message is acknowledged with one of a few
    // fixed-size answers: that is a server pushing messages (MQTT, IMAP IDLE, gRPC
    // streams, WebSocket), not a person at a shell.
    let inter = ev.turns.interactivity().filter(|i| {
        i.typist == shell_side.other()
            && (cleartext_evidence || i.echoes >= 5 || i.answers != AnswerShape::Acks)
    });
    let answered_like_a_shell = inter
        .is_some_and(|i| matches!(i.answers, AnswerShape::Output | AnswerShape::Echo) || cleartext_evidence);

    match inter {
        Some(i) if i.typist == Dir::Resp => {
            // Inside encryption, turn-taking alone is also what a server pushing messages
            // looks like until the answers show their shape.
            points += if encrypted && !answered_like_a_shell { 35 } else { 40 };
            reasons.push("reverse-interactive".to_string());
            if i.exchanges >= 8 && answered_like_a_shell {
                points += 5;
            }
            // Output that varies with every command and outweighs it. SSH's own chatter
            // (rekeys, keepalives, window adjustments) is left out.
            if i.answers == AnswerShape::Output && !ev.protocol.contains(&Protocol::Ssh) {
                points += 10;
                reasons.push("command-output".to_string());
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
    // The handshake of a TLS session someone types into: a library's default client that
    // names no server, or a self-signed certificate, is how a catcher on a rented server
    // looks; a browser-like client that names its server and offers HTTP is not.
    // They corroborate a session that already looks typed into; they make none.
    if let (true, Some(i), Some(facts)) = (tls, inter, ev.tls.as_deref()) {
        if i.typist == Dir::Resp && answered_like_a_shell {
            if let Some(hello) = &facts.client {
                if hello.server_name().is_none() {
                    points += 5;
                    reasons.push("tls-no-sni".to_string());
                } else if hello.alpn.iter().any(|a| a == "h2" || a.starts_with("http/")) {
                    points -= 10;
                    reasons.push("tls-browser-like".to_string());
                }
            }
            if facts.certificate.as_ref().is_some_and(|c| c.self_signed) {
                points += 10;
                reasons.push("tls-self-signed".to_string());
            }
        }
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
        someone_typing: inter.is_some_and(|i| i.typist == Dir::Resp) && answered_like_a_shell,
        corroborated: answered_like_a_shell,
        ssh: ev.protocol.contains(&Protocol::Ssh),
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
    /// How this host named the remote end it called (left unknown for sessions it did not
    /// open, or whose start was not seen).
    pub remote_naming: RemoteNaming,
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
}

/// Daemons whose job is to give a remote user a shell on a pty (process names).
const REMOTE_LOGIN_DAEMONS: &[&str] =
    &["sshd", "sshd-session", "dropbear", "telnetd", "in.telnetd", "mosh-server"];

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
        // A cloud service on its usual port is what most traffic to clouds is, unless the
        // session's own evidence shows someone on the far side typing into this host:
        // attackers rent their catchers there too.
        Some(AsnClass::Hosting | AsnClass::Cdn) if ctx.remote_on_service_port && !net.someone_typing => {
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
    // How the remote end was named weighs only on sessions whose own evidence already
    // looks like a shell: hobbyists run MQTT to dynamic-DNS names all day.
    match ctx.remote_naming {
        _ if !net.corroborated => {}
        RemoteNaming::DirectIp if !net.ssh => {
            score += 5;
            reasons.push("direct-ip".into());
        }
        RemoteNaming::Named(Some(service)) => {
            score += 15;
            reasons.push(service.reason());
        }
        RemoteNaming::DirectIp | RemoteNaming::Named(None) | RemoteNaming::Unknown => {}
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
            } else if p.stdio_pty_of_socket {
                // A login daemon drives the pty of every remote login: that is no tell.
                let login = p.pty_driver.as_deref().is_some_and(|d| REMOTE_LOGIN_DAEMONS.contains(&d));
                if !login && net.service_port.is_none() {
                    score += 30;
                    reasons.push("stdio-pty-of-socket".into());
                    floor = Some(Tier::High);
                }
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
    settle(score, floor, reasons)
}

/// The score bounded to 0–100 and its tier, raised to `floor` where a rule demands it.
fn settle(score: i32, floor: Option<Tier>, reasons: Vec<String>) -> Verdict {
    let score = score.clamp(0, 100);
    let tier = match (Tier::from_score(score), floor) {
        (Some(t), Some(f)) => Some(t.max(f)),
        (t, f) => t.or(f),
    };
    Verdict { score, tier, reasons }
}

// ---------------------------------------------------------------------------------------
// Host history (`--baseline`): "has this host ever done this before". Kept in one block so
// that network and process rules above can change without touching it.
// ---------------------------------------------------------------------------------------

/// What the host history says about the internal host of a session and its peer (the
/// remote network, the service port's class and the direction), from the state before the
/// session. Filled by `baseline`; weighed only here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryFacts {
    /// The host has enough history (sessions over at least a day) for novelty to mean
    /// something.
    pub established: bool,
    /// Earlier sessions with this exact peer, and on how many distinct days.
    pub peer_sessions: u64,
    pub peer_days: u32,
    /// Days since the peer was last seen, when it was seen at all.
    pub peer_idle_days: Option<u32>,
    /// The grain at which the peer is new (`asn:7922`, `port:high`, `direction:in`).
    pub new_grain: Option<String>,
    /// The host's history is (nearly) all internal or known-service traffic.
    pub internal_only_host: bool,
    /// This session is interactive, long, and goes outside to no known service.
    pub long_interactive_outside: bool,
}

/// A peer unseen for this many days counts as new again.
pub const DORMANT_DAYS: u32 = 30;

/// Moves a verdict by the host history. Never lowers below a tier that process facts
/// floored, and keeps the service-port cap.
pub fn weigh_history(v: Verdict, net: &NetworkFindings, h: &HistoryFacts) -> Verdict {
    let Verdict { mut score, tier: _, mut reasons } = v;
    // Process floors (`decide`) hold whatever the history says.
    let floor = if reasons.iter().any(|r| r.starts_with("exposed-service-parent:") || r == "stdio-socket") {
        Some(Tier::High)
    } else if reasons.iter().any(|r| r == "server-outbound-shell") {
        Some(Tier::Medium)
    } else {
        None
    };
    let dormant = h.peer_idle_days.filter(|d| *d >= DORMANT_DAYS);
    if let Some(days) = dormant {
        score += 10;
        reasons.push(format!("peer-dormant:{days}d"));
    } else if h.peer_sessions > 0 {
        // RITA-like: prevalence (sessions) and persistence (distinct days) both lower it.
        let by_count = match h.peer_sessions {
            1..=4 => 5,
            5..=19 => 10,
            _ => 15,
        };
        let by_days = if h.peer_days >= 3 { 5 } else { 0 };
        score -= by_count + by_days;
        reasons.push(format!("seen-before:{}-sessions", h.peer_sessions));
    } else if let (true, Some(grain)) = (h.established, &h.new_grain) {
        score += 10;
        reasons.push(format!("first-seen:{grain}"));
    }
    if h.internal_only_host && h.long_interactive_outside {
        score += 15;
        reasons.push("internal-only-host".into());
    }
    if net.service_port.is_some() && floor != Some(Tier::High) {
        score = score.min(SERVICE_PORT_CAP);
    }
    settle(score, floor, reasons)
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
            someone_typing: false,
            corroborated: true,
            ssh: false,
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
    fn a_shell_on_a_pty_of_the_socket_is_high_unless_a_login_daemon_drives_it() {
        let mut p = ProcessFacts {
            shell_or_interpreter: Some("sh".into()),
            stdio_pty_of_socket: true,
            pty_driver: Some("python3".into()),
            ..Default::default()
        };
        let v = decide(&net(10, None), &ContextFacts::default(), Some(&p));
        assert_eq!(v.tier, Some(Tier::High));
        assert!(v.reasons.contains(&"stdio-pty-of-socket".to_string()));
        p.pty_driver = Some("sshd".into());
        let v = decide(&net(10, None), &ContextFacts::default(), Some(&p));
        assert!(v.tier < Some(Tier::Medium), "{v:?}");
        p.pty_driver = Some("python3".into());
        let v = decide(&net(80, Some("ssh")), &ContextFacts::default(), Some(&p));
        assert!(v.tier < Some(Tier::Medium), "an ssh session on its port stays capped: {v:?}");
    }

    #[test]
    fn admin_ranges_lower_the_score() {
        let v = decide(&net(60, None), &ContextFacts { remote_is_admin: true, ..Default::default() }, None);
        assert_eq!(v.tier, Some(Tier::Low));
        assert!(v.reasons.contains(&"admin-range".to_string()));
    }

    #[test]
    fn history_raises_the_new_and_lowers_the_familiar() {
        let n = net(30, None);
        let base = decide(&n, &ContextFacts::default(), None);
        let familiar =
            HistoryFacts { peer_sessions: 47, peer_days: 12, peer_idle_days: Some(0), ..Default::default() };
        let v = weigh_history(base.clone(), &n, &familiar);
        assert!(v.score < base.score && v.reasons.contains(&"seen-before:47-sessions".to_string()));
        let new = HistoryFacts {
            established: true,
            new_grain: Some("asn:7922".into()),
            internal_only_host: true,
            long_interactive_outside: true,
            ..Default::default()
        };
        let v = weigh_history(base.clone(), &n, &new);
        assert_eq!(v.score, base.score + 25);
        assert!(v.reasons.contains(&"first-seen:asn:7922".to_string()));
        assert!(v.reasons.contains(&"internal-only-host".to_string()));
        let dormant = HistoryFacts { peer_sessions: 3, peer_idle_days: Some(90), ..Default::default() };
        assert!(weigh_history(base.clone(), &n, &dormant).score > base.score);
        // No history: nothing moves.
        assert_eq!(weigh_history(base.clone(), &n, &HistoryFacts::default()), base);
    }

    #[test]
    fn history_never_lowers_below_a_process_floor() {
        let p = ProcessFacts {
            shell_or_interpreter: Some("bash".into()),
            exposed_ancestor: Some("nginx".into()),
            ..Default::default()
        };
        let v = decide(&net(5, None), &ContextFacts::default(), Some(&p));
        let familiar =
            HistoryFacts { peer_sessions: 400, peer_days: 90, peer_idle_days: Some(0), ..Default::default() };
        assert_eq!(weigh_history(v, &net(5, None), &familiar).tier, Some(Tier::High));
    }
}

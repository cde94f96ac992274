//! Network evidence: how much a session looks like a person driving a shell, from its
//! turn-taking, what comes back, cleartext tells, stagers, its ports and the protocol it
//! speaks. Points and reasons only; `decide` turns them into a tier.

use super::reason::Reason;
use crate::decode::Transport;
use crate::evidence::tells::Tell;
use crate::evidence::turns::{AnswerShape, Interactivity};
use crate::evidence::{Dir, Evidence};
use crate::protocols::{self, Protocol, HIGH_PORT};

/// Network evidence alone cannot exceed this: certainty needs context.
pub const NETWORK_CAP: i32 = 85;

/// Answered exchanges a datagram flow of unknown content needs, all with output-shaped
/// answers, before turn-taking alone may take it past low.
pub const UDP_OUTPUT_EXCHANGES: u32 = 8;

/// The two ends of the session, as the verdict needs them.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub orig: u16,
    pub resp: u16,
}

/// What the TLS handshake of a session someone types into says (weighed with the names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Handshake {
    pub no_sni: bool,
    pub browser_like: bool,
    pub self_signed: bool,
    /// A TLS library's default offer (many suites, no GREASE), read even from a cut hello.
    pub library: bool,
}

/// What the network evidence says, before context.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkFindings {
    pub points: i32,
    pub reasons: Vec<Reason>,
    /// The end that hosts the shell (the victim).
    pub shell_side: Dir,
    pub interactivity: Option<Interactivity>,
    /// An ordinary interactive protocol (ssh, telnet, a database shell): capped below medium.
    pub service_port: Option<&'static str>,
    /// Someone on the far side types into this host and gets command output or keystroke
    /// echo back: what a cloud destination on its usual port must not explain away.
    pub someone_typing: bool,
    /// The answers look like a shell's (output, echo, or cleartext shell tells): the
    /// network evidence stands on more than turn-taking.
    pub corroborated: bool,
    /// The session is SSH, where connecting to an address rather than a name is ordinary.
    pub ssh: bool,
    /// The protocol both sides speak, when identified.
    pub protocol: Option<Protocol>,
    /// A datagram flow whose only evidence is turn-taking: at most low.
    pub needs_more: bool,
    /// The TLS handshake, when the session is TLS someone types into from the far side.
    pub handshake: Option<Handshake>,
}

impl NetworkFindings {
    /// No network evidence: for a decision that rests on other kinds (a series of
    /// check-ins), the shell on `shell_side`.
    pub fn none(shell_side: Dir) -> Self {
        NetworkFindings {
            points: 0,
            reasons: Vec::new(),
            shell_side,
            interactivity: None,
            service_port: None,
            someone_typing: false,
            corroborated: false,
            ssh: false,
            protocol: None,
            needs_more: false,
            handshake: None,
        }
    }

    /// Findings of `points` with one reason, the shell on the initiator: for tests of the
    /// other kinds of evidence.
    #[cfg(test)]
    pub(crate) fn bare(points: i32, reason: Reason) -> Self {
        NetworkFindings {
            points,
            reasons: vec![reason],
            shell_side: Dir::Orig,
            interactivity: None,
            service_port: None,
            someone_typing: false,
            corroborated: true,
            ssh: false,
            protocol: None,
            needs_more: false,
            handshake: None,
        }
    }
}

/// Quick pre-check so that the per-packet path only builds findings for candidates.
pub fn is_candidate(ev: &Evidence) -> bool {
    !ev.all_tells().is_empty()
        || ev.stage.is_some()
        || ev.turns.exchanges.reverse > 0
        || ev.turns.interactivity().is_some()
}

pub(super) const SHELL_MARKS: [(Tell, i32, Reason); 8] = [
    (Tell::NoJobControl, 35, Reason::NoJobControl),
    (Tell::NoTty, 30, Reason::NoTty),
    (Tell::UidOutput, 25, Reason::UidOutput),
    (Tell::UidRoot, 5, Reason::UidRoot),
    (Tell::CmdBanner, 40, Reason::CmdBanner),
    (Tell::PowershellBanner, 35, Reason::PowershellBanner),
    (Tell::PowershellPrompt, 20, Reason::PowershellPrompt),
    (Tell::ShellPrompt, 20, Reason::ShellPrompt),
];

pub(super) const TYPIST_MARKS: [(Tell, i32, Reason); 4] = [
    (Tell::ShellCommands, 15, Reason::ShellCommands),
    (Tell::ReconCommands, 10, Reason::ReconCommands),
    (Tell::PtyUpgrade, 25, Reason::PtyUpgrade),
    (Tell::ShellSpawn, 15, Reason::ShellSpawn),
];

/// Weighs a session's network evidence.
pub fn assess_network(ev: &Evidence, ports: Ports, transport: Transport) -> NetworkFindings {
    let mut points = 0;
    let mut reasons = Vec::new();
    let port = ports.resp;
    let place = protocols::Place::new(transport, ports.orig, port);
    let known = ev.identity.session(place).map(|(p, _)| p);
    // A protocol both sides speak, that is no tunnel: its own turn-taking is no shell's.
    let speaks = known.filter(|p| !p.is_encrypted());
    let shell_side = shell_side(ev, ev.turns.interactivity());
    let typist = shell_side.other();
    let shell_tells = ev.tells[shell_side.idx()];
    let typist_tells = ev.tells[typist.idx()];
    let shell_proto = ev.protocol[shell_side.idx()];
    let encrypted = known.is_some_and(Protocol::is_encrypted) || ev.protocol.iter().any(|p| p.is_encrypted());
    let ssh = known == Some(Protocol::Ssh) || ev.protocol.contains(&Protocol::Ssh);
    let tls = ev.protocol.contains(&Protocol::Tls);
    // Cleartext tells count only where a shell's text can be: content no protocol
    // explains, or a protocol that carries a person's text (telnet, IRC). A web page
    // that quotes `uid=0(root)` is not a shell.
    let cleartext_shell = shell_proto.carries_shell_text() && speaks.is_none_or(Protocol::carries_shell_text);
    let cleartext_evidence = cleartext_shell && !shell_tells.union(typist_tells).text().is_empty();
    // The responder greeted as a server-first protocol does (SMTP, POP3, MySQL, VNC,
    // XMPP): it is a server answering its client, never a typist.
    let responder_serves = known.or(Some(ev.protocol[1])).is_some_and(|p| p.traits().server_first);
    // Turn-taking that contradicts stronger evidence of where the shell is does not count,
    // and neither does a "typist" whose every message is acknowledged with one of a few
    // fixed-size answers, or by answers smaller than what it sent: that is a server
    // pushing messages (MQTT, IMAP IDLE, gRPC streams, WebSocket), not a person at a
    // shell. Nor does a far end typing into a host that asked it questions at the start (a
    // client of that server). Inside a known protocol it counts only with a shell's own
    // text.
    let order = &ev.turns.exchanges;
    // The far end typed a shell command line in clear (one is enough here).
    let typed = ev.lines[Dir::Resp.idx()];
    let typed_line =
        cleartext_shell && ev.protocol[1].carries_shell_text() && typed.recon + typed.commands >= 1;
    let inter = ev.turns.interactivity().filter(|i| {
        i.typist == typist
            && (cleartext_evidence
                || i.echoes >= 5
                || !matches!(i.answers, AnswerShape::Acks | AnswerShape::Smaller))
            && !(i.typist == Dir::Resp && (responder_serves || (order.client_asked && !cleartext_evidence)))
            && (speaks.is_none() || cleartext_evidence)
    });
    // One to three exchanges in the order a reverse shell speaks (see `exchanges`), before
    // turn-taking statistics can say anything: the far end spoke first after quiet, the
    // host answered at once, and the line went quiet; inside encryption at least one
    // answer outweighed its line, and the answers are not one repeated size.
    let reverse_exchanges = (speaks.is_none()
        && !responder_serves
        && !order.client_asked
        && order.first_after_quiet == Some(Dir::Resp)
        && order.reverse >= 1
        && (order.outweighed >= 1 || cleartext_evidence || typed_line)
        && !(order.reverse >= 2 && order.repeated * 2 >= order.reverse))
        .then_some(order.reverse);
    let answered_like_a_shell = reverse_exchanges.is_some()
        || inter.is_some_and(|i| {
            matches!(i.answers, AnswerShape::Output | AnswerShape::Echo) || cleartext_evidence
        });
    // Turn-taking statistics, once they speak, take over from the ladder.
    if let Some(n) = reverse_exchanges.filter(|_| !inter.is_some_and(|i| i.typist == Dir::Resp)) {
        points += super::exchange_points(n);
        reasons.push(Reason::ReverseExchange);
    }

    match inter {
        Some(i) if i.typist == Dir::Resp => {
            // Inside encryption, turn-taking alone is also what a server pushing messages
            // looks like until the answers show their shape.
            points += if encrypted && !answered_like_a_shell { 35 } else { 40 };
            reasons.push(Reason::ReverseInteractive);
            if i.exchanges >= 8 && answered_like_a_shell {
                points += 5;
            }
            // Output that varies with every command and outweighs it. SSH's own chatter
            // (rekeys, keepalives, window adjustments) is left out.
            if i.answers == AnswerShape::Output && !ssh {
                points += 10;
                reasons.push(Reason::CommandOutput);
            }
        }
        Some(_) => {
            points += 10;
            reasons.push(Reason::Interactive);
        }
        None => {}
    }
    if let Some(i) = inter {
        if i.echoes >= 5 {
            points += 10;
            reasons.push(Reason::KeystrokeEcho);
        }
    }
    if cleartext_shell {
        for (tell, p, reason) in SHELL_MARKS {
            if shell_tells.contains(tell) {
                points += p;
                reasons.push(reason);
            }
        }
        for (tell, p, reason) in TYPIST_MARKS {
            if typist_tells.contains(tell) {
                points += p;
                reasons.push(reason);
            }
        }
        // The side that accepted the connection typing shell commands at the side that
        // opened it: no client/server protocol works that way round.
        if typist == Dir::Resp && typist_tells.contains(Tell::ShellCommands) {
            points += 15;
            reasons.push(Reason::ReverseCommands);
        }
        // One typed command from it, after quiet, answered at once, is already strong.
        if !typist_tells.contains(Tell::ShellCommands) && typed_line && reverse_exchanges.is_some() {
            points += 40;
            reasons.push(Reason::ReverseRecon);
        }
    }
    // A stage is one length-prefixed blob that opens a TCP stream, run by a receiver that
    // then speaks something else. Both sides framing their messages that way is a binary
    // protocol; a bare length and code says so only once the receiver has answered.
    if let Some((sender, h)) = ev.stage.filter(|_| transport == Transport::Tcp && speaks.is_none()) {
        let receiver_answered = ev.dirs[sender.other().idx()].payload_packets > 0;
        if h.executable {
            points += 45;
            reasons.push(Reason::StagedExecutable);
        } else if ev.stage_complete() && receiver_answered && !ev.identity.framed_both() {
            points += 35;
            reasons.push(Reason::LengthPrefixedStage);
        }
    }
    if encrypted && (inter.is_some() || reverse_exchanges.is_some()) {
        reasons.push(Reason::Encrypted(if ssh { "ssh" } else { "tls" }));
    }
    // The handshake of a TLS session someone on the far side types into: weighed with
    // the remote end's name (`names`).
    let far_end_types = inter.is_some_and(|i| i.typist == Dir::Resp) || reverse_exchanges.is_some();
    let handshake = match (tls, ev.tls.as_deref()) {
        (true, Some(facts)) if far_end_types && answered_like_a_shell => {
            let browser_like = facts.client.as_ref().is_some_and(|c| {
                c.server_name().is_some() && c.alpn.iter().any(|a| a == "h2" || a.starts_with("http/"))
            });
            Some(Handshake {
                no_sni: facts.client.as_ref().is_some_and(|c| c.server_name().is_none()),
                browser_like,
                self_signed: facts.certificate.as_ref().is_some_and(|c| c.self_signed),
                library: !browser_like && facts.offer.is_some_and(|o| o.library_default()),
            })
        }
        _ => None,
    };

    // Where the shell listens or calls to: the responder's port.
    let service = protocols::service(transport, port);
    let mismatch = protocols::mismatch(transport, port, ev.protocol);
    if mismatch {
        points += 15;
        reasons.push(Reason::ProtocolMismatch(port));
    } else if service.is_none() && speaks.is_none() && port >= HIGH_PORT && points > 0 {
        points += 5;
        reasons.push(Reason::HighPort);
    }
    // A shell the initiator types into, listening on a port that is no interactive service.
    if points > 0 && shell_side == Dir::Resp && inter.is_some_and(|i| i.typist == Dir::Orig) {
        let ordinary = service.is_some_and(|s| s.traits.interactive) && !mismatch;
        if !ordinary && cleartext_evidence {
            points += 15;
            reasons.push(Reason::BindShell);
        }
    }
    // People typing at a protocol made for it (ssh, telnet, a database shell) is what it
    // is for: turn-taking and echo say nothing there; only what the shell prints still
    // counts. The protocol decides when it is known (on its own port turn-taking is
    // discounted; elsewhere, an ssh on 2200, it is only capped), else the port (for the
    // initiator's typing on content that does not contradict it).
    let interactive_protocol = known
        .filter(|p| p.traits().interactive)
        .map(|p| (p.row().name, p.row().on_port(port)))
        .or_else(|| {
            service
                .filter(|s| s.traits.interactive && !mismatch && inter.is_some_and(|i| i.typist == Dir::Orig))
                .map(|s| (s.name, true))
        });
    let service_port = match (interactive_protocol, inter) {
        (Some((name, own_port)), Some(i)) => {
            if own_port {
                points -= 10 + if i.echoes >= 5 { 10 } else { 0 };
                reasons.retain(|r| !matches!(r, Reason::Interactive | Reason::KeystrokeEcho));
            }
            reasons.push(Reason::ServicePort(name));
            Some(name)
        }
        _ => None,
    };
    // Over UDP, turn-taking is what calls, games and tunnels do all day: it takes a
    // session past low only with a shell's own text, or when the content is no protocol
    // and every answer has the shape of command output over many exchanges.
    let needs_more = transport == Transport::Udp
        && !cleartext_evidence
        && !(known.is_none()
            && !ev.identity.shared_tag()
            && inter
                .is_some_and(|i| i.answers == AnswerShape::Output && i.exchanges >= UDP_OUTPUT_EXCHANGES));
    NetworkFindings {
        points: points.min(NETWORK_CAP),
        reasons,
        shell_side,
        interactivity: inter,
        service_port,
        someone_typing: far_end_types && answered_like_a_shell,
        corroborated: answered_like_a_shell,
        ssh,
        protocol: known,
        needs_more,
        handshake,
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

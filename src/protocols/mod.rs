//! Which application protocol a session speaks, from the first bytes of each direction.
//!
//! One table, one row per protocol (Suricata's app-layer registry, Zeek's DPD): its name in
//! ECS `network.protocol`, the transports and default ports it lives on, a probe per
//! direction, and the traits the verdict weighs (encrypted, people type there, the server
//! speaks first, shell text inside it still counts). The port is only a hint: a probe
//! that is weak on its own (a two-byte SOCKS reply, an NTP header) names its protocol only
//! on the row's own ports or when the other direction agrees. A session *is* a protocol
//! when both directions agree on it (Zeek's `requires-reverse-signature`), or when one
//! direction matched strongly and the other has not spoken yet.
//!
//! Adding a protocol is adding a row to a family file and its variant below. Probes run on
//! a direction's first few payloads only, never per packet.

pub mod chat;
pub mod database;
pub mod directory;
pub mod finance;
pub mod industrial;
pub mod infra;
pub mod mail;
pub mod media;
pub mod messaging;
pub mod nat;
pub mod p2p;
pub mod proxy;
pub mod quic;
pub mod remote;
pub mod tls;
pub mod vpn;
pub mod web;
pub mod windows;

use crate::decode::Transport;
use serde::Serialize;

/// What one direction of a session speaks. The first three are not protocols: nothing yet,
/// or content no row recognised (printable or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, PartialOrd, Ord)]
#[repr(u8)]
pub enum Protocol {
    #[default]
    Unseen,
    Text,
    Binary,
    Tls,
    Dtls,
    Ssh,
    Telnet,
    Rdp,
    Vnc,
    Rlogin,
    Http,
    HttpConnect,
    Smb,
    Netbios,
    Ldap,
    Kerberos,
    Smtp,
    Pop3,
    Imap,
    Ftp,
    Irc,
    Xmpp,
    Whatsapp,
    Mqtt,
    Amqp,
    Mysql,
    Postgresql,
    Redis,
    Mongodb,
    Mssql,
    Oracle,
    Memcached,
    Socks,
    Dnp3,
    Modbus,
    Rtmp,
    Rtp,
    Rtcp,
    Sip,
    Quic,
    Stun,
    Wireguard,
    Openvpn,
    Ike,
    Ipsec,
    Teredo,
    Gtp,
    Dns,
    Mdns,
    Llmnr,
    Ntp,
    Ssdp,
    Radius,
    Syslog,
    Snmp,
    Dhcp,
    Bittorrent,
    Kcp,
    Bitcoin,
    Gnutella,
    Zabbix,
    Fix,
}

/// How much a probe's match says on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Fits the format, but so could other bytes: counts on the row's ports, or when the
    /// other direction agrees.
    Weak,
    /// Distinctive (a magic number, a banner, a self-consistent header).
    Strong,
    /// Fits, but so would most binary data (an ESP header, a QUIC short header): counts
    /// on the row's own ports only, and never as one side of a weak agreement.
    OnPort,
}

/// A probe of one direction's first payload: the captured bytes (perhaps cut by the
/// snaplen) and the payload's true length from the headers.
pub type ProbeFn = fn(&[u8], u32) -> Option<Strength>;

/// The transports a row lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Tcp,
    Udp,
    Both,
}

impl On {
    fn carries(self, t: Transport) -> bool {
        matches!((self, t), (On::Both, _) | (On::Tcp, Transport::Tcp) | (On::Udp, Transport::Udp))
    }
}

/// What the verdict needs to know of a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Traits {
    /// Encrypted end to end: what flows inside is unknown, so turn-taking still speaks
    /// (a shell inside TLS), and there are no cleartext tells to read.
    pub encrypted: bool,
    /// People sit at sessions of it (ssh, telnet, database shells): typing is ordinary.
    pub interactive: bool,
    /// The server greets first and then waits (SMTP, POP3, FTP, MySQL, VNC): the server
    /// side is never the typist.
    pub server_first: bool,
    /// Typed commands and shell output inside it still mean a shell (telnet, IRC).
    pub carries_shell_text: bool,
}

/// One protocol: the single place that says what it is, where it lives and how it looks.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub protocol: Protocol,
    /// ECS `network.protocol` (lower case).
    pub name: &'static str,
    pub on: On,
    /// Default ports (inclusive ranges): a hint, never proof.
    pub ports: &'static [(u16, u16)],
    /// What the client (the side that opened the session) sends first.
    pub to_server: Option<ProbeFn>,
    /// What the server sends first.
    pub to_client: Option<ProbeFn>,
    pub traits: Traits,
}

impl Row {
    pub fn on_port(&self, port: u16) -> bool {
        self.ports.iter().any(|&(lo, hi)| (lo..=hi).contains(&port))
    }
}

/// A row with no traits, for the family files: `Row { ..row(P, "p", On::Tcp) }`.
pub const fn row(protocol: Protocol, name: &'static str, on: On) -> Row {
    Row { protocol, name, on, ports: &[], to_server: None, to_client: None, traits: NO_TRAITS }
}

pub const NO_TRAITS: Traits =
    Traits { encrypted: false, interactive: false, server_first: false, carries_shell_text: false };

/// Rows for the three pseudo-protocols (no probes, no ports).
const UNSEEN: Row = Row {
    traits: Traits { carries_shell_text: true, ..NO_TRAITS },
    ..row(Protocol::Unseen, "unseen", On::Both)
};
const TEXT: Row =
    Row { traits: Traits { carries_shell_text: true, ..NO_TRAITS }, ..row(Protocol::Text, "text", On::Both) };
const BINARY: Row = Row {
    traits: Traits { carries_shell_text: true, ..NO_TRAITS },
    ..row(Protocol::Binary, "binary", On::Both)
};

/// Every row, in the order of `Protocol` (a test checks), so a protocol finds its row by
/// index. Within a port, the first row is the one the port is known for.
pub static TABLE: &[Row] = &[
    UNSEEN,
    TEXT,
    BINARY,
    tls::TLS,
    tls::DTLS,
    remote::SSH,
    remote::TELNET,
    remote::RDP,
    remote::VNC,
    remote::RLOGIN,
    web::HTTP,
    web::HTTP_CONNECT,
    windows::SMB,
    windows::NETBIOS,
    directory::LDAP,
    directory::KERBEROS,
    mail::SMTP,
    mail::POP3,
    mail::IMAP,
    mail::FTP,
    chat::IRC,
    chat::XMPP,
    chat::WHATSAPP,
    messaging::MQTT,
    messaging::AMQP,
    database::MYSQL,
    database::POSTGRESQL,
    database::REDIS,
    database::MONGODB,
    database::MSSQL,
    database::ORACLE,
    database::MEMCACHED,
    proxy::SOCKS,
    industrial::DNP3,
    industrial::MODBUS,
    media::RTMP,
    media::RTP,
    media::RTCP,
    media::SIP,
    quic::QUIC,
    nat::STUN,
    vpn::WIREGUARD,
    vpn::OPENVPN,
    vpn::IKE,
    vpn::IPSEC,
    vpn::TEREDO,
    vpn::GTP,
    infra::DNS,
    infra::MDNS,
    infra::LLMNR,
    infra::NTP,
    infra::SSDP,
    infra::RADIUS,
    infra::SYSLOG,
    infra::SNMP,
    infra::DHCP,
    p2p::BITTORRENT,
    p2p::KCP,
    p2p::BITCOIN,
    p2p::GNUTELLA,
    infra::ZABBIX,
    finance::FIX,
];

impl Protocol {
    pub fn row(self) -> &'static Row {
        &TABLE[self as usize]
    }

    /// The name for ECS `network.protocol`, when a row recognised the bytes.
    pub fn ecs_name(self) -> Option<&'static str> {
        self.is_identified().then(|| self.row().name)
    }

    pub fn as_str(self) -> &'static str {
        self.row().name
    }

    /// A row recognised the bytes (not nothing, not unrecognised text or binary).
    pub fn is_identified(self) -> bool {
        !matches!(self, Protocol::Unseen | Protocol::Text | Protocol::Binary)
    }

    pub fn traits(self) -> Traits {
        self.row().traits
    }

    /// Encrypted transports: payload tells are meaningless inside them.
    pub fn is_encrypted(self) -> bool {
        self.traits().encrypted
    }

    /// Shell banners and typed commands in these bytes still mean a shell: unrecognised
    /// content, or a protocol that carries a person's text (telnet, IRC).
    pub fn carries_shell_text(self) -> bool {
        self.traits().carries_shell_text
    }
}

/// A set of protocols, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProtoSet(u64);

impl ProtoSet {
    pub fn insert(&mut self, p: Protocol) {
        self.0 |= 1 << p as u8;
    }
    pub fn contains(self, p: Protocol) -> bool {
        self.0 & (1 << p as u8) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn and(self, o: ProtoSet) -> ProtoSet {
        ProtoSet(self.0 & o.0)
    }
    pub fn or(self, o: ProtoSet) -> ProtoSet {
        ProtoSet(self.0 | o.0)
    }
    /// The members in table order.
    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        TABLE.iter().map(|r| r.protocol).filter(move |p| self.contains(*p))
    }
    /// The member to name: one whose ports the session uses first, else the first in
    /// table order.
    pub fn pick(self, place: Place) -> Option<Protocol> {
        // STUN carries the checks of a flow that then speaks DTLS or SRTP on the same
        // ports: what follows names it.
        let mut set = self;
        if set.0 & !(1 << Protocol::Stun as u8) != 0 {
            set.0 &= !(1 << Protocol::Stun as u8);
        }
        set.iter().find(|p| place.hints(p.row())).or_else(|| set.iter().next())
    }
}

/// Where a session lives: its transport and ports, the hint a weak probe needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub transport: Transport,
    /// The responder's port.
    pub server_port: u16,
    /// The initiator's port. A datagram flow's first packet may be the server's (a capture
    /// that began later, a reply to a multicast query), so over UDP it hints too.
    pub client_port: u16,
}

impl Place {
    pub fn new(transport: Transport, client_port: u16, server_port: u16) -> Self {
        Place { transport, server_port, client_port }
    }

    /// The session uses one of the row's ports, on the row's transport.
    pub fn hints(&self, r: &Row) -> bool {
        r.on.carries(self.transport)
            && (r.on_port(self.server_port)
                || (self.transport == Transport::Udp && r.on_port(self.client_port)))
    }
}

/// The side a direction's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// What the probes said of one payload: the rows that matched strongly (on their own, or
/// weakly on their own port), and every row that matched at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Matches {
    pub strong: ProtoSet,
    /// Weak or strong on their own (not `OnPort`).
    pub weak: ProtoSet,
    pub any: ProtoSet,
}

impl Matches {
    fn add(&mut self, other: Matches) {
        self.strong = self.strong.or(other.strong);
        self.weak = self.weak.or(other.weak);
        self.any = self.any.or(other.any);
    }
}

/// Runs every probe of the session's transport on one payload sent by `role`. The
/// session's ports are the hint for weak matches. A probe for the other role is tried too,
/// but only its strong matches count: the roles may be swapped when a capture starts
/// mid-session or a UDP flow's first datagram was the server's.
pub fn probe(place: Place, role: Role, bytes: &[u8], wire_len: u32) -> Matches {
    let mut m = Matches::default();
    if bytes.is_empty() {
        return m;
    }
    for r in TABLE.iter().filter(|r| r.on.carries(place.transport)) {
        let (mine, theirs) = match role {
            Role::Client => (r.to_server, r.to_client),
            Role::Server => (r.to_client, r.to_server),
        };
        let own = mine.and_then(|f| f(bytes, wire_len));
        let swapped = theirs.and_then(|f| f(bytes, wire_len)).filter(|s| *s == Strength::Strong);
        let on_port = place.hints(r);
        let s = match own.max(swapped) {
            Some(Strength::OnPort) if !on_port => continue,
            Some(s) => s,
            None => continue,
        };
        m.any.insert(r.protocol);
        if s != Strength::OnPort || on_port {
            m.weak.insert(r.protocol);
        }
        if s == Strength::Strong || on_port {
            m.strong.insert(r.protocol);
        }
    }
    m
}

/// Payloads per direction that are probed before identification gives up on it.
pub const PROBE_PAYLOADS: u8 = 4;

/// The identification of one session, built from the first payloads of each direction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity {
    matches: [Matches; 2],
    probed: [u8; 2],
    /// The first bytes of each direction's first datagram (UDP), for a connection tag both
    /// sides repeat.
    tag: [[u8; TAG_BYTES]; 2],
    tag_len: [u8; 2],
    /// The first bytes of each direction's latest datagram, for an RTP stream's next packet.
    head: [[u8; HEAD_BYTES]; 2],
    head_len: [u8; 2],
    /// The direction's first payload was mostly printable.
    text: [bool; 2],
    /// A payload of the direction was exactly one message behind a 4-byte little-endian
    /// length.
    le_framed: [bool; 2],
}

/// How long a prefix two UDP directions must share to count as a connection tag.
pub const TAG_BYTES: usize = 4;
/// The first bytes kept of a direction's first datagram (an RTP header).
const HEAD_BYTES: usize = 12;

/// How a session came to be one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agreement {
    /// Both directions speak it.
    Both,
    /// One direction matched it strongly; the other has not spoken.
    OneSided,
}

impl Identity {
    /// Whether the direction (0 = from the initiator) still wants probing.
    pub fn wants(&self, d: usize) -> bool {
        let strong = self.matches[d].strong;
        // STUN's checks come first in a WebRTC flow; DTLS and SRTP follow on the same
        // ports (RFC 7983), and name the flow better.
        let only_stun = strong.iter().all(|p| p == Protocol::Stun);
        self.probed[d] < PROBE_PAYLOADS && (strong.is_empty() || only_stun)
    }

    /// Probes one more payload of direction `d`. Returns true when that direction's
    /// identity changed.
    pub fn observe(&mut self, place: Place, d: usize, bytes: &[u8], wire_len: u32) -> bool {
        if !self.wants(d) || bytes.is_empty() {
            return false;
        }
        let mut extra = Matches::default();
        if place.transport == Transport::Udp {
            if self.probed[d] == 0 {
                let n = bytes.len().min(TAG_BYTES);
                self.tag[d][..n].copy_from_slice(&bytes[..n]);
                self.tag_len[d] = n as u8;
            } else if self.head_len[d] as usize == HEAD_BYTES && media::rtp_follows(&self.head[d], bytes) {
                // The same stream's next packet: one source, the next sequence numbers.
                extra.strong.insert(Protocol::Rtp);
                extra.weak.insert(Protocol::Rtp);
                extra.any.insert(Protocol::Rtp);
            }
            let n = bytes.len().min(HEAD_BYTES);
            self.head[d][..n].copy_from_slice(&bytes[..n]);
            self.head_len[d] = n as u8;
        }
        if self.probed[d] == 0 {
            self.text[d] = unrecognised(bytes) == Protocol::Text;
        }
        self.probed[d] += 1;
        if le32(bytes, 0).is_some_and(|n| n as u64 + 4 == wire_len as u64 && n > 0) {
            self.le_framed[d] = true;
        }
        let role = if d == 0 { Role::Client } else { Role::Server };
        let before = self.matches[d];
        let mut found = probe(place, role, bytes, wire_len);
        found.add(extra);
        if !self.matches[d].strong.is_empty() {
            // After STUN's checks only what RFC 7983 multiplexes with it may follow.
            let muxed = [Protocol::Stun, Protocol::Dtls, Protocol::Rtp, Protocol::Rtcp];
            let keep = |set: ProtoSet| ProtoSet(set.0 & muxed.iter().fold(0, |m, p| m | 1 << *p as u8));
            found = Matches { strong: keep(found.strong), weak: keep(found.weak), any: keep(found.any) };
        }
        self.matches[d].add(found);
        self.matches[d] != before
    }

    /// What direction `d` alone speaks, if a row recognised it strongly.
    pub fn direction(&self, d: usize, place: Place) -> Option<Protocol> {
        self.matches[d].strong.pick(place)
    }

    /// The protocol of the session: one both directions match (strongly or weakly: two
    /// weak matches that agree are Zeek's two signatures), or one a direction matched
    /// strongly while the other is silent or says nothing a row knows in binary (the
    /// protocol's own ciphertext). Text from the other side contradicts it.
    pub fn session(&self, place: Place) -> Option<(Protocol, Agreement)> {
        let [a, b] = self.matches;
        if self.probed[0] > 0 && self.probed[1] > 0 {
            let agreed = a.strong.and(b.any).or(a.any.and(b.strong)).or(a.weak.and(b.weak));
            if let Some(p) = agreed.pick(place) {
                return Some((p, Agreement::Both));
            }
        }
        let unopposed = |other: usize| {
            self.probed[other] == 0 || (self.matches[other].any.is_empty() && !self.text[other])
        };
        let one = |d: usize| self.matches[d].strong.pick(place).filter(|_| unopposed(1 - d));
        one(0).or_else(|| one(1)).map(|p| (p, Agreement::OneSided))
    }

    /// Both directions sent a message framed by a 4-byte little-endian length: a binary
    /// protocol of that framing (KakaoTalk's LOCO and many like it), not a stager, whose
    /// receiver runs the stage and then speaks something else.
    pub fn framed_both(&self) -> bool {
        self.le_framed == [true, true]
    }

    /// Both directions of a datagram flow began with the same bytes, and not a trivial
    /// run: a connection or peer tag that both ends repeat (tgvoip's peer tag, KCP's
    /// conversation id, a game's session id). Shell text never starts that way.
    pub fn shared_tag(&self) -> bool {
        let n = TAG_BYTES as u8;
        self.tag_len == [n, n] && self.tag[0] == self.tag[1] && {
            let h = &self.tag[0];
            h.iter().any(|&c| c != h[0])
        }
    }
}

/// A session's identification over its life: nothing yet, then the probes' state (boxed)
/// while the first payloads are read, then only what they settled on, the state freed.
#[derive(Debug, Default)]
pub enum Identification {
    #[default]
    Unprobed,
    Probing(Box<Identity>),
    Settled(Settled),
}

/// What the probes settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub session: Option<(Protocol, Agreement)>,
    pub shared_tag: bool,
    pub framed_both: bool,
}

impl Identification {
    pub fn wants(&self, d: usize) -> bool {
        match self {
            Identification::Unprobed => true,
            Identification::Probing(id) => id.wants(d),
            Identification::Settled(_) => false,
        }
    }

    /// Probes one more payload of direction `d` (see `Identity::observe`); settles once
    /// neither direction wants more. Returns whether the direction's identity changed, and
    /// what the direction alone speaks.
    pub fn observe(
        &mut self,
        place: Place,
        d: usize,
        bytes: &[u8],
        wire_len: u32,
    ) -> (bool, Option<Protocol>) {
        if matches!(self, Identification::Unprobed) {
            *self = Identification::Probing(Box::default());
        }
        let Identification::Probing(id) = self else { return (false, None) };
        let changed = id.observe(place, d, bytes, wire_len);
        let alone = id.direction(d, place);
        if !id.wants(0) && !id.wants(1) {
            let settled = Settled {
                session: id.session(place),
                shared_tag: id.shared_tag(),
                framed_both: id.framed_both(),
            };
            *self = Identification::Settled(settled);
        }
        (changed, alone)
    }

    pub fn session(&self, place: Place) -> Option<(Protocol, Agreement)> {
        match self {
            Identification::Unprobed => None,
            Identification::Probing(id) => id.session(place),
            Identification::Settled(s) => s.session,
        }
    }

    pub fn shared_tag(&self) -> bool {
        match self {
            Identification::Probing(id) => id.shared_tag(),
            Identification::Settled(s) => s.shared_tag,
            Identification::Unprobed => false,
        }
    }

    pub fn framed_both(&self) -> bool {
        match self {
            Identification::Probing(id) => id.framed_both(),
            Identification::Settled(s) => s.framed_both,
            Identification::Unprobed => false,
        }
    }
}

/// The protocol a port is known for on a transport (its first row there).
pub fn service(transport: Transport, port: u16) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.on.carries(transport) && r.on_port(port))
}

/// Ports at or above this that name no service are "high ports" (listener ports of
/// reverse-shell kits: 4444, 1234, 9001, 31337 …).
pub const HIGH_PORT: u16 = 1024;

/// Whether what a session speaks contradicts its port: the port is known for a protocol
/// with a probe, and a direction spoke unrecognised content there (a shell on 443 that is
/// not TLS). A known protocol on another's port (SSH on 443) is that protocol, not a
/// contradiction.
pub fn mismatch(transport: Transport, port: u16, seen: [Protocol; 2]) -> bool {
    let Some(expected) = service(transport, port) else { return false };
    if expected.to_server.is_none() && expected.to_client.is_none() {
        return false;
    }
    let mut spoken = seen.into_iter().filter(|p| *p != Protocol::Unseen).peekable();
    spoken.peek().is_some() && spoken.all(|p| !p.is_identified())
}

// ---------------------------------------------------------------------------------------
// Small readers shared by the family files.
// ---------------------------------------------------------------------------------------

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// `b` starts with `prefix`, ignoring ASCII case.
pub(crate) fn starts_with_ci(b: &[u8], prefix: &[u8]) -> bool {
    b.len() >= prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix)
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The first line of `b` (without its terminator), when it ends within `max` bytes.
pub(crate) fn first_line(b: &[u8], max: usize) -> Option<&[u8]> {
    let end = memchr::memchr(b'\n', &b[..b.len().min(max)])?;
    let line = &b[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// Mostly unprintable: ciphertext or a binary header, never a shell's text.
pub(crate) fn binary(b: &[u8]) -> bool {
    unrecognised(&b[..b.len().min(64)]) == Protocol::Binary
}

/// `Some(s)` when `ok`: the probes' usual last line.
pub(crate) fn when(ok: bool, s: Strength) -> Option<Strength> {
    ok.then_some(s)
}

/// A BER length at `at`: (length, bytes it took).
pub(crate) fn ber_len(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *b.get(at)?;
    if first < 0x80 {
        return Some((first as usize, 1));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *b.get(at + 1 + i)? as usize;
    }
    Some((len, 1 + n))
}

const CLASSIFY_BYTES: usize = 256;

/// Classifies bytes no row recognised: mostly printable is text. The first
/// `CLASSIFY_BYTES` decide (a line of text or a binary header shows there).
pub fn unrecognised(b: &[u8]) -> Protocol {
    if b.is_empty() {
        return Protocol::Unseen;
    }
    let b = &b[..b.len().min(CLASSIFY_BYTES)];
    let printable =
        b.iter().filter(|&&c| (0x20..0x7f).contains(&c) || matches!(c, b'\r' | b'\n' | b'\t')).count();
    if printable * 4 >= b.len() * 3 {
        Protocol::Text
    } else {
        Protocol::Binary
    }
}

#[cfg(test)]
mod tests;

//! Chat: IRC, XMPP (Jabber) and WhatsApp's own framing.

use super::{be16, contains, first_line, when, On, Protocol, Row, Strength, Traits, NO_TRAITS};

pub const IRC: Row = Row {
    ports: &[(6660, 6669), (6697, 6697), (7000, 7000)],
    to_server: Some(irc_client),
    to_client: Some(irc_server),
    // People type at IRC, and a bot shell answers inside PRIVMSGs.
    traits: Traits { interactive: true, carries_shell_text: true, ..NO_TRAITS },
    ..super::row(Protocol::Irc, "irc", On::Tcp)
};

pub const XMPP: Row = Row {
    ports: &[(5222, 5222), (5269, 5269)],
    to_server: Some(xmpp),
    to_client: Some(xmpp),
    // The server sends its stream features first; pushes follow.
    traits: Traits { server_first: true, ..NO_TRAITS },
    ..super::row(Protocol::Xmpp, "xmpp", On::Tcp)
};

pub const WHATSAPP: Row = Row {
    ports: &[(443, 443), (5222, 5222)],
    to_server: Some(whatsapp_client),
    to_client: Some(whatsapp_frame),
    ..super::row(Protocol::Whatsapp, "whatsapp", On::Tcp)
};

const IRC_CLIENT: &[&[u8]] = &[b"NICK ", b"CAP LS", b"CAP REQ", b"PASS ", b"USER "];

fn irc_client(b: &[u8], _wire: u32) -> Option<Strength> {
    let line = first_line(b, 512)?;
    let verb = IRC_CLIENT.iter().position(|v| line.starts_with(v))?;
    // `USER name mode unused :realname` (POP3 and FTP send `USER name` alone).
    when(verb != 4 || contains(line, b" :"), if verb < 3 { Strength::Strong } else { Strength::Weak })
}

/// `:server NOTICE …`, `:server 001 …` (a numeric reply), `NOTICE AUTH`, or `PING :`.
fn irc_server(b: &[u8], _wire: u32) -> Option<Strength> {
    let line = first_line(b, 512)?;
    if line.starts_with(b"NOTICE AUTH") || line.starts_with(b"PING :") || line.starts_with(b"ERROR :") {
        return Some(Strength::Strong);
    }
    let rest = line.strip_prefix(b":")?;
    let sp = rest.iter().position(|&c| c == b' ')?;
    let cmd = &rest[sp + 1..];
    let numeric = cmd.len() > 4 && cmd[..3].iter().all(u8::is_ascii_digit) && cmd[3] == b' ';
    when(numeric || cmd.starts_with(b"NOTICE ") || cmd.starts_with(b"PRIVMSG "), Strength::Strong)
}

/// An XML stream: `<?xml …?>` alone is weak; `<stream:stream` or a jabber namespace is not.
fn xmpp(b: &[u8], _wire: u32) -> Option<Strength> {
    let head = &b[..b.len().min(512)];
    // A stream opens with a tag (after whitespace at most): nothing else is searched.
    if head.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b'<') {
        return None;
    }
    if contains(head, b"<stream:stream")
        || contains(head, b"jabber:client")
        || contains(head, b"jabber:server")
    {
        return Some(Strength::Strong);
    }
    when(head.starts_with(b"<?xml "), Strength::Weak)
}

/// The client's prologue: `WA` and a version (the classic protocol) or `ED\0\1` (Noise),
/// else a frame of its own.
fn whatsapp_client(b: &[u8], wire: u32) -> Option<Strength> {
    if (b.starts_with(b"WA") && b.len() >= 4 && b[2] <= 0x06) || b.starts_with(b"ED\x00\x01") {
        return Some(Strength::Strong);
    }
    whatsapp_frame(b, wire)
}

/// A frame: a flags byte (0x00, or 0x80 for encrypted) and a 2-byte length that the
/// segment holds exactly.
fn whatsapp_frame(b: &[u8], wire: u32) -> Option<Strength> {
    let len = be16(b, 1)? as u32;
    when(matches!(b[0], 0x00 | 0x80) && len > 0 && len + 3 == wire, Strength::Weak)
}

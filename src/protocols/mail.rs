//! Mail and file transfer with a greeting: SMTP, POP3, IMAP and FTP. The server speaks
//! first and then waits for the client's commands, so a server is never the typist here.

use super::{contains, first_line, starts_with_ci, when, On, Protocol, Row, Strength, Traits, NO_TRAITS};

const SERVER_FIRST: Traits = Traits { server_first: true, ..NO_TRAITS };

pub const SMTP: Row = Row {
    ports: &[(25, 25), (587, 587), (2525, 2525)],
    to_server: Some(smtp_client),
    to_client: Some(smtp_server),
    traits: SERVER_FIRST,
    ..super::row(Protocol::Smtp, "smtp", On::Tcp)
};

pub const POP3: Row = Row {
    ports: &[(110, 110)],
    to_server: Some(pop3_client),
    to_client: Some(pop3_server),
    traits: SERVER_FIRST,
    ..super::row(Protocol::Pop3, "pop3", On::Tcp)
};

pub const IMAP: Row = Row {
    ports: &[(143, 143)],
    to_server: Some(imap_client),
    to_client: Some(imap_server),
    traits: SERVER_FIRST,
    ..super::row(Protocol::Imap, "imap", On::Tcp)
};

pub const FTP: Row = Row {
    ports: &[(21, 21)],
    to_server: Some(ftp_client),
    to_client: Some(ftp_server),
    traits: Traits { server_first: true, interactive: true, ..NO_TRAITS },
    ..super::row(Protocol::Ftp, "ftp", On::Tcp)
};

/// `220 ` or `220-` (a greeting), naming the service when `word` is in it.
fn greeting(b: &[u8], words: &[&[u8]]) -> Option<Strength> {
    let line = first_line(b, 512)?;
    if !(line.starts_with(b"220 ") || line.starts_with(b"220-")) {
        return None;
    }
    let upper = line.to_ascii_uppercase();
    Some(if words.iter().any(|w| contains(&upper, w)) { Strength::Strong } else { Strength::Weak })
}

/// The first line is one of `verbs` (a word, or a word and its arguments).
fn command(b: &[u8], verbs: &[&[u8]]) -> bool {
    first_line(b, 512).is_some_and(|l| {
        verbs
            .iter()
            .any(|v| starts_with_ci(l, v) && (l.len() == v.len() || matches!(l[v.len()], b' ' | b':')))
    })
}

fn smtp_server(b: &[u8], _wire: u32) -> Option<Strength> {
    greeting(b, &[b"SMTP", b"MAIL", b"POSTFIX", b"EXIM", b"SENDMAIL"])
        .or(when(first_line(b, 512).is_some_and(|l| l.starts_with(b"554 ")), Strength::Weak))
}

fn smtp_client(b: &[u8], _wire: u32) -> Option<Strength> {
    when(command(b, &[b"EHLO", b"HELO"]), Strength::Strong)
        .or(when(command(b, &[b"MAIL FROM", b"STARTTLS", b"AUTH", b"QUIT"]), Strength::Weak))
}

fn pop3_server(b: &[u8], _wire: u32) -> Option<Strength> {
    let line = first_line(b, 512)?;
    if !(line.starts_with(b"+OK") || line.starts_with(b"-ERR")) {
        return None;
    }
    let upper = line.to_ascii_uppercase();
    Some(if contains(&upper, b"POP") { Strength::Strong } else { Strength::Weak })
}

fn pop3_client(b: &[u8], _wire: u32) -> Option<Strength> {
    when(command(b, &[b"CAPA", b"STLS", b"APOP"]), Strength::Strong).or(when(
        command(b, &[b"USER", b"PASS", b"AUTH", b"QUIT", b"STAT", b"UIDL", b"LIST"]),
        Strength::Weak,
    ))
}

fn imap_server(b: &[u8], _wire: u32) -> Option<Strength> {
    let line = first_line(b, 1024)?;
    if !(line.starts_with(b"* OK") || line.starts_with(b"* PREAUTH") || line.starts_with(b"* BYE")) {
        return None;
    }
    let upper = line.to_ascii_uppercase();
    Some(if contains(&upper, b"IMAP") { Strength::Strong } else { Strength::Weak })
}

/// A tag (letters and digits) then an IMAP command.
fn imap_client(b: &[u8], _wire: u32) -> Option<Strength> {
    let line = first_line(b, 1024)?;
    let sp = line.iter().position(|&c| c == b' ')?;
    let (tag, rest) = (&line[..sp], &line[sp + 1..]);
    let tagged =
        !tag.is_empty() && tag.len() <= 16 && tag.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'.');
    let verbs: [&[u8]; 8] =
        [b"CAPABILITY", b"LOGIN ", b"AUTHENTICATE ", b"STARTTLS", b"ID ", b"NOOP", b"SELECT ", b"LIST "];
    when(tagged && verbs.iter().any(|v| starts_with_ci(rest, v)), Strength::Strong)
}

fn ftp_server(b: &[u8], _wire: u32) -> Option<Strength> {
    greeting(b, &[b"FTP"])
        .or(when(first_line(b, 512).is_some_and(|l| l.starts_with(b"421 ")), Strength::Weak))
}

fn ftp_client(b: &[u8], _wire: u32) -> Option<Strength> {
    when(command(b, &[b"AUTH TLS", b"AUTH SSL", b"FEAT", b"SYST", b"OPTS UTF8"]), Strength::Strong)
        .or(when(command(b, &[b"USER", b"PASS"]), Strength::Weak))
}

//! Agent ↔ sensor: socket inventories streamed over TCP, optionally inside TLS (and
//! mutual TLS), as length-delimited frames (4-byte big-endian length, then one JSON
//! message). The first frame is the agent's hello with the shared token; a peer that
//! presents a wrong one, or none in time, is rejected, counted and logged. Frames have a
//! size limit (a much smaller one before the peer is known) and every queue is bounded.

pub mod client;
pub mod server;
pub mod tls;

use crate::inventory::{ExecRecord, InventoryRecord};
use crate::join::conntrack::NatEntry;
use bytes::{Buf, BufMut, BytesMut};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame either side accepts.
pub const MAX_FRAME: usize = 8 << 20;
/// The largest hello: an unauthenticated peer makes the sensor allocate no more.
pub const MAX_HELLO: usize = 64 << 10;
/// Records per snapshot or delta frame at most; fewer when their records are large (see
/// [`crate::batch`]), so that no frame is over the limit.
pub const RECORDS_PER_FRAME: usize = 512;
/// 2: `Execs` messages (commands run over a socket) and pty fields in the records.
pub const PROTOCOL_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// First frame from the agent.
    Hello { version: u32, token: Token, host: String, boot_id: String },
    /// The sensor's answer to a good hello.
    Welcome,
    /// The sensor's answer to a bad hello, just before it closes.
    Rejected { reason: String },
    /// Part of a full inventory; `last` ends it.
    Snapshot { records: Vec<Arc<InventoryRecord>>, last: bool },
    /// Sockets opened or closed since the previous refresh.
    Delta { records: Vec<Arc<InventoryRecord>> },
    /// Conntrack entries of a node that translates its pods' connections.
    Nat { observed_ns: i64, entries: Vec<NatEntry> },
    /// Execs whose stdio is wired to a connected TCP socket (commands run over it).
    Execs { records: Vec<Arc<ExecRecord>> },
}

/// One message's frame body (its JSON), whatever its size.
pub fn encode_body(msg: &Message) -> io::Result<Vec<u8>> {
    serde_json::to_vec(msg).map_err(io::Error::other)
}

/// Encodes one message as a frame.
pub fn encode(msg: &Message, out: &mut BytesMut) -> io::Result<()> {
    frame(&encode_body(msg)?, out)
}

/// Puts a length prefix before `body`; a body over [`MAX_FRAME`] is refused.
fn frame(body: &[u8], out: &mut BytesMut) -> io::Result<()> {
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {} bytes is over the limit", body.len()),
        ));
    }
    out.reserve(4 + body.len());
    out.put_u32(body.len() as u32);
    out.put_slice(body);
    Ok(())
}

pub async fn write_message<W: AsyncWrite + Unpin>(w: &mut W, msg: &Message) -> io::Result<()> {
    write_body(w, &encode_body(msg)?).await
}

/// Writes one already encoded message (see [`encode_body`]) as a frame.
pub async fn write_body<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> io::Result<()> {
    let mut buf = BytesMut::new();
    frame(body, &mut buf)?;
    w.write_all(&buf).await?;
    w.flush().await
}

/// A byte stream the channel runs over: plain TCP or TLS.
pub trait ChannelIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ChannelIo for T {}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
) -> io::Result<Option<Message>> {
    read_message_within(r, buf, MAX_FRAME).await
}

/// Reads one frame of at most `limit` bytes; a longer one is refused before any of it is
/// read or allocated.
pub async fn read_message_within<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
    limit: usize,
) -> io::Result<Option<Message>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = (&len[..]).get_u32() as usize;
    if n > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {n} bytes is over the limit"),
        ));
    }
    buf.clear();
    buf.resize(n, 0);
    r.read_exact(&mut buf[..]).await?;
    serde_json::from_slice(&buf[..]).map(Some).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The shared token: sent in the hello and compared, never printed (its `Debug` says
/// `<redacted>`, so no `{:?}` of a config or a message can leak it into a log).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    pub fn new(secret: impl Into<String>) -> Self {
        Token(secret.into())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Compares tokens in time independent of where they differ.
pub fn token_matches(expected: &Token, got: &Token) -> bool {
    let (a, b) = (expected.0.as_bytes(), got.0.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0 && a.len() == b.len()
}

/// Reads a token file: its first line, trimmed. A short token is refused, and so is a
/// file that group or others may read (the token lets an agent feed the sensor). The
/// token itself never appears in an error or a log line.
pub fn read_token(path: &std::path::Path) -> crate::error::Result<Token> {
    check_private(path, "token file")?;
    let text = std::fs::read_to_string(path).map_err(|e| crate::error::Error::io(path, e))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < 16 {
        return Err(crate::error::Error::usage(format!(
            "{}: the token must be at least 16 characters",
            path.display()
        )));
    }
    Ok(Token(token))
}

/// Refuses a secret (`what`: token file, private key) that group or others may read.
pub fn check_private(path: &std::path::Path, what: &str) -> crate::error::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| crate::error::Error::io(path, e))?.permissions().mode();
    if mode & 0o044 != 0 {
        return Err(crate::error::Error::usage(format!(
            "{}: the {what} may be read by group or others (mode {:o}); make it private with chmod 600",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        let t = |s: &str| Token::new(s);
        assert!(token_matches(&t("s3cret-token-123456"), &t("s3cret-token-123456")));
        assert!(!token_matches(&t("s3cret-token-123456"), &t("s3cret-token-12345")));
        assert!(!token_matches(&t("s3cret-token-123456"), &t("s3cret-token-123457")));
        assert!(!token_matches(&t("abc"), &t("")));
        assert_eq!(format!("{:?}", t("s3cret-token-123456")), "Token(<redacted>)");
    }

    #[test]
    fn token_files_readable_by_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("shellsight-token-test-{}", std::process::id()));
        std::fs::write(&path, "a-token-of-twenty-chars\n").unwrap();
        for (mode, ok) in [(0o600, true), (0o400, true), (0o640, false), (0o604, false), (0o644, false)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let got = read_token(&path);
            assert_eq!(got.is_ok(), ok, "mode {mode:o}");
            if let Err(e) = got {
                assert!(e.to_string().contains("chmod 600") && !e.to_string().contains("twenty"), "{e}");
            }
        }
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn frames_round_trip_and_oversized_frames_are_refused() {
        let msg =
            Message::Hello { version: 1, token: Token::new("t"), host: "h".into(), boot_id: "b".into() };
        let mut buf = BytesMut::new();
        encode(&msg, &mut buf).unwrap();
        let mut reader = &buf[..];
        let mut scratch = BytesMut::new();
        let back = read_message(&mut reader, &mut scratch).await.unwrap().unwrap();
        assert!(matches!(back, Message::Hello { host, .. } if host == "h"));
        assert!(read_message(&mut reader, &mut scratch).await.unwrap().is_none());

        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        let mut reader = &huge[..];
        assert!(read_message(&mut reader, &mut scratch).await.is_err());
    }
}

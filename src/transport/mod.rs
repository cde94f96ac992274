//! Agent ↔ sensor: socket inventories streamed over TCP as length-delimited frames
//! (4-byte big-endian length, then one JSON message). The first frame is the agent's
//! hello with the shared token; a peer that presents a wrong one, or none in time, is
//! rejected and logged. Frames have a size limit and every queue is bounded.

pub mod client;
pub mod server;

use crate::inventory::InventoryRecord;
use crate::join::conntrack::NatEntry;
use bytes::{Buf, BufMut, BytesMut};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame either side accepts.
pub const MAX_FRAME: usize = 8 << 20;
/// Records per snapshot or delta frame, so frames stay well below the limit.
pub const RECORDS_PER_FRAME: usize = 512;
pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// First frame from the agent.
    Hello { version: u32, token: String, host: String, boot_id: String },
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
}

/// Encodes one message as a frame.
pub fn encode(msg: &Message, out: &mut BytesMut) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {} bytes is over the limit", body.len()),
        ));
    }
    out.reserve(4 + body.len());
    out.put_u32(body.len() as u32);
    out.put_slice(&body);
    Ok(())
}

pub async fn write_message<W: AsyncWrite + Unpin>(w: &mut W, msg: &Message) -> io::Result<()> {
    let mut buf = BytesMut::new();
    encode(msg, &mut buf)?;
    w.write_all(&buf).await?;
    w.flush().await
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
) -> io::Result<Option<Message>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = (&len[..]).get_u32() as usize;
    if n > MAX_FRAME {
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

/// Compares tokens in time independent of where they differ.
pub fn token_matches(expected: &str, got: &str) -> bool {
    let (a, b) = (expected.as_bytes(), got.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0 && a.len() == b.len()
}

/// Reads a token file: its first line, trimmed. An empty token is refused.
pub fn read_token(path: &std::path::Path) -> crate::error::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::error::Error::io(path, e))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < 16 {
        return Err(crate::error::Error::usage(format!(
            "{}: the token must be at least 16 characters",
            path.display()
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("s3cret-token-123456", "s3cret-token-123456"));
        assert!(!token_matches("s3cret-token-123456", "s3cret-token-12345"));
        assert!(!token_matches("s3cret-token-123456", "s3cret-token-123457"));
        assert!(!token_matches("abc", ""));
    }

    #[tokio::test]
    async fn frames_round_trip_and_oversized_frames_are_refused() {
        let msg = Message::Hello { version: 1, token: "t".into(), host: "h".into(), boot_id: "b".into() };
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

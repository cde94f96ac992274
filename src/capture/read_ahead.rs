//! A capture file read on a thread of its own, a few chunks ahead of the parser: the
//! kernel's copy of the next chunk (a quarter of a replay's time on a warm page cache)
//! overlaps the parsing of this one. Chunks travel in recycled buffers, one hand-over per
//! chunk and none per packet; a read error travels in order with the data, and the end of
//! the file is the channel closing.

use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;

/// Bytes read per chunk.
const CHUNK: usize = 1 << 20;
/// Room kept free before each chunk's data, so that a record cut by the chunk's start
/// can be completed in place: its head (the previous chunk's unread tail) is copied in
/// front. Larger than any record of a 64 KiB snaplen.
pub(super) const HEADROOM: usize = 80 << 10;
/// Chunks read ahead of the parser.
const DEPTH: usize = 2;

/// One chunk: its bytes are `buf[HEADROOM..HEADROOM + len]`.
pub(super) struct Chunk {
    pub buf: Vec<u8>,
    pub len: usize,
}

pub(super) struct ReadAhead {
    chunks: Receiver<io::Result<Chunk>>,
    spare: SyncSender<Vec<u8>>,
}

impl ReadAhead {
    pub fn spawn(mut file: File) -> io::Result<ReadAhead> {
        let (chunk_tx, chunks) = mpsc::sync_channel::<io::Result<Chunk>>(DEPTH);
        let (spare, spare_rx) = mpsc::sync_channel::<Vec<u8>>(DEPTH + 2);
        thread::Builder::new().name("capture-read".into()).spawn(move || loop {
            let mut buf = spare_rx.try_recv().unwrap_or_default();
            if buf.len() < HEADROOM + CHUNK {
                buf.resize(HEADROOM + CHUNK, 0);
            }
            // Fill the chunk: a short read (a pipe, a signal) is not the end of the file.
            let mut len = 0;
            while len < CHUNK {
                match file.read(&mut buf[HEADROOM + len..HEADROOM + CHUNK]) {
                    Ok(0) => break,
                    Ok(k) => len += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        if len > 0 {
                            let _ = chunk_tx.send(Ok(Chunk { buf, len }));
                        }
                        let _ = chunk_tx.send(Err(e));
                        return;
                    }
                }
            }
            // A closed channel means the parser stopped: so does the reading.
            if len == 0 || chunk_tx.send(Ok(Chunk { buf, len })).is_err() || len < CHUNK {
                return;
            }
        })?;
        Ok(ReadAhead { chunks, spare })
    }

    /// The next chunk; `None` at the end of the file.
    pub fn next(&mut self) -> Option<io::Result<Chunk>> {
        self.chunks.recv().ok()
    }

    /// Hands a used buffer back for a later chunk (dropped when enough are waiting).
    pub fn recycle(&self, buf: Vec<u8>) {
        let _ = self.spare.try_send(buf);
    }
}

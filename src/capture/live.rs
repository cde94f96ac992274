//! Live capture through libpcap. Capture runs on its own thread and hands frames to the
//! pipeline in batches over a bounded queue: when the pipeline falls behind, whole batches
//! are dropped and counted, and capture never blocks. Kernel drops are polled every few
//! seconds, not per packet.

use super::LinkType;
use crate::error::{Error, Result};
use crate::time::Timestamp;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Frames per batch, and batches the queue holds.
const BATCH_FRAMES: usize = 256;
const QUEUE_BATCHES: usize = 256;
/// The kernel buffer's block timeout.
const READ_TIMEOUT_MS: i32 = 100;
/// How long the capture thread rests when nothing is waiting.
const IDLE_SLEEP: Duration = Duration::from_millis(5);
/// How often kernel statistics are read.
const STATS_EVERY: Duration = Duration::from_secs(5);

/// What the live source was asked to open.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interface: String,
    pub snaplen: i32,
    pub bpf: Option<String>,
    pub promiscuous: bool,
}

/// A batch of frames in one reused buffer.
#[derive(Debug, Default)]
pub struct Batch {
    pub link: Option<LinkType>,
    bytes: Vec<u8>,
    /// (timestamp, wire length, start, end) of each frame in `bytes`.
    frames: Vec<(Timestamp, u32, usize, usize)>,
}

impl Batch {
    fn push(&mut self, ts: Timestamp, wire_len: u32, data: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        self.frames.push((ts, wire_len, start, self.bytes.len()));
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.frames.clear();
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The frames as raw packets.
    pub fn packets(&self) -> impl Iterator<Item = super::RawPacket<'_>> {
        let link = self.link.unwrap_or(LinkType::ETHERNET);
        self.frames.iter().map(move |&(ts, wire_len, s, e)| super::RawPacket {
            ts,
            link,
            wire_len,
            data: &self.bytes[s..e],
        })
    }
}

/// Counters shared between the capture thread and the rest.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub received: AtomicU64,
    pub queue_dropped: AtomicU64,
    pub kernel_received: AtomicU64,
    pub kernel_dropped: AtomicU64,
    pub interface_dropped: AtomicU64,
}

/// A running live capture.
pub struct LiveCapture {
    batches: Receiver<Batch>,
    recycle: SyncSender<Batch>,
    pub counters: Arc<LiveCounters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
    pub link: LinkType,
}

impl LiveCapture {
    /// Opens the interface and starts the capture thread. `stop` ends it (signals).
    pub fn start(opts: &LiveOptions, stop: Arc<AtomicBool>) -> Result<Self> {
        let mut cap = pcap::Capture::from_device(opts.interface.as_str())
            .and_then(|c| {
                c.promisc(opts.promiscuous)
                    .snaplen(opts.snaplen)
                    .timeout(READ_TIMEOUT_MS)
                    .buffer_size(64 << 20)
                    .precision(pcap::Precision::Nano)
                    .open()
            })
            // Non-blocking: with TPACKET_V3 a blocking read's timeout only runs once a
            // packet is in the buffer, so a quiet interface would never let us stop.
            .and_then(|c| c.setnonblock())
            .map_err(|e| Error::runtime(format!("cannot capture on {}: {e}", opts.interface)))?;
        if let Some(bpf) = &opts.bpf {
            cap.filter(bpf, true).map_err(|e| Error::usage(format!("--bpf {bpf:?}: {e}")))?;
        }
        let link = LinkType(cap.get_datalink().0 as u16);
        let (tx, rx) = sync_channel::<Batch>(QUEUE_BATCHES);
        let (recycle_tx, recycle_rx) = sync_channel::<Batch>(QUEUE_BATCHES);
        let counters = Arc::new(LiveCounters::default());
        let thread_counters = counters.clone();
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || capture_loop(cap, link, tx, recycle_rx, thread_counters, thread_stop))
            .map_err(|e| Error::runtime(format!("cannot start the capture thread: {e}")))?;
        Ok(LiveCapture { batches: rx, recycle: recycle_tx, counters, stop, thread: Some(thread), link })
    }

    /// The next batch, or `Ok(None)` on timeout; `Err` when capture has ended.
    pub fn next_batch(&mut self, wait: Duration) -> std::result::Result<Option<Batch>, Ended> {
        match self.batches.recv_timeout(wait) {
            Ok(b) => Ok(Some(b)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(Ended),
        }
    }

    /// Hands a processed batch back for reuse.
    pub fn give_back(&self, mut b: Batch) {
        b.clear();
        let _ = self.recycle.try_send(b);
    }

    /// Stops capture and reports how the thread ended.
    pub fn stop(mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        while self.batches.recv_timeout(Duration::from_millis(10)).is_ok() {}
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::runtime("the capture thread panicked")),
            None => Ok(()),
        }
    }
}

/// Capture has ended (interface gone, or stopped).
#[derive(Debug)]
pub struct Ended;

fn capture_loop(
    mut cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    tx: SyncSender<Batch>,
    recycle: Receiver<Batch>,
    counters: Arc<LiveCounters>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let fresh = |recycle: &Receiver<Batch>| {
        let mut b = recycle.try_recv().unwrap_or_else(|_| Batch {
            link: Some(link),
            bytes: Vec::with_capacity(BATCH_FRAMES * 256),
            frames: Vec::with_capacity(BATCH_FRAMES),
        });
        b.link = Some(link);
        b
    };
    let mut batch = fresh(&recycle);
    let mut last_stats = Instant::now();
    let send = |batch: Batch, counters: &LiveCounters| {
        let n = batch.len() as u64;
        match tx.try_send(batch) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                counters.queue_dropped.fetch_add(n, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    };
    while !stop.load(Ordering::Relaxed) {
        match cap.next_packet() {
            Ok(p) => {
                let ts = Timestamp::from_nanos(p.header.ts.tv_sec * 1_000_000_000 + p.header.ts.tv_usec);
                batch.push(ts, p.header.len, p.data);
                counters.received.fetch_add(1, Ordering::Relaxed);
                if batch.len() >= BATCH_FRAMES
                    && !send(std::mem::replace(&mut batch, fresh(&recycle)), &counters)
                {
                    return Ok(());
                }
            }
            Err(pcap::Error::TimeoutExpired) => {
                // Nothing waiting: hand over what we have, then rest briefly.
                if !batch.is_empty() {
                    if !send(std::mem::replace(&mut batch, fresh(&recycle)), &counters) {
                        return Ok(());
                    }
                } else {
                    std::thread::sleep(IDLE_SLEEP);
                }
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => return Err(Error::runtime(format!("capture failed: {e}"))),
        }
        if last_stats.elapsed() >= STATS_EVERY {
            last_stats = Instant::now();
            if let Ok(s) = cap.stats() {
                counters.kernel_received.store(s.received as u64, Ordering::Relaxed);
                counters.kernel_dropped.store(s.dropped as u64, Ordering::Relaxed);
                counters.interface_dropped.store(s.if_dropped as u64, Ordering::Relaxed);
            }
        }
    }
    if !batch.is_empty() {
        send(batch, &counters);
    }
    Ok(())
}

//! Detection over several worker threads. The calling thread reads and decodes; each TCP
//! segment goes to the worker that owns its flow (`FlowKey::shard_hash`, the same for
//! both directions). Segments travel in batches: the header fields plus a copy of the
//! captured payload in one reused byte buffer, so nothing is allocated per packet, and
//! the batches come back to a pool once a worker is done with them.
//!
//! Sweeps for idle sessions are decided here, on the single detector's schedule, and sent
//! to every worker at the same place in the stream, so each shard expires sessions at the
//! same capture times as one detector would. Every event carries the position in the
//! stream that produced it; a worker reports how far it has got (its watermark) after
//! each batch, and the events up to the lowest watermark are released in canonical order.
//! The output is thus the same for any thread count, as long as no shard has to evict
//! (each shard holds `max_flows / threads` sessions).

use super::{order_key, OrderKey};
use crate::baseline::model::History;
use crate::context::resolve::Context;
use crate::decode::{TcpFlags, Transport, TransportSegment};
use crate::detect::{DetectStats, Detector, DetectorConfig, Event};
use crate::error::{Error, Result};
use crate::flow::key::{Endpoint, FlowKey};
use crate::flow::table::TableStats;
use crate::names::DnsAnswer;
use crate::time::{Span, Timestamp};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Segments per batch before all batches are sent. 256 cost ~25k context switches on
/// 2.5 M packets (task-clock 1.19 s); 1024 cost ~6k (1.02 s).
const BATCH: usize = 1024;
/// Batches that may wait in a worker's queue.
const QUEUE: usize = 4;
/// Position of the events of the end of the capture.
const END: u64 = u64::MAX - 1;

/// A segment's header fields; its payload lives in the batch's byte buffer.
#[derive(Clone, Copy)]
struct SegMeta {
    ts: Timestamp,
    transport: Transport,
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    payload_len: u32,
    off: u32,
    len: u32,
}

#[derive(Clone)]
enum Item {
    Segment(u64, SegMeta),
    Sweep(u64, Timestamp),
    /// A DNS answer, given to every worker at the same position.
    Names(u64, Arc<DnsAnswer>),
    /// Score against this host history from here on.
    History(u64, Arc<History>),
    /// A request carrying a callback payload, given to every worker after its segment.
    Lead(u64, Arc<crate::evidence::injection::Lead>),
}

#[derive(Default)]
struct Batch {
    items: Vec<Item>,
    bytes: Vec<u8>,
    /// Every item before this position that belongs to the worker is in this batch or an
    /// earlier one.
    upto: u64,
}

enum ToWorker {
    Batch(Batch),
    Finish,
}

enum FromWorker {
    Events { worker: usize, events: Vec<(u64, Event)>, upto: u64 },
    Done { detect: DetectStats, table: TableStats },
}

struct Worker {
    tx: SyncSender<ToWorker>,
    handle: Option<JoinHandle<()>>,
    filling: Batch,
    /// Events received but not yet released, in position order.
    pending: VecDeque<(u64, Event)>,
    watermark: u64,
}

pub(super) struct Shards {
    workers: Vec<Worker>,
    results: Option<Receiver<FromWorker>>,
    pool: Option<Receiver<Batch>>,
    /// Position of the next item in the stream.
    pos: u64,
    next_sweep: Option<Timestamp>,
    sweep_every: Span,
    ready: Vec<(u64, OrderKey, Event)>,
}

impl Shards {
    pub(super) fn start(
        config: DetectorConfig,
        context: Arc<Context>,
        history: Option<Arc<History>>,
    ) -> Self {
        let n = config.threads.max(1);
        let shard_config = DetectorConfig {
            max_flows: config.max_flows.div_ceil(n),
            prefix_budget_bytes: config.prefix_budget_bytes / n,
            ..config
        };
        let (results_tx, results) = channel();
        let (pool_tx, pool) = channel();
        let workers = (0..n)
            .map(|id| {
                let (tx, rx) = sync_channel(QUEUE);
                let (results_tx, pool_tx, context) = (results_tx.clone(), pool_tx.clone(), context.clone());
                let mut detector = Detector::new(shard_config, context);
                if let Some(h) = &history {
                    detector.set_history(h.clone());
                }
                let handle = std::thread::Builder::new()
                    .name(format!("shellsight-shard-{id}"))
                    .spawn(move || work(id, detector, rx, results_tx, pool_tx))
                    .expect("spawn a worker thread");
                Worker {
                    tx,
                    handle: Some(handle),
                    filling: Batch::default(),
                    pending: VecDeque::new(),
                    watermark: 0,
                }
            })
            .collect();
        Shards {
            workers,
            results: Some(results),
            pool: Some(pool),
            pos: 0,
            next_sweep: None,
            sweep_every: config.timeouts.sweep_every,
            ready: Vec::new(),
        }
    }

    /// A placeholder with no workers (what is left once `finish` took the real one).
    pub(super) fn empty() -> Self {
        Shards {
            workers: Vec::new(),
            results: None,
            pool: None,
            pos: 0,
            next_sweep: None,
            sweep_every: Span::ZERO,
            ready: Vec::new(),
        }
    }

    /// One decoded frame (`None`: not a TCP segment). Released events go to `out`.
    pub(super) fn feed(&mut self, seg: Option<&TransportSegment<'_>>, out: &mut Vec<Event>) -> Result<()> {
        let Some(seg) = seg else { return Ok(()) };
        let pos = self.pos;
        self.pos += 1;
        if self.sweep_due(seg.ts) {
            for w in &mut self.workers {
                w.filling.items.push(Item::Sweep(pos, seg.ts));
            }
        }
        if let Some(answer) = crate::names::dns::answer(seg) {
            let answer = Arc::new(answer);
            for w in &mut self.workers {
                w.filling.items.push(Item::Names(pos, answer.clone()));
            }
        }
        let src = Endpoint { ip: seg.src, port: seg.src_port };
        let dst = Endpoint { ip: seg.dst, port: seg.dst_port };
        let shard =
            (FlowKey::new(seg.transport, src, dst).0.shard_hash() % self.workers.len() as u64) as usize;
        let batch = &mut self.workers[shard].filling;
        let off = batch.bytes.len() as u32;
        batch.bytes.extend_from_slice(seg.payload);
        batch.items.push(Item::Segment(
            pos,
            SegMeta {
                ts: seg.ts,
                transport: seg.transport,
                src: seg.src,
                dst: seg.dst,
                src_port: seg.src_port,
                dst_port: seg.dst_port,
                seq: seg.seq,
                ack: seg.ack,
                flags: seg.flags,
                window: seg.window,
                payload_len: seg.payload_len,
                off,
                len: seg.payload.len() as u32,
            },
        ));
        // After the segment, so the shard holding the request's session has it.
        if let Some(lead) = crate::evidence::injection::lead(seg) {
            let lead = Arc::new(lead);
            for w in &mut self.workers {
                w.filling.items.push(Item::Lead(pos, lead.clone()));
            }
        }
        let batch = &mut self.workers[shard].filling;
        if batch.items.len() >= BATCH {
            self.send_all()?;
            self.collect(false)?;
            self.release(out);
        }
        Ok(())
    }

    /// Waits until every worker has worked through everything fed so far, and releases
    /// all their events (a barrier, taken once per history commit).
    pub(super) fn sync(&mut self, out: &mut Vec<Event>) -> Result<()> {
        self.send_all()?;
        let target = self.pos;
        while self.workers.iter().any(|w| w.watermark < target) {
            self.collect(true)?;
        }
        self.release(out);
        Ok(())
    }

    /// Every worker scores against `history` from the next item on.
    pub(super) fn set_history(&mut self, history: Arc<History>) {
        let pos = self.pos;
        for w in &mut self.workers {
            w.filling.items.push(Item::History(pos, history.clone()));
        }
    }

    /// The single detector's sweep schedule (`FlowTable::maybe_sweep`).
    fn sweep_due(&mut self, now: Timestamp) -> bool {
        match self.next_sweep {
            Some(t) if now < t => false,
            _ => {
                self.next_sweep = Some(now + self.sweep_every);
                true
            }
        }
    }

    /// The wire is quiet: expire idle sessions if a sweep is due, and pass on what the
    /// workers have decided so far.
    pub(super) fn tick(&mut self, now: Timestamp, out: &mut Vec<Event>) -> Result<()> {
        if self.sweep_due(now) {
            let pos = self.pos;
            self.pos += 1;
            for w in &mut self.workers {
                w.filling.items.push(Item::Sweep(pos, now));
            }
        }
        self.send_all()?;
        self.collect(false)?;
        self.release(out);
        Ok(())
    }

    /// Sends every worker its batch (empty ones too: they carry the watermark).
    fn send_all(&mut self) -> Result<()> {
        let upto = self.pos;
        for i in 0..self.workers.len() {
            let fresh = self.pool.as_ref().and_then(|p| p.try_recv().ok()).unwrap_or_default();
            let w = &mut self.workers[i];
            let mut batch = std::mem::replace(&mut w.filling, fresh);
            batch.upto = upto;
            w.tx.send(ToWorker::Batch(batch)).map_err(|_| worker_died())?;
        }
        Ok(())
    }

    /// Takes what the workers sent back; with `wait`, blocks for one message first.
    fn collect(&mut self, wait: bool) -> Result<Option<(DetectStats, TableStats)>> {
        let Some(results) = self.results.as_ref() else { return Ok(None) };
        let mut first = if wait { Some(results.recv().map_err(|_| worker_died())?) } else { None };
        loop {
            let msg = match first.take() {
                Some(m) => m,
                None => match results.try_recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(None),
                },
            };
            match msg {
                FromWorker::Events { worker, events, upto } => {
                    let w = &mut self.workers[worker];
                    w.pending.extend(events);
                    w.watermark = w.watermark.max(upto);
                }
                FromWorker::Done { detect, table } => return Ok(Some((detect, table))),
            }
        }
    }

    /// Moves the events before the lowest watermark to `out`, in canonical order.
    fn release(&mut self, out: &mut Vec<Event>) {
        let Some(low) = self.workers.iter().map(|w| w.watermark).min() else { return };
        for w in &mut self.workers {
            while w.pending.front().is_some_and(|(p, _)| *p < low) {
                let (p, ev) = w.pending.pop_front().expect("front checked");
                let key = order_key(&ev);
                self.ready.push((p, key, ev));
            }
        }
        if self.ready.is_empty() {
            return;
        }
        self.ready.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        out.extend(self.ready.drain(..).map(|(_, _, ev)| ev));
    }

    /// Ends every session in every shard; returns the shards' counts, summed.
    pub(super) fn finish(mut self, out: &mut Vec<Event>) -> Result<(DetectStats, TableStats)> {
        self.send_all()?;
        for w in &self.workers {
            w.tx.send(ToWorker::Finish).map_err(|_| worker_died())?;
        }
        let mut detect = DetectStats::default();
        let mut table = TableStats::default();
        let mut done = 0;
        while done < self.workers.len() {
            if let Some((d, t)) = self.collect(true)? {
                done += 1;
                detect.merge(&d);
                table.merge(&t);
            }
        }
        self.collect(false)?;
        self.release(out);
        for w in &mut self.workers {
            if let Some(h) = w.handle.take() {
                h.join().map_err(|_| worker_died())?;
            }
        }
        Ok((detect, table))
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        // Closing the queues ends the workers; an error path must not leave them running.
        let handles: Vec<_> = self.workers.iter_mut().filter_map(|w| w.handle.take()).collect();
        self.workers.clear();
        self.results = None;
        for h in handles {
            let _ = h.join();
        }
    }
}

fn worker_died() -> Error {
    Error::input("a detection worker thread stopped unexpectedly".to_string())
}

/// A worker: runs its shard's detector over the batches it is sent.
fn work(
    id: usize,
    mut detector: Detector,
    rx: Receiver<ToWorker>,
    results: Sender<FromWorker>,
    pool: Sender<Batch>,
) {
    let mut events = Vec::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            ToWorker::Batch(mut batch) => {
                let mut tagged = Vec::new();
                for item in &batch.items {
                    let pos = match item {
                        Item::Segment(pos, m) => {
                            let seg = TransportSegment {
                                ts: m.ts,
                                transport: m.transport,
                                src: m.src,
                                dst: m.dst,
                                src_port: m.src_port,
                                dst_port: m.dst_port,
                                seq: m.seq,
                                ack: m.ack,
                                flags: m.flags,
                                window: m.window,
                                payload_len: m.payload_len,
                                payload: &batch.bytes[m.off as usize..(m.off + m.len) as usize],
                            };
                            detector.process_unswept(&seg, &mut events);
                            *pos
                        }
                        Item::Sweep(pos, now) => {
                            detector.sweep_at(*now, &mut events);
                            *pos
                        }
                        Item::History(pos, history) => {
                            detector.set_history(history.clone());
                            *pos
                        }
                        Item::Names(pos, answer) => {
                            detector.learn_names(answer);
                            *pos
                        }
                        Item::Lead(pos, lead) => {
                            detector.learn_lead(lead, &mut events);
                            *pos
                        }
                    };
                    tagged.extend(events.drain(..).map(|e| (pos, e)));
                }
                let upto = batch.upto;
                batch.items.clear();
                batch.bytes.clear();
                let _ = pool.send(batch);
                if results.send(FromWorker::Events { worker: id, events: tagged, upto }).is_err() {
                    return;
                }
            }
            ToWorker::Finish => {
                detector.finish(&mut events);
                let tagged = events.drain(..).map(|e| (END, e)).collect();
                let _ = results.send(FromWorker::Events { worker: id, events: tagged, upto: u64::MAX });
                let table = detector.table_stats();
                let _ = results.send(FromWorker::Done { detect: detector.stats, table });
                return;
            }
        }
    }
}

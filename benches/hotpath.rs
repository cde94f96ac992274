//! The per-packet stages, one benchmark each, over the frames of `fixtures/demo.pcap`
//! (real shells and benign sessions): decoding a frame to a TCP segment, the detector's
//! flow update (`Detector::process`) over the whole segment stream, and the per-session
//! classifier (`Evidence::observe`) over one shell session's segments.
//!
//! `cargo bench --bench hotpath`; under `cargo test --all-targets` each runs once.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use shellsight::capture::file::CaptureFile;
use shellsight::capture::{LinkType, PacketSource, RawPacket};
use shellsight::config::SitePolicy;
use shellsight::context::resolve::Context;
use shellsight::decode::{self, TransportSegment};
use shellsight::detect::{Detector, DetectorConfig};
use shellsight::evidence::{Dir, Evidence, PrefixBudget, Segment};
use shellsight::time::Timestamp;
use std::path::Path;
use std::sync::Arc;

struct Frame {
    ts: Timestamp,
    link: LinkType,
    wire_len: u32,
    data: Vec<u8>,
}

impl Frame {
    fn raw(&self) -> RawPacket<'_> {
        RawPacket { ts: self.ts, link: self.link, wire_len: self.wire_len, data: &self.data }
    }
}

fn frames() -> Vec<Frame> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo.pcap");
    let mut file = CaptureFile::open(&path).expect("open the demo capture");
    let mut out = Vec::new();
    while let Some(p) = file.next_packet().expect("read the demo capture") {
        out.push(Frame { ts: p.ts, link: p.link, wire_len: p.wire_len, data: p.data.to_vec() });
    }
    assert!(out.len() > 1000, "the demo capture has {} frames", out.len());
    out
}

fn segments(frames: &[Frame]) -> Vec<TransportSegment<'_>> {
    frames.iter().filter_map(|f| decode::decode(&f.raw()).ok()).collect()
}

fn bench_decode(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("frame_to_tcp_segment", |b| {
        b.iter(|| {
            let mut payload = 0u64;
            for f in &frames {
                if let Ok(seg) = decode::decode(black_box(&f.raw())) {
                    payload += seg.payload_len as u64;
                }
            }
            payload
        })
    });
    g.finish();
}

fn bench_detector(c: &mut Criterion) {
    let frames = frames();
    let segs = segments(&frames);
    let context = Arc::new(Context::new(SitePolicy::default(), None));
    let config = DetectorConfig { max_flows: 4096, ..DetectorConfig::default() };
    let mut g = c.benchmark_group("detector");
    g.throughput(Throughput::Elements(segs.len() as u64));
    g.bench_function("process_segment_stream", |b| {
        let mut events = Vec::with_capacity(64);
        b.iter(|| {
            let mut det = Detector::new(config, context.clone());
            for s in &segs {
                det.process(black_box(s), &mut events);
                events.clear();
            }
            det.finish(&mut events);
            let n = events.len();
            events.clear();
            (det.stats.detections, n)
        })
    });
    g.finish();
}

fn bench_evidence(c: &mut Criterion) {
    let frames = frames();
    let segs = segments(&frames);
    // The first session to port 4444: a bash reverse shell, both directions.
    let shell = segs.iter().find(|s| s.dst_port == 4444).expect("a shell session in the demo");
    let (client, server) = ((shell.src, shell.src_port), (shell.dst, shell.dst_port));
    let session: Vec<Segment<'_>> = segs
        .iter()
        .filter_map(|s| {
            let dir = if (s.src, s.src_port) == client && (s.dst, s.dst_port) == server {
                Dir::Orig
            } else if (s.src, s.src_port) == server && (s.dst, s.dst_port) == client {
                Dir::Resp
            } else {
                return None;
            };
            Some(Segment {
                ts: s.ts,
                dir,
                seq: s.seq,
                flags: s.flags,
                datagram: false,
                place: shellsight::protocols::Place::new(decode::Transport::Tcp, 50_000, 4444),
                payload_len: s.payload_len,
                payload: s.payload,
            })
        })
        .collect();
    assert!(session.len() > 20, "the shell session has {} segments", session.len());
    let mut g = c.benchmark_group("evidence");
    g.throughput(Throughput::Elements(session.len() as u64));
    g.bench_function("observe_shell_session", |b| {
        b.iter(|| {
            let mut ev = Evidence::default();
            let mut budget = PrefixBudget::new(1 << 20);
            let mut judged = 0u32;
            for s in &session {
                judged += ev.observe(black_box(s), &mut budget).judge as u32;
            }
            ev.release_prefix(&mut budget);
            (judged, ev.dirs[0].bytes)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_detector, bench_evidence);
criterion_main!(benches);

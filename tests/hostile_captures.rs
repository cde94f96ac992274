//! Captures an attacker (or a broken capture tool) might hand the sensor. Each is built
//! here, byte by byte, around a real-looking reverse shell, and replayed through the real
//! binary: no panic, an alert for the shell in everything readable, and a warning on
//! stderr that says what was wrong.

mod common;

use common::{bin, json_lines};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Output};

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000 * MS;
/// 2026-11-02T14:03:00Z (a weekday afternoon).
const START: i64 = 1_793_714_580 * SEC;

/// The victim (the shell side) and the attacker's listener in a residential ASN.
const VICTIM: Ipv4Addr = Ipv4Addr::new(10, 20, 1, 11);
const ATTACKER: Ipv4Addr = Ipv4Addr::new(73, 162, 44, 21);

/// One captured frame: timestamp and bytes (Ethernet).
struct Frame {
    ts: i64,
    bytes: Vec<u8>,
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// An Ethernet + IPv4 + TCP frame with a correct header layout.
fn tcp_frame(
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + 20 + payload.len()) as u16;
    f.extend([0x45, 0]);
    f.extend(total.to_be_bytes());
    f.extend([0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend(src.0.octets());
    f.extend(dst.0.octets());
    f.extend(src.1.to_be_bytes());
    f.extend(dst.1.to_be_bytes());
    f.extend(seq.to_be_bytes());
    f.extend(ack.to_be_bytes());
    f.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend(payload);
    f
}

/// A TCP session between the victim (who connected out) and the attacker's listener.
struct Session {
    victim: (Ipv4Addr, u16),
    attacker: (Ipv4Addr, u16),
    vseq: u32,
    aseq: u32,
}

impl Session {
    fn new(victim: (Ipv4Addr, u16), attacker: (Ipv4Addr, u16)) -> Self {
        Session { victim, attacker, vseq: 1000, aseq: 900_000 }
    }

    fn handshake(&mut self, ts: i64, out: &mut Vec<Frame>) {
        out.push(Frame { ts, bytes: tcp_frame(self.victim, self.attacker, self.vseq, 0, SYN, b"") });
        self.vseq += 1;
        out.push(Frame {
            ts: ts + MS,
            bytes: tcp_frame(self.attacker, self.victim, self.aseq, self.vseq, SYN | ACK, b""),
        });
        self.aseq += 1;
        out.push(Frame {
            ts: ts + 2 * MS,
            bytes: tcp_frame(self.victim, self.attacker, self.vseq, self.aseq, ACK, b""),
        });
    }

    /// A segment from the victim (the shell's output).
    fn victim_says(&mut self, ts: i64, data: &[u8]) -> Frame {
        let f = tcp_frame(self.victim, self.attacker, self.vseq, self.aseq, PSH | ACK, data);
        self.vseq = self.vseq.wrapping_add(data.len() as u32);
        Frame { ts, bytes: f }
    }

    /// A segment from the attacker (typed commands).
    fn attacker_types(&mut self, ts: i64, data: &[u8]) -> Frame {
        let f = tcp_frame(self.attacker, self.victim, self.aseq, self.vseq, PSH | ACK, data);
        self.aseq = self.aseq.wrapping_add(data.len() as u32);
        Frame { ts, bytes: f }
    }

    fn close(&mut self, ts: i64, out: &mut Vec<Frame>) {
        out.push(Frame {
            ts,
            bytes: tcp_frame(self.victim, self.attacker, self.vseq, self.aseq, FIN | ACK, b""),
        });
        self.vseq += 1;
        out.push(Frame {
            ts: ts + MS,
            bytes: tcp_frame(self.attacker, self.victim, self.aseq, self.vseq, FIN | ACK, b""),
        });
        self.aseq += 1;
        out.push(Frame {
            ts: ts + 2 * MS,
            bytes: tcp_frame(self.victim, self.attacker, self.vseq, self.aseq, ACK, b""),
        });
    }
}

const BANNER: &[u8] = b"bash: cannot set terminal process group (812): Inappropriate ioctl for device\n\
bash: no job control in this shell\nwww-data@web01:/var/www$ ";

/// (command, think time in ms, what the shell answers)
const TYPED: &[(&[u8], i64, &[u8])] = &[
    (b"id\n", 1500, b"uid=33(www-data) gid=33(www-data) groups=33(www-data)\nwww-data@web01:/var/www$ "),
    (b"whoami\n", 2300, b"www-data\nwww-data@web01:/var/www$ "),
    (b"uname -a\n", 1200, b"Linux web01 6.1.0-18-amd64 #1 SMP Debian 6.1.76-1 x86_64 GNU/Linux\nwww-data@web01:/var/www$ "),
    (b"hostname\n", 3100, b"web01\nwww-data@web01:/var/www$ "),
    (b"cat /etc/passwd\n", 1700, b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nwww-data@web01:/var/www$ "),
    (b"ls -la /tmp\n", 2600, b"total 8\ndrwxrwxrwt  2 root root 4096 Nov  2 14:00 .\ndrwxr-xr-x 18 root root 4096 Oct  1 09:12 ..\nwww-data@web01:/var/www$ "),
];

/// A complete reverse shell from `port` starting at `t0`; returns its frames.
fn reverse_shell(t0: i64, port: u16) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut s = Session::new((VICTIM, port), (ATTACKER, 4444));
    s.handshake(t0, &mut out);
    let mut t = t0 + 20 * MS;
    out.push(s.victim_says(t, BANNER));
    for (cmd, think, answer) in TYPED {
        t += think * MS;
        out.push(s.attacker_types(t, cmd));
        t += 4 * MS;
        out.push(s.victim_says(t, answer));
    }
    s.close(t + 900 * MS, &mut out);
    out
}

/// Classic pcap, little-endian, microseconds. Each record may override its caplen.
fn pcap(snaplen: u32, frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0u8; 8]);
    out.extend(snaplen.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    for f in frames {
        out.extend(pcap_record(f.ts, &f.bytes, f.bytes.len() as u32));
    }
    out
}

fn pcap_record(ts: i64, bytes: &[u8], caplen: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(((ts / SEC) as u32).to_le_bytes());
    out.extend((((ts % SEC) / 1000) as u32).to_le_bytes());
    out.extend(caplen.to_le_bytes());
    out.extend((bytes.len() as u32).to_le_bytes());
    out.extend(bytes);
    out
}

fn ng_block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let mut padded = body.to_vec();
    while padded.len() % 4 != 0 {
        padded.push(0);
    }
    let total = (padded.len() + 12) as u32;
    let mut out = block_type.to_le_bytes().to_vec();
    out.extend(total.to_le_bytes());
    out.extend(padded);
    out.extend(total.to_le_bytes());
    out
}

fn pcapng_head() -> Vec<u8> {
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    let mut out = ng_block(0x0A0D_0D0A, &shb);
    let mut idb = 1u16.to_le_bytes().to_vec(); // Ethernet, microseconds
    idb.extend([0, 0]);
    idb.extend(0u32.to_le_bytes());
    out.extend(ng_block(1, &idb));
    out
}

fn epb(ts: i64, bytes: &[u8], caplen: u32) -> Vec<u8> {
    let units = (ts / 1000) as u64;
    let mut body = 0u32.to_le_bytes().to_vec();
    body.extend(((units >> 32) as u32).to_le_bytes());
    body.extend((units as u32).to_le_bytes());
    body.extend(caplen.to_le_bytes());
    body.extend((bytes.len() as u32).to_le_bytes());
    body.extend(bytes);
    ng_block(6, &body)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shellsight-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Replays `bytes` (written to a file called `name`) and returns the run and its alerts.
fn replay(name: &str, bytes: &[u8], extra: &[&str]) -> (Output, Vec<Value>) {
    let p = tmp(name);
    std::fs::write(&p, bytes).unwrap();
    let out = Command::new(bin())
        .arg("replay")
        .arg(&p)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("run shellsight");
    let _ = std::fs::remove_file(&p);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{name}: panic\n{stderr}");
    assert!(out.status.success(), "{name}: exit {:?}\n{stderr}", out.status);
    let alerts = json_lines(&out.stdout);
    (out, alerts)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The shell from `port` was alerted at medium or above.
fn shell_alerted(alerts: &[Value], port: u64) -> bool {
    alerts.iter().any(|a| {
        a["source"]["port"].as_u64() == Some(port)
            && a["destination"]["port"].as_u64() == Some(4444)
            && matches!(a["shellsight"]["tier"].as_str(), Some("medium" | "high"))
    })
}

#[test]
fn the_well_formed_shell_is_alerted_without_warnings() {
    let (out, alerts) = replay("clean.pcap", &pcap(65535, &reverse_shell(START, 40001)), &[]);
    assert!(shell_alerted(&alerts, 40001), "{alerts:?}\n{}", stderr(&out));
    assert!(!stderr(&out).contains("WARN"), "{}", stderr(&out));
}

#[test]
fn a_file_cut_mid_record_keeps_everything_before_the_cut() {
    let full = pcap(65535, &reverse_shell(START, 40002));
    // Cut inside the last record's data, then inside a record header.
    for (name, cut) in [("cut-data.pcap", full.len() - 30), ("cut-head.pcap", full.len() - 54 - 16 + 5)] {
        let (out, alerts) = replay(name, &full[..cut], &[]);
        assert!(shell_alerted(&alerts, 40002), "{name}: {alerts:?}");
        assert!(stderr(&out).contains("truncated"), "{name}: {}", stderr(&out));
    }
}

#[test]
fn zero_and_giant_snaplens_are_read() {
    for (name, snaplen) in [("snap0.pcap", 0u32), ("snapmax.pcap", u32::MAX)] {
        let (out, alerts) = replay(name, &pcap(snaplen, &reverse_shell(START, 40003)), &[]);
        assert!(shell_alerted(&alerts, 40003), "{name}: {alerts:?}\n{}", stderr(&out));
    }
}

#[test]
fn records_longer_than_the_snaplen_are_read_with_a_warning() {
    let (out, alerts) = replay("over-snaplen.pcap", &pcap(64, &reverse_shell(START, 40004)), &[]);
    assert!(shell_alerted(&alerts, 40004), "{alerts:?}");
    assert!(stderr(&out).contains("longer than the file's snaplen (64)"), "{}", stderr(&out));
}

#[test]
fn a_record_claiming_gigabytes_stops_reading_with_a_warning() {
    let mut bytes = pcap(65535, &reverse_shell(START, 40005));
    bytes.extend(pcap_record(START + 60 * SEC, b"\0\0\0\0", 0xF000_0000));
    let (out, alerts) = replay("giant-caplen.pcap", &bytes, &[]);
    assert!(shell_alerted(&alerts, 40005), "{alerts:?}");
    assert!(stderr(&out).contains("claims 4026531840 bytes"), "{}", stderr(&out));
}

/// Headers whose length fields lie, mixed into a good shell session.
#[test]
fn lying_ip_and_tcp_lengths_are_counted_as_malformed_and_skipped() {
    let mut frames = reverse_shell(START, 40006);
    let good = tcp_frame((VICTIM, 40006), (ATTACKER, 4444), 5, 5, ACK, b"payload-bytes");
    let mut lies = Vec::new();
    // IPv4 header length 60 in a 54-byte frame.
    let mut f = good.clone();
    f[14] = 0x4f;
    f.truncate(14 + 40);
    lies.push(f);
    // IPv4 total length below its own header.
    let mut f = good.clone();
    f[16..18].copy_from_slice(&10u16.to_be_bytes());
    lies.push(f);
    // TCP data offset 60 (options past the end of the segment).
    let mut f = good.clone();
    f[14 + 20 + 12] = 0xf0;
    lies.push(f);
    // TCP data offset 4 (below the minimum).
    let mut f = good.clone();
    f[14 + 20 + 12] = 0x40;
    lies.push(f);
    // Options that claim 40 bytes in a frame cut right after the fixed header.
    let mut f = good.clone();
    f[14 + 20 + 12] = 0xf0;
    f.truncate(14 + 20 + 20);
    lies.push(f);
    // An IPv4 total length far beyond the frame (cut by a snaplen): not malformed, a cut frame.
    let mut f = good.clone();
    f[16..18].copy_from_slice(&9000u16.to_be_bytes());
    lies.push(f);
    // A TCP header cut in the middle.
    let mut f = good;
    f.truncate(14 + 20 + 9);
    lies.push(f);
    for (i, bytes) in lies.into_iter().enumerate() {
        frames.insert(5 + i, Frame { ts: frames[4].ts + i as i64, bytes });
    }
    let (out, alerts) = replay("lying-headers.pcap", &pcap(65535, &frames), &[]);
    assert!(shell_alerted(&alerts, 40006), "{alerts:?}");
    let err = stderr(&out);
    assert!(err.contains("malformed packets were counted and skipped"), "{err}");
    assert!(err.contains(" 6 malformed"), "six of the seven lie about their headers: {err}");
}

/// Each typed command is sent twice with different bytes at the same sequence numbers,
/// and the banner arrives out of order.
#[test]
fn overlapping_out_of_order_and_rewritten_retransmissions() {
    let mut out = Vec::new();
    let mut s = Session::new((VICTIM, 40007), (ATTACKER, 4444));
    s.handshake(START, &mut out);
    let mut t = START + 20 * MS;
    // The banner in two segments, the second captured first.
    let (first, second) = BANNER.split_at(40);
    let a = s.victim_says(t, first);
    let b = s.victim_says(t, second);
    out.push(Frame { ts: t, bytes: b.bytes });
    out.push(Frame { ts: t + MS, bytes: a.bytes.clone() });
    // …and the first half again, rewritten: a retransmission with different bytes.
    let mut rewritten = a.bytes;
    let at = rewritten.len() - first.len();
    rewritten[at..].copy_from_slice(&[b'A'; 40]);
    out.push(Frame { ts: t + 2 * MS, bytes: rewritten });
    for (cmd, think, answer) in TYPED {
        t += think * MS;
        let typed = s.attacker_types(t, cmd);
        let mut decoy = typed.bytes.clone();
        let len = decoy.len();
        for byte in &mut decoy[len - cmd.len()..] {
            *byte = b'x';
        }
        out.push(typed);
        out.push(Frame { ts: t + MS, bytes: decoy });
        // An overlap: the last half of the command again, then the answer.
        let half = cmd.len() / 2;
        let overlap = tcp_frame(
            (ATTACKER, 4444),
            (VICTIM, 40007),
            s.aseq.wrapping_sub(half as u32),
            s.vseq,
            PSH | ACK,
            &cmd[cmd.len() - half..],
        );
        out.push(Frame { ts: t + 2 * MS, bytes: overlap });
        t += 4 * MS;
        out.push(s.victim_says(t, answer));
    }
    s.close(t + 900 * MS, &mut out);
    let (run, alerts) = replay("overlaps.pcap", &pcap(65535, &out), &[]);
    assert!(shell_alerted(&alerts, 40007), "{alerts:?}\n{}", stderr(&run));
    let a = alerts.iter().rev().find(|a| a["source"]["port"].as_u64() == Some(40007)).unwrap();
    let reasons = a["shellsight"]["reasons"].to_string();
    // The shell's output after the rewritten and overlapping input is still read in order.
    // (The banner half captured late falls before where reassembly began: its
    // `no-tty` tell is not seen, which is the cost of reading only in order.)
    assert!(reasons.contains("uid-output") && reasons.contains("no-job-control"), "{reasons}");
    assert!(stderr(&run).contains("retransmitted"), "{}", stderr(&run));
}

#[test]
fn pcapng_with_unknown_blocks_is_read_around_them() {
    let mut bytes = pcapng_head();
    for (i, f) in reverse_shell(START, 40008).iter().enumerate() {
        if i % 3 == 0 {
            bytes.extend(ng_block(0x0000_1234, b"vendor block the reader has never heard of"));
        }
        if i == 4 {
            bytes.extend(ng_block(5, &[0u8; 16])); // interface statistics: known, skipped quietly
        }
        bytes.extend(epb(f.ts, &f.bytes, f.bytes.len() as u32));
    }
    // A packet block whose captured length runs past the block.
    bytes.extend(epb(START + 30 * SEC, &[0u8; 20], 5000));
    let (out, alerts) = replay("unknown-blocks.pcapng", &bytes, &[]);
    assert!(shell_alerted(&alerts, 40008), "{alerts:?}");
    let err = stderr(&out);
    assert!(err.contains("pcapng blocks of unknown type 0x1234"), "{err}");
    assert!(err.contains("claim more captured bytes than they hold"), "{err}");
    assert!(!err.contains("type 0x5"), "statistics blocks are known: {err}");
}

/// Three hours of a keystroke a second, echoed: one session, read in well under a second
/// per hour of capture, judged as one session.
#[test]
fn one_byte_per_packet_for_three_hours() {
    let mut out = Vec::new();
    let mut s = Session::new((VICTIM, 40009), (ATTACKER, 4444));
    s.handshake(START, &mut out);
    out.push(s.victim_says(START + 20 * MS, BANNER));
    let keys = b"id; uname -a; cat /etc/shadow; ls -la /root\n";
    let mut t = START + SEC;
    for i in 0..3 * 3600 {
        let k = &keys[i % keys.len()..][..1];
        out.push(s.attacker_types(t, k));
        out.push(s.victim_says(t + 3 * MS, k));
        t += SEC + (i as i64 % 7) * 50 * MS;
    }
    s.close(t, &mut out);
    let started = std::time::Instant::now();
    let (run, alerts) = replay("one-byte.pcap", &pcap(65535, &out), &[]);
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
    let err = stderr(&run);
    assert!(err.contains("sessions  1 "), "one session, not split: {err}");
    assert!(shell_alerted(&alerts, 40009), "{alerts:?}\n{err}");
}

/// 6000 interleaved sessions that each look typed into, with room for 500: the table never
/// holds more than 500, every eviction is counted and said, and memory stays small.
#[test]
fn thousands_of_interactive_sessions_stay_inside_max_flows() {
    const SESSIONS: u16 = 6000;
    let mut sessions: Vec<Session> = (0..SESSIONS)
        .map(|i| {
            let victim = Ipv4Addr::new(10, 20, (i / 250) as u8, (i % 250) as u8 + 1);
            Session::new((victim, 30000 + i), (ATTACKER, 4444))
        })
        .collect();
    let mut frames = Vec::new();
    let mut t = START;
    for s in sessions.iter_mut() {
        s.handshake(t, &mut frames);
        t += 100_000; // 0.1 ms apart
    }
    for (round, (cmd, _, answer)) in TYPED.iter().enumerate() {
        t += 1500 * MS + round as i64 * 300 * MS;
        for s in sessions.iter_mut() {
            frames.push(s.attacker_types(t, cmd));
            frames.push(s.victim_says(t + 4 * MS, answer));
            t += 10_000;
        }
    }
    let bytes = pcap(65535, &frames);
    let p = tmp("many.pcap");
    std::fs::write(&p, &bytes).unwrap();
    // /usr/bin/time reports the peak resident set of the run.
    let out = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kb=%M"])
        .arg(bin())
        .arg("replay")
        .arg(&p)
        .args(["--format", "json", "--max-flows", "500"])
        .output()
        .expect("run /usr/bin/time (package `time`)");
    let _ = std::fs::remove_file(&p);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let peak: usize = err
        .lines()
        .find_map(|l| l.strip_prefix("sessions  "))
        .and_then(|l| l.split("peak ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak in the summary: {err}"));
    assert!(peak <= 500, "table held {peak} sessions: {err}");
    assert!(err.contains("because the session table was full (--max-flows 500)"), "{err}");
    let rss_kb: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|n| n.trim().parse().ok())
        .expect("maxrss");
    eprintln!("{SESSIONS} sessions, --max-flows 500: peak {peak} at once, max RSS {rss_kb} kB");
    assert!(rss_kb < 150_000, "max RSS {rss_kb} kB");
    let alerts = json_lines(&out.stdout);
    assert!(!alerts.is_empty(), "evicted sessions are still judged on what they showed");
}

//! `shellsight-gencap`: writes a deterministic, realistic-looking pcap for benchmarks and
//! tests. Ethernet, IPv4 and some IPv6; short HTTP and TLS flows, bulk transfers (some cut
//! by a snaplen, with their true lengths), interactive SSH sessions with keystroke echo,
//! line-mode FTP control sessions, DNS over UDP, and two cleartext reverse shells to high
//! ports. `--syn-flood N` adds N spoofed SYNs; `--merge FILE` mixes in a real capture by
//! timestamp. The same arguments and seed always give a byte-identical file.
//!
//! Usage: shellsight-gencap --packets N [--seed S] [--syn-flood N] [--merge FILE] -o FILE

use shellsight::capture::file::CaptureFile;
use shellsight::capture::{LinkType, PacketSource};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// 2026-11-02T10:00:00Z, the default start of a generated capture.
const DEFAULT_START_NS: i64 = 1_793_613_600 * 1_000_000_000;
/// Generated packets per second of capture time.
const RATE_PPS: f64 = 10_000.0;
/// The snaplen of flows written "cut".
const CUT_SNAPLEN: usize = 96;
const MSS: u32 = 1448;
const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;

struct Args {
    packets: u64,
    seed: u64,
    syn_flood: u64,
    merge: Option<PathBuf>,
    out: PathBuf,
}

fn usage() -> ExitCode {
    eprintln!("usage: shellsight-gencap --packets N [--seed S] [--syn-flood N] [--merge FILE] -o FILE");
    ExitCode::from(2)
}

fn parse_args() -> Option<Args> {
    let mut a = Args { packets: 100_000, seed: 1, syn_flood: 0, merge: None, out: PathBuf::new() };
    let mut it = std::env::args().skip(1);
    let mut out = None;
    while let Some(flag) = it.next() {
        let mut val = || it.next();
        match flag.as_str() {
            "--packets" => a.packets = val()?.replace('_', "").parse().ok()?,
            "--seed" => a.seed = val()?.parse().ok()?,
            "--syn-flood" => a.syn_flood = val()?.replace('_', "").parse().ok()?,
            "--merge" => a.merge = Some(PathBuf::from(val()?)),
            "-o" | "--output" => out = Some(PathBuf::from(val()?)),
            _ => return None,
        }
    }
    a.out = out?;
    Some(a)
}

/// SplitMix64: small, fast, and the same on every platform.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    /// Log-uniform between `lo` and `hi` (ns): how long people pause.
    fn human(&mut self, lo: i64, hi: i64) -> i64 {
        let (l, h) = ((lo as f64).ln(), (hi as f64).ln());
        (l + (h - l) * self.unit()).exp() as i64
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

#[derive(Clone, Copy)]
enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

#[derive(Clone)]
enum Payload {
    None,
    Text(Vec<u8>),
    /// Pseudo-random bytes from the shared block, starting at an offset.
    Random(u32, u32),
    /// A TLS record header of this content type, then random bytes.
    Tls(u8, u32, u32),
}

impl Payload {
    fn len(&self) -> u32 {
        match self {
            Payload::None => 0,
            Payload::Text(t) => t.len() as u32,
            Payload::Random(n, _) | Payload::Tls(_, n, _) => *n,
        }
    }
}

struct Step {
    t: i64,
    c2s: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: Payload,
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One TCP conversation, built up front as a list of timed segments.
struct Conv {
    client: (Addr, u16),
    server: (Addr, u16),
    snaplen: usize,
    steps: Vec<Step>,
    next: usize,
    t: i64,
    cseq: u32,
    sseq: u32,
    rtt: i64,
}

impl Conv {
    fn new(rng: &mut Rng, client: (Addr, u16), server: (Addr, u16), start: i64, rtt: i64) -> Self {
        Conv {
            client,
            server,
            snaplen: usize::MAX,
            steps: Vec::new(),
            next: 0,
            t: start,
            cseq: rng.next() as u32,
            sseq: rng.next() as u32,
            rtt,
        }
    }

    fn push(&mut self, c2s: bool, flags: u8, payload: Payload) {
        let (seq, ack) = if c2s { (self.cseq, self.sseq) } else { (self.sseq, self.cseq) };
        let mut adv = payload.len();
        if flags & (SYN | FIN) != 0 {
            adv += 1;
        }
        if c2s {
            self.cseq = self.cseq.wrapping_add(adv);
        } else {
            self.sseq = self.sseq.wrapping_add(adv);
        }
        let ack = if flags & ACK != 0 { ack } else { 0 };
        self.steps.push(Step { t: self.t, c2s, flags, seq, ack, payload });
    }

    fn wait(&mut self, ns: i64) {
        self.t += ns.max(1_000);
    }

    fn handshake(&mut self) {
        self.push(true, SYN, Payload::None);
        self.wait(self.rtt / 2);
        self.push(false, SYN | ACK, Payload::None);
        self.wait(self.rtt / 2);
        self.push(true, ACK, Payload::None);
    }

    /// Sends `total` bytes from one side as full segments, acked every second segment.
    fn bulk(&mut self, rng: &mut Rng, c2s: bool, total: u32, first: Option<Vec<u8>>) {
        let mut left = total;
        let mut n = 0u32;
        if let Some(h) = first {
            left = left.saturating_sub(h.len() as u32);
            self.push(c2s, ACK | PSH, Payload::Text(h));
            n += 1;
        }
        while left > 0 {
            let len = left.min(MSS);
            left -= len;
            self.wait(12_000 + rng.below(4_000) as i64);
            self.push(c2s, ACK, Payload::Random(len, rng.below(65_536) as u32));
            n += 1;
            if n % 2 == 0 {
                self.push(!c2s, ACK, Payload::None);
            }
        }
    }

    fn close(&mut self, client_first: bool) {
        self.wait(self.rtt / 4);
        self.push(client_first, FIN | ACK, Payload::None);
        self.wait(self.rtt / 2);
        self.push(!client_first, FIN | ACK, Payload::None);
        self.wait(self.rtt / 2);
        self.push(client_first, ACK, Payload::None);
    }
}

/// A UDP datagram: time, source, destination, payload.
type Datagram = (i64, (Addr, u16), (Addr, u16), Vec<u8>);

/// Where packets come from while writing: built conversations, the flood, a merged file.
enum Source {
    Conv(Conv),
    Udp(Vec<Datagram>, usize),
}

struct Gen {
    rng: Rng,
    block: Vec<u8>,
    lorem: Vec<u8>,
    start: i64,
    span: i64,
}

fn internal_v4(rng: &mut Rng) -> Addr {
    Addr::V4([10, 20, rng.below(8) as u8, 2 + rng.below(250) as u8])
}

fn external(rng: &mut Rng, v6: bool) -> Addr {
    if v6 {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x26, 0x06, 0x47, 0x00]);
        a[6] = rng.below(16) as u8;
        a[15] = 1 + rng.below(200) as u8;
        Addr::V6(a)
    } else {
        let nets: [[u8; 2]; 6] = [[151, 101], [142, 250], [104, 16], [13, 107], [52, 84], [93, 184]];
        let n = rng.pick(&nets);
        Addr::V4([n[0], n[1], rng.below(256) as u8, 1 + rng.below(254) as u8])
    }
}

fn internal_v6(rng: &mut Rng) -> Addr {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[7] = 0x20;
    a[14] = rng.below(8) as u8;
    a[15] = 2 + rng.below(250) as u8;
    Addr::V6(a)
}

fn ephemeral(rng: &mut Rng) -> u16 {
    32_768 + rng.below(28_000) as u16
}

impl Gen {
    fn endpoints(&mut self, port: u16) -> ((Addr, u16), (Addr, u16)) {
        let v6 = self.rng.chance(0.15);
        let c = if v6 { internal_v6(&mut self.rng) } else { internal_v4(&mut self.rng) };
        let s = external(&mut self.rng, v6);
        ((c, ephemeral(&mut self.rng)), (s, port))
    }

    fn text(&mut self, len: usize) -> Vec<u8> {
        let off = self.rng.below((self.lorem.len() - len.min(self.lorem.len())) as u64 + 1) as usize;
        self.lorem[off..(off + len).min(self.lorem.len())].to_vec()
    }

    fn http(&mut self, t: i64) -> Conv {
        let (c, s) = self.endpoints(80);
        let rtt = self.rng.range(2, 80) as i64 * MS;
        let mut cv = Conv::new(&mut self.rng, c, s, t, rtt);
        cv.handshake();
        let paths = ["/", "/index.html", "/static/app.js", "/api/v1/items", "/img/logo.png", "/favicon.ico"];
        let reqs = 1 + self.rng.below(3);
        for _ in 0..reqs {
            cv.wait(self.rng.range(1, 30) as i64 * 100_000);
            let path = *self.rng.pick(&paths);
            let req = format!(
                "GET {path}?v={} HTTP/1.1\r\nHost: www{}.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n",
                self.rng.below(100_000),
                self.rng.below(50)
            );
            cv.push(true, ACK | PSH, Payload::Text(req.into_bytes()));
            cv.wait(rtt / 2 + self.rng.below(3 * MS as u64) as i64);
            cv.push(false, ACK, Payload::None);
            cv.wait(self.rng.below(2 * MS as u64) as i64);
            let body = self.rng.range(200, 12_000) as u32;
            let mut head = format!(
                "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body}\r\n\r\n"
            )
            .into_bytes();
            let take = (MSS as usize - head.len()).min(body as usize);
            head.extend(self.text(take));
            let total = head.len() as u32 + body - take as u32;
            cv.bulk(&mut self.rng, false, total, Some(head));
            cv.wait(rtt / 2);
            cv.push(true, ACK, Payload::None);
        }
        cv.close(self.rng.chance(0.5));
        cv
    }

    fn tls(&mut self, t: i64) -> Conv {
        let (c, s) = self.endpoints(443);
        let rtt = self.rng.range(2, 80) as i64 * MS;
        let mut cv = Conv::new(&mut self.rng, c, s, t, rtt);
        cv.handshake();
        let r = |g: &mut Gen| g.rng.below(65_536) as u32;
        cv.wait(100_000);
        let ch = Payload::Tls(0x16, 517, r(self));
        cv.push(true, ACK | PSH, ch);
        cv.wait(rtt / 2);
        cv.push(false, ACK, Payload::None);
        cv.push(false, ACK, Payload::Tls(0x16, MSS, r(self)));
        cv.push(false, ACK | PSH, Payload::Random(self.rng.range(900, 2800) as u32 % MSS + 1, r(self)));
        cv.wait(rtt / 2);
        cv.push(true, ACK, Payload::None);
        cv.push(true, ACK | PSH, Payload::Tls(0x14, 80, r(self)));
        let exchanges = 1 + self.rng.below(4);
        for _ in 0..exchanges {
            cv.wait(self.rng.range(1, 200) as i64 * MS);
            cv.push(true, ACK | PSH, Payload::Tls(0x17, self.rng.range(90, 700) as u32, r(self)));
            cv.wait(rtt / 2 + self.rng.below(20 * MS as u64) as i64);
            let total = self.rng.range(300, 30_000) as u32;
            let first = self.tls_record(total.min(MSS));
            cv.bulk(&mut self.rng, false, total, Some(first));
            cv.wait(rtt / 2);
            cv.push(true, ACK, Payload::None);
        }
        cv.close(true);
        cv
    }

    fn tls_record(&mut self, len: u32) -> Vec<u8> {
        let mut v = vec![0x17, 0x03, 0x03];
        v.extend(((len.saturating_sub(5)) as u16).to_be_bytes());
        let off = self.rng.below(60_000) as usize;
        v.extend(&self.block[off..off + len.saturating_sub(5) as usize]);
        v
    }

    fn bulk(&mut self, t: i64) -> Conv {
        let port = *self.rng.pick(&[80u16, 443, 873, 445]);
        let (c, s) = self.endpoints(port);
        let rtt = self.rng.range(1, 40) as i64 * MS;
        let mut cv = Conv::new(&mut self.rng, c, s, t, rtt);
        if self.rng.chance(0.3) {
            cv.snaplen = CUT_SNAPLEN;
        }
        cv.handshake();
        cv.wait(MS);
        let upload = self.rng.chance(0.25);
        let req = if port == 80 {
            Payload::Text(b"GET /downloads/image.iso HTTP/1.1\r\nHost: mirror.example.org\r\n\r\n".to_vec())
        } else {
            Payload::Random(self.rng.range(60, 400) as u32, self.rng.below(65_536) as u32)
        };
        cv.push(true, ACK | PSH, req);
        cv.wait(rtt);
        let total = MSS * self.rng.range(100, 1200) as u32;
        cv.bulk(&mut self.rng, !upload, total, None);
        cv.close(true);
        cv
    }

    /// An SSH session: banners, key exchange, then a person typing with echo.
    fn ssh(&mut self, t: i64) -> Conv {
        let (c, s) = self.endpoints(22);
        let rtt = self.rng.range(1, 60) as i64 * MS;
        let mut cv = Conv::new(&mut self.rng, c, s, t, rtt);
        cv.handshake();
        cv.wait(rtt);
        cv.push(false, ACK | PSH, Payload::Text(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n".to_vec()));
        cv.wait(MS);
        cv.push(true, ACK | PSH, Payload::Text(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec()));
        for (c2s, len) in [(true, 1392), (false, 1080), (true, 48), (false, 564), (true, 16)] {
            cv.wait(rtt / 2 + MS);
            cv.push(c2s, ACK | PSH, Payload::Random(len, self.rng.below(65_536) as u32));
        }
        let commands = self.rng.range(3, 25);
        for _ in 0..commands {
            cv.wait(self.rng.human(800 * MS, 20 * SEC));
            let keys = self.rng.range(2, 30);
            for k in 0..keys {
                if k > 0 {
                    cv.wait(self.rng.human(60 * MS, 600 * MS));
                }
                cv.push(true, ACK | PSH, Payload::Random(36, self.rng.below(65_536) as u32));
                cv.wait(rtt + self.rng.below(2 * MS as u64) as i64);
                cv.push(false, ACK | PSH, Payload::Random(36, self.rng.below(65_536) as u32));
                cv.wait(rtt / 2 + 20 * MS);
                cv.push(true, ACK, Payload::None);
            }
            cv.wait(rtt + 3 * MS);
            let out = self.rng.range(52, 6_000) as u32;
            cv.bulk(&mut self.rng, false, out, None);
            cv.wait(rtt);
            cv.push(true, ACK, Payload::None);
        }
        cv.close(true);
        cv
    }

    /// An FTP control session: a person types commands, the server answers at once.
    fn ftp(&mut self, t: i64) -> Conv {
        let (c, s) = self.endpoints(21);
        let rtt = self.rng.range(5, 80) as i64 * MS;
        let mut cv = Conv::new(&mut self.rng, c, s, t, rtt);
        cv.handshake();
        cv.wait(rtt);
        cv.push(
            false,
            ACK | PSH,
            Payload::Text(b"220 ProFTPD Server (Debian) [::ffff:10.0.0.5]\r\n".to_vec()),
        );
        let dialog: [(&[u8], &[u8]); 7] = [
            (b"USER alice\r\n", b"331 Password required for alice\r\n"),
            (b"PASS hunter2\r\n", b"230 User alice logged in\r\n"),
            (b"SYST\r\n", b"215 UNIX Type: L8\r\n"),
            (b"PWD\r\n", b"257 \"/home/alice\" is the current directory\r\n"),
            (b"TYPE I\r\n", b"200 Type set to I\r\n"),
            (b"CWD pub\r\n", b"250 CWD command successful\r\n"),
            (b"QUIT\r\n", b"221 Goodbye.\r\n"),
        ];
        for (cmd, reply) in dialog {
            cv.wait(self.rng.human(2 * SEC, 15 * SEC));
            cv.push(true, ACK | PSH, Payload::Text(cmd.to_vec()));
            cv.wait(rtt / 2 + MS);
            cv.push(false, ACK | PSH, Payload::Text(reply.to_vec()));
            cv.wait(rtt / 2 + 40 * MS);
            cv.push(true, ACK, Payload::None);
        }
        cv.close(false);
        cv
    }

    /// A reverse shell: the victim connects out to a high port and a person on the far
    /// end types commands that the victim's shell answers.
    fn reverse_shell(&mut self, t: i64, which: usize) -> Conv {
        let victim = (Addr::V4([10, 20, 7, 41 + which as u8]), ephemeral(&mut self.rng));
        let (attacker, port, host, user) = if which == 0 {
            (Addr::V4([203, 0, 113, 66]), 4444, "web01", "www-data")
        } else {
            (Addr::V4([198, 51, 100, 23]), 9001, "db02", "root")
        };
        let rtt = 35 * MS;
        let mut cv = Conv::new(&mut self.rng, victim, (attacker, port), t, rtt);
        cv.handshake();
        let prompt = if which == 0 {
            format!("{user}@{host}:/var/www/html$ ")
        } else {
            format!("[{user}@{host} ~]# ")
        };
        cv.wait(2 * MS);
        if which == 0 {
            let banner = format!(
                "bash: cannot set terminal process group (1187): Inappropriate ioctl for device\nbash: no job control in this shell\n{prompt}"
            );
            cv.push(true, ACK | PSH, Payload::Text(banner.into_bytes()));
        } else {
            cv.push(true, ACK | PSH, Payload::Text(prompt.clone().into_bytes()));
        }
        cv.wait(rtt / 2);
        cv.push(false, ACK, Payload::None);
        let uid = if which == 0 {
            "uid=33(www-data) gid=33(www-data) groups=33(www-data)\n"
        } else {
            "uid=0(root) gid=0(root) groups=0(root)\n"
        };
        let session: Vec<(&str, String)> = vec![
            ("id\n", uid.to_string()),
            ("whoami\n", format!("{user}\n")),
            ("uname -a\n", format!("Linux {host} 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n")),
            ("pwd\n", "/var/www/html\n".to_string()),
            ("ls -la\n", "total 24\ndrwxr-xr-x 3 www-data www-data 4096 Oct  1 09:12 .\ndrwxr-xr-x 3 root root 4096 Sep 30 17:40 ..\n-rw-r--r-- 1 www-data www-data 10701 Sep 30 17:40 index.html\n-rw-r--r-- 1 www-data www-data   412 Oct  1 09:12 upload.php\n".to_string()),
            ("cat /etc/passwd\n", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n".to_string()),
            ("ps aux | grep -v ]$\n", "USER PID %CPU %MEM COMMAND\nroot 1 0.0 0.1 /sbin/init\nroot 612 0.0 0.2 /usr/sbin/sshd -D\nwww-data 1187 0.0 0.0 bash -i\n".to_string()),
            ("netstat -antp\n", "Active Internet connections (servers and established)\ntcp 0 0 0.0.0.0:22 0.0.0.0:* LISTEN -\ntcp 0 0 0.0.0.0:80 0.0.0.0:* LISTEN -\n".to_string()),
            ("exit\n", String::new()),
        ];
        for (cmd, out) in session {
            cv.wait(self.rng.human(1500 * MS, 9 * SEC));
            cv.push(false, ACK | PSH, Payload::Text(cmd.as_bytes().to_vec()));
            cv.wait(rtt / 2 + self.rng.range(2, 30) as i64 * MS);
            if out.is_empty() {
                break;
            }
            let mut reply = out.into_bytes();
            reply.extend(prompt.as_bytes());
            cv.push(true, ACK | PSH, Payload::Text(reply));
            cv.wait(rtt / 2 + 40 * MS);
            cv.push(false, ACK, Payload::None);
        }
        cv.close(true);
        cv
    }

    fn dns(&mut self, t: i64) -> Source {
        let c = (internal_v4(&mut self.rng), ephemeral(&mut self.rng));
        let s = (Addr::V4([10, 20, 0, 53]), 53u16);
        let id = self.rng.next() as u16;
        let mut q = id.to_be_bytes().to_vec();
        q.extend([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7]);
        q.extend(b"example\x03com\x00\x00\x01\x00\x01");
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 1;
        a.extend([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 215, 14]);
        let rtt = self.rng.range(1, 20) as i64 * MS;
        Source::Udp(vec![(t, c, s, q), (t + rtt, s, c, a)], 0)
    }
}

struct Frame {
    buf: Vec<u8>,
}

impl Frame {
    /// Builds the frame of one step into `buf`; returns the length on the wire.
    fn tcp(&mut self, g: &Gen, cv: &Conv, st: &Step) -> u32 {
        let (src, dst) = if st.c2s { (cv.client, cv.server) } else { (cv.server, cv.client) };
        let plen = st.payload.len() as usize;
        self.buf.clear();
        let l4 = 20 + plen;
        self.ip_header(src.0, dst.0, 6, l4);
        self.buf.extend(src.1.to_be_bytes());
        self.buf.extend(dst.1.to_be_bytes());
        self.buf.extend(st.seq.to_be_bytes());
        self.buf.extend(st.ack.to_be_bytes());
        self.buf.extend([0x50, st.flags, 0xfa, 0xf0, 0, 0, 0, 0]);
        let wire = self.buf.len() + plen;
        let room = cv.snaplen.saturating_sub(self.buf.len()).min(plen);
        match &st.payload {
            Payload::None => {}
            Payload::Text(t) => self.buf.extend(&t[..room]),
            Payload::Random(_, off) => self.random(g, *off, room),
            Payload::Tls(ct, n, off) => {
                let mut h = [*ct, 0x03, 0x03, 0, 0];
                h[3..5].copy_from_slice(&(n.saturating_sub(5) as u16).to_be_bytes());
                let k = room.min(5);
                self.buf.extend(&h[..k]);
                self.random(g, *off, room - k);
            }
        }
        wire as u32
    }

    fn random(&mut self, g: &Gen, off: u32, n: usize) {
        let off = off as usize % (g.block.len() - 2048);
        let mut left = n;
        let mut at = off;
        while left > 0 {
            let k = left.min(g.block.len() - at);
            self.buf.extend(&g.block[at..at + k]);
            left -= k;
            at = 0;
        }
    }

    fn udp(&mut self, src: (Addr, u16), dst: (Addr, u16), data: &[u8]) -> u32 {
        self.buf.clear();
        self.ip_header(src.0, dst.0, 17, 8 + data.len());
        self.buf.extend(src.1.to_be_bytes());
        self.buf.extend(dst.1.to_be_bytes());
        self.buf.extend(((8 + data.len()) as u16).to_be_bytes());
        self.buf.extend([0, 0]);
        self.buf.extend(data);
        self.buf.len() as u32
    }

    fn ip_header(&mut self, src: Addr, dst: Addr, proto: u8, l4: usize) {
        self.buf.extend([0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x02, 0x42, 0xac, 0x11, 0x00, 0x01]);
        match (src, dst) {
            (Addr::V4(s), Addr::V4(d)) => {
                self.buf.extend([0x08, 0x00]);
                let at = self.buf.len();
                let total = (20 + l4) as u16;
                self.buf.extend([0x45, 0]);
                self.buf.extend(total.to_be_bytes());
                self.buf.extend([0, 0, 0x40, 0, 64, proto, 0, 0]);
                self.buf.extend(s);
                self.buf.extend(d);
                let mut sum: u32 = 0;
                for c in self.buf[at..at + 20].chunks(2) {
                    sum += u16::from_be_bytes([c[0], c[1]]) as u32;
                }
                while sum > 0xffff {
                    sum = (sum & 0xffff) + (sum >> 16);
                }
                self.buf[at + 10..at + 12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
            }
            (Addr::V6(s), Addr::V6(d)) => {
                self.buf.extend([0x86, 0xdd, 0x60, 0, 0, 0]);
                self.buf.extend((l4 as u16).to_be_bytes());
                self.buf.extend([proto, 64]);
                self.buf.extend(s);
                self.buf.extend(d);
            }
            _ => unreachable!("mixed address families"),
        }
    }
}

struct Writer<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> Writer<W> {
    fn header(&mut self) -> std::io::Result<()> {
        self.out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        self.out.write_all(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0])?;
        self.out.write_all(&65_535u32.to_le_bytes())?;
        self.out.write_all(&1u32.to_le_bytes())
    }

    fn record(&mut self, ts_ns: i64, data: &[u8], wire: u32) -> std::io::Result<()> {
        let secs = ts_ns.div_euclid(SEC) as u32;
        let usecs = (ts_ns.rem_euclid(SEC) / 1_000) as u32;
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&usecs.to_le_bytes())?;
        self.out.write_all(&(data.len() as u32).to_le_bytes())?;
        self.out.write_all(&wire.to_le_bytes())?;
        self.out.write_all(data)?;
        self.written += 1;
        Ok(())
    }
}

fn load_merge(path: &std::path::Path) -> Result<Vec<(i64, Vec<u8>, u32)>, String> {
    let mut f = CaptureFile::open(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(p) = f.next_packet().map_err(|e| e.to_string())? {
        if p.link != LinkType::ETHERNET {
            return Err(format!("{}: only Ethernet captures can be merged", path.display()));
        }
        out.push((p.ts.as_nanos(), p.data.to_vec(), p.wire_len));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let Some(args) = parse_args() else { return usage() };
    match run(&args) {
        Ok(n) => {
            eprintln!("wrote {n} packets to {}", args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("shellsight-gencap: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<u64, String> {
    let merged = match &args.merge {
        Some(p) => load_merge(p)?,
        None => Vec::new(),
    };
    let mut rng = Rng(args.seed ^ 0x5eed_0f5e_1151_9700);
    let block: Vec<u8> = (0..65_536 / 8).flat_map(|_| rng.next().to_le_bytes()).collect();
    let lorem = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. <div class=\"row\"><a href=\"/docs/getting-started\">Getting started</a></div>\n"
        .repeat(64);
    let (start, span) = match (merged.first(), merged.last()) {
        (Some(a), Some(b)) => {
            let s = a.0 - SEC;
            (s, ((args.packets as f64 / RATE_PPS) * SEC as f64) as i64).max((s, b.0 - s + SEC))
        }
        _ => (DEFAULT_START_NS, ((args.packets as f64 / RATE_PPS).max(1.0) * SEC as f64) as i64),
    };
    let mut g = Gen { rng, block, lorem, start, span };
    let file = std::fs::File::create(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut w = Writer { out: BufWriter::with_capacity(1 << 20, file), written: 0 };
    w.header().map_err(|e| e.to_string())?;

    // Live sources, by slot; the heap orders their next packets by (time, tiebreak).
    let mut slots: Vec<Option<Source>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::new();
    let mut tie: u64 = 0;
    const FLOOD: usize = usize::MAX;
    const MERGE: usize = usize::MAX - 1;
    if args.syn_flood > 0 {
        heap.push(Reverse((g.start, tie, FLOOD)));
        tie += 1;
    }
    if !merged.is_empty() {
        heap.push(Reverse((merged[0].0, tie, MERGE)));
        tie += 1;
    }
    let (mut flood_i, mut merge_i) = (0u64, 0usize);
    let mut frame = Frame { buf: Vec::with_capacity(65_536) };
    let mut next_spawn = g.start;
    let mut emitted: u64 = 0;
    let shells_at = [g.start + g.span / 10, g.start + g.span * 2 / 5];
    let mut shells_done = 0usize;
    let mut flood_rng = Rng(args.seed.wrapping_mul(31) ^ 0xf100d);

    loop {
        // Start conversations until the next one would begin after the next packet due.
        while emitted < args.packets && heap.peek().is_none_or(|Reverse((t, _, _))| next_spawn <= *t) {
            let t = next_spawn;
            let src = if shells_done < 2 && t >= shells_at[shells_done] {
                shells_done += 1;
                Source::Conv(g.reverse_shell(t, shells_done - 1))
            } else {
                let k = g.rng.below(1000);
                match k {
                    0..=519 => Source::Conv(g.http(t)),
                    520..=799 => Source::Conv(g.tls(t)),
                    800..=829 => Source::Conv(g.bulk(t)),
                    830..=869 => Source::Conv(g.ssh(t)),
                    870..=939 => Source::Conv(g.ftp(t)),
                    _ => g.dns(t),
                }
            };
            let n = match &src {
                Source::Conv(c) => c.steps.len(),
                Source::Udp(v, _) => v.len(),
            } as u64;
            let first = match &src {
                Source::Conv(c) => c.steps[0].t,
                Source::Udp(v, _) => v[0].0,
            };
            let slot = match free.pop() {
                Some(i) => {
                    slots[i] = Some(src);
                    i
                }
                None => {
                    slots.push(Some(src));
                    slots.len() - 1
                }
            };
            heap.push(Reverse((first, tie, slot)));
            tie += 1;
            // Spread starts so the capture carries about RATE_PPS.
            next_spawn += (g.rng.exp(n as f64 / RATE_PPS) * SEC as f64) as i64 + 1;
        }
        let Some(Reverse((t, _, slot))) = heap.pop() else { break };
        let io = |e: std::io::Error| e.to_string();
        match slot {
            FLOOD => {
                let src = (
                    Addr::V4([
                        1 + flood_rng.below(222) as u8,
                        flood_rng.below(256) as u8,
                        flood_rng.below(256) as u8,
                        1 + flood_rng.below(254) as u8,
                    ]),
                    1024 + flood_rng.below(64_000) as u16,
                );
                let cv = Conv {
                    client: src,
                    server: (Addr::V4([10, 20, 0, 80]), 80),
                    snaplen: usize::MAX,
                    steps: Vec::new(),
                    next: 0,
                    t,
                    cseq: 0,
                    sseq: 0,
                    rtt: 0,
                };
                let st = Step {
                    t,
                    c2s: true,
                    flags: SYN,
                    seq: flood_rng.next() as u32,
                    ack: 0,
                    payload: Payload::None,
                };
                let wire = frame.tcp(&g, &cv, &st);
                w.record(t, &frame.buf, wire).map_err(io)?;
                flood_i += 1;
                if flood_i < args.syn_flood {
                    let next = g.start + (g.span as i128 * flood_i as i128 / args.syn_flood as i128) as i64;
                    heap.push(Reverse((next, tie, FLOOD)));
                    tie += 1;
                }
            }
            MERGE => {
                let (ts, data, wire) = &merged[merge_i];
                w.record(*ts, data, *wire).map_err(io)?;
                merge_i += 1;
                if let Some(m) = merged.get(merge_i) {
                    heap.push(Reverse((m.0.max(t), tie, MERGE)));
                    tie += 1;
                }
            }
            _ => {
                if emitted >= args.packets {
                    continue; // the generated traffic is complete; flood and merge go on
                }
                let Some(src) = slots[slot].as_mut() else { continue };
                let next_t = match src {
                    Source::Conv(cv) => {
                        let st = &cv.steps[cv.next];
                        let wire = frame.tcp(&g, cv, st);
                        w.record(st.t, &frame.buf, wire).map_err(io)?;
                        cv.next += 1;
                        cv.steps.get(cv.next).map(|s| s.t)
                    }
                    Source::Udp(v, i) => {
                        let (ts, s, d, data) = &v[*i];
                        let wire = frame.udp(*s, *d, data);
                        w.record(*ts, &frame.buf, wire).map_err(io)?;
                        *i += 1;
                        v.get(*i).map(|p| p.0)
                    }
                };
                emitted += 1;
                match next_t {
                    Some(nt) => {
                        heap.push(Reverse((nt.max(t), tie, slot)));
                        tie += 1;
                    }
                    None => {
                        slots[slot] = None;
                        free.push(slot);
                    }
                }
            }
        }
    }
    w.out.flush().map_err(|e| e.to_string())?;
    Ok(w.written)
}

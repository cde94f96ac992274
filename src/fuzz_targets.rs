//! Entry points for the fuzzers in `fuzz/` and for their regression tests
//! (`tests/fuzz_regressions.rs`): each takes arbitrary bytes, runs one parser that reads
//! untrusted input over them, and must return without panicking whatever the bytes are.
//! One function per fuzz target, so a crash input replays here exactly as it was found.

use crate::capture::{file::CaptureFile, LinkType, PacketSource, RawPacket};
use crate::time::Timestamp;

/// A fuzz target: arbitrary bytes in, and it must return.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as `fuzz/fuzz_targets/NAME.rs` and `fuzz/regressions/NAME/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("capture_file", capture_file),
    ("decode", decode),
    ("tls", tls),
    ("dns", dns),
    ("tells", tells),
    ("procfs", procfs),
    ("container", container),
    ("netlink", netlink),
    ("site_config", site_config),
    ("agent_wire", agent_wire),
    ("app_layer", app_layer),
];

/// The capture reader (pcap and pcapng) over a file holding `data`, then every packet
/// through the decoder.
pub fn capture_file(data: &[u8]) {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("shellsight-fuzz-capture-{}", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(mut file) = CaptureFile::open(&path) {
        let mut n = 0;
        while let Ok(Some(pkt)) = file.next_packet() {
            let _ = crate::decode::decode(&pkt);
            n += 1;
            if n > 10_000 {
                break;
            }
        }
        let _ = file.warnings();
    }
    let _ = std::fs::remove_file(&path);
}

/// Link types the decoder knows, plus one it does not.
const LINKS: [LinkType; 11] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::RAW_BSD,
    LinkType::RAW_OPENBSD,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType(147),
];

/// One frame through the decoder for each link type (the first byte picks it), and a
/// decoded UDP/TCP segment through the DNS answer reader.
pub fn decode(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else { return };
    let link = LINKS[pick as usize % LINKS.len()];
    let wire_len = frame.len() as u32 + (pick as u32 >> 4) * 100;
    let pkt = RawPacket { ts: Timestamp::ZERO, link, wire_len, data: frame };
    if let Ok(seg) = crate::decode::decode(&pkt) {
        let _ = crate::names::dns::answer(&seg);
    }
}

/// The TLS ClientHello and ServerHello/Certificate readers.
pub fn tls(data: &[u8]) {
    let _ = crate::evidence::tls::parse_client(data);
    let _ = crate::evidence::tls::parse_server(data, false);
    let _ = crate::evidence::tls::parse_server(data, true);
}

/// The DNS message reader.
pub fn dns(data: &[u8]) {
    let _ = crate::names::dns::parse(data);
}

/// The cleartext-tell matcher, line classifier, prompt test, stager header and the
/// first-bytes protocol identifier.
pub fn tells(data: &[u8]) {
    use crate::evidence::tells;
    let mut set = tells::TellSet::default();
    tells::scan(data, 0, &mut set);
    if let Some(&from) = data.first() {
        tells::scan(data, from as usize, &mut set);
    }
    for line in data.split(|&b| b == b'\n') {
        let _ = tells::classify_line(line);
    }
    let _ = tells::ends_with_prompt(&data[data.len().saturating_sub(8)..]);
    let _ = tells::stage_header(data);
    // Every protocol probe, both roles, both transports, with the true length and a cut.
    for transport in [crate::decode::Transport::Tcp, crate::decode::Transport::Udp] {
        for role in [crate::protocols::Role::Client, crate::protocols::Role::Server] {
            for wire in [data.len() as u32, data.len() as u32 + 1460] {
                let _ = crate::protocols::probe(
                    crate::protocols::Place::new(transport, 5353, 443),
                    role,
                    data,
                    wire,
                );
            }
        }
    }
}

/// The /proc text parsers: stat, status, cmdline, cgroup, fd links, net/tcp tables,
/// passwd, sockstat.
pub fn procfs(data: &[u8]) {
    use crate::agent::procfs as p;
    let text = String::from_utf8_lossy(data);
    let _ = p::parse_stat(&text);
    let _ = p::parse_status(&text);
    let _ = p::parse_cmdline(data);
    let _ = p::parse_cgroup(&text);
    let _ = p::parse_socket_link(&text);
    let _ = p::parse_pts_link(&text);
    let _ = p::is_ptmx_link(&text);
    let _ = p::parse_fdinfo_tty_index(&text);
    let _ = p::parse_ns_link(&text);
    let _ = p::parse_btime(&text);
    let _ = p::parse_passwd(&text);
    let _ = p::parse_exe_link(&text);
    let _ = p::sockstat_signature(&text);
    if let Some(&b) = data.first() {
        let _ = p::tty_name(u32::from_le_bytes([b, data.get(1).copied().unwrap_or(0), 0, 0]));
        let _ = p::tcp_state_name(b);
    }
    let mut sockets = Vec::new();
    crate::agent::sockets::parse_table(&text, crate::inventory::Transport::Tcp, &mut sockets);
}

/// The container metadata readers: cgroup paths to container ids, OCI and Docker
/// configs, Kubernetes service-account tokens.
pub fn container(data: &[u8]) {
    use crate::agent::container as c;
    let text = String::from_utf8_lossy(data);
    let _ = c::container_from_cgroup(&crate::agent::procfs::parse_cgroup(&text));
    let _ = c::parse_oci_config(&text);
    let _ = c::parse_docker_config(&text);
    let _ = c::service_account_from_jwt(&text);
}

/// The kernel's binary messages the agent reads: proc connector events and taskstats
/// exit reports.
pub fn netlink(data: &[u8]) {
    let _ = crate::agent::cnproc::parse_messages(data);
    let family = data.first().map_or(0, |&b| b as u16 + 16);
    let _ = crate::agent::taskstats::parse_exits(data, family);
}

/// The site policy parser (TOML with file:line:field errors).
pub fn site_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::SitePolicy::parse(text, "fuzz.toml");
    }
}

/// The agent ↔ sensor frame reader: every frame of the stream until the end or an error.
pub fn agent_wire(data: &[u8]) {
    thread_local! {
        static RUNTIME: Option<tokio::runtime::Runtime> =
            tokio::runtime::Builder::new_current_thread().build().ok();
    }
    RUNTIME.with(|rt| {
        let Some(rt) = rt else { return };
        rt.block_on(async {
            let mut reader = data;
            let mut buf = bytes::BytesMut::new();
            while let Ok(Some(_)) = crate::transport::read_message(&mut reader, &mut buf).await {}
        });
    });
}

/// The application-layer readers of untrusted payloads: the command-injection decoder, and
/// the HTTP and SMB parsers fed both directions in two pieces each (the first byte picks
/// where the input splits), then closed.
pub fn app_layer(data: &[u8]) {
    use crate::evidence::inside::{Budget, Inside, Kind};
    use crate::evidence::Dir;
    let _ = crate::evidence::injection::find(data);
    let split = data.first().map_or(0, |&b| b as usize * 4).min(data.len());
    let (head, tail) = data.split_at(split);
    for kind in [Kind::Http, Kind::Smb] {
        let mut budget = Budget::new(1 << 20);
        let mut inside = Inside::new(kind, [false, false]);
        let mut seq = [1_000u32, 900_000u32];
        for (i, piece) in [head, tail, tail, head].into_iter().enumerate() {
            let dir = if i % 2 == 0 { Dir::Orig } else { Dir::Resp };
            let d = dir.idx();
            inside.feed(dir, seq[d], piece, piece.len() as u32, i >= 2, Timestamp::ZERO, &mut budget);
            seq[d] = seq[d].wrapping_add(piece.len() as u32);
        }
        let _ = inside.facts.as_ref().map(|f| f.notable());
        inside.stop(&mut budget);
    }
}

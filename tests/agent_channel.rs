//! The agent channel under attack and under load: the sensor's listener (the library's
//! `AgentServer`, and the real `sensor` binary for the fleet test) against peers that
//! are silent, slow, send garbage or oversized frames, a wrong token, no or a wrong client
//! certificate; the agent against a sensor that stops reading or cannot prove who it is.
//! Certificates are made per run with the `openssl` command-line tool.

mod agent_support;
mod bus_support;
mod common;
mod pki_support;

use bus_support::{free_port, runtime, usage};
use pki_support::{Pki, TOKEN};
use shellsight::inventory::InventoryRecord;
use shellsight::join::InventoryCache;
use shellsight::transport::client::{open, Endpoint, Identity, SensorLink};
use shellsight::transport::server::{AgentServer, ServerAuth, HELLO_TIMEOUT};
use shellsight::transport::tls::{ClientTls, ServerTls};
use shellsight::transport::{read_message, write_message, Message, Token, MAX_FRAME};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn listen(tls: Option<ServerTls>) -> (AgentServer, Arc<Mutex<InventoryCache>>) {
    listen_with(tls, false)
}

fn listen_with(tls: Option<ServerTls>, any_host: bool) -> (AgentServer, Arc<Mutex<InventoryCache>>) {
    let cache = Arc::new(Mutex::new(InventoryCache::default()));
    let auth = ServerAuth { token: Token::new(TOKEN), tls, any_host };
    let server = AgentServer::start("127.0.0.1:0", auth, cache.clone()).unwrap();
    (server, cache)
}

fn identity(host: &str, token: &str) -> Identity {
    Identity { token: Token::new(token), host: host.into(), boot_id: format!("boot-{host}") }
}

fn endpoint(server: &AgentServer, tls: Option<ClientTls>) -> Endpoint {
    Endpoint { addr: server.local_addr.to_string(), tls }
}

/// A real record to send: this test's own loopback connection, as the agent sees it.
fn template() -> InventoryRecord {
    agent_support::own_connection_record()
}

/// `n` records of one host, on distinct local ports.
fn records(template: &InventoryRecord, host: &str, n: usize) -> Vec<Arc<InventoryRecord>> {
    (0..n)
        .map(|k| {
            let mut r = template.clone();
            r.host.name = host.to_string();
            r.host.boot_id = format!("boot-{host}");
            r.source.port = 30_000 + k as u16;
            r.socket.inode = 5_000_000 + k as u64;
            Arc::new(r)
        })
        .collect()
}

/// Opens a channel and sends one snapshot; the error is the agent's view of a refusal.
fn agent_sends(to: &Endpoint, id: &Identity, recs: Vec<Arc<InventoryRecord>>) -> Result<(), String> {
    runtime().block_on(async {
        let mut ch = open(to, id).await.map_err(|e| e.to_string())?;
        write_message(&mut ch, &Message::Snapshot { records: recs, last: true })
            .await
            .map_err(|e| e.to_string())
    })
}

fn wait_until(what: &str, secs: u64, cond: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn n(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

fn wait_cache(cache: &Mutex<InventoryCache>, want: usize) {
    wait_until(&format!("{want} sockets in the cache"), 10, || cache.lock().unwrap().len() >= want);
}

#[test]
fn tls_agents_are_served_and_a_plain_tcp_peer_is_refused() {
    let pki = Pki::new("tls");
    let (server, cache) = listen(Some(pki.server(false)));
    let t = template();
    let to = endpoint(&server, Some(pki.client("ca", None)));
    agent_sends(&to, &identity("web-1", TOKEN), records(&t, "web-1", 3)).unwrap();
    wait_cache(&cache, 3);

    // A plain-TCP agent talking to the TLS listener: its hello is not a ClientHello.
    let plain = agent_sends(&endpoint(&server, None), &identity("old-agent", TOKEN), records(&t, "old", 2));
    assert!(plain.is_err(), "a plain-TCP agent was served by the TLS listener");
    wait_until("the plain peer is counted", 10, || n(&server.counters.rejected_tls) == 1);
    assert_eq!(cache.lock().unwrap().len(), 3, "the refused peer's records reached the cache");
    assert_eq!(n(&server.counters.authenticated), 1);
    server.shutdown();
}

#[test]
fn mutual_tls_refuses_a_missing_or_foreign_client_certificate_before_the_token() {
    let pki = Pki::new("mtls");
    let (server, cache) = listen(Some(pki.server(true)));
    let t = template();
    let good = endpoint(&server, Some(pki.client("ca", Some("agent"))));
    agent_sends(&good, &identity("db-1", TOKEN), records(&t, "db-1", 4)).unwrap();
    wait_cache(&cache, 4);

    // The right token does not help without a certificate the sensor's CA signed.
    let foreign = endpoint(&server, Some(pki.client("ca", Some("rogue-agent"))));
    let none = endpoint(&server, Some(pki.client("ca", None)));
    for (what, to) in [("foreign certificate", &foreign), ("no certificate", &none)] {
        let got = agent_sends(to, &identity("intruder", TOKEN), records(&t, "intruder", 2));
        // A TLS 1.3 client hears of the refusal when it waits for the welcome.
        assert!(got.is_err(), "an agent with {what} was welcomed");
    }
    wait_until("both refusals are counted", 10, || n(&server.counters.rejected_tls) == 2);
    assert_eq!(n(&server.counters.authenticated), 1, "{}", server.counters.json());
    assert_eq!(cache.lock().unwrap().len(), 4, "an unauthenticated peer's records reached the cache");
    server.shutdown();
}

/// With mutual TLS the host an agent reports must be on its certificate, or an enrolled
/// agent could file its sockets under another host and steer attribution there.
#[test]
fn mutual_tls_binds_the_reported_host_to_the_client_certificate() {
    let pki = Pki::new("host-binding");
    let t = template();
    let (server, cache) = listen(Some(pki.server(true)));
    let to = endpoint(&server, Some(pki.client("ca", Some("agent"))));
    let received = |cache: &Mutex<InventoryCache>| cache.lock().unwrap().records;
    // On the certificate: db-1 (in any case), and one label under *.fleet.test.
    for host in ["DB-1", "web-7.fleet.test"] {
        agent_sends(&to, &identity(host, TOKEN), records(&t, host, 1)).unwrap();
    }
    wait_until("both named hosts' records", 10, || received(&cache) == 2);
    for host in ["db-2", "a.b.fleet.test", "fleet.test"] {
        let err = agent_sends(&to, &identity(host, TOKEN), records(&t, host, 1))
            .expect_err(&format!("{host} is not on the certificate, yet it was welcomed"));
        assert!(err.contains("not named on the client certificate"), "{host}: {err}");
    }
    assert_eq!(n(&server.counters.rejected_host), 3, "{}", server.counters.json());
    assert_eq!(received(&cache), 2, "a refused host's records reached the cache");
    server.shutdown();

    // A fleet that shares one certificate turns the check off.
    let (shared, cache) = listen_with(Some(pki.server(true)), true);
    let to = endpoint(&shared, Some(pki.client("ca", Some("agent"))));
    agent_sends(&to, &identity("db-2", TOKEN), records(&t, "db-2", 1)).unwrap();
    wait_until("the unnamed host's record", 10, || received(&cache) == 1);
    assert_eq!(n(&shared.counters.rejected_host), 0);
    shared.shutdown();
}

#[test]
fn an_agent_refuses_a_sensor_it_cannot_verify() {
    let pki = Pki::new("verify");
    let (server, cache) = listen(Some(pki.server(false)));
    let t = template();
    // The agent trusts another CA: the sensor may be an impostor, so no token is sent.
    let wrong_ca = endpoint(&server, Some(pki.client("rogue-ca", None)));
    let got = agent_sends(&wrong_ca, &identity("web-2", TOKEN), records(&t, "web-2", 1));
    let err = got.expect_err("the agent trusted a sensor its CA did not sign");
    assert!(err.contains("TLS handshake") && err.to_lowercase().contains("certificate"), "{err}");
    // The certificate names 127.0.0.1 and localhost, not this name.
    let other_name = ClientTls::load(&pki.path("ca.pem"), None, Some("sensor.example")).unwrap();
    let err =
        agent_sends(&endpoint(&server, Some(other_name)), &identity("web-2", TOKEN), records(&t, "web-2", 1))
            .expect_err("the agent accepted a certificate for another name");
    assert!(err.contains("TLS handshake"), "{err}");
    // And by name instead of address: `localhost` is on the certificate.
    let by_name = Endpoint {
        addr: format!("localhost:{}", server.local_addr.port()),
        tls: Some(pki.client("ca", None)),
    };
    agent_sends(&by_name, &identity("web-2", TOKEN), records(&t, "web-2", 1)).unwrap();
    wait_cache(&cache, 1);
    server.shutdown();
}

#[test]
fn a_wrong_token_is_refused_inside_tls_and_never_logged() {
    let pki = Pki::new("token");
    let (server, cache) = listen(Some(pki.server(true)));
    let t = template();
    let to = endpoint(&server, Some(pki.client("ca", Some("agent"))));
    let secret = "not-the-token-but-a-long-one-1234";
    let err = agent_sends(&to, &identity("web-3", secret), records(&t, "web-3", 2))
        .expect_err("wrong token served");
    assert!(err.contains("rejected: bad token") && !err.contains(secret), "{err}");
    assert_eq!(n(&server.counters.rejected_token), 1);
    assert_eq!(cache.lock().unwrap().len(), 0);
    server.shutdown();
}

#[test]
fn silent_and_slow_peers_are_dropped_at_the_hello_deadline_while_others_are_served() {
    let pki = Pki::new("silent");
    let (server, cache) = listen(Some(pki.server(false)));
    let (plain, plain_cache) = listen(None);
    let t = template();
    let started = Instant::now();
    // Connects and says nothing, to each listener.
    let _silent_tls = TcpStream::connect(server.local_addr).unwrap();
    let _silent_plain = TcpStream::connect(plain.local_addr).unwrap();
    // Sends a valid hello's first bytes, one every 300 ms (slowloris).
    let addr = plain.local_addr;
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let hello = br#"{"type":"hello","version":2,"token":"x"#;
        let mut frame = 1000u32.to_be_bytes().to_vec();
        frame.extend_from_slice(hello);
        let mut sent = 0;
        for b in frame.clone() {
            if s.write_all(&[b]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(300));
        }
        (sent, frame.len())
    });
    // Meanwhile real agents are served at once, on both listeners.
    agent_sends(&endpoint(&server, Some(pki.client("ca", None))), &identity("a", TOKEN), records(&t, "a", 2))
        .unwrap();
    agent_sends(&endpoint(&plain, None), &identity("b", TOKEN), records(&t, "b", 2)).unwrap();
    wait_cache(&cache, 2);
    wait_cache(&plain_cache, 2);
    assert!(started.elapsed() < HELLO_TIMEOUT, "agents waited behind silent peers");

    wait_until("the silent peers time out", 15, || {
        n(&server.counters.hello_timeouts) == 1 && n(&plain.counters.hello_timeouts) == 2
    });
    assert!(started.elapsed() >= HELLO_TIMEOUT - Duration::from_millis(500));
    let (sent, len) = slow.join().unwrap();
    assert!(sent < len, "the slow peer was never cut off: it sent all {len} bytes");
    wait_until("their slots are freed", 5, || {
        server.counters.active.load(Ordering::Relaxed) == 0
            && plain.counters.active.load(Ordering::Relaxed) == 0
    });
    server.shutdown();
    plain.shutdown();
}

/// Authenticates over plain TCP with blocking I/O and returns the stream.
fn raw_agent(addr: std::net::SocketAddr, host: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    let hello = serde_json::json!({"type": "hello", "version": shellsight::transport::PROTOCOL_VERSION,
        "token": TOKEN, "host": host, "boot_id": format!("boot-{host}")});
    send_frame(&mut s, &serde_json::to_vec(&hello).unwrap());
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    assert!(String::from_utf8_lossy(&body).contains("welcome"));
    s
}

fn send_frame(s: &mut TcpStream, body: &[u8]) {
    s.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
    s.write_all(body).unwrap();
}

/// True once the sensor has closed `s` (read returns end of stream or an error).
fn closed_by_sensor(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue, // a `rejected` frame first
        }
    }
}

#[test]
fn garbage_and_oversized_frames_drop_that_peer_and_nothing_else() {
    let (server, cache) = listen(None);
    let t = template();
    let mut good = raw_agent(server.local_addr, "keeper");
    let snapshot = Message::Snapshot { records: records(&t, "keeper", 3), last: true };
    send_frame(&mut good, &serde_json::to_vec(&snapshot).unwrap());
    wait_cache(&cache, 3);

    // Before the hello: a length of almost 4 GiB is refused without reading (or
    // allocating) it, and so is a hello over 64 KiB.
    let mut huge = TcpStream::connect(server.local_addr).unwrap();
    huge.write_all(&0xffff_fff0u32.to_be_bytes()).unwrap();
    assert!(closed_by_sensor(&mut huge));
    let mut big_hello = TcpStream::connect(server.local_addr).unwrap();
    big_hello.write_all(&(100_000u32).to_be_bytes()).unwrap();
    assert!(closed_by_sensor(&mut big_hello));
    // Bytes that are no message at all, before and after authenticating.
    let mut garbage = TcpStream::connect(server.local_addr).unwrap();
    send_frame(&mut garbage, b"\x00\xffnot json at all\x7f");
    assert!(closed_by_sensor(&mut garbage));
    let mut authed = raw_agent(server.local_addr, "garbler");
    send_frame(&mut authed, br#"{"type":"snapshot","records":[{"broken":"#);
    assert!(closed_by_sensor(&mut authed));
    // An authenticated peer announcing a frame over the 8 MiB limit.
    let mut oversized = raw_agent(server.local_addr, "oversized");
    oversized.write_all(&((MAX_FRAME + 1) as u32).to_be_bytes()).unwrap();
    assert!(closed_by_sensor(&mut oversized));

    wait_until("five malformed peers counted", 5, || n(&server.counters.malformed) == 5);
    // The first agent is still connected and still heard.
    let more = Message::Delta { records: records(&t, "keeper", 6)[3..].to_vec() };
    send_frame(&mut good, &serde_json::to_vec(&more).unwrap());
    wait_cache(&cache, 6);
    assert_eq!(server.counters.active.load(Ordering::Relaxed), 1, "{}", server.counters.json());
    server.shutdown();
}

#[test]
fn a_sensor_that_stops_reading_costs_the_agent_batches_not_memory_and_a_snapshot_resyncs() {
    let pki = Pki::new("slow");
    let t = template();
    // A sensor that accepts, welcomes, then reads nothing until told to.
    let tls = pki.server(false);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let sensor = std::thread::spawn(move || {
        runtime().block_on(async move {
            let (tcp, _) = tokio::net::TcpListener::from_std({
                listener.set_nonblocking(true).unwrap();
                listener
            })
            .unwrap()
            .accept()
            .await
            .unwrap();
            let acceptor = tls.acceptor();
            let mut s = acceptor.accept(tcp).await.unwrap();
            let mut buf = bytes::BytesMut::new();
            assert!(matches!(read_message(&mut s, &mut buf).await.unwrap(), Some(Message::Hello { .. })));
            write_message(&mut s, &Message::Welcome).await.unwrap();
            tokio::task::spawn_blocking(move || go_rx.recv()).await.unwrap().unwrap();
            // Now read until the agent closes the link: after the drops, it must send a
            // full snapshot again. The timeout only bounds a hang.
            let mut kinds = Vec::new();
            let end = loop {
                let m = match tokio::time::timeout(Duration::from_secs(60), read_message(&mut s, &mut buf))
                    .await
                {
                    Ok(Ok(Some(m))) => m,
                    Ok(Ok(None)) => break "the agent closed".to_string(),
                    Ok(Err(e)) => break e.to_string(),
                    Err(_) => break "60 s without a message".to_string(),
                };
                kinds.push(match m {
                    Message::Snapshot { last: true, .. } => "snapshot-end",
                    Message::Snapshot { .. } => "snapshot",
                    Message::Delta { .. } => "delta",
                    _ => "other",
                });
            };
            (kinds, end)
        })
    });
    let to = Endpoint { addr: addr.to_string(), tls: Some(pki.client("ca", None)) };
    let link = SensorLink::start(to, identity("scanner", TOKEN)).unwrap();
    let me = std::process::id();
    let before = usage(me).unwrap().2;
    // The scan loop's side: 2,000 batches of 512 records (about 1 GB of JSON) while the
    // sensor reads nothing. None of it may block the caller or pile up.
    let batch = records(&t, "scanner", 512);
    link.send_snapshot(batch.clone());
    for i in 0..2000 {
        link.send_delta(batch[..256 + i % 256].to_vec());
    }
    let dropped = link.dropped_batches.load(Ordering::Relaxed);
    let grown_kb = usage(me).unwrap().2.saturating_sub(before);
    assert!(dropped > 1000, "the queue did not bound what the agent holds: {dropped} dropped");
    assert!(grown_kb < 512 * 1024, "the agent grew by {grown_kb} kB while the sensor was not reading");
    assert!(link.wants_snapshot(), "dropped deltas, yet no new snapshot is asked for");
    go_tx.send(()).unwrap();
    // As the scan loop does every interval: a snapshot until one fits in the queue.
    let until = Instant::now() + Duration::from_secs(20);
    while link.wants_snapshot() && Instant::now() < until {
        link.send_snapshot(batch.clone());
        std::thread::sleep(Duration::from_millis(100));
    }
    link.close();
    let (kinds, end) = sensor.join().unwrap();
    let wholes = kinds.iter().filter(|k| **k == "snapshot-end").count();
    assert!(
        wholes >= 2 && kinds.last() == Some(&"snapshot-end"),
        "no resync after the drops: {kinds:?}, then {end} (records of {} bytes)",
        serde_json::to_vec(&*batch[0]).map_or(0, |b| b.len())
    );
    eprintln!(
        "slow sensor: {dropped} batches dropped, agent grew {grown_kb} kB, {} messages read after",
        kinds.len()
    );
}

#[test]
fn a_snapshot_over_the_frame_limit_arrives_in_frames_that_fit() {
    // A host whose service has a long command line (a Java classpath, say): 600 sockets
    // of 20 kB each are half again the frame limit, and must still all arrive.
    const SOCKETS: usize = 600;
    let t = template();
    let (server, cache) = listen(None);
    let mut recs: Vec<Arc<InventoryRecord>> = records(&t, "classpath", SOCKETS)
        .into_iter()
        .map(|r| {
            let mut r = (*r).clone();
            Arc::make_mut(r.process.as_mut().unwrap()).args =
                vec!["java".into(), "-cp".into(), "x".repeat(20 << 10)];
            Arc::new(r)
        })
        .collect();
    const { assert!(SOCKETS * (20 << 10) > MAX_FRAME) };
    // One record over the limit on its own is left out; the rest must not pay for it.
    let mut huge = (*recs[0]).clone();
    huge.socket.inode = 9_999_999;
    Arc::make_mut(huge.process.as_mut().unwrap()).args = vec!["x".repeat(MAX_FRAME + 1)];
    recs.insert(SOCKETS / 2, Arc::new(huge));
    let link = SensorLink::start(endpoint(&server, None), identity("classpath", TOKEN)).unwrap();
    link.send_snapshot(recs);
    wait_until(&format!("{SOCKETS} sockets in the cache"), 30, || cache.lock().unwrap().len() >= SOCKETS);
    link.close();
    let c = cache.lock().unwrap();
    assert_eq!(c.len(), SOCKETS, "the oversized record was left out, every other one arrived");
    assert_eq!(n(&server.counters.malformed), 0);
}

#[test]
fn two_hundred_tls_agents_at_once_to_one_sensor() {
    if !agent_support::privileged() {
        return;
    }
    const AGENTS: usize = 200;
    const SOCKETS: usize = 50;
    const ROUNDS: usize = 15;
    let pki = Pki::new("fleet");
    let t = template();
    let port = free_port();
    let alerts = pki.path("alerts.jsonl");
    let log = std::fs::File::create(pki.path("sensor.log")).unwrap();
    let p = |f: &str| pki.path(f).to_str().unwrap().to_string();
    let sensor = Command::new(common::bin())
        .args(["sensor", "--interface", "lo", "--bpf", "tcp port 9"])
        .args(["--agent-listen", &format!("127.0.0.1:{port}"), "--token-file", &p("token")])
        .args(["--agent-tls-cert", &p("sensor.pem"), "--agent-tls-key", &p("sensor.key")])
        .args(["--agent-tls-client-ca", &p("ca.pem")])
        // Stopped by SIGTERM when the agents are done; the duration only bounds a hang.
        .args(["--duration", "600", "--format", "json", "-o", alerts.to_str().unwrap()])
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let pid = sensor.id();
    wait_until("the sensor listens", 20, || TcpStream::connect(("127.0.0.1", port)).is_ok());
    let start = usage(pid).unwrap();
    let started = Instant::now();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(u) = usage(pid) {
                    peak.fetch_max(u.2, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let tls = pki.client("ca", Some("agent"));
    let sent: usize = runtime().block_on(async {
        let mut tasks = Vec::new();
        for i in 0..AGENTS {
            let to = Endpoint { addr: format!("127.0.0.1:{port}"), tls: Some(tls.clone()) };
            let host = format!("tls-sim-{i:03}.fleet.test");
            let recs = records(&t, &host, SOCKETS);
            tasks.push(tokio::spawn(async move {
                let mut ch = open(&to, &identity(&host, TOKEN)).await.expect("an agent was refused");
                let mut sent = 0;
                for _ in 0..ROUNDS {
                    let m = Message::Snapshot { records: recs.clone(), last: true };
                    if write_message(&mut ch, &m).await.is_ok() {
                        sent += 1;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                sent
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    let during = started.elapsed();
    let end = usage(pid).expect("the sensor exited before the agents were done");
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let status = { sensor }.wait().unwrap();
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let err = std::fs::read_to_string(pki.path("sensor.log")).unwrap_or_default();
    assert!(status.success(), "sensor failed: {err}");
    let cpu = end.0 - start.0;
    println!(
        "200 TLS agents: {sent} snapshots of {SOCKETS} sockets in {:.1} s; sensor CPU {cpu:.2} s = {:.0} % of one core; \
         RSS {} kB before, peak {} kB",
        during.as_secs_f64(),
        100.0 * cpu / during.as_secs_f64(),
        start.2,
        peak.load(Ordering::Relaxed),
    );
    let stats = common::json_lines(&std::fs::read(&alerts).unwrap())
        .into_iter()
        .rfind(|r| r["event"]["kind"] == "metric")
        .expect("no stats record");
    let channel = &stats["shellsight"]["stats"]["agent_channel"];
    println!("agent channel: {channel}");
    assert_eq!(sent, AGENTS * ROUNDS);
    assert_eq!(channel["authenticated"], AGENTS as u64, "{channel}");
    assert_eq!(channel["records"], (AGENTS * ROUNDS * SOCKETS) as u64, "{channel}");
    for refused in
        ["rejected_tls", "rejected_token", "rejected_host", "malformed", "hello_timeouts", "turned_away"]
    {
        assert_eq!(channel[refused], 0, "{refused}: {channel}");
    }
}

#[test]
fn bad_tls_files_are_named_and_a_readable_private_key_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new("files");
    let key = pki.path("sensor.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = ServerTls::load(&pki.path("sensor.pem"), &key, None).err().expect("a 0644 key was used");
    assert!(err.to_string().contains("chmod 600") && err.to_string().contains("sensor.key"), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A key where the certificate should be, and a certificate where the CA should be
    // for a key that does not match it.
    let err = ServerTls::load(&key, &key, None).err().expect("a key was taken for a certificate");
    assert!(
        err.to_string().contains("sensor.key") && err.to_string().contains("no PEM certificate"),
        "{err}"
    );
    let err = ServerTls::load(&pki.path("agent.pem"), &key, None).err().expect("a mismatched key was used");
    assert!(err.to_string().contains("agent.pem"), "{err}");

    // Through the real binary: the missing file is named, and nothing connects.
    let out = Command::new(common::bin())
        .args(["agent", "--connect", "127.0.0.1:9", "--token-file", pki.path("token").to_str().unwrap()])
        .args(["--tls-ca", "/nonexistent/ca.pem", "--duration", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("/nonexistent/ca.pem"), "{err}");
    // And a client certificate without the CA to check the sensor with is a usage error.
    let out = Command::new(common::bin())
        .args(["agent", "--connect", "127.0.0.1:9", "--token-file", pki.path("token").to_str().unwrap()])
        .args(["--tls-cert", pki.path("agent.pem").to_str().unwrap(), "--duration", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--tls-ca"), "{err}");
}

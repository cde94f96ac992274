//! Helpers for the bus tests: real `nats-server` processes with JetStream on free
//! loopback ports (each in its own temporary store, killed when dropped), and a reader
//! of what a stream holds.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One nats-server; killed (and its store removed) when dropped.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    pub cluster_port: u16,
    pub name: String,
    store: PathBuf,
}

impl Nats {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A single server with JetStream.
    pub fn single(dir: &Path) -> Nats {
        Self::start(dir, "single", free_port(), None)
    }

    /// A server that is one node of a cluster whose route ports are `routes`.
    fn start(dir: &Path, name: &str, port: u16, cluster: Option<(u16, &[u16])>) -> Nats {
        crate::agent_support::require_tool("nats-server", "nats-server");
        let store = dir.join(format!("nats-{name}"));
        std::fs::create_dir_all(&store).unwrap();
        let mut cmd = Command::new("nats-server");
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd", store.to_str().unwrap()])
            .args(["-n", name])
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(dir.join(format!("nats-{name}.log"))).unwrap()));
        let mut cluster_port = 0;
        if let Some((own, routes)) = cluster {
            cluster_port = own;
            let routes: Vec<String> =
                routes.iter().filter(|p| **p != own).map(|p| format!("nats://127.0.0.1:{p}")).collect();
            cmd.args(["--cluster_name", "shellsight-test", "--cluster", &format!("nats://127.0.0.1:{own}")])
                .args(["--routes", &routes.join(",")]);
        }
        let child = cmd.spawn().expect("start nats-server");
        let n = Nats { child: Some(child), port, cluster_port, name: name.to_string(), store };
        n.wait_ready();
        n
    }

    fn wait_ready(&self) {
        let until = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "nats-server {} did not listen on {}", self.name, self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// Three nodes clustered on loopback.
pub fn cluster(dir: &Path) -> Vec<Nats> {
    let routes = [free_port(), free_port(), free_port()];
    let nodes: Vec<Nats> = (0..3)
        .map(|i| Nats::start(dir, &format!("node{i}"), free_port(), Some((routes[i], &routes))))
        .collect();
    // JetStream needs a meta leader before streams can be created.
    wait_jetstream(&nodes[0].url(), 3);
    nodes
}

/// Waits until JetStream can hold a stream with `replicas` copies (a meta leader is
/// elected and enough peers have joined): creates a probe stream and deletes it.
pub fn wait_jetstream(url: &str, replicas: usize) {
    let url = url.to_string();
    runtime().block_on(async move {
        let client = async_nats::connect(url).await.expect("connect to nats");
        let js = async_nats::jetstream::new(client);
        let until = Instant::now() + Duration::from_secs(30);
        let probe = async_nats::jetstream::stream::Config {
            name: "READY_PROBE".into(),
            subjects: vec!["ready.probe".into()],
            num_replicas: replicas,
            ..Default::default()
        };
        loop {
            match js.create_stream(probe.clone()).await {
                Ok(_) => {
                    let _ = js.delete_stream("READY_PROBE").await;
                    return;
                }
                Err(e) => assert!(Instant::now() < until, "JetStream did not come up: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Every message of `stream` (JSON), in order, read once.
pub fn read_stream(url: &str, stream: &str) -> Vec<serde_json::Value> {
    use futures_util::StreamExt;
    let (url, stream) = (url.to_string(), stream.to_string());
    runtime().block_on(async move {
        let client = async_nats::connect(url).await.expect("connect to nats");
        let js = async_nats::jetstream::new(client.clone());
        // Right after a node dies the stream may still be electing a leader: retry
        // (the product's own counters are what the tests judge, not this reader).
        let until = Instant::now() + Duration::from_secs(30);
        let c = loop {
            let consumer = match js.get_stream(&stream).await {
                Ok(s) => s
                    .create_consumer(async_nats::jetstream::consumer::push::OrderedConfig {
                        deliver_subject: client.new_inbox(),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match consumer {
                Ok(c) => break c,
                Err(e) if Instant::now() < until => {
                    eprintln!("reading {stream}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("reading {stream}: {e}"),
            }
        };
        let mut messages = c.messages().await.expect("messages");
        let mut out = Vec::new();
        while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(2), messages.next()).await {
            out.push(serde_json::from_slice(&m.message.payload).expect("JSON on the bus"));
        }
        out
    })
}

/// CPU seconds (user + system) and peak/current resident memory (kB) of `pid`.
pub fn usage(pid: u32) -> Option<(f64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let hz = 100.0; // USER_HZ on Linux
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((ticks as f64 / hz, kb("VmHWM:")?, kb("VmRSS:")?))
}

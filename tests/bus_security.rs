//! The fleet bus locked down as a site would run it: a real nats-server that speaks only
//! TLS, verifies client certificates against its CA (`verify: true`) and knows one user.
//! An agent and a live sensor with the right CA, certificate and password meet on it;
//! an agent with a wrong password, without a certificate, or trusting another CA gets
//! nothing through. A server that knows one nkey lets its holder in and refuses another
//! key. Needs nats-server, and root for the live capture.

mod agent_support;
mod bus_support;
mod common;
mod pki_support;

use agent_support::privileged;
use bus_support::free_port;
use pki_support::Pki;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bus-password-for-tests-7f3a";

/// A locked-down nats-server (TLS with client certificates and a password, or nkeys),
/// started from its own configuration file; killed when dropped.
struct SecureNats {
    child: Child,
    port: u16,
}

impl SecureNats {
    /// JetStream, TLS only, client certificates verified, one user with a password.
    fn start(pki: &Pki) -> SecureNats {
        let port = free_port();
        let p = |f: &str| pki.path(f).to_str().unwrap().to_string();
        let conf = format!(
            r#"listen: "127.0.0.1:{port}"
server_name: "secure-bus"
jetstream {{ store_dir: "{store}" }}
tls {{
  cert_file: "{cert}"
  key_file: "{key}"
  ca_file: "{ca}"
  verify: true
  timeout: 2
}}
authorization {{
  users: [ {{ user: "shellsight", password: "{PASSWORD}" }} ]
}}
"#,
            store = p("nats-store"),
            cert = p("sensor.pem"),
            key = p("sensor.key"),
            ca = p("ca.pem"),
        );
        SecureNats::run(pki, port, &conf)
    }

    /// nats-server on `port` with the configuration `conf`.
    fn run(pki: &Pki, port: u16, conf: &str) -> SecureNats {
        agent_support::require_tool("nats-server", "nats-server");
        let p = |f: &str| pki.path(f).to_str().unwrap().to_string();
        std::fs::write(pki.path("nats.conf"), conf).unwrap();
        let log = std::fs::File::create(pki.path("nats.log")).unwrap();
        let child = Command::new("nats-server")
            .args(["-c", &p("nats.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start nats-server");
        let until = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        SecureNats { child, port }
    }

    fn url(&self) -> String {
        format!("tls://127.0.0.1:{}", self.port)
    }
}

impl Drop for SecureNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn creds(pki: &Pki, name: &str, password: &str) -> String {
    private_file(pki, name, &format!("user = shellsight\npassword = {password}\n"))
}

/// A mode-0600 file in the test's directory; returns its path.
fn private_file(pki: &Pki, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = pki.path(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs an agent on the bus for `secs` and returns its exit counters and its log.
fn agent(bus: &[String], secs: &str) -> (serde_json::Value, String) {
    let out = Command::new(common::bin())
        .args(["agent", "--interval", "500ms", "--duration", secs])
        .args(bus)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "agent failed: {err}");
    let counters = err
        .lines()
        .find_map(|l| l.strip_prefix("shellsight agent: bus "))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("no bus counters at the agent's exit: {err}"));
    (counters, err)
}

#[test]
fn a_bus_with_mutual_tls_and_a_password_carries_agents_and_refuses_strangers() {
    if !privileged() {
        return;
    }
    let pki = Pki::new("bus-security");
    let nats = SecureNats::start(&pki);
    let p = |f: &str| pki.path(f).to_str().unwrap().to_string();
    let good = creds(&pki, "good.creds", PASSWORD);
    let bad = creds(&pki, "bad.creds", "not-the-password-at-all");
    let bus = |ca: &str, cert: bool, creds: &str| {
        let mut a = vec![
            "--bus".to_string(),
            nats.url(),
            "--bus-ca".into(),
            p(ca),
            "--bus-creds".into(),
            creds.into(),
        ];
        if cert {
            a.extend(["--bus-cert".into(), p("agent.pem"), "--bus-key".into(), p("agent.key")]);
        }
        a
    };

    let alerts = pki.path("alerts.jsonl");
    let log = std::fs::File::create(pki.path("sensor.log")).unwrap();
    let sensor = Command::new(common::bin())
        .args(["sensor", "--interface", "lo", "--bpf", "tcp port 9", "--duration", "600"])
        .args(["--format", "json", "-o", alerts.to_str().unwrap()])
        .args(bus("ca.pem", true, &good))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();

    let (ok, err) = agent(&bus("ca.pem", true, &good), "4");
    assert_eq!(ok["connected"], true, "{ok}\n{err}");
    assert!(ok["published"].as_u64() >= Some(1), "the agent published nothing: {ok}\n{err}");

    for (what, args) in [
        ("a wrong password", bus("ca.pem", true, &bad)),
        ("no client certificate", bus("ca.pem", false, &good)),
        ("trust in another CA", bus("rogue-ca.pem", true, &good)),
    ] {
        let (c, err) = agent(&args, "3");
        assert_eq!(c["published"], 0, "{what}: published {c}\n{err}");
        assert_eq!(c["connected"], false, "{what}: {c}\n{err}");
        if what == "a wrong password" {
            assert!(err.to_lowercase().contains("authorization"), "{what}: not said: {err}");
        }
    }

    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill").args(["-TERM", &sensor.id().to_string()]).status();
    let status = { sensor }.wait().unwrap();
    let log = std::fs::read_to_string(pki.path("sensor.log")).unwrap_or_default();
    assert!(status.success(), "sensor failed: {log}");
    let stats = common::json_lines(&std::fs::read(&alerts).unwrap())
        .into_iter()
        .rfind(|r| r["event"]["kind"] == "metric")
        .expect("no stats record");
    let on_bus = &stats["shellsight"]["stats"]["bus"];
    assert_eq!(on_bus["connected"], true, "{on_bus}\n{log}");
    assert_eq!(on_bus["hosts"], 1, "the sensor did not hear exactly the one good agent: {on_bus}");
    assert_eq!(on_bus["malformed"], 0, "{on_bus}");
}

#[test]
fn bus_secrets_readable_by_others_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new("bus-secrets");
    let creds = creds(&pki, "open.creds", PASSWORD);
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(common::bin())
        .args(["agent", "--bus", "tls://127.0.0.1:9", "--bus-creds", &creds, "--duration", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("open.creds") && err.contains("chmod 600"), "{err}");
    assert!(!err.contains(PASSWORD), "the password is in the error: {err}");

    let key = pki.path("agent.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = Command::new(common::bin())
        .args(["agent", "--bus", "tls://127.0.0.1:9", "--bus-cert", pki.path("agent.pem").to_str().unwrap()])
        .args(["--bus-key", key.to_str().unwrap(), "--duration", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("agent.key") && err.contains("chmod 600"), "{err}");
}

/// An nkey user: the server holds only the public key and sends a challenge that the
/// agent signs with its seed, so the seed never crosses the wire. A seed the server does
/// not know is refused, and said to be.
#[test]
fn an_nkey_user_is_let_in_and_an_unknown_key_is_refused() {
    let pki = Pki::new("bus-nkey");
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let port = free_port();
    let conf = format!(
        r#"listen: "127.0.0.1:{port}"
server_name: "nkey-bus"
jetstream {{ store_dir: "{store}" }}
authorization {{
  users: [ {{ nkey: "{public}" }} ]
}}
"#,
        store = pki.path("nats-store").to_str().unwrap(),
        public = user.public_key(),
    );
    let _nats = SecureNats::run(&pki, port, &conf);
    let url = format!("nats://127.0.0.1:{port}");
    let seed = user.seed().unwrap();
    let good = private_file(&pki, "user.nkey", &format!("nkey = {seed}\n"));
    let bad = private_file(&pki, "stranger.nkey", &format!("nkey = {}\n", stranger.seed().unwrap()));

    let (ok, err) = agent(&["--bus".into(), url.clone(), "--bus-creds".into(), good], "4");
    assert_eq!(ok["connected"], true, "{ok}\n{err}");
    assert!(ok["published"].as_u64() >= Some(1), "the agent published nothing: {ok}\n{err}");
    assert!(!err.contains(&seed), "the seed is in the agent's log");

    let (refused, err) = agent(&["--bus".into(), url, "--bus-creds".into(), bad], "3");
    assert_eq!(refused["connected"], false, "an unknown nkey got in: {refused}\n{err}");
    assert_eq!(refused["published"], 0, "{refused}\n{err}");
    assert!(err.to_lowercase().contains("authorization"), "the refusal is not said: {err}");
}

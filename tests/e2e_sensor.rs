//! End-to-end: the live sensor with its local agent, in a network namespace, watching real
//! servers (nginx + php-fpm, PostgreSQL, sshd) that a scripted attacker turns into reverse
//! shells. `tests/e2e/run.sh` builds the world; these tests read what the sensor wrote.
//!
//! Needs root and network namespaces. Without root the tests fail, unless
//! SHELLSIGHT_SKIP_PRIVILEGED=1 (then they say they were skipped).
//! SHELLSIGHT_E2E_OUT=DIR keeps each case's outputs in DIR/CASE (alerts, capture, logs).
//! SHELLSIGHT_E2E_NETWORK_ONLY=1 runs the sensor without `--local-agent` and checks only
//! the network part (no attribution); it says so loudly.
//!
//! The cases run one at a time (each drives a ~60 s human-paced session whose timing the
//! detector judges; three at once on a small machine would blur it).

mod common;

use common::{about, bin, json_lines, root, tier_rank};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

const SERVER: &str = "198.18.0.10";
const ATTACKER: &str = "198.19.0.66";
const ADMIN: &str = "198.19.0.100";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn env_is(name: &str, value: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == value)
}

fn network_only() -> bool {
    env_is("SHELLSIGHT_E2E_NETWORK_ONLY", "1")
}

/// False when the test is to be skipped; panics when it cannot run.
fn privileged(case: &str) -> bool {
    if env_is("SHELLSIGHT_SKIP_PRIVILEGED", "1") {
        eprintln!(
            "SKIPPED e2e case {case}: SHELLSIGHT_SKIP_PRIVILEGED=1 (needs root and network namespaces)"
        );
        return false;
    }
    let uid = Command::new("id").arg("-u").output().expect("run id -u");
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    assert!(
        uid == "0",
        "e2e case {case} needs root (network namespaces, real servers); it runs as uid {uid}. \
         Run the tests as root, or set SHELLSIGHT_SKIP_PRIVILEGED=1 to skip them."
    );
    true
}

/// The case's output directory: kept when the test fails or SHELLSIGHT_E2E_OUT is set.
struct OutDir {
    path: PathBuf,
    keep: bool,
}

impl OutDir {
    fn new(case: &str) -> OutDir {
        let (path, keep) = match std::env::var_os("SHELLSIGHT_E2E_OUT") {
            Some(dir) => (PathBuf::from(dir).join(case), true),
            None => {
                (std::env::temp_dir().join(format!("shellsight-e2e-{case}-{}", std::process::id())), false)
            }
        };
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the output directory");
        OutDir { path, keep }
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if self.keep || std::thread::panicking() {
            eprintln!("e2e outputs kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

struct Run {
    out: OutDir,
    alerts: Vec<Value>,
    flows: Vec<Value>,
    /// Set when the sensor did not stop at its `--duration` by itself.
    overran: Option<String>,
}

impl Run {
    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.out.path.join(name)).unwrap_or_default()
    }

    /// The checks every case ends with.
    fn finish(self) {
        if let Some(why) = &self.overran {
            panic!("the sensor ignored --duration: {why}{}", self.context());
        }
    }

    /// Context for a failed assertion: every alert and the end of the sensor's stderr.
    fn context(&self) -> String {
        let alerts: Vec<String> = self.alerts.iter().map(Value::to_string).collect();
        let err = self.file("sensor.err");
        let tail: Vec<&str> = err.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        let overran = self.overran.as_deref().map(|w| format!("\n--- NOTE: {w}")).unwrap_or_default();
        format!(
            "\n--- {} alert(s):\n{}\n--- sensor.err (end):\n{}{overran}\n--- outputs: {}",
            alerts.len(),
            alerts.join("\n"),
            tail.join("\n"),
            self.out.path.display()
        )
    }
}

fn run_case(case: &str) -> Run {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = OutDir::new(case);
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("tests/e2e/run.sh")).arg(case).arg(&out.path).env("SHELLSIGHT", bin());
    if network_only() {
        eprintln!(
            "NOTE: SHELLSIGHT_E2E_NETWORK_ONLY=1: sensor without --local-agent; attribution NOT checked"
        );
        cmd.env("SENSOR_AGENT_ARGS", "");
    } else {
        cmd.env("SENSOR_AGENT_ARGS", "--local-agent");
    }
    let started = std::time::Instant::now();
    let res = cmd.output().expect("run bash tests/e2e/run.sh");
    eprint!("{}", String::from_utf8_lossy(&res.stderr));
    eprintln!("run.sh {case}: {:?} in {:.0?}", res.status, started.elapsed());
    // 3: the outputs are complete, but the sensor did not stop at its --duration; the
    // alerts are judged first, and `Run::finish` fails the test on it afterwards.
    let overran = res.status.code() == Some(3);
    assert!(
        res.status.success() || overran,
        "tests/e2e/run.sh {case} failed ({}); its log is above, outputs in {}",
        res.status,
        out.path.display()
    );
    let read = |name: &str| json_lines(&std::fs::read(out.path.join(name)).unwrap_or_default());
    let alerts = read("alerts.jsonl").into_iter().filter(|r| r["event"]["kind"] == "alert").collect();
    let flows = read("flows.jsonl");
    let overran = overran.then(|| {
        std::fs::read_to_string(out.path.join("sensor-overran.txt")).unwrap_or_default().trim().to_string()
    });
    Run { out, alerts, flows, overran }
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> &'v str {
    path.iter().fold(v, |v, k| &v[*k]).as_str().unwrap_or("")
}

fn seconds_between(start: &str, end: &str) -> Option<f64> {
    let s: jiff::Timestamp = start.parse().ok()?;
    let e: jiff::Timestamp = end.parse().ok()?;
    Some(e.duration_since(s).as_secs_f64())
}

/// Names of the shell's parent and ancestors: `process.parent.name` and
/// `shellsight.process.ancestry[*].name`.
fn ancestry_names(a: &Value) -> Vec<String> {
    let mut names = vec![str_at(a, &["process", "parent", "name"]).to_string()];
    if let Some(list) = a["shellsight"]["process"]["ancestry"].as_array() {
        names.extend(list.iter().map(|p| p["name"].as_str().unwrap_or("").to_string()));
    }
    names.retain(|n| !n.is_empty());
    names
}

/// A reverse shell spawned by an exposed service: the sensor must flag the session on
/// `port` and attribute it to a bash whose ancestry holds `service`.
fn assert_service_shell(case: &str, port: u64, service_prefix: &str) {
    if !privileged(case) {
        return;
    }
    let run = run_case(case);
    let ctx = run.context();
    let session = about(&run.alerts, SERVER, ATTACKER, port);
    assert!(!session.is_empty(), "{case}: no alert about {SERVER} <-> {ATTACKER}:{port}{ctx}");
    for a in &session {
        eprintln!(
            "{case}: alert tier={} reasons={} delay={:.2}s attributed={}",
            str_at(a, &["shellsight", "tier"]),
            a["shellsight"]["reasons"],
            seconds_between(str_at(a, &["event", "start"]), str_at(a, &["@timestamp"])).unwrap_or(f64::NAN),
            a["process"].is_object()
        );
    }
    // network facts, true of every alert about the session
    for a in &session {
        assert_eq!(str_at(a, &["source", "ip"]), SERVER, "{case}: the shell's side opened the session{ctx}");
        assert_eq!(a["destination"]["ip"], ATTACKER, "{case}: destination{ctx}");
        assert_eq!(a["destination"]["port"].as_u64(), Some(port), "{case}: destination.port{ctx}");
    }
    let best = session.iter().max_by_key(|a| tier_rank(a)).expect("non-empty");

    if network_only() {
        assert!(
            tier_rank(best) >= 2,
            "{case}: network evidence alone should give medium or high, got {}{ctx}",
            str_at(best, &["shellsight", "tier"])
        );
        eprintln!(
            "{case}: NETWORK ONLY: best alert:\n{}",
            serde_json::to_string_pretty(best).unwrap_or_default()
        );
        eprintln!("{case}: attribution NOT checked (SHELLSIGHT_E2E_NETWORK_ONLY=1)");
        run.finish();
        return;
    }

    let attributed: Vec<&&Value> = session.iter().filter(|a| a["process"].is_object()).collect();
    assert!(
        !attributed.is_empty(),
        "{case}: no alert about the session carries a process (process.*): the local agent did \
         not attribute it{ctx}"
    );
    let a = attributed
        .iter()
        .max_by_key(|a| (tier_rank(a), str_at(a, &["@timestamp"]).to_string()))
        .expect("non-empty");
    eprintln!("{case}: attributed alert:\n{}", serde_json::to_string_pretty(a).unwrap_or_default());
    let delay = seconds_between(str_at(a, &["event", "start"]), str_at(a, &["@timestamp"]));
    eprintln!(
        "{case}: first packet (event.start {}) -> attributed alert (@timestamp {}): {}",
        str_at(a, &["event", "start"]),
        str_at(a, &["@timestamp"]),
        delay.map(|d| format!("{d:.3} s")).unwrap_or_else(|| "unknown".into())
    );

    assert_eq!(str_at(a, &["shellsight", "tier"]), "high", "{case}: tier of the attributed alert{ctx}");
    let names = ancestry_names(a);
    assert!(
        names.iter().any(|n| n.starts_with(service_prefix)),
        "{case}: no {service_prefix}* in the ancestry (process.parent.name and \
         shellsight.process.ancestry[*].name): {names:?}{ctx}"
    );
    assert_eq!(str_at(a, &["process", "name"]), "bash", "{case}: process.name{ctx}");
    let cmdline = str_at(a, &["process", "command_line"]);
    assert!(
        cmdline.contains(&format!("/dev/tcp/{ATTACKER}/{port}")) || cmdline.contains("bash -i"),
        "{case}: process.command_line is {cmdline:?}, not the reverse shell's{ctx}"
    );
    assert_eq!(str_at(a, &["source", "ip"]), SERVER, "{case}: source.ip{ctx}");
    assert_eq!(a["destination"]["port"].as_u64(), Some(port), "{case}: destination.port{ctx}");
    let reasons: Vec<&str> =
        a["shellsight"]["reasons"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("exposed-service-parent")),
        "{case}: reasons {reasons:?} lack exposed-service-parent{ctx}"
    );
    assert!(delay.is_some_and(|d| d >= 0.0), "{case}: @timestamp before event.start{ctx}");
    run.finish();
}

#[test]
fn php_fpm_webshell_reverse_shell_is_high_and_attributed_to_php_fpm() {
    assert_service_shell("php-fpm", 4444, "php-fpm");
}

#[test]
fn postgres_copy_to_program_reverse_shell_is_high_and_attributed_to_postgres() {
    assert_service_shell("postgres", 4445, "postgres");
}

#[test]
fn admin_ssh_session_from_approved_range_stays_below_medium() {
    let case = "admin-ssh";
    if !privileged(case) {
        return;
    }
    let run = run_case(case);
    let ctx = run.context();
    // the sensor did see the session (else "no alert" would prove nothing)
    let seen = run.flows.iter().any(|f| {
        let ips = [str_at(f, &["source", "ip"]), str_at(f, &["destination", "ip"])];
        ips.contains(&SERVER)
            && ips.contains(&ADMIN)
            && f["destination"]["port"].as_u64() == Some(22)
            && f["source"]["packets"].as_u64().unwrap_or(0)
                + f["destination"]["packets"].as_u64().unwrap_or(0)
                > 100
    });
    assert!(seen, "{case}: no flow record of the ssh session {ADMIN} -> {SERVER}:22 in flows.jsonl{ctx}");
    let session = about(&run.alerts, SERVER, ADMIN, 22);
    for a in &session {
        eprintln!("{case}: alert: {a}");
    }
    let loud: Vec<&&Value> = session.iter().filter(|a| tier_rank(a) >= 2).collect();
    assert!(loud.is_empty(), "{case}: the admin's ssh session was flagged medium or high: {loud:?}{ctx}");
    eprintln!("{case}: {} alert(s) about the ssh session, none medium or high", session.len());
    run.finish();
}

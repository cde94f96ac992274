//! Replays the fixture captures (real shells and real benign traffic made between network
//! namespaces, see fixtures/README.md) and checks every session against its label.

mod common;

use common::*;
use serde_json::Value;

/// The tier each fixture shell must reach at least with the default policy, whatever network
/// the remote end is in (198.18.0.0/15 is neither home nor in any ASN; the hosting copies sit
/// in rented-server ASNs).
fn expected_tier(shell: &Value) -> u8 {
    if shell["tls"] == true {
        // A person typing inside TLS, on 443, 993 or a high port, to anywhere: medium.
        2
    } else if shell["transport"] == "udp" {
        // Cleartext over UDP: the same turn-taking evidence, no TCP session to lean on.
        2
    } else {
        // Cleartext over TCP: banners, id output, prompts, typed recon.
        3
    }
}

fn labels() -> Value {
    let text = std::fs::read_to_string(fixture("captures/labels.json")).expect("labels");
    serde_json::from_str(&text).expect("labels json")
}

#[test]
fn every_fixture_shell_is_found_at_its_tier_and_early() {
    let labels = labels();
    let files = labels["files"].as_object().expect("files");
    let mut checked = 0;
    for (file, spec) in files {
        let alerts = replay(&[&fixture(&format!("captures/{file}"))], &[]);
        for shell in spec["shells"].as_array().expect("shells") {
            let port = shell["remote_port"].as_u64().or(shell["local_port"].as_u64()).expect("port");
            let hits =
                about(&alerts, shell["victim"].as_str().unwrap(), shell["remote"].as_str().unwrap(), port);
            assert!(!hits.is_empty(), "{file}: shell {} not detected", shell["id"]);
            let best = hits.iter().map(|a| tier_rank(a)).max().unwrap();
            assert!(best >= expected_tier(shell), "{file}: shell {} only at tier {best}", shell["id"]);
            // Decided while the session was open, within 30 s of its start.
            let first = hits[0];
            let start = first["event"]["start"].as_str().unwrap();
            let decided = first["@timestamp"].as_str().unwrap();
            let secs = seconds_between(start, decided);
            assert!(secs <= 30.0, "{file}: first alert {secs:.1} s after the session started");
            checked += 1;
        }
    }
    assert!(checked >= 31, "only {checked} shells checked");
}

#[test]
fn no_benign_fixture_session_reaches_medium() {
    let labels = labels();
    let mut checked = 0;
    for (file, spec) in labels["files"].as_object().unwrap() {
        let benign = spec["benign"].as_array().unwrap();
        if benign.is_empty() {
            continue;
        }
        let alerts = replay(&[&fixture(&format!("captures/{file}"))], &[]);
        for b in benign {
            let port = b["server_port"].as_u64().unwrap();
            let hits = about(&alerts, b["client"].as_str().unwrap(), b["server"].as_str().unwrap(), port);
            let worst = hits.iter().map(|a| tier_rank(a)).max().unwrap_or(0);
            assert!(worst < 2, "{file}: benign {} ({}) alerted at tier {worst}", b["id"], b["kind"]);
            checked += 1;
        }
    }
    assert!(checked >= 24, "only {checked} benign sessions checked");
}

#[test]
fn the_demo_names_its_shells_with_reasons() {
    let text = std::fs::read_to_string(fixture("demo.labels.json")).unwrap();
    let labels: Value = serde_json::from_str(&text).unwrap();
    let alerts = replay(&[&fixture("demo.pcap")], &[]);
    let spec = &labels["files"]["demo.pcap"];
    for shell in spec["shells"].as_array().unwrap() {
        let port = shell["remote_port"].as_u64().or(shell["local_port"].as_u64()).unwrap();
        let hits = about(&alerts, shell["victim"].as_str().unwrap(), shell["remote"].as_str().unwrap(), port);
        assert!(hits.iter().any(|a| tier_rank(a) >= 2), "demo shell {} not at medium or above", shell["id"]);
        let reasons = hits.last().unwrap()["shellsight"]["reasons"].as_array().unwrap();
        assert!(
            reasons.iter().any(|r| r == "residential-asn"),
            "demo shell {} lacks the ASN reason",
            shell["id"]
        );
    }
    for b in spec["benign"].as_array().unwrap() {
        let hits = about(
            &alerts,
            b["client"].as_str().unwrap(),
            b["server"].as_str().unwrap(),
            b["server_port"].as_u64().unwrap(),
        );
        assert!(hits.iter().all(|a| tier_rank(a) < 2), "demo benign {} alerted", b["id"]);
    }
}

#[test]
fn a_shell_silent_for_an_hour_is_still_one_session_judged_on_all_its_evidence() {
    let plain = replay(&[&fixture("captures/shell_01_bash_devtcp.pcap")], &[]);
    let dir = std::env::temp_dir().join(format!("ss-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flows = dir.join("flows.jsonl");
    let gap = replay(
        &[&fixture("captures/shell_bash_devtcp_idle_gap.pcap")],
        &["--flows", flows.to_str().unwrap()],
    );
    assert_eq!(tier_rank(gap.last().unwrap()), tier_rank(plain.last().unwrap()));
    let records = json_lines(&std::fs::read(&flows).unwrap());
    let shell: Vec<&Value> = records.iter().filter(|r| r["destination"]["port"] == 4444).collect();
    assert_eq!(shell.len(), 1, "the hour of silence split the session");
    let s = &shell[0]["shellsight"]["session"];
    assert!(s["duration_s"].as_f64().unwrap() > 3600.0);
    assert!(s["resp_turns"]["answered"].as_u64().unwrap() >= 5, "typed turns after the gap were lost: {s}");
}

fn seconds_between(a: &str, b: &str) -> f64 {
    secs_of_day(b) - secs_of_day(a) + 86_400.0 * (day(b) - day(a)) as f64
}

fn day(t: &str) -> i64 {
    t[8..10].parse().unwrap()
}

fn secs_of_day(t: &str) -> f64 {
    let h: f64 = t[11..13].parse().unwrap();
    let m: f64 = t[14..16].parse().unwrap();
    let s: f64 = t[17..23].parse().unwrap();
    h * 3600.0 + m * 60.0 + s
}

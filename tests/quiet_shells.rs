//! Shells that say little (issue 24): one to three commands over TLS or in clear, cut by
//! snaplen or started mid-session, and command injections linked to their callbacks.
//! Every expectation comes from `fixtures/captures/labels-quiet.json`, which
//! `fixtures/lib/labels_quiet.py` wrote from the captures themselves.

mod common;

use common::*;
use serde_json::Value;

fn labels() -> Value {
    let text = std::fs::read_to_string(fixture("captures/labels-quiet.json")).expect("labels-quiet.json");
    serde_json::from_str(&text).expect("labels-quiet.json is JSON")
}

fn files() -> Vec<(String, Value, Vec<Value>)> {
    let labels = labels();
    let files = labels["files"].as_object().expect("files");
    files
        .iter()
        .map(|(name, entry)| {
            let alerts = replay(&[&fixture(&format!("captures/{name}"))], &[]);
            (name.clone(), entry.clone(), alerts)
        })
        .collect()
}

fn rank(tier: &str) -> u8 {
    match tier {
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        other => panic!("unknown tier {other}"),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("label field {k} missing in {v}"))
}

fn epoch(alert: &Value) -> f64 {
    epoch_seconds(alert["@timestamp"].as_str().unwrap())
}

#[test]
fn every_quiet_shell_reaches_its_tier_and_nothing_benign_reaches_medium() {
    let mut failures = Vec::new();
    let mut to_medium = Vec::new();
    let mut shells = 0;
    for (name, entry, alerts) in files() {
        for shell in entry["shells"].as_array().unwrap() {
            shells += 1;
            let port = shell["remote_port"].as_u64().unwrap();
            let about = about(&alerts, s(shell, "victim"), s(shell, "remote"), port);
            let best = about.iter().map(|a| tier_rank(a)).max().unwrap_or(0);
            let want = rank(s(shell, "min_tier"));
            if best < want {
                failures.push(format!("{name} {}: best tier {best}, wants {want}", s(shell, "id")));
            }
            // Time to medium counts on the full captures the operator typed into.
            if want >= 2 && shell["snaplen"] == 0 && shell["mid_session"] == false {
                let first_command = shell["first_command_ts"].as_f64().unwrap();
                if let Some(a) = about.iter().find(|a| tier_rank(a) >= 2) {
                    to_medium.push(epoch(a) - first_command);
                }
            }
        }
        for benign in entry["benign"].as_array().unwrap() {
            let port = benign["server_port"].as_u64().unwrap();
            for a in about(&alerts, s(benign, "client"), s(benign, "server"), port) {
                if tier_rank(a) >= 2 {
                    failures.push(format!("{name} {}: benign at {}", s(benign, "id"), a["shellsight"]));
                }
            }
        }
    }
    assert!(shells >= 30, "the labels name {shells} shells; the fixtures were not all found");
    assert!(failures.is_empty(), "{failures:#?}");
    to_medium.sort_by(f64::total_cmp);
    assert!(!to_medium.is_empty());
    let median = to_medium[to_medium.len() / 2];
    assert!(median <= 10.0, "median time from the first command to medium is {median:.1} s: {to_medium:?}");
}

#[test]
fn every_injection_is_linked_to_its_callback_and_reported_from_the_attacker() {
    let mut injections = 0;
    for (name, entry, alerts) in files() {
        for inj in entry["injections"].as_array().into_iter().flatten() {
            injections += 1;
            let request =
                about(&alerts, s(inj, "attacker"), s(inj, "victim"), inj["victim_port"].as_u64().unwrap());
            let reported = request
                .iter()
                .find(|a| a["shellsight"]["reasons"].to_string().contains("injection-payload"))
                .unwrap_or_else(|| panic!("{name}: the injection request was not reported: {request:?}"));
            assert_eq!(reported["source"]["ip"], s(inj, "attacker"), "{name}: source must be the attacker");
            let callback = about(
                &alerts,
                s(inj, "victim"),
                s(inj, "callback_remote"),
                inj["callback_port"].as_u64().unwrap(),
            );
            let linked = callback
                .iter()
                .find(|a| a["shellsight"]["reasons"].to_string().contains("injection-callback"))
                .unwrap_or_else(|| panic!("{name}: the callback does not name the injection: {callback:?}"));
            assert!(tier_rank(linked) >= 2, "{name}: linked callback below medium: {linked}");
        }
    }
    assert!(injections >= 3, "the labels name {injections} injections");
}

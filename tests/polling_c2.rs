//! Polling C2 (issue 25): implants that check in instead of holding a session are found as
//! series; benign pollers are not raised to medium; the series table stays bounded.
//! Expectations come from `fixtures/captures/labels-pollers.json`, written from the
//! captures by `fixtures/lib/labels_pollers.py`.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

fn labels() -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(fixture("captures/labels-pollers.json")).expect("labels-pollers.json");
    let v: Value = serde_json::from_str(&text).expect("labels-pollers.json is JSON");
    let mut out = Vec::new();
    for (name, entry) in v["files"].as_object().expect("files") {
        for series in entry["series"].as_array().unwrap() {
            out.push((name.clone(), series.clone()));
        }
    }
    out
}

fn about_series<'v>(alerts: &'v [Value], label: &Value) -> Vec<&'v Value> {
    let (client, server) = (label["client"].as_str().unwrap(), label["server"].as_str().unwrap());
    about(alerts, client, server, label["server_port"].as_u64().unwrap())
}

#[test]
fn implants_are_reported_by_their_series_and_benign_pollers_stay_below_medium() {
    let mut failures = Vec::new();
    let (mut implants, mut benign) = (0, 0);
    for (name, label) in labels() {
        let alerts = replay(&[&fixture(&format!("captures/{name}"))], &[]);
        let about = about_series(&alerts, &label);
        let best = about.iter().map(|a| tier_rank(a)).max().unwrap_or(0);
        let id = label["id"].as_str().unwrap();
        if label["malicious"] == true {
            implants += 1;
            let series: Vec<&&Value> =
                about.iter().filter(|a| a["shellsight"]["series"].is_object()).collect();
            if label["operator"] == true {
                // Operator activity over a beacon: medium within 60 s of the first command.
                let first_command = label["first_command_ts"].as_f64().unwrap();
                match about.iter().find(|a| tier_rank(a) >= 2) {
                    Some(a) => {
                        let after = epoch_seconds(a["@timestamp"].as_str().unwrap()) - first_command;
                        if after > 60.0 {
                            failures
                                .push(format!("{name} {id}: medium {after:.0} s after the first command"));
                        }
                    }
                    None => failures.push(format!("{name} {id}: best tier {best}, wants medium")),
                }
            } else {
                // A pure beacon: at least low, within 10 check-ins, and alone no higher.
                match series.first() {
                    Some(a) => {
                        let n = a["shellsight"]["series"]["checkins"].as_u64().unwrap();
                        if n > 10 {
                            failures.push(format!("{name} {id}: first reported after {n} check-ins"));
                        }
                        let reasons = a["shellsight"]["reasons"].to_string();
                        if !reasons.contains("beacon:interval=") {
                            failures.push(format!("{name} {id}: no beacon reason in {reasons}"));
                        }
                    }
                    None => failures.push(format!("{name} {id}: the beacon was not reported")),
                }
            }
        } else {
            benign += 1;
            if best >= 2 {
                failures.push(format!("{name} {id}: benign poller at tier {best}: {about:?}"));
            }
        }
    }
    assert!(implants >= 6 && benign >= 8, "the labels name {implants} implants and {benign} benign pollers");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The series line of the closing summary: (created, peak, allowed, evicted, expired).
fn series_counts(stderr: &str) -> (u64, u64, u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("series"))
        .unwrap_or_else(|| panic!("no series line: {stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    // series N (C check-ins; peak P at once of M allowed, E evicted, X expired silent)
    assert_eq!(numbers.len(), 6, "{line}");
    (numbers[0], numbers[2], numbers[3], numbers[4], numbers[5])
}

#[test]
fn a_flood_of_one_off_connections_keeps_the_series_table_bounded_and_the_poller_found() {
    let dir = std::env::temp_dir().join(format!("shellsight-series-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("flood.pcap");
    let poller = fixture("captures/c2_70_http_poll.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_shellsight-gencap"))
        .args(["--packets", "300000", "--seed", "5", "--merge"])
        .arg(&poller)
        .arg("-o")
        .arg(&cap)
        .output()
        .expect("run shellsight-gencap");
    assert!(out.status.success(), "gencap failed: {}", String::from_utf8_lossy(&out.stderr));
    let label = labels().into_iter().find(|(n, _)| n == "c2_70_http_poll.pcap").unwrap().1;
    for threads in ["1", "2"] {
        let out = Command::new(bin())
            .args(["replay", "--format", "json", "--max-flows", "500", "--threads", threads])
            .arg(&cap)
            .output()
            .expect("run shellsight");
        assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let (created, peak, allowed, evicted, expired) = series_counts(&stderr);
        assert_eq!(allowed, 500);
        assert!(created > 2_000, "threads {threads}: the flood made only {created} series");
        assert!(peak <= allowed, "threads {threads}: {peak} series held at once");
        assert!(evicted + expired >= created - allowed, "threads {threads}: {evicted} evicted of {created}");
        let alerts = json_lines(&out.stdout);
        let best = about_series(&alerts, &label).iter().map(|a| tier_rank(a)).max().unwrap_or(0);
        assert!(best >= 2, "threads {threads}: the poller reached only tier {best} under the flood");
    }
}

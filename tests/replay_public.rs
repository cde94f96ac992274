//! The public captures (real attacks and real benign sessions from public repositories):
//! every shell found, no benign session at medium or above.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn public_corpus_shells_found_and_benign_sessions_stay_below_medium() {
    let dir = public_corpus();
    let labels: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("labels.json")).unwrap()).unwrap();
    let mut shells = 0;
    for (file, sessions) in labels["files"].as_object().unwrap() {
        let alerts = replay(&[&dir.join(file)], &[]);
        let sessions = sessions.as_array().unwrap();
        for s in sessions {
            let port = s["remote_port"].as_u64().or(s["local_port"].as_u64()).unwrap();
            let hits = about(&alerts, s["victim"].as_str().unwrap(), s["remote"].as_str().unwrap(), port);
            assert!(hits.iter().any(|a| tier_rank(a) >= 1), "{file}: {} ({}) missed", s["id"], s["kind"]);
            shells += 1;
        }
        for a in &alerts {
            let is_shell = sessions.iter().any(|s| {
                let port = s["remote_port"].as_u64().or(s["local_port"].as_u64()).unwrap();
                !about(
                    std::slice::from_ref(a),
                    s["victim"].as_str().unwrap(),
                    s["remote"].as_str().unwrap(),
                    port,
                )
                .is_empty()
            });
            assert!(is_shell || tier_rank(a) < 2, "{file}: benign session alerted at medium+: {a}");
        }
    }
    assert_eq!(shells, 4);
}

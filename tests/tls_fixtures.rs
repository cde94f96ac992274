//! Issue 10 held to account on the fixture captures (fixtures/README.md): TLS shells to
//! rented servers, the encrypted sessions most easily confused with them (hard negatives),
//! DNS answers followed by a callback, and a shell over UDP. Every case is a real capture
//! replayed through the real binary with the bundled defaults; the labels come from
//! fixtures/captures/labels.json (derived from the files by fixtures/lib/labels.py).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// The operator's throwaway self-signed certificate (fixtures/lib/operator.py).
const OPERATOR_CERT_CN: &str = "update-cdn.example";

/// Hard-negative kinds (fixtures/hard_negatives.sh, plus the interactive ssh of capture 14).
const HARD_NEGATIVES: &[&str] = &[
    "mqtt-tls-qos1",
    "imap-idle-tls",
    "h2-server-stream",
    "websocket-tls-acks",
    "websocket-tls-pings",
    "tls-exec-typing",
    "ssh-interactive",
];

/// Rented-server networks the hosting copies move the remote end to (fixtures/rewrite-asn.sh).
const HOSTING_ASNS: &[u64] = &[14061, 63949, 24940, 16276, 20473, 16509];

fn labels() -> Value {
    let text = std::fs::read_to_string(fixture("captures/labels.json")).expect("labels");
    serde_json::from_str(&text).expect("labels json")
}

/// (file, label) for every labelled shell matching `pick`.
fn shells(pick: impl Fn(&str, &Value) -> bool) -> Vec<(String, Value)> {
    let labels = labels();
    let mut out = Vec::new();
    for (file, spec) in labels["files"].as_object().expect("files") {
        for shell in spec["shells"].as_array().expect("shells") {
            if pick(file, shell) {
                out.push((file.clone(), shell.clone()));
            }
        }
    }
    out
}

/// The alerts about a labelled shell in its capture.
fn alerts_for(file: &str, shell: &Value) -> Vec<Value> {
    let alerts = replay(&[&fixture(&format!("captures/{file}"))], &[]);
    let port = shell["remote_port"].as_u64().or(shell["local_port"].as_u64()).expect("port");
    about(&alerts, shell["victim"].as_str().unwrap(), shell["remote"].as_str().unwrap(), port)
        .into_iter()
        .cloned()
        .collect()
}

fn best(alerts: &[Value]) -> Option<&Value> {
    alerts.iter().max_by_key(|a| (tier_rank(a), a["shellsight"]["score"].as_i64().unwrap_or(0)))
}

fn reasons(alert: &Value) -> Vec<String> {
    alert["shellsight"]["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn is_hosting_copy(file: &str) -> bool {
    file.ends_with("_hosting.pcap") || file.ends_with("_cloud.pcap")
}

#[test]
fn every_tls_shell_fixture_and_its_hosting_copy_reaches_medium() {
    let tls = shells(|_, s| s["tls"] == true);
    let mut failures = Vec::new();
    for (file, shell) in &tls {
        let hits = alerts_for(file, shell);
        match best(&hits) {
            Some(a) if tier_rank(a) >= 2 => {}
            Some(a) => failures.push(format!(
                "{file}: {} only {} (score {}, {:?})",
                shell["id"],
                a["shellsight"]["tier"],
                a["shellsight"]["score"],
                reasons(a)
            )),
            None => failures.push(format!("{file}: {} raised no alert", shell["id"])),
        }
    }
    assert!(failures.is_empty(), "TLS shells below medium:\n{}", failures.join("\n"));
    let copies = tls.iter().filter(|(f, _)| is_hosting_copy(f)).count();
    assert!(
        tls.len() >= 19 && copies >= 9,
        "only {} TLS shells ({copies} hosting copies) checked",
        tls.len()
    );
}

#[test]
fn the_hosting_copies_really_sit_in_rented_server_networks() {
    // Guards the fixtures themselves: the copies must not be separable from the shells by
    // anything but the ASN, and the ASN must say hosting for six providers.
    let mut asns = BTreeSet::new();
    for (file, shell) in shells(|f, s| s["tls"] == true && is_hosting_copy(f)) {
        let hits = alerts_for(&file, &shell);
        assert!(!hits.is_empty(), "{file}: no alert at all");
        for a in &hits {
            assert_eq!(a["shellsight"]["remote_class"], "hosting", "{file}: {a}");
            asns.insert(a["destination"]["as"]["number"].as_u64().expect("AS number"));
        }
    }
    for asn in HOSTING_ASNS {
        assert!(asns.contains(asn), "no TLS shell copy in AS{asn} (have {asns:?})");
    }
}

#[test]
fn no_hard_negative_reaches_medium_raw_or_on_a_hosting_address() {
    let labels = labels();
    let mut checked = BTreeSet::new();
    let mut failures = Vec::new();
    for (file, spec) in labels["files"].as_object().unwrap() {
        for b in spec["benign"].as_array().unwrap() {
            let kind = b["kind"].as_str().unwrap();
            if !HARD_NEGATIVES.contains(&kind) {
                continue;
            }
            let alerts = replay(&[&fixture(&format!("captures/{file}"))], &[]);
            let hits = about(
                &alerts,
                b["client"].as_str().unwrap(),
                b["server"].as_str().unwrap(),
                b["server_port"].as_u64().unwrap(),
            );
            if let Some(a) = hits.iter().copied().find(|a| tier_rank(a) >= 2) {
                failures.push(format!(
                    "{file}: {} ({kind}) at {} (score {}, {:?})",
                    b["id"],
                    a["shellsight"]["tier"],
                    a["shellsight"]["score"],
                    reasons(a)
                ));
            }
            checked.insert((kind.to_string(), is_hosting_copy(file)));
        }
    }
    assert!(failures.is_empty(), "hard negatives at medium or above:\n{}", failures.join("\n"));
    for kind in HARD_NEGATIVES {
        for hosted in [false, true] {
            assert!(
                checked.contains(&(kind.to_string(), hosted)),
                "no capture of {kind} (hosting copy: {hosted})"
            );
        }
    }
}

#[test]
fn tls_shell_alerts_carry_the_handshake_facts() {
    for (file, shell) in shells(|_, s| s["tls"] == true) {
        let hits = alerts_for(&file, &shell);
        let a = best(&hits).unwrap_or_else(|| panic!("{file}: no alert"));
        let tls = &a["tls"];
        let version = shell["tls_version"].as_str().expect("label tls_version");
        assert_eq!(tls["version"], version, "{file}: tls.version in {a}");

        // JA4 (FoxIO), TLS-client part: t<ver><d|i><2 ciphers><2 exts><alpn>_<12 hex>_<12 hex>.
        let ja4 = tls["client"]["ja4"].as_str().unwrap_or_else(|| panic!("{file}: no tls.client.ja4 in {a}"));
        let parts: Vec<&str> = ja4.split('_').collect();
        assert_eq!(parts.len(), 3, "{file}: JA4 {ja4}");
        assert_eq!(parts[0].len(), 10, "{file}: JA4 {ja4}");
        assert!(
            parts[1..].iter().all(|p| p.len() == 12 && p.chars().all(|c| c.is_ascii_hexdigit())),
            "{ja4}"
        );
        // openssl s_client -tls1_2 offers nothing newer; every other client here offers 1.3
        let offered = if file.contains("openssl_tls12") { "t12" } else { "t13" };
        assert!(ja4.starts_with(offered), "{file}: JA4 {ja4} should start {offered}");
        let sni = tls["client"]["server_name"].as_str();
        if sni.is_none() {
            assert_eq!(&ja4[3..4], "i", "{file}: no SNI, yet JA4 {ja4} says domain");
        }
        if let Some(domain) = shell["domain"].as_str() {
            assert_eq!(sni, Some(domain), "{file}: tls.client.server_name in {a}");
            assert_eq!(&ja4[3..4], "d", "{file}: SNI {domain}, yet JA4 {ja4}");
        }

        // TLS 1.2: the operator's self-signed certificate crossed the wire in clear. ECS
        // keeps common names as lists.
        let x509 = &tls["server"]["x509"];
        let cn = |v: &Value| v["common_name"][0].as_str().map(str::to_string);
        if version == "1.2" {
            assert_eq!(
                cn(&x509["subject"]).as_deref(),
                Some(OPERATOR_CERT_CN),
                "{file}: certificate subject in {a}"
            );
            assert_eq!(
                cn(&x509["issuer"]).as_deref(),
                Some(OPERATOR_CERT_CN),
                "{file}: certificate issuer in {a}"
            );
            assert_eq!(a["shellsight"]["tls"]["self_signed"], true, "{file}: self-signed in {a}");
        } else {
            assert!(x509.is_null(), "{file}: a TLS 1.3 certificate is encrypted, yet {x509}");
        }
    }
}

#[test]
fn a_callback_to_an_address_no_dns_answer_or_sni_named_is_direct_ip() {
    // SNI carrying the bare address (ncat, socat) names no name either.
    let mut checked = 0;
    for (file, shell) in shells(|_, s| s["tls"] == true && s["domain"].is_null()) {
        let hits = alerts_for(&file, &shell);
        let a = best(&hits).unwrap_or_else(|| panic!("{file}: no alert"));
        assert!(
            reasons(a).iter().any(|r| r == "direct-ip"),
            "{file}: no direct-ip reason in {:?}",
            reasons(a)
        );
        assert!(a["destination"]["domain"].is_null(), "{file}: a domain for a bare address: {a}");
        checked += 1;
    }
    assert!(checked >= 17, "only {checked} direct-IP TLS shells");
}

#[test]
fn a_shell_to_a_name_the_victim_just_resolved_is_named_by_the_dns_answer() {
    let named = shells(|_, s| s["domain"].is_string());
    assert_eq!(named.len(), 2, "the DNS fixtures are missing from the labels");
    for (file, shell) in named {
        let hits = alerts_for(&file, &shell);
        assert!(hits.iter().any(|a| tier_rank(a) >= 2), "{file}: not at medium or above: {hits:?}");
        for a in &hits {
            assert_eq!(a["destination"]["domain"], shell["domain"], "{file}: destination.domain in {a}");
            assert!(!reasons(a).iter().any(|r| r == "direct-ip"), "{file}: resolved, yet direct-ip: {a}");
        }
    }
}

#[test]
fn a_shell_to_a_dynamic_dns_name_carries_the_ddns_reason() {
    let (file, shell) = shells(|_, s| s["domain"] == "c2box.duckdns.org").pop().expect("DDNS fixture label");
    let hits = alerts_for(&file, &shell);
    let a = best(&hits).unwrap_or_else(|| panic!("{file}: no alert"));
    assert!(tier_rank(a) >= 2, "{file}: {a}");
    assert!(reasons(a).iter().any(|r| r.starts_with("ddns")), "{file}: no ddns reason in {:?}", reasons(a));
    // the plain name must not be taken for a dynamic-DNS one
    let (file, shell) =
        shells(|_, s| s["domain"] == "updates.example-cdn.net").pop().expect("plain-name fixture label");
    for a in alerts_for(&file, &shell) {
        assert!(!reasons(&a).iter().any(|r| r.starts_with("ddns")), "{file}: {a}");
    }
}

#[test]
fn a_cleartext_shell_over_udp_is_found_at_medium() {
    let udp = shells(|_, s| s["transport"] == "udp");
    assert!(!udp.is_empty(), "no UDP shell in the labels");
    for (file, shell) in udp {
        let hits = alerts_for(&file, &shell);
        let a = best(&hits).unwrap_or_else(|| panic!("{file}: UDP shell {} not detected", shell["id"]));
        assert!(tier_rank(a) >= 2, "{file}: only {} ({:?})", a["shellsight"]["tier"], reasons(a));
        assert_eq!(a["network"]["transport"], "udp", "{file}: {a}");
        assert_eq!(a["source"]["ip"], shell["victim"], "{file}: the victim sends the first datagram: {a}");
    }
}

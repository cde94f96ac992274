//! Sysmon as a process source: `replay --sysmon` joins a capture with Event ID 1 (process
//! creation) and 3 (network connection) records, in Winlogbeat's JSON or as EVTX.
//! tests/fixtures/sysmon/iis-webshell.winlogbeat.jsonl was written from Sysmon's documented
//! schema to match tests/fixtures/auditd/php-fpm.pcap: an IIS worker (w3wp.exe) runs
//! cmd.exe, which runs a PowerShell TCPClient reverse shell to 198.19.0.66:4444.

mod common;

use common::*;

#[test]
fn sysmon_events_name_powershell_under_cmd_under_the_iis_worker() {
    let pcap = root().join("tests/fixtures/auditd/php-fpm.pcap");
    let events = root().join("tests/fixtures/sysmon/iis-webshell.winlogbeat.jsonl");
    let alerts = replay(&[&pcap], &["--sysmon", events.to_str().unwrap()]);
    let a = alerts
        .iter()
        .filter(|a| a["destination"]["port"] == 4444)
        .max_by_key(|a| tier_rank(a))
        .unwrap_or_else(|| panic!("no alert for the shell: {alerts:?}"));
    assert_eq!(a["shellsight"]["tier"], "high", "{a}");
    assert_eq!(a["process"]["name"], "powershell.exe", "{a}");
    assert_eq!(a["process"]["pid"], 5032);
    assert_eq!(a["process"]["parent"]["name"], "cmd.exe");
    assert_eq!(a["host"]["name"], "WEB01");
    assert_eq!(a["user"]["name"], "IIS APPPOOL\\DefaultAppPool");
    let chain: Vec<&str> = a["shellsight"]["process"]["ancestry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(chain, ["cmd.exe", "w3wp.exe", "svchost.exe"]);
    let reasons = a["shellsight"]["reasons"].to_string();
    for r in ["shell-process:powershell.exe", "exposed-service-parent:w3wp.exe"] {
        assert!(reasons.contains(r), "{r} missing: {reasons}");
    }
    // The inbound HTTP request (Initiated=false) is held by w3wp.exe, not mistaken for the shell.
    assert!(alerts
        .iter()
        .all(|x| x["destination"]["port"] != 80 || x["process"]["name"] != "powershell.exe"));
}

#[test]
fn the_published_evtx_sample_reads_and_bad_files_are_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("ss-sysmon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let evtx = dir.join("sysmon.evtx");
    let gz = root().join("tests/fixtures/sysmon/sysmon.evtx.gz");
    let out = std::process::Command::new("gzip").arg("-dc").arg(&gz).output().expect("gzip");
    std::fs::write(&evtx, out.stdout).unwrap();
    let pcap = root().join("tests/fixtures/auditd/php-fpm.pcap");
    let out = run(&[
        "-v",
        "replay",
        pcap.to_str().unwrap(),
        "--sysmon",
        evtx.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("358 Sysmon events"), "{err}");

    let bad = dir.join("events.json");
    std::fs::write(&bad, "{\"winlog\": 1}\nnot json\n").unwrap();
    let out = run(&["replay", pcap.to_str().unwrap(), "--sysmon", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("events.json:2:"));
    std::fs::write(&bad, "{\"message\": \"no sysmon here\"}\n").unwrap();
    let out = run(&["replay", pcap.to_str().unwrap(), "--sysmon", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("none a Sysmon event"));
    let _ = std::fs::remove_dir_all(&dir);
}

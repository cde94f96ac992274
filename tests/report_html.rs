//! `replay --report`: the HTML investigation report, checked as a file and in a real
//! browser (Debian's chromium, headless, driven by tests/browser/drive_report.py over the
//! DevTools pipe, without network).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a hostile shell prints to break out of the page, and what it types back.
const HOSTILE: &str = "</script><img src=x onerror=alert(1)>";

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ss-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A little pcap writer: Ethernet, IPv4, TCP.
struct Pcap(Vec<u8>);

impl Pcap {
    fn new() -> Self {
        let mut b = Vec::new();
        for v in [
            0xa1b2c3d4u32.to_le_bytes(),
            [2, 0, 4, 0],
            [0; 4],
            [0; 4],
            65535u32.to_le_bytes(),
            1u32.to_le_bytes(),
        ] {
            b.extend_from_slice(&v);
        }
        Pcap(b)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        ts_us: i64,
        src: [u8; 4],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let mut f = Vec::new();
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = (20 + 20 + payload.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&1u32.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        let (secs, usecs) = (ts_us / 1_000_000, ts_us % 1_000_000);
        self.0.extend_from_slice(&(secs as u32).to_le_bytes());
        self.0.extend_from_slice(&(usecs as u32).to_le_bytes());
        self.0.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.0.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.0.extend_from_slice(&f);
    }
}

/// A reverse shell whose banner carries `HOSTILE`, typed into with think time, well after
/// the demo capture ends (2030).
fn hostile_capture(path: &Path) {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const PSH_ACK: u8 = 0x18;
    const FIN_ACK: u8 = 0x11;
    let (shell, catcher) = ([198, 18, 0, 10], [198, 18, 200, 5]);
    let (sp, cp) = (40_001u16, 4444u16);
    let mut p = Pcap::new();
    let mut t = 1_893_456_000_000_000i64; // 2030-01-01
    let (mut s_seq, mut c_seq) = (1000u32, 5000u32);
    p.tcp(t, shell, sp, catcher, cp, s_seq, SYN, b"");
    p.tcp(t + 300, catcher, cp, shell, sp, c_seq, SYN | ACK, b"");
    s_seq += 1;
    c_seq += 1;
    p.tcp(t + 600, shell, sp, catcher, cp, s_seq, ACK, b"");
    t += 100_000;
    let banner = format!("bash: no job control in this shell\n{HOSTILE}\nroot@web:/# ");
    p.tcp(t, shell, sp, catcher, cp, s_seq, PSH_ACK, banner.as_bytes());
    s_seq += banner.len() as u32;
    for (cmd, answer, think_ms) in [
        ("id\n", "uid=0(root) gid=0(root) groups=0(root)\nroot@web:/# ", 2300),
        ("whoami\n", "root\nroot@web:/# ", 3100),
        (
            "uname -a\n",
            "Linux web 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\nroot@web:/# ",
            1700,
        ),
        ("hostname\n", "web\nroot@web:/# ", 4200),
        (
            "cat /etc/passwd\n",
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\nroot@web:/# ",
            2900,
        ),
    ] {
        t += think_ms * 1000;
        p.tcp(t, catcher, cp, shell, sp, c_seq, PSH_ACK, cmd.as_bytes());
        c_seq += cmd.len() as u32;
        t += 4_000;
        p.tcp(t, shell, sp, catcher, cp, s_seq, PSH_ACK, answer.as_bytes());
        s_seq += answer.len() as u32;
    }
    t += 1_000_000;
    p.tcp(t, shell, sp, catcher, cp, s_seq, FIN_ACK, b"");
    p.tcp(t + 300, catcher, cp, shell, sp, c_seq, FIN_ACK, b"");
    std::fs::write(path, p.0).unwrap();
}

/// Replays the demo capture and the hostile one with `--report`; returns the report's
/// path and the alert records.
fn make_report(dir: &Path, extra: &[&str]) -> (PathBuf, Vec<Value>) {
    let hostile = dir.join("hostile.pcap");
    hostile_capture(&hostile);
    let report = dir.join("report.html");
    let mut args = vec![
        "replay".to_string(),
        fixture("demo.pcap").display().to_string(),
        hostile.display().to_string(),
        "--format".into(),
        "json".into(),
        "--report".into(),
        report.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = Command::new(bin()).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (report, json_lines(&out.stdout))
}

fn sessions(alerts: &[Value]) -> BTreeSet<String> {
    alerts.iter().map(|a| a["shellsight"]["session_id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_report_is_one_self_contained_file_with_hostile_text_escaped() {
    let dir = tmp_dir("file");
    let (report, alerts) = make_report(&dir, &[]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        alerts.iter().any(|a| a["destination"]["port"] == 4444 && a["destination"]["ip"] == "198.18.200.5"),
        "the hostile shell was not flagged: {alerts:?}"
    );
    // Escaped where it is shown, and never raw.
    assert!(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"), "hostile banner not shown");
    assert!(!html.contains(HOSTILE));
    assert!(!html.contains("<img"));
    assert_eq!(html.matches("<script>").count(), 1);
    assert_eq!(html.matches("</script>").count(), 1);
    // No external assets.
    for needle in ["src=\"http", "href=\"http", "src=\"//", "@import", "url(http"] {
        assert!(!html.contains(needle), "external reference {needle}");
    }
    // One chart per alerted session (fewer than the default top 25), one row per record.
    let expected = sessions(&alerts);
    assert_eq!(html.matches("<svg class=\"timeline\"").count(), expected.len());
    for id in &expected {
        assert!(html.contains(&format!("data-session=\"{id}\"")), "no chart for {id}");
    }
    assert_eq!(html.matches("<tr>").count() + html.matches("<tr class=").count(), alerts.len() + 1);
    assert!(html.contains("id=\"count-sessions-high\"><b>5</b>"), "5 high sessions expected");
}

#[test]
fn report_top_limits_the_charts_to_the_best_sessions_and_keeps_every_row() {
    let dir = tmp_dir("top");
    let (report, alerts) = make_report(&dir, &["--report-top", "2"]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("<svg class=\"timeline\"").count(), 2);
    assert!(html.contains(&format!("All alerts ({})", alerts.len())));
    // The two charted sessions have the highest scores.
    let mut best: Vec<i64> = alerts.iter().map(|a| a["shellsight"]["score"].as_i64().unwrap()).collect();
    best.sort_unstable_by(|a, b| b.cmp(a));
    let titles: Vec<&str> = html.split("<article class=\"session\"").skip(1).collect();
    for (t, score) in titles.iter().zip(&best) {
        assert!(t.contains(&format!("</span> {score} ·")), "chart out of order: {score}");
    }
}

#[test]
fn the_report_renders_and_sorts_in_a_real_browser() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new("sh")
                .args(["-c", &format!("command -v {c}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium is not installed (bash .ci/install installs it)");
    let dir = tmp_dir("browser");
    let (report, alerts) = make_report(&dir, &[]);
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&shot);
    std::fs::copy(&report, artifacts.join("report.html")).unwrap();
    let out = Command::new("python3")
        .arg(root().join("tests/browser/drive_report.py"))
        .args([
            chromium,
            report.to_str().unwrap(),
            shot.to_str().unwrap(),
            dir.join("profile").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "browser driver failed: {}", String::from_utf8_lossy(&out.stderr));
    let facts: Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("browser saw: {facts}");
    println!("screenshot: {}", shot.display());

    let expected = sessions(&alerts).len() as u64;
    assert_eq!(facts["charts"], expected, "{facts}");
    assert_eq!(facts["charts_with_bars"], expected, "{facts}");
    assert_eq!(facts["decision_marks"], alerts.len() as u64);
    assert_eq!(facts["rows"], alerts.len() as u64);
    // Clicking Score sorts ascending, clicking again descending.
    let scores =
        |k: &str| -> Vec<i64> { facts[k].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect() };
    let mut sorted = scores("scores_before");
    sorted.sort_unstable();
    assert_ne!(scores("scores_before"), sorted, "the table was sorted already: the test would prove nothing");
    assert_eq!(scores("scores_after_click"), sorted);
    sorted.reverse();
    assert_eq!(scores("scores_after_second_click"), sorted);
    assert_eq!(facts["sort_state"], "ascending");
    // The hostile banner is text on the page, not an element, and nothing ran.
    assert_eq!(facts["images"], 0);
    assert_eq!(facts["hostile_text_shown"], true);
    assert_eq!(facts["console_errors"], serde_json::json!([]), "{facts}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot is {} bytes", png.len());
}

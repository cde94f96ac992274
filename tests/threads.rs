//! `--threads N` shards flows over worker threads; the alerts (and flow records) must be
//! byte for byte those of the single-threaded pipeline.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn replay_bytes(cap: &Path, threads: &str, flows: &Path) -> Vec<u8> {
    let out = Command::new(bin())
        .args(["replay", "--format", "json", "--threads", threads, "--flows"])
        .arg(flows)
        .arg(cap)
        .output()
        .expect("run shellsight");
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn same_output_for_any_thread_count(cap: &Path, dir: &Path, min_alerts: usize) {
    let f1 = dir.join("flows-1.jsonl");
    let one = replay_bytes(cap, "1", &f1);
    assert!(json_lines(&one).len() >= min_alerts, "{}: too few alerts to compare", cap.display());
    for n in ["2", "3"] {
        let fnn = dir.join(format!("flows-{n}.jsonl"));
        let many = replay_bytes(cap, n, &fnn);
        assert!(one == many, "{}: --threads {n} alerts differ from --threads 1", cap.display());
        let (a, b) = (std::fs::read(&f1).unwrap(), std::fs::read(&fnn).unwrap());
        assert!(!a.is_empty() && a == b, "{}: --threads {n} flow records differ", cap.display());
    }
}

#[test]
fn threads_give_identical_output_on_the_demo() {
    let dir = std::env::temp_dir().join(format!("shellsight-threads-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    same_output_for_any_thread_count(&fixture("demo.pcap"), &dir, 6);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn threads_give_identical_output_on_a_generated_capture() {
    let dir = std::env::temp_dir().join(format!("shellsight-threads-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("gen.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_shellsight-gencap"))
        .args(["--packets", "150000", "--seed", "11", "-o"])
        .arg(&cap)
        .output()
        .expect("run shellsight-gencap");
    assert!(out.status.success(), "gencap failed: {}", String::from_utf8_lossy(&out.stderr));
    // The generator's two reverse shells are in it.
    same_output_for_any_thread_count(&cap, &dir, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_generator_is_deterministic() {
    let dir = std::env::temp_dir().join(format!("shellsight-gencap-det-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gen = |name: &str, seed: &str| {
        let p = dir.join(name);
        let out = Command::new(env!("CARGO_BIN_EXE_shellsight-gencap"))
            .args(["--packets", "30000", "--syn-flood", "500", "--seed", seed, "-o"])
            .arg(&p)
            .output()
            .expect("run shellsight-gencap");
        assert!(out.status.success());
        std::fs::read(p).unwrap()
    };
    let (a, b, c) = (gen("a.pcap", "5"), gen("b.pcap", "5"), gen("c.pcap", "6"));
    assert!(a == b, "same seed, different bytes");
    assert!(a != c, "different seeds, same bytes");
    // 24-byte header, then 16-byte record headers: count the records.
    let (mut at, mut n) = (24usize, 0u64);
    while at + 16 <= a.len() {
        let caplen = u32::from_le_bytes(a[at + 8..at + 12].try_into().unwrap()) as usize;
        let wire = u32::from_le_bytes(a[at + 12..at + 16].try_into().unwrap()) as usize;
        assert!(caplen <= wire);
        at += 16 + caplen;
        n += 1;
    }
    assert_eq!(at, a.len());
    assert_eq!(n, 30_500);
    let _ = std::fs::remove_dir_all(&dir);
}

//! The command line people meet: help with examples everywhere, shell completions, the
//! man page, JSON logs, the progress bar (only on a terminal), and the exit codes the
//! README documents.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ss-cli2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The subcommands a `--help` lists under "Commands:" (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_and_subcommand_has_examples_in_its_help() {
    let top = text(&run(&["--help"]).stdout);
    assert!(top.contains("Examples:"), "{top}");
    let mut pending: Vec<Vec<String>> = subcommands(&top).into_iter().map(|c| vec![c]).collect();
    assert!(pending.len() >= 8, "{pending:?}");
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout);
        let examples =
            help.split("Examples:").nth(1).unwrap_or_else(|| panic!("no examples in {args:?}:\n{help}"));
        let leaf = path.last().unwrap();
        assert!(
            examples.contains(&format!("shellsight {}", path.join(" "))) || examples.contains(leaf.as_str()),
            "{args:?}: examples do not show the command:\n{examples}"
        );
        seen += 1;
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub);
            pending.push(p);
        }
    }
    assert!(seen >= 16, "only {seen} commands have help");
}

#[test]
fn bash_completion_completes_subcommands_and_options() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success());
    let script = tmp("shellsight.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // Source it and ask it, as bash does on <TAB>.
    let ask = |words: &str| -> String {
        let cmd = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _shellsight shellsight \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let o = Command::new("bash").args(["-c", &cmd]).output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let subs = ask("shellsight re");
    assert!(subs.lines().any(|l| l == "replay"), "{subs}");
    let opts = ask("shellsight replay --rep");
    assert!(opts.lines().any(|l| l == "--report") && opts.lines().any(|l| l == "--report-top"), "{opts}");
    for (shell, marker) in [
        ("zsh", "#compdef shellsight"),
        ("fish", "complete -c shellsight"),
        ("elvish", "shellsight"),
        ("powershell", "shellsight"),
    ] {
        let o = run(&["completions", shell]);
        assert!(o.status.success() && text(&o.stdout).contains(marker), "{shell}");
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_and_one_page_per_command_can_be_written() {
    let out = run(&["man"]);
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(page.contains(".TH shellsight 1"), "{page}");
    for sub in ["replay", "sensor", "agent", "geoip", "config", "baseline", "completions"] {
        assert!(page.contains(sub), "{sub} missing from the man page");
    }
    let dir = tmp("man");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(run(&["man", "--dir", dir.to_str().unwrap()]).status.success());
    let replay = std::fs::read_to_string(dir.join("shellsight-replay.1")).unwrap();
    assert!(replay.contains("\\-\\-report") && replay.contains("capture.pcap"), "{replay}");
    assert!(dir.join("shellsight-baseline-forget.1").exists());
    // It renders, when a formatter is at hand.
    if let Ok(o) = Command::new("groff")
        .args(["-man", "-Tutf8", dir.join("shellsight-replay.1").to_str().unwrap()])
        .output()
    {
        assert!(o.status.success() && text(&o.stdout).contains("report"), "{}", text(&o.stderr));
    }
}

#[test]
fn log_format_json_writes_each_log_line_as_a_json_object() {
    let full = std::fs::read(fixture("captures/shell_02_nc_e.pcap")).unwrap();
    let p = tmp("cut.pcap");
    std::fs::write(&p, &full[..full.len() * 3 / 4 + 7]).unwrap();
    let out = run(&["replay", p.to_str().unwrap(), "-o", "/dev/null", "-q", "--log-format", "json"]);
    assert!(out.status.success());
    // -q keeps only errors: the warning is not one.
    assert!(text(&out.stderr).trim().is_empty(), "{}", text(&out.stderr));
    let out = run(&["replay", p.to_str().unwrap(), "-o", "/dev/null", "--log-format", "json"]);
    let stderr = text(&out.stderr);
    // The closing summary stays text; the log records are the JSON lines.
    let logs: Vec<Value> =
        stderr.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    let warning =
        logs.iter().find(|l| l["level"] == "WARN").unwrap_or_else(|| panic!("no JSON warning in {stderr}"));
    assert!(warning["fields"]["message"].as_str().unwrap().contains("truncated"), "{warning}");
    assert!(warning["timestamp"].is_string());
    // The same run in text: the warning is a plain line.
    let out = run(&["replay", p.to_str().unwrap(), "-o", "/dev/null"]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.lines().any(|l| l.contains("WARN") && l.contains("truncated") && !l.starts_with('{')),
        "{stderr}"
    );
}

/// A capture big enough (over 32 MiB) to get a progress bar on a terminal.
fn big_capture() -> PathBuf {
    let p = tmp("big.pcap");
    if !p.exists() {
        let gencap = env!("CARGO_BIN_EXE_shellsight-gencap");
        let o =
            Command::new(gencap).args(["--packets", "60000", "-o", p.to_str().unwrap()]).output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    assert!(std::fs::metadata(&p).unwrap().len() > 32 << 20);
    p
}

#[test]
fn a_long_replay_shows_a_progress_bar_on_a_terminal_and_nothing_otherwise() {
    let big = big_capture();
    // stderr is a pipe: no bar, only the summary.
    let out = run(&["replay", big.to_str().unwrap(), "-o", "/dev/null"]);
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(!stderr.contains('\r') && !stderr.contains("MiB") && !stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("packets/s"));
    // On a terminal (util-linux `script` gives it a pty): the bar, with the file's name.
    let cmd = format!("{} replay {} -o /dev/null", bin(), big.display());
    let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let tty = text(&o.stdout);
    assert!(tty.contains("big.pcap [") && tty.contains("MiB"), "{tty:?}");
    // -q on a terminal: silent.
    let cmd = format!("{} replay {} -o /dev/null -q", bin(), big.display());
    let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    assert!(text(&o.stdout).trim().is_empty(), "{:?}", text(&o.stdout));
}

#[test]
fn exit_codes_are_those_the_readme_documents() {
    let code = |args: &[&str]| run(args).status.code();
    let demo = fixture("demo.pcap");
    let demo = demo.to_str().unwrap();
    // 0: done, whether or not there were alerts.
    let out = run(&["replay", demo, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!json_lines(&out.stdout).is_empty(), "the demo has alerts");
    let benign = fixture("captures/benign_16_curl.pcap");
    let out = run(&["replay", benign.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(json_lines(&out.stdout).is_empty());
    assert_eq!(code(&["--help"]), Some(0));
    assert_eq!(code(&["--version"]), Some(0));
    // 1: an input or run-time failure.
    let notes = tmp("notes.txt");
    std::fs::write(&notes, "not packets").unwrap();
    assert_eq!(code(&["replay", notes.to_str().unwrap()]), Some(1));
    assert_eq!(code(&["replay", "/nonexistent/x.pcap"]), Some(1));
    assert_eq!(code(&["replay", demo, "-o", "/nonexistent/dir/alerts.jsonl"]), Some(1));
    assert_eq!(code(&["replay", demo, "--report", "/nonexistent/dir/r.html"]), Some(1));
    // 2: bad usage, or an invalid site policy.
    assert_eq!(code(&[]), Some(2));
    assert_eq!(code(&["replay"]), Some(2));
    assert_eq!(code(&["replay", demo, "--no-such-flag"]), Some(2));
    assert_eq!(code(&["replay", demo, "--threads", "0"]), Some(2));
    assert_eq!(code(&["replay", demo, "--report-top", "3"]), Some(2), "--report-top needs --report");
    let bad = tmp("bad.toml");
    std::fs::write(&bad, "[[exclusion]]\nreason = 1\n").unwrap();
    assert_eq!(code(&["replay", demo, "--config", bad.to_str().unwrap()]), Some(2));
    assert_eq!(code(&["config", "check", bad.to_str().unwrap()]), Some(2));
}

//! `shellsight config check` run as a real binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn shellsight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shellsight")).args(args).output().expect("run shellsight")
}

fn example() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/site.example.toml").to_string()
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shellsight-config-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("site.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn example_file_is_ok() {
    let file = example();
    let out = shellsight(&["config", "check", &file, "--at", "2026-06-01"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout, format!("{file}: ok (5 roles, 3 exclusions, 1 admin ranges)\n"));
    assert!(!stderr.contains("warning"), "nothing has expired by 2026-06-01: {stderr}");
}

#[test]
fn expired_exclusions_are_warned_about_but_pass() {
    let file = example();
    let out = shellsight(&["config", "check", &file, "--at", "2027-04-01"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("exclusion[1] expired on 2027-03-31"), "{stderr}");
    assert!(warnings[0].contains("dba@example.com"), "{stderr}");
    // The expiry day itself still counts.
    let out = shellsight(&["config", "check", &file, "--at", "2027-03-31"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning:"));
}

#[test]
fn broken_file_exits_2_naming_file_line_and_field() {
    let path = scratch(
        "bad-date",
        "[site]\ntimezone = \"Europe/Berlin\"\n\n[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-06-30\"\n\
         source = [\"10.0.0.1\"]\n\n[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-13-01\"\n\
         source = [\"10.0.0.2\"]\n",
    );
    let out = shellsight(&["config", "check", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr.trim_end(),
        format!(
            "shellsight: {}:13: exclusion[1].expires: \"2027-13-01\" is not a date (YYYY-MM-DD)",
            path.display()
        )
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn unknown_key_and_syntax_error_exit_2() {
    let path = scratch(
        "unknown",
        "[site]\nhome_nets = [\"10.0.0.0/8\"]\ntimezone = \"UTC\"\nbusiness_hour = \"08:00-19:00\"\n",
    );
    let out = shellsight(&["config", "check", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:4: site.business_hour: unknown field", path.display())), "{stderr}");

    std::fs::write(&path, "[site]\nhome_nets = [\"10.0.0.0/8\",\n").unwrap();
    let out = shellsight(&["config", "check", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:", path.display())) && stderr.contains("TOML syntax"), "{stderr}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn missing_file_and_bad_at_exit_2() {
    let out = shellsight(&["config", "check", "/nonexistent/site.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/site.toml"));
    let out = shellsight(&["config", "check", &example(), "--at", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at"));
}

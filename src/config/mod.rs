//! Site policy: which networks are home, what role each internal host plays, which
//! ranges admins work from, when the site is off-hours, which sessions are excluded (with
//! an owner and an expiry), site ASN classes and the process lists the tiers use.
//!
//! Loaded once from `--config site.toml` (see `deploy/site.example.toml`); without a file,
//! [`SitePolicy::default`] applies. Every query is pure: time comes from the capture
//! timestamp handed in, never the wall clock.

pub mod cidr;
mod parse;
pub mod process;
pub mod schedule;

pub use cidr::{Cidr, CidrMap, CidrSet};
pub use process::{NameList, ProcessLists};
pub use schedule::{Hours, Schedule};

use crate::context::AsnClass;
use crate::error::{Error, Result};
use crate::time::Timestamp;
use regex::RegexSet;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

/// Home networks when the file names none: RFC 1918 and IPv6 unique-local addresses.
pub const DEFAULT_HOME_NETS: &[&str] = &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

/// What an internal host is for; it decides how much a shell-like session from it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Server,
    Workstation,
    Bastion,
    CiRunner,
    Backup,
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::Server, Role::Workstation, Role::Bastion, Role::CiRunner, Role::Backup, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Workstation => "workstation",
            Role::Bastion => "bastion",
            Role::CiRunner => "ci-runner",
            Role::Backup => "backup",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        let s = s.trim().to_ascii_lowercase();
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            format!("{s:?} is not a role (expected server, workstation, bastion, ci-runner, backup or admin)")
        })
    }
}

/// A documented exception: sessions it matches are not alerted on (or are marked
/// excluded), until the end of its `expires` day in the site's time zone.
#[derive(Debug, Clone)]
pub struct Exclusion {
    /// Position in the file, 0-based, as in `exclusion[0]` in messages.
    pub index: usize,
    /// Line of its `[[exclusion]]` header.
    pub line: usize,
    pub reason: String,
    pub owner: String,
    /// `YYYY-MM-DD`, as written.
    pub expires: String,
    /// First instant at which it no longer applies (the end of the `expires` day).
    pub expires_at: Timestamp,
    pub(crate) source: Option<CidrSet>,
    pub(crate) destination: Option<CidrSet>,
    pub(crate) destination_asn: Option<Vec<u32>>,
    pub(crate) destination_port: Option<Vec<u16>>,
    pub(crate) process_name: Option<NameList>,
    pub(crate) parent_name: Option<NameList>,
    pub(crate) command_line: Option<RegexSet>,
}

impl Exclusion {
    /// Whether it has expired at capture time `at`.
    pub fn is_expired(&self, at: Timestamp) -> bool {
        at >= self.expires_at
    }

    /// Whether it needs process context (process, parent or command line) to match.
    pub fn needs_process_context(&self) -> bool {
        self.process_name.is_some() || self.parent_name.is_some() || self.command_line.is_some()
    }

    /// Every field present must match; within a field any entry may. Process fields
    /// never match a query that lacks that piece of process context.
    pub fn matches(&self, q: &ExclusionQuery<'_>) -> bool {
        /// An absent field matches anything; a present one needs the query's value.
        fn want<W, H: Copy>(want: &Option<W>, have: Option<H>, ok: impl Fn(&W, H) -> bool) -> bool {
            match want {
                None => true,
                Some(w) => have.is_some_and(|h| ok(w, h)),
            }
        }
        want(&self.source, Some(q.source), |s, ip| s.contains(ip))
            && want(&self.destination, Some(q.destination), |s, ip| s.contains(ip))
            && want(&self.destination_port, Some(q.destination_port), |ports, p| ports.contains(&p))
            && want(&self.destination_asn, q.destination_asn, |asns, a| asns.contains(&a))
            && want(&self.process_name, q.process_name, |names, n| names.matches(n))
            && want(&self.parent_name, q.parent_name, |names, n| names.matches(n))
            && want(&self.command_line, q.command_line, |re, c| re.is_match(c))
    }
}

/// What is known about a session when asking whether an exclusion covers it. Process
/// fields are `None` until attribution has found the process.
#[derive(Debug, Clone, Copy)]
pub struct ExclusionQuery<'a> {
    /// The internal end (the host that runs the shell).
    pub source: IpAddr,
    /// The remote end it talks to.
    pub destination: IpAddr,
    pub destination_port: u16,
    pub destination_asn: Option<u32>,
    pub process_name: Option<&'a str>,
    pub command_line: Option<&'a str>,
    pub parent_name: Option<&'a str>,
}

/// The answer of [`SitePolicy::exclusion_for`]. `index` is the exclusion's 0-based
/// position in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExclusionOutcome {
    None,
    Excluded {
        index: usize,
        reason: String,
        owner: String,
    },
    /// It would have matched but expired; it no longer suppresses anything.
    Expired {
        index: usize,
        reason: String,
        owner: String,
        expired_on: String,
    },
}

/// The validated site policy. See the module docs.
#[derive(Debug, Clone)]
pub struct SitePolicy {
    pub(crate) home_nets: CidrSet,
    pub(crate) schedule: Schedule,
    pub(crate) roles: CidrMap<Role>,
    pub(crate) role_blocks: usize,
    pub(crate) admin_ranges: CidrSet,
    pub(crate) exclusions: Vec<Exclusion>,
    pub(crate) asn_classes: HashMap<u32, AsnClass>,
    pub(crate) process: ProcessLists,
}

impl Default for SitePolicy {
    fn default() -> Self {
        SitePolicy {
            home_nets: DEFAULT_HOME_NETS.iter().filter_map(|c| c.parse().ok()).collect(),
            schedule: Schedule::default(),
            roles: CidrMap::new(),
            role_blocks: 0,
            admin_ranges: CidrSet::new(),
            exclusions: Vec::new(),
            asn_classes: HashMap::new(),
            process: ProcessLists::default(),
        }
    }
}

impl SitePolicy {
    /// Reads and validates a policy file. Any problem, unreadable file included, is a
    /// usage error (exit 2) naming the file, line and field.
    pub fn load(path: &Path) -> Result<SitePolicy> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::usage(format!("{name}: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let line =
                1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count();
            Error::usage(format!("{name}:{line}: the file is not UTF-8"))
        })?;
        Self::parse(&text, &name)
    }

    /// Validates policy text; `file_name` is used in error messages only.
    pub fn parse(text: &str, file_name: &str) -> Result<SitePolicy> {
        parse::parse(text).map_err(|e| Error::usage(e.render(file_name)))
    }

    pub fn is_home(&self, ip: IpAddr) -> bool {
        self.home_nets.contains(ip)
    }

    pub fn home_nets(&self) -> &[Cidr] {
        self.home_nets.cidrs()
    }

    /// The role of the most specific `[[role]]` CIDR that holds `ip`.
    pub fn role_of(&self, ip: IpAddr) -> Option<Role> {
        self.roles.longest_match(ip).map(|(_, r)| *r)
    }

    /// Whether `ip` is in an approved admin range (`[admin] approved_ranges`).
    pub fn is_admin(&self, ip: IpAddr) -> bool {
        self.admin_ranges.contains(ip)
    }

    pub fn admin_ranges(&self) -> &[Cidr] {
        self.admin_ranges.cidrs()
    }

    /// Whether capture time `t` is outside business hours in the site's time zone.
    pub fn is_off_hours(&self, t: Timestamp) -> bool {
        self.schedule.is_off_hours(t)
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The first live exclusion that matches; failing that, the first expired one that
    /// would have matched (reported so the alert can say so); else `None`.
    pub fn exclusion_for(&self, q: &ExclusionQuery<'_>, at: Timestamp) -> ExclusionOutcome {
        let mut expired = None;
        for e in self.exclusions.iter().filter(|e| e.matches(q)) {
            if !e.is_expired(at) {
                return ExclusionOutcome::Excluded {
                    index: e.index,
                    reason: e.reason.clone(),
                    owner: e.owner.clone(),
                };
            }
            expired.get_or_insert(e);
        }
        match expired {
            Some(e) => ExclusionOutcome::Expired {
                index: e.index,
                reason: e.reason.clone(),
                owner: e.owner.clone(),
                expired_on: e.expires.clone(),
            },
            None => ExclusionOutcome::None,
        }
    }

    pub fn exclusions(&self) -> &[Exclusion] {
        &self.exclusions
    }

    /// Exclusions already expired at `at`, for a start-up warning.
    pub fn expired_exclusions(&self, at: Timestamp) -> Vec<&Exclusion> {
        self.exclusions.iter().filter(|e| e.is_expired(at)).collect()
    }

    /// Site ASN classes that override the bundled classification.
    pub fn asn_class_overrides(&self) -> HashMap<u32, AsnClass> {
        self.asn_classes.clone()
    }

    pub fn process_lists(&self) -> &ProcessLists {
        &self.process
    }

    /// Number of `[[role]]` tables.
    pub fn role_count(&self) -> usize {
        self.role_blocks
    }
}

#[cfg(test)]
mod tests;

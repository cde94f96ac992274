//! TOML text → raw structs with spans → validated [`SitePolicy`]. Every error carries
//! the line and the field path (`exclusion[1].expires`, `site.home_nets[2]`), 0-based
//! indexes as in the file's order.

use super::cidr::{Cidr, CidrError, CidrMap, CidrSet};
use super::process::{validate_entry, NameList, ProcessLists};
use super::schedule::{parse_days, parse_hours, Schedule, WEEKDAYS};
use super::{Exclusion, Role, SitePolicy};
use crate::context::AsnClass;
use regex::RegexSet;
use serde::Deserialize;
use std::collections::HashMap;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

type S<T> = Spanned<T>;
type List<T> = Option<S<Vec<S<T>>>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    site: Option<RawSite>,
    #[serde(default)]
    role: Vec<S<RawRole>>,
    admin: Option<RawAdmin>,
    #[serde(default)]
    exclusion: Vec<S<RawExclusion>>,
    #[serde(default)]
    asn_class: Vec<S<RawAsnClass>>,
    process: Option<RawProcess>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    home_nets: List<String>,
    timezone: Option<S<String>>,
    business_hours: Option<S<String>>,
    business_days: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: Option<S<String>>,
    cidrs: List<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    approved_ranges: List<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusion {
    reason: Option<S<String>>,
    owner: Option<S<String>>,
    /// A string or a bare TOML date.
    expires: Option<S<toml::Value>>,
    source: List<String>,
    destination: List<String>,
    destination_asn: List<u32>,
    destination_port: List<u16>,
    process_name: List<String>,
    parent_name: List<String>,
    command_line: List<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsnClass {
    asn: Option<S<u32>>,
    class: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    shells: List<String>,
    extra_shells: List<String>,
    interpreters: List<String>,
    extra_interpreters: List<String>,
    exposed_services: List<String>,
    extra_exposed_services: List<String>,
    java_services: List<String>,
    extra_java_services: List<String>,
    trusted_automation: List<String>,
    extra_trusted_automation: List<String>,
}

/// A problem at a place in the text.
#[derive(Debug)]
pub(super) struct ParseError {
    line: usize,
    path: String,
    message: String,
}

impl ParseError {
    /// `FILE:LINE: PATH: MESSAGE`, on one line.
    pub(super) fn render(&self, file: &str) -> String {
        let message = self.message.trim().replace('\n', "; ");
        if self.path.is_empty() {
            format!("{file}:{}: {message}", self.line)
        } else {
            format!("{file}:{}: {}: {message}", self.line, self.path)
        }
    }
}

struct Ctx<'a> {
    text: &'a str,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        1 + self.text.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count()
    }

    fn err(&self, span: Range<usize>, path: impl Into<String>, message: impl Into<String>) -> ParseError {
        ParseError { line: self.line(span.start), path: path.into(), message: message.into() }
    }
}

pub(super) fn parse(text: &str) -> Result<SitePolicy, ParseError> {
    let cx = Ctx { text };
    let tree = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => return Err(syntax_error(&cx, &e)),
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let start = e.span().map_or(0, |s| s.start);
            let mut path = Vec::new();
            let table = DeValue::Table(tree.get_ref().clone());
            find_path(&table, start, &mut path);
            return Err(ParseError {
                line: cx.line(start),
                path: path.concat(),
                message: e.message().to_string(),
            });
        }
    };
    validate(&cx, raw)
}

/// A TOML syntax error: the line, and the key being written there if one can be found.
fn syntax_error(cx: &Ctx<'_>, e: &toml::de::Error) -> ParseError {
    let start = e.span().map_or(0, |s| s.start);
    let (partial, _) = DeTable::parse_recoverable(cx.text);
    let mut path = Vec::new();
    find_path(&DeValue::Table(partial.into_inner()), start, &mut path);
    let path = if path.is_empty() {
        // The key at the start of the offending line, if it has one.
        let line_start = cx.text[..start.min(cx.text.len())].rfind('\n').map_or(0, |i| i + 1);
        let line = cx.text[line_start..].lines().next().unwrap_or("");
        match line.split_once('=') {
            Some((k, _)) if is_bare_key(k.trim()) => match table_header(&cx.text[..line_start]) {
                Some(table) => format!("{table}.{}", k.trim()),
                None => k.trim().to_string(),
            },
            _ => String::new(),
        }
    } else {
        path.concat()
    };
    let path = if path.is_empty() { "TOML syntax".to_string() } else { format!("{path} (TOML syntax)") };
    ParseError { line: cx.line(start), path, message: e.message().to_string() }
}

/// The table a line belongs to, from the last `[name]` or `[[name]]` header in `before`:
/// `site`, or `exclusion[2]` for the third `[[exclusion]]`.
fn table_header(before: &str) -> Option<String> {
    let header = before.lines().rev().map(str::trim).find(|l| l.starts_with('['))?;
    let header = header.split('#').next().unwrap_or(header).trim();
    if let Some(name) = header.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
        let name = name.trim();
        let count = before
            .lines()
            .filter(|l| {
                l.trim().strip_prefix("[[").and_then(|h| h.split("]]").next()).map(str::trim) == Some(name)
            })
            .count();
        return Some(format!("{name}[{}]", count.saturating_sub(1)));
    }
    header.strip_prefix('[').and_then(|h| h.strip_suffix(']')).map(|h| h.trim().to_string())
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Builds the path (`exclusion`, `[1]`, `.expires`) to the innermost key or value whose
/// span holds `offset`. Key spans are exact, so tables are searched even when their own
/// span (a `[[header]]`) does not cover the offset.
fn find_path(value: &DeValue<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    let holds = |s: Range<usize>| s.start <= offset && offset < s.end.max(s.start + 1);
    match value {
        DeValue::Table(t) => {
            for (k, v) in t.iter() {
                let seg = if path.is_empty() { k.get_ref().to_string() } else { format!(".{}", k.get_ref()) };
                path.push(seg);
                if holds(k.span()) || find_path(v.get_ref(), offset, path) || holds(v.span()) {
                    return true;
                }
                path.pop();
            }
            false
        }
        DeValue::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(format!("[{i}]"));
                if find_path(v.get_ref(), offset, path) || holds(v.span()) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

fn validate(cx: &Ctx<'_>, raw: RawFile) -> Result<SitePolicy, ParseError> {
    let mut policy = SitePolicy::default();

    if let Some(site) = raw.site {
        if let Some(nets) = &site.home_nets {
            policy.home_nets = cidr_set(cx, nets, "site.home_nets")?;
        }
        let tz = match &site.timezone {
            Some(tz) => {
                super::schedule::time_zone(tz.get_ref())
                    .map_err(|m| cx.err(tz.span(), "site.timezone", m))?;
                tz.get_ref().clone()
            }
            None => "UTC".to_string(),
        };
        let hours = match &site.business_hours {
            Some(h) => {
                Some(parse_hours(h.get_ref()).map_err(|m| cx.err(h.span(), "site.business_hours", m))?)
            }
            None => None,
        };
        let days = match &site.business_days {
            Some(d) => parse_days(d.get_ref()).map_err(|m| cx.err(d.span(), "site.business_days", m))?,
            None => WEEKDAYS,
        };
        // Days without hours mean whole days.
        let hours = match (hours, &site.business_days) {
            (None, Some(_)) => Some(super::Hours { start: 0, end: 24 * 60 }),
            (h, _) => h,
        };
        policy.schedule = Schedule::new(&tz, hours, days)
            .map_err(|m| cx.err(site.timezone.as_ref().map_or(0..0, |t| t.span()), "site.timezone", m))?;
    }

    // Roles: the same network may not be given two roles.
    let mut role_lines: CidrMap<(Role, usize)> = CidrMap::new();
    for (i, r) in raw.role.iter().enumerate() {
        let at = format!("role[{i}]");
        let body = r.get_ref();
        let name = body
            .name
            .as_ref()
            .ok_or_else(|| cx.err(r.span(), format!("{at}.name"), "missing; every [[role]] needs a name"))?;
        let role: Role =
            name.get_ref().parse().map_err(|m: String| cx.err(name.span(), format!("{at}.name"), m))?;
        let cidrs = body
            .cidrs
            .as_ref()
            .ok_or_else(|| cx.err(r.span(), format!("{at}.cidrs"), "missing; every [[role]] needs cidrs"))?;
        if cidrs.get_ref().is_empty() {
            return Err(cx.err(
                cidrs.span(),
                format!("{at}.cidrs"),
                "is empty; list the networks this role covers",
            ));
        }
        for (j, c) in cidrs.get_ref().iter().enumerate() {
            let cidr = parse_cidr(cx, c, &format!("{at}.cidrs[{j}]"))?;
            let line = cx.line(c.span().start);
            if let Some((other, other_line)) = role_lines.get(&cidr) {
                if *other != role {
                    return Err(cx.err(
                        c.span(),
                        format!("{at}.cidrs[{j}]"),
                        format!("{cidr} is already role {other} (line {other_line}); a network has one role"),
                    ));
                }
            }
            role_lines.insert(cidr, (role, line));
            policy.roles.insert(cidr, role);
        }
    }
    policy.role_blocks = raw.role.len();

    if let Some(admin) = &raw.admin {
        if let Some(ranges) = &admin.approved_ranges {
            policy.admin_ranges = cidr_set(cx, ranges, "admin.approved_ranges")?;
        }
    }

    for (i, e) in raw.exclusion.iter().enumerate() {
        let ex = exclusion(cx, i, e, &policy.schedule)?;
        policy.exclusions.push(ex);
    }

    let mut asn_lines: HashMap<u32, usize> = HashMap::new();
    for (i, a) in raw.asn_class.iter().enumerate() {
        let at = format!("asn_class[{i}]");
        let body = a.get_ref();
        let asn = body.asn.as_ref().ok_or_else(|| cx.err(a.span(), format!("{at}.asn"), "missing"))?;
        let class = body.class.as_ref().ok_or_else(|| cx.err(a.span(), format!("{at}.class"), "missing"))?;
        let value: AsnClass =
            class.get_ref().parse().map_err(|m: String| cx.err(class.span(), format!("{at}.class"), m))?;
        let n = *asn.get_ref();
        if let Some(line) = asn_lines.insert(n, cx.line(asn.span().start)) {
            return Err(cx.err(
                asn.span(),
                format!("{at}.asn"),
                format!("AS{n} is already classed at line {line}"),
            ));
        }
        policy.asn_classes.insert(n, value);
    }

    if let Some(p) = &raw.process {
        policy.process = process_lists(cx, p)?;
    }
    Ok(policy)
}

fn parse_cidr(cx: &Ctx<'_>, c: &S<String>, path: &str) -> Result<Cidr, ParseError> {
    c.get_ref().parse().map_err(|e| {
        let s = c.get_ref();
        let m = match e {
            CidrError::Syntax => {
                format!("{s:?} is not a CIDR (e.g. \"10.0.0.0/8\", \"fc00::/7\" or one address)")
            }
            CidrError::HostBits(net) => format!("{s:?} has host bits set; did you mean \"{net}\"?"),
        };
        cx.err(c.span(), path, m)
    })
}

fn cidr_set(cx: &Ctx<'_>, list: &S<Vec<S<String>>>, path: &str) -> Result<CidrSet, ParseError> {
    let mut set = CidrSet::new();
    for (i, c) in list.get_ref().iter().enumerate() {
        set.insert(parse_cidr(cx, c, &format!("{path}[{i}]"))?);
    }
    Ok(set)
}

/// A list field that is present and not empty; an empty list constrains nothing.
fn nonempty<T>(l: &List<T>) -> Option<&[S<T>]> {
    l.as_ref().map(|l| l.get_ref().as_slice()).filter(|l| !l.is_empty())
}

fn names(cx: &Ctx<'_>, list: &[S<String>], path: &str) -> Result<NameList, ParseError> {
    for (i, n) in list.iter().enumerate() {
        validate_entry(n.get_ref()).map_err(|m| cx.err(n.span(), format!("{path}[{i}]"), m))?;
    }
    Ok(NameList::new(list.iter().map(|n| n.get_ref())))
}

fn exclusion(
    cx: &Ctx<'_>,
    i: usize,
    e: &S<RawExclusion>,
    schedule: &Schedule,
) -> Result<Exclusion, ParseError> {
    let at = format!("exclusion[{i}]");
    let body = e.get_ref();
    let required = |f: &Option<S<String>>, field: &str| -> Result<String, ParseError> {
        let hint = "every exclusion needs reason, owner and expires";
        match f {
            None => Err(cx.err(e.span(), format!("{at}.{field}"), format!("missing; {hint}"))),
            Some(s) if s.get_ref().trim().is_empty() => {
                Err(cx.err(s.span(), format!("{at}.{field}"), format!("is empty; {hint}")))
            }
            Some(s) => Ok(s.get_ref().trim().to_string()),
        }
    };
    let reason = required(&body.reason, "reason")?;
    let owner = required(&body.owner, "owner")?;
    let expires = body.expires.as_ref().ok_or_else(|| {
        cx.err(e.span(), format!("{at}.expires"), "missing; every exclusion needs reason, owner and expires")
    })?;
    let text = match expires.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        other => other.to_string(),
    };
    let date = parse_date(&text).ok_or_else(|| {
        cx.err(expires.span(), format!("{at}.expires"), format!("{text:?} is not a date (YYYY-MM-DD)"))
    })?;

    let source = match nonempty(&body.source) {
        Some(l) => Some(cidrs_at(cx, l, &format!("{at}.source"))?),
        None => None,
    };
    let destination = match nonempty(&body.destination) {
        Some(l) => Some(cidrs_at(cx, l, &format!("{at}.destination"))?),
        None => None,
    };
    let destination_asn = nonempty(&body.destination_asn).map(|l| l.iter().map(|a| *a.get_ref()).collect());
    let destination_port = nonempty(&body.destination_port).map(|l| l.iter().map(|p| *p.get_ref()).collect());
    let process_name = match nonempty(&body.process_name) {
        Some(l) => Some(names(cx, l, &format!("{at}.process_name"))?),
        None => None,
    };
    let parent_name = match nonempty(&body.parent_name) {
        Some(l) => Some(names(cx, l, &format!("{at}.parent_name"))?),
        None => None,
    };
    let command_line = match nonempty(&body.command_line) {
        Some(l) => {
            for (j, r) in l.iter().enumerate() {
                if let Err(err) = regex::Regex::new(r.get_ref()) {
                    let why = err.to_string();
                    let why = why.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
                    let why = why.strip_prefix("error: ").unwrap_or(why);
                    return Err(cx.err(
                        r.span(),
                        format!("{at}.command_line[{j}]"),
                        format!("{:?} is not a regex: {why}", r.get_ref()),
                    ));
                }
            }
            let set = RegexSet::new(l.iter().map(|r| r.get_ref())).map_err(|err| {
                cx.err(
                    l[0].span(),
                    format!("{at}.command_line"),
                    format!("the regexes are too large together: {err}"),
                )
            })?;
            Some(set)
        }
        None => None,
    };

    let ex = Exclusion {
        index: i,
        line: cx.line(e.span().start),
        reason,
        owner,
        expires: date.to_string(),
        expires_at: schedule.end_of_day(date),
        source,
        destination,
        destination_asn,
        destination_port,
        process_name,
        parent_name,
        command_line,
    };
    let constrains = ex.source.is_some()
        || ex.destination.is_some()
        || ex.destination_asn.is_some()
        || ex.destination_port.is_some()
        || ex.needs_process_context();
    if !constrains {
        return Err(cx.err(
            e.span(),
            at,
            "matches every session: give at least one of source, destination, destination_asn, \
             destination_port, process_name, parent_name, command_line",
        ));
    }
    Ok(ex)
}

fn cidrs_at(cx: &Ctx<'_>, list: &[S<String>], path: &str) -> Result<CidrSet, ParseError> {
    let mut set = CidrSet::new();
    for (i, c) in list.iter().enumerate() {
        set.insert(parse_cidr(cx, c, &format!("{path}[{i}]"))?);
    }
    Ok(set)
}

/// Exactly `YYYY-MM-DD`, a real calendar day.
fn parse_date(s: &str) -> Option<jiff::civil::Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: Range<usize>| -> Option<i16> {
        let part = &s[r];
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    jiff::civil::Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

fn process_lists(cx: &Ctx<'_>, p: &RawProcess) -> Result<ProcessLists, ParseError> {
    let mut lists = ProcessLists::default();
    let apply = |target: &mut NameList,
                 replace: &List<String>,
                 extra: &List<String>,
                 name: &str|
     -> Result<(), ParseError> {
        if let Some(r) = replace {
            *target = names(cx, r.get_ref(), &format!("process.{name}"))?;
        }
        if let Some(x) = extra {
            let more = names(cx, x.get_ref(), &format!("process.extra_{name}"))?;
            target.extend(more.entries());
        }
        Ok(())
    };
    apply(&mut lists.shells, &p.shells, &p.extra_shells, "shells")?;
    apply(&mut lists.interpreters, &p.interpreters, &p.extra_interpreters, "interpreters")?;
    apply(&mut lists.exposed_services, &p.exposed_services, &p.extra_exposed_services, "exposed_services")?;
    apply(
        &mut lists.trusted_automation,
        &p.trusted_automation,
        &p.extra_trusted_automation,
        "trusted_automation",
    )?;

    let markers = |l: &[S<String>], path: &str| -> Result<Vec<String>, ParseError> {
        l.iter()
            .enumerate()
            .map(|(i, m)| {
                let s = m.get_ref().trim();
                if s.is_empty() {
                    Err(cx.err(m.span(), format!("{path}[{i}]"), "is empty"))
                } else {
                    Ok(s.to_string())
                }
            })
            .collect()
    };
    if let Some(r) = &p.java_services {
        lists.java_services = markers(r.get_ref(), "process.java_services")?;
    }
    if let Some(x) = &p.extra_java_services {
        for m in markers(x.get_ref(), "process.extra_java_services")? {
            if !lists.java_services.contains(&m) {
                lists.java_services.push(m);
            }
        }
    }
    Ok(lists)
}

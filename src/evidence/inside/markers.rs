//! Known webshell families by what their traffic carries (`webshell-markers.csv`,
//! embedded, one source per entry): what the client sends to drive the shell and what the
//! shell wraps its answers in. A marker alone names nothing: a family counts as driven only
//! when a request carries its request marker and that request's own answer its response
//! marker (see `webshell`).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::sync::OnceLock;

const LIST: &str = include_str!("webshell-markers.csv");

/// Where a marker is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// One marker of the list.
#[derive(Debug, Clone, Copy)]
pub struct Marker {
    pub family: &'static str,
    pub side: Side,
    pub pattern: &'static str,
}

/// Families found, one bit per family in list order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Families(u32);

impl Families {
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn and(self, o: Families) -> Families {
        Families(self.0 & o.0)
    }
    pub fn or(self, o: Families) -> Families {
        Families(self.0 | o.0)
    }
    /// The first family in list order.
    pub fn first(self) -> Option<&'static str> {
        let t = table();
        t.families.iter().enumerate().find(|(i, _)| self.0 & (1 << i) != 0).map(|(_, f)| *f)
    }
    /// Families of the set that list no response marker.
    pub fn without_response_marker(self) -> Families {
        Families(self.0 & !table().with_response.0)
    }
}

struct Table {
    markers: Vec<Marker>,
    families: Vec<&'static str>,
    /// Families with at least one response marker.
    with_response: Families,
    request: AhoCorasick,
    request_ids: Vec<usize>,
    response: AhoCorasick,
    response_ids: Vec<usize>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let markers: Vec<Marker> = LIST
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.splitn(4, ',');
                let (family, side, _source, pattern) = (f.next()?, f.next()?, f.next()?, f.next()?);
                let side = match side.trim() {
                    "request" => Side::Request,
                    "response" => Side::Response,
                    _ => return None,
                };
                (!pattern.is_empty()).then_some(Marker { family: family.trim(), side, pattern })
            })
            .collect();
        let mut families: Vec<&'static str> = Vec::new();
        for m in &markers {
            if !families.contains(&m.family) {
                families.push(m.family);
            }
        }
        let build = |side: Side| {
            let picked: Vec<usize> = (0..markers.len()).filter(|&i| markers[i].side == side).collect();
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(picked.iter().map(|&i| markers[i].pattern))
                .expect("marker patterns compile");
            (ac, picked)
        };
        let (request, request_ids) = build(Side::Request);
        let (response, response_ids) = build(Side::Response);
        let mut with_response = Families::default();
        for m in markers.iter().filter(|m| m.side == Side::Response) {
            let i = families.iter().position(|f| *f == m.family).unwrap_or(0);
            with_response.0 |= 1 << i;
        }
        Table { markers, families, with_response, request, request_ids, response, response_ids }
    })
}

/// The families whose markers of `side` occur in `text`.
pub fn find(side: Side, text: &[u8]) -> Families {
    let t = table();
    let (ac, ids) = match side {
        Side::Request => (&t.request, &t.request_ids),
        Side::Response => (&t.response, &t.response_ids),
    };
    let mut found = Families::default();
    for m in ac.find_overlapping_iter(text) {
        let marker = &t.markers[ids[m.pattern().as_usize()]];
        if let Some(i) = t.families.iter().position(|f| *f == marker.family) {
            found.0 |= 1 << i;
        }
    }
    found
}

/// Every marker of the list (for tests and documentation).
pub fn all() -> &'static [Marker] {
    &table().markers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_loads_and_every_family_can_be_driven() {
        assert!(all().len() >= 10);
        assert!(table().families.len() <= 32, "one bit per family");
        for f in &table().families {
            assert!(
                all().iter().any(|m| m.family == *f && m.side == Side::Request),
                "{f} has no request marker"
            );
        }
        for line in LIST.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let source = line.split(',').nth(2).unwrap_or("");
            assert!(source.starts_with("https://"), "no source: {line}");
        }
    }

    #[test]
    fn chopper_is_found_on_both_sides() {
        let req = find(Side::Request, b"caidao=@eval(base64_decode($_POST['z0']));&z0=QGluaV9zZXQ=");
        let resp = find(Side::Response, b"->|www-data\n|<-");
        assert_eq!(req.and(resp).first(), Some("china-chopper"));
        assert!(find(Side::Request, b"GET /index.html?page=2").is_empty());
    }
}

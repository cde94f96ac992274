//! Dynamic-DNS and tunnelling zones (`geoip/dns-services.csv`, embedded): a callback to a
//! name under one of them is to an address its owner can re-point at will, or to a relay
//! in front of a listener behind NAT.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    DynamicDns,
    Tunnel,
}

/// The service a name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameService {
    pub kind: ServiceKind,
    /// The zone that matched (`duckdns.org`).
    pub zone: &'static str,
    pub service: &'static str,
}

impl NameService {
    /// The verdict's reason: `ddns:duckdns.org`, `tunnel-service:ngrok`.
    pub fn reason(&self) -> String {
        match self.kind {
            ServiceKind::DynamicDns => format!("ddns:{}", self.zone),
            ServiceKind::Tunnel => {
                format!("tunnel-service:{}", self.service.to_ascii_lowercase().replace(' ', "-"))
            }
        }
    }
}

const LIST: &str = include_str!("../../geoip/dns-services.csv");

fn zones() -> &'static HashMap<&'static str, NameService> {
    static ZONES: OnceLock<HashMap<&'static str, NameService>> = OnceLock::new();
    ZONES.get_or_init(|| {
        LIST.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split(',');
                let (zone, kind, service) = (f.next()?.trim(), f.next()?.trim(), f.next()?.trim());
                let kind = match kind {
                    "ddns" => ServiceKind::DynamicDns,
                    "tunnel" => ServiceKind::Tunnel,
                    _ => return None,
                };
                Some((zone, NameService { kind, zone, service }))
            })
            .collect()
    })
}

/// The service whose zone holds `name` (the longest matching zone), if any.
pub fn classify(name: &str) -> Option<NameService> {
    let name = name.trim_end_matches('.');
    let zones = zones();
    let mut rest = name;
    loop {
        if let Some(s) = zones.get(rest.to_ascii_lowercase().as_str()) {
            return Some(*s);
        }
        rest = rest.split_once('.')?.1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_under_a_listed_zone_match_on_label_boundaries() {
        let s = classify("c2box.DuckDNS.org.").expect("duckdns");
        assert_eq!((s.kind, s.reason()), (ServiceKind::DynamicDns, "ddns:duckdns.org".to_string()));
        assert_eq!(classify("0.tcp.eu.ngrok.io").unwrap().reason(), "tunnel-service:ngrok");
        assert_eq!(classify("abc-def.trycloudflare.com").unwrap().kind, ServiceKind::Tunnel);
        assert_eq!(classify("notduckdns.org"), None);
        assert_eq!(classify("updates.example.net"), None);
        assert_eq!(classify(""), None);
    }

    #[test]
    fn every_line_of_the_list_parses() {
        let lines = LIST.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
        assert_eq!(zones().len(), lines, "a line of dns-services.csv did not parse (or repeats)");
    }
}

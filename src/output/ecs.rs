//! ECS-shaped records: nested JSON objects with Elastic Common Schema field names, one per
//! line, so they drop into Elastic, OpenSearch or any SIEM.

use crate::detect::{FlowRecord, SessionSummary};
use crate::evidence::Dir;
use crate::flow::community_id::community_id_v1;
use crate::flow::key::Endpoint;
use crate::report::Alert;
use serde_json::{json, Map, Value};

fn endpoint(ep: &Endpoint) -> Value {
    json!({ "ip": ep.ip.to_string(), "port": ep.port })
}

fn community_id(src: &Endpoint, dst: &Endpoint) -> String {
    community_id_v1(0, src.ip, src.port, dst.ip, dst.port)
}

/// The ECS record of an alert.
pub fn alert(a: &Alert) -> Value {
    let d = &a.detection;
    let mut source = endpoint(&d.source);
    let mut destination = endpoint(&d.destination);
    if let Some(net) = &d.placement.remote_network {
        let asn = json!({ "number": net.asn, "organization": { "name": net.organization } });
        let remote = if d.shell_side == Dir::Orig { &mut destination } else { &mut source };
        remote["as"] = asn;
    }
    let tier = a.verdict.tier.map(|t| t.as_str()).unwrap_or("none");
    let mut shellsight = json!({
        "tier": tier,
        "score": a.verdict.score,
        "reasons": a.verdict.reasons,
        "session_id": d.session_id,
        "shell_side": if d.shell_side == Dir::Orig { "source" } else { "destination" },
        "direction_inferred": d.direction_inferred,
        "session": session(&d.summary),
    });
    let s = shellsight.as_object_mut().expect("object");
    if let Some(prev) = &a.supersedes {
        s.insert("supersedes".into(), Value::String(prev.clone()));
    }
    if let Some(net) = &d.placement.remote_network {
        s.insert("remote_class".into(), Value::String(net.class.as_str().into()));
    }
    if let Some(role) = d.placement.role {
        s.insert("role".into(), Value::String(role.as_str().into()));
    }
    if let Some(ex) = &a.excluded {
        s.insert("excluded".into(), json!({ "reason": ex.reason, "owner": ex.owner, "index": ex.index }));
    }
    if a.attribution_pending {
        s.insert("attribution".into(), Value::String("pending".into()));
    }
    let mut record = json!({
        "@timestamp": d.decided_at.to_rfc3339(),
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["connection", "info"],
            "module": "shellsight",
            "dataset": "shellsight.alert",
            "id": a.event_id,
            "start": d.session_start.to_rfc3339(),
            "severity": a.verdict.tier.map(|t| t.severity()).unwrap_or(0),
        },
        "rule": { "name": rule_name(&a.verdict.reasons, d.shell_side), "ruleset": "shellsight" },
        "source": source,
        "destination": destination,
        "network": {
            "transport": "tcp",
            "type": if d.source.ip.is_ipv4() { "ipv4" } else { "ipv6" },
            "direction": d.placement.direction,
            "community_id": community_id(&d.source, &d.destination),
        },
        "shellsight": shellsight,
    });
    if let Some(extra) = &a.enrichment {
        if let (Some(r), Some(e)) = (record.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                merge(r, k, v.clone());
            }
        }
    }
    record
}

fn merge(into: &mut Map<String, Value>, key: &str, value: Value) {
    match (into.get_mut(key), value) {
        (Some(Value::Object(dst)), Value::Object(src)) => {
            for (k, v) in src {
                merge(dst, &k, v);
            }
        }
        (_, v) => {
            into.insert(key.to_string(), v);
        }
    }
}

/// A short name for what kind of shell the reasons describe. The shell side says the
/// direction: a shell on the initiator called out (reverse), one on the responder was
/// connected to (bind).
pub fn rule_name(reasons: &[String], shell_side: Dir) -> &'static str {
    let has = |r: &str| reasons.iter().any(|x| x == r || x.starts_with(&format!("{r}:")));
    if has("exposed-service-parent") {
        "Shell spawned by an exposed service"
    } else if has("staged-executable") || has("length-prefixed-stage") {
        "Shell stager"
    } else if has("service-port") {
        "Interactive session on its service port"
    } else if shell_side == Dir::Resp {
        "Bind shell"
    } else if has("encrypted") {
        "Encrypted reverse shell"
    } else {
        "Reverse shell"
    }
}

fn session(s: &SessionSummary) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

/// The ECS record of a finished flow.
pub fn flow(f: &FlowRecord) -> Value {
    let s = &f.summary;
    json!({
        "@timestamp": f.end.to_rfc3339(),
        "event": {
            "kind": "event",
            "category": ["network"],
            "type": ["connection", "end"],
            "module": "shellsight",
            "dataset": "shellsight.flow",
            "start": f.start.to_rfc3339(),
            "end": f.end.to_rfc3339(),
            "duration": (f.end - f.start).as_nanos(),
            "reason": f.end_reason.as_str(),
        },
        "source": {
            "ip": f.source.ip.to_string(), "port": f.source.port,
            "bytes": s.orig.bytes, "packets": s.orig.packets,
        },
        "destination": {
            "ip": f.destination.ip.to_string(), "port": f.destination.port,
            "bytes": s.resp.bytes, "packets": s.resp.packets,
        },
        "network": {
            "transport": "tcp",
            "type": if f.source.ip.is_ipv4() { "ipv4" } else { "ipv6" },
            "bytes": s.orig.bytes + s.resp.bytes,
            "packets": s.orig.packets + s.resp.packets,
            "community_id": community_id(&f.source, &f.destination),
        },
        "shellsight": {
            "session_id": f.session_id,
            "tier": f.reported.map(|t| t.as_str()),
            "direction_inferred": f.direction_inferred,
            "session": session(s),
        },
    })
}

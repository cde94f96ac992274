//! ECS-shaped records: nested JSON objects with Elastic Common Schema field names, one per
//! line, so they drop into Elastic, OpenSearch or any SIEM.

use crate::decode::Transport;
use crate::detect::{FlowRecord, SessionSummary};
use crate::evidence::inside::smb::{Outcome, SmbFacts};
use crate::evidence::inside::webshell::WebFacts;
use crate::evidence::inside::InsideFacts;
use crate::evidence::{tls, Dir, TlsFacts};
use crate::flow::community_id::community_id_v1;
use crate::flow::key::Endpoint;
use crate::report::Alert;
use crate::verdict::Reason;
use serde_json::{json, Map, Value};

fn endpoint(ep: &Endpoint) -> Value {
    json!({ "ip": ep.ip.to_string(), "port": ep.port })
}

fn community_id(transport: Transport, src: &Endpoint, dst: &Endpoint) -> String {
    community_id_v1(0, transport.ip_number(), src.ip, src.port, dst.ip, dst.port)
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
    if let Some(name) = &d.placement.remote_domain {
        let remote = if d.shell_side == Dir::Orig { &mut destination } else { &mut source };
        remote["domain"] = Value::String(name.to_string());
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
    if let Some(cert) = d.tls.as_deref().and_then(|t| t.certificate.as_ref()) {
        s.insert("tls".into(), json!({ "self_signed": cert.self_signed }));
    }
    if let Some(net) = &d.placement.remote_network {
        s.insert("remote_class".into(), Value::String(net.class.as_str().into()));
    }
    if let Some(role) = d.placement.role {
        s.insert("role".into(), Value::String(role.as_str().into()));
    }
    if let Some(i) = &d.injection {
        s.insert("injection".into(), injection(i));
    }
    match d.inside.as_deref() {
        Some(InsideFacts::Web(w)) => {
            s.insert("webshell".into(), webshell(w));
        }
        Some(InsideFacts::Smb(smb)) => {
            s.insert("smb".into(), smb_exec(smb));
        }
        None => {}
    }
    if let Some(series) = &d.series {
        s.insert("series".into(), series_json(series));
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
            "transport": d.transport.as_str(),
            "iana_number": d.transport.ip_number().to_string(),
            "type": if d.source.ip.is_ipv4() { "ipv4" } else { "ipv6" },
            "direction": d.placement.direction,
            "community_id": community_id(d.transport, &d.source, &d.destination),
        },
        "shellsight": shellsight,
    });
    if let Some(p) = d.summary.protocol {
        record["network"]["protocol"] = json!(p);
    }
    if let Some(t) = d.tls.as_deref().and_then(tls) {
        record["tls"] = t;
    }
    if let Some(crate::verdict::Injection::Request(lead)) = &d.injection {
        if let Some(url) = &lead.url {
            record["url"] = json!({ "original": url });
        }
    }
    if let Some(web) = d.inside.as_deref().and_then(InsideFacts::web) {
        if let Some(e) = web.headline() {
            let mut url = json!({ "original": e.uri, "path": e.path });
            if let Some(q) = &e.query {
                url["query"] = json!(q);
            }
            record["url"] = url;
            record["http"] = json!({
                "request": { "method": e.method },
                "response": { "status_code": e.status },
            });
        }
    }
    if let Some(extra) = &a.enrichment {
        if let (Some(r), Some(e)) = (record.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                merge(r, k, v.clone());
            }
        }
    }
    record
}

/// `shellsight.webshell`: the parameter that carried the commands, the first commands as
/// decoded, how they were wrapped, the output that came back, and the family when its
/// markers were on both sides.
fn webshell(w: &WebFacts) -> Value {
    let mut out = json!({
        "commands": w.commands(),
        "exchanges": w.paired.max(w.family_exchanges),
    });
    if let Some(e) = w.headline() {
        if let Some(c) = &e.command {
            out["parameter"] = json!(c.parameter);
            out["parameter_in"] = json!(c.place);
            out["encoding"] = json!(c.encoding.as_str());
        }
        if let Some(k) = e.output {
            out["output"] = json!(k.as_str());
        }
    }
    if let Some(f) = w.family() {
        out["family"] = json!(f);
    }
    out
}

/// `shellsight.smb`: pipes, services and tasks, the executable pushed, the commands typed
/// or run, and whether the session was encrypted (then only its shape was judged).
fn smb_exec(smb: &SmbFacts) -> Value {
    let services: Vec<Value> = smb
        .services
        .iter()
        .map(|s| {
            let outcome = match s.outcome {
                Outcome::Requested => "requested",
                Outcome::Succeeded => "succeeded",
                Outcome::Failed => "failed",
            };
            let mut v = json!({ "name": s.name, "outcome": outcome });
            if let Some(p) = &s.binary_path {
                v["binary_path"] = json!(p);
            }
            if s.changed {
                v["changed_existing"] = json!(true);
            }
            v
        })
        .collect();
    let mut out = json!({
        "pipes": smb.pipes,
        "exec_pipes": smb.exec_pipes,
        "services": services,
        "commands": smb.commands,
        "encrypted": smb.encrypted,
    });
    if let Some(d) = smb.dialect {
        // 0x0210 is 2.1, 0x0311 is 3.1.1 (MS-SMB2 2.2.4).
        let (major, minor, patch) = (d >> 8, (d >> 4) & 0xf, d & 0xf);
        let name = if patch == 0 { format!("{major}.{minor}") } else { format!("{major}.{minor}.{patch}") };
        out["dialect"] = json!(name);
    }
    if let Some(f) = &smb.executable_upload {
        out["executable_upload"] = json!(f);
    }
    if !smb.tasks.is_empty() {
        let tasks: Vec<Value> = smb.tasks.iter().map(|(p, c)| json!({ "path": p, "command": c })).collect();
        out["tasks"] = json!(tasks);
    }
    if smb.encrypted {
        out["encrypted_messages"] =
            json!({ "client": smb.encrypted_messages[0], "server": smb.encrypted_messages[1] });
        out["typed_lines_inside_encryption"] = json!(smb.encrypted_typed);
        out["note"] = json!("SMB 3 encryption hides pipes and data: judged by the session's shape (upload size, turn-taking) only");
    }
    out
}

/// `shellsight.injection`: the request that carried a callback payload, and the end it
/// named, on both the request's alert and the callback's.
fn injection(i: &crate::verdict::Injection) -> Value {
    let l = i.lead();
    let role = match i {
        crate::verdict::Injection::Request(_) => "request",
        crate::verdict::Injection::Callback(_) => "callback",
    };
    let mut request = json!({
        "at": l.at.to_rfc3339(),
        "source": { "ip": l.attacker.ip().to_string(), "port": l.attacker.port() },
        "destination": { "ip": l.target.ip().to_string(), "port": l.target.port() },
    });
    if let Some(url) = &l.url {
        request["url"] = json!(url);
    }
    json!({
        "role": role,
        "request": request,
        "callback": { "ip": l.callback.ip().to_string(), "port": l.callback.port() },
        "payload": l.payload,
        "encoding": l.encoding,
    })
}

/// `shellsight.series`: a poller's check-ins so far: first and last, how many, their
/// interval and jitter, the bytes each way, and the operator's tasks.
fn series_json(s: &crate::series::SeriesFacts) -> Value {
    let mut out = json!({
        "first": s.first.to_rfc3339(),
        "last": s.last.to_rfc3339(),
        "checkins": s.count,
        "sessions": s.sessions,
        "bytes": { "client": s.bytes[0], "server": s.bytes[1] },
        "held": s.held,
    });
    if let Some(b) = &s.beacon {
        out["interval_s"] = json!((b.interval_s * 10.0).round() / 10.0);
        out["jitter"] = json!((b.jitter * 100.0).round() / 100.0);
    }
    if let Some(o) = &s.operator {
        out["operator"] = json!({ "tasks": o.tasks, "first_task": o.first_task.to_rfc3339(), "fast_checkins": o.fast_checkins });
    }
    if let Some(n) = &s.name {
        out["name"] = json!(n.as_ref());
    }
    out
}

/// ECS `tls.*`: the negotiated version, the client's SNI and JA4, and on TLS 1.2 and
/// older the server certificate's names.
fn tls(t: &TlsFacts) -> Option<Value> {
    let mut out = Map::new();
    let version =
        t.server.as_ref().map(|s| s.version).or_else(|| t.client.as_ref()?.versions.iter().copied().max());
    if let Some(v) = version {
        out.insert("version".into(), json!(tls::version_name(v)));
        out.insert("version_protocol".into(), json!("tls"));
    }
    if let Some(s) = &t.server {
        out.insert("cipher".into(), json!(tls::cipher_name(s.cipher)));
    }
    if let Some(c) = &t.client {
        let mut client = Map::new();
        if let Some(sni) = &c.sni {
            client.insert("server_name".into(), json!(sni));
        }
        client.insert("ja4".into(), json!(c.ja4));
        if !c.alpn.is_empty() {
            client.insert("supported_protocols".into(), json!(c.alpn));
        }
        out.insert("client".into(), Value::Object(client));
    }
    if let Some(cert) = &t.certificate {
        let name = |cn: &Option<String>| json!({ "common_name": cn.iter().collect::<Vec<_>>() });
        out.insert(
            "server".into(),
            json!({ "x509": { "subject": name(&cert.subject_cn), "issuer": name(&cert.issuer_cn) } }),
        );
    }
    (!out.is_empty()).then_some(Value::Object(out))
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
pub fn rule_name(reasons: &[Reason], shell_side: Dir) -> &'static str {
    let has = |kind: &str| reasons.iter().any(|r| r.kind() == kind);
    if has("operator-tasks") || has("beacon") {
        "Command-and-control polling"
    } else if has("injection-payload") {
        "Command injection carrying a reverse shell"
    } else if has("injection-callback") {
        "Reverse shell called back by a command injection"
    } else if has("webshell-output") || has("webshell-family") {
        "Webshell"
    } else if reasons.iter().any(|r| r.kind().starts_with("smb-")) {
        "Remote execution over SMB"
    } else if has("exposed-service-parent") {
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
    let mut record = json!({
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
            "transport": f.transport.as_str(),
            "iana_number": f.transport.ip_number().to_string(),
            "type": if f.source.ip.is_ipv4() { "ipv4" } else { "ipv6" },
            "bytes": s.orig.bytes + s.resp.bytes,
            "packets": s.orig.packets + s.resp.packets,
            "community_id": community_id(f.transport, &f.source, &f.destination),
        },
        "shellsight": {
            "session_id": f.session_id,
            "tier": f.reported.map(|t| t.as_str()),
            "direction_inferred": f.direction_inferred,
            "session": session(s),
        },
    });
    if let Some(p) = s.protocol {
        record["network"]["protocol"] = json!(p);
    }
    record
}

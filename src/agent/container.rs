//! Container context without API access: the container id and runtime from
//! `/proc/<pid>/cgroup`, then pod, namespace, container name, image and service account
//! from the runtime's on-disk state under the host root.
//!
//! Parsing (`container_from_cgroup`, `parse_oci_config`, `parse_docker_config`,
//! `service_account_from_jwt`) is pure; `lookup` does the file access.

use super::procfs::CgroupLine;
use base64::Engine;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    Containerd,
    CriO,
    Docker,
    Podman,
    /// cgroupfs-driver paths (`/kubepods/<qos>/pod<uid>/<id>`) do not name the runtime;
    /// `lookup` probes each runtime's state.
    Unknown,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Unknown => "unknown",
        }
    }
}

/// What the cgroup path says about a process's container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    /// 64 lowercase hex digits.
    pub id: String,
    pub runtime: Runtime,
    /// Pod uid with dashes (systemd paths write it with underscores).
    pub pod_uid: Option<String>,
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Recognises one path segment holding a container id.
fn segment_id(seg: &str) -> Option<(String, Runtime)> {
    let base = seg.strip_suffix(".scope").unwrap_or(seg);
    let prefixes: [(&str, Runtime); 5] = [
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::CriO),
        ("docker-", Runtime::Docker),
        ("libpod-", Runtime::Podman),
        ("cri-containerd:", Runtime::Containerd),
    ];
    for (prefix, runtime) in prefixes {
        if let Some(id) = base.strip_prefix(prefix) {
            // `crio-conmon-<id>` is CRI-O's monitor, not the container.
            return is_container_id(id).then(|| (id.to_string(), runtime));
        }
    }
    is_container_id(base).then(|| (base.to_string(), Runtime::Unknown))
}

fn pod_uid_of(seg: &str) -> Option<String> {
    let base = seg.strip_suffix(".slice").unwrap_or(seg);
    // systemd: kubepods-besteffort-pod<uid_with_underscores>; cgroupfs: pod<uid>.
    let idx = base.rfind("pod")?;
    let uid = &base[idx + 3..];
    (uid.len() >= 32 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_' || b == b'-'))
        .then(|| uid.replace('_', "-"))
}

/// Finds the container a process is in from its cgroup lines (v1 or v2; systemd or
/// cgroupfs driver; containerd, CRI-O, Docker, Podman). None for host processes.
pub fn container_from_cgroup(lines: &[CgroupLine]) -> Option<ContainerRef> {
    // Prefer the unified (v2) line, then the systemd name line, then any.
    let mut order: Vec<&CgroupLine> = lines.iter().collect();
    order.sort_by_key(|l| match (l.hierarchy, l.controllers.as_str()) {
        (0, "") => 0,
        (_, "name=systemd") => 1,
        _ => 2,
    });
    for line in order {
        let segs: Vec<&str> = line.path.split('/').filter(|s| !s.is_empty()).collect();
        for (i, seg) in segs.iter().enumerate().rev() {
            if let Some((id, mut runtime)) = segment_id(seg) {
                let pod_uid = segs[..i].iter().rev().find_map(|s| pod_uid_of(s));
                if runtime == Runtime::Unknown && i > 0 && segs[i - 1] == "docker" {
                    runtime = Runtime::Docker;
                }
                return Some(ContainerRef { id, runtime, pod_uid });
            }
        }
    }
    None
}

/// Metadata found in a runtime's state for one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeMeta {
    pub container_name: Option<String>,
    pub image: Option<String>,
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_uid: Option<String>,
    /// Host path mounted at the container's service-account directory.
    pub sa_token_dir: Option<String>,
    pub service_account: Option<String>,
}

const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const SA_DIR_ALT: &str = "/run/secrets/kubernetes.io/serviceaccount";

fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Parses an OCI bundle `config.json` as containerd (CRI) or CRI-O write it.
pub fn parse_oci_config(content: &str) -> Option<RuntimeMeta> {
    let v: Value = serde_json::from_str(content).ok()?;
    let ann = v.get("annotations").cloned().unwrap_or(Value::Null);
    let first = |keys: &[&str]| keys.iter().find_map(|k| str_at(&ann, k));
    let sa_token_dir = v.get("mounts").and_then(Value::as_array).and_then(|mounts| {
        mounts.iter().find_map(|m| {
            let dest = m.get("destination")?.as_str()?;
            (dest == SA_DIR || dest == SA_DIR_ALT).then(|| str_at(m, "source")).flatten()
        })
    });
    Some(RuntimeMeta {
        container_name: first(&["io.kubernetes.cri.container-name", "io.kubernetes.container.name"]),
        image: first(&[
            "io.kubernetes.cri.image-name",
            "io.kubernetes.cri-o.ImageName",
            "io.kubernetes.cri-o.Image",
        ]),
        pod_name: first(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]),
        pod_namespace: first(&["io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"]),
        pod_uid: first(&["io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"]),
        sa_token_dir,
        service_account: None,
    })
}

/// Parses Docker's `config.v2.json` (`Name`, `Config.Image`, `Config.Labels`, `MountPoints`).
pub fn parse_docker_config(content: &str) -> Option<RuntimeMeta> {
    let v: Value = serde_json::from_str(content).ok()?;
    let config = v.get("Config").cloned().unwrap_or(Value::Null);
    let labels = config.get("Labels").cloned().unwrap_or(Value::Null);
    let sa_token_dir = v.get("MountPoints").and_then(Value::as_object).and_then(|mp| {
        mp.iter().find_map(|(dest, m)| {
            (dest == SA_DIR || dest == SA_DIR_ALT).then(|| str_at(m, "Source")).flatten()
        })
    });
    Some(RuntimeMeta {
        container_name: str_at(&labels, "io.kubernetes.container.name")
            .or_else(|| str_at(&v, "Name").map(|n| n.trim_start_matches('/').to_string())),
        image: str_at(&config, "Image"),
        pod_name: str_at(&labels, "io.kubernetes.pod.name"),
        pod_namespace: str_at(&labels, "io.kubernetes.pod.namespace"),
        pod_uid: str_at(&labels, "io.kubernetes.pod.uid"),
        sa_token_dir,
        service_account: None,
    })
}

/// The service account named by a Kubernetes token's claims (payload decoded, signature
/// not verified): projected tokens' `kubernetes.io.serviceaccount.name`, legacy
/// secret tokens' `kubernetes.io/serviceaccount/service-account.name`, else `sub`
/// (`system:serviceaccount:<ns>:<name>`).
pub fn service_account_from_jwt(token: &str) -> Option<String> {
    let payload = token.trim().split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    if let Some(name) = claims.pointer("/kubernetes.io/serviceaccount/name").and_then(Value::as_str) {
        return Some(name.to_string());
    }
    if let Some(name) =
        claims.get("kubernetes.io/serviceaccount/service-account.name").and_then(Value::as_str)
    {
        return Some(name.to_string());
    }
    let sub = claims.get("sub")?.as_str()?;
    let rest = sub.strip_prefix("system:serviceaccount:")?;
    rest.split_once(':').map(|(_, name)| name.to_string())
}

fn under_root(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

fn read(root: &Path, abs: &str) -> Option<String> {
    std::fs::read_to_string(under_root(root, abs)).ok()
}

fn containerd_state(root: &Path, id: &str) -> Option<RuntimeMeta> {
    const TASKS: &str = "/run/containerd/io.containerd.runtime.v2.task";
    if let Some(c) = read(root, &format!("{TASKS}/k8s.io/{id}/config.json")) {
        return parse_oci_config(&c);
    }
    // Other containerd namespaces (moby, default, ...).
    for ns in std::fs::read_dir(under_root(root, TASKS)).ok()?.flatten() {
        if let Ok(c) = std::fs::read_to_string(ns.path().join(id).join("config.json")) {
            return parse_oci_config(&c);
        }
    }
    None
}

fn crio_state(root: &Path, id: &str) -> Option<RuntimeMeta> {
    ["/run/containers/storage", "/var/lib/containers/storage"].iter().find_map(|base| {
        read(root, &format!("{base}/overlay-containers/{id}/userdata/config.json"))
            .and_then(|c| parse_oci_config(&c))
    })
}

fn docker_state(root: &Path, id: &str) -> Option<RuntimeMeta> {
    read(root, &format!("/var/lib/docker/containers/{id}/config.v2.json"))
        .and_then(|c| parse_docker_config(&c))
}

type Probe = fn(&Path, &str) -> Option<RuntimeMeta>;

/// Looks a container's metadata up in its runtime's state under `host_root`, then its
/// service account in the token mounted into it. Best effort: missing pieces stay None.
pub fn lookup(host_root: &Path, cref: &ContainerRef) -> (Runtime, RuntimeMeta) {
    let probes: [(Runtime, Probe); 4] = [
        (Runtime::Containerd, containerd_state),
        (Runtime::CriO, crio_state),
        (Runtime::Docker, docker_state),
        (Runtime::Podman, crio_state),
    ];
    let mut found = None;
    for (rt, probe) in probes {
        if cref.runtime == rt || cref.runtime == Runtime::Unknown {
            if let Some(meta) = probe(host_root, &cref.id) {
                found = Some((rt, meta));
                break;
            }
        }
    }
    let (runtime, mut meta) = found.unwrap_or((cref.runtime, RuntimeMeta::default()));
    if meta.pod_uid.is_none() {
        meta.pod_uid = cref.pod_uid.clone();
    }
    meta.service_account = find_token(host_root, &meta).and_then(|t| service_account_from_jwt(&t));
    (runtime, meta)
}

fn find_token(root: &Path, meta: &RuntimeMeta) -> Option<String> {
    if let Some(dir) = &meta.sa_token_dir {
        if let Some(t) = read(root, &format!("{}/token", dir.trim_end_matches('/'))) {
            return Some(t);
        }
    }
    // kubelet's projected volumes for the pod: kube-api-access-* (or legacy secrets).
    let uid = meta.pod_uid.as_deref()?;
    for kind in ["kubernetes.io~projected", "kubernetes.io~secret"] {
        let dir = under_root(root, &format!("/var/lib/kubelet/pods/{uid}/volumes/{kind}"));
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for e in entries.flatten() {
            if let Ok(t) = std::fs::read_to_string(e.path().join("token")) {
                return Some(t);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::procfs::parse_cgroup;

    const ID: &str = "3f4e8c1b2a7d9e6f5c4b3a29181716151413121110f0e0d0c0b0a09080706050";

    #[test]
    fn systemd_containerd_crio_docker() {
        let c = container_from_cgroup(&parse_cgroup(&format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod8d2a1c3e_4b5f_4a6b_9c7d_0e1f2a3b4c5d.slice/cri-containerd-{ID}.scope\n"
        )))
        .unwrap();
        assert_eq!(c.id, ID);
        assert_eq!(c.runtime, Runtime::Containerd);
        assert_eq!(c.pod_uid.as_deref(), Some("8d2a1c3e-4b5f-4a6b-9c7d-0e1f2a3b4c5d"));

        let c = container_from_cgroup(&parse_cgroup(&format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11111111_2222_3333_4444_555555555555.slice/crio-{ID}.scope/container\n"
        )))
        .unwrap();
        assert_eq!(c.runtime, Runtime::CriO);
        assert_eq!(c.id, ID);

        let c =
            container_from_cgroup(&parse_cgroup(&format!("0::/system.slice/docker-{ID}.scope\n"))).unwrap();
        assert_eq!(c.runtime, Runtime::Docker);
        assert_eq!(c.pod_uid, None);

        let c = container_from_cgroup(&parse_cgroup(&format!(
            "12:pids:/docker/{ID}\n1:name=systemd:/docker/{ID}\n"
        )))
        .unwrap();
        assert_eq!(c.runtime, Runtime::Docker);
    }

    #[test]
    fn cgroupfs_kubepods_and_host() {
        let c = container_from_cgroup(&parse_cgroup(&format!(
            "0::/kubepods/besteffort/pod8d2a1c3e-4b5f-4a6b-9c7d-0e1f2a3b4c5d/{ID}\n"
        )))
        .unwrap();
        assert_eq!(c.runtime, Runtime::Unknown);
        assert_eq!(c.pod_uid.as_deref(), Some("8d2a1c3e-4b5f-4a6b-9c7d-0e1f2a3b4c5d"));
        assert_eq!(
            container_from_cgroup(&parse_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n")),
            None
        );
        assert_eq!(container_from_cgroup(&parse_cgroup("0::/init.scope\n")), None);
        // CRI-O's conmon is not the container.
        assert_eq!(
            container_from_cgroup(&parse_cgroup(&format!("0::/machine.slice/crio-conmon-{ID}.scope\n"))),
            None
        );
    }

    fn jwt(claims: &str) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", e.encode(r#"{"alg":"RS256"}"#), e.encode(claims))
    }

    #[test]
    fn service_account_claims() {
        let projected = jwt(
            r#"{"aud":["x"],"kubernetes.io":{"namespace":"shop","serviceaccount":{"name":"web-sa","uid":"u"}},"sub":"system:serviceaccount:shop:other"}"#,
        );
        assert_eq!(service_account_from_jwt(&projected).as_deref(), Some("web-sa"));
        let legacy = jwt(r#"{"kubernetes.io/serviceaccount/service-account.name":"old-sa"}"#);
        assert_eq!(service_account_from_jwt(&legacy).as_deref(), Some("old-sa"));
        let sub = jwt(r#"{"sub":"system:serviceaccount:ns1:builder"}"#);
        assert_eq!(service_account_from_jwt(&sub).as_deref(), Some("builder"));
        assert_eq!(service_account_from_jwt("not-a-jwt"), None);
        assert_eq!(service_account_from_jwt(&jwt(r#"{"sub":"user"}"#)), None);
    }

    #[test]
    fn oci_and_docker_configs() {
        let oci = r#"{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"web","io.kubernetes.cri.image-name":"docker.io/library/nginx:1.27","io.kubernetes.cri.sandbox-name":"web-7f9","io.kubernetes.cri.sandbox-namespace":"shop","io.kubernetes.cri.sandbox-uid":"u-1"},"mounts":[{"destination":"/proc","source":"proc"},{"destination":"/var/run/secrets/kubernetes.io/serviceaccount","source":"/var/lib/kubelet/pods/u-1/volumes/kubernetes.io~projected/kube-api-access-abcde"}]}"#;
        let m = parse_oci_config(oci).unwrap();
        assert_eq!(m.container_name.as_deref(), Some("web"));
        assert_eq!(m.image.as_deref(), Some("docker.io/library/nginx:1.27"));
        assert_eq!(m.pod_name.as_deref(), Some("web-7f9"));
        assert_eq!(m.pod_namespace.as_deref(), Some("shop"));
        assert_eq!(m.pod_uid.as_deref(), Some("u-1"));
        assert!(m.sa_token_dir.unwrap().ends_with("kube-api-access-abcde"));
        let docker = r#"{"ID":"x","Name":"/happy_turing","Config":{"Image":"alpine:3.20","Labels":{}},"MountPoints":{}}"#;
        let m = parse_docker_config(docker).unwrap();
        assert_eq!(m.container_name.as_deref(), Some("happy_turing"));
        assert_eq!(m.image.as_deref(), Some("alpine:3.20"));
        assert_eq!(m.pod_name, None);
        assert_eq!(parse_oci_config("{"), None);
    }
}

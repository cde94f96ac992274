//! Container and pod context from fixture trees laid out as containerd, CRI-O and Docker
//! write their state (the only fake fixtures of the agent tests).

mod agent_support;
use agent_support::agent_once;
use shellsight::inventory::InventoryRecord;

const CID: &str = "9f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
const POD_UID: &str = "5a6b7c8d-1e2f-4a3b-8c9d-0e1f2a3b4c5d";

fn scan(runtime: &str) -> InventoryRecord {
    let base = format!("{}/tests/fixtures/agent/{runtime}", env!("CARGO_MANIFEST_DIR"));
    let recs = agent_once(&["--proc-root", &format!("{base}/proc"), "--host-root", &format!("{base}/host")]);
    assert_eq!(recs.len(), 1, "one socket in the {runtime} fixture: {recs:?}");
    let r = recs.into_iter().next().unwrap();
    // Common to all three trees: the socket, the process, its chain, the host.
    assert_eq!(r.host.name, format!("node-{runtime}"));
    assert_eq!(r.host.boot_id, "00000000-1111-2222-3333-444444444444");
    assert_eq!(r.network.netns, 4026532999);
    assert_eq!(r.source.ip.to_string(), "10.0.0.5");
    assert_eq!(r.destination.port, 4444);
    assert_eq!(r.socket.inode, 777001);
    assert_eq!(r.socket.state, "ESTABLISHED");
    let p = r.process.as_ref().expect("attributed");
    assert_eq!(p.pid, 4321);
    assert_eq!(p.args, ["sh", "-c", "sleep 1d"]);
    assert_eq!(p.user.name.as_deref(), Some("www-data"));
    assert!(p.std_sockets.all());
    assert_eq!(p.start.as_deref(), Some("2026-01-01T00:00:05.000Z"));
    assert_eq!(p.ancestors.iter().map(|a| a.pid).collect::<Vec<_>>(), [4300, 1]);
    let c = r.container.as_ref().expect("container context");
    assert_eq!(c.id, CID);
    r
}

#[test]
fn containerd_pod_metadata_and_service_account_from_bundle_mounts() {
    let r = scan("containerd");
    let c = r.container.unwrap();
    assert_eq!(c.runtime, "containerd");
    assert_eq!(c.name.as_deref(), Some("web"));
    assert_eq!(c.image.as_ref().unwrap().name, "registry.example/shop/web:2.3.1");
    let o = r.orchestrator.expect("pod context");
    assert_eq!(o.namespace.as_deref(), Some("shop"));
    assert_eq!(o.resource.name.as_deref(), Some("web-6d8f9c7b5-abcde"));
    assert_eq!(o.resource.uid.as_deref(), Some(POD_UID));
    assert_eq!(o.service_account.as_deref(), Some("web-frontend"));
}

#[test]
fn crio_cgroupfs_path_and_token_from_kubelet_dir() {
    let r = scan("crio");
    let c = r.container.unwrap();
    assert_eq!(c.runtime, "cri-o");
    assert_eq!(c.name.as_deref(), Some("worker"));
    assert_eq!(c.image.as_ref().unwrap().name, "quay.example/batch/worker:9");
    let o = r.orchestrator.expect("pod context");
    assert_eq!(o.namespace.as_deref(), Some("batch"));
    assert_eq!(o.resource.name.as_deref(), Some("worker-0"));
    assert_eq!(o.resource.uid.as_deref(), Some(POD_UID));
    assert_eq!(o.service_account.as_deref(), Some("batch-runner"));
}

#[test]
fn docker_name_and_image_without_pod() {
    let r = scan("docker");
    let c = r.container.unwrap();
    assert_eq!(c.runtime, "docker");
    assert_eq!(c.name.as_deref(), Some("payments_api_1"));
    assert_eq!(c.image.as_ref().unwrap().name, "payments/api:1.4");
    assert!(r.orchestrator.is_none());
}

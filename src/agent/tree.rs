//! Parent chains: from a process up to pid 1 (or as far as the process table reaches).

/// What the chain needs to know about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub ppid: i32,
    pub name: String,
    pub args: Vec<String>,
}

/// Longest chain followed; guards against a corrupt or cyclic table.
pub const MAX_DEPTH: usize = 64;

/// The ancestors of `pid`, parent first, ending at pid 1 (inclusive) or where `lookup`
/// no longer knows the parent (it vanished, or lives outside our pid namespace: ppid 0).
pub fn ancestors<F>(pid: i32, mut lookup: F) -> Vec<(i32, Node)>
where
    F: FnMut(i32) -> Option<Node>,
{
    let mut out: Vec<(i32, Node)> = Vec::new();
    let Some(me) = lookup(pid) else { return out };
    let mut next = me.ppid;
    while next > 0 && out.len() < MAX_DEPTH {
        if next == pid || out.iter().any(|(p, _)| *p == next) {
            break; // cycle
        }
        let Some(node) = lookup(next) else { break };
        let ppid = node.ppid;
        out.push((next, node));
        if next == 1 {
            break;
        }
        next = ppid;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn table(rows: &[(i32, i32, &str)]) -> HashMap<i32, Node> {
        rows.iter()
            .map(|&(pid, ppid, name)| (pid, Node { ppid, name: name.into(), args: vec![name.into()] }))
            .collect()
    }

    #[test]
    fn chain_to_init() {
        let t = table(&[(1, 0, "systemd"), (100, 1, "sshd"), (200, 100, "bash"), (300, 200, "nc")]);
        let chain = ancestors(300, |p| t.get(&p).cloned());
        let pids: Vec<i32> = chain.iter().map(|(p, _)| *p).collect();
        assert_eq!(pids, vec![200, 100, 1]);
        assert_eq!(chain[0].1.name, "bash");
    }

    #[test]
    fn broken_and_cyclic_chains_stop() {
        let t = table(&[(300, 200, "nc")]);
        assert!(ancestors(300, |p| t.get(&p).cloned()).is_empty());
        assert!(ancestors(999, |p| t.get(&p).cloned()).is_empty());
        let t = table(&[(5, 6, "a"), (6, 7, "b"), (7, 5, "c")]);
        let chain = ancestors(5, |p| t.get(&p).cloned());
        assert_eq!(chain.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![6, 7]);
    }
}

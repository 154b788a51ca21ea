//! What `tao soak` checks at every height on every node: the node's audit
//! ([`taochain_primitives::Audit`]) must add up, and every node must have the same app
//! hash at the same height. Pure bookkeeping, fed by the soak's watcher thread.

use std::collections::BTreeMap;

use taochain_primitives::Audit;

/// The audits seen so far and what was wrong with them.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Nodes audited.
    nodes: usize,
    /// App hash of each height, as the first node to report it had it, and the number of
    /// nodes that reported it.
    hashes: BTreeMap<u64, ([u8; 32], usize, usize)>,
    /// Heights every node reported.
    compared: u64,
    /// Per node: the heights audited.
    audited: BTreeMap<usize, u64>,
    /// Per node: the highest height audited.
    highest: BTreeMap<usize, u64>,
    /// Everything that was wrong, in words.
    pub failures: Vec<String>,
}

/// Failures kept (the first ones say what went wrong; the rest would repeat them).
const MAX_FAILURES: usize = 50;

impl Ledger {
    /// A ledger of `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Ledger {
            nodes,
            ..Ledger::default()
        }
    }

    /// Records node `node`'s audit of one height.
    pub fn record(&mut self, node: usize, audit: &Audit) {
        for v in audit.violations() {
            self.fail(format!("node{node} at height {}: {v}", audit.height));
        }
        let entry = self
            .hashes
            .entry(audit.height)
            .or_insert((audit.app_hash, node, 0));
        entry.2 += 1;
        let (hash, first, reports) = *entry;
        if reports == self.nodes {
            self.compared += 1;
        }
        if hash != audit.app_hash {
            self.fail(format!(
                "app hash fork at height {}: node{first} has {}, node{node} has {}",
                audit.height,
                hex::encode_upper(hash),
                hex::encode_upper(audit.app_hash)
            ));
        }
        *self.audited.entry(node).or_default() += 1;
        let top = self.highest.entry(node).or_default();
        *top = (*top).max(audit.height);
    }

    /// Records a failure that is not an audit's (a missing audit, a stalled chain).
    pub fn fail(&mut self, what: String) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(what);
        }
    }

    /// Heights node `node` has had audited.
    pub fn audited(&self, node: usize) -> u64 {
        self.audited.get(&node).copied().unwrap_or(0)
    }

    /// The highest height node `node` has had audited.
    pub fn highest(&self, node: usize) -> u64 {
        self.highest.get(&node).copied().unwrap_or(0)
    }

    /// Heights whose app hash every node reported (and agreed on, unless a failure says
    /// otherwise).
    pub fn compared(&self) -> u64 {
        self.compared
    }

    /// Forgets the hashes of heights below `height` (bounded memory over long soaks: call
    /// it with the lowest height every node has passed); counts stay.
    pub fn forget_below(&mut self, height: u64) {
        self.hashes = self.hashes.split_off(&height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taochain_primitives::Supply;

    fn audit(height: u64, hash: u8) -> Audit {
        Audit {
            height,
            app_hash: [hash; 32],
            accounts: 1,
            balances: 5,
            supply: Supply {
                total_issuance: 5,
                genesis_issuance: 5,
                ..Supply::default()
            },
            ..Audit::default()
        }
    }

    #[test]
    fn agreeing_nodes_with_sound_ledgers_pass() {
        let mut l = Ledger::new(4);
        for h in 1..=3 {
            for n in 0..4 {
                l.record(n, &audit(h, h as u8));
            }
        }
        assert!(l.failures.is_empty(), "{:?}", l.failures);
        assert_eq!((l.audited(2), l.highest(3), l.compared()), (3, 3, 3));
    }

    #[test]
    fn a_fork_and_a_broken_invariant_are_failures() {
        let mut l = Ledger::new(3);
        l.record(0, &audit(1, 1));
        l.record(1, &audit(1, 2));
        assert_eq!(l.failures.len(), 1);
        assert!(
            l.failures[0].contains("fork at height 1"),
            "{:?}",
            l.failures
        );
        let mut bad = audit(2, 2);
        bad.balances += 1;
        l.record(2, &bad);
        assert_eq!(l.failures.len(), 2);
        assert!(
            l.failures[1].contains("node2 at height 2"),
            "{:?}",
            l.failures
        );
    }

    #[test]
    fn forgetting_keeps_counts_and_bounds_memory() {
        let mut l = Ledger::new(1);
        for h in 1..=10 {
            l.record(0, &audit(h, 1));
        }
        l.forget_below(8);
        assert_eq!(l.hashes.len(), 3);
        assert_eq!((l.audited(0), l.compared()), (10, 10));
        for _ in 0..(MAX_FAILURES + 5) {
            l.fail("x".into());
        }
        assert_eq!(l.failures.len(), MAX_FAILURES);
    }
}

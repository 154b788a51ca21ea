//! A node's audit of one committed height: its app hash and the chain-wide sums the
//! ledger's invariants relate (`taod start --audit` computes one after every commit; the
//! `/audit` query serves it; `tao soak` checks it on every node at every height).
//!
//! The invariants: every rao in existence is in some account (`total_issuance ==` the sum
//! of all balances), the supply record adds up (`total_issuance == genesis_issuance +
//! total_minted - total_recycled`), and the emission pool's balance is exactly what the
//! subnet pots and the carry claim.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::state::Supply;

/// The query path that serves a node's audit of a height (`taod start --audit`).
pub const AUDIT_PATH: &str = "/audit";

/// One node's audit of one committed height.
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Audit {
    /// The committed height.
    pub height: u64,
    /// The app hash of that height (the state root).
    pub app_hash: [u8; 32],
    /// Accounts in state.
    pub accounts: u64,
    /// The sum of every account's balance, in rao.
    pub balances: u128,
    /// The supply record.
    pub supply: Supply,
    /// The emission pool account's balance.
    pub emission_pool: u64,
    /// The sum of the subnet pots.
    pub pots: u128,
    /// Emission not yet in any pot.
    pub carry: u64,
}

impl Audit {
    /// Every invariant that does not hold, in words (empty: the ledger adds up).
    pub fn violations(&self) -> Vec<String> {
        let s = &self.supply;
        let mut out = Vec::new();
        if u128::from(s.total_issuance) != self.balances {
            out.push(format!(
                "total issuance {} != sum of balances {} ({} accounts)",
                s.total_issuance, self.balances, self.accounts
            ));
        }
        let booked = u128::from(s.genesis_issuance) + u128::from(s.total_minted);
        if booked.checked_sub(u128::from(s.total_recycled)) != Some(u128::from(s.total_issuance)) {
            out.push(format!(
                "total issuance {} != genesis {} + minted {} - recycled {}",
                s.total_issuance, s.genesis_issuance, s.total_minted, s.total_recycled
            ));
        }
        if u128::from(self.emission_pool) != self.pots + u128::from(self.carry) {
            out.push(format!(
                "emission pool {} != pots {} + carry {}",
                self.emission_pool, self.pots, self.carry
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sound() -> Audit {
        Audit {
            height: 7,
            app_hash: [1; 32],
            accounts: 3,
            balances: 1_000,
            supply: Supply {
                total_issuance: 1_000,
                genesis_issuance: 900,
                total_minted: 150,
                total_recycled: 50,
            },
            emission_pool: 40,
            pots: 30,
            carry: 10,
        }
    }

    #[test]
    fn a_ledger_that_adds_up_has_no_violations() {
        assert!(sound().violations().is_empty());
    }

    #[test]
    fn each_broken_invariant_is_reported() {
        let mut a = sound();
        a.balances += 1;
        assert!(a.violations()[0].contains("sum of balances"), "{a:?}");
        let mut a = sound();
        a.supply.total_minted += 1;
        let v = a.violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("minted"));
        let mut a = sound();
        a.supply.total_recycled = 2_000;
        assert!(a.violations()[0].contains("recycled"));
        let mut a = sound();
        a.carry += 1;
        assert_eq!(a.violations().len(), 1);
        assert!(a.violations()[0].contains("emission pool"));
        let mut a = sound();
        a.pots -= 1;
        assert!(a.violations()[0].contains("pots"));
    }
}

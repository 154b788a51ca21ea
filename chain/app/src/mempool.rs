//! `CheckTx` state: the committed state plus what the transactions this node admitted, and
//! no committed block has included yet, will spend, so one account can queue several
//! transactions (nonces n, n+1, ...) across blocks.
//!
//! The view survives commits: a commit removes the transactions the block included (by
//! sender, nonce and hash), a check drops the sender's entries whose nonce the committed
//! state has already used, and an entry neither admitted nor rechecked in the last
//! [`PENDING_BLOCKS`] blocks is forgotten. CometBFT rechecks what is left in its mempool
//! after every commit (`recheck = true`, the only way its mempool evicts a transaction
//! another one made stale), and a recheck renews an entry's hold; so what CometBFT still
//! holds stays, and what it dropped (full) frees its nonce within two blocks.
//!
//! CometBFT's mempool can hold a sender's nonce n+1 before n (see [`crate::proposal`]), so
//! its recheck of n+1 may come before that of n: n's entry is still here from the block
//! before, and n+1 passes.

use std::collections::{BTreeMap, VecDeque};

use taochain_primitives::{Account, Address, Params, RejectCode};
use taochain_storage::StateRead;

use crate::AppError;
use crate::bank::account;
use crate::checks::{
    Rejection, check_nonce_and_fee, check_signature, check_stateless, decode, total_spend,
};
use crate::signatures::Verified;

/// Commits an entry is held for after it was last admitted or rechecked: the one that
/// follows its admission (whose recheck renews it) and the next.
pub const PENDING_BLOCKS: u64 = 2;

/// Transactions one sender may have pending here (CometBFT's mempool holds 50,000 in all).
pub const MAX_PENDING_PER_SENDER: usize = 1_000;

/// Admission records kept before the first compaction of the queue.
const COMPACT_AT: usize = 4_096;

/// A transaction a block included: its sender, nonce and the sha256 of its bytes.
pub type Included = (Address, u64, [u8; 32]);

/// A transaction this node admitted that no committed block has included yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The sha256 of its bytes (CometBFT's transaction hash; what inclusion matches).
    hash: [u8; 32],
    /// Fee plus amounts.
    spend: u64,
    /// Its latest admission: tells the live record from earlier ones when they expire.
    seq: u64,
}

/// One admission: `(committed height then, seq, sender, nonce)`.
type Admission = (u64, u64, Address, u64);

/// Accounts as the mempool sees them: each sender's pending transactions by nonce.
#[derive(Debug)]
pub struct MempoolState {
    pending: BTreeMap<Address, BTreeMap<u64, Pending>>,
    /// Admissions in order (a renewed entry leaves its earlier records behind; they expire
    /// without effect or go at a compaction).
    admitted: VecDeque<Admission>,
    /// The queue length that triggers the next compaction.
    compact_at: usize,
    /// The last committed height.
    height: u64,
    /// The next admission number.
    next_seq: u64,
}

impl Default for MempoolState {
    fn default() -> Self {
        Self::at(0)
    }
}

/// A sender's next nonce and spendable balance: its committed account after the
/// consecutive pending transactions its balance covers.
fn projected(committed: &Account, entries: &BTreeMap<u64, Pending>) -> Account {
    let mut next = *committed;
    for (nonce, p) in entries.range(committed.nonce..) {
        if *nonce != next.nonce {
            break;
        }
        let Some(balance) = next.balance.checked_sub(p.spend) else {
            break;
        };
        next = Account {
            balance,
            nonce: next.nonce.saturating_add(1),
        };
    }
    next
}

impl MempoolState {
    /// An empty view after the commit of block `height`.
    pub fn at(height: u64) -> Self {
        MempoolState {
            pending: BTreeMap::new(),
            admitted: VecDeque::new(),
            compact_at: COMPACT_AT,
            height,
            next_seq: 0,
        }
    }

    /// Pending transactions this view holds (all senders), counting entries whose nonce
    /// the committed state has since used until a check of their sender drops them.
    pub fn len(&self) -> usize {
        self.pending.values().map(BTreeMap::len).sum()
    }

    /// Whether no transaction is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Admission records held (live or not yet expired): at most about twice the
    /// admissions and rechecks of the last [`PENDING_BLOCKS`] blocks.
    #[cfg(test)]
    fn records(&self) -> usize {
        self.admitted.len()
    }

    /// After the commit of block `height`: forgets the transactions it included (given as
    /// sender, nonce and hash) and the entries last admitted [`PENDING_BLOCKS`] ago.
    pub fn committed(&mut self, height: u64, included: &[Included]) {
        self.height = height;
        for (sender, nonce, hash) in included {
            self.remove_if(sender, *nonce, |p| p.hash == *hash);
        }
        while let Some(&(at, seq, sender, nonce)) = self.admitted.front() {
            if at.saturating_add(PENDING_BLOCKS) > height {
                break;
            }
            self.admitted.pop_front();
            self.remove_if(&sender, nonce, |p| p.seq == seq);
        }
    }

    fn remove_if(&mut self, sender: &Address, nonce: u64, matches: impl Fn(&Pending) -> bool) {
        if let Some(entries) = self.pending.get_mut(sender) {
            if entries.get(&nonce).is_some_and(matches) {
                entries.remove(&nonce);
            }
            if entries.is_empty() {
                self.pending.remove(sender);
            }
        }
    }

    /// Records an admission of `(sender, nonce)` now and returns its number. Drops the
    /// records of renewed or removed entries once the queue has doubled since the last
    /// compaction (amortised O(1) per admission).
    fn record(&mut self, sender: Address, nonce: u64) -> u64 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.admitted.push_back((self.height, seq, sender, nonce));
        if self.admitted.len() >= self.compact_at {
            let pending = &self.pending;
            self.admitted.retain(|&(_, s, sender, nonce)| {
                // The record being made is live: its entry goes in after this call.
                s == seq
                    || pending
                        .get(&sender)
                        .and_then(|entries| entries.get(&nonce))
                        .is_some_and(|p| p.seq == s)
            });
            self.compact_at = COMPACT_AT.max(self.admitted.len().saturating_mul(2));
        }
        seq
    }

    /// Runs every check on `bytes` (the signature only when `!recheck`) and, if it passes,
    /// records it as pending. The same bytes checked again (a recheck, or a resubmission
    /// of a transaction CometBFT dropped) are judged afresh, as if they came now after the
    /// pending ones before them, and renew their hold if they still fit; ones that no
    /// longer fit leave the view. Returns the gas the transaction signed for (CometBFT's
    /// `gas_wanted`, which its mempool and proposer count against `block.max_gas`) and
    /// the intrinsic gas it needs.
    pub fn check(
        &mut self,
        committed: &(impl StateRead + ?Sized),
        bytes: &[u8],
        chain_id: &str,
        params: &Params,
        recheck: bool,
    ) -> Result<Result<(u64, u64), Rejection>, AppError> {
        let tx = match decode(bytes, params) {
            Ok(tx) => tx,
            Err(r) => return Ok(Err(r)),
        };
        let checked = check_stateless(&tx, bytes.len(), chain_id, params).and_then(|gas| {
            if recheck {
                Ok(gas)
            } else {
                check_signature(&tx).map(|()| gas)
            }
        });
        let gas = match checked {
            Ok(gas) => gas,
            Err(r) => return Ok(Err(r)),
        };
        let sender = tx.sender();
        let nonce = tx.body.nonce;
        let hash = Verified::key(bytes);
        let acct = account(committed, &sender)?;
        let entries = self.pending.entry(sender).or_default();
        // Nonces the committed state has used are no longer pending.
        *entries = entries.split_off(&acct.nonce);
        if entries.get(&nonce).is_some_and(|p| p.hash == hash) {
            entries.remove(&nonce);
        }
        let next = projected(&acct, entries);
        let admitted = match entries.get(&nonce) {
            _ if entries.len() >= MAX_PENDING_PER_SENDER => Err(Rejection::new(
                RejectCode::TooManyPending,
                format!(
                    "{} transactions from this sender are pending here (the most one sender \
                     may have); wait for blocks to include them",
                    entries.len()
                ),
            )),
            Some(held) if nonce < next.nonce => Err(Rejection::new(
                RejectCode::NonceReplayed,
                format!(
                    "nonce {nonce} is taken by transaction {} pending here; wait for a block \
                     to include it, or send those exact bytes again if it was lost (it is \
                     forgotten {PENDING_BLOCKS} blocks after it was last seen); the next \
                     free nonce is {}",
                    hex::encode_upper(held.hash),
                    next.nonce
                ),
            )),
            _ => check_nonce_and_fee(&next, &tx)
                .and_then(|()| total_spend(&tx))
                .and_then(|spend| {
                    if next.balance < spend {
                        return Err(Rejection::new(
                            RejectCode::InsufficientFunds,
                            format!(
                                "balance {} rao does not cover fee + amounts {spend} rao",
                                next.balance
                            ),
                        ));
                    }
                    Ok(spend)
                }),
        };
        let spend = match admitted {
            Ok(spend) => spend,
            Err(r) => {
                if entries.is_empty() {
                    self.pending.remove(&sender);
                }
                return Ok(Err(r));
            }
        };
        let seq = self.record(sender, nonce);
        self.pending
            .entry(sender)
            .or_default()
            .insert(nonce, Pending { hash, spend, seq });
        Ok(Ok((tx.body.gas_limit, gas)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Pending {
        Pending {
            hash: [0; 32],
            spend: 1,
            seq,
        }
    }

    #[test]
    fn compaction_keeps_exactly_the_live_records_and_the_new_one() {
        let mut view = MempoolState::at(5);
        let sender = Address([7; 20]);
        // One entry renewed COMPACT_AT times: every record but the last is dead.
        for _ in 0..COMPACT_AT - 1 {
            let seq = view.record(sender, 3);
            view.pending
                .entry(sender)
                .or_default()
                .insert(3, entry(seq));
        }
        assert_eq!(view.records(), COMPACT_AT - 1);
        let other = Address([8; 20]);
        let seq = view.record(other, 0);
        assert_eq!(
            view.records(),
            2,
            "the live record of nonce 3 and the new one"
        );
        assert_eq!(view.admitted.back(), Some(&(5, seq, other, 0)));
        assert_eq!(view.compact_at, COMPACT_AT);
        // Live records are kept: the entry still expires on time.
        view.pending.entry(other).or_default().insert(0, entry(seq));
        view.committed(5 + PENDING_BLOCKS - 1, &[]);
        assert_eq!(view.len(), 2);
        view.committed(5 + PENDING_BLOCKS, &[]);
        assert_eq!(view.len(), 0);
        assert_eq!(view.records(), 0);
    }

    #[test]
    fn projection_stops_at_a_gap_and_at_what_the_balance_does_not_cover() {
        let committed = Account {
            balance: 10,
            nonce: 4,
        };
        let spend = |spend| Pending {
            hash: [0; 32],
            spend,
            seq: 0,
        };
        let entries: BTreeMap<u64, Pending> =
            [(3, spend(1)), (4, spend(4)), (5, spend(5)), (6, spend(2))].into();
        let next = projected(&committed, &entries);
        assert_eq!((next.nonce, next.balance), (6, 1), "6 costs 2, 1 is left");
        let gap: BTreeMap<u64, Pending> = [(4, spend(1)), (6, spend(1))].into();
        assert_eq!(projected(&committed, &gap).nonce, 5);
    }
}

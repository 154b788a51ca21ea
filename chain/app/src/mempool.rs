//! `CheckTx` state: the committed state plus what the transactions this node admitted, and
//! no committed block has included yet, will spend, so one account can queue several
//! transactions (nonces n, n+1, ...) across blocks.
//!
//! The view survives commits: a commit removes the transactions the block included (by
//! sender, nonce and hash), a check drops every entry whose nonce the committed state has
//! already used, and an entry no block included within [`PENDING_BLOCKS`] is forgotten.
//! So CometBFT's mempool needs no recheck after every block (the localnet template turns
//! it off: it doubled the mempool's ABCI traffic), and a recheck, where one is configured,
//! gets the same answers.

use std::collections::{BTreeMap, VecDeque};

use taochain_primitives::{Account, Address, Params, RejectCode};
use taochain_storage::StateRead;

use crate::AppError;
use crate::bank::account;
use crate::checks::{
    Rejection, check_nonce_and_fee, check_signature, check_stateless, decode, total_spend,
};
use crate::signatures::Verified;

/// Blocks an admitted transaction counts toward its sender's next nonce and balance here
/// without being included. Its only purpose is to end the hold of a transaction CometBFT
/// dropped without including it (its mempool was full when the admission came back);
/// one still waiting in the mempool after that is judged afresh by a recheck, or fails
/// in its block if another took its nonce meanwhile.
pub const PENDING_BLOCKS: u64 = 100;

/// A transaction a block included: its sender, nonce and the sha256 of its bytes.
pub type Included = (Address, u64, [u8; 32]);

/// A transaction this node admitted that no committed block has included yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The sha256 of its bytes (what a block's inclusion is matched by).
    hash: [u8; 32],
    /// Fee plus amounts.
    spend: u64,
    /// Admission number: tells a replaced entry from its successor when it expires.
    seq: u64,
}

/// Accounts as the mempool sees them: each sender's pending transactions by nonce.
#[derive(Debug, Default)]
pub struct MempoolState {
    pending: BTreeMap<Address, BTreeMap<u64, Pending>>,
    /// `(committed height at admission, seq, sender, nonce)` in admission order.
    admitted: VecDeque<(u64, u64, Address, u64)>,
    /// The last committed height.
    height: u64,
    /// The next admission number.
    next_seq: u64,
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
    /// Pending transactions this view holds (all senders), counting entries whose nonce
    /// the committed state has since used until a check of their sender drops them.
    pub fn len(&self) -> usize {
        self.pending.values().map(BTreeMap::len).sum()
    }

    /// Whether no transaction is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// After the commit of block `height`: forgets the transactions it included (given as
    /// sender, nonce and hash) and the entries admitted [`PENDING_BLOCKS`] ago.
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

    /// Runs every check on `bytes` (the signature only when `!recheck`) and, if it passes,
    /// records it as pending. A recheck of a transaction this view holds passes while its
    /// nonce is still unused and the balance still covers it and every pending one before
    /// it; one that no longer does is dropped from the view. Returns the gas the
    /// transaction signed for (CometBFT's `gas_wanted`, which its mempool and proposer
    /// count against `block.max_gas`) and the intrinsic gas it needs.
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
        // A recheck judges this very transaction as if it came now, after the pending ones
        // before it: it keeps its place (and its admission number) if it still fits. A new
        // check of the same bytes is judged the same way but starts a new hold: CometBFT
        // sends one only when its mempool no longer holds them (it dropped them, full, after
        // this view admitted them), and whichever copy a block includes, the nonce is used
        // once.
        let kept = match entries.get(&nonce) {
            Some(p) if p.hash == hash => {
                let seq = p.seq;
                entries.remove(&nonce);
                recheck.then_some(seq)
            }
            _ => None,
        };
        let next = projected(&acct, entries);
        let admitted = if entries.contains_key(&nonce) && nonce < next.nonce {
            Err(Rejection::new(
                RejectCode::NonceReplayed,
                format!(
                    "nonce {nonce} is already pending here; next nonce is {}",
                    next.nonce
                ),
            ))
        } else {
            check_nonce_and_fee(&next, &tx)
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
                })
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
        let seq = kept.unwrap_or_else(|| {
            let seq = self.next_seq;
            self.next_seq = seq.wrapping_add(1);
            self.admitted.push_back((self.height, seq, sender, nonce));
            seq
        });
        entries.insert(nonce, Pending { hash, spend, seq });
        Ok(Ok((tx.body.gas_limit, gas)))
    }
}

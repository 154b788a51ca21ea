//! A block's transactions decoded and their signatures verdicted on every core.
//!
//! The block is cut into fixed chunks of [`CHUNK`] transactions in block order; each chunk
//! is decoded and its valid-looking signatures checked in one ed25519 batch (falling back to
//! one-by-one strict checks when the batch fails). The chunk boundaries depend on nothing
//! but the block, and a chunk's verdicts on nothing but its bytes, so the results are the
//! same whatever the thread count or the order the threads finish in: workers only decide
//! *who* computes a chunk, never *what* it computes.
//!
//! [`Verified`] remembers transactions whose signature passed the strict check in `CheckTx`
//! (keyed by the sha256 of their bytes, since a verdict is a pure function of them). A chunk
//! whose every signature is remembered skips its batch. That cannot change a verdict: a
//! strictly valid signature contributes nothing to a batch equation, so the batch over such
//! a chunk always passes. A chunk with any unremembered transaction is computed in full.
//! Only the strict check fills the memory, never a batch (which is not the same rule).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use taochain_primitives::{Params, SignedTx};

use crate::checks::{Rejection, check_signature, decode};

/// Transactions per batch. Fixed: verdicts may depend on the batch a signature is in (the
/// batch equation is not the strict rule for crafted signatures), so it must never depend
/// on the machine.
pub const CHUNK: usize = 128;

/// How many strictly verified transactions [`Verified`] remembers by default (32 bytes
/// each, about 8 MiB with the set's overhead): a few full blocks' worth.
pub const DEFAULT_REMEMBERED: usize = 100_000;

/// One transaction after the pure per-transaction work: decoded, and its signature verdict.
pub type Checked = (Result<SignedTx, Rejection>, Result<(), Rejection>);

/// Transactions whose signature passed the strict check, bounded, oldest forgotten first.
#[derive(Debug)]
pub struct Verified {
    capacity: usize,
    inner: Mutex<Memory>,
}

/// The remembered keys, and the order they came in (for forgetting the oldest; keys
/// already consumed by a block stay in the order until they reach its front).
#[derive(Debug, Default)]
struct Memory {
    set: BTreeSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl Default for Verified {
    fn default() -> Self {
        Verified::new(DEFAULT_REMEMBERED)
    }
}

impl Verified {
    /// A memory of at most `capacity` transactions.
    pub fn new(capacity: usize) -> Self {
        Verified {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// The key a transaction is remembered by.
    pub fn key(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    /// Remembers that `key`'s transaction passed the strict signature check.
    pub fn remember(&self, key: [u8; 32]) {
        if self.capacity == 0 {
            return;
        }
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Memory { set, order } = &mut *guard;
        if set.insert(key) {
            order.push_back(key);
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
    }

    /// Whether every key is remembered (a block's transactions are then forgotten: they
    /// cannot be executed twice).
    fn all_known(&self, keys: &[[u8; 32]]) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let set = &mut guard.set;
        if !keys.iter().all(|k| set.contains(k)) {
            return false;
        }
        for k in keys {
            set.remove(k);
        }
        true
    }

    /// How many transactions are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set
            .len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decodes `txs` and verdicts their signatures on up to `threads` threads; one result per
/// transaction, in block order, identical for every `threads`.
pub fn check_block<T: AsRef<[u8]> + Sync>(
    txs: &[T],
    params: &Params,
    verified: &Verified,
    threads: usize,
) -> Vec<Checked> {
    let chunks: Vec<&[T]> = txs.chunks(CHUNK).collect();
    let workers = threads.clamp(1, chunks.len().max(1));
    if workers == 1 {
        return chunks
            .iter()
            .flat_map(|c| check_chunk(c, params, verified))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<Checked>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = vec![];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(chunk) = chunks.get(i) else { break };
                        mine.push((i, check_chunk(chunk, params, verified)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                // A worker only panics if the process is already failing (allocation);
                // re-raise it rather than guess a verdict.
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().flat_map(|(_, c)| c).collect()
}

/// One chunk: decode, then one batch for the signatures that pass the per-signature
/// pre-checks (a valid key that is not weak, an `R` that is not of small order, the same
/// rule as `CheckTx`), then strict one-by-one checks if the batch fails.
fn check_chunk<T: AsRef<[u8]>>(chunk: &[T], params: &Params, verified: &Verified) -> Vec<Checked> {
    let decoded: Vec<Result<SignedTx, Rejection>> =
        chunk.iter().map(|b| decode(b.as_ref(), params)).collect();
    let mut verdicts: Vec<Result<(), Rejection>> = vec![Ok(()); chunk.len()];
    // Every decoded transaction remembered: all strictly valid (which implies the
    // pre-checks), so neither the pre-checks nor the batch can refuse one.
    let keys: Vec<[u8; 32]> = decoded
        .iter()
        .zip(chunk)
        .filter(|(tx, _)| tx.is_ok())
        .map(|(_, bytes)| Verified::key(bytes.as_ref()))
        .collect();
    if keys.is_empty() || verified.all_known(&keys) {
        return decoded.into_iter().zip(verdicts).collect();
    }
    let mut batch: Vec<(usize, VerifyingKey, Signature, [u8; 32])> = vec![];
    for (i, tx) in decoded.iter().enumerate() {
        let Ok(tx) = tx else { continue };
        match tx.verification_parts() {
            Ok((key, sig, digest)) => batch.push((i, key, sig, digest)),
            Err(_) => verdicts[i] = check_signature(tx),
        }
    }
    let messages: Vec<&[u8]> = batch.iter().map(|p| &p.3[..]).collect();
    let sigs: Vec<Signature> = batch.iter().map(|p| p.2).collect();
    let pubkeys: Vec<VerifyingKey> = batch.iter().map(|p| p.1).collect();
    if ed25519_dalek::verify_batch(&messages, &sigs, &pubkeys).is_err() {
        for (i, _, _, _) in &batch {
            if let Ok(tx) = &decoded[*i] {
                verdicts[*i] = check_signature(tx);
            }
        }
    }
    decoded.into_iter().zip(verdicts).collect()
}

#[cfg(test)]
mod tests;

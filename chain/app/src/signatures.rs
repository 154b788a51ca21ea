//! A block's transactions decoded and their signatures verdicted on every core.
//!
//! The block is cut into fixed chunks of [`CHUNK`] transactions in block order; each chunk
//! is decoded and its valid-looking signatures checked in one ed25519 batch (falling back to
//! one-by-one checks when the batch fails). The rule is the chain's cofactored one
//! (`taochain_primitives::signature`), under which a batch passes exactly when each of its
//! signatures passes alone: a verdict never depends on the other transactions in a chunk.
//! The chunk boundaries depend on nothing but the block, and a chunk's verdicts on nothing
//! but its bytes, so the results are the same whatever the thread count or the order the
//! threads finish in: workers only decide *who* computes a chunk, never *what* it computes.
//!
//! [`Verified`] remembers transactions whose signature passed the check in `CheckTx`
//! (keyed by the sha256 of their bytes, since a verdict is a pure function of them). A chunk
//! whose every signature is remembered skips its batch. That cannot change a verdict: a
//! valid signature contributes nothing to a batch equation, so the batch over such a chunk
//! always passes. A chunk with any unremembered transaction is computed in full. Only a
//! single check fills the memory, never a batch.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use sha2::{Digest, Sha256};
use taochain_primitives::signature::{self, Prepared};
use taochain_primitives::{Params, SignedTx};

use crate::checks::{Rejection, check_signature, decode};

/// Transactions per batch. Fixed, so that which batch a transaction is in never depends on
/// the machine (its verdict does not depend on the batch either, but the work does).
pub const CHUNK: usize = 128;

/// How many verified transactions [`Verified`] remembers by default (32 bytes
/// each, about 8 MiB with the set's overhead): a few full blocks' worth.
pub const DEFAULT_REMEMBERED: usize = 100_000;

/// One transaction after the pure per-transaction work: decoded, and its signature verdict.
pub type Checked = (Result<SignedTx, Rejection>, Result<(), Rejection>);

/// Transactions whose signature passed the check alone, bounded, oldest forgotten first.
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

    /// Remembers that `key`'s transaction passed the signature check alone.
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

/// Decodes `txs` and verdicts their signatures on up to `threads` threads, handing each
/// transaction's result (identical for every `threads`) to `deliver` in block order as soon
/// as its chunk is checked, so that delivery overlaps the checking of later chunks: with
/// more than one thread, `threads - 1` helpers check chunks in order while this thread
/// delivers, and checks a chunk itself whenever the next one it needs is not yet taken.
/// `all_checked` runs once every chunk's verdicts are in hand (before the last chunk is
/// delivered). The first error from `deliver` stops the work and is returned; helpers
/// stop after the chunk they are on.
pub fn check_block_streaming<T: AsRef<[u8]> + Sync, E>(
    txs: &[T],
    params: &Params,
    verified: &Verified,
    threads: usize,
    all_checked: impl FnOnce(),
    mut deliver: impl FnMut(Checked) -> Result<(), E>,
) -> Result<(), E> {
    let chunks: Vec<&[T]> = txs.chunks(CHUNK).collect();
    let helpers = threads
        .saturating_sub(1)
        .min(chunks.len().saturating_sub(1));
    let mut all_checked = Some(all_checked);
    let board = Board {
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        done: Mutex::new(Done {
            chunks: (0..chunks.len()).map(|_| None).collect(),
            helper_failed: false,
        }),
        ready: Condvar::new(),
    };
    std::thread::scope(|s| {
        for _ in 0..helpers {
            s.spawn(|| board.help(&chunks, params, verified));
        }
        let result = (|| {
            for i in 0..chunks.len() {
                let results = board.take(i, &chunks, params, verified);
                if i + 1 == chunks.len()
                    && let Some(f) = all_checked.take()
                {
                    f();
                }
                results.into_iter().try_for_each(&mut deliver)?;
            }
            if let Some(f) = all_checked.take() {
                f(); // an empty block
            }
            Ok(())
        })();
        board.stop.store(true, Ordering::Relaxed);
        result
    })
}

/// What the delivering thread and the helpers share: the next chunk nobody has taken, a
/// stop flag, and the checked chunks not yet delivered.
struct Board {
    next: AtomicUsize,
    stop: AtomicBool,
    done: Mutex<Done>,
    ready: Condvar,
}

/// Checked chunks by index (taken out when delivered), and whether a helper died.
struct Done {
    chunks: Vec<Option<Vec<Checked>>>,
    helper_failed: bool,
}

/// Marks the board when a helper unwinds, so the delivering thread stops waiting for a
/// chunk that will never come (the scope re-raises the helper's panic when it ends).
struct HelperGuard<'a>(&'a Board);

impl Drop for HelperGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().helper_failed = true;
            self.0.ready.notify_all();
        }
    }
}

impl Board {
    /// A helper: takes chunks in order and checks them until none is left or delivery
    /// stopped.
    fn help<T: AsRef<[u8]>>(&self, chunks: &[&[T]], params: &Params, verified: &Verified) {
        let _guard = HelperGuard(self);
        while !self.stop.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = chunks.get(i) else { break };
            let results = check_chunk(chunk, params, verified);
            self.lock().chunks[i] = Some(results);
            self.ready.notify_all();
        }
    }

    /// Chunk `i`'s results, for the delivering thread. While a helper is still checking
    /// chunk `i`, this thread checks the next chunk nobody has taken (chunk `i` itself
    /// when it is untaken) instead of waiting: every thread checks while there is checking
    /// to do, and delivery goes on in block order.
    fn take<T: AsRef<[u8]>>(
        &self,
        i: usize,
        chunks: &[&[T]],
        params: &Params,
        verified: &Verified,
    ) -> Vec<Checked> {
        loop {
            if let Some(results) = self.lock().chunks[i].take() {
                return results;
            }
            let j = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = chunks.get(j) else {
                // Nothing left to take: chunk `i` is a helper's, wait for it.
                let mut done = self
                    .ready
                    .wait_while(self.lock(), |d| d.chunks[i].is_none() && !d.helper_failed)
                    .unwrap_or_else(|e| e.into_inner());
                // `None` only when a helper panicked (the process is already failing,
                // e.g. an allocation): check the chunk here; the scope re-raises the
                // helper's panic when it ends.
                let results = done.chunks[i].take();
                drop(done);
                return results.unwrap_or_else(|| check_chunk(chunks[i], params, verified));
            };
            let results = check_chunk(chunk, params, verified);
            if j == i {
                return results;
            }
            self.lock().chunks[j] = Some(results);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Done> {
        self.done.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One chunk: decode, then one batch for the signatures that pass the per-signature
/// pre-checks (a key and an `R` that decode and are not of small order, a canonical `s`:
/// the same rule as `CheckTx`), then one-by-one checks if the batch fails.
fn check_chunk<T: AsRef<[u8]>>(chunk: &[T], params: &Params, verified: &Verified) -> Vec<Checked> {
    let decoded: Vec<Result<SignedTx, Rejection>> =
        chunk.iter().map(|b| decode(b.as_ref(), params)).collect();
    let mut verdicts: Vec<Result<(), Rejection>> = vec![Ok(()); chunk.len()];
    // Every decoded transaction remembered: all valid (which implies the pre-checks), so
    // neither the pre-checks nor the batch can refuse one.
    let keys: Vec<[u8; 32]> = decoded
        .iter()
        .zip(chunk)
        .filter(|(tx, _)| tx.is_ok())
        .map(|(_, bytes)| Verified::key(bytes.as_ref()))
        .collect();
    if keys.is_empty() || verified.all_known(&keys) {
        return decoded.into_iter().zip(verdicts).collect();
    }
    let mut index = vec![];
    let mut batch: Vec<Prepared> = vec![];
    for (i, tx) in decoded.iter().enumerate() {
        let Ok(tx) = tx else { continue };
        match tx.verification_parts() {
            Ok(parts) => {
                index.push(i);
                batch.push(parts);
            }
            Err(_) => verdicts[i] = check_signature(tx),
        }
    }
    if !signature::verify_batch(&batch) {
        for (i, parts) in index.into_iter().zip(&batch) {
            if !parts.verify()
                && let Ok(tx) = &decoded[i]
            {
                verdicts[i] = check_signature(tx);
            }
        }
    }
    decoded.into_iter().zip(verdicts).collect()
}

#[cfg(test)]
mod tests;

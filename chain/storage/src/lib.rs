//! taochain storage: the authenticated, versioned state behind the app hash.
//!
//! It owns the one list of RocksDB columns and state-key prefixes ([`schema`]), the
//! read/write traits the state machine programs against ([`StateRead`], [`StateWrite`]),
//! an in-memory overlay for blocks and transactions ([`StateDelta`]) and the versioned
//! store with a Jellyfish Merkle tree ([`Storage`]) whose root is the app hash, over a
//! [`Backend`]: in memory ([`MemBackend`], tests and benches) or, behind the `rocksdb`
//! feature (the node's), RocksDB. It knows nothing of transactions, CometBFT or the CLI.

pub mod backend;
pub mod delta;
pub mod error;
#[cfg(feature = "rocksdb")]
mod rocks;
pub mod schema;
pub mod snapshot;
pub mod store;
mod tree;

pub use backend::{Backend, MemBackend, Op};
pub use delta::{Blobs, Changes, StateDelta};
pub use error::StorageError;
#[cfg(feature = "rocksdb")]
pub use rocks::{MIN_FREE_BYTES, RocksBackend};
pub use store::{PreparedCommit, Storage, StorageOptions};

/// One key/value entry.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Read access to key/value state.
pub trait StateRead {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// The first live entry with `start <= key < end` (`end == None`: unbounded), in
    /// byte order.
    fn next(&self, start: &[u8], end: Option<&[u8]>) -> Result<Option<Entry>, StorageError>;
    /// Like [`StateRead::next`], adding to `skipped` each entry deleted by pending writes
    /// that it steps over (each costs a read of the state below), and failing with
    /// [`StorageError::SkipLimit`] before it would step over more than `limit` in all. A
    /// state without pending writes steps over nothing.
    fn next_limited(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        skipped: &mut u64,
        limit: u64,
    ) -> Result<Option<Entry>, StorageError> {
        let _ = (skipped, limit);
        self.next(start, end)
    }
}

/// Write access to key/value state (buffered; nothing reaches disk until commit).
pub trait StateWrite: StateRead {
    /// Sets `key` to `value`.
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    /// Removes `key`.
    fn delete(&mut self, key: Vec<u8>);
}

/// Verifies an ICS23 membership (or, with `value == None`, non-membership) proof of `key`
/// against a root produced by [`Storage`]. Used by clients and tests.
pub fn verify_proof(
    root: &[u8; 32],
    key: &[u8],
    value: Option<&[u8]>,
    proof: &ics23::CommitmentProof,
) -> bool {
    let spec = jmt::ics23_spec();
    match value {
        Some(v) => ics23::verify_membership::<ics23::HostFunctionsManager>(
            proof,
            &spec,
            &root.to_vec(),
            key,
            v,
        ),
        None => ics23::verify_non_membership::<ics23::HostFunctionsManager>(
            proof,
            &spec,
            &root.to_vec(),
            key,
        ),
    }
}

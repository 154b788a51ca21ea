//! The key-value backends under [`crate::Storage`]: the columns of [`crate::schema`] as
//! ordered byte maps with atomic batch writes. [`MemBackend`] keeps them in memory (tests,
//! benches); `RocksBackend` (feature `rocksdb`) is the node's. The versioned store, the
//! Merkle tree and pruning are written once over this trait, so both give the same app
//! hash for the same blocks.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

use crate::schema::COLUMNS;
use crate::{Entry, StorageError};

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Set `key` in column `cf`.
    Put(&'static str, Vec<u8>, Vec<u8>),
    /// Remove `key` from column `cf`.
    Delete(&'static str, Vec<u8>),
}

/// Ordered columns of bytes with atomic batches.
pub trait Backend: Send + Sync {
    /// The value of `key` in `cf`.
    fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// The first entry of `cf` with key `>= start` (`forward`) or `<= start` (reverse).
    fn seek(
        &self,
        cf: &'static str,
        start: &[u8],
        forward: bool,
    ) -> Result<Option<Entry>, StorageError>;
    /// Visits the entries of `cf` from `start` on, in key order, while `visit` returns true.
    fn scan(
        &self,
        cf: &'static str,
        start: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StorageError>;
    /// Applies every op, all or nothing.
    fn write(&self, ops: Vec<Op>) -> Result<(), StorageError>;
}

type Column = BTreeMap<Vec<u8>, Vec<u8>>;

/// Every column in memory, behind one lock (writers are serialised by the app anyway).
#[derive(Debug)]
pub struct MemBackend {
    columns: RwLock<BTreeMap<&'static str, Column>>,
}

impl Default for MemBackend {
    fn default() -> Self {
        MemBackend {
            columns: RwLock::new(COLUMNS.iter().map(|c| (*c, Column::new())).collect()),
        }
    }
}

fn poisoned() -> StorageError {
    StorageError::Db("the in-memory store's lock is poisoned".into())
}

fn missing(cf: &'static str) -> StorageError {
    StorageError::Corrupt {
        what: "column family",
        detail: cf.into(),
    }
}

impl MemBackend {
    fn read<T>(&self, cf: &'static str, f: impl FnOnce(&Column) -> T) -> Result<T, StorageError> {
        let columns = self.columns.read().map_err(|_| poisoned())?;
        columns.get(cf).map(f).ok_or_else(|| missing(cf))
    }
}

impl Backend for MemBackend {
    fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.read(cf, |c| c.get(key).cloned())
    }

    fn seek(
        &self,
        cf: &'static str,
        start: &[u8],
        forward: bool,
    ) -> Result<Option<Entry>, StorageError> {
        self.read(cf, |c| {
            let hit = if forward {
                c.range::<[u8], _>((Bound::Included(start), Bound::Unbounded))
                    .next()
            } else {
                c.range::<[u8], _>((Bound::Unbounded, Bound::Included(start)))
                    .next_back()
            };
            hit.map(|(k, v)| (k.clone(), v.clone()))
        })
    }

    fn scan(
        &self,
        cf: &'static str,
        start: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StorageError> {
        self.read(cf, |c| {
            for (k, v) in c.range::<[u8], _>((Bound::Included(start), Bound::Unbounded)) {
                if !visit(k, v) {
                    break;
                }
            }
        })
    }

    fn write(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        let mut columns = self.columns.write().map_err(|_| poisoned())?;
        // Check every column first, so a bad op changes nothing.
        for op in &ops {
            let (Op::Put(cf, ..) | Op::Delete(cf, _)) = op;
            if !columns.contains_key(cf) {
                return Err(missing(cf));
            }
        }
        for op in ops {
            match op {
                Op::Put(cf, k, v) => {
                    columns.get_mut(cf).map(|c| c.insert(k, v));
                }
                Op::Delete(cf, k) => {
                    columns.get_mut(cf).map(|c| c.remove(&k));
                }
            }
        }
        Ok(())
    }
}

//! The RocksDB store: committed state, versioned by block height, with a Jellyfish
//! Merkle tree whose root is the app hash.
//!
//! A block is written in two steps so the app hash can be returned before the data is
//! durable (ABCI `FinalizeBlock` then `Commit`): [`Storage::prepare`] computes the new
//! root and the tree nodes in memory, [`Storage::commit`] writes nodes, value history,
//! preimages, the flat latest-value table, the stale-node index and the new version in
//! one atomic `WriteBatch`, and prunes tree nodes older than the kept window.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use jmt::storage::TreeUpdateBatch;
use jmt::{KeyHash, Sha256Jmt};
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, IteratorMode, Options, WriteBatch};
use sha2::Sha256;

use crate::schema::*;
use crate::tree::TreeView;
use crate::{Blobs, Changes, Entry, StateRead, StorageError};

/// Sentinel for "nothing committed yet" in the atomic latest-version cell.
const NONE: u64 = u64::MAX;

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// Versions of the tree kept readable (and provable); older nodes are pruned.
    pub keep_versions: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            keep_versions: 1_000,
        }
    }
}

/// A block's changes with its computed root, ready to be made durable.
pub struct PreparedCommit {
    version: u64,
    root: [u8; 32],
    changes: Changes,
    blobs: Blobs,
    tree: TreeUpdateBatch,
}

impl PreparedCommit {
    /// The version (block height) this commit writes.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The new root: the app hash.
    pub fn root(&self) -> [u8; 32] {
        self.root
    }
}

/// The committed, authenticated state on disk.
pub struct Storage {
    db: DB,
    latest: AtomicU64,
    options: StorageOptions,
}

fn db_err(e: rocksdb::Error) -> StorageError {
    StorageError::Db(e.to_string())
}

fn tree_err(e: anyhow::Error) -> StorageError {
    StorageError::Tree(format!("{e:#}"))
}

impl Storage {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path, options: StorageOptions) -> Result<Self, StorageError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = COLUMNS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(db_err)?;
        let latest = match db
            .get_cf(cf(&db, CF_META)?, META_LATEST_VERSION)
            .map_err(db_err)?
        {
            Some(bytes) => u64::from_be_bytes(bytes.as_slice().try_into().map_err(|_| {
                StorageError::Corrupt {
                    what: "latest version",
                    detail: format!("{bytes:?}"),
                }
            })?),
            None => NONE,
        };
        Ok(Storage {
            db,
            latest: AtomicU64::new(latest),
            options,
        })
    }

    /// The last committed version (block height), if any.
    pub fn latest_version(&self) -> Option<u64> {
        match self.latest.load(Ordering::Acquire) {
            NONE => None,
            v => Some(v),
        }
    }

    /// The root hash (app hash) at `version`.
    pub fn root_hash(&self, version: u64) -> Result<Option<[u8; 32]>, StorageError> {
        let view = TreeView { db: &self.db };
        let tree = Sha256Jmt::new(&view);
        Ok(tree
            .get_root_hash_option(version)
            .map_err(tree_err)?
            .map(|r| r.0))
    }

    /// The latest committed value of `key` (from the flat table, no tree walk).
    pub fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.db
            .get_cf(cf(&self.db, CF_LATEST)?, key)
            .map_err(db_err)
    }

    /// The first latest entry with `start <= key < end` (flat table, ordered).
    pub fn next_latest(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> Result<Option<Entry>, StorageError> {
        let mode = IteratorMode::From(start, rocksdb::Direction::Forward);
        match self.db.iterator_cf(cf(&self.db, CF_LATEST)?, mode).next() {
            None => Ok(None),
            Some(item) => {
                let (k, v) = item.map_err(db_err)?;
                Ok(end
                    .is_none_or(|e| &k[..] < e)
                    .then(|| (k.to_vec(), v.to_vec())))
            }
        }
    }

    /// A content-addressed blob (contract code) by sha256.
    pub fn get_blob(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StorageError> {
        self.db
            .get_cf(cf(&self.db, CF_BLOBS)?, hash)
            .map_err(db_err)
    }

    /// The value of `key` as of `version`, read through the tree.
    pub fn get_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StorageError> {
        self.check_readable(version)?;
        let view = TreeView { db: &self.db };
        Sha256Jmt::new(&view)
            .get(KeyHash::with::<Sha256>(key), version)
            .map_err(tree_err)
    }

    /// The value of `key` at `version` and an ICS23 proof (of membership, or of absence)
    /// against the root at `version`.
    pub fn get_with_proof(
        &self,
        key: &[u8],
        version: u64,
    ) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof), StorageError> {
        self.check_readable(version)?;
        let view = TreeView { db: &self.db };
        Sha256Jmt::new(&view)
            .get_with_ics23_proof(key.to_vec(), version)
            .map_err(tree_err)
    }

    fn check_readable(&self, version: u64) -> Result<(), StorageError> {
        let latest = self
            .latest_version()
            .ok_or(StorageError::VersionUnavailable(version))?;
        let oldest = latest.saturating_sub(self.options.keep_versions.saturating_sub(1));
        if version > latest || version < oldest {
            return Err(StorageError::VersionUnavailable(version));
        }
        Ok(())
    }

    /// Computes the root after applying `changes` at `version`, without writing anything.
    /// `version` must be the next one (or any, for the very first commit).
    pub fn prepare(
        &self,
        version: u64,
        changes: Changes,
        blobs: Blobs,
    ) -> Result<PreparedCommit, StorageError> {
        let last = self.latest_version();
        if let Some(last) = last
            && last.checked_add(1) != Some(version)
        {
            return Err(StorageError::VersionGap {
                last: Some(last),
                got: version,
            });
        }
        let view = TreeView { db: &self.db };
        let tree = Sha256Jmt::new(&view);
        let value_set = changes
            .iter()
            .map(|(k, v)| (KeyHash::with::<Sha256>(k), v.clone()))
            .collect::<Vec<_>>();
        let (root, batch) = tree.put_value_set(value_set, version).map_err(tree_err)?;
        Ok(PreparedCommit {
            version,
            root: root.0,
            changes,
            blobs,
            tree: batch,
        })
    }

    /// Makes a prepared commit durable, atomically, and prunes what fell out of the window.
    pub fn commit(&self, prepared: PreparedCommit) -> Result<(), StorageError> {
        let last = self.latest_version();
        if last.is_some_and(|l| l.checked_add(1) != Some(prepared.version)) {
            return Err(StorageError::VersionGap {
                last,
                got: prepared.version,
            });
        }
        let mut batch = WriteBatch::default();
        self.write_tree(&mut batch, &prepared)?;
        let (latest_cf, preimages_cf) = (cf(&self.db, CF_LATEST)?, cf(&self.db, CF_PREIMAGES)?);
        for (key, value) in &prepared.changes {
            match value {
                Some(v) => batch.put_cf(latest_cf, key, v),
                None => batch.delete_cf(latest_cf, key),
            }
            batch.put_cf(preimages_cf, KeyHash::with::<Sha256>(key).0, key);
        }
        let blobs_cf = cf(&self.db, CF_BLOBS)?;
        for (hash, bytes) in &prepared.blobs {
            match bytes {
                Some(b) => batch.put_cf(blobs_cf, hash, b),
                None => batch.delete_cf(blobs_cf, hash),
            }
        }
        self.prune(&mut batch, prepared.version)?;
        batch.put_cf(
            cf(&self.db, CF_META)?,
            META_LATEST_VERSION,
            prepared.version.to_be_bytes(),
        );
        self.db.write(batch).map_err(db_err)?;
        self.latest.store(prepared.version, Ordering::Release);
        Ok(())
    }

    fn write_tree(
        &self,
        batch: &mut WriteBatch,
        prepared: &PreparedCommit,
    ) -> Result<(), StorageError> {
        let encode = |what: &'static str, r: std::io::Result<Vec<u8>>| {
            r.map_err(|e| StorageError::Corrupt {
                what,
                detail: e.to_string(),
            })
        };
        let nodes_cf = cf(&self.db, CF_NODES)?;
        for (key, node) in prepared.tree.node_batch.nodes() {
            batch.put_cf(
                nodes_cf,
                encode("node key", borsh::to_vec(key))?,
                encode("node", borsh::to_vec(node))?,
            );
        }
        let values_cf = cf(&self.db, CF_VALUES)?;
        for ((version, key_hash), value) in prepared.tree.node_batch.values() {
            batch.put_cf(
                values_cf,
                value_key(&key_hash.0, *version),
                encode("value", borsh::to_vec(value))?,
            );
        }
        let stale_cf = cf(&self.db, CF_STALE)?;
        for stale in &prepared.tree.stale_node_index_batch {
            let mut key = stale.stale_since_version.to_be_bytes().to_vec();
            key.extend(encode("node key", borsh::to_vec(&stale.node_key))?);
            batch.put_cf(stale_cf, key, []);
        }
        Ok(())
    }

    /// Deletes tree nodes that no version inside the kept window can reach: a node stale
    /// since version `s` is needed only to read versions below `s`.
    fn prune(&self, batch: &mut WriteBatch, version: u64) -> Result<(), StorageError> {
        let oldest_kept = version.saturating_sub(self.options.keep_versions.saturating_sub(1));
        let (stale_cf, nodes_cf) = (cf(&self.db, CF_STALE)?, cf(&self.db, CF_NODES)?);
        for item in self.db.iterator_cf(stale_cf, IteratorMode::Start) {
            let (key, _) = item.map_err(db_err)?;
            let since = key
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StorageError::Corrupt {
                    what: "stale index",
                    detail: format!("{key:?}"),
                })?;
            if since > oldest_kept {
                break;
            }
            batch.delete_cf(nodes_cf, &key[8..]);
            batch.delete_cf(stale_cf, &key);
        }
        Ok(())
    }

    /// A read handle on the latest committed state.
    pub fn latest(&self) -> LatestState<'_> {
        LatestState { storage: self }
    }

    /// Number of tree nodes on disk (for tests and metrics; walks the column).
    pub fn node_count(&self) -> Result<usize, StorageError> {
        let mut n = 0;
        for item in self
            .db
            .iterator_cf(cf(&self.db, CF_NODES)?, IteratorMode::Start)
        {
            item.map_err(db_err)?;
            n += 1;
        }
        Ok(n)
    }
}

/// The latest committed state as a [`StateRead`].
#[derive(Clone, Copy)]
pub struct LatestState<'a> {
    storage: &'a Storage,
}

impl StateRead for LatestState<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.storage.get_latest(key)
    }

    fn next(&self, start: &[u8], end: Option<&[u8]>) -> Result<Option<Entry>, StorageError> {
        self.storage.next_latest(start, end)
    }
}

impl StateRead for Storage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.get_latest(key)
    }

    fn next(&self, start: &[u8], end: Option<&[u8]>) -> Result<Option<Entry>, StorageError> {
        self.next_latest(start, end)
    }
}

fn cf<'a>(db: &'a DB, name: &'static str) -> Result<&'a ColumnFamily, StorageError> {
    db.cf_handle(name).ok_or_else(|| StorageError::Corrupt {
        what: "column family",
        detail: name.into(),
    })
}

#[cfg(test)]
mod tests;

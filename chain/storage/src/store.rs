//! The versioned store: committed state by block height, with a Jellyfish Merkle tree
//! whose root is the app hash, over a [`Backend`] (RocksDB for the node, memory for tests
//! and benches: the same code computes the same roots on both).
//!
//! A block is written in two steps so the app hash can be returned before the data is
//! durable (ABCI `FinalizeBlock` then `Commit`): [`Storage::prepare`] computes the new
//! root and the tree nodes in memory, [`Storage::commit`] writes nodes, value history,
//! preimages, the flat latest-value table, the stale-node index and the
//! new version in one atomic batch, and prunes what only versions older than the kept
//! window (`keep_versions`) could read: tree nodes, and (a bounded slice per commit)
//! replaced values, and deleted keys' tombstones and preimages.
//!
//! With `write_behind` (the node's default) the batch is built and written on a writer
//! thread while the next block executes: the commit is the committed state at once (every
//! read, proof and the next [`Storage::prepare`] see it from memory until it is on disk),
//! at most one commit is in flight (the next `commit` waits for it), and a failed write
//! fails the next `commit` and every `prepare` and `commit` after it, so the node halts.
//! A crash loses at most that one block, which CometBFT replays at the handshake (the app
//! reports the height it has on disk).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;

use jmt::storage::{Node, NodeKey, TreeUpdateBatch};
use jmt::{KeyHash, Sha256Jmt};
use sha2::Sha256;

use crate::backend::{Backend, MemBackend, Op};
use crate::schema::*;
use crate::tree::TreeView;
use crate::{Blobs, Changes, Entry, StateRead, StorageError};

/// Sentinel for "nothing committed yet" in the atomic latest-version cell.
const NONE: u64 = u64::MAX;

/// Value-history entries a commit's sweep visits at least (see `Storage::sweep_values`).
const SWEEP_MIN: usize = 1_000;

/// A key's hash and its value-history entries: (version, is a deletion), ascending.
type KeyHistory = ([u8; 32], Vec<(u64, bool)>);

/// One key's value-history deletions: `entries` are its (version, is a deletion) in
/// ascending version order.
fn prune_key(batch: &mut Vec<Op>, hash: &[u8; 32], entries: &[(u64, bool)], oldest_kept: u64) {
    let Some(read) = entries.iter().rposition(|(v, _)| *v <= oldest_kept) else {
        return;
    };
    for (v, _) in &entries[..read] {
        batch.push(Op::Delete(CF_VALUES, value_key(hash, *v).to_vec()));
    }
    let (v, tombstone) = entries[read];
    if tombstone && read + 1 == entries.len() {
        batch.push(Op::Delete(CF_VALUES, value_key(hash, v).to_vec()));
        batch.push(Op::Delete(CF_PREIMAGES, hash.to_vec()));
    }
}

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// Versions of the tree kept readable (and provable); older nodes are pruned.
    pub keep_versions: u64,
    /// Write each commit on a writer thread while the next block executes (see the
    /// module doc); off, `commit` returns once the batch is on disk.
    pub write_behind: bool,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            keep_versions: 1_000,
            write_behind: true,
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
    /// Each changed key by its hash (the tree's preimages).
    preimages: BTreeMap<[u8; 32], Vec<u8>>,
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

    /// A tree node this commit writes.
    pub(crate) fn node(&self, key: &NodeKey) -> Option<&Node> {
        self.tree.node_batch.nodes().get(key)
    }

    /// The value this commit writes for `key_hash` (`Some(None)`: a deletion), if a read
    /// as of `max_version` sees this commit.
    pub(crate) fn value(&self, max_version: u64, key_hash: KeyHash) -> Option<&Option<Vec<u8>>> {
        if self.version > max_version {
            return None;
        }
        self.tree.node_batch.values().get(&(self.version, key_hash))
    }

    /// The key whose hash is `hash`, if this commit changes it.
    pub(crate) fn preimage(&self, hash: &[u8; 32]) -> Option<&[u8]> {
        self.preimages.get(hash).map(Vec::as_slice)
    }
}

/// The commit on the writer thread, shared with the readers until it is on disk.
type Pending = Arc<RwLock<Option<Arc<PreparedCommit>>>>;

/// The committed, authenticated state.
pub struct Storage {
    pub(crate) db: Arc<dyn Backend>,
    latest: AtomicU64,
    options: StorageOptions,
    /// Where the next value-history sweep starts.
    sweep_cursor: Arc<Mutex<Vec<u8>>>,
    /// The last commit while the writer makes it durable: reads see it first.
    pending: Pending,
    /// The writer thread of `pending`.
    writer: Mutex<Option<JoinHandle<Result<(), StorageError>>>>,
    /// Why a write failed, once [`Storage::flush`] has seen it: every later `prepare`
    /// and `commit` fails.
    failed: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are replaced whole, never left half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn tree_err(e: anyhow::Error) -> StorageError {
    StorageError::Tree(format!("{e:#}"))
}

impl Storage {
    /// Opens (or creates) the RocksDB store in `path`.
    #[cfg(feature = "rocksdb")]
    pub fn open(path: &std::path::Path, options: StorageOptions) -> Result<Self, StorageError> {
        Storage::over(Arc::new(crate::rocks::RocksBackend::open(path)?), options)
    }

    /// An empty store in memory (tests and benches): same roots, same proofs.
    pub fn in_memory(options: StorageOptions) -> Self {
        Storage {
            db: Arc::new(MemBackend::default()),
            latest: AtomicU64::new(NONE),
            options,
            sweep_cursor: Default::default(),
            pending: Default::default(),
            writer: Mutex::new(None),
            failed: Mutex::new(None),
        }
    }

    /// The store over `backend`, at the version it last committed.
    pub fn over(backend: Arc<dyn Backend>, options: StorageOptions) -> Result<Self, StorageError> {
        let latest = match backend.get(CF_META, META_LATEST_VERSION)? {
            Some(bytes) => u64::from_be_bytes(bytes.as_slice().try_into().map_err(|_| {
                StorageError::Corrupt {
                    what: "latest version",
                    detail: format!("{bytes:?}"),
                }
            })?),
            None => NONE,
        };
        Ok(Storage {
            db: backend,
            latest: AtomicU64::new(latest),
            options,
            sweep_cursor: Default::default(),
            pending: Default::default(),
            writer: Mutex::new(None),
            failed: Mutex::new(None),
        })
    }

    /// The commit being written, if any.
    fn pending(&self) -> Option<Arc<PreparedCommit>> {
        self.pending
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The tree as committed: the commit being written over the backend.
    pub(crate) fn view(&self) -> TreeView<'_> {
        TreeView {
            db: &*self.db,
            pending: self.pending(),
        }
    }

    /// Waits until the last commit is on disk. Fails if it, or any earlier one, failed.
    pub fn flush(&self) -> Result<(), StorageError> {
        // Held while joining: a second caller waits for the same write.
        let mut writer = lock(&self.writer);
        if let Some(handle) = writer.take() {
            let result = handle.join().unwrap_or_else(|_| {
                Err(StorageError::Db(
                    "the store's writer thread panicked".into(),
                ))
            });
            if let Err(e) = result {
                *lock(&self.failed) = Some(e.to_string());
                return Err(e);
            }
        }
        self.check_not_failed()
    }

    /// Fails if a write has failed (the state on disk is behind the state in memory).
    fn check_not_failed(&self) -> Result<(), StorageError> {
        match &*lock(&self.failed) {
            Some(why) => Err(StorageError::WriteFailed(why.clone())),
            None => Ok(()),
        }
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
        let view = self.view();
        let tree = Sha256Jmt::new(&view);
        Ok(tree
            .get_root_hash_option(version)
            .map_err(tree_err)?
            .map(|r| r.0))
    }

    /// The latest committed value of `key` (from the flat table, no tree walk).
    pub fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(value) = self.pending().and_then(|p| p.changes.get(key).cloned()) {
            return Ok(value);
        }
        self.db.get(CF_LATEST, key)
    }

    /// The first latest entry with `start <= key < end` (flat table, ordered).
    ///
    /// The commit being written is merged over the table. Its deletions are stepped over
    /// without counting against any read limit: whether a block's deletions are still in
    /// memory or already on disk depends on the writer's timing, so counting them would
    /// make a transaction's result depend on it. The steps are bounded by what one block
    /// deletes (each deletion paid for in that block), and only a deleted key found on
    /// disk costs a second seek.
    pub fn next_latest(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> Result<Option<Entry>, StorageError> {
        let on_disk = |from: &[u8]| -> Result<Option<Entry>, StorageError> {
            Ok(self
                .db
                .seek(CF_LATEST, from, true)?
                .filter(|(k, _)| end.is_none_or(|e| &k[..] < e)))
        };
        let Some(pending) = self.pending() else {
            return on_disk(start);
        };
        let mut disk = on_disk(start)?;
        let mut own = pending
            .changes
            .range(start.to_vec()..)
            .take_while(|(k, _)| end.is_none_or(|e| k.as_slice() < e));
        for (key, value) in own.by_ref() {
            match &disk {
                Some((dk, _)) if dk < key => return Ok(disk),
                _ => {}
            }
            match value {
                Some(v) => return Ok(Some((key.clone(), v.clone()))),
                None => {
                    if disk.as_ref().is_some_and(|(dk, _)| dk == key) {
                        let mut after = key.clone();
                        after.push(0);
                        disk = on_disk(&after)?;
                    }
                }
            }
        }
        Ok(disk)
    }

    /// A content-addressed blob (contract code) by sha256.
    pub fn get_blob(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(blob) = self.pending().and_then(|p| p.blobs.get(hash).cloned()) {
            return Ok(blob);
        }
        self.db.get(CF_BLOBS, hash)
    }

    /// The value of `key` as of `version`, read through the tree.
    pub fn get_at(&self, key: &[u8], version: u64) -> Result<Option<Vec<u8>>, StorageError> {
        self.check_readable(version)?;
        let view = self.view();
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
        let view = self.view();
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
        self.check_not_failed()?;
        let view = self.view();
        let hashed = hash_keys(&changes);
        let (root, batch) = update_tree(&Sha256Jmt::new(&view), &changes, &hashed, version)?;
        let preimages = hashed.into_iter().map(|(h, k)| (h, k.clone())).collect();
        Ok(PreparedCommit {
            version,
            root: root.0,
            changes,
            blobs,
            tree: batch,
            preimages,
        })
    }

    /// Makes a prepared commit the committed state and durable, atomically, pruning what
    /// fell out of the window: at once, or (`write_behind`) on the writer thread, after
    /// waiting for the previous commit's write.
    pub fn commit(&self, prepared: PreparedCommit) -> Result<(), StorageError> {
        self.flush()?;
        let last = self.latest_version();
        if last.is_some_and(|l| l.checked_add(1) != Some(prepared.version)) {
            return Err(StorageError::VersionGap {
                last,
                got: prepared.version,
            });
        }
        let version = prepared.version;
        let writer = Writer {
            db: self.db.clone(),
            sweep_cursor: self.sweep_cursor.clone(),
            keep_versions: self.options.keep_versions,
        };
        if !self.options.write_behind {
            writer.write(&prepared)?;
            self.latest.store(version, Ordering::Release);
            return Ok(());
        }
        let prepared = Arc::new(prepared);
        // Held until the writer's handle is stored: a `flush` meanwhile waits for it.
        let mut slot = lock(&self.writer);
        // Readers see the commit from here on; the writer removes it once it is on disk.
        *self.pending.write().unwrap_or_else(PoisonError::into_inner) = Some(prepared.clone());
        self.latest.store(version, Ordering::Release);
        let pending = self.pending.clone();
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let result = writer.write(&prepared);
                if result.is_ok() {
                    let mut slot = pending.write().unwrap_or_else(PoisonError::into_inner);
                    if slot.as_ref().is_some_and(|p| p.version == version) {
                        *slot = None;
                    }
                }
                result
            })
            .map_err(|e| {
                let why = format!("starting the store's writer thread: {e}");
                *lock(&self.failed) = Some(why.clone());
                StorageError::WriteFailed(why)
            })?;
        *slot = Some(handle);
        Ok(())
    }

    /// A read handle on the latest committed state.
    pub fn latest(&self) -> LatestState<'_> {
        LatestState { storage: self }
    }

    /// Number of tree nodes on disk (for tests and metrics; walks the column), once the
    /// last commit is written.
    pub fn node_count(&self) -> Result<usize, StorageError> {
        self.flush()?;
        let mut n = 0;
        self.db.scan(CF_NODES, &[], &mut |_, _| {
            n += 1;
            true
        })?;
        Ok(n)
    }
}

impl Drop for Storage {
    /// A store closed in order leaves its last commit on disk.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// What writes a commit: the backend, the value sweep's cursor, the kept window.
struct Writer {
    db: Arc<dyn Backend>,
    sweep_cursor: Arc<Mutex<Vec<u8>>>,
    keep_versions: u64,
}

impl Writer {
    /// Writes `prepared` and the pruning it allows in one atomic batch.
    fn write(&self, prepared: &PreparedCommit) -> Result<(), StorageError> {
        let mut batch = vec![];
        // Pruning first: its deletes must not undo this commit's writes (a key deleted
        // long ago and written again now keeps its preimage).
        self.prune(&mut batch, prepared)?;
        write_tree(&mut batch, prepared)?;
        for (key, value) in &prepared.changes {
            batch.push(match value {
                Some(v) => Op::Put(CF_LATEST, key.clone(), v.clone()),
                None => Op::Delete(CF_LATEST, key.clone()),
            });
        }
        for (hash, key) in &prepared.preimages {
            batch.push(Op::Put(CF_PREIMAGES, hash.to_vec(), key.clone()));
        }
        for (hash, bytes) in &prepared.blobs {
            batch.push(match bytes {
                Some(b) => Op::Put(CF_BLOBS, hash.to_vec(), b.clone()),
                None => Op::Delete(CF_BLOBS, hash.to_vec()),
            });
        }
        batch.push(Op::Put(
            CF_META,
            META_LATEST_VERSION.to_vec(),
            prepared.version.to_be_bytes().to_vec(),
        ));
        self.db.write(batch)
    }

    /// Deletes what no version inside the kept window can read once `prepared` is
    /// committed: every tree node stale since a version `s <= oldest kept` (needed only to
    /// read versions below `s`), and a slice of the value history (`sweep_values`). A key
    /// `prepared` writes again keeps its preimage: the commit's writes come after these
    /// deletes in the batch.
    fn prune(&self, batch: &mut Vec<Op>, prepared: &PreparedCommit) -> Result<(), StorageError> {
        // The oldest version readable *before* this commit: a query that checked it may
        // still be reading while the batch is written, so nothing it needs is deleted
        // (what only older versions need goes now; its own leftovers at the next commit).
        let oldest_kept = prepared.version.saturating_sub(self.keep_versions);
        let mut bad = None;
        self.db.scan(CF_STALE, &[], &mut |key, _| {
            let Some(since) = key
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
            else {
                bad = Some(key.to_vec());
                return false;
            };
            if since > oldest_kept {
                return false;
            }
            batch.push(Op::Delete(CF_NODES, key[8..].to_vec()));
            batch.push(Op::Delete(CF_STALE, key.to_vec()));
            true
        })?;
        if let Some(key) = bad {
            return Err(StorageError::Corrupt {
                what: "stale index",
                detail: format!("{key:?}"),
            });
        }
        self.sweep_values(batch, oldest_kept, prepared.changes.len())
    }

    /// Prunes value history, a slice per commit: from where the last sweep stopped, it
    /// visits at least [`SWEEP_MIN`] + 2 entries per changed key (whole keys at a time)
    /// and, per key, deletes every entry older than the newest one the oldest kept version
    /// reads; if that one is a deletion and nothing follows it, it goes too, with the key's
    /// preimage. The cursor wraps at the end of the column and lives in memory (a restart
    /// sweeps from the start). Bounded work per commit, with no read on the write path.
    fn sweep_values(
        &self,
        batch: &mut Vec<Op>,
        oldest_kept: u64,
        changed: usize,
    ) -> Result<(), StorageError> {
        let budget = SWEEP_MIN.saturating_add(changed.saturating_mul(2));
        let mut cursor = lock(&self.sweep_cursor);
        let mut visited = 0usize;
        let mut group: Option<KeyHistory> = None;
        let mut next_cursor = None;
        let mut bad = None;
        self.db.scan(CF_VALUES, &cursor, &mut |key, value| {
            let (Some(hash), Some(version)) = (
                key.get(..32).and_then(|h| <[u8; 32]>::try_from(h).ok()),
                key.get(32..40)
                    .and_then(|v| v.try_into().ok())
                    .map(u64::from_be_bytes),
            ) else {
                bad = Some(key.to_vec());
                return false;
            };
            if group.as_ref().is_some_and(|(h, _)| *h != hash) {
                if let Some((h, entries)) = group.take() {
                    prune_key(batch, &h, &entries, oldest_kept);
                }
                if visited >= budget {
                    next_cursor = Some(key.to_vec());
                    return false;
                }
            }
            visited += 1;
            // borsh(None) is a single 0 byte: a deletion.
            let tombstone = value == [0];
            group
                .get_or_insert_with(|| (hash, vec![]))
                .1
                .push((version, tombstone));
            true
        })?;
        if let Some(key) = bad {
            return Err(StorageError::Corrupt {
                what: "value history key",
                detail: format!("{key:?}"),
            });
        }
        if let Some((h, entries)) = group.take() {
            prune_key(batch, &h, &entries, oldest_kept);
        }
        *cursor = next_cursor.unwrap_or_default();
        Ok(())
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

/// Each changed key's hash (the tree's key), in the change set's order.
fn hash_keys(changes: &Changes) -> Vec<([u8; 32], &Vec<u8>)> {
    changes
        .keys()
        .map(|k| (KeyHash::with::<Sha256>(k).0, k))
        .collect()
}

/// The tree after `changes` (whose keys' hashes are `hashed`, in the same order) at
/// `version`: the new root and the nodes to write.
///
/// A change set without deletions (a block of transfers, most blocks) is applied in one
/// sorted pass that builds each touched internal node once and hashes it once; applying
/// keys one by one rebuilds and rehashes the path from the root for every key (15
/// sha256 per internal node on it), which was three quarters of `FinalizeBlock`. The
/// tree's shape is a function of its key set alone, so both give the same root and the
/// same nodes (`store::tests::batched_and_one_by_one_updates_build_the_same_tree`); a set
/// with a deletion takes the one-by-one path, the only one jmt has for deletions, and so
/// does the first commit.
fn update_tree(
    tree: &Sha256Jmt<'_, TreeView<'_>>,
    changes: &Changes,
    hashed: &[([u8; 32], &Vec<u8>)],
    version: u64,
) -> Result<(jmt::RootHash, TreeUpdateBatch), StorageError> {
    // The batched pass starts from the previous version's root node and cannot start
    // an empty tree (the first commit).
    let has_root = match version.checked_sub(1) {
        Some(previous) => tree
            .get_root_hash_option(previous)
            .map_err(tree_err)?
            .is_some(),
        None => false,
    };
    if has_root && !changes.is_empty() && changes.values().all(Option::is_some) {
        let value_set = hashed
            .iter()
            .zip(changes.values())
            .filter_map(|((h, _), v)| Some((KeyHash(*h), v.clone()?)))
            .collect::<Vec<_>>();
        let (roots, batch) = tree
            .batch_put_value_sets(vec![value_set], None, version)
            .map_err(tree_err)?;
        let root = roots
            .first()
            .copied()
            .ok_or_else(|| StorageError::Tree("the batched tree update returned no root".into()))?;
        return Ok((root, batch));
    }
    let value_set = hashed
        .iter()
        .zip(changes.values())
        .map(|((h, _), v)| (KeyHash(*h), v.clone()))
        .collect::<Vec<_>>();
    tree.put_value_set(value_set, version).map_err(tree_err)
}

/// The tree part of a prepared commit as backend writes: nodes, value history, the
/// stale-node index.
fn write_tree(batch: &mut Vec<Op>, prepared: &PreparedCommit) -> Result<(), StorageError> {
    let encode = |what: &'static str, r: std::io::Result<Vec<u8>>| {
        r.map_err(|e| StorageError::Corrupt {
            what,
            detail: e.to_string(),
        })
    };
    for (key, node) in prepared.tree.node_batch.nodes() {
        batch.push(Op::Put(
            CF_NODES,
            encode("node key", borsh::to_vec(key))?,
            encode("node", borsh::to_vec(node))?,
        ));
    }
    for ((version, key_hash), value) in prepared.tree.node_batch.values() {
        batch.push(Op::Put(
            CF_VALUES,
            value_key(&key_hash.0, *version).to_vec(),
            encode("value", borsh::to_vec(value))?,
        ));
    }
    for stale in &prepared.tree.stale_node_index_batch {
        let mut key = stale.stale_since_version.to_be_bytes().to_vec();
        key.extend(encode("node key", borsh::to_vec(&stale.node_key))?);
        batch.push(Op::Put(CF_STALE, key, vec![]));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! ABCI state sync: taking snapshots every N blocks, serving them to peers, and restoring
//! one a peer serves.
//!
//! A snapshot is the storage's snapshot stream ([`taochain_storage::snapshot`]) cut into
//! chunks, kept under `<dir>/<height>/` (`meta`, `chunk-<i>`), the newest `keep` of them.
//! Its ABCI metadata is borsh of [`Metadata`] (each chunk's sha256) and its hash the sha256
//! of that metadata, so a peer's chunk is checked the moment it arrives: a chunk that does
//! not match is refused, its sender rejected and the chunk asked of another peer. The
//! restored state must have the app hash the light client trusts, or nothing is written.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};
use taochain_app::App;
use taochain_storage::snapshot::FORMAT;
use tendermint_proto::v0_38::abci::{
    self as pb, response_apply_snapshot_chunk::Result as ApplyResult,
    response_offer_snapshot::Result as OfferResult,
};

/// The most chunks a snapshot we restore may have.
pub const MAX_CHUNKS: u32 = 1 << 16;
/// The largest chunk accepted from a peer.
pub const MAX_CHUNK_BYTES: usize = 16 << 20;
/// The most bytes buffered for one restore (a million accounts take ~49 MB; the restore
/// holds a few copies while it builds the tree).
pub const MAX_RESTORE_BYTES: usize = 1 << 30;

/// A snapshot's ABCI metadata: the sha256 of each chunk, in order.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Metadata {
    /// sha256 of chunk i.
    pub chunk_hashes: Vec<[u8; 32]>,
}

/// When and how snapshots are taken.
#[derive(Debug, Clone)]
pub struct SnapshotConfig {
    /// Where snapshots are kept.
    pub dir: PathBuf,
    /// Take one after every block whose height is a multiple of this (0: never).
    pub interval: u64,
    /// How many to keep.
    pub keep: usize,
    /// Chunk size in bytes.
    pub chunk_bytes: usize,
}

/// A restore in progress.
struct Restore {
    height: u64,
    chunk_hashes: Vec<[u8; 32]>,
    app_hash: [u8; 32],
    received: Vec<u8>,
    next: u32,
}

/// Taken snapshots and the restore in progress.
pub struct Snapshots {
    config: SnapshotConfig,
    restore: Mutex<Option<Restore>>,
}

fn apply(result: ApplyResult) -> pb::ResponseApplySnapshotChunk {
    pb::ResponseApplySnapshotChunk {
        result: result as i32,
        ..Default::default()
    }
}

impl Snapshots {
    /// Snapshots under `config.dir` (created when the first is taken).
    pub fn new(config: SnapshotConfig) -> Self {
        Snapshots {
            config,
            restore: Mutex::new(None),
        }
    }

    /// After committing `height`: takes a snapshot if it is due. The state is read now
    /// (between commits, so it is exactly `height`'s); the files are written by a
    /// background thread. A failure is logged, never fatal: snapshots are not consensus.
    pub fn after_commit(&self, app: &App, height: u64) {
        if self.config.interval == 0 || !height.is_multiple_of(self.config.interval) {
            return;
        }
        let bytes = match app.storage().export_snapshot() {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(height, error = %e, "snapshot export failed");
                return;
            }
        };
        let config = self.config.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || match write_snapshot(&config, height, &bytes) {
                Ok(chunks) => {
                    tracing::info!(height, chunks, bytes = bytes.len(), "snapshot taken")
                }
                Err(e) => tracing::warn!(height, error = %e, "snapshot write failed"),
            });
        if let Err(e) = spawned {
            tracing::warn!(height, error = %e, "snapshot thread failed to start");
        }
    }

    /// The snapshots on disk, newest first.
    pub fn list(&self) -> Vec<pb::Snapshot> {
        heights(&self.config.dir)
            .into_iter()
            .rev()
            .filter_map(|h| {
                let metadata =
                    std::fs::read(self.config.dir.join(h.to_string()).join("meta")).ok()?;
                let meta = Metadata::try_from_slice(&metadata).ok()?;
                Some(pb::Snapshot {
                    height: h,
                    format: FORMAT,
                    chunks: u32::try_from(meta.chunk_hashes.len()).ok()?,
                    hash: Sha256::digest(&metadata).to_vec().into(),
                    metadata: metadata.into(),
                })
            })
            .collect()
    }

    /// Chunk `index` of the snapshot at `height` (empty when there is none).
    pub fn load_chunk(&self, height: u64, format: u32, index: u32) -> Vec<u8> {
        if format != FORMAT {
            return vec![];
        }
        let path = self
            .config
            .dir
            .join(height.to_string())
            .join(format!("chunk-{index}"));
        std::fs::read(path).unwrap_or_default()
    }

    /// A peer's snapshot, offered by CometBFT with the app hash the light client trusts
    /// at its height. Accepted only into an empty store, in our format, with metadata that
    /// matches the snapshot's hash and chunk count.
    pub fn offer(
        &self,
        app: &App,
        snapshot: Option<pb::Snapshot>,
        app_hash: &[u8],
    ) -> pb::ResponseOfferSnapshot {
        let result = |r: OfferResult| pb::ResponseOfferSnapshot { result: r as i32 };
        // A new offer replaces any earlier one: forget its buffer now.
        *lock(&self.restore) = None;
        let Some(s) = snapshot else {
            return result(OfferResult::Reject);
        };
        if s.format != FORMAT {
            return result(OfferResult::RejectFormat);
        }
        if app.storage().latest_version().is_some() {
            tracing::warn!(
                height = s.height,
                "snapshot offered to a node that has state"
            );
            return result(OfferResult::Abort);
        }
        let Ok(app_hash) = <[u8; 32]>::try_from(app_hash) else {
            return result(OfferResult::Reject);
        };
        let meta = match Metadata::try_from_slice(&s.metadata) {
            Ok(m) => m,
            Err(_) => return result(OfferResult::Reject),
        };
        let hash_ok = Sha256::digest(&s.metadata).as_slice() == &s.hash[..];
        let count_ok = u32::try_from(meta.chunk_hashes.len()).ok() == Some(s.chunks)
            && (1..=MAX_CHUNKS).contains(&s.chunks);
        if !hash_ok || !count_ok || s.height == 0 {
            return result(OfferResult::Reject);
        }
        tracing::info!(height = s.height, chunks = s.chunks, "restoring a snapshot");
        *lock(&self.restore) = Some(Restore {
            height: s.height,
            chunk_hashes: meta.chunk_hashes,
            app_hash,
            received: vec![],
            next: 0,
        });
        result(OfferResult::Accept)
    }

    /// Chunk `index` from `sender`: refused (and asked of another peer) when it does not
    /// match its hash; the last one restores the state, which must have the trusted app
    /// hash.
    pub fn apply_chunk(
        &self,
        app: &App,
        index: u32,
        chunk: &[u8],
        sender: &str,
    ) -> pb::ResponseApplySnapshotChunk {
        let mut guard = lock(&self.restore);
        let Some(r) = guard.as_mut() else {
            return apply(ApplyResult::Abort);
        };
        if index < r.next {
            return apply(ApplyResult::Accept);
        }
        let expected = r.chunk_hashes.get(index as usize).copied();
        if index > r.next || expected.is_none() {
            return pb::ResponseApplySnapshotChunk {
                result: ApplyResult::Retry as i32,
                refetch_chunks: vec![r.next],
                reject_senders: vec![],
            };
        }
        let matches = chunk.len() <= MAX_CHUNK_BYTES
            && Some(<[u8; 32]>::from(Sha256::digest(chunk))) == expected;
        if !matches {
            tracing::warn!(
                height = r.height,
                index,
                sender,
                "refused a snapshot chunk that does not match its hash; asking another peer"
            );
            return pb::ResponseApplySnapshotChunk {
                result: ApplyResult::Retry as i32,
                refetch_chunks: vec![index],
                reject_senders: vec![sender.to_string()],
            };
        }
        if r.received.len().saturating_add(chunk.len()) > MAX_RESTORE_BYTES {
            *guard = None;
            return apply(ApplyResult::RejectSnapshot);
        }
        r.received.extend_from_slice(chunk);
        r.next += 1;
        if r.next as usize != r.chunk_hashes.len() {
            return apply(ApplyResult::Accept);
        }
        let Some(done) = guard.take() else {
            return apply(ApplyResult::Abort);
        };
        match app
            .storage()
            .restore_snapshot(&done.received, Some((done.height, done.app_hash)))
        {
            Ok((version, _)) => {
                tracing::info!(height = version, "state restored from the snapshot");
                apply(ApplyResult::Accept)
            }
            Err(e) => {
                tracing::warn!(height = done.height, error = %e, "snapshot refused");
                apply(ApplyResult::RejectSnapshot)
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Heights of the complete snapshots under `dir`, ascending.
fn heights(dir: &Path) -> Vec<u64> {
    let mut hs: Vec<u64> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    hs.sort_unstable();
    hs
}

/// Writes the chunks and metadata into a temporary directory, renames it into place
/// (so a listed snapshot is always complete), and removes all but the newest `keep`.
fn write_snapshot(config: &SnapshotConfig, height: u64, bytes: &[u8]) -> std::io::Result<usize> {
    let tmp = config.dir.join(format!(".tmp-{height}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let mut chunk_hashes = vec![];
    for (i, chunk) in bytes.chunks(config.chunk_bytes.max(1)).enumerate() {
        std::fs::write(tmp.join(format!("chunk-{i}")), chunk)?;
        chunk_hashes.push(Sha256::digest(chunk).into());
    }
    let chunks = chunk_hashes.len();
    if chunks > MAX_CHUNKS as usize {
        tracing::warn!(
            height,
            chunks,
            max = MAX_CHUNKS,
            "snapshot has more chunks than a peer accepts: raise --snapshot-chunk-bytes"
        );
    }
    let meta = borsh::to_vec(&Metadata { chunk_hashes })?;
    std::fs::write(tmp.join("meta"), meta)?;
    let dest = config.dir.join(height.to_string());
    if dest.exists() {
        std::fs::remove_dir_all(&dest)?;
    }
    std::fs::rename(&tmp, &dest)?;
    let all = heights(&config.dir);
    for old in &all[..all.len().saturating_sub(config.keep.max(1))] {
        std::fs::remove_dir_all(config.dir.join(old.to_string()))?;
    }
    Ok(chunks)
}

//! State snapshots for state sync: the whole committed state at one version as one byte
//! stream, and the restore that rebuilds exactly the same tree (and app hash) from it.
//!
//! The stream is borsh of [`SnapshotData`]: the version, every live state entry (the flat
//! table: exactly the tree's leaves) in key order, and every blob (contract code, data
//! blobs) in hash order. A Jellyfish Merkle tree's root depends only on its set of leaves,
//! so writing the entries at the same version into an empty store gives the same root.
//! Blobs are outside the tree: the state names each one it needs (`blob/<hash>` for data,
//! `codehash/<hash>` for code), so restore requires every named blob, with matching bytes,
//! and keeps only those. Restore checks the order, the blobs and the version before writing
//! anything, and writes through the normal prepare/commit path. Tree history below the snapshot is not
//! carried: a restored node can prove the snapshot version and later ones.

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::schema::{BLOBS, CF_BLOBS, CF_LATEST, CODE_HASHES};
use crate::{Blobs, Changes, Storage, StorageError};

/// The snapshot format this code writes and reads.
pub const FORMAT: u32 = 1;

/// The most state entries a snapshot may carry. A restore holds every entry and the tree
/// built over them in memory before it can compare the root with the trusted app hash, so
/// a peer's count is refused above this before anything is decoded (a gigabyte of empty
/// entries would otherwise decode into tens of gigabytes). A node whose state is larger
/// offers no snapshot (peers sync by replaying blocks).
pub const MAX_SNAPSHOT_ENTRIES: u32 = 4_000_000;

/// A snapshot's content.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SnapshotData {
    /// The version (height) the state is at.
    pub version: u64,
    /// Every live state entry, in strictly increasing key order.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every blob with its sha256, in strictly increasing hash order.
    pub blobs: Vec<([u8; 32], Vec<u8>)>,
}

fn corrupt(detail: impl Into<String>) -> StorageError {
    StorageError::Corrupt {
        what: "snapshot",
        detail: detail.into(),
    }
}

impl Storage {
    /// The latest committed state as snapshot bytes (call between commits: it reads the
    /// flat table and the blobs as they are now).
    pub fn export_snapshot(&self) -> Result<Vec<u8>, StorageError> {
        self.flush()?;
        let version = self
            .latest_version()
            .ok_or_else(|| corrupt("nothing committed to snapshot"))?;
        let mut entries = vec![];
        self.db.scan(CF_LATEST, &[], &mut |k, v| {
            entries.push((k.to_vec(), v.to_vec()));
            entries.len() <= MAX_SNAPSHOT_ENTRIES as usize
        })?;
        if entries.len() > MAX_SNAPSHOT_ENTRIES as usize {
            return Err(corrupt(format!(
                "the state has more than {MAX_SNAPSHOT_ENTRIES} entries: too large to snapshot"
            )));
        }
        let mut blobs = vec![];
        let mut bad = None;
        self.db
            .scan(CF_BLOBS, &[], &mut |k, v| match <[u8; 32]>::try_from(k) {
                Ok(hash) => {
                    blobs.push((hash, v.to_vec()));
                    true
                }
                Err(_) => {
                    bad = Some(k.to_vec());
                    false
                }
            })?;
        if let Some(key) = bad {
            return Err(corrupt(format!("blob key {key:?} is not a hash")));
        }
        borsh::to_vec(&SnapshotData {
            version,
            entries,
            blobs,
        })
        .map_err(|e| corrupt(e.to_string()))
    }

    /// Rebuilds an empty store from snapshot bytes; returns the restored version and root.
    /// Nothing is written unless the bytes decode, the entries are in strictly increasing
    /// key order with no empty key, every blob matches its hash, and the version and root
    /// are `expected` (when given: the height offered and the app hash a light client
    /// trusts there).
    pub fn restore_snapshot(
        &self,
        bytes: &[u8],
        expected: Option<(u64, [u8; 32])>,
    ) -> Result<(u64, [u8; 32]), StorageError> {
        if let Some(v) = self.latest_version() {
            return Err(corrupt(format!(
                "restore into a store already at version {v}"
            )));
        }
        // borsh: the version (8 bytes), then the entries' count (u32, little-endian).
        let count = bytes
            .get(8..12)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| corrupt("too short to hold a snapshot"))?;
        if count > MAX_SNAPSHOT_ENTRIES {
            return Err(corrupt(format!(
                "{count} entries, over the {MAX_SNAPSHOT_ENTRIES} a restore takes"
            )));
        }
        let data: SnapshotData =
            borsh::from_slice(bytes).map_err(|e| corrupt(format!("does not decode: {e}")))?;
        if let Some((version, _)) = expected
            && version != data.version
        {
            return Err(corrupt(format!(
                "snapshot is at version {}, offered as {version}",
                data.version
            )));
        }
        // The entries move into the change set (no second copy); the blobs the state names
        // must each be in the snapshot (the app hash does not cover blob bytes, so a peer
        // could otherwise leave one out).
        let mut changes = Changes::new();
        let mut needed = std::collections::BTreeSet::new();
        for (k, v) in data.entries {
            if k.is_empty() || changes.last_key_value().is_some_and(|(l, _)| *l >= k) {
                return Err(corrupt("entries are not in strictly increasing key order"));
            }
            for prefix in [BLOBS.prefix(), CODE_HASHES.prefix()] {
                if let Some(hash) = k.strip_prefix(prefix) {
                    let hash = <[u8; 32]>::try_from(hash)
                        .map_err(|_| corrupt("a blob key without a 32-byte hash"))?;
                    needed.insert(hash);
                }
            }
            changes.insert(k, Some(v));
        }
        let mut blobs = Blobs::new();
        let mut last_hash: Option<[u8; 32]> = None;
        for (hash, b) in data.blobs {
            if last_hash.is_some_and(|l| l >= hash) {
                return Err(corrupt("blobs are not in strictly increasing hash order"));
            }
            last_hash = Some(hash);
            if <[u8; 32]>::from(Sha256::digest(&b)) != hash {
                return Err(corrupt("a blob does not match its hash"));
            }
            if needed.contains(&hash) {
                blobs.insert(hash, Some(b));
            }
        }
        if let Some(missing) = needed.iter().find(|h| !blobs.contains_key(*h)) {
            return Err(corrupt(format!(
                "blob {} named by the state is missing",
                hex(missing)
            )));
        }
        let prepared = self.prepare(data.version, changes, blobs)?;
        let root = prepared.root();
        if let Some((_, expected)) = expected
            && expected != root
        {
            return Err(corrupt(format!(
                "restored root {} is not the trusted app hash {}",
                hex(&root),
                hex(&expected)
            )));
        }
        self.commit(prepared)?;
        // On disk before CometBFT is told: it bootstraps its own state at this height
        // next, and a node that restarts must find the restored state there.
        self.flush()?;
        Ok((data.version, root))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageOptions;

    /// One block's writes: key, and the new value (`None`: delete).
    type Block<'a> = &'a [(&'a [u8], Option<&'a [u8]>)];

    fn store_with(blocks: &[Block<'_>]) -> Storage {
        let s = Storage::in_memory(StorageOptions::default());
        for (i, block) in blocks.iter().enumerate() {
            let changes: Changes = block
                .iter()
                .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                .collect();
            let mut changes = changes;
            let mut blobs = Blobs::new();
            let blob = format!("blob {i}").into_bytes();
            let hash: [u8; 32] = Sha256::digest(&blob).into();
            blobs.insert(hash, Some(blob));
            // The state names the blob, as contract code does.
            changes.insert(
                crate::schema::code_hash_key(&hash).as_bytes().to_vec(),
                Some(vec![]),
            );
            let p = s.prepare(i as u64 + 1, changes, blobs).expect("prepare");
            s.commit(p).expect("commit");
        }
        s
    }

    #[test]
    fn a_restored_store_has_the_same_root_values_and_blobs() {
        let s = store_with(&[
            &[(b"a", Some(b"1")), (b"b", Some(b"2")), (b"c", Some(b"3"))],
            &[(b"b", None), (b"d", Some(b"4")), (b"a", Some(b"5"))],
        ]);
        let bytes = s.export_snapshot().expect("export");
        let fresh = Storage::in_memory(StorageOptions::default());
        let (version, root) = fresh
            .restore_snapshot(&bytes, s.root_hash(2).expect("root").map(|r| (2, r)))
            .expect("restore");
        assert_eq!(version, 2);
        assert_eq!(Some(root), s.root_hash(2).expect("root"));
        assert_eq!(fresh.get_latest(b"a").expect("get"), Some(b"5".to_vec()));
        assert_eq!(fresh.get_latest(b"b").expect("get"), None);
        assert_eq!(fresh.get_at(b"d", 2).expect("get"), Some(b"4".to_vec()));
        let blob = b"blob 0";
        let hash: [u8; 32] = Sha256::digest(blob).into();
        assert_eq!(fresh.get_blob(&hash).expect("blob"), Some(blob.to_vec()));
        // The restored store goes on like the original.
        for store in [&s, &fresh] {
            let p = store
                .prepare(
                    3,
                    Changes::from([(b"e".to_vec(), Some(b"6".to_vec()))]),
                    Blobs::new(),
                )
                .expect("prepare");
            store.commit(p).expect("commit");
        }
        assert_eq!(
            s.root_hash(3).expect("root"),
            fresh.root_hash(3).expect("root")
        );
        assert_eq!(
            fresh.export_snapshot().expect("export"),
            s.export_snapshot().expect("export")
        );
    }

    #[test]
    fn bad_snapshots_write_nothing() {
        let s = store_with(&[&[(b"a", Some(b"1")), (b"b", Some(b"2"))]]);
        let good: SnapshotData =
            borsh::from_slice(&s.export_snapshot().expect("export")).expect("decodes");
        let mut unordered = good.clone();
        unordered.entries.reverse();
        let mut dup = good.clone();
        dup.entries.push(dup.entries[1].clone());
        let mut empty_key = good.clone();
        empty_key.entries.insert(0, (vec![], b"x".to_vec()));
        let mut bad_blob = good.clone();
        bad_blob.blobs[0].1.push(0);
        let mut missing_blob = good.clone();
        missing_blob.blobs.clear();
        for bad in [unordered, dup, empty_key, bad_blob, missing_blob] {
            let fresh = Storage::in_memory(StorageOptions::default());
            let bytes = borsh::to_vec(&bad).expect("encode");
            assert!(fresh.restore_snapshot(&bytes, None).is_err());
            assert_eq!(fresh.latest_version(), None);
        }
        // A count over the cap is refused before anything is decoded or allocated.
        let mut huge = 7u64.to_le_bytes().to_vec();
        huge.extend((MAX_SNAPSHOT_ENTRIES + 1).to_le_bytes());
        let fresh = Storage::in_memory(StorageOptions::default());
        let err = fresh.restore_snapshot(&huge, None).expect_err("refused");
        assert!(err.to_string().contains("entries, over the"), "{err}");
        let bytes = borsh::to_vec(&good).expect("encode");
        let fresh = Storage::in_memory(StorageOptions::default());
        assert!(
            fresh
                .restore_snapshot(&bytes[..bytes.len() - 1], None)
                .is_err()
        );
        assert!(
            fresh.restore_snapshot(&bytes, Some((1, [7; 32]))).is_err(),
            "another root"
        );
        let root = s.root_hash(1).expect("root").expect("committed");
        assert!(
            fresh.restore_snapshot(&bytes, Some((2, root))).is_err(),
            "another height"
        );
        assert_eq!(fresh.latest_version(), None);
        assert_eq!(fresh.latest_version(), None);
        // A store that has state refuses a restore.
        assert!(s.restore_snapshot(&bytes, None).is_err());
    }
}

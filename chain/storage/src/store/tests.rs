//! Storage behaviour on both backends (memory, and RocksDB on a real directory when the
//! `rocksdb` feature is on), and the two giving the same roots and proofs.

use super::*;
use crate::verify_proof;

/// Runs `test` on a fresh in-memory store and, with RocksDB, on a fresh on-disk one.
fn each_backend(options: StorageOptions, test: impl Fn(&Storage)) {
    test(&Storage::in_memory(options.clone()));
    #[cfg(feature = "rocksdb")]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        test(&Storage::open(dir.path(), options).expect("opens"));
    }
}

fn changes(pairs: &[(&str, Option<&str>)]) -> Changes {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
        .collect()
}

fn commit(store: &Storage, version: u64, pairs: &[(&str, Option<&str>)]) -> [u8; 32] {
    let prepared = store
        .prepare(version, changes(pairs), Blobs::new())
        .expect("prepares");
    let root = prepared.root();
    store.commit(prepared).expect("commits");
    root
}

#[cfg(feature = "rocksdb")]
#[test]
fn committed_state_and_root_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = {
        let store = Storage::open(dir.path(), StorageOptions::default()).expect("opens");
        assert_eq!(store.latest_version(), None);
        commit(&store, 1, &[("a", Some("1")), ("b", Some("2"))]);
        commit(&store, 2, &[("a", Some("3")), ("b", None)])
    };
    let store = Storage::open(dir.path(), StorageOptions::default()).expect("reopens");
    assert_eq!(store.latest_version(), Some(2));
    assert_eq!(store.root_hash(2).expect("reads"), Some(root));
    assert_eq!(store.get_latest(b"a").expect("reads"), Some(b"3".to_vec()));
    assert_eq!(store.get_latest(b"b").expect("reads"), None);
    assert_eq!(store.get_at(b"a", 1).expect("reads"), Some(b"1".to_vec()));
    assert_eq!(store.get_at(b"b", 1).expect("reads"), Some(b"2".to_vec()));
    assert_eq!(store.get_at(b"b", 2).expect("reads"), None);
}

#[test]
fn root_depends_only_on_contents_not_on_write_order() {
    let s1 = Storage::in_memory(StorageOptions::default());
    let s2 = Storage::in_memory(StorageOptions::default());
    commit(&s1, 1, &[("x", Some("1"))]);
    let r1 = commit(&s1, 2, &[("y", Some("2"))]);
    commit(&s2, 1, &[("y", Some("2"))]);
    let r2 = commit(&s2, 2, &[("x", Some("1"))]);
    assert_eq!(r1, r2);
}

#[test]
fn proofs_of_presence_and_absence_verify_against_the_root() {
    each_backend(StorageOptions::default(), |store| {
        let keys: Vec<String> = (0..50).map(|i| format!("key{i}")).collect();
        let pairs: Vec<(&str, Option<&str>)> =
            keys.iter().map(|k| (k.as_str(), Some("v"))).collect();
        let root = commit(store, 1, &pairs);
        let (value, proof) = store.get_with_proof(b"key7", 1).expect("proves");
        assert_eq!(value.as_deref(), Some(&b"v"[..]));
        assert!(verify_proof(&root, b"key7", Some(b"v"), &proof));
        assert!(
            !verify_proof(&root, b"key7", Some(b"w"), &proof),
            "wrong value must fail"
        );
        let mut other_root = root;
        other_root[0] ^= 1;
        assert!(
            !verify_proof(&other_root, b"key7", Some(b"v"), &proof),
            "wrong root must fail"
        );
        let (value, proof) = store.get_with_proof(b"missing", 1).expect("proves");
        assert_eq!(value, None);
        assert!(verify_proof(&root, b"missing", None, &proof));
    });
}

#[test]
fn a_skipped_version_is_refused_instead_of_wiping_state() {
    each_backend(StorageOptions::default(), |store| {
        commit(store, 1, &[("a", Some("1"))]);
        assert!(matches!(
            store.prepare(3, changes(&[("a", Some("2"))]), Blobs::new()),
            Err(StorageError::VersionGap {
                last: Some(1),
                got: 3
            })
        ));
        assert!(matches!(
            store.prepare(1, changes(&[]), Blobs::new()),
            Err(StorageError::VersionGap { .. })
        ));
    });
}

#[test]
fn pruning_keeps_the_window_readable_and_bounds_the_tree() {
    each_backend(
        StorageOptions {
            keep_versions: 3,
            ..Default::default()
        },
        |store| {
            let mut roots = vec![];
            for v in 1..=20u64 {
                let value = v.to_string();
                roots.push(commit(
                    store,
                    v,
                    &[("hot", Some(value.as_str())), ("cold", Some("c"))],
                ));
            }
            for v in 18..=20u64 {
                assert_eq!(
                    store.get_at(b"hot", v).expect("reads"),
                    Some(v.to_string().into_bytes())
                );
                let (_, proof) = store.get_with_proof(b"hot", v).expect("proves");
                let value = v.to_string();
                assert!(verify_proof(
                    &roots[v as usize - 1],
                    b"hot",
                    Some(value.as_bytes()),
                    &proof
                ));
            }
            assert!(matches!(
                store.get_at(b"hot", 17),
                Err(StorageError::VersionUnavailable(17))
            ));
            // Two leaves and one internal node per version stay live for 3 versions.
            assert!(
                store.node_count().expect("counts") <= 3 * 3 + 3,
                "stale nodes were not pruned"
            );
        },
    );
}

#[test]
fn blobs_are_written_and_pruned_at_commit() {
    each_backend(StorageOptions::default(), |store| {
        let hash = [7u8; 32];
        let with = |version: u64, blob: Option<Vec<u8>>| {
            let mut blobs = Blobs::new();
            blobs.insert(hash, blob);
            let prepared = store
                .prepare(version, changes(&[]), blobs)
                .expect("prepares");
            store.commit(prepared).expect("commits");
        };
        with(1, Some(b"bytes".to_vec()));
        assert_eq!(
            store.get_blob(&hash).expect("reads"),
            Some(b"bytes".to_vec())
        );
        with(2, None);
        assert_eq!(store.get_blob(&hash).expect("reads"), None);
    });
}

mod batched_tree_update {
    use proptest::prelude::*;

    use super::*;

    /// A block: keys from a space of 600 (a tree four levels deep), values, and whether
    /// the entry deletes its key (applied only in every third block, so that the first
    /// block always takes the batched path).
    fn block() -> impl Strategy<Value = Vec<(u16, u8, bool)>> {
        prop::collection::vec((0..600u16, any::<u8>(), prop::bool::weighted(0.3)), 1..200)
    }

    /// Commits each block after checking that the batched update (when it applies) and
    /// the one-by-one update give the same root and the same writes.
    fn same_trees(blocks: &[&[(&str, Option<&str>)]]) {
        let store = Storage::in_memory(StorageOptions {
            keep_versions: 3,
            ..Default::default()
        });
        for (v, pairs) in blocks.iter().enumerate() {
            let version = v as u64 + 1;
            let changes = changes(pairs);
            let view = store.view();
            let tree = Sha256Jmt::new(&view);
            let ours =
                update_tree(&tree, &changes, &hash_keys(&changes), version).expect("updates");
            let one_by_one = tree
                .put_value_set(
                    changes
                        .iter()
                        .map(|(k, v)| (KeyHash::with::<Sha256>(k), v.clone())),
                    version,
                )
                .expect("updates");
            assert_eq!(ours, one_by_one, "block {version}");
            commit(&store, version, pairs);
        }
    }

    #[test]
    fn the_batched_update_handles_a_leaf_root_and_a_null_root() {
        // A root that is a leaf, written again with the same value.
        same_trees(&[&[("k0", Some("a"))], &[("k0", Some("a"))]]);
        // A root that is a leaf, split by a new key.
        same_trees(&[&[("k0", Some("a"))], &[("k1", Some("b"))]]);
        // Everything deleted (a null root), then written again.
        same_trees(&[&[("k0", Some("a"))], &[("k0", None)], &[("k1", Some("b"))]]);
        // A null root carried over by a block that changes nothing, then written.
        same_trees(&[
            &[("k0", Some("a"))],
            &[("k0", None)],
            &[("k0", None)],
            &[("k1", Some("b")), ("k2", Some("c"))],
        ]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Every block without a deletion is applied in one sorted pass; the one-by-one
        /// update over the same committed tree gives the same root, the same new nodes
        /// and values, and the same stale-node index, after any history of inserts,
        /// updates and deletions.
        #[test]
        fn batched_and_one_by_one_updates_build_the_same_tree(
            blocks in prop::collection::vec(block(), 1..10)
        ) {
            let store = Storage::in_memory(StorageOptions { keep_versions: 3, ..Default::default() });
            let mut batched = 0;
            for (v, b) in blocks.iter().enumerate() {
                let version = v as u64 + 1;
                let deletes = v % 3 == 2;
                let changes: Changes = b
                    .iter()
                    .map(|(k, val, del)| {
                        (k.to_be_bytes().to_vec(), (!(deletes && *del)).then(|| vec![*val]))
                    })
                    .collect();
                let view = store.view();
                let tree = Sha256Jmt::new(&view);
                let ours = update_tree(&tree, &changes, &hash_keys(&changes), version).expect("updates");
                let one_by_one = tree
                    .put_value_set(
                        changes.iter().map(|(k, v)| (KeyHash::with::<Sha256>(k), v.clone())),
                        version,
                    )
                    .expect("updates");
                prop_assert_eq!(ours.0, one_by_one.0);
                prop_assert_eq!(&ours.1, &one_by_one.1);
                batched += usize::from(changes.values().all(Option::is_some));
                let prepared = store.prepare(version, changes, Blobs::new()).expect("prepares");
                prop_assert_eq!(prepared.root(), ours.0.0);
                store.commit(prepared).expect("commits");
            }
            prop_assert!(batched > 0, "no block took the batched path");
        }
    }
}

#[cfg(feature = "rocksdb")]
mod same_on_both_backends {
    use proptest::prelude::*;

    use super::*;

    fn block() -> impl Strategy<Value = Vec<(u8, Option<u8>)>> {
        // Every block writes something (the chain always does: supply, nonces).
        prop::collection::vec((0..40u8, prop::option::of(any::<u8>())), 1..12)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// The same blocks give the same root, the same values at every kept height and
        /// the same proofs on memory and on RocksDB, pruning included.
        #[test]
        fn memory_and_rocksdb_agree(blocks in prop::collection::vec(block(), 1..12)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let options = StorageOptions { keep_versions: 4, ..Default::default() };
            let mem = Storage::in_memory(options.clone());
            let disk = Storage::open(dir.path(), options).expect("opens");
            for (v, b) in blocks.iter().enumerate() {
                let version = v as u64 + 1;
                let changes: Changes = b
                    .iter()
                    .map(|(k, val)| (vec![*k], val.map(|x| vec![x])))
                    .collect();
                let (pm, pd) = (
                    mem.prepare(version, changes.clone(), Blobs::new()).expect("prepares"),
                    disk.prepare(version, changes, Blobs::new()).expect("prepares"),
                );
                prop_assert_eq!(pm.root(), pd.root());
                mem.commit(pm).expect("commits");
                disk.commit(pd).expect("commits");
                for k in 0..40u8 {
                    let lo = version.saturating_sub(3).max(1);
                    for h in lo..=version {
                        // Values and proofs, or the same error (an empty tree has no root).
                        let (a, b) = (
                            format!("{:?}", mem.get_with_proof(&[k], h)),
                            format!("{:?}", disk.get_with_proof(&[k], h)),
                        );
                        prop_assert_eq!(a, b);
                    }
                    prop_assert_eq!(mem.get_latest(&[k]).expect("reads"), disk.get_latest(&[k]).expect("reads"));
                }
            }
            prop_assert_eq!(mem.node_count().expect("counts"), disk.node_count().expect("counts"));
        }
    }
}

fn count(store: &Storage, cf: &'static str) -> usize {
    store.flush().expect("written");
    let mut n = 0;
    store
        .db
        .scan(cf, &[], &mut |_, _| {
            n += 1;
            true
        })
        .expect("scans");
    n
}

#[test]
fn value_history_is_pruned_to_the_kept_window() {
    each_backend(
        StorageOptions {
            keep_versions: 3,
            ..Default::default()
        },
        |store| {
            for v in 1..=10u64 {
                let value = v.to_string();
                commit(
                    store,
                    v,
                    &[("a", Some(value.as_str())), ("fixed", Some("x"))],
                );
                // Each key keeps exactly the entries of the 3 readable versions, and of the
                // one before them (readable until this commit).
                let kept = 2 * v.min(4) as usize;
                assert_eq!(count(store, CF_VALUES), kept, "after {v}");
            }
            for v in 8..=10u64 {
                assert_eq!(
                    store.get_at(b"a", v).expect("reads"),
                    Some(v.to_string().into_bytes())
                );
                assert_eq!(
                    store.get_at(b"fixed", v).expect("reads"),
                    Some(b"x".to_vec())
                );
                let root = store.root_hash(v).expect("root").expect("kept");
                let (value, proof) = store.get_with_proof(b"a", v).expect("proof");
                assert!(verify_proof(&root, b"a", value.as_deref(), &proof));
            }
            assert!(
                store.get_at(b"a", 7).is_err(),
                "version 7 is outside the window"
            );
        },
    );
}

#[test]
fn a_deleted_key_loses_its_history_and_preimage_unless_written_again() {
    each_backend(
        StorageOptions {
            keep_versions: 2,
            ..Default::default()
        },
        |store| {
            commit(
                store,
                1,
                &[
                    ("gone", Some("1")),
                    ("back", Some("1")),
                    ("stay", Some("s")),
                ],
            );
            commit(store, 2, &[("gone", None), ("back", None)]);
            commit(store, 3, &[("back", Some("3"))]);
            for v in 4..=6 {
                commit(store, v, &[("stay", Some("s"))]);
            }
            store.flush().expect("written");
            let hash = |k: &str| KeyHash::with::<Sha256>(k.as_bytes()).0;
            assert_eq!(
                store.db.get(CF_PREIMAGES, &hash("gone")).expect("reads"),
                None
            );
            assert!(
                store
                    .db
                    .get(CF_PREIMAGES, &hash("back"))
                    .expect("reads")
                    .is_some()
            );
            // Only `back`'s value at 3 and `stay`'s newest entries remain.
            let mut keys = vec![];
            store
                .db
                .scan(CF_VALUES, &[], &mut |k, _| {
                    keys.push(k.to_vec());
                    true
                })
                .expect("scans");
            assert!(
                !keys.iter().any(|k| k[..32] == hash("gone")),
                "gone's history is pruned"
            );
            assert_eq!(keys.iter().filter(|k| k[..32] == hash("back")).count(), 1);
            for v in 5..=6 {
                assert_eq!(store.get_at(b"gone", v).expect("reads"), None);
                assert_eq!(
                    store.get_at(b"back", v).expect("reads"),
                    Some(b"3".to_vec())
                );
                let root = store.root_hash(v).expect("root").expect("kept");
                for key in ["gone", "back", "stay"] {
                    let (value, proof) = store.get_with_proof(key.as_bytes(), v).expect("proof");
                    assert!(
                        verify_proof(&root, key.as_bytes(), value.as_deref(), &proof),
                        "{key}@{v}"
                    );
                }
            }
        },
    );
}

#[test]
fn a_key_written_again_keeps_its_preimage_when_its_old_tombstone_is_pruned() {
    each_backend(
        StorageOptions {
            keep_versions: 4,
            ..Default::default()
        },
        |store| {
            commit(store, 1, &[("k", Some("1"))]);
            commit(store, 2, &[("k", None)]);
            commit(store, 3, &[("k", Some("3"))]);
            // The tombstone at 2 leaves the window at 5 (oldest kept: 2), after `k` came back.
            for v in 4..=7 {
                commit(store, v, &[("other", Some("o"))]);
            }
            store.flush().expect("written");
            let hash = KeyHash::with::<Sha256>(b"k").0;
            assert!(store.db.get(CF_PREIMAGES, &hash).expect("reads").is_some());
            let root = store.root_hash(7).expect("root").expect("kept");
            let (value, proof) = store.get_with_proof(b"k", 7).expect("proof");
            assert_eq!(value, Some(b"3".to_vec()));
            assert!(verify_proof(&root, b"k", value.as_deref(), &proof));
        },
    );
}

#[test]
fn the_value_sweep_does_a_bounded_slice_per_commit_and_goes_round() {
    each_backend(
        StorageOptions {
            keep_versions: 2,
            ..Default::default()
        },
        |store| {
            let keys: Vec<String> = (0..2_500).map(|i| format!("key{i:05}")).collect();
            let all = |value: &'static str| -> Vec<(&str, Option<&str>)> {
                keys.iter().map(|k| (k.as_str(), Some(value))).collect()
            };
            commit(store, 1, &all("1"));
            commit(store, 2, &all("2"));
            commit(store, 3, &all("3"));
            assert_eq!(count(store, CF_VALUES), 7_500);
            // One small change per block: each sweep visits about SWEEP_MIN entries.
            commit(store, 4, &[("key00000", Some("4"))]);
            let after_one = count(store, CF_VALUES);
            assert!(
                after_one > 7_500 - 1_000,
                "{after_one}: the slice is bounded"
            );
            assert!(after_one < 7_500, "{after_one}: the sweep pruned something");
            for v in 5..=14 {
                commit(store, v, &[("key00000", Some("x"))]);
            }
            // Every old entry is gone: one per key, plus key00000's readable versions.
            let left = count(store, CF_VALUES);
            assert!(left <= 2_500 + 3, "{left}");
            assert_eq!(
                store.get_at(b"key02499", 14).expect("reads"),
                Some(b"3".to_vec())
            );
        },
    );
}

/// Write-behind: reads while a commit is still being written, and a failed write.
mod write_behind {
    use std::sync::Condvar;
    use std::sync::atomic::AtomicBool;

    use proptest::prelude::*;

    use super::*;

    /// A memory backend whose writes wait while `held`, and fail while `failing`.
    #[derive(Default)]
    struct Gated {
        inner: MemBackend,
        held: Mutex<bool>,
        released: Condvar,
        failing: AtomicBool,
    }

    impl Gated {
        fn hold(&self, held: bool) {
            *self.held.lock().expect("lock") = held;
            self.released.notify_all();
        }

        fn written_version(&self) -> Option<Vec<u8>> {
            self.inner.get(CF_META, META_LATEST_VERSION).expect("reads")
        }
    }

    /// Opens the gate when dropped: a failed assertion must not leave the store's `Drop`
    /// waiting for a write that is held forever.
    struct Release<'a>(&'a Gated);

    impl Drop for Release<'_> {
        fn drop(&mut self) {
            self.0.hold(false);
        }
    }

    impl Backend for Gated {
        fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
            self.inner.get(cf, key)
        }

        fn seek(
            &self,
            cf: &'static str,
            start: &[u8],
            forward: bool,
        ) -> Result<Option<Entry>, StorageError> {
            self.inner.seek(cf, start, forward)
        }

        fn scan(
            &self,
            cf: &'static str,
            start: &[u8],
            visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
        ) -> Result<(), StorageError> {
            self.inner.scan(cf, start, visit)
        }

        fn write(&self, ops: Vec<Op>) -> Result<(), StorageError> {
            let mut held = self.held.lock().expect("lock");
            while *held {
                held = self.released.wait(held).expect("wait");
            }
            if self.failing.load(Ordering::SeqCst) {
                return Err(StorageError::Db("the disk said no".into()));
            }
            self.inner.write(ops)
        }
    }

    /// Every read a client or the next block can make, as text: latest values, a full
    /// ordered scan and two bounded ones, blobs, and values with proofs at every kept
    /// version.
    fn reads(store: &Storage, version: u64) -> String {
        let mut out = vec![];
        for k in 0..24u8 {
            out.push(format!("{k}={:?}", store.get_latest(&[k])));
            for h in version.saturating_sub(2).max(1)..=version {
                out.push(format!("{k}@{h}={:?}", store.get_with_proof(&[k], h)));
            }
        }
        let mut cursor = vec![];
        while let Some((k, v)) = store.next_latest(&cursor, None).expect("scans") {
            out.push(format!("next {k:?}={v:?}"));
            cursor = k;
            cursor.push(0);
        }
        out.push(format!("range {:?}", store.next_latest(&[5], Some(&[9]))));
        out.push(format!("range {:?}", store.next_latest(&[9], Some(&[10]))));
        for b in 0..4u8 {
            out.push(format!("blob {b}={:?}", store.get_blob(&[b; 32])));
        }
        out.push(format!("root {:?}", store.root_hash(version)));
        out.join("\n")
    }

    /// A block: keys set (`Some`) or deleted, and blobs written (`true`) or pruned.
    type Block = (Vec<(u8, Option<u8>)>, Vec<(u8, bool)>);

    fn block() -> impl Strategy<Value = Block> {
        (
            prop::collection::vec((0..24u8, prop::option::of(any::<u8>())), 1..16),
            prop::collection::vec((0..4u8, any::<bool>()), 0..3),
        )
    }

    proptest! {
        // Few shrink steps: a failing case is already small, and each step runs threads.
        #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 8, ..ProptestConfig::default() })]
        /// While each commit is held on its way to disk, every read (values, scans over
        /// its deletions, blobs, proofs at every kept version) and the next block's root
        /// are what a store that wrote it at once gives; and the disk is still behind.
        #[test]
        fn a_commit_being_written_reads_as_committed(blocks in prop::collection::vec(block(), 2..10)) {
            let options = StorageOptions { keep_versions: 3, write_behind: true };
            let gated = Arc::new(Gated::default());
            let behind = Storage::over(gated.clone(), options.clone()).expect("opens");
            let at_once = Storage::in_memory(StorageOptions { write_behind: false, ..options });
            let _release = Release(&gated);
            for (v, (pairs, blobs)) in blocks.iter().enumerate() {
                let version = v as u64 + 1;
                let changes: Changes = pairs
                    .iter()
                    .map(|(k, val)| (vec![*k], val.map(|x| vec![x])))
                    .collect();
                let blobs: Blobs = blobs
                    .iter()
                    .map(|(b, put)| ([*b; 32], put.then(|| vec![*b; 3])))
                    .collect();
                let ours = behind.prepare(version, changes.clone(), blobs.clone()).expect("prepares");
                let theirs = at_once.prepare(version, changes, blobs).expect("prepares");
                prop_assert_eq!(ours.root(), theirs.root());
                at_once.commit(theirs).expect("commits");
                gated.hold(true);
                behind.commit(ours).expect("commits");
                prop_assert_eq!(behind.latest_version(), Some(version));
                if version > 1 {
                    prop_assert_eq!(
                        gated.written_version(),
                        Some((version - 1).to_be_bytes().to_vec()),
                        "the commit is still on its way"
                    );
                }
                prop_assert_eq!(reads(&behind, version), reads(&at_once, version));
                let next: Changes = [(vec![200], Some(vec![v as u8]))].into();
                prop_assert_eq!(
                    behind.prepare(version + 1, next.clone(), Blobs::new()).expect("prepares").root(),
                    at_once.prepare(version + 1, next, Blobs::new()).expect("prepares").root()
                );
                gated.hold(false);
                behind.flush().expect("written");
                prop_assert_eq!(gated.written_version(), Some(version.to_be_bytes().to_vec()));
                prop_assert_eq!(reads(&behind, version), reads(&at_once, version));
            }
        }
    }

    #[test]
    fn a_snapshot_is_restored_on_disk_before_the_restore_returns() {
        let source = Storage::in_memory(StorageOptions::default());
        commit(&source, 1, &[("a", Some("1")), ("b", Some("2"))]);
        let bytes = source.export_snapshot().expect("exports");
        // A disk that refuses the write: the restore fails (CometBFT is not told Accept).
        let gated = Arc::new(Gated::default());
        gated.failing.store(true, Ordering::SeqCst);
        let fresh = Storage::over(gated, StorageOptions::default()).expect("opens");
        let err = fresh
            .restore_snapshot(&bytes, None)
            .expect_err("not on disk");
        assert!(err.to_string().contains("the disk said no"), "{err}");
        // A working disk has the restored version when the restore returns.
        let gated = Arc::new(Gated::default());
        let fresh = Storage::over(gated.clone(), StorageOptions::default()).expect("opens");
        fresh.restore_snapshot(&bytes, None).expect("restores");
        assert_eq!(gated.written_version(), Some(1u64.to_be_bytes().to_vec()));
    }

    #[test]
    fn a_failed_write_fails_every_later_commit_and_the_disk_keeps_the_last_written() {
        let gated = Arc::new(Gated::default());
        let store = Storage::over(gated.clone(), StorageOptions::default()).expect("opens");
        commit(&store, 1, &[("a", Some("1"))]);
        store.flush().expect("written");
        gated.failing.store(true, Ordering::SeqCst);
        let root = commit(&store, 2, &[("a", Some("2"))]);
        // The failure comes out at the next commit (the node halts there).
        let prepared = store
            .prepare(3, changes(&[("a", Some("3"))]), Blobs::new())
            .expect("the writer may still be writing 2");
        let err = store.commit(prepared).expect_err("2 was not written");
        assert!(err.to_string().contains("the disk said no"), "{err}");
        // And at every later prepare and commit, saying why.
        let err = store
            .prepare(3, changes(&[("a", Some("3"))]), Blobs::new())
            .err()
            .expect("refused");
        assert!(matches!(err, StorageError::WriteFailed(_)), "{err}");
        assert!(err.to_string().contains("the disk said no"), "{err}");
        // Reads still see block 2, the state the node last reported.
        assert_eq!(store.get_latest(b"a").expect("reads"), Some(b"2".to_vec()));
        assert_eq!(store.root_hash(2).expect("root"), Some(root));
        // The disk has block 1: a restart resumes there and CometBFT replays block 2.
        drop(store);
        gated.failing.store(false, Ordering::SeqCst);
        let reopened = Storage::over(gated, StorageOptions::default()).expect("reopens");
        assert_eq!(reopened.latest_version(), Some(1));
        assert_eq!(
            reopened.get_latest(b"a").expect("reads"),
            Some(b"1".to_vec())
        );
    }
}

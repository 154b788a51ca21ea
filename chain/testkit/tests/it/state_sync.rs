//! State sync through the ABCI snapshot calls: a fresh node restores a peer's snapshot,
//! refuses a corrupt chunk (rejecting its sender and asking for it again), refuses state
//! that does not have the trusted app hash, then follows blocks with the same app hash.

use std::time::{Duration, Instant};

use taochain_abci::snapshots::{Metadata, SnapshotConfig};
use taochain_testkit::MockChain;
use taochain_testkit::fixtures::{CHAIN_ID, addr, genesis, transfer};
use tendermint_abci::Application;
use tendermint_proto::v0_38::abci::{
    self as pb, response_apply_snapshot_chunk::Result as Apply,
    response_offer_snapshot::Result as Offer,
};

use crate::BALANCE;

fn config(dir: &std::path::Path) -> SnapshotConfig {
    SnapshotConfig {
        dir: dir.to_path_buf(),
        interval: 5,
        keep: 2,
        chunk_bytes: 300,
    }
}

/// Block `h`'s transactions: three transfers from account 0.
fn block_txs(h: u64) -> Vec<Vec<u8>> {
    (0..3)
        .map(|i| transfer(0, 3 * (h - 1) + i, addr(1 + i as u8), 1_000 + h))
        .collect()
}

/// A chain with snapshots every 5 blocks, run to height 12 with transfers in every block;
/// returns it once its snapshot of height 10 is on disk.
fn source(dir: &std::path::Path) -> (MockChain, pb::Snapshot) {
    let mut chain = MockChain::in_memory_with_snapshots(config(dir));
    chain.init(CHAIN_ID, &genesis(4, BALANCE));
    for h in 1..=12 {
        assert!(
            chain
                .block(block_txs(h))
                .results
                .iter()
                .all(|r| r.code == 0)
        );
    }
    let start = Instant::now();
    loop {
        let list = chain.abci().list_snapshots().snapshots;
        if let Some(s) = list.iter().find(|s| s.height == 10) {
            assert_eq!(list.len(), 2, "kept 5 and 10: {list:?}");
            return (chain, s.clone());
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no snapshot at 10: {list:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn offer(chain: &MockChain, s: &pb::Snapshot, app_hash: &[u8]) -> i32 {
    chain
        .abci()
        .offer_snapshot(pb::RequestOfferSnapshot {
            snapshot: Some(s.clone()),
            app_hash: app_hash.to_vec().into(),
        })
        .result
}

fn chunk(chain: &MockChain, s: &pb::Snapshot, i: u32) -> Vec<u8> {
    chain
        .abci()
        .load_snapshot_chunk(pb::RequestLoadSnapshotChunk {
            height: s.height,
            format: s.format,
            chunk: i,
        })
        .chunk
        .to_vec()
}

fn apply(
    chain: &MockChain,
    i: u32,
    bytes: Vec<u8>,
    sender: &str,
) -> pb::ResponseApplySnapshotChunk {
    chain
        .abci()
        .apply_snapshot_chunk(pb::RequestApplySnapshotChunk {
            index: i,
            chunk: bytes.into(),
            sender: sender.into(),
        })
}

#[test]
fn a_fresh_node_restores_a_snapshot_refusing_a_corrupt_chunk_and_follows_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut src, snap) = source(dir.path());
    assert!(snap.chunks >= 3, "small chunks: {}", snap.chunks);
    // The state after block 10 is committed to by the app hash in header 11.
    let trusted = src.app_hashes[9].clone();

    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let mut fresh = MockChain::in_memory_with_snapshots(config(fresh_dir.path()));
    assert_eq!(offer(&fresh, &snap, &trusted), Offer::Accept as i32);
    for i in 0..snap.chunks {
        let good = chunk(&src, &snap, i);
        if i == 1 {
            let mut bad = good.clone();
            bad[0] ^= 1;
            let r = apply(&fresh, i, bad, "liar");
            assert_eq!(r.result, Apply::Retry as i32);
            assert_eq!(r.refetch_chunks, vec![1]);
            assert_eq!(r.reject_senders, vec!["liar".to_string()]);
        }
        assert_eq!(
            apply(&fresh, i, good, "honest").result,
            Apply::Accept as i32,
            "chunk {i}"
        );
    }
    fresh.resync();
    assert_eq!(fresh.height(), 10);
    let info = fresh.abci().info(pb::RequestInfo::default());
    assert_eq!(info.last_block_app_hash.to_vec(), trusted);
    // The source is at 12: the fresh node executes blocks 11 and 12 to the same app
    // hashes, then both execute block 13 alike.
    for h in 11..=12 {
        let block = fresh.block(block_txs(h));
        assert!(block.results.iter().all(|r| r.code == 0));
        assert_eq!(block.app_hash, src.app_hashes[h as usize - 1], "block {h}");
    }
    for i in 0..4 {
        let path = format!("/account/{}", addr(i));
        assert_eq!(
            fresh.query(&path, false).value,
            src.query(&path, false).value
        );
    }
    assert_eq!(
        src.block(block_txs(13)).app_hash,
        fresh.block(block_txs(13)).app_hash
    );
}

#[test]
fn a_snapshot_without_the_trusted_app_hash_or_with_a_bad_offer_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (src, snap) = source(dir.path());
    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let fresh = MockChain::in_memory_with_snapshots(config(fresh_dir.path()));
    // Metadata that does not hash to the snapshot's hash, a wrong chunk count, another
    // format, a missing or short app hash.
    let mut bad_meta = snap.clone();
    let mut meta: Metadata = borsh::from_slice(&snap.metadata).expect("metadata");
    meta.chunk_hashes[0][0] ^= 1;
    bad_meta.metadata = borsh::to_vec(&meta).expect("encode").into();
    let mut bad_count = snap.clone();
    bad_count.chunks += 1;
    let mut bad_format = snap.clone();
    bad_format.format += 1;
    let trusted = src.app_hashes[9].clone();
    assert_eq!(offer(&fresh, &bad_meta, &trusted), Offer::Reject as i32);
    assert_eq!(offer(&fresh, &bad_count, &trusted), Offer::Reject as i32);
    assert_eq!(
        offer(&fresh, &bad_format, &trusted),
        Offer::RejectFormat as i32
    );
    assert_eq!(offer(&fresh, &snap, &trusted[..31]), Offer::Reject as i32);
    // A chunk before any accepted offer.
    assert_eq!(
        apply(&fresh, 0, chunk(&src, &snap, 0), "p").result,
        Apply::Abort as i32
    );
    // Every chunk genuine, but the light client trusts another app hash: refused, and the
    // node is left empty.
    let other = src.app_hashes[8].clone();
    assert_eq!(offer(&fresh, &snap, &other), Offer::Accept as i32);
    let last = snap.chunks - 1;
    for i in 0..last {
        assert_eq!(
            apply(&fresh, i, chunk(&src, &snap, i), "p").result,
            Apply::Accept as i32
        );
    }
    let r = apply(&fresh, last, chunk(&src, &snap, last), "p");
    assert_eq!(r.result, Apply::RejectSnapshot as i32);
    assert_eq!(
        fresh
            .abci()
            .info(pb::RequestInfo::default())
            .last_block_height,
        0
    );
    // A node that has state refuses any offer.
    assert_eq!(offer(&src, &snap, &trusted), Offer::Abort as i32);
}

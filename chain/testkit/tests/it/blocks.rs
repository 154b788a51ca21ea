//! Block execution: balances, fees, minting, conservation, determinism, restarts, proofs.

use prost::Message;
use taochain_primitives::{Account, Supply, block_reward};
use taochain_testkit::MockChain;
use taochain_testkit::fixtures::{FEE, addr, transfer};
use tendermint_abci::Application;
use tendermint_proto::v0_38::abci as pb;

use crate::{BALANCE, started_chain, started_chain_in_memory, started_chain_with_threads};

fn account(chain: &MockChain, i: u8) -> Account {
    let res = chain.query(&format!("/account/{}", addr(i)), false);
    borsh::from_slice(&res.value).expect("account decodes")
}

fn supply(chain: &MockChain) -> Supply {
    borsh::from_slice(&chain.query("/supply", false).value).expect("supply decodes")
}

fn pool(chain: &MockChain) -> Account {
    borsh::from_slice(&chain.query("/emission", false).value).expect("pool decodes")
}

/// Pseudo-random but reproducible transfers between the 4 fixture accounts.
fn block_of_transfers(seed: u64, nonces: &mut [u64; 4], n: usize) -> Vec<Vec<u8>> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let from = (x >> 33) as usize % 4;
            let to = ((x >> 40) as u8) % 4;
            let amount = 1 + (x >> 20) % 1_000_000;
            let tx = transfer(from as u8, nonces[from], addr(to), amount);
            nonces[from] += 1;
            tx
        })
        .collect()
}

#[test]
fn transfers_move_balances_and_pay_recycled_fees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = started_chain(dir.path());
    let before = supply(&chain);
    let block = chain.block(vec![transfer(0, 0, addr(1), 1_500_000_000)]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    let kinds: Vec<&str> = block.results[0]
        .events
        .iter()
        .map(|e| e.r#type.as_str())
        .collect();
    assert_eq!(kinds, ["fee", "transfer"]);
    assert_eq!(block.events[0].r#type, "mint");
    assert_eq!(
        account(&chain, 0),
        Account {
            balance: BALANCE - 1_500_000_000 - FEE,
            nonce: 1
        }
    );
    assert_eq!(
        account(&chain, 1),
        Account {
            balance: BALANCE + 1_500_000_000,
            nonce: 0
        }
    );
    let after = supply(&chain);
    assert_eq!(after.total_recycled, before.total_recycled + FEE);
    assert_eq!(
        after.total_minted,
        before.total_minted + block_reward(before.total_issuance - FEE)
    );
}

#[test]
fn supply_is_conserved_after_every_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = started_chain(dir.path());
    let mut nonces = [0u64; 4];
    for b in 0..20u64 {
        let txs = block_of_transfers(b, &mut nonces, 25);
        let block = chain.block(txs);
        assert!(block.results.iter().all(|r| r.code == 0));
        let s = supply(&chain);
        let balances: u64 =
            (0..4).map(|i| account(&chain, i).balance).sum::<u64>() + pool(&chain).balance;
        assert_eq!(
            balances, s.total_issuance,
            "sum of balances == total issuance at block {}",
            block.height
        );
        assert_eq!(
            s.total_issuance,
            s.genesis_issuance + s.total_minted - s.total_recycled
        );
        assert_eq!(s.total_recycled, FEE * 25 * (b + 1));
    }
    assert_eq!(pool(&chain).balance, supply(&chain).total_minted);
}

#[test]
fn same_blocks_give_the_same_app_hash_on_rocksdb_and_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut a, mut b) = (started_chain(dir.path()), started_chain_in_memory());
    let (mut na, mut nb) = ([0u64; 4], [0u64; 4]);
    for i in 0..10 {
        let ha = a.block(block_of_transfers(i, &mut na, 10)).app_hash;
        let hb = b.block(block_of_transfers(i, &mut nb, 10)).app_hash;
        assert_eq!(ha, hb, "block {i}");
        assert_eq!(ha.len(), 32);
    }
}

/// 300 transfers (three signature chunks) with a forged signature, a wrong signer and
/// undecodable bytes among them.
fn block_with_bad_signatures(seed: u64, nonces: &mut [u64; 4]) -> Vec<Vec<u8>> {
    let mut txs = block_of_transfers(seed, nonces, 300);
    txs[17][80] ^= 1;
    let last = txs.len() - 1;
    txs[last].truncate(7);
    let mut wrong = taochain_testkit::fixtures::transfer_body(0, addr(1), 5)
        .sign(&taochain_testkit::fixtures::key(2));
    wrong.public_key = taochain_testkit::fixtures::key(0)
        .verifying_key()
        .to_bytes();
    txs[200] = wrong.encode();
    txs
}

#[test]
fn thread_count_and_checktx_memory_never_change_results_or_the_app_hash() {
    let mut chains: Vec<MockChain> = [1, 2, 16].map(started_chain_with_threads).into();
    let mut nonces = vec![[0u64; 4]; chains.len()];
    for b in 0..4 {
        let blocks: Vec<Vec<Vec<u8>>> = nonces
            .iter_mut()
            .map(|n| block_with_bad_signatures(b, n))
            .collect();
        // The 2-thread node saw the block's transactions in its mempool first (its CheckTx
        // remembers the ones it verified); the others did not.
        for tx in &blocks[1] {
            chains[1].check_tx(tx);
        }
        let results: Vec<_> = chains
            .iter_mut()
            .zip(blocks)
            .map(|(c, txs)| c.finalize_and_commit(txs.into_iter().map(Into::into).collect()))
            .collect();
        let bad: Vec<usize> = results[0]
            .results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.code != 0)
            .map(|(i, _)| i)
            .collect();
        assert!(
            bad.contains(&17) && bad.contains(&200) && bad.contains(&299),
            "{bad:?}"
        );
        for r in &results[1..] {
            assert_eq!(r.app_hash, results[0].app_hash, "block {b}");
            assert_eq!(r.results, results[0].results, "block {b}");
        }
    }
}

#[test]
fn app_hash_is_stable_across_a_restart_from_the_same_rocksdb() {
    let dir = tempfile::tempdir().expect("tempdir");
    let control_dir = tempfile::tempdir().expect("tempdir");
    let mut control = started_chain(control_dir.path());
    let mut nonces = [0u64; 4];
    let mut control_nonces = [0u64; 4];
    let (height, hash) = {
        let mut chain = started_chain(dir.path());
        for i in 0..5 {
            chain.block(block_of_transfers(i, &mut nonces, 10));
            control.block(block_of_transfers(i, &mut control_nonces, 10));
        }
        (
            chain.height(),
            chain.app_hashes.last().cloned().expect("hash"),
        )
    };
    let mut reopened = MockChain::open(dir.path());
    let info = reopened.abci().info(pb::RequestInfo::default());
    assert_eq!(info.last_block_height as u64, height);
    assert_eq!(info.last_block_app_hash.to_vec(), hash);
    let next = reopened.block(block_of_transfers(99, &mut nonces, 10));
    let control_next = control.block(block_of_transfers(99, &mut control_nonces, 10));
    assert_eq!(next.app_hash, control_next.app_hash);
}

#[test]
fn a_finalized_but_uncommitted_block_is_replayed_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nonces = [0u64; 4];
    let txs = block_of_transfers(7, &mut nonces, 10);
    let first = {
        let chain = started_chain(dir.path());
        let res = chain.abci().finalize_block(pb::RequestFinalizeBlock {
            txs: txs.iter().cloned().map(Into::into).collect(),
            height: 2,
            ..Default::default()
        });
        res.app_hash.to_vec() // crash before Commit
    };
    let mut reopened = MockChain::open(dir.path());
    assert_eq!(reopened.height(), 1);
    assert_eq!(reopened.block(txs).app_hash, first);
}

#[test]
fn account_proof_verifies_against_the_app_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = started_chain(dir.path());
    let block = chain.block(vec![transfer(0, 0, addr(1), 42)]);
    let res = chain.query(&format!("/account/{}", addr(1)), true);
    assert_eq!(res.code, 0);
    let op = &res.proof_ops.as_ref().expect("proof ops").ops[0];
    assert_eq!(op.r#type, "ics23:jmt");
    let proof = ics23::CommitmentProof::decode(op.data.as_slice()).expect("proof decodes");
    let root: [u8; 32] = block.app_hash.clone().try_into().expect("32 bytes");
    assert!(taochain_storage::verify_proof(
        &root,
        &res.key,
        Some(&res.value),
        &proof
    ));
    let mut forged = res.value.to_vec();
    forged[0] ^= 1;
    assert!(!taochain_storage::verify_proof(
        &root,
        &res.key,
        Some(&forged),
        &proof
    ));
    let absent = chain.query(&format!("/account/{}", addr(9)), true);
    assert!(absent.value.is_empty());
    let proof =
        ics23::CommitmentProof::decode(absent.proof_ops.expect("ops").ops[0].data.as_slice())
            .expect("decodes");
    assert!(taochain_storage::verify_proof(
        &root,
        &absent.key,
        None,
        &proof
    ));
}

//! The mempool view survives commits: pending nonces and spends carry over, a block's
//! inclusions and used nonces leave it, a recheck renews what CometBFT still holds, an
//! entry neither rechecked nor included is forgotten after `PENDING_BLOCKS`, one sender
//! holds at most `MAX_PENDING_PER_SENDER`; proposals put each sender's nonces in order.

use taochain_app::mempool::{MAX_PENDING_PER_SENDER, PENDING_BLOCKS};
use taochain_primitives::RejectCode;
use taochain_testkit::fixtures::{FEE, addr, transfer};
use tendermint_abci::Application;
use tendermint_proto::v0_38::abci as pb;

use crate::{BALANCE, started_chain_in_memory};

#[test]
fn pending_nonces_carry_over_a_commit_without_a_recheck() {
    let mut chain = started_chain_in_memory();
    for n in 0..3 {
        assert_eq!(chain.check_tx(&transfer(0, n, addr(1), 5)).code, 0);
    }
    // Only the first is included; the other two wait in the mempool, not rechecked.
    let block = chain.block(vec![transfer(0, 0, addr(1), 5)]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    assert_eq!(
        chain.check_tx(&transfer(0, 3, addr(1), 5)).code,
        0,
        "nonce 3 follows the two still pending"
    );
    let again = chain.check_tx(&transfer(0, 2, addr(1), 6));
    assert_eq!(again.code, RejectCode::NonceReplayed.code());
    assert!(again.log.contains("pending here"), "{}", again.log);
    assert_eq!(
        chain.check_tx(&transfer(0, 5, addr(1), 5)).code,
        RejectCode::NonceFuture.code()
    );
}

#[test]
fn pending_spends_carry_over_a_commit() {
    let mut chain = started_chain_in_memory();
    let half = BALANCE / 2;
    assert_eq!(chain.check_tx(&transfer(0, 0, addr(1), 5)).code, 0);
    assert_eq!(chain.check_tx(&transfer(0, 1, addr(1), half)).code, 0);
    chain.block(vec![transfer(0, 0, addr(1), 5)]);
    // Nonce 1 (half the balance) is still pending: another half does not fit.
    assert_eq!(
        chain.check_tx(&transfer(0, 2, addr(1), half)).code,
        RejectCode::InsufficientFunds.code()
    );
    assert_eq!(chain.check_tx(&transfer(0, 2, addr(1), half / 2)).code, 0);
}

#[test]
fn an_included_transaction_leaves_the_view_even_when_it_fails() {
    let mut chain = started_chain_in_memory();
    let t0 = transfer(0, 0, addr(1), 5);
    let t1 = transfer(0, 1, addr(1), 5);
    assert_eq!(chain.check_tx(&t0).code, 0);
    assert_eq!(chain.check_tx(&t1).code, 0);
    // A block forces in another nonce 0 that leaves less than a fee: t1 then fails on its
    // fee, which leaves nonce 1 unused; account 1 then refunds account 0.
    let drain = transfer(0, 0, addr(2), BALANCE - 2 * FEE + 1);
    let refund = transfer(1, 0, addr(0), 10 * FEE);
    let block = chain.finalize_and_commit(vec![drain.into(), t1.clone().into(), refund.into()]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    assert_eq!(block.results[1].code, RejectCode::InsufficientFee.code());
    assert_eq!(block.results[2].code, 0, "{}", block.results[2].log);
    // t1 is gone from the view (matched by its hash), so nonce 1 is free again here.
    assert_eq!(chain.check_tx(&transfer(0, 1, addr(3), 1)).code, 0);
}

#[test]
fn an_entry_neither_rechecked_nor_included_is_forgotten_after_pending_blocks() {
    let mut chain = started_chain_in_memory();
    assert_eq!(chain.check_tx(&transfer(0, 0, addr(1), 5)).code, 0);
    let other = transfer(0, 0, addr(2), 7);
    for _ in 0..PENDING_BLOCKS - 1 {
        chain.block(vec![]);
    }
    assert_eq!(
        chain.check_tx(&other).code,
        RejectCode::NonceReplayed.code(),
        "still held one block before the limit"
    );
    chain.block(vec![]);
    assert_eq!(chain.check_tx(&other).code, 0, "forgotten at the limit");
}

#[test]
fn a_recheck_keeps_what_still_fits_and_drops_what_does_not() {
    let mut chain = started_chain_in_memory();
    let (t0, t1, t2) = (
        transfer(0, 0, addr(1), 5),
        transfer(0, 1, addr(1), 5),
        transfer(0, 2, addr(1), 5),
    );
    for t in [&t0, &t1, &t2] {
        assert_eq!(chain.check_tx(t).code, 0);
    }
    assert_eq!(chain.recheck_tx(&t1).code, 0, "unchanged state: still fits");
    // Another nonce 0 is included: t0 is replayed, t1 and t2 still follow it.
    chain.block(vec![transfer(0, 0, addr(2), 5)]);
    assert_eq!(chain.recheck_tx(&t0).code, RejectCode::NonceReplayed.code());
    assert_eq!(chain.recheck_tx(&t1).code, 0);
    assert_eq!(chain.recheck_tx(&t2).code, 0);
    // Nonce 1 taken by another as well: t1 is replayed; t2 follows the used nonce.
    chain.block(vec![transfer(0, 1, addr(2), 5)]);
    assert_eq!(chain.recheck_tx(&t1).code, RejectCode::NonceReplayed.code());
    assert_eq!(chain.recheck_tx(&t2).code, 0);
    assert_eq!(chain.check_tx(&transfer(0, 3, addr(1), 5)).code, 0);
}

#[test]
fn a_recheck_behind_a_gap_fails_and_frees_its_nonce() {
    let mut chain = started_chain_in_memory();
    let (t0, t1) = (transfer(0, 0, addr(1), 5), transfer(0, 1, addr(1), 5));
    assert_eq!(chain.check_tx(&t0).code, 0);
    assert_eq!(chain.check_tx(&t1).code, 0);
    // t0 included but failing without using nonce 0 is not possible for a transfer of 5;
    // a gap comes from t0 failing its own recheck after its balance went elsewhere.
    let drain = transfer(0, 0, addr(2), BALANCE - FEE - 1);
    chain.finalize_and_commit(vec![drain.into()]);
    // Nonce 0 used by the drain: t0 replayed; t1 (nonce 1) no longer affordable.
    assert_eq!(chain.recheck_tx(&t0).code, RejectCode::NonceReplayed.code());
    assert_ne!(chain.recheck_tx(&t1).code, 0);
    assert_eq!(chain.mempool_pending(), 0, "both entries are gone");
    assert_eq!(
        chain.check_tx(&transfer(0, 1, addr(3), 1)).code,
        RejectCode::InsufficientFee.code(),
        "the next nonce is 1 again, judged on the committed balance"
    );
}

#[test]
fn entries_whose_nonce_another_transaction_used_are_dropped_on_the_next_check() {
    let mut chain = started_chain_in_memory();
    for n in 0..3 {
        assert_eq!(chain.check_tx(&transfer(0, n, addr(1), 5)).code, 0);
    }
    assert_eq!(chain.mempool_pending(), 3);
    // Other transactions (submitted elsewhere) use nonces 0 and 1: nothing here matches
    // their hashes, so the entries stay until account 0 is checked again.
    chain.block(vec![transfer(0, 0, addr(2), 5), transfer(0, 1, addr(2), 5)]);
    assert_eq!(chain.mempool_pending(), 3);
    assert_eq!(chain.check_tx(&transfer(0, 3, addr(1), 5)).code, 0);
    assert_eq!(chain.mempool_pending(), 2, "nonces 2 and 3 remain");
}

#[test]
fn the_same_bytes_checked_again_are_admitted_again_and_held_anew() {
    let mut chain = started_chain_in_memory();
    let t0 = transfer(0, 0, addr(1), 5);
    assert_eq!(chain.check_tx(&t0).code, 0);
    // CometBFT checks the same bytes again only after dropping them (mempool full).
    for _ in 0..PENDING_BLOCKS - 1 {
        chain.block(vec![]);
    }
    assert_eq!(chain.check_tx(&t0).code, 0, "a resubmission, not a replay");
    assert_eq!(chain.mempool_pending(), 1);
    chain.block(vec![]);
    let other = transfer(0, 0, addr(2), 7);
    assert_eq!(
        chain.check_tx(&other).code,
        RejectCode::NonceReplayed.code(),
        "the resubmission holds nonce 0 for another PENDING_BLOCKS"
    );
    assert_eq!(chain.check_tx(&transfer(0, 1, addr(1), 5)).code, 0);
    chain.block(vec![t0]);
    assert_eq!(
        chain.mempool_pending(),
        1,
        "t0 included, nonce 1 still pending"
    );
}

#[test]
fn a_proposal_puts_each_senders_transactions_in_nonce_order_in_the_places_it_holds() {
    let mut chain = started_chain_in_memory();
    // CometBFT's mempool can hold a sender's nonce n+1 before n (its answers race).
    let a = |n| transfer(0, n, addr(5), 1);
    let b = |n| transfer(1, n, addr(5), 1);
    let mempool: Vec<Vec<u8>> = vec![a(2), b(1), a(0), b(0), a(1), b(0)];
    let proposal = chain.abci().prepare_proposal(pb::RequestPrepareProposal {
        max_tx_bytes: 1 << 20,
        txs: mempool.iter().cloned().map(Into::into).collect(),
        ..Default::default()
    });
    let got: Vec<Vec<u8>> = proposal.txs.iter().map(|t| t.to_vec()).collect();
    // Account 0 holds places 0, 2, 4 and account 1 places 1, 3, 5 (its duplicate nonce 0
    // keeps its order and fails in the block).
    assert_eq!(got, vec![a(0), b(0), a(1), b(0), a(2), b(1)]);
    let verdict = chain.abci().process_proposal(pb::RequestProcessProposal {
        txs: proposal.txs.clone(),
        ..Default::default()
    });
    assert_eq!(
        verdict.status,
        pb::response_process_proposal::ProposalStatus::Accept as i32
    );
    let block = chain.finalize_and_commit(proposal.txs);
    let codes: Vec<u32> = block.results.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        vec![0, 0, 0, RejectCode::NonceReplayed.code(), 0, 0],
        "{:?}",
        block.results
    );
}

#[test]
fn a_recheck_renews_the_hold_of_what_cometbft_still_holds() {
    let mut chain = started_chain_in_memory();
    let (t0, t1) = (transfer(0, 0, addr(1), 5), transfer(0, 1, addr(1), 5));
    assert_eq!(chain.check_tx(&t0).code, 0);
    assert_eq!(chain.check_tx(&t1).code, 0);
    // CometBFT keeps t0 (and rechecks it after every commit) but dropped t1.
    for _ in 0..PENDING_BLOCKS + 3 {
        chain.block(vec![]);
        assert_eq!(chain.recheck_tx(&t0).code, 0);
    }
    assert_eq!(chain.mempool_pending(), 1, "t1 is forgotten, t0 held");
    assert_eq!(
        chain.check_tx(&transfer(0, 0, addr(2), 7)).code,
        RejectCode::NonceReplayed.code()
    );
    assert_eq!(
        chain.check_tx(&transfer(0, 1, addr(2), 7)).code,
        0,
        "nonce 1 is free again"
    );
}

#[test]
fn one_sender_holds_at_most_max_pending_per_sender() {
    let mut chain = started_chain_in_memory();
    let limit = MAX_PENDING_PER_SENDER as u64;
    for n in 0..limit {
        assert_eq!(chain.check_tx(&transfer(0, n, addr(1), 1)).code, 0);
    }
    let over = chain.check_tx(&transfer(0, limit, addr(1), 1));
    assert_eq!(over.code, RejectCode::TooManyPending.code(), "{}", over.log);
    assert!(over.log.contains("wait for blocks"), "{}", over.log);
    // Another sender is not affected; a recheck of a held one still passes.
    assert_eq!(chain.check_tx(&transfer(1, 0, addr(1), 1)).code, 0);
    assert_eq!(
        chain.recheck_tx(&transfer(0, limit - 1, addr(1), 1)).code,
        0
    );
    // Once a block includes one, there is room for one more.
    chain.block(vec![transfer(0, 0, addr(1), 1)]);
    assert_eq!(chain.check_tx(&transfer(0, limit, addr(1), 1)).code, 0);
}

#[test]
fn a_restarted_node_holds_what_it_admits_for_pending_blocks_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = crate::started_chain(dir.path());
    for _ in 0..PENDING_BLOCKS + 2 {
        chain.block(vec![]);
    }
    drop(chain);
    let mut reopened = taochain_testkit::MockChain::open(dir.path());
    assert_eq!(reopened.check_tx(&transfer(0, 0, addr(1), 5)).code, 0);
    for _ in 0..PENDING_BLOCKS - 1 {
        reopened.block(vec![]);
    }
    assert_eq!(
        reopened.check_tx(&transfer(0, 0, addr(2), 7)).code,
        RejectCode::NonceReplayed.code(),
        "the hold counts from the height the node reopened at, not from 0"
    );
}

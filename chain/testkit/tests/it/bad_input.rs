//! Every bad input gets its own code and changes nothing.

use proptest::prelude::*;
use taochain_primitives::{Msg, Params, RejectCode, SignedTx, TxBody};
use taochain_testkit::fixtures::{CHAIN_ID, FEE, GAS, addr, key, transfer, transfer_body};

use crate::{BALANCE, started_chain_in_memory};

fn signed(body: TxBody) -> Vec<u8> {
    body.sign(&key(0)).encode()
}

/// (name, tx bytes, expected code) for each hostile case, from a fresh chain where
/// account 0 has nonce 0 and `BALANCE` rao.
fn cases() -> Vec<(&'static str, Vec<u8>, RejectCode)> {
    let good = transfer(0, 0, addr(1), 5);
    let mut trailing = good.clone();
    trailing.push(0);
    let mut wrong_chain = transfer_body(0, addr(1), 5);
    wrong_chain.chain_id = "other-chain".into();
    let mut bad_sig = SignedTx::decode(&good, 1 << 20).expect("decodes");
    bad_sig.signature[0] ^= 1;
    let mut other_key = SignedTx::decode(&good, 1 << 20).expect("decodes");
    other_key.signature = transfer_body(0, addr(1), 5).sign(&key(1)).signature;
    // R = the identity (small order): a block batch could accept it half of the time.
    let mut small_r = SignedTx::decode(&good, 1 << 20).expect("decodes");
    small_r.signature[..32].copy_from_slice(&{
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    });
    let mut unknown = good.clone();
    unknown[4 + CHAIN_ID.len() + 28] = 0xfe; // the first Msg's variant tag
    let mut no_fee = transfer_body(0, addr(1), 5);
    no_fee.fee = BALANCE + 1;
    let params = Params::default();
    let mut low_fee = transfer_body(0, addr(1), 5);
    low_fee.fee = params.required_fee(GAS) - 1;
    // The fee must grow with the gas limit: the flat fixture fee buys 300M gas, not 1G.
    let mut underpriced_gas = transfer_body(0, addr(1), 5);
    underpriced_gas.gas_limit = 1_000_000_000;
    underpriced_gas.fee = FEE;
    // Signed for u64::MAX gas (an infinite loop paid with one fee): above max_tx_gas.
    let mut unbounded_gas = transfer_body(0, addr(1), 5);
    unbounded_gas.gas_limit = u64::MAX;
    unbounded_gas.fee = BALANCE;
    let mut low_gas = transfer_body(0, addr(1), 5);
    low_gas.gas_limit = 1;
    let mut empty = transfer_body(0, addr(1), 5);
    empty.msgs.clear();
    let mut two_overflow = transfer_body(0, addr(1), u64::MAX);
    two_overflow.msgs.push(Msg::Transfer {
        to: addr(2),
        amount: u64::MAX,
    });
    vec![
        (
            "random bytes",
            vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3],
            RejectCode::Truncated,
        ),
        (
            "truncated borsh",
            good[..good.len() - 10].to_vec(),
            RejectCode::Truncated,
        ),
        ("trailing bytes", trailing, RejectCode::TrailingBytes),
        ("oversized tx", vec![0u8; 1_200_001], RejectCode::TxTooLarge),
        (
            "wrong chain id",
            signed(wrong_chain),
            RejectCode::WrongChainId,
        ),
        ("bad signature", bad_sig.encode(), RejectCode::BadSignature),
        ("small-order R", small_r.encode(), RejectCode::BadSignature),
        (
            "signature by another key",
            other_key.encode(),
            RejectCode::BadSignature,
        ),
        (
            "future nonce",
            transfer(0, 1, addr(1), 5),
            RejectCode::NonceFuture,
        ),
        (
            "insufficient balance for fee",
            signed(no_fee),
            RejectCode::InsufficientFee,
        ),
        (
            "insufficient balance for amount",
            transfer(0, 0, addr(1), BALANCE),
            RejectCode::InsufficientFunds,
        ),
        (
            "zero amount",
            transfer(0, 0, addr(1), 0),
            RejectCode::ZeroAmount,
        ),
        (
            "amount overflow",
            signed(two_overflow),
            RejectCode::AmountOverflow,
        ),
        (
            "unknown message variant",
            unknown,
            RejectCode::UnknownMessage,
        ),
        ("fee below minimum", signed(low_fee), RejectCode::FeeTooLow),
        (
            "fee below what the gas limit needs",
            signed(underpriced_gas),
            RejectCode::FeeTooLow,
        ),
        (
            "gas limit above max_tx_gas",
            signed(unbounded_gas),
            RejectCode::GasLimitTooHigh,
        ),
        ("gas limit too low", signed(low_gas), RejectCode::OutOfGas),
        ("no messages", signed(empty), RejectCode::EmptyTx),
    ]
}

#[test]
fn each_bad_input_gets_its_own_code_in_check_tx() {
    let chain = started_chain_in_memory();
    for (name, bytes, code) in cases() {
        let res = chain.check_tx(&bytes);
        assert_eq!(res.code, code.code(), "{name}: log was `{}`", res.log);
        assert!(!res.log.is_empty(), "{name}: a rejection must say why");
    }
}

#[test]
fn bad_inputs_forced_into_a_block_change_nothing_but_the_mint() {
    let mut attacked = started_chain_in_memory();
    let mut control = started_chain_in_memory();
    let cases = cases();
    // "insufficient balance for amount" is the one case that is executed: it pays its fee.
    let (executed, rejected): (Vec<_>, Vec<_>) = cases
        .into_iter()
        .partition(|(_, _, c)| *c == RejectCode::InsufficientFunds);
    let block =
        attacked.finalize_and_commit(rejected.iter().map(|(_, b, _)| b.clone().into()).collect());
    for ((name, _, code), res) in rejected.iter().zip(&block.results) {
        assert_eq!(res.code, code.code(), "{name}: {}", res.log);
    }
    let control_block = control.block(vec![]);
    assert_eq!(
        block.app_hash, control_block.app_hash,
        "rejected txs must not change state"
    );
    let block =
        attacked.finalize_and_commit(executed.iter().map(|(_, b, _)| b.clone().into()).collect());
    assert_eq!(block.results[0].code, RejectCode::InsufficientFunds.code());
    let account = attacked.query(&format!("/account/{}", addr(0)), false);
    let account: taochain_primitives::Account = borsh::from_slice(&account.value).expect("account");
    assert_eq!(
        account.balance,
        BALANCE - FEE,
        "a failed transfer still pays its fee"
    );
    assert_eq!(account.nonce, 1, "a failed transfer still bumps the nonce");
}

#[test]
fn replayed_nonce_is_rejected_after_commit() {
    let mut chain = started_chain_in_memory();
    let tx = transfer(0, 0, addr(1), 5);
    assert_eq!(chain.check_tx(&tx).code, 0);
    let block = chain.block(vec![tx.clone()]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    assert_eq!(chain.check_tx(&tx).code, RejectCode::NonceReplayed.code());
    let again = chain.finalize_and_commit(vec![tx.into()]);
    assert_eq!(again.results[0].code, RejectCode::NonceReplayed.code());
}

#[test]
fn mempool_accepts_consecutive_nonces_but_not_gaps_or_overspend() {
    let chain = started_chain_in_memory();
    for n in 0..5 {
        assert_eq!(
            chain.check_tx(&transfer(0, n, addr(1), 5)).code,
            0,
            "nonce {n}"
        );
    }
    assert_eq!(
        chain.check_tx(&transfer(0, 7, addr(1), 5)).code,
        RejectCode::NonceFuture.code()
    );
    let spent = 5 * (5 + FEE);
    let too_much = transfer(0, 5, addr(1), BALANCE - spent);
    assert_eq!(
        chain.check_tx(&too_much).code,
        RejectCode::InsufficientFunds.code()
    );
}

#[test]
fn recheck_after_commit_keeps_pending_nonces() {
    let mut chain = started_chain_in_memory();
    let (t0, t1, t2) = (
        transfer(0, 0, addr(1), 5),
        transfer(0, 1, addr(1), 5),
        transfer(0, 2, addr(1), 5),
    );
    assert_eq!(chain.check_tx(&t0).code, 0);
    assert_eq!(chain.check_tx(&t1).code, 0);
    chain.finalize_and_commit(vec![t0.clone().into()]);
    assert_eq!(chain.recheck_tx(&t1).code, 0, "the leftover is still valid");
    assert_eq!(
        chain.check_tx(&t2).code,
        0,
        "the next nonce follows the leftover"
    );
    assert_eq!(
        chain.check_tx(&transfer(0, 1, addr(2), 5)).code,
        RejectCode::NonceReplayed.code(),
        "another transaction cannot take a pending nonce"
    );
    assert_eq!(
        chain.recheck_tx(&t0).code,
        RejectCode::NonceReplayed.code(),
        "included txs fail recheck"
    );
}

#[test]
fn unknown_query_paths_and_bad_addresses_get_codes() {
    let chain = started_chain_in_memory();
    assert_eq!(
        chain.query("/nope", false).code,
        taochain_app::query::codes::UNKNOWN_PATH
    );
    assert_eq!(
        chain.query("/account/tao1bad", false).code,
        taochain_app::query::codes::BAD_ARGUMENT
    );
    let res = chain.abci().app().query("/supply", &[], 999, false);
    assert_eq!(res.code, taochain_app::query::codes::HEIGHT_UNAVAILABLE);
    // A negative height is an error, not "the latest".
    use tendermint_abci::Application;
    let res = chain
        .abci()
        .query(tendermint_proto::v0_38::abci::RequestQuery {
            path: "/supply".into(),
            height: -5,
            ..Default::default()
        });
    assert_eq!(
        res.code,
        taochain_app::query::codes::BAD_ARGUMENT,
        "{}",
        res.log
    );
    assert!(
        res.value.is_empty() && res.log.contains("negative"),
        "{}",
        res.log
    );
}

#[test]
fn a_proof_asked_of_a_path_that_has_none_is_refused_not_left_out() {
    let chain = started_chain_in_memory();
    let hash = "00".repeat(32);
    for path in [
        "/subnets".to_string(),
        format!("/contract/{}/smart", addr(0)),
        "/simulate".to_string(),
        format!("/blob/{hash}/bytes"),
    ] {
        let res = chain.query(&path, true);
        assert_eq!(
            res.code,
            taochain_app::query::codes::BAD_ARGUMENT,
            "{path}: {}",
            res.log
        );
        assert!(res.log.contains("no proof"), "{path}: {}", res.log);
    }
    // The same paths without a proof still answer (or fail for their own reasons).
    assert_eq!(chain.query("/subnets", false).code, 0);
    // A provable path still gets its proof.
    let res = chain.query(&format!("/account/{}", addr(0)), true);
    assert_eq!(res.code, 0, "{}", res.log);
    assert!(res.proof_ops.is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_bytes_through_check_tx_never_panic_or_pass(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let chain = started_chain_in_memory();
        let res = chain.check_tx(&bytes);
        prop_assert_ne!(res.code, 0);
    }

    #[test]
    fn mutated_valid_txs_are_rejected_by_check_tx(pos in 0usize..200, bit in 0u8..8) {
        let chain = started_chain_in_memory();
        let mut tx = transfer(0, 0, addr(1), 5);
        let pos = pos % tx.len();
        tx[pos] ^= 1 << bit;
        let res = chain.check_tx(&tx);
        prop_assert_ne!(res.code, 0, "flipping bit {} of byte {} was accepted", bit, pos);
        let _ = GAS;
    }
}

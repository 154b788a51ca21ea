//! The hardening issue's reproductions as real transactions and queries through the ABCI
//! app: each one used to stop a node (a host-call panic, an unbounded loop, an unbounded
//! statement, a parameter that bricks the chain); now each is a clear error with its code,
//! the chain goes on, and nothing else changes.

use sha2::{Digest, Sha256};
use taochain_primitives::subnet::ProposalAction;
use taochain_primitives::{Msg, Params, RejectCode, TxBody};
use taochain_testkit::MockChain;
use taochain_testkit::fixtures::{CHAIN_ID, FEE, addr, key, signed, transfer_body};

use crate::contracts::{instantiate_wat, smart};
use crate::started_chain_in_memory;

/// A module whose `execute` runs `execute` and whose `query` runs `query` (both must leave
/// an i32 status).
fn hostile(execute: &str, query: &str) -> String {
    format!(
        r#"(module
          (import "tao" "storage_set" (func $storage_set (param i32 i32 i32 i32)))
          (import "tao" "storage_remove" (func $storage_remove (param i32 i32)))
          (import "tao" "storage_next" (func $storage_next (param i32 i32 i32 i32 i32 i32) (result i64)))
          (import "tao" "verify_matmul" (func $verify_matmul (param i32) (result i32)))
          (import "tao" "input_read" (func $input_read (param i32)))
          (import "tao" "set_result" (func $set_result (param i32 i32)))
          (memory (export "memory") 1)
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32) {execute})
          (func (export "query") (result i32) {query}))"#
    )
}

#[test]
fn oversized_host_call_lengths_fail_the_call_not_the_node() {
    let mut chain = started_chain_in_memory();
    let c = instantiate_wat(
        &mut chain,
        &hostile(
            "(call $storage_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0x7fffffff)) i32.const 0",
            "(drop (call $storage_next (i32.const 0) (i32.const 0x7fffffff) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))) i32.const 0",
        ),
    );
    let block = chain.block(vec![signed(
        1,
        0,
        vec![Msg::Execute {
            contract: c,
            msg: vec![],
            funds: 0,
        }],
    )]);
    let r = &block.results[0];
    assert_eq!(r.code, RejectCode::ContractFailed.code(), "{}", r.log);
    assert!(r.log.contains("exceeds the limit"), "{}", r.log);
    let q = smart(&chain, &c, &[]);
    assert_eq!(
        q.code,
        taochain_app::query::codes::CONTRACT_FAILED,
        "{}",
        q.log
    );
    assert!(q.log.contains("exceeds the limit"), "{}", q.log);
    // The node goes on.
    let h = chain.height();
    chain.block(vec![]);
    assert_eq!(chain.height(), h + 1);
}

fn looping(chain: &mut MockChain) -> taochain_primitives::Address {
    instantiate_wat(
        chain,
        &hostile("(loop $l (br $l)) i32.const 0", "i32.const 0"),
    )
}

#[test]
fn an_unbounded_gas_limit_is_refused_and_a_loop_pays_for_its_limit() {
    let mut chain = started_chain_in_memory();
    let c = looping(&mut chain);
    let call = |gas_limit: u64, fee: u64| {
        TxBody {
            chain_id: CHAIN_ID.into(),
            nonce: 0,
            fee,
            gas_limit,
            msgs: vec![Msg::Execute {
                contract: c,
                msg: vec![],
                funds: 0,
            }],
        }
        .sign(&key(2))
        .encode()
    };
    // u64::MAX gas for one fee: refused at the mempool, and inside a forced block.
    let unbounded = call(u64::MAX, 1_000_000_000);
    assert_eq!(
        chain.check_tx(&unbounded).code,
        RejectCode::GasLimitTooHigh.code()
    );
    let block = chain.finalize_and_commit(vec![unbounded.into()]);
    assert_eq!(
        block.results[0].code,
        RejectCode::GasLimitTooHigh.code(),
        "{}",
        block.results[0].log
    );
    // A bounded limit runs out, pays the fee that limit needs, and the chain goes on.
    let gas = 20_000_000;
    let fee = Params::default().required_fee(gas);
    assert_eq!(
        chain.check_tx(&call(gas, fee - 1)).code,
        RejectCode::FeeTooLow.code()
    );
    let block = chain.block(vec![call(gas, fee)]);
    let r = &block.results[0];
    assert_eq!(r.code, RejectCode::OutOfGas.code(), "{}", r.log);
    assert_eq!(r.gas_used, gas as i64);
}

#[test]
fn a_proposal_outside_a_parameters_safe_range_is_refused_at_submission() {
    let mut chain = started_chain_in_memory();
    let propose = |nonce: u64, name: &str, value: u64| {
        signed(
            3,
            nonce,
            vec![Msg::Propose {
                action: ProposalAction::SetParam {
                    name: name.into(),
                    value,
                },
                deposit: 10 * taochain_primitives::RAO_PER_TAO,
            }],
        )
    };
    let cases = [
        ("min_fee", u64::MAX),
        ("min_gas_price", u64::MAX),
        ("max_tx_gas", 0),
        ("max_block_gas", u64::MAX),
        ("max_tx_bytes", 0),
        ("epoch_gas", u64::MAX),
        ("quorum_bps", 0),
        ("threshold_bps", 1),
        ("root_tempo", 0),
        ("default_tempo", 0),
    ];
    let before = chain.query("/params", false).value;
    for (i, (name, value)) in cases.iter().enumerate() {
        let block = chain.block(vec![propose(i as u64, name, *value)]);
        let r = &block.results[0];
        assert_eq!(
            r.code,
            RejectCode::InvalidParam.code(),
            "{name}={value}: {}",
            r.log
        );
    }
    assert_eq!(chain.query("/params", false).value, before);
    // In range, it is accepted as a proposal.
    let block = chain.block(vec![propose(cases.len() as u64, "min_gas_price", 200)]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
}

/// An int32 `.npy` header declaring `shape` with no data.
fn npy_header(descr: &str, shape: &str) -> Vec<u8> {
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

#[test]
fn statements_with_absurd_shapes_are_bad_statements_priced_before_any_work() {
    let mut chain = started_chain_in_memory();
    // execute: verify_matmul(the 96 bytes of hashes in the message); the code as output.
    let c = instantiate_wat(
        &mut chain,
        &hostile(
            "(call $input_read (i32.const 0))
             (i32.store (i32.const 4000) (call $verify_matmul (i32.sub (call $input_len) (i32.const 96))))
             (call $set_result (i32.const 4000) (i32.const 4)) i32.const 0",
            "i32.const 0",
        )
        .replace(
            "(memory (export \"memory\") 1)",
            "(import \"tao\" \"input_len\" (func $input_len (result i32)))
             (memory (export \"memory\") 1)",
        ),
    );
    let blobs = [
        ("huge", npy_header("<i4", "(4611686018427387904, 1)")),
        ("a 0x0", npy_header("|i1", "(0, 0)")),
        ("b 0x2^40", npy_header("|i1", "(0, 1099511627776)")),
        ("c 0x2^40", npy_header("<i4", "(0, 1099511627776)")),
    ];
    let mut hashes = vec![];
    for (i, (_, bytes)) in blobs.iter().enumerate() {
        hashes.push(<[u8; 32]>::from(Sha256::digest(bytes)));
        let block = chain.block(vec![signed(
            0,
            2 + i as u64,
            vec![Msg::StoreBlob {
                bytes: bytes.clone(),
            }],
        )]);
        assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    }
    let statements = [
        [hashes[1], hashes[2], hashes[3]],
        [hashes[1], hashes[1], hashes[0]],
        [hashes[0], hashes[0], hashes[0]],
    ];
    for (i, s) in statements.iter().enumerate() {
        let block = chain.block(vec![signed(
            1,
            i as u64,
            vec![Msg::Execute {
                contract: c,
                msg: s.concat(),
                funds: 0,
            }],
        )]);
        let r = &block.results[0];
        assert_eq!(r.code, 0, "{}", r.log);
        let code = i32::from_le_bytes(r.data[..4].try_into().expect("4 bytes"));
        assert_eq!(code, taochain_vm_abi::ERR_BAD_STATEMENT, "statement {i}");
        assert!(
            r.gas_used < 1_000_000,
            "refused cheaply: {} gas",
            r.gas_used
        );
    }
    let _ = FEE;
}

#[test]
fn a_small_order_r_that_a_batch_would_accept_is_refused_in_blocks_too() {
    use curve25519_dalek::scalar::Scalar;
    use ed25519_dalek::{Signature, verify_batch};
    use sha2::Sha512;
    let mut chain = started_chain_in_memory();
    // R = the identity and s = H(R || A || M) * a: `R + kA = sB` holds exactly, so the
    // cofactorless batch equation accepts it whatever its random coefficients, while a
    // strict check refuses the small-order R.
    let body = transfer_body(0, addr(1), 5);
    let digest = body.sign_digest();
    let mut tx = body.sign(&key(0));
    let mut r = [0u8; 32];
    r[0] = 1;
    let hram: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(tx.public_key)
        .chain_update(digest)
        .finalize()
        .into();
    let s = Scalar::from_bytes_mod_order_wide(&hram) * key(0).to_scalar();
    tx.signature[..32].copy_from_slice(&r);
    tx.signature[32..].copy_from_slice(s.as_bytes());
    let sig = Signature::from_bytes(&tx.signature);
    assert!(
        verify_batch(&[&digest[..]], &[sig], &[key(0).verifying_key()]).is_ok(),
        "the forged signature passes a bare batch"
    );
    let bytes = tx.encode();
    assert_eq!(chain.check_tx(&bytes).code, RejectCode::BadSignature.code());
    let before = chain.query(&format!("/account/{}", addr(0)), false).value;
    let block = chain.block(vec![bytes]);
    assert_eq!(
        block.results[0].code,
        RejectCode::BadSignature.code(),
        "{}",
        block.results[0].log
    );
    assert_eq!(
        chain.query(&format!("/account/{}", addr(0)), false).value,
        before
    );
}

/// Key `i`'s transfer signed with an `R` that carries a point of order 2: valid under the
/// chain's cofactored rule, refused by a cofactorless strict check, and accepted by a
/// cofactorless batch for about half of its coefficients.
fn torsion_signed(i: u8, nonce: u64, amount: u64) -> Vec<u8> {
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use sha2::Sha512;
    let body = transfer_body(nonce, addr(9), amount);
    let digest = body.sign_digest();
    let mut tx = body.sign(&key(i));
    let mut y = [0xff; 32];
    y[0] = 0xec;
    y[31] = 0x7f;
    let two = CompressedEdwardsY(y).decompress().expect("(0, -1)");
    let nonce_scalar = Scalar::from_bytes_mod_order([i.wrapping_add(nonce as u8 + 3); 32]);
    let r = (EdwardsPoint::mul_base(&nonce_scalar) + two)
        .compress()
        .to_bytes();
    let h = Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(tx.public_key)
            .chain_update(digest),
    );
    let s = nonce_scalar + h * key(i).to_scalar();
    tx.signature[..32].copy_from_slice(&r);
    tx.signature[32..].copy_from_slice(s.as_bytes());
    assert!(
        !taochain_primitives::tx::verify_strict(&tx.public_key, &digest, &tx.signature),
        "a strict check refuses it"
    );
    tx.encode()
}

#[test]
fn a_signature_gets_the_same_verdict_in_check_tx_and_in_any_block() {
    let mut chain = started_chain_in_memory();
    // Forty blocks, each with a crafted-torsion signature among honest ones and a bad one
    // in varying positions: a cofactorless batch would accept or refuse the crafted one by
    // its batch's coefficients; here CheckTx and every block accept it.
    let mut nonces = [0u64; 4];
    for n in 0..40u64 {
        let crafted = torsion_signed(0, n, 1);
        assert_eq!(chain.check_tx(&crafted).code, 0, "CheckTx, round {n}");
        let mut bad = transfer_body(0, addr(9), 1).sign(&key(1));
        bad.signature[40] ^= 1;
        let mut txs: Vec<Vec<u8>> = (2..2 + n % 3)
            .map(|i| {
                let i = i as usize;
                nonces[i] += 1;
                transfer_body(nonces[i] - 1, addr(9), 1)
                    .sign(&key(i as u8))
                    .encode()
            })
            .collect();
        txs.insert((n % 5) as usize % (txs.len() + 1), crafted);
        txs.push(bad.encode());
        let want: Vec<u32> = txs
            .iter()
            .map(|t| {
                if *t == bad.encode() {
                    RejectCode::BadSignature.code()
                } else {
                    0
                }
            })
            .collect();
        let block = chain.block(txs);
        let got: Vec<u32> = block.results.iter().map(|r| r.code).collect();
        assert_eq!(got, want, "round {n}");
    }
}

#[test]
fn proposals_hold_at_most_the_block_gas_budget() {
    use tendermint_abci::Application;
    use tendermint_proto::v0_38::abci as pb;
    let chain = started_chain_in_memory();
    let p = Params::default();
    // Four transactions signing for the most one may: together above the block budget.
    let txs: Vec<bytes::Bytes> = (0..4u8)
        .map(|i| {
            TxBody {
                chain_id: CHAIN_ID.into(),
                nonce: 0,
                fee: p.required_fee(p.max_tx_gas),
                gas_limit: p.max_tx_gas,
                msgs: vec![Msg::Transfer {
                    to: addr(0),
                    amount: 1,
                }],
            }
            .sign(&key(i))
            .encode()
            .into()
        })
        .collect();
    let fits = (p.max_block_gas / p.max_tx_gas) as usize;
    assert!(fits < txs.len());
    let proposal = chain.abci().prepare_proposal(pb::RequestPrepareProposal {
        max_tx_bytes: 1 << 20,
        txs: txs.clone(),
        ..Default::default()
    });
    assert_eq!(proposal.txs.len(), fits, "the proposer stops at the budget");
    let verdict = |txs: Vec<bytes::Bytes>| {
        chain
            .abci()
            .process_proposal(pb::RequestProcessProposal {
                txs,
                ..Default::default()
            })
            .status
    };
    use pb::response_process_proposal::ProposalStatus::{Accept, Reject};
    assert_eq!(verdict(proposal.txs), Accept as i32);
    assert_eq!(
        verdict(txs),
        Reject as i32,
        "a proposal over budget is rejected"
    );
}

/// A contract whose `execute` pins (message byte 0 = 1) or unpins the blob whose hash is
/// the rest of the message, and returns the host's answer.
const PINNER: &str = r#"(module
  (import "tao" "input_len" (func $input_len (result i32)))
  (import "tao" "input_read" (func $input_read (param i32)))
  (import "tao" "set_result" (func $set_result (param i32 i32)))
  (import "tao" "blob_pin" (func $blob_pin (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) (local $msg i32)
    (call $input_read (i32.const 0))
    (local.set $msg (i32.sub (call $input_len) (i32.const 33)))
    (i32.store (i32.const 4000)
      (call $blob_pin (i32.add (local.get $msg) (i32.const 1)) (i32.load8_u (local.get $msg))))
    (call $set_result (i32.const 4000) (i32.const 4)) i32.const 0)
  (func (export "query") (result i32) i32.const 0))"#;

#[test]
fn nobody_can_pin_and_unpin_someone_elses_blob_to_prune_it() {
    let mut chain = started_chain_in_memory();
    let pinner = instantiate_wat(&mut chain, PINNER);
    // A second instance of the same code: pins are held per contract.
    let block = chain.block(vec![signed(
        0,
        2,
        vec![Msg::Instantiate {
            code_id: 1,
            msg: vec![],
            funds: 0,
            admin: None,
            label: "other".into(),
        }],
    )]);
    let other = taochain_primitives::Address(
        block.results[0]
            .data
            .to_vec()
            .try_into()
            .expect("20-byte address"),
    );
    let victims = vec![7u8; 100];
    let hash: [u8; 32] = Sha256::digest(&victims).into();
    let block = chain.block(vec![signed(1, 0, vec![Msg::StoreBlob { bytes: victims }])]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    let pin = |chain: &mut MockChain,
               contract: taochain_primitives::Address,
               from: u8,
               nonce: u64,
               on: bool|
     -> i32 {
        let mut msg = vec![u8::from(on)];
        msg.extend_from_slice(&hash);
        let block = chain.block(vec![signed(
            from,
            nonce,
            vec![Msg::Execute {
                contract,
                msg,
                funds: 0,
            }],
        )]);
        assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
        i32::from_le_bytes(block.results[0].data[..4].try_into().expect("4 bytes"))
    };
    // The attacker (key 2) cannot take the first pin of the victim's (key 1's) blob...
    assert_eq!(
        pin(&mut chain, other, 2, 0, true),
        taochain_vm_abi::ERR_BLOB_NOT_OWNED
    );
    let record = |chain: &MockChain| chain.query(&format!("/blob/{}", hex::encode(hash)), false);
    assert_ne!(record(&chain).value.len(), 0, "the blob is still there");
    // ...its uploader can (through `pinner`); then another contract may add a pin of its
    // own, but removing more than it added removes nothing of `pinner`'s.
    assert_eq!(pin(&mut chain, pinner, 1, 1, true), 1);
    assert_eq!(pin(&mut chain, other, 2, 1, true), 2);
    assert_eq!(pin(&mut chain, other, 2, 2, false), 1);
    assert_eq!(pin(&mut chain, other, 2, 3, false), 1);
    assert_ne!(record(&chain).value.len(), 0);
}

#[test]
fn checking_a_statement_costs_gas_for_every_hash_and_entry_before_it_runs() {
    let mut chain = started_chain_in_memory();
    let c = instantiate_wat(
        &mut chain,
        &hostile(
            "(call $input_read (i32.const 0))
             (i32.store (i32.const 4000) (call $verify_matmul (i32.sub (call $input_len) (i32.const 96))))
             (call $set_result (i32.const 4000) (i32.const 4)) i32.const 0",
            "i32.const 0",
        )
        .replace(
            "(memory (export \"memory\") 1)",
            "(import \"tao\" \"input_len\" (func $input_len (result i32)))
             (memory (export \"memory\") 1)",
        ),
    );
    // A 1 x 1 times 1 x 4096: a few KB of data, but 2 * 4096 random-vector hashes.
    let n = 4096;
    let a = taochain_work::Matrix::new(1, 1, vec![3i8]).expect("a");
    let b = taochain_work::Matrix::new(1, n, vec![1i8; n]).expect("b");
    let product = taochain_work::gemm(&a, &b).expect("c");
    let mut hashes = vec![];
    for (i, bytes) in [
        taochain_work::npy::encode(&a),
        taochain_work::npy::encode(&b),
        taochain_work::npy::encode(&product),
    ]
    .into_iter()
    .enumerate()
    {
        hashes.push(<[u8; 32]>::from(Sha256::digest(&bytes)));
        let block = chain.block(vec![signed(
            0,
            2 + i as u64,
            vec![Msg::StoreBlob { bytes }],
        )]);
        assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    }
    let block = chain.block(vec![signed(
        1,
        0,
        vec![Msg::Execute {
            contract: c,
            msg: hashes.concat(),
            funds: 0,
        }],
    )]);
    let r = &block.results[0];
    assert_eq!(r.code, 0, "{}", r.log);
    let verdict = i32::from_le_bytes(r.data[..4].try_into().expect("4 bytes"));
    assert_eq!(verdict, taochain_vm_abi::MATMUL_VALID);
    let work = taochain_vm::limits::gas::verify_matmul_work([1, 1, n as u64]);
    assert!(work >= 2 * n as u64 * 400, "{work}");
    assert!(r.gas_used as u64 >= work, "{} < {work}", r.gas_used);
}

#[test]
fn a_free_smart_query_stops_at_its_own_gas_bound() {
    let mut chain = started_chain_in_memory();
    let c = instantiate_wat(
        &mut chain,
        &hostile("i32.const 0", "(loop $l (br $l)) i32.const 0"),
    );
    let q = smart(&chain, &c, &[]);
    assert_eq!(
        q.code,
        taochain_app::query::codes::CONTRACT_FAILED,
        "{}",
        q.log
    );
    assert!(
        q.log.contains(&format!(
            "out of gas (limit {})",
            taochain_app::query::SMART_QUERY_GAS
        )),
        "{}",
        q.log
    );
    // Bounded like a small transaction (~0.1 s), far below one transaction's most.
    assert!(taochain_app::query::SMART_QUERY_GAS * 10 <= Params::default().max_tx_gas);
}

/// Removes 1,000 keys that do not exist (each leaves a deletion in the transaction's
/// pending writes), then reads the first entry of the whole namespace once.
const REMOVE_THEN_SCAN: &str = "(local $i i32)
    (loop $l
      (i32.store (i32.const 0) (local.get $i))
      (call $storage_remove (i32.const 0) (i32.const 4))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (drop (call $storage_next (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 64) (i32.const 64)))
    i32.const 0";

#[test]
fn a_range_read_pays_for_each_pending_deletion_it_steps_over() {
    let mut chain = started_chain_in_memory();
    let c = instantiate_wat(&mut chain, &hostile(REMOVE_THEN_SCAN, "i32.const 0"));
    let call = |nonce: u64, gas_limit: u64| {
        TxBody {
            chain_id: CHAIN_ID.into(),
            nonce,
            fee: Params::default().required_fee(gas_limit),
            gas_limit,
            msgs: vec![Msg::Execute {
                contract: c,
                msg: vec![],
                funds: 0,
            }],
        }
        .sign(&key(2))
        .encode()
    };
    let writes = 1_000 * taochain_vm::limits::gas::STORAGE_WRITE;
    let skips = 1_000 * taochain_vm::limits::gas::STORAGE_SKIP;
    // Enough for the removals and the read's base price, not for stepping over 1,000
    // deletions: out of gas (without the per-step price, a loop of such reads could make
    // a block's reads quadratic in its deletions for a linear price).
    let block = chain.block(vec![call(0, writes + 2_000_000)]);
    let r = &block.results[0];
    assert_eq!(r.code, RejectCode::OutOfGas.code(), "{}", r.log);
    // Paid for, it runs, and its gas counts every step.
    let block = chain.block(vec![call(1, writes + skips + 2_000_000)]);
    let r = &block.results[0];
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(r.gas_used >= (writes + skips) as i64, "{}", r.gas_used);
}

//! Contracts through the ABCI app: the code lifecycle, queries with proofs, migration
//! rights, hostile code in real transactions, determinism across nodes.

use borsh::BorshDeserialize;
use taochain_primitives::{Account, Address, Msg, RejectCode};
use taochain_testkit::MockChain;
use taochain_testkit::fixtures::{FEE, addr, signed};
use taochain_vm_sandbox::contract_wasm;
use tendermint_abci::Application;
use tendermint_proto::v0_38::abci as pb;

use crate::{BALANCE, started_chain_in_memory};

pub(crate) fn smart(chain: &MockChain, contract: &Address, msg: &[u8]) -> pb::ResponseQuery {
    chain.abci().query(pb::RequestQuery {
        path: format!("/contract/{contract}/smart"),
        data: msg.to_vec().into(),
        ..Default::default()
    })
}

fn tagged(tag: u8, v: u64) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&v.to_le_bytes());
    m
}

/// Stores the module `wat_text` and instantiates it, both from key 0 (nonces 0 and 1 on a
/// fresh chain); returns its address.
pub(crate) fn instantiate_wat(chain: &mut MockChain, wat_text: &str) -> Address {
    let wasm = wat::parse_str(wat_text).expect("valid wat");
    let block = chain.block(vec![signed(0, 0, vec![Msg::StoreCode { wasm }])]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    let (code_id, _) = <(u64, [u8; 32])>::try_from_slice(&block.results[0].data).expect("code id");
    let block = chain.block(vec![signed(
        0,
        1,
        vec![Msg::Instantiate {
            code_id,
            msg: vec![],
            funds: 0,
            admin: None,
            label: "wat".into(),
        }],
    )]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    Address(
        block.results[0]
            .data
            .to_vec()
            .try_into()
            .expect("20-byte address"),
    )
}

/// Stores counter (code 1), instantiates it with admin = key 0; returns its address.
fn counter(chain: &mut MockChain) -> Address {
    let block = chain.block(vec![
        signed(
            0,
            0,
            vec![Msg::StoreCode {
                wasm: contract_wasm("counter"),
            }],
        ),
        signed(
            0,
            1,
            vec![Msg::Instantiate {
                code_id: 1,
                msg: 5u64.to_le_bytes().to_vec(),
                funds: 0,
                admin: Some(addr(0)),
                label: "c".into(),
            }],
        ),
    ]);
    for r in &block.results {
        assert_eq!(r.code, 0, "{}", r.log);
    }
    let (code_id, _checksum) =
        <(u64, [u8; 32])>::try_from_slice(&block.results[0].data).expect("code id");
    assert_eq!(code_id, 1);
    Address(
        block.results[1]
            .data
            .to_vec()
            .try_into()
            .expect("20-byte address"),
    )
}

#[test]
fn counter_lifecycle_through_transactions() {
    let mut chain = started_chain_in_memory();
    let c = counter(&mut chain);
    let block = chain.block(vec![signed(
        1,
        0,
        vec![Msg::Execute {
            contract: c,
            msg: tagged(0, 3),
            funds: 0,
        }],
    )]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
    assert!(
        block.results[0]
            .events
            .iter()
            .any(|e| e.r#type == "wasm-counter")
    );
    assert!(block.results[0].gas_used > 0);
    let q = smart(&chain, &c, &[0]);
    assert_eq!(q.code, 0, "{}", q.log);
    assert_eq!(u64::try_from_slice(&q.value).expect("u64"), 8);

    // The stored count is provable: the raw state key under the contract.
    let res = chain.query(
        &format!("/contract/{c}/state/{}", hex::encode(b"count")),
        true,
    );
    assert_eq!(u64::try_from_slice(&res.value).expect("u64"), 8);
    let op = &res.proof_ops.expect("proof").ops[0];
    let proof =
        <ics23::CommitmentProof as prost::Message>::decode(op.data.as_slice()).expect("decodes");
    let root: [u8; 32] = chain
        .app_hashes
        .last()
        .expect("hash")
        .clone()
        .try_into()
        .expect("32");
    assert!(taochain_storage::verify_proof(
        &root,
        &res.key,
        Some(&res.value),
        &proof
    ));

    // Migration: refused for a non-admin, done for the admin.
    let bad = chain.block(vec![signed(
        1,
        1,
        vec![Msg::Migrate {
            contract: c,
            new_code_id: 1,
            msg: 10u64.to_le_bytes().to_vec(),
        }],
    )]);
    assert_eq!(bad.results[0].code, RejectCode::Unauthorized.code());
    let good = chain.block(vec![signed(
        0,
        2,
        vec![Msg::Migrate {
            contract: c,
            new_code_id: 1,
            msg: 10u64.to_le_bytes().to_vec(),
        }],
    )]);
    assert_eq!(good.results[0].code, 0, "{}", good.results[0].log);
    assert_eq!(
        u64::try_from_slice(&smart(&chain, &c, &[0]).value).expect("u64"),
        18
    );
}

#[test]
fn hostile_code_fails_cleanly_and_only_pays_its_fee() {
    let mut chain = started_chain_in_memory();
    // Invalid code is refused at store time with its own code.
    let block = chain.block(vec![signed(
        0,
        0,
        vec![Msg::StoreCode {
            wasm: b"\0asm nope".to_vec(),
        }],
    )]);
    assert_eq!(block.results[0].code, RejectCode::ContractInvalid.code());
    // An infinite loop in execute: out of gas; the tx pays its fee, nothing else changes.
    let looping = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "instantiate") (result i32) i32.const 0)
            (func (export "execute") (result i32) (loop $l (br $l)) i32.const 0)
            (func (export "query") (result i32) i32.const 0))"#,
    )
    .expect("wat");
    let block = chain.block(vec![
        signed(0, 1, vec![Msg::StoreCode { wasm: looping }]),
        signed(
            0,
            2,
            vec![Msg::Instantiate {
                code_id: 1,
                msg: vec![],
                funds: 0,
                admin: None,
                label: "loop".into(),
            }],
        ),
    ]);
    let contract = Address(block.results[1].data.to_vec().try_into().expect("address"));
    let before: Account =
        borsh::from_slice(&chain.query(&format!("/account/{}", addr(0)), false).value)
            .expect("acct");
    let block = chain.block(vec![signed(
        0,
        3,
        vec![Msg::Execute {
            contract,
            msg: vec![],
            funds: 5,
        }],
    )]);
    assert_eq!(
        block.results[0].code,
        RejectCode::OutOfGas.code(),
        "{}",
        block.results[0].log
    );
    let after: Account =
        borsh::from_slice(&chain.query(&format!("/account/{}", addr(0)), false).value)
            .expect("acct");
    assert_eq!(
        after.balance,
        before.balance - FEE,
        "only the fee is paid: the 5 rao of funds came back"
    );
    assert_eq!(after.nonce, before.nonce + 1);
    let pool: Account =
        borsh::from_slice(&chain.query(&format!("/account/{contract}"), false).value)
            .unwrap_or_default();
    assert_eq!(pool.balance, 0);
    let _ = BALANCE;
}

#[test]
fn two_nodes_agree_on_contract_gas_and_app_hash() {
    let run = || {
        let mut chain = started_chain_in_memory();
        let c = counter(&mut chain);
        let b = chain.block(vec![signed(
            1,
            0,
            vec![Msg::Execute {
                contract: c,
                msg: tagged(0, 3),
                funds: 0,
            }],
        )]);
        (b.results[0].gas_used, b.app_hash)
    };
    assert_eq!(run(), run());
}

/// A valid contract module, distinct for each `n`.
fn tiny_module(n: usize) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
          (memory (export "memory") 1)
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32) i32.const {n} drop i32.const 0)
          (func (export "query") (result i32) i32.const 0))"#
    ))
    .expect("wat")
}

#[test]
fn code_stored_early_in_a_block_runs_later_in_it_after_more_stores_than_the_vm_keeps_hot() {
    let mut chain = started_chain_in_memory();
    // Counter first, then more modules than the VM keeps in memory, then run counter: all
    // in one block, where counter's bytes are not committed yet.
    let mut txs = vec![signed(
        0,
        0,
        vec![Msg::StoreCode {
            wasm: contract_wasm("counter"),
        }],
    )];
    let others = taochain_vm::engine::MAX_HOT + 2;
    let per_tx = 64;
    for (i, start) in (0..others).step_by(per_tx).enumerate() {
        let msgs = (start..(start + per_tx).min(others))
            .map(|n| Msg::StoreCode {
                wasm: tiny_module(n),
            })
            .collect();
        txs.push(signed(0, 1 + i as u64, msgs));
    }
    let nonce = txs.len() as u64;
    txs.push(signed(
        0,
        nonce,
        vec![Msg::Instantiate {
            code_id: 1,
            msg: 5u64.to_le_bytes().to_vec(),
            funds: 0,
            admin: None,
            label: "c".into(),
        }],
    ));
    let block = chain.block(txs);
    for r in &block.results {
        assert_eq!(r.code, 0, "{}", r.log);
    }
    // After the commit, the evicted modules come back from committed storage.
    let block = chain.block(vec![signed(
        0,
        nonce + 1,
        vec![Msg::Instantiate {
            code_id: 2,
            msg: vec![],
            funds: 0,
            admin: None,
            label: "t".into(),
        }],
    )]);
    assert_eq!(block.results[0].code, 0, "{}", block.results[0].log);
}

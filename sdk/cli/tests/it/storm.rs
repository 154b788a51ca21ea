//! An attack storm on the real 4-validator localnet while honest transfers flow: unbounded
//! gas limits, 200 paid infinite loops, 4 MiB `memory.fill` loops, host calls with
//! overflowing lengths (in transactions and in free queries), `.npy` statements with
//! absurd shapes, a proposal that would brick the fee, garbage transactions and hostile
//! queries, from several accounts at once. The chain keeps committing, no block takes more
//! than 3x the time the block gas budget takes on this machine (measured in the same run),
//! no node process dies, every honest transfer lands and all four app hashes agree.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use taochain_client::keys::address_of;
use taochain_client::{Client, Gas, Keystore};
use taochain_localnet::process;
use taochain_primitives::subnet::ProposalAction;
use taochain_primitives::{Address, Msg, Params, RAO_PER_TAO, RejectCode, TxBody};

use crate::localnet::{assert_validators_agree, start, tao};

/// Every entry but `execute` does nothing; `execute` runs `body` (leaving an i32 status).
fn module(imports: &str, pages: u32, execute: &str, query: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module {imports} (memory (export "memory") {pages})
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "execute") (result i32) {execute})
          (func (export "query") (result i32) {query}))"#
    ))
    .expect("valid wat")
}

const STORAGE: &str = r#"(import "tao" "storage_set" (func $storage_set (param i32 i32 i32 i32)))
  (import "tao" "storage_next" (func $storage_next (param i32 i32 i32 i32 i32 i32) (result i64)))"#;
const MATMUL: &str = r#"(import "tao" "input_len" (func $input_len (result i32)))
  (import "tao" "input_read" (func $input_read (param i32)))
  (import "tao" "verify_matmul" (func $verify_matmul (param i32) (result i32)))"#;

/// Stores and instantiates `wasm` from `key` (fixed gas); returns the contract address.
fn deploy(c: &Client, key: &SigningKey, wasm: Vec<u8>) -> Address {
    let stored = c
        .send(key, vec![Msg::StoreCode { wasm }], None)
        .expect("store");
    let (code_id, _): (u64, [u8; 32]) =
        borsh::from_slice(&hex::decode(&stored.data).expect("hex")).expect("code id");
    let inst = c
        .send(
            key,
            vec![Msg::Instantiate {
                code_id,
                msg: vec![],
                funds: 0,
                admin: None,
                label: "storm".into(),
            }],
            None,
        )
        .expect("instantiate");
    Address(
        hex::decode(&inst.data)
            .expect("hex")
            .try_into()
            .expect("20 bytes"),
    )
}

fn npy_header(descr: &str, shape: &str) -> Vec<u8> {
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// Signs a body for `key` at `nonce`.
fn sign(
    key: &SigningKey,
    chain_id: &str,
    nonce: u64,
    gas: u64,
    fee: u64,
    msgs: Vec<Msg>,
) -> Vec<u8> {
    TxBody {
        chain_id: chain_id.into(),
        nonce,
        fee,
        gas_limit: gas,
        msgs,
    }
    .sign(key)
    .encode()
}

/// Wall time of one block's gas budget of a tight loop on this machine (`tao vm run`).
fn budget_time(home: &Path, budget: u64) -> Duration {
    let looping = home.join("budget-loop.wasm");
    std::fs::write(
        &looping,
        module("", 1, "(loop $l (br $l)) i32.const 0", "i32.const 0"),
    )
    .expect("write");
    let t = Instant::now();
    let (ok, out) = tao(
        home,
        &[
            "--gas",
            &budget.to_string(),
            "vm",
            "run",
            &looping.to_string_lossy(),
            "--entry",
            "execute",
        ],
    );
    assert!(!ok && out.contains("OUT OF GAS"), "{out}");
    t.elapsed()
}

#[test]
fn an_attack_storm_neither_stalls_nor_forks_the_chain_and_honest_transfers_land() {
    let net = start(4, &[]);
    let (home, spec) = (net.home.clone(), &net.spec);
    let keys = Keystore::open(home.join("keys")).expect("keystore");
    let key = |i: usize| keys.signing_key(&format!("dev{i}"), None).expect("dev key");
    let c = Client::new(&net.node).with_gas(Gas::Limit(600_000_000));
    let chain_id = c.status().expect("status").chain_id;
    let params: Params = c.params().expect("params");

    // Setup: the hostile contracts and the absurd blobs (from attacker accounts 4-6).
    let (a4, a5, a6) = (key(4), key(5), key(6));
    let looping = deploy(
        &c,
        &a4,
        module(
            "",
            1,
            "(loop $l (br $l)) i32.const 0",
            "(loop $l (br $l)) i32.const 0",
        ),
    );
    let filling = deploy(
        &c,
        &a4,
        module(
            "",
            64,
            "(loop (memory.fill (i32.const 0) (i32.const 0) (i32.const 4194304)) (br 0)) i32.const 0",
            "i32.const 0",
        ),
    );
    let overflowing = deploy(
        &c,
        &a5,
        module(
            STORAGE,
            1,
            "(call $storage_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0x7fffffff)) i32.const 0",
            "(drop (call $storage_next (i32.const 0) (i32.const 0x7fffffff) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))) i32.const 0",
        ),
    );
    let checking = deploy(
        &c,
        &a6,
        module(
            MATMUL,
            1,
            "(call $input_read (i32.const 0))
             (drop (call $verify_matmul (i32.sub (call $input_len) (i32.const 96)))) i32.const 0",
            "i32.const 0",
        ),
    );
    let mut blob_hashes = vec![];
    for bytes in [
        npy_header("<i4", "(4611686018427387904, 1)"),
        npy_header("|i1", "(0, 0)"),
        npy_header("|i1", "(0, 1099511627776)"),
        npy_header("<i4", "(0, 1099511627776)"),
    ] {
        blob_hashes.push(<[u8; 32]>::from(Sha256::digest(&bytes)));
        c.send(&a6, vec![Msg::StoreBlob { bytes }], None)
            .expect("blob");
    }

    let budget = budget_time(&home, params.max_block_gas);
    let start_height = c.status().expect("status").height;

    // Block arrival times, watched from node 0 for the whole storm.
    let stop = Arc::new(AtomicBool::new(false));
    let arrivals = Arc::new(Mutex::new(BTreeMap::<u64, Instant>::new()));
    let watcher = {
        let (stop, arrivals, node) = (stop.clone(), arrivals.clone(), net.node.clone());
        std::thread::spawn(move || {
            let c = Client::new(&node);
            while !stop.load(Ordering::Relaxed) {
                if let Ok(s) = c.status() {
                    let mut a = arrivals.lock().expect("lock");
                    a.entry(s.height).or_insert_with(Instant::now);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // Attackers, each from its own account, all at once.
    let mut attackers = vec![];
    {
        // 200 paid infinite loops at 20M gas each, and unbounded gas limits (refused).
        let (key, chain_id, node) = (key(4), chain_id.clone(), net.node.clone());
        attackers.push(std::thread::spawn(move || {
            let c = Client::new(&node);
            let mut nonce = c.account(&address_of(&key)).expect("account").nonce;
            let p = c.params().expect("params");
            let call = Msg::Execute {
                contract: looping,
                msg: vec![],
                funds: 0,
            };
            let unbounded = sign(
                &key,
                &chain_id,
                nonce,
                u64::MAX,
                RAO_PER_TAO,
                vec![call.clone()],
            );
            let b = c.rpc().broadcast_tx_sync(&unbounded).expect("broadcast");
            assert_eq!(b.code, RejectCode::GasLimitTooHigh.code(), "{}", b.log);
            for _ in 0..200 {
                let gas = 20_000_000;
                let tx = sign(
                    &key,
                    &chain_id,
                    nonce,
                    gas,
                    p.required_fee(gas),
                    vec![call.clone()],
                );
                if c.rpc().broadcast_tx_sync(&tx).is_ok_and(|b| b.code == 0) {
                    nonce += 1;
                }
            }
            let fill = Msg::Execute {
                contract: filling,
                msg: vec![],
                funds: 0,
            };
            for _ in 0..5 {
                let gas = 100_000_000;
                let tx = sign(
                    &key,
                    &chain_id,
                    nonce,
                    gas,
                    p.required_fee(gas),
                    vec![fill.clone()],
                );
                if c.rpc().broadcast_tx_sync(&tx).is_ok_and(|b| b.code == 0) {
                    nonce += 1;
                }
            }
        }));
    }
    {
        // Overflowing host calls, absurd statements and a bricking proposal, in blocks.
        let (key, chain_id, node) = (key(5), chain_id.clone(), net.node.clone());
        let hashes = blob_hashes.clone();
        attackers.push(std::thread::spawn(move || {
            let c = Client::new(&node);
            let mut nonce = c.account(&address_of(&key)).expect("account").nonce;
            let p = c.params().expect("params");
            let gas = 10_000_000;
            let mut msgs = vec![Msg::Execute {
                contract: overflowing,
                msg: vec![],
                funds: 0,
            }];
            for s in [
                [hashes[1], hashes[2], hashes[3]],
                [hashes[0], hashes[0], hashes[0]],
            ] {
                msgs.push(Msg::Execute {
                    contract: checking,
                    msg: s.concat(),
                    funds: 0,
                });
            }
            msgs.push(Msg::Propose {
                action: ProposalAction::SetParam {
                    name: "min_fee".into(),
                    value: u64::MAX,
                },
                deposit: RAO_PER_TAO,
            });
            for _ in 0..5 {
                for m in &msgs {
                    let tx = sign(
                        &key,
                        &chain_id,
                        nonce,
                        gas,
                        p.required_fee(gas),
                        vec![m.clone()],
                    );
                    if c.rpc().broadcast_tx_sync(&tx).is_ok_and(|b| b.code == 0) {
                        nonce += 1;
                    }
                }
            }
        }));
    }
    {
        // Garbage transactions and hostile queries, free for the attacker.
        let (node, contract) = (net.node.clone(), overflowing);
        attackers.push(std::thread::spawn(move || {
            let c = Client::new(&node);
            for i in 0..50u32 {
                let garbage: Vec<u8> = (0..(i * 37 % 500 + 1))
                    .map(|j| (j.wrapping_mul(2_654_435_761).wrapping_add(i) >> 7) as u8)
                    .collect();
                let b = c
                    .rpc()
                    .broadcast_tx_sync(&garbage)
                    .expect("broadcast answers");
                assert_ne!(b.code, 0, "garbage was admitted");
                let q = c
                    .rpc()
                    .abci_query_data(&format!("/contract/{contract}/smart"), &[], 0, false)
                    .expect("a hostile smart query is answered");
                assert_ne!(q.code, 0);
                let q = c
                    .rpc()
                    .abci_query_data(&format!("/contract/{looping}/smart"), &[], 0, false)
                    .expect("a looping smart query is answered");
                assert!(q.log.contains("out of gas"), "{}", q.log);
                for path in [
                    "/simulate",
                    "/account/x",
                    "/blob/zz/bytes",
                    "/metagraph/65535",
                    "/\u{0}",
                ] {
                    let q = c
                        .rpc()
                        .abci_query_data(path, &garbage, u64::from(i) << 40, true)
                        .expect("a garbage query is answered");
                    let _ = q.code;
                }
            }
        }));
    }

    // Honest transfers among accounts 0-3 while the storm goes on.
    let honest: Vec<SigningKey> = (0..4).map(key).collect();
    let addrs: Vec<Address> = honest.iter().map(address_of).collect();
    let before: Vec<u64> = addrs
        .iter()
        .map(|a| c.account(a).expect("account").balance)
        .collect();
    let fee = params.required_fee(taochain_client::client::DEFAULT_GAS_LIMIT);
    let mut expected = before.clone();
    let mut hashes = vec![];
    let mut nonces: Vec<u64> = addrs
        .iter()
        .map(|a| c.account(a).expect("account").nonce)
        .collect();
    for t in 0..40usize {
        let (from, to) = (t % 4, (t + 1) % 4);
        let amount = 1_000 + t as u64;
        let tx = Client::sign_transfer(
            &honest[from],
            &chain_id,
            nonces[from],
            fee,
            addrs[to],
            amount,
        );
        let b = c.rpc().broadcast_tx_sync(&tx).expect("broadcast");
        assert_eq!(b.code, 0, "honest transfer refused: {}", b.log);
        nonces[from] += 1;
        expected[from] -= amount + fee;
        expected[to] += amount;
        hashes.push(taochain_primitives::SignedTx::hash_bytes(&tx));
        std::thread::sleep(Duration::from_millis(100));
    }
    for a in attackers {
        a.join().expect("attacker thread");
    }
    for h in &hashes {
        let done = c
            .wait_committed(h, Duration::from_secs(180))
            .expect("every honest transfer lands");
        assert_eq!(done.code, 0, "{}", done.log);
    }
    // Let the mempool drain, then stop watching.
    let end = c.status().expect("status").height;
    process::wait_for_height(
        spec,
        &[0, 1, 2, 3],
        end + 2,
        Duration::from_secs(180),
        |_| {},
    )
    .expect("the chain keeps committing");
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");

    for (i, a) in addrs.iter().enumerate() {
        assert_eq!(c.account(a).expect("account").balance, expected[i], "{a}");
    }
    for s in process::status(&home.join("localnet"), spec) {
        assert!(s.running, "node {} died: {s:?}", s.node);
    }
    assert_validators_agree(spec);
    assert_eq!(
        c.params().expect("params").min_fee,
        params.min_fee,
        "the bricking proposal never got in"
    );

    let arrivals = arrivals.lock().expect("lock");
    let times: Vec<(u64, Instant)> = arrivals
        .range(start_height..)
        .map(|(h, t)| (*h, *t))
        .collect();
    let slowest = times
        .windows(2)
        .map(|w| w[1].1.duration_since(w[0].1) / (w[1].0 - w[0].0).max(1) as u32)
        .max()
        .unwrap_or_default();
    // One block holds at most the budget; four validators on this machine's cores each run
    // it, plus CometBFT's own timeouts (~1.5 s on the localnet template).
    let bound = budget * 3 + Duration::from_secs(3);
    eprintln!(
        "storm: {} blocks, slowest {slowest:?}, budget of {} gas takes {budget:?} here, bound {bound:?}",
        times.len(),
        params.max_block_gas
    );
    assert!(
        slowest <= bound,
        "a block took {slowest:?} (bound {bound:?})"
    );
}

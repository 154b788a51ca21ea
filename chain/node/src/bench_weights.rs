//! `taod bench --weights`: the block time of a block of 1,000 `SetWeights` transactions
//! (256 validators with permits on a 1,024-UID subnet, each setting 256 weights), and of the
//! block that runs that subnet's epoch, in-process over RocksDB.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use indicatif::ProgressBar;
use taochain_app::App;
use taochain_primitives::subnet::EconomyParams;
use taochain_primitives::{Address, Msg, RAO_PER_TAO, TxBody};
use taochain_storage::{Storage, StorageOptions};

const VALIDATORS: usize = 256;
const UIDS: usize = 1024;
const TXS: usize = 1000;
const WEIGHTS: usize = 256;

/// A subnet contract that accepts every call and judges nothing.
const NOOP_CONTRACT: &str = r#"(module (memory (export "memory") 1)
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))"#;

struct Chain {
    app: App,
    height: u64,
    nonces: Vec<u64>,
    keys: Vec<SigningKey>,
}

impl Chain {
    fn addr(&self, i: usize) -> Address {
        Address::from_public_key(&self.keys[i].verifying_key().to_bytes())
    }

    fn tx(&mut self, from: usize, msgs: Vec<Msg>) -> Vec<u8> {
        let body = TxBody {
            chain_id: "bench".into(),
            nonce: self.nonces[from],
            fee: taochain_primitives::Params::default().required_fee(500_000_000),
            gas_limit: 500_000_000,
            msgs,
        };
        self.nonces[from] += 1;
        body.sign(&self.keys[from]).encode()
    }

    /// Finalizes and commits; fails if any transaction failed. Returns (elapsed, events).
    fn block(&mut self, txs: &[Vec<u8>]) -> anyhow::Result<(Duration, Vec<String>)> {
        self.height += 1;
        let t = Instant::now();
        let out = self.app.finalize_block(self.height, 0, [0; 32], txs)?;
        self.app.commit()?;
        let elapsed = t.elapsed();
        if let Some(bad) = out.tx_results.iter().find(|r| r.code != 0) {
            anyhow::bail!("bench transaction failed: code {} {}", bad.code, bad.log);
        }
        Ok((elapsed, out.events.into_iter().map(|e| e.kind).collect()))
    }
}

/// Runs the benchmark and prints the two block times.
pub fn run() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("taod-bench-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let storage = Arc::new(Storage::open(&dir, StorageOptions::default())?);
    let app = App::new(storage, Arc::new(taochain_vm::Vm::new(None)?));
    // Key 0 funds and owns everything; keys 1..=256 are validators.
    let keys: Vec<SigningKey> = (0..=VALIDATORS)
        .map(|i| {
            let mut seed = [9u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SigningKey::from_bytes(&seed)
        })
        .collect();
    let mut chain = Chain {
        app,
        height: 0,
        nonces: vec![0; keys.len()],
        keys,
    };
    let big = 2_000_000 * RAO_PER_TAO;
    let small = 2_000 * RAO_PER_TAO;
    let accounts: Vec<_> = (0..chain.keys.len())
        .map(|i| {
            let b = if i == 0 { big } else { small };
            serde_json::json!({"address": chain.addr(i).to_string(), "balance": b.to_string()})
        })
        .collect();
    let mut economy = EconomyParams::default();
    economy.default_hyperparams.max_allowed_uids = UIDS as u64;
    economy.default_hyperparams.max_allowed_validators = VALIDATORS as u64;
    economy.default_hyperparams.weights_rate_limit = 0;
    economy.default_hyperparams.tempo = 5;
    let genesis = serde_json::json!({
        "accounts": accounts,
        "total_issuance": (big + small * VALIDATORS as u64).to_string(),
        "economy": economy,
    });
    chain
        .app
        .init_chain("bench", &serde_json::to_vec(&genesis)?)?;
    let bar = ProgressBar::new_spinner().with_message("setting up a 1024-UID subnet");
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let wasm = wat::parse_str(NOOP_CONTRACT)?;
    let owner_hot = Address::module("bench-owner");
    let setup = vec![
        chain.tx(0, vec![Msg::StoreCode { wasm }]),
        chain.tx(
            0,
            vec![Msg::RegisterSubnet {
                hotkey: owner_hot,
                code_id: 1,
                init_msg: vec![],
                hyperparams: None,
            }],
        ),
    ];
    chain.block(&setup)?;
    let mut txs = vec![];
    for v in 1..=VALIDATORS {
        let me = chain.addr(v);
        txs.push(chain.tx(
            v,
            vec![
                Msg::BurnedRegister {
                    netuid: 1,
                    hotkey: me,
                },
                Msg::AddStake {
                    hotkey: me,
                    amount: (v as u64) * RAO_PER_TAO,
                },
            ],
        ));
    }
    let miners: Vec<Msg> = (0..UIDS - 1 - VALIDATORS)
        .map(|m| Msg::BurnedRegister {
            netuid: 1,
            hotkey: Address::module(&format!("bench-miner-{m}")),
        })
        .collect();
    for chunk in miners.chunks(64) {
        let tx = chain.tx(0, chunk.to_vec());
        txs.push(tx);
    }
    chain.block(&txs)?;
    // One epoch hands out the permits; then a long tempo keeps epochs out of the bench.
    loop {
        let (_, events) = chain.block(&[])?;
        if events.iter().any(|e| e == "epoch") {
            break;
        }
    }
    let slow = chain.tx(
        0,
        vec![Msg::SetHyperparam {
            netuid: 1,
            name: "tempo".into(),
            value: 10_000,
        }],
    );
    chain.block(&[slow])?;
    bar.set_message("signing 1000 SetWeights transactions");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut txs = Vec::with_capacity(TXS);
    for t in 0..TXS {
        let v = 1 + t % VALIDATORS;
        let start = (t * 7) % (UIDS - WEIGHTS);
        let uids: Vec<u16> = (start..start + WEIGHTS).map(|u| u as u16).collect();
        let values: Vec<u16> = uids
            .iter()
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 65535) as u16 + 1
            })
            .collect();
        txs.push(chain.tx(
            v,
            vec![Msg::SetWeights {
                netuid: 1,
                uids,
                values,
                version_key: 0,
            }],
        ));
    }
    bar.set_message("finalizing");
    let (weights_time, _) = chain.block(&txs)?;
    let back = chain.tx(
        0,
        vec![Msg::SetHyperparam {
            netuid: 1,
            name: "tempo".into(),
            value: 1,
        }],
    );
    chain.block(&[back])?;
    let mut epoch_time = Duration::ZERO;
    for _ in 0..4 {
        let (elapsed, events) = chain.block(&[])?;
        if events.iter().any(|e| e == "epoch") {
            epoch_time = elapsed;
            break;
        }
    }
    bar.finish_and_clear();
    std::fs::remove_dir_all(&dir).ok();
    // Integer arithmetic only (this crate is chain code).
    let ms = |d: Duration| {
        let us = d.as_micros();
        format!("{}.{}", us / 1000, (us % 1000) / 100)
    };
    println!(
        "block of {TXS} SetWeights txs ({WEIGHTS} weights each, {VALIDATORS} validators, {UIDS} UIDs): {} ms",
        ms(weights_time)
    );
    println!(
        "block running that subnet's epoch ({UIDS} UIDs x {VALIDATORS} validators): {} ms",
        ms(epoch_time)
    );
    println!(
        "summary: {} SetWeights tx/s in FinalizeBlock+Commit",
        TXS as u128 * 1_000_000 / weights_time.as_micros().max(1)
    );
    Ok(())
}

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

/// The in-process chain the benchmark drives, with its signers and their nonces.
struct Chain {
    app: App,
    height: u64,
    nonces: Vec<u64>,
    keys: Vec<SigningKey>,
}

impl Chain {
    /// An app over fresh RocksDB storage in `dir`; key 0 funds and owns everything, keys
    /// 1..=256 are validators.
    fn open(dir: &std::path::Path) -> anyhow::Result<Self> {
        let storage = Arc::new(Storage::open(dir, StorageOptions::default())?);
        let app = App::new(storage, Arc::new(taochain_vm::Vm::new(None)?));
        let keys: Vec<SigningKey> = (0..=VALIDATORS)
            .map(|i| {
                let mut seed = [9u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                SigningKey::from_bytes(&seed)
            })
            .collect();
        Ok(Chain {
            app,
            height: 0,
            nonces: vec![0; keys.len()],
            keys,
        })
    }

    /// The address of key `i`.
    fn addr(&self, i: usize) -> Address {
        Address::from_public_key(&self.keys[i].verifying_key().to_bytes())
    }

    /// A signed transaction of `msgs` from key `from`, at its next nonce.
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

    /// Genesis: key 0 rich, the validators funded, subnet defaults sized for the bench.
    fn init(&self) -> anyhow::Result<()> {
        let big = 2_000_000 * RAO_PER_TAO;
        let small = 2_000 * RAO_PER_TAO;
        let accounts: Vec<_> = (0..self.keys.len())
            .map(|i| {
                let b = if i == 0 { big } else { small };
                serde_json::json!({"address": self.addr(i).to_string(), "balance": b.to_string()})
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
        self.app
            .init_chain("bench", &serde_json::to_vec(&genesis)?)?;
        Ok(())
    }

    /// One block storing the no-op contract and registering subnet 1 with it.
    fn register_subnet(&mut self) -> anyhow::Result<()> {
        let wasm = wat::parse_str(NOOP_CONTRACT)?;
        let owner_hot = Address::module("bench-owner");
        let setup = vec![
            self.tx(0, vec![Msg::StoreCode { wasm }]),
            self.tx(
                0,
                vec![Msg::RegisterSubnet {
                    hotkey: owner_hot,
                    code_id: 1,
                    init_msg: vec![],
                    hyperparams: None,
                }],
            ),
        ];
        self.block(&setup)?;
        Ok(())
    }

    /// One block filling the subnet: each validator registers and stakes, miners take the rest.
    fn register_neurons(&mut self) -> anyhow::Result<()> {
        let mut txs = vec![];
        for v in 1..=VALIDATORS {
            let me = self.addr(v);
            txs.push(self.tx(
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
            let tx = self.tx(0, chunk.to_vec());
            txs.push(tx);
        }
        self.block(&txs)?;
        Ok(())
    }

    /// Runs empty blocks until one runs an epoch.
    fn until_epoch(&mut self) -> anyhow::Result<()> {
        loop {
            let (_, events) = self.block(&[])?;
            if events.iter().any(|e| e == "epoch") {
                return Ok(());
            }
        }
    }

    /// One block setting subnet 1's tempo.
    fn set_tempo(&mut self, tempo: u64) -> anyhow::Result<()> {
        let tx = self.tx(
            0,
            vec![Msg::SetHyperparam {
                netuid: 1,
                name: "tempo".into(),
                value: tempo,
            }],
        );
        self.block(&[tx])?;
        Ok(())
    }

    /// The benchmark's SetWeights transactions: validators in turn, pseudo-random weights.
    fn set_weights_txs(&mut self) -> Vec<Vec<u8>> {
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
            txs.push(self.tx(
                v,
                vec![Msg::SetWeights {
                    netuid: 1,
                    uids,
                    values,
                    version_key: 0,
                }],
            ));
        }
        txs
    }

    /// The time of the first epoch block within the next 4 empty blocks (zero if none).
    fn epoch_time(&mut self) -> anyhow::Result<Duration> {
        for _ in 0..4 {
            let (elapsed, events) = self.block(&[])?;
            if events.iter().any(|e| e == "epoch") {
                return Ok(elapsed);
            }
        }
        Ok(Duration::ZERO)
    }
}

/// Runs the benchmark and prints the two block times.
pub fn run() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("taod-bench-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut chain = Chain::open(&dir)?;
    chain.init()?;
    let bar = ProgressBar::new_spinner().with_message("setting up a 1024-UID subnet");
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    chain.register_subnet()?;
    chain.register_neurons()?;
    // One epoch hands out the permits; then a long tempo keeps epochs out of the bench.
    chain.until_epoch()?;
    chain.set_tempo(10_000)?;
    bar.set_message("signing 1000 SetWeights transactions");
    let txs = chain.set_weights_txs();
    bar.set_message("finalizing");
    let (weights_time, _) = chain.block(&txs)?;
    chain.set_tempo(1)?;
    let epoch_time = chain.epoch_time()?;
    bar.finish_and_clear();
    std::fs::remove_dir_all(&dir).ok();
    print_report(weights_time, epoch_time);
    Ok(())
}

/// Prints both block times and the SetWeights throughput.
fn print_report(weights_time: Duration, epoch_time: Duration) {
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
}

//! `tao bench load`: offered load against a running chain. Workers (one per dev account)
//! sign transfers with pipelined nonces and broadcast them at a fixed total rate; a
//! collector watches new blocks and stamps each transaction's commit time. Prints
//! committed tx/s and p50/p99 latency from broadcast to commit. `--compare-kvstore` runs
//! the same load against fresh networks of CometBFT's `kvstore` app and of taod.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use taochain_client::keys::address_of;
use taochain_client::{Client, Rpc};
use taochain_localnet::LocalnetSpec;
use taochain_primitives::SignedTx;

use crate::Ctx;
use crate::output::{Output, emit};

/// Benchmarks.
#[derive(Subcommand)]
pub enum BenchCmd {
    /// Useful-work verification vs recomputation: the CPU reference (SIMD and portable) and
    /// the GPU (inputs uploaded and resident), each against its copy roofline.
    Verify {
        /// Matrix size n (n x n times n x n).
        #[arg(long, default_value_t = 1024)]
        n: usize,
    },
    /// Yuma epoch time (offline): 256 UIDs x 64 validators and 4096 UIDs x 256 validators,
    /// every validator weighting every UID.
    Epoch {
        /// Repetitions per size (the median is printed).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Contract VM micro-benchmarks (offline).
    Vm {
        /// Repetitions of the per-call benchmarks.
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
    },
    /// The arena (offline): a validator round over N instant axons, one axon's requests/s
    /// on one core, and each task's challenge generation and reference-model latency.
    Arena {
        /// Axons in the round benchmark.
        #[arg(long, default_value_t = 64)]
        axons: usize,
        /// Rounds (the median is printed).
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Challenges per task for the model latencies (0: skip them).
        #[arg(long, default_value_t = 5)]
        challenges: usize,
    },
    /// The gateway (offline): vouchers checked per second on one core, and a paid
    /// question's latency with the task's reference model, one miner vs the top 3.
    Gateway {
        /// speech-to-text, image-to-text or text-correction.
        #[arg(long, default_value = "speech-to-text")]
        task: String,
        /// Questions per configuration (p50 and p99 are printed).
        #[arg(long, default_value_t = 10)]
        questions: usize,
        /// Vouchers for the one-core rate.
        #[arg(long, default_value_t = 20_000)]
        vouchers: u64,
    },
    /// Offered transfer load against the localnet (or --node).
    Load {
        /// Transactions per second offered, in total.
        #[arg(long, default_value_t = 500)]
        rate: u64,
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Sending accounts: keys dev0..dev{N-1}.
        #[arg(long, default_value_t = 10)]
        accounts: usize,
        /// Wait for CheckTx on every broadcast (`broadcast_tx_sync`) instead of
        /// `broadcast_tx_async`; slower senders, but mempool refusals are counted apart.
        #[arg(long)]
        sync: bool,
        /// Localnet home: spread accounts over all its nodes (default <tao-home>/localnet;
        /// falls back to --node when absent).
        #[arg(long)]
        home: Option<PathBuf>,
        /// Instead of a running chain: start two fresh 4-validator networks in turn, one
        /// of CometBFT's built-in `kvstore` app and one of taod, offer each the same load
        /// (transactions of the same size), and print both and their ratio.
        #[arg(long)]
        compare_kvstore: bool,
        /// First port of the networks `--compare-kvstore` starts.
        #[arg(long, default_value_t = 28000)]
        base_port: u16,
    },
}

/// Sent and committed instants by transaction hash.
#[derive(Default)]
struct Ledger {
    sent: BTreeMap<[u8; 32], Instant>,
    committed: BTreeMap<[u8; 32], (Instant, u32)>,
    rejected: u64,
    first_error: Option<String>,
}

/// Runs a bench subcommand.
pub fn run(ctx: &Ctx, cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Load {
            rate,
            duration,
            accounts,
            sync,
            home,
            compare_kvstore,
            base_port,
        } => {
            let shape = Shape {
                rate,
                duration,
                accounts,
                sync,
            };
            if compare_kvstore {
                compare(ctx, &shape, base_port)
            } else {
                load(ctx, &shape, home)
            }
        }
        BenchCmd::Vm { iterations } => vm(ctx, iterations),
        BenchCmd::Arena {
            axons,
            rounds,
            challenges,
        } => crate::arena::bench(ctx, axons, rounds, challenges),
        BenchCmd::Gateway {
            task,
            questions,
            vouchers,
        } => crate::gateway::bench(ctx, &task, questions, vouchers),
        BenchCmd::Epoch { runs } => crate::yuma::bench(ctx, runs),
        BenchCmd::Verify { n } => crate::work::bench_verify(ctx, n),
    }
}

/// The load `tao bench load` offers.
struct Shape {
    rate: u64,
    duration: u64,
    accounts: usize,
    sync: bool,
}

/// What the workers send.
#[derive(Clone)]
enum Payload {
    /// Signed self-transfers from the dev accounts, with pipelined nonces.
    Transfers { chain_id: String, fee: u64 },
    /// kvstore's `key=value` transactions of `len` bytes, unique within a run (`tag`).
    KeyValue { len: usize, tag: u64 },
}

/// `tao bench load`: offers transfers at `rate` for `duration` seconds, then reports.
fn load(ctx: &Ctx, shape: &Shape, home: Option<PathBuf>) -> anyhow::Result<()> {
    let nodes = target_nodes(ctx, home);
    let m = offer_load(ctx, shape, &nodes, transfers(ctx, shape, &nodes[0])?)?;
    emit(ctx.output, &m.json(shape), || m.text(shape))
}

/// The transfers payload for `client`'s chain, and the keys that sign it.
fn transfers(
    ctx: &Ctx,
    shape: &Shape,
    node: &str,
) -> anyhow::Result<(Payload, Vec<Option<ed25519_dalek::SigningKey>>)> {
    anyhow::ensure!(
        shape.rate > 0 && shape.accounts > 0,
        "--rate and --accounts must be positive"
    );
    let keys = dev_keys(ctx, shape.accounts)?
        .into_iter()
        .map(Some)
        .collect();
    let client = Client::new(node);
    let payload = Payload::Transfers {
        chain_id: client.status()?.chain_id,
        fee: client
            .params()?
            .required_fee(taochain_client::client::DEFAULT_GAS_LIMIT),
    };
    Ok((payload, keys))
}

/// Offers `shape` to `nodes` and measures what was committed.
fn offer_load(
    ctx: &Ctx,
    shape: &Shape,
    nodes: &[String],
    (payload, keys): (Payload, Vec<Option<ed25519_dalek::SigningKey>>),
) -> anyhow::Result<Measured> {
    anyhow::ensure!(
        shape.rate > 0 && shape.accounts > 0,
        "--rate and --accounts must be positive"
    );
    let (rate, duration, accounts) = (shape.rate, shape.duration, shape.accounts);
    let client = Client::new(&nodes[0]);
    let start_height = client.status()?.height;

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop_collector = Arc::new(Mutex::new(false));
    let collector = {
        let (ledger, stop, rpc) = (ledger.clone(), stop_collector.clone(), Rpc::new(&nodes[0]));
        std::thread::spawn(move || collect(&rpc, start_height, &ledger, &stop))
    };
    let bar = progress_bar(ctx, rate * duration);
    let offer = Offer {
        payload,
        sync: shape.sync,
        interval: Duration::from_secs_f64(accounts as f64 / rate as f64),
        begin: Instant::now(),
        accounts,
        per_worker: rate * duration / accounts as u64,
        ledger: ledger.clone(),
        bar: bar.clone(),
    };
    offer.run_workers(keys, nodes);
    let offered_for = offer.begin.elapsed();
    bar.set_message("waiting for the last blocks");
    wait_for_commits(&ledger);
    *lock(&stop_collector) = true;
    let _ = collector.join();
    bar.finish_and_clear();
    Ok(Measured::of(&lock(&ledger), offer.begin, offered_for))
}

/// `tao bench load --compare-kvstore`: the same load against a fresh 4-validator network
/// of taod, then against a fresh one of CometBFT's `kvstore` app (with transactions of
/// the size of a signed transfer). Each network is stopped on every way out.
fn compare(ctx: &Ctx, shape: &Shape, base_port: u16) -> anyhow::Result<()> {
    let root = ctx.home.join("bench-compare");
    let network = |name: &str| -> anyhow::Result<(PathBuf, LocalnetSpec)> {
        let home = root.join(name);
        if home.join("localnet.json").is_file() {
            taochain_localnet::process::stop(&home)?;
        }
        if home.exists() {
            std::fs::remove_dir_all(&home)
                .with_context(|| format!("removing {}", home.display()))?;
        }
        let spec = crate::localnet::create(
            ctx,
            &home,
            &crate::localnet::Network {
                validators: 4,
                base_port,
                chain_id: format!("bench-{name}"),
                dev_accounts: u32::try_from(shape.accounts.max(10)).unwrap_or(u32::MAX),
                log_format: "plain",
                hosts: &[],
            },
        )?;
        Ok((home, spec))
    };
    let nodes = |spec: &LocalnetSpec| -> Vec<String> {
        spec.all_ports().iter().map(|p| p.rpc_url()).collect()
    };
    let up = |home: &Path, spec: &LocalnetSpec| -> anyhow::Result<()> {
        taochain_localnet::process::wait_for_height(
            spec,
            &[0, 1, 2, 3],
            2,
            Duration::from_secs(120),
            |_| {},
        )
        .with_context(|| format!("starting the network in {}", home.display()))
    };

    let (home, spec) = network("taochain")?;
    let _stop = StopOnDrop(home.clone());
    taochain_localnet::process::start(&home, &spec)?;
    let taochain = up(&home, &spec).and_then(|()| {
        let (payload, keys) = transfers(ctx, shape, &nodes(&spec)[0])?;
        // The size of one signed transfer: what every kvstore transaction will weigh.
        let len = match (&payload, keys.first()) {
            (Payload::Transfers { chain_id, fee }, Some(Some(k))) => {
                Client::sign_transfer(k, chain_id, 0, *fee, address_of(k), 1).len()
            }
            _ => 0,
        };
        Ok((offer_load(ctx, shape, &nodes(&spec), (payload, keys))?, len))
    });
    taochain_localnet::process::stop(&home)?;
    let (taochain, len) = taochain?;

    let (home, spec) = network("kvstore")?;
    let _stop = StopOnDrop(home.clone());
    taochain_localnet::process::start_kvstore(&home, &spec)?;
    let kvstore = up(&home, &spec).and_then(|()| {
        let payload = Payload::KeyValue {
            len,
            tag: rand::random(),
        };
        offer_load(
            ctx,
            shape,
            &nodes(&spec),
            (payload, vec![None; shape.accounts]),
        )
    });
    taochain_localnet::process::stop(&home)?;
    let kvstore = kvstore?;

    let ratio = if kvstore.tps > 0.0 {
        taochain.tps / kvstore.tps
    } else {
        0.0
    };
    let json = serde_json::json!({
        "tx_bytes": len,
        "kvstore": kvstore.json(shape),
        "taochain": taochain.json(shape),
        "committed_tps_ratio": ratio,
    });
    emit(ctx.output, &json, || {
        format!(
            "kvstore:  {}\ntaochain: {}\ntaochain / kvstore committed tx/s: {ratio:.2} ({len}-byte transactions, 4 validators on this machine each)",
            kvstore.text(shape),
            taochain.text(shape)
        )
    })
}

/// RPC addresses to send to: every node of the localnet at `home`, else `--node`.
fn target_nodes(ctx: &Ctx, home: Option<PathBuf>) -> Vec<String> {
    let home = home.unwrap_or_else(|| ctx.home.join("localnet"));
    match LocalnetSpec::load(&home) {
        Ok(spec) => spec.all_ports().iter().map(|p| p.rpc_url()).collect(),
        Err(_) => vec![ctx.node.clone()],
    }
}

/// The keys dev0..dev{accounts-1} from the keystore.
fn dev_keys(ctx: &Ctx, accounts: usize) -> anyhow::Result<Vec<ed25519_dalek::SigningKey>> {
    let keystore = ctx.keystore()?;
    (0..accounts)
        .map(|i| {
            keystore
                .signing_key(&format!("dev{i}"), None)
                .with_context(|| format!("dev key dev{i}"))
        })
        .collect()
}

/// The progress bar of `len` transactions sent (hidden for JSON output).
fn progress_bar(ctx: &Ctx, len: u64) -> ProgressBar {
    if ctx.output == Output::Json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len).with_style(
            ProgressStyle::with_template("offering load [{bar:30}] {pos}/{len} txs sent {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    }
}

/// Waits (at most 60 s) until every sent transaction has been seen in a block.
fn wait_for_commits(ledger: &Mutex<Ledger>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let l = lock(ledger);
        if l.sent.keys().all(|h| l.committed.contains_key(h)) {
            break;
        }
        drop(l);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What every load worker shares: the chain, the timetable, the ledger and the bar.
#[derive(Clone)]
struct Offer {
    payload: Payload,
    sync: bool,
    interval: Duration,
    begin: Instant,
    accounts: usize,
    per_worker: u64,
    ledger: Arc<Mutex<Ledger>>,
    bar: ProgressBar,
}

impl Offer {
    /// Runs one worker thread per key (spread over `nodes`) and waits for them all.
    fn run_workers(&self, keys: Vec<Option<ed25519_dalek::SigningKey>>, nodes: &[String]) {
        let (done_tx, done_rx) = mpsc::channel();
        for (i, key) in keys.into_iter().enumerate() {
            let client = Client::new(&nodes[i % nodes.len()]);
            let (offer, done) = (self.clone(), done_tx.clone());
            std::thread::spawn(move || {
                offer.work(i, &client, &key);
                let _ = done.send(());
            });
        }
        drop(done_tx);
        for _ in done_rx.iter() {}
    }

    /// Worker `i`: sends its share of the payload (self-transfers from `key`), each at
    /// its due time.
    fn work(&self, i: usize, client: &Client, key: &Option<ed25519_dalek::SigningKey>) {
        let mut nonce = match key {
            Some(key) => client
                .account(&address_of(key))
                .map(|a| a.nonce)
                .unwrap_or(0),
            None => 0,
        };
        for k in 0..self.per_worker {
            let due = self.begin
                + self.interval * k as u32
                + self.interval.mul_f64(i as f64 / self.accounts as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let tx = match (&self.payload, key) {
                (Payload::Transfers { chain_id, fee }, Some(key)) => {
                    Client::sign_transfer(key, chain_id, nonce, *fee, address_of(key), 1)
                }
                (Payload::KeyValue { len, tag }, _) => {
                    let mut kv = format!("{tag:x}-{i}-{k}=").into_bytes();
                    kv.resize((*len).max(kv.len() + 1), b'v');
                    kv
                }
                (Payload::Transfers { .. }, None) => return,
            };
            if self.broadcast(client, &tx) {
                nonce += 1;
            }
            self.bar.inc(1);
        }
    }

    /// Broadcasts `tx` and records it in the ledger; true when the node took it.
    fn broadcast(&self, client: &Client, tx: &[u8]) -> bool {
        let sent_at = Instant::now();
        let accepted = if self.sync {
            client.rpc().broadcast_tx_sync(tx).map(|b| b.code == 0)
        } else {
            client.rpc().broadcast_tx_async(tx).map(|()| true)
        };
        match accepted {
            Ok(true) => {
                lock(&self.ledger)
                    .sent
                    .insert(SignedTx::hash_bytes(tx), sent_at);
                true
            }
            Ok(false) => {
                lock(&self.ledger).rejected += 1;
                false
            }
            Err(e) => {
                let mut l = lock(&self.ledger);
                l.rejected += 1;
                l.first_error.get_or_insert_with(|| e.to_string());
                false
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls for new blocks and stamps the commit time of every transaction in them.
fn collect(rpc: &Rpc, from: u64, ledger: &Mutex<Ledger>, stop: &Mutex<bool>) {
    let mut next = from + 1;
    while !*lock(stop) {
        let latest = rpc
            .status()
            .ok()
            .and_then(|s| {
                s.pointer("/sync_info/latest_block_height")?
                    .as_str()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        while next <= latest {
            let Ok(block) = rpc.call("block", serde_json::json!({"height": next.to_string()}))
            else {
                break;
            };
            let results = rpc
                .call(
                    "block_results",
                    serde_json::json!({"height": next.to_string()}),
                )
                .ok();
            let seen = Instant::now();
            let txs = block
                .pointer("/block/data/txs")
                .and_then(|t| t.as_array())
                .cloned()
                .unwrap_or_default();
            let mut l = lock(ledger);
            for (i, tx) in txs.iter().enumerate() {
                let Some(bytes) = tx
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                else {
                    continue;
                };
                let code = results
                    .as_ref()
                    .and_then(|r| r.pointer(&format!("/txs_results/{i}/code"))?.as_u64())
                    .unwrap_or(0) as u32;
                l.committed
                    .insert(SignedTx::hash_bytes(&bytes), (seen, code));
            }
            next += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the network at its home when dropped.
struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = taochain_localnet::process::stop(&self.0);
    }
}

/// What one load run committed, and how fast.
struct Measured {
    sent: usize,
    rejected: u64,
    committed: u64,
    failed: u64,
    lost: u64,
    tps: f64,
    p50: Duration,
    p99: Duration,
    first_error: Option<String>,
}

impl Measured {
    fn of(l: &Ledger, begin: Instant, offered_for: Duration) -> Self {
        let mut latencies: Vec<Duration> = vec![];
        let mut failed = 0u64;
        let mut last_commit = begin;
        for (hash, sent) in &l.sent {
            if let Some((at, code)) = l.committed.get(hash) {
                latencies.push(at.saturating_duration_since(*sent));
                last_commit = last_commit.max(*at);
                failed += u64::from(*code != 0);
            }
        }
        latencies.sort();
        let pct = |p: usize| {
            latencies
                .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let committed = latencies.len() as u64 - failed;
        let span = last_commit
            .saturating_duration_since(begin)
            .max(offered_for)
            .as_secs_f64();
        Measured {
            sent: l.sent.len(),
            rejected: l.rejected,
            committed,
            failed,
            lost: l.sent.len() as u64 - latencies.len() as u64,
            tps: committed as f64 / span,
            p50: pct(50),
            p99: pct(99),
            first_error: l.first_error.clone(),
        }
    }

    fn json(&self, shape: &Shape) -> serde_json::Value {
        serde_json::json!({
            "offered_rate": shape.rate, "duration_s": shape.duration, "sent": self.sent,
            "rejected_by_mempool": self.rejected, "committed": self.committed,
            "failed_in_block": self.failed, "lost": self.lost, "committed_tps": self.tps,
            "first_error": self.first_error, "p50_ms": self.p50.as_millis() as u64,
            "p99_ms": self.p99.as_millis() as u64,
        })
    }

    fn text(&self, shape: &Shape) -> String {
        format!(
            "summary: offered {} tx/s for {} s; committed {} of {} sent ({} refused by the mempool, {} failed in a block, {} not seen) = {:.0} tx/s; latency broadcast->commit p50 {} ms, p99 {} ms",
            shape.rate,
            shape.duration,
            self.committed,
            self.sent,
            self.rejected,
            self.failed,
            self.lost,
            self.tps,
            self.p50.as_millis(),
            self.p99.as_millis()
        ) + &self
            .first_error
            .as_ref()
            .map(|e| format!("\nfirst broadcast error: {e}"))
            .unwrap_or_default()
    }
}

/// The useful-work part of the gas schedule: `verify_matmul`'s per-hash and per-entry
/// prices against the CPU reference's time (ns per gas of each).
fn verify_schedule() -> anyhow::Result<Vec<(String, f64, &'static str)>> {
    use taochain_vm::limits::gas::{VERIFY_MATMUL_PER_ENTRY, VERIFY_MATMUL_PER_HASH};
    use taochain_work::{CpuVerifier, MatmulStatement, Matrix, Verifier, gemm, random_vectors};
    let n = 65_536;
    let t = Instant::now();
    let v = random_vectors(&[7; 32], n);
    let hashes = v.iter().map(Vec::len).sum::<usize>() as f64;
    let per_hash = t.elapsed().as_secs_f64() * 1e9 / hashes;
    let size = 512;
    let a = Matrix::pseudo_random(size, size, 1);
    let b = Matrix::pseudo_random(size, size, 2);
    let c = gemm(&a, &b)?;
    let s = MatmulStatement {
        a,
        b,
        c,
        seed: [3; 32],
    };
    let t = Instant::now();
    let verdict = CpuVerifier::default().verify(&s)?;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(verdict.is_ok(), "the benchmark statement must be valid");
    let entries = (3 * size * size * taochain_work::VECTORS) as f64;
    let hash_gas = (taochain_work::VECTORS * size) as f64 * VERIFY_MATMUL_PER_HASH as f64;
    let gas = entries * VERIFY_MATMUL_PER_ENTRY as f64 + hash_gas;
    Ok(vec![
        (
            "gas schedule: Freivalds vector hash".into(),
            per_hash / VERIFY_MATMUL_PER_HASH as f64,
            "ns/gas",
        ),
        (
            format!("gas schedule: verify_matmul {size}^3 (CPU reference)"),
            secs * 1e9 / gas,
            "ns/gas",
        ),
    ])
}

/// `tao bench vm`. The contract rows run the example contracts built by
/// `scripts/build-contracts.sh`; without them they are skipped (with a note).
fn vm(ctx: &Ctx, iterations: u32) -> anyhow::Result<()> {
    let dir = crate::economy::contracts_dir();
    let contracts = ["counter", "arena", "matmul_market"]
        .iter()
        .all(|c| dir.join(format!("{c}.wasm")).is_file())
        .then_some(dir.clone());
    if contracts.is_none() {
        eprintln!(
            "tao bench vm: no example contracts in {} (scripts/build-contracts.sh builds them): contract rows skipped",
            dir.display()
        );
    }
    // On a thread with the node's stack size (taod starts every thread with 16 MiB), so
    // calls run on it as they do in the node rather than on a fresh stack segment.
    let measured = std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(move || taochain_vm_sandbox::bench::run(iterations, contracts.as_deref()))?
        .join()
        .map_err(|_| anyhow::anyhow!("the VM benchmark thread panicked"))??;
    let mut rows: Vec<(String, f64, &'static str)> = measured
        .into_iter()
        .map(|r| (r.name.to_string(), r.value, r.unit))
        .collect();
    rows.extend(verify_schedule()?);
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(name, value, unit)| serde_json::json!({"name": name, "value": value, "unit": unit}))
        .collect();
    emit(ctx.output, &json, || {
        let mut lines: Vec<String> = rows
            .iter()
            .map(|(name, value, unit)| format!("{name:<55} {value:>12.3} {unit}"))
            .collect();
        lines.push(format!(
            "summary: {} VM figures measured on this machine",
            rows.len()
        ));
        lines.join("\n")
    })
}

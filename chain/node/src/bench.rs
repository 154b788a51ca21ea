//! `taod bench`: FinalizeBlock + Commit throughput on blocks of signed transfers, in-process
//! over RocksDB in a temporary directory, with the time split into FinalizeBlock (decoding,
//! signatures, execution, tree update) and Commit (the durable write); once on one thread, once on every core,
//! and on one thread and every core with the signatures already checked by CheckTx (what a
//! block costs beyond its signatures), beside the machine's ed25519 batch-verification rate.
//! A 1-thread run writes each commit before the next block (the store's `write_behind`
//! off: one thread does everything); an every-core run writes it behind, on a writer
//! thread, while the next block executes (the node's default), and its commit column is the
//! wait for that write (the last one included).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use indicatif::{ProgressBar, ProgressStyle};
use taochain_app::App;
use taochain_app::observe::{Observer, Phase, Started};
use taochain_primitives::{Address, Msg, SignedTx, TxBody, signature};
use taochain_storage::{Storage, StorageOptions};

/// Options of `taod bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Transactions per block.
    #[arg(long, default_value_t = 5000)]
    txs_per_block: usize,
    /// Blocks measured.
    #[arg(long, default_value_t = 5)]
    blocks: usize,
    /// Funded accounts (senders rotate through them; recipients are the next account).
    #[arg(long, default_value_t = 20000)]
    accounts: usize,
    /// Instead: a block of 1,000 SetWeights transactions and an epoch block.
    #[arg(long)]
    weights: bool,
    /// Instead: state sync's snapshot size, export and restore time for `--accounts`
    /// accounts.
    #[arg(long)]
    snapshot: bool,
}

fn key(i: usize) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    SigningKey::from_bytes(&seed)
}

/// Runs `taod bench` (or, with `--weights`, the SetWeights benchmark) and prints the figures.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.weights {
        return crate::bench_weights::run();
    }
    if args.snapshot {
        return crate::bench_snapshot::run(args.accounts);
    }
    let keys: Vec<SigningKey> = (0..args.accounts).map(key).collect();
    let addrs: Vec<Address> = keys
        .iter()
        .map(|k| Address::from_public_key(&k.verifying_key().to_bytes()))
        .collect();
    let total = args.txs_per_block * args.blocks;
    let bar = progress_bar(total);
    let blocks = sign_blocks(&args, &keys, &addrs, &bar);
    let (rule_rate, dalek_rate) = batch_verify_limits(&blocks)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runs = [
        ("1 thread".to_string(), 1, false),
        (format!("{cores} threads"), cores, false),
        (
            "1 thread, signatures checked in CheckTx".to_string(),
            1,
            true,
        ),
        (
            format!("{cores} threads, signatures checked in CheckTx"),
            cores,
            true,
        ),
    ];
    let mut rows = vec![];
    for (name, threads, checked) in runs {
        bar.set_message(name.clone());
        let timings = measure(&args, &addrs, &blocks, threads, checked, &bar)?;
        rows.push((name, timings));
    }
    bar.set_message("empty blocks");
    let empty = vec![vec![]; EMPTY_BLOCKS];
    let empty = measure(&args, &addrs, &empty, 1, false, &bar)?;
    bar.finish_and_clear();
    print_report(&args, total, cores, (rule_rate, dalek_rate), &rows);
    // Tenths of a block per second.
    let per_s = |blocks: usize, t: &Timings| {
        let tenths = blocks as u128 * 10_000_000_000 / (t.finalize + t.commit).as_nanos().max(1);
        format!("{}.{}", tenths / 10, tenths % 10)
    };
    if let Some((_, one)) = rows.first() {
        println!(
            "replay (what a catching-up node executes, 1 thread): {} blocks/s of {} transfers, {} blocks/s of empty blocks",
            per_s(args.blocks, one),
            args.txs_per_block,
            per_s(EMPTY_BLOCKS, &empty)
        );
    }
    Ok(())
}

/// Empty blocks in the replay measurement (a chain's idle stretches).
const EMPTY_BLOCKS: usize = 200;

/// One run on a fresh store: `threads` for the block's pure work; with `checked`, every
/// transaction goes through CheckTx first (untimed, as in a network where the mempool
/// admits transactions while the previous block is voted on).
fn measure(
    args: &BenchArgs,
    addrs: &[Address],
    blocks: &[Vec<Vec<u8>>],
    threads: usize,
    checked: bool,
    bar: &ProgressBar,
) -> anyhow::Result<Timings> {
    let dir = tempfile_dir()?;
    let options = StorageOptions {
        write_behind: threads > 1,
        ..StorageOptions::default()
    };
    let storage = Arc::new(Storage::open(&dir, options)?);
    let clock = Arc::new(PhaseClock::default());
    let app = App::new(storage.clone(), Arc::new(taochain_vm::Vm::new(None)?))
        .with_threads(threads)
        .with_observer(clock.clone());
    init_funded(&app, args, addrs)?;
    storage.flush()?;
    clock.reset();
    let timings = execute_blocks(&app, blocks, checked, bar).and_then(|t| {
        // The last block's write is part of the run.
        let t0 = Instant::now();
        storage.flush()?;
        Ok(Timings {
            commit: t.commit + t0.elapsed(),
            phases: clock.totals(),
            ..t
        })
    });
    drop(app);
    drop(storage);
    std::fs::remove_dir_all(&dir).ok();
    timings
}

/// The machine's ed25519 batch-verification rates on one core (signatures per second),
/// every block's signatures verified as one batch: under the chain's cofactored rule (key
/// and `R` decoded and checked, `k` hashed, the batch equation: what a block pays) and, for
/// reference, with ed25519-dalek's cofactorless `verify_batch` over keys decoded before the
/// clock starts (less work, and a rule that can disagree with the single check).
fn batch_verify_limits(blocks: &[Vec<Vec<u8>>]) -> anyhow::Result<(u128, u128)> {
    let (mut rule, mut dalek) = (Duration::ZERO, Duration::ZERO);
    let mut count = 0u128;
    for txs in blocks {
        let mut msgs = Vec::with_capacity(txs.len());
        let mut sigs = Vec::with_capacity(txs.len());
        let mut keys = Vec::with_capacity(txs.len());
        let mut tx_list = Vec::with_capacity(txs.len());
        for bytes in txs {
            let tx = SignedTx::decode(bytes, 1 << 20).context("bench tx decodes")?;
            msgs.push(tx.body.sign_digest());
            sigs.push(Signature::from_bytes(&tx.signature));
            keys.push(VerifyingKey::from_bytes(&tx.public_key).context("bench key")?);
            tx_list.push(tx);
        }
        let t = Instant::now();
        let prepared = tx_list
            .iter()
            .zip(&msgs)
            .map(|(tx, m)| signature::prepare(&tx.public_key, &tx.signature, m))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|c| anyhow::anyhow!("bench signature refused: {c:?}"))?;
        anyhow::ensure!(
            signature::verify_batch(&prepared),
            "bench signatures verify"
        );
        rule += t.elapsed();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
        let t = Instant::now();
        ed25519_dalek::verify_batch(&refs, &sigs, &keys).context("bench signatures verify")?;
        dalek += t.elapsed();
        count += txs.len() as u128;
    }
    let rate = |d: Duration| count * 1_000_000_000 / d.as_nanos().max(1);
    Ok((rate(rule), rate(dalek)))
}

/// Time spent in each phase over all measured blocks.
struct Timings {
    finalize: Duration,
    commit: Duration,
    /// FinalizeBlock's parts as the app reports them: the transactions (their checks
    /// overlap), the end of the block, the tree update.
    phases: [Duration; 3],
}

/// The bench's observer: the time the app spends in its phases (a clock in the bench,
/// none in the app).
#[derive(Default)]
struct PhaseClock {
    epoch: std::sync::OnceLock<Instant>,
    nanos: [std::sync::atomic::AtomicU64; 3],
}

impl PhaseClock {
    fn reset(&self) {
        for n in &self.nanos {
            n.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn totals(&self) -> [Duration; 3] {
        self.nanos
            .each_ref()
            .map(|n| Duration::from_nanos(n.load(std::sync::atomic::Ordering::Relaxed)))
    }
}

impl Observer for PhaseClock {
    fn start(&self) -> Started {
        let epoch = self.epoch.get_or_init(Instant::now);
        Started(u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn phase(&self, phase: Phase, started: Started) {
        let slot = match phase {
            Phase::Transactions => 0,
            Phase::EndBlock => 1,
            Phase::Tree => 2,
            _ => return,
        };
        let now = self.start().0;
        self.nanos[slot].fetch_add(
            now.saturating_sub(started.0),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// Initialises the chain with every address funded, then finalizes and commits block 1.
fn init_funded(app: &App, args: &BenchArgs, addrs: &[Address]) -> anyhow::Result<()> {
    // Half the cap spread over the accounts: plenty for 1-rao transfers and fees.
    let balance = (taochain_primitives::TOTAL_SUPPLY_CAP / 2 / args.accounts.max(1) as u64)
        .min(1_000_000_000_000);
    let accounts: Vec<_> = addrs
        .iter()
        .map(|a| serde_json::json!({"address": a.to_string(), "balance": balance.to_string()}))
        .collect();
    let genesis = serde_json::json!({
        "accounts": accounts,
        "total_issuance": (balance * args.accounts as u64).to_string(),
    });
    app.init_chain("bench", &serde_json::to_vec(&genesis)?)?;
    app.finalize_block::<Vec<u8>>(1, 0, [0; 32], &[])?;
    app.commit()?;
    Ok(())
}

/// A progress bar over `total` transactions.
fn progress_bar(total: usize) -> ProgressBar {
    ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} txs")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

/// Signs every block's transfers up front (senders rotate; each pays the next account).
fn sign_blocks(
    args: &BenchArgs,
    keys: &[SigningKey],
    addrs: &[Address],
    bar: &ProgressBar,
) -> Vec<Vec<Vec<u8>>> {
    bar.set_message("signing");
    let mut nonces = vec![0u64; args.accounts];
    let mut blocks = Vec::with_capacity(args.blocks);
    for b in 0..args.blocks {
        let mut txs = Vec::with_capacity(args.txs_per_block);
        for t in 0..args.txs_per_block {
            let from = (b * args.txs_per_block + t) % args.accounts;
            let to = addrs[(from + 1) % args.accounts];
            let body = TxBody {
                chain_id: "bench".into(),
                nonce: nonces[from],
                fee: taochain_primitives::Params::default().required_fee(50_000),
                gas_limit: 50_000,
                msgs: vec![Msg::Transfer { to, amount: 1 }],
            };
            nonces[from] += 1;
            txs.push(body.sign(&keys[from]).encode());
            bar.inc(1);
        }
        blocks.push(txs);
    }
    blocks
}

/// Finalizes and commits each block from height 2, timing each phase; every tx must pass.
fn execute_blocks(
    app: &App,
    blocks: &[Vec<Vec<u8>>],
    checked: bool,
    bar: &ProgressBar,
) -> anyhow::Result<Timings> {
    bar.set_position(0);
    let (mut finalize, mut commit) = (Duration::ZERO, Duration::ZERO);
    for (i, txs) in blocks.iter().enumerate() {
        if checked {
            for tx in txs {
                let out = app.check_tx(tx, false)?;
                anyhow::ensure!(out.code == 0, "CheckTx refused a bench tx: {}", out.log);
            }
        }
        let t = Instant::now();
        let out = app.finalize_block(i as u64 + 2, 0, [0; 32], txs)?;
        finalize += t.elapsed();
        let failed = out.tx_results.iter().filter(|r| r.code != 0).count();
        anyhow::ensure!(
            failed == 0,
            "{failed} transactions failed in the benchmark block"
        );
        let t = Instant::now();
        app.commit()?;
        commit += t.elapsed();
        bar.inc(txs.len() as u64);
    }
    Ok(Timings {
        finalize,
        commit,
        phases: Default::default(),
    })
}

/// Prints each run's per-transaction split and throughput, its ratio to the 1-thread run
/// and to the batch-verification limit, and a one-line summary.
fn print_report(
    args: &BenchArgs,
    total: usize,
    cores: usize,
    (rule_rate, dalek_rate): (u128, u128),
    rows: &[(String, Timings)],
) {
    // The limit is the faster of the two: the ratio is never flattered by a slow batch.
    let limit = rule_rate.max(dalek_rate);
    // Integer arithmetic in ns (the bench prints; nothing here feeds consensus).
    let per_tx = |d: Duration| {
        let ns = d.as_nanos() / total as u128;
        format!("{}.{:02}", ns / 1000, (ns % 1000) / 10)
    };
    let tps =
        |t: &Timings| total as u128 * 1_000_000_000 / (t.finalize + t.commit).as_nanos().max(1);
    let ratio = |a: u128, b: u128| {
        let milli = a * 1000 / b.max(1);
        format!("{}.{:02}", milli / 1000, (milli % 1000) / 10)
    };
    println!(
        "blocks: {}  txs/block: {}  accounts: {}  cores: {cores}",
        args.blocks, args.txs_per_block, args.accounts
    );
    println!(
        "limit: ed25519 batch verification on one core {limit} sig/s (the chain's cofactored rule {rule_rate}, ed25519-dalek's verify_batch {dalek_rate})"
    );
    println!(
        "  {:<46} {:>13} {:>11} {:>8} {:>9} {:>9}   finalize = txs + end + tree us/tx",
        "run", "finalize us/tx", "commit us/tx", "tx/s", "x 1 thr", "x limit"
    );
    let base = rows.first().map_or(1, |(_, t)| tps(t));
    for (name, t) in rows {
        let [txs, end, tree] = t.phases;
        println!(
            "  {:<46} {:>13} {:>11} {:>8} {:>9} {:>9}   {} + {} + {}",
            name,
            per_tx(t.finalize),
            per_tx(t.commit),
            tps(t),
            ratio(tps(t), base),
            ratio(tps(t), limit),
            per_tx(txs),
            per_tx(end),
            per_tx(tree)
        );
    }
    let summary: Vec<String> = rows
        .iter()
        .map(|(name, t)| format!("{name} {} tx/s", tps(t)))
        .collect();
    println!(
        "summary: FinalizeBlock+Commit {} (batch-verify limit {limit} sig/s on one core)",
        summary.join(", ")
    );
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("taod-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

//! `tao soak`: a long determinism soak. It starts its own 4-validator localnet whose
//! nodes audit their ledgers after every commit (`taod start --audit`), sets up contracts
//! and a matmul market, then runs a seeded random workload of every message kind
//! ([`workload`]) and a flood of transfer bursts for the given minutes while a watcher
//! reads every node's audit of every height ([`ledger`]): the app hashes must agree and
//! the invariants hold at every height on every node. Exits 1 on a fork, a broken
//! invariant, a missing audit, a stalled chain, or a message kind that never succeeded.

mod ledger;
mod workload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use taochain_client::keys::address_of;
use taochain_client::{Client, Gas};
use taochain_localnet::{LocalnetSpec, process};
use taochain_primitives::subnet::{EconomyParams, SubnetInfo};
use taochain_primitives::{Address, Msg, RAO_PER_TAO, TxBody};

use crate::Ctx;
use crate::output::{Output, emit, spinner, table};
use ledger::Ledger;
use workload::{Actor, Setup, Stats, World};

/// `tao soak` options.
#[derive(clap::Args)]
pub struct SoakArgs {
    /// Minutes of workload.
    #[arg(long, default_value_t = 5)]
    minutes: u64,
    /// Seed of the workload: the same seed makes the same choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Accounts sending the random workload (besides the transfer flood).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(2..=32))]
    actors: u64,
    /// Transfers per flood burst (0: no flood).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=500))]
    burst: u64,
    /// Where the soak's network lives (default: <tao home>/soak; a soak's network there
    /// is replaced).
    #[arg(long)]
    home: Option<PathBuf>,
    /// First port of the network's port block.
    #[arg(long, default_value_t = 27000)]
    base_port: u16,
    /// Leave the network running at the end (`tao localnet down --home ...` stops it).
    #[arg(long)]
    keep: bool,
}

/// Validators of the soak's network.
const NODES: usize = 4;
/// A chain that commits nothing for this long has stalled.
const STALL: Duration = Duration::from_secs(60);
/// A node that has stored a block but has no audit of it after this long failed to audit.
const MISSING_AUDIT: Duration = Duration::from_secs(30);

/// Runs `tao soak`.
pub fn run(ctx: &Ctx, args: SoakArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.minutes >= 1, "--minutes must be at least 1");
    let home = args.home.clone().unwrap_or_else(|| ctx.home.join("soak"));
    let spec = fresh_network(ctx, &home, &args)?;
    let network = Network {
        home: &home,
        keep: args.keep,
    };
    let report = soak(ctx, &spec, &args)?;
    drop(network);
    let failed = !report.failures.is_empty() || !report.never_ok.is_empty();
    emit(ctx.output, &report, || report.text(&home))?;
    anyhow::ensure!(
        !failed,
        "the soak failed: {}",
        report
            .failures
            .iter()
            .chain(report.never_ok.iter().map(|k| k as &String))
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    Ok(())
}

/// The soak's running network: stopped when dropped (on every way out, an error or a
/// panic included) unless `--keep`.
struct Network<'a> {
    home: &'a Path,
    keep: bool,
}

impl Drop for Network<'_> {
    fn drop(&mut self) {
        if !self.keep
            && let Err(e) = process::stop(self.home)
        {
            eprintln!(
                "stopping the soak's network in {}: {e}",
                self.home.display()
            );
        }
    }
}

/// Replaces a soak network at `home` (never another kind of localnet) by a new one and
/// starts it.
fn fresh_network(ctx: &Ctx, home: &Path, args: &SoakArgs) -> anyhow::Result<LocalnetSpec> {
    if home.join("localnet.json").is_file() {
        let old = LocalnetSpec::load(home)?;
        anyhow::ensure!(
            old.audit && old.chain_id.starts_with("soak-"),
            "{} holds a localnet that is not a soak's (chain {}): give the soak its own --home",
            home.display(),
            old.chain_id
        );
        process::stop(home)?;
        std::fs::remove_dir_all(home).with_context(|| format!("removing {}", home.display()))?;
    } else if home.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        anyhow::bail!(
            "{} is not empty and holds no network: give the soak its own --home",
            home.display()
        );
    }
    let mut spec = crate::localnet::create(
        ctx,
        home,
        &crate::localnet::Network {
            validators: NODES,
            base_port: args.base_port,
            chain_id: format!("soak-{}", args.seed),
            dev_accounts: 10,
            log_format: "plain",
            hosts: &[],
        },
    )?;
    spec.audit = true;
    spec.save(home)?;
    let bar = spinner(ctx.output, "starting 4 validators that audit every block");
    let started = process::start(home, &spec).and_then(|_| {
        process::wait_for_height(&spec, &[0, 1, 2, 3], 2, Duration::from_secs(120), |_| {})
    });
    bar.finish_and_clear();
    if let Err(e) = started {
        let _ = process::stop(home);
        return Err(anyhow::Error::new(e).context(format!(
            "starting the soak's network (logs in {})",
            home.display()
        )));
    }
    Ok(spec)
}

/// Funds the actors, stores the contracts, creates the market; returns the setup and the
/// first counter contract.
fn set_up(ctx: &Ctx, spec: &LocalnetSpec, args: &SoakArgs) -> anyhow::Result<(Setup, Address)> {
    let c = Client::new(&spec.ports(0).rpc_url()).with_gas(Gas::Auto);
    let ks = ctx.keystore()?;
    let dev0 = ks.signing_key("dev0", None)?;
    let dev1 = ks.signing_key("dev1", None)?;
    // The actors, and the flood account after them.
    let funding: Vec<Msg> = (0..args.actors as usize + 1)
        .map(|i| Msg::Transfer {
            to: address_of(&workload::actor_key(args.seed, i)),
            amount: 5_000 * RAO_PER_TAO,
        })
        .collect();
    c.send(&dev0, funding, None).context("funding the actors")?;
    let dir = crate::economy::contracts_dir();
    let code = |name: &str| -> anyhow::Result<u64> {
        let path = dir.join(name);
        let wasm = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (build the contracts: scripts/build-contracts.sh)",
                path.display()
            )
        })?;
        crate::economy::code_id_of(&c.send(&dev0, vec![Msg::StoreCode { wasm }], None)?.data)
    };
    let counter_code = code("counter.wasm")?;
    let market_code = code("matmul_market.wasm")?;
    let inst = c.send(
        &dev0,
        vec![Msg::Instantiate {
            code_id: counter_code,
            msg: 0u64.to_le_bytes().to_vec(),
            funds: 0,
            admin: None,
            label: "soak".into(),
        }],
        None,
    )?;
    let counter = Address(
        hex::decode(&inst.data)?
            .try_into()
            .map_err(|_| anyhow::anyhow!("Instantiate returned no address"))?,
    );
    let economy: EconomyParams = borsh::from_slice(&c.query_raw("/economy", 0)?)?;
    let mut hp = economy.default_hyperparams.clone();
    hp.tempo = 10;
    hp.immunity_period = 0;
    let created = c.send(
        &dev1,
        vec![Msg::RegisterSubnet {
            hotkey: address_of(&dev1),
            code_id: market_code,
            init_msg: vec![],
            hyperparams: Some(hp),
        }],
        None,
    )?;
    let netuid = u16::from_be_bytes(
        hex::decode(&created.data)?
            .get(..2)
            .and_then(|d| d.try_into().ok())
            .context("RegisterSubnet returned no netuid")?,
    );
    let info: SubnetInfo = borsh::from_slice(&c.query_raw(&format!("/subnet/{netuid}"), 0)?)?;
    Ok((
        Setup {
            chain_id: c.status()?.chain_id,
            counter_code,
            market: netuid,
            market_contract: info.contract,
            hyperparams: economy.default_hyperparams,
            min_deposit: economy.min_deposit,
        },
        counter,
    ))
}

/// What a soak did and found.
#[derive(Debug, serde::Serialize)]
struct Report {
    seed: u64,
    minutes: u64,
    height: u64,
    blocks: u64,
    committed_txs: u64,
    epochs: u64,
    kinds: Stats,
    audited: Vec<u64>,
    compared: u64,
    failures: Vec<String>,
    never_ok: Vec<String>,
}

impl Report {
    fn text(&self, home: &Path) -> String {
        let rows: Vec<Vec<String>> = self
            .kinds
            .iter()
            .map(|(k, s)| {
                vec![
                    k.to_string(),
                    s.ok.to_string(),
                    s.refused
                        .iter()
                        .map(|(c, n)| format!("{c} {n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    s.errors.to_string(),
                ]
            })
            .collect();
        let verdict = if self.failures.is_empty() && self.never_ok.is_empty() {
            "PASS".to_string()
        } else {
            format!(
                "FAIL: {}",
                self.failures
                    .iter()
                    .chain(self.never_ok.iter().map(|k| k as &String))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        format!(
            "{}\n\nsoak {verdict}: seed {}, {} min, {} blocks to height {}, {} transactions committed, {} epochs; app hashes of {} heights compared on all 4 nodes, audits per node {:?} (network in {})",
            table(&["KIND", "OK", "REFUSED", "ERRORS"], &rows),
            self.seed,
            self.minutes,
            self.blocks,
            self.height,
            self.committed_txs,
            self.epochs,
            self.compared,
            self.audited,
            home.display()
        )
    }
}

/// The shared state of a running soak.
struct Run<'a> {
    spec: &'a LocalnetSpec,
    args: &'a SoakArgs,
    setup: Setup,
    world: Mutex<World>,
    stats: Mutex<Stats>,
    ledger: Mutex<Ledger>,
    /// Blocks, transactions and epochs seen by the watcher.
    counts: Mutex<(u64, u64, u64)>,
    /// The actors and the flood stop.
    stop_load: AtomicBool,
    /// The watcher stops.
    stop_watch: AtomicBool,
}

fn soak(ctx: &Ctx, spec: &LocalnetSpec, args: &SoakArgs) -> anyhow::Result<Report> {
    let bar = spinner(
        ctx.output,
        "funding actors, storing contracts, creating the market",
    );
    let setup = set_up(ctx, spec, args);
    bar.finish_and_clear();
    let (setup, counter) = setup?;
    let run = Arc::new(Run {
        spec,
        args,
        world: Mutex::new(World::new(&setup, counter)),
        setup,
        stats: Mutex::default(),
        ledger: Mutex::new(Ledger::new(NODES)),
        counts: Mutex::default(),
        stop_load: AtomicBool::new(false),
        stop_watch: AtomicBool::new(false),
    });
    let economy: EconomyParams =
        borsh::from_slice(&Client::new(&spec.ports(0).rpc_url()).query_raw("/economy", 0)?)?;
    let total = Duration::from_secs(args.minutes * 60);
    let bar = if ctx.output == Output::Json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total.as_secs()).with_style(
            ProgressStyle::with_template("soak [{bar:30}] {elapsed_precise}/{len}s {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    };
    let start = Instant::now();
    std::thread::scope(|s| {
        let watcher = s.spawn(|| watch(&run));
        let mut load = vec![];
        for i in 0..args.actors as usize {
            let run = &run;
            load.push(s.spawn(move || {
                let node = run.spec.ports(i % NODES).rpc_url();
                let mut actor = Actor::new(run.args.seed, i, &node);
                let mut last_expiry = Instant::now();
                while !run.stop_load.load(Ordering::Relaxed) {
                    actor.step(
                        run.args.seed,
                        run.args.actors as usize,
                        &run.setup,
                        &run.world,
                        &run.stats,
                    );
                    if i == 0 && last_expiry.elapsed() > Duration::from_secs(1) {
                        let h = Client::new(&node).status().map(|s| s.height).unwrap_or(0);
                        workload::expire_proposals(&run.world, h, economy.voting_period);
                        last_expiry = Instant::now();
                    }
                }
            }));
        }
        if args.burst > 0 {
            load.push(s.spawn(|| flood(&run)));
        }
        while start.elapsed() < total && !run.stop_load.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(500));
            bar.set_position(start.elapsed().as_secs().min(total.as_secs()));
            let (blocks, txs, epochs) = *run.counts.lock().unwrap_or_else(|e| e.into_inner());
            let failures = run.ledger.lock().map(|l| l.failures.len()).unwrap_or(0);
            bar.set_message(format!(
                "{blocks} blocks, {txs} txs, {epochs} epochs, {failures} failures"
            ));
        }
        run.stop_load.store(true, Ordering::Relaxed);
        for h in load {
            let _ = h.join();
        }
        // Every node must have audited up to the highest height any node reached when the
        // load ended.
        let end = (0..NODES)
            .filter_map(|i| Client::new(&spec.ports(i).rpc_url()).status().ok())
            .map(|s| s.height)
            .max();
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(end) = end
            && Instant::now() < deadline
        {
            let l = run.ledger.lock().unwrap_or_else(|e| e.into_inner());
            if (0..NODES).all(|n| l.highest(n) >= end) || !l.failures.is_empty() {
                break;
            }
            drop(l);
            std::thread::sleep(Duration::from_millis(200));
        }
        run.stop_watch.store(true, Ordering::Relaxed);
        let watched = watcher.join();
        let mut l = run.ledger.lock().unwrap_or_else(|e| e.into_inner());
        if watched.is_err() {
            l.fail("the watcher thread panicked".into());
        }
        match end {
            None => l.fail("no node answered at the end of the load".into()),
            Some(end) => {
                for n in 0..NODES {
                    if l.highest(n) < end {
                        let at = l.highest(n);
                        l.fail(format!(
                            "node{n} was audited only up to height {at}; the chain reached {end}"
                        ));
                    }
                }
            }
        }
    });
    bar.finish_and_clear();
    let run = Arc::try_unwrap(run).map_err(|_| anyhow::anyhow!("soak threads still running"))?;
    let ledger = run.ledger.into_inner().unwrap_or_else(|e| e.into_inner());
    let kinds = run.stats.into_inner().unwrap_or_else(|e| e.into_inner());
    let (blocks, committed_txs, epochs) =
        run.counts.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut failures = ledger.failures.clone();
    if epochs == 0 {
        failures.push("no epoch ran".into());
    }
    let never_ok = workload::never_succeeded(&kinds);
    Ok(Report {
        seed: args.seed,
        minutes: args.minutes,
        height: (0..NODES).map(|n| ledger.highest(n)).min().unwrap_or(0),
        blocks,
        committed_txs,
        epochs,
        kinds,
        audited: (0..NODES).map(|n| ledger.audited(n)).collect(),
        compared: ledger.compared(),
        failures,
        never_ok,
    })
}

/// Reads every node's audit of every height, and node0's block results (transactions and
/// epochs), until told to stop; a node that has no new audit for [`STALL`] (stopped,
/// unreachable, or the chain stalled) fails the soak.
fn watch(run: &Run<'_>) {
    let clients: Vec<Client> = (0..NODES)
        .map(|i| Client::new(&run.spec.ports(i).rpc_url()))
        .collect();
    // Audits start at height 1 (every node audits from its first commit).
    let mut next = [1u64; NODES];
    // Since when each node's next audit has been missing (CometBFT reports a height once
    // the block is stored, a moment before the app's Commit has audited it).
    let mut missing: [Option<Instant>; NODES] = [None; NODES];
    let mut results_next = 1u64;
    let mut last_progress = [Instant::now(); NODES];
    while !run.stop_watch.load(Ordering::Relaxed) {
        for (i, c) in clients.iter().enumerate() {
            let Ok(top) = c.status().map(|s| s.height) else {
                continue;
            };
            while next[i] <= top {
                match c.audit(next[i]) {
                    Ok(a) => {
                        run.ledger
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .record(i, &a);
                        missing[i] = None;
                    }
                    Err(e) => {
                        let since = *missing[i].get_or_insert_with(Instant::now);
                        if since.elapsed() < MISSING_AUDIT {
                            break;
                        }
                        run.ledger
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .fail(format!("node{i} has no audit of height {}: {e}", next[i]));
                        missing[i] = None;
                    }
                }
                next[i] += 1;
                last_progress[i] = Instant::now();
            }
        }
        let lowest = next.iter().min().copied().unwrap_or(1);
        run.ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forget_below(lowest.saturating_sub(1));
        while results_next < next[0] {
            match block_counts(&clients[0], results_next) {
                Ok((txs, epochs)) => {
                    let mut c = run.counts.lock().unwrap_or_else(|e| e.into_inner());
                    c.0 += 1;
                    c.1 += txs;
                    c.2 += epochs;
                }
                Err(_) => break,
            }
            results_next += 1;
        }
        if let Some(i) = (0..NODES).find(|i| last_progress[*i].elapsed() > STALL) {
            run.ledger
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .fail(format!(
                    "node{i} has had no new block audited for {} s (last height {})",
                    STALL.as_secs(),
                    next[i] - 1
                ));
            run.stop_load.store(true, Ordering::Relaxed);
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Committed transactions and epochs (subnet and root) of one block.
fn block_counts(c: &Client, height: u64) -> anyhow::Result<(u64, u64)> {
    let r = c.rpc().call(
        "block_results",
        serde_json::json!({"height": height.to_string()}),
    )?;
    let txs = r["txs_results"].as_array().map_or(0, |t| {
        t.iter()
            .filter(|x| x["code"].as_u64().unwrap_or(0) == 0)
            .count()
    });
    let epochs = r["finalize_block_events"].as_array().map_or(0, |e| {
        e.iter()
            .filter(|ev| matches!(ev["type"].as_str(), Some("epoch" | "root_epoch")))
            .count()
    });
    Ok((txs as u64, epochs as u64))
}

/// Bursts of transfers from the flood account (the actor after the last), each burst
/// broadcast at once with consecutive nonces, then waited for.
fn flood(run: &Run<'_>) {
    let key = workload::actor_key(run.args.seed, run.args.actors as usize);
    let c = Client::new(&run.spec.ports(NODES - 1).rpc_url());
    let to: Vec<Address> = (0..run.args.actors as usize)
        .map(|i| address_of(&workload::actor_key(run.args.seed, i)))
        .collect();
    let Ok(params) = c.params() else {
        return;
    };
    let gas = 1_000_000;
    let mut round = 0u64;
    while !run.stop_load.load(Ordering::Relaxed) {
        let Ok(nonce) = c.account(&address_of(&key)).map(|a| a.nonce) else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        let mut last = None;
        for k in 0..run.args.burst {
            let tx = TxBody {
                chain_id: run.setup.chain_id.clone(),
                nonce: nonce + k,
                fee: params.required_fee(gas),
                gas_limit: gas,
                msgs: vec![Msg::Transfer {
                    to: to[((round + k) % to.len() as u64) as usize],
                    amount: 1_000 + k,
                }],
            }
            .sign(&key)
            .encode();
            match c.broadcast(&tx) {
                Ok(h) => last = Some(h),
                Err(e) => {
                    workload::tally(&run.stats, "transfer_burst", &Err(e));
                    break;
                }
            }
        }
        if let Some(h) = last {
            let r = c
                .wait_committed(&h, Duration::from_secs(60))
                .and_then(|done| {
                    if done.code == 0 {
                        Ok(done)
                    } else {
                        Err(taochain_client::ClientError::TxFailed {
                            stage: "deliver",
                            code: done.code,
                            name: done.code.to_string(),
                            log: done.log,
                        })
                    }
                });
            workload::tally(&run.stats, "transfer_burst", &r);
        }
        round += 1;
    }
}

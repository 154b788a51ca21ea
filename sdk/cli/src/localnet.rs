//! `tao localnet up|down|status`: a real N-validator CometBFT network of `taod` nodes on
//! this machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use taochain_client::Client;
use taochain_localnet::init::{InitOptions, init};
use taochain_localnet::{LocalnetSpec, NodePorts, cometbft, process};
use taochain_primitives::RAO_PER_TAO;

use crate::Ctx;
use crate::output::{Output, emit, spinner, table};

/// Localnet commands.
#[derive(Subcommand)]
pub enum LocalnetCmd {
    /// Create (first time) and start the localnet; waits until every node passes height 3.
    Up {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Localnet home (default <tao-home>/localnet).
        #[arg(long)]
        home: Option<PathBuf>,
        /// First port: node i uses base+10i (p2p), +1 (RPC), +2 (ABCI), +3 (taod metrics),
        /// +4 (CometBFT metrics).
        #[arg(long, default_value_t = 26656)]
        base_port: u16,
        /// Chain id.
        #[arg(long, default_value = "taochain-localnet")]
        chain_id: String,
        /// Funded dev accounts (keys dev0.. in the keystore, unencrypted).
        #[arg(long, default_value_t = 10)]
        dev_accounts: u32,
        /// Seconds to wait for height 3.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
        /// Only the chain: no demo subnets, neurons, gateway, user or explorer.
        #[arg(long)]
        bare: bool,
        /// Node logs (taod and CometBFT) as `plain` text or `json` lines; chosen when the
        /// localnet is created.
        #[arg(long, default_value = "plain", value_parser = ["plain", "json"])]
        log_format: String,
    },
    /// Add a full node that joins the running localnet by CometBFT state sync (restoring a
    /// snapshot the validators took, checked against a trusted header), then follows blocks.
    Join {
        /// Localnet home.
        #[arg(long)]
        home: Option<PathBuf>,
        /// Seconds to wait for the node to catch up.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
    },
    /// Stop exactly the processes `up` started.
    Down {
        /// Localnet home.
        #[arg(long)]
        home: Option<PathBuf>,
    },
    /// Per node: height, app hash, peers, RPC address; per demo process: role, pid, state.
    Status {
        /// Localnet home.
        #[arg(long)]
        home: Option<PathBuf>,
    },
    /// The demo's paying user (started by `up`).
    #[command(hide = true)]
    DemoUser {
        /// The user's key.
        #[arg(long)]
        from: String,
        /// The gateway's URL.
        #[arg(long)]
        gateway: String,
        /// Pause between questions.
        #[arg(long, default_value_t = 8000)]
        every_ms: u64,
    },
    /// The demo's matmul requester (started by `up`).
    #[command(hide = true)]
    DemoRequester {
        /// The requester's key.
        #[arg(long)]
        from: String,
        /// The market's netuid.
        #[arg(long)]
        netuid: u16,
        /// Pause between jobs.
        #[arg(long, default_value_t = 60_000)]
        every_ms: u64,
    },
}

fn taod_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("TAOCHAIN_TAOD") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let sibling = exe.with_file_name("taod");
    if sibling.is_file() {
        return Ok(sibling);
    }
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("taod"))
                .find(|p| p.is_file())
        })
        .context("cannot find `taod` next to `tao` or on PATH (set TAOCHAIN_TAOD)")
}

/// `tao testnet`.
#[derive(Subcommand)]
pub enum TestnetCmd {
    /// Write one home per validator for a network across hosts: genesis (with funded dev
    /// accounts whose keys go into your keystore), node and validator keys, peers by IP,
    /// ports, and per node a `start.sh` and a systemd unit; `README.txt` says how to deploy.
    Generate {
        /// Host IPs (or names), comma-separated; validator i runs on host i mod n.
        #[arg(long, value_delimiter = ',', required = true)]
        hosts: Vec<String>,
        /// Number of validators (default: one per host).
        #[arg(long)]
        validators: Option<usize>,
        /// Output directory (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Chain id.
        #[arg(long, default_value = "taochain-testnet")]
        chain_id: String,
        /// Funded dev accounts (keys dev0.. in the keystore, unencrypted; test tokens).
        #[arg(long, default_value_t = 10)]
        dev_accounts: u32,
        /// First port on each host: p2p, +1 RPC, +2 ABCI, +3 taod metrics, +4 CometBFT
        /// metrics (a second validator on a host takes the next 10).
        #[arg(long, default_value_t = 26656)]
        base_port: u16,
        /// Node logs as `plain` text or `json` lines.
        #[arg(long, default_value = "plain", value_parser = ["plain", "json"])]
        log_format: String,
    },
}

/// Runs a testnet subcommand.
pub fn run_testnet(ctx: &Ctx, cmd: TestnetCmd) -> anyhow::Result<()> {
    let TestnetCmd::Generate {
        hosts,
        validators,
        out,
        chain_id,
        dev_accounts,
        base_port,
        log_format,
    } = cmd;
    let hosts: Vec<String> = hosts.iter().map(|h| h.trim().to_string()).collect();
    anyhow::ensure!(
        hosts.iter().all(|h| !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))),
        "--hosts must be IPs or host names, comma-separated"
    );
    let validators = validators.unwrap_or(hosts.len());
    anyhow::ensure!(
        (1..=64).contains(&validators),
        "--validators must be 1..=64"
    );
    anyhow::ensure!(
        !out.exists(),
        "{} exists: pick a new --out directory",
        out.display()
    );
    let spec = create(
        ctx,
        &out,
        &Network {
            validators,
            base_port,
            chain_id,
            dev_accounts,
            log_format: &log_format,
            hosts: &hosts,
        },
    )?;
    taochain_localnet::testnet::write_launchers(&out, &spec)?;
    let ports = spec.all_ports();
    let json = serde_json::json!({"out": out, "chain_id": spec.chain_id, "nodes": ports});
    emit(ctx.output, &json, || {
        let rows: Vec<Vec<String>> = ports
            .iter()
            .map(|p| {
                vec![
                    format!("node{}", p.index),
                    p.host.clone(),
                    p.p2p.to_string(),
                    p.rpc_url(),
                ]
            })
            .collect();
        format!(
            "testnet `{}`: {} validators in {}

{}

on host i: copy node<i>/ there and run node<i>/start.sh (or its systemd unit); see {}",
            spec.chain_id,
            spec.validators,
            out.display(),
            table(&["NODE", "HOST", "P2P", "RPC"], &rows),
            out.join("README.txt").display()
        )
    })
}

/// Runs a localnet subcommand.
pub fn run(ctx: &Ctx, cmd: LocalnetCmd) -> anyhow::Result<()> {
    let default_home = ctx.home.join("localnet");
    match cmd {
        LocalnetCmd::Up {
            validators,
            home,
            base_port,
            chain_id,
            dev_accounts,
            timeout,
            bare,
            log_format,
        } => {
            let home = home.unwrap_or(default_home);
            anyhow::ensure!(
                (1..=32).contains(&validators),
                "--validators must be 1..=32"
            );
            let spec = load_or_init(
                ctx,
                &home,
                &Network {
                    validators,
                    base_port,
                    chain_id,
                    dev_accounts,
                    log_format: &log_format,
                    hosts: &[],
                },
            )?;
            up(ctx, &home, &spec, timeout)?;
            if bare {
                return Ok(());
            }
            let bar = spinner(
                ctx.output,
                "demo: subnets, validators, miners, a gateway, a user, the explorer",
            );
            let demo = crate::demo::start(ctx, &home, &spec);
            bar.finish_and_clear();
            let demo = demo.with_context(|| {
                format!("starting the demo (the chain runs; `tao localnet down` stops it; logs in {}/neurons/)", home.display())
            })?;
            emit(
                ctx.output,
                &serde_json::json!({"explorer": demo.explorer, "gateway": demo.gateway, "neurons": demo.neurons}),
                || demo_text(&demo),
            )
        }
        LocalnetCmd::Down { home } => down(ctx, &home.unwrap_or(default_home)),
        LocalnetCmd::Status { home } => status(ctx, &home.unwrap_or(default_home)),
        LocalnetCmd::Join { home, timeout } => join(ctx, &home.unwrap_or(default_home), timeout),
        LocalnetCmd::DemoUser {
            from,
            gateway,
            every_ms,
        } => crate::demo::user_loop(ctx, &from, &gateway, Duration::from_millis(every_ms)),
        LocalnetCmd::DemoRequester {
            from,
            netuid,
            every_ms,
        } => crate::demo::requester_loop(ctx, &from, netuid, Duration::from_millis(every_ms)),
    }
}

/// What a new localnet or testnet is made of.
pub(crate) struct Network<'a> {
    pub(crate) validators: usize,
    pub(crate) base_port: u16,
    pub(crate) chain_id: String,
    pub(crate) dev_accounts: u32,
    pub(crate) log_format: &'a str,
    pub(crate) hosts: &'a [String],
}

/// The localnet at `home`, created there first when it has none.
fn load_or_init(ctx: &Ctx, home: &Path, net: &Network<'_>) -> anyhow::Result<LocalnetSpec> {
    if let Ok(spec) = LocalnetSpec::load(home) {
        return Ok(spec);
    }
    create(ctx, home, net)
}

/// Creates a network in `home`: locates (or installs) cometbft and taod, then the homes,
/// keys and genesis.
pub(crate) fn create(ctx: &Ctx, home: &Path, net: &Network<'_>) -> anyhow::Result<LocalnetSpec> {
    let bar = spinner(
        ctx.output,
        "locating cometbft (installing with `go install` if missing)",
    );
    let cometbft = cometbft::locate_or_install();
    bar.finish_and_clear();
    let cometbft = cometbft?;
    let taod = taod_binary()?;
    let keystore = ctx.keystore()?;
    Ok(init(&InitOptions {
        home,
        validators: net.validators,
        base_port: net.base_port,
        chain_id: net.chain_id.clone(),
        taod: &taod,
        cometbft: &cometbft,
        keystore: &keystore,
        dev_accounts: net.dev_accounts,
        dev_balance: 100_000 * RAO_PER_TAO,
        log_format: net.log_format,
        hosts: net.hosts,
    })?)
}

/// `tao localnet up`: starts the nodes and waits until every one passes height 3.
fn up(ctx: &Ctx, home: &Path, spec: &LocalnetSpec, timeout: u64) -> anyhow::Result<()> {
    process::start(home, spec)?;
    let bar = if ctx.output == Output::Json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(3).with_style(
            ProgressStyle::with_template(
                "waiting for all nodes to pass height 3 [{bar:20}] {pos}/{len}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    };
    let nodes: Vec<usize> = (0..spec.validators).collect();
    process::wait_for_height(spec, &nodes, 3, Duration::from_secs(timeout), |h| {
        bar.set_position(h.min(3))
    })
    .with_context(|| format!("logs are in {}/node*/", home.display()))?;
    bar.finish_and_clear();
    let ports = spec.all_ports();
    let json = serde_json::json!({
        "home": home, "chain_id": spec.chain_id, "nodes": ports, "dev_accounts": spec.dev_accounts,
    });
    emit(ctx.output, &json, || up_text(home, spec, &ports))
}

/// The human summary of a localnet that is up.
fn up_text(home: &Path, spec: &LocalnetSpec, ports: &[NodePorts]) -> String {
    let rows: Vec<Vec<String>> = ports
        .iter()
        .map(|p| {
            vec![
                format!("node{}", p.index),
                p.rpc_url(),
                format!("127.0.0.1:{}", p.abci),
                p.metrics_url(),
                p.cometbft_metrics_url(),
            ]
        })
        .collect();
    format!(
        "localnet `{}` is up: {} validators, all past height 3 (home {})\n\n{}\n\ndev accounts (keys dev0..dev{} in your keystore): {}",
        spec.chain_id,
        spec.validators,
        home.display(),
        table(
            &["NODE", "RPC", "ABCI", "TAOD METRICS", "COMETBFT METRICS"],
            &rows
        ),
        spec.dev_accounts.len().saturating_sub(1),
        spec.dev_accounts
            .iter()
            .map(|(_, a)| a.as_str())
            .take(2)
            .collect::<Vec<_>>()
            .join(", ")
            + ", ..."
    )
}

/// What to do next, printed when the demo is up.
fn demo_text(d: &crate::demo::Demo) -> String {
    format!(
        "demo: {} processes started (tao localnet status lists them)\n\nexplorer: {}\n\nthree things to try:\n  1. watch a subnet pay its miners: open the explorer, subnets -> 1 (speech-to-text); the reference miner's incentive climbs over the noisy and the lazy one within a few epochs\n  2. ask the AI and pay for it: echo \"teh quick brwn fox\" > q.txt && tao ai ask --from dev0 --gateway {} --route auto --file q.txt\n  3. stake to a validator: tao stake add --from dev0 --hotkey dev1 --amount 10TAO, then tao metagraph 1",
        d.neurons, d.explorer, d.gateway
    )
}

/// `tao localnet join`: adds a full node, starts it, and waits until it has caught up
/// with node0 (by state sync: its first stored block is the snapshot's height + 1).
fn join(ctx: &Ctx, home: &Path, timeout: u64) -> anyhow::Result<()> {
    let spec = LocalnetSpec::load(home)?;
    let node0 = Client::new(&spec.ports(0).rpc_url());
    let start_height = node0
        .status()
        .context("node0 does not answer: start the localnet with `tao localnet up` first")?
        .height;
    let bar = spinner(ctx.output, "adding a full node");
    let (spec, i) = taochain_localnet::init::add_full_node(home, spec)?;
    let launched = process::start_node(home, &spec, i)?;
    process::record(home, &launched)?;
    bar.set_message(format!("node{i}: state sync, then following blocks"));
    let target = start_height + 2;
    process::wait_for_height(&spec, &[i], target, Duration::from_secs(timeout), |_| {})
        .with_context(|| {
            format!(
                "node{i} did not catch up; see {}",
                taochain_localnet::node_home(home, i).display()
            )
        })?;
    bar.finish_and_clear();
    let status = Client::new(&spec.ports(i).rpc_url()).rpc().status()?;
    let sync = &status["sync_info"];
    let number = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_default()
    };
    let earliest = number(&sync["earliest_block_height"]);
    let height = number(&sync["latest_block_height"]);
    let ports = spec.ports(i);
    let json = serde_json::json!({
        "node": i, "rpc": ports.rpc_url(), "earliest_block_height": earliest,
        "height": height, "app_hash": sync["latest_app_hash"],
    });
    emit(ctx.output, &json, || {
        format!(
            "node{i} joined by state sync: its first block is {earliest} (restored from the snapshot at {}), now at height {height}; RPC {}",
            earliest.saturating_sub(1),
            ports.rpc_url()
        )
    })
}

/// `tao localnet down`: stops the demo's processes, then the nodes `up` started.
fn down(ctx: &Ctx, home: &Path) -> anyhow::Result<()> {
    let neurons = crate::demo::stop(home);
    let n = process::stop(home)?;
    emit(
        ctx.output,
        &serde_json::json!({"stopped": n, "neurons_stopped": neurons}),
        || format!("stopped {n} node processes and {neurons} demo processes"),
    )
}

/// `tao localnet status`: one row per node.
fn status(ctx: &Ctx, home: &Path) -> anyhow::Result<()> {
    let spec = LocalnetSpec::load(home)?;
    let nodes = process::status(home, &spec);
    let neurons: Vec<serde_json::Value> = crate::demo::recorded(home)
        .iter()
        .map(|n| {
            serde_json::json!({"name": n.name, "role": n.role, "pid": n.pid,
            "state": if n.running() { "running" } else { "exited" }, "log": n.log})
        })
        .collect();
    let value = serde_json::json!({"nodes": nodes, "neurons": neurons});
    emit(ctx.output, &value, || {
        let rows: Vec<Vec<String>> = nodes
            .iter()
            .map(|n| {
                vec![
                    format!("node{}", n.node),
                    if n.running { "running" } else { "stopped" }.into(),
                    n.height.map_or("-".into(), |h| h.to_string()),
                    n.app_hash.clone().unwrap_or_else(|| "-".into()),
                    n.peers.map_or("-".into(), |p| p.to_string()),
                    n.rpc.clone(),
                ]
            })
            .collect();
        let nodes = table(
            &["NODE", "STATE", "HEIGHT", "APP HASH", "PEERS", "RPC"],
            &rows,
        );
        if neurons.is_empty() {
            return nodes;
        }
        let rows: Vec<Vec<String>> = neurons
            .iter()
            .map(|n| {
                ["name", "role", "pid", "state", "log"]
                    .iter()
                    .map(|k| match &n[*k] {
                        serde_json::Value::String(s) => s.clone(),
                        v => v.to_string(),
                    })
                    .collect()
            })
            .collect();
        format!(
            "{nodes}\n\n{}",
            table(&["PROCESS", "ROLE", "PID", "STATE", "LOG"], &rows)
        )
    })
}

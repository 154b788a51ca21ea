//! `tao localnet up|down|status`: a real N-validator CometBFT network of `taod` nodes on
//! this machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
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
        /// First port: node i uses base+10i (p2p), +1 (RPC), +2 (ABCI).
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
    },
    /// Stop exactly the processes `up` started.
    Down {
        /// Localnet home.
        #[arg(long)]
        home: Option<PathBuf>,
    },
    /// Per node: height, app hash, peers, RPC address.
    Status {
        /// Localnet home.
        #[arg(long)]
        home: Option<PathBuf>,
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
        } => {
            let home = home.unwrap_or(default_home);
            anyhow::ensure!(
                (1..=32).contains(&validators),
                "--validators must be 1..=32"
            );
            let spec = load_or_init(ctx, &home, validators, base_port, chain_id, dev_accounts)?;
            up(ctx, &home, &spec, timeout)
        }
        LocalnetCmd::Down { home } => down(ctx, &home.unwrap_or(default_home)),
        LocalnetCmd::Status { home } => status(ctx, &home.unwrap_or(default_home)),
    }
}

/// The localnet at `home`, created there first when it has none.
fn load_or_init(
    ctx: &Ctx,
    home: &Path,
    validators: usize,
    base_port: u16,
    chain_id: String,
    dev_accounts: u32,
) -> anyhow::Result<LocalnetSpec> {
    if let Ok(spec) = LocalnetSpec::load(home) {
        return Ok(spec);
    }
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
        validators,
        base_port,
        chain_id,
        taod: &taod,
        cometbft: &cometbft,
        keystore: &keystore,
        dev_accounts,
        dev_balance: 100_000 * RAO_PER_TAO,
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
            ]
        })
        .collect();
    format!(
        "localnet `{}` is up: {} validators, all past height 3 (home {})\n\n{}\n\ndev accounts (keys dev0..dev{} in your keystore): {}",
        spec.chain_id,
        spec.validators,
        home.display(),
        table(&["NODE", "RPC", "ABCI"], &rows),
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

/// `tao localnet down`: stops the processes `up` started.
fn down(ctx: &Ctx, home: &Path) -> anyhow::Result<()> {
    let n = process::stop(home)?;
    emit(ctx.output, &serde_json::json!({"stopped": n}), || {
        format!("stopped {n} processes")
    })
}

/// `tao localnet status`: one row per node.
fn status(ctx: &Ctx, home: &Path) -> anyhow::Result<()> {
    let spec = LocalnetSpec::load(home)?;
    let nodes = process::status(home, &spec);
    emit(ctx.output, &nodes, || {
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
        table(
            &["NODE", "STATE", "HEIGHT", "APP HASH", "PEERS", "RPC"],
            &rows,
        )
    })
}

//! `taod`: the taochain node. Opens RocksDB under `--home`, serves the ABCI socket that a
//! `cometbft` process connects to, logs to stderr (text or JSON lines), and with
//! `--metrics` serves Prometheus metrics. `taod bench` measures block execution in-process.

mod bench;
mod bench_snapshot;
mod bench_weights;
mod metrics;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use taochain_abci::snapshots::{SnapshotConfig, Snapshots};
use taochain_abci::{AbciApp, exit_on_error};
use taochain_app::App;
use taochain_storage::{Storage, StorageOptions};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "taod",
    version,
    about = "The taochain node (ABCI application for CometBFT v0.38)"
)]
struct Cli {
    /// Log lines as `text` (for people) or `json` (one object per line, for collectors).
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the ABCI socket for one CometBFT node.
    Start {
        /// Node home: state lives in `<home>/data/state.db`.
        #[arg(long)]
        home: PathBuf,
        /// ABCI listen address (what CometBFT's `proxy_app` points at).
        #[arg(long, default_value = "127.0.0.1:26658")]
        abci: String,
        /// Tree versions kept readable and provable; older ones are pruned.
        #[arg(long, default_value_t = 1000)]
        keep_versions: u64,
        /// Serve Prometheus metrics at `http://ADDR/metrics` (off when not given).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
        /// Threads that decode and verify a block's signatures (default: every core);
        /// results never depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Sum the ledger after every commit and serve it at the `/audit` query (every
        /// balance against the issuance, the emission pool against pots and carry; the
        /// last 10,000 heights). O(accounts) per block: for soaks and test networks.
        #[arg(long)]
        audit: bool,
        #[command(flatten)]
        snapshots: SnapshotArgs,
    },
    /// Benchmark FinalizeBlock + Commit on blocks of signed transfers, or (--weights) of
    /// SetWeights transactions and an epoch (in-process).
    Bench(bench::BenchArgs),
}

/// State-sync snapshot options of `taod start`.
#[derive(clap::Args)]
struct SnapshotArgs {
    /// Take a state-sync snapshot after every block whose height is a multiple of this
    /// (0: never; peers joining by state sync need some node to take them).
    #[arg(long, default_value_t = 0)]
    snapshot_interval: u64,
    /// Snapshots kept (the newest).
    #[arg(long, default_value_t = 2)]
    snapshot_keep: usize,
    /// Snapshot chunk size in bytes (at most 16 MiB, what a peer accepts).
    #[arg(long, default_value_t = 1 << 20,
          value_parser = clap::value_parser!(u64).range(1024..=16 << 20))]
    snapshot_chunk_bytes: u64,
}

/// Stack of every thread the node starts (ABCI connections included): enough for a
/// contract call's deepest query chain (`taochain_vm::VM_THREAD_STACK`) on the thread
/// itself, so calls never need a fresh stack segment. Virtual memory, committed lazily.
const THREAD_STACK: usize = 16 * 1024 * 1024;

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_MIN_STACK").is_none() {
        // SAFETY: the first statement of `main`, before any thread exists, so nothing can
        // read the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("RUST_MIN_STACK", THREAD_STACK.to_string());
        }
    }
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    match cli.command {
        Command::Start {
            home,
            abci,
            keep_versions,
            metrics,
            threads,
            audit,
            snapshots,
        } => start(
            home,
            &abci,
            keep_versions,
            metrics.as_deref(),
            threads,
            audit,
            &snapshots,
        ),
        Command::Bench(args) => bench::run(args),
    }
}

fn start(
    home: PathBuf,
    abci: &str,
    keep_versions: u64,
    metrics: Option<&str>,
    threads: Option<usize>,
    audit: bool,
    snapshots: &SnapshotArgs,
) -> anyhow::Result<()> {
    let db_path = home.join("data").join("state.db");
    std::fs::create_dir_all(&db_path).with_context(|| format!("creating {}", db_path.display()))?;
    let storage = Storage::open(
        &db_path,
        StorageOptions {
            keep_versions,
            ..Default::default()
        },
    )
    .with_context(|| format!("opening state at {}", db_path.display()))?;
    let vm = taochain_vm::Vm::new(Some(home.join("data").join("wasm-cache")))
        .context("starting the contract VM")?;
    let mut app = App::new(Arc::new(storage), Arc::new(vm));
    if let Some(threads) = threads {
        app = app.with_threads(threads);
    }
    if audit {
        tracing::info!("auditing the ledger after every commit (/audit)");
        app = app.with_audit();
    }
    if let Some(addr) = metrics {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("binding the metrics address {addr}"))?;
        tracing::info!(addr = %listener.local_addr()?, "metrics at /metrics");
        let registry = Arc::new(metrics::Metrics::default());
        app = app.with_observer(registry.clone());
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || metrics::serve(listener, registry))
            .context("starting the metrics thread")?;
    }
    // Useful work is checked on a hardware GPU when there is one (TAOCHAIN_GPU=auto, the
    // default; `required` also accepts a software adapter, `off` never uses one); the
    // verdicts are the CPU reference's bit for bit either way.
    let mode = taochain_wgpu::GpuMode::from_env()?;
    match taochain_wgpu::GpuVerifier::open(mode)? {
        Some(gpu) if !gpu.is_software() || mode == taochain_wgpu::GpuMode::Required => {
            tracing::info!(adapter = %gpu.adapter(), "useful-work checks on the GPU");
            app = app.with_verifier(Arc::new(gpu));
        }
        _ => tracing::info!("useful-work checks on the CPU reference"),
    }
    let app = Arc::new(app);
    let (height, hash) = app.info()?;
    tracing::info!(height, app_hash = %hex_upper(&hash), db = %db_path.display(), "state opened");
    let abci_addr = abci.trim_start_matches("tcp://");
    let snapshots = Snapshots::new(SnapshotConfig {
        dir: home.join("data").join("snapshots"),
        interval: snapshots.snapshot_interval,
        keep: snapshots.snapshot_keep,
        chunk_bytes: usize::try_from(snapshots.snapshot_chunk_bytes).unwrap_or(1 << 20),
    });
    let mut abci_app = AbciApp::new(app, exit_on_error).with_snapshots(snapshots);
    // Crash-recovery tests only: abort at PHASE:HEIGHT (finalize, before_commit,
    // after_commit), as a power loss would.
    if let Some(point) = std::env::var_os("TAOD_CRASH_AT") {
        let point: taochain_abci::CrashPoint = point
            .to_string_lossy()
            .parse()
            .map_err(|e: String| anyhow::anyhow!("TAOD_CRASH_AT: {e}"))?;
        tracing::warn!(?point, "TAOD_CRASH_AT set: this node will abort there");
        abci_app = abci_app.with_crash_point(point);
    }
    let server = tendermint_abci::ServerBuilder::new(1 << 20)
        .bind(abci_addr, abci_app)
        .with_context(|| format!("binding ABCI socket {abci_addr}"))?;
    tracing::info!(addr = %server.local_addr(), "ABCI server listening");
    server.listen().context("ABCI server stopped")?;
    Ok(())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

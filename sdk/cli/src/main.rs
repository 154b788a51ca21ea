//! `tao`: the taochain command-line interface. Keys, transfers, queries (with proof
//! checking), the emission schedule, contracts, the economy (subnets, neurons, stake,
//! weights, metagraph, root, governance, the offline Yuma calculator), the AI arena (miners
//! serving models, validators scoring them, reference models), useful work, a local
//! multi-validator network, and benchmarks.
//! Every command takes `--output json` for scripts.

mod ai;
mod arena;
mod bench;
mod chain;
mod contract;
mod demo;
mod economy;
mod explorer;
mod gateway;
mod job;
mod keys;
mod localnet;
mod output;
mod soak;
mod trust;
mod work;
mod yuma;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use output::Output;

#[derive(Parser)]
#[command(
    name = "tao",
    version,
    about = "taochain CLI: keys, transfers, queries, localnet"
)]
struct Cli {
    /// CometBFT RPC of the node to talk to (default: the localnet's first node).
    #[arg(
        long,
        global = true,
        env = "TAO_NODE",
        default_value = "http://127.0.0.1:26657"
    )]
    node: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Gas limit of signed transactions: `auto` simulates each one on the node and signs for
    /// what it used plus a margin; a number signs for exactly that. The fee is the least
    /// the gas limit needs at the chain's minimum gas price unless a command's `--fee` says
    /// otherwise.
    #[arg(long, global = true, env = "TAO_GAS", default_value = "auto")]
    gas: taochain_client::Gas,
    /// taochain home (keys in <home>/keys, the localnet in <home>/localnet).
    #[arg(long = "tao-home", global = true, env = "TAOCHAIN_HOME")]
    tao_home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage keys in the local keystore.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Sign and send transactions.
    #[command(subcommand)]
    Tx(chain::TxCmd),
    /// Read chain state (optionally proved against the app hash).
    #[command(subcommand)]
    Query(chain::QueryCmd),
    /// The node's status.
    Status,
    /// The block reward for a total issuance (offline, the chain's own schedule).
    Emission {
        /// Total issuance in rao.
        #[arg(long)]
        issuance: u64,
    },
    /// Contracts: build, check, store, instantiate, execute, query, migrate, state.
    #[command(subcommand)]
    Contract(contract::ContractCmd),
    /// Run contract code offline in the real VM.
    #[command(subcommand)]
    Vm(contract::VmCmd),
    /// Verify useful work (C = A * B) from .npy files.
    #[command(subcommand)]
    Verify(work::VerifyCmd),
    /// Compute C = A * B (int8 in, int32 out) to a .npy file.
    Gemm {
        /// A (m x k, int8 .npy).
        #[arg(long)]
        a: PathBuf,
        /// B (k x n, int8 .npy).
        #[arg(long)]
        b: PathBuf,
        /// Output C (int32 .npy).
        #[arg(long)]
        out: PathBuf,
        /// Backend.
        #[arg(long, value_enum, default_value_t = work::Backend::Auto)]
        backend: work::Backend,
    },
    /// Generate a multi-machine testnet (homes, genesis, start scripts, systemd units).
    #[command(subcommand)]
    Testnet(localnet::TestnetCmd),
    /// Run a local multi-validator network.
    #[command(subcommand)]
    Localnet(localnet::LocalnetCmd),
    /// Benchmarks against a running chain.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// A long determinism soak: its own 4 validators, a seeded random workload of every
    /// message kind, app hashes compared and the ledger audited at every height.
    Soak(soak::SoakArgs),
    /// Subnets: create, list, show, hyperparams, set-hyperparam, dissolve, lock-cost.
    #[command(subcommand)]
    Subnet(economy::SubnetCmd),
    /// Neurons: register on a subnet, associate a hotkey.
    #[command(subcommand)]
    Neuron(economy::NeuronCmd),
    /// Stake: add, remove, move, show, set-take.
    #[command(subcommand)]
    Stake(economy::StakeCmd),
    /// Weights: set, commit, reveal.
    #[command(subcommand)]
    Weights(economy::WeightsCmd),
    /// A subnet's metagraph (netuid 0: root).
    Metagraph {
        /// Netuid.
        netuid: u16,
    },
    /// The root network: register, weights over subnets, show.
    #[command(subcommand)]
    Root(economy::RootCmd),
    /// Governance: propose, vote, list, show.
    #[command(subcommand)]
    Gov(economy::GovCmd),
    /// Matrix-multiplication jobs paid in TAO: post, show, list.
    #[command(subcommand)]
    Job(job::JobCmd),
    /// Mine: serve a model on an AI subnet's axon, or compute matmul jobs and submit them.
    #[command(subcommand)]
    Miner(job::MinerCmd),
    /// Validate an AI subnet: challenge miners, score them, set weights.
    #[command(subcommand)]
    Validator(arena::ValidatorCmd),
    /// Pay for AI: payment channels to a subnet's gateway, vouchers, redemption.
    #[command(subcommand)]
    Ai(ai::AiCmd),
    /// Run a gateway: paid answers from a subnet's best miners, and the experts' router.
    #[command(subcommand)]
    Gateway(gateway::GatewayCmd),
    /// The explorer: a web page of the living chain (blocks, TAO, subnets, metagraphs,
    /// jobs, channels, proposals, search) for the node at --node.
    Explorer {
        /// Address to serve the page on.
        #[arg(long, default_value = "127.0.0.1:8800")]
        listen: std::net::SocketAddr,
        /// Another node whose app hash to compare (repeat; default: the localnet's nodes).
        #[arg(long)]
        peer: Vec<String>,
    },
    /// Run a task's reference model offline.
    #[command(subcommand)]
    Model(arena::ModelCmd),
    /// Run the chain's epoch code (Yuma + payout) on a JSON case, offline.
    Yuma {
        /// The case file.
        #[arg(long)]
        input: PathBuf,
    },
}

/// Paths and settings every command shares.
pub struct Ctx {
    node: String,
    output: Output,
    home: PathBuf,
    gas: taochain_client::Gas,
}

impl Ctx {
    fn keystore(&self) -> anyhow::Result<taochain_client::Keystore> {
        Ok(taochain_client::Keystore::open(self.home.join("keys"))?)
    }

    fn client(&self) -> taochain_client::Client {
        taochain_client::Client::new(&self.node).with_gas(self.gas)
    }
}

fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".taochain")
}

fn main() {
    let cli = Cli::parse();
    let ctx = Ctx {
        node: cli.node,
        output: cli.output,
        home: cli.tao_home.unwrap_or_else(default_home),
        gas: cli.gas,
    };
    let result = match cli.command {
        Command::Keys(cmd) => keys::run(&ctx, cmd),
        Command::Tx(cmd) => chain::run_tx(&ctx, cmd),
        Command::Query(cmd) => chain::run_query(&ctx, cmd),
        Command::Status => chain::status(&ctx),
        Command::Emission { issuance } => chain::emission(&ctx, issuance),
        Command::Localnet(cmd) => localnet::run(&ctx, cmd),
        Command::Testnet(cmd) => localnet::run_testnet(&ctx, cmd),
        Command::Verify(cmd) => work::run_verify(&ctx, cmd),
        Command::Gemm { a, b, out, backend } => work::run_gemm(&ctx, &a, &b, &out, backend),
        Command::Contract(cmd) => contract::run(&ctx, cmd),
        Command::Vm(cmd) => contract::run_vm(&ctx, cmd),
        Command::Bench(cmd) => bench::run(&ctx, cmd),
        Command::Soak(args) => soak::run(&ctx, args),
        Command::Subnet(cmd) => economy::run_subnet(&ctx, cmd),
        Command::Neuron(cmd) => economy::run_neuron(&ctx, cmd),
        Command::Stake(cmd) => economy::run_stake(&ctx, cmd),
        Command::Weights(cmd) => economy::run_weights(&ctx, cmd),
        Command::Metagraph { netuid } => economy::run_metagraph(&ctx, netuid),
        Command::Root(cmd) => economy::run_root(&ctx, cmd),
        Command::Gov(cmd) => economy::run_gov(&ctx, cmd),
        Command::Yuma { input } => yuma::run(&input),
        Command::Job(cmd) => job::run_job(&ctx, cmd),
        Command::Miner(cmd) => job::run_miner(&ctx, cmd),
        Command::Validator(cmd) => arena::run_validator(&ctx, cmd),
        Command::Model(cmd) => arena::run_model(&ctx, cmd),
        Command::Ai(cmd) => ai::run(&ctx, cmd),
        Command::Gateway(cmd) => gateway::run(&ctx, cmd),
        Command::Explorer { listen, peer } => explorer::run(&ctx, listen, peer),
    };
    if let Err(e) = result {
        match ctx.output {
            Output::Json => println!("{}", serde_json::json!({"error": format!("{e:#}")})),
            Output::Text => eprintln!("error: {e:#}"),
        }
        std::process::exit(1);
    }
}

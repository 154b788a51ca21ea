//! The library behind `tao localnet up|down|status`: finds (or installs) the pinned
//! `cometbft`, creates N validator homes on one machine with one port block per node,
//! writes the genesis `app_state` with funded dev accounts whose keys go into the local
//! keystore, and starts/stops exactly the `taod` + `cometbft` processes it launched.
//!
//! Layout under the localnet home:
//! ```text
//! localnet.json          chain id, ports, binaries (written by `init`)
//! pids.json              the processes `start` launched
//! devnet.toml            the CometBFT settings template used for every node
//! node{i}/config, data   the CometBFT home of node i (validators first, then full nodes)
//! node{i}/taod/data      taod's RocksDB, and `snapshots/` for state sync
//! node{i}/{cometbft,taod}.log
//! ```
//! Ports of node i: p2p `base + 10i`, RPC `base + 10i + 1`, ABCI `base + 10i + 2`, taod's
//! Prometheus metrics `base + 10i + 3`, CometBFT's `base + 10i + 4` (both at `/metrics`);
//! a full node `j` (after the validators) uses the block of node `j + 5`. Every taod takes
//! a state-sync snapshot every [`SNAPSHOT_INTERVAL`] blocks; `tao localnet join` adds a
//! full node that starts from one ([`init::add_full_node`]).

pub mod cometbft;
pub mod error;
pub mod init;
pub mod process;
pub mod testnet;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::LocalnetError;

/// The CometBFT release the chain is tested against (v0.38.0-4 and v0.38.14 are retracted).
pub const COMETBFT_VERSION: &str = "0.38.25";
/// Blocks between the state-sync snapshots every localnet node takes.
pub const SNAPSHOT_INTERVAL: u64 = 20;
/// Snapshot chunk size on the localnet (small, so even a young chain has several).
pub const SNAPSHOT_CHUNK_BYTES: usize = 4 * 1024;

/// The settings template for every node.
pub const DEVNET_TEMPLATE: &str = include_str!("../templates/devnet.toml");

/// What `init` records about a localnet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalnetSpec {
    /// Chain id.
    pub chain_id: String,
    /// Number of validators.
    pub validators: usize,
    /// First port of the port block.
    pub base_port: u16,
    /// The `taod` binary.
    pub taod: PathBuf,
    /// The `cometbft` binary.
    pub cometbft: PathBuf,
    /// Funded dev accounts: (key name, address).
    pub dev_accounts: Vec<(String, String)>,
    /// Log format of taod and CometBFT: `plain` text or `json` lines.
    #[serde(default = "plain")]
    pub log_format: String,
    /// Full nodes added by `tao localnet join` (nodes `validators..validators+full_nodes`).
    #[serde(default)]
    pub full_nodes: usize,
    /// Hosts of a multi-machine testnet (`tao testnet generate`): node `i` runs on
    /// `hosts[i % hosts.len()]`, listening on every interface. Empty: all on 127.0.0.1.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Every taod audits its ledger after each commit (`taod start --audit`; `tao soak`).
    #[serde(default)]
    pub audit: bool,
}

fn plain() -> String {
    "plain".into()
}

/// The addresses of one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodePorts {
    /// Index.
    pub index: usize,
    /// The host it runs on.
    pub host: String,
    /// P2P port.
    pub p2p: u16,
    /// RPC port.
    pub rpc: u16,
    /// ABCI port.
    pub abci: u16,
    /// taod's Prometheus metrics port.
    pub metrics: u16,
    /// CometBFT's Prometheus metrics port.
    pub cometbft_metrics: u16,
}

impl NodePorts {
    /// The RPC URL.
    pub fn rpc_url(&self) -> String {
        format!("http://{}:{}", self.host, self.rpc)
    }

    /// taod's metrics URL.
    pub fn metrics_url(&self) -> String {
        format!("http://{}:{}/metrics", self.host, self.metrics)
    }

    /// CometBFT's metrics URL.
    pub fn cometbft_metrics_url(&self) -> String {
        format!("http://{}:{}/metrics", self.host, self.cometbft_metrics)
    }
}

impl LocalnetSpec {
    /// Ports of node `i`. Full nodes (`i >= validators`) skip 5 blocks of 10 after the
    /// validators', which the demo's processes use.
    /// On a multi-host testnet, the nodes sharing a host take consecutive blocks.
    pub fn ports(&self, i: usize) -> NodePorts {
        let block = if !self.hosts.is_empty() {
            i / self.hosts.len()
        } else if i < self.validators {
            i
        } else {
            i + 5
        };
        let base = self.base_port as usize + 10 * block;
        NodePorts {
            index: i,
            host: self.host(i).to_string(),
            p2p: base as u16,
            rpc: (base + 1) as u16,
            abci: (base + 2) as u16,
            metrics: (base + 3) as u16,
            cometbft_metrics: (base + 4) as u16,
        }
    }

    /// Every node's ports (validators, then full nodes).
    pub fn all_ports(&self) -> Vec<NodePorts> {
        (0..self.nodes()).map(|i| self.ports(i)).collect()
    }

    /// The host node `i` runs on.
    pub fn host(&self, i: usize) -> &str {
        match self.hosts.len() {
            0 => "127.0.0.1",
            n => &self.hosts[i % n],
        }
    }

    /// Validators plus full nodes.
    pub fn nodes(&self) -> usize {
        self.validators + self.full_nodes
    }

    /// Loads `localnet.json` from `home`.
    pub fn load(home: &Path) -> Result<Self, LocalnetError> {
        let path = home.join("localnet.json");
        let bytes = std::fs::read(&path).map_err(|_| LocalnetError::NotInitialised(home.into()))?;
        serde_json::from_slice(&bytes).map_err(|e| LocalnetError::Corrupt(path, e.to_string()))
    }

    /// Writes `localnet.json` into `home`.
    pub fn save(&self, home: &Path) -> Result<(), LocalnetError> {
        let path = home.join("localnet.json");
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| LocalnetError::Corrupt(path.clone(), e.to_string()))?;
        std::fs::write(&path, json).map_err(|e| LocalnetError::io(&path, e))
    }
}

/// The home directory of node `i`.
pub fn node_home(home: &Path, i: usize) -> PathBuf {
    home.join(format!("node{i}"))
}

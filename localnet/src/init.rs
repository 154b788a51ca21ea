//! Creating a localnet: validator homes from `cometbft testnet`, per-node ports and peers,
//! and the genesis `app_state` with funded dev accounts.

use std::path::Path;
use std::process::Command;

use taochain_client::Keystore;
use taochain_client::keys::dev_mnemonic;
use toml_edit::{DocumentMut, value};

use crate::{DEVNET_TEMPLATE, LocalnetError, LocalnetSpec, node_home};

/// What `init` creates.
pub struct InitOptions<'a> {
    /// Localnet home (created).
    pub home: &'a Path,
    /// Number of validators.
    pub validators: usize,
    /// First port.
    pub base_port: u16,
    /// Chain id.
    pub chain_id: String,
    /// `taod` binary.
    pub taod: &'a Path,
    /// `cometbft` binary.
    pub cometbft: &'a Path,
    /// Keystore receiving the dev keys `dev0..`.
    pub keystore: &'a Keystore,
    /// Number of funded dev accounts.
    pub dev_accounts: u32,
    /// Balance of each dev account, rao.
    pub dev_balance: u64,
    /// `plain` or `json` logs (taod and CometBFT).
    pub log_format: &'a str,
    /// Hosts of a multi-machine testnet (empty: a localnet on 127.0.0.1).
    pub hosts: &'a [String],
}

fn run(cmd: &mut Command) -> Result<String, LocalnetError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| LocalnetError::Command {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(LocalnetError::Command {
            command: shown,
            detail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Creates the localnet in `opts.home` (which must not hold one already).
pub fn init(opts: &InitOptions<'_>) -> Result<LocalnetSpec, LocalnetError> {
    let home = opts.home;
    // Every port the nodes (and full nodes, and the demo's processes) may take must fit.
    let top = usize::from(opts.base_port) + 10 * (opts.validators + 16);
    if top > usize::from(u16::MAX) {
        return Err(LocalnetError::Config(
            home.into(),
            format!(
                "base port {} leaves no room for {} nodes' ports (up to {top})",
                opts.base_port, opts.validators
            ),
        ));
    }
    std::fs::create_dir_all(home).map_err(|e| LocalnetError::io(home, e))?;
    let template = home.join("devnet.toml");
    std::fs::write(&template, DEVNET_TEMPLATE).map_err(|e| LocalnetError::io(&template, e))?;
    run(Command::new(opts.cometbft)
        .arg("testnet")
        .arg("--v")
        .arg(opts.validators.to_string())
        .arg("--o")
        .arg(home)
        .arg("--config")
        .arg(&template)
        .arg("--populate-persistent-peers=false"))?;

    let mut dev_accounts = vec![];
    for i in 0..opts.dev_accounts {
        let name = format!("dev{i}");
        let phrase = dev_mnemonic(i);
        let info = opts
            .keystore
            .import(&name, &phrase, None, true)
            .map_err(|e| LocalnetError::Command {
                command: format!("import {name}"),
                detail: e.to_string(),
            })?;
        dev_accounts.push((name, info.address));
    }
    let spec = LocalnetSpec {
        chain_id: opts.chain_id.clone(),
        validators: opts.validators,
        base_port: opts.base_port,
        taod: opts.taod.to_path_buf(),
        cometbft: opts.cometbft.to_path_buf(),
        dev_accounts,
        log_format: opts.log_format.to_string(),
        full_nodes: 0,
        hosts: opts.hosts.to_vec(),
        audit: false,
    };
    let ids = node_ids(home, &spec)?;
    for i in 0..opts.validators {
        configure_node(home, &spec, i, &ids)?;
    }
    write_genesis(home, &spec, opts.dev_balance)?;
    spec.save(home)?;
    Ok(spec)
}

/// The CometBFT node ids of the validators.
fn node_ids(home: &Path, spec: &LocalnetSpec) -> Result<Vec<String>, LocalnetError> {
    (0..spec.validators)
        .map(|i| {
            run(Command::new(&spec.cometbft)
                .arg("show-node-id")
                .arg("--home")
                .arg(node_home(home, i)))
        })
        .collect()
}

fn read_config(path: &Path) -> Result<DocumentMut, LocalnetError> {
    let text = std::fs::read_to_string(path).map_err(|e| LocalnetError::io(path, e))?;
    text.parse()
        .map_err(|e: toml_edit::TomlError| LocalnetError::Config(path.into(), e.to_string()))
}

/// Adds a full node that joins the running localnet by CometBFT state sync: a fresh
/// CometBFT home with node0's genesis and settings, peers to every validator, and state
/// sync trusting the latest header node0 serves (its height and hash), verified by the
/// light client against node0's and node1's RPC. Returns the updated spec and the node's
/// index; start it with [`crate::process::start_node`].
pub fn add_full_node(
    home: &Path,
    mut spec: LocalnetSpec,
) -> Result<(LocalnetSpec, usize), LocalnetError> {
    let i = spec.nodes();
    let nh = node_home(home, i);
    if nh.exists() {
        std::fs::remove_dir_all(&nh).map_err(|e| LocalnetError::io(&nh, e))?;
    }
    run(Command::new(&spec.cometbft)
        .arg("init")
        .arg("--home")
        .arg(&nh))?;
    let config = nh.join("config");
    let node0 = node_home(home, 0).join("config");
    for file in ["genesis.json", "config.toml"] {
        std::fs::copy(node0.join(file), config.join(file))
            .map_err(|e| LocalnetError::io(&config.join(file), e))?;
    }
    let client = taochain_client::Client::new(&spec.ports(0).rpc_url());
    let rpc = client.rpc();
    let trust = (|| {
        let height = rpc.status()?["sync_info"]["latest_block_height"]
            .as_str()
            .and_then(|h| h.parse::<u64>().ok())
            .unwrap_or(0);
        let block = rpc.call("block", serde_json::json!({"height": height.to_string()}))?;
        let hash = block["block_id"]["hash"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok::<_, taochain_client::ClientError>((height, hash))
    })();
    let (height, hash) = trust.map_err(|e| LocalnetError::Command {
        command: "reading the trusted header from node0".into(),
        detail: e.to_string(),
    })?;
    if height == 0 || hash.is_empty() {
        return Err(LocalnetError::Timeout(
            "node0 has no block to trust yet; is the localnet up?".into(),
        ));
    }
    spec.full_nodes += 1;
    let ids = node_ids(home, &spec)?;
    configure_node(home, &spec, i, &ids)?;
    let path = config.join("config.toml");
    let mut doc = read_config(&path)?;
    // CometBFT wants two RPC servers; with one validator, the same one twice.
    let servers: Vec<String> = (0..2)
        .map(|j| spec.ports(j % spec.validators.max(1)).rpc_url())
        .collect();
    doc["statesync"]["enable"] = value(true);
    doc["statesync"]["rpc_servers"] = value(servers.join(","));
    doc["statesync"]["trust_height"] = value(i64::try_from(height).unwrap_or(i64::MAX));
    doc["statesync"]["trust_hash"] = value(hash);
    doc["statesync"]["trust_period"] = value("168h0m0s");
    doc["statesync"]["discovery_time"] = value("5s");
    std::fs::write(&path, doc.to_string()).map_err(|e| LocalnetError::io(&path, e))?;
    spec.save(home)?;
    Ok((spec, i))
}

/// Per-node addresses, peers and moniker in `config.toml`.
fn configure_node(
    home: &Path,
    spec: &LocalnetSpec,
    i: usize,
    ids: &[String],
) -> Result<(), LocalnetError> {
    let path = node_home(home, i).join("config").join("config.toml");
    let mut doc = read_config(&path)?;
    let ports = spec.ports(i);
    let peers: Vec<String> = (0..spec.validators)
        .filter(|j| *j != i)
        .map(|j| format!("{}@{}:{}", ids[j], spec.host(j), spec.ports(j).p2p))
        .collect();
    // A localnet listens on loopback only; a testnet node on every interface of its host.
    let listen = if spec.hosts.is_empty() {
        "127.0.0.1"
    } else {
        "0.0.0.0"
    };
    doc["moniker"] = value(format!("node{i}"));
    doc["proxy_app"] = value(format!("tcp://127.0.0.1:{}", ports.abci));
    doc["rpc"]["laddr"] = value(format!("tcp://{listen}:{}", ports.rpc));
    doc["rpc"]["pprof_laddr"] = value("");
    doc["p2p"]["laddr"] = value(format!("tcp://{listen}:{}", ports.p2p));
    doc["p2p"]["persistent_peers"] = value(peers.join(","));
    doc["p2p"]["external_address"] = value(format!("{}:{}", spec.host(i), ports.p2p));
    doc["log_format"] = value(spec.log_format.as_str());
    doc["instrumentation"]["prometheus"] = value(true);
    doc["instrumentation"]["prometheus_listen_addr"] =
        value(format!("{listen}:{}", ports.cometbft_metrics));
    std::fs::write(&path, doc.to_string()).map_err(|e| LocalnetError::io(&path, e))
}

/// The localnet's economy: mainnet rules on a short clock, so epochs, root epochs and
/// proposals happen within seconds (tempo 10 blocks, root tempo 10, voting 15 blocks, no
/// weights rate limit), and a flat 10 TAO subnet lock (no doubling) so a developer can
/// create many subnets. Unlisted fields take the chain's defaults.
fn localnet_economy() -> serde_json::Value {
    serde_json::json!({
        "subnet_limit": 32,
        "min_lock": 10_000_000_000u64,
        "lock_reduction_interval": 0,
        "root_tempo": 10,
        "voting_period": 15,
        "min_deposit": 1_000_000_000u64,
        "take_rate_limit": 100,
        "default_hyperparams": {
            "tempo": 10,
            "weights_rate_limit": 0,
            "immunity_period": 20,
            "activity_cutoff": 1000
        }
    })
}

/// Sets the chain id and `app_state` in node 0's genesis and copies it to every node.
fn write_genesis(home: &Path, spec: &LocalnetSpec, balance: u64) -> Result<(), LocalnetError> {
    let path = node_home(home, 0).join("config").join("genesis.json");
    let text = std::fs::read_to_string(&path).map_err(|e| LocalnetError::io(&path, e))?;
    let mut genesis: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| LocalnetError::Corrupt(path.clone(), e.to_string()))?;
    let accounts: Vec<serde_json::Value> = spec
        .dev_accounts
        .iter()
        .map(|(_, a)| serde_json::json!({"address": a, "balance": balance.to_string()}))
        .collect();
    let total = balance
        .checked_mul(accounts.len() as u64)
        .ok_or_else(|| LocalnetError::Config(path.clone(), "dev balances overflow".into()))?;
    genesis["chain_id"] = spec.chain_id.clone().into();
    // The chain's defaults, and CometBFT's block gas limit equal to the app's block budget:
    // CheckTx reports each transaction's gas limit as `gas_wanted`, so CometBFT's mempool
    // reaps and proposes at most `max_block_gas` of it (PrepareProposal and
    // ProcessProposal enforce the same budget).
    let chain_params = taochain_primitives::Params::default();
    let params = serde_json::to_value(&chain_params)
        .map_err(|e| LocalnetError::Corrupt(path.clone(), e.to_string()))?;
    genesis["consensus_params"]["block"]["max_gas"] = chain_params.max_block_gas.to_string().into();
    genesis["app_state"] = serde_json::json!({
        "accounts": accounts,
        "total_issuance": total.to_string(),
        "params": params,
        "economy": localnet_economy(),
    });
    let json = serde_json::to_string_pretty(&genesis)
        .map_err(|e| LocalnetError::Corrupt(path.clone(), e.to_string()))?;
    for i in 0..spec.validators {
        let p = node_home(home, i).join("config").join("genesis.json");
        std::fs::write(&p, &json).map_err(|e| LocalnetError::io(&p, e))?;
    }
    Ok(())
}

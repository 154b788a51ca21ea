//! A real 4-validator localnet: 500 transfers from 10 accounts, a validator SIGKILLed while
//! they flow and restarted, identical app hashes everywhere, a proved balance; the nodes'
//! Prometheus metrics and JSON logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use taochain_client::keys::address_of;
use taochain_client::{Client, Keystore};
use taochain_localnet::{LocalnetSpec, process};
use taochain_primitives::Address;

/// The fee a transfer signed for `DEFAULT_GAS_LIMIT` (50k gas) needs at 0.1 rao per gas.
const FEE: u64 = 5_000;
const ACCOUNTS: usize = 10;
const TRANSFERS: usize = 500;

pub fn tao(home: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tao"))
        .arg("--tao-home")
        .arg(home)
        .args(args)
        .env("TAOCHAIN_TAOD", taod())
        .output()
        .expect("tao runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn taod() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_tao")).with_file_name("taod");
    assert!(
        path.is_file(),
        "build taod first: cargo build --release --workspace --bins"
    );
    path
}

/// Stops the localnet even when the test fails half-way.
pub struct Guard(pub PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = process::stop(&self.0);
    }
}

/// A port block unlikely to collide with a developer's localnet on 26656, and below
/// Linux's ephemeral range (32768+), where outgoing connections could already hold a port;
/// `slot` separates the tests of this binary.
pub fn base_port(slot: u16) -> u16 {
    // A localnet takes 40 ports (node i: base + 10i + 0..=2): 5 slots of 50 per process
    // block, 20 blocks, all below 32,250.
    assert!(slot < 5, "port slot {slot} out of range");
    27_000 + (std::process::id() % 20) as u16 * 250 + slot * 50
}

/// The localnet tests run one at a time: two 4-validator networks on 2 cores would only
/// slow each other down.
pub static ONE_LOCALNET: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A 4-validator localnet started by `tao localnet up` in a temporary home; dropping it
/// stops the processes, then removes the home, then lets the next localnet test run.
pub struct Running {
    /// The tao home (keys in `keys/`, the localnet in `localnet/`).
    pub home: PathBuf,
    /// The localnet's spec.
    pub spec: LocalnetSpec,
    /// RPC URL of node 0.
    pub node: String,
    _guard: Guard,
    _tmp: tempfile::TempDir,
    _one: std::sync::MutexGuard<'static, ()>,
}

/// Starts a bare localnet on port block `slot` with `extra` arguments to `tao localnet up`.
pub fn start(slot: u16, extra: &[&str]) -> Running {
    start_with(slot, &[&["--bare"], extra].concat())
}

/// Starts a localnet on port block `slot` with `args` to `tao localnet up` (the demo
/// unless they say `--bare`).
pub fn start_with(slot: u16, extra: &[&str]) -> Running {
    let one = ONE_LOCALNET.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().to_path_buf();
    let guard = Guard(home.join("localnet"));
    let port = base_port(slot).to_string();
    let mut args = vec!["localnet", "up", "--base-port", &port, "--output", "json"];
    args.extend(extra);
    let (ok, out) = tao(&home, &args);
    assert!(ok, "localnet up failed:\n{out}");
    let spec = LocalnetSpec::load(&home.join("localnet")).expect("spec");
    let node = spec.ports(0).rpc_url();
    Running {
        home,
        spec,
        node,
        _guard: guard,
        _tmp: tmp,
        _one: one,
    }
}

/// Waits for the next block on all four validators and asserts they have the same app
/// hash at the current height.
pub fn assert_validators_agree(spec: &LocalnetSpec) {
    let h = Client::new(&spec.ports(0).rpc_url())
        .status()
        .expect("status")
        .height;
    process::wait_for_height(spec, &[0, 1, 2, 3], h + 1, Duration::from_secs(60), |_| {})
        .expect("all nodes advance");
    let hashes: Vec<String> = (0..4)
        .map(|i| {
            Client::new(&spec.ports(i).rpc_url())
                .rpc()
                .header(h + 1)
                .expect("header")["app_hash"]
                .as_str()
                .expect("hash")
                .to_string()
        })
        .collect();
    assert!(hashes.iter().all(|x| x == &hashes[0]), "{hashes:?}");
}

/// Runs `tao ... --output json`, which must succeed, and parses its output.
pub fn tao_json(home: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let (ok, out) = tao(home, &all);
    assert!(ok, "tao {args:?} failed:\n{out}");
    serde_json::from_str(&out).expect("tao --output json prints JSON")
}

#[test]
fn prove_without_a_trust_anchor_refuses_before_asking_the_node() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_tao"))
        .arg("--tao-home")
        .arg(home.path())
        .args(["--node", "http://127.0.0.1:9", "query", "account"])
        .arg(Address([1; 20]).to_string())
        .arg("--prove")
        .env_remove("TAO_TRUST_GENESIS")
        .output()
        .expect("tao runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("needs a trust anchor") && err.contains("--trust-genesis"),
        "{err}"
    );
}

#[test]
fn four_validators_survive_a_sigkill_and_agree_on_every_balance() {
    let net = start(0, &["--log-format", "json"]);
    let (home, spec) = (net.home.clone(), &net.spec);
    let net_home = home.join("localnet");
    assert_eq!(spec.validators, 4);

    let keys = Keystore::open(home.join("keys")).expect("keystore");
    let senders: Vec<SigningKey> = (0..ACCOUNTS)
        .map(|i| keys.signing_key(&format!("dev{i}"), None).expect("dev key"))
        .collect();
    let addrs: Vec<Address> = senders.iter().map(address_of).collect();
    let clients: Vec<Client> = (0..4)
        .map(|i| Client::new(&spec.ports(i).rpc_url()))
        .collect();
    let mut expected: BTreeMap<Address, u64> = addrs
        .iter()
        .map(|a| (*a, clients[0].account(a).expect("account").balance))
        .collect();
    let fresh = Address::from_public_key(&[42u8; 32]);
    expected.insert(fresh, 0);

    // 500 transfers, nonces pipelined per account; each account always uses the same
    // node (0..2) so its transactions reach a mempool in nonce order.
    let mut nonces = [0u64; ACCOUNTS];
    let mut hashes = vec![];
    for t in 0..TRANSFERS {
        if t == TRANSFERS / 2 {
            for l in process::recorded(&net_home).iter().filter(|l| l.node == 3) {
                assert!(
                    process::signal(l, "KILL").expect("kill"),
                    "node3 {} was running",
                    l.kind
                );
            }
        }
        let from = t % ACCOUNTS;
        let to = if t % 7 == 0 {
            fresh
        } else {
            addrs[(from + 1 + t / ACCOUNTS) % ACCOUNTS]
        };
        let amount = 1_000 + t as u64;
        let tx = Client::sign_transfer(
            &senders[from],
            &spec.chain_id,
            nonces[from],
            FEE,
            to,
            amount,
        );
        nonces[from] += 1;
        hashes.push(
            clients[from % 3]
                .broadcast(&tx)
                .expect("accepted by the mempool"),
        );
        *expected.get_mut(&addrs[from]).expect("sender") -= amount + FEE;
        *expected.get_mut(&to).expect("recipient") += amount;
    }
    for hash in &hashes {
        let c = clients[0]
            .wait_committed(hash, Duration::from_secs(120))
            .expect("committed");
        assert_eq!(c.code, 0, "tx {} failed: {}", c.hash, c.log);
    }

    // The chain kept committing without node3; now restart it and let it catch up.
    let height_without = clients[0].status().expect("status").height;
    let restarted = process::start_node(&net_home, spec, 3).expect("node3 restarts");
    process::record(&net_home, &restarted).expect("pids recorded");
    let target = height_without + 3;
    process::wait_for_height(
        spec,
        &[0, 1, 2, 3],
        target,
        Duration::from_secs(120),
        |_| {},
    )
    .expect("all four nodes pass the height reached without node3");

    let hashes_at: Vec<String> = clients
        .iter()
        .map(|c| {
            c.rpc().header(target).expect("header")["app_hash"]
                .as_str()
                .expect("hash")
                .to_string()
        })
        .collect();
    assert!(
        hashes_at.iter().all(|h| h == &hashes_at[0]),
        "app hashes differ at {target}: {hashes_at:?}"
    );
    for client in &clients {
        for (addr, balance) in &expected {
            assert_eq!(
                client.account(addr).expect("account").balance,
                *balance,
                "{addr} on {}",
                client.rpc().url()
            );
        }
    }

    // Supply: sum of balances == total issuance (dev accounts + pool are every account).
    let at = clients[3].status().expect("status").height;
    let supply = clients[3].supply_at(at).expect("supply");
    let pool = clients[3].emission_pool_at(at).expect("pool");
    assert_eq!(supply.total_recycled, FEE * TRANSFERS as u64);
    assert_eq!(
        expected.values().sum::<u64>() + pool.balance,
        supply.total_issuance
    );

    assert_metrics_and_json_logs(spec, &net_home, at);

    // The CLI: a transfer, then a balance proved against the next header's app hash.
    let node = spec.ports(3).rpc_url();
    let dev1 = addrs[1].to_string();
    let (ok, out) = tao(
        &home,
        &[
            "--node", &node, "tx", "transfer", "--from", "dev0", "--to", &dev1, "--amount",
            "1.5TAO",
        ],
    );
    assert!(ok, "tao tx transfer failed:\n{out}");
    // Trusting the genesis file: the light client verifies the header from the genesis
    // validators.
    let genesis = taochain_localnet::node_home(&net_home, 0)
        .join("config")
        .join("genesis.json");
    let genesis = genesis.to_string_lossy().to_string();
    let (ok, out) = tao(
        &home,
        &[
            "--node",
            &node,
            "query",
            "account",
            "dev1",
            "--prove",
            "--trust-genesis",
            &genesis,
            "--output",
            "json",
        ],
    );
    assert!(ok, "tao query --prove failed:\n{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["proof"]["verified"], true);
    assert_eq!(json["proof"]["anchor"]["kind"], "genesis");
    assert_eq!(json["proof"]["anchor"]["source"], genesis.as_str());
    let proved_at = json["proof"]["height"].as_u64().expect("height");
    assert_eq!(json["proof"]["header"]["height"], proved_at + 1);
    let want = expected[&addrs[1]] + 1_500_000_000;
    assert_eq!(json["balance_rao"], want.to_string());

    // Trusting a header hash got from another node (out of band for node 3's answer).
    let hash = clients[0]
        .rpc()
        .signed_header(2)
        .expect("header 2")
        .header
        .hash()
        .to_string();
    let (ok, out) = tao(
        &home,
        &[
            "--node",
            &node,
            "query",
            "account",
            "dev1",
            "--prove",
            "--trust-height",
            "2",
            "--trust-hash",
            &hash,
        ],
    );
    assert!(ok, "tao query --prove --trust-height failed:\n{out}");
    assert!(
        out.contains("VERIFIED") && out.contains(&format!("anchor:  header 2 hash {hash}")),
        "{out}"
    );
    let (ok, out) = tao(
        &home,
        &[
            "--node",
            &node,
            "query",
            "account",
            "dev1",
            "--prove",
            "--trust-height",
            "2",
            "--trust-hash",
            &"00".repeat(32),
        ],
    );
    assert!(!ok && out.contains("not the trusted"), "{out}");

    let (ok, out) = tao(&home, &["localnet", "down"]);
    assert!(ok, "{out}");
    assert!(process::recorded(&net_home).is_empty());
}

/// The value of the sample line that starts with `series` (name and labels), if any.
fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// node0 ran from genesis and executed exactly the test's transfers, so its taod metrics
/// count them all as successful; every phase has timings; CometBFT's own metrics report
/// the height; both processes log JSON lines.
fn assert_metrics_and_json_logs(spec: &LocalnetSpec, net_home: &Path, height: u64) {
    let get = |url: &str| {
        ureq::get(url)
            .call()
            .map_err(|e| format!("GET {url}: {e}"))
            .expect("metrics answer")
            .into_string()
            .expect("metrics text")
    };
    let taod = get(&spec.ports(0).metrics_url());
    let ok = r#"taochain_txs_total{stage="finalize_block",code="0",reason="ok"}"#;
    assert_eq!(sample(&taod, ok), Some(TRANSFERS as u64), "{taod}");
    let ok_checks = r#"taochain_txs_total{stage="check_tx",code="0",reason="ok"}"#;
    assert!(sample(&taod, ok_checks) > Some(0), "{taod}");
    let committed = sample(&taod, "taochain_height").expect("height");
    assert!(
        committed >= height,
        "taod reports height {committed} < {height}"
    );
    for phase in ["signatures", "transactions", "end_block", "tree", "commit"] {
        let count = format!("taochain_block_phase_seconds_count{{phase=\"{phase}\"}}");
        assert!(sample(&taod, &count) >= Some(committed), "{phase}: {taod}");
    }
    assert_eq!(
        sample(&taod, "taochain_block_txs_total"),
        Some(TRANSFERS as u64)
    );
    let comet = get(&spec.ports(0).cometbft_metrics_url());
    let comet_height = comet
        .lines()
        .find(|l| {
            l.starts_with("cometbft_consensus_height{")
                || l.starts_with("cometbft_consensus_height ")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| format!("no cometbft_consensus_height in:\n{comet}"))
        .expect("CometBFT reports its height");
    assert!(comet_height as u64 >= height, "{comet_height} < {height}");
    for log in ["taod.log", "cometbft.log"] {
        let path = taochain_localnet::node_home(net_home, 0).join(log);
        let text = std::fs::read_to_string(&path).expect("log");
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "{log} is empty");
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| format!("{log}: not a JSON line ({e}): {line}"))
                .expect("JSON log line");
            assert!(v.get("level").is_some(), "{log}: no level in {line}");
        }
    }
}

/// Flips the first byte of every snapshot chunk `node` has on disk that is not in `done`;
/// returns how many it flipped.
fn corrupt_snapshots(
    net_home: &Path,
    node: usize,
    done: &mut std::collections::BTreeSet<PathBuf>,
) -> usize {
    let dir = taochain_localnet::node_home(net_home, node).join("taod/data/snapshots");
    let mut n = 0;
    for snapshot in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        // Only complete snapshots (a `.tmp-` one is still being written).
        if snapshot.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        for chunk in std::fs::read_dir(snapshot.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = chunk.path();
            let is_chunk = path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("chunk-"));
            // A snapshot being replaced may vanish under us: skip what cannot be read.
            if is_chunk && !done.contains(&path) {
                let Ok(mut bytes) = std::fs::read(&path) else {
                    continue;
                };
                done.insert(path.clone());
                bytes[0] ^= 0xff;
                let _ = std::fs::write(&path, bytes);
                n += 1;
            }
        }
    }
    n
}

/// The newest snapshot height `node` has on disk.
fn newest_snapshot(net_home: &Path, node: usize) -> Option<u64> {
    let dir = taochain_localnet::node_home(net_home, node).join("taod/data/snapshots");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .max()
}

#[test]
fn a_full_node_joins_by_state_sync_past_corrupt_peers_and_follows_the_chain() {
    let net = start(1, &[]);
    let (home, spec) = (net.home.clone(), &net.spec);
    let net_home = home.join("localnet");
    let keys = Keystore::open(home.join("keys")).expect("keystore");
    let dev0 = keys.signing_key("dev0", None).expect("dev0");
    let node0 = Client::new(&spec.ports(0).rpc_url());
    // State beyond genesis: 20 fresh accounts.
    let fresh: Vec<Address> = (0..20u8)
        .map(|i| Address::from_public_key(&[i + 100; 32]))
        .collect();
    let mut last = None;
    for (n, to) in fresh.iter().enumerate() {
        let tx = Client::sign_transfer(&dev0, &spec.chain_id, n as u64, FEE, *to, 1_000 + n as u64);
        last = Some(node0.broadcast(&tx).expect("accepted"));
    }
    let c = node0
        .wait_committed(&last.expect("sent"), Duration::from_secs(60))
        .expect("committed");
    assert_eq!(c.code, 0, "{}", c.log);
    // Every validator snapshots the state after the transfers.
    let after = node0.status().expect("status").height;
    let start = std::time::Instant::now();
    while (0..4).any(|n| newest_snapshot(&net_home, n).is_none_or(|h| h < after)) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no snapshot past {after}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Three of the four validators now serve chunks that do not match their hashes (the
    // joining node refuses each one it is sent and asks another peer; which peers it asks,
    // and so whether it meets a corrupt chunk at all, is CometBFT's random choice: the
    // refusal itself is tested in the testkit's state_sync tests).
    // New snapshots are corrupted as they appear, until the node has joined.
    let mut done = std::collections::BTreeSet::new();
    for n in 0..3 {
        assert!(
            corrupt_snapshots(&net_home, n, &mut done) > 0,
            "node{n} has chunks"
        );
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let corrupter = {
        let (stop, net_home) = (stop.clone(), net_home.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for n in 0..3 {
                    corrupt_snapshots(&net_home, n, &mut done);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            done
        })
    };
    let joined = tao_json(
        &home,
        &["localnet", "join", "--home", &net_home.to_string_lossy()],
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let corrupted = corrupter.join().expect("corrupter");
    assert!(corrupted.len() >= 3, "{corrupted:?}");
    assert_eq!(joined["node"], 4, "{joined}");
    let earliest = joined["earliest_block_height"].as_u64().expect("earliest");
    // A node that replayed from genesis would have block 1; this one starts after a snapshot.
    assert!(
        earliest > after,
        "first block {earliest}, snapshot past {after}: {joined}"
    );
    let log = std::fs::read_to_string(taochain_localnet::node_home(&net_home, 4).join("taod.log"))
        .expect("node4 log");
    assert!(log.contains("state restored from the snapshot"), "{log}");
    eprintln!(
        "node4 refused {} corrupt chunks",
        log.matches("refused a snapshot chunk").count()
    );
    let joined_node = Client::new(&spec.ports(4).rpc_url());
    for (n, to) in fresh.iter().enumerate() {
        assert_eq!(
            joined_node.account(to).expect("account").balance,
            1_000 + n as u64
        );
    }
    // It follows the chain with the validators' app hash.
    let spec = LocalnetSpec::load(&net_home).expect("spec");
    assert_eq!(spec.full_nodes, 1);
    let h = joined_node.status().expect("status").height;
    process::wait_for_height(&spec, &[0, 4], h + 2, Duration::from_secs(60), |_| {})
        .expect("both advance");
    let hash = |c: &Client| c.rpc().header(h + 2).expect("header")["app_hash"].clone();
    assert_eq!(hash(&joined_node), hash(&node0));
    let status = tao_json(
        &home,
        &["localnet", "status", "--home", &net_home.to_string_lossy()],
    );
    assert_eq!(
        status["nodes"].as_array().map(Vec::len),
        Some(5),
        "{status}"
    );
}

#[test]
fn a_validator_aborted_at_every_point_of_the_block_cycle_replays_to_the_same_app_hash() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let net = start(2, &[]);
    let (home, spec) = (net.home.clone(), &net.spec);
    let net_home = home.join("localnet");
    let keys = Keystore::open(home.join("keys")).expect("keystore");
    let rpcs: Vec<String> = (0..3).map(|i| spec.ports(i).rpc_url()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = crate::testnet::StopOnDrop(stop.clone());
    let senders: Vec<SigningKey> = (0..3)
        .map(|i| keys.signing_key(&format!("dev{i}"), None).expect("dev key"))
        .collect();
    let from: Vec<Address> = senders.iter().map(address_of).collect();
    let node0 = Client::new(&rpcs[0]);
    let before: Vec<u64> = from
        .iter()
        .map(|a| node0.account(a).expect("account").balance)
        .collect();
    let sinks: Vec<Address> = (0..3)
        .map(|i| Address::from_public_key(&[150 + i as u8; 32]))
        .collect();
    let loaders: Vec<_> = senders
        .into_iter()
        .zip(&sinks)
        .map(|(key, to)| {
            let (chain, to, rpcs, stop) = (spec.chain_id.clone(), *to, rpcs.clone(), stop.clone());
            let seen = crate::testnet::Latencies::default();
            std::thread::spawn(move || crate::testnet::load(key, chain, to, rpcs, stop, seen))
        })
        .collect();
    let node3 = Client::new(&spec.ports(3).rpc_url());
    // SIGKILL node3's processes and wait until they are gone (and their ports free).
    let kill_node3 = || {
        let mine: Vec<_> = process::recorded(&net_home)
            .into_iter()
            .filter(|l| l.node == 3)
            .collect();
        for l in &mine {
            let _ = process::signal(l, "KILL");
        }
        let start = std::time::Instant::now();
        while !mine.iter().all(|l| process::is_gone(l.pid)) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "node3 does not die"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // Twice round the three points: node3 is stopped, restarted to abort at a point a few
    // blocks ahead (replaying or catching up to it first), and restarted again after.
    for (round, phase) in ["finalize", "before_commit", "after_commit"]
        .iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        kill_node3();
        let target = node0.status().expect("status").height + 2;
        let point = format!("{phase}:{target}");
        let launched =
            process::start_node_with_env(&net_home, spec, 3, &[("TAOD_CRASH_AT", &point)])
                .expect("node3 starts");
        process::record(&net_home, &launched).expect("recorded");
        let taod = launched.iter().find(|l| l.kind == "taod").expect("taod");
        let start = std::time::Instant::now();
        while process::is_ours(taod.pid, "taod") {
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "round {round}: no crash at {point}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let log =
            std::fs::read_to_string(taochain_localnet::node_home(&net_home, 3).join("taod.log"))
                .expect("log");
        assert_eq!(
            log.matches("taod: crash point").count(),
            round + 1,
            "round {round}: {point} not reached"
        );
        assert!(
            log.contains(&format!("at {target}: aborting")),
            "round {round}: {point}"
        );
    }
    kill_node3();
    let launched = process::start_node(&net_home, spec, 3).expect("node3 restarts");
    process::record(&net_home, &launched).expect("recorded");
    let h = node0.status().expect("status").height + 2;
    process::wait_for_height(spec, &[0, 1, 2, 3], h, Duration::from_secs(120), |_| {})
        .expect("node3 catches up after its crashes");
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.join().expect("load");
    }
    assert_validators_agree(spec);
    let mut total = 0;
    for (s, (addr, sink)) in from.iter().zip(&sinks).enumerate() {
        let n = node0.account(addr).expect("account").nonce;
        total += n;
        let paid: u64 = (0..n).map(|k| 1_000 + k).sum();
        for c in [&node0, &node3] {
            assert_eq!(
                c.account(addr).expect("account").balance,
                before[s] - paid - FEE * n
            );
            assert_eq!(c.account(sink).expect("account").balance, paid);
        }
    }
    assert!(total > 0, "no transfer committed");
}

/// Free bytes on the file system holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .expect("df runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df prints the free bytes")
}

/// Unmounts the file system a test mounted, even when the test fails.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_validator_whose_disk_fills_halts_with_a_clear_line_and_recovers_when_space_returns() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let net = start(3, &[]);
    let (home, spec) = (net.home.clone(), &net.spec);
    let net_home = home.join("localnet");
    let node0 = Client::new(&spec.ports(0).rpc_url());
    let node3_processes = || -> Vec<process::Launched> {
        process::recorded(&net_home)
            .into_iter()
            .filter(|l| l.node == 3)
            .collect()
    };
    let stop_node3 = || {
        let mine = node3_processes();
        for l in &mine {
            let _ = process::signal(l, "KILL");
        }
        while !mine.iter().all(|l| process::is_gone(l.pid)) {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // node3's state moves onto a small file system of its own.
    stop_node3();
    let data = taochain_localnet::node_home(&net_home, 3).join("taod/data");
    let saved = home.join("node3-data");
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(&data)
            .arg(&saved)
            .status()
            .expect("cp")
            .success()
    );
    std::fs::remove_dir_all(&data).expect("rm");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256m", "tmpfs"])
        .arg(&data)
        .status()
        .expect("mount runs");
    assert!(
        mounted.success(),
        "mounting a tmpfs needs root (the test command runs as root)"
    );
    let _unmount = Mounted(data.clone());
    let copied = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", saved.display()))
        .arg(&data)
        .status()
        .expect("cp");
    assert!(copied.success());
    let launched = process::start_node(&net_home, spec, 3).expect("node3 starts");
    process::record(&net_home, &launched).expect("recorded");
    let h = node0.status().expect("status").height + 2;
    process::wait_for_height(spec, &[3], h, Duration::from_secs(60), |_| {}).expect("node3 runs");

    // Transfers flow; node3's disk is filled to within 16 KiB.
    let keys = Keystore::open(home.join("keys")).expect("keystore");
    let key = keys.signing_key("dev0", None).expect("dev0");
    let rpcs: Vec<String> = (0..3).map(|i| spec.ports(i).rpc_url()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = crate::testnet::StopOnDrop(stop.clone());
    let sink = Address::from_public_key(&[177; 32]);
    let loader = {
        let (chain, rpcs, stop) = (spec.chain_id.clone(), rpcs.clone(), stop.clone());
        let seen = crate::testnet::Latencies::default();
        std::thread::spawn(move || crate::testnet::load(key, chain, sink, rpcs, stop, seen))
    };
    let filler = data.join("filler");
    // The node writes meanwhile: fill in pieces, and a full disk before the end is fine.
    let room = free_bytes(&data).saturating_sub(16 * 1024);
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).expect("filler");
        let piece = vec![0u8; 1 << 20];
        let mut written = 0u64;
        while written < room {
            let n = piece.len().min((room - written) as usize);
            match file.write_all(&piece[..n]) {
                Ok(()) => written += n as u64,
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "filling: {e}");
                    break;
                }
            }
        }
    }
    // RocksDB writes its log into space it reserved ahead (~70 MB), so a running node
    // meets the full disk only much later; restarted on it (as after any crash), it has
    // no room left and stops: at once if the store cannot even open, else at the first
    // write that does not fit.
    stop_node3();
    if let Ok(launched) = process::start_node(&net_home, spec, 3) {
        process::record(&net_home, &launched).expect("recorded");
        let taod = launched
            .iter()
            .find(|l| l.kind == "taod")
            .expect("taod")
            .clone();
        let start = std::time::Instant::now();
        while process::is_ours(taod.pid, "taod") {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "node3 never ran out of space"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let log = std::fs::read_to_string(taochain_localnet::node_home(&net_home, 3).join("taod.log"))
        .expect("log");
    let line = log
        .lines()
        .find(|l| l.contains("No space left on device"))
        .map(str::to_string);
    assert!(line.is_some(), "no clear line in node3's log:\n{log}");
    eprintln!("node3 stopped: {}", line.unwrap_or_default());
    // The others go on without it.
    let h = node0.status().expect("status").height;
    process::wait_for_height(spec, &[0, 1, 2], h + 5, Duration::from_secs(60), |_| {})
        .expect("the other three go on");
    // Space returns: node3 restarts and catches up to the same app hash.
    stop_node3();
    std::fs::remove_file(&filler).expect("unfill");
    let launched = process::start_node(&net_home, spec, 3).expect("node3 restarts");
    process::record(&net_home, &launched).expect("recorded");
    let h = node0.status().expect("status").height + 2;
    process::wait_for_height(spec, &[0, 1, 2, 3], h, Duration::from_secs(120), |_| {})
        .expect("node3 catches up once space returns");
    stop.store(true, Ordering::Relaxed);
    loader.join().expect("load");
    assert_validators_agree(spec);
    let node3 = Client::new(&spec.ports(3).rpc_url());
    assert_eq!(
        node3.account(&sink).expect("account").balance,
        node0.account(&sink).expect("account").balance
    );
    stop_node3();
}

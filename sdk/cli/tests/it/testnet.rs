//! A 4-host testnet on this machine: one Linux network namespace per validator (veth pairs
//! on a bridge, real TCP between namespaces, nothing leaves the machine), started with
//! exactly the homes and `start.sh` scripts `tao testnet generate --hosts` writes. Under a
//! steady load of transfers and contract calls: every validator SIGKILLed in turn and
//! restarted, a 2|2 partition for 60 s, one validator isolated for 60 s, and 5% packet loss
//! on every link for 60 s. Every node ends
//! with the same app hash, every committed transfer in every balance and every committed
//! call in the contract's state. Needs root (CAP_NET_ADMIN), as the README's test command
//! has.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use taochain_client::{Client, Keystore};
use taochain_primitives::{Address, Msg, TxBody};
use taochain_vm_sandbox::contract_wasm;

use crate::localnet::{ONE_LOCALNET, tao_json};

const NODES: usize = 4;
const SENDERS: usize = 4;
/// The fee a transfer signed for the default 50k gas needs.
const FEE: u64 = 5_000;
/// How long the partition and the isolation last.
const FAULT: Duration = Duration::from_secs(60);

/// Runs `ip` with `args`; it must succeed.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces, the bridges and the node processes; dropping it removes them all.
struct Hosts {
    tag: String,
    subnet: u32,
    nodes: Vec<Option<std::process::Child>>,
}

impl Hosts {
    fn new() -> Self {
        let id = std::process::id();
        let hosts = Hosts {
            tag: format!("tc{}", id % 100_000),
            subnet: 100 + id % 100,
            nodes: (0..NODES).map(|_| None).collect(),
        };
        let (a, b) = (hosts.bridge("a"), hosts.bridge("b"));
        for br in [&a, &b] {
            ip(&["link", "add", br, "type", "bridge"]);
            ip(&["link", "set", br, "up"]);
        }
        ip(&[
            "addr",
            "add",
            &format!("10.{}.0.254/24", hosts.subnet),
            "dev",
            &a,
        ]);
        for i in 0..NODES {
            let (ns, veth) = (hosts.ns(i), hosts.veth(i));
            ip(&["netns", "add", &ns]);
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            ip(&["link", "set", &veth, "master", &a]);
            ip(&["link", "set", &veth, "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", hosts.ip(i)),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        hosts
    }

    fn bridge(&self, side: &str) -> String {
        format!("{}b{side}", self.tag)
    }

    fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    fn veth(&self, i: usize) -> String {
        format!("{}v{i}", self.tag)
    }

    fn ip(&self, i: usize) -> String {
        format!("10.{}.0.{}", self.subnet, i + 1)
    }

    fn rpc(&self, i: usize) -> String {
        format!("http://{}:26657", self.ip(i))
    }

    /// Starts node `i`'s `start.sh` inside its namespace, in its own process group.
    fn start(&mut self, i: usize, dir: &Path, taod: &Path, cometbft: &Path) {
        let script = dir.join(format!("node{i}")).join("start.sh");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(i), "bash"])
            .arg(&script)
            .env("TAOD", taod)
            .env("COMETBFT", cometbft)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start.sh starts");
        self.nodes[i] = Some(child);
    }

    /// SIGKILLs node `i`'s whole process group (the script, taod and cometbft).
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].take() {
            // `-s KILL -- -PGID`: procps-ng 4.0.2 reads `kill -KILL -PGID` as kill(-1)!
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }

    /// Moves nodes `side` to the second bridge: two halves that cannot reach each other
    /// (the test reaches the first half directly, the second through its namespaces).
    fn partition(&self, side: &[usize]) {
        for i in side {
            ip(&["link", "set", &self.veth(*i), "master", &self.bridge("b")]);
        }
    }

    fn heal(&self) {
        for i in 0..NODES {
            ip(&["link", "set", &self.veth(i), "master", &self.bridge("a")]);
        }
    }

    /// Drops each packet node `i` receives with probability `percent`% (iptables'
    /// `statistic` match in its namespace), or stops dropping.
    fn lose(&self, i: usize, percent: u32) {
        let ns = self.ns(i);
        let _ = Command::new("ip")
            .args(["netns", "exec", &ns, "iptables", "-F", "INPUT"])
            .status();
        if percent > 0 {
            assert!(percent < 100, "a loss of {percent}%");
            let p = format!("0.{percent:02}");
            let out = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "iptables",
                    "-A",
                    "INPUT",
                    "-m",
                    "statistic",
                ])
                .args(["--mode", "random", "--probability", &p, "-j", "DROP"])
                .output()
                .expect("iptables runs (scripts/setup.sh installs it)");
            assert!(
                out.status.success(),
                "iptables in {ns}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Packets node `i`'s loss rule has dropped so far.
    fn dropped(&self, i: usize) -> u64 {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(i),
                "iptables",
                "-L",
                "INPUT",
                "-v",
                "-x",
                "-n",
            ])
            .output()
            .expect("iptables runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("DROP"))
            .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }

    /// Takes node `i`'s only interface down (or up again).
    fn isolate(&self, i: usize, down: bool) {
        let state = if down { "down" } else { "up" };
        ip(&["-n", &self.ns(i), "link", "set", "eth0", state]);
    }

    /// Node `i`'s height and app hash, asked from inside its own namespace (it answers
    /// even when cut off from the test's side of the bridge).
    fn status(&self, i: usize) -> Option<(u64, String)> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns(i), env!("CARGO_BIN_EXE_tao")])
            .args(["--node", &self.rpc(i), "status", "--output", "json"])
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        Some((v["height"].as_u64()?, v["app_hash"].as_str()?.to_string()))
    }

    fn height(&self, i: usize) -> u64 {
        self.status(i).map_or(0, |s| s.0)
    }

    /// Waits until every node in `nodes` is at `height` or above.
    fn wait_height(&self, nodes: &[usize], height: u64, what: &str) {
        let start = Instant::now();
        while nodes.iter().any(|i| self.height(*i) < height) {
            let now: Vec<u64> = nodes.iter().map(|i| self.height(*i)).collect();
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "{what}: nodes {nodes:?} at {now:?}, waiting for {height}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for i in 0..NODES {
            self.kill(i);
        }
        for i in 0..NODES {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(i)])
                .status();
        }
        for side in ["a", "b"] {
            let _ = Command::new("ip")
                .args(["link", "del", &self.bridge(side)])
                .status();
        }
    }
}

/// Sets the load's stop flag when dropped, so a failing test cannot leave senders running
/// into the next test's localnet on the same ports.
pub struct StopOnDrop(pub Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// When each committed transfer was seen committed, and how long after it was sent.
pub type Latencies = Arc<std::sync::Mutex<Vec<(Instant, Duration)>>>;

/// Sends transfers from `key` to `to` one after another, each to the next node that
/// accepts it, until `stop`: nonce n pays 1000 + n rao, so a transaction signed twice for
/// the same nonce is the same bytes. The balances tell what committed; `seen` gets the
/// latency of each one this sender saw commit.
pub fn load(
    key: SigningKey,
    chain_id: String,
    to: Address,
    rpcs: Vec<String>,
    stop: Arc<AtomicBool>,
    seen: Latencies,
) {
    let sign = |nonce| Client::sign_transfer(&key, &chain_id, nonce, FEE, to, 1_000 + nonce);
    load_with(&key, rpcs, stop, seen, sign);
}

/// Gas a counter `Increment` signs for (it uses ~2M).
const CALL_GAS: u64 = 20_000_000;

/// Like [`load`], with contract calls: `Increment { by: 1 }` on the counter `contract`,
/// one after another, each waited for.
pub fn load_calls(
    key: SigningKey,
    chain_id: String,
    contract: Address,
    rpcs: Vec<String>,
    stop: Arc<AtomicBool>,
    seen: Latencies,
) {
    let fee = taochain_primitives::Params::default().required_fee(CALL_GAS);
    let sign = |nonce| {
        TxBody {
            chain_id: chain_id.clone(),
            nonce,
            fee,
            gas_limit: CALL_GAS,
            msgs: vec![Msg::Execute {
                contract,
                // The counter's `Increment { by: 1 }` (borsh: tag 0, u64).
                msg: [&[0u8][..], &1u64.to_le_bytes()].concat(),
                funds: 0,
            }],
        }
        .sign(&key)
        .encode()
    };
    load_with(&key, rpcs, stop, seen, sign);
}

/// Sends `sign(nonce)` from `key`'s account one at a time, each waited for, rotating over
/// `rpcs`, until `stop`; records each committed one's latency in `seen`.
fn load_with(
    key: &SigningKey,
    rpcs: Vec<String>,
    stop: Arc<AtomicBool>,
    seen: Latencies,
    sign: impl Fn(u64) -> Vec<u8>,
) {
    let clients: Vec<Client> = rpcs.iter().map(|r| Client::new(r)).collect();
    let from = taochain_client::keys::address_of(key);
    let mut turn = 0usize;
    while !stop.load(Ordering::Relaxed) {
        turn += 1;
        let c = &clients[turn % clients.len()];
        let Ok(account) = c.account(&from) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let tx = sign(account.nonce);
        let sent = Instant::now();
        if let Ok(hash) = c.broadcast(&tx) {
            if let Ok(done) = c.wait_committed(&hash, Duration::from_secs(10))
                && done.code == 0
            {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.push((Instant::now(), sent.elapsed()));
            }
        } else {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Stores and instantiates the counter (count 0) from `key`; returns its address.
fn deploy_counter(c: &Client, key: &SigningKey) -> Address {
    let stored = c
        .send(
            key,
            vec![Msg::StoreCode {
                wasm: contract_wasm("counter"),
            }],
            None,
        )
        .expect("store the counter");
    let code_id = u64::from_le_bytes(
        hex::decode(&stored.data).expect("hex")[..8]
            .try_into()
            .expect("code id"),
    );
    let made = c
        .send(
            key,
            vec![Msg::Instantiate {
                code_id,
                msg: 0u64.to_le_bytes().to_vec(),
                funds: 0,
                admin: None,
                label: "fault load".into(),
            }],
            None,
        )
        .expect("instantiate the counter");
    Address(
        hex::decode(&made.data)
            .expect("hex")
            .try_into()
            .expect("20 bytes"),
    )
}

#[test]
fn four_hosts_survive_kills_a_partition_and_an_isolation_under_load() {
    let _one = ONE_LOCALNET.lock().unwrap_or_else(|e| e.into_inner());
    let cometbft = taochain_localnet::cometbft::locate().expect("the pinned cometbft (setup.sh)");
    let taod = Path::new(env!("CARGO_BIN_EXE_tao")).with_file_name("taod");
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().to_path_buf();
    let mut hosts = Hosts::new();
    let out: PathBuf = home.join("testnet");
    let list: Vec<String> = (0..NODES).map(|i| hosts.ip(i)).collect();
    let generated = tao_json(
        &home,
        &[
            "testnet",
            "generate",
            "--hosts",
            &list.join(","),
            "--out",
            &out.to_string_lossy(),
        ],
    );
    assert_eq!(generated["nodes"].as_array().map(Vec::len), Some(NODES));
    for i in 0..NODES {
        hosts.start(i, &out, &taod, &cometbft);
    }
    hosts.wait_height(&[0, 1, 2, 3], 3, "start");

    let spec = taochain_localnet::LocalnetSpec::load(&out).expect("spec");
    let keys = Keystore::open(home.join("keys")).expect("keystore");
    let rpcs: Vec<String> = (0..NODES).map(|i| hosts.rpc(i)).collect();
    let node0 = Client::new(&rpcs[0]);
    let senders: Vec<SigningKey> = (0..SENDERS)
        .map(|i| keys.signing_key(&format!("dev{i}"), None).expect("dev key"))
        .collect();
    let from: Vec<Address> = senders
        .iter()
        .map(taochain_client::keys::address_of)
        .collect();
    let start_balances: Vec<u64> = from
        .iter()
        .map(|a| node0.account(a).expect("account").balance)
        .collect();
    let sinks: Vec<Address> = (0..SENDERS)
        .map(|i| Address::from_public_key(&[200 + i as u8; 32]))
        .collect();
    // A fifth account calls a contract throughout.
    let caller = keys.signing_key("dev4", None).expect("dev key");
    let counter = deploy_counter(&node0, &caller);
    let caller_addr = taochain_client::keys::address_of(&caller);
    let calls_from = node0.account(&caller_addr).expect("account").nonce;
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(stop.clone());
    let seen = Latencies::default();
    let calls_seen = Latencies::default();
    let caller_thread = {
        let (chain, rpcs, stop, seen) = (
            spec.chain_id.clone(),
            rpcs.clone(),
            stop.clone(),
            calls_seen.clone(),
        );
        std::thread::spawn(move || load_calls(caller, chain, counter, rpcs, stop, seen))
    };
    let loaders: Vec<_> = senders
        .into_iter()
        .zip(&sinks)
        .map(|(key, to)| {
            let (chain, to, rpcs, stop, seen) = (
                spec.chain_id.clone(),
                *to,
                rpcs.clone(),
                stop.clone(),
                seen.clone(),
            );
            std::thread::spawn(move || load(key, chain, to, rpcs, stop, seen))
        })
        .collect();
    let mut phases = vec![("kills", Instant::now())];

    // 1. Each validator in turn: SIGKILL, the other three go on, restart, it catches up.
    for i in 0..NODES {
        let others: Vec<usize> = (0..NODES).filter(|j| *j != i).collect();
        let h = hosts.height(others[0]);
        hosts.kill(i);
        hosts.wait_height(&others, h + 3, &format!("without node{i}"));
        hosts.start(i, &out, &taod, &cometbft);
        let now = hosts.height(others[0]);
        hosts.wait_height(&[i], now, &format!("node{i} after its restart"));
    }

    phases.push(("partition", Instant::now()));
    // 2. A 2|2 partition: neither half has 2/3 of the power, so nothing commits; heal.
    let before = (0..NODES).map(|i| hosts.height(i)).max().unwrap_or(0);
    hosts.partition(&[2, 3]);
    std::thread::sleep(FAULT);
    let during: Vec<u64> = (0..NODES).map(|i| hosts.height(i)).collect();
    assert!(
        during.iter().all(|h| *h <= before + 1),
        "a half committed on its own: {during:?} from {before}"
    );
    hosts.heal();
    hosts.wait_height(&[0, 1, 2, 3], before + 5, "after the partition healed");

    phases.push(("isolation", Instant::now()));
    // 3. One of four isolated: the other three go on; it catches up when it returns.
    let h = hosts.height(0);
    hosts.isolate(3, true);
    let start = Instant::now();
    hosts.wait_height(&[0, 1, 2], h + 10, "without the isolated node3");
    std::thread::sleep(FAULT.saturating_sub(start.elapsed()));
    let isolated_at = hosts.height(3);
    let others_at = hosts.height(0);
    assert!(
        isolated_at < others_at,
        "node3 ({isolated_at}) kept up while cut off ({others_at})"
    );
    hosts.isolate(3, false);
    let back = Instant::now();
    hosts.wait_height(&[3], others_at + 2, "node3 catching up");
    let behind = others_at + 2 - isolated_at;
    eprintln!(
        "catch-up: node3 replayed {behind} blocks in {} ms after the isolation",
        back.elapsed().as_millis()
    );

    phases.push(("loss", Instant::now()));
    // 4. 5% of the packets into every node are dropped (every link loses 5% each way):
    // the chain goes on. (200 ms of latency would need `tc netem`, which this kernel lacks,
    // as it lacks `fq` for timestamp pacing: no way to delay packets in the kernel here.)
    let h = hosts.height(0);
    for i in 0..NODES {
        hosts.lose(i, 5);
    }
    let lossy = Instant::now();
    hosts.wait_height(&[0, 1, 2, 3], h + 10, "with 5% packet loss");
    std::thread::sleep(FAULT.saturating_sub(lossy.elapsed()));
    for i in 0..NODES {
        let dropped = hosts.dropped(i);
        assert!(dropped > 0, "node{i}'s loss rule dropped nothing");
        eprintln!("loss: node{i} dropped {dropped} packets");
        hosts.lose(i, 0);
    }

    phases.push(("end", Instant::now()));
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.join().expect("load thread");
    }
    caller_thread.join().expect("call thread");
    report("transfers", &phases, &seen);
    report("contract calls", &phases, &calls_seen);
    // Every node agrees on the app hash, and every committed transfer is in every balance.
    let h = hosts.height(0) + 1;
    hosts.wait_height(&[0, 1, 2, 3], h, "final");
    let hashes: Vec<String> = (0..NODES)
        .map(|i| {
            Client::new(&rpcs[i]).rpc().header(h).expect("header")["app_hash"]
                .as_str()
                .expect("hash")
                .to_string()
        })
        .collect();
    assert!(
        hashes.iter().all(|x| x == &hashes[0]),
        "app hashes differ at {h}: {hashes:?}"
    );
    let mut total = 0;
    for (s, (addr, sink)) in from.iter().zip(&sinks).enumerate() {
        let n = node0.account(addr).expect("account").nonce;
        total += n;
        let paid: u64 = (0..n).map(|k| 1_000 + k).sum();
        for rpc in &rpcs {
            let c = Client::new(rpc);
            assert_eq!(
                c.account(addr).expect("account").balance,
                start_balances[s] - paid - FEE * n,
                "sender {s} on {rpc}"
            );
            assert_eq!(
                c.account(sink).expect("account").balance,
                paid,
                "sink {s} on {rpc}"
            );
        }
    }
    assert!(
        total >= 40,
        "only {total} transfers committed under the faults"
    );
    // Every committed call is in the counter, on every node. A call whose wait timed out
    // may still commit from a mempool: read again until the nonce and the counters settle.
    let settle = Instant::now();
    let calls = loop {
        let calls = node0.account(&caller_addr).expect("account").nonce - calls_from;
        let counts: Vec<Vec<u8>> = rpcs
            .iter()
            .map(|rpc| Client::new(rpc).smart_query(&counter, &[0]).expect("Count"))
            .collect();
        if counts.iter().all(|c| *c == calls.to_le_bytes()) {
            break calls;
        }
        assert!(
            settle.elapsed() < Duration::from_secs(30),
            "counters {counts:?} after {calls} committed calls"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        calls >= 10,
        "only {calls} contract calls committed under the faults"
    );
    eprintln!("testnet faults: {total} transfers committed, final height {h}");
}

/// Prints, per fault phase, the transactions (`what`) seen committed, tx/s, and p50/p99
/// latency.
fn report(what: &str, phases: &[(&str, Instant)], seen: &Latencies) {
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    for pair in phases.windows(2) {
        let (name, from) = pair[0];
        let to = pair[1].1;
        let mut lat: Vec<Duration> = seen
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, l)| *l)
            .collect();
        lat.sort_unstable();
        let pick = |q: usize| lat.get((lat.len() * q / 100).min(lat.len().saturating_sub(1)));
        let ms = |d: Option<&Duration>| d.map_or(0, Duration::as_millis);
        let secs = (to - from).as_millis().max(1);
        let tenths = lat.len() as u128 * 10_000 / secs;
        eprintln!(
            "fault {name}: {} {what} committed in {} s ({}.{} tx/s), latency p50 {} ms, p99 {} ms",
            lat.len(),
            secs / 1000,
            tenths / 10,
            tenths % 10,
            ms(pick(50)),
            ms(pick(99))
        );
    }
}

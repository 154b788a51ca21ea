//! Starting and stopping the localnet's processes, and reading their status.
//!
//! `start` launches one `taod` and one `cometbft` per node in their own process groups
//! (they outlive the CLI), logs to `node{i}/*.log`, and records every pid in `pids.json`.
//! `stop` signals exactly those pids, after checking that each still runs the binary we
//! started (a recycled pid is left alone).

use std::fs::File;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use taochain_client::Client;

use crate::{LocalnetError, LocalnetSpec, node_home};

/// One launched process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Launched {
    /// Node index.
    pub node: usize,
    /// `taod` or `cometbft`.
    pub kind: String,
    /// OS pid.
    pub pid: u32,
}

fn pids_path(home: &Path) -> PathBuf {
    home.join("pids.json")
}

/// The processes recorded in `pids.json` (empty if none).
pub fn recorded(home: &Path) -> Vec<Launched> {
    std::fs::read(pids_path(home))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save(home: &Path, launched: &[Launched]) -> Result<(), LocalnetError> {
    let path = pids_path(home);
    let json = serde_json::to_vec_pretty(launched)
        .map_err(|e| LocalnetError::Corrupt(path.clone(), e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| LocalnetError::io(&path, e))
}

/// Whether `pid` has fully exited: gone, or a zombie none of whose threads still runs
/// (a killed process's threads can outlive its main thread for a moment, holding its
/// files, e.g. RocksDB's lock).
pub fn is_gone(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit(')')
        .next()
        .is_some_and(|rest| rest.trim_start().starts_with('Z'));
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count());
    stat.is_empty() || (zombie && threads <= 1)
}

/// Whether `pid` is alive and still runs a binary named `kind`.
pub fn is_ours(pid: u32, kind: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit(')')
        .next()
        .is_some_and(|rest| rest.trim_start().starts_with('Z'));
    !zombie && String::from_utf8_lossy(argv0).ends_with(kind)
}

fn spawn(
    bin: &Path,
    args: &[&str],
    log: &Path,
    home: &Path,
    env: &[(&str, &str)],
) -> Result<u32, LocalnetError> {
    // Appended: a restarted node's log keeps what happened before.
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| LocalnetError::io(log, e))?;
    let err = out.try_clone().map_err(|e| LocalnetError::io(log, e))?;
    let child = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| LocalnetError::Command {
            command: bin.display().to_string(),
            detail: e.to_string(),
        })?;
    Ok(child.id())
}

fn wait_port(port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Starts node `i` (taod, then cometbft once the ABCI socket listens).
pub fn start_node(
    home: &Path,
    spec: &LocalnetSpec,
    i: usize,
) -> Result<Vec<Launched>, LocalnetError> {
    start_node_with_env(home, spec, i, &[])
}

/// [`start_node`] with extra environment for taod (e.g. `TAOD_CRASH_AT` in tests).
pub fn start_node_with_env(
    home: &Path,
    spec: &LocalnetSpec,
    i: usize,
    taod_env: &[(&str, &str)],
) -> Result<Vec<Launched>, LocalnetError> {
    let nh = node_home(home, i);
    let ports = spec.ports(i);
    let taod_home = nh.join("taod").to_string_lossy().into_owned();
    let abci = format!("127.0.0.1:{}", ports.abci);
    let metrics = format!("127.0.0.1:{}", ports.metrics);
    let interval = crate::SNAPSHOT_INTERVAL.to_string();
    let chunk = crate::SNAPSHOT_CHUNK_BYTES.to_string();
    let log_format = if spec.log_format == "json" {
        "json"
    } else {
        "text"
    };
    let mut args = vec![
        "--log-format",
        log_format,
        "start",
        "--home",
        &taod_home,
        "--abci",
        &abci,
        "--metrics",
        &metrics,
        "--snapshot-interval",
        &interval,
        "--snapshot-chunk-bytes",
        &chunk,
        // Snapshots come often on a localnet: keep enough that one a joining node
        // has picked is still there when it asks for the chunks.
        "--snapshot-keep",
        "10",
    ];
    if spec.audit {
        args.push("--audit");
    }
    let taod_pid = spawn(&spec.taod, &args, &nh.join("taod.log"), home, taod_env)?;
    if !wait_port(ports.abci, Duration::from_secs(20)) {
        return Err(LocalnetError::Timeout(format!(
            "taod of node{i} did not listen on {abci}; see {}",
            nh.join("taod.log").display()
        )));
    }
    let comet_pid = spawn(
        &spec.cometbft,
        &["start", "--home", &nh.to_string_lossy()],
        &nh.join("cometbft.log"),
        home,
        &[],
    )?;
    Ok(vec![
        Launched {
            node: i,
            kind: "taod".into(),
            pid: taod_pid,
        },
        Launched {
            node: i,
            kind: "cometbft".into(),
            pid: comet_pid,
        },
    ])
}

/// Refuses when processes from an earlier start at `home` still run.
fn refuse_if_running(home: &Path) -> Result<(), LocalnetError> {
    if recorded(home).iter().any(|l| is_ours(l.pid, &l.kind)) {
        return Err(LocalnetError::AlreadyRunning(home.into()));
    }
    Ok(())
}

/// Starts every node's `cometbft` with its built-in `kvstore` app instead of taod (no
/// signatures, no state tree: the fastest app CometBFT drives; `tao bench load
/// --compare-kvstore` measures against it). Same homes, ports and settings.
pub fn start_kvstore(home: &Path, spec: &LocalnetSpec) -> Result<Vec<Launched>, LocalnetError> {
    let mut all = vec![];
    for i in 0..spec.nodes() {
        let nh = node_home(home, i);
        let pid = spawn(
            &spec.cometbft,
            &[
                "start",
                "--home",
                &nh.to_string_lossy(),
                "--proxy_app",
                "kvstore",
            ],
            &nh.join("cometbft.log"),
            home,
            &[],
        )?;
        all.push(Launched {
            node: i,
            kind: "cometbft".into(),
            pid,
        });
        save(home, &all)?;
    }
    Ok(all)
}

/// Starts every node; refuses if processes from an earlier `start` still run.
pub fn start(home: &Path, spec: &LocalnetSpec) -> Result<Vec<Launched>, LocalnetError> {
    refuse_if_running(home)?;
    let mut all = vec![];
    for i in 0..spec.nodes() {
        match start_node(home, spec, i) {
            Ok(l) => {
                all.extend(l);
                save(home, &all)?;
            }
            Err(e) => {
                stop(home)?;
                return Err(e);
            }
        }
    }
    Ok(all)
}

/// Records a process started outside [`start`] (e.g. a restarted node) in `pids.json`.
pub fn record(home: &Path, launched: &[Launched]) -> Result<(), LocalnetError> {
    let mut all: Vec<Launched> = recorded(home)
        .into_iter()
        .filter(|l| {
            !launched
                .iter()
                .any(|n| n.node == l.node && n.kind == l.kind)
        })
        .collect();
    all.extend_from_slice(launched);
    save(home, &all)
}

/// Sends `signal` (e.g. `TERM`, `KILL`) to one recorded process if it is still ours.
pub fn signal(launched: &Launched, signal: &str) -> Result<bool, LocalnetError> {
    if !is_ours(launched.pid, &launched.kind) {
        return Ok(false);
    }
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(launched.pid.to_string())
        .status()
        .map_err(|e| LocalnetError::Command {
            command: "kill".into(),
            detail: e.to_string(),
        })?;
    Ok(status.success())
}

/// Stops every recorded process (TERM, then KILL after 10 s). Returns how many ran.
pub fn stop(home: &Path) -> Result<usize, LocalnetError> {
    let launched = recorded(home);
    // cometbft first, so it does not see its app vanish mid-block.
    let mut order: Vec<&Launched> = launched.iter().filter(|l| l.kind == "cometbft").collect();
    order.extend(launched.iter().filter(|l| l.kind != "cometbft"));
    let mut stopped = 0;
    for l in order {
        if signal(l, "TERM")? {
            stopped += 1;
            let start = Instant::now();
            while is_ours(l.pid, &l.kind) && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
            signal(l, "KILL")?;
            // Until every thread is gone: a zombie's other threads can still hold RocksDB's
            // lock, and a `start` right after would meet it.
            let start = Instant::now();
            while !is_gone(l.pid) && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let _ = std::fs::remove_file(pids_path(home));
    Ok(stopped)
}

/// One node's view, for `tao localnet status`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// Index.
    pub node: usize,
    /// RPC URL.
    pub rpc: String,
    /// Latest height (None when unreachable).
    pub height: Option<u64>,
    /// App hash at that height.
    pub app_hash: Option<String>,
    /// Connected peers.
    pub peers: Option<u64>,
    /// Whether both processes run.
    pub running: bool,
}

/// Every node's status.
pub fn status(home: &Path, spec: &LocalnetSpec) -> Vec<NodeStatus> {
    let launched = recorded(home);
    spec.all_ports()
        .into_iter()
        .map(|p| {
            let client = Client::new(&p.rpc_url());
            let st = client.status().ok();
            let running = ["taod", "cometbft"].iter().all(|k| {
                launched
                    .iter()
                    .any(|l| l.node == p.index && l.kind == *k && is_ours(l.pid, k))
            });
            NodeStatus {
                node: p.index,
                rpc: p.rpc_url(),
                height: st.as_ref().map(|s| s.height),
                app_hash: st.map(|s| s.app_hash),
                peers: client.rpc().peers().ok(),
                running,
            }
        })
        .collect()
}

/// Waits until every node in `nodes` reports a height `>= height`; `progress` is called
/// with the lowest height seen.
pub fn wait_for_height(
    spec: &LocalnetSpec,
    nodes: &[usize],
    height: u64,
    timeout: Duration,
    mut progress: impl FnMut(u64),
) -> Result<(), LocalnetError> {
    let start = Instant::now();
    loop {
        let lowest = nodes
            .iter()
            .map(|i| {
                Client::new(&spec.ports(*i).rpc_url())
                    .status()
                    .map(|s| s.height)
                    .unwrap_or(0)
            })
            .min()
            .unwrap_or(0);
        progress(lowest);
        if lowest >= height {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(LocalnetError::Timeout(format!(
                "nodes {nodes:?} did not reach height {height} in {timeout:?} (lowest {lowest})"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

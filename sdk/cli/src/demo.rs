//! The demo network `tao localnet up` brings up after the chain (`--bare` skips it): the
//! three AI subnets and the matmul market, created and joined by ordinary signed
//! transactions (the `tao` CLI for subnets, the client SDK for registrations and stake);
//! then the neurons as processes of this binary: per AI subnet a reference, a noisy and a
//! lazy miner and two staked validators, a gateway, a user asking a question every few
//! seconds, a matmul requester and miner, and the explorer. Every process is recorded in
//! `neurons.json` beside the nodes' `pids.json`; `status` shows each one's role, pid and
//! state, `down` stops exactly them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use taochain_client::Client;
use taochain_localnet::LocalnetSpec;
use taochain_localnet::process::is_ours;
use taochain_primitives::{Address, Msg, RAO_PER_TAO};

use crate::Ctx;

/// One neuron process of the demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Neuron {
    /// A unique name (`miner-reference-1`, `gateway`, ...).
    pub name: String,
    /// What it does.
    pub role: String,
    /// OS pid.
    pub pid: u32,
    /// Its log file.
    pub log: PathBuf,
}

impl Neuron {
    /// Whether it still runs (and is still a `tao` process).
    pub fn running(&self) -> bool {
        is_ours(self.pid, "tao")
    }
}

fn neurons_path(home: &Path) -> PathBuf {
    home.join("neurons.json")
}

/// The recorded demo processes (empty without a demo).
pub fn recorded(home: &Path) -> Vec<Neuron> {
    std::fs::read(neurons_path(home))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Stops every recorded demo process (TERM, then KILL after 10 s); how many ran.
pub fn stop(home: &Path) -> usize {
    let all = recorded(home);
    let running: Vec<&Neuron> = all.iter().filter(|n| n.running()).collect();
    for n in &running {
        let _ = Command::new("kill").arg(n.pid.to_string()).status();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while running.iter().any(|n| n.running()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for n in running.iter().filter(|n| n.running()) {
        let _ = Command::new("kill")
            .args(["-KILL", &n.pid.to_string()])
            .status();
    }
    let _ = std::fs::remove_file(neurons_path(home));
    running.len()
}

/// The three AI subnets: (netuid, task, owner).
const AI: [(u16, &str, usize); 3] = [
    (1, "speech-to-text", 0),
    (2, "image-to-text", 6),
    (3, "text-correction", 7),
];
/// The matmul market's netuid and owner (also its requester).
const MARKET: (u16, usize) = (4, 8);
/// Validators (dev index, stake in TAO) and the nominator (dev 9, on dev1).
const VALIDATORS: [(usize, u64); 2] = [(1, 200), (2, 100)];
/// Miners: (dev index, kind).
const MINERS: [(usize, &str); 3] = [(3, "reference"), (4, "noisy"), (5, "lazy")];
/// The user who pays for answers.
const USER: usize = 9;
/// The gateway's validator.
const GATEWAY: usize = 2;

/// Addresses printed at the end: the explorer and the gateway.
pub struct Demo {
    /// The explorer's URL.
    pub explorer: String,
    /// The gateway's URL.
    pub gateway: String,
    /// Processes started.
    pub neurons: usize,
}

struct Setup<'a> {
    ctx: &'a Ctx,
    home: &'a Path,
    node: String,
    client: Client,
    keys: Vec<SigningKey>,
}

impl Setup<'_> {
    fn addr(&self, i: usize) -> Address {
        taochain_client::keys::address_of(&self.keys[i])
    }

    /// `tao ARGS` against the localnet, waited for; its stdout.
    fn tao(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(std::env::current_exe()?)
            .arg("--tao-home")
            .arg(&self.ctx.home)
            .args(["--node", &self.node, "--output", "json"])
            .args(args)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        anyhow::ensure!(
            out.status.success(),
            "tao {}: {}{}",
            args.join(" "),
            text,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(text)
    }

    fn send(&self, i: usize, msgs: Vec<Msg>) -> anyhow::Result<()> {
        self.client.send(&self.keys[i], msgs, None)?;
        Ok(())
    }

    /// The subnets, validators, nominator and miners, unless a demo set them up already
    /// (a chain with some of netuids 1-3 but not all was not made by the demo: refused).
    fn chain(&self) -> anyhow::Result<()> {
        let mut present = 0;
        for (netuid, _, _) in AI {
            if !self
                .client
                .query_raw(&format!("/subnet/{netuid}"), 0)?
                .is_empty()
            {
                present += 1;
            }
        }
        if present == AI.len() {
            return Ok(());
        }
        anyhow::ensure!(
            present == 0,
            "this chain has some of netuids 1-3 but not all: not a demo chain (start a new home, or pass --bare)"
        );
        for (netuid, task, owner) in AI {
            let who = format!("dev{owner}");
            self.tao(&[
                "subnet",
                "create",
                "--from",
                &who,
                "--hotkey",
                &who,
                "--task",
                task,
                "--challenge-timeout-ms",
                "15000",
                "--set",
                "tempo=30",
                "--set",
                "weights_rate_limit=0",
                "--set",
                "max_allowed_validators=3",
            ])
            .with_context(|| format!("creating netuid {netuid}"))?;
        }
        let wasm = PathBuf::from(std::env::var("TAOCHAIN_CONTRACTS_DIR").unwrap_or_default())
            .join("matmul_market.wasm");
        let owner = format!("dev{}", MARKET.1);
        if wasm.is_file() {
            let stored: serde_json::Value = serde_json::from_str(&self.tao(&[
                "contract",
                "store",
                &wasm.to_string_lossy(),
                "--from",
                &owner,
            ])?)?;
            let data = hex::decode(stored["data"].as_str().unwrap_or_default())?;
            let code = data
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .context("no code id in the store result")?
                .to_string();
            self.tao(&[
                "subnet",
                "create",
                "--from",
                &owner,
                "--hotkey",
                &owner,
                "--code-id",
                &code,
                "--set",
                "tempo=30",
            ])?;
        }
        for (v, stake) in VALIDATORS {
            let me = self.addr(v);
            let mut msgs: Vec<Msg> = AI
                .iter()
                .map(|(netuid, _, _)| Msg::BurnedRegister {
                    netuid: *netuid,
                    hotkey: me,
                })
                .collect();
            msgs.push(Msg::AddStake {
                hotkey: me,
                amount: stake * RAO_PER_TAO,
            });
            self.send(v, msgs)?;
        }
        self.send(
            USER,
            vec![Msg::AddStake {
                hotkey: self.addr(1),
                amount: 50 * RAO_PER_TAO,
            }],
        )?;
        for (m, _) in MINERS {
            let me = self.addr(m);
            let mut netuids: Vec<u16> = AI.iter().map(|a| a.0).collect();
            if wasm.is_file() && m == MINERS[0].0 {
                netuids.push(MARKET.0);
            }
            let msgs = netuids
                .into_iter()
                .map(|netuid| Msg::BurnedRegister { netuid, hotkey: me })
                .collect();
            self.send(m, msgs)?;
        }
        Ok(())
    }

    /// A model script for `kind` of `task` under the home.
    fn model(&self, task: &str, kind: &str) -> anyhow::Result<String> {
        let dir = self.home.join("models");
        std::fs::create_dir_all(&dir)?;
        let tao = std::env::current_exe()?;
        let tao = tao.display();
        let body = match kind {
            "reference" => format!("exec {tao} model run --task {task} \"$1\""),
            // Every third word wrong.
            "noisy" => format!(
                "out=$({tao} model run --task {task} \"$1\") || exit 1\necho \"$out\" | awk '{{for (i = 2; i <= NF; i += 3) $i = \"zzz\"; print}}'"
            ),
            _ => "echo the quick brown fox".into(),
        };
        let path = dir.join(format!("{task}-{kind}.sh"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n"))?;
        Command::new("chmod").arg("+x").arg(&path).status()?;
        Ok(path.to_string_lossy().into_owned())
    }
}

/// Starts `tao ARGS` in its own process group, logging to `neurons/{name}.log`, reading
/// from node `node` (the processes are spread over the nodes' RPCs).
fn spawn_at(
    s: &Setup<'_>,
    node: &str,
    name: &str,
    role: &str,
    args: &[&str],
) -> anyhow::Result<Neuron> {
    use std::os::unix::process::CommandExt;
    let dir = s.home.join("neurons");
    std::fs::create_dir_all(&dir)?;
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log)?;
    let child = Command::new(std::env::current_exe()?)
        .arg("--tao-home")
        .arg(&s.ctx.home)
        .args(["--node", node])
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    Ok(Neuron {
        name: name.into(),
        role: role.into(),
        pid: child.id(),
        log,
    })
}

/// Sets up the demo on the running localnet at `home` and starts its processes.
pub fn start(ctx: &Ctx, home: &Path, spec: &LocalnetSpec) -> anyhow::Result<Demo> {
    // The ports after the nodes' (node i: base + 10i + 0..=2).
    let base = spec
        .base_port
        .saturating_add(10 * spec.validators as u16 + 10);
    let explorer = format!("127.0.0.1:{base}");
    let gateway = format!("127.0.0.1:{}", base.saturating_add(1));
    if recorded(home).iter().any(Neuron::running) {
        anyhow::bail!("the demo already runs (tao localnet status; tao localnet down)");
    }
    let ks = ctx.keystore()?;
    let keys = (0..10)
        .map(|i| ks.signing_key(&format!("dev{i}"), None))
        .collect::<Result<Vec<_>, _>>()
        .context("the demo needs dev0..dev9 (tao localnet up --dev-accounts 10 or more)")?;
    let node = spec.ports(0).rpc_url();
    let s = Setup {
        ctx,
        home,
        client: Client::new(&node),
        node,
        keys,
    };
    s.chain()?;
    let rpcs: Vec<String> = (0..spec.validators)
        .map(|i| spec.ports(i).rpc_url())
        .collect();
    let mut next = 0usize;
    let mut all: Vec<Neuron> = vec![];
    // Recorded after every start, so `down` stops whatever started even if a later step
    // fails.
    let mut spawn = |s: &Setup<'_>, name: &str, role: &str, args: &[&str]| -> anyhow::Result<()> {
        next += 1;
        all.push(spawn_at(s, &rpcs[next % rpcs.len()], name, role, args)?);
        std::fs::write(neurons_path(home), serde_json::to_vec_pretty(&all)?)?;
        Ok(())
    };
    spawn(
        &s,
        "explorer",
        "explorer",
        &["explorer", "--listen", &explorer],
    )?;
    let mut port = base.saturating_add(2);
    for (netuid, task, _) in AI {
        let n = netuid.to_string();
        for (m, kind) in MINERS {
            let (model, listen, hotkey) = (
                s.model(task, kind)?,
                format!("127.0.0.1:{port}"),
                format!("dev{m}"),
            );
            port = port.saturating_add(1);
            let args = [
                "miner", "serve", "--netuid", &n, "--hotkey", &hotkey, "--listen", &listen,
                "--model", &model,
            ];
            spawn(
                &s,
                &format!("miner-{kind}-{netuid}"),
                &format!("{kind} miner, {task}"),
                &args,
            )?;
        }
        for (v, _) in VALIDATORS {
            let hotkey = format!("dev{v}");
            let args = [
                "validator",
                "run",
                "--netuid",
                &n,
                "--hotkey",
                &hotkey,
                "--interval-ms",
                "10000",
            ];
            spawn(
                &s,
                &format!("validator-{v}-{netuid}"),
                &format!("validator, {task}"),
                &args,
            )?;
        }
    }
    let gw_hotkey = format!("dev{GATEWAY}");
    spawn(
        &s,
        "gateway",
        "gateway (netuids 1-3)",
        &[
            "gateway",
            "serve",
            "--netuid",
            "1",
            "--netuid",
            "2",
            "--netuid",
            "3",
            "--hotkey",
            &gw_hotkey,
            "--listen",
            &gateway,
            "--price",
            "0.01TAO",
            "--redeem-every-blocks",
            "20",
        ],
    )?;
    let gw_url = format!("http://{gateway}");
    let user = format!("dev{USER}");
    spawn(
        &s,
        "user",
        "user asking every 8 s",
        &[
            "localnet",
            "demo-user",
            "--from",
            &user,
            "--gateway",
            &gw_url,
            "--every-ms",
            "8000",
        ],
    )?;
    if !s.client.query_raw("/subnet/4", 0)?.is_empty() {
        let (market, miner, requester) = (
            MARKET.0.to_string(),
            format!("dev{}", MINERS[0].0),
            format!("dev{}", MARKET.1),
        );
        spawn(
            &s,
            "matmul-miner",
            "matmul miner",
            &["miner", "run", "--from", &miner, "--netuid", &market],
        )?;
        spawn(
            &s,
            "matmul-requester",
            "matmul requester every 60 s",
            &[
                "localnet",
                "demo-requester",
                "--from",
                &requester,
                "--netuid",
                &market,
                "--every-ms",
                "60000",
            ],
        )?;
    }
    Ok(Demo {
        explorer: format!("http://{explorer}"),
        gateway: gw_url,
        neurons: recorded(home).len(),
    })
}

/// `tao localnet demo-user`: a question every `every`, round-robin over the three tasks,
/// through `tao ai ask` (which opens channels as needed).
pub fn user_loop(ctx: &Ctx, from: &str, gateway: &str, every: Duration) -> anyhow::Result<()> {
    use taochain_arena_msg::TaskKind;
    let dir = tempfile::tempdir()?;
    for i in 0u64.. {
        let kind = TaskKind::ALL[(i % 3) as usize];
        let c = taochain_tasks::challenge(kind, &mut rand::rngs::OsRng)?;
        let file = dir.path().join(format!("q.{}", c.ext));
        std::fs::write(&file, &c.input)?;
        let netuid = AI[(i % 3) as usize].0.to_string();
        let out = Command::new(std::env::current_exe()?)
            .arg("--tao-home")
            .arg(&ctx.home)
            .args([
                "--node",
                &ctx.node,
                "ai",
                "ask",
                "--from",
                from,
                "--gateway",
                gateway,
                "--deposit",
                "5TAO",
                "--netuid",
                &netuid,
            ])
            .arg("--file")
            .arg(&file)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        println!(
            "user: asked {} (truth: {}): {}{}",
            kind.name(),
            c.truth,
            text.trim().replace('\n', " | "),
            err.trim()
        );
        std::thread::sleep(every);
    }
    Ok(())
}

/// `tao localnet demo-requester`: a 64x64 matmul job every `every`.
pub fn requester_loop(ctx: &Ctx, from: &str, netuid: u16, every: Duration) -> anyhow::Result<()> {
    use taochain_work::Matrix;
    let dir = tempfile::tempdir()?;
    for i in 0u64.. {
        let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
        taochain_work::npy::write(&a, &Matrix::<i8>::pseudo_random(64, 64, 2 * i + 1))?;
        taochain_work::npy::write(&b, &Matrix::<i8>::pseudo_random(64, 64, 2 * i + 2))?;
        let out = Command::new(std::env::current_exe()?)
            .arg("--tao-home")
            .arg(&ctx.home)
            .args([
                "--node",
                &ctx.node,
                "job",
                "post",
                "--from",
                from,
                "--netuid",
                &netuid.to_string(),
                "--bounty",
                "1TAO",
            ])
            .arg("--a")
            .arg(&a)
            .arg("--b")
            .arg(&b)
            .output()?;
        println!(
            "requester: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        std::thread::sleep(every);
    }
    Ok(())
}

//! The AI arena on the real 4-validator localnet: `tao subnet create --task` for the three
//! tasks, miners started with `tao miner serve` around real models (the reference model
//! `tao model run`, a noisy one, one that prints a fixed sentence, one that sleeps past the
//! timeout), validators started with `tao validator run`. After their rounds and the
//! epochs that follow, the metagraph's incentive orders the miners by quality, the sleeper
//! earns nothing, the reference miner's balance grew by exactly its emission (its Yuma
//! share of the miners' 41%), the validators earn dividends, bad requests to a real axon
//! are refused without a model call, and all four nodes agree on the app hash.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use taochain_client::{Client, Keystore};
use taochain_primitives::subnet::{Neuron, SubnetInfo};
use taochain_primitives::{Account, Address, Msg, RAO_PER_TAO};

use crate::localnet::{assert_validators_agree, base_port, start, tao_json};

pub(crate) fn get<T: borsh::BorshDeserialize>(c: &Client, path: &str, height: u64) -> Option<T> {
    let raw = c.query_raw(path, height).expect("query");
    (!raw.is_empty()).then(|| borsh::from_slice(&raw).expect("decodes"))
}

pub(crate) fn balance_at(c: &Client, a: &Address, h: u64) -> u64 {
    get::<Account>(c, &format!("/account/{a}"), h).map_or(0, |a| a.balance)
}

/// Child processes killed (SIGTERM, then waited) when the test ends, pass or fail.
pub(crate) struct Procs(pub(crate) Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = Command::new("kill")
                .arg(c.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

pub(crate) struct Arena {
    pub(crate) home: PathBuf,
    pub(crate) node: String,
    pub(crate) c: Client,
    pub(crate) keys: Vec<SigningKey>,
    pub(crate) procs: Procs,
    pub(crate) next_port: u16,
}

/// A subnet under test: its netuid, validators (dev index), miners (dev index, name).
pub(crate) struct Subnet {
    pub(crate) netuid: u16,
    pub(crate) validators: Vec<usize>,
    pub(crate) miners: Vec<(usize, &'static str)>,
}

impl Arena {
    /// The arena of a running localnet with `keys` dev accounts; axons and gateways listen
    /// from port `next_port` up.
    pub(crate) fn new(net: &crate::localnet::Running, keys: usize, next_port: u16) -> Arena {
        let ks = Keystore::open(net.home.join("keys")).expect("keystore");
        let keys = (0..keys)
            .map(|i| ks.signing_key(&format!("dev{i}"), None).expect("dev key"))
            .collect();
        Arena {
            home: net.home.clone(),
            node: net.node.clone(),
            c: Client::new(&net.node),
            keys,
            procs: Procs(vec![]),
            next_port,
        }
    }

    pub(crate) fn addr(&self, i: usize) -> Address {
        Address::from_public_key(&self.keys[i].verifying_key().to_bytes())
    }

    pub(crate) fn tao(&self, args: &[&str]) -> Value {
        let mut all = vec!["--node", self.node.as_str()];
        all.extend(args);
        tao_json(&self.home, &all)
    }

    pub(crate) fn send(&self, i: usize, msgs: Vec<Msg>) {
        self.c
            .send(&self.keys[i], msgs, None)
            .expect("transaction succeeds");
    }

    pub(crate) fn subnet(&self, netuid: u16) -> SubnetInfo {
        get(&self.c, &format!("/subnet/{netuid}"), 0).expect("subnet")
    }

    pub(crate) fn wait_epochs(&self, netuid: u16, n: usize) {
        let mut last = self.subnet(netuid).last_epoch;
        for _ in 0..n {
            let deadline = Instant::now() + Duration::from_secs(120);
            while self.subnet(netuid).last_epoch == last {
                assert!(Instant::now() < deadline, "no epoch on subnet {netuid}");
                std::thread::sleep(Duration::from_millis(200));
            }
            last = self.subnet(netuid).last_epoch;
        }
    }

    pub(crate) fn metagraph(&self, netuid: u16) -> Vec<Value> {
        let mg = self.tao(&["metagraph", &netuid.to_string()]);
        mg.as_array().expect("rows").clone()
    }

    /// A model script: counts its calls in `calls-{name}`, then runs `body` ($1: input).
    pub(crate) fn model(&self, name: &str, body: &str) -> String {
        let path = self.home.join(format!("model-{name}.sh"));
        let calls = self.home.join(format!("calls-{name}"));
        let script = format!("#!/bin/sh\necho x >> '{}'\n{body}\n", calls.display());
        std::fs::write(&path, script).expect("script");
        let ok = Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .expect("chmod");
        assert!(ok.success());
        path.to_string_lossy().into_owned()
    }

    pub(crate) fn calls(&self, name: &str) -> usize {
        std::fs::read_to_string(self.home.join(format!("calls-{name}")))
            .map_or(0, |s| s.lines().count())
    }

    /// `tao` as a background process logging to `log-{name}`.
    pub(crate) fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.home.join(format!("log-{name}"))).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_tao"))
            .arg("--tao-home")
            .arg(&self.home)
            .args(["--node", &self.node])
            .args(args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("tao starts");
        self.procs.0.push(child);
    }

    pub(crate) fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.home.join(format!("log-{name}"))).unwrap_or_default()
    }

    /// Creates an arena subnet owned by dev `owner` through `tao subnet create --task`,
    /// registers validators (with stake) and miners, waits for the validators' permits.
    pub(crate) fn create(
        &self,
        owner: usize,
        task: &str,
        timeout_ms: u32,
        s: &Subnet,
        extra: &[&str],
    ) {
        self.register(owner, task, timeout_ms, s, extra);
        self.await_permits(s);
    }

    /// [`Arena::create`] without waiting for the permits.
    pub(crate) fn register(
        &self,
        owner: usize,
        task: &str,
        timeout_ms: u32,
        s: &Subnet,
        extra: &[&str],
    ) {
        let validators = format!("max_allowed_validators={}", s.validators.len());
        let (who, timeout) = (format!("dev{owner}"), timeout_ms.to_string());
        let mut args = vec![
            "subnet",
            "create",
            "--from",
            &who,
            "--hotkey",
            &who,
            "--task",
            task,
            "--challenge-timeout-ms",
            &timeout,
            "--score-smoothing-ppm",
            "500000",
            "--set",
            "tempo=10",
            "--set",
            "weights_rate_limit=0",
            "--set",
            &validators,
        ];
        for e in extra {
            args.extend(["--set", e]);
        }
        let out = self.tao(&args);
        assert!(out["height"].as_u64().is_some(), "{out}");
        assert_eq!(self.subnet(s.netuid).owner, self.addr(owner));
        for (k, &v) in s.validators.iter().enumerate() {
            let me = self.addr(v);
            self.send(
                v,
                vec![
                    Msg::BurnedRegister {
                        netuid: s.netuid,
                        hotkey: me,
                    },
                    Msg::AddStake {
                        hotkey: me,
                        amount: (k as u64 + 1) * 100 * RAO_PER_TAO,
                    },
                ],
            );
        }
        for &(m, _) in &s.miners {
            let me = self.addr(m);
            self.send(
                m,
                vec![Msg::BurnedRegister {
                    netuid: s.netuid,
                    hotkey: me,
                }],
            );
        }
    }

    /// Waits until every validator of `s` holds a permit.
    pub(crate) fn await_permits(&self, s: &Subnet) {
        // Stake is pending until the next epoch; permits come from the one after.
        self.wait_epochs(s.netuid, 2);
        let rows = self.metagraph(s.netuid);
        for &v in &s.validators {
            let row = rows
                .iter()
                .find(|r| r["hotkey"] == self.addr(v).to_string())
                .expect("validator row");
            assert_eq!(row["permit"], true, "{rows:?}");
        }
    }

    /// Starts `tao miner serve` for each miner with its model; waits for every axon.
    pub(crate) fn serve(&mut self, s: &Subnet, models: &[String]) {
        for (&(m, name), model) in s.miners.iter().zip(models) {
            let listen = format!("127.0.0.1:{}", self.next_port);
            self.next_port += 1;
            let (netuid, hotkey) = (s.netuid.to_string(), format!("dev{m}"));
            self.spawn(
                &format!("miner-{name}"),
                &[
                    "miner", "serve", "--netuid", &netuid, "--hotkey", &hotkey, "--listen",
                    &listen, "--model", model,
                ],
            );
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let rows = self.metagraph(s.netuid);
            let served = s
                .miners
                .iter()
                .filter(|(m, _)| {
                    rows.iter()
                        .any(|r| r["hotkey"] == self.addr(*m).to_string() && r["axon"].is_object())
                })
                .count();
            if served == s.miners.len() {
                return;
            }
            let logs: Vec<String> = s
                .miners
                .iter()
                .map(|(_, n)| self.log(&format!("miner-{n}")))
                .collect();
            assert!(Instant::now() < deadline, "axons not served: {logs:?}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Runs `tao validator run --rounds` for each validator concurrently; waits for all.
    pub(crate) fn validate(&mut self, s: &Subnet, rounds: u64) {
        let first = self.procs.0.len();
        for &v in &s.validators {
            let (netuid, hotkey, r) = (s.netuid.to_string(), format!("dev{v}"), rounds.to_string());
            self.spawn(
                &format!("validator-{}-{v}", s.netuid),
                &[
                    "validator",
                    "run",
                    "--netuid",
                    &netuid,
                    "--hotkey",
                    &hotkey,
                    "--rounds",
                    &r,
                    "--interval-ms",
                    "300",
                ],
            );
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        for (i, &v) in s.validators.iter().enumerate() {
            let child = &mut self.procs.0[first + i];
            let status = loop {
                if let Some(st) = child.try_wait().expect("wait") {
                    break st;
                }
                assert!(Instant::now() < deadline, "validator dev{v} did not finish");
                std::thread::sleep(Duration::from_millis(300));
            };
            let log = self.log(&format!("validator-{}-{v}", s.netuid));
            assert!(status.success(), "validator dev{v} failed:\n{log}");
            assert!(log.contains("round 1:") && log.contains("weights"), "{log}");
        }
    }

    /// The incentive of each miner, in `s.miners` order.
    pub(crate) fn incentives(&self, s: &Subnet) -> Vec<u64> {
        let rows = self.metagraph(s.netuid);
        s.miners
            .iter()
            .map(|(m, _)| {
                rows.iter()
                    .find(|r| r["hotkey"] == self.addr(*m).to_string())
                    .and_then(|r| r["incentive"].as_u64())
                    .expect("miner row")
            })
            .collect()
    }
}

/// The pot of `netuid`'s epoch in block `height`, from the block's `epoch` event.
/// Block `height` as the explorer shows it (`taochain_explorer::views`: its transactions
/// with code, gas and events, and its FinalizeBlock events).
pub(crate) fn block(c: &Client, height: u64) -> Value {
    taochain_explorer::views::Source::new(c.rpc().url(), &[])
        .block(height)
        .expect("block")
}

pub(crate) fn successful(b: &Value) -> impl Iterator<Item = &Value> {
    b["txs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["code"] == 0)
}

/// A block's events (successful transactions' and FinalizeBlock's): `(type, attributes)`.
pub(crate) fn block_events(c: &Client, height: u64) -> Vec<(String, BTreeMap<String, String>)> {
    let b = block(c, height);
    let tx_events = successful(&b).flat_map(|t| t["events"].as_array().into_iter().flatten());
    tx_events
        .chain(b["events"].as_array().into_iter().flatten())
        .map(|e| {
            let attrs = serde_json::from_value(e["attributes"].clone()).expect("attributes");
            (e["type"].as_str().unwrap_or_default().to_string(), attrs)
        })
        .collect()
}

pub(crate) fn epoch_pot(c: &Client, netuid: u16, height: u64) -> u64 {
    let events = block_events(c, height);
    let pot = events
        .iter()
        .filter(|(t, e)| t == "epoch" && e.get("netuid") == Some(&netuid.to_string()))
        .find_map(|(_, e)| e.get("pot").and_then(|p| p.parse().ok()));
    pot.unwrap_or_else(|| unreachable!("no epoch of netuid {netuid} in block {height}: {events:?}"))
}

pub(crate) fn tao_bin() -> String {
    env!("CARGO_BIN_EXE_tao").to_string()
}

/// An unsigned request and a request signed by a non-validator to a real axon: each a 4xx
/// with its reason, and the model is not called.
fn bad_requests_are_refused_without_a_model_call(
    a: &Arena,
    endpoint: &str,
    netuid: u16,
    model: &str,
) {
    let before = a.calls(model);
    let url = format!("{endpoint}/v1/subnets/{netuid}/challenge");
    let post = |headers: &[(&str, String)], body: &str| {
        let mut req = ureq::post(&url);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        match req.send_string(body) {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => unreachable!("transport: {e}"),
        }
    };
    let body = r#"{"task":"speech-to-text","input":""}"#;
    let (code, why) = post(&[], body);
    assert_eq!(code, 401, "{why}");
    assert!(why.contains("unsigned"), "{why}");
    // Signed by a key that is registered nowhere.
    let stranger = SigningKey::from_bytes(&[77; 32]);
    let miner: Address = a
        .metagraph(netuid)
        .iter()
        .find(|r| r["axon"]["endpoint"] == endpoint)
        .and_then(|r| r["hotkey"].as_str().and_then(|h| h.parse().ok()))
        .expect("miner row");
    let now = taochain_neuron::wire::now_ms();
    let chain_id = a.c.status().expect("status").chain_id;
    let auth = taochain_neuron::wire::RequestAuth::sign(
        &stranger,
        &chain_id,
        netuid,
        &miner,
        body.as_bytes(),
        1,
        now,
    );
    let (code, why) = post(&auth.headers(), body);
    assert_eq!(code, 403, "{why}");
    assert!(why.contains("validator permit"), "{why}");
    assert_eq!(
        a.calls(model),
        before,
        "a refused request reached the model"
    );
}

#[test]
fn miners_serve_real_models_validators_score_them_and_yuma_pays_the_best() {
    let net = start(4, &["--dev-accounts", "16"]);
    let mut a = Arena::new(&net, 16, base_port(4) + 40);
    let tao = tao_bin();

    // Speech-to-text: 3 validators (100/200/300 TAO), 4 miners of different quality.
    let speech = Subnet {
        netuid: 1,
        validators: vec![1, 2, 3],
        miners: vec![(4, "reference"), (5, "noisy"), (6, "fixed"), (7, "sleeper")],
    };
    a.create(0, "speech-to-text", 8_000, &speech, &[]);
    let reference = format!("exec {tao} model run --task speech-to-text \"$1\"");
    let noisy = format!(
        "out=$({tao} model run --task speech-to-text \"$1\") || exit 1\necho \"$out\" | awk '{{for (i = 2; i <= NF; i += 3) $i = \"zzz\"; print}}'"
    );
    let models = vec![
        a.model("reference", &reference),
        a.model("noisy", &noisy),
        a.model("fixed", "echo the quick brown fox jumps over the lazy dog"),
        a.model("sleeper", "sleep 60"),
    ];
    a.serve(&speech, &models);
    let endpoint = a
        .metagraph(1)
        .iter()
        .find(|r| r["hotkey"] == a.addr(4).to_string())
        .and_then(|r| r["axon"]["endpoint"].as_str().map(str::to_string))
        .expect("reference axon");
    bad_requests_are_refused_without_a_model_call(&a, &endpoint, 1, "reference");

    a.validate(&speech, 5);
    a.wait_epochs(1, 1);
    let inc = a.incentives(&speech);
    assert!(
        inc[0] > inc[1] && inc[1] > inc[2] && inc[3] == 0,
        "incentive reference > noisy > fixed, sleeper 0: {inc:?}\n{}",
        a.log("validator-1-3")
    );
    assert!(a.calls("reference") >= 5, "the reference model answered");

    // The last epoch, in balances: the reference miner (dev4, its own coldkey, idle since
    // serving) received exactly its emission, its share of the miners' 41% by incentive.
    let e = a.subnet(1).last_epoch;
    let uid: u16 = get(&a.c, &format!("/uid/1/{}", a.addr(4)), e).expect("uid");
    let neuron: Neuron = get(&a.c, &format!("/neuron/1/{uid}"), e).expect("neuron");
    let delta = balance_at(&a.c, &a.addr(4), e) - balance_at(&a.c, &a.addr(4), e - 1);
    assert_eq!(
        delta, neuron.emission,
        "balance grew by the recorded emission"
    );
    let half = epoch_pot(&a.c, 1, e) * 41 / 100;
    let expected = half * u64::from(neuron.incentive) / 65_535;
    assert!(
        neuron.emission.abs_diff(expected) <= half / 65_535 + 1,
        "emission {} vs 41% x incentive {expected}",
        neuron.emission
    );
    let rows = a.metagraph(1);
    for &v in &speech.validators {
        let row = rows
            .iter()
            .find(|r| r["hotkey"] == a.addr(v).to_string())
            .expect("row");
        assert!(
            row["dividends"].as_u64() > Some(0),
            "validator dev{v}: {row}"
        );
    }

    // Paying for the subnet's AI: dev7 opens a channel to validator dev3 (the gateway),
    // signs a cumulative voucher, the gateway redeems it; the pot gets the rest.
    let open = a.tao(&[
        "ai",
        "channel",
        "open",
        "--from",
        "dev7",
        "--gateway",
        "dev3",
        "--netuid",
        "1",
        "--deposit",
        "10TAO",
        "--blocks",
        "500",
    ]);
    let id = open["channel"].as_u64().expect("channel id").to_string();
    let v = a.tao(&[
        "ai",
        "voucher",
        "--from",
        "dev7",
        "--channel",
        &id,
        "--amount",
        "2TAO",
    ]);
    let sig = v["signature"].as_str().expect("signature").to_string();
    let redeem = [
        "ai",
        "redeem",
        "--from",
        "dev3",
        "--channel",
        &id,
        "--amount",
        "2TAO",
        "--signature",
        &sig,
    ];
    let r = a.tao(&redeem);
    let h = r["height"].as_u64().expect("height");
    let hash: [u8; 32] = hex::decode(r["hash"].as_str().expect("hash"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .expect("32-byte hash");
    let events = a.c.rpc().tx(&hash).expect("tx").expect("found");
    let text = events.to_string();
    assert!(text.contains("voucher_redeemed"), "{text}");
    let shown = a.tao(&["ai", "channel", "show", &id]);
    assert_eq!(
        shown["redeemed_rao"],
        (2 * RAO_PER_TAO).to_string(),
        "{shown}"
    );
    assert!(h > 0);
    let again: Vec<&str> = ["--node", a.node.as_str()]
        .into_iter()
        .chain(redeem)
        .collect();
    let (ok, out) = crate::localnet::tao(&a.home, &again);
    assert!(
        !ok && out.contains("voucher_not_increasing"),
        "a replayed voucher: {out}"
    );
    let (ok, out) = crate::localnet::tao(
        &a.home,
        &[
            "--node", &a.node, "ai", "channel", "close", "--from", "dev7", &id,
        ],
    );
    assert!(!ok && out.contains("channel_not_expired"), "{out}");

    // Image-to-text and text correction, shorter: one validator, the reference against a
    // fixed answer.
    let image = Subnet {
        netuid: 2,
        validators: vec![9],
        miners: vec![(10, "image-reference"), (11, "image-fixed")],
    };
    let text = Subnet {
        netuid: 3,
        validators: vec![13],
        miners: vec![(14, "text-reference"), (15, "text-fixed")],
    };
    // The image subnet has commit-reveal on: its validator commits, then reveals.
    a.create(
        8,
        "image-to-text",
        8_000,
        &image,
        &["commit_reveal=1", "reveal_period=2"],
    );
    a.create(12, "text-correction", 8_000, &text, &[]);
    for (s, task) in [(&image, "image-to-text"), (&text, "text-correction")] {
        let models = vec![
            a.model(
                s.miners[0].1,
                &format!("exec {tao} model run --task {task} \"$1\""),
            ),
            a.model(s.miners[1].1, "echo hello world"),
        ];
        a.serve(s, &models);
    }
    a.validate(&image, 3);
    assert!(
        a.log("validator-2-9").contains("revealed"),
        "{}",
        a.log("validator-2-9")
    );
    a.validate(&text, 3);
    for s in [&image, &text] {
        a.wait_epochs(s.netuid, 1);
        let inc = a.incentives(s);
        assert!(inc[0] > inc[1], "netuid {}: {inc:?}", s.netuid);
    }
    assert_validators_agree(&net.spec);
    drop(a);
    drop(net);
}

//! The soak's workload. Actors (accounts derived from the seed) each choose one action
//! after another with their own seeded RNG, among every message kind the chain has, from
//! what they know of the chain (a shared model updated from results), and send it signed
//! for a fixed gas limit, so refused messages land in blocks too. The same seed makes the
//! same choices as long as the same transactions succeed (which the timing of blocks can
//! change now and then).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use ed25519_dalek::{Signer, SigningKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use taochain_client::keys::address_of;
use taochain_client::{Client, ClientError, Committed, Gas};
use taochain_matmul_market_msg::ExecuteMsg as MarketMsg;
use taochain_primitives::axon::AXON_PROTOCOLS;
use taochain_primitives::channel::Voucher;
use taochain_primitives::subnet::{
    Hyperparams, ProposalAction, SubnetInfo, VoteChoice, weights_commit_hash,
};
use taochain_primitives::{Address, Msg, RAO_PER_TAO};
use taochain_work::{Matrix, gemm, npy};

/// Gas every soak transaction signs for: enough for any message it sends (a small job's
/// Freivalds check included), a fraction of a block.
pub const SOAK_GAS: u64 = 300_000_000;
/// Subnets the actors keep at most (besides the market).
const MAX_SUBNETS: usize = 4;
/// Blocks a job stays open.
const JOB_BLOCKS: u64 = 60;
/// Blocks a channel runs before its user may close it.
const CHANNEL_BLOCKS: u64 = 10;

/// The seeded key of actor `i`.
pub fn actor_key(seed: u64, i: usize) -> SigningKey {
    let mut h = Sha256::new();
    h.update(b"taochain soak actor");
    h.update(seed.to_le_bytes());
    h.update((i as u64).to_le_bytes());
    SigningKey::from_bytes(&h.finalize().into())
}

/// The counter contract's `execute` message `Increment { by }` (borsh: tag 0, u64), as
/// `contracts/counter` defines it.
fn counter_increment(by: u64) -> Vec<u8> {
    let mut m = vec![0u8];
    m.extend_from_slice(&by.to_le_bytes());
    m
}

/// What the soak set up before the actors start.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Chain id (vouchers are bound to it).
    pub chain_id: String,
    /// Code id of the counter contract (contracts and subnets).
    pub counter_code: u64,
    /// The matmul market's netuid.
    pub market: u16,
    /// The market's contract.
    pub market_contract: Address,
    /// Default hyperparameters of new subnets.
    pub hyperparams: Hyperparams,
    /// The smallest proposal deposit.
    pub min_deposit: u64,
}

/// A subnet as the actors know it.
#[derive(Debug, Clone)]
struct SubnetModel {
    owner: usize,
    commit_reveal: bool,
    reveal_period: u64,
    neurons: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
struct CommitModel {
    actor: usize,
    netuid: u16,
    uids: Vec<u16>,
    values: Vec<u16>,
    salt: Vec<u8>,
    height: u64,
    period: u64,
}

#[derive(Debug, Clone)]
struct JobModel {
    id: u64,
    requester: usize,
    a: Matrix<i8>,
    b: Matrix<i8>,
    deadline: u64,
    done: bool,
}

#[derive(Debug, Clone)]
struct ChannelModel {
    id: u64,
    user: usize,
    gateway: usize,
    netuid: u16,
    deposit: u64,
    redeemed: u64,
    expires: u64,
}

/// What the actors know of the chain (shared; updated from results).
#[derive(Debug, Default, Clone)]
pub struct World {
    subnets: BTreeMap<u16, SubnetModel>,
    counters: Vec<(Address, Option<usize>)>,
    stakes: BTreeMap<(usize, usize), u64>,
    root: BTreeSet<usize>,
    proposals: BTreeMap<u64, (u64, BTreeSet<usize>)>,
    commits: Vec<CommitModel>,
    jobs: Vec<JobModel>,
    /// Results a miner stored for a job (the chain checks only a C stored in an earlier
    /// block than the submission): (miner, job, C's hash).
    results: Vec<(usize, u64, [u8; 32])>,
    channels: Vec<ChannelModel>,
}

impl World {
    /// A world with the market subnet and one counter.
    pub fn new(setup: &Setup, counter: Address) -> Self {
        let mut w = World::default();
        w.subnets.insert(
            setup.market,
            SubnetModel {
                owner: usize::MAX,
                commit_reveal: false,
                reveal_period: 1,
                neurons: BTreeSet::new(),
            },
        );
        w.counters.push((counter, None));
        w
    }
}

/// Results of one message kind.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct KindStats {
    /// Committed with code 0.
    pub ok: u64,
    /// Refused (by CheckTx or in the block), by code name.
    pub refused: BTreeMap<String, u64>,
    /// The first refusal's log line, by code name.
    pub example: BTreeMap<String, String>,
    /// Not answered (RPC errors, timeouts).
    pub errors: u64,
}

/// Results by message kind.
pub type Stats = BTreeMap<&'static str, KindStats>;

/// Every kind the soak sends (each must succeed at least once in a soak of 5 minutes).
pub const KINDS: [&str; 32] = [
    "transfer",
    "transfer_burst",
    "store_blob",
    "instantiate",
    "execute",
    "migrate",
    "register_subnet",
    "set_hyperparam",
    "dissolve_subnet",
    "burned_register",
    "root_register",
    "add_stake",
    "remove_stake",
    "move_stake",
    "claim_rewards",
    "set_take",
    "set_weights",
    "root_weights",
    "commit_weights",
    "reveal_weights",
    "propose",
    "vote",
    "post_job",
    "store_result",
    "submit_result",
    "collect_job",
    "open_channel",
    "redeem_voucher",
    "close_channel",
    "serve_axon",
    "associate_hotkey",
    "reclaim_job",
];

/// Kinds that need a job to pass its deadline unsolved, which a busy soak may never see.
pub const OPTIONAL_KINDS: [&str; 1] = ["reclaim_job"];

/// The kinds (of [`KINDS`], less [`OPTIONAL_KINDS`]) that never succeeded, in words.
pub fn never_succeeded(stats: &Stats) -> Vec<String> {
    KINDS
        .iter()
        .filter(|k| !OPTIONAL_KINDS.contains(k))
        .filter(|k| stats.get(*k).is_none_or(|s| s.ok == 0))
        .map(|k| format!("{k} never succeeded"))
        .collect()
}

/// Records one result in `stats`.
pub fn tally(stats: &Mutex<Stats>, kind: &'static str, r: &Result<Committed, ClientError>) {
    let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
    let k = s.entry(kind).or_default();
    match r {
        Ok(_) => k.ok += 1,
        Err(ClientError::TxFailed { name, log, .. }) => {
            *k.refused.entry(name.clone()).or_default() += 1;
            k.example.entry(name.clone()).or_insert_with(|| log.clone());
        }
        Err(e) => {
            k.errors += 1;
            k.example
                .entry("error".into())
                .or_insert_with(|| e.to_string());
        }
    }
}

/// One actor: its key, its RNG and its node.
pub struct Actor {
    index: usize,
    key: SigningKey,
    rng: StdRng,
    client: Client,
}

/// What a plan does to the world once its transaction succeeded.
type OnOk = Box<dyn FnOnce(&mut World, &Committed) + Send>;

/// What an actor decided to do.
struct Plan {
    kind: &'static str,
    msgs: Vec<Msg>,
    /// Applied to the world when the transaction succeeds.
    on_ok: OnOk,
}

impl Plan {
    fn new(kind: &'static str, msgs: Vec<Msg>) -> Self {
        Plan {
            kind,
            msgs,
            on_ok: Box::new(|_, _| {}),
        }
    }

    fn then(mut self, f: impl FnOnce(&mut World, &Committed) + Send + 'static) -> Self {
        self.on_ok = Box::new(f);
        self
    }
}

fn be_u64(data: &str) -> Option<u64> {
    let b = hex::decode(data).ok()?;
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

fn le_u64(data: &str) -> Option<u64> {
    let b = hex::decode(data).ok()?;
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

impl Actor {
    /// Actor `index` of the soak seeded `seed`, talking to `node`.
    pub fn new(seed: u64, index: usize, node: &str) -> Self {
        Actor {
            index,
            key: actor_key(seed, index),
            rng: StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            client: Client::new(node).with_gas(Gas::Limit(SOAK_GAS)),
        }
    }

    fn addr_of(seed: u64, i: usize) -> Address {
        address_of(&actor_key(seed, i))
    }

    /// Chooses, sends and records one action; returns its kind.
    pub fn step(
        &mut self,
        seed: u64,
        actors: usize,
        setup: &Setup,
        world: &Mutex<World>,
        stats: &Mutex<Stats>,
    ) -> &'static str {
        let height = self.client.status().map(|s| s.height).unwrap_or(0);
        // Planned on a copy: planning may query the node, and no actor should wait on that.
        let w = world.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(plan) = self.plan(seed, actors, setup, &w, height) else {
            std::thread::sleep(std::time::Duration::from_millis(50));
            return "none";
        };
        let plan = match plan {
            Ok(p) => p,
            Err(kind) => {
                tally(
                    stats,
                    kind,
                    &Err(ClientError::Timeout("query failed".into())),
                );
                return kind;
            }
        };
        let kind = plan.kind;
        let r = self.client.send(&self.key, plan.msgs, None);
        if let Ok(c) = &r {
            let mut w = world.lock().unwrap_or_else(|e| e.into_inner());
            (plan.on_ok)(&mut w, c);
        }
        tally(stats, kind, &r);
        kind
    }

    /// Picks an action that the model says can succeed (or, now and then, one that it
    /// knows will be refused: refusals are part of the workload).
    fn plan(
        &mut self,
        seed: u64,
        actors: usize,
        setup: &Setup,
        w: &World,
        height: u64,
    ) -> Option<Result<Plan, &'static str>> {
        let me = self.index;
        let my = address_of(&self.key);
        // A commit in its reveal window is revealed first.
        if let Some(c) = w.commits.iter().find(|c| {
            c.actor == me && height >= c.height + c.period && height + 1 < c.height + 2 * c.period
        }) {
            let c = c.clone();
            let msg = Msg::RevealWeights {
                netuid: c.netuid,
                uids: c.uids.clone(),
                values: c.values.clone(),
                salt: c.salt.clone(),
                version_key: 0,
            };
            return Some(Ok(Plan::new("reveal_weights", vec![msg])
                .then(move |w, _| w.commits.retain(|x| x.salt != c.salt))));
        }
        // So does finishing a job this actor is part of.
        if let Some(p) = self.job_followup(w, setup, height) {
            return Some(Ok(p));
        }
        let other = |rng: &mut StdRng| {
            let i = rng.gen_range(0..actors - 1);
            if i >= me { i + 1 } else { i }
        };
        let my_subnets: Vec<u16> = w
            .subnets
            .iter()
            .filter(|(_, s)| s.neurons.contains(&me))
            .map(|(n, _)| *n)
            .collect();
        let kind = self.rng.gen_range(0..32u32);
        let rng = &mut self.rng;
        Some(Ok(match kind {
            0..=2 => {
                let to = Actor::addr_of(seed, other(rng));
                let amount = rng.gen_range(1..=1_000) * 1_000_000;
                Plan::new("transfer", vec![Msg::Transfer { to, amount }])
            }
            3 => {
                let len = rng.gen_range(32..2048);
                let bytes: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
                Plan::new("store_blob", vec![Msg::StoreBlob { bytes }])
            }
            4 => {
                let admin = rng.gen_bool(0.5).then_some(me);
                let msg = rng.gen_range(0..100u64).to_le_bytes().to_vec();
                Plan::new(
                    "instantiate",
                    vec![Msg::Instantiate {
                        code_id: setup.counter_code,
                        msg,
                        funds: rng.gen_range(0..1_000),
                        admin: admin.map(|_| my),
                        label: format!("soak-{me}"),
                    }],
                )
                .then(move |w, c| {
                    if let Ok(Ok(a)) = hex::decode(&c.data).map(<[u8; 20]>::try_from) {
                        w.counters.push((Address(a), admin));
                    }
                })
            }
            5 | 6 => {
                let (contract, _) = w.counters[rng.gen_range(0..w.counters.len())];
                Plan::new(
                    "execute",
                    vec![Msg::Execute {
                        contract,
                        msg: counter_increment(rng.gen_range(1..10)),
                        funds: rng.gen_range(0..2) * 100,
                    }],
                )
            }
            7 => {
                let mine: Vec<Address> = w
                    .counters
                    .iter()
                    .filter(|c| c.1 == Some(me))
                    .map(|c| c.0)
                    .collect();
                let contract = *mine.get(rng.gen_range(0..mine.len().max(1)))?;
                Plan::new(
                    "migrate",
                    vec![Msg::Migrate {
                        contract,
                        new_code_id: setup.counter_code,
                        msg: rng.gen_range(0..100u64).to_le_bytes().to_vec(),
                    }],
                )
            }
            8 => {
                if w.subnets.len() > MAX_SUBNETS {
                    return None;
                }
                let mut hp = setup.hyperparams.clone();
                let commit_reveal = rng.gen_bool(0.5);
                let period = rng.gen_range(5..=8);
                hp.tempo = rng.gen_range(4..=10);
                hp.weights_rate_limit = 0;
                hp.immunity_period = 0;
                hp.commit_reveal = commit_reveal;
                hp.reveal_period = period;
                Plan::new(
                    "register_subnet",
                    vec![Msg::RegisterSubnet {
                        hotkey: my,
                        code_id: setup.counter_code,
                        init_msg: 0u64.to_le_bytes().to_vec(),
                        hyperparams: Some(hp),
                    }],
                )
                .then(move |w, c| {
                    let netuid = hex::decode(&c.data)
                        .ok()
                        .and_then(|d| Some(u16::from_be_bytes(d.get(..2)?.try_into().ok()?)));
                    if let Some(netuid) = netuid {
                        w.subnets.insert(
                            netuid,
                            SubnetModel {
                                owner: me,
                                commit_reveal,
                                reveal_period: period,
                                neurons: BTreeSet::from([me]),
                            },
                        );
                    }
                })
            }
            9 => {
                let owned: Vec<u16> = w
                    .subnets
                    .iter()
                    .filter(|(_, s)| s.owner == me)
                    .map(|(n, _)| *n)
                    .collect();
                let netuid = *owned.get(rng.gen_range(0..owned.len().max(1)))?;
                let (name, value) = match rng.gen_range(0..3) {
                    0 => ("tempo", rng.gen_range(4..=10)),
                    1 => ("immunity_period", rng.gen_range(0..=20)),
                    _ => ("activity_cutoff", rng.gen_range(100..=5000)),
                };
                Plan::new(
                    "set_hyperparam",
                    vec![Msg::SetHyperparam {
                        netuid,
                        name: name.into(),
                        value,
                    }],
                )
            }
            10 => {
                // Rarely, and only while enough subnets are left.
                if w.subnets.len() < 3 || rng.gen_range(0..3) != 0 {
                    return None;
                }
                let netuid = w
                    .subnets
                    .iter()
                    .find(|(_, s)| s.owner == me)
                    .map(|(n, _)| *n)?;
                Plan::new("dissolve_subnet", vec![Msg::DissolveSubnet { netuid }]).then(
                    move |w, _| {
                        w.subnets.remove(&netuid);
                        w.commits.retain(|c| c.netuid != netuid);
                    },
                )
            }
            11 | 12 => {
                let open: Vec<u16> = w
                    .subnets
                    .iter()
                    .filter(|(_, s)| !s.neurons.contains(&me))
                    .map(|(n, _)| *n)
                    .collect();
                let netuid = *open.get(rng.gen_range(0..open.len().max(1)))?;
                Plan::new(
                    "burned_register",
                    vec![Msg::BurnedRegister { netuid, hotkey: my }],
                )
                .then(move |w, _| {
                    if let Some(s) = w.subnets.get_mut(&netuid) {
                        s.neurons.insert(me);
                    }
                })
            }
            13 => {
                if w.root.contains(&me) || !w.stakes.contains_key(&(me, me)) {
                    return None;
                }
                Plan::new("root_register", vec![Msg::RootRegister { hotkey: my }]).then(
                    move |w, _| {
                        w.root.insert(me);
                    },
                )
            }
            14 | 15 => {
                let hot = if rng.gen_bool(0.5) { me } else { other(rng) };
                let amount = rng.gen_range(1..=20) * RAO_PER_TAO;
                Plan::new(
                    "add_stake",
                    vec![Msg::AddStake {
                        hotkey: Actor::addr_of(seed, hot),
                        amount,
                    }],
                )
                .then(move |w, _| *w.stakes.entry((me, hot)).or_default() += amount)
            }
            16 => {
                let (hot, staked) = self.my_stake(w)?;
                let amount = self.rng.gen_range(1..=staked / 2 + 1);
                Plan::new(
                    "remove_stake",
                    vec![Msg::RemoveStake {
                        hotkey: Actor::addr_of(seed, hot),
                        amount,
                    }],
                )
                .then(move |w, _| {
                    let s = w.stakes.entry((me, hot)).or_default();
                    *s = s.saturating_sub(amount);
                })
            }
            17 => {
                let (hot, staked) = self.my_stake(w)?;
                let to = other(&mut self.rng);
                let amount = self.rng.gen_range(1..=staked / 2 + 1);
                Plan::new(
                    "move_stake",
                    vec![Msg::MoveStake {
                        from: Actor::addr_of(seed, hot),
                        to: Actor::addr_of(seed, to),
                        amount,
                    }],
                )
                .then(move |w, _| {
                    let s = w.stakes.entry((me, hot)).or_default();
                    *s = s.saturating_sub(amount);
                    *w.stakes.entry((me, to)).or_default() += amount;
                })
            }
            18 => {
                let (hot, _) = self.my_stake(w)?;
                Plan::new(
                    "claim_rewards",
                    vec![Msg::ClaimRewards {
                        hotkey: Actor::addr_of(seed, hot),
                    }],
                )
            }
            19 => Plan::new(
                "set_take",
                vec![Msg::SetTake {
                    hotkey: my,
                    take_bps: rng.gen_range(0..=1800),
                }],
            ),
            20 | 21 => {
                let plain: Vec<u16> = my_subnets
                    .iter()
                    .copied()
                    .filter(|n| !w.subnets[n].commit_reveal)
                    .collect();
                let netuid = *plain.get(rng.gen_range(0..plain.len().max(1)))?;
                let (uids, values) = match self.weights(netuid) {
                    Ok(x) => x,
                    Err(_) => return Some(Err("set_weights")),
                };
                Plan::new(
                    "set_weights",
                    vec![Msg::SetWeights {
                        netuid,
                        uids,
                        values,
                        version_key: 0,
                    }],
                )
            }
            22 => {
                if !w.root.contains(&me) {
                    return None;
                }
                let netuids: Vec<u16> = w.subnets.keys().copied().collect();
                let values = netuids.iter().map(|_| rng.gen_range(1..100)).collect();
                Plan::new(
                    "root_weights",
                    vec![Msg::SetWeights {
                        netuid: 0,
                        uids: netuids,
                        values,
                        version_key: 0,
                    }],
                )
            }
            23 => {
                let cr: Vec<u16> = my_subnets
                    .iter()
                    .copied()
                    .filter(|n| w.subnets[n].commit_reveal)
                    .filter(|n| !w.commits.iter().any(|c| c.actor == me && c.netuid == *n))
                    .collect();
                let netuid = *cr.get(rng.gen_range(0..cr.len().max(1)))?;
                let period = w.subnets[&netuid].reveal_period;
                let (uids, values) = match self.weights(netuid) {
                    Ok(x) => x,
                    Err(_) => return Some(Err("commit_weights")),
                };
                let salt: Vec<u8> = (0..16).map(|_| self.rng.r#gen()).collect();
                let hash = weights_commit_hash(&my, netuid, &uids, &values, &salt, 0);
                let c = CommitModel {
                    actor: me,
                    netuid,
                    uids,
                    values,
                    salt,
                    height: 0,
                    period,
                };
                Plan::new("commit_weights", vec![Msg::CommitWeights { netuid, hash }]).then(
                    move |w, done| {
                        w.commits.push(CommitModel {
                            height: done.height,
                            ..c
                        })
                    },
                )
            }
            24 => {
                if w.proposals.len() >= 2 {
                    return None;
                }
                let value = rng.gen_range(32..=48);
                Plan::new(
                    "propose",
                    vec![Msg::Propose {
                        action: ProposalAction::SetParam {
                            name: "subnet_limit".into(),
                            value,
                        },
                        deposit: setup.min_deposit,
                    }],
                )
                .then(move |w, c| {
                    if let Some(id) = be_u64(&c.data) {
                        w.proposals.insert(id, (c.height, BTreeSet::new()));
                    }
                })
            }
            25 => {
                let id = w
                    .proposals
                    .iter()
                    .find(|(_, (_, voters))| !voters.contains(&me))
                    .map(|(id, _)| *id)?;
                let choice = match rng.gen_range(0..3) {
                    0 => VoteChoice::Yes,
                    1 => VoteChoice::No,
                    _ => VoteChoice::Abstain,
                };
                Plan::new("vote", vec![Msg::Vote { id, choice }]).then(move |w, _| {
                    if let Some(p) = w.proposals.get_mut(&id) {
                        p.1.insert(me);
                    }
                })
            }
            26 | 30 | 31 => self.job_action(w, setup, height)?,
            27 => self.channel_action(seed, actors, w, setup, height)?,
            28 => {
                let netuid = *my_subnets.get(rng.gen_range(0..my_subnets.len().max(1)))?;
                Plan::new(
                    "serve_axon",
                    vec![Msg::ServeAxon {
                        netuid,
                        endpoint: format!("http://127.0.0.1:{}", rng.gen_range(20_000..30_000)),
                        protocol: AXON_PROTOCOLS[0],
                    }],
                )
            }
            _ => {
                let hotkey = Address(rng.r#gen());
                Plan::new("associate_hotkey", vec![Msg::AssociateHotkey { hotkey }])
            }
        }))
    }

    /// A hotkey this actor has stake on, and how much.
    fn my_stake(&mut self, w: &World) -> Option<(usize, u64)> {
        let mine: Vec<(usize, u64)> = w
            .stakes
            .iter()
            .filter(|((c, _), s)| *c == self.index && **s > 0)
            .map(|((_, h), s)| (*h, *s))
            .collect();
        mine.get(self.rng.gen_range(0..mine.len().max(1))).copied()
    }

    /// Random weights over the subnet's UIDs.
    fn weights(&mut self, netuid: u16) -> Result<(Vec<u16>, Vec<u16>), ClientError> {
        let raw = self.client.query_raw(&format!("/subnet/{netuid}"), 0)?;
        let n = borsh::from_slice::<SubnetInfo>(&raw)
            .map(|s| s.n)
            .unwrap_or(1)
            .max(1);
        let uids: BTreeSet<u16> = (0..self.rng.gen_range(1..=n.min(8)))
            .map(|_| self.rng.gen_range(0..n))
            .collect();
        let uids: Vec<u16> = uids.into_iter().collect();
        let values = uids.iter().map(|_| self.rng.gen_range(1..1000)).collect();
        Ok((uids, values))
    }

    /// Finishes what this actor started: collects its solved job, or submits the result
    /// it stored (in an earlier block, as the chain requires) for a job still open.
    fn job_followup(&self, w: &World, setup: &Setup, height: u64) -> Option<Plan> {
        let me = self.index;
        let market = setup.market_contract;
        let execute = |msg: &MarketMsg| Msg::Execute {
            contract: market,
            msg: borsh::to_vec(msg).unwrap_or_default(),
            funds: 0,
        };
        if let Some(j) = w.jobs.iter().find(|j| j.requester == me && j.done) {
            let id = j.id;
            return Some(
                Plan::new(
                    "collect_job",
                    vec![execute(&MarketMsg::Collect { job: id })],
                )
                .then(move |w, _| w.jobs.retain(|j| j.id != id)),
            );
        }
        let open = |id: u64| {
            w.jobs
                .iter()
                .any(|j| j.id == id && !j.done && height + 2 < j.deadline)
        };
        let &(_, id, c) = w.results.iter().find(|r| r.0 == me && open(r.1))?;
        Some(
            Plan::new(
                "submit_result",
                vec![execute(&MarketMsg::SubmitResult { job: id, c })],
            )
            .then(move |w, _| {
                if let Some(j) = w.jobs.iter_mut().find(|j| j.id == id) {
                    j.done = true;
                }
                w.results.retain(|r| r.1 != id);
            }),
        )
    }

    /// Posts a job, solves one, collects a solved one or reclaims an expired one.
    fn job_action(&mut self, w: &World, setup: &Setup, height: u64) -> Option<Plan> {
        let me = self.index;
        let market = setup.market_contract;
        let execute = |msg: &MarketMsg, funds| Msg::Execute {
            contract: market,
            msg: borsh::to_vec(msg).unwrap_or_default(),
            funds,
        };
        if let Some(p) = self.job_followup(w, setup, height) {
            return Some(p);
        }
        if let Some(j) = w
            .jobs
            .iter()
            .find(|j| j.requester == me && !j.done && height > j.deadline)
        {
            let id = j.id;
            return Some(
                Plan::new(
                    "reclaim_job",
                    vec![execute(&MarketMsg::Reclaim { job: id }, 0)],
                )
                .then(move |w, _| w.jobs.retain(|j| j.id != id)),
            );
        }
        let registered = w
            .subnets
            .get(&setup.market)
            .is_some_and(|s| s.neurons.contains(&me));
        let open = |id: u64| {
            w.jobs
                .iter()
                .any(|j| j.id == id && !j.done && height + 2 < j.deadline)
        };
        let unsolved = w.jobs.iter().find(|j| {
            j.requester != me && open(j.id) && !w.results.iter().any(|r| r.0 == me && r.1 == j.id)
        });
        if let (true, Some(j)) = (registered, unsolved)
            && self.rng.gen_bool(0.7)
        {
            let bytes = npy::encode(&gemm(&j.a, &j.b).ok()?);
            let hash: [u8; 32] = Sha256::digest(&bytes).into();
            let id = j.id;
            return Some(
                Plan::new("store_result", vec![Msg::StoreBlob { bytes }])
                    .then(move |w, _| w.results.push((me, id, hash))),
            );
        }
        if w.jobs.len() >= 6 {
            return None;
        }
        let k = self.rng.gen_range(2..=8);
        let a = Matrix::<i8>::pseudo_random(k, k, self.rng.r#gen());
        let b = Matrix::<i8>::pseudo_random(k, k, self.rng.r#gen());
        let (ab, bb) = (npy::encode(&a), npy::encode(&b));
        let deadline = height + JOB_BLOCKS;
        let msgs = vec![
            Msg::StoreBlob { bytes: ab.clone() },
            Msg::StoreBlob { bytes: bb.clone() },
            execute(
                &MarketMsg::PostJob {
                    a: Sha256::digest(&ab).into(),
                    b: Sha256::digest(&bb).into(),
                    deadline,
                },
                self.rng.gen_range(1..=10) * RAO_PER_TAO / 100,
            ),
        ];
        Some(Plan::new("post_job", msgs).then(move |w, c| {
            if let Some(id) = le_u64(&c.data) {
                w.jobs.push(JobModel {
                    id,
                    requester: me,
                    a,
                    b,
                    deadline,
                    done: false,
                });
            }
        }))
    }

    /// Opens a channel to a registered hotkey, redeems a voucher as a gateway, or closes
    /// an expired channel as its user.
    fn channel_action(
        &mut self,
        seed: u64,
        actors: usize,
        w: &World,
        setup: &Setup,
        height: u64,
    ) -> Option<Plan> {
        let me = self.index;
        if let Some(c) = w
            .channels
            .iter()
            .find(|c| c.user == me && height > c.expires)
        {
            let id = c.id;
            return Some(
                Plan::new("close_channel", vec![Msg::CloseChannel { channel: id }])
                    .then(move |w, _| w.channels.retain(|c| c.id != id)),
            );
        }
        if let Some(c) = w
            .channels
            .iter()
            .find(|c| c.gateway == me && c.redeemed < c.deposit && height + 1 < c.expires)
        {
            let cumulative =
                (c.redeemed + self.rng.gen_range(1..=c.deposit / 4 + 1)).min(c.deposit);
            let user = actor_key(seed, c.user);
            let digest = Voucher {
                channel: c.id,
                cumulative,
            }
            .digest(&setup.chain_id, c.netuid);
            let id = c.id;
            return Some(
                Plan::new(
                    "redeem_voucher",
                    vec![Msg::RedeemVoucher {
                        channel: id,
                        cumulative,
                        signature: user.sign(&digest).to_bytes(),
                    }],
                )
                .then(move |w, _| {
                    if let Some(c) = w.channels.iter_mut().find(|c| c.id == id) {
                        c.redeemed = cumulative;
                    }
                }),
            );
        }
        let gateways: Vec<(usize, u16)> = w
            .subnets
            .iter()
            .flat_map(|(n, s)| s.neurons.iter().map(move |g| (*g, *n)))
            .filter(|(g, _)| *g != me && *g < actors)
            .collect();
        let (gateway, netuid) = *gateways.get(self.rng.gen_range(0..gateways.len().max(1)))?;
        let deposit = self.rng.gen_range(1..=10) * RAO_PER_TAO / 10;
        let user_key = self.key.verifying_key().to_bytes();
        Some(
            Plan::new(
                "open_channel",
                vec![Msg::OpenChannel {
                    gateway: Actor::addr_of(seed, gateway),
                    netuid,
                    deposit,
                    blocks: CHANNEL_BLOCKS,
                    user_key,
                }],
            )
            .then(move |w, c| {
                if let Some(id) = le_u64(&c.data) {
                    w.channels.push(ChannelModel {
                        id,
                        user: me,
                        gateway,
                        netuid,
                        deposit,
                        redeemed: 0,
                        expires: c.height + CHANNEL_BLOCKS,
                    });
                }
            }),
        )
    }
}

/// Forgets proposals past their voting period (`voting_period` blocks after submission).
pub fn expire_proposals(world: &Mutex<World>, height: u64, voting_period: u64) {
    let mut w = world.lock().unwrap_or_else(|e| e.into_inner());
    w.proposals
        .retain(|_, (at, _)| height < at.saturating_add(voting_period));
    w.commits
        .retain(|c| height < c.height.saturating_add(2 * c.period));
    let open: BTreeSet<u64> = w
        .jobs
        .iter()
        .filter(|j| !j.done && height <= j.deadline)
        .map(|j| j.id)
        .collect();
    w.results.retain(|r| open.contains(&r.1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_that_never_succeeded_is_named_and_an_optional_one_is_not() {
        let stats: Mutex<Stats> = Mutex::default();
        for k in KINDS {
            if k != "vote" && !OPTIONAL_KINDS.contains(&k) {
                tally(&stats, k, &Ok(Committed::default()));
            }
        }
        let refused = ClientError::TxFailed {
            stage: "deliver",
            code: 40,
            name: "no_voting_power".into(),
            log: "no stake".into(),
        };
        tally(&stats, "vote", &Err(refused));
        let s = stats.into_inner().expect("stats");
        assert_eq!(
            never_succeeded(&s),
            vec!["vote never succeeded".to_string()]
        );
        assert_eq!(s["vote"].refused["no_voting_power"], 1);
        assert_eq!(s["vote"].example["no_voting_power"], "no stake");
    }

    #[test]
    fn actors_have_distinct_keys_fixed_by_the_seed() {
        assert_eq!(actor_key(1, 0).to_bytes(), actor_key(1, 0).to_bytes());
        assert_ne!(actor_key(1, 0).to_bytes(), actor_key(1, 1).to_bytes());
        assert_ne!(actor_key(1, 0).to_bytes(), actor_key(2, 0).to_bytes());
    }
}

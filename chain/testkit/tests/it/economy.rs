//! The economy through the ABCI app: subnets, registration, staking, weights, epochs and
//! their exact payout, root shares, governance, and every bad input with its own code and
//! no state change.

use std::collections::BTreeMap;

use taochain_app::economy::SCAN_GAS;
use taochain_economics::payout::REWARD_SCALE;
use taochain_primitives::subnet::{
    EconomyParams, HotkeyInfo, MetagraphRow, Proposal, ProposalAction, ProposalStatus, SubnetInfo,
    SubnetView, VoteChoice, weights_commit_hash,
};
use taochain_primitives::{Account, Address, Msg, RAO_PER_TAO, RejectCode, Supply, TxBody};
use taochain_testkit::fixtures::{CHAIN_ID, FEE, addr, genesis, signed};
use taochain_testkit::{CommittedBlock, MockChain};
use taochain_vm_sandbox::contract_wasm;
use tendermint_abci::Application;

/// Coldkeys are fixture keys 0..4, hotkeys 4..12; all funded (hotkeys pay their fees).
const KEYS: u8 = 12;
const BALANCE: u64 = 10_000 * RAO_PER_TAO;
const TEMPO: u64 = 4;

pub(crate) struct Net {
    pub(crate) chain: MockChain,
    nonces: BTreeMap<u8, u64>,
}

fn economy() -> EconomyParams {
    let mut p = EconomyParams {
        subnet_limit: 2,
        min_lock: 10 * RAO_PER_TAO,
        root_tempo: 5,
        voting_period: 3,
        min_deposit: RAO_PER_TAO,
        take_rate_limit: 1000,
        ..EconomyParams::default()
    };
    p.default_hyperparams.tempo = TEMPO;
    p.default_hyperparams.weights_rate_limit = 0;
    p.default_hyperparams.immunity_period = 0;
    p
}

impl Net {
    pub(crate) fn new() -> Self {
        Net::with_economy(economy())
    }

    fn with_economy(economy: EconomyParams) -> Self {
        let mut app_state = genesis(KEYS, BALANCE);
        app_state["economy"] = serde_json::to_value(economy).expect("json");
        let mut chain = MockChain::in_memory_with_audit();
        chain.init(CHAIN_ID, &app_state);
        chain.block(vec![]);
        Net {
            chain,
            nonces: BTreeMap::new(),
        }
    }

    pub(crate) fn tx(&mut self, from: u8, msgs: Vec<Msg>) -> Vec<u8> {
        let nonce = self.nonces.entry(from).or_default();
        *nonce += 1;
        signed(from, *nonce - 1, msgs)
    }

    /// A transaction whose gas limit is what its size and message count require plus
    /// `extra`.
    fn tx_with_gas(&mut self, from: u8, msgs: Vec<Msg>, extra: u64) -> Vec<u8> {
        let nonce = self.nonces.entry(from).or_default();
        *nonce += 1;
        let count = msgs.len();
        let mut body = TxBody {
            chain_id: CHAIN_ID.into(),
            nonce: *nonce - 1,
            fee: FEE,
            gas_limit: 0,
            msgs,
        };
        let key = taochain_testkit::fixtures::key(from);
        let len = body.clone().sign(&key).encode().len();
        body.gas_limit = taochain_primitives::state::gas::required(count, len) + extra;
        body.sign(&key).encode()
    }

    /// One block with one transaction that must succeed.
    pub(crate) fn ok(&mut self, from: u8, msgs: Vec<Msg>) -> CommittedBlock {
        let tx = self.tx(from, msgs);
        let b = self.block(vec![tx]);
        assert_eq!(b.results[0].code, 0, "{}", b.results[0].log);
        b
    }

    pub(crate) fn empty(&mut self) -> CommittedBlock {
        self.block(vec![])
    }

    /// One block; the node's audit of it must add up (every balance against the issuance,
    /// the emission pool against pots and carry) and name the block's app hash.
    pub(crate) fn block(&mut self, txs: Vec<Vec<u8>>) -> CommittedBlock {
        let b = self.chain.block(txs);
        let q = self.chain.query("/audit", false);
        assert_eq!(q.code, 0, "{}", q.log);
        let audit: taochain_primitives::Audit = borsh::from_slice(&q.value).expect("an audit");
        assert_eq!(audit.height, b.height);
        assert_eq!(audit.app_hash.to_vec(), b.app_hash);
        assert!(
            audit.violations().is_empty(),
            "height {}: {:?}",
            b.height,
            audit.violations()
        );
        b
    }

    pub(crate) fn get<T: borsh::BorshDeserialize>(&self, path: &str) -> Option<T> {
        let r = self.chain.query(path, false);
        assert_eq!(r.code, 0, "{path}: {}", r.log);
        (!r.value.is_empty()).then(|| borsh::from_slice(&r.value).expect("decodes"))
    }

    pub(crate) fn balance(&self, a: Address) -> u64 {
        self.get::<Account>(&format!("/account/{a}"))
            .map_or(0, |a| a.balance)
    }

    pub(crate) fn metagraph(&self, netuid: u16) -> Vec<MetagraphRow> {
        self.get(&format!("/metagraph/{netuid}"))
            .unwrap_or_default()
    }

    /// The economy's views, to compare before and after a refused transaction.
    fn snapshot(&self) -> Vec<Vec<u8>> {
        // Subnet records, not `/subnets`: pots grow and burn prices decay every block.
        let mut paths = vec!["/proposals".to_string(), "/total_stake".into()];
        for n in 0..4 {
            paths.push(format!("/metagraph/{n}"));
            paths.push(format!("/subnet/{n}"));
        }
        for h in 4..KEYS {
            paths.push(format!("/hotkey/{}", addr(h)));
            paths.push(format!("/nominators/{}", addr(h)));
        }
        paths
            .iter()
            .map(|p| self.chain.query(p, false).value.to_vec())
            .collect()
    }

    /// A transaction refused with `code` that changes nothing but fee and nonce.
    pub(crate) fn refused(&mut self, from: u8, msg: Msg, code: RejectCode) {
        let before = self.snapshot();
        let tx = self.tx(from, vec![msg.clone()]);
        let b = self.block(vec![tx]);
        assert_eq!(
            b.results[0].code,
            code.code(),
            "{msg:?}: expected {}, got code {} ({})",
            code.name(),
            b.results[0].code,
            b.results[0].log
        );
        assert!(!b.results[0].log.is_empty());
        // Epochs run at the end of a block and change the views; only compare when the
        // block held no epoch.
        if !b
            .events
            .iter()
            .any(|e| e.r#type == "epoch" || e.r#type == "root_epoch")
        {
            assert_eq!(before, self.snapshot(), "{msg:?} changed state");
        }
    }

    /// Blocks until `netuid`'s next epoch has run; returns that block.
    pub(crate) fn until_epoch(&mut self, netuid: u16) -> CommittedBlock {
        loop {
            let b = self.empty();
            if epoch_event(&b, netuid).is_some() {
                return b;
            }
        }
    }

    /// Module and fixture balances: every rao in existence.
    pub(crate) fn sum_of_balances(&self, contracts: &[Address]) -> u64 {
        let modules = [
            "emission_pool",
            "staking",
            "subnet_locks",
            "gov_deposits",
            "nominator_rewards",
            "channels",
        ];
        (0..KEYS)
            .map(addr)
            .chain(modules.iter().map(|m| Address::module(m)))
            .chain(contracts.iter().copied())
            .map(|a| self.balance(a))
            .sum()
    }
}

fn epoch_event(b: &CommittedBlock, netuid: u16) -> Option<BTreeMap<String, String>> {
    b.events
        .iter()
        .filter(|e| e.r#type == "epoch")
        .map(|e| {
            e.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect::<BTreeMap<_, _>>()
        })
        .find(|a| a.get("netuid") == Some(&netuid.to_string()))
}

fn num(attrs: &BTreeMap<String, String>, k: &str) -> u64 {
    attrs[k].parse().expect("number")
}

/// Stores the counter contract (code 1) and creates subnet 1 owned by coldkey 0 with
/// owner hotkey 4.
pub(crate) fn subnet_one(net: &mut Net) {
    net.ok(
        0,
        vec![Msg::StoreCode {
            wasm: contract_wasm("counter"),
        }],
    );
    register_subnet(net, 0, 4);
}

pub(crate) fn register_subnet(net: &mut Net, cold: u8, hot: u8) -> CommittedBlock {
    net.ok(
        cold,
        vec![Msg::RegisterSubnet {
            hotkey: addr(hot),
            code_id: 1,
            init_msg: 0u64.to_le_bytes().to_vec(),
            hyperparams: None,
        }],
    )
}

pub(crate) fn register(net: &mut Net, cold: u8, netuid: u16, hot: u8) {
    net.ok(
        cold,
        vec![Msg::BurnedRegister {
            netuid,
            hotkey: addr(hot),
        }],
    );
}

fn stake(net: &mut Net, cold: u8, hot: u8, tao: u64) {
    net.ok(
        cold,
        vec![Msg::AddStake {
            hotkey: addr(hot),
            amount: tao * RAO_PER_TAO,
        }],
    );
}

pub(crate) fn uid(net: &Net, netuid: u16, hot: u8) -> u16 {
    net.get(&format!("/uid/{netuid}/{}", addr(hot)))
        .expect("registered")
}

/// Subnet 1: owner hotkey 4 (UID 0, no stake), validator hotkey 5 (coldkey 1, 100 TAO,
/// nominated by coldkey 3 with 300 TAO), miners 6 and 7 (coldkey 2).
pub(crate) fn standard(net: &mut Net) {
    subnet_one(net);
    register(net, 1, 1, 5);
    register(net, 2, 1, 6);
    register(net, 2, 1, 7);
    stake(net, 1, 5, 100);
    stake(net, 3, 5, 300);
    // The stake is pending until hotkey 5's next epoch; the epoch after that gives permits
    // from active stake.
    net.until_epoch(1);
    net.until_epoch(1);
}

#[test]
fn an_epoch_pays_owner_miners_validator_and_nominators_exactly() {
    let mut net = Net::new();
    standard(&mut net);
    let rows = net.metagraph(1);
    assert_eq!(rows.len(), 4);
    assert!(rows[uid(&net, 1, 5) as usize].permit, "{rows:?}");
    let (m6, m7) = (uid(&net, 1, 6), uid(&net, 1, 7));
    net.ok(
        5,
        vec![Msg::SetWeights {
            netuid: 1,
            uids: vec![m6, m7],
            values: vec![1, 3],
            version_key: 0,
        }],
    );
    let cold: Vec<u64> = (0..4).map(|c| net.balance(addr(c))).collect();
    let rewards = Address::module("nominator_rewards");
    let unclaimed = |net: &Net, c: u8| -> u64 {
        net.get(&format!("/rewards/{}/{}", addr(5), addr(c)))
            .expect("rewards")
    };
    // Rewards of the epoch before (paid by stake, without weights) are still unclaimed.
    let (r0, u1, u3) = (net.balance(rewards), unclaimed(&net, 1), unclaimed(&net, 3));
    let b = net.until_epoch(1);
    let ev = epoch_event(&b, 1).expect("epoch");
    let pot = num(&ev, "pot");
    assert!(pot > 0);
    // The rule, computed independently: 18% owner, 41% miners by incentive (1/4, 3/4),
    // 41% to the only validator, whose 18% take goes to coldkey 1 and the rest to its
    // nominators 100:300 (remainder to the hotkey's owner).
    let owner = pot * 18 / 100;
    let half = pot * 41 / 100;
    let (miner6, miner7) = (half / 4, half * 3 / 4);
    let take = half * 1800 / 10_000;
    let rest = half - take;
    // The nominators' part raises hotkey 5's pool index by d over its 400 TAO of active
    // stake; the pool account gets ceil(400 TAO * d), the rounding goes to coldkey 1.
    let active = 400 * RAO_PER_TAO as u128;
    let d = rest as u128 * REWARD_SCALE / active;
    let into_pool = (active * d).div_ceil(REWARD_SCALE) as u64;
    let left = rest - into_pool;
    let nom1 = (100 * RAO_PER_TAO as u128 * d / REWARD_SCALE) as u64;
    let nom3 = (300 * RAO_PER_TAO as u128 * d / REWARD_SCALE) as u64;
    assert!(nom1 + nom3 <= into_pool && into_pool - nom1 - nom3 <= 2);
    assert!(nom1.abs_diff(rest / 4) <= 1 && nom3.abs_diff(rest * 3 / 4) <= 1);
    assert_eq!(num(&ev, "owner"), owner);
    assert_eq!(num(&ev, "miners"), miner6 + miner7);
    assert_eq!(num(&ev, "validators"), half);
    assert_eq!(num(&ev, "carried"), pot - owner - miner6 - miner7 - half);
    assert_eq!(net.balance(addr(0)) - cold[0], owner);
    // The epoch visits no nominator: coldkey 3 is untouched until it claims.
    assert_eq!(net.balance(addr(1)) - cold[1], take + left);
    assert_eq!(net.balance(addr(2)) - cold[2], miner6 + miner7);
    assert_eq!(net.balance(addr(3)), cold[3]);
    assert_eq!(net.balance(rewards), r0 + into_pool);
    // Each pair's claim grew by its share (floors of the cumulative index: within 1 rao).
    let (c1, c3) = (unclaimed(&net, 1), unclaimed(&net, 3));
    assert!(c1.abs_diff(u1 + nom1) <= 1 && c3.abs_diff(u3 + nom3) <= 1);
    let before = net.balance(addr(3));
    net.ok(3, vec![Msg::ClaimRewards { hotkey: addr(5) }]);
    assert_eq!(net.balance(addr(3)) + FEE, before + c3);
    assert_eq!(unclaimed(&net, 3), 0);
    net.ok(3, vec![Msg::ClaimRewards { hotkey: addr(5) }]);
    assert_eq!(
        net.balance(addr(3)) + 2 * FEE,
        before + c3,
        "a second claim pays nothing"
    );
    // Coldkey 1 changes its stake: that settles (pays) its rewards first.
    let before = net.balance(addr(1));
    stake(&mut net, 1, 5, 1);
    assert_eq!(net.balance(addr(1)) + FEE + RAO_PER_TAO, before + c1);
    assert_eq!(net.balance(rewards), r0 + into_pool - c1 - c3);
    let rows = net.metagraph(1);
    assert_eq!(rows[m6 as usize].incentive, 16383);
    assert_eq!(rows[m7 as usize].incentive, 49151);
    assert_eq!(rows[uid(&net, 1, 5) as usize].dividends, 65535);
    assert_eq!(rows[m6 as usize].consensus, 16383);
    assert_eq!(rows[m7 as usize].emission, miner7);
    // The counter contract's `epoch` judged the subnet: its weights are the owner UID's
    // (count 0 over 4 UIDs: every UID but the owner's, equally).
    let owner_uid: taochain_primitives::subnet::Neuron = net.get("/neuron/1/0").expect("uid 0");
    assert_eq!(owner_uid.weights, vec![(1, 65535), (2, 65535), (3, 65535)]);
    assert_eq!(owner_uid.last_update, b.height);
    // Every rao is accounted for, and the pool holds exactly the pots and the carry.
    let contract = net.get::<SubnetInfo>("/subnet/1").expect("subnet").contract;
    let supply: Supply = net.get("/supply").expect("supply");
    assert_eq!(net.sum_of_balances(&[contract]), supply.total_issuance);
    let pots: u64 = net
        .get::<Vec<SubnetView>>("/subnets")
        .expect("subnets")
        .iter()
        .map(|s| s.pot)
        .sum();
    let carry: u64 = net.get("/emission_carry").unwrap_or(0);
    assert_eq!(net.balance(Address::module("emission_pool")), pots + carry);
    // Total issuance follows the schedule: genesis + every block's reward - recycled.
    assert_eq!(
        supply.total_issuance,
        supply.genesis_issuance + supply.total_minted - supply.total_recycled
    );
}

#[test]
fn every_bad_input_has_its_own_code_and_changes_nothing() {
    let mut net = Net::new();
    standard(&mut net);
    let (m6, m7) = (uid(&net, 1, 6), uid(&net, 1, 7));
    let w = |uids: Vec<u16>, values: Vec<u16>| Msg::SetWeights {
        netuid: 1,
        uids,
        values,
        version_key: 0,
    };
    // Weights: unregistered hotkey, no permit, duplicates, unknown UID.
    net.refused(8, w(vec![m6], vec![1]), RejectCode::NotRegistered);
    net.refused(6, w(vec![m7], vec![1]), RejectCode::NoValidatorPermit);
    net.refused(5, w(vec![m6, m6], vec![1, 2]), RejectCode::DuplicateUids);
    net.refused(5, w(vec![m6, 99], vec![1, 2]), RejectCode::UnknownUid);
    net.refused(5, w(vec![m6], vec![1, 2]), RejectCode::InvalidWeights);
    // Too few weights and the rate limit, after the owner raises both.
    let set = |net: &mut Net, name: &str, value: u64| {
        net.ok(
            0,
            vec![Msg::SetHyperparam {
                netuid: 1,
                name: name.into(),
                value,
            }],
        );
    };
    set(&mut net, "min_allowed_weights", 2);
    net.refused(5, w(vec![m6], vec![1]), RejectCode::TooFewWeights);
    net.ok(5, vec![w(vec![m6, m7], vec![1, 1])]);
    set(&mut net, "weights_rate_limit", 50);
    net.refused(
        5,
        w(vec![m6, m7], vec![2, 1]),
        RejectCode::WeightsRateLimited,
    );
    // Hyperparameters: owner only, within bounds.
    net.refused(
        1,
        Msg::SetHyperparam {
            netuid: 1,
            name: "tempo".into(),
            value: 9,
        },
        RejectCode::Unauthorized,
    );
    net.refused(
        0,
        Msg::SetHyperparam {
            netuid: 1,
            name: "kappa".into(),
            value: 70_000,
        },
        RejectCode::InvalidParam,
    );
    net.refused(
        0,
        Msg::SetHyperparam {
            netuid: 1,
            name: "nope".into(),
            value: 1,
        },
        RejectCode::InvalidParam,
    );
    net.refused(
        0,
        Msg::SetHyperparam {
            netuid: 9,
            name: "tempo".into(),
            value: 1,
        },
        RejectCode::SubnetNotFound,
    );
    // Registration: too little balance; already registered; full and all immune.
    let poor = 11;
    let all = net.balance(addr(poor)) - 2 * taochain_testkit::fixtures::FEE;
    net.ok(
        poor,
        vec![Msg::Transfer {
            to: addr(0),
            amount: all,
        }],
    );
    net.refused(
        poor,
        Msg::BurnedRegister {
            netuid: 1,
            hotkey: addr(poor),
        },
        RejectCode::InsufficientFunds,
    );
    net.refused(
        2,
        Msg::BurnedRegister {
            netuid: 1,
            hotkey: addr(6),
        },
        RejectCode::AlreadyRegistered,
    );
    net.refused(
        2,
        Msg::BurnedRegister {
            netuid: 1,
            hotkey: addr(5),
        },
        RejectCode::HotkeyNotOwned,
    );
    for (name, value) in [
        ("max_allowed_validators", 4),
        ("max_allowed_uids", 4),
        ("immunity_period", 10_000),
    ] {
        set(&mut net, name, value);
    }
    net.refused(
        2,
        Msg::BurnedRegister {
            netuid: 1,
            hotkey: addr(9),
        },
        RejectCode::SubnetFull,
    );
    // Staking.
    net.refused(
        1,
        Msg::RemoveStake {
            hotkey: addr(5),
            amount: 101 * RAO_PER_TAO,
        },
        RejectCode::InsufficientStake,
    );
    net.refused(
        1,
        Msg::MoveStake {
            from: addr(5),
            to: addr(6),
            amount: 101 * RAO_PER_TAO,
        },
        RejectCode::InsufficientStake,
    );
    net.refused(
        1,
        Msg::AddStake {
            hotkey: addr(10),
            amount: RAO_PER_TAO,
        },
        RejectCode::NotRegistered,
    );
    net.refused(
        1,
        Msg::AddStake {
            hotkey: addr(5),
            amount: 0,
        },
        RejectCode::ZeroAmount,
    );
    net.refused(
        1,
        Msg::SetTake {
            hotkey: addr(5),
            take_bps: 1801,
        },
        RejectCode::TakeTooHigh,
    );
    net.refused(
        2,
        Msg::SetTake {
            hotkey: addr(5),
            take_bps: 100,
        },
        RejectCode::HotkeyNotOwned,
    );
    net.ok(
        1,
        vec![Msg::SetTake {
            hotkey: addr(5),
            take_bps: 900,
        }],
    );
    net.refused(
        1,
        Msg::SetTake {
            hotkey: addr(5),
            take_bps: 1000,
        },
        RejectCode::RateLimited,
    );
    // Subnets: beyond the limit (2), and dissolving someone else's.
    register_subnet(&mut net, 1, 8);
    net.refused(
        2,
        Msg::RegisterSubnet {
            hotkey: addr(9),
            code_id: 1,
            init_msg: vec![0; 8],
            hyperparams: None,
        },
        RejectCode::SubnetLimitReached,
    );
    net.refused(
        2,
        Msg::DissolveSubnet { netuid: 1 },
        RejectCode::Unauthorized,
    );
    // Governance: no stake, double vote, unknown proposal, deposit too low, bad param.
    let action = ProposalAction::SetParam {
        name: "subnet_limit".into(),
        value: 3,
    };
    net.refused(
        0,
        Msg::Propose {
            action: action.clone(),
            deposit: 1,
        },
        RejectCode::DepositTooLow,
    );
    net.refused(
        0,
        Msg::Propose {
            action: ProposalAction::SetParam {
                name: "x".into(),
                value: 1,
            },
            deposit: RAO_PER_TAO,
        },
        RejectCode::InvalidParam,
    );
    net.ok(
        0,
        vec![Msg::Propose {
            action,
            deposit: RAO_PER_TAO,
        }],
    );
    net.refused(
        2,
        Msg::Vote {
            id: 1,
            choice: VoteChoice::Yes,
        },
        RejectCode::NoVotingPower,
    );
    net.ok(
        3,
        vec![Msg::Vote {
            id: 1,
            choice: VoteChoice::Yes,
        }],
    );
    net.refused(
        3,
        Msg::Vote {
            id: 1,
            choice: VoteChoice::No,
        },
        RejectCode::AlreadyVoted,
    );
    net.refused(
        3,
        Msg::Vote {
            id: 7,
            choice: VoteChoice::No,
        },
        RejectCode::ProposalNotFound,
    );
}

#[test]
fn commit_reveal_accepts_only_a_matching_reveal_in_its_window() {
    let mut net = Net::new();
    standard(&mut net);
    for (name, value) in [("commit_reveal", 1), ("reveal_period", 3)] {
        net.ok(
            0,
            vec![Msg::SetHyperparam {
                netuid: 1,
                name: name.into(),
                value,
            }],
        );
    }
    let (m6, m7) = (uid(&net, 1, 6), uid(&net, 1, 7));
    let (uids, values, salt) = (vec![m6, m7], vec![5u16, 7], b"pepper".to_vec());
    let hash = weights_commit_hash(&addr(5), 1, &uids, &values, &salt, 3);
    net.refused(
        5,
        Msg::SetWeights {
            netuid: 1,
            uids: uids.clone(),
            values: values.clone(),
            version_key: 3,
        },
        RejectCode::InvalidWeights,
    );
    let committed = net
        .ok(5, vec![Msg::CommitWeights { netuid: 1, hash }])
        .height;
    let reveal = |salt: &[u8]| Msg::RevealWeights {
        netuid: 1,
        uids: uids.clone(),
        values: values.clone(),
        salt: salt.to_vec(),
        version_key: 3,
    };
    net.refused(5, reveal(&salt), RejectCode::RevealTooEarly);
    net.refused(5, reveal(b"salt"), RejectCode::RevealMismatch);
    while net.chain.height() + 1 < committed + 3 {
        net.empty();
    }
    net.ok(5, vec![reveal(&salt)]);
    let stored =
        net.get::<taochain_primitives::subnet::Neuron>(&format!("/neuron/1/{}", uid(&net, 1, 5)));
    assert_eq!(
        stored.expect("neuron").weights,
        vec![(m6, 46811), (m7, 65535)]
    );
    // A second commit revealed too late.
    let late = net
        .ok(5, vec![Msg::CommitWeights { netuid: 1, hash }])
        .height;
    while net.chain.height() + 1 < late + 6 {
        net.empty();
    }
    net.refused(5, reveal(&salt), RejectCode::RevealTooLate);
    // At most ten unrevealed commits (with a long window, so none expires meanwhile).
    net.ok(
        0,
        vec![Msg::SetHyperparam {
            netuid: 1,
            name: "reveal_period".into(),
            value: 100,
        }],
    );
    // The late commit counts again under the longer window: nine more make ten.
    for i in 0..9u8 {
        net.ok(
            5,
            vec![Msg::CommitWeights {
                netuid: 1,
                hash: [i; 32],
            }],
        );
    }
    net.refused(
        5,
        Msg::CommitWeights {
            netuid: 1,
            hash: [99; 32],
        },
        RejectCode::TooManyCommits,
    );
}

#[test]
fn a_reveal_drops_the_weights_on_uids_taken_over_since_its_commit() {
    let mut net = Net::new();
    standard(&mut net);
    for (name, value) in [
        ("commit_reveal", 1),
        ("reveal_period", 3),
        ("max_allowed_validators", 4),
        ("max_allowed_uids", 4),
    ] {
        net.ok(
            0,
            vec![Msg::SetHyperparam {
                netuid: 1,
                name: name.into(),
                value,
            }],
        );
    }
    let (m6, m7) = (uid(&net, 1, 6), uid(&net, 1, 7));
    let (uids, values, salt) = (vec![m6, m7], vec![5u16, 7], b"pepper".to_vec());
    let hash = weights_commit_hash(&addr(5), 1, &uids, &values, &salt, 0);
    // Miner 6 commits a self-weight, then loses its UID to hotkey 9 (the subnet is full,
    // and neither miner has earned anything: the older registration goes) in the block of
    // validator 5's commit: a registration that block is one the commit could not judge.
    let self_hash = weights_commit_hash(&addr(6), 1, &[m6], &[1], &salt, 0);
    net.ok(
        6,
        vec![Msg::CommitWeights {
            netuid: 1,
            hash: self_hash,
        }],
    );
    let commit = net.tx(5, vec![Msg::CommitWeights { netuid: 1, hash }]);
    let takeover = net.tx(
        3,
        vec![Msg::BurnedRegister {
            netuid: 1,
            hotkey: addr(9),
        }],
    );
    let b = net.block(vec![commit, takeover]);
    assert!(b.results.iter().all(|r| r.code == 0), "{:?}", b.results);
    let committed = b.height;
    assert_eq!(uid(&net, 1, 9), m6);
    while net.chain.height() + 1 < committed + 3 {
        net.empty();
    }
    let reveal = vec![Msg::RevealWeights {
        netuid: 1,
        uids: uids.clone(),
        values: values.clone(),
        salt: salt.clone(),
        version_key: 0,
    }];
    // Checking the two UIDs against the commit is paid before it is done.
    let before = net.snapshot();
    let tx = net.tx_with_gas(5, reveal.clone(), 2 * SCAN_GAS - 1);
    let b = net.block(vec![tx]);
    assert_eq!(
        b.results[0].code,
        RejectCode::OutOfGas.code(),
        "{}",
        b.results[0].log
    );
    assert_eq!(before, net.snapshot(), "a refused reveal changes nothing");
    let b = net.ok(5, reveal);
    assert!(b.results[0].gas_used >= 2 * SCAN_GAS as i64);
    // The weight meant for the neuron hotkey 9 replaced is dropped; the other keeps the
    // whole row.
    let me: taochain_primitives::subnet::Neuron = net
        .get(&format!("/neuron/1/{}", uid(&net, 1, 5)))
        .expect("neuron");
    assert_eq!(me.weights, vec![(m7, 65535)]);
    // Hotkey 10 registers (taking the UID of hotkey 9, which earned nothing) and commits a
    // self-weight in one block: its own UID counts.
    let self_hash = weights_commit_hash(&addr(10), 1, &[m6], &[1], &salt, 0);
    let join = net.tx(
        2,
        vec![Msg::BurnedRegister {
            netuid: 1,
            hotkey: addr(10),
        }],
    );
    let commit = net.tx(
        10,
        vec![Msg::CommitWeights {
            netuid: 1,
            hash: self_hash,
        }],
    );
    let b = net.block(vec![join, commit]);
    assert!(b.results.iter().all(|r| r.code == 0), "{:?}", b.results);
    assert_eq!(uid(&net, 1, 10), m6, "hotkey 10 took hotkey 9's UID");
    let committed = b.height;
    while net.chain.height() + 1 < committed + 3 {
        net.empty();
    }
    net.ok(
        10,
        vec![Msg::RevealWeights {
            netuid: 1,
            uids: vec![m6],
            values: vec![1],
            salt: salt.clone(),
            version_key: 0,
        }],
    );
    let joined: taochain_primitives::subnet::Neuron =
        net.get(&format!("/neuron/1/{m6}")).expect("neuron");
    assert_eq!(joined.weights, vec![(m6, 65535)]);
    // Hotkey 6 registers again: its commit went with the UID it lost.
    register(&mut net, 2, 1, 6);
    net.refused(
        6,
        Msg::RevealWeights {
            netuid: 1,
            uids: vec![m6],
            values: vec![1],
            salt,
            version_key: 0,
        },
        RejectCode::RevealMismatch,
    );
}

#[test]
fn a_full_subnet_replaces_the_lowest_emission_non_immune_neuron() {
    let mut net = Net::new();
    standard(&mut net);
    let m6 = uid(&net, 1, 6);
    net.ok(
        5,
        vec![Msg::SetWeights {
            netuid: 1,
            uids: vec![m6],
            values: vec![1],
            version_key: 0,
        }],
    );
    for (name, value) in [("max_allowed_validators", 4), ("max_allowed_uids", 4)] {
        net.ok(
            0,
            vec![Msg::SetHyperparam {
                netuid: 1,
                name: name.into(),
                value,
            }],
        );
    }
    net.until_epoch(1);
    // Miner 7 earned nothing: it is the one replaced; the burn price rose by 1.26x.
    let price_before = net.get::<Vec<SubnetView>>("/subnets").expect("views")[0].burn;
    let m7 = uid(&net, 1, 7);
    register(&mut net, 3, 1, 9);
    assert_eq!(uid(&net, 1, 9), m7);
    assert!(net.get::<u16>(&format!("/uid/1/{}", addr(7))).is_none());
    let info: SubnetInfo = net.get("/subnet/1").expect("subnet");
    assert_eq!(info.n, 4);
    assert!(
        info.burn >= price_before * 125 / 100,
        "{} vs {price_before}",
        info.burn
    );
}

#[test]
fn dissolving_a_subnet_pays_for_what_it_visits_before_it_runs() {
    let mut net = Net::new();
    subnet_one(&mut net);
    register_subnet(&mut net, 1, 8);
    let limit = net
        .get::<EconomyParams>("/economy")
        .expect("params")
        .subnet_limit;
    // One UID (the owner's hotkey), no root members, every possible subnet.
    let scan = (1 + limit) * SCAN_GAS;
    let msgs = vec![Msg::DissolveSubnet { netuid: 2 }];
    let tx = net.tx_with_gas(1, msgs.clone(), scan - 1);
    let before = net.snapshot();
    let b = net.block(vec![tx]);
    assert_eq!(
        b.results[0].code,
        RejectCode::OutOfGas.code(),
        "{}",
        b.results[0].log
    );
    assert!(
        b.results[0].log.contains("scanning"),
        "{}",
        b.results[0].log
    );
    assert_eq!(before, net.snapshot(), "a refused dissolve changes nothing");
    assert!(net.get::<SubnetInfo>("/subnet/2").is_some());
    let b = net.ok(1, msgs);
    assert!(
        b.results[0].gas_used >= scan as i64,
        "{} < {scan}",
        b.results[0].gas_used
    );
    assert!(net.get::<SubnetInfo>("/subnet/2").is_none());
}

#[test]
fn a_dissolved_subnets_root_votes_and_share_do_not_pass_to_the_next_subnet_on_its_netuid() {
    let mut net = Net::new();
    subnet_one(&mut net);
    register_subnet(&mut net, 1, 8);
    net.ok(3, vec![Msg::RootRegister { hotkey: addr(10) }]);
    stake(&mut net, 3, 10, 50);
    net.ok(
        10,
        vec![Msg::SetWeights {
            netuid: 0,
            uids: vec![2],
            values: vec![1],
            version_key: 0,
        }],
    );
    let shares = |net: &Net| net.get::<Vec<(u16, u64)>>("/shares").unwrap_or_default();
    for _ in 0..1000 {
        if shares(&net).iter().any(|s| s.0 == 2) {
            break;
        }
        net.empty();
    }
    assert!(
        shares(&net).iter().any(|s| s.0 == 2),
        "root's weights made a share"
    );
    // Subnet 2 is dissolved; a newcomer registers and gets netuid 2 back.
    net.ok(1, vec![Msg::DissolveSubnet { netuid: 2 }]);
    assert!(shares(&net).iter().all(|s| s.0 != 2), "{:?}", shares(&net));
    let root: taochain_primitives::subnet::Neuron = net.get("/neuron/0/0").expect("root neuron");
    assert!(root.weights.iter().all(|w| w.0 != 2), "{:?}", root.weights);
    register_subnet(&mut net, 2, 9);
    let fresh: SubnetInfo = net.get("/subnet/2").expect("re-registered on netuid 2");
    assert_eq!(fresh.owner, addr(2));
    // Through the next root epochs nothing gives the newcomer the old subnet's share.
    for _ in 0..3 {
        net.empty();
        assert!(shares(&net).iter().all(|s| s.0 != 2), "{:?}", shares(&net));
    }
}

#[test]
fn root_weights_set_subnet_shares_and_governance_raises_the_subnet_limit() {
    let mut net = Net::new();
    subnet_one(&mut net);
    register_subnet(&mut net, 1, 8);
    // Before root weights: equal shares.
    net.empty();
    let pots: Vec<u64> = net
        .get::<Vec<SubnetView>>("/subnets")
        .expect("v")
        .iter()
        .map(|s| s.pot)
        .collect();
    assert_eq!(pots.len(), 2);
    // Root: hotkey 10 (coldkey 3) with stake weights subnet 2 only.
    net.ok(3, vec![Msg::RootRegister { hotkey: addr(10) }]);
    stake(&mut net, 3, 10, 50);
    net.ok(
        10,
        vec![Msg::SetWeights {
            netuid: 0,
            uids: vec![2],
            values: vec![1],
            version_key: 0,
        }],
    );
    net.refused(
        10,
        Msg::SetWeights {
            netuid: 0,
            uids: vec![5],
            values: vec![1],
            version_key: 0,
        },
        RejectCode::UnknownUid,
    );
    // The stake is pending through the first root epoch (equal shares still); the
    // second counts it.
    let root_epoch = |net: &mut Net| loop {
        let b = net.empty();
        if b.events.iter().any(|e| e.r#type == "root_epoch") {
            break;
        }
    };
    root_epoch(&mut net);
    assert!(
        net.get::<Vec<(u16, u64)>>("/shares")
            .unwrap_or_default()
            .is_empty()
    );
    root_epoch(&mut net);
    let views: Vec<SubnetView> = net.get("/subnets").expect("views");
    assert_eq!(views[0].share_q32, 0);
    assert_eq!(views[1].share_q32, 1 << 32);
    // From now on the whole reward goes to subnet 2: subnet 1's pot never grows.
    for _ in 0..6 {
        let before: Vec<u64> = net
            .get::<Vec<SubnetView>>("/subnets")
            .expect("v")
            .iter()
            .map(|s| s.pot)
            .collect();
        let b = net.empty();
        let after: Vec<u64> = net
            .get::<Vec<SubnetView>>("/subnets")
            .expect("v")
            .iter()
            .map(|s| s.pot)
            .collect();
        assert!(after[0] <= before[0]);
        if epoch_event(&b, 2).is_none() {
            assert!(after[1] > before[1]);
        }
    }
    // Governance: the limit is 2; a passed proposal raises it to 3.
    net.refused(
        2,
        Msg::RegisterSubnet {
            hotkey: addr(9),
            code_id: 1,
            init_msg: vec![0; 8],
            hyperparams: None,
        },
        RejectCode::SubnetLimitReached,
    );
    let action = ProposalAction::SetParam {
        name: "subnet_limit".into(),
        value: 3,
    };
    let deposits = Address::module("gov_deposits");
    net.ok(
        0,
        vec![Msg::Propose {
            action,
            deposit: RAO_PER_TAO,
        }],
    );
    assert_eq!(net.balance(deposits), RAO_PER_TAO);
    net.ok(
        3,
        vec![Msg::Vote {
            id: 1,
            choice: VoteChoice::Yes,
        }],
    );
    while net.get::<Proposal>("/proposal/1").expect("p").status == ProposalStatus::Open {
        net.empty();
    }
    let p: Proposal = net.get("/proposal/1").expect("p");
    assert_eq!(p.status, ProposalStatus::Executed, "{p:?}");
    assert_eq!(p.yes, 50 * RAO_PER_TAO);
    // Quorum reached: the deposit went back.
    assert_eq!(net.balance(deposits), 0);
    assert_eq!(
        net.get::<EconomyParams>("/economy")
            .expect("p")
            .subnet_limit,
        3
    );
    register_subnet(&mut net, 2, 9);
    assert!(net.get::<SubnetInfo>("/subnet/3").is_some());
    // Dissolve by the owner: the lock comes back.
    let info: SubnetInfo = net.get("/subnet/3").expect("s");
    let b2 = net.balance(addr(2));
    net.ok(2, vec![Msg::DissolveSubnet { netuid: 3 }]);
    assert_eq!(
        net.balance(addr(2)),
        b2 + info.locked - taochain_testkit::fixtures::FEE
    );
    assert!(net.get::<SubnetInfo>("/subnet/3").is_none());
    let _: Option<HotkeyInfo> = net.get(&format!("/hotkey/{}", addr(9)));

    // Governance migrates subnet 1's contract (the counter's migrate bumps its count by 5),
    // fails cleanly on a missing code id, and dissolves subnet 2 (its lock goes back to
    // its owner, coldkey 1).
    let contract = net.get::<SubnetInfo>("/subnet/1").expect("s").contract;
    let count = |net: &Net| -> u64 {
        let r = net
            .chain
            .abci()
            .query(tendermint_proto::v0_38::abci::RequestQuery {
                path: format!("/contract/{contract}/smart"),
                data: vec![0u8].into(),
                ..Default::default()
            });
        assert_eq!(r.code, 0, "{}", r.log);
        borsh::from_slice(&r.value).expect("count")
    };
    let before = count(&net);
    let lock2 = net.get::<SubnetInfo>("/subnet/2").expect("s").locked;
    let actions = [
        ProposalAction::MigrateSubnet {
            netuid: 1,
            code_id: 1,
            msg: 5u64.to_le_bytes().to_vec(),
        },
        ProposalAction::MigrateSubnet {
            netuid: 1,
            code_id: 99,
            msg: vec![],
        },
        ProposalAction::DissolveSubnet { netuid: 2 },
    ];
    for action in actions {
        net.ok(
            0,
            vec![Msg::Propose {
                action,
                deposit: RAO_PER_TAO,
            }],
        );
    }
    // Coldkey 1 owns subnet 2, which pays it nothing: nobody stakes there.
    let b1 = net.balance(addr(1));
    for id in 2..=4 {
        net.ok(
            3,
            vec![Msg::Vote {
                id,
                choice: VoteChoice::Yes,
            }],
        );
    }
    while net.get::<Proposal>("/proposal/4").expect("p").status == ProposalStatus::Open {
        net.empty();
    }
    let status = |id: u64| {
        net.get::<Proposal>(&format!("/proposal/{id}"))
            .expect("p")
            .status
    };
    assert_eq!(status(2), ProposalStatus::Executed);
    assert!(
        matches!(status(3), ProposalStatus::Failed(_)),
        "{:?}",
        status(3)
    );
    assert_eq!(status(4), ProposalStatus::Executed);
    assert_eq!(count(&net), before + 5);
    assert!(net.get::<SubnetInfo>("/subnet/2").is_none());
    assert_eq!(net.balance(addr(1)), b1 + lock2);
}

#[test]
fn registering_and_dissolving_never_raises_the_next_lock_cost() {
    let mut net = Net::new();
    let lock = |net: &Net| -> u64 { net.get("/lock_cost").expect("lock cost") };
    subnet_one(&mut net);
    let after_one = lock(&net);
    assert!(
        after_one > 10 * RAO_PER_TAO,
        "a registration doubles the lock"
    );
    // Register and dissolve subnet 2 four times inside one transaction, for one fee.
    let mut msgs = vec![];
    for _ in 0..4 {
        msgs.push(Msg::RegisterSubnet {
            hotkey: addr(5),
            code_id: 1,
            init_msg: 0u64.to_le_bytes().to_vec(),
            hyperparams: None,
        });
        msgs.push(Msg::DissolveSubnet { netuid: 2 });
    }
    net.ok(1, msgs);
    let after_loop = lock(&net);
    assert!(
        after_loop <= after_one,
        "the loop raised the lock from {after_one} to {after_loop}"
    );
    // Dissolving the last registered subnet takes its doubling with it.
    net.ok(0, vec![Msg::DissolveSubnet { netuid: 1 }]);
    assert_eq!(lock(&net), 10 * RAO_PER_TAO);
    // Two at once, the first dissolved first: each registration is spliced out.
    let register = || Msg::RegisterSubnet {
        hotkey: addr(5),
        code_id: 1,
        init_msg: 0u64.to_le_bytes().to_vec(),
        hyperparams: None,
    };
    for order in [[1u16, 2], [2, 1]] {
        net.ok(
            1,
            vec![
                register(),
                register(),
                Msg::DissolveSubnet { netuid: order[0] },
                Msg::DissolveSubnet { netuid: order[1] },
            ],
        );
        assert_eq!(lock(&net), 10 * RAO_PER_TAO, "dissolved in order {order:?}");
    }
}

/// `netuid`'s next epoch height after the current one (see `is_epoch`).
fn next_epoch_height(net: &Net, netuid: u16) -> u64 {
    let mut h = net.chain.height() + 1;
    while !(h + netuid as u64 + 1).is_multiple_of(TEMPO + 1) {
        h += 1;
    }
    h
}

/// Validator hotkey 5 puts all its weight on miner hotkey 6 (subnet 1).
fn validator_5_weights_miner_6(net: &mut Net) {
    let m6 = uid(net, 1, 6);
    net.ok(
        5,
        vec![Msg::SetWeights {
            netuid: 1,
            uids: vec![m6],
            values: vec![1],
            version_key: 0,
        }],
    );
}

/// Hotkey `hot`'s nominator pool.
fn pool(net: &Net, hot: u8) -> taochain_primitives::subnet::StakePool {
    net.get(&format!("/pool/{}", addr(hot))).expect("pool")
}

fn unclaimed(net: &Net, hot: u8, cold: u8) -> u64 {
    net.get(&format!("/rewards/{}/{}", addr(hot), addr(cold)))
        .expect("rewards")
}

fn refused_tx(net: &mut Net, from: u8, msgs: Vec<Msg>, code: RejectCode) -> String {
    let tx = net.tx(from, msgs);
    let b = net.block(vec![tx]);
    assert_eq!(b.results[0].code, code.code(), "{}", b.results[0].log);
    b.results[0].log.clone()
}

#[test]
fn an_epoch_visits_no_nominator_and_each_claims_its_exact_share() {
    let mut net = Net::new();
    standard(&mut net);
    // Seven more nominators on validator hotkey 5, 1..7 TAO each, in one block right after
    // an epoch (accounts no epoch pays otherwise).
    let extra: Vec<u8> = [4, 6, 7].into_iter().chain(8..KEYS).collect();
    net.until_epoch(1);
    let txs = extra
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let amount = (i as u64 + 1) * RAO_PER_TAO;
            net.tx(
                c,
                vec![Msg::AddStake {
                    hotkey: addr(5),
                    amount,
                }],
            )
        })
        .collect();
    let b = net.block(txs);
    assert!(b.results.iter().all(|r| r.code == 0), "{:?}", b.results);
    assert!(epoch_event(&b, 1).is_none());
    validator_5_weights_miner_6(&mut net);
    // Their stake activates at this epoch (it earns nothing from it)...
    net.until_epoch(1);
    for &c in &extra {
        assert_eq!(unclaimed(&net, 5, c), 0, "pending stake of {c} earned");
    }
    // ...and earns from the next, without the epoch touching any nominator's account.
    let before: Vec<u64> = extra.iter().map(|&c| net.balance(addr(c))).collect();
    let pool_before = pool(&net, 5);
    net.until_epoch(1);
    let after: Vec<u64> = extra.iter().map(|&c| net.balance(addr(c))).collect();
    assert_eq!(before, after, "the epoch paid nominators directly");
    let pool = pool(&net, 5);
    let d = pool.acc.wrapping_sub(pool_before.acc);
    assert!(d > 0);
    let mut owed_sum = 0;
    for (i, &c) in extra.iter().enumerate() {
        let own = (i as u64 + 1) * RAO_PER_TAO;
        let owed = unclaimed(&net, 5, c);
        assert_eq!(
            owed,
            (own as u128 * d / REWARD_SCALE) as u64,
            "nominator {c}"
        );
        owed_sum += owed;
    }
    let rewards = Address::module("nominator_rewards");
    assert!(owed_sum <= net.balance(rewards));
    for &c in &extra {
        let (owed, before) = (unclaimed(&net, 5, c), net.balance(addr(c)));
        net.ok(c, vec![Msg::ClaimRewards { hotkey: addr(5) }]);
        assert_eq!(net.balance(addr(c)) + FEE, before + owed);
    }
    let contract = net.get::<SubnetInfo>("/subnet/1").expect("subnet").contract;
    let supply: Supply = net.get("/supply").expect("supply");
    assert_eq!(net.sum_of_balances(&[contract]), supply.total_issuance);
}

#[test]
fn stake_added_during_a_tempo_earns_nothing_and_counts_nothing_in_that_epoch() {
    let mut net = Net::new();
    standard(&mut net);
    // Hotkey 9 (coldkey 2) is a neuron without stake.
    register(&mut net, 2, 1, 9);
    validator_5_weights_miner_6(&mut net);
    net.until_epoch(1);
    // Just before the epoch: coldkey 2 nominates 2,000 TAO on validator 5 and stakes
    // 2,000 TAO on its own hotkey 9.
    let epoch = next_epoch_height(&net, 1);
    while net.chain.height() + 2 < epoch {
        net.empty();
    }
    let acc0 = pool(&net, 5).acc;
    net.ok(
        2,
        vec![
            Msg::AddStake {
                hotkey: addr(5),
                amount: 2_000 * RAO_PER_TAO,
            },
            Msg::AddStake {
                hotkey: addr(9),
                amount: 2_000 * RAO_PER_TAO,
            },
        ],
    );
    let b = net.empty();
    assert_eq!(b.height, epoch);
    let ev = epoch_event(&b, 1).expect("epoch");
    // The JIT nomination earned nothing; the 400 TAO that were there earned it all.
    assert_eq!(unclaimed(&net, 5, 2), 0);
    let pool = pool(&net, 5);
    let v = num(&ev, "validators");
    let rest = v - v * 1800 / 10_000;
    let d = pool.acc.wrapping_sub(acc0);
    assert_eq!(d, rest as u128 * REWARD_SCALE / (400 * RAO_PER_TAO as u128));
    // Yuma did not count hotkey 9's new stake: no permit, no dividends.
    let rows = net.metagraph(1);
    let m9 = uid(&net, 1, 9) as usize;
    assert!(
        !rows[m9].permit && rows[m9].dividends == 0,
        "{:?}",
        rows[m9]
    );
    assert_eq!(rows[m9].stake, 2_000 * RAO_PER_TAO);
    // From the next epoch on, both count.
    net.until_epoch(1);
    assert!(unclaimed(&net, 5, 2) > 0);
    assert!(net.metagraph(1)[m9].permit);
}

#[test]
fn a_root_seat_cannot_be_taken_with_stake_added_or_removed_in_the_same_transaction() {
    let mut p = economy();
    p.root_max_uids = 1;
    // A long root tempo, so the lock outlives the attempts below.
    p.root_tempo = 40;
    let mut net = Net::with_economy(p);
    // Root is full: hotkey 10 (coldkey 3) with 50 TAO.
    net.ok(3, vec![Msg::RootRegister { hotkey: addr(10) }]);
    stake(&mut net, 3, 10, 50);
    // Its stake is active after a root epoch.
    while !net.empty().events.iter().any(|e| e.r#type == "root_epoch") {}
    // Flash stake: add, take the seat, remove, all in one transaction.
    let log = refused_tx(
        &mut net,
        2,
        vec![
            Msg::AssociateHotkey { hotkey: addr(9) },
            Msg::AddStake {
                hotkey: addr(9),
                amount: 100 * RAO_PER_TAO,
            },
            Msg::RootRegister { hotkey: addr(9) },
            Msg::RemoveStake {
                hotkey: addr(9),
                amount: 100 * RAO_PER_TAO,
            },
        ],
        RejectCode::SubnetFull,
    );
    assert!(log.contains("active stake"), "{log}");
    // Stake held from an earlier block wins the seat, and that stake stays locked.
    net.ok(2, vec![Msg::AssociateHotkey { hotkey: addr(9) }]);
    stake(&mut net, 2, 9, 100);
    let log = refused_tx(
        &mut net,
        2,
        vec![
            Msg::RootRegister { hotkey: addr(9) },
            Msg::RemoveStake {
                hotkey: addr(9),
                amount: 100 * RAO_PER_TAO,
            },
        ],
        RejectCode::StakeLocked,
    );
    assert!(log.contains("root seat"), "{log}");
    // Scanning the full root is paid before it runs: a gas limit that covers only the
    // transaction itself is refused out of gas, and nothing changes.
    let msgs = vec![Msg::RootRegister { hotkey: addr(9) }];
    let nonce = net.nonces.get(&2).copied().unwrap_or(0);
    let mut body = TxBody {
        chain_id: CHAIN_ID.into(),
        nonce,
        fee: FEE,
        gas_limit: 0,
        msgs: msgs.clone(),
    };
    let len = body
        .clone()
        .sign(&taochain_testkit::fixtures::key(2))
        .encode()
        .len();
    body.gas_limit = taochain_primitives::state::gas::required(1, len) + SCAN_GAS - 1;
    let tx = body.sign(&taochain_testkit::fixtures::key(2)).encode();
    let before = net.snapshot();
    let b = net.block(vec![tx]);
    assert_eq!(
        b.results[0].code,
        RejectCode::OutOfGas.code(),
        "{}",
        b.results[0].log
    );
    assert!(
        b.results[0].log.contains("scanning"),
        "{}",
        b.results[0].log
    );
    assert_eq!(before, net.snapshot());
    *net.nonces.entry(2).or_default() += 1;
    let b = net.ok(2, msgs);
    assert!(
        b.results[0].gas_used >= SCAN_GAS as i64,
        "{}",
        b.results[0].gas_used
    );
    let won = b.height;
    let lock: taochain_primitives::subnet::StakeLock =
        net.get(&format!("/hlock/{}", addr(9))).expect("lock");
    assert_eq!(lock.amount, 50 * RAO_PER_TAO + 1);
    assert_eq!(lock.until, (won / 40 + 1) * 40);
    assert!(
        lock.until > won + 4,
        "the attempts below run inside the lock"
    );
    let rows = net.metagraph(0);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].hotkey, addr(9));
    for msg in [
        Msg::RemoveStake {
            hotkey: addr(9),
            amount: 50 * RAO_PER_TAO,
        },
        Msg::MoveStake {
            from: addr(9),
            to: addr(10),
            amount: 50 * RAO_PER_TAO,
        },
    ] {
        net.refused(2, msg, RejectCode::StakeLocked);
    }
    // What is above the winning margin may leave; the rest after the next root epoch.
    net.ok(
        2,
        vec![Msg::RemoveStake {
            hotkey: addr(9),
            amount: 50 * RAO_PER_TAO - 1,
        }],
    );
    loop {
        let b = net.empty();
        if b.events.iter().any(|e| e.r#type == "root_epoch") {
            break;
        }
    }
    net.empty();
    net.ok(
        2,
        vec![Msg::RemoveStake {
            hotkey: addr(9),
            amount: 50 * RAO_PER_TAO + 1,
        }],
    );
}

#[test]
fn a_vote_weighs_the_stake_at_vote_time_and_locks_it_until_the_tally() {
    let mut p = economy();
    p.voting_period = 20;
    let mut net = Net::with_economy(p);
    standard(&mut net);
    net.ok(
        0,
        vec![Msg::Propose {
            action: ProposalAction::SetParam {
                name: "subnet_limit".into(),
                value: 3,
            },
            deposit: RAO_PER_TAO,
        }],
    );
    // Coldkey 3 votes with its 300 TAO, then stakes 500 TAO more.
    net.ok(
        3,
        vec![Msg::Vote {
            id: 1,
            choice: VoteChoice::Yes,
        }],
    );
    stake(&mut net, 3, 5, 500);
    // The voted 300 TAO cannot leave the coldkey before the tally; the rest can, and
    // moving stake between hotkeys is fine.
    net.refused(
        3,
        Msg::RemoveStake {
            hotkey: addr(5),
            amount: 501 * RAO_PER_TAO,
        },
        RejectCode::StakeLocked,
    );
    net.ok(
        3,
        vec![
            Msg::MoveStake {
                from: addr(5),
                to: addr(6),
                amount: 10 * RAO_PER_TAO,
            },
            Msg::RemoveStake {
                hotkey: addr(5),
                amount: 490 * RAO_PER_TAO,
            },
        ],
    );
    while net.get::<Proposal>("/proposal/1").expect("p").status == ProposalStatus::Open {
        net.empty();
    }
    let p: Proposal = net.get("/proposal/1").expect("p");
    assert_eq!(
        p.yes,
        300 * RAO_PER_TAO,
        "the vote weighs the stake at vote time"
    );
    net.ok(
        3,
        vec![Msg::RemoveStake {
            hotkey: addr(5),
            amount: 300 * RAO_PER_TAO,
        }],
    );
}

#[test]
fn epoch_hooks_of_one_block_share_the_block_gas_budget() {
    let mut p = economy();
    // Each hook reserves 200M gas of a 300M block budget: one hook per block.
    p.epoch_gas = 200_000_000;
    let mut app_state = genesis(KEYS, BALANCE);
    app_state["economy"] = serde_json::to_value(p).expect("json");
    app_state["params"] = serde_json::to_value(taochain_primitives::Params {
        max_tx_gas: 300_000_000,
        max_block_gas: 300_000_000,
        ..taochain_primitives::Params::default()
    })
    .expect("json");
    let mut chain = MockChain::in_memory_with_audit();
    chain.init(CHAIN_ID, &app_state);
    chain.block(vec![]);
    let mut net = Net {
        chain,
        nonces: BTreeMap::new(),
    };
    subnet_one(&mut net);
    register_subnet(&mut net, 1, 8);
    // Subnet 2 with tempo 1 (odd heights) meets subnet 1 (heights 3 mod 5) every 10 blocks.
    net.ok(
        1,
        vec![Msg::SetHyperparam {
            netuid: 2,
            name: "tempo".into(),
            value: 1,
        }],
    );
    let skipped = |b: &CommittedBlock| {
        b.events
            .iter()
            .filter(|e| e.r#type == "epoch_hook_skipped")
            .map(|e| {
                let a: BTreeMap<_, _> = e
                    .attributes
                    .iter()
                    .map(|a| (a.key.clone(), a.value.clone()))
                    .collect();
                (a["netuid"].clone(), a["reason"].clone())
            })
            .collect::<Vec<_>>()
    };
    let (mut alone, mut together) = (0, 0);
    while together < 2 {
        let b = net.empty();
        match (epoch_event(&b, 1).is_some(), epoch_event(&b, 2).is_some()) {
            (true, true) => {
                let s = skipped(&b);
                assert_eq!(s.len(), 1, "{s:?}");
                assert_eq!(s[0].0, "2");
                assert!(s[0].1.contains("budget"), "{s:?}");
                together += 1;
            }
            (false, true) | (true, false) => {
                assert!(skipped(&b).is_empty(), "{:?}", skipped(&b));
                alone += 1;
            }
            (false, false) => {}
        }
    }
    assert!(alone > 2);
}

#[test]
fn stake_activated_by_another_subnets_epoch_still_earns_nothing_on_this_one() {
    let mut net = Net::new();
    standard(&mut net);
    // Validator hotkey 5 is also a neuron of subnet 2, whose tempo is 1.
    register_subnet(&mut net, 1, 8);
    net.ok(
        1,
        vec![Msg::SetHyperparam {
            netuid: 2,
            name: "tempo".into(),
            value: 1,
        }],
    );
    register(&mut net, 1, 2, 5);
    validator_5_weights_miner_6(&mut net);
    net.until_epoch(1);
    // Four blocks before subnet 1's epoch, coldkey 2 nominates on 5; subnet 2's epochs
    // come and go in between.
    let epoch = next_epoch_height(&net, 1);
    while net.chain.height() + 5 < epoch {
        net.empty();
    }
    stake(&mut net, 2, 5, 2_000);
    let mut subnet2_epochs = 0;
    let b = loop {
        let b = net.empty();
        if epoch_event(&b, 1).is_some() {
            break b;
        }
        subnet2_epochs += usize::from(epoch_event(&b, 2).is_some());
    };
    assert!(subnet2_epochs >= 1, "no epoch of subnet 2 in between");
    assert_eq!(b.height, epoch);
    let pool = pool(&net, 5);
    assert_eq!(
        unclaimed(&net, 5, 2),
        0,
        "the nomination earned from a tempo it missed"
    );
    // Subnet 1's epoch was the last one the stake had to wait for: it is active now.
    assert_eq!(pool.pending, 0);
    net.until_epoch(1);
    assert!(unclaimed(&net, 5, 2) > 0);
}

/// A proposal acts on the subnet it named, never on a subnet registered later on the same
/// netuid: subnet 2 is dissolved and its netuid taken by another owner (in one block) while
/// a migration and a dissolution of it are being voted; both pass and both fail to run.
#[test]
fn a_passed_proposal_leaves_alone_a_subnet_that_took_its_netuid() {
    let mut net = Net::new();
    standard(&mut net);
    register_subnet(&mut net, 1, 8);
    // One block: both proposals. The next: both votes, coldkey 1 dissolves subnet 2 and
    // coldkey 2 registers and gets netuid 2.
    let propose = |action| Msg::Propose {
        action,
        deposit: RAO_PER_TAO,
    };
    let txs = vec![
        net.tx(
            1,
            vec![propose(ProposalAction::MigrateSubnet {
                netuid: 2,
                code_id: 1,
                msg: 5u64.to_le_bytes().to_vec(),
            })],
        ),
        net.tx(
            0,
            vec![propose(ProposalAction::DissolveSubnet { netuid: 2 })],
        ),
    ];
    let b = net.block(txs);
    let ids: Vec<u64> = b
        .results
        .iter()
        .map(|r| {
            assert_eq!(r.code, 0, "{}", r.log);
            u64::from_be_bytes(r.data[..8].try_into().expect("id"))
        })
        .collect();
    let votes = ids
        .iter()
        .map(|&id| Msg::Vote {
            id,
            choice: VoteChoice::Yes,
        })
        .collect();
    let txs = vec![
        net.tx(3, votes),
        net.tx(1, vec![Msg::DissolveSubnet { netuid: 2 }]),
        net.tx(
            2,
            vec![Msg::RegisterSubnet {
                hotkey: addr(9),
                code_id: 1,
                init_msg: 0u64.to_le_bytes().to_vec(),
                hyperparams: None,
            }],
        ),
    ];
    let b = net.block(txs);
    assert!(b.results.iter().all(|r| r.code == 0), "{:?}", b.results);
    let newcomer = net.get::<SubnetInfo>("/subnet/2").expect("netuid 2 again");
    assert_eq!(newcomer.owner, addr(2));
    let status = |net: &Net, id: u64| {
        net.get::<Proposal>(&format!("/proposal/{id}"))
            .expect("p")
            .status
    };
    while ids
        .iter()
        .any(|id| status(&net, *id) == ProposalStatus::Open)
    {
        net.empty();
    }
    for id in ids {
        let st = status(&net, id);
        assert!(
            matches!(&st, ProposalStatus::Failed(why) if why.contains("was dissolved")),
            "proposal {id}: {st:?}"
        );
    }
    let after = net
        .get::<SubnetInfo>("/subnet/2")
        .expect("the newcomer stays");
    assert_eq!(
        (after.owner, after.contract, after.registered_at),
        (newcomer.owner, newcomer.contract, newcomer.registered_at),
        "neither migrated nor dissolved"
    );
}

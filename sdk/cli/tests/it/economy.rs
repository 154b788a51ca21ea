//! The economy on the real 4-validator localnet: two subnets from the example contracts,
//! owners, 3 validators and 5 miners each, stake and nominations, root and subnet
//! weights, three epochs; then the metagraph, the exact payout of an epoch in balances,
//! issuance against the schedule, equal app hashes, and a governance proposal that raises
//! the subnet limit so a 33rd subnet can be created.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use taochain_client::{Client, Keystore};
use taochain_economics::payout::REWARD_SCALE;
use taochain_primitives::subnet::{HotkeyInfo, Neuron, StakePool, SubnetInfo};
use taochain_primitives::{Account, Address, Msg, RAO_PER_TAO, Supply, block_reward};
use taochain_vm_sandbox::contract_wasm;

use crate::localnet::{assert_validators_agree, start, tao, tao_json};

fn get<T: borsh::BorshDeserialize>(c: &Client, path: &str, height: u64) -> Option<T> {
    let raw = c.query_raw(path, height).expect("query");
    (!raw.is_empty()).then(|| borsh::from_slice(&raw).expect("decodes"))
}

fn balance_at(c: &Client, a: &Address, h: u64) -> u64 {
    get::<Account>(c, &format!("/account/{a}"), h).map_or(0, |a| a.balance)
}

fn miner(s: u16, k: u8) -> Address {
    Address::module(&format!("e2e-miner-{s}-{k}"))
}

fn owner_hotkey(s: u16) -> Address {
    Address::module(&format!("e2e-owner-{s}"))
}

struct Keys(Vec<SigningKey>);

impl Keys {
    fn addr(&self, i: usize) -> Address {
        Address::from_public_key(&self.0[i].verifying_key().to_bytes())
    }
}

fn send(c: &Client, key: &SigningKey, msgs: Vec<Msg>) -> u64 {
    c.send(key, msgs, None)
        .expect("transaction succeeds")
        .height
}

fn cli(home: &Path, node: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--node", node];
    all.extend(args);
    tao_json(home, &all)
}

#[test]
fn subnets_epochs_payout_and_governance_on_the_localnet() {
    let net = start(2, &["--dev-accounts", "14"]);
    let (home, spec, node) = (net.home.clone(), &net.spec, net.node.clone());
    let c = Client::new(&node);
    let ks = Keystore::open(home.join("keys")).expect("keystore");
    let keys = Keys(
        (0..14)
            .map(|i| ks.signing_key(&format!("dev{i}"), None).expect("dev key"))
            .collect(),
    );
    let dev = |i: usize| format!("dev{i}");

    // Code 1 = counter, code 2 = escrow; subnet 1 (owner dev0) and subnet 2 (owner dev1)
    // through the CLI.
    for (i, name) in ["counter", "escrow"].iter().enumerate() {
        let f = home.join(format!("{name}.wasm"));
        std::fs::write(&f, contract_wasm(name)).expect("wasm");
        cli(
            &home,
            &node,
            &["contract", "store", &f.to_string_lossy(), "--from", &dev(i)],
        );
    }
    let escrow_init = hex::encode([[7u8; 20], [8u8; 20]].concat());
    for (s, init) in [(1u16, "0000000000000000"), (2, escrow_init.as_str())] {
        let code = s.to_string();
        let hot = owner_hotkey(s).to_string();
        cli(
            &home,
            &node,
            &[
                "subnet",
                "create",
                "--from",
                &dev(s as usize - 1),
                "--hotkey",
                &hot,
                "--code-id",
                &code,
                "--init-msg",
                init,
            ],
        );
    }
    let list = cli(&home, &node, &["subnet", "list"]);
    assert_eq!(list.as_array().expect("list").len(), 2, "{list}");

    // Validators: dev2..4 on subnet 1, dev5..7 on subnet 2 (each its own coldkey and
    // hotkey, staking 100/200/300 TAO). Miners: 5 hotkeys per subnet, coldkey dev8 / dev9.
    // Nominator dev10 on the first validator of each subnet. Root: dev11.
    for s in [1u16, 2] {
        for k in 0..3usize {
            let v = 2 + 3 * (s as usize - 1) + k;
            let me = keys.addr(v);
            send(
                &c,
                &keys.0[v],
                vec![
                    Msg::BurnedRegister {
                        netuid: s,
                        hotkey: me,
                    },
                    Msg::AddStake {
                        hotkey: me,
                        amount: (k as u64 + 1) * 100 * RAO_PER_TAO,
                    },
                ],
            );
        }
        let miners: Vec<Msg> = (0..5)
            .map(|k| Msg::BurnedRegister {
                netuid: s,
                hotkey: miner(s, k),
            })
            .collect();
        send(&c, &keys.0[7 + s as usize], miners);
    }
    // One registration and one nomination through the CLI too.
    let nominee = keys.addr(2).to_string();
    cli(
        &home,
        &node,
        &[
            "stake",
            "add",
            "--from",
            &dev(10),
            "--hotkey",
            &nominee,
            "--amount",
            "50TAO",
        ],
    );
    send(
        &c,
        &keys.0[10],
        vec![Msg::AddStake {
            hotkey: keys.addr(5),
            amount: 50 * RAO_PER_TAO,
        }],
    );
    let root_hot = keys.addr(11).to_string();
    cli(
        &home,
        &node,
        &[
            "root",
            "register",
            "--from",
            &dev(11),
            "--hotkey",
            &root_hot,
        ],
    );
    send(
        &c,
        &keys.0[11],
        vec![Msg::AddStake {
            hotkey: keys.addr(11),
            amount: 500 * RAO_PER_TAO,
        }],
    );
    cli(
        &home,
        &node,
        &[
            "root",
            "weights",
            "--from",
            &dev(11),
            "--netuids",
            "1,2",
            "--values",
            "1,3",
        ],
    );

    // Validators need permits (from an epoch) before weights on others count.
    let epoch_of = |s: u16| {
        get::<SubnetInfo>(&c, &format!("/subnet/{s}"), 0)
            .expect("subnet")
            .last_epoch
    };
    let wait_epochs = |s: u16, n: usize| {
        let mut last = epoch_of(s);
        for _ in 0..n {
            let deadline = std::time::Instant::now() + Duration::from_secs(90);
            while epoch_of(s) == last {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no epoch on subnet {s}"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            last = epoch_of(s);
        }
    };
    // Stake is pending until the hotkey's next epoch, so permits (from active stake) come
    // with the second.
    wait_epochs(1, 2);
    wait_epochs(2, 2);
    for s in [1u16, 2] {
        for k in 0..3usize {
            let v = 2 + 3 * (s as usize - 1) + k;
            // Each validator prefers different miners; UIDs 4..8 are the miners.
            let values: Vec<String> = (0..5).map(|m| (1 + (m + k) % 5).to_string()).collect();
            cli(
                &home,
                &node,
                &[
                    "weights",
                    "set",
                    "--from",
                    &dev(v),
                    "--netuid",
                    &s.to_string(),
                    "--uids",
                    "4,5,6,7,8",
                    "--values",
                    &values.join(","),
                ],
            );
        }
    }
    wait_epochs(1, 3);
    wait_epochs(2, 1);

    // The metagraph: consensus, incentive and dividends.
    let mg = cli(&home, &node, &["metagraph", "1"]);
    let rows = mg.as_array().expect("rows");
    assert_eq!(rows.len(), 9, "{mg}");
    let field = |uid: usize, f: &str| rows[uid][f].as_u64().expect("number");
    let incentive: u64 = (4..9).map(|u| field(u, "incentive")).sum();
    let dividends: u64 = (1..4).map(|u| field(u, "dividends")).sum();
    assert!(
        incentive.abs_diff(65535) <= 5 && dividends.abs_diff(65535) <= 5,
        "{mg}"
    );
    assert!((4..9).all(|u| field(u, "consensus") > 0), "{mg}");
    assert!((1..4).all(|u| rows[u]["permit"] == true), "{mg}");

    // The last epoch of subnet 1, in balances: nobody transacted in that block.
    let e = epoch_of(1);
    let delta = |i: usize| balance_at(&c, &keys.addr(i), e) - balance_at(&c, &keys.addr(i), e - 1);
    let owner = delta(0);
    let miners = delta(8);
    // Nominators are not visited by the epoch: their part enters the rewards account.
    let rewards = Address::module("nominator_rewards");
    let pooled = balance_at(&c, &rewards, e) - balance_at(&c, &rewards, e - 1);
    assert_eq!(delta(10), 0, "the epoch paid a nominator directly");
    let validators: u64 = [2, 3, 4].iter().map(|&i| delta(i)).sum::<u64>() + pooled;
    let carried: u64 = get(&c, "/subnet/1/pot", e).unwrap_or(0);
    let pot = owner + miners + validators + carried;
    assert!(pot > 0);
    assert_eq!(owner, pot * 18 / 100, "owner's 18% of {pot}");
    // 41% each to miners and validators, split by incentive / dividends with floors
    // whose few rao of remainder are carried.
    let half = pot * 41 / 100;
    assert!(
        validators <= half && validators + 3 >= half,
        "validators' 41% of {pot}: {validators}"
    );
    assert!(
        miners <= half && miners + 5 >= half,
        "miners' 41% of {pot}: {miners}"
    );
    assert!(carried <= 10, "carried {carried}");
    // Nominator dev10's part of validator dev2's emission: (v - 18% take) pro rata.
    let v_uid: u16 = get(&c, &format!("/uid/1/{}", keys.addr(2)), e).expect("uid");
    let v = get::<Neuron>(&c, &format!("/neuron/1/{v_uid}"), e)
        .expect("neuron")
        .emission;
    let hk: HotkeyInfo = get(&c, &format!("/hotkey/{}", keys.addr(2)), e).expect("hotkey");
    let rest = v - v * hk.take_bps as u64 / 10_000;
    let own = 100 * RAO_PER_TAO;
    let nominated = 50 * RAO_PER_TAO;
    assert_eq!(hk.total_stake, own + nominated);
    let pool_at = |h: u64| {
        get::<StakePool>(&c, &format!("/pool/{}", keys.addr(2)), h)
            .expect("pool")
            .acc
    };
    let earned =
        (nominated as u128 * pool_at(e).wrapping_sub(pool_at(e - 1)) / REWARD_SCALE) as u64;
    let expected = (rest as u128 * nominated as u128 / hk.total_stake as u128) as u64;
    assert!(earned.abs_diff(expected) <= 1, "{earned} vs {expected}");
    // dev10 claims what it earned through the CLI.
    let owed: u64 = get(
        &c,
        &format!("/rewards/{}/{}", keys.addr(2), keys.addr(10)),
        0,
    )
    .expect("rewards");
    assert!(owed >= earned, "{owed} < {earned}");
    let before = balance_at(&c, &keys.addr(10), 0);
    let claim = cli(
        &home,
        &node,
        &["stake", "claim", "--from", &dev(10), "--hotkey", &nominee],
    );
    let h = claim["height"].as_u64().expect("height");
    assert!(
        balance_at(&c, &keys.addr(10), h) + RAO_PER_TAO > before + owed,
        "{claim}"
    );

    // Issuance follows the schedule block by block; the pool holds exactly pots + carry.
    let tip = c.status().expect("status").height;
    for h in 2..=tip.min(e + 5) {
        let (a, b) = (
            get::<Supply>(&c, "/supply", h - 1).expect("supply"),
            get::<Supply>(&c, "/supply", h).expect("supply"),
        );
        let recycled = b.total_recycled - a.total_recycled;
        assert_eq!(
            b.total_minted - a.total_minted,
            block_reward(a.total_issuance - recycled),
            "mint at height {h}"
        );
    }
    let pool = balance_at(&c, &Address::module("emission_pool"), e);
    let pots: u64 = [1u16, 2]
        .iter()
        .map(|s| get::<u64>(&c, &format!("/subnet/{s}/pot"), e).unwrap_or(0))
        .sum();
    let carry: u64 = get(&c, "/emission_carry", e).unwrap_or(0);
    assert_eq!(pool, pots + carry);

    // Governance: fill netuids 3..32, the 33rd is refused; a proposal raises the limit.
    let fill: Vec<Msg> = (0..30)
        .map(|i| Msg::RegisterSubnet {
            hotkey: Address::module(&format!("e2e-fill-{i}")),
            code_id: 1,
            init_msg: vec![0; 8],
            hyperparams: None,
        })
        .collect();
    send(&c, &keys.0[13], fill);
    let create33 = |home: &Path| {
        tao(
            home,
            &[
                "--node",
                &node,
                "subnet",
                "create",
                "--from",
                "dev13",
                "--hotkey",
                &Address::module("e2e-33").to_string(),
                "--code-id",
                "1",
                "--init-msg",
                "0000000000000000",
            ],
        )
    };
    let (ok, out) = create33(&home);
    assert!(!ok && out.contains("subnet_limit_reached"), "{out}");
    let p = cli(
        &home,
        &node,
        &[
            "gov",
            "propose",
            "--from",
            &dev(12),
            "--deposit",
            "1TAO",
            "--set-param",
            "subnet_limit=64",
        ],
    );
    assert!(p["height"].as_u64().is_some(), "{p}");
    // All at once: the voting period is 15 blocks, and one vote after another waits for
    // a block each.
    std::thread::scope(|scope| {
        for voter in [2usize, 3, 4, 5, 6, 7, 10, 11] {
            let (home, node) = (&home, &node);
            scope.spawn(move || {
                cli(
                    home,
                    node,
                    &["gov", "vote", "--from", &dev(voter), "1", "yes"],
                );
            });
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let shown = cli(&home, &node, &["gov", "show", "1"]);
        if shown["status"] != "open" {
            assert_eq!(shown["status"], "executed", "{shown}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "proposal never tallied"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let (ok, out) = create33(&home);
    assert!(ok, "{out}");
    assert!(get::<SubnetInfo>(&c, "/subnet/33", 0).is_some());

    // All four validators agree.
    assert_validators_agree(spec);
}

//! Paying for the arena's AI on the real 4-validator localnet. Three arena subnets (speech,
//! image, text) whose one validator, dev1, runs `tao gateway serve` for all three; miners
//! serve the reference models (two per subnet, so they can agree) beside a worse one. A
//! user opens a 10 TAO channel and asks 20 questions across speech and image with
//! `tao ai ask`, plus 5 routed through the mixture of experts (`--route auto`). Then: the
//! answers are right, the gateway redeems exactly what it was paid, each pot grows by the
//! redeemed amounts minus the gateway's share (checked block by block against the emission
//! rule), the next epoch pays the usage through the 18/41/41 split, every refused voucher
//! case fails on chain with its code and moves nothing, a user closes after the expiry and
//! gets the rest back, and all nodes agree.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ed25519_dalek::Signer;
use serde_json::Value;
use taochain_arena_msg::TaskKind;
use taochain_client::Client;
use taochain_economics::payout::split;
use taochain_primitives::channel::{Channel, Voucher, gateway_part};
use taochain_primitives::subnet::Neuron;
use taochain_primitives::{Msg, RAO_PER_TAO};

use crate::arena::{
    Arena, Subnet, balance_at, block, block_events, epoch_pot, get, successful, tao_bin,
};
use crate::localnet::{assert_validators_agree, base_port, start};

const PRICE: u64 = RAO_PER_TAO / 100;
const GATEWAY: usize = 1;
const USER: usize = 12;
const CLOSER: usize = 13;

/// `gas_used` of each successful redemption transaction in block `height`.
fn redemption_gas(c: &Client, height: u64) -> Vec<u64> {
    let b = block(c, height);
    successful(&b)
        .filter(|t| t["events"].to_string().contains("voucher_redeemed"))
        .filter_map(|t| t["gas_used"].as_u64())
        .collect()
}

fn num(attrs: &BTreeMap<String, String>, k: &str) -> u64 {
    attrs
        .get(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| unreachable!("no numeric `{k}` in {attrs:?}"))
}

fn channel(c: &Client, id: u64) -> Channel {
    get(c, &format!("/channel/{id}"), 0).expect("channel")
}

fn pot_at(c: &Client, netuid: u16, h: u64) -> u64 {
    get(c, &format!("/subnet/{netuid}/pot"), h).unwrap_or(0)
}

/// Every redemption between heights `from` and `to` (inclusive), checked block by block:
/// the gateway's part is the share of the increment, and the pot of the channel's subnet
/// grew by exactly the rest plus the block's equal emission part. Returns the redeemed
/// increments per netuid: `(to_gateway, to_pot)`.
fn check_redemptions(a: &Arena, netuids: &[u16], from: u64, to: u64) -> BTreeMap<u16, (u64, u64)> {
    let mut paid: BTreeMap<u16, (u64, u64)> = BTreeMap::new();
    let mut last_redeemed: BTreeMap<u64, u64> = BTreeMap::new();
    for h in from..=to {
        let events = block_events(&a.c, h);
        let redeemed: Vec<&BTreeMap<String, String>> = events
            .iter()
            .filter(|(t, _)| t == "voucher_redeemed")
            .map(|(_, e)| e)
            .collect();
        if redeemed.is_empty() {
            continue;
        }
        if paid.is_empty() {
            eprintln!("redemption gas used: {:?}", redemption_gas(&a.c, h));
        }
        let mint = events
            .iter()
            .find(|(t, _)| t == "mint")
            .map(|(_, e)| num(e, "amount"))
            .expect("a mint every block");
        let carry: u64 = get(&a.c, "/emission_carry", h - 1).unwrap_or(0);
        let (parts, _) = split(carry + mint, &vec![1; netuids.len()]);
        let mut to_pot: BTreeMap<u16, u64> = BTreeMap::new();
        for e in redeemed {
            let (id, netuid) = (num(e, "channel"), num(e, "netuid") as u16);
            let cumulative = num(e, "cumulative");
            let before = last_redeemed.get(&id).copied().unwrap_or_else(|| {
                get::<Channel>(&a.c, &format!("/channel/{id}"), h - 1).map_or(0, |c| c.redeemed)
            });
            let increment = cumulative - before;
            let (gw, pot) = (num(e, "to_gateway"), num(e, "to_pot"));
            assert_eq!(gw, gateway_part(increment, 1_000), "{e:?}");
            assert_eq!(
                gw + pot,
                increment,
                "all to the pot but the gateway's part: {e:?}"
            );
            last_redeemed.insert(id, cumulative);
            *to_pot.entry(netuid).or_default() += pot;
            let p = paid.entry(netuid).or_default();
            p.0 += gw;
            p.1 += pot;
        }
        let epochs: Vec<u16> = events
            .iter()
            .filter(|(t, _)| t == "epoch")
            .map(|(_, e)| num(e, "netuid") as u16)
            .collect();
        for (i, &n) in netuids.iter().enumerate() {
            if epochs.contains(&n) {
                continue;
            }
            let grew = pot_at(&a.c, n, h) - pot_at(&a.c, n, h - 1);
            let expected = parts[i] + to_pot.get(&n).copied().unwrap_or(0);
            assert_eq!(grew, expected, "netuid {n}'s pot in block {h}");
        }
    }
    paid
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `tao ai ask ...` as the user; the JSON answer.
fn ask(a: &Arena, gateway: &str, who: usize, args: &[&str]) -> Value {
    let from = format!("dev{who}");
    let mut all = vec!["ai", "ask", "--from", &from, "--gateway", gateway];
    all.extend(args);
    let out = a.tao(&all);
    assert!(out["answer"].is_string(), "{out}");
    out
}

/// Writes `n` fresh challenges of `kind` under the home; their paths and truths.
fn challenges(a: &Arena, kind: TaskKind, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let c = taochain_tasks::challenge(kind, &mut rand::rngs::OsRng).expect("challenge");
            let path = a.home.join(format!("q-{}-{i}.{}", kind.name(), c.ext));
            std::fs::write(&path, &c.input).expect("write");
            (path.to_string_lossy().into_owned(), c.truth)
        })
        .collect()
}

/// The on-chain refusals, each with its code and no funds moved.
fn refused_redemptions(a: &Arena, speech: u64, image: u64) {
    let chain_id = a.c.status().expect("status").chain_id;
    let c = channel(&a.c, speech);
    let user = &a.keys[USER];
    let sign = |key: &ed25519_dalek::SigningKey, id: u64, amount: u64, chain: &str, netuid: u16| {
        key.sign(
            &Voucher {
                channel: id,
                cumulative: amount,
            }
            .digest(chain, netuid),
        )
        .to_bytes()
    };
    let next = c.redeemed + PRICE;
    let cases: Vec<([u8; 64], u64, &str, &str)> = vec![
        // The overcharging gateway: a voucher it was never given (signed by itself).
        (
            sign(&a.keys[GATEWAY], speech, c.deposit, &chain_id, 1),
            c.deposit,
            "voucher_bad_signature",
            "forged",
        ),
        (
            sign(user, speech, c.deposit + 1, &chain_id, 1),
            c.deposit + 1,
            "voucher_above_deposit",
            "above the deposit",
        ),
        (
            sign(user, speech, c.redeemed, &chain_id, 1),
            c.redeemed,
            "voucher_not_increasing",
            "replayed",
        ),
        (
            sign(user, speech, c.redeemed - PRICE, &chain_id, 1),
            c.redeemed - PRICE,
            "voucher_not_increasing",
            "lower",
        ),
        (
            sign(user, image, next, &chain_id, 2),
            next,
            "voucher_bad_signature",
            "another channel's",
        ),
        (
            sign(user, speech, next, "another-chain", 1),
            next,
            "voucher_bad_signature",
            "another chain's",
        ),
    ];
    // The escrow: what a redemption would move out of.
    let escrow = taochain_primitives::Address::module("channels");
    for (signature, cumulative, code, what) in cases {
        let before = a.c.account(&escrow).expect("account").balance;
        let r = a.c.send(
            &a.keys[GATEWAY],
            vec![Msg::RedeemVoucher {
                channel: speech,
                cumulative,
                signature,
            }],
            None,
        );
        let e = r.expect_err(what).to_string();
        assert!(e.contains(code), "{what}: {e}");
        let after = a.c.account(&escrow).expect("account").balance;
        assert_eq!(after, before, "{what}: nothing left the escrow");
        assert_eq!(channel(&a.c, speech).redeemed, c.redeemed, "{what}");
    }
}

#[test]
fn users_pay_gateways_per_question_and_the_usage_reaches_pots_and_miners() {
    let net = start(3, &["--dev-accounts", "14"]);
    let mut a = Arena::new(&net, 14, base_port(3) + 40);
    let tao = tao_bin();
    let speech = Subnet {
        netuid: 1,
        validators: vec![GATEWAY],
        miners: vec![(2, "speech-a"), (3, "speech-b"), (4, "speech-noisy")],
    };
    let image = Subnet {
        netuid: 2,
        validators: vec![GATEWAY],
        miners: vec![(5, "image-a"), (6, "image-b"), (7, "image-fixed")],
    };
    let text = Subnet {
        netuid: 3,
        validators: vec![GATEWAY],
        miners: vec![(8, "text-a"), (9, "text-fixed")],
    };
    let tasks = [
        (&speech, 0, "speech-to-text"),
        (&image, 10, "image-to-text"),
        (&text, 11, "text-correction"),
    ];
    for (s, owner, task) in tasks {
        a.register(owner, task, 8_000, s, &[]);
    }
    for (s, _, _) in tasks {
        a.await_permits(s);
    }
    for (s, _, task) in tasks {
        let reference = a.model(
            s.miners[0].1,
            &format!("exec {tao} model run --task {task} \"$1\""),
        );
        let mut models = vec![reference.clone(), reference];
        if s.miners.len() == 3 {
            models.push(a.model(s.miners[2].1, "echo the quick brown fox"));
        } else {
            models[1] = a.model(s.miners[1].1, "echo hello world");
        }
        a.serve(s, &models);
    }
    // The gateway's validator scores its miners first: it ranks them by these weights.
    a.validate(&speech, 2);
    a.validate(&image, 2);

    let listen = format!("127.0.0.1:{}", a.next_port);
    let url = format!("http://{listen}");
    a.spawn(
        "gateway",
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
            "dev1",
            "--listen",
            &listen,
            "--price",
            "0.01TAO",
            "--redeem-every-blocks",
            "5",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("{url}/v1/subnets")).call().is_err() {
        assert!(
            Instant::now() < deadline,
            "gateway down: {}",
            a.log("gateway")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let start_height = a.c.status().expect("status").height;

    // A 10 TAO channel for speech; image's is opened by `tao ai ask` itself.
    let open = a.tao(&[
        "ai",
        "channel",
        "open",
        "--from",
        "dev12",
        "--gateway",
        "dev1",
        "--netuid",
        "1",
        "--deposit",
        "10TAO",
        "--blocks",
        "2000",
    ]);
    let speech_channel = open["channel"].as_u64().expect("channel id");
    let mut scores = BTreeMap::<&str, Vec<u32>>::new();
    for (kind, netuid) in [(TaskKind::SpeechToText, "1"), (TaskKind::ImageToText, "2")] {
        for (file, truth) in challenges(&a, kind, 10) {
            let out = ask(
                &a,
                &url,
                USER,
                &["--netuid", netuid, "--file", &file, "--deposit", "10TAO"],
            );
            let step = &out["route"][0];
            assert!(
                step["agreed"].as_u64() >= Some(2),
                "two reference miners agree: {out}"
            );
            let score =
                taochain_tasks::score(kind, &truth, out["answer"].as_str().expect("answer"));
            scores.entry(kind.name()).or_default().push(score);
        }
    }
    for (task, s) in &scores {
        let mean = s.iter().map(|&x| u64::from(x)).sum::<u64>() / s.len() as u64;
        assert!(mean >= 500_000, "{task}: mean score {mean} ppm: {s:?}");
    }
    // Routed: audio and images are chained into text correction; text goes straight there.
    let mut routed = vec![];
    routed.extend(challenges(&a, TaskKind::SpeechToText, 2));
    routed.extend(challenges(&a, TaskKind::ImageToText, 2));
    routed.extend(challenges(&a, TaskKind::TextCorrection, 1));
    for (file, _) in &routed {
        let out = ask(&a, &url, USER, &["--route", "auto", "--file", file]);
        let tasks: Vec<&str> = out["route"]
            .as_array()
            .expect("route")
            .iter()
            .map(|s| s["task"].as_str().expect("task"))
            .collect();
        let expected: &[&str] = match file.rsplit('.').next() {
            Some("wav") => &["speech-to-text", "text-correction"],
            Some("png") => &["image-to-text", "text-correction"],
            _ => &["text-correction"],
        };
        assert_eq!(tasks, expected, "{out}");
    }

    // Refused by the real gateway: a forged voucher, then the last one replayed.
    let wav = std::fs::read(&routed[0].0).expect("wav");
    let chain_id = a.c.status().expect("status").chain_id;
    let charged = 12 * PRICE;
    let post = |cumulative: u64, signature: String| {
        let body = serde_json::json!({"input": base64_encode(&wav), "voucher": {"channel": speech_channel,
            "cumulative_rao": cumulative.to_string(), "signature": signature}});
        match ureq::post(&format!("{url}/v1/subnets/1/ask")).send_json(body) {
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            other => unreachable!("refused expected: {other:?}"),
        }
    };
    let (code, why) = post(charged + PRICE, "00".repeat(64));
    assert!(
        code == 402 && why.contains("voucher_bad_signature"),
        "{code} {why}"
    );
    let replay = a.keys[USER].sign(
        &Voucher {
            channel: speech_channel,
            cumulative: charged,
        }
        .digest(&chain_id, 1),
    );
    let (code, why) = post(charged, hex::encode(replay.to_bytes()));
    assert!(
        code == 402 && why.contains("voucher_too_low"),
        "{code} {why}"
    );

    // The gateway redeems what it earned: 12 questions on speech and image, 5 on text.
    let expect = |netuid: u16| if netuid == 3 { 5 * PRICE } else { 12 * PRICE };
    let ids: Vec<(u16, u64)> = (1..=3u16)
        .map(|n| {
            let books = a.home.join("wallet.json");
            let w: Value =
                serde_json::from_slice(&std::fs::read(&books).expect("wallet")).expect("json");
            let key = format!(
                "{}/{}/{}/{n}",
                a.c.status().expect("status").chain_id,
                a.addr(USER),
                a.addr(GATEWAY)
            );
            (
                n,
                w["channels"][&key].as_u64().expect("channel in the wallet"),
            )
        })
        .collect();
    assert_eq!(ids[0].1, speech_channel);
    let deadline = Instant::now() + Duration::from_secs(120);
    while ids
        .iter()
        .any(|&(n, id)| channel(&a.c, id).redeemed != expect(n))
    {
        let now: Vec<u64> = ids
            .iter()
            .map(|&(_, id)| channel(&a.c, id).redeemed)
            .collect();
        assert!(
            Instant::now() < deadline,
            "redeemed {now:?}:\n{}",
            a.log("gateway")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let end_height = a.c.status().expect("status").height;
    let paid = check_redemptions(&a, &[1, 2, 3], start_height, end_height);
    for (n, _) in &ids {
        let (gw, pot) = paid[n];
        assert_eq!(gw + pot, expect(*n), "netuid {n}");
        assert_eq!(
            gw,
            gateway_part(expect(*n), 1_000),
            "netuid {n}: one redemption or several, the same share"
        );
    }

    // The next epoch of the speech subnet pays its pot, usage included, by the rule.
    a.wait_epochs(1, 1);
    let e = a.subnet(1).last_epoch;
    assert!(
        epoch_pot(&a.c, 1, e) >= paid[&1].1,
        "the usage is in the pot"
    );
    let uid: u16 = get(&a.c, &format!("/uid/1/{}", a.addr(2)), e).expect("uid");
    let neuron: Neuron = get(&a.c, &format!("/neuron/1/{uid}"), e).expect("neuron");
    let delta = balance_at(&a.c, &a.addr(2), e) - balance_at(&a.c, &a.addr(2), e - 1);
    assert_eq!(delta, neuron.emission, "the miner got its emission");
    let miners = epoch_pot(&a.c, 1, e) * 41 / 100;
    let expected = miners * u64::from(neuron.incentive) / 65_535;
    assert!(
        neuron.incentive > 0 && neuron.emission.abs_diff(expected) <= miners / 65_535 + 1,
        "{neuron:?} vs {expected}"
    );

    let rows = a.metagraph(1);
    let validator = rows
        .iter()
        .find(|r| r["hotkey"] == a.addr(GATEWAY).to_string())
        .expect("validator row");
    assert!(
        validator["dividends"].as_u64() > Some(0),
        "the validator's 41%: {validator}"
    );

    refused_redemptions(&a, speech_channel, ids[1].1);

    // Close before the expiry: refused. A short channel: one question, redeemed by the
    // gateway before its expiry, closed after it; the rest comes back.
    let (ok, out) = crate::localnet::tao(
        &a.home,
        &[
            "--node",
            &a.node,
            "ai",
            "channel",
            "close",
            "--from",
            "dev12",
            &speech_channel.to_string(),
        ],
    );
    assert!(!ok && out.contains("channel_not_expired"), "{out}");
    let short = a.tao(&[
        "ai",
        "channel",
        "open",
        "--from",
        "dev13",
        "--gateway",
        "dev1",
        "--netuid",
        "3",
        "--deposit",
        "1TAO",
        "--blocks",
        "30",
    ]);
    let short_id = short["channel"].as_u64().expect("id");
    let (file, _) = challenges(&a, TaskKind::TextCorrection, 1).remove(0);
    ask(
        &a,
        &url,
        CLOSER,
        &[
            "--netuid",
            "3",
            "--file",
            &file,
            "--channel",
            &short_id.to_string(),
        ],
    );
    let c = channel(&a.c, short_id);
    let deadline = Instant::now() + Duration::from_secs(180);
    while a.c.status().expect("status").height < c.expires_at
        || channel(&a.c, short_id).redeemed < PRICE
    {
        assert!(
            Instant::now() < deadline,
            "no expiry or redemption: {:?}",
            channel(&a.c, short_id)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let before = a.c.account(&a.addr(CLOSER)).expect("account").balance;
    let closed =
        a.c.send(
            &a.keys[CLOSER],
            vec![Msg::CloseChannel { channel: short_id }],
            None,
        )
        .expect("closes");
    let fee: u64 = block_events(&a.c, closed.height)
        .iter()
        .find(|(t, e)| t == "fee" && e.get("payer") == Some(&a.addr(CLOSER).to_string()))
        .map(|(_, e)| num(e, "amount"))
        .expect("fee event");
    let after = a.c.account(&a.addr(CLOSER)).expect("account").balance;
    assert_eq!(
        after + fee - before,
        RAO_PER_TAO - PRICE,
        "the unspent deposit came back"
    );
    let r = a.c.send(
        &a.keys[GATEWAY],
        vec![Msg::RedeemVoucher {
            channel: short_id,
            cumulative: 2 * PRICE,
            signature: [0; 64],
        }],
        None,
    );
    assert!(
        r.expect_err("closed")
            .to_string()
            .contains("channel_closed")
    );

    assert_validators_agree(&net.spec);
    drop(a);
    drop(net);
}

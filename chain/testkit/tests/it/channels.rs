//! Payment channels through the ABCI app: a user escrows a deposit for a gateway on a
//! subnet; the gateway redeems the user's cumulative vouchers, each paying its increment
//! (the gateway share to the gateway, the rest into the subnet's pot); every bad voucher
//! and bad close is refused with its own code and no money moved; after the expiry the
//! user gets the rest back; no rao appears or disappears.

use ed25519_dalek::Signer;
use taochain_primitives::channel::{Channel, Voucher, gateway_part};
use taochain_primitives::{Msg, RAO_PER_TAO, RejectCode, Supply};
use taochain_testkit::fixtures::{CHAIN_ID, FEE, addr, key};

use crate::economy::{Net, standard};

/// The user: coldkey 2; the gateway: validator hotkey 5 on subnet 1.
const USER: u8 = 2;
const GATEWAY: u8 = 5;

fn voucher(signer: u8, chain: &str, netuid: u16, channel: u64, cumulative: u64) -> [u8; 64] {
    let d = Voucher {
        channel,
        cumulative,
    }
    .digest(chain, netuid);
    key(signer).sign(&d).to_bytes()
}

fn redeem(channel: u64, cumulative: u64, signature: [u8; 64]) -> Msg {
    Msg::RedeemVoucher {
        channel,
        cumulative,
        signature,
    }
}

fn open(net: &mut Net, deposit: u64, blocks: u64) -> u64 {
    let b = net.ok(
        USER,
        vec![Msg::OpenChannel {
            gateway: addr(GATEWAY),
            netuid: 1,
            deposit,
            blocks,
            user_key: key(USER).verifying_key().to_bytes(),
        }],
    );
    borsh::from_slice(&b.results[0].data).expect("channel id")
}

fn supply_matches(net: &Net) {
    let supply: Supply = net.get("/supply").expect("supply");
    assert_eq!(
        net.sum_of_balances(&[]),
        supply.total_issuance,
        "rao conserved"
    );
}

#[test]
fn vouchers_pay_the_gateway_share_and_the_pot_and_the_rest_comes_back() {
    let mut net = Net::new();
    standard(&mut net);
    let deposit = 10 * RAO_PER_TAO;
    let id = open(&mut net, deposit, 20);
    assert_eq!(
        net.get::<u64>("/channel_seq"),
        Some(id),
        "the last channel id"
    );
    let c: Channel = net.get(&format!("/channel/{id}")).expect("channel");
    assert_eq!((c.deposit, c.redeemed, c.closed), (deposit, 0, false));
    assert_eq!(
        net.balance(taochain_primitives::Address::module("channels")),
        deposit
    );
    supply_matches(&net);

    let mut redeemed = 0;
    for cumulative in [RAO_PER_TAO / 3, 2 * RAO_PER_TAO + 7] {
        let gw = net.balance(addr(GATEWAY));
        let b = net.ok(
            GATEWAY,
            vec![redeem(
                id,
                cumulative,
                voucher(USER, CHAIN_ID, 1, id, cumulative),
            )],
        );
        let increment = cumulative - redeemed;
        let share = gateway_part(increment, 1_000);
        assert_eq!(
            net.balance(addr(GATEWAY)),
            gw + share - FEE,
            "gateway share"
        );
        let ev = b.results[0]
            .events
            .iter()
            .find(|e| e.r#type == "voucher_redeemed")
            .expect("event");
        let to_pot: u64 = ev
            .attributes
            .iter()
            .find(|a| a.key == "to_pot")
            .and_then(|a| a.value.parse().ok())
            .expect("to_pot");
        assert_eq!(to_pot, increment - share, "the pot gets the rest");
        redeemed = cumulative;
        supply_matches(&net);
    }
    let c: Channel = net.get(&format!("/channel/{id}")).expect("channel");
    assert_eq!(c.redeemed, redeemed);

    // Closing: not before the expiry, not by anyone else; then the rest comes back.
    net.refused(
        USER,
        Msg::CloseChannel { channel: id },
        RejectCode::ChannelNotExpired,
    );
    while net.chain.height() + 1 < c.expires_at {
        net.empty();
    }
    net.refused(
        3,
        Msg::CloseChannel { channel: id },
        RejectCode::Unauthorized,
    );
    let before = net.balance(addr(USER));
    net.ok(USER, vec![Msg::CloseChannel { channel: id }]);
    assert_eq!(net.balance(addr(USER)), before + deposit - redeemed - FEE);
    assert_eq!(
        net.balance(taochain_primitives::Address::module("channels")),
        0
    );
    let later = 3 * RAO_PER_TAO;
    net.refused(
        GATEWAY,
        redeem(id, later, voucher(USER, CHAIN_ID, 1, id, later)),
        RejectCode::ChannelClosed,
    );
    net.refused(
        USER,
        Msg::CloseChannel { channel: id },
        RejectCode::ChannelClosed,
    );
    supply_matches(&net);
}

#[test]
fn the_owner_sets_the_gateway_share_within_its_cap() {
    let mut net = Net::new();
    standard(&mut net);
    let set = |v| Msg::SetHyperparam {
        netuid: 1,
        name: "gateway_share_bps".into(),
        value: v,
    };
    net.refused(0, set(5_001), RejectCode::InvalidParam);
    net.refused(1, set(2_500), RejectCode::Unauthorized);
    net.ok(0, vec![set(2_500)]);
    let id = open(&mut net, RAO_PER_TAO, 20);
    let gw = net.balance(addr(GATEWAY));
    net.ok(
        GATEWAY,
        vec![redeem(
            id,
            1_000_000,
            voucher(USER, CHAIN_ID, 1, id, 1_000_000),
        )],
    );
    assert_eq!(net.balance(addr(GATEWAY)), gw + 250_000 - FEE);
    supply_matches(&net);
}

#[test]
fn every_bad_voucher_and_open_is_refused_with_no_money_moved() {
    let mut net = Net::new();
    standard(&mut net);
    let id = open(&mut net, 5 * RAO_PER_TAO, 100);
    let other = open(&mut net, RAO_PER_TAO, 100);
    let ok = RAO_PER_TAO;
    net.ok(
        GATEWAY,
        vec![redeem(id, ok, voucher(USER, CHAIN_ID, 1, id, ok))],
    );
    let channels = taochain_primitives::Address::module("channels");
    let held = net.balance(channels);
    let cases = [
        (
            "forged (signed by another key)",
            GATEWAY,
            redeem(id, 2 * ok, voucher(3, CHAIN_ID, 1, id, 2 * ok)),
            RejectCode::VoucherBadSignature,
        ),
        (
            "for another channel",
            GATEWAY,
            redeem(id, 2 * ok, voucher(USER, CHAIN_ID, 1, other, 2 * ok)),
            RejectCode::VoucherBadSignature,
        ),
        (
            "for another chain",
            GATEWAY,
            redeem(id, 2 * ok, voucher(USER, "other-chain", 1, id, 2 * ok)),
            RejectCode::VoucherBadSignature,
        ),
        (
            "for another subnet",
            GATEWAY,
            redeem(id, 2 * ok, voucher(USER, CHAIN_ID, 2, id, 2 * ok)),
            RejectCode::VoucherBadSignature,
        ),
        (
            "above the deposit",
            GATEWAY,
            redeem(id, 6 * ok, voucher(USER, CHAIN_ID, 1, id, 6 * ok)),
            RejectCode::VoucherAboveDeposit,
        ),
        (
            "replayed",
            GATEWAY,
            redeem(id, ok, voucher(USER, CHAIN_ID, 1, id, ok)),
            RejectCode::VoucherNotIncreasing,
        ),
        (
            "lower",
            GATEWAY,
            redeem(id, ok / 2, voucher(USER, CHAIN_ID, 1, id, ok / 2)),
            RejectCode::VoucherNotIncreasing,
        ),
        (
            "redeemed by a non-gateway",
            6,
            redeem(id, 2 * ok, voucher(USER, CHAIN_ID, 1, id, 2 * ok)),
            RejectCode::Unauthorized,
        ),
        (
            "no such channel",
            GATEWAY,
            redeem(99, ok, voucher(USER, CHAIN_ID, 1, 99, ok)),
            RejectCode::ChannelNotFound,
        ),
    ];
    for (name, from, msg, code) in cases {
        net.refused(from, msg, code);
        assert_eq!(net.balance(channels), held, "{name} moved money");
    }
    let bad_open = |gateway, netuid, deposit, blocks, user_key| Msg::OpenChannel {
        gateway: addr(gateway),
        netuid,
        deposit,
        blocks,
        user_key,
    };
    let mine = key(USER).verifying_key().to_bytes();
    let theirs = key(3).verifying_key().to_bytes();
    net.refused(
        USER,
        bad_open(GATEWAY, 1, ok, 100, theirs),
        RejectCode::InvalidParam,
    );
    net.refused(
        USER,
        bad_open(GATEWAY, 1, 0, 100, mine),
        RejectCode::ZeroAmount,
    );
    net.refused(
        USER,
        bad_open(GATEWAY, 1, ok, 5, mine),
        RejectCode::InvalidParam,
    );
    net.refused(
        USER,
        bad_open(GATEWAY, 1, ok, 2_000_000, mine),
        RejectCode::InvalidParam,
    );
    net.refused(
        USER,
        bad_open(GATEWAY, 9, ok, 100, mine),
        RejectCode::SubnetNotFound,
    );
    net.refused(
        USER,
        bad_open(11, 1, ok, 100, mine),
        RejectCode::NotRegistered,
    );
    net.refused(
        USER,
        bad_open(GATEWAY, 1, 20_000 * RAO_PER_TAO, 100, mine),
        RejectCode::InsufficientFunds,
    );
    net.refused(
        USER,
        bad_open(GATEWAY, 1, u64::MAX, 100, mine),
        RejectCode::AmountOverflow,
    );
    assert_eq!(net.balance(channels), held);
    supply_matches(&net);
}

/// The voucher's signature check is paid before it runs: a gas limit that covers the
/// transaction but not the check is refused as out of gas, and nothing is redeemed.
#[test]
fn a_redemption_without_gas_for_the_signature_check_is_refused() {
    use taochain_primitives::TxBody;
    use taochain_primitives::state::gas;
    let mut net = Net::new();
    standard(&mut net);
    let id = open(&mut net, RAO_PER_TAO, 100);
    let msg = redeem(id, 1_000, voucher(USER, CHAIN_ID, 1, id, 1_000));
    let nonce: u64 = net
        .get::<taochain_primitives::Account>(&format!("/account/{}", addr(GATEWAY)))
        .map_or(0, |a| a.nonce);
    let body = |gas_limit| TxBody {
        chain_id: CHAIN_ID.into(),
        nonce,
        fee: FEE,
        gas_limit,
        msgs: vec![msg.clone()],
    };
    let len = body(0).sign(&key(GATEWAY)).encode().len();
    let tight = gas::required(1, len) + 1_000;
    let tx = body(tight).sign(&key(GATEWAY)).encode();
    let b = net.block(vec![tx]);
    assert_eq!(
        b.results[0].code,
        RejectCode::OutOfGas.code(),
        "{}",
        b.results[0].log
    );
    let c: Channel = net.get(&format!("/channel/{id}")).expect("channel");
    assert_eq!(c.redeemed, 0);
}

/// A dissolved subnet's channel still pays its gateway for work done; the rest joins the
/// emission carry, not the pot of a later subnet on the same netuid, whose gateway share
/// starts from the default again.
#[test]
fn a_dissolved_subnets_channel_pays_the_gateway_and_the_carry() {
    let mut net = Net::new();
    standard(&mut net);
    net.ok(
        0,
        vec![Msg::SetHyperparam {
            netuid: 1,
            name: "gateway_share_bps".into(),
            value: 5_000,
        }],
    );
    let id = open(&mut net, RAO_PER_TAO, 100);
    net.ok(0, vec![Msg::DissolveSubnet { netuid: 1 }]);
    crate::economy::register_subnet(&mut net, 1, 8);
    let gw = net.balance(addr(GATEWAY));
    let b = net.ok(
        GATEWAY,
        vec![redeem(id, 1_000, voucher(USER, CHAIN_ID, 1, id, 1_000))],
    );
    assert_eq!(
        net.balance(addr(GATEWAY)),
        gw + 500 - FEE,
        "the share fixed at open"
    );
    let attr = |k: &str| -> String {
        b.results[0]
            .events
            .iter()
            .flat_map(|e| e.attributes.iter())
            .find(|a| a.key == k)
            .map(|a| a.value.clone())
            .expect("attribute")
    };
    assert_eq!(
        (attr("to_pot"), attr("to_carry")),
        ("0".into(), "500".into())
    );
    supply_matches(&net);
    crate::economy::register(&mut net, 1, 1, GATEWAY);
    let other = open(&mut net, RAO_PER_TAO, 100);
    let c: Channel = net.get(&format!("/channel/{other}")).expect("channel");
    assert_eq!(
        c.gateway_share_bps, 1_000,
        "a new subnet does not inherit the share"
    );
}

/// A channel opened on a subnet that is dissolved and replaced on the same netuid within
/// the same block (so both subnets have the same registration block) still pays only the
/// subnet it was opened for: the rest goes to the carry, not the newcomer's pot.
#[test]
fn a_channel_does_not_pay_a_subnet_registered_on_its_netuid_in_the_same_block() {
    let mut net = Net::new();
    standard(&mut net);
    // Coldkey 1 registers subnet 2 with owner hotkey 8 (UID 0, so it may be a gateway),
    // the user opens a channel to hotkey 8 on it, coldkey 1 dissolves it, and coldkey 3
    // registers netuid 2 again: four transactions, one block.
    let txs = vec![
        net.tx(
            1,
            vec![Msg::RegisterSubnet {
                hotkey: addr(8),
                code_id: 1,
                init_msg: 0u64.to_le_bytes().to_vec(),
                hyperparams: None,
            }],
        ),
        net.tx(
            USER,
            vec![Msg::OpenChannel {
                gateway: addr(8),
                netuid: 2,
                deposit: RAO_PER_TAO,
                blocks: 100,
                user_key: key(USER).verifying_key().to_bytes(),
            }],
        ),
        net.tx(1, vec![Msg::DissolveSubnet { netuid: 2 }]),
        net.tx(
            3,
            vec![Msg::RegisterSubnet {
                hotkey: addr(9),
                code_id: 1,
                init_msg: 0u64.to_le_bytes().to_vec(),
                hyperparams: None,
            }],
        ),
    ];
    let b = net.block(txs);
    for r in &b.results {
        assert_eq!(r.code, 0, "{}", r.log);
    }
    let id: u64 = borsh::from_slice(&b.results[1].data).expect("channel id");
    let s: taochain_primitives::subnet::SubnetInfo =
        net.get("/subnet/2").expect("the new subnet 2");
    assert_eq!(s.owner, addr(3));
    assert_eq!(
        s.registered_at, b.height,
        "the same block as the channel's subnet"
    );
    let r = net.ok(
        8,
        vec![redeem(id, 1_000, voucher(USER, CHAIN_ID, 2, id, 1_000))],
    );
    let attr = |k: &str| -> String {
        r.results[0]
            .events
            .iter()
            .flat_map(|e| e.attributes.iter())
            .find(|a| a.key == k)
            .map(|a| a.value.clone())
            .expect("attribute")
    };
    assert_eq!(
        (attr("to_pot"), attr("to_carry")),
        ("0".into(), "900".into()),
        "the gateway's 10% to it, the rest to the carry, none to the newcomer's pot"
    );
    supply_matches(&net);
}

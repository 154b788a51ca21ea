//! `ServeAxon` through the ABCI app: a registered hotkey serves its endpoint, readable and
//! provable at `/axon/{netuid}/{uid}` and shown in the metagraph; every bad endpoint,
//! protocol, sender and subnet is refused with its code and no state change; the serving
//! rate limit; the record goes with the UID (replacement, dissolution).

use taochain_primitives::axon::{AXON_PROTOCOL_V1, AxonInfo, SERVING_RATE_LIMIT};
use taochain_primitives::{Msg, RejectCode};

use crate::economy::{Net, register, subnet_one, uid};

fn serve(endpoint: &str) -> Msg {
    Msg::ServeAxon {
        netuid: 1,
        endpoint: endpoint.into(),
        protocol: AXON_PROTOCOL_V1,
    }
}

fn axon(net: &Net, netuid: u16, uid: u16) -> Option<AxonInfo> {
    net.get(&format!("/axon/{netuid}/{uid}"))
}

/// Subnet 1 with miner hotkey 6 (coldkey 2) registered.
fn subnet_with_miner() -> (Net, u16) {
    let mut net = Net::new();
    subnet_one(&mut net);
    register(&mut net, 2, 1, 6);
    let m6 = uid(&net, 1, 6);
    (net, m6)
}

#[test]
fn a_registered_hotkey_serves_an_axon_that_is_stored_provable_and_in_the_metagraph() {
    let (mut net, m6) = subnet_with_miner();
    let b = net.ok(6, vec![serve("http://127.0.0.1:8091")]);
    assert!(
        b.results[0]
            .events
            .iter()
            .any(|e| e.r#type == "axon_served")
    );
    let info = axon(&net, 1, m6).expect("stored");
    assert_eq!(info.endpoint, "http://127.0.0.1:8091");
    assert_eq!(info.protocol, AXON_PROTOCOL_V1);
    assert_eq!(info.block, net.chain.height());
    let proved = net.chain.query(&format!("/axon/1/{m6}"), true);
    assert_eq!(proved.code, 0, "{}", proved.log);
    assert!(proved.proof_ops.is_some(), "an axon is provable");
    let rows = net.metagraph(1);
    assert_eq!(rows[m6 as usize].axon.as_ref(), Some(&info));
    assert_eq!(rows[0].axon, None, "the owner served nothing");
}

#[test]
fn bad_endpoints_protocols_senders_and_subnets_are_refused_with_no_state_change() {
    let (mut net, m6) = subnet_with_miner();
    for bad in [
        "127.0.0.1:8091",
        "https://127.0.0.1:8091",
        "http://localhost:8091",
        "http://0.0.0.0:8091",
        "http://127.0.0.1:0",
        "http://127.0.0.1:8091/x",
        "http://127.000.0.1:8091",
    ] {
        net.refused(6, serve(bad), RejectCode::InvalidParam);
    }
    let huge = format!("http://127.0.0.1:{}", "9".repeat(10_000));
    net.refused(6, serve(&huge), RejectCode::InvalidParam);
    let wrong_protocol = Msg::ServeAxon {
        netuid: 1,
        endpoint: "http://127.0.0.1:8091".into(),
        protocol: 7,
    };
    net.refused(6, wrong_protocol, RejectCode::InvalidParam);
    // Hotkey 7 holds no UID; coldkey 2 owns hotkey 6 but is not it.
    net.refused(7, serve("http://127.0.0.1:8091"), RejectCode::NotRegistered);
    net.refused(2, serve("http://127.0.0.1:8091"), RejectCode::NotRegistered);
    let root = Msg::ServeAxon {
        netuid: 0,
        endpoint: "http://127.0.0.1:8091".into(),
        protocol: AXON_PROTOCOL_V1,
    };
    net.refused(6, root, RejectCode::InvalidParam);
    let no_subnet = Msg::ServeAxon {
        netuid: 9,
        endpoint: "http://127.0.0.1:8091".into(),
        protocol: AXON_PROTOCOL_V1,
    };
    net.refused(6, no_subnet, RejectCode::SubnetNotFound);
    assert_eq!(axon(&net, 1, m6), None);
}

#[test]
fn a_hotkey_serves_at_most_once_per_rate_limit_window() {
    let (mut net, m6) = subnet_with_miner();
    net.ok(6, vec![serve("http://127.0.0.1:8091")]);
    let first = axon(&net, 1, m6).expect("served").block;
    net.refused(6, serve("http://127.0.0.1:8092"), RejectCode::RateLimited);
    // The last refused block is `first + SERVING_RATE_LIMIT - 1`.
    while net.chain.height() + 2 < first + SERVING_RATE_LIMIT {
        net.empty();
    }
    net.refused(6, serve("http://127.0.0.1:8092"), RejectCode::RateLimited);
    net.ok(6, vec![serve("http://127.0.0.2:8092")]);
    let info = axon(&net, 1, m6).expect("served");
    assert_eq!(info.endpoint, "http://127.0.0.2:8092");
    assert_eq!(info.block, first + SERVING_RATE_LIMIT);
}

#[test]
fn the_axon_goes_with_its_uid_when_replaced_or_dissolved() {
    let (mut net, m6) = subnet_with_miner();
    net.ok(6, vec![serve("http://127.0.0.1:8091")]);
    for (name, value) in [("max_allowed_validators", 2), ("max_allowed_uids", 2)] {
        net.ok(
            0,
            vec![Msg::SetHyperparam {
                netuid: 1,
                name: name.into(),
                value,
            }],
        );
    }
    // Subnet full: hotkey 7 takes miner 6's UID, and its axon is gone.
    register(&mut net, 3, 1, 7);
    assert_eq!(uid(&net, 1, 7), m6);
    assert_eq!(axon(&net, 1, m6), None);
    net.ok(7, vec![serve("http://127.0.0.1:9000")]);
    assert!(axon(&net, 1, m6).is_some());
    net.ok(0, vec![Msg::DissolveSubnet { netuid: 1 }]);
    assert_eq!(axon(&net, 1, m6), None);
}

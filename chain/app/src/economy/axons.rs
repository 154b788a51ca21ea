//! `ServeAxon`: a hotkey registered on a subnet announces where its miner listens. The
//! endpoint and protocol are checked by `taochain_primitives::axon`; a hotkey may serve at
//! most once per `SERVING_RATE_LIMIT` blocks on a subnet. The record lives at
//! `axon/{netuid}{uid}` and is deleted with the UID (`neurons::evict`, `subnets::dissolve`).

use taochain_primitives::axon::{AxonInfo, SERVING_RATE_LIMIT, check_protocol, parse_endpoint};
use taochain_primitives::{Address, RejectCode};
use taochain_storage::schema::axon_key;
use taochain_storage::{StateRead, StateWrite};

use super::store::uid_of;
use super::subnets::existing;
use super::{Fail, done, reject};
use crate::AppError;
use crate::contracts::Done;
use crate::events::Event;
use crate::typed::{get, put};

/// The axon served by `uid` on `netuid`.
pub fn axon(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    uid: u16,
) -> Result<Option<AxonInfo>, AppError> {
    get(state, &axon_key(netuid, uid))
}

/// `ServeAxon`, sent by the hotkey itself.
pub fn serve_axon(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    netuid: u16,
    endpoint: &str,
    protocol: u16,
    height: u64,
) -> Result<Done, Fail> {
    if let Err(e) = parse_endpoint(endpoint) {
        return reject(RejectCode::InvalidParam, e);
    }
    if let Err(e) = check_protocol(protocol) {
        return reject(RejectCode::InvalidParam, e);
    }
    if netuid == 0 {
        return reject(RejectCode::InvalidParam, "root (netuid 0) has no axons");
    }
    existing(state, netuid)?;
    let Some(uid) = uid_of(state, netuid, hotkey)? else {
        return reject(
            RejectCode::NotRegistered,
            format!("hotkey {hotkey} holds no UID on netuid {netuid}; register it first"),
        );
    };
    if let Some(prev) = axon(state, netuid, uid)? {
        let next = prev.block.saturating_add(SERVING_RATE_LIMIT);
        if height < next {
            return reject(
                RejectCode::RateLimited,
                format!(
                    "UID {uid} served an axon at block {}; the next is allowed at block {next}",
                    prev.block
                ),
            );
        }
    }
    let info = AxonInfo {
        endpoint: endpoint.to_string(),
        protocol,
        block: height,
    };
    put(state, &axon_key(netuid, uid), &info);
    done(vec![Event::new(
        "axon_served",
        &[
            ("netuid", netuid.to_string()),
            ("uid", uid.to_string()),
            ("hotkey", hotkey.to_string()),
            ("endpoint", info.endpoint),
            ("protocol", protocol.to_string()),
        ],
    )])
}

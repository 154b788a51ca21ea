//! Subnets: `RegisterSubnet` (lowest free netuid up to the limit, dynamic lock cost, the
//! contract instantiated with the chain as its admin, the owner's hotkey at UID 0),
//! `SetHyperparam` (owner, within bounds) and dissolving (owner or governance: the lock goes
//! back, the pot returns to the block-reward carry, neurons and commits are removed).

use taochain_economics::pricing::lock_cost;
use taochain_primitives::subnet::{Hyperparams, Neuron, SubnetInfo};
use taochain_primitives::{Address, RAO_PER_TAO, RejectCode};
use taochain_storage::StateWrite;
use taochain_storage::schema::{
    COMMITS, EMISSION_CARRY_KEY, LAST_LOCK_KEY, SUBNET_SHARES_KEY, axon_key, gateway_share_key,
    lock_prev_key, neuron_key, pot_key, subnet_key, uid_key,
};

use super::staking::ensure_hotkey;
use super::store::{self, set_neuron, set_subnet, set_uid, subnet};
use super::{Fail, done, locks_account, reject, scan_gas, subnets_admin};
use crate::bank::transfer;
use crate::contracts::{self, Done};
use crate::events::Event;
use crate::typed::{delete, get, get_or_default, put, put_or_delete, scan};

/// Burn price of a new subnet's first registration (1 TAO).
pub const INITIAL_BURN: u64 = RAO_PER_TAO;

/// The lock cost a registration at `height` pays.
pub fn current_lock_cost(
    state: &(impl taochain_storage::StateRead + ?Sized),
    height: u64,
) -> Result<u64, crate::AppError> {
    let p = store::params(state)?;
    let (last, at) = get_or_default(state, &LAST_LOCK_KEY)?;
    Ok(lock_cost(&p, last, height.saturating_sub(at)))
}

/// `RegisterSubnet`.
#[allow(clippy::too_many_arguments)]
pub fn register(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
    sender: &Address,
    hotkey: &Address,
    code_id: u64,
    init_msg: &[u8],
    hyperparams: Option<&Hyperparams>,
    gas_left: u64,
) -> Result<Done, Fail> {
    let height = env.height;
    let p = store::params(state)?;
    let hyperparams = hyperparams
        .cloned()
        .unwrap_or(p.default_hyperparams.clone());
    if let Err(why) = hyperparams.validate() {
        return reject(RejectCode::InvalidParam, why);
    }
    let netuid = free_netuid(state, p.subnet_limit)?;
    let lock = current_lock_cost(state, height)?;
    transfer(state, sender, &locks_account(), lock)?.map_err(|(code, log)| {
        Fail::Reject(
            crate::checks::Rejection::new(code, format!("lock cost {lock} rao: {log}")),
            0,
        )
    })?;
    ensure_hotkey(state, sender, hotkey, height)?;
    let (created, contract) =
        instantiate_contract(state, env, sender, netuid, code_id, init_msg, gas_left)?;
    let info = SubnetInfo {
        owner: *sender,
        owner_hotkey: *hotkey,
        contract,
        locked: lock,
        registered_at: height,
        hyperparams,
        burn: INITIAL_BURN,
        burn_block: height,
        last_epoch: height,
        n: 1,
    };
    record_subnet(state, netuid, &info)?;
    let mut events = created.events;
    events.push(Event::new(
        "subnet_registered",
        &[
            ("netuid", netuid.to_string()),
            ("owner", sender.to_string()),
            ("hotkey", hotkey.to_string()),
            ("contract", contract.to_string()),
            ("lock", lock.to_string()),
        ],
    ));
    Ok(Done {
        gas_used: created.gas_used,
        data: netuid.to_be_bytes().to_vec(),
        events,
    })
}

/// The lowest free netuid up to `subnet_limit`, or `SubnetLimitReached`.
fn free_netuid(state: &(impl StateWrite + ?Sized), subnet_limit: u64) -> Result<u16, Fail> {
    let limit = subnet_limit.min(u16::MAX as u64) as u16;
    for id in 1..=limit {
        if subnet(state, id)?.is_none() {
            return Ok(id);
        }
    }
    reject(
        RejectCode::SubnetLimitReached,
        format!("all {limit} subnets exist; governance can raise subnet_limit"),
    )
}

/// Instantiates the subnet's contract (admin: the subnets module) and returns what it
/// did with its address.
fn instantiate_contract(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
    sender: &Address,
    netuid: u16,
    code_id: u64,
    init_msg: &[u8],
    gas_left: u64,
) -> Result<(Done, Address), Fail> {
    let outcome = contracts::instantiate(
        state,
        env,
        *sender,
        code_id,
        init_msg,
        0,
        Some(subnets_admin()),
        &format!("subnet-{netuid}"),
        gas_left,
    )?;
    let created = match outcome {
        Ok(d) => d,
        Err((r, gas)) => return Err(Fail::Reject(r, gas)),
    };
    let contract = <[u8; 20]>::try_from(created.data.as_slice())
        .map(Address)
        .map_err(|_| {
            Fail::Host(crate::AppError::Invariant(
                "instantiate returned no address".into(),
            ))
        })?;
    Ok((created, contract))
}

/// Writes the new subnet, its owner's UID 0, and the lock it paid (keeping the previous
/// last lock so a dissolve can splice it back).
fn record_subnet(
    state: &mut (impl StateWrite + ?Sized),
    netuid: u16,
    info: &SubnetInfo,
) -> Result<(), Fail> {
    let height = info.registered_at;
    set_subnet(state, netuid, info);
    set_neuron(
        state,
        netuid,
        0,
        &Neuron {
            hotkey: info.owner_hotkey,
            registered_at: height,
            last_update: height,
            permit: true,
            ..Neuron::default()
        },
    );
    set_uid(state, netuid, &info.owner_hotkey, 0);
    if let Some(prev) = get(state, &LAST_LOCK_KEY)? {
        put(state, &lock_prev_key(netuid), &prev);
    }
    put(state, &LAST_LOCK_KEY, &(info.locked, height));
    Ok(())
}

/// The subnet, or `SubnetNotFound`; root (0) is not a subnet.
pub fn existing(
    state: &(impl taochain_storage::StateRead + ?Sized),
    netuid: u16,
) -> Result<SubnetInfo, Fail> {
    match subnet(state, netuid)? {
        Some(s) => Ok(s),
        None => reject(RejectCode::SubnetNotFound, format!("no subnet {netuid}")),
    }
}

fn owned(
    state: &(impl taochain_storage::StateRead + ?Sized),
    sender: &Address,
    netuid: u16,
) -> Result<SubnetInfo, Fail> {
    let s = existing(state, netuid)?;
    if s.owner != *sender {
        return reject(
            RejectCode::Unauthorized,
            format!("only the owner {} may change subnet {netuid}", s.owner),
        );
    }
    Ok(s)
}

/// `SetHyperparam`.
pub fn set_hyperparam(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    netuid: u16,
    name: &str,
    value: u64,
) -> Result<Done, Fail> {
    let mut s = owned(state, sender, netuid)?;
    if name == "gateway_share_bps" {
        super::channels::set_gateway_share(state, netuid, value)?;
    } else if let Err(why) = s.hyperparams.set(name, value) {
        return reject(RejectCode::InvalidParam, why);
    }
    if s.hyperparams.max_allowed_uids < s.n as u64 {
        return reject(
            RejectCode::InvalidParam,
            format!("max_allowed_uids below the {} UIDs in use", s.n),
        );
    }
    set_subnet(state, netuid, &s);
    done(vec![Event::new(
        "hyperparam_set",
        &[
            ("netuid", netuid.to_string()),
            ("name", name.to_string()),
            ("value", value.to_string()),
        ],
    )])
}

/// `DissolveSubnet` by its owner. Dissolving visits every UID of the subnet, every root
/// member and every subnet (the lock chain): paid as a scan before it runs.
pub fn dissolve_by_owner(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    netuid: u16,
    gas_left: u64,
) -> Result<Done, Fail> {
    let s = owned(state, sender, netuid)?;
    let entries = u64::from(s.n)
        .saturating_add(u64::from(super::neurons::root_n(state)?))
        .saturating_add(store::params(state)?.subnet_limit);
    let scan_cost = scan_gas(entries, gas_left)?;
    let mut d = dissolve(state, netuid)?;
    d.gas_used = d.gas_used.saturating_add(scan_cost);
    Ok(d)
}

/// Root's votes for `netuid` and its stored share of the emission end with the subnet: one
/// registered later on the same netuid starts with neither (it earns its own root weights).
fn forget_root_votes(state: &mut (impl StateWrite + ?Sized), netuid: u16) -> Result<(), Fail> {
    let shares: Vec<(u16, u64)> = get_or_default(state, &SUBNET_SHARES_KEY)?;
    if shares.iter().any(|s| s.0 == netuid) {
        let kept: Vec<(u16, u64)> = shares.into_iter().filter(|s| s.0 != netuid).collect();
        put(state, &SUBNET_SHARES_KEY, &kept);
    }
    for uid in 0..super::neurons::root_n(state)? {
        if let Some(mut m) = store::neuron(state, 0, uid)?
            && m.weights.iter().any(|w| w.0 == netuid)
        {
            m.weights.retain(|w| w.0 != netuid);
            set_neuron(state, 0, uid, &m);
        }
    }
    Ok(())
}

/// Removes a subnet: lock back to the owner, pot back to the emission carry.
pub fn dissolve(state: &mut (impl StateWrite + ?Sized), netuid: u16) -> Result<Done, Fail> {
    let s = existing(state, netuid)?;
    // A subnet dissolved while its registration is still the last one takes its doubling
    // of the lock cost with it: registering and dissolving (even in a loop inside one
    // transaction) never raises the next registrant's price.
    // The registrations form a chain (each subnet keeps the record it replaced); removing
    // one splices it out, so dissolving several in any order restores the price too.
    let me = Some((s.locked, s.registered_at));
    let prev = get(state, &lock_prev_key(netuid))?;
    delete(state, lock_prev_key(netuid));
    let mut follower = None;
    if get(state, &LAST_LOCK_KEY)? == me {
        follower = Some(LAST_LOCK_KEY);
    } else {
        for (other, _) in store::subnets(state)? {
            let key = lock_prev_key(other);
            if other != netuid && get(state, &key)? == me {
                follower = Some(key);
                break;
            }
        }
    }
    if let Some(key) = follower {
        put_or_delete(state, key, prev.as_ref());
    }
    if s.locked > 0 {
        transfer(state, &locks_account(), &s.owner, s.locked)?.map_err(|(_, log)| {
            Fail::Host(crate::AppError::Invariant(format!("lock refund: {log}")))
        })?;
    }
    let pot = store::pot(state, netuid)?;
    let carry = get_or_default(state, &EMISSION_CARRY_KEY)?;
    put(state, &EMISSION_CARRY_KEY, &carry.saturating_add(pot));
    delete(state, pot_key(netuid));
    delete(state, gateway_share_key(netuid));
    for uid in 0..s.n {
        if let Some(n) = store::neuron(state, netuid, uid)? {
            delete(state, uid_key(netuid, n.hotkey.as_bytes()));
        }
        delete(state, neuron_key(netuid, uid));
        delete(state, axon_key(netuid, uid));
    }
    for (k, _) in scan(state, &COMMITS, &[&netuid.to_be_bytes()])? {
        delete(state, k);
    }
    forget_root_votes(state, netuid)?;
    delete(state, subnet_key(netuid));
    done(vec![Event::new(
        "subnet_dissolved",
        &[
            ("netuid", netuid.to_string()),
            ("refunded", s.locked.to_string()),
            ("owner", s.owner.to_string()),
        ],
    )])
}

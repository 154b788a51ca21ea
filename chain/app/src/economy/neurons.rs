//! Neuron registration. `BurnedRegister` pays the subnet's burn price (recycled out of total
//! issuance; the price decays with a 360-block half-life and rises x1.26 per registration)
//! and takes the next free UID or, when full, replaces the non-immune neuron with the lowest
//! last-epoch emission (ties: earliest registration, then lowest UID; UID 0, the owner's, is
//! never replaced). `RootRegister` puts a hotkey on root (netuid 0): free, and when root is
//! full only a hotkey whose active stake is above the weakest root member's gets in (see
//! `rewards`: stake of this block is pending), and that much of its stake stays locked
//! through the next root epoch.

use taochain_economics::pricing::{bumped_burn, decayed_burn};
use taochain_primitives::subnet::{Neuron, StakeLock, SubnetInfo};
use taochain_primitives::{Address, RejectCode};
use taochain_storage::schema::{ROOT_N_KEY, axon_key, commit_key, uid_key};
use taochain_storage::{StateRead, StateWrite};

use super::staking::ensure_hotkey;
use super::store::{self, neuron, set_neuron, set_subnet, set_uid, uid_of};
use super::subnets::existing;
use super::{Fail, done, reject, reject_after, rewards, scan_gas};
use crate::bank::{account, set_account};
use crate::contracts::Done;
use crate::emission::recycle;
use crate::events::Event;
use crate::typed::{delete, get_or_default, put};

/// The burn price of `netuid` at `height`.
pub fn burn_price(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    height: u64,
) -> Result<Option<u64>, crate::AppError> {
    Ok(store::subnet(state, netuid)?
        .map(|s| decayed_burn(s.burn, height.saturating_sub(s.burn_block))))
}

fn not_registered_yet(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    hotkey: &Address,
) -> Result<(), Fail> {
    if let Some(uid) = uid_of(state, netuid, hotkey)? {
        return reject(
            RejectCode::AlreadyRegistered,
            format!("hotkey {hotkey} already holds UID {uid} on netuid {netuid}"),
        );
    }
    Ok(())
}

/// Frees a UID held by another hotkey (its index entry, weight commits and axon).
fn evict(state: &mut (impl StateWrite + ?Sized), netuid: u16, uid: u16) -> Result<(), Fail> {
    if let Some(old) = neuron(state, netuid, uid)? {
        delete(state, uid_key(netuid, old.hotkey.as_bytes()));
        delete(state, commit_key(netuid, old.hotkey.as_bytes()));
    }
    delete(state, axon_key(netuid, uid));
    Ok(())
}

/// `BurnedRegister`.
pub fn burned_register(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    netuid: u16,
    hotkey: &Address,
    height: u64,
    gas_left: u64,
) -> Result<Done, Fail> {
    if netuid == 0 {
        return reject(
            RejectCode::InvalidParam,
            "netuid 0 is root: use RootRegister",
        );
    }
    let mut s = existing(state, netuid)?;
    ensure_hotkey(state, sender, hotkey, height)?;
    not_registered_yet(state, netuid, hotkey)?;
    let price = decayed_burn(s.burn, height.saturating_sub(s.burn_block));
    let mut payer = account(state, sender)?;
    let Some(left) = payer.balance.checked_sub(price) else {
        return reject(
            RejectCode::InsufficientFunds,
            format!(
                "balance {} rao is below the burn price {price} rao",
                payer.balance
            ),
        );
    };
    let (uid, scan_cost) = if (s.n as u64) < s.hyperparams.max_allowed_uids {
        s.n += 1;
        (s.n - 1, 0)
    } else {
        replace_uid(state, netuid, &s, height, gas_left)?
    };
    payer.balance = left;
    set_account(state, sender, &payer);
    recycle(state, price)?;
    s.burn = bumped_burn(price);
    s.burn_block = height;
    set_subnet(state, netuid, &s);
    set_neuron(
        state,
        netuid,
        uid,
        &Neuron {
            hotkey: *hotkey,
            registered_at: height,
            last_update: height,
            ..Neuron::default()
        },
    );
    set_uid(state, netuid, hotkey, uid);
    let mut d = done(vec![Event::new(
        "neuron_registered",
        &[
            ("netuid", netuid.to_string()),
            ("uid", uid.to_string()),
            ("hotkey", hotkey.to_string()),
            ("burned", price.to_string()),
        ],
    )])?;
    d.gas_used = scan_cost;
    Ok(d)
}

/// A full subnet's UID to replace: the non-immune one with the lowest emission (then the
/// oldest registration, then the lowest UID), evicted. The scan of every UID is paid
/// before it runs; returns the UID and the scan's gas.
fn replace_uid(
    state: &mut (impl StateWrite + ?Sized),
    netuid: u16,
    s: &SubnetInfo,
    height: u64,
    gas_left: u64,
) -> Result<(u16, u64), Fail> {
    let scan_cost = scan_gas(s.n as u64, gas_left)?;
    let mut best: Option<(u64, u64, u16)> = None;
    for uid in 1..s.n {
        let Some(n) = neuron(state, netuid, uid)? else {
            continue;
        };
        let immune = height
            < n.registered_at
                .saturating_add(s.hyperparams.immunity_period);
        let key = (n.emission, n.registered_at, uid);
        if !immune && best.is_none_or(|b| key < b) {
            best = Some(key);
        }
    }
    let Some((_, _, uid)) = best else {
        return reject_after(
            RejectCode::SubnetFull,
            format!("all {} UIDs of netuid {netuid} are taken and immune", s.n),
            scan_cost,
        );
    };
    evict(state, netuid, uid)?;
    Ok((uid, scan_cost))
}

/// The first root-epoch height after `height` (`u64::MAX` when root epochs are off).
fn next_root_epoch(height: u64, root_tempo: u64) -> u64 {
    if root_tempo == 0 {
        return u64::MAX;
    }
    (height / root_tempo)
        .saturating_add(1)
        .saturating_mul(root_tempo)
}

/// Number of root UIDs in use.
pub fn root_n(state: &(impl StateRead + ?Sized)) -> Result<u16, crate::AppError> {
    get_or_default(state, &ROOT_N_KEY)
}

/// `RootRegister`.
pub fn root_register(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    hotkey: &Address,
    height: u64,
    gas_left: u64,
) -> Result<Done, Fail> {
    ensure_hotkey(state, sender, hotkey, height)?;
    not_registered_yet(state, 0, hotkey)?;
    let max = store::params(state)?.root_max_uids.min(u16::MAX as u64) as u16;
    let n = root_n(state)?;
    let mut scan_cost = 0;
    let uid = if n < max {
        put(state, &ROOT_N_KEY, &(n + 1));
        n
    } else {
        scan_cost = scan_gas(n as u64, gas_left)?;
        let mut weakest: Option<(u64, u16)> = None;
        for uid in 0..n {
            let Some(member) = neuron(state, 0, uid)? else {
                continue;
            };
            let stake = rewards::active_stake(state, &member.hotkey)?;
            if weakest.is_none_or(|w| (stake, uid) < w) {
                weakest = Some((stake, uid));
            }
        }
        // Only active stake competes (what the root epoch counts): stake of this block is
        // pending, and a hotkey's pending stake of earlier blocks becomes active here only
        // if it has been there for a whole tempo of every subnet the hotkey is in. The
        // stake that wins stays locked through the next root epoch, so a seat cannot be
        // taken and abandoned in one transaction.
        rewards::end_period(state, hotkey, height, rewards::EpochOf::None)?;
        let held = rewards::active_stake(state, hotkey)?;
        match weakest {
            Some((stake, uid)) if held > stake => {
                evict(state, 0, uid)?;
                let p = store::params(state)?;
                let until = next_root_epoch(height, p.root_tempo);
                let lock = StakeLock {
                    amount: stake.saturating_add(1),
                    until,
                };
                store::lock_hotkey(state, hotkey, lock, height)?;
                uid
            }
            _ => {
                return reject_after(
                    RejectCode::SubnetFull,
                    format!(
                        "root is full and {hotkey}'s active stake ({held} rao; stake added in this block or during a tempo of its subnets is pending) is not above the lowest member's ({} rao)",
                        weakest.map_or(0, |w| w.0)
                    ),
                    scan_cost,
                );
            }
        }
    };
    set_neuron(
        state,
        0,
        uid,
        &Neuron {
            hotkey: *hotkey,
            registered_at: height,
            last_update: height,
            permit: true,
            ..Neuron::default()
        },
    );
    set_uid(state, 0, hotkey, uid);
    let mut d = done(vec![Event::new(
        "root_registered",
        &[("uid", uid.to_string()), ("hotkey", hotkey.to_string())],
    )])?;
    d.gas_used = scan_cost;
    Ok(d)
}

//! Hotkeys and stake: `AssociateHotkey`, `AddStake`, `RemoveStake`, `MoveStake`,
//! `ClaimRewards`, `SetTake`. Staked rao sits in the `staking` module account; each
//! `(hotkey, coldkey)` pair, each hotkey's total, each coldkey's total and the grand total
//! are kept in step, and every change of a pair first settles its rewards (`rewards`).
//! Locked stake (`StakeLocked`) cannot leave: a root seat's winning stake through the next
//! root epoch, a voter's stake through the end of the vote.

use taochain_primitives::subnet::{HotkeyInfo, MAX_TAKE_BPS};
use taochain_primitives::{Address, RejectCode};
use taochain_storage::StateWrite;
use taochain_storage::schema::{TOTAL_STAKE_KEY, cold_stake_key, stake_key};

use super::store::{self, cold_stake, hotkey, set_hotkey};
use super::{Fail, done, reject, rewards, staking_account};
use crate::bank::transfer;
use crate::contracts::Done;
use crate::events::Event;
use crate::typed::{get_or_default, put, put_or_delete};

/// Default validator take of a new hotkey (the maximum, 18%).
pub const DEFAULT_TAKE_BPS: u16 = MAX_TAKE_BPS;

/// The hotkey's record, created for `coldkey` if new; refused if another coldkey owns it.
pub fn ensure_hotkey(
    state: &mut (impl StateWrite + ?Sized),
    coldkey: &Address,
    key: &Address,
    height: u64,
) -> Result<HotkeyInfo, Fail> {
    match hotkey(state, key)? {
        Some(h) if h.owner == *coldkey => Ok(h),
        Some(h) => reject(
            RejectCode::HotkeyNotOwned,
            format!("hotkey {key} belongs to {}", h.owner),
        ),
        None => {
            let h = HotkeyInfo {
                owner: *coldkey,
                take_bps: DEFAULT_TAKE_BPS,
                take_changed_at: height,
                total_stake: 0,
            };
            set_hotkey(state, key, &h);
            Ok(h)
        }
    }
}

/// `AssociateHotkey`.
pub fn associate(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    key: &Address,
    height: u64,
) -> Result<Done, Fail> {
    ensure_hotkey(state, sender, key, height)?;
    done(vec![Event::new(
        "hotkey_associated",
        &[("coldkey", sender.to_string()), ("hotkey", key.to_string())],
    )])
}

fn bank(
    state: &mut (impl StateWrite + ?Sized),
    from: &Address,
    to: &Address,
    amount: u64,
) -> Result<(), Fail> {
    transfer(state, from, to, amount)?.map_err(|r| Fail::Reject(r.into(), 0))
}

/// Adds `delta` (signed by direction) to every stake counter of `(hotkey, coldkey)`.
fn adjust(
    state: &mut (impl StateWrite + ?Sized),
    key: &Address,
    coldkey: &Address,
    amount: u64,
    add: bool,
) -> Result<(), Fail> {
    let apply = |v: u64| -> Result<u64, Fail> {
        let r = if add {
            v.checked_add(amount)
        } else {
            v.checked_sub(amount)
        };
        r.ok_or_else(|| {
            Fail::Host(crate::AppError::Invariant(
                "stake counter out of range".into(),
            ))
        })
    };
    let pair = stake_key(key.as_bytes(), coldkey.as_bytes());
    let now = apply(get_or_default(state, &pair)?)?;
    put_or_delete(state, pair, Some(&now).filter(|&&v| v > 0));
    let mut h = hotkey(state, key)?.ok_or_else(|| {
        Fail::Host(crate::AppError::Invariant(format!(
            "stake on unknown hotkey {key}"
        )))
    })?;
    h.total_stake = apply(h.total_stake)?;
    set_hotkey(state, key, &h);
    let cold = apply(cold_stake(state, coldkey)?)?;
    put(state, &cold_stake_key(coldkey.as_bytes()), &cold);
    let total = apply(get_or_default(state, &TOTAL_STAKE_KEY)?)?;
    put(state, &TOTAL_STAKE_KEY, &total);
    Ok(())
}

fn known_hotkey(state: &mut (impl StateWrite + ?Sized), key: &Address) -> Result<(), Fail> {
    if hotkey(state, key)?.is_none() {
        return reject(
            RejectCode::NotRegistered,
            format!("hotkey {key} is not associated with any coldkey"),
        );
    }
    Ok(())
}

fn non_zero(amount: u64) -> Result<(), Fail> {
    if amount == 0 {
        return reject(RejectCode::ZeroAmount, "stake amount must be non-zero");
    }
    Ok(())
}

/// Settles the pair's rewards (see [`rewards`]), with an event when any were paid.
fn settle(
    state: &mut (impl StateWrite + ?Sized),
    key: &Address,
    coldkey: &Address,
    events: &mut Vec<Event>,
) -> Result<(), Fail> {
    let paid = rewards::settle(state, key, coldkey)?;
    if paid > 0 {
        events.push(stake_event("rewards_paid", coldkey, key, paid));
    }
    Ok(())
}

/// Refuses a removal that would take locked stake: the hotkey's stake that won a root
/// seat, and (when the stake leaves the coldkey) stake behind an open governance vote.
fn unlocked(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    key: &Address,
    amount: u64,
    leaves_coldkey: bool,
    height: u64,
) -> Result<(), Fail> {
    let total = hotkey(state, key)?.map_or(0, |h| h.total_stake);
    let lock = store::hotkey_lock(state, key)?;
    rewards::check_lock(
        total,
        amount,
        lock,
        height,
        "this hotkey's stake (it won a root seat)",
    )?;
    if leaves_coldkey {
        let have = cold_stake(state, sender)?;
        let lock = store::cold_lock(state, sender)?;
        rewards::check_lock(
            have,
            amount,
            lock,
            height,
            "your stake (it backs a governance vote)",
        )?;
    }
    Ok(())
}

/// `AddStake`: free balance -> stake on `hotkey`, pending (earning nothing, not counted
/// by Yuma) until the hotkey's next epoch.
pub fn add_stake(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    key: &Address,
    amount: u64,
    height: u64,
) -> Result<Done, Fail> {
    non_zero(amount)?;
    known_hotkey(state, key)?;
    bank(state, sender, &staking_account(), amount)?;
    let mut events = vec![];
    settle(state, key, sender, &mut events)?;
    adjust(state, key, sender, amount, true)?;
    rewards::added(state, key, sender, amount, height)?;
    events.push(stake_event("stake_added", sender, key, amount));
    done(events)
}

fn enough_stake(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    key: &Address,
    amount: u64,
) -> Result<u64, Fail> {
    let have = store::stake(state, key, sender)?;
    if have < amount {
        return reject(
            RejectCode::InsufficientStake,
            format!("{sender} has {have} rao staked on {key}, not {amount}"),
        );
    }
    Ok(have)
}

/// `RemoveStake`: stake -> free balance (pending stake first), with the rewards earned.
pub fn remove_stake(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    key: &Address,
    amount: u64,
    height: u64,
) -> Result<Done, Fail> {
    non_zero(amount)?;
    let have = enough_stake(state, sender, key, amount)?;
    unlocked(state, sender, key, amount, true, height)?;
    let mut events = vec![];
    settle(state, key, sender, &mut events)?;
    adjust(state, key, sender, amount, false)?;
    rewards::removed(state, key, sender, amount, have - amount)?;
    bank(state, &staking_account(), sender, amount)?;
    events.push(stake_event("stake_removed", sender, key, amount));
    done(events)
}

/// `MoveStake`: the sender's stake from one hotkey to another (pending on the new one
/// until its next epoch), with the rewards earned on both.
pub fn move_stake(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    from: &Address,
    to: &Address,
    amount: u64,
    height: u64,
) -> Result<Done, Fail> {
    non_zero(amount)?;
    let have = enough_stake(state, sender, from, amount)?;
    known_hotkey(state, to)?;
    unlocked(state, sender, from, amount, false, height)?;
    let mut events = vec![];
    settle(state, from, sender, &mut events)?;
    settle(state, to, sender, &mut events)?;
    adjust(state, from, sender, amount, false)?;
    rewards::removed(state, from, sender, amount, have - amount)?;
    adjust(state, to, sender, amount, true)?;
    rewards::added(state, to, sender, amount, height)?;
    events.push(Event::new(
        "stake_moved",
        &[
            ("coldkey", sender.to_string()),
            ("from", from.to_string()),
            ("to", to.to_string()),
            ("amount", amount.to_string()),
        ],
    ));
    done(events)
}

/// `ClaimRewards`: pays the sender's nominator rewards accrued on `hotkey`.
pub fn claim(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    key: &Address,
) -> Result<Done, Fail> {
    known_hotkey(state, key)?;
    let paid = rewards::settle(state, key, sender)?;
    done(vec![stake_event("rewards_paid", sender, key, paid)])
}

/// `SetTake`: owner only, at most 18%, increases rate-limited.
pub fn set_take(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    key: &Address,
    take_bps: u16,
    height: u64,
) -> Result<Done, Fail> {
    if take_bps > MAX_TAKE_BPS {
        return reject(
            RejectCode::TakeTooHigh,
            format!("take {take_bps} bps is above the maximum {MAX_TAKE_BPS} bps (18%)"),
        );
    }
    let Some(mut h) = hotkey(state, key)? else {
        return reject(RejectCode::NotRegistered, format!("unknown hotkey {key}"));
    };
    if h.owner != *sender {
        return reject(
            RejectCode::HotkeyNotOwned,
            format!("hotkey {key} belongs to {}", h.owner),
        );
    }
    if take_bps > h.take_bps {
        let limit = store::params(state)?.take_rate_limit;
        let next = h.take_changed_at.saturating_add(limit);
        if height < next {
            return reject(
                RejectCode::RateLimited,
                format!("take increases are allowed from block {next}"),
            );
        }
        h.take_changed_at = height;
    }
    h.take_bps = take_bps;
    set_hotkey(state, key, &h);
    done(vec![Event::new(
        "take_set",
        &[
            ("hotkey", key.to_string()),
            ("take_bps", take_bps.to_string()),
        ],
    )])
}

fn stake_event(kind: &str, cold: &Address, hot: &Address, amount: u64) -> Event {
    Event::new(
        kind,
        &[
            ("coldkey", cold.to_string()),
            ("hotkey", hot.to_string()),
            ("amount", amount.to_string()),
        ],
    )
}

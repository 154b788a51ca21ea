//! The economy's end-of-block work, in a fixed order: (1) route the block reward (plus any
//! carried rao) into the subnets' pots by their root shares; (2) for each subnet whose tempo
//! ends at this height (subtensor's `(height + netuid + 1) % (tempo + 1) == 0`), ascending
//! by netuid: call its contract's `epoch` hook (weights it returns become the owner UID's
//! weights; the hooks of one block share a `max_block_gas` budget, `epoch_gas` each, and a
//! hook beyond it is skipped), run Yuma consensus and pay the pot 18/41/41; (3) every
//! `root_tempo` blocks, the root epoch sets each subnet's share; (4) governance tallies
//! (see `governance`).
//!
//! Payout recipients: the owner's 18% to the subnet owner's coldkey; a miner's part to its
//! hotkey's coldkey; a validator's part is split into the hotkey's take (to its coldkey) and
//! the rest to its nominators pro rata to their active stake, through the hotkey's reward
//! pool (`rewards`: one index step per hotkey, claimed by each nominator; rounding to the
//! hotkey's coldkey). Yuma sees each hotkey's active stake: stake added during the tempo
//! is pending until this epoch ends, so it earns nothing from it.

use taochain_economics::fixed::{max_upscale, to_u16};
use taochain_economics::payout::{ValidatorSplit, epoch_payout, split};
use taochain_economics::yuma::{self, EpochInput, NeuronInput, core, dense_row, top_k_permits};
use taochain_primitives::Address;
use taochain_primitives::subnet::{Neuron, SubnetInfo};
use taochain_storage::StateWrite;
use taochain_storage::schema::{EMISSION_CARRY_KEY, SUBNET_SHARES_KEY};
use taochain_vm_abi::EpochCall;

use super::neurons::root_n;
use super::rewards::{self, EpochOf};
use super::store::{self, neurons, set_neuron, set_pot, set_subnet};
use crate::AppError;
use crate::bank::transfer;
use crate::contracts::{self, epoch_hook};
use crate::emission::emission_pool;
use crate::events::Event;
use crate::typed::{get_or_default, put};

/// Whether `netuid`'s tempo ends at `height`.
pub fn is_epoch(height: u64, netuid: u16, tempo: u64) -> bool {
    height
        .wrapping_add(netuid as u64)
        .wrapping_add(1)
        .is_multiple_of(tempo.saturating_add(1))
}

/// Runs every end-of-block step of the economy after `reward` was minted to the pool.
pub fn end_block(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
    reward: u64,
) -> Result<Vec<Event>, AppError> {
    let height = env.height;
    let subnets = store::subnets(state)?;
    distribute(state, reward, &subnets)?;
    let mut events = vec![];
    // Contract epoch hooks share one budget per block (each reserves `epoch_gas`), so a
    // block runs at most `max_block_gas / epoch_gas` of them however many subnets align.
    let mut hook_budget = store::chain_params(state)?.max_block_gas;
    for (netuid, s) in subnets {
        if is_epoch(height, netuid, s.hyperparams.tempo) {
            let started = env.observer.start();
            events.extend(subnet_epoch(state, env, netuid, s, &mut hook_budget)?);
            env.observer.epoch(netuid, started);
        }
    }
    let p = store::params(state)?;
    if p.root_tempo > 0 && height.is_multiple_of(p.root_tempo) {
        events.push(root_epoch(state, height)?);
    }
    events.extend(super::governance::end_block(state, env)?);
    Ok(events)
}

/// Adds the reward (and the carry) to the pots by share; equal shares without root
/// weights; everything carries while there is no subnet.
fn distribute(
    state: &mut (impl StateWrite + ?Sized),
    reward: u64,
    subnets: &[(u16, SubnetInfo)],
) -> Result<(), AppError> {
    let carry = get_or_default(state, &EMISSION_CARRY_KEY)?;
    let amount = carry
        .checked_add(reward)
        .ok_or_else(|| AppError::Invariant("emission carry overflow".into()))?;
    let stored = get_or_default(state, &SUBNET_SHARES_KEY)?;
    let mut shares: Vec<u64> = subnets
        .iter()
        .map(|(id, _)| stored.iter().find(|s| s.0 == *id).map_or(0, |s| s.1))
        .collect();
    if shares.iter().all(|&s| s == 0) {
        shares = vec![1; subnets.len()];
    }
    let (parts, left) = split(amount, &shares);
    for ((id, _), part) in subnets.iter().zip(parts) {
        if part > 0 {
            let pot = store::pot(state, *id)?
                .checked_add(part)
                .ok_or_else(|| AppError::Invariant("pot overflow".into()))?;
            set_pot(state, *id, pot);
        }
    }
    put(state, &EMISSION_CARRY_KEY, &left);
    Ok(())
}

/// Sanitises weights returned by a contract: known UIDs, first of duplicates, upscaled.
fn contract_weights(data: &[u8], n: u16) -> Option<Vec<(u16, u16)>> {
    let mut w: Vec<(u16, u16)> = borsh::from_slice(data).ok()?;
    w.retain(|p| p.0 < n);
    w.sort_by_key(|p| p.0);
    w.dedup_by_key(|p| p.0);
    let scaled = max_upscale(&w.iter().map(|p| p.1 as u64).collect::<Vec<_>>());
    if scaled.iter().all(|&v| v == 0) {
        return None;
    }
    Some(w.iter().zip(scaled).map(|(p, v)| (p.0, v)).collect())
}

fn pay(state: &mut (impl StateWrite + ?Sized), to: &Address, amount: u64) -> Result<(), AppError> {
    if amount == 0 {
        return Ok(());
    }
    transfer(state, &emission_pool(), to, amount)?
        .map_err(|(_, log)| AppError::Invariant(format!("epoch payout: {log}")))
}

/// One subnet's epoch: the contract's hook, Yuma over active stake, the payout.
fn subnet_epoch(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
    netuid: u16,
    mut s: SubnetInfo,
    hook_budget: &mut u64,
) -> Result<Vec<Event>, AppError> {
    let height = env.height;
    let mut all: Vec<Neuron> = neurons(state, netuid, s.n)?;
    let mut events = run_hook(state, env, netuid, &s, &mut all, hook_budget)?;
    let mut owners = Vec::with_capacity(all.len());
    let mut stakes = Vec::with_capacity(all.len());
    for n in &all {
        // Yuma counts active stake only: stake added during this tempo is still pending.
        stakes.push(rewards::active_stake(state, &n.hotkey)?);
        owners.push(store::hotkey(state, &n.hotkey)?);
    }
    let out = yuma::epoch(&epoch_input(&s, &all, &stakes, height));
    let pot = store::pot(state, netuid)?;
    let takes: Vec<u16> = owners
        .iter()
        .map(|h| h.as_ref().map_or(0, |h| h.take_bps))
        .collect();
    let paid = epoch_payout(pot, &out, &stakes, &takes, true);
    let p = &paid.pot;
    pay(state, &s.owner, p.owner)?;
    for (i, n) in all.iter_mut().enumerate() {
        let coldkey = owners[i].as_ref().map_or(s.owner, |h| h.owner);
        pay(state, &coldkey, p.miner[i])?;
        pay_validator(state, &n.hotkey, &coldkey, &paid.validators[i])?;
        rewards::end_period(state, &n.hotkey, height, EpochOf::Subnet(netuid))?;
        n.consensus = out.consensus[i];
        n.incentive = out.incentive[i];
        n.dividends = out.dividends[i];
        n.trust = out.validator_trust[i];
        n.emission = p.miner[i] + p.validator[i];
        n.permit = out.permits[i];
        n.bonds = out.bonds[i].clone();
        set_neuron(state, netuid, i as u16, n);
    }
    set_pot(state, netuid, p.carried);
    s.last_epoch = height;
    set_subnet(state, netuid, &s);
    events.push(Event::new(
        "epoch",
        &[
            ("netuid", netuid.to_string()),
            ("pot", pot.to_string()),
            ("owner", p.owner.to_string()),
            ("miners", p.miner.iter().sum::<u64>().to_string()),
            ("validators", p.validator.iter().sum::<u64>().to_string()),
            ("carried", p.carried.to_string()),
        ],
    ));
    Ok(events)
}

/// The contract's judgement, as the owner UID's weights, within the block's hook budget.
fn run_hook(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
    netuid: u16,
    s: &SubnetInfo,
    all: &mut [Neuron],
    hook_budget: &mut u64,
) -> Result<Vec<Event>, AppError> {
    let call = EpochCall {
        netuid,
        height: env.height,
        hotkeys: all.iter().map(|n| n.hotkey.0).collect(),
    };
    let gas = store::params(state)?.epoch_gas;
    let msg = borsh::to_vec(&call).unwrap_or_default();
    let hook = if *hook_budget < gas {
        Err(
            "this block's epoch gas budget (max_block_gas) is spent; the owner's weights stay"
                .into(),
        )
    } else {
        *hook_budget -= gas;
        epoch_hook(state, env, s.contract, &msg, gas)?
    };
    Ok(match hook {
        Ok(done) => {
            if let (Some(w), Some(owner)) = (contract_weights(&done.data, s.n), all.first_mut()) {
                owner.weights = w;
                owner.last_update = env.height;
            }
            done.events
        }
        Err(why) => vec![Event::new(
            "epoch_hook_skipped",
            &[("netuid", netuid.to_string()), ("reason", why)],
        )],
    })
}

/// Yuma's input: each neuron with its active stake and the subnet's hyperparameters.
fn epoch_input(s: &SubnetInfo, all: &[Neuron], stakes: &[u64], height: u64) -> EpochInput {
    let hp = &s.hyperparams;
    EpochInput {
        neurons: all
            .iter()
            .zip(stakes)
            .map(|(n, &stake)| NeuronInput {
                stake,
                active: n.last_update.saturating_add(hp.activity_cutoff) >= height,
                permit: n.permit,
                new_registration: n.registered_at > s.last_epoch,
                last_update: n.last_update,
                registered_at: n.registered_at,
                weights: n.weights.clone(),
                bonds: n.bonds.clone(),
            })
            .collect(),
        kappa: hp.kappa.min(u16::MAX as u64) as u16,
        bonds_moving_average: hp.bonds_moving_average,
        max_allowed_validators: hp.max_allowed_validators.min(u16::MAX as u64) as u16,
        owner_uid: Some(0),
    }
}

/// A validator's part, split by the economics: the stakers' step into the hotkey's
/// reward pool, the take and rounding to its coldkey.
fn pay_validator(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
    split: &ValidatorSplit,
) -> Result<(), AppError> {
    if let Some(step) = &split.stakers {
        rewards::distribute(state, hotkey, step)?;
    }
    pay(state, coldkey, split.to_coldkey)
}

/// The root epoch: Yuma over root members' weights on subnets; the incentive becomes each
/// subnet's share of the block reward.
fn root_epoch(state: &mut (impl StateWrite + ?Sized), height: u64) -> Result<Event, AppError> {
    let n = root_n(state)?;
    let mut members = neurons(state, 0, n)?;
    let subnets: Vec<u16> = store::subnets(state)?.into_iter().map(|s| s.0).collect();
    let cols = subnets.last().map_or(1, |&m| m as usize + 1);
    let mut stakes = Vec::with_capacity(members.len());
    for m in &members {
        stakes.push(rewards::active_stake(state, &m.hotkey)?);
    }
    let p = store::params(state)?;
    let permits = top_k_permits(&stakes, p.root_max_uids.min(u16::MAX as u64) as u16, None);
    let weights: Vec<Vec<u64>> = members
        .iter()
        .zip(&permits)
        .map(|(m, &ok)| {
            let row = if ok {
                dense_row(&m.weights, cols, |j| {
                    subnets.binary_search(&(j as u16)).is_ok()
                })
            } else {
                vec![]
            };
            if row.is_empty() { vec![0; cols] } else { row }
        })
        .collect();
    let row_stake: Vec<u64> = stakes
        .iter()
        .zip(&permits)
        .map(|(&s, &ok)| if ok { s } else { 0 })
        .collect();
    let bonds = vec![vec![0; cols]; members.len()];
    let kappa = p.default_hyperparams.kappa.min(u16::MAX as u64) as u16;
    let c = core(&row_stake, &weights, &bonds, cols, kappa, 0);
    let shares: Vec<(u16, u64)> = subnets
        .iter()
        .map(|&id| (id, c.incentive[id as usize]))
        .filter(|s| s.1 > 0)
        .collect();
    put(state, &SUBNET_SHARES_KEY, &shares);
    for (uid, m) in members.iter_mut().enumerate() {
        m.permit = permits[uid];
        m.trust = to_u16(c.trust[uid]);
        m.dividends = to_u16(c.dividends[uid]);
        set_neuron(state, 0, uid as u16, m);
        rewards::end_period(state, &m.hotkey, height, EpochOf::Root)?;
    }
    Ok(Event::new(
        "root_epoch",
        &[(
            "shares",
            shares
                .iter()
                .map(|(id, s)| format!("{id}:{}", to_u16(*s)))
                .collect::<Vec<_>>()
                .join(","),
        )],
    ))
}

//! Nominator rewards by reward-per-share, in periods (the F1 scheme of Cosmos'
//! distribution module), and the warm-up that keeps just-in-time stake from earning.
//!
//! Each hotkey has a [`StakePool`]. At an epoch the nominators' part of its dividends goes
//! into the `nominator_rewards` module account and raises the pool's index by
//! `reward * REWARD_SCALE / active stake`; no nominator is visited. A `(hotkey, coldkey)`
//! pair settles (is paid what its active stake earned since it last settled) whenever its
//! stake changes or it sends `ClaimRewards`. So an epoch costs O(neurons) whatever the
//! number of nominations, and each settlement costs O(1), paid by its transaction.
//!
//! Stake added to a hotkey is pending ([`end_period`]) until every subnet the hotkey is a
//! neuron of, and root if it is a member, has had an epoch since: it earns nothing and
//! Yuma does not count it before it was there for a whole tempo. The epoch that activates
//! pending stake records the index at its end ([`PeriodEnd`]) so a pair that settles later
//! is paid from then on; the record is deleted once every pair of that period settled.
//!
//! Rounding never creates rao: the module account receives `ceil(A * d / SCALE)` for an
//! index step `d = floor(reward * SCALE / A)` over active stake `A` (at most `reward`;
//! the rest goes to the hotkey's owner), and a pair is paid the floor of its share.

use taochain_economics::payout::{NominatorStep, earned};
use taochain_primitives::subnet::{PeriodEnd, PoolShare, StakeLock, StakePool};
use taochain_primitives::{Address, RejectCode};
use taochain_storage::schema::{period_key, pool_key, share_key};
use taochain_storage::{StateRead, StateWrite};

use super::store;
use crate::AppError;
use crate::bank::transfer;
use crate::emission::emission_pool;
use crate::typed::{get, get_or_default, put, put_or_delete};

/// Module account holding nominator rewards not yet settled.
pub fn rewards_account() -> Address {
    Address::module("nominator_rewards")
}

/// A hotkey's pool (empty if it never had stake).
pub fn pool(state: &(impl StateRead + ?Sized), hotkey: &Address) -> Result<StakePool, AppError> {
    get_or_default(state, &pool_key(hotkey.as_bytes()))
}

fn set_pool(state: &mut (impl StateWrite + ?Sized), hotkey: &Address, p: &StakePool) {
    put(state, &pool_key(hotkey.as_bytes()), p);
}

fn share(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
) -> Result<Option<PoolShare>, AppError> {
    get(state, &share_key(hotkey.as_bytes(), coldkey.as_bytes()))
}

/// A hotkey's stake that earns and that Yuma counts: its total minus pending stake.
pub fn active_stake(state: &(impl StateRead + ?Sized), hotkey: &Address) -> Result<u64, AppError> {
    let total = store::hotkey(state, hotkey)?.map_or(0, |h| h.total_stake);
    Ok(pool(state, hotkey)?.active(total))
}

/// A pair's state and what it has earned, read once for [`unclaimed`] and [`settle`].
struct Owed {
    pool: StakePool,
    share: PoolShare,
    /// The end of the pair's pending period, if that period has ended.
    end: Option<PeriodEnd>,
    amount: u64,
}

fn owed(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
) -> Result<Option<Owed>, AppError> {
    let Some(share) = share(state, hotkey, coldkey)? else {
        return Ok(None);
    };
    let pool = pool(state, hotkey)?;
    let stake = store::stake(state, hotkey, coldkey)?;
    let mut amount = earned(
        stake.saturating_sub(share.pending),
        pool.acc.wrapping_sub(share.acc),
    );
    let mut end = None;
    if share.pending > 0 && share.pending_period < pool.period {
        let e = get(state, &period_key(hotkey.as_bytes(), share.pending_period))?
            .ok_or_else(|| AppError::Invariant("a settled period is missing".into()))?;
        amount = amount.saturating_add(earned(share.pending, pool.acc.wrapping_sub(e.acc)));
        end = Some(e);
    }
    Ok(Some(Owed {
        pool,
        share,
        end,
        amount,
    }))
}

/// What the pair would be paid if it settled now, without changing anything.
pub fn unclaimed(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
) -> Result<u64, AppError> {
    Ok(owed(state, hotkey, coldkey)?.map_or(0, |o| o.amount))
}

/// Settles the pair: pays what it earned to `coldkey` and activates its pending stake if
/// its period has ended. Returns the rao paid. Call before the pair's stake changes.
pub fn settle(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
) -> Result<u64, AppError> {
    let Some(Owed {
        pool: p,
        share: mut sh,
        end,
        amount: owed,
    }) = owed(state, hotkey, coldkey)?
    else {
        return Ok(0);
    };
    if let Some(mut end) = end {
        let key = period_key(hotkey.as_bytes(), sh.pending_period);
        end.unsettled = end
            .unsettled
            .checked_sub(sh.pending)
            .ok_or_else(|| AppError::Invariant("period settled twice".into()))?;
        put_or_delete(state, key, Some(&end).filter(|e| e.unsettled > 0));
        sh.pending = 0;
    }
    sh.acc = p.acc;
    put(
        state,
        &share_key(hotkey.as_bytes(), coldkey.as_bytes()),
        &sh,
    );
    if owed > 0 {
        transfer(state, &rewards_account(), coldkey, owed)?
            .map_err(|(_, log)| AppError::Invariant(format!("nominator rewards: {log}")))?;
    }
    Ok(owed)
}

/// After [`settle`]: `amount` rao of new stake on the pair, pending until the hotkey's
/// next epoch.
pub fn added(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
    amount: u64,
    height: u64,
) -> Result<(), AppError> {
    let overflow = || AppError::Invariant("pending stake out of range".into());
    let mut p = pool(state, hotkey)?;
    let mut sh = share(state, hotkey, coldkey)?.unwrap_or(PoolShare {
        acc: p.acc,
        ..PoolShare::default()
    });
    sh.pending = sh.pending.checked_add(amount).ok_or_else(overflow)?;
    sh.pending_period = p.period;
    if p.pending == 0 {
        p.pending_since = height;
    }
    p.pending = p.pending.checked_add(amount).ok_or_else(overflow)?;
    p.last_added = height;
    put(
        state,
        &share_key(hotkey.as_bytes(), coldkey.as_bytes()),
        &sh,
    );
    set_pool(state, hotkey, &p);
    Ok(())
}

/// After [`settle`]: `amount` rao leave the pair (its pending stake first). `left` is the
/// pair's stake after the removal; a pair with none is deleted.
pub fn removed(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
    amount: u64,
    left: u64,
) -> Result<(), AppError> {
    let key = share_key(hotkey.as_bytes(), coldkey.as_bytes());
    let Some(mut sh) = share(state, hotkey, coldkey)? else {
        return Ok(());
    };
    let from_pending = sh.pending.min(amount);
    if from_pending > 0 {
        let mut p = pool(state, hotkey)?;
        p.pending = p
            .pending
            .checked_sub(from_pending)
            .ok_or_else(|| AppError::Invariant("pool pending short".into()))?;
        set_pool(state, hotkey, &p);
        sh.pending -= from_pending;
    }
    put_or_delete(state, key, Some(&sh).filter(|_| left > 0));
    Ok(())
}

/// An epoch applies one reward-per-share step to the hotkey's stakers (computed by
/// `taochain_economics::payout`): raises the pool's index and moves the rao into the
/// rewards account.
pub fn distribute(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    step: &NominatorStep,
) -> Result<(), AppError> {
    let mut p = pool(state, hotkey)?;
    p.acc = p.acc.wrapping_add(step.index_step);
    set_pool(state, hotkey, &p);
    if step.into_pool == 0 {
        // A step too small to raise the index moves nothing (a zero transfer is refused).
        return Ok(());
    }
    transfer(state, &emission_pool(), &rewards_account(), step.into_pool)?
        .map_err(|(_, log)| AppError::Invariant(format!("epoch payout: {log}")))
}

/// Whose epoch is running when [`end_period`] is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochOf {
    /// A subnet's epoch (its `last_epoch` is not yet updated).
    Subnet(u16),
    /// The root epoch (after this block's subnet epochs).
    Root,
    /// No epoch: a root registration asks whether stake of an earlier block may count.
    None,
}

/// Whether every subnet `hotkey` is a neuron of, and root if it is a member, has had an
/// epoch at or after block `since`, counting the one that is running.
fn every_tempo_passed(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
    since: u64,
    height: u64,
    running: EpochOf,
) -> Result<bool, AppError> {
    for (netuid, s) in store::subnets(state)? {
        if running == EpochOf::Subnet(netuid) {
            continue;
        }
        if s.last_epoch < since && store::uid_of(state, netuid, hotkey)?.is_some() {
            return Ok(false);
        }
    }
    if running != EpochOf::Root && store::uid_of(state, 0, hotkey)?.is_some() {
        // Root epochs run at multiples of root_tempo, after the subnets' epochs.
        let tempo = store::params(state)?.root_tempo;
        let last_root = match tempo {
            0 => 0,
            t => height.saturating_sub(1) / t * t,
        };
        if last_root < since {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The end of a hotkey's epoch: its pending stake becomes active once it has been there
/// for a whole tempo of every subnet (and root) the hotkey is in; the index at that
/// point is recorded so the pairs it belongs to earn from there when they settle.
pub fn end_period(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    height: u64,
    running: EpochOf,
) -> Result<(), AppError> {
    let mut p = pool(state, hotkey)?;
    if p.pending == 0 {
        return Ok(());
    }
    if running == EpochOf::None && p.last_added >= height {
        return Ok(());
    }
    if !every_tempo_passed(state, hotkey, p.pending_since, height, running)? {
        return Ok(());
    }
    let end = PeriodEnd {
        acc: p.acc,
        unsettled: p.pending,
    };
    put(state, &period_key(hotkey.as_bytes(), p.period), &end);
    p.period = p
        .period
        .checked_add(1)
        .ok_or_else(|| AppError::Invariant("period out of range".into()))?;
    p.pending = 0;
    set_pool(state, hotkey, &p);
    Ok(())
}

/// Refuses unless `have - amount` stays at or above what `lock` holds at `height`.
pub fn check_lock(
    have: u64,
    amount: u64,
    lock: StakeLock,
    height: u64,
    what: &str,
) -> Result<(), super::Fail> {
    let locked = lock.at(height);
    if have.saturating_sub(amount) < locked {
        return super::reject(
            RejectCode::StakeLocked,
            format!(
                "{locked} rao of {what} is locked through block {}; {have} rao staked, {amount} rao asked",
                lock.until
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use taochain_primitives::Account;
    use taochain_storage::StateDelta;
    use taochain_storage::delta::Changes;

    use super::*;
    use crate::bank::{account, set_account};
    use crate::economy::staking;

    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, u64),
        Remove(usize, u64),
        Claim(usize),
        Epoch(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..4usize, 1..1_000_000u64).prop_map(|(c, a)| Op::Add(c, a)),
            (0..4usize, 1..1_000_000u64).prop_map(|(c, a)| Op::Remove(c, a)),
            (0..4usize).prop_map(Op::Claim),
            (0..10_000_000u64).prop_map(Op::Epoch),
        ]
    }

    fn cold(i: usize) -> Address {
        Address::module(&format!("cold{i}"))
    }

    fn balance(s: &impl StateRead, a: &Address) -> u64 {
        account(s, a).expect("account").balance
    }

    /// A step too small to raise the index (reward * scale below the active stake) moves
    /// nothing and must not halt the node with a refused zero transfer.
    #[test]
    fn a_zero_step_distributes_nothing_without_failing() {
        let base = Changes::new();
        let mut st = StateDelta::new(&base);
        let hot = Address::module("hot");
        let step = NominatorStep {
            index_step: 0,
            into_pool: 0,
            rest: 5,
        };
        distribute(&mut st, &hot, &step).expect("a zero step is a no-op");
        assert_eq!(balance(&st, &rewards_account()), 0);
    }

    proptest! {
        /// Against a naive model that pays every active pair at every epoch: each pair is
        /// paid within one rao per epoch of its exact pro-rata share, never more than the
        /// pool received, and pending stake earns nothing from the epoch that activates it.
        #[test]
        fn pool_payouts_match_the_pro_rata_model(ops in prop::collection::vec(op(), 1..60)) {
            let base = Changes::new();
            let mut st = StateDelta::new(&base);
            let hot = Address::module("hot");
            staking::ensure_hotkey(&mut st, &cold(0), &hot, 1).expect("hotkey");
            for i in 0..4 {
                set_account(&mut st, &cold(i), &Account { balance: u64::MAX / 8, nonce: 0 });
            }
            set_account(&mut st, &emission_pool(), &Account { balance: u64::MAX / 8, nonce: 0 });
            // The model: per pair, active and pending stake, its exact pro-rata reward
            // (a float is fine in a test) and what it was paid.
            let mut active = [0u64; 4];
            let mut pending = [0u64; 4];
            let mut exact = [0f64; 4];
            let mut paid = [0u64; 4];
            let mut epochs = [0u64; 4];
            let mut into_pool = 0u64;
            for (h, op) in ops.into_iter().enumerate() {
                let h = h as u64 + 2;
                let before = (0..4).map(|i| balance(&st, &cold(i))).collect::<Vec<_>>();
                match op {
                    Op::Add(c, a) => {
                        staking::add_stake(&mut st, &cold(c), &hot, a, h).expect("add");
                        pending[c] += a;
                        paid[c] += balance(&st, &cold(c)) + a - before[c];
                    }
                    Op::Remove(c, a) => {
                        if staking::remove_stake(&mut st, &cold(c), &hot, a, h).is_ok() {
                            paid[c] += balance(&st, &cold(c)) - a - before[c];
                            let from_pending = pending[c].min(a);
                            pending[c] -= from_pending;
                            active[c] -= a - from_pending;
                        }
                    }
                    Op::Claim(c) => {
                        staking::claim(&mut st, &cold(c), &hot).expect("claim");
                        paid[c] += balance(&st, &cold(c)) - before[c];
                    }
                    Op::Epoch(reward) => {
                        let a = active_stake(&st, &hot).expect("active");
                        prop_assert_eq!(a, active.iter().sum::<u64>());
                        let pool_before = balance(&st, &rewards_account());
                        let step = taochain_economics::payout::nominator_step(reward, a);
                        if let Some(step) = &step {
                            distribute(&mut st, &hot, step).expect("distribute");
                        }
                        into_pool += balance(&st, &rewards_account()) - pool_before;
                        prop_assert!(step.map_or(0, |s| s.into_pool) <= reward);
                        if a > 0 {
                            for i in 0..4 {
                                exact[i] += reward as f64 * active[i] as f64 / a as f64;
                                if active[i] > 0 {
                                    epochs[i] += 1;
                                }
                            }
                        }
                        end_period(&mut st, &hot, h, EpochOf::None).expect("end");
                        for i in 0..4 {
                            active[i] += pending[i];
                            pending[i] = 0;
                        }
                    }
                }
            }
            for c in 0..4 {
                let before = balance(&st, &cold(c));
                staking::claim(&mut st, &cold(c), &hot).expect("claim");
                paid[c] += balance(&st, &cold(c)) - before;
                let slack = epochs[c] as f64 + 1.0;
                prop_assert!(paid[c] as f64 <= exact[c] + 1e-3 * exact[c].max(1.0) + 1.0,
                    "pair {} paid {} > {}", c, paid[c], exact[c]);
                prop_assert!(paid[c] as f64 + slack + 1e-3 * exact[c] >= exact[c],
                    "pair {} paid {} < {}", c, paid[c], exact[c]);
            }
            let total_paid: u64 = paid.iter().sum();
            prop_assert_eq!(total_paid + balance(&st, &rewards_account()), into_pool);
        }
    }
}

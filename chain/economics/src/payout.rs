//! How an epoch pays a subnet's pot, to the last rao: 18% to the owner, 41% to miners by
//! incentive, 41% to validators by dividends ([`payout`]); then each validator's part is
//! split into its take, paid to its coldkey, and the rest, paid to the stakers of its
//! hotkey by reward-per-share (the F1 scheme of Cosmos' distribution module:
//! [`nominator_step`] raises one index per hotkey, [`earned`] is what a staker's stake
//! earned between two index values). [`epoch_payout`] is all of it in one call.
//!
//! Rounding never creates rao: every split floors, and what the floors leave is either
//! carried into the next epoch's pot or paid to the validator's coldkey, as each function
//! says.

use alloc::vec;
use alloc::vec::Vec;

use crate::fixed::mul_div_floor;
use crate::yuma::EpochOutput;

/// Owner share of a subnet's pot, percent.
pub const OWNER_PERCENT: u64 = 18;
/// Miners' share of a subnet's pot, percent (validators get the same).
pub const MINERS_PERCENT: u64 = 41;
/// A take is in basis points of a validator's part.
pub const TAKE_SCALE: u64 = 10_000;
/// Scale of the reward-per-share index: rao per staked rao, times 10^18.
pub const REWARD_SCALE: u128 = 1_000_000_000_000_000_000;

/// How a subnet's pot is paid (all rao; `owner + sum(miner) + sum(validator) + carried
/// == pot` exactly).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payout {
    /// To the subnet owner.
    pub owner: u64,
    /// Per UID, by incentive.
    pub miner: Vec<u64>,
    /// Per UID, by dividends (before the take / nominator split).
    pub validator: Vec<u64>,
    /// Rounding remainders and unpayable parts, carried into the next epoch's pot.
    pub carried: u64,
}

/// `percent`% of `amount`, rounded down.
fn percent(amount: u64, percent: u64) -> u64 {
    // percent <= 100, so the result fits.
    mul_div_floor(amount, percent, 100).unwrap_or(0)
}

/// Splits `amount` by `shares` (floors); returns the parts and what is left.
pub fn split(amount: u64, shares: &[u64]) -> (Vec<u64>, u64) {
    let sum: u128 = shares.iter().map(|&s| s as u128).sum();
    if sum == 0 {
        return (vec![0; shares.len()], amount);
    }
    let parts: Vec<u64> = shares
        .iter()
        .map(|&s| ((amount as u128 * s as u128) / sum) as u64)
        .collect();
    let paid: u64 = parts.iter().sum();
    (parts, amount - paid)
}

/// taochain's payout of `pot` from an epoch's output: 18% owner, 41% miners by incentive,
/// 41% validators by dividends. Miners' part goes to validators when no incentive;
/// validators are paid by active stake when no dividends (raw stake of permit holders when
/// no active stake); with nobody to pay, the whole pot carries over. Remainders carry.
pub fn payout(pot: u64, out: &EpochOutput, raw_stake: &[u64], has_owner: bool) -> Payout {
    let n = out.incentive_q32.len();
    let basis = validator_basis(out, raw_stake);
    let incentive_sum: u128 = out.incentive_q32.iter().map(|&x| x as u128).sum();
    let basis_sum: u128 = basis.iter().map(|&x| x as u128).sum();
    if basis_sum == 0 && incentive_sum == 0 {
        return Payout {
            owner: 0,
            miner: vec![0; n],
            validator: vec![0; n],
            carried: pot,
        };
    }
    let owner = if has_owner {
        percent(pot, OWNER_PERCENT)
    } else {
        0
    };
    let half = percent(pot, MINERS_PERCENT);
    let mut carried = pot - owner - 2 * half;
    let (miner, validator_pot) = if incentive_sum == 0 {
        (vec![0; n], 2 * half)
    } else {
        let (m, left) = split(half, &out.incentive_q32);
        carried += left;
        (m, half)
    };
    let validator = if basis_sum == 0 {
        carried += validator_pot;
        vec![0; n]
    } else {
        let (v, left) = split(validator_pot, &basis);
        carried += left;
        v
    };
    Payout {
        owner,
        miner,
        validator,
        carried,
    }
}

/// What the validators' part is split by: dividends; else active stake; else the raw
/// stake of permit holders.
fn validator_basis(out: &EpochOutput, raw_stake: &[u64]) -> Vec<u64> {
    if out.dividends_q32.iter().any(|&d| d > 0) {
        out.dividends_q32.clone()
    } else if out.active_stake.iter().any(|&s| s > 0) {
        out.active_stake.clone()
    } else {
        raw_stake
            .iter()
            .zip(&out.permits)
            .map(|(&s, &p)| if p { s } else { 0 })
            .collect()
    }
}

/// One reward-per-share step of a hotkey's stakers: `reward` over `active` staked rao.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NominatorStep {
    /// What the hotkey's index rises by: `floor(reward * REWARD_SCALE / active)`.
    pub index_step: u128,
    /// What moves into the nominator rewards account: `ceil(active * index_step /
    /// REWARD_SCALE)`, enough for every staker's floor and at most `reward`.
    pub into_pool: u64,
    /// The rounding left of `reward`, for the validator's coldkey.
    pub rest: u64,
}

/// The step that pays `reward` to `active` staked rao; `None` when there is nothing to
/// distribute or nobody to distribute it to (then all of `reward` is the coldkey's).
pub fn nominator_step(reward: u64, active: u64) -> Option<NominatorStep> {
    if reward == 0 || active == 0 {
        return None;
    }
    let a = active as u128;
    // reward < 2^64 and REWARD_SCALE < 2^60: the product fits u128.
    let index_step = reward as u128 * REWARD_SCALE / a;
    // a * index_step <= reward * REWARD_SCALE, so into_pool <= reward.
    let into_pool = u64::try_from((a * index_step).div_ceil(REWARD_SCALE)).ok()?;
    Some(NominatorStep {
        index_step,
        into_pool,
        rest: reward - into_pool,
    })
}

/// What `stake` earned while its hotkey's index rose by `index_diff` (wrapping
/// difference of two index values): `floor(stake * index_diff / REWARD_SCALE)`,
/// saturating at `u64::MAX` (never reached: a staker's stake is part of the active stake
/// of every step in its window).
pub fn earned(stake: u64, index_diff: u128) -> u64 {
    (stake as u128)
        .checked_mul(index_diff)
        .map_or(u64::MAX, |v| {
            u64::try_from(v / REWARD_SCALE).unwrap_or(u64::MAX)
        })
}

/// A validator's part of the pot, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidatorSplit {
    /// `floor(part * take_bps / 10_000)`: the hotkey's take.
    pub take: u64,
    /// The stakers' step over the hotkey's active stake (`None`: nothing to distribute).
    pub stakers: Option<NominatorStep>,
    /// What the hotkey's coldkey receives: the take plus the stakers' rounding (or all of
    /// the stakers' part when no stake is active).
    pub to_coldkey: u64,
}

/// Splits validator part `part` of a hotkey with take `take_bps` and `active` stake.
pub fn validator_split(part: u64, take_bps: u16, active: u64) -> ValidatorSplit {
    // take_bps is bounded by the chain (MAX_TAKE_BPS); clamp so any input stays exact.
    let take = mul_div_floor(part, (take_bps as u64).min(TAKE_SCALE), TAKE_SCALE).unwrap_or(0);
    let rest = part - take;
    let stakers = nominator_step(rest, active);
    let to_coldkey = take + stakers.map_or(rest, |s| s.rest);
    ValidatorSplit {
        take,
        stakers,
        to_coldkey,
    }
}

/// The whole payout of one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EpochPayout {
    /// The 18/41/41 split of the pot.
    pub pot: Payout,
    /// Per UID, its validator part split into take and stakers' step.
    pub validators: Vec<ValidatorSplit>,
}

/// Pays `pot` from `out`: [`payout`] over `stake` (the active stake Yuma counted), then
/// each validator part split by [`validator_split`] with that UID's take and stake.
pub fn epoch_payout(
    pot: u64,
    out: &EpochOutput,
    stake: &[u64],
    take_bps: &[u16],
    has_owner: bool,
) -> EpochPayout {
    let p = payout(pot, out, stake, has_owner);
    let validators = p
        .validator
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            validator_split(
                v,
                take_bps.get(i).copied().unwrap_or(0),
                stake.get(i).copied().unwrap_or(0),
            )
        })
        .collect();
    EpochPayout { pot: p, validators }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yuma::EpochOutput;

    fn output(incentive: &[u64], dividends: &[u64]) -> EpochOutput {
        EpochOutput {
            incentive_q32: incentive.to_vec(),
            dividends_q32: dividends.to_vec(),
            active_stake: vec![0; incentive.len()],
            permits: vec![true; incentive.len()],
            ..Default::default()
        }
    }

    #[test]
    fn the_pot_is_split_18_41_41_and_remainders_carry() {
        let out = output(&[0, 1, 3], &[1, 0, 0]);
        let p = payout(1_000_000_007, &out, &[5, 0, 0], true);
        assert_eq!(p.owner, 180_000_001);
        assert_eq!(p.miner, vec![0, 102_500_000, 307_500_001]);
        assert_eq!(p.validator, vec![410_000_002, 0, 0]);
        assert_eq!(p.carried, 3);
        let without_owner = payout(100, &out, &[5, 0, 0], false);
        assert_eq!(without_owner.owner, 0);
        assert_eq!(without_owner.carried, 19, "18 unpaid + 1 of rounding");
    }

    #[test]
    fn nobody_to_pay_carries_the_whole_pot() {
        let out = output(&[0, 0], &[0, 0]);
        let p = payout(999, &out, &[0, 0], true);
        assert_eq!((p.owner, p.carried), (0, 999));
    }

    #[test]
    fn a_validator_part_splits_into_take_stakers_and_rounding() {
        // 18% take of 1,000,003 is 180,000 (floor); 820,003 over 3 staked rao: each rao
        // earns 273,334.33..., the pool receives all 820,003 (the ceiling) and a staker of
        // all 3 rao is paid the floor, 820,002.
        let s = validator_split(1_000_003, 1800, 3);
        assert_eq!(s.take, 180_000);
        let step = s.stakers.expect("stake is active");
        assert_eq!((step.into_pool, step.rest), (820_003, 0));
        assert_eq!(s.to_coldkey, 180_000);
        assert_eq!(earned(1, step.index_step), 273_334);
        assert_eq!(earned(3, step.index_step), 820_002);
        // A step below the index's resolution: the reward goes to the coldkey.
        let tiny = validator_split(1, 0, 3 * 10u64.pow(18));
        let step = tiny.stakers.expect("stake is active");
        assert_eq!((step.index_step, step.into_pool, step.rest), (0, 0, 1));
        assert_eq!(tiny.to_coldkey, 1);
        // No active stake: the stakers' part goes to the coldkey too.
        let alone = validator_split(1_000, 1800, 0);
        assert_eq!(
            (alone.take, alone.stakers, alone.to_coldkey),
            (180, None, 1_000)
        );
        // A take above 100% is clamped, never more than the part.
        assert_eq!(validator_split(1_000, u16::MAX, 5).take, 1_000);
    }

    #[test]
    fn earned_saturates_instead_of_wrapping() {
        assert_eq!(earned(u64::MAX, u128::MAX), u64::MAX);
        assert_eq!(earned(2, REWARD_SCALE / 2), 1);
    }

    #[test]
    fn epoch_payout_conserves_every_rao() {
        let out = output(&[1, 1, 2], &[3, 1, 0]);
        let e = epoch_payout(123_456_789, &out, &[300, 100, 0], &[1800, 0], true);
        let pool: u64 = e
            .validators
            .iter()
            .map(|v| v.stakers.map_or(0, |s| s.into_pool))
            .sum();
        let coldkeys: u64 = e.validators.iter().map(|v| v.to_coldkey).sum();
        let miners: u64 = e.pot.miner.iter().sum();
        assert_eq!(
            e.pot.owner + miners + pool + coldkeys + e.pot.carried,
            123_456_789
        );
        assert_eq!(e.validators[1].take, 0, "missing takes default to zero");
    }
}

//! The TAO block-reward schedule, as on Bittensor: 1 TAO per block, halving by issuance.
//!
//! The reward for the next block is `10^9 rao / 2^h`, where `h` is the largest integer with
//! `(cap - issuance) * 2^h <= cap`; it is 0 at or above the cap and never takes issuance
//! past the cap. Integers only (u128 intermediates), so every node computes the same bits.
//! Applying the reward to state (minting) is the state machine's job, not this module's.

use crate::Address;
use crate::amount::RAO_PER_TAO;

/// The module account that holds minted TAO until epochs pay it out.
pub fn emission_pool() -> Address {
    Address::module("emission_pool")
}

/// Hard cap: 21,000,000 TAO in rao.
pub const TOTAL_SUPPLY_CAP: u64 = 21_000_000 * RAO_PER_TAO;
/// The reward before the first halving: 1 TAO.
pub const INITIAL_BLOCK_REWARD: u64 = RAO_PER_TAO;

/// The halving exponent `h` for a given issuance (`None` at or above the cap).
pub fn halvings(issuance: u64) -> Option<u32> {
    if issuance >= TOTAL_SUPPLY_CAP {
        return None;
    }
    let cap = u128::from(TOTAL_SUPPLY_CAP);
    let remaining = u128::from(TOTAL_SUPPLY_CAP - issuance);
    // remaining >= 1 and cap < 2^55, so h < 55 and the shift cannot overflow u128.
    let mut h = 0u32;
    while (remaining << (h + 1)) <= cap {
        h += 1;
    }
    Some(h)
}

/// The block reward in rao for a given total issuance.
pub fn block_reward(issuance: u64) -> u64 {
    match halvings(issuance) {
        None => 0,
        Some(h) => {
            let reward = INITIAL_BLOCK_REWARD.checked_shr(h).unwrap_or(0);
            reward.min(TOTAL_SUPPLY_CAP - issuance)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TAO: u64 = RAO_PER_TAO;

    #[test]
    fn reference_values_match_subtensor() {
        let cases: &[(u64, u64)] = &[
            (0, 1_000_000_000),
            (10_499_999 * TAO + 999_999_999, 1_000_000_000),
            (10_500_000 * TAO, 500_000_000),
            (15_750_000 * TAO, 250_000_000),
            (18_375_000 * TAO, 125_000_000),
            (20_999_999 * TAO, 59),
            (21_000_000 * TAO, 0),
            (u64::MAX, 0),
        ];
        for (issuance, reward) in cases {
            assert_eq!(block_reward(*issuance), *reward, "issuance {issuance}");
        }
    }

    /// Issuance at which halving `h` starts: cap - cap / 2^h, rounded up so that
    /// (cap - b) * 2^h <= cap holds exactly from b on.
    fn boundary(h: u32) -> u64 {
        let cap = u128::from(TOTAL_SUPPLY_CAP);
        let remaining_max = cap >> h; // floor(cap / 2^h)
        (cap - remaining_max) as u64
    }

    #[test]
    fn every_halving_boundary_plus_minus_one_rao() {
        for h in 1..=30u32 {
            let b = boundary(h);
            assert_eq!(halvings(b), Some(h), "at boundary {h}");
            assert_eq!(halvings(b - 1), Some(h - 1), "before boundary {h}");
            assert_eq!(halvings(b + 1), Some(h), "after boundary {h}");
            assert_eq!(
                block_reward(b - 1),
                (TAO >> (h - 1)).min(TOTAL_SUPPLY_CAP - b + 1)
            );
            assert_eq!(block_reward(b), (TAO >> h).min(TOTAL_SUPPLY_CAP - b));
        }
    }

    #[test]
    fn reward_ends_at_one_rao_then_stops_below_the_cap() {
        // 10^9 >> 29 == 1 and 10^9 >> 30 == 0: emission stops once h reaches 30, so the
        // cap itself is never quite reached (as on Bittensor).
        assert_eq!(block_reward(boundary(30) - 1), 1);
        assert_eq!(block_reward(boundary(30)), 0);
        assert_eq!(block_reward(TOTAL_SUPPLY_CAP - 1), 0);
        assert_eq!(block_reward(TOTAL_SUPPLY_CAP), 0);
    }

    proptest! {
        #[test]
        fn reward_is_monotone_non_increasing(a in 0..=TOTAL_SUPPLY_CAP + 10, b in 0..=TOTAL_SUPPLY_CAP + 10) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(block_reward(lo) >= block_reward(hi));
        }

        #[test]
        fn minting_block_after_block_never_exceeds_the_cap(start in 0..=TOTAL_SUPPLY_CAP, blocks in 1usize..2000) {
            // Start close to the cap often enough that the tail is exercised.
            let start = if blocks % 2 == 0 { TOTAL_SUPPLY_CAP - (start % 5_000_000) } else { start };
            let mut issuance = start;
            for _ in 0..blocks {
                issuance = issuance.checked_add(block_reward(issuance)).expect("no overflow");
                prop_assert!(issuance <= TOTAL_SUPPLY_CAP);
            }
        }
    }
}

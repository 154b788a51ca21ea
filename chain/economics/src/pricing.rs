//! What registering costs: the burn price of a neuron registration (decaying with a
//! 360-block half-life, bumped x1.26 by each registration, clamped) and the lock cost of a
//! new subnet (subtensor's linear decay of the doubled last lock). Integer arithmetic only.

use taochain_primitives::RAO_PER_TAO;
use taochain_primitives::subnet::EconomyParams;

use crate::fixed::mul_div_floor;

/// Lowest burn price, rao (0.0005 TAO).
pub const MIN_BURN: u64 = RAO_PER_TAO / 2000;
/// Highest burn price, rao (100 TAO).
pub const MAX_BURN: u64 = 100 * RAO_PER_TAO;
/// `2^(-1/360)` in Q32: the burn price's per-block decay (a 360-block half-life).
pub const BURN_DECAY_Q32: u64 = 4_286_705_684;

/// The burn price `blocks` after it was last set to `price`: decayed by
/// `2^(-blocks/360)` (square-and-multiply in Q32, rounding down), clamped.
pub fn decayed_burn(price: u64, blocks: u64) -> u64 {
    let mut factor: u128 = 1 << 32;
    let mut base: u128 = BURN_DECAY_Q32 as u128;
    let mut e = blocks.min(360 * 64);
    while e > 0 {
        if e & 1 == 1 {
            factor = (factor * base) >> 32;
        }
        base = (base * base) >> 32;
        e >>= 1;
    }
    (((price as u128 * factor) >> 32) as u64).clamp(MIN_BURN, MAX_BURN)
}

/// The burn price after one more registration: x1.26, clamped.
pub fn bumped_burn(price: u64) -> u64 {
    mul_div_floor(price, 126, 100)
        .unwrap_or(MAX_BURN)
        .clamp(MIN_BURN, MAX_BURN)
}

/// The lock cost of a new subnet: `max(min_lock, 2 * last - last * blocks_since /
/// interval)` (subtensor's linear decay of the doubled last lock).
pub fn lock_cost(p: &EconomyParams, last_lock: u64, blocks_since: u64) -> u64 {
    if p.lock_reduction_interval == 0 {
        return p.min_lock;
    }
    let doubled = last_lock as u128 * 2;
    let decay = last_lock as u128 * blocks_since as u128 / p.lock_reduction_interval as u128;
    (doubled.saturating_sub(decay).min(u64::MAX as u128) as u64).max(p.min_lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burn_price_halves_every_360_blocks_within_its_bounds() {
        let p = 10 * RAO_PER_TAO;
        assert_eq!(decayed_burn(p, 0), p);
        // Q32 rounding keeps it a few hundred rao under the exact half.
        let half = decayed_burn(p, 360);
        assert!(half <= p / 2 && half > p / 2 - 1000, "{half}");
        let quarter = decayed_burn(p, 720);
        assert!(quarter <= p / 4 && quarter > p / 4 - 1000, "{quarter}");
        assert!(decayed_burn(p, 1) < p);
        assert_eq!(decayed_burn(p, u64::MAX), MIN_BURN);
        assert_eq!(decayed_burn(u64::MAX, 0), MAX_BURN);
        assert_eq!(decayed_burn(0, 0), MIN_BURN);
    }

    #[test]
    fn a_registration_bumps_the_burn_by_26_percent_clamped() {
        assert_eq!(bumped_burn(RAO_PER_TAO), 1_260_000_000);
        assert_eq!(bumped_burn(99 * RAO_PER_TAO), MAX_BURN);
        assert_eq!(bumped_burn(u64::MAX), MAX_BURN);
        assert_eq!(bumped_burn(0), MIN_BURN);
    }

    #[test]
    fn the_lock_cost_doubles_then_decays_linearly_to_the_minimum() {
        let p = EconomyParams {
            min_lock: 100,
            lock_reduction_interval: 10,
            ..EconomyParams::default()
        };
        assert_eq!(lock_cost(&p, 1_000, 0), 2_000);
        assert_eq!(lock_cost(&p, 1_000, 5), 1_500);
        assert_eq!(lock_cost(&p, 1_000, 20), 100);
        assert_eq!(lock_cost(&p, 1_000, u64::MAX), 100);
        assert_eq!(lock_cost(&p, u64::MAX, 0), u64::MAX);
        let flat = EconomyParams {
            lock_reduction_interval: 0,
            ..p
        };
        assert_eq!(lock_cost(&flat, 1_000, 0), 100);
    }
}

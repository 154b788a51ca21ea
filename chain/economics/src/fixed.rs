//! Fixed-point arithmetic: `Q32` proportions (a `u64` holding `x * 2^32`, so `1.0` is
//! [`ONE`]) whose products go through `u128` and round toward zero, and
//! [`mul_div_floor`], the one way this crate takes a fraction of an amount.

use alloc::vec::Vec;

/// `1.0` in Q32.
pub const ONE: u64 = 1 << 32;
/// `u16::MAX` as u64: the scale of stored u16 proportions.
pub const U16: u64 = u16::MAX as u64;

/// `floor(a * b / d)` computed exactly in `u128`; `None` when `d == 0` or the result does
/// not fit in a `u64` (never a wrap).
pub fn mul_div_floor(a: u64, b: u64, d: u64) -> Option<u64> {
    if d == 0 {
        return None;
    }
    u64::try_from(a as u128 * b as u128 / d as u128).ok()
}

/// `a * b` for Q32 operands, rounding down.
pub fn mul_q(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) >> 32) as u64
}

/// `num / den` in Q32 (0 when `den == 0`).
pub fn ratio_q(num: u64, den: u64) -> u64 {
    div_q(num, den as u128)
}

/// `floor(v * 2^32 / den)` (0 when `den == 0`), in u64 arithmetic when it fits: the
/// same exact result as the u128 division, several times faster.
#[inline]
pub fn div_q(v: u64, den: u128) -> u64 {
    if den == 0 {
        0
    } else if v < ONE && den <= u64::MAX as u128 {
        (v << 32) / den as u64
    } else {
        (((v as u128) << 32) / den) as u64
    }
}

/// `x / sum(x)` in Q32 (all zero when the sum is zero).
pub fn normalize(x: &[u64]) -> Vec<u64> {
    let sum: u128 = x.iter().map(|&v| v as u128).sum();
    x.iter().map(|&v| div_q(v, sum)).collect()
}

/// `floor(x * 65535)` for a Q32 proportion (saturating at 65535).
pub fn to_u16(x: u64) -> u16 {
    (((x as u128 * U16 as u128) >> 32).min(U16 as u128)) as u16
}

/// Max-upscales values to u16: `round(v * 65535 / max)`; all zero if the max is zero.
pub fn max_upscale(values: &[u64]) -> Vec<u16> {
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if max == 0 {
                0
            } else {
                ((v as u128 * U16 as u128 + max as u128 / 2) / max as u128) as u16
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_floor_is_exact_where_u64_products_overflow() {
        assert_eq!(mul_div_floor(u64::MAX, u64::MAX, u64::MAX), Some(u64::MAX));
        assert_eq!(
            mul_div_floor(u64::MAX, 18, 100),
            Some(3_320_413_933_267_719_290)
        );
        assert_eq!(mul_div_floor(999, 1800, 10_000), Some(179));
        assert_eq!(mul_div_floor(7, 3, 2), Some(10));
        assert_eq!(mul_div_floor(u64::MAX, 2, 1), None);
        assert_eq!(mul_div_floor(1, 1, 0), None);
    }

    #[test]
    fn q32_helpers_round_down_and_saturate() {
        assert_eq!(mul_q(ONE / 2, ONE / 2), ONE / 4);
        assert_eq!(ratio_q(1, 3), 1_431_655_765);
        assert_eq!(ratio_q(5, 0), 0);
        assert_eq!(div_q(u64::MAX, 1 << 64), ONE - 1);
        assert_eq!(normalize(&[1, 3]), vec![ONE / 4, 3 * (ONE / 4)]);
        assert_eq!(normalize(&[0, 0]), vec![0, 0]);
        assert_eq!(to_u16(ONE), 65535);
        assert_eq!(to_u16(ONE / 2), 32767);
        assert_eq!(to_u16(u64::MAX), 65535);
        assert_eq!(max_upscale(&[1, 2, 4]), vec![16384, 32768, 65535]);
        assert_eq!(max_upscale(&[0, 0]), vec![0, 0]);
    }
}

//! Soundness, exercised statistically with deliberately weakened parameters: the chain's
//! own seed expansion (`random_vectors`) reduced into a tiny field F_13. A wrong row of C
//! (a difference row `d != 0 mod q`) passes one Freivalds vector with probability 1/q and
//! two vectors with 1/q^2; the measured rates must sit within 4 sigma of that. The real
//! parameters (p = 2^31 - 1, two vectors: <= 2^-61.9) are argued in the crate docs. The last
//! test shows why plain wrapping u32 arithmetic is unsound: an error of 2^31 survives half
//! the time.

use taochain_work::random_vectors;

const Q: u64 = 13;
const TRIALS: u64 = 20_000;
const N: usize = 8;

fn seed(t: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&t.to_le_bytes());
    s
}

/// A fixed difference row, every entry non-zero mod q.
fn difference() -> Vec<u64> {
    (0..N as u64).map(|j| 1 + (j * 5) % (Q - 1)).collect()
}

fn passes(d: &[u64], r: &[u32]) -> bool {
    d.iter()
        .zip(r)
        .map(|(a, b)| a * (u64::from(*b) % Q))
        .sum::<u64>()
        % Q
        == 0
}

fn within_4_sigma(hits: u64, p: f64) {
    let n = TRIALS as f64;
    let mean = n * p;
    let sigma = (n * p * (1.0 - p)).sqrt();
    assert!(
        (hits as f64 - mean).abs() <= 4.0 * sigma,
        "{hits} acceptances, expected {mean:.0} +- {:.0}",
        4.0 * sigma
    );
}

#[test]
fn weakened_field_accepts_a_wrong_row_at_the_predicted_rate() {
    let d = difference();
    let (mut one, mut two) = (0, 0);
    for t in 0..TRIALS {
        let r = random_vectors(&seed(t), N);
        let first = passes(&d, &r[0]);
        one += u64::from(first);
        two += u64::from(first && passes(&d, &r[1]));
    }
    let q = Q as f64;
    within_4_sigma(one, 1.0 / q);
    within_4_sigma(two, 1.0 / (q * q));
}

#[test]
fn wrapping_u32_arithmetic_would_accept_an_error_of_2_pow_31_half_the_time() {
    let mut hits = 0;
    for t in 0..TRIALS {
        let r = random_vectors(&seed(t), 1)[0][0];
        // D r mod 2^32 for D = [2^31]: zero iff r is even.
        hits += u64::from((1u32 << 31).wrapping_mul(r) == 0);
    }
    within_4_sigma(hits, 0.5);
}

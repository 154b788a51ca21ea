//! The rectangular core of Yuma (steps 6-10 of reference/yuma.md) over validator rows
//! and UID columns, and its building blocks: the stake-weighted median, top-k permits and
//! dense row-normalised weight rows. All Q32.

use alloc::vec;
use alloc::vec::Vec;

use super::BMA_SCALE;
use crate::fixed::{U16, div_q, mul_q, normalize};

/// Stake-weighted median of one column: the largest `v` with
/// `stake(score < v) <= 1 - kappa < stake(score <= v)`. `entries` are `(score, stake)`;
/// it is sorted in place. Zero when no stake.
pub fn weighted_median(entries: &mut [(u64, u64)], kappa: u16) -> u64 {
    let total: u128 = entries.iter().map(|e| e.1 as u128).sum();
    if total == 0 {
        return 0;
    }
    // Only the score order matters: equal scores give the same answer in any order.
    entries.sort_unstable_by_key(|e| e.0);
    let minority = total * (U16 - kappa as u64) as u128;
    let mut cum: u128 = 0;
    for &(score, stake) in entries.iter() {
        cum += stake as u128;
        if cum * U16 as u128 > minority {
            return score;
        }
    }
    entries.last().map(|e| e.0).unwrap_or(0)
}

/// Top-k permits: the `k` largest non-zero stakes (ties: lower UID first), plus the owner.
pub fn top_k_permits(stake: &[u64], k: u16, owner: Option<u16>) -> Vec<bool> {
    let mut order: Vec<usize> = (0..stake.len()).filter(|&i| stake[i] > 0).collect();
    order.sort_by(|&a, &b| stake[b].cmp(&stake[a]).then(a.cmp(&b)));
    let mut permits = vec![false; stake.len()];
    for &i in order.iter().take(k as usize) {
        permits[i] = true;
    }
    if let Some(o) = owner.map(usize::from).filter(|&o| o < permits.len()) {
        permits[o] = true;
    }
    permits
}

/// Results of the rectangular core of Yuma over validator rows and `n_cols` columns, Q32.
pub struct Core {
    /// Consensus per column.
    pub consensus: Vec<u64>,
    /// Incentive per column (normalised ranks).
    pub incentive: Vec<u64>,
    /// Validator trust per row.
    pub trust: Vec<u64>,
    /// Dividends per row (normalised).
    pub dividends: Vec<u64>,
    /// New bonds, dense rows x cols, column-normalised Q32.
    pub bonds: Vec<Vec<u64>>,
}

/// Runs steps 6-10 of Yuma. `stake` is active stake per row (raw rao), `weights` are
/// row-normalised Q32 dense rows, `bonds_old` dense Q32 rows (not yet normalised).
pub fn core(
    stake: &[u64],
    weights: &[Vec<u64>],
    bonds_old: &[Vec<u64>],
    n_cols: usize,
    kappa: u16,
    bonds_moving_average: u64,
) -> Core {
    let voters: Vec<usize> = (0..stake.len()).filter(|&i| stake[i] > 0).collect();
    let consensus = consensus(stake, weights, &voters, n_cols, kappa);
    let clipped = clip(&normalize(stake), weights, &consensus);
    let incentive = normalize(&clipped.ranks);
    let bonds = ema_bonds(&clipped, bonds_old, n_cols, bonds_moving_average);
    // 10. Dividends.
    let div_raw: Vec<u64> = bonds
        .iter()
        .map(|row| row.iter().zip(&incentive).map(|(&b, &x)| mul_q(b, x)).sum())
        .collect();
    let dividends = normalize(&div_raw);
    Core {
        consensus,
        incentive,
        trust: clipped.trust,
        dividends,
        bonds,
    }
}

/// Steps 7-9a over the clipped weights.
struct Clipped {
    /// Validator trust per row.
    trust: Vec<u64>,
    /// Stake-weighted clipped weight per column.
    ranks: Vec<u64>,
    /// The bond delta (stake-weighted clipped weights); empty rows for rows without weights.
    delta: Vec<Vec<u64>>,
    /// Column sums of `delta`.
    delta_sums: Vec<u128>,
}

/// Steps 7-9a, one pass per row: clip to consensus, trust, ranks, and the bond delta with
/// its column sums.
fn clip(stake_q: &[u64], weights: &[Vec<u64>], consensus: &[u64]) -> Clipped {
    let rows = stake_q.len();
    let n_cols = consensus.len();
    let mut out = Clipped {
        trust: vec![0u64; rows],
        ranks: vec![0u64; n_cols],
        delta: vec![vec![]; rows],
        delta_sums: vec![0u128; n_cols],
    };
    for i in 0..rows {
        if weights[i].iter().all(|&w| w == 0) {
            continue;
        }
        let mut row = vec![0u64; n_cols];
        let mut t = 0u64;
        for (j, (&w, &c)) in weights[i].iter().zip(consensus).enumerate() {
            let wc = w.min(c);
            t += wc;
            let d = mul_q(wc, stake_q[i]);
            out.ranks[j] += d;
            out.delta_sums[j] += d as u128;
            row[j] = d;
        }
        out.trust[i] = t;
        out.delta[i] = row;
    }
    out
}

/// Step 9b. Bonds: EMA of the column-normalised delta and the column-normalised old bonds
/// (alpha = 1 - bonds_moving_average / 10^6), column-normalised again. Every operand is
/// <= 2^32 and the weights sum to 10^6, so the EMA fits u64 exactly.
fn ema_bonds(
    clipped: &Clipped,
    bonds_old: &[Vec<u64>],
    n_cols: usize,
    bonds_moving_average: u64,
) -> Vec<Vec<u64>> {
    let mut old_sums = vec![0u128; n_cols];
    for row in bonds_old {
        for (s, &b) in old_sums.iter_mut().zip(row) {
            *s += b as u128;
        }
    }
    let keep = bonds_moving_average.min(BMA_SCALE);
    let fresh = BMA_SCALE - keep;
    let mut bonds: Vec<Vec<u64>> = Vec::with_capacity(clipped.delta.len());
    let mut sums = vec![0u128; n_cols];
    for (i, delta_row) in clipped.delta.iter().enumerate() {
        let mut row = vec![0u64; n_cols];
        for (j, b) in row.iter_mut().enumerate() {
            let d = delta_row
                .get(j)
                .map_or(0, |&d| div_q(d, clipped.delta_sums[j]));
            let o = bonds_old
                .get(i)
                .and_then(|r| r.get(j))
                .map_or(0, |&o| div_q(o, old_sums[j]));
            *b = (d * fresh + o * keep) / BMA_SCALE;
            sums[j] += *b as u128;
        }
        bonds.push(row);
    }
    for row in &mut bonds {
        for (b, &s) in row.iter_mut().zip(&sums) {
            *b = div_q(*b, s);
        }
    }
    bonds
}

/// Step 6: the stake-weighted median of every column over the staked rows. Columns are
/// gathered in blocks that fit in cache, then each column's scores are sorted.
fn consensus(
    stake: &[u64],
    weights: &[Vec<u64>],
    voters: &[usize],
    n_cols: usize,
    kappa: u16,
) -> Vec<u64> {
    const BLOCK: usize = 64;
    let v = voters.len();
    let mut out = vec![0u64; n_cols];
    let mut block = vec![0u64; BLOCK * v];
    let mut column: Vec<(u64, u64)> = Vec::with_capacity(v);
    for start in (0..n_cols).step_by(BLOCK) {
        let width = BLOCK.min(n_cols - start);
        for (r, &i) in voters.iter().enumerate() {
            let row = weights[i].get(start..start + width).unwrap_or(&[]);
            for (k, &w) in row.iter().enumerate() {
                block[k * v + r] = w;
            }
            for k in row.len()..width {
                block[k * v + r] = 0;
            }
        }
        for k in 0..width {
            let scores = &block[k * v..(k + 1) * v];
            if scores.iter().all(|&w| w == 0) {
                continue;
            }
            column.clear();
            column.extend(scores.iter().zip(voters).map(|(&w, &i)| (w, stake[i])));
            out[start + k] = weighted_median(&mut column, kappa);
        }
    }
    out
}

/// Dense, row-normalised Q32 weights from stored `(uid, value)` pairs (out-of-range UIDs
/// and masked entries dropped by `keep`).
pub fn dense_row(
    pairs: &[(u16, u16)],
    n_cols: usize,
    mut keep: impl FnMut(usize) -> bool,
) -> Vec<u64> {
    let mut row = vec![0u64; n_cols];
    for &(j, v) in pairs {
        let j = j as usize;
        if j < n_cols && keep(j) {
            row[j] = v as u64;
        }
    }
    let normalized = normalize(&row);
    if normalized.iter().all(|&v| v == 0) {
        return vec![];
    }
    normalized
}

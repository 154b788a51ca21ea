//! Yuma consensus (classic, as in `shared/reference/yuma.md`) and taochain's 18/41/41
//! payout, in exact integer arithmetic. Pure functions: the chain's epoch, the root
//! network's subnet shares and `tao yuma` all run this code.
//!
//! # Fixed point
//! Proportions are `Q32`: a `u64` holding `x * 2^32` (so `1.0` is [`ONE`]); products go
//! through `u128` and round toward zero. Stake stays in raw rao (`u64`) wherever only ratios
//! matter (the weighted median compares `u128` products exactly). Stored outputs are `u16`:
//! `floor(x * 65535)` for consensus, incentive, dividends and trust; weights and bonds are
//! max-upscaled with rounding, `round(v * 65535 / max)`.
//!
//! # Determinism
//! No floats, no hashing, no parallelism: the same input gives the same bytes everywhere.

use alloc::vec;
use alloc::vec::Vec;

/// `1.0` in Q32.
pub const ONE: u64 = 1 << 32;
/// `u16::MAX` as u64.
const U16: u64 = u16::MAX as u64;
/// Owner share of a subnet's pot, percent.
pub const OWNER_PERCENT: u64 = 18;
/// Miners' share of a subnet's pot, percent (validators get the same).
pub const MINERS_PERCENT: u64 = 41;
/// `bonds_moving_average` is parts per million.
pub const BMA_SCALE: u64 = 1_000_000;

/// One UID's input to an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NeuronInput {
    /// Stake counted for this UID (rao).
    pub stake: u64,
    /// Inside the activity cutoff.
    pub active: bool,
    /// Validator permit stored by the previous epoch.
    pub permit: bool,
    /// Registered since the last epoch: its bond column is reset.
    pub new_registration: bool,
    /// Block of the last weights update.
    pub last_update: u64,
    /// Block of registration.
    pub registered_at: u64,
    /// Weights as stored: `(uid, value)` pairs, values max-upscaled u16.
    pub weights: Vec<(u16, u16)>,
    /// Bonds as stored: `(uid, value)`, column max-upscaled u16.
    pub bonds: Vec<(u16, u16)>,
}

/// Everything one epoch of one subnet needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochInput {
    /// One entry per UID, index = UID.
    pub neurons: Vec<NeuronInput>,
    /// Majority threshold, u16 fraction (32767 ~ 0.5).
    pub kappa: u16,
    /// Bonds EMA memory in parts per million (900,000: alpha = 0.1).
    pub bonds_moving_average: u64,
    /// k of the top-k validator permits.
    pub max_allowed_validators: u16,
    /// The owner's UID: always permitted, may weight itself.
    pub owner_uid: Option<u16>,
}

/// Per-UID results of an epoch, in stored form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EpochOutput {
    /// Stake-weighted median of each column.
    pub consensus: Vec<u16>,
    /// Normalised clipped ranks: the miners' share.
    pub incentive: Vec<u16>,
    /// Normalised bond-weighted incentive: the validators' share.
    pub dividends: Vec<u16>,
    /// Sum of each validator's clipped weights.
    pub validator_trust: Vec<u16>,
    /// New bonds per UID row, column max-upscaled (empty rows for non-validators).
    pub bonds: Vec<Vec<(u16, u16)>>,
    /// Permits for the next epoch.
    pub permits: Vec<bool>,
    /// Active stake per UID (rao; zero when inactive or without permit), used by the payout.
    pub active_stake: Vec<u64>,
    /// Incentive in Q32 (sums to ~1 when non-zero).
    pub incentive_q32: Vec<u64>,
    /// Dividends in Q32.
    pub dividends_q32: Vec<u64>,
}

fn mul_q(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) >> 32) as u64
}

fn ratio_q(num: u64, den: u64) -> u64 {
    div_q(num, den as u128)
}

/// `floor(v * 2^32 / den)` (0 when `den == 0`), in u64 arithmetic when it fits: the
/// same exact result as the u128 division, several times faster.
#[inline]
fn div_q(v: u64, den: u128) -> u64 {
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
    let rows = stake.len();
    let stake_q = normalize(stake);
    let voters: Vec<usize> = (0..rows).filter(|&i| stake[i] > 0).collect();
    let consensus = consensus(stake, weights, &voters, n_cols, kappa);
    // 7-9a. One pass per row: clip, trust, ranks, and the bond delta (stake-weighted
    // clipped weights) with its column sums.
    let mut trust = vec![0u64; rows];
    let mut ranks = vec![0u64; n_cols];
    let mut delta: Vec<Vec<u64>> = vec![vec![]; rows];
    let mut delta_sums = vec![0u128; n_cols];
    for i in 0..rows {
        if weights[i].iter().all(|&w| w == 0) {
            continue;
        }
        let mut row = vec![0u64; n_cols];
        let mut t = 0u64;
        for (j, (&w, &c)) in weights[i].iter().zip(&consensus).enumerate() {
            let wc = w.min(c);
            t += wc;
            let d = mul_q(wc, stake_q[i]);
            ranks[j] += d;
            delta_sums[j] += d as u128;
            row[j] = d;
        }
        trust[i] = t;
        delta[i] = row;
    }
    let incentive = normalize(&ranks);
    // 9b. Bonds: EMA of the column-normalised delta and the column-normalised old bonds
    // (alpha = 1 - bonds_moving_average / 10^6), column-normalised again. Every operand
    // is <= 2^32 and the weights sum to 10^6, so the EMA fits u64 exactly.
    let mut old_sums = vec![0u128; n_cols];
    for row in bonds_old {
        for (s, &b) in old_sums.iter_mut().zip(row) {
            *s += b as u128;
        }
    }
    let keep = bonds_moving_average.min(BMA_SCALE);
    let fresh = BMA_SCALE - keep;
    let mut bonds: Vec<Vec<u64>> = Vec::with_capacity(rows);
    let mut sums = vec![0u128; n_cols];
    for (i, delta_row) in delta.iter().enumerate() {
        let mut row = vec![0u64; n_cols];
        for (j, b) in row.iter_mut().enumerate() {
            let d = delta_row.get(j).map_or(0, |&d| div_q(d, delta_sums[j]));
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
    // 10. Dividends.
    let div_raw: Vec<u64> = bonds
        .iter()
        .map(|row| row.iter().zip(&incentive).map(|(&b, &x)| mul_q(b, x)).sum())
        .collect();
    let dividends = normalize(&div_raw);
    Core {
        consensus,
        incentive,
        trust,
        dividends,
        bonds,
    }
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

/// One epoch of a subnet: steps 1-11 of reference/yuma.md.
pub fn epoch(input: &EpochInput) -> EpochOutput {
    let n = input.neurons.len();
    let neurons = &input.neurons;
    let owner = input.owner_uid.map(usize::from).filter(|&o| o < n);
    // 3. Next epoch's permits from current stake.
    let raw_stake: Vec<u64> = neurons.iter().map(|x| x.stake).collect();
    let permits = top_k_permits(&raw_stake, input.max_allowed_validators, input.owner_uid);
    // 4. Active stake under the stored permits (owner always permitted). Only permitted
    // UIDs become rows of the matrices: everyone else's weights and bonds are zeroed.
    let permitted = |i: usize| neurons[i].permit || Some(i) == owner;
    let rows: Vec<usize> = (0..n).filter(|&i| permitted(i)).collect();
    let active_stake: Vec<u64> = (0..n)
        .map(|i| {
            if neurons[i].active && permitted(i) {
                neurons[i].stake
            } else {
                0
            }
        })
        .collect();
    let row_stake: Vec<u64> = rows.iter().map(|&i| active_stake[i]).collect();
    // 5. Weights: no self-weight but the owner's, no weights older than the neuron they
    // point at; row-normalised.
    let weights: Vec<Vec<u64>> = rows
        .iter()
        .map(|&i| {
            let me = &neurons[i];
            let row = dense_row(&me.weights, n, |j| {
                (j != i || Some(i) == owner) && me.last_update > neurons[j].registered_at
            });
            if row.is_empty() { vec![0; n] } else { row }
        })
        .collect();
    let bonds_old: Vec<Vec<u64>> = rows
        .iter()
        .map(|&i| {
            let mut row = vec![0u64; n];
            // A validator that unstaked everything forfeits its bonds (taochain): no UID
            // earns dividends without stake.
            if neurons[i].stake == 0 {
                return row;
            }
            for &(j, v) in &neurons[i].bonds {
                let j = j as usize;
                if j < n && !neurons[j].new_registration {
                    row[j] = ratio_q(v as u64, U16);
                }
            }
            row
        })
        .collect();
    let core = core(
        &row_stake,
        &weights,
        &bonds_old,
        n,
        input.kappa,
        input.bonds_moving_average,
    );
    // Back from rows to UIDs.
    let mut trust = vec![0u64; n];
    let mut dividends_q32 = vec![0u64; n];
    let mut bond_rows: Vec<Option<&Vec<u64>>> = vec![None; n];
    for (r, &i) in rows.iter().enumerate() {
        trust[i] = core.trust[r];
        dividends_q32[i] = core.dividends[r];
        bond_rows[i] = Some(&core.bonds[r]);
    }
    // 11. Stored form: bonds column max-upscaled; rows of UIDs without a new permit emptied.
    let mut col_max = vec![0u64; n];
    for row in &core.bonds {
        for (m, &b) in col_max.iter_mut().zip(row) {
            *m = (*m).max(b);
        }
    }
    let bonds = (0..n)
        .map(|i| match bond_rows[i] {
            Some(row) if permits[i] => row
                .iter()
                .zip(&col_max)
                .enumerate()
                .filter(|(_, (b, _))| **b > 0)
                .map(|(j, (&b, &m))| {
                    let v = (b as u128 * U16 as u128 + m as u128 / 2) / m as u128;
                    (j as u16, v as u16)
                })
                .collect(),
            _ => vec![],
        })
        .collect();
    EpochOutput {
        consensus: core.consensus.iter().map(|&x| to_u16(x)).collect(),
        incentive: core.incentive.iter().map(|&x| to_u16(x)).collect(),
        dividends: dividends_q32.iter().map(|&x| to_u16(x)).collect(),
        validator_trust: trust.iter().map(|&x| to_u16(x)).collect(),
        bonds,
        permits,
        active_stake,
        incentive_q32: core.incentive,
        dividends_q32,
    }
}

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
    let permitted_stake: Vec<u64> = raw_stake
        .iter()
        .zip(&out.permits)
        .map(|(&s, &p)| if p { s } else { 0 })
        .collect();
    let basis: Vec<u64> = if out.dividends_q32.iter().any(|&d| d > 0) {
        out.dividends_q32.clone()
    } else if out.active_stake.iter().any(|&s| s > 0) {
        out.active_stake.clone()
    } else {
        permitted_stake
    };
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
        pot / 100 * OWNER_PERCENT + pot % 100 * OWNER_PERCENT / 100
    } else {
        0
    };
    let half = pot / 100 * MINERS_PERCENT + pot % 100 * MINERS_PERCENT / 100;
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

#[cfg(test)]
mod tests;

//! Yuma consensus (classic, as in `shared/reference/yuma.md`) in exact integer arithmetic:
//! the per-UID input of one subnet's epoch in, consensus, incentive, dividends, trust,
//! bonds and permits out. What the pot then pays is [`crate::payout`]'s.
//!
//! # Fixed point
//! Proportions are `Q32` ([`crate::fixed`]); products go through `u128` and round toward
//! zero. Stake stays in raw rao (`u64`) wherever only ratios matter (the weighted median
//! compares `u128` products exactly). Stored outputs are `u16`: `floor(x * 65535)` for
//! consensus, incentive, dividends and trust; weights and bonds are max-upscaled with
//! rounding, `round(v * 65535 / max)`.
//!
//! # Determinism
//! No floats, no hashing, no parallelism: the same input gives the same bytes everywhere.

mod core;

use alloc::vec;
use alloc::vec::Vec;

pub use self::core::{Core, core, dense_row, top_k_permits, weighted_median};
use crate::fixed::{U16, ratio_q, to_u16};

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
    let core = core(
        &row_stake,
        &weight_rows(neurons, &rows, owner),
        &old_bond_rows(neurons, &rows),
        n,
        input.kappa,
        input.bonds_moving_average,
    );
    // Back from rows to UIDs.
    let mut trust = vec![0u64; n];
    let mut dividends_q32 = vec![0u64; n];
    for (r, &i) in rows.iter().enumerate() {
        trust[i] = core.trust[r];
        dividends_q32[i] = core.dividends[r];
    }
    let bonds = stored_bonds(&core.bonds, &rows, &permits, n);
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

/// Step 5: each row's weights, dense and row-normalised, without self-weight (but the
/// owner's) and without weights older than the neuron they point at.
fn weight_rows(neurons: &[NeuronInput], rows: &[usize], owner: Option<usize>) -> Vec<Vec<u64>> {
    let n = neurons.len();
    rows.iter()
        .map(|&i| {
            let me = &neurons[i];
            let row = dense_row(&me.weights, n, |j| {
                (j != i || Some(i) == owner) && me.last_update > neurons[j].registered_at
            });
            if row.is_empty() { vec![0; n] } else { row }
        })
        .collect()
}

/// Each row's stored bonds in Q32, with new registrations' columns reset. A validator that
/// unstaked everything forfeits its bonds (taochain): no UID earns dividends without stake.
fn old_bond_rows(neurons: &[NeuronInput], rows: &[usize]) -> Vec<Vec<u64>> {
    let n = neurons.len();
    rows.iter()
        .map(|&i| {
            let mut row = vec![0u64; n];
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
        .collect()
}

/// Step 11: bonds in stored form, per UID: column max-upscaled, sparse; rows of UIDs
/// without a new permit emptied.
fn stored_bonds(
    bonds: &[Vec<u64>],
    rows: &[usize],
    permits: &[bool],
    n: usize,
) -> Vec<Vec<(u16, u16)>> {
    let mut col_max = vec![0u64; n];
    for row in bonds {
        for (m, &b) in col_max.iter_mut().zip(row) {
            *m = (*m).max(b);
        }
    }
    let mut out = vec![vec![]; n];
    for (row, &i) in bonds.iter().zip(rows) {
        if !permits[i] {
            continue;
        }
        out[i] = row
            .iter()
            .zip(&col_max)
            .enumerate()
            .filter(|(_, (b, _))| **b > 0)
            .map(|(j, (&b, &m))| {
                let v = (b as u128 * U16 as u128 + m as u128 / 2) / m as u128;
                (j as u16, v as u16)
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests;

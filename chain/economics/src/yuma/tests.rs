//! The reference examples (reference/yuma.md, from subtensor's own tests) reproduced by the
//! epoch code, and properties over random subnets.

use super::*;
use crate::fixed::ONE;
use crate::payout::{Payout, payout};
use proptest::prelude::*;

fn neuron(stake: u64, weights: &[(u16, u16)]) -> NeuronInput {
    NeuronInput {
        stake,
        active: true,
        permit: true,
        new_registration: false,
        last_update: 1,
        registered_at: 0,
        weights: weights.to_vec(),
        bonds: vec![],
    }
}

fn near(actual: u16, expected: u16) -> bool {
    actual.abs_diff(expected) <= 1
}

fn bond(out: &EpochOutput, row: usize, col: u16) -> u16 {
    out.bonds[row]
        .iter()
        .find(|b| b.0 == col)
        .map(|b| b.1)
        .unwrap_or(0)
}

fn example_a() -> EpochInput {
    let w = [(2, 32767), (3, 32767)];
    EpochInput {
        neurons: vec![neuron(1, &w), neuron(1, &w), neuron(1, &[]), neuron(1, &[])],
        kappa: 32767,
        bonds_moving_average: 900_000,
        max_allowed_validators: 4,
        owner_uid: None,
    }
}

#[test]
fn example_a_active_stake_three_epochs() {
    // Epoch 1.
    let mut input = example_a();
    let out = epoch(&input);
    assert_eq!(out.incentive, vec![0, 0, 32767, 32767]);
    assert_eq!(out.dividends, vec![32767, 32767, 0, 0]);
    assert_eq!(out.consensus[2], 32767);
    for (v, m) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
        assert_eq!(bond(&out, v, m), 65535);
    }
    // Epoch 2: only UID 0 is active.
    for (i, n) in input.neurons.iter_mut().enumerate() {
        n.bonds = out.bonds[i].clone();
        n.permit = out.permits[i];
        n.active = i == 0;
    }
    let out = epoch(&input);
    assert_eq!(out.active_stake, vec![1, 0, 0, 0]);
    assert!(near(out.consensus[2], 32767) && near(out.consensus[3], 32767));
    assert!(near(out.dividends[0], 36044), "{:?}", out.dividends);
    assert!(near(out.dividends[1], 29490), "{:?}", out.dividends);
    assert!(near(bond(&out, 0, 2), 65535) && near(bond(&out, 1, 2), 53619));
    assert!(near(bond(&out, 1, 3), 53619));
    // Epoch 3: both active again.
    for (i, n) in input.neurons.iter_mut().enumerate() {
        n.bonds = out.bonds[i].clone();
        n.active = true;
    }
    let out = epoch(&input);
    assert!(near(out.dividends[0], 35716), "{:?}", out.dividends);
    assert!(near(out.dividends[1], 29818), "{:?}", out.dividends);
    assert!(near(bond(&out, 1, 2), 54712), "{:?}", out.bonds);
}

fn example_c(weights: &[(u16, u16)], miner_registered_at: u64) -> (EpochOutput, Payout) {
    let mut miner = neuron(0, &[(1, 65535)]);
    miner.permit = false;
    miner.registered_at = miner_registered_at;
    let input = EpochInput {
        neurons: vec![neuron(1, weights), miner],
        kappa: 32767,
        bonds_moving_average: 900_000,
        max_allowed_validators: 64,
        owner_uid: Some(0),
    };
    let out = epoch(&input);
    let pay = payout(1_000_000_000, &out, &[1, 0], true);
    (out, pay)
}

#[test]
fn example_c_zero_weights_pay_the_validator() {
    // No weights (the miner's self-weight is masked): everything to UID 0 (owner + validator).
    let (_, pay) = example_c(&[], 0);
    assert_eq!(pay.owner + pay.validator[0], 1_000_000_000);
    assert_eq!((pay.miner[1], pay.validator[1], pay.carried), (0, 0, 0));
    // Miner registered after the validator's last update: the weight is outdated.
    let (out, pay) = example_c(&[(1, 65535)], 5);
    assert_eq!(out.incentive, vec![0, 0]);
    assert_eq!(pay.owner + pay.validator[0], 1_000_000_000);
    // A live weight of 1.0 on UID 1.
    let (out, pay) = example_c(&[(1, 65535)], 0);
    assert_eq!(out.consensus, vec![0, 65535]);
    assert_eq!(out.incentive, vec![0, 65535]);
    assert_eq!(out.dividends, vec![65535, 0]);
    assert_eq!(pay.owner, 180_000_000);
    assert_eq!(pay.miner, vec![0, 410_000_000]);
    assert_eq!(pay.validator, vec![410_000_000, 0]);
    assert_eq!(pay.carried, 0);
}

fn kappa(fraction_percent: u64) -> u16 {
    (fraction_percent * 65535 / 100) as u16
}

#[test]
fn example_e_weighted_median_columns() {
    let stake = [0u64, 75, 25, 0];
    let rows: [[u64; 3]; 4] = [[0, 10, 0], [0, 20, 40], [0, 30, 10], [0, 40, 50]];
    let column = |j: usize, majority: u64| {
        let mut entries: Vec<(u64, u64)> = (0..4).map(|i| (rows[i][j], stake[i])).collect();
        weighted_median(&mut entries, kappa(majority))
    };
    let medians = |m: u64| -> Vec<u64> { (0..3).map(|j| column(j, m)).collect() };
    assert_eq!(medians(24), vec![0, 30, 40]);
    assert_eq!(medians(26), vec![0, 20, 40]);
    assert_eq!(medians(76), vec![0, 20, 10]);
}

#[test]
fn example_e_weighted_median_scalars() {
    assert_eq!(weighted_median(&mut [(50, 49), (100, 51)], 32767), 100);
    assert_eq!(weighted_median(&mut [(50, 51), (100, 49)], 32767), 50);
    assert_eq!(
        weighted_median(&mut [(50, 49), (70, 1), (100, 50)], kappa(51)),
        70
    );
    assert_eq!(weighted_median(&mut [], 32767), 0);
    assert_eq!(weighted_median(&mut [(9, 0)], 32767), 0);
}

#[test]
fn permits_are_top_k_by_stake_plus_owner() {
    assert_eq!(
        top_k_permits(&[0, 5, 9, 5, 1], 2, Some(0)),
        vec![true, true, true, false, false]
    );
    assert_eq!(top_k_permits(&[0, 0], 2, None), vec![false, false]);
}

fn subnet() -> impl Strategy<Value = (EpochInput, u64)> {
    (2usize..12).prop_flat_map(|n| {
        let neurons = proptest::collection::vec(
            (
                prop_oneof![Just(0u64), 0u64..1_000_000],
                any::<bool>(),
                any::<bool>(),
                proptest::collection::vec((0..n as u16, 0u16..=65535), 0..6),
                proptest::collection::vec((0..n as u16, 0u16..=65535), 0..4),
            ),
            n,
        );
        (neurons, 1u64..=10_000_000_000, 0u64..=1_000_000, 1u16..6).prop_map(
            |(neurons, pot, bma, k)| {
                let neurons = neurons
                    .into_iter()
                    .map(|(stake, active, permit, weights, bonds)| NeuronInput {
                        stake,
                        active,
                        permit,
                        new_registration: false,
                        last_update: 10,
                        registered_at: 0,
                        weights,
                        bonds,
                    })
                    .collect();
                (
                    EpochInput {
                        neurons,
                        kappa: 32767,
                        bonds_moving_average: bma,
                        max_allowed_validators: k,
                        owner_uid: Some(0),
                    },
                    pot,
                )
            },
        )
    })
}

proptest! {
    #[test]
    fn payout_conserves_and_pays_only_stake_or_incentive((input, pot) in subnet()) {
        let out = epoch(&input);
        let stake: Vec<u64> = input.neurons.iter().map(|n| n.stake).collect();
        let pay = payout(pot, &out, &stake, true);
        let paid: u64 = pay.owner + pay.miner.iter().sum::<u64>() + pay.validator.iter().sum::<u64>();
        prop_assert_eq!(paid + pay.carried, pot);
        for (i, &s) in stake.iter().enumerate() {
            if pay.miner[i] > 0 {
                prop_assert!(out.incentive_q32[i] > 0);
            }
            if pay.validator[i] > 0 {
                prop_assert!(s > 0, "validator {} paid without stake", i);
            }
        }
        // Determinism: the same input gives the same output, and the order of the stored
        // weight pairs does not matter.
        prop_assert_eq!(&epoch(&input), &out);
        let mut reversed = input.clone();
        for n in &mut reversed.neurons {
            // Later duplicates win in dense_row; dedupe first so order is the only change.
            let mut seen = alloc::collections::BTreeMap::new();
            for &(j, v) in &n.weights { seen.insert(j, v); }
            n.weights = seen.into_iter().rev().collect();
        }
        let mut sorted = input.clone();
        for n in &mut sorted.neurons {
            let mut seen = alloc::collections::BTreeMap::new();
            for &(j, v) in &n.weights { seen.insert(j, v); }
            n.weights = seen.into_iter().collect();
        }
        prop_assert_eq!(epoch(&reversed), epoch(&sorted));
    }

    #[test]
    fn weights_above_consensus_earn_nothing_extra(
        (input, _) in subnet(), bump in 1u64..ONE, pick in any::<prop::sample::Index>()
    ) {
        let n = input.neurons.len();
        let stake: Vec<u64> = input.neurons.iter().map(|x| x.stake).collect();
        let weights: Vec<Vec<u64>> = input
            .neurons
            .iter()
            .map(|x| {
                let r = dense_row(&x.weights, n, |_| true);
                if r.is_empty() { vec![0; n] } else { r }
            })
            .collect();
        let bonds = vec![vec![0; n]; n];
        let base = core(&stake, &weights, &bonds, n, 32767, 900_000);
        // Find an entry strictly above its column's consensus and raise it further.
        let above: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .filter(|&(i, j)| weights[i][j] > base.consensus[j])
            .collect();
        prop_assume!(!above.is_empty());
        let (i, j) = above[pick.index(above.len())];
        let mut raised = weights.clone();
        raised[i][j] = raised[i][j].saturating_add(bump);
        let after = core(&stake, &raised, &bonds, n, 32767, 900_000);
        prop_assert_eq!(&after.consensus, &base.consensus);
        prop_assert_eq!(&after.incentive, &base.incentive);
        prop_assert_eq!(&after.dividends, &base.dividends);
        prop_assert_eq!(&after.trust, &base.trust);
    }
}

//! `tao yuma --input case.json`: the chain's own epoch code (`taochain-economics`: Yuma
//! consensus, the 18/41/41 payout, each validator's take and its stakers' reward-per-share
//! step) run offline on a JSON case, UID 0 acting as the subnet owner.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use taochain_economics::payout::{EpochPayout, earned, epoch_payout};
use taochain_economics::yuma::{EpochInput, NeuronInput, epoch, top_k_permits};
use taochain_primitives::subnet::MAX_TAKE_BPS;

/// One case: `n` UIDs, square matrices with one row per validator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    stake: Vec<u64>,
    weights: Vec<Vec<u16>>,
    #[serde(default)]
    bonds: Option<Vec<Vec<u16>>>,
    #[serde(default)]
    permits: Option<Vec<bool>>,
    #[serde(default)]
    active: Option<Vec<bool>>,
    kappa: u16,
    bonds_moving_average: u64,
    max_allowed_validators: u16,
    emission: u64,
    /// Each UID's take in basis points (default: the chain's default take, 18%).
    #[serde(default)]
    take_bps: Option<Vec<u16>>,
    /// Per UID, the stakes of the coldkeys staked on its hotkey (each at most the UID's
    /// stake in all): each one's share of the stakers' part is reported.
    #[serde(default)]
    nominators: Option<Vec<Vec<u64>>>,
}

/// The epoch's results.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Outcome {
    consensus: Vec<u16>,
    incentive: Vec<u16>,
    dividends: Vec<u16>,
    validator_trust: Vec<u16>,
    bonds: Vec<Vec<u16>>,
    permits: Vec<bool>,
    owner: u64,
    miner_emission: Vec<u64>,
    validator_emission: Vec<u64>,
    /// Per UID: the take of its validator part.
    validator_take: Vec<u64>,
    /// Per UID: what its coldkey receives of the validator part (take + rounding).
    validator_coldkey: Vec<u64>,
    /// Per UID: what moves into the nominator rewards account for its stakers.
    nominator_pool: Vec<u64>,
    /// Per UID: what each listed staker is paid (with `nominators`).
    nominator_payouts: Vec<Vec<u64>>,
    /// What the pot carries into the next epoch.
    carried: u64,
}

fn sparse(row: &[u16]) -> Vec<(u16, u16)> {
    row.iter()
        .enumerate()
        .filter(|(_, v)| **v > 0)
        .map(|(j, &v)| (j as u16, v))
        .collect()
}

fn square(name: &str, m: &[Vec<u16>], n: usize) -> anyhow::Result<()> {
    if m.len() != n || m.iter().any(|r| r.len() != n) {
        bail!("`{name}` must be {n} x {n} (one row per UID, like `stake`)");
    }
    Ok(())
}

/// Runs a case.
pub fn run_case(case: &Case) -> anyhow::Result<Outcome> {
    let n = check_case(case)?;
    let input = epoch_input(case);
    let out = epoch(&input);
    let takes = case
        .take_bps
        .clone()
        .unwrap_or_else(|| vec![MAX_TAKE_BPS; n]);
    let pay = epoch_payout(case.emission, &out, &case.stake, &takes, true);
    let nominator_payouts = staker_payouts(case, &pay);
    let bonds = out
        .bonds
        .iter()
        .map(|row| {
            let mut dense = vec![0u16; n];
            for &(j, v) in row {
                dense[j as usize] = v;
            }
            dense
        })
        .collect();
    Ok(Outcome {
        consensus: out.consensus,
        incentive: out.incentive,
        dividends: out.dividends,
        validator_trust: out.validator_trust,
        bonds,
        permits: out.permits,
        owner: pay.pot.owner,
        miner_emission: pay.pot.miner,
        validator_emission: pay.pot.validator,
        validator_take: pay.validators.iter().map(|v| v.take).collect(),
        validator_coldkey: pay.validators.iter().map(|v| v.to_coldkey).collect(),
        nominator_pool: pay
            .validators
            .iter()
            .map(|v| v.stakers.map_or(0, |s| s.into_pool))
            .collect(),
        nominator_payouts,
        carried: pay.pot.carried,
    })
}

/// Refuses a malformed case with a reason; returns its number of UIDs.
fn check_case(case: &Case) -> anyhow::Result<usize> {
    let n = case.stake.len();
    if n == 0 || n > u16::MAX as usize {
        bail!("`stake` must list between 1 and 65535 UIDs");
    }
    square("weights", &case.weights, n)?;
    if let Some(b) = &case.bonds {
        square("bonds", b, n)?;
    }
    for (name, v) in [("permits", &case.permits), ("active", &case.active)] {
        if v.as_ref().is_some_and(|v| v.len() != n) {
            bail!("`{name}` must have {n} entries");
        }
    }
    if case.bonds_moving_average > 1_000_000 {
        bail!("`bonds_moving_average` is parts per million (at most 1000000)");
    }
    check_stakers(case, n)?;
    Ok(n)
}

/// The case as the chain's epoch input (permits by top-k stake unless given).
fn epoch_input(case: &Case) -> EpochInput {
    let permits = case
        .permits
        .clone()
        .unwrap_or_else(|| top_k_permits(&case.stake, case.max_allowed_validators, Some(0)));
    EpochInput {
        neurons: (0..case.stake.len())
            .map(|i| NeuronInput {
                stake: case.stake[i],
                active: case.active.as_ref().is_none_or(|a| a[i]),
                permit: permits[i],
                new_registration: false,
                last_update: 1,
                registered_at: 0,
                weights: sparse(&case.weights[i]),
                bonds: case
                    .bonds
                    .as_ref()
                    .map(|b| sparse(&b[i]))
                    .unwrap_or_default(),
            })
            .collect(),
        kappa: case.kappa,
        bonds_moving_average: case.bonds_moving_average,
        max_allowed_validators: case.max_allowed_validators,
        owner_uid: Some(0),
    }
}

/// Refuses takes and staker lists that do not fit the case.
fn check_stakers(case: &Case, n: usize) -> anyhow::Result<()> {
    if let Some(t) = &case.take_bps {
        if t.len() != n {
            bail!("`take_bps` must have {n} entries");
        }
        if let Some(bad) = t.iter().find(|&&t| t > MAX_TAKE_BPS) {
            bail!("a take of {bad} bps is above the maximum {MAX_TAKE_BPS} bps");
        }
    }
    if let Some(noms) = &case.nominators {
        if noms.len() != n {
            bail!("`nominators` must have {n} entries (one list of stakes per UID)");
        }
        for (uid, row) in noms.iter().enumerate() {
            let sum = row.iter().try_fold(0u64, |a, &b| a.checked_add(b));
            if sum.is_none_or(|s| s > case.stake[uid]) {
                bail!("UID {uid}'s nominator stakes add up to more than its stake");
            }
        }
    }
    Ok(())
}

/// What each listed staker of each UID earns from its hotkey's step.
fn staker_payouts(case: &Case, pay: &EpochPayout) -> Vec<Vec<u64>> {
    let Some(noms) = &case.nominators else {
        return vec![];
    };
    noms.iter()
        .zip(&pay.validators)
        .map(|(row, v)| {
            let step = v.stakers.map_or(0, |s| s.index_step);
            row.iter().map(|&stake| earned(stake, step)).collect()
        })
        .collect()
}

/// `tao yuma --input FILE`: prints the outcome as JSON (always JSON: it is a calculator).
pub fn run(input: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let case: Case = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a yuma case", input.display()))?;
    let out = run_case(&case)?;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// A dense synthetic subnet: `validators` staked UIDs weight every UID pseudo-randomly,
/// with bonds from a previous epoch.
fn synthetic(n: usize, validators: usize) -> EpochInput {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let neurons = (0..n)
        .map(|i| {
            let v = i < validators;
            NeuronInput {
                stake: if v {
                    1_000_000_000 + next() % 1_000_000_000_000
                } else {
                    0
                },
                active: true,
                permit: v,
                new_registration: false,
                last_update: 10,
                registered_at: 0,
                weights: if v {
                    (0..n as u16)
                        .map(|j| (j, (next() % 65535) as u16 + 1))
                        .collect()
                } else {
                    vec![]
                },
                bonds: if v {
                    (0..n as u16)
                        .map(|j| (j, (next() % 65535) as u16))
                        .collect()
                } else {
                    vec![]
                },
            }
        })
        .collect();
    EpochInput {
        neurons,
        kappa: 32767,
        bonds_moving_average: 900_000,
        max_allowed_validators: validators as u16,
        owner_uid: Some(0),
    }
}

/// `tao bench epoch`.
pub fn bench(ctx: &crate::Ctx, runs: usize) -> anyhow::Result<()> {
    let runs = runs.max(1);
    let mut results = vec![];
    for (n, v, target_ms) in [(256usize, 64usize, 1.0f64), (4096, 256, 50.0)] {
        let input = synthetic(n, v);
        let bar = crate::output::spinner(ctx.output, "running epochs");
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = std::time::Instant::now();
                let out = epoch(&input);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                std::hint::black_box(out);
                ms
            })
            .collect();
        bar.finish_and_clear();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        results.push(serde_json::json!({
            "uids": n, "validators": v, "median_ms": median, "target_ms": target_ms, "runs": runs,
        }));
    }
    crate::output::emit(ctx.output, &results, || {
        results
            .iter()
            .map(|r| {
                format!(
                    "epoch {} UIDs x {} validators: {:.3} ms median of {} (target <= {} ms)",
                    r["uids"],
                    r["validators"],
                    r["median_ms"].as_f64().unwrap_or(0.0),
                    r["runs"],
                    r["target_ms"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_c_through_the_calculator() {
        let case: Case = serde_json::from_str(
            r#"{"stake":[1,0],"weights":[[0,65535],[0,0]],"kappa":32767,
                "bonds_moving_average":900000,"max_allowed_validators":64,"emission":1000000000}"#,
        )
        .expect("case");
        let out = run_case(&case).expect("runs");
        assert_eq!(out.consensus, vec![0, 65535]);
        assert_eq!(out.incentive, vec![0, 65535]);
        assert_eq!(out.dividends, vec![65535, 0]);
        assert_eq!(out.owner, 180_000_000);
        assert_eq!(out.miner_emission, vec![0, 410_000_000]);
        assert_eq!(out.validator_emission, vec![410_000_000, 0]);
        assert_eq!(out.bonds, vec![vec![0, 65535], vec![0, 0]]);
        // The default 18% take, and no staker list to report.
        assert_eq!(out.validator_take, vec![73_800_000, 0]);
        assert_eq!(out.nominator_pool, vec![336_200_000, 0]);
        assert_eq!(out.validator_coldkey, vec![73_800_000, 0]);
        assert!(out.nominator_payouts.is_empty());
    }

    #[test]
    fn the_calculator_pays_take_and_nominators_as_the_chain_does() {
        // Validator UID 0 with 400 rao of stake: 100 its own coldkey's, 300 a nominator's;
        // a 10% take of its 410,000,000 rao part, the rest pro rata to the stakes.
        let case: Case = serde_json::from_str(
            r#"{"stake":[400,0],"weights":[[0,65535],[0,0]],"kappa":32767,
                "bonds_moving_average":900000,"max_allowed_validators":64,"emission":1000000000,
                "take_bps":[1000,0],"nominators":[[100,300],[]]}"#,
        )
        .expect("case");
        let out = run_case(&case).expect("runs");
        assert_eq!(out.validator_emission, vec![410_000_000, 0]);
        assert_eq!(out.validator_take, vec![41_000_000, 0]);
        assert_eq!(out.nominator_pool, vec![369_000_000, 0]);
        assert_eq!(
            out.nominator_payouts,
            vec![vec![92_250_000, 276_750_000], vec![]]
        );
        assert_eq!(out.carried, 0);
    }

    #[test]
    fn malformed_cases_are_refused_with_a_reason() {
        for bad in [
            r#"{"stake":[1,0],"weights":[[0,1]],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1}"#,
            r#"{"stake":[],"weights":[],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1}"#,
            r#"{"stake":[1],"weights":[[1]],"active":[true,false],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1}"#,
            r#"{"stake":[1],"weights":[[1]],"kappa":1,"bonds_moving_average":2000000,"max_allowed_validators":1,"emission":1}"#,
            r#"{"stake":[1],"weights":[[1]],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1,"take_bps":[1801]}"#,
            r#"{"stake":[1],"weights":[[1]],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1,"take_bps":[]}"#,
            r#"{"stake":[1],"weights":[[1]],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1,"nominators":[[1,1]]}"#,
            r#"{"stake":[1],"weights":[[1]],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1,"nominators":[[18446744073709551615,1]]}"#,
            r#"{"stake":[1],"weights":[[1]],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1,"nominators":[]}"#,
        ] {
            let case: Case = serde_json::from_str(bad).expect("parses");
            assert!(run_case(&case).is_err(), "{bad}");
        }
    }
}

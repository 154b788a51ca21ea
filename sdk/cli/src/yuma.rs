//! `tao yuma --input case.json`: the chain's own epoch code (Yuma consensus and the
//! 18/41/41 payout) run offline on a JSON case, UID 0 acting as the subnet owner.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use taochain_primitives::yuma::{EpochInput, NeuronInput, epoch, payout, top_k_permits};

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
    let permits = case
        .permits
        .clone()
        .unwrap_or_else(|| top_k_permits(&case.stake, case.max_allowed_validators, Some(0)));
    let input = EpochInput {
        neurons: (0..n)
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
    };
    let out = epoch(&input);
    let pay = payout(case.emission, &out, &case.stake, true);
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
        owner: pay.owner,
        miner_emission: pay.miner,
        validator_emission: pay.validator,
    })
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
    }

    #[test]
    fn malformed_cases_are_refused_with_a_reason() {
        for bad in [
            r#"{"stake":[1,0],"weights":[[0,1]],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1}"#,
            r#"{"stake":[],"weights":[],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1}"#,
            r#"{"stake":[1],"weights":[[1]],"active":[true,false],"kappa":1,"bonds_moving_average":0,"max_allowed_validators":1,"emission":1}"#,
            r#"{"stake":[1],"weights":[[1]],"kappa":1,"bonds_moving_average":2000000,"max_allowed_validators":1,"emission":1}"#,
        ] {
            let case: Case = serde_json::from_str(bad).expect("parses");
            assert!(run_case(&case).is_err(), "{bad}");
        }
    }
}

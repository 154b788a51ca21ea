//! Measures each task: challenge-generation time, reference-model latency (medians) and
//! the reference's mean score over fresh challenges.
//!
//! `cargo run --release -p taochain-tasks --example measure -- [N] [SEED] [KIND] [-v]`, or
//! `... --example measure -- ref KIND FILE...` to print the reference's answer per file.
//! With `-v` it prints each challenge's truth, answer and score; with `-k` it keeps the
//! inputs (their directory is printed).

use std::time::{Duration, Instant};

use rand::SeedableRng;
use taochain_arena_msg::TaskKind;
use taochain_tasks::{SCORE_SCALE, challenge, run_reference, score};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("ref") {
        let kind = args
            .get(2)
            .and_then(|s| TaskKind::from_name(s))
            .ok_or("unknown kind")?;
        for file in &args[3..] {
            let answer = run_reference(kind, file.as_ref(), Duration::from_secs(60))?;
            println!("{file}: {answer}");
        }
        return Ok(());
    }
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let only = args.get(3).and_then(|s| TaskKind::from_name(s));
    let verbose = args.iter().any(|a| a == "-v");
    let dir = tempfile::tempdir()?;
    if args.iter().any(|a| a == "-k") {
        println!("inputs in {}", dir.path().display());
    }
    for kind in TaskKind::ALL
        .into_iter()
        .filter(|k| only.is_none_or(|o| o == *k))
    {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut generation, mut reference, mut scores) = (vec![], vec![], vec![]);
        for i in 0..n {
            let start = Instant::now();
            let c = challenge(kind, &mut rng)?;
            generation.push(start.elapsed());
            let path = dir.path().join(format!("c{i}.{}", c.ext));
            std::fs::write(&path, &c.input)?;
            let start = Instant::now();
            let answer = run_reference(kind, &path, Duration::from_secs(60))?;
            reference.push(start.elapsed());
            let s = score(kind, &c.truth, &answer);
            if verbose {
                println!("  {s:>7}  {:?} -> {answer:?}", c.truth);
            }
            scores.push(f64::from(s) / f64::from(SCORE_SCALE));
        }
        let mean = scores.iter().sum::<f64>() / n as f64;
        let min = scores.iter().copied().fold(1.0, f64::min);
        println!(
            "{:<16} n={n} challenge {:>6.1?}  reference {:>6.1?}  mean score {mean:.3} (min {min:.3})",
            kind.name(),
            median(generation),
            median(reference),
        );
    }
    if args.iter().any(|a| a == "-k") {
        let _ = dir.keep();
    }
    Ok(())
}

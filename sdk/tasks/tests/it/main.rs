//! The tasks through the public API with the real programs (espeak-ng, pocketsphinx,
//! tesseract, hunspell; `scripts/setup.sh` installs them): each challenge's input is valid,
//! and the reference model scores clearly above a fixed wrong answer on fresh challenges.
//! Challenges are drawn from a random seed, printed on failure; set `TAOCHAIN_TASKS_SEED`
//! to replay one. Thresholds sit well under the measured means (see each test).

mod image;
mod speech;
mod text;

use std::path::Path;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use taochain_arena_msg::TaskKind;
use taochain_tasks::{Challenge, SCORE_SCALE, challenge, run_reference, score};

/// A reference run's limit: far over the measured latency, so a slow machine never fails.
const REFERENCE_TIMEOUT: Duration = Duration::from_secs(60);
/// An answer that is wrong for every challenge (no vocabulary word).
const WRONG: &str = "the quick brown fox";

/// A seeded generator and its seed (from `TAOCHAIN_TASKS_SEED`, or random).
fn rng() -> (StdRng, u64) {
    let seed = std::env::var("TAOCHAIN_TASKS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    (StdRng::seed_from_u64(seed), seed)
}

/// Writes `challenge`'s input to a file in `dir` and runs the reference model on it.
fn reference(kind: TaskKind, c: &Challenge, dir: &Path) -> String {
    let path = dir.join(format!("input.{}", c.ext));
    std::fs::write(&path, &c.input).expect("temp dir is writable");
    run_reference(kind, &path, REFERENCE_TIMEOUT).expect("the reference model runs")
}

/// Over `n` fresh challenges: the reference's mean score and the wrong answer's, as
/// fractions, checking each challenge's input with `check`.
fn means(kind: TaskKind, n: usize, check: impl Fn(&Challenge)) -> (f64, f64, u64) {
    let (mut rng, seed) = rng();
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut reference_sum, mut wrong_sum) = (0u64, 0u64);
    for _ in 0..n {
        let c = challenge(kind, &mut rng).expect("challenge");
        assert_eq!(c.ext, kind.input_ext());
        check(&c);
        let answer = reference(kind, &c, dir.path());
        assert!(
            !answer.contains('\n') && answer.trim() == answer,
            "{answer:?}"
        );
        reference_sum += u64::from(score(kind, &c.truth, &answer));
        wrong_sum += u64::from(score(kind, &c.truth, WRONG));
    }
    let mean = |sum: u64| sum as f64 / n as f64 / f64::from(SCORE_SCALE);
    (mean(reference_sum), mean(wrong_sum), seed)
}

/// Runs the reference on a file holding `bytes` (with extension `ext`).
fn reference_on(
    kind: TaskKind,
    ext: &str,
    bytes: &[u8],
) -> Result<String, taochain_tasks::TaskError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("input.{ext}"));
    std::fs::write(&path, bytes).expect("temp dir is writable");
    run_reference(kind, &path, REFERENCE_TIMEOUT)
}

#[test]
fn an_oversized_input_is_refused_before_any_program_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.txt");
    let file = std::fs::File::create(&path).expect("temp dir is writable");
    file.set_len(65 << 20).expect("sparse file");
    let err = run_reference(TaskKind::TextCorrection, &path, REFERENCE_TIMEOUT);
    assert!(
        matches!(err, Err(taochain_tasks::TaskError::BadInput(_))),
        "{err:?}"
    );
}

//! Each AI task an arena subnet can run, in one place: its challenge generator (which knows
//! the ground truth), its metric, and its reference model. Validators call [`challenge`]
//! and [`score`]; `tao model run --task T FILE` calls [`run_reference`]. The task kinds and
//! their metrics are declared on chain by `taochain-arena-msg`; this crate implements them.
//!
//! | kind | challenge | reference model | metric |
//! |------|-----------|-----------------|--------|
//! | speech-to-text | `espeak-ng` reads 5-8 words, resampled to 16 kHz mono WAV | `pocketsphinx_batch` with a JSGF grammar over the vocabulary | 1 - WER |
//! | image-to-text | 2-4 words drawn in a DejaVu font, turned, noisy (grayscale PNG) | `tesseract --psm 7` | 1 - CER |
//! | text-correction | 6-10 words, about half with a typo (UTF-8 text) | `hunspell -a`, preferring vocabulary suggestions | words restored |
//!
//! Every challenge draws its words from one vocabulary (`words.rs`), so the ground truth is
//! known exactly. External programs are Debian packages (`scripts/setup.sh` installs them);
//! a missing one is a [`TaskError`] naming the package. Scores are integers in parts per
//! million ([`SCORE_SCALE`]), computed without floats and with bounded work whatever the
//! answer (`metric.rs`).
//!
//! What this crate does not do: talk to the chain or the network, choose miners' timeouts,
//! or keep state between calls. No function panics on any input.
//!
//! # Adding a fourth task
//!
//! 1. Add the variant to `TaskKind` in `taochain-arena-msg` with its `name`, `input_type`,
//!    `input_ext` and `metric` (a new `Metric` variant needs a case in `metric::score`).
//! 2. Add a module here with `challenge(rng) -> Result<(input, truth), TaskError>` and
//!    `run_reference(input: &[u8], timeout) -> Result<String, TaskError>`, drawing words
//!    with `words::pick` and running programs through `process::run` with a
//!    `process::Program` that names its Debian package.
//! 3. Add one arm to each `match kind` below (the compiler lists them), the packages to
//!    `scripts/setup.sh`, and a test in `tests/it/` that the challenge's input is valid and
//!    the reference model scores clearly above a fixed wrong answer.

mod image;
mod metric;
mod process;
pub mod route;
mod speech;
mod text;
mod wav;
mod words;

use std::path::Path;
use std::time::Duration;

use taochain_arena_msg::TaskKind;

pub use metric::normalize;

/// Scores are parts per million: `SCORE_SCALE` is a perfect answer.
pub const SCORE_SCALE: u32 = 1_000_000;

/// The largest input file [`run_reference`] reads.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// One challenge: the input a miner gets (a file of type `ext`) and the answer expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The input file's bytes (WAV, PNG or UTF-8 text, per the kind).
    pub input: Vec<u8>,
    /// The input's file extension, `kind.input_ext()`.
    pub ext: &'static str,
    /// The ground truth: lowercase vocabulary words separated by single spaces.
    pub truth: String,
}

/// Why a challenge or a reference answer could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// A program the task runs is not installed.
    #[error("`{program}` is not installed: install the Debian package `{package}`")]
    MissingProgram {
        /// The program's name.
        program: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A data file the task needs (a font, a model, a dictionary) is not installed.
    #[error("{what} is not installed: install the Debian package `{package}`")]
    MissingData {
        /// What is missing.
        what: String,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A program ran past its time limit and was killed.
    #[error("`{program}` ran past its {limit:?} limit and was killed")]
    Timeout {
        /// The program's name.
        program: &'static str,
        /// The limit it ran under.
        limit: Duration,
    },
    /// A program exited with a failure, or wrote something unreadable.
    #[error("`{program}` failed ({status}): {stderr}")]
    Failed {
        /// The program's name.
        program: &'static str,
        /// Its exit status, in words.
        status: String,
        /// The start of what it wrote to stderr (or what was wrong with its output).
        stderr: String,
    },
    /// A program wrote more output than the task reads.
    #[error("`{program}` wrote more than {limit} bytes of output")]
    OutputTooLarge {
        /// The program's name.
        program: &'static str,
        /// The most bytes read.
        limit: usize,
    },
    /// The input file is not one the task accepts.
    #[error("bad input: {0}")]
    BadInput(String),
    /// The image could not be rendered or encoded.
    #[error("rendering the image failed: {0}")]
    Render(String),
    /// A file or pipe operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A fresh challenge of `kind`, drawn with `rng`; its `truth` is the expected answer.
pub fn challenge(kind: TaskKind, rng: &mut impl rand::RngCore) -> Result<Challenge, TaskError> {
    let (input, truth) = match kind {
        TaskKind::SpeechToText => speech::challenge(rng)?,
        TaskKind::ImageToText => image::challenge(rng)?,
        TaskKind::TextCorrection => text::challenge(rng)?,
    };
    Ok(Challenge {
        input,
        ext: kind.input_ext(),
        truth,
    })
}

/// How well `answer` matches `truth` by `kind.metric()`: `0..=SCORE_SCALE`, integer
/// arithmetic only, bounded work for any answer (the truth is read up to 4 KiB, the answer
/// up to four times the truth's length).
pub fn score(kind: TaskKind, truth: &str, answer: &str) -> u32 {
    metric::score(kind.metric(), truth, answer)
}

/// The reference model's answer to the input file at `input`: one line, trimmed. The
/// external program it runs is killed after `timeout`; files over 64 MiB are refused.
pub fn run_reference(kind: TaskKind, input: &Path, timeout: Duration) -> Result<String, TaskError> {
    let bytes = read_input(input)?;
    let answer = match kind {
        TaskKind::SpeechToText => speech::run_reference(&bytes, timeout)?,
        TaskKind::ImageToText => image::run_reference(&bytes, timeout)?,
        TaskKind::TextCorrection => text::run_reference(&bytes, timeout)?,
    };
    Ok(one_line(&answer))
}

/// `text`'s whitespace-separated tokens joined by single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The file at `path`, refused when over [`MAX_INPUT_BYTES`].
fn read_input(path: &Path) -> Result<Vec<u8>, TaskError> {
    let io = |source| TaskError::Io {
        what: format!("reading {}", path.display()),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_INPUT_BYTES {
        return Err(TaskError::BadInput(format!(
            "{} is {len} bytes, over the {MAX_INPUT_BYTES}-byte limit",
            path.display()
        )));
    }
    std::fs::read(path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_tokens_with_single_spaces() {
        assert_eq!(one_line("  a\tb\n\nc \u{c}"), "a b c");
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn a_missing_input_file_is_an_io_error() {
        let err = run_reference(
            TaskKind::TextCorrection,
            Path::new("/nonexistent/taochain-tasks-input.txt"),
            Duration::from_secs(1),
        );
        assert!(matches!(err, Err(TaskError::Io { .. })), "{err:?}");
    }
}

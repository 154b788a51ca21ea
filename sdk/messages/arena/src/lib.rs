//! The arena contract's messages, defined once for the contract (`contracts/arena`), the
//! CLI, the neuron runtime and the tests. An arena subnet declares its AI task on chain:
//! its [`InstantiateMsg`] is a [`TaskSpec`] (task kind, input and output types, metric,
//! challenge timeout, score smoothing) that [`QueryMsg::Task`] returns, so miners and
//! validators read the task from the chain, never from a local config.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The AI tasks an arena can run (each implemented once in `taochain-tasks`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[borsh(use_discriminant = true)]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
pub enum TaskKind {
    /// Audio (16 kHz mono WAV) to its words (Bittensor's subnet 11).
    SpeechToText = 0,
    /// An image of text (PNG) to the text (subnet 19's job).
    ImageToText = 1,
    /// A sentence with typos to the corrected sentence (subnet 1's job).
    TextCorrection = 2,
}

/// How an answer is scored against the ground truth (parts per million).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[borsh(use_discriminant = true)]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
pub enum Metric {
    /// `max(0, 1 - WER)`, word-level Levenshtein over the truth's word count.
    OneMinusWer = 0,
    /// `max(0, 1 - CER)`, character-level Levenshtein over the truth's length.
    OneMinusCer = 1,
    /// The share of the truth's words found at their position in the answer.
    WordsRestored = 2,
}

impl TaskKind {
    /// Every kind, in order.
    pub const ALL: [TaskKind; 3] = [
        TaskKind::SpeechToText,
        TaskKind::ImageToText,
        TaskKind::TextCorrection,
    ];

    /// The name used on the command line (`speech-to-text`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::SpeechToText => "speech-to-text",
            TaskKind::ImageToText => "image-to-text",
            TaskKind::TextCorrection => "text-correction",
        }
    }

    /// The kind of a command-line name.
    pub fn from_name(name: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The MIME type of a challenge's input.
    pub fn input_type(self) -> &'static str {
        match self {
            TaskKind::SpeechToText => "audio/wav",
            TaskKind::ImageToText => "image/png",
            TaskKind::TextCorrection => "text/plain",
        }
    }

    /// The file extension of a challenge's input (the model gets a file).
    pub fn input_ext(self) -> &'static str {
        match self {
            TaskKind::SpeechToText => "wav",
            TaskKind::ImageToText => "png",
            TaskKind::TextCorrection => "txt",
        }
    }

    /// The metric an answer is scored with.
    pub fn metric(self) -> Metric {
        match self {
            TaskKind::SpeechToText => Metric::OneMinusWer,
            TaskKind::ImageToText => Metric::OneMinusCer,
            TaskKind::TextCorrection => Metric::WordsRestored,
        }
    }
}

/// Longest input or output type string.
pub const MAX_TYPE_LEN: usize = 64;
/// Challenge timeout bounds, milliseconds.
pub const TIMEOUT_MS: (u32, u32) = (100, 120_000);
/// Score smoothing bounds: the weight of a new score in the moving average, ppm.
pub const SMOOTHING_PPM: (u32, u32) = (1, 1_000_000);

/// An arena's task: its instantiate message and what `QueryMsg::Task` returns.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The task.
    pub kind: TaskKind,
    /// MIME type of the input (must be the kind's).
    pub input_type: String,
    /// MIME type of the output (`text/plain`).
    pub output_type: String,
    /// How answers are scored (must be the kind's).
    pub metric: Metric,
    /// How long a validator waits for an answer, milliseconds.
    pub challenge_timeout_ms: u32,
    /// Weight of a round's score in a miner's moving average, parts per million.
    pub score_smoothing_ppm: u32,
}

impl TaskSpec {
    /// The standard spec of `kind` with a timeout and smoothing.
    pub fn new(kind: TaskKind, challenge_timeout_ms: u32, score_smoothing_ppm: u32) -> Self {
        TaskSpec {
            kind,
            input_type: kind.input_type().into(),
            output_type: "text/plain".into(),
            metric: kind.metric(),
            challenge_timeout_ms,
            score_smoothing_ppm,
        }
    }

    /// Every field consistent with the kind and within bounds; `Err` says what is not.
    pub fn validate(&self) -> Result<(), String> {
        for (what, v) in [("input", &self.input_type), ("output", &self.output_type)] {
            if v.len() > MAX_TYPE_LEN {
                return Err(format!("{what} type is over {MAX_TYPE_LEN} bytes"));
            }
        }
        if self.input_type != self.kind.input_type() {
            return Err(format!(
                "{} takes {} input, not `{}`",
                self.kind.name(),
                self.kind.input_type(),
                self.input_type
            ));
        }
        if self.output_type != "text/plain" {
            return Err(format!(
                "output type must be text/plain, not `{}`",
                self.output_type
            ));
        }
        if self.metric != self.kind.metric() {
            return Err(format!(
                "{} is scored by {:?}, not {:?}",
                self.kind.name(),
                self.kind.metric(),
                self.metric
            ));
        }
        let (lo, hi) = TIMEOUT_MS;
        if !(lo..=hi).contains(&self.challenge_timeout_ms) {
            return Err(format!(
                "challenge timeout {} ms is outside [{lo}, {hi}]",
                self.challenge_timeout_ms
            ));
        }
        let (lo, hi) = SMOOTHING_PPM;
        if !(lo..=hi).contains(&self.score_smoothing_ppm) {
            return Err(format!(
                "score smoothing {} ppm is outside [{lo}, {hi}]",
                self.score_smoothing_ppm
            ));
        }
        Ok(())
    }
}

/// Instantiate message: the task.
pub type InstantiateMsg = TaskSpec;

/// Execute messages.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ExecuteMsg {
    /// The subnet owner (the instantiator) changes the timeout and smoothing.
    Tune {
        /// New challenge timeout, milliseconds.
        challenge_timeout_ms: u32,
        /// New score smoothing, ppm.
        score_smoothing_ppm: u32,
    },
}

/// Query messages.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum QueryMsg {
    /// The task, borsh [`TaskSpec`].
    Task,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_specs_validate_and_bad_ones_say_why() {
        for kind in TaskKind::ALL {
            assert_eq!(TaskKind::from_name(kind.name()), Some(kind));
            assert_eq!(TaskSpec::new(kind, 10_000, 200_000).validate(), Ok(()));
        }
        assert_eq!(TaskKind::from_name("speech"), None);
        let good = TaskSpec::new(TaskKind::SpeechToText, 10_000, 200_000);
        type Breaker = Box<dyn Fn(&mut TaskSpec)>;
        let cases: [(&str, Breaker); 7] = [
            ("input", Box::new(|s| s.input_type = "image/png".into())),
            ("output", Box::new(|s| s.output_type = "audio/wav".into())),
            ("over", Box::new(|s| s.input_type = "a".repeat(65))),
            ("scored", Box::new(|s| s.metric = Metric::OneMinusCer)),
            ("timeout", Box::new(|s| s.challenge_timeout_ms = 99)),
            ("timeout", Box::new(|s| s.challenge_timeout_ms = 120_001)),
            ("smoothing", Box::new(|s| s.score_smoothing_ppm = 0)),
        ];
        for (word, break_it) in cases {
            let mut s = good.clone();
            break_it(&mut s);
            let e = s.validate().expect_err("refused");
            assert!(e.contains(word), "{e}");
        }
    }
}

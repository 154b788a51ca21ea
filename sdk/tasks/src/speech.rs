//! Speech to text. A challenge is 5-8 vocabulary words read by `espeak-ng` (an en-us voice
//! variant, speed and pitch drawn per challenge), resampled here to 16 kHz mono 16-bit WAV.
//!
//! The reference model is `pocketsphinx_batch` restricted by a JSGF grammar to sequences of
//! vocabulary words. Batch mode decodes the whole file as one utterance: the continuous
//! decoder's voice-activity detection splits espeak's speech and loses its first words
//! (measured: about 1 word in 3 right with `pocketsphinx_continuous` and the grammar, 3 in
//! 4 in batch mode). A low word insertion penalty (`-wip 1e-3`) stops long words being
//! heard as two short ones, and dither (`-dither yes`, seeded) keeps digital silence from
//! derailing the features. The input may be any 16-bit PCM WAV; it is resampled to 16 kHz.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use rand::{Rng, RngCore};

use crate::process::{self, Program, read, temp_dir, write};
use crate::{TaskError, wav, words};

const ESPEAK: Program = Program {
    name: "espeak-ng",
    package: "espeak-ng",
};
const POCKETSPHINX: Program = Program {
    name: "pocketsphinx_batch",
    package: "pocketsphinx",
};
/// pocketsphinx's US English acoustic model and pronunciation dictionary.
const MODEL_DIR: &str = "/usr/share/pocketsphinx/model/en-us";
const MODEL_PACKAGE: &str = "pocketsphinx-en-us";

/// Voices: espeak's US English and some of its variants (male, female).
const VOICES: [&str; 4] = ["en-us", "en-us+m1", "en-us+m3", "en-us+f2"];
/// espeak-ng's limit for one challenge (it takes well under a second).
const ESPEAK_TIMEOUT: Duration = Duration::from_secs(30);
/// Neither program writes more than this to stdout here.
const MAX_STDOUT: usize = 1 << 20;

/// `(input WAV, truth)` of a fresh challenge.
pub(crate) fn challenge(rng: &mut impl RngCore) -> Result<(Vec<u8>, String), TaskError> {
    let count = rng.gen_range(5..=8);
    let truth = words::pick(rng, count).join(" ");
    let voice = VOICES[rng.gen_range(0..VOICES.len())];
    let speed = rng.gen_range(130..=170u32).to_string();
    let pitch = rng.gen_range(30..=70u32).to_string();
    let dir = temp_dir()?;
    let out = dir.path().join("speech.wav");
    let args: [OsString; 9] = [
        "-v".into(),
        voice.into(),
        "-s".into(),
        speed.into(),
        "-p".into(),
        pitch.into(),
        "-w".into(),
        out.clone().into(),
        truth.clone().into(),
    ];
    process::run(ESPEAK, &args, &[], None, ESPEAK_TIMEOUT, MAX_STDOUT)?;
    let pcm = wav::decode(&read(&out)?).map_err(|e| process::bad_output(ESPEAK, e))?;
    let mut pcm = wav::to_16k(&pcm);
    dither(&mut pcm.samples, rng);
    let wav = wav::encode(&pcm).map_err(|e| process::bad_output(ESPEAK, e))?;
    Ok((wav, truth))
}

/// Adds triangular dither of one least significant bit, as any recording's noise floor
/// would: espeak's pauses are exact zeros, which no microphone produces and which throw
/// pocketsphinx's features off (it then drops most words of some challenges).
fn dither(samples: &mut [i16], rng: &mut impl RngCore) {
    for s in samples {
        let noise = i16::from(rng.gen_bool(0.5)) - i16::from(rng.gen_bool(0.5));
        *s = s.saturating_add(noise);
    }
}

/// The reference model's words for the WAV file `input`.
pub(crate) fn run_reference(input: &[u8], timeout: Duration) -> Result<String, TaskError> {
    let model = Path::new(MODEL_DIR);
    if !model.join("en-us").is_dir() {
        return Err(TaskError::MissingData {
            what: format!("the acoustic model {MODEL_DIR}/en-us"),
            package: MODEL_PACKAGE,
        });
    }
    let pcm = wav::to_16k(&wav::decode(input).map_err(TaskError::BadInput)?);
    if pcm.samples.is_empty() {
        return Ok(String::new());
    }
    let dir = temp_dir()?;
    let raw: Vec<u8> = pcm.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    write(&dir.path().join("utt.raw"), &raw)?;
    write(&dir.path().join("ctl"), b"utt\n")?;
    write(&dir.path().join("words.jsgf"), grammar().as_bytes())?;
    let d = |name: &str| -> OsString { dir.path().join(name).into() };
    let m = |name: &str| -> OsString { model.join(name).into() };
    let args: [OsString; 24] = [
        "-hmm".into(),
        m("en-us"),
        "-dict".into(),
        m("cmudict-en-us.dict"),
        "-jsgf".into(),
        d("words.jsgf"),
        "-wip".into(),
        "1e-3".into(),
        "-dither".into(),
        "yes".into(),
        "-seed".into(),
        "1".into(),
        "-adcin".into(),
        "yes".into(),
        "-cepdir".into(),
        dir.path().into(),
        "-cepext".into(),
        ".raw".into(),
        "-ctl".into(),
        d("ctl"),
        "-hyp".into(),
        d("hyp"),
        "-logfn".into(),
        "/dev/null".into(),
    ];
    process::run(POCKETSPHINX, &args, &[], None, timeout, MAX_STDOUT)?;
    let hyp = read(&dir.path().join("hyp"))?;
    Ok(parse_hyp(&String::from_utf8_lossy(&hyp)))
}

/// The words of a pocketsphinx hypothesis line, `words ... (utt score)`.
fn parse_hyp(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let words = match line.rsplit_once('(') {
        Some((words, _)) => words,
        None => line,
    };
    words.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A JSGF grammar accepting one or more vocabulary words.
fn grammar() -> String {
    format!(
        "#JSGF V1.0;\ngrammar words;\npublic <s> = ( {} )+ ;\n",
        words::WORDS.join(" | ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypotheses_are_parsed() {
        assert_eq!(parse_hyp("apple river (utt -1234)\n"), "apple river");
        assert_eq!(parse_hyp(" (utt 0)\n"), "");
        assert_eq!(parse_hyp("(utt 0)\n"), "");
        assert_eq!(parse_hyp(""), "");
        assert_eq!(parse_hyp("apple"), "apple");
    }

    #[test]
    fn the_grammar_lists_every_word() {
        let g = grammar();
        assert!(g.starts_with("#JSGF V1.0;"));
        assert!(words::WORDS.iter().all(|w| g.contains(&format!(" {w} "))));
    }
}

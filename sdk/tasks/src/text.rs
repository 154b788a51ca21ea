//! Text correction. A challenge is 6-10 vocabulary words with a typo in about half of them
//! (at least one): a letter inserted, a letter deleted (words of four letters or more) or
//! two adjacent letters swapped, never giving another vocabulary word. The input is the
//! typo'd sentence as UTF-8 text; the truth is the sentence before the typos.
//!
//! The reference model is `hunspell -a -d en_US`, one normalized word per line: a word it
//! flags becomes its first suggestion that is a vocabulary word, else its first suggestion,
//! else stays as it is. A typo that happens to be an English word (`fork` for `for`) is not
//! flagged, so the reference cannot restore it.

use std::time::Duration;

use rand::{Rng, RngCore};

use crate::process::{self, Program};
use crate::{TaskError, normalize, words};

const HUNSPELL: Program = Program {
    name: "hunspell",
    package: "hunspell",
};
/// Words beyond this many in a reference input are passed through unchecked.
const MAX_WORDS: usize = 20_000;
/// Hunspell's answer per word is a line of suggestions.
const MAX_STDOUT: usize = 8 << 20;
/// Attempts at a typo that is not a vocabulary word before giving up on a word.
const TYPO_ATTEMPTS: usize = 32;

/// `(input text, truth)` of a fresh challenge.
pub(crate) fn challenge(rng: &mut impl RngCore) -> Result<(Vec<u8>, String), TaskError> {
    let count = rng.gen_range(6..=10);
    let truth = words::pick(rng, count);
    let mut typos: Vec<bool> = truth.iter().map(|_| rng.gen_bool(0.5)).collect();
    if !typos.contains(&true) {
        let i = rng.gen_range(0..typos.len());
        typos[i] = true;
    }
    let input: Vec<String> = truth
        .iter()
        .zip(&typos)
        .map(|(word, &typo)| match typo {
            true => misspell(word, rng),
            false => (*word).to_owned(),
        })
        .collect();
    Ok((input.join(" ").into_bytes(), truth.join(" ")))
}

/// `word` with one typo that is not a vocabulary word (`word` itself if none is found,
/// which needs 32 unlucky draws in a row).
fn misspell(word: &str, rng: &mut impl RngCore) -> String {
    let letters: Vec<char> = word.chars().collect();
    for _ in 0..TYPO_ATTEMPTS {
        let mut typo = letters.clone();
        match rng.gen_range(0..3) {
            0 => {
                let letter = char::from(rng.gen_range(b'a'..=b'z'));
                typo.insert(rng.gen_range(0..=typo.len()), letter);
            }
            1 if typo.len() >= 4 => {
                typo.remove(rng.gen_range(0..typo.len()));
            }
            _ if typo.len() >= 2 => {
                let i = rng.gen_range(0..typo.len() - 1);
                typo.swap(i, i + 1);
            }
            _ => continue,
        }
        let typo: String = typo.into_iter().collect();
        if typo != word && !words::is_word(&typo) {
            return typo;
        }
    }
    word.to_owned()
}

/// Hunspell's corrections of the text `input`, as normalized words.
pub(crate) fn run_reference(input: &[u8], timeout: Duration) -> Result<String, TaskError> {
    let text = String::from_utf8_lossy(input);
    let mut words = normalize(&text);
    let rest = words.split_off(words.len().min(MAX_WORDS));
    if words.is_empty() {
        return Ok(rest.join(" "));
    }
    // `^` makes hunspell read each line as text, never as one of its commands.
    let stdin: String = words.iter().map(|w| format!("^{w}\n")).collect();
    let args = ["-a", "-i", "utf-8", "-d", "en_US"];
    let out = process::run(
        HUNSPELL,
        &args,
        &[],
        Some(stdin.into_bytes()),
        timeout,
        MAX_STDOUT,
    )
    .map_err(missing_dictionary)?;
    let out = String::from_utf8_lossy(&out);
    let mut answers = corrections(&out);
    let fixed: Vec<String> = words
        .into_iter()
        .map(|word| answers.next().flatten().unwrap_or(word))
        .chain(rest)
        .collect();
    Ok(fixed.join(" "))
}

/// Per input line of hunspell's `-a` output: `Some(correction)` for a flagged word with
/// suggestions, `None` otherwise. After the version banner, each input line's results
/// (none or more lines) end with an empty line.
fn corrections(out: &str) -> impl Iterator<Item = Option<String>> + '_ {
    let mut lines = out.lines().skip(1);
    std::iter::from_fn(move || {
        let mut flagged = None;
        let mut any = false;
        for line in lines.by_ref() {
            if line.is_empty() {
                return Some(flagged.and_then(correction));
            }
            any = true;
            if flagged.is_none() && line.starts_with('&') {
                flagged = Some(line);
            }
        }
        // Output cut short: a last unterminated block still counts.
        any.then(|| flagged.and_then(correction))
    })
}

/// The correction in a `& word count offset: s1, s2, ...` line: the first suggestion that
/// is a vocabulary word, else the first suggestion (normalized).
fn correction(line: &str) -> Option<String> {
    let (_, list) = line.split_once(": ")?;
    let suggestions: Vec<String> = list
        .split(", ")
        .map(|s| normalize(s).join(" "))
        .filter(|s| !s.is_empty())
        .collect();
    let preferred = suggestions.iter().find(|s| words::is_word(s));
    preferred.or(suggestions.first()).cloned()
}

/// Hunspell without an `en_US` dictionary fails; say which package provides it.
fn missing_dictionary(err: TaskError) -> TaskError {
    match err {
        TaskError::Failed { stderr, .. } if stderr.contains("Can't open affix or dictionary") => {
            TaskError::MissingData {
                what: "hunspell's en_US dictionary".into(),
                package: "hunspell-en-us",
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn typos_are_never_vocabulary_words() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for word in words::WORDS {
            for _ in 0..20 {
                let typo = misspell(word, &mut rng);
                assert_ne!(typo, word);
                assert!(!words::is_word(&typo), "{word} -> {typo}");
                assert!(typo.len().abs_diff(word.len()) <= 1, "{word} -> {typo}");
            }
        }
    }

    #[test]
    fn challenges_have_typos_in_about_half_the_words() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let (mut typos, mut total) = (0, 0);
        for _ in 0..200 {
            let (input, truth) = challenge(&mut rng).expect("text challenges need no program");
            let input = String::from_utf8(input).expect("UTF-8");
            let (input, truth) = (normalize(&input), normalize(&truth));
            assert_eq!(input.len(), truth.len());
            assert!((6..=10).contains(&truth.len()));
            let changed = input.iter().zip(&truth).filter(|(a, b)| a != b).count();
            assert!(changed >= 1);
            (typos, total) = (typos + changed, total + truth.len());
        }
        assert!(
            (0.4..0.6).contains(&(typos as f64 / total as f64)),
            "{typos}/{total}"
        );
    }

    #[test]
    fn hunspell_output_is_parsed_per_line() {
        let out = "@(#) International Ispell Version 3.2.06 (but really Hunspell 1.7.1)\n\
                   & aple 11 1: pale, ape, maple, apple, plea\n\n\
                   *\n\n\
                   # xqzt 1\n\n\
                   & bananna 2 1: Ban Anna, banana\n\n\
                   & wrd 2 1: Word's, ward\n\n";
        let got: Vec<Option<String>> = corrections(out).collect();
        let want: [Option<String>; 5] = [
            Some("apple".into()),
            None,
            None,
            Some("banana".into()),
            Some("words".into()),
        ];
        assert_eq!(got, want);
        // A line with no result is an empty block: the alignment holds.
        let got: Vec<_> = corrections("banner\n*\n\n\n& wrd 1 0: word\n\n").collect();
        assert_eq!(got, [None, None, Some("word".into())]);
        assert_eq!(corrections("").count(), 0);
        assert_eq!(corrections("banner\n& x").collect::<Vec<_>>(), [None]);
    }
}

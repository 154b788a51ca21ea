//! The metrics, in integer parts per million: `1 - WER` (word Levenshtein), `1 - CER`
//! (character Levenshtein) and words restored (position by position), all over
//! [`normalize`]d text. Levenshtein keeps one row (memory of the shorter side).
//!
//! Work is bounded whatever the answer: the truth is read up to [`MAX_TRUTH_BYTES`] (a
//! longer truth and its answer are both cut there), the answer up to four times the truth's
//! bytes (plus a little) and then four times its words or characters. Past twice the
//! truth's length an answer already scores 0 by WER and CER (the distance is at least the
//! length difference), so the cut changes no score there; an answer that hides its words
//! after a long run of filler loses them. No floats, no panics.

use taochain_arena_msg::Metric;

use crate::SCORE_SCALE;

/// The most bytes of a truth that are scored (challenges' truths are far shorter).
const MAX_TRUTH_BYTES: usize = 4096;
/// An answer is compared up to this many times the truth's length.
const ANSWER_FACTOR: usize = 4;
/// Slack added to the answer's byte budget, so a short truth still allows some spacing.
const ANSWER_SLACK_BYTES: usize = 64;

/// `text` as lowercase words with punctuation stripped: split on whitespace, keep only
/// alphanumeric characters (lowercased), drop tokens left empty.
pub fn normalize(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|token| {
            token
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .collect()
}

/// `answer`'s score against `truth` by `metric`, in `0..=SCORE_SCALE`.
pub(crate) fn score(metric: Metric, truth: &str, answer: &str) -> u32 {
    let budget = if truth.len() > MAX_TRUTH_BYTES {
        // Both are cut at the same place: the prefixes are compared.
        MAX_TRUTH_BYTES
    } else {
        truth.len() * ANSWER_FACTOR + ANSWER_SLACK_BYTES
    };
    let truth = prefix(truth, MAX_TRUTH_BYTES);
    let answer = prefix(answer, budget);
    let (truth, answer) = (normalize(truth), normalize(answer));
    match metric {
        Metric::OneMinusWer => one_minus_error(&truth, &answer),
        Metric::OneMinusCer => one_minus_error(&chars(&truth), &chars(&answer)),
        Metric::WordsRestored => words_restored(&truth, &answer),
    }
}

/// `max(0, 1 - distance / |truth|)` in ppm; an empty truth is matched only by nothing.
fn one_minus_error<T: PartialEq>(truth: &[T], answer: &[T]) -> u32 {
    if truth.is_empty() {
        return if answer.is_empty() { SCORE_SCALE } else { 0 };
    }
    let cap = truth.len().saturating_mul(ANSWER_FACTOR);
    let answer = &answer[..answer.len().min(cap)];
    let distance = levenshtein(truth, answer);
    ratio(truth.len().saturating_sub(distance), truth.len())
}

/// The share of truth words equal to the answer's word at the same index, in ppm.
fn words_restored(truth: &[String], answer: &[String]) -> u32 {
    if truth.is_empty() {
        return if answer.is_empty() { SCORE_SCALE } else { 0 };
    }
    let same = truth.iter().zip(answer).filter(|(t, a)| t == a).count();
    ratio(same, truth.len())
}

/// `floor(part * SCORE_SCALE / whole)`, for `part <= whole` and `whole > 0`.
fn ratio(part: usize, whole: usize) -> u32 {
    let (part, whole) = (part as u64, whole as u64);
    let ppm = part.min(whole) * u64::from(SCORE_SCALE) / whole.max(1);
    u32::try_from(ppm).unwrap_or(SCORE_SCALE)
}

/// The words' characters, words separated by single spaces.
fn chars(words: &[String]) -> Vec<char> {
    words.join(" ").chars().collect()
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

/// The edit distance (insertions, deletions, substitutions, each 1) between `a` and `b`,
/// in `O(|a| * |b|)` time and `O(min(|a|, |b|))` memory.
pub(crate) fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut row: Vec<usize> = (0..=short.len()).collect();
    for (i, x) in long.iter().enumerate() {
        let mut diagonal = i;
        row[0] = i + 1;
        for (j, y) in short.iter().enumerate() {
            let substitute = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(diagonal + 1).min(row[j] + 1);
        }
    }
    row[short.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const WER: Metric = Metric::OneMinusWer;
    const CER: Metric = Metric::OneMinusCer;
    const RESTORED: Metric = Metric::WordsRestored;

    #[test]
    fn normalize_lowercases_and_strips_punctuation() {
        assert_eq!(
            normalize("  Hello, World!\tIt's 42 "),
            ["hello", "world", "its", "42"]
        );
        assert_eq!(normalize("... -- !"), Vec::<String>::new());
        assert_eq!(normalize("ÉCOLE straße"), ["école", "straße"]);
        assert_eq!(normalize("İ"), ["i\u{307}"]);
        assert_eq!(normalize("a\u{0}b \u{200b}\u{feff} c\u{301}"), ["ab", "c"]);
    }

    #[test]
    fn levenshtein_counts_edits() {
        let d = |a: &str, b: &str| levenshtein(a.as_bytes(), b.as_bytes());
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("sitting", "kitten"), 3);
        assert_eq!(d("flaw", "lawn"), 2);
        assert_eq!(d("abcdef", "abcdef"), 0);
        assert_eq!(d("ab", "ba"), 2);
    }

    #[test]
    fn scores_are_exact_ppm() {
        let truth = "apple river window garden";
        let cases: &[(Metric, &str, u32)] = &[
            (WER, "apple river window garden", 1_000_000),
            (WER, "Apple, RIVER window garden.", 1_000_000),
            (WER, "apple river window", 750_000),
            (WER, "apple rover window garden", 750_000),
            (WER, "apple window garden river", 500_000),
            (WER, "apple river window garden apple", 750_000),
            (WER, "", 0),
            (WER, "x y z w v u t s", 0),
            (RESTORED, "apple river window garden", 1_000_000),
            (RESTORED, "apple rivr window gardn", 500_000),
            (RESTORED, "river window garden", 0),
            (RESTORED, "apple river window garden extra words", 1_000_000),
            (RESTORED, "apple", 250_000),
            (RESTORED, "", 0),
            (CER, "apple river window garden", 1_000_000),
            (CER, "", 0),
        ];
        for &(metric, answer, want) in cases {
            assert_eq!(score(metric, truth, answer), want, "{metric:?} {answer:?}");
        }
        // 1 edit over 11 characters ("hello word" vs "hello world"), floored ppm.
        assert_eq!(score(CER, "hello world", "hello word"), 909_090);
        assert_eq!(score(CER, "ab", "ab cd"), 0);
        assert_eq!(score(WER, "one two three", "one too three"), 666_666);
    }

    #[test]
    fn an_empty_truth_is_matched_only_by_nothing() {
        for metric in [WER, CER, RESTORED] {
            assert_eq!(score(metric, "", ""), SCORE_SCALE);
            assert_eq!(score(metric, " ,. ", "!"), SCORE_SCALE);
            assert_eq!(score(metric, "", "word"), 0);
        }
    }

    #[test]
    fn garbage_scores_low_and_never_panics() {
        let truth = "quick brown";
        let garbage = [
            "\u{0}\u{1}\u{7f}",
            "\u{fffd}\u{fffd}",
            "𝔮𝔲𝔦𝔠𝔨 🦀🦀",
            "\u{202e}nworb kciuq",
            "a\u{301}\u{301}\u{301}\u{301}",
            "ǅ ǈ ǋ ß ﬃ",
        ];
        for answer in garbage {
            for metric in [WER, CER, RESTORED] {
                let s = score(metric, truth, answer);
                assert!(s < SCORE_SCALE / 2, "{metric:?} {answer:?}: {s}");
                // The same strings as truths must not panic either.
                assert!(score(metric, answer, truth) <= SCORE_SCALE);
                assert!(score(metric, answer, answer) <= SCORE_SCALE);
            }
        }
    }

    #[test]
    fn a_huge_answer_is_cut_and_costs_little() {
        let truth = "apple river window garden";
        let huge = format!("{truth} {}", "banana ".repeat(2_000_000));
        assert_eq!(score(WER, truth, &huge), 0);
        assert_eq!(score(CER, truth, &huge), 0);
        assert_eq!(score(RESTORED, truth, &huge), SCORE_SCALE);
        // A multi-byte character straddling the cut is dropped, not split.
        let wide = "é".repeat(5_000_000);
        assert_eq!(score(CER, truth, &wide), 0);
        // A huge truth is cut too, and its answer at the same place.
        let long_truth = "word ".repeat(1_000_000);
        assert_eq!(score(WER, &long_truth, &long_truth), SCORE_SCALE);
        assert_eq!(score(CER, &long_truth, &long_truth), SCORE_SCALE);
        assert_eq!(score(CER, &long_truth, ""), 0);
    }

    #[test]
    fn the_cut_preserves_scores_of_answers_up_to_twice_the_truth() {
        let truth = "a b c d";
        assert_eq!(score(WER, truth, "a b c d e f g h"), 0);
        assert_eq!(score(WER, truth, "a b c d e"), 750_000);
    }
}

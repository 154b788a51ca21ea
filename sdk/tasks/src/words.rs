//! The vocabulary every challenge draws from: 230 common English words, each in the
//! hunspell `en_US` dictionary and in pocketsphinx's `cmudict-en-us` (the integration tests
//! check both), distinct, of four to nine letters, none a homophone of another (so a spoken
//! word has one spelling). Only lowercase ASCII letters, so a word is its own normalized
//! form.

use rand::RngCore;
use rand::seq::SliceRandom;

/// The vocabulary.
pub(crate) const WORDS: [&str; 230] = [
    "apple",
    "banana",
    "river",
    "mountain",
    "window",
    "garden",
    "yellow",
    "purple",
    "orange",
    "silver",
    "golden",
    "happy",
    "simple",
    "quick",
    "gentle",
    "bright",
    "quiet",
    "little",
    "summer",
    "winter",
    "autumn",
    "morning",
    "evening",
    "doctor",
    "teacher",
    "farmer",
    "sailor",
    "pilot",
    "rocket",
    "planet",
    "ocean",
    "island",
    "forest",
    "desert",
    "valley",
    "castle",
    "bridge",
    "tower",
    "market",
    "village",
    "city",
    "pocket",
    "basket",
    "bottle",
    "candle",
    "pencil",
    "paper",
    "letter",
    "number",
    "music",
    "guitar",
    "piano",
    "violin",
    "drum",
    "tiger",
    "lion",
    "zebra",
    "monkey",
    "rabbit",
    "turtle",
    "dolphin",
    "eagle",
    "parrot",
    "spider",
    "horse",
    "camel",
    "donkey",
    "kitten",
    "puppy",
    "chicken",
    "dragon",
    "butter",
    "cheese",
    "bread",
    "honey",
    "lemon",
    "cherry",
    "melon",
    "tomato",
    "potato",
    "carrot",
    "pepper",
    "coffee",
    "water",
    "juice",
    "pizza",
    "salad",
    "cookie",
    "table",
    "chair",
    "blanket",
    "pillow",
    "mirror",
    "ladder",
    "hammer",
    "jacket",
    "button",
    "ribbon",
    "wallet",
    "camera",
    "engine",
    "wagon",
    "tractor",
    "bicycle",
    "airplane",
    "jump",
    "swim",
    "dance",
    "sing",
    "read",
    "build",
    "carry",
    "follow",
    "listen",
    "open",
    "travel",
    "visit",
    "wonder",
    "whisper",
    "gather",
    "borrow",
    "remember",
    "explain",
    "finish",
    "begin",
    "answer",
    "brave",
    "clever",
    "lucky",
    "friendly",
    "heavy",
    "empty",
    "famous",
    "modern",
    "narrow",
    "hollow",
    "frozen",
    "wooden",
    "tiny",
    "giant",
    "humble",
    "noble",
    "rapid",
    "steady",
    "tender",
    "wild",
    "calm",
    "proud",
    "sharp",
    "smooth",
    "coin",
    "crown",
    "shadow",
    "thunder",
    "rainbow",
    "cloud",
    "storm",
    "snow",
    "sunset",
    "moon",
    "star",
    "comet",
    "galaxy",
    "meadow",
    "harbor",
    "canyon",
    "glacier",
    "volcano",
    "jungle",
    "lantern",
    "compass",
    "anchor",
    "helmet",
    "saddle",
    "kettle",
    "oven",
    "spoon",
    "fork",
    "plate",
    "napkin",
    "cabin",
    "palace",
    "temple",
    "school",
    "office",
    "museum",
    "library",
    "station",
    "airport",
    "hospital",
    "factory",
    "kitchen",
    "bedroom",
    "garage",
    "fence",
    "gate",
    "road",
    "street",
    "highway",
    "tunnel",
    "signal",
    "machine",
    "robot",
    "puzzle",
    "riddle",
    "story",
    "poem",
    "novel",
    "picture",
    "painting",
    "statue",
    "festival",
    "holiday",
    "birthday",
    "picnic",
    "journey",
    "adventure",
    "treasure",
    "diamond",
    "crystal",
    "marble",
    "copper",
    "iron",
    "velvet",
    "cotton",
    "leather",
    "seven",
    "twelve",
    "hundred",
    "thousand",
];

/// Whether `word` is in the vocabulary.
pub(crate) fn is_word(word: &str) -> bool {
    WORDS.contains(&word)
}

/// `n` distinct words drawn uniformly (all of them if `n` is over the vocabulary's size).
pub(crate) fn pick(rng: &mut impl RngCore, n: usize) -> Vec<&'static str> {
    WORDS.choose_multiple(rng, n).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn words_are_distinct_lowercase_and_short() {
        let mut sorted = WORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), WORDS.len(), "duplicate words");
        assert!((150..=250).contains(&WORDS.len()));
        for w in WORDS {
            assert!(w.bytes().all(|b| b.is_ascii_lowercase()), "{w}");
            assert!((4..=9).contains(&w.len()), "{w}");
        }
    }

    #[test]
    fn pick_draws_distinct_vocabulary_words() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let words = pick(&mut rng, 10);
        assert_eq!(words.len(), 10);
        assert!(words.iter().all(|w| is_word(w)));
        let mut sorted = words.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        assert!(!is_word("aple"));
    }

    #[test]
    fn every_word_is_in_hunspell_en_us_and_in_cmudict() {
        let program = crate::process::Program {
            name: "hunspell",
            package: "hunspell",
        };
        let stdin = WORDS.join("\n").into_bytes();
        let limit = std::time::Duration::from_secs(30);
        let unknown = crate::process::run(
            program,
            &["-l", "-d", "en_US"],
            &[],
            Some(stdin),
            limit,
            1 << 16,
        )
        .expect("hunspell and hunspell-en-us are installed");
        assert_eq!(
            String::from_utf8_lossy(&unknown),
            "",
            "words hunspell does not know"
        );
        let dict =
            std::fs::read_to_string("/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict")
                .expect("pocketsphinx-en-us is installed");
        let known: std::collections::BTreeSet<&str> = dict
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let missing: Vec<_> = WORDS.iter().filter(|w| !known.contains(*w)).collect();
        assert!(missing.is_empty(), "not in cmudict: {missing:?}");
    }
}

//! The gating rule of the mixture of experts, in one place: which task an input is for,
//! and which experts a request passes through. A gateway's router (`POST /v1/ask`) and
//! `tao ai ask --route auto` both call [`route`], so the client signs a voucher for exactly
//! the subnets the gateway will use.
//!
//! | input | detected by | route |
//! |-------|-------------|-------|
//! | audio | `RIFF....WAVE` header | speech-to-text, then text-correction |
//! | image | the PNG signature | image-to-text, then text-correction |
//! | text  | valid UTF-8 with a letter, no control bytes but whitespace | text-correction |
//!
//! Speech and images of text are chained into text correction: a transcript or a page read
//! by OCR is text that may carry the first expert's mistakes, and the text expert repairs
//! words. Anything else is refused with a reason.

use taochain_arena_msg::TaskKind;

/// The longest text input routed (bytes); longer text is not a question but a document.
pub const MAX_TEXT_BYTES: usize = 4096;

/// The task an input's bytes are for; `Err` says why none is.
pub fn input_kind(input: &[u8]) -> Result<TaskKind, String> {
    if input.len() >= 12 && &input[..4] == b"RIFF" && &input[8..12] == b"WAVE" {
        return Ok(TaskKind::SpeechToText);
    }
    if input.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(TaskKind::ImageToText);
    }
    if input.is_empty() {
        return Err("the input is empty".into());
    }
    if input.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "the input is neither a WAV nor a PNG, and as text it is over {MAX_TEXT_BYTES} bytes"
        ));
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| "the input is neither a WAV, a PNG nor UTF-8 text".to_string())?;
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err("the text has control characters".into());
    }
    if !text.chars().any(char::is_alphabetic) {
        return Err("the text has no words".into());
    }
    Ok(TaskKind::TextCorrection)
}

/// The experts an input passes through, in order.
pub fn route(input: &[u8]) -> Result<Vec<TaskKind>, String> {
    Ok(match input_kind(input)? {
        TaskKind::SpeechToText => vec![TaskKind::SpeechToText, TaskKind::TextCorrection],
        TaskKind::ImageToText => vec![TaskKind::ImageToText, TaskKind::TextCorrection],
        TaskKind::TextCorrection => vec![TaskKind::TextCorrection],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_input_takes_its_route() {
        let wav = crate::challenge(TaskKind::SpeechToText, &mut rand::rngs::OsRng);
        // The speech challenge needs espeak-ng; a bare RIFF header is enough for the gate.
        let wav = wav.map_or_else(|_| b"RIFF\0\0\0\0WAVEfmt ".to_vec(), |c| c.input);
        assert_eq!(
            route(&wav),
            Ok(vec![TaskKind::SpeechToText, TaskKind::TextCorrection])
        );
        let png = crate::challenge(TaskKind::ImageToText, &mut rand::rngs::OsRng)
            .expect("image challenge")
            .input;
        assert_eq!(
            route(&png),
            Ok(vec![TaskKind::ImageToText, TaskKind::TextCorrection])
        );
        assert_eq!(
            route("teh quick brwn fox\n".as_bytes()),
            Ok(vec![TaskKind::TextCorrection])
        );
    }

    #[test]
    fn inputs_no_expert_takes_are_refused_with_a_reason() {
        for (bad, why) in [
            (&b""[..], "empty"),
            (&b"\xff\xfe\x00garbage"[..], "UTF-8"),
            (&b"12345 !!"[..], "no words"),
            (&b"hello\x07world"[..], "control"),
            (&b"RIFF\0\0\0\0WAVX"[..], "control"),
        ] {
            let e = route(bad).expect_err("refused");
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        let long = "a".repeat(MAX_TEXT_BYTES + 1);
        assert!(route(long.as_bytes()).expect_err("long").contains("over"));
        assert!(route("a".repeat(MAX_TEXT_BYTES).as_bytes()).is_ok());
    }
}

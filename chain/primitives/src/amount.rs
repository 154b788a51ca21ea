//! Amounts: `u64` rao, 1 TAO = 10^9 rao. Parsing and printing of the `1.5TAO` and
//! `1500rao` forms the CLI accepts.

use alloc::format;
use alloc::string::String;

/// rao per TAO.
pub const RAO_PER_TAO: u64 = 1_000_000_000;

/// Why a string is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// No unit, or an unknown one.
    #[error("amount `{0}` needs a unit: e.g. `1.5TAO` or `1500rao`")]
    MissingUnit(String),
    /// Digits that do not parse.
    #[error("amount `{0}` is not a number")]
    NotANumber(String),
    /// More than 9 decimals of TAO.
    #[error("amount `{0}` has more than 9 decimals (1 rao = 0.000000001 TAO)")]
    TooPrecise(String),
    /// Larger than u64::MAX rao.
    #[error("amount `{0}` does not fit in u64 rao")]
    Overflow(String),
}

/// Parses `1.5TAO`, `1.5 tao`, `1500rao` (case-insensitive units).
pub fn parse_amount(input: &str) -> Result<u64, AmountError> {
    let s = input.trim();
    let lower = s.to_ascii_lowercase();
    if let Some(num) = lower.strip_suffix("rao") {
        let num = num.trim();
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotANumber(s.into()));
        }
        return num
            .parse::<u64>()
            .map_err(|_| AmountError::Overflow(s.into()));
    }
    let Some(num) = lower.strip_suffix("tao") else {
        return Err(AmountError::MissingUnit(s.into()));
    };
    let num = num.trim();
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits_ok(whole) || !digits_ok(frac) {
        return Err(AmountError::NotANumber(s.into()));
    }
    if frac.len() > 9 {
        return Err(AmountError::TooPrecise(s.into()));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| AmountError::Overflow(s.into()))?
    };
    let mut frac_rao: u64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        let digit = u64::from(b - b'0');
        frac_rao += digit * 10u64.pow(8 - i as u32);
    }
    whole
        .checked_mul(RAO_PER_TAO)
        .and_then(|r| r.checked_add(frac_rao))
        .ok_or_else(|| AmountError::Overflow(s.into()))
}

/// Prints rao as TAO with the trailing zeros of the fraction trimmed: `1.5TAO`, `0TAO`.
pub fn format_tao(rao: u64) -> String {
    let whole = rao / RAO_PER_TAO;
    let frac = rao % RAO_PER_TAO;
    if frac == 0 {
        return format!("{whole}TAO");
    }
    let frac = format!("{frac:09}");
    format!("{whole}.{}TAO", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_forms() {
        let cases: &[(&str, u64)] = &[
            ("1.5TAO", 1_500_000_000),
            ("1.5 tao", 1_500_000_000),
            ("0.000000001TAO", 1),
            (".5TAO", 500_000_000),
            ("7TAO", 7_000_000_000),
            ("1500rao", 1500),
            ("0rao", 0),
            ("18446744073709551615rao", u64::MAX),
        ];
        for (text, rao) in cases {
            assert_eq!(parse_amount(text), Ok(*rao), "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_amount() {
        assert!(matches!(
            parse_amount("1.5"),
            Err(AmountError::MissingUnit(_))
        ));
        assert!(matches!(
            parse_amount("abcTAO"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            parse_amount("-1TAO"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            parse_amount("1.5rao"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            parse_amount("0.0000000001TAO"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(
            parse_amount("18446744073709551616rao"),
            Err(AmountError::Overflow(_))
        ));
        assert!(matches!(
            parse_amount("18446744074TAO"),
            Err(AmountError::Overflow(_))
        ));
    }

    #[test]
    fn formats_and_roundtrips() {
        assert_eq!(format_tao(1_500_000_000), "1.5TAO");
        assert_eq!(format_tao(0), "0TAO");
        assert_eq!(format_tao(1), "0.000000001TAO");
        for rao in [0, 1, 59, 999_999_999, 1_000_000_000, u64::MAX] {
            assert_eq!(parse_amount(&format_tao(rao)), Ok(rao));
        }
    }
}

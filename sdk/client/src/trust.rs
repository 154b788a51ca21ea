//! Trust anchors for the light client: where trust in a chain's validators starts. Either
//! a genesis file the caller holds locally (its validator set and chain id), or a header
//! hash at some height the caller got out of band. Never the RPC node being checked.
//! Also the verification options (trusting period, clock drift, trust threshold).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tendermint::{Time, chain, validator};
use tendermint_light_client_verifier::types::{TrustThreshold, ValidatorSet};

use crate::ClientError;
use crate::rpc::{from_json, one_line, validator_set_from};

/// The default trusting period: how old the anchor's header may be (two weeks, the
/// usual Cosmos choice, below any unbonding period a validator could run away in).
pub const DEFAULT_TRUSTING_PERIOD: Duration = Duration::from_secs(14 * 24 * 3600);
/// The default clock drift: how far a header's time may be ahead of this machine's clock.
pub const DEFAULT_CLOCK_DRIFT: Duration = Duration::from_secs(10);

/// Where trust starts.
#[derive(Debug, Clone)]
pub enum TrustAnchor {
    /// The validators of a genesis file read locally.
    Genesis(Box<GenesisAnchor>),
    /// The hash of the header at `height`, got out of band (a block explorer you trust,
    /// another node you run, a validator operator).
    Header {
        /// The header's height.
        height: u64,
        /// The header's hash (the block id hash).
        hash: [u8; 32],
    },
}

/// A genesis file's chain id, time, initial height and validator set.
#[derive(Debug, Clone)]
pub struct GenesisAnchor {
    /// Where it was read from (shown to the user).
    pub source: String,
    /// The chain id.
    pub chain_id: chain::Id,
    /// `genesis_time`.
    pub time: Time,
    /// The first block's height (`initial_height`, 1 unless the genesis says otherwise).
    pub initial_height: u64,
    /// The genesis validators.
    pub validators: ValidatorSet,
}

/// How headers are checked.
#[derive(Debug, Clone, Copy)]
pub struct TrustOptions {
    /// How long a trusted header (the anchor, or one verified from it) stays trusted.
    pub trusting_period: Duration,
    /// How far a header's time may be ahead of this machine's clock.
    pub clock_drift: Duration,
    /// The share of a trusted validator set that must sign a header skipped to (1/3:
    /// at least one honest validator).
    pub trust_threshold: TrustThreshold,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            trusting_period: DEFAULT_TRUSTING_PERIOD,
            clock_drift: DEFAULT_CLOCK_DRIFT,
            trust_threshold: TrustThreshold::ONE_THIRD,
        }
    }
}

/// An anchor and the options to verify headers from it.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Where trust starts.
    pub anchor: TrustAnchor,
    /// How headers are checked.
    pub options: TrustOptions,
}

impl Trust {
    /// `anchor` with the default options.
    pub fn new(anchor: TrustAnchor) -> Self {
        Trust {
            anchor,
            options: TrustOptions::default(),
        }
    }

    /// The same trust with another trusting period.
    pub fn with_trusting_period(mut self, period: Duration) -> Self {
        self.options.trusting_period = period;
        self
    }
}

/// What a verified value was checked against, to show the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnchorInfo {
    /// A genesis file.
    Genesis {
        /// Where it was read from.
        source: String,
        /// Its chain id.
        chain_id: String,
    },
    /// A header hash.
    Header {
        /// The header's height.
        height: u64,
        /// The header's hash (hex).
        hash: String,
    },
}

impl fmt::Display for AnchorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnchorInfo::Genesis { source, chain_id } => {
                write!(f, "genesis {source} (chain {chain_id})")
            }
            AnchorInfo::Header { height, hash } => write!(f, "header {height} hash {hash}"),
        }
    }
}

impl TrustAnchor {
    /// Reads a genesis file (CometBFT `genesis.json`).
    pub fn genesis_file(path: &Path) -> Result<Self, ClientError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ClientError::Input(format!("cannot read genesis file {}: {e}", path.display()))
        })?;
        Self::genesis_json(&text, &path.display().to_string())
    }

    /// Parses a genesis document; `source` says where it came from.
    pub fn genesis_json(text: &str, source: &str) -> Result<Self, ClientError> {
        let bad = |what: String| ClientError::Input(format!("genesis {source}: {what}"));
        let doc: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {}", one_line(&e))))?;
        let text_of = |key: &str| {
            doc.get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("no `{key}` string")))
        };
        let chain_id = chain::Id::try_from(text_of("chain_id")?.to_string())
            .map_err(|e| bad(format!("bad chain id: {}", one_line(&e))))?;
        let time = text_of("genesis_time")?;
        let time = Time::parse_from_rfc3339(time)
            .map_err(|e| bad(format!("bad genesis_time `{time}`: {}", one_line(&e))))?;
        let initial_height = match doc.get("initial_height") {
            None | Some(Value::Null) => 1,
            Some(Value::String(s)) => s
                .parse::<u64>()
                .map_err(|_| bad(format!("bad initial_height `{s}`")))?,
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| bad(format!("bad initial_height {n}")))?,
            Some(other) => return Err(bad(format!("bad initial_height {other}"))),
        }
        .max(1);
        let validators: Vec<validator::Info> = doc
            .get("validators")
            .ok_or_else(|| bad("no `validators`".into()))
            .and_then(|v| from_json(v).map_err(|e| bad(format!("validators: {e}"))))?;
        if validators.is_empty() {
            return Err(bad(
                "lists no validators (the app sets them at InitChain); anchor on a header instead"
                    .into(),
            ));
        }
        let validators =
            validator_set_from(validators).map_err(|e| bad(format!("validators: {e}")))?;
        Ok(TrustAnchor::Genesis(Box::new(GenesisAnchor {
            source: source.to_string(),
            chain_id,
            time,
            initial_height,
            validators,
        })))
    }

    /// A header anchor from a height and a hex hash.
    pub fn header(height: u64, hex_hash: &str) -> Result<Self, ClientError> {
        let hash = hex::decode(hex_hash.trim())
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| {
                ClientError::Input(format!(
                    "trusted hash `{hex_hash}` is not a 32-byte hex header hash"
                ))
            })?;
        if height == 0 {
            return Err(ClientError::Input(
                "trusted height must be at least 1".into(),
            ));
        }
        Ok(TrustAnchor::Header { height, hash })
    }

    /// What to show the user.
    pub fn info(&self) -> AnchorInfo {
        match self {
            TrustAnchor::Genesis(g) => AnchorInfo::Genesis {
                source: g.source.clone(),
                chain_id: g.chain_id.to_string(),
            },
            TrustAnchor::Header { height, hash } => AnchorInfo::Header {
                height: *height,
                hash: hex::encode_upper(hash),
            },
        }
    }
}

/// Parses a duration: a number with a unit `s`, `m`, `h`, `d` or `w` (`14d`, `36h`), or
/// plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("duration `{text}` must be a number with s, m, h, d or w"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        "w" => n.checked_mul(7 * 86_400),
        _ => {
            return Err(format!(
                "duration `{text}`: unknown unit `{unit}` (s, m, h, d, w)"
            ));
        }
    };
    secs.map(Duration::from_secs)
        .ok_or_else(|| format!("duration `{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("14d"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("3h"), Ok(Duration::from_secs(3 * 3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999w").is_err());
    }

    #[test]
    fn header_anchors_need_a_32_byte_hash_and_a_height() {
        assert!(TrustAnchor::header(3, &"ab".repeat(32)).is_ok());
        assert!(TrustAnchor::header(3, "abcd").is_err());
        assert!(TrustAnchor::header(0, &"ab".repeat(32)).is_err());
    }

    #[test]
    fn a_malformed_genesis_is_one_clear_error() {
        for text in [
            "",
            "{}",
            r#"{"chain_id": "c", "genesis_time": "nope", "validators": []}"#,
            r#"{"chain_id": "c", "genesis_time": "2024-01-01T00:00:00Z", "validators": []}"#,
            r#"{"chain_id": "c", "genesis_time": "2024-01-01T00:00:00Z", "validators": [{"pub_key": 5}]}"#,
        ] {
            let e = TrustAnchor::genesis_json(text, "g.json")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.starts_with("genesis g.json: ") && !e.contains('\n'),
                "{e}"
            );
        }
    }
}

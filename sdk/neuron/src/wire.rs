//! The axon protocol (version 1, `AXON_PROTOCOL_V1` on chain): what a validator sends to
//! a miner and what comes back, and the two signatures that bind them.
//!
//! `POST /v1/subnets/{netuid}/challenge` with a JSON [`ChallengeRequest`] body and the
//! headers of [`RequestAuth`]. The validator signs [`request_digest`]: sha256 of a domain,
//! the chain id, the netuid, the *miner's* hotkey (so a miner cannot relay a challenge to
//! another miner and copy its answer), the body's sha256 (also sent as a header, so the
//! signature is checked before the body is read), a nonce and a timestamp. The
//! miner answers a JSON [`ChallengeResponse`] signed over [`response_digest`] (the chain,
//! netuid, the validator's hotkey, the request's nonce and the body's sha256), so a
//! validator knows which hotkey answered. Every refusal is a 4xx with a one-line reason.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use taochain_arena_msg::TaskKind;
use taochain_primitives::Address;

/// Header: the signer's ed25519 public key, hex.
pub const H_KEY: &str = "x-tao-key";
/// Header: the request's nonce, decimal.
pub const H_NONCE: &str = "x-tao-nonce";
/// Header: the request's time, unix milliseconds.
pub const H_TIME: &str = "x-tao-timestamp";
/// Header: the ed25519 signature, hex.
pub const H_SIG: &str = "x-tao-signature";
/// Header: the request body's sha256, hex (signed; the body must match it).
pub const H_BODY: &str = "x-tao-body-sha256";

/// Domain of a request signature.
pub const REQUEST_DOMAIN: &[u8] = b"taochain-axon-request-v1";
/// Domain of a response signature.
pub const RESPONSE_DOMAIN: &[u8] = b"taochain-axon-response-v1";

/// How far a request's timestamp may be from the axon's clock, milliseconds.
pub const TIME_WINDOW_MS: u64 = 30_000;

/// The path of a subnet's challenge endpoint.
pub fn challenge_path(netuid: u16) -> String {
    format!("/v1/subnets/{netuid}/challenge")
}

/// A challenge: the task and its input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The task (must be the subnet's).
    pub task: TaskKind,
    /// The input file's bytes, base64.
    pub input: String,
}

impl ChallengeRequest {
    /// A request for `input`.
    pub fn new(task: TaskKind, input: &[u8]) -> Self {
        ChallengeRequest {
            task,
            input: B64.encode(input),
        }
    }

    /// The input bytes; `Err` if not base64.
    pub fn input_bytes(&self) -> Result<Vec<u8>, String> {
        B64.decode(&self.input)
            .map_err(|e| format!("input is not base64: {e}"))
    }
}

/// A miner's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// The model's answer.
    pub answer: String,
}

fn len_prefixed(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// What a validator signs for a request to `miner` whose body has sha256 `body_sha256`.
pub fn request_digest(
    chain_id: &str,
    netuid: u16,
    miner: &Address,
    body_sha256: &[u8; 32],
    nonce: u64,
    timestamp_ms: u64,
) -> [u8; 32] {
    let mut h = Sha256::new();
    len_prefixed(&mut h, REQUEST_DOMAIN);
    len_prefixed(&mut h, chain_id.as_bytes());
    h.update(netuid.to_be_bytes());
    h.update(miner.as_bytes());
    h.update(body_sha256);
    h.update(nonce.to_be_bytes());
    h.update(timestamp_ms.to_be_bytes());
    h.finalize().into()
}

/// What a miner signs for its answer to `validator`'s request `nonce`.
pub fn response_digest(
    chain_id: &str,
    netuid: u16,
    validator: &Address,
    nonce: u64,
    body: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    len_prefixed(&mut h, RESPONSE_DOMAIN);
    len_prefixed(&mut h, chain_id.as_bytes());
    h.update(netuid.to_be_bytes());
    h.update(validator.as_bytes());
    h.update(nonce.to_be_bytes());
    h.update(Sha256::digest(body));
    h.finalize().into()
}

/// The signing headers of a request (or, without nonce and time, of a response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// The signer's public key.
    pub public_key: [u8; 32],
    /// Fresh per request.
    pub nonce: u64,
    /// Unix milliseconds.
    pub timestamp_ms: u64,
    /// The body's sha256.
    pub body_sha256: [u8; 32],
    /// Over [`request_digest`].
    pub signature: [u8; 64],
}

impl RequestAuth {
    /// Signs a request.
    pub fn sign(
        key: &SigningKey,
        chain_id: &str,
        netuid: u16,
        miner: &Address,
        body: &[u8],
        nonce: u64,
        timestamp_ms: u64,
    ) -> Self {
        let body_sha256: [u8; 32] = Sha256::digest(body).into();
        let digest = request_digest(chain_id, netuid, miner, &body_sha256, nonce, timestamp_ms);
        RequestAuth {
            public_key: key.verifying_key().to_bytes(),
            nonce,
            timestamp_ms,
            body_sha256,
            signature: key.sign(&digest).to_bytes(),
        }
    }

    /// The signer's hotkey.
    pub fn hotkey(&self) -> Address {
        Address::from_public_key(&self.public_key)
    }

    /// The headers to send.
    pub fn headers(&self) -> [(&'static str, String); 5] {
        [
            (H_KEY, hex::encode(self.public_key)),
            (H_NONCE, self.nonce.to_string()),
            (H_TIME, self.timestamp_ms.to_string()),
            (H_SIG, hex::encode(self.signature)),
            (H_BODY, hex::encode(self.body_sha256)),
        ]
    }

    /// Reads the headers through `get`; a missing or empty one is an error like any other.
    pub fn from_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, String> {
        let field = |name: &str| match get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!(
                "unsigned request: header {name} is missing or empty"
            )),
        };
        Ok(RequestAuth {
            public_key: hex_array(H_KEY, field(H_KEY)?)?,
            nonce: field(H_NONCE)?
                .parse()
                .map_err(|_| format!("header {H_NONCE} is not a number"))?,
            timestamp_ms: field(H_TIME)?
                .parse()
                .map_err(|_| format!("header {H_TIME} is not a number"))?,
            body_sha256: hex_array(H_BODY, field(H_BODY)?)?,
            signature: hex_array(H_SIG, field(H_SIG)?)?,
        })
    }
}

/// Fixed-size hex; `Err` names the header.
pub fn hex_array<const N: usize>(name: &str, v: &str) -> Result<[u8; N], String> {
    if v.len() != 2 * N {
        return Err(format!("header {name} must be {} hex digits", 2 * N));
    }
    let bytes = hex::decode(v).map_err(|_| format!("header {name} is not hex"))?;
    <[u8; N]>::try_from(bytes).map_err(|_| format!("header {name} has the wrong length"))
}

/// Verifies an ed25519 signature strictly: the chain's own rule
/// (`taochain_primitives::tx::verify_strict`).
pub fn verify(public_key: &[u8; 32], digest: &[u8; 32], signature: &[u8; 64]) -> bool {
    taochain_primitives::tx::verify_strict(public_key, digest, signature)
}

/// Unix milliseconds now (off chain only: axons check freshness with it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i; 32])
    }

    #[test]
    fn a_signature_binds_every_field() {
        let v = key(1);
        let miner = Address::from_public_key(&key(2).verifying_key().to_bytes());
        let a = RequestAuth::sign(&v, "tao-1", 3, &miner, b"body", 7, 1000);
        let check = |chain: &str, netuid, m: &Address, body: &[u8], nonce, ts| {
            verify(
                &a.public_key,
                &request_digest(chain, netuid, m, &Sha256::digest(body).into(), nonce, ts),
                &a.signature,
            )
        };
        assert!(check("tao-1", 3, &miner, b"body", 7, 1000));
        let other = Address::from_public_key(&key(3).verifying_key().to_bytes());
        assert!(!check("tao-2", 3, &miner, b"body", 7, 1000));
        assert!(!check("tao-1", 4, &miner, b"body", 7, 1000));
        assert!(!check("tao-1", 3, &other, b"body", 7, 1000));
        assert!(!check("tao-1", 3, &miner, b"bodY", 7, 1000));
        assert!(!check("tao-1", 3, &miner, b"body", 8, 1000));
        assert!(!check("tao-1", 3, &miner, b"body", 7, 1001));
    }

    #[test]
    fn headers_round_trip_and_missing_or_empty_ones_are_refused() {
        let a = RequestAuth::sign(&key(1), "c", 1, &Address::default(), b"", 1, 2);
        let h = a.headers();
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(RequestAuth::from_headers(get), Ok(a.clone()));
        for drop in [H_KEY, H_NONCE, H_TIME, H_BODY, H_SIG] {
            let e = RequestAuth::from_headers(|n| if n == drop { None } else { get(n) });
            assert!(e.expect_err("refused").contains(drop));
            let e = RequestAuth::from_headers(|n| if n == drop { Some("") } else { get(n) });
            assert!(e.is_err());
        }
        let e = RequestAuth::from_headers(|n| if n == H_SIG { Some("zz") } else { get(n) });
        assert!(e.is_err());
    }
}

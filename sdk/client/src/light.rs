//! The light client: verifies one header from a [`Trust`] anchor with
//! `tendermint-light-client-verifier` (commit signatures against validator sets the
//! headers commit to), skipping straight from the trusted state when +1/3 of its
//! validators signed the target, bisecting when they did not. Only a verified header's app
//! hash is used to check a proof; the RPC that served the headers is never trusted.

use std::collections::BTreeMap;

use serde::Serialize;
use tendermint::block::Height;
use tendermint::block::signed_header::SignedHeader;
use tendermint::{Hash, Time, chain};
use tendermint_light_client_verifier::errors::VerificationErrorDetail;
use tendermint_light_client_verifier::options::Options;
use tendermint_light_client_verifier::types::{
    TrustedBlockState, UntrustedBlockState, ValidatorSet,
};
use tendermint_light_client_verifier::{ProdVerifier, Verdict, Verifier};

use crate::ClientError;
use crate::rpc::{Rpc, one_line};
use crate::trust::{GenesisAnchor, Trust, TrustAnchor};

/// The most headers one verification fetches (bisection over any realistic span of
/// validator-set changes fits well within this).
pub const MAX_HEADERS: usize = 64;

/// The highest height this client handles (`Height::increment` must not overflow).
const MAX_HEIGHT: u64 = i64::MAX as u64 - 1;

/// A header the light client verified.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedHeader {
    /// Its height.
    pub height: u64,
    /// Its hash (hex).
    pub hash: String,
    /// The app hash it commits to: the state after block `height - 1`.
    #[serde(serialize_with = "hex_upper")]
    pub app_hash: Vec<u8>,
    /// The chain id.
    pub chain_id: String,
    /// How many headers were checked to reach it (1: skipped straight from the anchor).
    pub headers_checked: usize,
}

fn hex_upper<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode_upper(bytes))
}

/// A trusted state: a verified header's chain id, time and height, and the validator set
/// it names for the next height.
struct Trusted {
    chain_id: chain::Id,
    time: Time,
    height: Height,
    next_validators: ValidatorSet,
    next_validators_hash: Hash,
}

impl Trusted {
    fn state(&self) -> TrustedBlockState<'_> {
        TrustedBlockState {
            chain_id: &self.chain_id,
            header_time: self.time,
            height: self.height,
            next_validators: &self.next_validators,
            next_validators_hash: self.next_validators_hash,
        }
    }
}

fn refused(what: impl Into<String>) -> ClientError {
    ClientError::LightClient(what.into())
}

fn height(h: u64) -> Result<Height, ClientError> {
    if h > MAX_HEIGHT {
        return Err(refused(format!("height {h} is out of range")));
    }
    Height::try_from(h).map_err(|e| refused(format!("height {h}: {}", one_line(&e))))
}

/// Headers and validator sets from the RPC, each fetched once.
struct Fetcher<'a> {
    rpc: &'a Rpc,
    headers: BTreeMap<u64, SignedHeader>,
    validators: BTreeMap<u64, ValidatorSet>,
    fetched: usize,
}

impl<'a> Fetcher<'a> {
    fn new(rpc: &'a Rpc) -> Self {
        Fetcher {
            rpc,
            headers: BTreeMap::new(),
            validators: BTreeMap::new(),
            fetched: 0,
        }
    }

    fn count(&mut self) -> Result<(), ClientError> {
        self.fetched += 1;
        if self.fetched > MAX_HEADERS {
            return Err(refused(format!(
                "more than {MAX_HEADERS} headers needed: anchor on a more recent header"
            )));
        }
        Ok(())
    }

    fn header(&mut self, h: u64) -> Result<SignedHeader, ClientError> {
        if let Some(sh) = self.headers.get(&h) {
            return Ok(sh.clone());
        }
        self.count()?;
        let sh = self.rpc.signed_header(h)?;
        self.headers.insert(h, sh.clone());
        Ok(sh)
    }

    fn validators(&mut self, h: u64) -> Result<ValidatorSet, ClientError> {
        if let Some(v) = self.validators.get(&h) {
            return Ok(v.clone());
        }
        let v = self.rpc.validator_set(h)?;
        self.validators.insert(h, v.clone());
        Ok(v)
    }

    /// The trusted state after verified header `sh`: its next validators, fetched and
    /// checked against the hash the header names.
    fn trusted_after(&mut self, sh: &SignedHeader) -> Result<Trusted, ClientError> {
        let h = sh.header.height.value();
        let next = self.validators(h + 1)?;
        if next.hash() != sh.header.next_validators_hash {
            return Err(refused(format!(
                "the validators served for height {} do not hash to header {h}'s next_validators_hash",
                h + 1
            )));
        }
        Ok(Trusted {
            chain_id: sh.header.chain_id.clone(),
            time: sh.header.time,
            height: sh.header.height,
            next_validators: next,
            next_validators_hash: sh.header.next_validators_hash,
        })
    }
}

/// The trusted state a genesis anchor gives: "height initial - 1", whose next validators
/// are the genesis validators. Its time is one nanosecond before genesis: the first block
/// carries the genesis time itself, and the verifier wants strictly increasing times.
fn genesis_state(g: &GenesisAnchor) -> Result<Trusted, ClientError> {
    let time = g
        .time
        .checked_sub(std::time::Duration::from_nanos(1))
        .ok_or_else(|| refused("genesis time out of range"))?;
    Ok(Trusted {
        chain_id: g.chain_id.clone(),
        time,
        height: height(g.initial_height - 1)?,
        next_validators: g.validators.clone(),
        next_validators_hash: g.validators.hash(),
    })
}

/// The trusted header of a header anchor, checked against its hash.
fn anchor_header(
    fetch: &mut Fetcher<'_>,
    h: u64,
    hash: &[u8; 32],
) -> Result<SignedHeader, ClientError> {
    let sh = fetch.header(h)?;
    let got = sh.header.hash();
    if got.as_bytes() != hash {
        return Err(refused(format!(
            "the node's header {h} has hash {got}, not the trusted {}",
            hex::encode_upper(hash)
        )));
    }
    Ok(sh)
}

fn verified(sh: &SignedHeader, headers_checked: usize) -> VerifiedHeader {
    VerifiedHeader {
        height: sh.header.height.value(),
        hash: sh.header.hash().to_string(),
        app_hash: sh.header.app_hash.as_bytes().to_vec(),
        chain_id: sh.header.chain_id.to_string(),
        headers_checked,
    }
}

/// Verifies the header at `target` from `trust`, with headers and validator sets from
/// `rpc`, at time `now`.
pub fn verify_header(
    rpc: &Rpc,
    trust: &Trust,
    target: u64,
    now: Time,
) -> Result<VerifiedHeader, ClientError> {
    height(target)?;
    let mut fetch = Fetcher::new(rpc);
    let trusted = match &trust.anchor {
        TrustAnchor::Genesis(g) => {
            if target < g.initial_height {
                return Err(refused(format!(
                    "header {target} is before the genesis' initial height {}",
                    g.initial_height
                )));
            }
            genesis_state(g)?
        }
        TrustAnchor::Header { height: h, hash } => {
            height(*h)?;
            if target < *h {
                return Err(refused(format!(
                    "header {target} is older than the trusted header {h}; anchor on an older header"
                )));
            }
            let sh = anchor_header(&mut fetch, *h, hash)?;
            if target == *h {
                return Ok(verified(&sh, 0));
            }
            fetch.trusted_after(&sh)?
        }
    };
    let options = Options {
        trust_threshold: trust.options.trust_threshold,
        trusting_period: trust.options.trusting_period,
        clock_drift: trust.options.clock_drift,
    };
    bisect(&mut fetch, trusted, target, &options, now)
}

/// Verifies `target` from `trusted`: skipping when the verdict allows it, otherwise
/// verifying the midpoint first (and recursing), as in CometBFT's light client.
fn bisect(
    fetch: &mut Fetcher<'_>,
    mut trusted: Trusted,
    target: u64,
    options: &Options,
    now: Time,
) -> Result<VerifiedHeader, ClientError> {
    let verifier = ProdVerifier::default();
    let mut pending = vec![target];
    let mut checked = 0;
    while let Some(&h) = pending.last() {
        let sh = fetch.header(h)?;
        let validators = fetch.validators(h)?;
        let untrusted = UntrustedBlockState {
            signed_header: &sh,
            validators: &validators,
            next_validators: None,
        };
        checked += 1;
        match verifier.verify_update_header(untrusted, trusted.state(), options, now) {
            Verdict::Success => {
                pending.pop();
                if pending.is_empty() {
                    return Ok(verified(&sh, checked));
                }
                trusted = fetch.trusted_after(&sh)?;
            }
            Verdict::NotEnoughTrust(tally) => {
                let from = trusted.height.value();
                if h <= from + 1 {
                    return Err(refused(format!(
                        "header {h} does not verify from header {from}: {tally}"
                    )));
                }
                pending.push(from + (h - from) / 2);
            }
            Verdict::Invalid(detail) => {
                return Err(refused(format!(
                    "header {h} does not verify from height {}: {}{}",
                    trusted.height,
                    one_line(&detail),
                    hint(&detail)
                )));
            }
        }
    }
    Err(refused("nothing to verify"))
}

fn hint(detail: &VerificationErrorDetail) -> &'static str {
    match detail {
        VerificationErrorDetail::NotWithinTrustPeriod(_) => {
            " (the trusted header is older than the trusting period: anchor on a recent header or allow a longer trusting period)"
        }
        VerificationErrorDetail::HeaderFromTheFuture(_) => " (is this machine's clock right?)",
        _ => "",
    }
}

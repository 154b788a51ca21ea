//! A small blocking CometBFT v0.38 JSON-RPC client (HTTP POST, JSON-RPC 2.0).
//! Byte parameters are base64 except `abci_query`'s `data` (hex); int64 are strings.
//! Everything the node sends is untrusted: a malformed answer is a one-line error, and
//! signed headers and validator sets come back as `tendermint` types for the light client
//! ([`crate::light`]) to check.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use tendermint::block::signed_header::SignedHeader;
use tendermint::{account, validator};
use tendermint_light_client_verifier::types::ValidatorSet;

use crate::ClientError;

/// A connection to one node's RPC endpoint.
#[derive(Clone)]
pub struct Rpc {
    url: String,
    agent: ureq::Agent,
}

/// The result of an ABCI query.
#[derive(Debug, Clone)]
pub struct AbciQuery {
    /// Code (0 = ok).
    pub code: u32,
    /// Log.
    pub log: String,
    /// Key read.
    pub key: Vec<u8>,
    /// Value (empty when absent).
    pub value: Vec<u8>,
    /// Height of the value.
    pub height: u64,
    /// Proof op data (protobuf `CommitmentProof`), when asked for.
    pub proof: Option<Vec<u8>>,
}

/// A broadcast's mempool answer.
#[derive(Debug, Clone)]
pub struct Broadcast {
    /// CheckTx code.
    pub code: u32,
    /// CheckTx log.
    pub log: String,
    /// Transaction hash (hex, upper case as CometBFT prints it).
    pub hash: String,
}

pub(crate) fn field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, ClientError> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| ClientError::Decode(format!("missing field `{}`", path.join("."))))?;
    }
    Ok(cur)
}

pub(crate) fn str_field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, ClientError> {
    field(v, path)?
        .as_str()
        .ok_or_else(|| ClientError::Decode(format!("`{}` is not a string", path.join("."))))
}

pub(crate) fn u64_field(v: &Value, path: &[&str]) -> Result<u64, ClientError> {
    match field(v, path)? {
        Value::String(s) => s
            .parse()
            .map_err(|_| ClientError::Decode(format!("bad number `{s}`"))),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| ClientError::Decode(format!("bad number {n}"))),
        Value::Null => Ok(0),
        other => Err(ClientError::Decode(format!(
            "`{}` is {other}",
            path.join(".")
        ))),
    }
}

fn b64(v: &Value, path: &[&str]) -> Result<Vec<u8>, ClientError> {
    match field(v, path) {
        Ok(Value::String(s)) => B64
            .decode(s)
            .map_err(|e| ClientError::Decode(e.to_string())),
        Ok(Value::Null) | Err(_) => Ok(vec![]),
        Ok(other) => Err(ClientError::Decode(format!(
            "`{}` is {other}",
            path.join(".")
        ))),
    }
}

/// An error's text on one line (some libraries' messages span several).
pub(crate) fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a `tendermint` type from the CometBFT JSON in `v` (one-line error). Through a
/// string: the `tendermint` deserialisers expect borrowed strings, which a `Value` cannot
/// always lend.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, String> {
    serde_json::from_str(&v.to_string()).map_err(|e| one_line(&e))
}

/// [`from_json`] for an RPC answer.
pub(crate) fn parse_tm<T: serde::de::DeserializeOwned>(
    what: &str,
    v: &Value,
) -> Result<T, ClientError> {
    from_json(v).map_err(|e| ClientError::Decode(format!("{what}: {e}")))
}

/// Validators per `validators` page (CometBFT's maximum).
const VALIDATORS_PER_PAGE: u64 = 100;
/// The most validators this client accepts in one set.
const MAX_VALIDATORS: u64 = 10_000;

/// A validator set from untrusted validator entries: each address must be its key's,
/// no address twice, and the total power within CometBFT's bound (what
/// `ValidatorSet::new` would otherwise panic on).
pub(crate) fn validator_set_from(validators: Vec<validator::Info>) -> Result<ValidatorSet, String> {
    let mut total: u64 = 0;
    let mut seen = std::collections::BTreeSet::new();
    for v in &validators {
        if account::Id::from(v.pub_key) != v.address {
            return Err(format!(
                "validator {} does not match its public key",
                v.address
            ));
        }
        if !seen.insert(v.address) {
            return Err(format!("validator {} is listed twice", v.address));
        }
        total = total
            .checked_add(v.power())
            .filter(|t| *t <= ValidatorSet::MAX_TOTAL_VOTING_POWER)
            .ok_or("total voting power out of range")?;
    }
    if validators.is_empty() || total == 0 {
        return Err("empty validator set".into());
    }
    Ok(ValidatorSet::without_proposer(validators))
}

impl Rpc {
    /// A client for `url` (e.g. `http://127.0.0.1:26657`).
    pub fn new(url: &str) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(3))
            .timeout(Duration::from_secs(20))
            .build();
        let url = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        Rpc {
            url: url
                .replace("tcp://", "http://")
                .trim_end_matches('/')
                .to_string(),
            agent,
        }
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with `params`; returns `result`.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp = match self.agent.post(&self.url).send_json(body) {
            Ok(r) => r,
            // CometBFT answers JSON-RPC errors with HTTP 500 and a JSON body.
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                return Err(ClientError::Http {
                    url: self.url.clone(),
                    detail: e.to_string(),
                });
            }
        };
        let v: Value = resp.into_json().map_err(|e| ClientError::Http {
            url: self.url.clone(),
            detail: e.to_string(),
        })?;
        if let Some(err) = v.get("error") {
            let detail = err.get("data").and_then(Value::as_str).map(str::to_string);
            return Err(ClientError::Rpc {
                method: method.into(),
                detail: detail.unwrap_or_else(|| err.to_string()),
            });
        }
        v.get("result")
            .cloned()
            .ok_or_else(|| ClientError::Decode("no `result`".into()))
    }

    /// `status`.
    pub fn status(&self) -> Result<Value, ClientError> {
        self.call("status", json!({}))
    }

    /// `abci_query` with no request data.
    pub fn abci_query(
        &self,
        path: &str,
        height: u64,
        prove: bool,
    ) -> Result<AbciQuery, ClientError> {
        self.abci_query_data(path, &[], height, prove)
    }

    /// `abci_query` with request data (hex on the wire).
    pub fn abci_query_data(
        &self,
        path: &str,
        data: &[u8],
        height: u64,
        prove: bool,
    ) -> Result<AbciQuery, ClientError> {
        let params = json!({"path": path, "data": hex::encode(data), "height": height.to_string(), "prove": prove});
        let r = self.call("abci_query", params)?;
        let resp = field(&r, &["response"])?;
        let proof = match resp
            .get("proofOps")
            .and_then(|p| p.get("ops"))
            .and_then(Value::as_array)
        {
            Some(ops) if !ops.is_empty() => Some(b64(&ops[0], &["data"])?),
            _ => None,
        };
        Ok(AbciQuery {
            code: u64_field(resp, &["code"]).unwrap_or(0) as u32,
            log: resp
                .get("log")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            key: b64(resp, &["key"])?,
            value: b64(resp, &["value"])?,
            height: u64_field(resp, &["height"]).unwrap_or(0),
            proof,
        })
    }

    /// `broadcast_tx_sync`: returns after CheckTx.
    pub fn broadcast_tx_sync(&self, tx: &[u8]) -> Result<Broadcast, ClientError> {
        let r = self.call("broadcast_tx_sync", json!({"tx": B64.encode(tx)}))?;
        Ok(Broadcast {
            code: u64_field(&r, &["code"]).unwrap_or(0) as u32,
            log: r
                .get("log")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            hash: str_field(&r, &["hash"])?.to_string(),
        })
    }

    /// `broadcast_tx_async`: returns before CheckTx (a refusal shows up as a missing tx).
    pub fn broadcast_tx_async(&self, tx: &[u8]) -> Result<(), ClientError> {
        self.call("broadcast_tx_async", json!({"tx": B64.encode(tx)}))
            .map(|_| ())
    }

    /// `tx` by hash; `Ok(None)` while it is not yet in a block.
    pub fn tx(&self, hash: &[u8; 32]) -> Result<Option<Value>, ClientError> {
        match self.call("tx", json!({"hash": B64.encode(hash), "prove": false})) {
            Ok(v) => Ok(Some(v)),
            Err(ClientError::Rpc { detail, .. }) if detail.contains("not found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `header` at `height`.
    pub fn header(&self, height: u64) -> Result<Value, ClientError> {
        let r = self.call("header", json!({"height": height.to_string()}))?;
        Ok(field(&r, &["header"])?.clone())
    }

    /// `net_info`: number of peers.
    pub fn peers(&self) -> Result<u64, ClientError> {
        let r = self.call("net_info", json!({}))?;
        u64_field(&r, &["n_peers"])
    }

    /// `commit` at `height`: the signed header (untrusted until [`crate::light`] checks it).
    pub fn signed_header(&self, height: u64) -> Result<SignedHeader, ClientError> {
        let r = self.call("commit", json!({"height": height.to_string()}))?;
        let sh: SignedHeader = parse_tm("signed header", field(&r, &["signed_header"])?)?;
        if sh.header.height.value() != height {
            return Err(ClientError::Decode(format!(
                "asked for the header at {height}, got {}",
                sh.header.height
            )));
        }
        Ok(sh)
    }

    /// `validators` at `height`, every page (untrusted until checked against a header).
    pub fn validator_set(&self, height: u64) -> Result<ValidatorSet, ClientError> {
        let mut all: Vec<validator::Info> = vec![];
        let mut page: u64 = 1;
        let mut announced = None;
        loop {
            let params = json!({"height": height.to_string(), "page": page.to_string(), "per_page": VALIDATORS_PER_PAGE.to_string()});
            let r = self.call("validators", params)?;
            let at = u64_field(&r, &["block_height"])?;
            let total = u64_field(&r, &["total"])?;
            if at != height {
                return Err(ClientError::Decode(format!(
                    "asked for the validators at {height}, got {at}"
                )));
            }
            if total == 0 || total > MAX_VALIDATORS {
                return Err(ClientError::Decode(format!(
                    "{total} validators at {height} (1..={MAX_VALIDATORS} accepted)"
                )));
            }
            if *announced.get_or_insert(total) != total {
                return Err(ClientError::Decode(format!(
                    "the validator count at {height} changed between pages"
                )));
            }
            let vals: Vec<validator::Info> = parse_tm("validators", field(&r, &["validators"])?)?;
            let want = (total - all.len() as u64).min(VALIDATORS_PER_PAGE);
            if vals.len() as u64 != want {
                return Err(ClientError::Decode(format!(
                    "validators page {page} at {height} has {} entries, expected {want} of {total}",
                    vals.len()
                )));
            }
            all.extend(vals);
            if all.len() as u64 == total {
                return validator_set_from(all)
                    .map_err(|e| ClientError::Decode(format!("validators at {height}: {e}")));
            }
            page += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use tendermint::{PublicKey, vote};

    use super::*;

    fn info(seed: u8, power: u64) -> validator::Info {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let pk = PublicKey::from_raw_ed25519(key.verifying_key().as_bytes()).expect("key");
        validator::Info::new(pk, vote::Power::try_from(power).expect("power"))
    }

    #[test]
    fn untrusted_validator_sets_are_checked_before_use() {
        assert!(validator_set_from(vec![info(1, 10), info(2, 10)]).is_ok());
        assert!(validator_set_from(vec![]).is_err());
        assert!(validator_set_from(vec![info(1, 0)]).is_err());
        let e = validator_set_from(vec![info(1, 10), info(1, 10)]);
        assert!(e.is_err_and(|e| e.contains("twice")));
        let mut wrong = info(1, 10);
        wrong.address = info(2, 10).address;
        let e = validator_set_from(vec![wrong]);
        assert!(e.is_err_and(|e| e.contains("does not match")));
        let huge = ValidatorSet::MAX_TOTAL_VOTING_POWER;
        let e = validator_set_from(vec![info(1, huge), info(2, huge)]);
        assert!(e.is_err_and(|e| e.contains("out of range")));
    }

    #[test]
    fn errors_fit_on_one_line() {
        assert_eq!(one_line(&"a\n  b\tc"), "a b c");
    }
}

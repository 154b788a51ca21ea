//! The dendrite: a validator's client for many axons at once. Every query is signed for its
//! miner, bounded by one deadline for connect, send and the whole answer, and by a size
//! limit read as the bytes arrive; an axon that never answers, trickles bytes, closes the
//! connection, sends too much, sends invalid UTF-8 or JSON, or signs with another key (or
//! not at all) gives that miner an error, never a stall or a crash of the round.

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use taochain_arena_msg::TaskKind;
use taochain_primitives::Address;
use tokio::task::JoinSet;

use crate::wire::{
    ChallengeRequest, ChallengeResponse, H_KEY, H_SIG, RequestAuth, challenge_path, hex_array,
    now_ms, response_digest, verify,
};

/// Largest answer body read from an axon.
pub const MAX_RESPONSE: usize = 256 * 1024;

/// A miner to query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its UID.
    pub uid: u16,
    /// Its hotkey (the answer must be signed by it).
    pub hotkey: Address,
    /// `http://IP:PORT`.
    pub endpoint: String,
}

/// One miner's reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The UID queried.
    pub uid: u16,
    /// The verified answer, or why there is none.
    pub answer: Result<String, String>,
    /// Time to the answer (or to the failure).
    pub latency: Duration,
}

/// Who queries: the validator's key, the chain and subnet.
#[derive(Clone)]
pub struct Dendrite {
    http: reqwest::Client,
    key: SigningKey,
    chain_id: String,
    netuid: u16,
}

impl Dendrite {
    /// A dendrite signing with `key` for `netuid` on `chain_id`.
    pub fn new(key: SigningKey, chain_id: &str, netuid: u16) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(4)
            // An axon answers at its endpoint; a redirect could point the validator anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(Dendrite {
            http,
            key,
            chain_id: chain_id.into(),
            netuid,
        })
    }

    /// The validator's hotkey.
    pub fn hotkey(&self) -> Address {
        Address::from_public_key(&self.key.verifying_key().to_bytes())
    }

    /// Sends the same challenge to every target concurrently; one reply per target, in
    /// the targets' order, each within `timeout`.
    pub async fn query_all(
        &self,
        task: TaskKind,
        input: &[u8],
        targets: &[Target],
        timeout: Duration,
    ) -> Vec<Reply> {
        let body = match serde_json::to_vec(&ChallengeRequest::new(task, input)) {
            Ok(b) => bytes_of(b),
            Err(e) => {
                return targets
                    .iter()
                    .map(|t| Reply {
                        uid: t.uid,
                        answer: Err(format!("encoding: {e}")),
                        latency: Duration::ZERO,
                    })
                    .collect();
            }
        };
        let mut set = JoinSet::new();
        for (i, t) in targets.iter().enumerate() {
            let (me, t, body) = (self.clone(), t.clone(), body.clone());
            set.spawn(async move {
                let started = Instant::now();
                let answer = match tokio::time::timeout(timeout, me.query(&t, body)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                };
                (
                    i,
                    Reply {
                        uid: t.uid,
                        answer,
                        latency: started.elapsed(),
                    },
                )
            });
        }
        let mut replies: Vec<Option<Reply>> = vec![None; targets.len()];
        while let Some(done) = set.join_next().await {
            if let Ok((i, r)) = done {
                replies[i] = Some(r);
            }
        }
        replies
            .into_iter()
            .zip(targets)
            .map(|(r, t)| {
                r.unwrap_or(Reply {
                    uid: t.uid,
                    answer: Err("query task failed".into()),
                    latency: timeout,
                })
            })
            .collect()
    }

    /// One signed query, its answer verified.
    async fn query(&self, t: &Target, body: bytes::Bytes) -> Result<String, String> {
        let nonce: u64 = rand::random();
        let auth = RequestAuth::sign(
            &self.key,
            &self.chain_id,
            self.netuid,
            &t.hotkey,
            &body,
            nonce,
            now_ms(),
        );
        let url = format!("{}{}", t.endpoint, challenge_path(self.netuid));
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in auth.headers() {
            req = req.header(name, value);
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let key = resp
            .headers()
            .get(H_KEY)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let sig = resp
            .headers()
            .get(H_SIG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading: {e}"))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE {
                return Err(format!("answer over {MAX_RESPONSE} bytes"));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            return Err(format!("HTTP {}: {}", status.as_u16(), text.trim()));
        }
        let public_key: [u8; 32] = hex_array(H_KEY, key.as_deref().unwrap_or(""))?;
        let signature: [u8; 64] = hex_array(H_SIG, sig.as_deref().unwrap_or(""))?;
        if Address::from_public_key(&public_key) != t.hotkey {
            return Err("answer signed by another hotkey".into());
        }
        let digest = response_digest(&self.chain_id, self.netuid, &self.hotkey(), nonce, &bytes);
        if !verify(&public_key, &digest, &signature) {
            return Err("bad answer signature".into());
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| "answer is not UTF-8".to_string())?;
        let r: ChallengeResponse =
            serde_json::from_str(text).map_err(|e| format!("malformed answer: {e}"))?;
        Ok(r.answer)
    }
}

fn bytes_of(v: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from(v)
}

//! The axon: a miner's HTTP server around its model. A request is admitted only when, in
//! this order: it names this axon's netuid; it carries every signing header; its timestamp
//! is within [`TIME_WINDOW_MS`]; the claimed hotkey holds a validator permit (with at
//! least the minimum stake) on the netuid in the current metagraph ([`Permits`]); the
//! signature over [`request_digest`] (addressed to this miner, over the body's sha256 in
//! its header) verifies; the validator has fewer than its concurrency limit in flight; its
//! nonce is fresh — all before any body byte is read; then the body arrives within
//! [`BODY_TIMEOUT`] and the size limit, matches the signed sha256, and is a well-formed
//! challenge for this subnet's task. Each refusal is a 4xx with a one-line
//! reason and the model is never called for it. An answer is signed by the miner's hotkey.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use taochain_arena_msg::TaskKind;
use taochain_primitives::Address;
use tokio::sync::Semaphore;

use crate::model::Model;
use crate::wire::{
    ChallengeRequest, ChallengeResponse, H_BODY, H_KEY, H_SIG, RequestAuth, TIME_WINDOW_MS, now_ms,
    request_digest, response_digest, verify,
};

/// How long a request's body may take to arrive.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests an axon handles at once, from everyone (more wait for a slot at the TCP level
/// of the HTTP server, never for a model).
pub const MAX_IN_FLIGHT: usize = 256;

/// How an axon is run.
#[derive(Clone)]
pub struct AxonConfig {
    /// The subnet it serves.
    pub netuid: u16,
    /// The chain's id (bound into every signature).
    pub chain_id: String,
    /// The subnet's task (read from the chain).
    pub task: TaskKind,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Requests one validator may have in flight.
    pub per_validator: usize,
    /// How long the model may take.
    pub model_timeout: Duration,
    /// Print a line per request.
    pub log: bool,
}

impl AxonConfig {
    /// Defaults for `task` on `netuid`: 1 MiB bodies (a challenge WAV is ~0.3 MiB in
    /// base64), 4 requests per validator, 10 s model.
    pub fn new(netuid: u16, chain_id: &str, task: TaskKind) -> Self {
        AxonConfig {
            netuid,
            chain_id: chain_id.into(),
            task,
            max_body: 1 << 20,
            per_validator: 4,
            model_timeout: Duration::from_secs(10),
            log: false,
        }
    }
}

/// The hotkeys holding a validator permit on the axon's subnet, as of a height.
#[derive(Debug, Default)]
pub struct Permits {
    validators: RwLock<(u64, BTreeSet<Address>)>,
}

impl Permits {
    /// A fixed set (tests, benchmarks).
    pub fn fixed(validators: impl IntoIterator<Item = Address>) -> Self {
        Permits {
            validators: RwLock::new((0, validators.into_iter().collect())),
        }
    }

    /// Replaces the set with the metagraph's at `height`.
    pub fn update(&self, height: u64, validators: BTreeSet<Address>) {
        if let Ok(mut v) = self.validators.write() {
            *v = (height, validators);
        }
    }

    /// The height the set is from.
    pub fn height(&self) -> u64 {
        self.validators.read().map_or(0, |v| v.0)
    }

    /// Whether `hotkey` holds a permit.
    pub fn allows(&self, hotkey: &Address) -> bool {
        self.validators
            .read()
            .map(|v| v.1.contains(hotkey))
            .unwrap_or(false)
    }
}

/// Counters an axon keeps.
#[derive(Debug, Default)]
pub struct AxonStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests refused before the model.
    pub refused: AtomicU64,
    /// Model calls.
    pub model_calls: AtomicU64,
    /// Model failures and timeouts.
    pub model_failures: AtomicU64,
    /// Answers sent.
    pub answered: AtomicU64,
}

impl AxonStats {
    /// One line: the counters.
    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} requests: {} answered, {} refused, {} model calls ({} failed)",
            g(&self.requests),
            g(&self.answered),
            g(&self.refused),
            g(&self.model_calls),
            g(&self.model_failures)
        )
    }
}

/// Seen nonces within the time window, oldest first, so replay checks stay bounded.
#[derive(Default)]
struct Nonces {
    by_time: BTreeSet<(u64, Address, u64)>,
    seen: BTreeSet<(Address, u64)>,
}

impl Nonces {
    /// Records `(hotkey, nonce)` at `ts`; false if it was seen.
    fn fresh(&mut self, hotkey: Address, nonce: u64, ts: u64, now: u64) -> bool {
        let horizon = now.saturating_sub(2 * TIME_WINDOW_MS);
        while let Some(&(t, h, n)) = self.by_time.first() {
            if t >= horizon {
                break;
            }
            self.by_time.pop_first();
            self.seen.remove(&(h, n));
        }
        if !self.seen.insert((hotkey, nonce)) {
            return false;
        }
        self.by_time.insert((ts, hotkey, nonce));
        true
    }
}

/// An axon's shared state.
pub struct Axon {
    config: AxonConfig,
    key: SigningKey,
    hotkey: Address,
    model: Model,
    permits: Arc<Permits>,
    nonces: Mutex<Nonces>,
    in_flight: Mutex<BTreeMap<Address, Arc<Semaphore>>>,
    everyone: Arc<Semaphore>,
    /// Its counters.
    pub stats: AxonStats,
}

/// A refusal: status and one line.
type Refusal = (StatusCode, String);

fn refuse(status: StatusCode, why: impl Into<String>) -> Refusal {
    (status, why.into())
}

impl Axon {
    /// An axon answering with `model` for the miner hotkey `key`.
    pub fn new(
        config: AxonConfig,
        key: SigningKey,
        model: Model,
        permits: Arc<Permits>,
    ) -> Arc<Self> {
        let hotkey = Address::from_public_key(&key.verifying_key().to_bytes());
        Arc::new(Axon {
            config,
            key,
            hotkey,
            model,
            permits,
            nonces: Mutex::new(Nonces::default()),
            in_flight: Mutex::new(BTreeMap::new()),
            everyone: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            stats: AxonStats::default(),
        })
    }

    /// The HTTP routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/subnets/{netuid}/challenge", post(challenge))
            .with_state(Arc::clone(self))
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Binds `addr` and serves in the background; returns the bound address.
    pub async fn spawn(self: &Arc<Self>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let _ = me.serve(listener, std::future::pending()).await;
        });
        Ok(bound)
    }

    /// The checks before the model, in order; the admitted request and its permit slot.
    async fn admit(
        &self,
        netuid: &str,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<
        (
            RequestAuth,
            ChallengeRequest,
            Vec<u8>,
            tokio::sync::OwnedSemaphorePermit,
        ),
        Refusal,
    > {
        let c = &self.config;
        if netuid.parse::<u16>().ok() != Some(c.netuid) {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                format!("this axon serves netuid {}, not `{netuid}`", c.netuid),
            ));
        }
        let auth = RequestAuth::from_headers(|n| headers.get(n).and_then(|v| v.to_str().ok()))
            .map_err(|e| refuse(StatusCode::UNAUTHORIZED, e))?;
        let now = now_ms();
        if auth.timestamp_ms.abs_diff(now) > TIME_WINDOW_MS {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                format!(
                    "stale timestamp: {} ms from this axon's clock (window {TIME_WINDOW_MS} ms)",
                    auth.timestamp_ms.abs_diff(now)
                ),
            ));
        }
        // The claimed key must be a validator before any body is read; the signature
        // over the body then proves the claim.
        let hotkey = auth.hotkey();
        if !self.permits.allows(&hotkey) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "hotkey {hotkey} holds no validator permit on netuid {} (metagraph at block {})",
                    c.netuid,
                    self.permits.height()
                ),
            ));
        }
        let declared = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > c.max_body as u64) {
            return Err(too_large(c.max_body));
        }
        // The signature covers the body's sha256 from its header: checked before a body
        // byte is read, so only the key's holder can keep a connection waiting on a body,
        // and only in its own slots.
        let digest = request_digest(
            &c.chain_id,
            c.netuid,
            &self.hotkey,
            &auth.body_sha256,
            auth.nonce,
            auth.timestamp_ms,
        );
        if !verify(&auth.public_key, &digest, &auth.signature) {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "bad signature (not by that key, not for this miner, chain or netuid, or the body changed)",
            ));
        }
        let slot = self.slot(hotkey)?;
        let fresh = self
            .nonces
            .lock()
            .map(|mut n| n.fresh(hotkey, auth.nonce, auth.timestamp_ms, now))
            .unwrap_or(false);
        if !fresh {
            return Err(refuse(
                StatusCode::CONFLICT,
                format!("nonce {} of {hotkey} was already used", auth.nonce),
            ));
        }
        let bytes = match tokio::time::timeout(BODY_TIMEOUT, to_bytes(body, c.max_body)).await {
            Err(_) => {
                return Err(refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("body not received within {} s", BODY_TIMEOUT.as_secs()),
                ));
            }
            Ok(r) => r.map_err(|_| too_large(c.max_body))?.to_vec(),
        };
        if <[u8; 32]>::from(Sha256::digest(&bytes)) != auth.body_sha256 {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                format!(
                    "bad signature: the body is not the one signed (its sha256 is not {H_BODY})"
                ),
            ));
        }
        let req: ChallengeRequest = serde_json::from_slice(&bytes)
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("malformed challenge: {e}")))?;
        if req.task != c.task {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "this subnet's task is {}, not {}",
                    c.task.name(),
                    req.task.name()
                ),
            ));
        }
        let input = req
            .input_bytes()
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, e))?;
        Ok((auth, req, input, slot))
    }

    /// A concurrency slot for `hotkey`, or 429.
    fn slot(&self, hotkey: Address) -> Result<tokio::sync::OwnedSemaphorePermit, Refusal> {
        let sem = self
            .in_flight
            .lock()
            .map(|mut m| {
                Arc::clone(
                    m.entry(hotkey)
                        .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_validator))),
                )
            })
            .map_err(|_| refuse(StatusCode::SERVICE_UNAVAILABLE, "axon state poisoned"))?;
        sem.try_acquire_owned().map_err(|_| {
            refuse(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{hotkey} already has {} requests in flight",
                    self.config.per_validator
                ),
            )
        })
    }

    /// Runs the model and signs its answer.
    async fn answer(&self, auth: &RequestAuth, input: &[u8]) -> (Response, Option<String>) {
        self.stats.model_calls.fetch_add(1, Ordering::Relaxed);
        let c = &self.config;
        let answer = match self
            .model
            .answer(input, c.task.input_ext(), c.model_timeout)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                self.stats.model_failures.fetch_add(1, Ordering::Relaxed);
                let status = if e.contains("timed out") {
                    StatusCode::GATEWAY_TIMEOUT
                } else {
                    StatusCode::BAD_GATEWAY
                };
                let line = format!("model failed: {e}");
                return ((status, format!("{line}\n")).into_response(), Some(line));
            }
        };
        let body = serde_json::to_vec(&ChallengeResponse { answer }).unwrap_or_default();
        let digest = response_digest(&c.chain_id, c.netuid, &auth.hotkey(), auth.nonce, &body);
        let mut headers = HeaderMap::new();
        let pairs = [
            (H_KEY, hex::encode(self.key.verifying_key().to_bytes())),
            (H_SIG, hex::encode(self.key.sign(&digest).to_bytes())),
            ("content-type", "application/json".into()),
        ];
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        self.stats.answered.fetch_add(1, Ordering::Relaxed);
        ((StatusCode::OK, headers, body).into_response(), None)
    }
}

fn too_large(limit: usize) -> Refusal {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body over {limit} bytes"),
    )
}

async fn challenge(
    State(axon): State<Arc<Axon>>,
    Path(netuid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    axon.stats.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(_busy) = Arc::clone(&axon.everyone).try_acquire_owned() else {
        axon.stats.refused.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("axon busy: {MAX_IN_FLIGHT} requests in flight\n"),
        )
            .into_response();
    };
    let (response, who) = match axon.admit(&netuid, &headers, body).await {
        Err((status, why)) => {
            axon.stats.refused.fetch_add(1, Ordering::Relaxed);
            (
                (status, format!("{why}\n")).into_response(),
                format!("refused: {why}"),
            )
        }
        Ok((auth, _req, input, _slot)) => {
            let (r, failed) = axon.answer(&auth, &input).await;
            let who = match failed {
                Some(why) => format!("from {}: {why}", auth.hotkey()),
                None => format!("from {}", auth.hotkey()),
            };
            (r, who)
        }
    };
    if axon.config.log {
        println!(
            "axon: {} {} ms {}",
            response.status().as_u16(),
            started.elapsed().as_millis(),
            who
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_and_forgotten_after_the_window() {
        let mut n = Nonces::default();
        let h = Address::default();
        assert!(n.fresh(h, 1, 1_000_000, 1_000_000));
        assert!(!n.fresh(h, 1, 1_000_000, 1_000_001));
        assert!(n.fresh(h, 2, 1_000_000, 1_000_001));
        // Long after: the old entries are pruned (their timestamps would be refused).
        let later = 1_000_000 + 3 * TIME_WINDOW_MS;
        assert!(n.fresh(h, 3, later, later));
        assert_eq!(n.seen.len(), 1);
    }
}

//! `tao miner serve`: bind the axon, announce it on chain with `ServeAxon` (unless the
//! chain already holds that endpoint for this UID), keep the validator permits current as
//! blocks pass, and serve until shut down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use taochain_primitives::axon::{AXON_PROTOCOL_V1, endpoint_of};
use taochain_primitives::{Address, Msg};

use crate::NeuronError;
use crate::axon::{Axon, AxonConfig, Permits};
use crate::chain::{Chain, follow_permits, permit_holders};
use crate::model::Model;
use crate::validator::blocking;

/// Attempts at the `ServeAxon` transaction.
pub const ANNOUNCE_TRIES: u64 = 5;

/// A miner to start.
pub struct MinerSetup {
    /// The node.
    pub chain: Chain,
    /// The miner's hotkey (registered on `netuid`).
    pub key: SigningKey,
    /// The subnet.
    pub netuid: u16,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The endpoint to announce, when it is not the bound address (0.0.0.0, NAT).
    pub announce: Option<SocketAddr>,
    /// The model.
    pub model: Model,
    /// How long the model may take.
    pub model_timeout: Duration,
    /// A line per request.
    pub log: bool,
}

/// A started miner.
pub struct Miner {
    /// The axon (its counters).
    pub axon: Arc<Axon>,
    /// The endpoint on chain.
    pub endpoint: String,
    /// The miner's UID.
    pub uid: u16,
    /// What announcing did (served, or already on chain).
    pub announced: String,
    listener: tokio::net::TcpListener,
}

impl MinerSetup {
    /// Binds, announces and prepares the axon; [`Miner::run`] serves.
    pub async fn start(self) -> Result<Miner, NeuronError> {
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        let bound = listener.local_addr()?;
        let public = self.announce.unwrap_or(bound);
        if public.ip().is_unspecified() {
            return Err(NeuronError::Chain(format!(
                "listening on {bound}: pass --announce IP:PORT, the address validators dial"
            )));
        }
        let endpoint = endpoint_of(public.ip(), public.port());
        let me = Address::from_public_key(&self.key.verifying_key().to_bytes());
        let (c, netuid) = (self.chain.clone(), self.netuid);
        let (spec, chain_id, rows) =
            blocking(move || Ok((c.task(netuid)?, c.chain_id()?, c.metagraph(netuid)?))).await?;
        let Some(row) = rows.iter().find(|r| r.hotkey == me) else {
            return Err(NeuronError::Chain(format!(
                "hotkey {me} holds no UID on netuid {netuid}: register it first (tao neuron register)"
            )));
        };
        let uid = row.uid;
        let announced = if row.axon.as_ref().map(|a| a.endpoint.as_str()) == Some(&endpoint) {
            format!("axon {endpoint} already on chain for UID {uid}")
        } else {
            // A hotkey serving several subnets starts several miners at once: their
            // transactions can race for the account nonce, so a failure is retried.
            let mut tries = 0;
            let at = loop {
                let (c, key, ep) = (self.chain.clone(), self.key.clone(), endpoint.clone());
                let sent = blocking(move || {
                    c.send(
                        &key,
                        vec![Msg::ServeAxon {
                            netuid,
                            endpoint: ep,
                            protocol: AXON_PROTOCOL_V1,
                        }],
                    )
                })
                .await;
                tries += 1;
                match sent {
                    Ok(at) => break at,
                    Err(e) if tries >= ANNOUNCE_TRIES => return Err(e),
                    Err(_) => tokio::time::sleep(Duration::from_millis(700 * tries)).await,
                }
            };
            format!("served axon {endpoint} for UID {uid} at block {at}")
        };
        let permits = Arc::new(Permits::default());
        permits.update(0, permit_holders(&rows));
        tokio::spawn(follow_permits(
            self.chain.clone(),
            netuid,
            Arc::clone(&permits),
            Duration::from_secs(1),
        ));
        let mut config = AxonConfig::new(netuid, &chain_id, spec.kind);
        // The model never runs longer than validators wait.
        config.model_timeout = self
            .model_timeout
            .min(Duration::from_millis(u64::from(spec.challenge_timeout_ms)));
        config.log = self.log;
        let axon = Axon::new(config, self.key, self.model, permits);
        Ok(Miner {
            axon,
            endpoint,
            uid,
            announced,
            listener,
        })
    }
}

impl Miner {
    /// Serves until `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Arc<Axon>, NeuronError> {
        self.axon.serve(self.listener, shutdown).await?;
        Ok(self.axon)
    }
}

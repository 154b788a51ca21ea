//! What a neuron reads from and sends to the chain, through `taochain-client` (blocking
//! HTTP; the async runtime calls it with `spawn_blocking`): the chain id, a subnet and its
//! task (from its arena contract), the metagraph, and signed transactions.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use taochain_arena_msg::{QueryMsg, TaskSpec};
use taochain_client::Client;
use taochain_primitives::subnet::{MetagraphRow, SubnetInfo};
use taochain_primitives::{Address, Msg};

use crate::NeuronError;
use crate::axon::Permits;
use crate::dendrite::Target;

/// A node to read from and send through.
#[derive(Clone)]
pub struct Chain {
    client: Client,
}

impl Chain {
    /// The node whose RPC is at `url`.
    pub fn new(url: &str) -> Self {
        Chain {
            client: Client::new(url),
        }
    }

    /// The node's client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The chain id.
    pub fn chain_id(&self) -> Result<String, NeuronError> {
        Ok(self.client.status()?.chain_id)
    }

    /// The latest height.
    pub fn height(&self) -> Result<u64, NeuronError> {
        Ok(self.client.status()?.height)
    }

    /// A subnet's record.
    pub fn subnet(&self, netuid: u16) -> Result<SubnetInfo, NeuronError> {
        let raw = self.client.query_raw(&format!("/subnet/{netuid}"), 0)?;
        if raw.is_empty() {
            return Err(NeuronError::Chain(format!(
                "netuid {netuid} does not exist"
            )));
        }
        borsh::from_slice(&raw).map_err(|e| NeuronError::Chain(format!("subnet record: {e}")))
    }

    /// The subnet's task, from its arena contract.
    pub fn task(&self, netuid: u16) -> Result<TaskSpec, NeuronError> {
        self.subnet_task(netuid).map(|(_, task)| task)
    }

    /// The contract of the subnet on `netuid` now, and its arena task.
    pub fn subnet_task(&self, netuid: u16) -> Result<(Address, TaskSpec), NeuronError> {
        let s = self.subnet(netuid)?;
        let q = borsh::to_vec(&QueryMsg::Task).unwrap_or_default();
        let raw = self.client.smart_query(&s.contract, &q).map_err(|e| {
            NeuronError::Chain(format!(
                "netuid {netuid}'s contract {} declares no arena task: {e}",
                s.contract
            ))
        })?;
        let task = borsh::from_slice(&raw)
            .map_err(|e| NeuronError::Chain(format!("netuid {netuid}'s task: {e}")))?;
        Ok((s.contract, task))
    }

    /// The subnet's metagraph.
    pub fn metagraph(&self, netuid: u16) -> Result<Vec<MetagraphRow>, NeuronError> {
        let raw = self.client.query_raw(&format!("/metagraph/{netuid}"), 0)?;
        if raw.is_empty() {
            return Err(NeuronError::Chain(format!(
                "netuid {netuid} does not exist"
            )));
        }
        borsh::from_slice(&raw).map_err(|e| NeuronError::Chain(format!("metagraph: {e}")))
    }

    /// Signs and sends `msgs` from `key`, waiting for the block.
    pub fn send(&self, key: &SigningKey, msgs: Vec<Msg>) -> Result<u64, NeuronError> {
        Ok(self.client.send(key, msgs, None)?.height)
    }
}

/// Least stake an axon requires of a validator, rao (1 TAO): a permit alone can be had
/// for one rao on a subnet with fewer staked hotkeys than permits, and a miner holding one
/// could relay challenges to rival miners and copy their answers.
pub const MIN_VALIDATOR_STAKE: u64 = taochain_primitives::RAO_PER_TAO;

/// The validators of a metagraph an axon answers: permit holders with at least
/// [`MIN_VALIDATOR_STAKE`].
pub fn permit_holders(rows: &[MetagraphRow]) -> BTreeSet<Address> {
    rows.iter()
        .filter(|r| r.permit && r.stake >= MIN_VALIDATOR_STAKE)
        .map(|r| r.hotkey)
        .collect()
}

/// The miners of a metagraph serving an axon, except `me`.
pub fn serving(rows: &[MetagraphRow], me: &Address) -> Vec<Target> {
    rows.iter()
        .filter(|r| r.hotkey != *me)
        .filter_map(|r| {
            r.axon.as_ref().map(|a| Target {
                uid: r.uid,
                hotkey: r.hotkey,
                endpoint: a.endpoint.clone(),
            })
        })
        .collect()
}

/// Keeps `permits` at the metagraph of `netuid` as blocks pass: polls the height every
/// `every` and reloads when it moved. Runs until the runtime stops.
pub async fn follow_permits(chain: Chain, netuid: u16, permits: Arc<Permits>, every: Duration) {
    let mut last = u64::MAX;
    loop {
        let c = chain.clone();
        let fetched = tokio::task::spawn_blocking(move || -> Result<_, NeuronError> {
            let h = c.height()?;
            Ok((
                h,
                if h == last {
                    None
                } else {
                    Some(c.metagraph(netuid)?)
                },
            ))
        })
        .await;
        if let Ok(Ok((h, Some(rows)))) = fetched {
            permits.update(h, permit_holders(&rows));
            last = h;
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(uid: u16, permit: bool, stake: u64) -> MetagraphRow {
        MetagraphRow {
            uid,
            hotkey: Address([uid as u8; 20]),
            coldkey: Address::default(),
            stake,
            permit,
            active: true,
            consensus: 0,
            incentive: 0,
            dividends: 0,
            trust: 0,
            emission: 0,
            last_update: 0,
            registered_at: 0,
            axon: None,
        }
    }

    #[test]
    fn axons_answer_only_permit_holders_with_the_minimum_stake() {
        let rows = [
            row(1, true, MIN_VALIDATOR_STAKE),
            row(2, true, MIN_VALIDATOR_STAKE - 1),
            row(3, false, 100 * MIN_VALIDATOR_STAKE),
        ];
        assert_eq!(
            permit_holders(&rows),
            BTreeSet::from([Address([1; 20])]),
            "a one-rao permit (a miner's) is not enough"
        );
    }
}

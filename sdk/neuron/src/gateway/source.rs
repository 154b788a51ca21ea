//! What a gateway reads from and sends to the chain, as a trait: [`Chain`] on a real node,
//! and [`Fixed`], an in-memory chain for unit tests and `tao bench gateway`. Calls are
//! blocking; the gateway makes them on tokio's blocking pool.

use std::collections::BTreeMap;
use std::sync::Mutex;

use ed25519_dalek::SigningKey;
use taochain_arena_msg::TaskSpec;
use taochain_primitives::channel::Channel;
use taochain_primitives::subnet::{MetagraphRow, Neuron};
use taochain_primitives::{Address, Msg};

use crate::NeuronError;
use crate::chain::Chain;

/// The chain as a gateway sees it.
pub trait GatewayChain: Send + Sync + 'static {
    /// The chain id.
    fn chain_id(&self) -> Result<String, NeuronError>;
    /// The latest height.
    fn height(&self) -> Result<u64, NeuronError>;
    /// The contract of the subnet on `netuid` (a channel names it) and its arena task.
    fn task(&self, netuid: u16) -> Result<(Address, TaskSpec), NeuronError>;
    /// The contract of the subnet on `netuid`.
    fn subnet_contract(&self, netuid: u16) -> Result<Address, NeuronError>;
    /// A channel; `None` if there is none with that id.
    fn channel(&self, id: u64) -> Result<Option<Channel>, NeuronError>;
    /// A subnet's metagraph.
    fn metagraph(&self, netuid: u16) -> Result<Vec<MetagraphRow>, NeuronError>;
    /// The weights `hotkey` set on `netuid` (empty when it has no UID or set none).
    fn weights(&self, netuid: u16, hotkey: &Address) -> Result<Vec<(u16, u16)>, NeuronError>;
    /// Redeems a voucher, signed by the gateway's `key`; the block height.
    fn redeem(
        &self,
        key: &SigningKey,
        channel: u64,
        cumulative: u64,
        signature: [u8; 64],
    ) -> Result<u64, NeuronError>;
    /// Redeems several vouchers `(channel, cumulative, signature)` at once (one
    /// transaction on a node: all or none); the block height.
    fn redeem_all(
        &self,
        key: &SigningKey,
        vouchers: &[(u64, u64, [u8; 64])],
    ) -> Result<u64, NeuronError> {
        let mut height = self.height()?;
        for &(channel, cumulative, signature) in vouchers {
            height = self.redeem(key, channel, cumulative, signature)?;
        }
        Ok(height)
    }
}

fn decode<T: borsh::BorshDeserialize>(what: &str, raw: &[u8]) -> Result<T, NeuronError> {
    borsh::from_slice(raw).map_err(|e| NeuronError::Chain(format!("{what}: {e}")))
}

impl GatewayChain for Chain {
    fn chain_id(&self) -> Result<String, NeuronError> {
        Chain::chain_id(self)
    }

    fn height(&self) -> Result<u64, NeuronError> {
        Chain::height(self)
    }

    fn task(&self, netuid: u16) -> Result<(Address, TaskSpec), NeuronError> {
        Chain::subnet_task(self, netuid)
    }

    fn subnet_contract(&self, netuid: u16) -> Result<Address, NeuronError> {
        Ok(self.subnet(netuid)?.contract)
    }

    fn channel(&self, id: u64) -> Result<Option<Channel>, NeuronError> {
        let raw = self.client().query_raw(&format!("/channel/{id}"), 0)?;
        if raw.is_empty() {
            return Ok(None);
        }
        decode("channel", &raw).map(Some)
    }

    fn metagraph(&self, netuid: u16) -> Result<Vec<MetagraphRow>, NeuronError> {
        Chain::metagraph(self, netuid)
    }

    fn weights(&self, netuid: u16, hotkey: &Address) -> Result<Vec<(u16, u16)>, NeuronError> {
        let raw = self
            .client()
            .query_raw(&format!("/uid/{netuid}/{hotkey}"), 0)?;
        if raw.is_empty() {
            return Ok(vec![]);
        }
        let uid: u16 = decode("uid", &raw)?;
        let raw = self
            .client()
            .query_raw(&format!("/neuron/{netuid}/{uid}"), 0)?;
        if raw.is_empty() {
            return Ok(vec![]);
        }
        Ok(decode::<Neuron>("neuron", &raw)?.weights)
    }

    fn redeem(
        &self,
        key: &SigningKey,
        channel: u64,
        cumulative: u64,
        signature: [u8; 64],
    ) -> Result<u64, NeuronError> {
        self.redeem_all(key, &[(channel, cumulative, signature)])
    }

    fn redeem_all(
        &self,
        key: &SigningKey,
        vouchers: &[(u64, u64, [u8; 64])],
    ) -> Result<u64, NeuronError> {
        let msgs = vouchers
            .iter()
            .map(|&(channel, cumulative, signature)| Msg::RedeemVoucher {
                channel,
                cumulative,
                signature,
            })
            .collect();
        self.send(key, msgs)
    }
}

/// An in-memory chain: fixed channels, metagraphs and tasks; redemptions are recorded.
#[derive(Default)]
pub struct Fixed {
    /// Chain id.
    pub chain_id: String,
    /// Height.
    pub height: Mutex<u64>,
    /// Subnet contracts and their tasks by netuid.
    pub tasks: Mutex<BTreeMap<u16, (Address, TaskSpec)>>,
    /// Channels by id (a redemption raises `redeemed`).
    pub channels: Mutex<BTreeMap<u64, Channel>>,
    /// Metagraphs by netuid.
    pub metagraphs: BTreeMap<u16, Vec<MetagraphRow>>,
    /// Weights by (netuid, hotkey).
    pub weights: BTreeMap<(u16, Address), Vec<(u16, u16)>>,
    /// Every redemption: `(channel, cumulative)`.
    pub redemptions: Mutex<Vec<(u64, u64)>>,
    /// Each redeeming transaction's number of vouchers.
    pub transactions: Mutex<Vec<usize>>,
    /// Redeeming transactions still to refuse for no reason the chain shows (a node that
    /// timed out, a nonce race).
    pub refusals: Mutex<usize>,
}

fn poisoned() -> NeuronError {
    NeuronError::Chain("state poisoned".into())
}

impl GatewayChain for Fixed {
    fn chain_id(&self) -> Result<String, NeuronError> {
        Ok(self.chain_id.clone())
    }

    fn height(&self) -> Result<u64, NeuronError> {
        self.height.lock().map(|h| *h).map_err(|_| poisoned())
    }

    fn task(&self, netuid: u16) -> Result<(Address, TaskSpec), NeuronError> {
        self.tasks
            .lock()
            .map_err(|_| poisoned())?
            .get(&netuid)
            .cloned()
            .ok_or_else(|| NeuronError::Chain(format!("netuid {netuid} has no task")))
    }

    fn subnet_contract(&self, netuid: u16) -> Result<Address, NeuronError> {
        self.task(netuid).map(|(contract, _)| contract)
    }

    fn channel(&self, id: u64) -> Result<Option<Channel>, NeuronError> {
        Ok(self
            .channels
            .lock()
            .map_err(|_| poisoned())?
            .get(&id)
            .cloned())
    }

    fn metagraph(&self, netuid: u16) -> Result<Vec<MetagraphRow>, NeuronError> {
        Ok(self.metagraphs.get(&netuid).cloned().unwrap_or_default())
    }

    fn weights(&self, netuid: u16, hotkey: &Address) -> Result<Vec<(u16, u16)>, NeuronError> {
        Ok(self
            .weights
            .get(&(netuid, *hotkey))
            .cloned()
            .unwrap_or_default())
    }

    fn redeem(
        &self,
        key: &SigningKey,
        channel: u64,
        cumulative: u64,
        signature: [u8; 64],
    ) -> Result<u64, NeuronError> {
        self.redeem_all(key, &[(channel, cumulative, signature)])
    }

    /// All or none, as one transaction on a node.
    fn redeem_all(
        &self,
        _key: &SigningKey,
        vouchers: &[(u64, u64, [u8; 64])],
    ) -> Result<u64, NeuronError> {
        let mut refusals = self.refusals.lock().map_err(|_| poisoned())?;
        if *refusals > 0 {
            *refusals -= 1;
            return Err(NeuronError::Chain("the node timed out".into()));
        }
        drop(refusals);
        let mut channels = self.channels.lock().map_err(|_| poisoned())?;
        let mut after = channels.clone();
        for &(channel, cumulative, signature) in vouchers {
            Self::redeem_in(&mut after, &self.chain_id, channel, cumulative, signature)?;
        }
        *channels = after;
        self.redemptions
            .lock()
            .map_err(|_| poisoned())?
            .extend(vouchers.iter().map(|v| (v.0, v.1)));
        self.transactions
            .lock()
            .map_err(|_| poisoned())?
            .push(vouchers.len());
        self.height()
    }
}

impl Fixed {
    /// One voucher checked and applied to `channels`, as the chain would.
    fn redeem_in(
        channels: &mut BTreeMap<u64, Channel>,
        chain_id: &str,
        channel: u64,
        cumulative: u64,
        signature: [u8; 64],
    ) -> Result<(), NeuronError> {
        let c = channels
            .get_mut(&channel)
            .ok_or_else(|| NeuronError::Chain(format!("no channel {channel}")))?;
        let digest = taochain_primitives::channel::Voucher {
            channel,
            cumulative,
        }
        .digest(chain_id, c.netuid);
        if !taochain_primitives::tx::verify_strict(&c.user_key, &digest, &signature) {
            return Err(NeuronError::Chain("voucher_bad_signature".into()));
        }
        if c.closed {
            return Err(NeuronError::Chain("channel_closed".into()));
        }
        if cumulative <= c.redeemed {
            return Err(NeuronError::Chain("voucher_not_increasing".into()));
        }
        c.redeemed = cumulative;
        Ok(())
    }
}

//! [`Client`]: typed queries, proved queries, and signed transfers over [`Rpc`].

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde::Serialize;
use taochain_primitives::audit::AUDIT_PATH;
use taochain_primitives::{
    Account, Address, Audit, Msg, Params, RejectCode, SignedTx, Supply, TxBody,
};

use crate::keys::address_of;
use crate::rpc::{Rpc, str_field, u64_field};
use crate::trust::{AnchorInfo, Trust};
use crate::{ClientError, light, proof};

/// Gas limit signed transfers carry when the caller gives none (a transfer needs ~17k).
pub const DEFAULT_GAS_LIMIT: u64 = 50_000;

/// How a transaction's gas limit is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gas {
    /// Simulate the transaction on the node (`/simulate`, the exact deliver path at the
    /// latest state) and sign for what it used plus [`Gas::MARGIN_PERCENT`] and
    /// [`Gas::MARGIN_FIXED`], capped at the chain's `max_tx_gas`.
    #[default]
    Auto,
    /// Exactly this limit.
    Limit(u64),
}

impl Gas {
    /// Percent added to the simulated gas.
    pub const MARGIN_PERCENT: u64 = 30;
    /// Gas added to the simulated gas on top of the percentage.
    pub const MARGIN_FIXED: u64 = 20_000;

    /// The limit to sign for after a simulation used `used` gas.
    pub fn with_margin(used: u64, max_tx_gas: u64) -> u64 {
        used.saturating_add(used.saturating_mul(Self::MARGIN_PERCENT) / 100)
            .saturating_add(Self::MARGIN_FIXED)
            .min(max_tx_gas)
    }
}

impl std::str::FromStr for Gas {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(Gas::Auto);
        }
        s.replace('_', "")
            .parse::<u64>()
            .map(Gas::Limit)
            .map_err(|_| format!("gas `{s}` is neither `auto` nor a number"))
    }
}

/// A node's view of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Chain id.
    pub chain_id: String,
    /// Latest block height.
    pub height: u64,
    /// App hash in the latest header (hex).
    pub app_hash: String,
    /// Node id.
    pub node_id: String,
    /// Moniker.
    pub moniker: String,
    /// Whether the node is still catching up.
    pub catching_up: bool,
}

/// A transaction in a block.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Committed {
    /// Transaction hash (hex).
    pub hash: String,
    /// Block height.
    pub height: u64,
    /// Result code (0 = success).
    pub code: u32,
    /// Log (why it failed).
    pub log: String,
    /// Gas used.
    pub gas_used: u64,
    /// Result data (hex): a code id, a contract address, a contract's output.
    pub data: String,
}

/// What a simulated transaction did.
#[derive(Debug, Clone, Serialize)]
pub struct Simulated {
    /// Result code (0 = it would succeed).
    pub code: u32,
    /// Why it would fail.
    pub log: String,
    /// Gas it used.
    pub gas_used: u64,
    /// The gas limit to sign for (used + margin, capped at `max_tx_gas`).
    pub gas_limit: u64,
}

/// A value proved against the app hash of a header the light client verified.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedValue<T> {
    /// The value (`None` when the proof shows absence).
    pub value: Option<T>,
    /// The state height the value is from.
    pub height: u64,
    /// The app hash (from header `height + 1`) the proof verified against.
    pub app_hash: String,
    /// The verified header (`height + 1`) that carries the app hash.
    pub header: light::VerifiedHeader,
    /// The trust anchor the header was verified from.
    pub anchor: AnchorInfo,
}

/// A client of one node.
#[derive(Clone)]
pub struct Client {
    rpc: Rpc,
    gas: Gas,
}

fn decode<T: borsh::BorshDeserialize>(what: &str, bytes: &[u8]) -> Result<T, ClientError> {
    borsh::from_slice(bytes).map_err(|e| ClientError::Decode(format!("{what}: {e}")))
}

impl Client {
    /// A client of the node whose RPC is at `url`.
    pub fn new(url: &str) -> Self {
        Client {
            rpc: Rpc::new(url),
            gas: Gas::Auto,
        }
    }

    /// The same client choosing gas limits with `gas`.
    pub fn with_gas(mut self, gas: Gas) -> Self {
        self.gas = gas;
        self
    }

    /// Runs `msgs` from `key`'s account through the node's exact deliver path at the
    /// latest state, without a signature check, fee or commit: what it would do and the
    /// gas it would use (`/simulate`).
    pub fn simulate(&self, key: &SigningKey, msgs: Vec<Msg>) -> Result<Simulated, ClientError> {
        let chain_id = self.status()?.chain_id;
        let params = self.params()?;
        let nonce = self.account(&address_of(key))?.nonce;
        let tx = TxBody {
            chain_id,
            nonce,
            fee: 0,
            gas_limit: params.max_tx_gas,
            msgs,
        }
        .sign(key)
        .encode();
        let q = self.rpc.abci_query_data("/simulate", &tx, 0, false)?;
        if q.code != 0 {
            return Err(ClientError::Query {
                path: "/simulate".into(),
                code: q.code,
                log: q.log,
            });
        }
        let r: taochain_primitives::state::Simulation = decode("simulation", &q.value)?;
        Ok(Simulated {
            code: r.code,
            log: r.log,
            gas_used: r.gas_used,
            gas_limit: Gas::with_margin(r.gas_used, params.max_tx_gas),
        })
    }

    /// The raw RPC.
    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    /// The node's status.
    pub fn status(&self) -> Result<Status, ClientError> {
        let s = self.rpc.status()?;
        Ok(Status {
            chain_id: str_field(&s, &["node_info", "network"])?.to_string(),
            height: u64_field(&s, &["sync_info", "latest_block_height"])?,
            app_hash: str_field(&s, &["sync_info", "latest_app_hash"])
                .unwrap_or("")
                .to_string(),
            node_id: str_field(&s, &["node_info", "id"])?.to_string(),
            moniker: str_field(&s, &["node_info", "moniker"])
                .unwrap_or("")
                .to_string(),
            catching_up: s
                .pointer("/sync_info/catching_up")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
        })
    }

    fn query_value(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        self.query_raw(path, 0)
    }

    /// The raw borsh value at `path` as of `height` (0 = latest; empty when absent).
    pub fn query_raw(&self, path: &str, height: u64) -> Result<Vec<u8>, ClientError> {
        let q = self.rpc.abci_query(path, height, false)?;
        if q.code != 0 {
            return Err(ClientError::Query {
                path: path.into(),
                code: q.code,
                log: q.log,
            });
        }
        Ok(q.value)
    }

    /// An account (zero balance and nonce when it does not exist).
    pub fn account(&self, address: &Address) -> Result<Account, ClientError> {
        let v = self.query_value(&format!("/account/{address}"))?;
        if v.is_empty() {
            Ok(Account::default())
        } else {
            decode("account", &v)
        }
    }

    /// The supply record.
    pub fn supply(&self) -> Result<Supply, ClientError> {
        self.supply_at(0)
    }

    /// The supply record as of `height` (0 = latest).
    pub fn supply_at(&self, height: u64) -> Result<Supply, ClientError> {
        decode("supply", &self.query_raw("/supply", height)?)
    }

    /// The node's audit of its ledger at `height` (0: the latest it audited); only a node
    /// started with `taod start --audit` has one.
    pub fn audit(&self, height: u64) -> Result<Audit, ClientError> {
        decode("audit", &self.query_raw(AUDIT_PATH, height)?)
    }

    /// The chain parameters.
    pub fn params(&self) -> Result<Params, ClientError> {
        decode("params", &self.query_value("/params")?)
    }

    /// Runs a contract's `query` with `msg` (borsh bytes the contract defines).
    pub fn smart_query(&self, contract: &Address, msg: &[u8]) -> Result<Vec<u8>, ClientError> {
        let path = format!("/contract/{contract}/smart");
        let q = self.rpc.abci_query_data(&path, msg, 0, false)?;
        if q.code != 0 {
            return Err(ClientError::Query {
                path,
                code: q.code,
                log: q.log,
            });
        }
        Ok(q.value)
    }

    /// The emission pool account.
    pub fn emission_pool(&self) -> Result<Account, ClientError> {
        self.emission_pool_at(0)
    }

    /// The emission pool account as of `height` (0 = latest).
    pub fn emission_pool_at(&self, height: u64) -> Result<Account, ClientError> {
        let v = self.query_raw("/emission", height)?;
        if v.is_empty() {
            Ok(Account::default())
        } else {
            decode("emission pool", &v)
        }
    }

    /// Queries `path` with a proof and verifies it: the state key is recomputed from
    /// `path` (a node answering for another key is refused), and the proof is checked
    /// against the app hash of the next block's header (waiting up to `timeout` for it),
    /// which the light client first verifies from `trust`. Decodes the value as `T`.
    pub fn query_verified<T: borsh::BorshDeserialize>(
        &self,
        path: &str,
        trust: &Trust,
        timeout: Duration,
    ) -> Result<VerifiedValue<T>, ClientError> {
        let raw = self.query_verified_raw(path, trust, timeout)?;
        Ok(VerifiedValue {
            value: raw.value.map(|v| decode(path, &v)).transpose()?,
            height: raw.height,
            app_hash: raw.app_hash,
            header: raw.header,
            anchor: raw.anchor,
        })
    }

    /// Like [`Client::query_verified`], with the raw value bytes.
    pub fn query_verified_raw(
        &self,
        path: &str,
        trust: &Trust,
        timeout: Duration,
    ) -> Result<VerifiedValue<Vec<u8>>, ClientError> {
        let key = taochain_primitives::query::state_key_for_path(path)
            .map_err(|(_, log)| ClientError::Input(format!("{path} cannot be proved: {log}")))?;
        let q = self.rpc.abci_query(path, 0, true)?;
        if q.code != 0 {
            return Err(ClientError::Query {
                path: path.into(),
                code: q.code,
                log: q.log,
            });
        }
        if q.key != key {
            let shown = if q.key.is_empty() {
                "(none)".to_string()
            } else {
                hex::encode(&q.key)
            };
            return Err(ClientError::Proof(format!(
                "the node answered for state key {shown} but {path} reads {}",
                hex::encode(&key)
            )));
        }
        let proof = q
            .proof
            .ok_or_else(|| ClientError::Proof("the node sent no proof".into()))?;
        let target = q
            .height
            .checked_add(1)
            .ok_or_else(|| ClientError::Decode(format!("bad height {}", q.height)))?;
        self.wait_for_commit(target, timeout)?;
        let header = light::verify_header(&self.rpc, trust, target, tendermint::Time::now())?;
        let value = if q.value.is_empty() {
            None
        } else {
            Some(q.value.as_slice())
        };
        proof::verify(&header.app_hash, &key, value, &proof)?;
        Ok(VerifiedValue {
            value: value.map(<[u8]>::to_vec),
            height: q.height,
            app_hash: hex::encode_upper(&header.app_hash),
            header,
            anchor: trust.anchor.info(),
        })
    }

    /// Waits until the node has a commit for `height` (the block after the queried state).
    fn wait_for_commit(&self, height: u64, timeout: Duration) -> Result<(), ClientError> {
        let start = Instant::now();
        loop {
            match self.rpc.signed_header(height) {
                Ok(_) => return Ok(()),
                Err(ClientError::Rpc { .. }) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Signs a transfer.
    pub fn sign_transfer(
        key: &SigningKey,
        chain_id: &str,
        nonce: u64,
        fee: u64,
        to: Address,
        amount: u64,
    ) -> Vec<u8> {
        TxBody {
            chain_id: chain_id.into(),
            nonce,
            fee,
            gas_limit: DEFAULT_GAS_LIMIT,
            msgs: vec![Msg::Transfer { to, amount }],
        }
        .sign(key)
        .encode()
    }

    /// Broadcasts signed bytes; errors when CheckTx refuses them. Returns the tx hash.
    pub fn broadcast(&self, tx: &[u8]) -> Result<[u8; 32], ClientError> {
        let b = self.rpc.broadcast_tx_sync(tx)?;
        if b.code != 0 {
            return Err(tx_failed("check", b.code, b.log));
        }
        Ok(SignedTx::hash_bytes(tx))
    }

    /// Waits until the transaction with `hash` is in a block.
    pub fn wait_committed(
        &self,
        hash: &[u8; 32],
        timeout: Duration,
    ) -> Result<Committed, ClientError> {
        let start = Instant::now();
        loop {
            if let Some(r) = self.rpc.tx(hash)? {
                return Ok(Committed {
                    hash: hex::encode_upper(hash),
                    height: u64_field(&r, &["height"])?,
                    code: u64_field(&r, &["tx_result", "code"]).unwrap_or(0) as u32,
                    log: str_field(&r, &["tx_result", "log"])
                        .unwrap_or("")
                        .to_string(),
                    gas_used: u64_field(&r, &["tx_result", "gas_used"]).unwrap_or(0),
                    data: r
                        .pointer("/tx_result/data")
                        .and_then(serde_json::Value::as_str)
                        .and_then(|d| {
                            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, d)
                                .ok()
                        })
                        .map(hex::encode)
                        .unwrap_or_default(),
                });
            }
            if start.elapsed() > timeout {
                return Err(ClientError::Timeout(format!(
                    "transaction {} not committed after {timeout:?}",
                    hex::encode_upper(hash)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `amount` rao from `key` to `to` and waits for the block. `fee` defaults to
    /// what the gas limit needs at the chain's minimum gas price.
    pub fn transfer(
        &self,
        key: &SigningKey,
        to: Address,
        amount: u64,
        fee: Option<u64>,
    ) -> Result<Committed, ClientError> {
        self.send(key, vec![Msg::Transfer { to, amount }], fee)
    }

    /// Signs `msgs` with the account's next nonce, a gas limit chosen by this client's
    /// [`Gas`] (simulated by default) and `fee` (default: the least the gas limit needs),
    /// broadcasts, waits for the block, and errors unless the transaction succeeded. A
    /// simulation that fails is reported without sending anything.
    pub fn send(
        &self,
        key: &SigningKey,
        msgs: Vec<Msg>,
        fee: Option<u64>,
    ) -> Result<Committed, ClientError> {
        let params = self.params()?;
        let gas_limit = match self.gas {
            Gas::Limit(n) => n,
            Gas::Auto => {
                let sim = self.simulate(key, msgs.clone())?;
                if sim.code != 0 {
                    return Err(tx_failed("simulate", sim.code, sim.log));
                }
                sim.gas_limit
            }
        };
        let chain_id = self.status()?.chain_id;
        let fee = fee.unwrap_or_else(|| params.required_fee(gas_limit));
        let nonce = self.account(&address_of(key))?.nonce;
        let tx = TxBody {
            chain_id,
            nonce,
            fee,
            gas_limit,
            msgs,
        }
        .sign(key)
        .encode();
        let hash = self.broadcast(&tx)?;
        let committed = self.wait_committed(&hash, Duration::from_secs(60))?;
        if committed.code != 0 {
            return Err(tx_failed("deliver", committed.code, committed.log));
        }
        Ok(committed)
    }
}

fn tx_failed(stage: &'static str, code: u32, log: String) -> ClientError {
    let name = RejectCode::from_code(code)
        .map_or("unknown", RejectCode::name)
        .to_string();
    ClientError::TxFailed {
        stage,
        code,
        name,
        log,
    }
}

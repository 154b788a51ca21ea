//! A fixture chain: validators with ed25519 keys, headers with commits they really signed,
//! the genesis file, a Jellyfish Merkle state with ICS23 proofs, and a fake node serving
//! all of it as CometBFT JSON (what is served can be forged per test).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey};
use jmt::storage::{HasPreimage, LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Sha256Jmt, Version};
use prost::Message;
use serde_json::{Value, json};
use tendermint::block::header::Version as HeaderVersion;
use tendermint::block::signed_header::SignedHeader;
use tendermint::block::{Commit, CommitSig, Header, Height, Id as BlockId, Round, parts};
use tendermint::hash::AppHash;
use tendermint::vote::{self, ValidatorIndex, Vote};
use tendermint::{Hash, PublicKey, Signature, Time, chain, validator};
use tendermint_light_client_verifier::types::ValidatorSet;

use crate::fake::{FakeRpc, Handler};

/// The fixture's chain id.
pub const CHAIN_ID: &str = "fixture-chain";

/// A validator: its key and its entry in a set.
#[derive(Clone)]
pub struct Val {
    pub key: SigningKey,
    pub info: validator::Info,
}

/// The validator with key seed `seed` and power 10.
pub fn val(seed: u8) -> Val {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let pk = PublicKey::from_raw_ed25519(key.verifying_key().as_bytes()).expect("key");
    Val {
        key,
        info: validator::Info::new(pk, vote::Power::from(10u32)),
    }
}

/// The validators with these seeds.
pub fn vals(seeds: &[u8]) -> Vec<Val> {
    seeds.iter().map(|s| val(*s)).collect()
}

/// Their set.
pub fn set(vals: &[Val]) -> ValidatorSet {
    ValidatorSet::without_proposer(vals.iter().map(|v| v.info.clone()).collect())
}

/// A chain of headers 1..=n.
pub struct Chain {
    pub genesis_time: Time,
    pub headers: BTreeMap<u64, SignedHeader>,
    pub validators: BTreeMap<u64, ValidatorSet>,
    pub genesis_vals: Vec<Val>,
}

fn time_of(genesis: Time, h: u64) -> Time {
    genesis
        .checked_add(Duration::from_secs(h - 1))
        .expect("time")
}

/// Header `h` of a chain whose validators at height `x` are `at(x)`.
pub fn header(genesis: Time, h: u64, at: &dyn Fn(u64) -> Vec<Val>, app_hash: &[u8]) -> Header {
    Header {
        version: HeaderVersion { block: 11, app: 0 },
        chain_id: chain::Id::try_from(CHAIN_ID).expect("chain id"),
        height: Height::try_from(h).expect("height"),
        time: time_of(genesis, h),
        last_block_id: None,
        last_commit_hash: None,
        data_hash: None,
        validators_hash: set(&at(h)).hash(),
        next_validators_hash: set(&at(h + 1)).hash(),
        consensus_hash: Hash::Sha256([7; 32]),
        app_hash: AppHash::try_from(app_hash.to_vec()).expect("app hash"),
        last_results_hash: None,
        evidence_hash: None,
        proposer_address: at(h)[0].info.address,
    }
}

/// `header` with a commit signed by `signers`, laid out over the validator set `of`.
pub fn sign(header: Header, of: &[Val], signers: &[Val]) -> SignedHeader {
    let block_id = BlockId {
        hash: header.hash(),
        part_set_header: parts::Header::new(1, Hash::Sha256([9; 32])).expect("parts"),
    };
    let time = header.time;
    let signatures = set(of)
        .validators()
        .iter()
        .enumerate()
        .map(
            |(i, info)| match signers.iter().find(|s| s.info.address == info.address) {
                None => CommitSig::BlockIdFlagAbsent,
                Some(s) => {
                    let vote = Vote {
                        vote_type: vote::Type::Precommit,
                        height: header.height,
                        round: Round::default(),
                        block_id: Some(block_id),
                        timestamp: Some(time),
                        validator_address: info.address,
                        validator_index: ValidatorIndex::try_from(i as u32).expect("index"),
                        signature: None,
                        extension: vec![],
                        extension_signature: None,
                    };
                    let bytes = vote.into_signable_vec(header.chain_id.clone());
                    let sig = s.key.sign(&bytes).to_bytes();
                    CommitSig::BlockIdFlagCommit {
                        validator_address: info.address,
                        timestamp: time,
                        signature: Signature::try_from(sig.as_slice()).ok(),
                    }
                }
            },
        )
        .collect();
    let commit = Commit {
        height: header.height,
        round: Round::default(),
        block_id,
        signatures,
    };
    SignedHeader::new(header, commit).expect("signed header")
}

impl Chain {
    /// Headers 1..=n, all carrying `app_hash`, each signed by all its validators.
    pub fn build(n: u64, at: &dyn Fn(u64) -> Vec<Val>, app_hash: &[u8]) -> Chain {
        let now = Time::now().unix_timestamp();
        let genesis_time = Time::from_unix_timestamp(now - 3600, 0).expect("time");
        let mut headers = BTreeMap::new();
        let mut validators = BTreeMap::new();
        for h in 1..=n {
            let hd = header(genesis_time, h, at, app_hash);
            headers.insert(h, sign(hd, &at(h), &at(h)));
            validators.insert(h, set(&at(h)));
        }
        validators.insert(n + 1, set(&at(n + 1)));
        Chain {
            genesis_time,
            headers,
            validators,
            genesis_vals: at(1),
        }
    }

    /// Its genesis file.
    pub fn genesis_json(&self) -> String {
        let validators: Vec<Value> = self
            .genesis_vals
            .iter()
            .map(|v| {
                json!({"address": v.info.address.to_string(), "pub_key": pub_key_json(&v.info),
                    "power": v.info.power().to_string(), "name": "v"})
            })
            .collect();
        json!({
            "genesis_time": self.genesis_time.to_rfc3339(),
            "chain_id": CHAIN_ID,
            "initial_height": "1",
            "consensus_params": {"block": {"max_bytes": "22020096", "max_gas": "-1"}},
            "validators": validators,
            "app_hash": "",
            "app_state": {"accounts": []},
        })
        .to_string()
    }
}

fn pub_key_json(v: &validator::Info) -> Value {
    json!({"type": "tendermint/PubKeyEd25519", "value": B64.encode(v.pub_key.to_bytes())})
}

fn height_param(params: &Value) -> u64 {
    params["height"]
        .as_str()
        .and_then(|h| h.parse().ok())
        .unwrap_or(0)
}

/// `commit` as CometBFT answers it.
pub fn commit_json(sh: &SignedHeader) -> Value {
    json!({"signed_header": serde_json::to_value(sh).expect("json"), "canonical": true})
}

/// One `validators` page as CometBFT answers it.
pub fn validators_json(set: &ValidatorSet, h: u64, params: &Value) -> Value {
    let num = |k: &str, d: usize| params[k].as_str().and_then(|x| x.parse().ok()).unwrap_or(d);
    let (page, per_page) = (num("page", 1), num("per_page", 30));
    let page: Vec<Value> = set
        .validators()
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|v| {
            json!({"address": v.address.to_string(), "pub_key": pub_key_json(v),
                "voting_power": v.power().to_string(), "proposer_priority": "0"})
        })
        .collect();
    json!({"block_height": h.to_string(), "validators": page,
        "count": page.len().to_string(), "total": set.validators().len().to_string()})
}

/// Serves `chain`'s headers and validators, and `query` for every `abci_query`.
pub fn serve(chain: Arc<Chain>, query: Value) -> FakeRpc {
    let handler: Handler = Arc::new(move |method, params| {
        let h = height_param(params);
        match method {
            "commit" => chain.headers.get(&h).map(commit_json).ok_or_else(|| {
                format!("height {h} must be less than or equal to the current blockchain height")
            }),
            "validators" => chain
                .validators
                .get(&h)
                .map(|s| validators_json(s, h, params))
                .ok_or_else(|| format!("no validators at {h}")),
            "abci_query" => Ok(query.clone()),
            _ => Err(format!("unknown method {method}")),
        }
    });
    FakeRpc::start(handler)
}

/// An `abci_query` answer.
pub fn query_json(key: &[u8], value: &[u8], height: u64, proof: &[u8]) -> Value {
    json!({"response": {
        "code": 0, "log": "", "info": "", "index": "0",
        "key": B64.encode(key), "value": B64.encode(value), "height": height.to_string(),
        "proofOps": {"ops": [{"type": "ics23:jmt", "key": B64.encode(key), "data": B64.encode(proof)}]},
        "codespace": ""
    }})
}

/// A Jellyfish Merkle state at version 1, in memory.
#[derive(Default)]
pub struct State {
    nodes: BTreeMap<NodeKey, Node>,
    values: BTreeMap<(KeyHash, Version), Option<OwnedValue>>,
    preimages: BTreeMap<KeyHash, Vec<u8>>,
    pub root: Vec<u8>,
}

impl TreeReader for State {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.get(node_key).cloned())
    }
    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self
            .values
            .range((key_hash, 0)..=(key_hash, max_version))
            .next_back()
            .and_then(|(_, v)| v.clone()))
    }
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

impl HasPreimage for State {
    fn preimage(&self, key_hash: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.preimages.get(&key_hash).cloned())
    }
}

impl State {
    /// The state holding `entries`.
    pub fn new(entries: &[(Vec<u8>, Vec<u8>)]) -> State {
        let mut state = State::default();
        let set = entries
            .iter()
            .map(|(k, v)| (KeyHash::with::<sha2::Sha256>(k), Some(v.clone())))
            .collect::<Vec<_>>();
        let (root, batch) = Sha256Jmt::new(&state).put_value_set(set, 1).expect("put");
        for (k, n) in batch.node_batch.nodes() {
            state.nodes.insert(k.clone(), n.clone());
        }
        for ((version, kh), v) in batch.node_batch.values() {
            state.values.insert((*kh, *version), v.clone());
        }
        for (k, _) in entries {
            state
                .preimages
                .insert(KeyHash::with::<sha2::Sha256>(k), k.clone());
        }
        state.root = root.0.to_vec();
        state
    }

    /// The value under `key` and the protobuf ICS23 proof of it (or of its absence).
    pub fn prove(&self, key: &[u8]) -> (Option<Vec<u8>>, Vec<u8>) {
        let (value, proof) = Sha256Jmt::new(self)
            .get_with_ics23_proof(key.to_vec(), 1)
            .expect("proof");
        (value, proof.encode_to_vec())
    }
}

//! The one list of RocksDB columns and state-key prefixes, with their layouts.
//!
//! | column          | key                                   | value                          |
//! |-----------------|---------------------------------------|--------------------------------|
//! | `jmt_nodes`     | borsh(jmt `NodeKey`)                  | borsh(jmt `Node`)              |
//! | `jmt_values`    | key_hash (32) ++ version (u64 BE)     | borsh(`Option<Vec<u8>>`)       |
//! | `jmt_preimages` | key_hash (32)                         | the raw state key              |
//! | `jmt_stale`     | stale_since (u64 BE) ++ borsh(NodeKey) | empty                         |
//! | `latest`        | raw state key                         | latest value (flat, for reads) |
//! | `meta`          | [`META_LATEST_VERSION`]               | u64 BE                         |
//! | `blobs`         | sha256 (32)                           | blob bytes (contract code); only the hash enters the tree |
//!
//! `key_hash` is `sha256(raw state key)`. State keys (inside the tree) are a prefix below
//! followed by the component's own layout; every value is borsh.

/// Column: Merkle tree nodes.
pub const CF_NODES: &str = "jmt_nodes";
/// Column: value history by key hash and version.
pub const CF_VALUES: &str = "jmt_values";
/// Column: key hash -> raw key, for ICS23 proofs.
pub const CF_PREIMAGES: &str = "jmt_preimages";
/// Column: stale tree nodes by the version that replaced them (for pruning).
pub const CF_STALE: &str = "jmt_stale";
/// Column: the latest value of every live key (plain reads never walk the tree).
pub const CF_LATEST: &str = "latest";
/// Column: store metadata.
pub const CF_META: &str = "meta";
/// Column: content-addressed blobs (contract code), outside the tree.
pub const CF_BLOBS: &str = "blobs";
/// Every column, in creation order.
pub const COLUMNS: [&str; 7] = [
    CF_NODES,
    CF_VALUES,
    CF_PREIMAGES,
    CF_STALE,
    CF_LATEST,
    CF_META,
    CF_BLOBS,
];

/// Meta key: the last committed version (= block height).
pub const META_LATEST_VERSION: &[u8] = b"latest_version";

/// State key prefix: `acct/` ++ address (20 bytes) -> borsh `Account`.
pub const ACCOUNT_PREFIX: &[u8] = b"acct/";
/// State key: borsh `Supply`.
pub const SUPPLY_KEY: &[u8] = b"supply";
/// State key: borsh `Params`.
pub const PARAMS_KEY: &[u8] = b"params";
/// State key: the chain id as UTF-8 bytes.
pub const CHAIN_ID_KEY: &[u8] = b"chain_id";

/// State key: next code id (borsh u64).
pub const CODE_SEQ_KEY: &[u8] = b"code_seq";
/// State key prefix: `code/` ++ code id (u64 BE) -> borsh `CodeRecord`.
pub const CODE_PREFIX: &[u8] = b"code/";
/// State key: contracts created so far (borsh u64), for address derivation.
pub const CONTRACT_SEQ_KEY: &[u8] = b"contract_seq";
/// State key prefix: `contract/` ++ address (20) -> borsh `ContractRecord`.
pub const CONTRACT_PREFIX: &[u8] = b"contract/";
/// State key prefix: `cstore/` ++ address (20) ++ contract key -> raw value (contract storage).
pub const CONTRACT_STORE_PREFIX: &[u8] = b"cstore/";

/// The state key of a code record.
pub fn code_key(code_id: u64) -> Vec<u8> {
    [CODE_PREFIX, &code_id.to_be_bytes()].concat()
}

/// The state key of a contract record.
pub fn contract_key(address: &[u8; 20]) -> Vec<u8> {
    [CONTRACT_PREFIX, address].concat()
}

/// The state key of one entry of a contract's storage.
pub fn contract_store_key(address: &[u8; 20], key: &[u8]) -> Vec<u8> {
    [CONTRACT_STORE_PREFIX, address, key].concat()
}

/// The state key of an account.
pub fn account_key(address: &[u8; 20]) -> Vec<u8> {
    let mut key = Vec::with_capacity(ACCOUNT_PREFIX.len() + 20);
    key.extend_from_slice(ACCOUNT_PREFIX);
    key.extend_from_slice(address);
    key
}

/// The `jmt_values` key for a key hash at a version.
pub fn value_key(key_hash: &[u8; 32], version: u64) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(key_hash);
    out[32..].copy_from_slice(&version.to_be_bytes());
    out
}

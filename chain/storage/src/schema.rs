//! The one list of RocksDB columns, with their layouts, and (re-exported) the state keys.
//!
//! | column          | key                                   | value                          |
//! |-----------------|---------------------------------------|--------------------------------|
//! | `jmt_nodes`     | borsh(jmt `NodeKey`)                  | borsh(jmt `Node`)              |
//! | `jmt_values`    | key_hash (32) ++ version (u64 BE)     | borsh(`Option<Vec<u8>>`)       |
//! | `jmt_preimages` | key_hash (32)                         | the raw state key              |
//! | `jmt_stale`     | stale_since (u64 BE) ++ borsh(NodeKey) | empty                         |
//! | `latest`        | raw state key                         | latest value (flat, for reads) |
//! | `meta`          | [`META_LATEST_VERSION`]               | u64 BE                         |
//! | `blobs`         | sha256 (32)                           | blob bytes (contract code, data blobs); only the hash enters the tree |
//!
//! `key_hash` is `sha256(raw state key)`. The state keys inside the tree (prefixes and
//! layouts) are defined once in [`taochain_primitives::schema`], which a light client uses
//! too, and re-exported here, so `taochain_storage::schema::account_key` and the rest work.

pub use taochain_primitives::schema::*;

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

/// The `jmt_values` key for a key hash at a version.
pub fn value_key(key_hash: &[u8; 32], version: u64) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(key_hash);
    out[32..].copy_from_slice(&version.to_be_bytes());
    out
}

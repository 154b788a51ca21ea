//! The taochain client SDK: keys, transaction building and signing, CometBFT JSON-RPC,
//! and proved queries: the state key recomputed from the path asked for, an ICS23 proof of
//! it checked against the app hash of a header that a light client verified from a trust
//! anchor (a local genesis file or a header hash got out of band).
//!
//! ```no_run
//! # fn main() -> Result<(), taochain_client::ClientError> {
//! use taochain_client::{Client, Keystore};
//! let client = Client::new("http://127.0.0.1:26657");
//! let keys = Keystore::open("/tmp/keys")?;
//! let sender = keys.signing_key("dev0", None)?;
//! let to = "tao1...".parse().map_err(|e| taochain_client::ClientError::Input(format!("{e}")))?;
//! let result = client.transfer(&sender, to, 1_500_000_000, None)?;
//! println!("committed at height {}", result.height);
//! # Ok(()) }
//! ```
//! It knows nothing of RocksDB or the state machine's internals: it speaks the wire
//! format of `taochain-primitives` and CometBFT's RPC.

pub mod client;
pub mod error;
pub mod keys;
pub mod light;
pub mod proof;
pub mod rpc;
pub mod trust;
pub mod views;

pub use client::{Client, Committed, Gas, Simulated, Status, VerifiedValue};
pub use error::ClientError;
pub use keys::{KeyInfo, Keystore};
pub use light::VerifiedHeader;
pub use rpc::Rpc;
pub use trust::{AnchorInfo, Trust, TrustAnchor, TrustOptions};

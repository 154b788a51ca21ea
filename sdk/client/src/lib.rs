//! The taochain client SDK: keys, transaction building and signing, CometBFT JSON-RPC,
//! and ICS23 proof checking against block headers.
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
pub mod proof;
pub mod rpc;

pub use client::{Client, Committed, Gas, Simulated, Status, VerifiedValue};
pub use error::ClientError;
pub use keys::{KeyInfo, Keystore};
pub use rpc::Rpc;

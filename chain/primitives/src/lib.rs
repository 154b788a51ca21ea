//! taochain primitives: the types every other part of the chain agrees on.
//!
//! This crate owns amounts (rao), addresses (bech32 `tao1...`), the transaction envelope
//! and its borsh wire format, the signing bytes, the state value encodings that clients
//! decode, the rejection codes, the state keys and the query path -> state key mapping
//! (so a light client recomputes the key it asked for), the economy's records and their
//! bounds, and the pure TAO block-reward schedule. The economy's rules (Yuma, the payout,
//! pricing) live in `taochain-economics`, which builds on these types. It is `no_std` +
//! `alloc` so contracts and light clients can use it; it does no I/O and knows nothing of
//! RocksDB, CometBFT or the CLI.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod address;
pub mod amount;
pub mod audit;
pub mod axon;
pub mod channel;
pub mod codes;
pub mod emission;
pub mod query;
pub mod schema;
pub mod signature;
pub mod state;
pub mod subnet;
pub mod tx;

pub use address::{Address, AddressError};
pub use amount::{AmountError, RAO_PER_TAO, format_tao, parse_amount};
pub use audit::Audit;
pub use codes::RejectCode;
pub use emission::{TOTAL_SUPPLY_CAP, block_reward};
pub use state::{Account, CodeRecord, ContractRecord, Params, Supply};
pub use tx::{DecodeError, Msg, SignedTx, TxBody};

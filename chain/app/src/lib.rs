//! The taochain state machine: deterministic, no I/O, no clock, no randomness of its own.
//!
//! [`App`] takes ABCI-shaped requests (plain Rust types, never CometBFT's) and committed
//! [`taochain_storage::Storage`], and returns results, events and the app hash. Inside:
//! [`genesis`] loads the initial state, [`checks`] runs the stateless and stateful
//! transaction checks shared by `CheckTx` and `FinalizeBlock`, [`bank`] moves rao,
//! [`emission`] mints the block reward and recycles fees, [`deliver`] executes a
//! transaction with per-transaction rollback, [`query`] serves reads and proofs.
//! Consensus code uses integers and ordered maps only.

pub mod app;
pub mod audit;
pub mod bank;
pub mod checks;
pub mod contracts;
pub mod deliver;
pub mod economy;
pub mod emission;
pub mod error;
pub mod events;
pub mod genesis;
pub mod mempool;
pub mod observe;
pub mod proposal;
pub mod query;
pub mod signatures;
pub mod simulate;
pub mod typed;

pub use app::{App, BlockOutcome, TxOutcome};
pub use error::AppError;
pub use events::Event;
pub use genesis::Genesis;
pub use query::QueryOutcome;

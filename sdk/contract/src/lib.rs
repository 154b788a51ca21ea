//! The taochain contract SDK: write a subnet contract in Rust, test it natively, build it
//! for `wasm32-unknown-unknown`.
//!
//! ```text
//! use taochain_contract::{Ctx, ContractError, Item, entry_points};
//! static COUNT: Item<u64> = Item::new(b"count");
//! fn instantiate(ctx: &mut Ctx, start: u64) -> Result<Vec<u8>, ContractError> {
//!     COUNT.save(ctx, &start)?;
//!     Ok(vec![])
//! }
//! entry_points!(instantiate: instantiate, execute: execute, query: query);
//! ```
//!
//! - [`entry_points!`] exports the ABI entry points (`taochain-vm-abi`) and routes each to
//!   a handler `fn(&mut Ctx, Msg) -> Result<Vec<u8>, ContractError>` with a borsh `Msg`.
//! - [`Ctx`] carries the block env, the sender and funds, and the host [`Api`].
//! - [`Item`] and [`Map`] are typed, borsh-encoded storage with ordered iteration.
//! - [`testing::MockApi`] runs handlers natively against an in-memory chain.

pub mod api;
pub mod entry;
pub mod error;
pub mod storage;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use api::Api;
pub use entry::{Ctx, respond};
pub use error::ContractError;
pub use storage::{Item, Map};
/// The ABI crate: status codes such as `abi::MATMUL_VALID`.
pub use taochain_vm_abi as abi;
pub use taochain_vm_abi::{Call, Env, Event, MessageInfo};

/// Re-exported for the macro and for contracts' message types.
pub use borsh;

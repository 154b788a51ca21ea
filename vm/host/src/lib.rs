//! The taochain contract VM: the only crate that knows wasmtime. It knows nothing of
//! ABCI, RocksDB or blocks; the chain reaches it through [`Vm`] and gives it state through
//! the [`Host`] trait this crate defines.
//!
//! - [`validate`]: the store-time check of a module against the accepted feature profile
//!   and the static caps in [`limits`].
//! - [`engine`]: the deterministic wasmtime configuration (NaN canonicalisation, fuel, no
//!   threads/SIMD/other proposals) and the module cache (memory + precompiled artifacts on
//!   disk).
//! - [`Vm::call`]: runs one entry point with a gas limit, a memory limit and a query-depth
//!   limit; returns the gas used even when the call fails.
//! - [`imports`]: the host functions of the ABI (`taochain-vm-abi`), each priced by the
//!   gas table in [`limits`].
//!
//! Test support (an in-memory sandbox chain, the VM benchmarks) is a separate crate,
//! `taochain-vm-sandbox` (`vm/sandbox`), which the chain never links.

pub mod engine;
pub mod error;
pub mod host;
pub mod imports;
pub mod instrument;
pub mod limits;
pub mod validate;
mod vm;

pub use engine::{Metering, ModuleCache};
pub use error::{ValidationError, VmError};
pub use host::{Host, HostError, Next};
pub use validate::{CodeInfo, validate};
pub use vm::{CallOutcome, Entry, VM_THREAD_STACK, Vm};

//! VM errors. A [`VmError`] is a deterministic failure of a contract call (the same on
//! every node: the transaction fails and pays its gas). A [`crate::HostError`] raised by
//! the chain's storage is not: the VM surfaces it as [`VmError::Host`] and the chain halts.

/// Why code was refused at store time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// Not valid WebAssembly under the accepted feature profile.
    #[error("invalid wasm: {0}")]
    Invalid(String),
    /// A static cap exceeded.
    #[error("{what} is {got}, the limit is {limit}")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Found.
        got: u64,
        /// Limit.
        limit: u64,
    },
    /// An import the host does not provide (or with the wrong signature).
    #[error("unknown import {module}::{name} (the host provides module `tao`, see vm/abi)")]
    UnknownImport {
        /// Module.
        module: String,
        /// Name.
        name: String,
    },
    /// A required export is missing or has the wrong type.
    #[error("missing or mistyped export `{0}` (entries are `() -> i32`, plus `memory`)")]
    MissingExport(String),
    /// A construct the chain refuses (start function, second memory, imported memory...).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The engine failed to compile valid code (should not happen).
    #[error("compilation failed: {0}")]
    Compile(String),
}

/// Why a contract call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VmError {
    /// Gas ran out.
    #[error("out of gas (limit {limit})")]
    OutOfGas {
        /// The limit.
        limit: u64,
    },
    /// The contract returned an error status with this message.
    #[error("contract error: {0}")]
    Contract(String),
    /// A wasm trap (unreachable, out-of-bounds, stack exhausted, bad host arguments...).
    #[error("trap: {0}")]
    Trap(String),
    /// The entry point does not exist in this contract.
    #[error("the contract has no `{0}` entry point")]
    NoEntry(&'static str),
    /// The code failed validation (only when loading unvalidated code).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The chain's storage failed: not the contract's fault; the node must halt.
    #[error("host failure: {0}")]
    Host(String),
}

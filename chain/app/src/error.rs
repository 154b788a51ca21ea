//! Errors of the state machine. [`AppError`] is a host failure (storage, bad genesis,
//! a request out of order): the node halts on it. A transaction's own failure is never an
//! `AppError`: it is a [`taochain_primitives::RejectCode`] in the transaction's result.

use taochain_storage::StorageError;

/// A failure that is not a transaction's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The genesis document is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(String),
    /// A state value does not decode: the state is corrupt.
    #[error("corrupt state value under {key}: {detail}")]
    Corrupt {
        /// The key (printable form).
        key: String,
        /// The decoder's message.
        detail: String,
    },
    /// A request that does not fit the block sequence (e.g. a height gap).
    #[error("out of order: {0}")]
    OutOfOrder(String),
    /// Arithmetic overflow in supply accounting (a broken invariant).
    #[error("supply invariant broken: {0}")]
    Invariant(String),
}

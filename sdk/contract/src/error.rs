//! Typed contract errors: what a handler returns; the chain shows the message.

use std::fmt;

/// A contract failure. The transaction fails, its writes are dropped, its gas is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractError {
    /// The message bytes did not decode.
    BadMessage(String),
    /// The sender may not do this.
    Unauthorized(String),
    /// Not enough funds (sent or held).
    InsufficientFunds(String),
    /// Anything else the contract wants to say.
    Custom(String),
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractError::BadMessage(m) => write!(f, "bad message: {m}"),
            ContractError::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            ContractError::InsufficientFunds(m) => write!(f, "insufficient funds: {m}"),
            ContractError::Custom(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ContractError {}

impl From<std::io::Error> for ContractError {
    fn from(e: std::io::Error) -> Self {
        ContractError::BadMessage(e.to_string())
    }
}

//! Rejection codes: every way a transaction can be refused or fail has its own non-zero
//! code, shared by the node (which returns it over ABCI) and clients (which print its name).

/// A transaction rejection or failure code. `0` is success and is not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
#[non_exhaustive]
pub enum RejectCode {
    /// Larger than the `max_tx_bytes` parameter.
    TxTooLarge = 1,
    /// The bytes end before the transaction does.
    Truncated = 2,
    /// Bytes left over after a complete transaction.
    TrailingBytes = 3,
    /// The bytes are not a valid borsh `SignedTx` (bad tag, bad UTF-8, ...).
    Malformed = 4,
    /// A message variant this chain does not know.
    UnknownMessage = 5,
    /// The body names another chain.
    WrongChainId = 6,
    /// The public key is not a valid ed25519 point.
    InvalidPublicKey = 7,
    /// The signature does not verify against the public key and body.
    BadSignature = 8,
    /// Nonce lower than the account's next nonce (already used).
    NonceReplayed = 9,
    /// Nonce higher than the account's next nonce.
    NonceFuture = 10,
    /// Fee below the `min_fee` parameter.
    FeeTooLow = 11,
    /// The balance does not cover the fee.
    InsufficientFee = 12,
    /// The balance does not cover the amounts sent (after the fee).
    InsufficientFunds = 13,
    /// A transfer of zero.
    ZeroAmount = 14,
    /// Amounts or balances that would overflow u64.
    AmountOverflow = 15,
    /// No messages.
    EmptyTx = 16,
    /// More messages than the `max_msgs` parameter.
    TooManyMessages = 17,
    /// `gas_limit` is below the gas the transaction needs (or used).
    OutOfGas = 18,
    /// Contract code refused at store time (invalid, too large, unknown imports...).
    ContractInvalid = 19,
    /// A contract call failed (contract error or trap).
    ContractFailed = 20,
    /// No such code id or contract.
    ContractNotFound = 21,
    /// Not allowed for this signer (e.g. migrate by a non-admin).
    Unauthorized = 22,
}

impl RejectCode {
    /// Every code, in order.
    pub const ALL: [RejectCode; 22] = [
        RejectCode::TxTooLarge,
        RejectCode::Truncated,
        RejectCode::TrailingBytes,
        RejectCode::Malformed,
        RejectCode::UnknownMessage,
        RejectCode::WrongChainId,
        RejectCode::InvalidPublicKey,
        RejectCode::BadSignature,
        RejectCode::NonceReplayed,
        RejectCode::NonceFuture,
        RejectCode::FeeTooLow,
        RejectCode::InsufficientFee,
        RejectCode::InsufficientFunds,
        RejectCode::ZeroAmount,
        RejectCode::AmountOverflow,
        RejectCode::EmptyTx,
        RejectCode::TooManyMessages,
        RejectCode::OutOfGas,
        RejectCode::ContractInvalid,
        RejectCode::ContractFailed,
        RejectCode::ContractNotFound,
        RejectCode::Unauthorized,
    ];

    /// The numeric code returned over ABCI.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The code for a number, if it is one of ours.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// A stable snake_case name for logs and CLI output.
    pub fn name(self) -> &'static str {
        match self {
            RejectCode::TxTooLarge => "tx_too_large",
            RejectCode::Truncated => "truncated",
            RejectCode::TrailingBytes => "trailing_bytes",
            RejectCode::Malformed => "malformed",
            RejectCode::UnknownMessage => "unknown_message",
            RejectCode::WrongChainId => "wrong_chain_id",
            RejectCode::InvalidPublicKey => "invalid_public_key",
            RejectCode::BadSignature => "bad_signature",
            RejectCode::NonceReplayed => "nonce_replayed",
            RejectCode::NonceFuture => "nonce_future",
            RejectCode::FeeTooLow => "fee_too_low",
            RejectCode::InsufficientFee => "insufficient_fee",
            RejectCode::InsufficientFunds => "insufficient_funds",
            RejectCode::ZeroAmount => "zero_amount",
            RejectCode::AmountOverflow => "amount_overflow",
            RejectCode::EmptyTx => "empty_tx",
            RejectCode::TooManyMessages => "too_many_messages",
            RejectCode::OutOfGas => "out_of_gas",
            RejectCode::ContractInvalid => "contract_invalid",
            RejectCode::ContractFailed => "contract_failed",
            RejectCode::ContractNotFound => "contract_not_found",
            RejectCode::Unauthorized => "unauthorized",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_non_zero_and_roundtrip() {
        for (i, c) in RejectCode::ALL.iter().enumerate() {
            assert_eq!(c.code(), i as u32 + 1);
            assert_eq!(RejectCode::from_code(c.code()), Some(*c));
        }
        assert_eq!(RejectCode::from_code(0), None);
    }
}

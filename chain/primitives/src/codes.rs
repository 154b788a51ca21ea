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
    /// Fee below `max(min_fee, gas_limit * min_gas_price)`.
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
    /// The hotkey holds no UID on the subnet.
    NotRegistered = 23,
    /// The hotkey has no validator permit and the weights are not a self-weight.
    NoValidatorPermit = 24,
    /// A UID appears twice in a weight vector.
    DuplicateUids = 25,
    /// A weight targets a UID (or netuid) that does not exist.
    UnknownUid = 26,
    /// Fewer weights than min_allowed_weights.
    TooFewWeights = 27,
    /// Weights set again before weights_rate_limit blocks passed.
    WeightsRateLimited = 28,
    /// A reveal matches no commit of this hotkey.
    RevealMismatch = 29,
    /// A reveal before its commit's reveal window.
    RevealTooEarly = 30,
    /// A reveal after its commit's reveal window.
    RevealTooLate = 31,
    /// Every UID is taken and immune (or on root: stake too low to replace anyone).
    SubnetFull = 32,
    /// More stake removed or moved than is staked.
    InsufficientStake = 33,
    /// A take above 18%.
    TakeTooHigh = 34,
    /// Every netuid up to the subnet limit is in use.
    SubnetLimitReached = 35,
    /// The voter has no stake.
    NoVotingPower = 36,
    /// The voter already voted on this proposal.
    AlreadyVoted = 37,
    /// No subnet with this netuid.
    SubnetNotFound = 38,
    /// The hotkey belongs to another coldkey.
    HotkeyNotOwned = 39,
    /// A parameter or hyperparameter name or value out of bounds.
    InvalidParam = 40,
    /// No open proposal with this id.
    ProposalNotFound = 41,
    /// Ten unrevealed weight commits already.
    TooManyCommits = 42,
    /// The hotkey already holds a UID on the subnet.
    AlreadyRegistered = 43,
    /// Uids and values differ in length, or the vector is too long.
    InvalidWeights = 44,
    /// A take increase before take_rate_limit blocks passed.
    RateLimited = 45,
    /// A proposal deposit below min_deposit.
    DepositTooLow = 46,
    /// `gas_limit` above the `max_tx_gas` parameter.
    GasLimitTooHigh = 47,
    /// Stake held by a lock: behind an open governance vote, or the stake that won a
    /// root seat, until its block.
    StakeLocked = 48,
    /// No payment channel with this id.
    ChannelNotFound = 49,
    /// A voucher whose signature is not the channel user's for this chain, subnet, channel and amount.
    VoucherBadSignature = 50,
    /// A voucher for more than the channel's deposit.
    VoucherAboveDeposit = 51,
    /// A voucher at or below the amount already redeemed (replayed or lower).
    VoucherNotIncreasing = 52,
    /// The channel is closed.
    ChannelClosed = 53,
    /// The channel cannot be closed before its expiry.
    ChannelNotExpired = 54,
    /// The sender already has as many transactions pending in this node's mempool as it
    /// holds per sender.
    TooManyPending = 55,
}

impl RejectCode {
    /// Every code, in order.
    pub const ALL: [RejectCode; 55] = [
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
        RejectCode::NotRegistered,
        RejectCode::NoValidatorPermit,
        RejectCode::DuplicateUids,
        RejectCode::UnknownUid,
        RejectCode::TooFewWeights,
        RejectCode::WeightsRateLimited,
        RejectCode::RevealMismatch,
        RejectCode::RevealTooEarly,
        RejectCode::RevealTooLate,
        RejectCode::SubnetFull,
        RejectCode::InsufficientStake,
        RejectCode::TakeTooHigh,
        RejectCode::SubnetLimitReached,
        RejectCode::NoVotingPower,
        RejectCode::AlreadyVoted,
        RejectCode::SubnetNotFound,
        RejectCode::HotkeyNotOwned,
        RejectCode::InvalidParam,
        RejectCode::ProposalNotFound,
        RejectCode::TooManyCommits,
        RejectCode::AlreadyRegistered,
        RejectCode::InvalidWeights,
        RejectCode::RateLimited,
        RejectCode::DepositTooLow,
        RejectCode::GasLimitTooHigh,
        RejectCode::StakeLocked,
        RejectCode::ChannelNotFound,
        RejectCode::VoucherBadSignature,
        RejectCode::VoucherAboveDeposit,
        RejectCode::VoucherNotIncreasing,
        RejectCode::ChannelClosed,
        RejectCode::ChannelNotExpired,
        RejectCode::TooManyPending,
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
            RejectCode::NotRegistered => "not_registered",
            RejectCode::NoValidatorPermit => "no_validator_permit",
            RejectCode::DuplicateUids => "duplicate_uids",
            RejectCode::UnknownUid => "unknown_uid",
            RejectCode::TooFewWeights => "too_few_weights",
            RejectCode::WeightsRateLimited => "weights_rate_limited",
            RejectCode::RevealMismatch => "reveal_mismatch",
            RejectCode::RevealTooEarly => "reveal_too_early",
            RejectCode::RevealTooLate => "reveal_too_late",
            RejectCode::SubnetFull => "subnet_full",
            RejectCode::InsufficientStake => "insufficient_stake",
            RejectCode::TakeTooHigh => "take_too_high",
            RejectCode::SubnetLimitReached => "subnet_limit_reached",
            RejectCode::NoVotingPower => "no_voting_power",
            RejectCode::AlreadyVoted => "already_voted",
            RejectCode::SubnetNotFound => "subnet_not_found",
            RejectCode::HotkeyNotOwned => "hotkey_not_owned",
            RejectCode::InvalidParam => "invalid_param",
            RejectCode::ProposalNotFound => "proposal_not_found",
            RejectCode::TooManyCommits => "too_many_commits",
            RejectCode::AlreadyRegistered => "already_registered",
            RejectCode::InvalidWeights => "invalid_weights",
            RejectCode::RateLimited => "rate_limited",
            RejectCode::DepositTooLow => "deposit_too_low",
            RejectCode::GasLimitTooHigh => "gas_limit_too_high",
            RejectCode::StakeLocked => "stake_locked",
            RejectCode::ChannelNotFound => "channel_not_found",
            RejectCode::VoucherBadSignature => "voucher_bad_signature",
            RejectCode::VoucherAboveDeposit => "voucher_above_deposit",
            RejectCode::VoucherNotIncreasing => "voucher_not_increasing",
            RejectCode::ChannelClosed => "channel_closed",
            RejectCode::ChannelNotExpired => "channel_not_expired",
            RejectCode::TooManyPending => "too_many_pending",
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

//! Transaction checks shared by `CheckTx` (mempool) and `FinalizeBlock` (execution):
//! decoding, the stateless checks (chain id, message count, amounts, gas ceiling, the fee
//! the gas limit needs, intrinsic gas), the
//! signature, and the stateful checks (nonce, fee balance). Each failure is a
//! [`Rejection`] with its own [`RejectCode`] and a log line saying what was wrong.

use taochain_primitives::state::gas;
use taochain_primitives::{Account, Msg, Params, RejectCode, SignedTx};

/// Why a transaction was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The code.
    pub code: RejectCode,
    /// What was wrong, for the log.
    pub log: String,
}

impl Rejection {
    /// A rejection with a code and message.
    pub fn new(code: RejectCode, log: impl Into<String>) -> Self {
        Rejection {
            code,
            log: log.into(),
        }
    }
}

impl From<(RejectCode, String)> for Rejection {
    fn from((code, log): (RejectCode, String)) -> Self {
        Rejection { code, log }
    }
}

/// Decodes transaction bytes under the size limit.
pub fn decode(bytes: &[u8], params: &Params) -> Result<SignedTx, Rejection> {
    SignedTx::decode(bytes, params.max_tx_bytes as usize)
        .map_err(|e| Rejection::new(e.code(), e.to_string()))
}

/// Checks that need no state. Returns the gas the transaction uses.
pub fn check_stateless(
    tx: &SignedTx,
    encoded_len: usize,
    chain_id: &str,
    params: &Params,
) -> Result<u64, Rejection> {
    if tx.body.chain_id != chain_id {
        return Err(Rejection::new(
            RejectCode::WrongChainId,
            format!(
                "chain id `{}` is not this chain's `{chain_id}`",
                tx.body.chain_id
            ),
        ));
    }
    if tx.body.msgs.is_empty() {
        return Err(Rejection::new(
            RejectCode::EmptyTx,
            "transaction has no messages",
        ));
    }
    if tx.body.msgs.len() > params.max_msgs as usize {
        return Err(Rejection::new(
            RejectCode::TooManyMessages,
            format!(
                "{} messages, the limit is {}",
                tx.body.msgs.len(),
                params.max_msgs
            ),
        ));
    }
    for (i, msg) in tx.body.msgs.iter().enumerate() {
        if let Msg::Transfer { amount: 0, .. } = msg {
            return Err(Rejection::new(
                RejectCode::ZeroAmount,
                format!("message {i}: transfer amount must be non-zero"),
            ));
        }
    }
    total_spend(tx)?;
    if tx.body.gas_limit > params.max_tx_gas {
        return Err(Rejection::new(
            RejectCode::GasLimitTooHigh,
            format!(
                "gas limit {} is above the per-transaction maximum {}",
                tx.body.gas_limit, params.max_tx_gas
            ),
        ));
    }
    let required = params.required_fee(tx.body.gas_limit);
    if tx.body.fee < required {
        return Err(Rejection::new(
            RejectCode::FeeTooLow,
            format!(
                "fee {} rao is below the {required} rao that gas limit {} needs (min_fee {} rao, min_gas_price {} milli-rao per gas)",
                tx.body.fee, tx.body.gas_limit, params.min_fee, params.min_gas_price
            ),
        ));
    }
    let needed = gas::required(tx.body.msgs.len(), encoded_len);
    if tx.body.gas_limit < needed {
        return Err(Rejection::new(
            RejectCode::OutOfGas,
            format!(
                "gas limit {} is below the {needed} gas this transaction needs",
                tx.body.gas_limit
            ),
        ));
    }
    Ok(needed)
}

/// Verifies the signature on its own.
pub fn check_signature(tx: &SignedTx) -> Result<(), Rejection> {
    tx.verify_signature().map_err(|code| {
        let log = match code {
            RejectCode::InvalidPublicKey => {
                "public key is not a valid ed25519 key (or has small order)"
            }
            _ => "signature does not verify for this public key and body (or R has small order)",
        };
        Rejection::new(code, log)
    })
}

/// Fee plus every amount sent, or `AmountOverflow`.
pub fn total_spend(tx: &SignedTx) -> Result<u64, Rejection> {
    let mut total = tx.body.fee;
    for msg in &tx.body.msgs {
        total = total.checked_add(msg.spend()).ok_or_else(|| {
            Rejection::new(
                RejectCode::AmountOverflow,
                "fee plus amounts overflow u64 rao",
            )
        })?;
    }
    Ok(total)
}

/// The nonce must be the account's next one, and the balance must cover the fee.
pub fn check_nonce_and_fee(account: &Account, tx: &SignedTx) -> Result<(), Rejection> {
    let nonce = tx.body.nonce;
    if nonce < account.nonce {
        return Err(Rejection::new(
            RejectCode::NonceReplayed,
            format!(
                "nonce {nonce} already used; next nonce is {}",
                account.nonce
            ),
        ));
    }
    if nonce > account.nonce {
        return Err(Rejection::new(
            RejectCode::NonceFuture,
            format!("nonce {nonce} is ahead; next nonce is {}", account.nonce),
        ));
    }
    if account.balance < tx.body.fee {
        return Err(Rejection::new(
            RejectCode::InsufficientFee,
            format!(
                "balance {} rao does not cover the fee {} rao",
                account.balance, tx.body.fee
            ),
        ));
    }
    Ok(())
}

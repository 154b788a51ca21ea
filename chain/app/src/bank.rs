//! Balances and nonces: typed access to `acct/` keys, and transfers.
//! One key per account (balance + nonce together), so a transfer updates two tree leaves.

use taochain_primitives::{Account, Address, RejectCode};
use taochain_storage::schema::account_key;
use taochain_storage::{StateRead, StateWrite};

use crate::AppError;
use crate::typed::{get_or_default, put};

/// The account at `address` (default: empty) .
pub fn account(state: &(impl StateRead + ?Sized), address: &Address) -> Result<Account, AppError> {
    get_or_default(state, &account_key(address.as_bytes()))
}

/// Stores the account at `address`.
pub fn set_account(state: &mut (impl StateWrite + ?Sized), address: &Address, account: &Account) {
    put(state, &account_key(address.as_bytes()), account);
}

/// A failed transfer: the code and a message for the log.
pub type TransferError = (RejectCode, String);

/// Moves `amount` from `from` to `to`. On error some writes may be buffered: callers run it
/// in a per-transaction delta and drop that delta on error.
pub fn transfer(
    state: &mut (impl StateWrite + ?Sized),
    from: &Address,
    to: &Address,
    amount: u64,
) -> Result<Result<(), TransferError>, AppError> {
    if amount == 0 {
        return Ok(Err((
            RejectCode::ZeroAmount,
            "transfer amount must be non-zero".into(),
        )));
    }
    let mut sender = account(state, from)?;
    let Some(left) = sender.balance.checked_sub(amount) else {
        return Ok(Err((
            RejectCode::InsufficientFunds,
            format!(
                "balance {} rao is below the amount {amount} rao",
                sender.balance
            ),
        )));
    };
    sender.balance = left;
    set_account(state, from, &sender);
    let mut recipient = account(state, to)?;
    let Some(credited) = recipient.balance.checked_add(amount) else {
        return Ok(Err((
            RejectCode::AmountOverflow,
            "recipient balance would overflow".into(),
        )));
    };
    recipient.balance = credited;
    set_account(state, to, &recipient);
    Ok(Ok(()))
}

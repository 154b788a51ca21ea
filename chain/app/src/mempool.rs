//! `CheckTx` state: the committed state plus what the transactions already admitted to the
//! mempool since the last commit will spend, so one account can queue several
//! transactions (nonces n, n+1, ...) in one block. Reset at every commit; CometBFT's
//! recheck of the remaining mempool rebuilds it in order.

use std::collections::BTreeMap;

use taochain_primitives::{Account, Address, Params, RejectCode};
use taochain_storage::StateRead;

use crate::AppError;
use crate::bank::account;
use crate::checks::{
    Rejection, check_nonce_and_fee, check_signature, check_stateless, decode, total_spend,
};

/// Accounts as the mempool sees them (pending nonces and spends).
#[derive(Debug, Default)]
pub struct MempoolState {
    accounts: BTreeMap<Address, Account>,
}

impl MempoolState {
    /// Forgets everything pending (after a commit).
    pub fn reset(&mut self) {
        self.accounts.clear();
    }

    /// Runs every check on `bytes` (the signature only when `!recheck`) and, if it passes,
    /// records its nonce and spend. Returns the gas the transaction signed for (CometBFT's
    /// `gas_wanted`, which its mempool and proposer count against `block.max_gas`) and the
    /// intrinsic gas it needs.
    pub fn check(
        &mut self,
        committed: &(impl StateRead + ?Sized),
        bytes: &[u8],
        chain_id: &str,
        params: &Params,
        recheck: bool,
    ) -> Result<Result<(u64, u64), Rejection>, AppError> {
        let tx = match decode(bytes, params) {
            Ok(tx) => tx,
            Err(r) => return Ok(Err(r)),
        };
        let checked = check_stateless(&tx, bytes.len(), chain_id, params).and_then(|gas| {
            if recheck {
                Ok(gas)
            } else {
                check_signature(&tx).map(|()| gas)
            }
        });
        let gas = match checked {
            Ok(gas) => gas,
            Err(r) => return Ok(Err(r)),
        };
        let sender = tx.sender();
        let acct = match self.accounts.get(&sender) {
            Some(a) => *a,
            None => account(committed, &sender)?,
        };
        if let Err(r) = check_nonce_and_fee(&acct, &tx) {
            return Ok(Err(r));
        }
        let spend = match total_spend(&tx) {
            Ok(s) => s,
            Err(r) => return Ok(Err(r)),
        };
        let Some(balance) = acct.balance.checked_sub(spend) else {
            return Ok(Err(Rejection::new(
                RejectCode::InsufficientFunds,
                format!(
                    "balance {} rao does not cover fee + amounts {spend} rao",
                    acct.balance
                ),
            )));
        };
        self.accounts.insert(
            sender,
            Account {
                balance,
                nonce: acct.nonce.saturating_add(1),
            },
        );
        Ok(Ok((tx.body.gas_limit, gas)))
    }
}

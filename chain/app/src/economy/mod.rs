//! The Bittensor economy in native code: subnets and their hyperparameters, neurons
//! (burned and root registration) and their axons, staking and takes, weights (plain and commit-reveal),
//! the per-block routing of the block reward into subnet pots, each subnet's epoch (its
//! contract's `epoch` hook, Yuma consensus, the 18/41/41 payout), the root epoch that sets
//! each subnet's share, governance, and payment channels whose redemptions reach a
//! subnet's pot.
//!
//! Money never appears or disappears here: stake sits in the `staking` module account,
//! subnet locks in `subnet_locks`, proposal deposits in `gov_deposits`, and pending pots
//! are claims on the `emission_pool` account that the block reward is minted into, so
//! `total_issuance == sum of all balances` holds after every block.

pub mod axons;
pub mod channels;
pub mod epoch;
pub mod governance;
pub mod neurons;
pub mod query;
pub mod rewards;
pub mod staking;
pub mod store;
pub mod subnets;
pub mod weights;

use taochain_primitives::{Address, RejectCode};
use taochain_storage::StorageError;

use crate::AppError;
use crate::checks::Rejection;
use crate::contracts::{Done, Outcome};
use crate::events::Event;

/// A message that did not go through: refused (with the gas it used) or a host failure.
#[derive(Debug)]
pub enum Fail {
    /// The transaction's fault: a code, a log line, gas used.
    Reject(Rejection, u64),
    /// Not the transaction's fault: the node halts.
    Host(AppError),
}

impl From<AppError> for Fail {
    fn from(e: AppError) -> Self {
        Fail::Host(e)
    }
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Host(e.into())
    }
}

impl From<Rejection> for Fail {
    fn from(r: Rejection) -> Self {
        Fail::Reject(r, 0)
    }
}

/// Gas per stored entry an economy message scans (a read of one to two microseconds).
pub const SCAN_GAS: u64 = 2_000;

/// The gas for scanning `entries`, refused as `OutOfGas` (before any scan) when it is
/// more than `gas_left`.
pub fn scan_gas(entries: u64, gas_left: u64) -> Result<u64, Fail> {
    let gas = entries.saturating_mul(SCAN_GAS);
    if gas > gas_left {
        return Err(Fail::Reject(
            Rejection::new(
                RejectCode::OutOfGas,
                format!("scanning {entries} entries needs {gas} gas; {gas_left} left"),
            ),
            gas_left,
        ));
    }
    Ok(gas)
}

/// Refuses with `code`, having used `gas`.
pub fn reject_after<T>(code: RejectCode, log: impl Into<String>, gas: u64) -> Result<T, Fail> {
    Err(Fail::Reject(Rejection::new(code, log), gas))
}

/// Refuses with `code`.
pub fn reject<T>(code: RejectCode, log: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Reject(Rejection::new(code, log), 0))
}

/// A successful economy message with its events.
pub fn done(events: Vec<Event>) -> Result<Done, Fail> {
    Ok(Done {
        gas_used: 0,
        data: vec![],
        events,
    })
}

/// Converts to the contracts' [`Outcome`] shape that `deliver` handles.
pub fn finish(result: Result<Done, Fail>) -> Result<Outcome, AppError> {
    match result {
        Ok(d) => Ok(Ok(d)),
        Err(Fail::Reject(r, gas)) => Ok(Err((r, gas))),
        Err(Fail::Host(e)) => Err(e),
    }
}

/// Module account holding all stake.
pub fn staking_account() -> Address {
    Address::module("staking")
}

/// Module account holding subnet locks.
pub fn locks_account() -> Address {
    Address::module("subnet_locks")
}

/// Module account holding proposal deposits.
pub fn deposits_account() -> Address {
    Address::module("gov_deposits")
}

/// Admin of every subnet contract: only governance migrates them.
pub fn subnets_admin() -> Address {
    Address::module("subnets")
}

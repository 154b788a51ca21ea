//! Applying the TAO schedule to state: each block mints `block_reward(total_issuance)` into
//! the emission pool (the economy then assigns it to subnet pots), and fees are recycled out of total issuance,
//! which delays the next halving. The schedule itself is the pure function
//! [`taochain_primitives::block_reward`].

pub use taochain_primitives::emission::emission_pool;
use taochain_primitives::{Supply, TOTAL_SUPPLY_CAP, block_reward};
use taochain_storage::schema::SUPPLY_KEY;
use taochain_storage::{StateRead, StateWrite};

use crate::bank::{account, set_account};
use crate::typed::{get, put};
use crate::{AppError, Event};

/// The supply record.
pub fn supply(state: &(impl StateRead + ?Sized)) -> Result<Supply, AppError> {
    get(state, &SUPPLY_KEY)?.ok_or_else(|| AppError::Invariant("no supply record".into()))
}

/// Mints this block's reward into the emission pool (the subnets' pots are claims on it).
/// Returns the `mint` event and the amount.
pub fn mint_block_reward(state: &mut (impl StateWrite + ?Sized)) -> Result<(Event, u64), AppError> {
    let mut s = supply(state)?;
    let reward = block_reward(s.total_issuance);
    let overflow = || AppError::Invariant("issuance overflow".into());
    s.total_issuance = s.total_issuance.checked_add(reward).ok_or_else(overflow)?;
    s.total_minted = s.total_minted.checked_add(reward).ok_or_else(overflow)?;
    if s.total_issuance > TOTAL_SUPPLY_CAP {
        return Err(AppError::Invariant("issuance above the cap".into()));
    }
    let pool_addr = emission_pool();
    let mut pool = account(state, &pool_addr)?;
    pool.balance = pool.balance.checked_add(reward).ok_or_else(overflow)?;
    set_account(state, &pool_addr, &pool);
    put(state, &SUPPLY_KEY, &s);
    Ok((
        Event::new(
            "mint",
            &[
                ("amount", reward.to_string()),
                ("pool", pool_addr.to_string()),
                ("total_issuance", s.total_issuance.to_string()),
            ],
        ),
        reward,
    ))
}

/// Recycles `amount` rao already taken from a balance: total issuance shrinks by it.
pub fn recycle(state: &mut (impl StateWrite + ?Sized), amount: u64) -> Result<(), AppError> {
    let mut s = supply(state)?;
    s.total_issuance = s
        .total_issuance
        .checked_sub(amount)
        .ok_or_else(|| AppError::Invariant("recycled more than issued".into()))?;
    s.total_recycled = s
        .total_recycled
        .checked_add(amount)
        .ok_or_else(|| AppError::Invariant("recycled overflow".into()))?;
    put(state, &SUPPLY_KEY, &s);
    Ok(())
}

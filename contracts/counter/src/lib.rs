//! `counter`: the minimal taochain contract, the template to copy. A number anyone can
//! increment, the owner can reset, and a migration can bump; as a subnet contract its
//! `epoch` returns weights over the subnet's UIDs.

use borsh::{BorshDeserialize, BorshSerialize};
use taochain_contract::abi::EpochCall;
use taochain_contract::{ContractError, Ctx, Item, entry_points, respond};

/// Instantiate message.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct InstantiateMsg {
    /// Starting count.
    pub start: u64,
}

/// Execute messages.
#[derive(BorshSerialize, BorshDeserialize)]
pub enum ExecuteMsg {
    /// Add `by` to the count.
    Increment { by: u64 },
    /// Set the count (owner only).
    Reset { to: u64 },
}

/// Query messages.
#[derive(BorshSerialize, BorshDeserialize)]
pub enum QueryMsg {
    /// The count, as borsh u64.
    Count,
    /// The owner, as borsh [u8; 20].
    Owner,
}

/// Migrate message: add `bump` to the count while moving to new code.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct MigrateMsg {
    /// Added to the count.
    pub bump: u64,
}

static COUNT: Item<u64> = Item::new(b"count");
static OWNER: Item<[u8; 20]> = Item::new(b"owner");

/// Entry point handler.
pub fn instantiate(ctx: &mut Ctx<'_>, msg: InstantiateMsg) -> Result<Vec<u8>, ContractError> {
    COUNT.save(ctx.api, &msg.start);
    OWNER.save(ctx.api, &ctx.info.sender);
    Ok(vec![])
}

/// Entry point handler.
pub fn execute(ctx: &mut Ctx<'_>, msg: ExecuteMsg) -> Result<Vec<u8>, ContractError> {
    let count = match msg {
        ExecuteMsg::Increment { by } => COUNT
            .load(ctx.api)?
            .checked_add(by)
            .ok_or_else(|| ContractError::Custom("count overflow".into()))?,
        ExecuteMsg::Reset { to } => {
            if OWNER.load(ctx.api)? != ctx.info.sender {
                return Err(ContractError::Unauthorized(
                    "only the owner may reset".into(),
                ));
            }
            to
        }
    };
    COUNT.save(ctx.api, &count);
    ctx.event("counter", &[("count", count.to_string())]);
    respond(&count)
}

/// Entry point handler.
pub fn query(ctx: &mut Ctx<'_>, msg: QueryMsg) -> Result<Vec<u8>, ContractError> {
    match msg {
        QueryMsg::Count => respond(&COUNT.load(ctx.api)?),
        QueryMsg::Owner => respond(&OWNER.load(ctx.api)?),
    }
}

/// Entry point handler.
pub fn migrate(ctx: &mut Ctx<'_>, msg: MigrateMsg) -> Result<Vec<u8>, ContractError> {
    let count = COUNT.load(ctx.api)?.saturating_add(msg.bump);
    COUNT.save(ctx.api, &count);
    respond(&count)
}

/// Entry point handler: a toy on-chain judge for a subnet run by this contract. It weights
/// every UID but the owner's (0) equally, and the UID `count % n` twice as much; the chain
/// applies the result as the owner UID's weights.
pub fn epoch(ctx: &mut Ctx<'_>, msg: EpochCall) -> Result<Vec<u8>, ContractError> {
    let n = msg.hotkeys.len() as u64;
    if n < 2 {
        return respond(&Vec::<(u16, u16)>::new());
    }
    let favourite = COUNT.load(ctx.api)? % n;
    let weights: Vec<(u16, u16)> = (1..n)
        .map(|uid| (uid as u16, if uid == favourite { 2 } else { 1 }))
        .collect();
    respond(&weights)
}

entry_points!(
    instantiate: instantiate,
    execute: execute,
    query: query,
    migrate: migrate,
    epoch: epoch
);

#[cfg(test)]
mod tests {
    use super::*;
    use taochain_contract::testing::MockApi;

    fn msg<T: BorshSerialize>(m: &T) -> Vec<u8> {
        borsh::to_vec(m).expect("encodes")
    }

    #[test]
    fn counts_resets_and_migrates_natively() {
        let mut api = MockApi::default();
        let owner = [1u8; 20];
        api.call(instantiate, owner, 0, &msg(&InstantiateMsg { start: 5 }))
            .expect("instantiates");
        let out = api
            .call(
                execute,
                [2u8; 20],
                0,
                &msg(&ExecuteMsg::Increment { by: 3 }),
            )
            .expect("increments");
        assert_eq!(u64::try_from_slice(&out).expect("u64"), 8);
        let err = api
            .call(execute, [2u8; 20], 0, &msg(&ExecuteMsg::Reset { to: 0 }))
            .expect_err("not owner");
        assert!(err.contains("unauthorized"), "{err}");
        api.call(execute, owner, 0, &msg(&ExecuteMsg::Reset { to: 1 }))
            .expect("owner resets");
        let out = api
            .call(migrate, owner, 0, &msg(&MigrateMsg { bump: 10 }))
            .expect("migrates");
        assert_eq!(u64::try_from_slice(&out).expect("u64"), 11);
        let out = api
            .call(query, owner, 0, &msg(&QueryMsg::Count))
            .expect("queries");
        assert_eq!(u64::try_from_slice(&out).expect("u64"), 11);
        assert_eq!(api.events.len(), 2);
        // count 11 over 4 UIDs: UID 3 is the favourite; the owner's UID 0 gets nothing.
        let epoch_msg = EpochCall {
            netuid: 1,
            height: 9,
            hotkeys: vec![[0; 20]; 4],
        };
        let out = api.call(epoch, owner, 0, &msg(&epoch_msg)).expect("epoch");
        assert_eq!(
            Vec::<(u16, u16)>::try_from_slice(&out).expect("weights"),
            vec![(1, 1), (2, 1), (3, 2)]
        );
        assert!(
            api.call(execute, owner, 0, &[9, 9])
                .expect_err("bad msg")
                .contains("bad message")
        );
    }
}

//! `escrow`: holds deposited TAO until an arbiter releases it to a beneficiary or refunds
//! it. Shows funds, bank sends, events, and composition: `ReleaseIfCount` releases only
//! when another contract (a `counter`) reports a count at or above a threshold.

use borsh::{BorshDeserialize, BorshSerialize};
use taochain_contract::{ContractError, Ctx, Item, Map, entry_points, respond};

/// Instantiate message.
#[derive(BorshSerialize, BorshDeserialize)]
pub struct InstantiateMsg {
    /// Who may release or refund.
    pub arbiter: [u8; 20],
    /// Who receives released funds.
    pub beneficiary: [u8; 20],
}

/// Execute messages.
#[derive(BorshSerialize, BorshDeserialize)]
pub enum ExecuteMsg {
    /// Escrow the funds sent with this call.
    Deposit,
    /// Pay `amount` to the beneficiary (arbiter only).
    Release { amount: u64 },
    /// Pay a depositor's deposit back (arbiter only).
    Refund { depositor: [u8; 20] },
    /// Release everything if `counter` reports a count >= `min` (anyone may call).
    ReleaseIfCount { counter: [u8; 20], min: u64 },
}

/// Query messages.
#[derive(BorshSerialize, BorshDeserialize)]
pub enum QueryMsg {
    /// Total escrowed, borsh u64.
    Total,
    /// One depositor's deposit, borsh u64.
    Deposit { depositor: [u8; 20] },
}

/// The counter contract's query we use (its `QueryMsg::Count` is variant 0).
#[derive(BorshSerialize)]
enum CounterQuery {
    Count,
}

static ARBITER: Item<[u8; 20]> = Item::new(b"arbiter");
static BENEFICIARY: Item<[u8; 20]> = Item::new(b"beneficiary");
static TOTAL: Item<u64> = Item::new(b"total");
static DEPOSITS: Map<u64> = Map::new(b"deposits");

fn hex(a: &[u8; 20]) -> String {
    a.iter().map(|b| format!("{b:02x}")).collect()
}

/// Entry point handler.
pub fn instantiate(ctx: &mut Ctx<'_>, msg: InstantiateMsg) -> Result<Vec<u8>, ContractError> {
    ARBITER.save(ctx.api, &msg.arbiter);
    BENEFICIARY.save(ctx.api, &msg.beneficiary);
    TOTAL.save(ctx.api, &0);
    Ok(vec![])
}

fn only_arbiter(ctx: &Ctx<'_>) -> Result<(), ContractError> {
    if ARBITER.load(ctx.api)? == ctx.info.sender {
        Ok(())
    } else {
        Err(ContractError::Unauthorized("only the arbiter".into()))
    }
}

fn pay(ctx: &mut Ctx<'_>, to: [u8; 20], amount: u64) -> Result<u64, ContractError> {
    let total = TOTAL.load(ctx.api)?;
    let left = total
        .checked_sub(amount)
        .ok_or_else(|| ContractError::InsufficientFunds(format!("{amount} > escrowed {total}")))?;
    ctx.api
        .bank_send(&to, amount)
        .map_err(|code| ContractError::InsufficientFunds(format!("bank send refused ({code})")))?;
    TOTAL.save(ctx.api, &left);
    ctx.event(
        "escrow_paid",
        &[("to", hex(&to)), ("amount", amount.to_string())],
    );
    Ok(left)
}

/// Entry point handler.
pub fn execute(ctx: &mut Ctx<'_>, msg: ExecuteMsg) -> Result<Vec<u8>, ContractError> {
    match msg {
        ExecuteMsg::Deposit => {
            let funds = ctx.info.funds;
            if funds == 0 {
                return Err(ContractError::InsufficientFunds(
                    "send funds with Deposit".into(),
                ));
            }
            let sender = ctx.info.sender;
            let mine = DEPOSITS
                .get(ctx.api, &sender)?
                .unwrap_or(0)
                .saturating_add(funds);
            DEPOSITS.set(ctx.api, &sender, &mine);
            let total = TOTAL.load(ctx.api)?.saturating_add(funds);
            TOTAL.save(ctx.api, &total);
            ctx.event(
                "escrow_deposit",
                &[("from", hex(&sender)), ("amount", funds.to_string())],
            );
            respond(&total)
        }
        ExecuteMsg::Release { amount } => {
            only_arbiter(ctx)?;
            let to = BENEFICIARY.load(ctx.api)?;
            respond(&pay(ctx, to, amount)?)
        }
        ExecuteMsg::Refund { depositor } => {
            only_arbiter(ctx)?;
            let amount = DEPOSITS.get(ctx.api, &depositor)?.unwrap_or(0);
            DEPOSITS.remove(ctx.api, &depositor);
            respond(&pay(ctx, depositor, amount)?)
        }
        ExecuteMsg::ReleaseIfCount { counter, min } => {
            let q = borsh::to_vec(&CounterQuery::Count)
                .map_err(|e| ContractError::Custom(e.to_string()))?;
            let out = ctx
                .api
                .query_contract(&counter, &q)
                .map_err(ContractError::Custom)?;
            let count =
                u64::try_from_slice(&out).map_err(|e| ContractError::Custom(e.to_string()))?;
            if count < min {
                return Err(ContractError::Custom(format!(
                    "count {count} is below {min}"
                )));
            }
            let to = BENEFICIARY.load(ctx.api)?;
            let total = TOTAL.load(ctx.api)?;
            respond(&pay(ctx, to, total)?)
        }
    }
}

/// Entry point handler.
pub fn query(ctx: &mut Ctx<'_>, msg: QueryMsg) -> Result<Vec<u8>, ContractError> {
    match msg {
        QueryMsg::Total => respond(&TOTAL.load(ctx.api)?),
        QueryMsg::Deposit { depositor } => {
            respond(&DEPOSITS.get(ctx.api, &depositor)?.unwrap_or(0))
        }
    }
}

entry_points!(instantiate: instantiate, execute: execute, query: query);

#[cfg(test)]
mod tests {
    use super::*;
    use taochain_contract::testing::MockApi;

    fn msg<T: BorshSerialize>(m: &T) -> Vec<u8> {
        borsh::to_vec(m).expect("encodes")
    }

    #[test]
    fn deposit_release_refund_and_conditional_release() {
        let (arbiter, beneficiary, alice) = ([1u8; 20], [2u8; 20], [3u8; 20]);
        let mut api = MockApi::default();
        api.env.contract = [9u8; 20];
        api.call(
            instantiate,
            alice,
            0,
            &msg(&InstantiateMsg {
                arbiter,
                beneficiary,
            }),
        )
        .expect("instantiates");
        assert!(
            api.call(execute, alice, 0, &msg(&ExecuteMsg::Deposit))
                .is_err(),
            "no funds"
        );
        api.call(execute, alice, 100, &msg(&ExecuteMsg::Deposit))
            .expect("deposits");
        assert!(
            api.call(execute, alice, 0, &msg(&ExecuteMsg::Release { amount: 10 }))
                .is_err(),
            "not arbiter"
        );
        api.call(
            execute,
            arbiter,
            0,
            &msg(&ExecuteMsg::Release { amount: 30 }),
        )
        .expect("releases");
        assert_eq!(api.balances[&beneficiary], 30);
        assert!(
            api.call(
                execute,
                arbiter,
                0,
                &msg(&ExecuteMsg::Release { amount: 71 })
            )
            .is_err(),
            "overdraw"
        );
        api.queries
            .insert([7u8; 20], |_| Ok(borsh::to_vec(&5u64).expect("u64")));
        let cond = ExecuteMsg::ReleaseIfCount {
            counter: [7u8; 20],
            min: 6,
        };
        assert!(
            api.call(execute, alice, 0, &msg(&cond))
                .expect_err("below")
                .contains("below")
        );
        let cond = ExecuteMsg::ReleaseIfCount {
            counter: [7u8; 20],
            min: 5,
        };
        api.call(execute, alice, 0, &msg(&cond))
            .expect("releases the rest");
        assert_eq!(api.balances[&beneficiary], 100);
        let out = api
            .call(query, alice, 0, &msg(&QueryMsg::Total))
            .expect("queries");
        assert_eq!(u64::try_from_slice(&out).expect("u64"), 0);
    }
}

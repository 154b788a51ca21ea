//! `arena`: the contract of an AI subnet. It declares the subnet's task on chain (a
//! [`TaskSpec`] from `taochain-arena-msg`: task kind, input and output types, metric,
//! challenge timeout, score smoothing) so every miner and validator reads the same task
//! from the chain. The instantiator (the subnet owner) may tune the timeout and smoothing.
//! Miners are scored off chain by validators, who set weights themselves; the epoch hook
//! returns no owner weights.

use taochain_arena_msg::{ExecuteMsg, InstantiateMsg, QueryMsg, TaskSpec};
use taochain_contract::abi::EpochCall;
use taochain_contract::{ContractError, Ctx, Item, entry_points, respond};

static TASK: Item<TaskSpec> = Item::new(b"task");
static OWNER: Item<[u8; 20]> = Item::new(b"owner");

/// Entry point handler: validates and stores the task.
pub fn instantiate(ctx: &mut Ctx<'_>, msg: InstantiateMsg) -> Result<Vec<u8>, ContractError> {
    msg.validate().map_err(ContractError::Custom)?;
    TASK.save(ctx.api, &msg);
    OWNER.save(ctx.api, &ctx.info.sender);
    ctx.event("arena_task", &[("kind", msg.kind.name().to_string())]);
    Ok(vec![])
}

/// Entry point handler.
pub fn execute(ctx: &mut Ctx<'_>, msg: ExecuteMsg) -> Result<Vec<u8>, ContractError> {
    match msg {
        ExecuteMsg::Tune {
            challenge_timeout_ms,
            score_smoothing_ppm,
        } => {
            if OWNER.load(ctx.api)? != ctx.info.sender {
                return Err(ContractError::Unauthorized(
                    "only the subnet owner may tune the task".into(),
                ));
            }
            let mut task = TASK.load(ctx.api)?;
            task.challenge_timeout_ms = challenge_timeout_ms;
            task.score_smoothing_ppm = score_smoothing_ppm;
            task.validate().map_err(ContractError::Custom)?;
            TASK.save(ctx.api, &task);
            respond(&task)
        }
    }
}

/// Entry point handler.
pub fn query(ctx: &mut Ctx<'_>, msg: QueryMsg) -> Result<Vec<u8>, ContractError> {
    match msg {
        QueryMsg::Task => respond(&TASK.load(ctx.api)?),
    }
}

/// Entry point handler: validators set weights themselves; no owner weights.
pub fn epoch(_ctx: &mut Ctx<'_>, _msg: EpochCall) -> Result<Vec<u8>, ContractError> {
    respond(&Vec::<(u16, u16)>::new())
}

entry_points!(
    instantiate: instantiate,
    execute: execute,
    query: query,
    epoch: epoch
);

#[cfg(test)]
mod tests {
    use borsh::BorshDeserialize;
    use taochain_arena_msg::TaskKind;
    use taochain_contract::testing::MockApi;

    use super::*;

    fn msg<T: borsh::BorshSerialize>(m: &T) -> Vec<u8> {
        borsh::to_vec(m).expect("encode")
    }

    #[test]
    fn the_task_is_stored_returned_and_tuned_only_by_the_owner() {
        let mut api = MockApi::default();
        let owner = [1; 20];
        let spec = TaskSpec::new(TaskKind::SpeechToText, 8_000, 300_000);
        let mut bad = spec.clone();
        bad.challenge_timeout_ms = 1;
        assert!(api.call(instantiate, owner, 0, &msg(&bad)).is_err());
        api.call(instantiate, owner, 0, &msg(&spec))
            .expect("instantiate");
        let read = |api: &mut MockApi| {
            let out = api
                .call(query, [9; 20], 0, &msg(&QueryMsg::Task))
                .expect("query");
            TaskSpec::try_from_slice(&out).expect("decodes")
        };
        assert_eq!(read(&mut api), spec);
        let tune = |t, s| ExecuteMsg::Tune {
            challenge_timeout_ms: t,
            score_smoothing_ppm: s,
        };
        assert!(
            api.call(execute, [2; 20], 0, &msg(&tune(5_000, 1)))
                .is_err()
        );
        assert!(api.call(execute, owner, 0, &msg(&tune(5_000, 0))).is_err());
        assert_eq!(read(&mut api), spec, "refused tunes change nothing");
        api.call(execute, owner, 0, &msg(&tune(5_000, 100_000)))
            .expect("tune");
        let tuned = read(&mut api);
        assert_eq!(tuned.challenge_timeout_ms, 5_000);
        assert_eq!(tuned.score_smoothing_ppm, 100_000);
        let weights = api
            .call(
                epoch,
                owner,
                0,
                &msg(&EpochCall {
                    netuid: 1,
                    height: 5,
                    hotkeys: vec![[0; 20]],
                }),
            )
            .expect("epoch");
        assert!(
            Vec::<(u16, u16)>::try_from_slice(&weights)
                .expect("w")
                .is_empty()
        );
    }
}

//! `matmul-market`: a subnet contract where requesters pay TAO for int8 matrix products and
//! miners earn it. `PostJob` escrows the bounty (the funds sent) for `C = A * B` with A and
//! B stored as `.npy` blobs; `SubmitResult` from a miner's hotkey names its stored C; the
//! chain checks it with `verify_matmul` (Freivalds, seeded by the hash of the block that
//! includes the submission, so the miner cannot tune C to the check); only hotkeys
//! registered on the subnet may submit. A valid result pays
//! the bounty and completes the job; an invalid one is recorded against the miner. After
//! the deadline the requester may reclaim an unfinished job's bounty. Blobs are pinned
//! while a job needs them: A and B until the job is paid or reclaimed, C until the
//! requester collects it; the chain prunes a blob at its last unpin. At each epoch the
//! contract returns weights over the subnet's UIDs by their miners' scores, which the chain
//! applies as the owner UID's weights. A score is one point per valid result, capped at
//! [`MAX_SCORE`] and halved at every epoch, so no result (a requester's own cheap jobs
//! included) buys weight for long. A result is bound to its miner: C must be a blob the
//! submitting hotkey uploaded (the chain lets a call pin an unpinned blob only for its
//! uploader), so a watcher cannot submit an honest miner's public C first.

use taochain_contract::abi::EpochCall;
use taochain_contract::{ContractError, Ctx, Item, Map, entry_points, respond};
pub use taochain_matmul_market_msg::{
    ExecuteMsg, InstantiateMsg, Job, MAX_SCORE, MinerStats, QueryMsg, Status,
};

static NEXT_JOB: Item<u64> = Item::new(b"next_job");
static JOBS: Map<Job> = Map::new(b"jobs");
static MINERS: Map<MinerStats> = Map::new(b"miners");

/// Entry point handler.
pub fn instantiate(ctx: &mut Ctx<'_>, _msg: InstantiateMsg) -> Result<Vec<u8>, ContractError> {
    NEXT_JOB.save(ctx.api, &1);
    Ok(vec![])
}

fn job(ctx: &Ctx<'_>, id: u64) -> Result<Job, ContractError> {
    JOBS.get(ctx.api, &id.to_be_bytes())?
        .ok_or_else(|| ContractError::Custom(format!("no job {id}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Entry point handler.
pub fn execute(ctx: &mut Ctx<'_>, msg: ExecuteMsg) -> Result<Vec<u8>, ContractError> {
    match msg {
        ExecuteMsg::PostJob { a, b, deadline } => {
            if ctx.info.funds == 0 {
                return Err(ContractError::Custom("send the bounty as funds".into()));
            }
            if deadline <= ctx.env.height {
                return Err(ContractError::Custom("the deadline has passed".into()));
            }
            // The job holds its inputs until it ends (then they may be pruned).
            for (name, h) in [("A", &a), ("B", &b)] {
                if ctx.api.blob_pin(h, true).is_none() {
                    return Err(ContractError::Custom(format!(
                        "{name} is not a stored blob"
                    )));
                }
            }
            let id = NEXT_JOB.load(ctx.api)?;
            NEXT_JOB.save(ctx.api, &(id + 1));
            let job = Job {
                requester: ctx.info.sender,
                a,
                b,
                bounty: ctx.info.funds,
                deadline,
                status: Status::Open,
            };
            JOBS.set(ctx.api, &id.to_be_bytes(), &job);
            ctx.event(
                "job_posted",
                &[("job", id.to_string()), ("bounty", job.bounty.to_string())],
            );
            respond(&id)
        }
        ExecuteMsg::SubmitResult { job: id, c } => submit(ctx, id, c),
        ExecuteMsg::Reclaim { job: id } => {
            let mut j = job(ctx, id)?;
            if j.requester != ctx.info.sender {
                return Err(ContractError::Unauthorized("only the requester".into()));
            }
            if j.status != Status::Open || ctx.env.height <= j.deadline {
                return Err(ContractError::Custom(
                    "only an open job past its deadline can be reclaimed".into(),
                ));
            }
            ctx.api.bank_send(&j.requester, j.bounty).map_err(|code| {
                ContractError::InsufficientFunds(format!("refund refused ({code})"))
            })?;
            j.status = Status::Reclaimed;
            ctx.api.blob_pin(&j.a, false);
            ctx.api.blob_pin(&j.b, false);
            JOBS.set(ctx.api, &id.to_be_bytes(), &j);
            respond(&j.bounty)
        }
        ExecuteMsg::Collect { job: id } => {
            let mut j = job(ctx, id)?;
            if j.requester != ctx.info.sender {
                return Err(ContractError::Unauthorized("only the requester".into()));
            }
            let Status::Done { c, .. } = j.status else {
                return Err(ContractError::Custom(format!(
                    "job {id} has no result to collect"
                )));
            };
            ctx.api.blob_pin(&c, false);
            j.status = Status::Collected;
            JOBS.set(ctx.api, &id.to_be_bytes(), &j);
            respond(&c)
        }
    }
}

fn submit(ctx: &mut Ctx<'_>, id: u64, c: [u8; 32]) -> Result<Vec<u8>, ContractError> {
    let mut j = job(ctx, id)?;
    if j.status != Status::Open {
        return Err(ContractError::Custom(format!("job {id} is not open")));
    }
    if ctx.env.height > j.deadline {
        return Err(ContractError::Custom(format!(
            "job {id} is past its deadline"
        )));
    }
    let miner = ctx.info.sender;
    if ctx.api.subnet_uid(&miner).is_none() {
        return Err(ContractError::Unauthorized(
            "only a hotkey registered on this subnet may submit".into(),
        ));
    }
    let key = miner;
    let mut stats = MINERS.get(ctx.api, &key)?.unwrap_or_default();
    // Pinning C first binds it to its uploader: only the miner who stored it can submit it.
    // A C that is already pinned (another job's result, or an input) carries no such proof
    // (the chain checks the uploader only on a blob's first pin), so it is refused.
    match ctx.api.blob_pin(&c, true) {
        None => {
            return Err(ContractError::Unauthorized(
                "C must be a stored blob uploaded by the submitting hotkey".into(),
            ));
        }
        Some(pins) if pins > 1 => {
            return Err(ContractError::Unauthorized(
                "C is already pinned (another job's result or an input): submit a C you stored for this job".into(),
            ));
        }
        Some(_) => {}
    }
    match ctx.api.verify_matmul(&j.a, &j.b, &c) {
        taochain_contract::abi::MATMUL_VALID => {
            ctx.api.bank_send(&miner, j.bounty).map_err(|code| {
                ContractError::InsufficientFunds(format!("payout refused ({code})"))
            })?;
            // The result (pinned above) is kept for the requester; the inputs are done with.
            ctx.api.blob_pin(&j.a, false);
            ctx.api.blob_pin(&j.b, false);
            j.status = Status::Done {
                miner,
                c,
                height: ctx.env.height,
            };
            JOBS.set(ctx.api, &id.to_be_bytes(), &j);
            stats.valid += 1;
            stats.score = stats.score.saturating_add(1).min(MAX_SCORE);
            MINERS.set(ctx.api, &key, &stats);
            ctx.event(
                "result_valid",
                &[
                    ("job", id.to_string()),
                    ("miner", hex(&miner)),
                    ("paid", j.bounty.to_string()),
                ],
            );
            respond(&true)
        }
        taochain_contract::abi::MATMUL_INVALID => {
            // Recorded, not an error: an error would roll the record back. A wrong C is
            // not kept.
            ctx.api.blob_pin(&c, false);
            stats.invalid += 1;
            MINERS.set(ctx.api, &key, &stats);
            ctx.event(
                "result_invalid",
                &[("job", id.to_string()), ("miner", hex(&miner))],
            );
            respond(&false)
        }
        code => Err(ContractError::Custom(format!(
            "the statement cannot be checked (code {code}): A, B and C must be stored .npy blobs (int8, int8, int32) that chain, stored in an earlier block"
        ))),
    }
}

/// Entry point handler.
pub fn query(ctx: &mut Ctx<'_>, msg: QueryMsg) -> Result<Vec<u8>, ContractError> {
    match msg {
        QueryMsg::Job { id } => respond(&job(ctx, id)?),
        QueryMsg::Jobs { start } => {
            let jobs: Vec<(u64, Job)> = JOBS
                .range(ctx.api, &start.to_be_bytes(), 100)?
                .into_iter()
                .filter_map(|(k, j)| {
                    <[u8; 8]>::try_from(k.as_slice())
                        .ok()
                        .map(|k| (u64::from_be_bytes(k), j))
                })
                .collect();
            respond(&jobs)
        }
        QueryMsg::Miner { hotkey } => respond(&MINERS.get(ctx.api, &hotkey)?.unwrap_or_default()),
    }
}

/// Entry point handler: weights by miner score over the subnet's UIDs (owner's excluded).
pub fn epoch(ctx: &mut Ctx<'_>, msg: EpochCall) -> Result<Vec<u8>, ContractError> {
    let mut weights: Vec<(u16, u16)> = vec![];
    for (uid, hotkey) in msg.hotkeys.iter().enumerate().skip(1) {
        let Some(stats) = MINERS.get(ctx.api, hotkey)? else {
            continue;
        };
        if stats.score > 0 {
            weights.push((uid as u16, stats.score.min(u16::MAX as u64) as u16));
            // Scores decay: half of it is gone by the next epoch.
            let decayed = MinerStats {
                score: stats.score / 2,
                ..stats
            };
            MINERS.set(ctx.api, hotkey, &decayed);
        }
    }
    respond(&weights)
}

entry_points!(
    instantiate: instantiate,
    execute: execute,
    query: query,
    epoch: epoch
);

#[cfg(test)]
mod tests {
    use super::*;
    use borsh::BorshDeserialize;
    use taochain_contract::testing::MockApi;

    fn msg<T: borsh::BorshSerialize>(m: &T) -> Vec<u8> {
        borsh::to_vec(m).expect("encodes")
    }

    #[test]
    fn a_valid_result_is_paid_an_invalid_one_recorded() {
        let mut api = MockApi::default();
        let (requester, honest, cheat) = ([1u8; 20], [2u8; 20], [3u8; 20]);
        api.env.height = 10;
        api.uids.insert(honest, 1);
        api.blobs.insert([4; 32], 0);
        api.blobs.insert([5; 32], 0);
        api.blobs.insert([6; 32], 0);
        api.blobs.insert([7; 32], 0);
        api.uids.insert(cheat, 2);
        api.call(instantiate, requester, 0, &msg(&InstantiateMsg {}))
            .expect("init");
        let post = ExecuteMsg::PostJob {
            a: [4; 32],
            b: [5; 32],
            deadline: 20,
        };
        let out = api
            .call(execute, requester, 500, &msg(&post))
            .expect("post");
        assert_eq!(u64::try_from_slice(&out).expect("id"), 1);
        api.matmul
            .insert([6; 32], taochain_contract::abi::MATMUL_VALID);
        api.matmul
            .insert([7; 32], taochain_contract::abi::MATMUL_INVALID);
        let outsider = ExecuteMsg::SubmitResult { job: 1, c: [6; 32] };
        let err = api
            .call(execute, [8; 20], 0, &msg(&outsider))
            .expect_err("unregistered");
        assert!(err.contains("registered"), "{err}");
        let out = api
            .call(
                execute,
                cheat,
                0,
                &msg(&ExecuteMsg::SubmitResult { job: 1, c: [7; 32] }),
            )
            .expect("recorded");
        assert!(!bool::try_from_slice(&out).expect("bool"));
        assert_eq!(api.blobs.get(&[7; 32]), None, "a wrong C is not kept");
        // A C that is not a stored blob (or, on chain, not the submitter's) is refused.
        let err = api
            .call(
                execute,
                honest,
                0,
                &msg(&ExecuteMsg::SubmitResult { job: 1, c: [9; 32] }),
            )
            .expect_err("not a stored blob");
        assert!(err.contains("uploaded by the submitting hotkey"), "{err}");
        assert!(
            api.call(
                execute,
                cheat,
                0,
                &msg(&ExecuteMsg::SubmitResult { job: 1, c: [9; 32] })
            )
            .is_err()
        );
        api.env.height = 15;
        api.call(
            execute,
            honest,
            0,
            &msg(&ExecuteMsg::SubmitResult { job: 1, c: [6; 32] }),
        )
        .expect("paid");
        assert_eq!(api.balances.get(&honest), Some(&500));
        // Paid: the inputs were released (pruned), the result is pinned for the requester.
        assert_eq!(api.blobs.get(&[4; 32]), None);
        assert_eq!(api.blobs.get(&[6; 32]), Some(&1));

        assert!(
            api.call(execute, honest, 0, &msg(&ExecuteMsg::Collect { job: 1 }))
                .is_err()
        );
        api.call(execute, requester, 0, &msg(&ExecuteMsg::Collect { job: 1 }))
            .expect("collect");
        assert_eq!(api.blobs.get(&[6; 32]), None);
        assert!(
            api.call(
                execute,
                cheat,
                0,
                &msg(&ExecuteMsg::SubmitResult { job: 1, c: [6; 32] })
            )
            .is_err()
        );
        let stats = |api: &mut MockApi, who: [u8; 20]| {
            let out = api
                .call(query, who, 0, &msg(&QueryMsg::Miner { hotkey: who }))
                .expect("q");
            MinerStats::try_from_slice(&out).expect("stats")
        };
        assert_eq!(
            stats(&mut api, honest),
            MinerStats {
                valid: 1,
                invalid: 0,
                score: 1
            }
        );
        assert_eq!(stats(&mut api, cheat).invalid, 1);
        let epoch_msg = EpochCall {
            netuid: 1,
            height: 16,
            hotkeys: vec![[0; 20], cheat, honest],
        };
        let out = api
            .call(epoch, requester, 0, &msg(&epoch_msg))
            .expect("epoch");
        assert_eq!(
            Vec::<(u16, u16)>::try_from_slice(&out).expect("w"),
            vec![(2, 1)]
        );
        assert_eq!(stats(&mut api, honest).score, 0, "scores halve every epoch");
        // Reclaim: only after the deadline, only by the requester, only open jobs.
        api.blobs.insert([4; 32], 0);
        api.blobs.insert([5; 32], 0);
        let post = ExecuteMsg::PostJob {
            a: [4; 32],
            b: [5; 32],
            deadline: 18,
        };
        api.call(execute, requester, 300, &msg(&post))
            .expect("post 2");
        assert!(
            api.call(execute, requester, 0, &msg(&ExecuteMsg::Reclaim { job: 2 }))
                .is_err()
        );
        api.env.height = 19;
        assert!(
            api.call(execute, honest, 0, &msg(&ExecuteMsg::Reclaim { job: 2 }))
                .is_err()
        );
        api.call(execute, requester, 0, &msg(&ExecuteMsg::Reclaim { job: 2 }))
            .expect("reclaim");
        assert_eq!(api.balances.get(&requester), Some(&300));
        assert!(api.blobs.is_empty());
        // A job over blobs that are not stored cannot be posted.
        let post = ExecuteMsg::PostJob {
            a: [4; 32],
            b: [5; 32],
            deadline: 99,
        };
        assert!(api.call(execute, requester, 1, &msg(&post)).is_err());
    }

    #[test]
    fn another_jobs_pinned_result_is_nobodys_proof_of_work() {
        let mut api = MockApi::default();
        let (requester, honest, copier) = ([1u8; 20], [2u8; 20], [3u8; 20]);
        api.env.height = 10;
        api.uids.insert(honest, 1);
        api.uids.insert(copier, 2);
        for b in [[4; 32], [5; 32], [6; 32]] {
            api.blobs.insert(b, 0);
        }
        api.matmul
            .insert([6; 32], taochain_contract::abi::MATMUL_VALID);
        api.call(instantiate, requester, 0, &msg(&InstantiateMsg {}))
            .expect("init");
        let post = ExecuteMsg::PostJob {
            a: [4; 32],
            b: [5; 32],
            deadline: 20,
        };
        api.call(execute, requester, 500, &msg(&post))
            .expect("job 1");
        api.call(
            execute,
            honest,
            0,
            &msg(&ExecuteMsg::SubmitResult { job: 1, c: [6; 32] }),
        )
        .expect("paid");
        // The same statement posted again: job 1's result, still pinned for its requester,
        // is public, but submitting it proves no work.
        api.blobs.insert([4; 32], 0);
        api.blobs.insert([5; 32], 0);
        api.call(execute, requester, 500, &msg(&post))
            .expect("job 2");
        let err = api
            .call(
                execute,
                copier,
                0,
                &msg(&ExecuteMsg::SubmitResult { job: 2, c: [6; 32] }),
            )
            .expect_err("a pinned C");
        assert!(err.contains("already pinned"), "{err}");
        assert_eq!(api.balances.get(&copier), None, "nothing paid");
    }
}

//! Governance: `Propose` (a deposit held in `gov_deposits`), `Vote` (one per coldkey, only
//! with stake), and the end-of-block tally of every proposal whose voting period ends at
//! this height, in id order. A vote weighs the voter's total stake when it votes, and that
//! stake is locked (`RemoveStake` refused, `StakeLocked`) through the end of the vote, so
//! the same rao cannot vote twice through another coldkey. Quorum:
//! voting stake >= `quorum_bps` of all stake; then the deposit is refunded and the proposal
//! passes when `yes >= threshold_bps` of `yes + no`; without quorum the deposit is burned.
//! A passed action runs in its own delta: if it fails the proposal is `Failed` and nothing
//! else changes.

use taochain_primitives::subnet::{
    Proposal, ProposalAction, ProposalStatus, StakeLock, SubnetInfo, VoteChoice, VoteRecord,
};
use taochain_primitives::{Address, Params, RejectCode};
use taochain_storage::schema::{
    GOV_OPEN, PARAMS_KEY, PROPOSAL_SEQ_KEY, TOTAL_STAKE_KEY, VOTES, gov_open_key, proposal_key,
    vote_key,
};
use taochain_storage::{StateDelta, StateRead, StateWrite};

use super::store::{self, cold_stake};
use super::subnets::{dissolve, existing};
use super::{Fail, deposits_account, done, reject, subnets_admin};
use crate::AppError;
use crate::bank::transfer;
use crate::contracts::{self, Done};
use crate::emission::recycle;
use crate::events::Event;
use crate::typed::{contains, delete, get, get_or_default, put, scan, scan_below};

/// Refuses an action that could not run now; returns the contract of the subnet it names.
fn check_action(
    state: &mut (impl StateWrite + ?Sized),
    action: &ProposalAction,
) -> Result<Option<Address>, Fail> {
    match action {
        ProposalAction::SetParam { name, value } => {
            // Refused at submission when outside its safe range (nothing is written).
            let mut child = StateDelta::new(&*state);
            set_param(&mut child, name, *value)?;
            Ok(None)
        }
        ProposalAction::MigrateSubnet { netuid, .. }
        | ProposalAction::DissolveSubnet { netuid } => Ok(Some(existing(state, *netuid)?.contract)),
    }
}

/// The subnet on `netuid`, if it is still the one the proposal named (`contract`): a subnet
/// registered on the netuid after the vote began is another subnet and is left alone.
fn named_subnet(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    contract: Option<Address>,
) -> Result<SubnetInfo, Fail> {
    let s = existing(state, netuid)?;
    if Some(s.contract) != contract {
        return reject(
            RejectCode::SubnetNotFound,
            format!(
                "the subnet this proposal named on netuid {netuid} was dissolved (netuid {netuid} is another subnet now)"
            ),
        );
    }
    Ok(s)
}

/// Sets a chain parameter ([`taochain_primitives::state::CHAIN_PARAMS`]) or an economy
/// parameter within its safe range, or refuses with `InvalidParam`.
fn set_param(state: &mut (impl StateWrite + ?Sized), name: &str, value: u64) -> Result<(), Fail> {
    let mut chain: Params = store::chain_params(state)?;
    let mut p = store::params(state)?;
    if chain.get(name).is_some() {
        if let Err(why) = chain.set(name, value) {
            return reject(RejectCode::InvalidParam, why);
        }
    } else if let Err(why) = p.set(name, value) {
        return reject(RejectCode::InvalidParam, why);
    }
    // One epoch hook must fit the block's hook budget, or no hook would ever run.
    if p.epoch_gas > chain.max_block_gas {
        return reject(
            RejectCode::InvalidParam,
            format!(
                "epoch_gas {} would exceed max_block_gas {}",
                p.epoch_gas, chain.max_block_gas
            ),
        );
    }
    put(state, &PARAMS_KEY, &chain);
    store::set_params(state, &p);
    Ok(())
}

/// `Propose`.
pub fn propose(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    action: &ProposalAction,
    deposit: u64,
    height: u64,
) -> Result<Done, Fail> {
    let p = store::params(state)?;
    if deposit < p.min_deposit || deposit == 0 {
        return reject(
            RejectCode::DepositTooLow,
            format!(
                "deposit {deposit} rao is below the minimum {} rao",
                p.min_deposit
            ),
        );
    }
    let subnet_contract = check_action(state, action)?;
    transfer(state, sender, &deposits_account(), deposit)?
        .map_err(|r| Fail::Reject(r.into(), 0))?;
    let id = get_or_default(state, &PROPOSAL_SEQ_KEY)?.saturating_add(1);
    put(state, &PROPOSAL_SEQ_KEY, &id);
    let voting_end = height.saturating_add(p.voting_period);
    let proposal = Proposal {
        id,
        proposer: *sender,
        action: action.clone(),
        deposit,
        submitted_at: height,
        voting_end,
        yes: 0,
        no: 0,
        abstain: 0,
        status: ProposalStatus::Open,
        subnet_contract,
    };
    put(state, &proposal_key(id), &proposal);
    put(state, &gov_open_key(voting_end, id), &());
    Ok(Done {
        gas_used: 0,
        data: id.to_be_bytes().to_vec(),
        events: vec![Event::new(
            "proposal_submitted",
            &[
                ("id", id.to_string()),
                ("proposer", sender.to_string()),
                ("voting_end", voting_end.to_string()),
            ],
        )],
    })
}

/// `Vote`.
pub fn vote(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    id: u64,
    choice: VoteChoice,
    height: u64,
) -> Result<Done, Fail> {
    let voting_end = match get(state, &proposal_key(id))? {
        Some(p) if p.status == ProposalStatus::Open && height <= p.voting_end => p.voting_end,
        _ => {
            return reject(
                RejectCode::ProposalNotFound,
                format!("no open proposal {id}"),
            );
        }
    };
    let weight = cold_stake(state, sender)?;
    if weight == 0 {
        return reject(
            RejectCode::NoVotingPower,
            format!("{sender} has no stake; votes weigh stake"),
        );
    }
    let key = vote_key(id, sender.as_bytes());
    if contains(state, &key)? {
        return reject(
            RejectCode::AlreadyVoted,
            format!("{sender} already voted on {id}"),
        );
    }
    // The vote weighs the stake now, and that stake stays through the tally.
    put(state, &key, &VoteRecord { choice, weight });
    let lock = StakeLock {
        amount: weight,
        until: voting_end,
    };
    store::lock_coldkey(state, sender, lock, height)?;
    done(vec![Event::new(
        "vote",
        &[
            ("id", id.to_string()),
            ("voter", sender.to_string()),
            ("choice", format!("{choice:?}").to_lowercase()),
        ],
    )])
}

/// Tallies (and executes) every proposal whose voting ends at or before this height.
pub fn end_block(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
) -> Result<Vec<Event>, AppError> {
    let mut events = vec![];
    // Only the proposals ending by now are read (the index is ordered by end height): the
    // open ones beyond cost a block nothing.
    let due = env.height.saturating_add(1).to_be_bytes();
    for (key, ()) in scan_below(state, &GOV_OPEN, &due)? {
        let tail = GOV_OPEN.suffix(&key);
        let (Some(end), Some(id)) = (
            tail.get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes),
            tail.get(8..16)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes),
        ) else {
            return Err(AppError::Corrupt {
                key: String::from_utf8_lossy(key.as_bytes()).into_owned(),
                detail: "bad open-proposal key".into(),
            });
        };
        if end > env.height {
            break;
        }
        delete(state, key);
        events.push(tally(state, env, id)?);
    }
    Ok(events)
}

fn tally(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
    id: u64,
) -> Result<Event, AppError> {
    let pkey = proposal_key(id);
    let mut p = get(state, &pkey)?
        .ok_or_else(|| AppError::Invariant(format!("open proposal {id} is missing")))?;
    for (_, VoteRecord { choice, weight }) in scan(state, &VOTES, &[&id.to_be_bytes()])? {
        match choice {
            VoteChoice::Yes => p.yes = p.yes.saturating_add(weight),
            VoteChoice::No => p.no = p.no.saturating_add(weight),
            VoteChoice::Abstain => p.abstain = p.abstain.saturating_add(weight),
        }
    }
    let params = store::params(state)?;
    let total = get_or_default(state, &TOTAL_STAKE_KEY)?;
    let voted = p.yes as u128 + p.no as u128 + p.abstain as u128;
    let quorum = voted > 0 && voted * 10_000 >= total as u128 * params.quorum_bps as u128;
    let refund = |state: &mut _, to: &Address, amount: u64| -> Result<(), AppError> {
        transfer(state, &deposits_account(), to, amount)?
            .map_err(|(_, log)| AppError::Invariant(format!("deposit refund: {log}")))
    };
    if !quorum {
        let mut pool = crate::bank::account(state, &deposits_account())?;
        pool.balance = pool
            .balance
            .checked_sub(p.deposit)
            .ok_or_else(|| AppError::Invariant("deposits account short".into()))?;
        crate::bank::set_account(state, &deposits_account(), &pool);
        recycle(state, p.deposit)?;
        p.status = ProposalStatus::NoQuorum;
    } else {
        refund(state, &p.proposer, p.deposit)?;
        let yes_needed = (p.yes as u128 + p.no as u128) * params.threshold_bps as u128;
        if p.yes > 0 && p.yes as u128 * 10_000 >= yes_needed {
            p.status = match execute(state, env, &p.action, p.subnet_contract)? {
                Ok(()) => ProposalStatus::Executed,
                Err(why) => ProposalStatus::Failed(why),
            };
        } else {
            p.status = ProposalStatus::Rejected;
        }
    }
    put(state, &pkey, &p);
    Ok(Event::new(
        "proposal_tallied",
        &[
            ("id", id.to_string()),
            ("status", format!("{:?}", p.status)),
            ("yes", p.yes.to_string()),
            ("no", p.no.to_string()),
            ("abstain", p.abstain.to_string()),
        ],
    ))
}

/// Runs a passed action in its own delta; `Err` (kept out of state) says why it failed.
fn execute(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
    action: &ProposalAction,
    subnet_contract: Option<Address>,
) -> Result<Result<(), String>, AppError> {
    let mut child = StateDelta::new(&*state);
    let result: Result<(), Fail> = (|| match action {
        ProposalAction::SetParam { name, value } => set_param(&mut child, name, *value),
        ProposalAction::MigrateSubnet {
            netuid,
            code_id,
            msg,
        } => {
            let s = named_subnet(&child, *netuid, subnet_contract)?;
            let gas = store::params(&child)?.epoch_gas;
            match contracts::migrate(
                &mut child,
                env,
                subnets_admin(),
                s.contract,
                *code_id,
                msg,
                gas,
            )? {
                Ok(_) => Ok(()),
                Err((r, gas)) => Err(Fail::Reject(r, gas)),
            }
        }
        ProposalAction::DissolveSubnet { netuid } => {
            named_subnet(&child, *netuid, subnet_contract)?;
            dissolve(&mut child, *netuid).map(|_| ())
        }
    })();
    match result {
        Ok(()) => {
            crate::typed::apply(state, child.into_changes());
            Ok(Ok(()))
        }
        Err(Fail::Reject(r, _)) => Ok(Err(r.log)),
        Err(Fail::Host(e)) => Err(e),
    }
}

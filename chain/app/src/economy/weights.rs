//! Weights: `SetWeights`, `CommitWeights`, `RevealWeights`, with subtensor's rules. The
//! sender is the hotkey. On a subnet: it must hold a UID; lengths match; no duplicate
//! UIDs; every UID exists; a validator permit unless the vector is a self-weight; at least
//! `min_allowed_weights` entries; not within `weights_rate_limit` blocks of its last update;
//! values are max-upscaled to u16 and stored sorted by UID. On root (netuid 0) the UIDs are
//! netuids of existing subnets and every root member may vote. A reveal speaks for the
//! block of its commit: weights on a UID whose holder registered at or after that block
//! (it replaced the neuron the validator judged) are dropped, the scan paid per weight.

use taochain_economics::fixed::max_upscale;
use taochain_primitives::subnet::{MAX_COMMITS, SubnetInfo, weights_commit_hash};
use taochain_primitives::{Address, RejectCode};
use taochain_storage::schema::commit_key;
use taochain_storage::{StateRead, StateWrite};

use super::store::{neuron, set_neuron, subnet, uid_of};
use super::subnets::existing;
use super::{Fail, done, reject, scan_gas};
use crate::contracts::Done;
use crate::events::Event;
use crate::typed::{get_or_default, put, put_or_delete};

fn shape(uids: &[u16], values: &[u16], limit: usize) -> Result<Vec<(u16, u16)>, Fail> {
    if uids.len() != values.len() {
        return reject(
            RejectCode::InvalidWeights,
            format!("{} uids but {} values", uids.len(), values.len()),
        );
    }
    if uids.len() > limit {
        return reject(
            RejectCode::InvalidWeights,
            format!("{} weights, at most {limit}", uids.len()),
        );
    }
    let mut pairs: Vec<(u16, u16)> = uids.iter().copied().zip(values.iter().copied()).collect();
    pairs.sort_unstable();
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return reject(
            RejectCode::DuplicateUids,
            format!("uid {} appears twice", w[0].0),
        );
    }
    if pairs.iter().all(|p| p.1 == 0) {
        return reject(RejectCode::InvalidWeights, "every weight is zero");
    }
    Ok(upscaled(&pairs))
}

/// The pairs with their values max-upscaled to u16.
fn upscaled(pairs: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let scaled = max_upscale(&pairs.iter().map(|p| p.1 as u64).collect::<Vec<_>>());
    pairs.iter().zip(scaled).map(|(p, v)| (p.0, v)).collect()
}

/// A revealed weight vector's commit: the block it was decided at and the gas left for
/// checking its UIDs against that block.
struct Decided {
    at: u64,
    gas_left: u64,
}

/// Checks and stores a subnet weight vector of `hotkey` (decided now, or at a commit).
#[allow(clippy::too_many_arguments)]
fn apply_subnet(
    state: &mut (impl StateWrite + ?Sized),
    netuid: u16,
    s: &SubnetInfo,
    hotkey: &Address,
    uids: &[u16],
    values: &[u16],
    height: u64,
    decided: Option<Decided>,
) -> Result<Done, Fail> {
    let Some(uid) = uid_of(state, netuid, hotkey)? else {
        return reject(
            RejectCode::NotRegistered,
            format!("hotkey {hotkey} holds no UID on netuid {netuid}"),
        );
    };
    let pairs = shape(uids, values, s.n as usize)?;
    if let Some(p) = pairs.iter().find(|p| p.0 >= s.n) {
        return reject(
            RejectCode::UnknownUid,
            format!(
                "uid {} does not exist (netuid {netuid} has {} UIDs)",
                p.0, s.n
            ),
        );
    }
    let Some(mut me) = neuron(state, netuid, uid)? else {
        return Err(Fail::Host(crate::AppError::Invariant(format!(
            "uid {uid} has no neuron"
        ))));
    };
    let self_weight = pairs.len() == 1 && pairs[0].0 == uid;
    if !self_weight {
        if !(me.permit || uid == 0) {
            return reject(
                RejectCode::NoValidatorPermit,
                format!("uid {uid} has no validator permit; it may only set a self-weight"),
            );
        }
        if (pairs.len() as u64) < s.hyperparams.min_allowed_weights {
            return reject(
                RejectCode::TooFewWeights,
                format!(
                    "{} weights, at least {} required",
                    pairs.len(),
                    s.hyperparams.min_allowed_weights
                ),
            );
        }
    }
    let next = me
        .last_update
        .saturating_add(s.hyperparams.weights_rate_limit);
    if height < next {
        return reject(
            RejectCode::WeightsRateLimited,
            format!("uid {uid} may set weights again from block {next}"),
        );
    }
    let mut gas_used = 0;
    let pairs = match decided {
        None => pairs,
        Some(d) => {
            gas_used = scan_gas(pairs.len() as u64, d.gas_left)?;
            judged_at(state, netuid, uid, pairs, d.at)?
        }
    };
    me.weights = pairs;
    me.last_update = height;
    set_neuron(state, netuid, uid, &me);
    let mut d = done(vec![weights_event(netuid, uid, hotkey, me.weights.len())])?;
    d.gas_used = gas_used;
    Ok(d)
}

/// The pairs whose UID's holder registered before block `at` (the neurons the weights were
/// decided about), max-upscaled again. The sender's own `uid` always qualifies: it held it
/// when it committed (a hotkey's commits are deleted when it loses its UID), if it
/// registered in the commit's block.
fn judged_at(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    uid: u16,
    pairs: Vec<(u16, u16)>,
    at: u64,
) -> Result<Vec<(u16, u16)>, Fail> {
    let mut kept = Vec::with_capacity(pairs.len());
    for p in pairs {
        let Some(n) = neuron(state, netuid, p.0)? else {
            return Err(Fail::Host(crate::AppError::Invariant(format!(
                "uid {} has no neuron",
                p.0
            ))));
        };
        if p.0 == uid || n.registered_at < at {
            kept.push(p);
        }
    }
    Ok(upscaled(&kept))
}

fn weights_event(netuid: u16, uid: u16, hotkey: &Address, count: usize) -> Event {
    Event::new(
        "weights_set",
        &[
            ("netuid", netuid.to_string()),
            ("uid", uid.to_string()),
            ("hotkey", hotkey.to_string()),
            ("count", count.to_string()),
        ],
    )
}

/// Root weights: over netuids of existing subnets, by a root member.
fn apply_root(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    uids: &[u16],
    values: &[u16],
    height: u64,
) -> Result<Done, Fail> {
    let Some(uid) = uid_of(state, 0, hotkey)? else {
        return reject(
            RejectCode::NotRegistered,
            format!("hotkey {hotkey} is not on root"),
        );
    };
    let pairs = shape(uids, values, u16::MAX as usize)?;
    for p in &pairs {
        if p.0 == 0 || subnet(state, p.0)?.is_none() {
            return reject(RejectCode::UnknownUid, format!("no subnet {}", p.0));
        }
    }
    let Some(mut me) = neuron(state, 0, uid)? else {
        return Err(Fail::Host(crate::AppError::Invariant(format!(
            "root uid {uid} has no neuron"
        ))));
    };
    me.weights = pairs;
    me.last_update = height;
    set_neuron(state, 0, uid, &me);
    done(vec![weights_event(0, uid, hotkey, me.weights.len())])
}

/// `SetWeights`.
pub fn set_weights(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    netuid: u16,
    uids: &[u16],
    values: &[u16],
    height: u64,
) -> Result<Done, Fail> {
    if netuid == 0 {
        return apply_root(state, hotkey, uids, values, height);
    }
    let s = existing(state, netuid)?;
    if s.hyperparams.commit_reveal {
        return reject(
            RejectCode::InvalidWeights,
            format!("netuid {netuid} uses commit-reveal: commit, then reveal"),
        );
    }
    apply_subnet(state, netuid, &s, hotkey, uids, values, height, None)
}

/// `CommitWeights`.
pub fn commit(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    netuid: u16,
    hash: [u8; 32],
    height: u64,
) -> Result<Done, Fail> {
    let s = existing(state, netuid)?;
    if !s.hyperparams.commit_reveal {
        return reject(
            RejectCode::InvalidWeights,
            format!("netuid {netuid} does not use commit-reveal: set weights directly"),
        );
    }
    if uid_of(state, netuid, hotkey)?.is_none() {
        return reject(
            RejectCode::NotRegistered,
            format!("hotkey {hotkey} holds no UID on netuid {netuid}"),
        );
    }
    let key = commit_key(netuid, hotkey.as_bytes());
    let mut commits = get_or_default(state, &key)?;
    // Commits whose reveal window has closed can never be revealed: drop them.
    let window = s.hyperparams.reveal_period;
    commits.retain(|c| height < c.1.saturating_add(2 * window));
    if commits.len() >= MAX_COMMITS {
        return reject(
            RejectCode::TooManyCommits,
            format!("{MAX_COMMITS} unrevealed commits already"),
        );
    }
    commits.push((hash, height));
    put(state, &key, &commits);
    done(vec![Event::new(
        "weights_committed",
        &[
            ("netuid", netuid.to_string()),
            ("hotkey", hotkey.to_string()),
            ("hash", hex::encode(hash)),
        ],
    )])
}

/// `RevealWeights`: the commit must be revealed in `[commit + period, commit + 2 * period)`;
/// weights on UIDs taken over since the commit are dropped.
#[allow(clippy::too_many_arguments)]
pub fn reveal(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    netuid: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u8],
    version_key: u64,
    height: u64,
    gas_left: u64,
) -> Result<Done, Fail> {
    let s = existing(state, netuid)?;
    let key = commit_key(netuid, hotkey.as_bytes());
    let mut commits = get_or_default(state, &key)?;
    let hash = weights_commit_hash(hotkey, netuid, uids, values, salt, version_key);
    let Some(i) = commits.iter().position(|c| c.0 == hash) else {
        return reject(
            RejectCode::RevealMismatch,
            "no commit of this hotkey matches the revealed weights, salt and version",
        );
    };
    let period = s.hyperparams.reveal_period;
    let opens = commits[i].1.saturating_add(period);
    let closes = opens.saturating_add(period);
    if height < opens {
        return reject(
            RejectCode::RevealTooEarly,
            format!("reveal window opens at block {opens}"),
        );
    }
    if height >= closes {
        return reject(
            RejectCode::RevealTooLate,
            format!("reveal window closed at block {closes}"),
        );
    }
    let decided = Decided {
        at: commits[i].1,
        gas_left,
    };
    commits.remove(i);
    put_or_delete(state, key, Some(&commits).filter(|c| !c.is_empty()));
    apply_subnet(
        state,
        netuid,
        &s,
        hotkey,
        uids,
        values,
        height,
        Some(decided),
    )
}

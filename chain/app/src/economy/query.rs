//! Economy queries. State paths (provable, raw borsh of one key: `/subnet/{netuid}`,
//! `/subnet/{netuid}/pot`, `/neuron/{netuid}/{uid}`, `/uid/{netuid}/{hotkey}`,
//! `/hotkey/{addr}`, `/stake/{hotkey}/{coldkey}`, `/coldstake/{coldkey}`, `/proposal/{id}`,
//! `/vote/{id}/{addr}`, `/pool/{hotkey}`, `/share/{hotkey}/{coldkey}`, `/hlock/{hotkey}`,
//! `/clock/{coldkey}`, `/economy`, `/shares`, `/total_stake`, `/emission_carry`,
//! `/channel_seq`: the last channel id) map to their
//! keys in [`taochain_primitives::query::economy_key_for_path`]. Computed views at the latest
//! height (borsh, no proof): `/subnets` (`Vec<SubnetView>`), `/metagraph/{netuid}`
//! (`Vec<MetagraphRow>`), `/nominators/{hotkey}` (`Vec<(Address, u64)>`),
//! `/rewards/{hotkey}/{coldkey}` (u64, unclaimed nominator rewards), `/lock_cost` (u64),
//! `/proposals` (`Vec<Proposal>`).

use taochain_economics::pricing::decayed_burn;
use taochain_primitives::Address;
use taochain_primitives::query::{addr, num};
use taochain_primitives::subnet::{MetagraphRow, Proposal, SubnetView};
use taochain_storage::StateRead;
use taochain_storage::schema::{PROPOSALS, SUBNET_SHARES_KEY};

use super::store::{self, nominators};
use crate::AppError;
use crate::typed::{get_or_default, scan};

/// A query argument that does not parse.
pub type BadArg = taochain_primitives::query::PathError;

/// A computed view at `height` over `state`; `None` if `path` is not one.
pub fn view(
    state: &(impl StateRead + ?Sized),
    path: &str,
    height: u64,
) -> Option<Result<Result<Vec<u8>, BadArg>, AppError>> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match parts.as_slice() {
        ["subnets"] => {
            subnet_views(state, height).map(|v| Ok(borsh::to_vec(&v).unwrap_or_default()))
        }
        ["metagraph", n] => match num::<u16>("netuid", n) {
            Err(e) => Ok(Err(e)),
            Ok(netuid) => metagraph(state, netuid, height).map(|m| match m {
                Some(rows) => Ok(borsh::to_vec(&rows).unwrap_or_default()),
                None => Err((
                    crate::query::codes::BAD_ARGUMENT,
                    format!("no subnet {netuid}"),
                )),
            }),
        },
        ["rewards", h, c] => match (addr(h), addr(c)) {
            (Err(e), _) | (_, Err(e)) => Ok(Err(e)),
            (Ok(h), Ok(c)) => super::rewards::unclaimed(state, &h, &c)
                .map(|v| Ok(borsh::to_vec(&v).unwrap_or_default())),
        },
        ["nominators", h] => match addr(h) {
            Err(e) => Ok(Err(e)),
            Ok(h) => nominators(state, &h).map(|v| Ok(borsh::to_vec(&v).unwrap_or_default())),
        },
        ["lock_cost"] => super::subnets::current_lock_cost(state, height.saturating_add(1))
            .map(|c| Ok(borsh::to_vec(&c).unwrap_or_default())),
        ["proposals"] => proposals(state).map(|p| Ok(borsh::to_vec(&p).unwrap_or_default())),
        _ => return None,
    })
}

/// Every subnet with its pot, burn price (for the next block) and share.
pub fn subnet_views(
    state: &(impl StateRead + ?Sized),
    height: u64,
) -> Result<Vec<SubnetView>, AppError> {
    let shares = get_or_default(state, &SUBNET_SHARES_KEY)?;
    store::subnets(state)?
        .into_iter()
        .map(|(netuid, info)| {
            Ok(SubnetView {
                netuid,
                pot: store::pot(state, netuid)?,
                burn: decayed_burn(
                    info.burn,
                    height.saturating_add(1).saturating_sub(info.burn_block),
                ),
                share_q32: shares.iter().find(|s| s.0 == netuid).map_or(0, |s| s.1),
                info,
            })
        })
        .collect()
}

/// The metagraph of a subnet (or root, netuid 0).
pub fn metagraph(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    height: u64,
) -> Result<Option<Vec<MetagraphRow>>, AppError> {
    let (n, cutoff) = if netuid == 0 {
        (super::neurons::root_n(state)?, u64::MAX)
    } else {
        match store::subnet(state, netuid)? {
            Some(s) => (s.n, s.hyperparams.activity_cutoff),
            None => return Ok(None),
        }
    };
    let mut rows = vec![];
    for (uid, x) in store::neurons(state, netuid, n)?.into_iter().enumerate() {
        let h = store::hotkey(state, &x.hotkey)?;
        rows.push(MetagraphRow {
            uid: uid as u16,
            hotkey: x.hotkey,
            coldkey: h.as_ref().map_or(Address::default(), |h| h.owner),
            stake: h.as_ref().map_or(0, |h| h.total_stake),
            permit: x.permit,
            active: x.last_update.saturating_add(cutoff) >= height,
            consensus: x.consensus,
            incentive: x.incentive,
            dividends: x.dividends,
            trust: x.trust,
            emission: x.emission,
            last_update: x.last_update,
            registered_at: x.registered_at,
            axon: super::axons::axon(state, netuid, uid as u16)?,
        });
    }
    Ok(Some(rows))
}

/// Every proposal, by id.
pub fn proposals(state: &(impl StateRead + ?Sized)) -> Result<Vec<Proposal>, AppError> {
    Ok(scan(state, &PROPOSALS, &[])?
        .into_iter()
        .map(|(_, p)| p)
        .collect())
}

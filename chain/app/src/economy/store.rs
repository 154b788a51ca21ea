//! Typed reads and writes of the economy's state keys (layouts in
//! `taochain_storage::schema`), and prefix scans.

use taochain_primitives::subnet::{EconomyParams, HotkeyInfo, Neuron, StakeLock, SubnetInfo};
use taochain_primitives::{Address, Params};
use taochain_storage::schema::{
    ECONOMY_PARAMS_KEY, PARAMS_KEY, STAKE_PREFIX, SUBNET_PREFIX, cold_lock_key, cold_stake_key,
    hotkey_key, hotkey_lock_key, neuron_key, pot_key, stake_key, subnet_key, uid_key,
};
use taochain_storage::{StateRead, StateWrite};

use crate::AppError;
use crate::bank::{read, write};

/// Every `(key, value)` under `prefix`, in key order.
pub fn scan(
    state: &(impl StateRead + ?Sized),
    prefix: &[u8],
) -> Result<Vec<taochain_storage::Entry>, AppError> {
    let end = prefix_end(prefix);
    let mut out = vec![];
    let mut start = prefix.to_vec();
    while let Some((k, v)) = state.next(&start, end.as_deref())? {
        start = k.clone();
        start.push(0);
        out.push((k, v));
    }
    Ok(out)
}

/// The first key after every key that starts with `prefix` (`None`: unbounded).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Decodes a borsh value read by a scan.
pub fn decode<T: borsh::BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, AppError> {
    borsh::from_slice(bytes).map_err(|e| AppError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        detail: e.to_string(),
    })
}

/// Economy parameters (defaults if genesis had none).
pub fn params(state: &(impl StateRead + ?Sized)) -> Result<EconomyParams, AppError> {
    Ok(read(state, ECONOMY_PARAMS_KEY)?.unwrap_or_default())
}

/// Stores economy parameters.
pub fn set_params(state: &mut (impl StateWrite + ?Sized), p: &EconomyParams) {
    write(state, ECONOMY_PARAMS_KEY, p);
}

/// Chain parameters.
pub fn chain_params(state: &(impl StateRead + ?Sized)) -> Result<Params, AppError> {
    Ok(read(state, PARAMS_KEY)?.unwrap_or_default())
}

/// A subnet.
pub fn subnet(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
) -> Result<Option<SubnetInfo>, AppError> {
    read(state, &subnet_key(netuid))
}

/// Stores a subnet.
pub fn set_subnet(state: &mut (impl StateWrite + ?Sized), netuid: u16, s: &SubnetInfo) {
    write(state, &subnet_key(netuid), s);
}

/// Every subnet, by netuid.
pub fn subnets(state: &(impl StateRead + ?Sized)) -> Result<Vec<(u16, SubnetInfo)>, AppError> {
    scan(state, SUBNET_PREFIX)?
        .into_iter()
        .map(|(k, v)| {
            let id = k
                .get(SUBNET_PREFIX.len()..)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map(u16::from_be_bytes)
                .ok_or_else(|| AppError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    detail: "bad subnet key".into(),
                })?;
            Ok((id, decode(&k, &v)?))
        })
        .collect()
}

/// A subnet's pending emission.
pub fn pot(state: &(impl StateRead + ?Sized), netuid: u16) -> Result<u64, AppError> {
    Ok(read(state, &pot_key(netuid))?.unwrap_or(0))
}

/// Stores a subnet's pending emission.
pub fn set_pot(state: &mut (impl StateWrite + ?Sized), netuid: u16, amount: u64) {
    write(state, &pot_key(netuid), &amount);
}

/// A neuron.
pub fn neuron(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    uid: u16,
) -> Result<Option<Neuron>, AppError> {
    read(state, &neuron_key(netuid, uid))
}

/// Stores a neuron.
pub fn set_neuron(state: &mut (impl StateWrite + ?Sized), netuid: u16, uid: u16, n: &Neuron) {
    write(state, &neuron_key(netuid, uid), n);
}

/// UIDs `0..n` of a subnet.
pub fn neurons(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    n: u16,
) -> Result<Vec<Neuron>, AppError> {
    (0..n)
        .map(|uid| {
            neuron(state, netuid, uid)?.ok_or_else(|| {
                AppError::Invariant(format!("subnet {netuid} has no neuron at uid {uid}"))
            })
        })
        .collect()
}

/// The UID of `hotkey` on a subnet.
pub fn uid_of(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    hotkey: &Address,
) -> Result<Option<u16>, AppError> {
    read(state, &uid_key(netuid, hotkey.as_bytes()))
}

/// Records `hotkey -> uid`.
pub fn set_uid(state: &mut (impl StateWrite + ?Sized), netuid: u16, hotkey: &Address, uid: u16) {
    write(state, &uid_key(netuid, hotkey.as_bytes()), &uid);
}

/// A hotkey's record.
pub fn hotkey(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
) -> Result<Option<HotkeyInfo>, AppError> {
    read(state, &hotkey_key(hotkey.as_bytes()))
}

/// Stores a hotkey's record.
pub fn set_hotkey(state: &mut (impl StateWrite + ?Sized), hotkey: &Address, h: &HotkeyInfo) {
    write(state, &hotkey_key(hotkey.as_bytes()), h);
}

/// Stake of `coldkey` on `hotkey`.
pub fn stake(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
) -> Result<u64, AppError> {
    Ok(read(state, &stake_key(hotkey.as_bytes(), coldkey.as_bytes()))?.unwrap_or(0))
}

/// Stake of `coldkey` over every hotkey (its voting power).
pub fn cold_stake(state: &(impl StateRead + ?Sized), coldkey: &Address) -> Result<u64, AppError> {
    Ok(read(state, &cold_stake_key(coldkey.as_bytes()))?.unwrap_or(0))
}

/// Every `(coldkey, stake)` on `hotkey`, by coldkey.
pub fn nominators(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
) -> Result<Vec<(Address, u64)>, AppError> {
    let prefix = [STAKE_PREFIX, hotkey.as_bytes()].concat();
    scan(state, &prefix)?
        .into_iter()
        .map(|(k, v)| {
            let cold = k
                .get(prefix.len()..)
                .and_then(|b| <[u8; 20]>::try_from(b).ok())
                .map(Address)
                .ok_or_else(|| AppError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    detail: "bad stake key".into(),
                })?;
            Ok((cold, decode(&k, &v)?))
        })
        .collect()
}

/// The stake lock on a hotkey (the stake that won a root seat).
pub fn hotkey_lock(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
) -> Result<StakeLock, AppError> {
    Ok(read(state, &hotkey_lock_key(hotkey.as_bytes()))?.unwrap_or_default())
}

/// The stake lock on a coldkey (its stake behind open governance votes).
pub fn cold_lock(
    state: &(impl StateRead + ?Sized),
    coldkey: &Address,
) -> Result<StakeLock, AppError> {
    Ok(read(state, &cold_lock_key(coldkey.as_bytes()))?.unwrap_or_default())
}

/// Adds `lock` to the lock stored under `key` (a hotkey's or a coldkey's).
fn add_lock(
    state: &mut (impl StateWrite + ?Sized),
    key: &[u8],
    lock: StakeLock,
    height: u64,
) -> Result<(), AppError> {
    let held: StakeLock = read(state, key)?.unwrap_or_default();
    write(state, key, &held.merge(lock, height));
    Ok(())
}

/// Adds `lock` to the hotkey's lock.
pub fn lock_hotkey(
    state: &mut (impl StateWrite + ?Sized),
    hotkey: &Address,
    lock: StakeLock,
    height: u64,
) -> Result<(), AppError> {
    add_lock(state, &hotkey_lock_key(hotkey.as_bytes()), lock, height)
}

/// Adds `lock` to the coldkey's lock.
pub fn lock_coldkey(
    state: &mut (impl StateWrite + ?Sized),
    coldkey: &Address,
    lock: StakeLock,
    height: u64,
) -> Result<(), AppError> {
    add_lock(state, &cold_lock_key(coldkey.as_bytes()), lock, height)
}

//! The economy's records by what they are (a subnet, a neuron, a stake), over the typed
//! keys of `taochain_storage::schema` (each key's value type is fixed there).

use taochain_primitives::subnet::{EconomyParams, HotkeyInfo, Neuron, StakeLock, SubnetInfo};
use taochain_primitives::{Address, Params};
use taochain_storage::schema::{
    ECONOMY_PARAMS_KEY, Key, PARAMS_KEY, STAKES, SUBNETS, cold_lock_key, cold_stake_key,
    hotkey_key, hotkey_lock_key, neuron_key, pot_key, stake_key, subnet_key, uid_key,
};
use taochain_storage::{StateRead, StateWrite};

use crate::AppError;
use crate::typed::{get, get_or_default, put, scan};

fn bad_key(key: &[u8], what: &str) -> AppError {
    AppError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        detail: format!("bad {what} key"),
    }
}

/// Economy parameters (defaults if genesis had none).
pub fn params(state: &(impl StateRead + ?Sized)) -> Result<EconomyParams, AppError> {
    get_or_default(state, &ECONOMY_PARAMS_KEY)
}

/// Stores economy parameters.
pub fn set_params(state: &mut (impl StateWrite + ?Sized), p: &EconomyParams) {
    put(state, &ECONOMY_PARAMS_KEY, p);
}

/// Chain parameters.
pub fn chain_params(state: &(impl StateRead + ?Sized)) -> Result<Params, AppError> {
    get_or_default(state, &PARAMS_KEY)
}

/// A subnet.
pub fn subnet(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
) -> Result<Option<SubnetInfo>, AppError> {
    get(state, &subnet_key(netuid))
}

/// Stores a subnet.
pub fn set_subnet(state: &mut (impl StateWrite + ?Sized), netuid: u16, s: &SubnetInfo) {
    put(state, &subnet_key(netuid), s);
}

/// Every subnet, by netuid.
pub fn subnets(state: &(impl StateRead + ?Sized)) -> Result<Vec<(u16, SubnetInfo)>, AppError> {
    scan(state, &SUBNETS, &[])?
        .into_iter()
        .map(|(k, v)| {
            let id = <[u8; 2]>::try_from(SUBNETS.suffix(&k))
                .map(u16::from_be_bytes)
                .map_err(|_| bad_key(k.as_bytes(), "subnet"))?;
            Ok((id, v))
        })
        .collect()
}

/// A subnet's pending emission.
pub fn pot(state: &(impl StateRead + ?Sized), netuid: u16) -> Result<u64, AppError> {
    get_or_default(state, &pot_key(netuid))
}

/// Stores a subnet's pending emission.
pub fn set_pot(state: &mut (impl StateWrite + ?Sized), netuid: u16, amount: u64) {
    put(state, &pot_key(netuid), &amount);
}

/// A neuron.
pub fn neuron(
    state: &(impl StateRead + ?Sized),
    netuid: u16,
    uid: u16,
) -> Result<Option<Neuron>, AppError> {
    get(state, &neuron_key(netuid, uid))
}

/// Stores a neuron.
pub fn set_neuron(state: &mut (impl StateWrite + ?Sized), netuid: u16, uid: u16, n: &Neuron) {
    put(state, &neuron_key(netuid, uid), n);
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
    get(state, &uid_key(netuid, hotkey.as_bytes()))
}

/// Records `hotkey -> uid`.
pub fn set_uid(state: &mut (impl StateWrite + ?Sized), netuid: u16, hotkey: &Address, uid: u16) {
    put(state, &uid_key(netuid, hotkey.as_bytes()), &uid);
}

/// A hotkey's record.
pub fn hotkey(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
) -> Result<Option<HotkeyInfo>, AppError> {
    get(state, &hotkey_key(hotkey.as_bytes()))
}

/// Stores a hotkey's record.
pub fn set_hotkey(state: &mut (impl StateWrite + ?Sized), hotkey: &Address, h: &HotkeyInfo) {
    put(state, &hotkey_key(hotkey.as_bytes()), h);
}

/// Stake of `coldkey` on `hotkey`.
pub fn stake(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
    coldkey: &Address,
) -> Result<u64, AppError> {
    get_or_default(state, &stake_key(hotkey.as_bytes(), coldkey.as_bytes()))
}

/// Stake of `coldkey` over every hotkey (its voting power).
pub fn cold_stake(state: &(impl StateRead + ?Sized), coldkey: &Address) -> Result<u64, AppError> {
    get_or_default(state, &cold_stake_key(coldkey.as_bytes()))
}

/// Every `(coldkey, stake)` on `hotkey`, by coldkey.
pub fn nominators(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
) -> Result<Vec<(Address, u64)>, AppError> {
    scan(state, &STAKES, &[hotkey.as_bytes()])?
        .into_iter()
        .map(|(k, v)| {
            let cold = STAKES
                .suffix(&k)
                .get(20..)
                .and_then(|b| <[u8; 20]>::try_from(b).ok())
                .map(Address)
                .ok_or_else(|| bad_key(k.as_bytes(), "stake"))?;
            Ok((cold, v))
        })
        .collect()
}

/// The stake lock on a hotkey (the stake that won a root seat).
pub fn hotkey_lock(
    state: &(impl StateRead + ?Sized),
    hotkey: &Address,
) -> Result<StakeLock, AppError> {
    get_or_default(state, &hotkey_lock_key(hotkey.as_bytes()))
}

/// The stake lock on a coldkey (its stake behind open governance votes).
pub fn cold_lock(
    state: &(impl StateRead + ?Sized),
    coldkey: &Address,
) -> Result<StakeLock, AppError> {
    get_or_default(state, &cold_lock_key(coldkey.as_bytes()))
}

/// Adds `lock` to the lock stored under `key` (a hotkey's or a coldkey's).
fn add_lock(
    state: &mut (impl StateWrite + ?Sized),
    key: &Key<StakeLock>,
    lock: StakeLock,
    height: u64,
) -> Result<(), AppError> {
    let held = get_or_default(state, key)?;
    put(state, key, &held.merge(lock, height));
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

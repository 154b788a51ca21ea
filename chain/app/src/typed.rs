//! Typed state access: the one place the app turns state bytes into values and back.
//! Every read and write names a [`Key<V>`] (or scans a [`Table<V>`]) from
//! `taochain_primitives::schema`, so a key's value type is chosen once, where the key is
//! defined, and never at a call site. Undecodable bytes are corruption (the node halts).

use borsh::{BorshDeserialize, BorshSerialize};
use taochain_primitives::schema::{Key, Raw, Table};
use taochain_storage::{Changes, StateRead, StateWrite};

use crate::AppError;

fn corrupt(key: &[u8], detail: impl ToString) -> AppError {
    AppError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        detail: detail.to_string(),
    }
}

/// The value under `key`, if any.
pub fn get<V: BorshDeserialize>(
    state: &(impl StateRead + ?Sized),
    key: &Key<V>,
) -> Result<Option<V>, AppError> {
    match state.get(key.as_bytes())? {
        None => Ok(None),
        Some(bytes) => borsh::from_slice(&bytes)
            .map(Some)
            .map_err(|e| corrupt(key.as_bytes(), e)),
    }
}

/// The value under `key`, or `V::default()` when absent.
pub fn get_or_default<V: BorshDeserialize + Default>(
    state: &(impl StateRead + ?Sized),
    key: &Key<V>,
) -> Result<V, AppError> {
    Ok(get(state, key)?.unwrap_or_default())
}

/// The bytes under a raw key (contract storage), without a copy.
pub fn get_raw(
    state: &(impl StateRead + ?Sized),
    key: &Key<Raw>,
) -> Result<Option<Vec<u8>>, AppError> {
    Ok(state.get(key.as_bytes())?)
}

/// Whether anything is stored under `key`.
pub fn contains<V>(state: &(impl StateRead + ?Sized), key: &Key<V>) -> Result<bool, AppError> {
    Ok(state.get(key.as_bytes())?.is_some())
}

/// Stores `value` under `key`.
pub fn put<V: BorshSerialize>(state: &mut (impl StateWrite + ?Sized), key: &Key<V>, value: &V) {
    // Serialising plain structs into a Vec cannot fail.
    state.put(
        key.as_bytes().to_vec(),
        borsh::to_vec(value).unwrap_or_default(),
    );
}

/// Stores raw bytes under a raw key (contract storage), without a copy.
pub fn put_raw(state: &mut (impl StateWrite + ?Sized), key: Key<Raw>, value: Vec<u8>) {
    state.put(key.into_bytes(), value);
}

/// Stores `value` under `key`, or deletes the key when `value` is `None`.
pub fn put_or_delete<V: BorshSerialize>(
    state: &mut (impl StateWrite + ?Sized),
    key: Key<V>,
    value: Option<&V>,
) {
    match value {
        Some(v) => put(state, &key, v),
        None => delete(state, key),
    }
}

/// Deletes `key`.
pub fn delete<V>(state: &mut (impl StateWrite + ?Sized), key: Key<V>) {
    state.delete(key.into_bytes());
}

/// Every `(key, value)` of `table` under `table`'s prefix followed by `parts`, in key order.
pub fn scan<V: BorshDeserialize>(
    state: &(impl StateRead + ?Sized),
    table: &Table<V>,
    parts: &[&[u8]],
) -> Result<Vec<(Key<V>, V)>, AppError> {
    let prefix = table.under(parts);
    let end = prefix_end(&prefix);
    scan_range(state, table, prefix, end.as_deref())
}

/// Like [`scan`] over the whole table, only the entries whose key after the table's prefix
/// sorts below `below`: a range of an index keyed by a big-endian number (a height) first,
/// read without touching what lies beyond it.
pub fn scan_below<V: BorshDeserialize>(
    state: &(impl StateRead + ?Sized),
    table: &Table<V>,
    below: &[u8],
) -> Result<Vec<(Key<V>, V)>, AppError> {
    let prefix = table.under(&[]);
    let mut end = prefix.clone();
    end.extend_from_slice(below);
    scan_range(state, table, prefix, Some(&end))
}

fn scan_range<V: BorshDeserialize>(
    state: &(impl StateRead + ?Sized),
    table: &Table<V>,
    mut start: Vec<u8>,
    end: Option<&[u8]>,
) -> Result<Vec<(Key<V>, V)>, AppError> {
    let mut out = vec![];
    while let Some((k, v)) = state.next(&start, end)? {
        let key = table
            .key_of(&k)
            .ok_or_else(|| corrupt(&k, "a scan left its table"))?;
        let value = borsh::from_slice(&v).map_err(|e| corrupt(&k, e))?;
        start = k;
        start.push(0);
        out.push((key, value));
    }
    Ok(out)
}

/// Calls `f` with every value of `table`, in key order, without collecting them (a scan of
/// a whole table, e.g. every account for an audit).
pub fn for_each<V: BorshDeserialize>(
    state: &(impl StateRead + ?Sized),
    table: &Table<V>,
    mut f: impl FnMut(V),
) -> Result<(), AppError> {
    let prefix = table.under(&[]);
    let end = prefix_end(&prefix);
    let mut start = prefix;
    while let Some((k, v)) = state.next(&start, end.as_deref())? {
        f(borsh::from_slice(&v).map_err(|e| corrupt(&k, e))?);
        start = k;
        start.push(0);
    }
    Ok(())
}

/// Applies a change set buffered elsewhere (a contract call's or a proposal's writes),
/// key by key: the values were written through typed keys when they were buffered.
pub fn apply(state: &mut (impl StateWrite + ?Sized), changes: Changes) {
    for (key, value) in changes {
        match value {
            Some(v) => state.put(key, v),
            None => state.delete(key),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use taochain_primitives::schema::{POTS, pot_key};
    use taochain_storage::StateDelta;

    #[test]
    fn scan_returns_only_its_table_in_key_order() {
        let base = Changes::new();
        let mut state = StateDelta::new(&base);
        put(&mut state, &pot_key(2), &20);
        put(&mut state, &pot_key(1), &10);
        state.put(b"pou".to_vec(), vec![1]);
        state.put(b"pot".to_vec(), vec![1]);
        let got: Vec<(Vec<u8>, u64)> = scan(&state, &POTS, &[])
            .expect("scan")
            .into_iter()
            .map(|(k, v)| (POTS.suffix(&k).to_vec(), v))
            .collect();
        assert_eq!(got, vec![(vec![0, 1], 10), (vec![0, 2], 20)]);
    }

    #[test]
    fn a_value_of_another_type_is_corruption_not_a_guess() {
        let mut state = Changes::new();
        state.insert(pot_key(1).into_bytes(), Some(vec![1, 2, 3]));
        assert!(matches!(
            get(&state, &pot_key(1)),
            Err(AppError::Corrupt { .. })
        ));
        assert!(matches!(
            scan(&state, &POTS, &[]),
            Err(AppError::Corrupt { .. })
        ));
    }
}

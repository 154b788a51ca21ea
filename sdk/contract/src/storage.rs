//! Typed storage over the contract's own namespace, borsh-encoded.
//!
//! Layout: an [`Item`] lives under its key; a [`Map`] entry lives under
//! `namespace ++ "/" ++ key`, so a map's entries are contiguous and iterate in key order.

use std::marker::PhantomData;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::{Api, ContractError};

fn decode<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, ContractError> {
    borsh::from_slice(bytes).map_err(|e| {
        ContractError::Custom(format!(
            "corrupt value under {:?}: {e}",
            String::from_utf8_lossy(key)
        ))
    })
}

fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).unwrap_or_default()
}

/// One value under a fixed key.
pub struct Item<T> {
    key: &'static [u8],
    _value: PhantomData<fn() -> T>,
}

impl<T: BorshSerialize + BorshDeserialize> Item<T> {
    /// An item stored under `key`.
    pub const fn new(key: &'static [u8]) -> Self {
        Item {
            key,
            _value: PhantomData,
        }
    }

    /// The value, if set.
    pub fn may_load(&self, api: &dyn Api) -> Result<Option<T>, ContractError> {
        api.storage_get(self.key)
            .map(|b| decode(self.key, &b))
            .transpose()
    }

    /// The value; an error if unset.
    pub fn load(&self, api: &dyn Api) -> Result<T, ContractError> {
        self.may_load(api)?.ok_or_else(|| {
            ContractError::Custom(format!("{} is not set", String::from_utf8_lossy(self.key)))
        })
    }

    /// Stores the value.
    pub fn save(&self, api: &mut dyn Api, value: &T) {
        api.storage_set(self.key, &encode(value));
    }

    /// Removes the value.
    pub fn remove(&self, api: &mut dyn Api) {
        api.storage_remove(self.key);
    }
}

/// Values by byte-string key, iterable in key order.
pub struct Map<V> {
    namespace: &'static [u8],
    _value: PhantomData<fn() -> V>,
}

impl<V: BorshSerialize + BorshDeserialize> Map<V> {
    /// A map under `namespace`.
    pub const fn new(namespace: &'static [u8]) -> Self {
        Map {
            namespace,
            _value: PhantomData,
        }
    }

    fn full_key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.namespace.len() + 1 + key.len());
        k.extend_from_slice(self.namespace);
        k.push(b'/');
        k.extend_from_slice(key);
        k
    }

    /// The value under `key`, if any.
    pub fn get(&self, api: &dyn Api, key: &[u8]) -> Result<Option<V>, ContractError> {
        let k = self.full_key(key);
        api.storage_get(&k).map(|b| decode(&k, &b)).transpose()
    }

    /// Stores `value` under `key`.
    pub fn set(&self, api: &mut dyn Api, key: &[u8], value: &V) {
        api.storage_set(&self.full_key(key), &encode(value));
    }

    /// Removes `key`.
    pub fn remove(&self, api: &mut dyn Api, key: &[u8]) {
        api.storage_remove(&self.full_key(key));
    }

    /// Up to `limit` entries with `key >= start`, in key order.
    pub fn range(
        &self,
        api: &dyn Api,
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, V)>, ContractError> {
        let mut end = self.namespace.to_vec();
        end.push(b'/' + 1);
        let mut cursor = self.full_key(start);
        let mut out = vec![];
        while out.len() < limit {
            let Some((k, v)) = api.storage_next(&cursor, &end) else {
                break;
            };
            out.push((k[self.namespace.len() + 1..].to_vec(), decode(&k, &v)?));
            cursor = k;
            cursor.push(0);
        }
        Ok(out)
    }
}

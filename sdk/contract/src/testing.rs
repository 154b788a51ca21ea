//! Native testing: [`MockApi`] is an in-memory chain for one contract (storage, balances,
//! events, other contracts' queries as closures), so handlers run as plain Rust.
//! For the same contract inside the real VM, see `taochain-vm`'s `testing` module.

use std::collections::BTreeMap;

use borsh::BorshDeserialize;
use taochain_vm_abi::{Call, Env, Event, MessageInfo};

use crate::{Api, ContractError, Ctx};

/// A mocked contract's query handler.
pub type QueryFn = fn(&[u8]) -> Result<Vec<u8>, String>;

/// A native stand-in for the chain.
#[derive(Default)]
pub struct MockApi {
    /// This contract's storage.
    pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Balances by address; the contract's own is under `env.contract`.
    pub balances: BTreeMap<[u8; 20], u64>,
    /// Events emitted so far.
    pub events: Vec<Event>,
    /// Answers to queries of other contracts.
    pub queries: BTreeMap<[u8; 20], QueryFn>,
    /// The environment handlers see.
    pub env: Env,
    /// `verify_matmul` answers by the C blob's hash (absent: `ERR_MISSING_BLOB`).
    pub matmul: BTreeMap<[u8; 32], i32>,
    /// `subnet_uid` answers: registered hotkeys and their UIDs.
    pub uids: BTreeMap<[u8; 20], u16>,
    /// Stored blobs and their pins (a blob unpinned to zero is removed).
    pub blobs: BTreeMap<[u8; 32], u32>,
}

impl MockApi {
    /// Runs `handler` with `msg` from `sender` carrying `funds` (credited to the contract
    /// first, as the chain does).
    pub fn call<M: BorshDeserialize>(
        &mut self,
        handler: fn(&mut Ctx<'_>, M) -> Result<Vec<u8>, ContractError>,
        sender: [u8; 20],
        funds: u64,
        msg: &[u8],
    ) -> Result<Vec<u8>, String> {
        *self.balances.entry(self.env.contract).or_default() += funds;
        let input = borsh::to_vec(&Call {
            env: self.env.clone(),
            info: MessageInfo { sender, funds },
            msg: msg.to_vec(),
        })
        .map_err(|e| e.to_string())?;
        let (status, out) = crate::entry::dispatch(&input, self, handler);
        if status == taochain_vm_abi::STATUS_OK {
            Ok(out)
        } else {
            Err(String::from_utf8_lossy(&out).into_owned())
        }
    }
}

impl Api for MockApi {
    fn storage_get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.storage.get(key).cloned()
    }
    fn storage_set(&mut self, key: &[u8], value: &[u8]) {
        self.storage.insert(key.to_vec(), value.to_vec());
    }
    fn storage_remove(&mut self, key: &[u8]) {
        self.storage.remove(key);
    }
    fn storage_next(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        self.storage
            .range(start.to_vec()..)
            .find(|_| true)
            .filter(|(k, _)| end.is_empty() || k.as_slice() < end)
            .map(|(k, v)| (k.clone(), v.clone()))
    }
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(data).into()
    }
    fn ed25519_verify(&self, msg: &[u8], sig: &[u8; 64], pk: &[u8; 32]) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(pk)
            .map(|k| {
                k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
                    .is_ok()
            })
            .unwrap_or(false)
    }
    fn emit_event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
    fn blob_pin(&mut self, hash: &[u8; 32], pin: bool) -> Option<u32> {
        let pins = self.blobs.get_mut(hash)?;
        if pin {
            *pins += 1;
        } else {
            *pins = pins.saturating_sub(1);
        }
        let left = *pins;
        if left == 0 && !pin {
            self.blobs.remove(hash);
        }
        Some(left)
    }
    fn subnet_uid(&self, hotkey: &[u8; 20]) -> Option<u16> {
        self.uids.get(hotkey).copied()
    }
    fn verify_matmul(&self, _a: &[u8; 32], _b: &[u8; 32], c: &[u8; 32]) -> i32 {
        self.matmul
            .get(c)
            .copied()
            .unwrap_or(taochain_vm_abi::ERR_MISSING_BLOB)
    }
    fn bank_send(&mut self, to: &[u8; 20], amount: u64) -> Result<(), i32> {
        let own = self.balances.entry(self.env.contract).or_default();
        if amount == 0 {
            return Err(taochain_vm_abi::ERR_INVALID);
        }
        *own = own
            .checked_sub(amount)
            .ok_or(taochain_vm_abi::ERR_INSUFFICIENT_FUNDS)?;
        *self.balances.entry(*to).or_default() += amount;
        Ok(())
    }
    fn query_contract(&self, contract: &[u8; 20], msg: &[u8]) -> Result<Vec<u8>, String> {
        match self.queries.get(contract) {
            Some(f) => f(msg),
            None => Err("no such contract".into()),
        }
    }
    fn debug(&self, _line: &str) {}
}

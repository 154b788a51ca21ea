//! The chain's side of the VM's `Host` trait: contract storage lives in the authenticated
//! state under `cstore/<address>/`, bank sends move rao between accounts, and queries of
//! other contracts run read-only over the same state.

use taochain_primitives::Address;
use taochain_storage::schema::{contract_key, contract_store_key};
use taochain_storage::{StateRead, StateWrite, StorageError};
use taochain_vm::{Entry, Host, HostError, Next, VmError};
use taochain_vm_abi::{Call, ERR_INSUFFICIENT_FUNDS, ERR_INVALID, MessageInfo};

use super::{Env, code_loader};
use crate::bank::transfer;
use crate::typed::{delete, get, get_or_default, get_raw, put, put_raw};
use taochain_primitives::RejectCode;
use taochain_storage::schema::code_key;

fn host_err(e: impl std::fmt::Display) -> HostError {
    HostError(e.to_string())
}

/// The first entry of `contract`'s storage in `[start, end)`, keys without the namespace,
/// stepping over at most `max_skips` entries pending writes deleted.
fn next_in_namespace(
    state: &(impl StateRead + ?Sized),
    contract: &Address,
    start: &[u8],
    end: Option<&[u8]>,
    max_skips: u64,
) -> Result<Next, HostError> {
    let prefix = contract_store_key(contract.as_bytes(), &[]).into_bytes();
    let from = contract_store_key(contract.as_bytes(), start);
    let to = match end {
        Some(e) => contract_store_key(contract.as_bytes(), e).into_bytes(),
        // The namespace ends where the next address begins.
        None => {
            let mut p = prefix.clone();
            while let Some(last) = p.pop() {
                if last < u8::MAX {
                    p.push(last + 1);
                    break;
                }
            }
            p
        }
    };
    let mut skipped = 0;
    match state.next_limited(from.as_bytes(), Some(&to), &mut skipped, max_skips) {
        Ok(found) => Ok(Next::Found(
            found.map(|(k, v)| (k[prefix.len()..].to_vec(), v)),
            skipped,
        )),
        Err(StorageError::SkipLimit(_)) => Ok(Next::TooManySkips),
        Err(e) => Err(host_err(e)),
    }
}

/// `key` of `contract`'s storage.
fn get_in_namespace(
    state: &(impl StateRead + ?Sized),
    contract: &Address,
    key: &[u8],
) -> Result<Option<Vec<u8>>, HostError> {
    get_raw(state, &contract_store_key(contract.as_bytes(), key)).map_err(host_err)
}

/// A query from `caller` to `contract`, with the VM error as text for the calling contract.
fn query_from(
    state: &(impl StateRead + ?Sized),
    env: &Env<'_>,
    caller: Address,
    contract: [u8; 20],
    msg: &[u8],
    depth: u32,
    gas: u64,
) -> Result<(u64, Result<Vec<u8>, String>), HostError> {
    let (used, r) = run_query(state, env, caller, Address(contract), msg, depth, gas)?;
    Ok((used, r.map_err(|e| e.to_string())))
}

/// Runs `query` of `contract` read-only over `state`.
pub(crate) fn run_query(
    state: &(impl StateRead + ?Sized),
    env: &Env<'_>,
    caller: Address,
    contract: Address,
    msg: &[u8],
    depth: u32,
    gas: u64,
) -> Result<(u64, Result<Vec<u8>, VmError>), HostError> {
    let record = get(state, &contract_key(contract.as_bytes())).map_err(host_err)?;
    let Some(record) = record else {
        return Ok((
            0,
            Err(VmError::Contract(format!("no contract at {contract}"))),
        ));
    };
    let code = get(state, &code_key(record.code_id)).map_err(host_err)?;
    let Some(code) = code else {
        return Err(host_err(format!(
            "code {} of {contract} is missing",
            record.code_id
        )));
    };
    let call = Call {
        env: env.abi(contract),
        info: MessageInfo {
            sender: *caller.as_bytes(),
            funds: 0,
        },
        msg: msg.to_vec(),
    };
    let mut host = QueryHost {
        state,
        env,
        contract,
    };
    let out = env.vm.call(
        &code.checksum,
        &code_loader(env, code.checksum),
        Entry::Query,
        &call,
        &mut host,
        gas,
        depth,
    );
    match out.result {
        Err(VmError::Host(e)) => Err(HostError(e)),
        result => Ok((out.gas_used, result)),
    }
}

/// A contract's view during `instantiate`, `execute` and `migrate`.
pub(super) struct ChainHost<'a, S: StateWrite + ?Sized> {
    pub(super) state: &'a mut S,
    pub(super) env: &'a Env<'a>,
    pub(super) contract: Address,
    /// Who sent the message (the contract itself for the epoch hook).
    pub(super) sender: Address,
}

impl<S: StateWrite + ?Sized> Host for ChainHost<'_, S> {
    fn storage_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        get_in_namespace(&*self.state, &self.contract, key)
    }
    fn blob_pin(&mut self, hash: &[u8; 32], pin: bool) -> Result<Result<u32, i32>, HostError> {
        use taochain_storage::schema::{blob_key, blob_pin_key, blob_prune_key};
        let key = blob_key(hash);
        let Some(mut record) = get(&*self.state, &key).map_err(host_err)? else {
            return Ok(Err(taochain_vm_abi::ERR_MISSING_BLOB));
        };
        // An unpinned blob belongs to its uploader: a contract may pin it first only in a
        // call its uploader sent (so nobody can pin and unpin someone else's blob to have
        // it pruned before it is used).
        if pin && record.pins == 0 && record.owner != self.sender {
            return Ok(Err(taochain_vm_abi::ERR_BLOB_NOT_OWNED));
        }
        // Pins are held per contract: a contract can only remove pins it added.
        let mine_key = blob_pin_key(hash, self.contract.as_bytes());
        let mine = get_or_default(&*self.state, &mine_key).map_err(host_err)?;
        if pin {
            record.pins = record.pins.saturating_add(1);
            put(&mut *self.state, &mine_key, &mine.saturating_add(1));
        } else {
            if mine == 0 {
                return Ok(Ok(record.pins));
            }
            if mine == 1 {
                delete(&mut *self.state, mine_key);
            } else {
                put(&mut *self.state, &mine_key, &(mine - 1));
            }
            record.pins = record.pins.saturating_sub(1);
            if record.pins == 0 {
                delete(&mut *self.state, key);
                put(&mut *self.state, &blob_prune_key(hash), &());
                return Ok(Ok(0));
            }
        }
        put(&mut *self.state, &key, &record);
        Ok(Ok(record.pins))
    }
    fn subnet_uid(&self, hotkey: &[u8; 20]) -> Result<Option<u16>, HostError> {
        subnet_uid(&*self.state, &self.contract, hotkey)
    }
    fn blob_len(&self, hash: &[u8; 32]) -> Result<Option<u64>, HostError> {
        usable_blob(&*self.state, self.env, hash)
    }
    fn matmul_shape(
        &self,
        a: &[u8; 32],
        b: &[u8; 32],
        c: &[u8; 32],
    ) -> Result<Result<[u64; 3], i32>, HostError> {
        matmul_shape(&*self.state, self.env, [a, b, c])
    }
    fn verify_matmul(
        &mut self,
        a: &[u8; 32],
        b: &[u8; 32],
        c: &[u8; 32],
    ) -> Result<i32, HostError> {
        verify_matmul(&*self.state, self.env, [a, b, c])
    }
    fn storage_set(&mut self, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        put_raw(
            &mut *self.state,
            contract_store_key(self.contract.as_bytes(), key),
            value.to_vec(),
        );
        Ok(())
    }
    fn storage_remove(&mut self, key: &[u8]) -> Result<(), HostError> {
        delete(
            &mut *self.state,
            contract_store_key(self.contract.as_bytes(), key),
        );
        Ok(())
    }
    fn storage_next(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        max_skips: u64,
    ) -> Result<Next, HostError> {
        next_in_namespace(&*self.state, &self.contract, start, end, max_skips)
    }
    fn bank_send(&mut self, to: [u8; 20], amount: u64) -> Result<Result<(), i32>, HostError> {
        match transfer(self.state, &self.contract, &Address(to), amount).map_err(host_err)? {
            Ok(()) => Ok(Ok(())),
            Err((RejectCode::InsufficientFunds, _)) => Ok(Err(ERR_INSUFFICIENT_FUNDS)),
            Err(_) => Ok(Err(ERR_INVALID)),
        }
    }
    fn query_contract(
        &self,
        contract: [u8; 20],
        msg: &[u8],
        depth: u32,
        gas: u64,
    ) -> Result<(u64, Result<Vec<u8>, String>), HostError> {
        query_from(
            &*self.state,
            self.env,
            self.contract,
            contract,
            msg,
            depth,
            gas,
        )
    }
}

/// A contract's view during `query`: reads only (the VM traps writes before they get here).
pub(super) struct QueryHost<'a, R: StateRead + ?Sized> {
    state: &'a R,
    env: &'a Env<'a>,
    contract: Address,
}

impl<R: StateRead + ?Sized> Host for QueryHost<'_, R> {
    fn storage_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        get_in_namespace(self.state, &self.contract, key)
    }
    fn subnet_uid(&self, hotkey: &[u8; 20]) -> Result<Option<u16>, HostError> {
        subnet_uid(self.state, &self.contract, hotkey)
    }
    fn blob_len(&self, hash: &[u8; 32]) -> Result<Option<u64>, HostError> {
        usable_blob(self.state, self.env, hash)
    }
    fn matmul_shape(
        &self,
        a: &[u8; 32],
        b: &[u8; 32],
        c: &[u8; 32],
    ) -> Result<Result<[u64; 3], i32>, HostError> {
        matmul_shape(self.state, self.env, [a, b, c])
    }
    fn verify_matmul(
        &mut self,
        a: &[u8; 32],
        b: &[u8; 32],
        c: &[u8; 32],
    ) -> Result<i32, HostError> {
        verify_matmul(self.state, self.env, [a, b, c])
    }
    fn storage_set(&mut self, _: &[u8], _: &[u8]) -> Result<(), HostError> {
        Err(host_err("storage_set reached the host in a query"))
    }
    fn storage_remove(&mut self, _: &[u8]) -> Result<(), HostError> {
        Err(host_err("storage_remove reached the host in a query"))
    }
    fn storage_next(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        max_skips: u64,
    ) -> Result<Next, HostError> {
        next_in_namespace(self.state, &self.contract, start, end, max_skips)
    }
    fn bank_send(&mut self, _: [u8; 20], _: u64) -> Result<Result<(), i32>, HostError> {
        Err(host_err("bank_send reached the host in a query"))
    }
    fn query_contract(
        &self,
        contract: [u8; 20],
        msg: &[u8],
        depth: u32,
        gas: u64,
    ) -> Result<(u64, Result<Vec<u8>, String>), HostError> {
        query_from(
            self.state,
            self.env,
            self.contract,
            contract,
            msg,
            depth,
            gas,
        )
    }
}

/// The size of a blob stored in an earlier block (so its bytes are on disk on every node).
fn usable_blob(
    state: &(impl StateRead + ?Sized),
    env: &Env<'_>,
    hash: &[u8; 32],
) -> Result<Option<u64>, HostError> {
    let record = get(state, &taochain_storage::schema::blob_key(hash)).map_err(host_err)?;
    Ok(record.filter(|r| r.height < env.height).map(|r| r.size))
}

/// The bytes of three blobs stored in earlier blocks (`None`: one is missing).
fn usable_blobs(
    state: &(impl StateRead + ?Sized),
    env: &Env<'_>,
    hashes: [&[u8; 32]; 3],
) -> Result<Option<[Vec<u8>; 3]>, HostError> {
    let mut out: [Vec<u8>; 3] = Default::default();
    for (slot, h) in out.iter_mut().zip(hashes) {
        if usable_blob(state, env, h)?.is_none() {
            return Ok(None);
        }
        match env.storage.get_blob(h).map_err(host_err)? {
            Some(bytes) => *slot = bytes,
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// `verify_matmul`'s pricing step: the statement's `(m, k, n)` from the three headers
/// (each dimension 1..=MAX_DIM, data lengths exact, shapes chaining, k <= MAX_K).
fn matmul_shape(
    state: &(impl StateRead + ?Sized),
    env: &Env<'_>,
    hashes: [&[u8; 32]; 3],
) -> Result<Result<[u64; 3], i32>, HostError> {
    use taochain_vm_abi::{ERR_BAD_STATEMENT, ERR_MISSING_BLOB};
    use taochain_work::{MAX_DIM, MAX_K, npy};
    let Some([a, b, c]) = usable_blobs(state, env, hashes)? else {
        return Ok(Err(ERR_MISSING_BLOB));
    };
    let (Ok(a), Ok(b), Ok(c)) = (
        npy::header::<i8>(&a, MAX_DIM),
        npy::header::<i8>(&b, MAX_DIM),
        npy::header::<i32>(&c, MAX_DIM),
    ) else {
        return Ok(Err(ERR_BAD_STATEMENT));
    };
    if a.cols != b.rows || c.rows != a.rows || c.cols != b.cols || a.cols > MAX_K {
        return Ok(Err(ERR_BAD_STATEMENT));
    }
    Ok(Ok([a.rows as u64, a.cols as u64, b.cols as u64]))
}

/// `verify_matmul`: parses the three `.npy` blobs and checks them with the block's
/// verifier (the CPU reference if that backend fails), seeded by the block hash.
fn verify_matmul(
    state: &(impl taochain_storage::StateRead + ?Sized),
    env: &Env<'_>,
    hashes: [&[u8; 32]; 3],
) -> Result<i32, HostError> {
    use taochain_vm_abi::{ERR_BAD_STATEMENT, ERR_MISSING_BLOB, MATMUL_INVALID, MATMUL_VALID};
    use taochain_work::{BlobKeys, MatmulStatement, npy, verify_or_cpu};
    let Some(bytes) = usable_blobs(state, env, hashes)? else {
        return Ok(ERR_MISSING_BLOB);
    };
    let (Ok(a), Ok(b), Ok(c)) = (
        npy::parse::<i8>(&bytes[0]),
        npy::parse::<i8>(&bytes[1]),
        npy::parse::<i32>(&bytes[2]),
    ) else {
        return Ok(ERR_BAD_STATEMENT);
    };
    let statement = MatmulStatement {
        a,
        b,
        c,
        seed: env.block_hash,
    };
    // Blobs are stored under their sha256: the hashes name these matrices, so a GPU
    // verifier may keep them on the device for the next check.
    let keys = BlobKeys {
        a: *hashes[0],
        b: *hashes[1],
        c: *hashes[2],
    };
    Ok(match verify_or_cpu(env.verifier, &statement, Some(&keys)) {
        Err(_) => ERR_BAD_STATEMENT,
        Ok(Ok(())) => MATMUL_VALID,
        Ok(Err(_)) => MATMUL_INVALID,
    })
}

/// The UID of `hotkey` on the subnet that `contract` runs (`None`: not registered, or the
/// contract runs no subnet). Shared by the execute and query hosts.
fn subnet_uid(
    state: &(impl StateRead + ?Sized),
    contract: &Address,
    hotkey: &[u8; 20],
) -> Result<Option<u16>, HostError> {
    let subnets = crate::economy::store::subnets(state).map_err(host_err)?;
    let Some((netuid, _)) = subnets.iter().find(|(_, s)| s.contract == *contract) else {
        return Ok(None);
    };
    crate::economy::store::uid_of(state, *netuid, &Address(*hotkey)).map_err(host_err)
}

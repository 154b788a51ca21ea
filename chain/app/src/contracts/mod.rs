//! Contract messages: `StoreCode`, `Instantiate`, `Execute`, `Migrate`, and smart queries.
//!
//! Code bytes are blobs (by sha256, outside the tree); the tree holds the code record, the
//! contract record and the contract's storage, so all of it is provable. Each message
//! reports the gas it used, also when it fails.

mod host;

use sha2::{Digest, Sha256};
use taochain_primitives::{Address, CodeRecord, ContractRecord, RejectCode};
use taochain_storage::schema::{CODE_SEQ_KEY, CONTRACT_SEQ_KEY, Key, code_key, contract_key};
use taochain_storage::{Blobs, StateWrite, Storage};
use taochain_vm::limits::gas::STORE_PER_BYTE;
use taochain_vm::{Entry, Vm, VmError};
use taochain_vm_abi::{Call, MessageInfo};

use crate::bank::transfer;
use crate::checks::Rejection;
use crate::typed::{contains, delete, get, get_or_default, put};
use crate::{AppError, Event};
use host::ChainHost;
pub(crate) use host::run_query;

/// What contract calls need from the block.
pub struct Env<'a> {
    /// The VM.
    pub vm: &'a Vm,
    /// Committed storage (code blobs).
    pub storage: &'a Storage,
    /// Block height.
    pub height: u64,
    /// Block time (ms since the epoch, from the header).
    pub time_ms: u64,
    /// Chain id.
    pub chain_id: &'a str,
    /// Hash of the block being executed: the seed of useful-work checks.
    pub block_hash: [u8; 32],
    /// Checks useful work (`verify_matmul`).
    pub verifier: &'a dyn taochain_work::Verifier,
    /// Told about each contract call and epoch (metrics only).
    pub observer: &'a dyn crate::observe::Observer,
}

impl Env<'_> {
    fn abi(&self, contract: Address) -> taochain_vm_abi::Env {
        taochain_vm_abi::Env {
            height: self.height,
            time_ms: self.time_ms,
            chain_id: self.chain_id.to_string(),
            contract: *contract.as_bytes(),
        }
    }
}

/// Loads code bytes for the VM's cache on a miss.
fn code_loader<'a>(env: &'a Env<'a>, checksum: [u8; 32]) -> impl Fn() -> Option<Vec<u8>> + 'a {
    move || env.storage.get_blob(&checksum).ok().flatten()
}

/// A successful contract message.
pub struct Done {
    /// Gas used.
    pub gas_used: u64,
    /// Result data (code id, address, or the contract's output).
    pub data: Vec<u8>,
    /// Events.
    pub events: Vec<Event>,
}

/// A contract message's result: done, or refused with the gas it used.
pub type Outcome = Result<Done, (Rejection, u64)>;

fn refuse(code: RejectCode, log: impl Into<String>, gas: u64) -> Outcome {
    Err((Rejection::new(code, log), gas))
}

fn next_seq(state: &mut (impl StateWrite + ?Sized), key: &Key<u64>) -> Result<u64, AppError> {
    let next = get_or_default(state, key)?
        .checked_add(1)
        .ok_or_else(|| AppError::Invariant("sequence overflow".into()))?;
    put(state, key, &next);
    Ok(next)
}

/// `StoreCode`: validate, compile, keep the blob, record the code.
pub fn store_code(
    state: &mut (impl StateWrite + ?Sized),
    env: &Env<'_>,
    blobs: &mut Blobs,
    sender: Address,
    wasm: &[u8],
    gas_left: u64,
) -> Result<Outcome, AppError> {
    let gas = STORE_PER_BYTE.saturating_mul(wasm.len() as u64);
    if gas > gas_left {
        return Ok(refuse(
            RejectCode::OutOfGas,
            format!(
                "storing {} bytes costs {gas} gas, {gas_left} left",
                wasm.len()
            ),
            gas_left,
        ));
    }
    let info = match env.vm.store_code(wasm) {
        Ok(info) => info,
        Err(e) => return Ok(refuse(RejectCode::ContractInvalid, e.to_string(), gas)),
    };
    let code_id = next_seq(state, &CODE_SEQ_KEY)?;
    put(
        state,
        &code_key(code_id),
        &CodeRecord {
            checksum: info.checksum,
            size: wasm.len() as u64,
            creator: sender,
        },
    );
    blobs.insert(info.checksum, Some(wasm.to_vec()));
    // Code bytes share the blob column with data blobs: mark the hash so that pruning a
    // data blob with the same bytes never deletes code.
    put(
        state,
        &taochain_storage::schema::code_hash_key(&info.checksum),
        &(),
    );
    let checksum_hex: String = info.checksum.iter().map(|b| format!("{b:02x}")).collect();
    let event = Event::new(
        "store_code",
        &[
            ("code_id", code_id.to_string()),
            ("checksum", checksum_hex),
            ("creator", sender.to_string()),
        ],
    );
    let data = borsh::to_vec(&(code_id, info.checksum)).unwrap_or_default();
    Ok(Ok(Done {
        gas_used: gas,
        data,
        events: vec![event],
    }))
}

/// `StoreBlob`: keep bytes under their sha256 (outside the tree; the record is in it).
/// Storing a blob that exists costs the same and changes nothing.
pub fn store_blob(
    state: &mut (impl StateWrite + ?Sized),
    env: &Env<'_>,
    blobs: &mut Blobs,
    sender: Address,
    bytes: &[u8],
    gas_left: u64,
) -> Result<Outcome, AppError> {
    use taochain_primitives::state::{BLOB_GAS_PER_BYTE, BlobRecord, MAX_BLOB_BYTES};
    let gas = BLOB_GAS_PER_BYTE.saturating_mul(bytes.len() as u64);
    if bytes.is_empty() || bytes.len() > MAX_BLOB_BYTES {
        return Ok(refuse(
            RejectCode::Malformed,
            format!(
                "a blob has 1 to {MAX_BLOB_BYTES} bytes, not {}",
                bytes.len()
            ),
            0,
        ));
    }
    if gas > gas_left {
        return Ok(refuse(
            RejectCode::OutOfGas,
            format!(
                "storing {} bytes costs {gas} gas, {gas_left} left",
                bytes.len()
            ),
            gas_left,
        ));
    }
    let hash: [u8; 32] = Sha256::digest(bytes).into();
    let key = taochain_storage::schema::blob_key(&hash);
    if !contains(state, &key)? {
        put(
            state,
            &key,
            &BlobRecord {
                size: bytes.len() as u64,
                owner: sender,
                height: env.height,
                pins: 0,
            },
        );
        blobs.insert(hash, Some(bytes.to_vec()));
    }
    let hash_hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Ok(Done {
        gas_used: gas,
        data: hash.to_vec(),
        events: vec![Event::new(
            "store_blob",
            &[
                ("hash", hash_hex),
                ("size", bytes.len().to_string()),
                ("owner", sender.to_string()),
            ],
        )],
    }))
}

/// End of block: prunes every blob whose last pin was removed in this block (its record
/// is gone; its bytes leave the blob column at commit unless the block stored them again
/// or they are contract code).
pub fn prune_blobs(
    state: &mut (impl StateWrite + ?Sized),
    blobs: &mut Blobs,
) -> Result<(), AppError> {
    use taochain_storage::schema::{BLOB_PRUNE, blob_key, code_hash_key};
    for (key, ()) in crate::typed::scan(state, &BLOB_PRUNE, &[])? {
        let hash = <[u8; 32]>::try_from(BLOB_PRUNE.suffix(&key)).ok();
        delete(state, key);
        let Some(hash) = hash else {
            continue;
        };
        if !contains(state, &blob_key(&hash))? && !contains(state, &code_hash_key(&hash))? {
            blobs.insert(hash, None);
        }
    }
    Ok(())
}

/// Runs one entry with a [`ChainHost`] over `state`; maps VM failures to rejections.
#[allow(clippy::too_many_arguments)]
fn call(
    state: &mut (impl StateWrite + ?Sized),
    env: &Env<'_>,
    contract: Address,
    checksum: [u8; 32],
    entry: Entry,
    sender: Address,
    funds: u64,
    msg: &[u8],
    gas_left: u64,
) -> Result<Outcome, AppError> {
    let call = Call {
        env: env.abi(contract),
        info: MessageInfo {
            sender: *sender.as_bytes(),
            funds,
        },
        msg: msg.to_vec(),
    };
    let mut host = ChainHost {
        state,
        env,
        contract,
        sender,
    };
    let started = env.observer.start();
    let out = env.vm.call(
        &checksum,
        &code_loader(env, checksum),
        entry,
        &call,
        &mut host,
        gas_left,
        0,
    );
    env.observer.contract_call(started, out.gas_used);
    match out.result {
        Ok(data) => {
            let events = out
                .events
                .into_iter()
                .map(|e| {
                    let mut attributes = vec![("contract".to_string(), contract.to_string())];
                    attributes.extend(e.attributes);
                    Event {
                        kind: format!("wasm-{}", e.kind),
                        attributes,
                    }
                })
                .collect();
            Ok(Ok(Done {
                gas_used: out.gas_used,
                data,
                events,
            }))
        }
        Err(VmError::Host(e)) => Err(AppError::Invariant(format!("contract host failure: {e}"))),
        Err(VmError::OutOfGas { limit }) => Ok(refuse(
            RejectCode::OutOfGas,
            format!("contract ran out of gas ({limit} left)"),
            out.gas_used,
        )),
        Err(e) => Ok(refuse(
            RejectCode::ContractFailed,
            format!("{}: {e}", entry.name()),
            out.gas_used,
        )),
    }
}

fn contract_of(
    state: &(impl taochain_storage::StateRead + ?Sized),
    contract: &Address,
) -> Result<Option<(ContractRecord, CodeRecord)>, AppError> {
    let Some(record) = get(state, &contract_key(contract.as_bytes()))? else {
        return Ok(None);
    };
    let code = get(state, &code_key(record.code_id))?.ok_or_else(|| {
        AppError::Invariant(format!("code {} of {contract} is missing", record.code_id))
    })?;
    Ok(Some((record, code)))
}

fn move_funds(
    state: &mut (impl StateWrite + ?Sized),
    from: &Address,
    to: &Address,
    funds: u64,
) -> Result<Option<Rejection>, AppError> {
    if funds == 0 {
        return Ok(None);
    }
    Ok(transfer(state, from, to, funds)?.err().map(Rejection::from))
}

/// `Instantiate`: derive the address, record the contract, move funds, run `instantiate`.
#[allow(clippy::too_many_arguments)]
pub fn instantiate(
    state: &mut (impl StateWrite + ?Sized),
    env: &Env<'_>,
    sender: Address,
    code_id: u64,
    msg: &[u8],
    funds: u64,
    admin: Option<Address>,
    label: &str,
    gas_left: u64,
) -> Result<Outcome, AppError> {
    let Some(code) = get(state, &code_key(code_id))? else {
        return Ok(refuse(
            RejectCode::ContractNotFound,
            format!("no code with id {code_id}"),
            0,
        ));
    };
    let seq = next_seq(state, &CONTRACT_SEQ_KEY)?;
    let digest = Sha256::digest(
        [
            &b"taochain/contract/v1"[..],
            &code_id.to_be_bytes(),
            &seq.to_be_bytes(),
        ]
        .concat(),
    );
    let mut addr = [0u8; 20];
    addr.copy_from_slice(&digest[..20]);
    let contract = Address(addr);
    put(
        state,
        &contract_key(&addr),
        &ContractRecord {
            code_id,
            admin,
            label: label.to_string(),
            creator: sender,
        },
    );
    if let Some(r) = move_funds(state, &sender, &contract, funds)? {
        return Ok(Err((r, 0)));
    }
    let out = call(
        state,
        env,
        contract,
        code.checksum,
        Entry::Instantiate,
        sender,
        funds,
        msg,
        gas_left,
    )?;
    Ok(out.map(|mut done| {
        done.events.insert(
            0,
            Event::new(
                "instantiate",
                &[
                    ("contract", contract.to_string()),
                    ("code_id", code_id.to_string()),
                ],
            ),
        );
        done.data = addr.to_vec();
        done
    }))
}

/// `Execute`: move funds, run `execute`.
pub fn execute(
    state: &mut (impl StateWrite + ?Sized),
    env: &Env<'_>,
    sender: Address,
    contract: Address,
    msg: &[u8],
    funds: u64,
    gas_left: u64,
) -> Result<Outcome, AppError> {
    let Some((_, code)) = contract_of(state, &contract)? else {
        return Ok(refuse(
            RejectCode::ContractNotFound,
            format!("no contract at {contract}"),
            0,
        ));
    };
    if let Some(r) = move_funds(state, &sender, &contract, funds)? {
        return Ok(Err((r, 0)));
    }
    call(
        state,
        env,
        contract,
        code.checksum,
        Entry::Execute,
        sender,
        funds,
        msg,
        gas_left,
    )
}

/// `Migrate`: admin only; point the contract at new code and run its `migrate`.
pub fn migrate(
    state: &mut (impl StateWrite + ?Sized),
    env: &Env<'_>,
    sender: Address,
    contract: Address,
    new_code_id: u64,
    msg: &[u8],
    gas_left: u64,
) -> Result<Outcome, AppError> {
    let Some((mut record, _)) = contract_of(state, &contract)? else {
        return Ok(refuse(
            RejectCode::ContractNotFound,
            format!("no contract at {contract}"),
            0,
        ));
    };
    if record.admin != Some(sender) {
        return Ok(refuse(
            RejectCode::Unauthorized,
            format!("only the admin may migrate {contract}"),
            0,
        ));
    }
    let Some(code) = get(state, &code_key(new_code_id))? else {
        return Ok(refuse(
            RejectCode::ContractNotFound,
            format!("no code with id {new_code_id}"),
            0,
        ));
    };
    record.code_id = new_code_id;
    put(state, &contract_key(contract.as_bytes()), &record);
    call(
        state,
        env,
        contract,
        code.checksum,
        Entry::Migrate,
        sender,
        0,
        msg,
        gas_left,
    )
}

/// Runs a subnet contract's `epoch` entry point with `msg` (the block hook; the sender is
/// the contract itself, no funds). Its writes are kept only when it succeeds; a failure
/// (no `epoch` export, trap, out of gas) is returned as a message and changes nothing.
pub fn epoch_hook(
    state: &mut (impl StateWrite + ?Sized),
    env: &Env<'_>,
    contract: Address,
    msg: &[u8],
    gas: u64,
) -> Result<Result<Done, String>, AppError> {
    let Some((_, code)) = contract_of(state, &contract)? else {
        return Ok(Err(format!("no contract at {contract}")));
    };
    let mut child = taochain_storage::StateDelta::new(&*state);
    let outcome = call(
        &mut child,
        env,
        contract,
        code.checksum,
        Entry::Epoch,
        contract,
        0,
        msg,
        gas,
    )?;
    match outcome {
        Ok(done) => {
            crate::typed::apply(state, child.into_changes());
            Ok(Ok(done))
        }
        Err((r, _)) => Ok(Err(r.log)),
    }
}

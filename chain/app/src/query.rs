//! Read queries: `/account/{addr}`, `/supply`, `/params`, `/emission` (the emission pool
//! account), `/chain_id`, `/code/{id}`, `/contract/{addr}`, `/contract/{addr}/state/{hex
//! key}`: the raw borsh state bytes, so a client can check an ICS23 proof of them against
//! the app hash. `/contract/{addr}/smart` runs the contract's `query` with the request data
//! at the latest height (no proof). `/simulate` runs a transaction (the request data)
//! through the deliver path without committing ([`crate::simulate`]). Height 0 means the
//! latest committed height. The
//! economy's paths are listed in [`crate::economy::query`]. `/blob/{hash}` is a blob's record
//! (provable), `/blob/{hash}/bytes` its bytes (the hash proves them).

use taochain_primitives::Address;
use taochain_storage::schema::{
    CHAIN_ID_KEY, PARAMS_KEY, SUPPLY_KEY, account_key, code_key, contract_key, contract_store_key,
};
use taochain_storage::{Storage, StorageError};
use taochain_vm::Vm;

use crate::emission::emission_pool;

/// Query error codes (distinct from transaction codes).
pub mod codes {
    /// The path is not one this chain serves.
    pub const UNKNOWN_PATH: u32 = 101;
    /// A path argument (e.g. an address) does not parse.
    pub const BAD_ARGUMENT: u32 = 102;
    /// The height is in the future or pruned.
    pub const HEIGHT_UNAVAILABLE: u32 = 103;
    /// Storage failed while serving the query.
    pub const INTERNAL: u32 = 104;
    /// The contract's query failed (error, trap, out of gas, no such contract).
    pub const CONTRACT_FAILED: u32 = 105;
}

/// The answer to a query.
#[derive(Debug, Clone, Default)]
pub struct QueryOutcome {
    /// 0 on success.
    pub code: u32,
    /// What was wrong, when `code != 0`.
    pub log: String,
    /// The state key read.
    pub key: Vec<u8>,
    /// The borsh value (empty when the key is absent).
    pub value: Vec<u8>,
    /// The height the value is from.
    pub height: u64,
    /// An ICS23 proof against the app hash of `height` (in the header of `height + 1`).
    pub proof: Option<ics23::CommitmentProof>,
}

fn error(code: u32, log: impl Into<String>) -> QueryOutcome {
    QueryOutcome {
        code,
        log: log.into(),
        ..QueryOutcome::default()
    }
}

/// Maps a query path to the state key it reads.
pub fn key_for_path(path: &str) -> Result<Vec<u8>, (u32, String)> {
    let path = path.trim_end_matches('/');
    if let Some(rest) = path.strip_prefix("/contract/") {
        let (addr, sub) = rest.split_once('/').unwrap_or((rest, ""));
        let addr: Address = addr
            .parse()
            .map_err(|e| (codes::BAD_ARGUMENT, format!("bad address `{addr}`: {e}")))?;
        return match sub.split_once('/') {
            None if sub.is_empty() => Ok(contract_key(addr.as_bytes())),
            Some(("state", hex_key)) => {
                let key = hex::decode(hex_key).map_err(|_| {
                    (
                        codes::BAD_ARGUMENT,
                        format!("state key `{hex_key}` is not hex"),
                    )
                })?;
                Ok(contract_store_key(addr.as_bytes(), &key))
            }
            _ => Err((
                codes::UNKNOWN_PATH,
                format!("unknown contract path `{path}`"),
            )),
        };
    }
    if let Some(id) = path.strip_prefix("/code/") {
        let id: u64 = id.parse().map_err(|_| {
            (
                codes::BAD_ARGUMENT,
                format!("code id `{id}` is not a number"),
            )
        })?;
        return Ok(code_key(id));
    }
    if let Some(key) = crate::economy::query::key_for_path(path) {
        return key;
    }
    if let Some(hash) = path.strip_prefix("/blob/") {
        return Ok(taochain_storage::schema::blob_key(&parse_hash(hash)?));
    }
    if let Some(addr) = path.strip_prefix("/account/") {
        let addr: Address = addr
            .parse()
            .map_err(|e| (codes::BAD_ARGUMENT, format!("bad address `{addr}`: {e}")))?;
        return Ok(account_key(addr.as_bytes()));
    }
    match path {
        "/supply" => Ok(SUPPLY_KEY.to_vec()),
        "/params" => Ok(PARAMS_KEY.to_vec()),
        "/chain_id" => Ok(CHAIN_ID_KEY.to_vec()),
        "/emission" => Ok(account_key(emission_pool().as_bytes())),
        _ => Err((
            codes::UNKNOWN_PATH,
            format!(
                "unknown query path `{path}`; known: /account/{{addr}}, /supply, /params, /emission, /chain_id, /code/{{id}}, /contract/{{addr}}, /subnets, /subnet/{{netuid}}, /metagraph/{{netuid}}, /neuron/{{netuid}}/{{uid}}, /hotkey/{{addr}}, /stake/{{hotkey}}/{{coldkey}}, /nominators/{{hotkey}}, /rewards/{{hotkey}}/{{coldkey}}, /pool/{{hotkey}}, /lock_cost, /proposals, /proposal/{{id}}, /economy"
            ),
        )),
    }
}

/// Gas a smart query may use (~0.1 s on the slowest path: queries are free, so they are
/// bounded well below a transaction's gas).
pub const SMART_QUERY_GAS: u64 = 100_000_000;

/// Runs a contract's `query` over the latest committed state.
fn smart(storage: &Storage, vm: &Vm, addr: &str, data: &[u8], height: u64) -> QueryOutcome {
    let Ok(contract) = addr.parse::<Address>() else {
        return error(codes::BAD_ARGUMENT, format!("bad address `{addr}`"));
    };
    let Some(latest) = storage.latest_version() else {
        return error(codes::HEIGHT_UNAVAILABLE, "no block committed yet");
    };
    if height != 0 && height != latest {
        return error(
            codes::HEIGHT_UNAVAILABLE,
            "smart queries run at the latest height only",
        );
    }
    let chain_id = storage
        .get_latest(CHAIN_ID_KEY)
        .ok()
        .flatten()
        .unwrap_or_default();
    let chain_id = String::from_utf8_lossy(&chain_id).into_owned();
    let env = crate::contracts::Env {
        vm,
        storage,
        height: latest,
        time_ms: 0,
        chain_id: &chain_id,
        block_hash: [0; 32],
        verifier: &taochain_work::CpuVerifier::default(),
    };
    match crate::contracts::run_query(
        &storage.latest(),
        &env,
        Address::default(),
        contract,
        data,
        0,
        SMART_QUERY_GAS,
    ) {
        Ok((_, Ok(value))) => QueryOutcome {
            value,
            height: latest,
            ..Default::default()
        },
        Ok((gas, Err(e))) => error(codes::CONTRACT_FAILED, format!("{e} (gas used {gas})")),
        Err(e) => error(codes::INTERNAL, e.to_string()),
    }
}

/// Serves a query from committed storage.
pub fn query(
    storage: &Storage,
    vm: &Vm,
    path: &str,
    data: &[u8],
    height: u64,
    prove: bool,
) -> QueryOutcome {
    if let Some(addr) = path
        .strip_prefix("/contract/")
        .and_then(|r| r.strip_suffix("/smart"))
    {
        return smart(storage, vm, addr, data, height);
    }
    if path == "/simulate" {
        return crate::simulate::simulate(storage, vm, data);
    }
    if let Some(out) = economy_view(storage, path, height) {
        return out;
    }
    if let Some(hash) = path
        .strip_prefix("/blob/")
        .and_then(|r| r.strip_suffix("/bytes"))
    {
        return blob_bytes(storage, hash);
    }
    let key = match key_for_path(path) {
        Ok(key) => key,
        Err((code, log)) => return error(code, log),
    };
    let Some(latest) = storage.latest_version() else {
        return error(codes::HEIGHT_UNAVAILABLE, "no block committed yet");
    };
    let height = if height == 0 { latest } else { height };
    let read = if prove {
        storage
            .get_with_proof(&key, height)
            .map(|(v, p)| (v, Some(p)))
    } else if height == latest {
        storage.get_latest(&key).map(|v| (v, None))
    } else {
        storage.get_at(&key, height).map(|v| (v, None))
    };
    match read {
        Ok((value, proof)) => QueryOutcome {
            key,
            value: value.unwrap_or_default(),
            height,
            proof,
            ..Default::default()
        },
        Err(StorageError::VersionUnavailable(h)) => error(
            codes::HEIGHT_UNAVAILABLE,
            format!("height {h} is not available (latest {latest}; older heights are pruned)"),
        ),
        Err(e) => error(codes::INTERNAL, e.to_string()),
    }
}

/// Serves the economy's computed views (latest height only).
fn economy_view(storage: &Storage, path: &str, height: u64) -> Option<QueryOutcome> {
    let latest = storage.latest_version();
    let state = storage.latest();
    let at = latest.unwrap_or(0);
    let result = crate::economy::query::view(&state, path.trim_end_matches('/'), at)?;
    let Some(latest) = latest else {
        return Some(error(codes::HEIGHT_UNAVAILABLE, "no block committed yet"));
    };
    if height != 0 && height != latest {
        return Some(error(
            codes::HEIGHT_UNAVAILABLE,
            "computed views are served at the latest height only",
        ));
    }
    Some(match result {
        Ok(Ok(value)) => QueryOutcome {
            value,
            height: latest,
            ..Default::default()
        },
        Ok(Err((code, log))) => error(code, log),
        Err(e) => error(codes::INTERNAL, e.to_string()),
    })
}

fn parse_hash(hex_hash: &str) -> Result<[u8; 32], (u32, String)> {
    hex::decode(hex_hash)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| {
            (
                codes::BAD_ARGUMENT,
                format!("`{hex_hash}` is not a 32-byte hex hash"),
            )
        })
}

/// `/blob/{hash}/bytes`: a blob's bytes (no proof: the hash is the proof).
fn blob_bytes(storage: &Storage, hex_hash: &str) -> QueryOutcome {
    let hash = match parse_hash(hex_hash) {
        Ok(h) => h,
        Err((code, log)) => return error(code, log),
    };
    match storage.get_blob(&hash) {
        Ok(Some(value)) => QueryOutcome {
            value,
            height: storage.latest_version().unwrap_or(0),
            ..Default::default()
        },
        Ok(None) => error(codes::BAD_ARGUMENT, format!("no blob {hex_hash}")),
        Err(e) => error(codes::INTERNAL, e.to_string()),
    }
}

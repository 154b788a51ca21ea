//! Read queries: `/account/{addr}`, `/supply`, `/params`, `/emission` (the emission pool
//! account), `/chain_id`, `/code/{id}`, `/contract/{addr}`, `/contract/{addr}/state/{hex
//! key}`: the raw borsh state bytes, so a client can check an ICS23 proof of them against
//! the app hash. `/contract/{addr}/smart` runs the contract's `query` with the request data
//! at the latest height (no proof). `/simulate` runs a transaction (the request data)
//! through the deliver path without committing ([`crate::simulate`]). Height 0 means the
//! latest committed height. The economy's computed views are in [`crate::economy::query`].
//! `/blob/{hash}` is a blob's record (provable), `/blob/{hash}/bytes` its bytes (the hash
//! proves them). Which state key a provable path reads is defined once, in
//! [`taochain_primitives::query::state_key_for_path`], so a light client recomputes it.

use taochain_primitives::Address;
use taochain_primitives::query::parse_hash;
use taochain_storage::schema::CHAIN_ID_KEY;
use taochain_storage::{Storage, StorageError};
use taochain_vm::Vm;

/// Query error codes (distinct from transaction codes), defined with the paths in
/// [`taochain_primitives::query`].
pub use taochain_primitives::query::codes;
/// Maps a query path to the state key it reads: the one mapping, shared with light clients.
pub use taochain_primitives::query::state_key_for_path as key_for_path;

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
        .get_latest(CHAIN_ID_KEY.as_bytes())
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
        observer: &crate::observe::Unobserved,
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
        if prove {
            return not_provable("a smart query's answer is computed by the contract");
        }
        return smart(storage, vm, addr, data, height);
    }
    if path == "/simulate" {
        if prove {
            return not_provable("a simulation is computed, not stored");
        }
        return crate::simulate::simulate(storage, vm, data);
    }
    if let Some(out) = economy_view(storage, path, height) {
        if prove && out.code == 0 {
            return not_provable("a computed view is assembled from many state entries");
        }
        return out;
    }
    if let Some(hash) = path
        .strip_prefix("/blob/")
        .and_then(|r| r.strip_suffix("/bytes"))
    {
        if prove {
            return not_provable(
                "a blob's bytes are proved by their hash: prove `/blob/{hash}` and hash the bytes",
            );
        }
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

/// The answer to `prove` on a path with no proof: a light client asking for one must not
/// get a bare value that looks verified.
fn not_provable(why: &str) -> QueryOutcome {
    error(
        codes::BAD_ARGUMENT,
        format!("{why}: it has no proof (query without --prove)"),
    )
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

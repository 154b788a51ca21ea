//! Read queries: `/account/{addr}`, `/supply`, `/params`, `/emission` (the emission pool
//! account) and `/chain_id`. Values are the raw borsh state bytes, so a client can check an
//! ICS23 proof of them against the app hash. Height 0 means the latest committed height.

use taochain_primitives::Address;
use taochain_storage::schema::{CHAIN_ID_KEY, PARAMS_KEY, SUPPLY_KEY, account_key};
use taochain_storage::{Storage, StorageError};

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
                "unknown query path `{path}`; known: /account/{{addr}}, /supply, /params, /emission, /chain_id"
            ),
        )),
    }
}

/// Serves a query from committed storage.
pub fn query(storage: &Storage, path: &str, height: u64, prove: bool) -> QueryOutcome {
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

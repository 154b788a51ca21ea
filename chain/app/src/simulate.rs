//! `/simulate`: a transaction run through the exact deliver path ([`crate::deliver`]) over
//! the latest committed state, as if it were the next block's only transaction, and then
//! thrown away. No signature check, no fee floor (the fee is whatever the body says,
//! normally 0), nothing written. Clients sign for the gas it reports plus a margin
//! (`tao --gas auto`). Its gas is capped by `max_tx_gas` like a real transaction's.

use taochain_primitives::state::Simulation;
use taochain_primitives::{Params, RejectCode};
use taochain_storage::schema::{CHAIN_ID_KEY, PARAMS_KEY};
use taochain_storage::{Blobs, StateDelta, Storage};
use taochain_vm::Vm;

use crate::checks::decode;
use crate::deliver::{Context, deliver};
use crate::query::{QueryOutcome, codes};
use crate::typed::{get, get_or_default};

fn answer(code: u32, log: String, gas_used: u64, height: u64) -> QueryOutcome {
    let value = borsh::to_vec(&Simulation {
        code,
        log,
        gas_used,
    })
    .unwrap_or_default();
    QueryOutcome {
        value,
        height,
        ..QueryOutcome::default()
    }
}

/// Simulates the encoded `SignedTx` in `bytes`.
pub fn simulate(storage: &Storage, vm: &Vm, bytes: &[u8]) -> QueryOutcome {
    let fail = |code: u32, log: String| QueryOutcome {
        code,
        log,
        ..QueryOutcome::default()
    };
    let Some(latest) = storage.latest_version() else {
        return fail(codes::HEIGHT_UNAVAILABLE, "no block committed yet".into());
    };
    let committed = storage.latest();
    let params: Params = match get_or_default(&committed, &PARAMS_KEY) {
        Ok(p) => p,
        Err(e) => return fail(codes::INTERNAL, e.to_string()),
    };
    let chain_id = match get(&committed, &CHAIN_ID_KEY) {
        Ok(id) => String::from_utf8_lossy(&id.unwrap_or_default().0).into_owned(),
        Err(e) => return fail(codes::INTERNAL, e.to_string()),
    };
    let tx = match decode(bytes, &params) {
        Ok(tx) => tx,
        Err(r) => return answer(r.code.code(), r.log, 0, latest),
    };
    // Fees are not the question here; every other check and limit applies.
    let free = Params {
        min_fee: 0,
        min_gas_price: 0,
        ..params
    };
    // A simulated upload compiles in a throwaway VM: nothing a free query does may grow
    // the node's module cache (memory and disk).
    let scratch;
    let vm = if tx
        .body
        .msgs
        .iter()
        .any(|m| matches!(m, taochain_primitives::Msg::StoreCode { .. }))
    {
        scratch = match Vm::new(None) {
            Ok(v) => v,
            Err(e) => return fail(codes::INTERNAL, e.to_string()),
        };
        &scratch
    } else {
        vm
    };
    let verifier = taochain_work::CpuVerifier::default();
    let env = crate::contracts::Env {
        vm,
        storage,
        height: latest.saturating_add(1),
        time_ms: 0,
        chain_id: &chain_id,
        block_hash: [0; 32],
        verifier: &verifier,
        observer: &crate::observe::Unobserved,
    };
    let ctx = Context {
        chain_id: &chain_id,
        params: &free,
        contracts: &env,
    };
    let mut delta = StateDelta::new(&committed);
    let mut blobs = Blobs::new();
    match deliver(&mut delta, &tx, bytes.len(), &ctx, &mut blobs) {
        Ok(d) => match d.result {
            Ok(()) => answer(0, String::new(), d.gas_used, latest),
            Err(r) => answer(r.code.code(), r.log, d.gas_used, latest),
        },
        Err(e) => answer(
            RejectCode::Malformed.code(),
            format!("simulation failed: {e}"),
            0,
            latest,
        ),
    }
}

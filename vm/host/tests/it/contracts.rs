//! The example contracts in the real VM with the mock chain.

use borsh::BorshDeserialize;
use taochain_vm::VmError;
use taochain_vm_sandbox::Sandbox;

use crate::contract_wasm;

const OWNER: [u8; 20] = [1; 20];
const OTHER: [u8; 20] = [2; 20];

fn u64_of(out: &[u8]) -> u64 {
    u64::try_from_slice(out).expect("u64")
}

// Messages by hand (borsh): counter's InstantiateMsg { start }, ExecuteMsg::Increment { by }
// (tag 0), ExecuteMsg::Reset { to } (tag 1), QueryMsg::Count (tag 0), MigrateMsg { bump }.
fn tagged(tag: u8, v: u64) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&v.to_le_bytes());
    m
}

#[test]
fn counter_lifecycle_in_the_real_vm() {
    let mut chain = Sandbox::new();
    let code = chain
        .store_code(&contract_wasm("counter"))
        .expect("counter validates");
    let (addr, out) = chain.instantiate(code, OWNER, &5u64.to_le_bytes(), 0);
    out.result.expect("instantiates");
    let out = chain.execute(addr, OTHER, &tagged(0, 3), 0);
    assert_eq!(u64_of(&out.result.expect("increments")), 8);
    assert_eq!(out.events.len(), 1);
    assert_eq!(
        out.events[0].attributes[0],
        ("count".to_string(), "8".to_string())
    );
    let out = chain.execute(addr, OTHER, &tagged(1, 0), 0);
    assert!(
        matches!(out.result, Err(VmError::Contract(ref m)) if m.contains("unauthorized")),
        "{:?}",
        out.result
    );
    assert!(out.gas_used > 0, "a failed call still reports gas");
    let out = chain.query(addr, &[0]);
    assert_eq!(u64_of(&out.result.expect("queries")), 8);
    let out = chain.migrate(addr, code, OWNER, &10u64.to_le_bytes());
    assert_eq!(u64_of(&out.result.expect("migrates")), 18);
}

#[test]
fn same_call_uses_the_same_gas_every_time() {
    let gas: Vec<u64> = (0..3)
        .map(|_| {
            let mut chain = Sandbox::new();
            let code = chain
                .store_code(&contract_wasm("counter"))
                .expect("validates");
            let (addr, _) = chain.instantiate(code, OWNER, &5u64.to_le_bytes(), 0);
            chain.execute(addr, OTHER, &tagged(0, 3), 0).gas_used
        })
        .collect();
    assert!(gas.iter().all(|g| *g == gas[0]), "{gas:?}");
}

#[test]
fn escrow_composes_with_counter_through_a_query() {
    let mut chain = Sandbox::new();
    let counter = chain
        .store_code(&contract_wasm("counter"))
        .expect("validates");
    let escrow = chain
        .store_code(&contract_wasm("escrow"))
        .expect("validates");
    let (c_addr, out) = chain.instantiate(counter, OWNER, &7u64.to_le_bytes(), 0);
    out.result.expect("counter");
    let beneficiary = [3u8; 20];
    let init = [OWNER, beneficiary].concat();
    let (e_addr, out) = chain.instantiate(escrow, OWNER, &init, 0);
    out.result.expect("escrow");
    chain.state.balances.insert(OTHER, 1_000);
    let out = chain.execute(e_addr, OTHER, &[0], 400); // Deposit
    assert_eq!(u64_of(&out.result.expect("deposits")), 400);
    let mut cond = vec![3u8];
    cond.extend_from_slice(&c_addr);
    cond.extend_from_slice(&8u64.to_le_bytes());
    let out = chain.execute(e_addr, OTHER, &cond, 0);
    assert!(
        matches!(out.result, Err(VmError::Contract(ref m)) if m.contains("below")),
        "{:?}",
        out.result
    );
    cond.truncate(21);
    cond.extend_from_slice(&7u64.to_le_bytes());
    chain
        .execute(e_addr, OTHER, &cond, 0)
        .result
        .expect("releases");
    assert_eq!(chain.state.balances[&beneficiary], 400);
    assert_eq!(chain.state.balances[&e_addr], 0);
}

#[test]
fn precompiled_artifacts_survive_a_restart_of_the_vm() {
    use taochain_vm::{Entry, Vm};
    use taochain_vm_abi::Call;
    let dir = tempfile::tempdir().expect("tempdir");
    let wasm = contract_wasm("counter");
    let checksum = Vm::new(Some(dir.path().to_path_buf()))
        .expect("vm")
        .store_code(&wasm)
        .expect("stores")
        .checksum;
    let artifacts = || std::fs::read_dir(dir.path()).expect("cache dir").count();
    // Storing writes nothing to disk (the storing transaction may still fail).
    assert_eq!(artifacts(), 0, "no artifact at store time");
    let call = Call {
        msg: vec![0],
        ..Call::default()
    };
    let mut host = taochain_vm_sandbox::MapHost::default();
    // A restarted node loads the stored bytes once and precompiles them to disk...
    let stored = wasm.clone();
    let out = Vm::new(Some(dir.path().to_path_buf())).expect("vm").call(
        &checksum,
        &|| Some(stored.clone()),
        Entry::Query,
        &call,
        &mut host,
        10_000_000,
        0,
    );
    assert!(
        matches!(out.result, Err(VmError::Contract(_))),
        "{:?}",
        out.result
    );
    assert_eq!(artifacts(), 1, "one precompiled artifact on disk");
    // ...and the next one runs the code without being given the wasm bytes.
    let vm = Vm::new(Some(dir.path().to_path_buf())).expect("vm");
    let out = vm.call(
        &checksum,
        &|| None,
        Entry::Query,
        &call,
        &mut host,
        10_000_000,
        0,
    );
    // `count` is unset in an empty store: the contract answers with its own error,
    // which proves the module loaded and ran.
    assert!(
        matches!(out.result, Err(VmError::Contract(ref m)) if m.contains("count is not set")),
        "{:?}",
        out.result
    );
}

//! Micro-benchmarks of the VM, printed by `tao bench vm` (never asserted in tests):
//! cached instantiate + trivial execute through the host layer, metering overhead (fuel on
//! vs off on the same engine settings), host-call costs, compilation speed, and the gas
//! schedule itself: ns per gas on every hot path (a tight loop, compute, bulk memory, each
//! host call), which must stay at or below ~1 ns (within 2x of it) for gas to bound time.

use std::time::Instant;

use taochain_vm_abi::Call;
use wasmtime::{Config, Engine, Instance, Module, Store};

use crate::MapHost;
use taochain_vm::{Entry, Vm, VmError};

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub name: &'static str,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
}

const TRIVIAL: &str = r#"(module (memory (export "memory") 1)
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "execute") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0))"#;

const LOOP: &str = r#"(module (memory (export "memory") 1)
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0)
  (func (export "execute") (result i32) (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 7))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 20000000))))
    (i32.and (local.get $acc) (i32.const 0))))"#;

fn host_loop(import: &str, call: &str) -> String {
    format!(
        r#"(module {import} (memory (export "memory") 1)
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "query") (result i32) i32.const 0)
          (func (export "execute") (result i32) (local $i i32)
            (loop $l {call}
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 10000))))
            i32.const 0))"#
    )
}

fn big_module(functions: usize) -> String {
    let mut s = String::from(
        r#"(module (memory (export "memory") 1)
      (func (export "instantiate") (result i32) i32.const 0)
      (func (export "execute") (result i32) i32.const 0)
      (func (export "query") (result i32) i32.const 0)"#,
    );
    for i in 0..functions {
        s.push_str(&format!(
            "(func (param i32 i32) (result i32) (i32.add (i32.mul (local.get 0) (i32.const {i})) (i32.xor (local.get 1) (i32.const {}))))",
            i * 31
        ));
    }
    s.push(')');
    s
}

fn wasm(text: &str) -> Result<Vec<u8>, VmError> {
    wat::parse_str(text).map_err(|e| VmError::Host(e.to_string()))
}

fn call(vm: &Vm, code: &[u8], host: &mut MapHost, gas: u64) -> Result<u64, VmError> {
    let info = vm.store_code(code)?;
    let out = vm.call(
        &info.checksum,
        &|| None,
        Entry::Execute,
        &Call::default(),
        host,
        gas,
        0,
    );
    out.result.map(|_| out.gas_used)
}

/// Runs `code` until it has used `gas` (it must loop forever); returns ns per gas.
fn ns_per_gas_until_out(vm: &Vm, code: &[u8], gas: u64) -> Result<f64, VmError> {
    let info = vm.store_code(code)?;
    let mut host = MapHost::default();
    let t = Instant::now();
    let out = vm.call(
        &info.checksum,
        &|| None,
        Entry::Execute,
        &Call::default(),
        &mut host,
        gas,
        0,
    );
    let secs = t.elapsed().as_secs_f64();
    match out.result {
        Err(VmError::OutOfGas { .. }) => Ok(secs * 1e9 / out.gas_used.max(1) as f64),
        other => Err(VmError::Host(format!("expected out of gas, got {other:?}"))),
    }
}

fn forever(import: &str, memory_pages: u32, body: &str) -> String {
    format!(
        r#"(module {import} (memory (export "memory") {memory_pages})
          (func (export "instantiate") (result i32) i32.const 0)
          (func (export "query") (result i32) i32.const 0)
          (func (export "execute") (result i32) (loop $l {body} (br $l)) i32.const 0))"#
    )
}

/// The gas-schedule hot paths: (row name, import, memory pages, loop body).
const GAS_SCHEDULE: [(&str, &str, u32, &str); 8] = [
    ("gas schedule: tight loop (br)", "", 1, ""),
    (
        "gas schedule: memory.fill of 4 MiB",
        "",
        64,
        "(memory.fill (i32.const 0) (i32.const 1) (i32.const 4194304))",
    ),
    (
        "gas schedule: memory.copy of 2 MiB",
        "",
        64,
        "(memory.copy (i32.const 0) (i32.const 2097152) (i32.const 2097152))",
    ),
    (
        "gas schedule: storage_set (8-byte key, 64 KiB value)",
        r#"(import "tao" "storage_set" (func $f (param i32 i32 i32 i32)))"#,
        2,
        "(call $f (i32.const 0) (i32.const 8) (i32.const 0) (i32.const 65536))",
    ),
    (
        "gas schedule: storage_get (miss)",
        r#"(import "tao" "storage_get" (func $f (param i32 i32 i32 i32) (result i64)))"#,
        1,
        "(drop (call $f (i32.const 0) (i32.const 32) (i32.const 64) (i32.const 32)))",
    ),
    (
        "gas schedule: sha256 of 64 KiB",
        r#"(import "tao" "sha256" (func $f (param i32 i32 i32)))"#,
        2,
        "(call $f (i32.const 0) (i32.const 65536) (i32.const 0))",
    ),
    (
        "gas schedule: ed25519_verify (a full check)",
        concat!(
            r#"(import "tao" "ed25519_verify" (func $f (param i32 i32 i32 i32) (result i32)))"#,
            // A real verification: R = B, s = 1 under the key B (valid points, wrong sum).
            r#"(data (i32.const 64) "\58\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\01\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00") (data (i32.const 128) "\58\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66\66")"#
        ),
        1,
        "(drop (call $f (i32.const 0) (i32.const 32) (i32.const 64) (i32.const 128)))",
    ),
    (
        "gas schedule: input_len",
        r#"(import "tao" "input_len" (func $f (result i32)))"#,
        1,
        "(drop (call $f))",
    ),
];

/// The timed host calls: (row name, import, call in the loop body).
const HOST_CALLS: [(&str, &str, &str); 3] = [
    (
        "host call: storage_get (hit, 8-byte key)",
        r#"(import "tao" "storage_get" (func $f (param i32 i32 i32 i32) (result i64)))"#,
        "(drop (call $f (i32.const 0) (i32.const 8) (i32.const 64) (i32.const 32)))",
    ),
    (
        "host call: storage_set (8-byte key, 8-byte value)",
        r#"(import "tao" "storage_set" (func $f (param i32 i32 i32 i32)))"#,
        "(call $f (i32.const 0) (i32.const 8) (i32.const 16) (i32.const 8))",
    ),
    (
        "host call: sha256 (32 bytes)",
        r#"(import "tao" "sha256" (func $f (param i32 i32 i32)))"#,
        "(call $f (i32.const 0) (i32.const 32) (i32.const 64))",
    ),
];

/// Runs every benchmark; `iterations` scales the repeated ones.
pub fn run(iterations: u32) -> Result<Vec<Row>, VmError> {
    let vm = Vm::new(None)?;
    let mut host = MapHost::default();
    let mut rows = vec![cached_call(&vm, &mut host, iterations)?];
    rows.extend(metering(&vm, &mut host)?);
    rows.extend(gas_schedule(&vm)?);
    rows.extend(host_calls(&vm, &mut host)?);
    rows.push(compile_speed()?);
    Ok(rows)
}

/// Mean time of a cached instantiate + trivial execute over `iterations` calls.
fn cached_call(vm: &Vm, host: &mut MapHost, iterations: u32) -> Result<Row, VmError> {
    let trivial = wasm(TRIVIAL)?;
    call(vm, &trivial, host, 1_000_000)?;
    let checksum = vm.store_code(&trivial)?.checksum;
    let t = Instant::now();
    for _ in 0..iterations {
        vm.call(
            &checksum,
            &|| None,
            Entry::Execute,
            &Call::default(),
            host,
            1_000_000,
            0,
        )
        .result?;
    }
    Ok(Row {
        name: "cached instantiate + trivial execute (Vm::call)",
        value: t.elapsed().as_secs_f64() * 1e6 / f64::from(iterations),
        unit: "us",
    })
}

/// The compute loop with fuel on and off: times, overhead, and its gas rate.
fn metering(vm: &Vm, host: &mut MapHost) -> Result<Vec<Row>, VmError> {
    let looping = wasm(LOOP)?;
    let t = Instant::now();
    let gas = call(vm, &looping, host, u64::MAX / 2)?;
    let metered = t.elapsed().as_secs_f64();
    let unmetered = unmetered_loop(&looping)?;
    Ok(vec![
        Row {
            name: "compute loop, fuel on",
            value: metered * 1e3,
            unit: "ms",
        },
        Row {
            name: "compute loop, fuel off (same engine settings)",
            value: unmetered * 1e3,
            unit: "ms",
        },
        Row {
            name: "metering overhead (on / off)",
            value: metered / unmetered,
            unit: "x",
        },
        Row {
            name: "gas per ns of the metered loop",
            value: gas as f64 / (metered * 1e9),
            unit: "gas/ns",
        },
        Row {
            name: "gas schedule: compute loop",
            value: metered * 1e9 / gas.max(1) as f64,
            unit: "ns/gas",
        },
    ])
}

/// ns per gas on each hot path of [`GAS_SCHEDULE`], run until out of gas.
fn gas_schedule(vm: &Vm) -> Result<Vec<Row>, VmError> {
    let mut rows = vec![];
    for (name, import, pages, body) in GAS_SCHEDULE {
        let code = wasm(&forever(import, pages, body))?;
        rows.push(Row {
            name,
            value: ns_per_gas_until_out(vm, &code, 200_000_000)?,
            unit: "ns/gas",
        });
    }
    Ok(rows)
}

/// ns per call of each [`HOST_CALLS`] entry, timed on a warm second run.
fn host_calls(vm: &Vm, host: &mut MapHost) -> Result<Vec<Row>, VmError> {
    let mut rows = vec![];
    for (name, import, body) in HOST_CALLS {
        host.storage.insert(vec![0u8; 8], vec![1u8; 8]);
        let code = wasm(&host_loop(import, body))?;
        call(vm, &code, host, u64::MAX / 2)?;
        let t = Instant::now();
        call(vm, &code, host, u64::MAX / 2)?;
        rows.push(Row {
            name,
            value: t.elapsed().as_secs_f64() * 1e9 / 10_000.0,
            unit: "ns/call",
        });
    }
    Ok(rows)
}

/// Validate + compile time of a large module on a fresh VM, per 100 KB of wasm.
fn compile_speed() -> Result<Row, VmError> {
    let big = wasm(&big_module(4_000))?;
    let t = Instant::now();
    let fresh = Vm::new(None)?;
    fresh.store_code(&big)?;
    let secs = t.elapsed().as_secs_f64();
    Ok(Row {
        name: "validate + compile, per 100 KB of wasm",
        value: secs * 1e3 * 100_000.0 / big.len() as f64,
        unit: "ms",
    })
}

/// The loop on an engine identical but for fuel: the metering baseline.
fn unmetered_loop(code: &[u8]) -> Result<f64, VmError> {
    let err = |e: wasmtime::Error| VmError::Host(e.to_string());
    let mut c = Config::new();
    c.consume_fuel(false).cranelift_nan_canonicalization(true);
    let engine = Engine::new(&c).map_err(err)?;
    let module = Module::new(&engine, code).map_err(err)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).map_err(err)?;
    let f = instance
        .get_typed_func::<(), i32>(&mut store, "execute")
        .map_err(err)?;
    let t = Instant::now();
    f.call(&mut store, ()).map_err(err)?;
    Ok(t.elapsed().as_secs_f64())
}

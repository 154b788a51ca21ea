//! Micro-benchmarks of the VM, printed by `tao bench vm` (never asserted in tests):
//! cached instantiate + trivial execute through the host layer, what metering costs (the
//! same code through the same host on a metered and an unmetered VM: a tight loop, and the
//! example contracts' hot entries, whose work is the SDK's borsh and storage), host-call
//! costs, compilation speed, and the gas schedule itself: ns per gas on every hot path (a
//! tight loop, compute, bulk memory, each host call), which must stay at or below ~1 ns
//! (within 2x of it) for gas to bound time.

use std::path::Path;
use std::time::Instant;

use borsh::BorshSerialize;
use taochain_vm_abi::{Call, EpochCall, MessageInfo};

use crate::MapHost;
use taochain_vm::{Entry, Host, HostError, Metering, Next, Vm, VmError};

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
const GAS_SCHEDULE: [(&str, &str, u32, &str); 9] = [
    ("gas schedule: tight loop (br)", "", 1, ""),
    (
        "gas schedule: memory.copy of 64 bytes",
        "",
        1,
        "(memory.copy (i32.const 0) (i32.const 128) (i32.const 64))",
    ),
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

/// Runs every benchmark; `iterations` scales the repeated ones. The contract rows need the
/// example contracts' `.wasm` files in `contracts` (skipped when it is `None`).
pub fn run(iterations: u32, contracts: Option<&Path>) -> Result<Vec<Row>, VmError> {
    let vm = Vm::new(None)?;
    let mut host = MapHost::default();
    let mut rows = vec![cached_call(&vm, &mut host, iterations)?];
    rows.extend(metering()?);
    if let Some(dir) = contracts {
        rows.extend(contract_metering(dir, (iterations / 10).max(1))?);
    }
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

/// Best of `runs` timings of `f`, seconds.
fn best_of(runs: u32, mut f: impl FnMut() -> Result<(), VmError>) -> Result<f64, VmError> {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Times `entry` of `code` on `vm` (compiled before the clock starts): best of 5 runs.
fn timed_call(vm: &Vm, code: &[u8], entry: Entry, call: &Call) -> Result<(f64, u64), VmError> {
    let checksum = vm.store_code(code)?.checksum;
    let mut host = MapHost::default();
    let mut gas = 0;
    let secs = best_of(5, || {
        let out = vm.call(&checksum, &|| None, entry, call, &mut host, u64::MAX / 2, 0);
        gas = out.gas_used;
        out.result.map(drop)
    })?;
    Ok((secs, gas))
}

/// The compute loop on a metered and an unmetered VM (same engine settings but fuel):
/// times, overhead, and its gas rate.
fn metering() -> Result<Vec<Row>, VmError> {
    let looping = wasm(LOOP)?;
    let call = Call::default();
    let (metered, gas) = timed_call(&Vm::new(None)?, &looping, Entry::Execute, &call)?;
    let unmetered_vm = Vm::with_metering(None, Metering::Off)?;
    let (unmetered, _) = timed_call(&unmetered_vm, &looping, Entry::Execute, &call)?;
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

/// A [`MapHost`] whose blob pins always succeed, so the market's `PostJob` runs.
#[derive(Default)]
struct PinHost(MapHost);

impl Host for PinHost {
    fn storage_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        self.0.storage_get(key)
    }
    fn storage_set(&mut self, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        self.0.storage_set(key, value)
    }
    fn storage_remove(&mut self, key: &[u8]) -> Result<(), HostError> {
        self.0.storage_remove(key)
    }
    fn storage_next(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        max_skips: u64,
    ) -> Result<Next, HostError> {
        self.0.storage_next(start, end, max_skips)
    }
    fn bank_send(&mut self, to: [u8; 20], amount: u64) -> Result<Result<(), i32>, HostError> {
        self.0.bank_send(to, amount)
    }
    fn query_contract(
        &self,
        to: [u8; 20],
        msg: &[u8],
        depth: u32,
        gas: u64,
    ) -> Result<(u64, Result<Vec<u8>, String>), HostError> {
        self.0.query_contract(to, msg, depth, gas)
    }
    fn blob_pin(&mut self, _: &[u8; 32], _: bool) -> Result<Result<u32, i32>, HostError> {
        Ok(Ok(1))
    }
}

/// One realistic call: the contract, the entry, its message and funds, and the calls that
/// prepare the state it runs on.
struct ContractCase {
    name: &'static str,
    contract: &'static str,
    entry: Entry,
    msg: Vec<u8>,
    funds: u64,
    setup: Vec<(Entry, Vec<u8>, u64)>,
}

fn borsh_of<T: BorshSerialize>(value: &T) -> Result<Vec<u8>, VmError> {
    borsh::to_vec(value).map_err(|e| VmError::Host(e.to_string()))
}

/// The example contracts' hot entries: decode, validate, storage, encode.
fn contract_cases() -> Result<Vec<ContractCase>, VmError> {
    use taochain_arena_msg as arena;
    use taochain_matmul_market_msg as market;
    let counter_init = (Entry::Instantiate, 0u64.to_le_bytes().to_vec(), 0);
    let spec = arena::TaskSpec::new(arena::TaskKind::SpeechToText, 10_000, 200_000);
    let market_init = (Entry::Instantiate, borsh_of(&market::InstantiateMsg {})?, 0);
    let post = borsh_of(&market::ExecuteMsg::PostJob {
        a: [1; 32],
        b: [2; 32],
        deadline: 1_000,
    })?;
    let mut hundred_jobs = vec![market_init.clone()];
    hundred_jobs.extend((0..100).map(|_| (Entry::Execute, post.clone(), 1_000)));
    Ok(vec![
        ContractCase {
            name: "counter: execute Increment (borsh, a read and a write)",
            contract: "counter",
            entry: Entry::Execute,
            // borsh of `ExecuteMsg::Increment { by: 1 }`: variant 0, then the u64.
            msg: [&[0u8][..], &1u64.to_le_bytes()].concat(),
            funds: 0,
            setup: vec![counter_init.clone()],
        },
        ContractCase {
            name: "counter: epoch over 256 UIDs (decode 5 KiB, weights)",
            contract: "counter",
            entry: Entry::Epoch,
            msg: borsh_of(&EpochCall {
                netuid: 1,
                height: 5,
                hotkeys: (0..=255u8).map(|i| [i; 20]).collect(),
            })?,
            funds: 0,
            setup: vec![counter_init],
        },
        ContractCase {
            name: "arena: instantiate (TaskSpec decode, validate, save)",
            contract: "arena",
            entry: Entry::Instantiate,
            msg: borsh_of(&spec)?,
            funds: 0,
            setup: vec![],
        },
        ContractCase {
            name: "arena: query Task",
            contract: "arena",
            entry: Entry::Query,
            msg: borsh_of(&arena::QueryMsg::Task)?,
            funds: 0,
            setup: vec![(Entry::Instantiate, borsh_of(&spec)?, 0)],
        },
        ContractCase {
            name: "matmul-market: execute PostJob (pins, a job record)",
            contract: "matmul_market",
            entry: Entry::Execute,
            msg: post,
            funds: 1_000,
            setup: vec![market_init],
        },
        ContractCase {
            name: "matmul-market: query Jobs (100 records)",
            contract: "matmul_market",
            entry: Entry::Query,
            msg: borsh_of(&market::QueryMsg::Jobs { start: 1 })?,
            funds: 0,
            setup: hundred_jobs,
        },
    ])
}

/// Mean seconds per call of `case` on `vm` over `iterations` calls (best of 3 batches),
/// each call a fresh instance as on chain.
fn time_case(vm: &Vm, code: &[u8], case: &ContractCase, iterations: u32) -> Result<f64, VmError> {
    let checksum = vm.store_code(code)?.checksum;
    let mut host = PinHost::default();
    let call_with = |msg: &[u8], funds: u64| Call {
        info: MessageInfo {
            sender: [7; 20],
            funds,
        },
        msg: msg.to_vec(),
        ..Call::default()
    };
    let mut run = |entry: Entry, call: &Call| -> Result<(), VmError> {
        let out = vm.call(&checksum, &|| None, entry, call, &mut host, 1 << 40, 0);
        out.result.map(drop)
    };
    for (entry, msg, funds) in &case.setup {
        run(*entry, &call_with(msg, *funds))
            .map_err(|e| VmError::Host(format!("{}: setup: {e}", case.name)))?;
    }
    let call = call_with(&case.msg, case.funds);
    let secs = best_of(3, || {
        for _ in 0..iterations {
            run(case.entry, &call).map_err(|e| VmError::Host(format!("{}: {e}", case.name)))?;
        }
        Ok(())
    })?;
    Ok(secs / f64::from(iterations))
}

/// Each of [`contract_cases`] on a metered and an unmetered VM: us per call and the ratio,
/// then the geometric mean of the ratios.
fn contract_metering(dir: &Path, iterations: u32) -> Result<Vec<Row>, VmError> {
    let metered_vm = Vm::new(None)?;
    let unmetered_vm = Vm::with_metering(None, Metering::Off)?;
    let mut rows = vec![];
    let mut log_sum = 0.0;
    let cases = contract_cases()?;
    for case in &cases {
        let path = dir.join(format!("{}.wasm", case.contract));
        let code =
            std::fs::read(&path).map_err(|e| VmError::Host(format!("{}: {e}", path.display())))?;
        let metered = time_case(&metered_vm, &code, case, iterations)?;
        let unmetered = time_case(&unmetered_vm, &code, case, iterations)?;
        log_sum += (metered / unmetered).ln();
        rows.push(Row {
            name: case.name,
            value: metered * 1e6,
            unit: "us (metered)",
        });
        rows.push(Row {
            name: case.name,
            value: unmetered * 1e6,
            unit: "us (unmetered)",
        });
        rows.push(Row {
            name: case.name,
            value: metered / unmetered,
            unit: "x (metering overhead)",
        });
    }
    rows.push(Row {
        name: "metering overhead on contract work (geometric mean)",
        value: (log_sum / cases.len() as f64).exp(),
        unit: "x",
    });
    Ok(rows)
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
    // Growing memory is one operator; the pages it maps are faulted in (and reset after
    // the call) by the touches that follow: is that work covered by the touches' gas?
    let (secs, gas) = timed_call(vm, &wasm(GROW_AND_TOUCH)?, Entry::Execute, &Call::default())?;
    rows.push(Row {
        name: "gas schedule: grow to 16 MiB, touch every 4 KiB page",
        value: secs * 1e9 / gas.max(1) as f64,
        unit: "ns/gas",
    });
    Ok(rows)
}

/// Grows memory from 1 page to the cap and writes one byte per 4 KiB page.
const GROW_AND_TOUCH: &str = r#"(module (memory (export "memory") 1)
  (func (export "instantiate") (result i32) i32.const 0)
  (func (export "query") (result i32) i32.const 0)
  (func (export "execute") (result i32) (local $p i32)
    (drop (memory.grow (i32.const 255)))
    (loop $l
      (i32.store8 (local.get $p) (i32.const 1))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br_if $l (i32.lt_u (local.get $p) (i32.const 16777216))))
    i32.const 0))"#;

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

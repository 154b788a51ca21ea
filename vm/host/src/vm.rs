//! [`Vm::call`]: one entry point of one contract, with a gas limit. A top-level call runs
//! with a stack sized for the deepest query chain, and any panic below it becomes a
//! deterministic trap.

use std::sync::Arc;

use taochain_vm_abi::{Call, Event, STATUS_ERROR, STATUS_OK};
use wasmtime::{Store, StoreLimitsBuilder, Trap};

use crate::engine::{Metering, ModuleCache};
use crate::host::Host;
use crate::imports::{HostPtr, OutOfGas, StoreData};
use crate::limits::{
    FUEL_PER_GAS, MAX_IO_BYTES, MAX_MEMORY_BYTES, MAX_QUERY_DEPTH, MAX_TABLE_ELEMENTS,
    MAX_WASM_STACK, gas,
};
use crate::validate::CodeInfo;
use crate::{ValidationError, VmError};

/// An entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Once, when the contract is created.
    Instantiate,
    /// A transaction's message.
    Execute,
    /// Read-only: writes, events and sends trap.
    Query,
    /// When the admin moves the contract to new code.
    Migrate,
    /// At a subnet's tempo.
    Epoch,
}

impl Entry {
    /// The export name.
    pub fn name(self) -> &'static str {
        match self {
            Entry::Instantiate => "instantiate",
            Entry::Execute => "execute",
            Entry::Query => "query",
            Entry::Migrate => "migrate",
            Entry::Epoch => "epoch",
        }
    }

    /// Parses an export name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Entry::Instantiate,
            Entry::Execute,
            Entry::Query,
            Entry::Migrate,
            Entry::Epoch,
        ]
        .into_iter()
        .find(|e| e.name() == name)
    }
}

/// Native stack a top-level call needs: room for the deepest chain of nested queries, each
/// with wasmtime's own wasm stack allowance plus the host frames around it, so that no
/// contract can overflow the caller's thread stack however its queries nest.
pub const VM_THREAD_STACK: usize =
    (MAX_QUERY_DEPTH as usize + 1) * (MAX_WASM_STACK + 512 * 1024) + 1024 * 1024;

/// Runs `f` with at least [`VM_THREAD_STACK`] bytes of stack: on the current stack when
/// that much is left (the node's threads are started with more), else on a fresh segment.
fn on_vm_stack<F: FnOnce() -> CallOutcome>(f: F) -> CallOutcome {
    stacker::maybe_grow(VM_THREAD_STACK, VM_THREAD_STACK, f)
}

/// The result of a call. `gas_used` is reported whatever happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// Output data, or why the call failed.
    pub result: Result<Vec<u8>, VmError>,
    /// Gas used (the whole limit when it ran out).
    pub gas_used: u64,
    /// Events emitted (empty when the call failed).
    pub events: Vec<Event>,
    /// Debug lines (not consensus).
    pub debug: Vec<String>,
}

/// The contract VM: a deterministic engine and a module cache.
pub struct Vm {
    cache: ModuleCache,
}

impl Vm {
    /// A VM whose precompiled artifacts live in `cache_dir` (memory only when `None`).
    pub fn new(cache_dir: Option<std::path::PathBuf>) -> Result<Self, VmError> {
        Ok(Vm {
            cache: ModuleCache::new(cache_dir)?,
        })
    }

    /// A VM that meters as `metering` says: [`Metering::Off`] is for benchmarks only (see
    /// [`Metering`]).
    pub fn with_metering(
        cache_dir: Option<std::path::PathBuf>,
        metering: Metering,
    ) -> Result<Self, VmError> {
        Ok(Vm {
            cache: ModuleCache::with_metering(cache_dir, metering)?,
        })
    }

    /// Validates and compiles code (store time).
    pub fn store_code(&self, wasm: &[u8]) -> Result<CodeInfo, ValidationError> {
        self.cache.compile(wasm)
    }

    /// The block is committed: modules stored in it may leave memory now (see
    /// [`ModuleCache::settle`]).
    pub fn settle(&self) {
        self.cache.settle();
    }

    /// The module cache.
    pub fn cache(&self) -> &ModuleCache {
        &self.cache
    }

    /// Runs `entry` of the code `checksum` (bytes from `load` on a cache miss) with
    /// `call` as input, at most `gas_limit` gas, `depth` levels into a query chain.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        checksum: &[u8; 32],
        load: &dyn Fn() -> Option<Vec<u8>>,
        entry: Entry,
        call: &Call,
        host: &mut dyn Host,
        gas_limit: u64,
        depth: u32,
    ) -> CallOutcome {
        let fail = |e: VmError| CallOutcome {
            result: Err(e),
            gas_used: 0,
            events: vec![],
            debug: vec![],
        };
        let pre = match self.cache.get(checksum, load) {
            Ok(pre) => pre,
            Err(e) => return fail(e),
        };
        let input = match borsh::to_vec(call) {
            Ok(bytes) if bytes.len() <= MAX_IO_BYTES => bytes,
            _ => {
                return fail(VmError::Trap(format!(
                    "input larger than {MAX_IO_BYTES} bytes"
                )));
            }
        };
        if depth == 0 {
            on_vm_stack(|| self.guarded_run(&pre, entry, input, host, gas_limit, depth))
        } else {
            self.guarded_run(&pre, entry, input, host, gas_limit, depth)
        }
    }

    /// [`Vm::run`] with a panic anywhere below (wasmtime, a host function, the chain's
    /// host) turned into a deterministic trap that uses the whole gas limit: a bug can fail
    /// the transaction, never abort the node.
    fn guarded_run(
        &self,
        pre: &Arc<wasmtime::InstancePre<StoreData>>,
        entry: Entry,
        input: Vec<u8>,
        host: &mut dyn Host,
        gas_limit: u64,
        depth: u32,
    ) -> CallOutcome {
        let run =
            std::panic::AssertUnwindSafe(|| self.run(pre, entry, input, host, gas_limit, depth));
        std::panic::catch_unwind(run).unwrap_or_else(|_| CallOutcome {
            result: Err(VmError::Trap("the host panicked during the call".into())),
            gas_used: gas_limit,
            events: vec![],
            debug: vec![],
        })
    }

    fn run(
        &self,
        pre: &Arc<wasmtime::InstancePre<StoreData>>,
        entry: Entry,
        input: Vec<u8>,
        host: &mut dyn Host,
        gas_limit: u64,
        depth: u32,
    ) -> CallOutcome {
        // SAFETY (lifetime erasure): `store` below is the only holder of this pointer and
        // is dropped before this function returns, while `host` is still borrowed.
        #[allow(unsafe_code)]
        let host_ptr = HostPtr(unsafe {
            std::mem::transmute::<*mut (dyn Host + '_), *mut (dyn Host + 'static)>(
                host as *mut dyn Host,
            )
        });
        let limits = StoreLimitsBuilder::new()
            .memory_size(MAX_MEMORY_BYTES)
            .table_elements(MAX_TABLE_ELEMENTS as usize)
            .instances(1)
            .memories(1)
            .tables(1)
            .build();
        let data = StoreData {
            host: host_ptr,
            input,
            output: vec![],
            events: vec![],
            debug: vec![],
            read_only: entry == Entry::Query,
            metered: self.cache.metering() == Metering::Fuel,
            depth,
            limits,
            memory: None,
            host_error: None,
        };
        let metered = data.metered;
        let mut store = Store::new(self.cache.engine(), data);
        store.limiter(|d| &mut d.limits);
        let fuel = if metered {
            store.set_fuel(gas_limit.saturating_mul(FUEL_PER_GAS))
        } else {
            Ok(())
        };
        let result = fuel
            .map_err(|e| VmError::Host(e.to_string()))
            .and_then(|()| {
                if metered {
                    charge_initial_memory(&mut store, pre, gas_limit)?;
                }
                let instance = pre
                    .instantiate(&mut store)
                    .map_err(|e| classify(e, gas_limit))?;
                store.data_mut().memory = instance.get_memory(&mut store, "memory");
                let func = instance
                    .get_typed_func::<(), i32>(&mut store, entry.name())
                    .map_err(|_| VmError::NoEntry(entry.name()))?;
                func.call(&mut store, ())
                    .map_err(|e| classify(e, gas_limit))
            });
        let fuel_limit = gas_limit.saturating_mul(FUEL_PER_GAS);
        let fuel_left = if metered {
            store.get_fuel().unwrap_or(0)
        } else {
            fuel_limit
        };
        let fuel_used = fuel_limit.saturating_sub(fuel_left);
        let gas_used = fuel_used.div_ceil(FUEL_PER_GAS).min(gas_limit);
        let data = store.into_data();
        let result = match (data.host_error, result) {
            (Some(e), _) => Err(VmError::Host(e.0)),
            (None, Ok(STATUS_OK)) => Ok(data.output),
            (None, Ok(STATUS_ERROR)) => Err(VmError::Contract(
                String::from_utf8_lossy(&data.output).into_owned(),
            )),
            (None, Ok(status)) => Err(VmError::Trap(format!(
                "entry returned unknown status {status}"
            ))),
            (None, Err(e)) => Err(e),
        };
        let gas_used = if matches!(result, Err(VmError::OutOfGas { .. })) {
            gas_limit
        } else {
            gas_used
        };
        let events = if result.is_ok() { data.events } else { vec![] };
        CallOutcome {
            result,
            gas_used,
            events,
            debug: data.debug,
        }
    }
}

/// Charges the module's initial memory pages ([`gas::MEMORY_PER_PAGE`] each) before it is
/// instantiated: out of gas when the limit does not cover them.
fn charge_initial_memory(
    store: &mut Store<StoreData>,
    pre: &wasmtime::InstancePre<StoreData>,
    gas_limit: u64,
) -> Result<(), VmError> {
    let pages = match pre.module().get_export("memory") {
        Some(wasmtime::ExternType::Memory(m)) => m.minimum(),
        _ => 0,
    };
    let price = pages
        .saturating_mul(gas::MEMORY_PER_PAGE)
        .saturating_mul(FUEL_PER_GAS);
    let fuel = store.get_fuel().map_err(|e| VmError::Host(e.to_string()))?;
    let left = fuel
        .checked_sub(price)
        .ok_or(VmError::OutOfGas { limit: gas_limit })?;
    store
        .set_fuel(left)
        .map_err(|e| VmError::Host(e.to_string()))
}

/// Maps a wasmtime error to a deterministic VM error.
fn classify(e: wasmtime::Error, limit: u64) -> VmError {
    if e.downcast_ref::<OutOfGas>().is_some() || e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel)
    {
        return VmError::OutOfGas { limit };
    }
    match e.downcast_ref::<Trap>() {
        Some(trap) => VmError::Trap(trap.to_string()),
        // A host function's own error (bad pointer, read-only violation, limits): the
        // root cause is deterministic text we wrote.
        None => VmError::Trap(format!("{}", e.root_cause())),
    }
}

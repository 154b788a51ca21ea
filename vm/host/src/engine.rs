//! The deterministic engine and the module cache.
//!
//! Engine: fuel metering on (one fuel per operator, and per byte or element of a bulk
//! memory or table operation, charged inline); NaN canonicalisation on (every float result that is NaN has
//! the same bits on every CPU); threads, SIMD, relaxed SIMD, multi-memory, memory64, tail
//! calls, GC, exceptions and every other proposal outside the profile off; the pooling
//! instance allocator (instantiation in microseconds).
//!
//! Cache: compiled modules are kept hot in memory as `InstancePre` (imports resolved), at
//! most [`MAX_HOT`] of them besides those stored since the last commit (the least recently
//! used goes first: a `StoreCode` costs a few rao per byte, so the number of distinct modules
//! is the sender's to choose). A module compiled at store time stays pinned until
//! [`ModuleCache::settle`] (the block's commit): before that its bytes are only in the
//! block's pending writes, so an evicted one could not be loaded back. And
//! precompiled artifacts on disk under `<dir>/<key>.cwasm`, where the key hashes the code
//! checksum, the engine version and the cost table (which includes the instrumentation
//! version), so a new engine, gas table or rewrite never loads an old artifact. An
//! artifact is written when stored code is loaded to run, never at store time (a
//! transaction that stores code may still fail). What is
//! compiled is always the instrumented module ([`crate::instrument`]); the code id stays
//! the checksum of the uploaded bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OperatorCost,
    OptLevel, PoolingAllocationConfig,
};

use crate::imports::{StoreData, link};
use crate::instrument::instrument;
use crate::limits::{
    MAX_MEMORY_BYTES, MAX_TABLE_ELEMENTS, MAX_WASM_STACK, cost_table_version, gas,
};
use crate::validate::{CodeInfo, validate};
use crate::{ValidationError, VmError};

/// The wasmtime release this engine is built on (part of the artifact key).
pub const ENGINE_VERSION: &str = "wasmtime-48.0.8";
/// Instances that may be alive at once (nested queries and concurrent checks included).
const POOL_INSTANCES: u32 = 256;

/// Whether calls are metered. The chain always meters ([`Metering::Fuel`]). An unmetered
/// VM exists only so `tao bench vm` can measure what metering costs on the same contracts
/// and host functions: it runs the uninstrumented module with fuel off and charges
/// nothing, so a loop in it never ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metering {
    /// Fuel per operator, host calls charged, the module instrumented.
    Fuel,
    /// Nothing charged (benchmarks only).
    Off,
}

/// The deterministic engine configuration.
pub fn engine(metering: Metering) -> Result<Engine, VmError> {
    // wasmtime's table: 1 per operator, 0 for those that emit no code (nop, drop, block,
    // loop, else, end, return, unreachable); every variable price the profile can reach is
    // the chain's, pinned here (GC arrays are off).
    const _: () = assert!(
        crate::limits::FUEL_PER_GAS == 1,
        "bulk prices are set in fuel"
    );
    let mut cost = OperatorCost::new();
    let per = gas::BULK_PER_BYTE;
    cost.variable.memory_copy_per_byte = per;
    cost.variable.memory_fill_per_byte = per;
    cost.variable.memory_init_per_byte = per;
    cost.variable.table_copy_per_element = per;
    cost.variable.table_fill_per_element = per;
    cost.variable.table_init_per_element = per;
    cost.variable.table_grow_per_element = per;
    // `memory.grow` never runs as an operator: the instrumentation makes it a host call
    // that charges its pages (`gas::MEMORY_PER_PAGE`).
    cost.variable.memory_grow_per_page = 0;
    let mut c = Config::new();
    c.operator_cost(cost);
    c.consume_fuel(metering == Metering::Fuel)
        .cranelift_nan_canonicalization(true)
        .cranelift_opt_level(OptLevel::Speed)
        .wasm_relaxed_simd(false)
        .wasm_simd(false)
        .wasm_multi_memory(false)
        .wasm_memory64(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_gc(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .wasm_bulk_memory(true)
        .wasm_multi_value(true)
        .max_wasm_stack(MAX_WASM_STACK);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(POOL_INSTANCES)
        .total_memories(POOL_INSTANCES)
        .total_tables(POOL_INSTANCES)
        .max_memory_size(MAX_MEMORY_BYTES)
        .table_elements(MAX_TABLE_ELEMENTS as usize);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&c).map_err(|e| VmError::Host(format!("engine: {e:#}")))
}

/// Compiled modules kept in memory at most. Which modules are hot changes only speed: a
/// call's gas never depends on it.
pub const MAX_HOT: usize = 128;

/// Compiled contracts, hot in memory and precompiled on disk.
pub struct ModuleCache {
    engine: Engine,
    metering: Metering,
    linker: Linker<StoreData>,
    dir: Option<PathBuf>,
    hot: Mutex<Hot>,
}

/// The hot modules by checksum.
#[derive(Default)]
struct Hot {
    modules: BTreeMap<[u8; 32], HotModule>,
    tick: u64,
}

/// A hot module, the tick of its last use, and whether it is pinned (stored since the last
/// commit: never evicted until then).
struct HotModule {
    pre: Arc<InstancePre<StoreData>>,
    used: u64,
    pinned: bool,
}

impl Hot {
    /// The module for `checksum`, marked as just used (and pinned when `pin`).
    fn touch(&mut self, checksum: &[u8; 32], pin: bool) -> Option<Arc<InstancePre<StoreData>>> {
        self.tick += 1;
        let tick = self.tick;
        self.modules.get_mut(checksum).map(|m| {
            m.used = tick;
            m.pinned |= pin;
            m.pre.clone()
        })
    }

    /// Adds a module, then forgets the least recently used unpinned ones over [`MAX_HOT`].
    fn insert(&mut self, checksum: [u8; 32], pre: Arc<InstancePre<StoreData>>, pinned: bool) {
        self.tick += 1;
        let used = self.tick;
        self.modules
            .insert(checksum, HotModule { pre, used, pinned });
        self.evict();
    }

    fn evict(&mut self) {
        while self.modules.len() > MAX_HOT {
            let oldest = self
                .modules
                .iter()
                .filter(|(_, m)| !m.pinned)
                .min_by_key(|(_, m)| m.used)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.modules.remove(&k),
                // Everything left is pinned: the block's own stores, bounded by its gas.
                None => break,
            };
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ModuleCache {
    /// A metered cache; artifacts persist in `dir` when given.
    pub fn new(dir: Option<PathBuf>) -> Result<Self, VmError> {
        Self::with_metering(dir, Metering::Fuel)
    }

    /// A cache whose engine meters (or not: benchmarks only) as `metering` says; an
    /// unmetered cache never writes or reads artifacts.
    pub fn with_metering(dir: Option<PathBuf>, metering: Metering) -> Result<Self, VmError> {
        let engine = engine(metering)?;
        let dir = dir.filter(|_| metering == Metering::Fuel);
        let mut linker = Linker::new(&engine);
        link(&mut linker).map_err(|e| VmError::Host(format!("linker: {e:#}")))?;
        if let Some(d) = &dir {
            std::fs::create_dir_all(d)
                .map_err(|e| VmError::Host(format!("{}: {e}", d.display())))?;
        }
        Ok(ModuleCache {
            engine,
            metering,
            linker,
            dir,
            hot: Mutex::default(),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How this cache's engine meters.
    pub fn metering(&self) -> Metering {
        self.metering
    }

    fn artifact_path(&self, checksum: &[u8; 32]) -> Option<PathBuf> {
        let mut h = Sha256::new();
        h.update(checksum);
        h.update(ENGINE_VERSION.as_bytes());
        h.update(cost_table_version().to_le_bytes());
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}.cwasm", hex(&h.finalize()))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Hot> {
        self.hot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many compiled modules are hot in memory (at most [`MAX_HOT`]).
    pub fn hot_len(&self) -> usize {
        self.lock().modules.len()
    }

    /// Validates, compiles and caches `wasm` (store time; nothing is written to disk). The
    /// module stays pinned in memory until [`ModuleCache::settle`].
    pub fn compile(&self, wasm: &[u8]) -> Result<CodeInfo, ValidationError> {
        let info = validate(wasm)?;
        if self.lock().touch(&info.checksum, true).is_some() {
            return Ok(info);
        }
        let module = self.build(wasm)?;
        self.insert(info.checksum, &module, true)
            .map_err(|e| ValidationError::Compile(e.to_string()))?;
        Ok(info)
    }

    /// The block is committed: what it stored is in committed storage now, so modules
    /// compiled at store time may be evicted like any other.
    pub fn settle(&self) {
        let mut hot = self.lock();
        for m in hot.modules.values_mut() {
            m.pinned = false;
        }
        hot.evict();
    }

    /// Compiles validated `wasm`. The code id is the checksum of the uploaded bytes; what
    /// runs is always the instrumented module (call-depth metering), at store time and on
    /// every reload from the chain's stored bytes.
    fn build(&self, wasm: &[u8]) -> Result<Module, ValidationError> {
        let metered = match self.metering {
            Metering::Fuel => instrument(wasm)?,
            Metering::Off => wasm.to_vec(),
        };
        Module::new(&self.engine, &metered).map_err(|e| ValidationError::Compile(format!("{e:#}")))
    }

    fn insert(
        &self,
        checksum: [u8; 32],
        module: &Module,
        pinned: bool,
    ) -> Result<Arc<InstancePre<StoreData>>, VmError> {
        let pre = self
            .linker
            .instantiate_pre(module)
            .map_err(|e| VmError::Validation(ValidationError::Compile(format!("{e:#}"))))?;
        let pre = Arc::new(pre);
        self.lock().insert(checksum, pre.clone(), pinned);
        Ok(pre)
    }

    /// The ready-to-instantiate module for `checksum`: from memory, from disk, or compiled
    /// from `load()` (the chain's stored bytes) after validation.
    pub fn get(
        &self,
        checksum: &[u8; 32],
        load: &dyn Fn() -> Option<Vec<u8>>,
    ) -> Result<Arc<InstancePre<StoreData>>, VmError> {
        if let Some(pre) = self.lock().touch(checksum, false) {
            return Ok(pre);
        }
        if let Some(module) = self
            .artifact_path(checksum)
            .and_then(|p| self.load_artifact(&p))
        {
            return self.insert(*checksum, &module, false);
        }
        let wasm =
            load().ok_or_else(|| VmError::Host(format!("code {} not found", hex(checksum))))?;
        let info = validate(&wasm)?;
        if &info.checksum != checksum {
            return Err(VmError::Host(
                "stored code does not match its checksum".into(),
            ));
        }
        let module = self.build(&wasm)?;
        if let Some(path) = self.artifact_path(checksum)
            && let Ok(bytes) = module.serialize()
        {
            // A failed write only costs a recompilation later.
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
        self.insert(*checksum, &module, false)
    }

    #[allow(unsafe_code)]
    fn load_artifact(&self, path: &std::path::Path) -> Option<Module> {
        if !path.is_file() {
            return None;
        }
        // SAFETY: the artifact was produced by `Module::serialize` of this engine build
        // (its name hashes the engine version and cost table) and lives in the node's own
        // data directory, which only the node writes; wasmtime also checks the artifact's
        // engine and configuration before using it and errors on a mismatch.
        unsafe { Module::deserialize_file(&self.engine, path) }.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid contract module, distinct for each `n`.
    fn module(n: usize) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module
              (memory (export "memory") 1)
              (func (export "instantiate") (result i32) i32.const 0)
              (func (export "execute") (result i32) i32.const {n} drop i32.const 0)
              (func (export "query") (result i32) i32.const 0))"#
        ))
        .expect("wat")
    }

    #[test]
    fn modules_stored_in_a_block_stay_until_its_commit_then_at_most_max_hot_remain() {
        let cache = ModuleCache::new(None).expect("cache");
        let stored: Vec<[u8; 32]> = (0..MAX_HOT + 5)
            .map(|n| cache.compile(&module(n)).expect("compiles").checksum)
            .collect();
        // Stored in the same block: all pinned (their bytes are not committed yet), so each
        // can still be run without loading anything.
        assert_eq!(cache.hot_len(), MAX_HOT + 5);
        for c in &stored {
            cache
                .get(c, &|| None)
                .expect("a module stored this block stays");
        }
        cache.settle();
        assert_eq!(cache.hot_len(), MAX_HOT);
    }

    #[test]
    fn the_least_recently_used_module_goes_first_and_comes_back_from_the_stored_bytes() {
        let cache = ModuleCache::new(None).expect("cache");
        let first = cache.compile(&module(0)).expect("compiles").checksum;
        let second = cache.compile(&module(1)).expect("compiles").checksum;
        cache.settle();
        for n in 2..MAX_HOT + 5 {
            // The first module is used all along; the second never again.
            cache.get(&first, &|| None).expect("still hot");
            cache.compile(&module(n)).expect("compiles");
            cache.settle();
        }
        assert_eq!(cache.hot_len(), MAX_HOT);
        cache
            .get(&first, &|| None)
            .expect("the module in use stayed");
        assert!(
            cache.get(&second, &|| None).is_err(),
            "the least recently used module was evicted"
        );
        // Evicted is not lost: the chain's stored bytes compile it again.
        let bytes = module(1);
        cache
            .get(&second, &|| Some(bytes.clone()))
            .expect("recompiled from the stored bytes");
        assert_eq!(cache.hot_len(), MAX_HOT);
    }
}

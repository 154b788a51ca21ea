//! Static caps checked at store time, runtime limits, and the gas table.
//!
//! Gas is calibrated so that 1 gas is at most about 1 ns on the slowest path of this
//! machine class (2-core x86-64; `tao bench vm` prints ns per gas for each path). The
//! slowest is a tight loop: wasmtime's fuel check on every back edge makes `(loop (br 0))`
//! cost ~0.5-1.2 ns per operator, so 1 gas = [`FUEL_PER_GAS`] = 1 fuel (one operator);
//! ordinary straight-line code runs several operators per ns and is overcharged, never
//! undercharged. Each host call is priced in gas from its measured cost. Gas used is
//! reported even when a call fails.

/// Fuel (wasm operators) per unit of gas.
pub const FUEL_PER_GAS: u64 = 1;

/// Largest accepted module, bytes (storing it costs [`gas::STORE_PER_BYTE`] per byte:
/// ~1G gas at the cap, inside one transaction's gas ceiling).
pub const MAX_CODE_BYTES: usize = 512 * 1024;
/// Most imports.
pub const MAX_IMPORTS: u32 = 32;
/// Most functions defined by the module.
pub const MAX_FUNCTIONS: u32 = 10_000;
/// Most locals in one function (params included).
pub const MAX_LOCALS: u32 = 4_096;
/// Most globals.
pub const MAX_GLOBALS: u32 = 256;
/// Most tables (Rust emits one for indirect calls).
pub const MAX_TABLES: u32 = 1;
/// Most table elements (initial and maximum).
pub const MAX_TABLE_ELEMENTS: u64 = 16_384;
/// Most data segments.
pub const MAX_DATA_SEGMENTS: u32 = 1_024;
/// Most bytes in all data segments together.
pub const MAX_DATA_BYTES: u64 = 256 * 1024;
/// Most initial memory pages (64 KiB each); Rust's default is 17.
pub const MAX_INITIAL_PAGES: u64 = 64;
/// Memory cap at runtime: `memory.grow` past this returns -1 (deterministically).
pub const MAX_MEMORY_BYTES: usize = 16 * 1024 * 1024;
/// [`MAX_MEMORY_BYTES`] in 64 KiB wasm pages.
pub const MAX_MEMORY_PAGES: u64 = (MAX_MEMORY_BYTES / 65_536) as u64;
/// Deepest chain of contract-to-contract queries (the first call is depth 0).
pub const MAX_QUERY_DEPTH: u32 = 4;
/// Native stack allowed for wasm per call. Recursion is bounded deterministically by
/// [`crate::instrument::MAX_STACK_COST`] long before this: the counted 8,192 values plus
/// the uncounted [`crate::instrument::MAX_FREE_COST`] and the entry's own frame (at most
/// 2 + [`MAX_LOCALS`] + [`crate::instrument::MAX_OPERAND_HEIGHT`] = 5,122) make at most
/// ~7,200 frames of <= 64 bytes of overhead plus ~14,400 values of <= 16 bytes: under
/// 700 KiB. This limit is a backstop that never decides a result. Node threads have
/// 2 MiB stacks.
pub const MAX_WASM_STACK: usize = 1024 * 1024;
/// Largest input or output of one call, bytes.
pub const MAX_IO_BYTES: usize = 256 * 1024;
/// Largest storage key / value, bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest storage value, bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most events per call.
pub const MAX_EVENTS: usize = 64;
/// Largest `debug` line, bytes.
pub const MAX_DEBUG_BYTES: usize = 1024;
/// Most `debug` lines kept per call (offline runs only; the chain keeps none).
pub const MAX_DEBUG_LINES: usize = 64;

/// The price of each host call: `base + per_byte * bytes moved` (in and out).
pub mod gas {
    /// Per byte copied across the boundary (input, output, keys, values, hashes).
    pub const PER_BYTE: u64 = 1;
    /// `input_len`, `input_read`, `set_result`.
    pub const IO_BASE: u64 = 50;
    /// `storage_get` (a RocksDB/overlay read is ~1-8 us).
    pub const STORAGE_READ: u64 = 3_000;
    /// `storage_next` (a range seek).
    pub const STORAGE_NEXT: u64 = 5_000;
    /// Each entry deleted by the call's pending writes that `storage_next` steps over (one
    /// more seek below it).
    pub const STORAGE_SKIP: u64 = 5_000;
    /// `storage_set` / `storage_remove` (a tree leaf update is ~20-40 us at commit).
    pub const STORAGE_WRITE: u64 = 20_000;
    /// `sha256` base (~1.7 GB/s on top: per byte).
    pub const SHA256_BASE: u64 = 300;
    /// `ed25519_verify` (~40 us measured).
    pub const ED25519_VERIFY: u64 = 45_000;
    /// `emit_event`.
    pub const EVENT_BASE: u64 = 500;
    /// `bank_send` (two account updates).
    pub const BANK_SEND: u64 = 40_000;
    /// `query_contract` base (instantiation + call), on top of the callee's own gas.
    pub const QUERY_BASE: u64 = 10_000;
    /// `debug`.
    pub const DEBUG_BASE: u64 = 200;
    /// `blob_pin` (a record read and write).
    pub const BLOB_PIN: u64 = 25_000;
    /// `subnet_uid` (a scan of at most the subnet limit's records, then one read).
    pub const SUBNET_UID: u64 = 20_000;
    /// `verify_matmul` base (three blob lookups, the seed expansion).
    pub const VERIFY_MATMUL_BASE: u64 = 50_000;
    /// `verify_matmul` per byte of the three blobs (read from disk and parsed).
    pub const VERIFY_MATMUL_PER_BYTE: u64 = 1;
    /// `verify_matmul` per entry of the random vectors: one sha256 of ~70 bytes each.
    pub const VERIFY_MATMUL_PER_HASH: u64 = 400;
    /// `verify_matmul` per matrix entry per vector (one multiply-add mod p).
    pub const VERIFY_MATMUL_PER_ENTRY: u64 = 2;

    /// Random vectors per check: `taochain_work::VECTORS` (the chain tests they agree).
    pub const MATMUL_VECTORS: u64 = 2;

    /// The price of checking a statement of shape `(m, k, n)` (on top of its bytes):
    /// `VECTORS * n` hashes and `VECTORS * (m*k + k*n + m*n)` multiply-adds, saturating.
    pub fn verify_matmul_work([m, k, n]: [u64; 3]) -> u64 {
        let entries = m
            .saturating_mul(k)
            .saturating_add(k.saturating_mul(n))
            .saturating_add(m.saturating_mul(n));
        MATMUL_VECTORS.saturating_mul(
            n.saturating_mul(VERIFY_MATMUL_PER_HASH)
                .saturating_add(entries.saturating_mul(VERIFY_MATMUL_PER_ENTRY)),
        )
    }
    /// `memory.fill/copy/init`, per byte, and `table.fill/copy/init`, per element: charged
    /// by the engine in fuel, inline, before the operation runs (wasmtime's variable
    /// operator costs, set in [`crate::engine::engine`]).
    pub const BULK_PER_BYTE: u8 = 1;
    /// Each 64 KiB page of linear memory a call can touch: the module's initial pages,
    /// charged before instantiation, and each page `memory.grow` asks for, charged before it
    /// grows. The first touch of each 4 KiB of a page faults it in and zeroes it, and the
    /// pool resets it after the call: ~23 us per 64 KiB page measured on a 2-core VM
    /// (`tao bench vm`, "grow to 16 MiB"), which the per-operator price of the touches
    /// does not cover.
    pub const MEMORY_PER_PAGE: u64 = 24_576;
    /// Store-time price per byte of code: validation + compilation measured ~2.1 ms per KB.
    pub const STORE_PER_BYTE: u64 = 2_000;
}

/// A digest of everything that changes how code is compiled or charged: part of the
/// on-disk cache key, so a new table or engine never reuses an old artifact.
pub fn cost_table_version() -> u64 {
    let parts = [
        FUEL_PER_GAS,
        crate::instrument::MAX_STACK_COST as u64,
        crate::instrument::MAX_FREE_COST as u64,
        crate::instrument::MAX_OPERAND_HEIGHT as u64,
        gas::PER_BYTE,
        u64::from(gas::BULK_PER_BYTE),
        gas::MEMORY_PER_PAGE,
        gas::IO_BASE,
        gas::STORAGE_READ,
        gas::STORAGE_NEXT,
        gas::STORAGE_SKIP,
        gas::STORAGE_WRITE,
        gas::SHA256_BASE,
        gas::ED25519_VERIFY,
        gas::EVENT_BASE,
        gas::BANK_SEND,
        gas::QUERY_BASE,
        gas::DEBUG_BASE,
        gas::SUBNET_UID,
        gas::BLOB_PIN,
        gas::VERIFY_MATMUL_BASE,
        gas::VERIFY_MATMUL_PER_BYTE,
        gas::VERIFY_MATMUL_PER_HASH,
        gas::VERIFY_MATMUL_PER_ENTRY,
        crate::instrument::INSTRUMENT_VERSION,
        MAX_MEMORY_BYTES as u64,
        MAX_WASM_STACK as u64,
    ];
    parts.iter().fold(0xcbf29ce484222325u64, |h, p| {
        (h ^ p).wrapping_mul(0x100000001b3)
    })
}

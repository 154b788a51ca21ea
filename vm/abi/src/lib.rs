//! The taochain contract ABI: what a WASM module exports and imports, how bytes cross
//! the boundary, and the borsh types both sides agree on. `no_std` so guests use it too.
//!
//! # Exports (what the chain calls)
//!
//! - `memory`: the module's linear memory (exactly one, 32-bit).
//! - Entry points, each `() -> i32`: `instantiate`, `execute`, `query`, `migrate`, `epoch`.
//!   Only `instantiate`, `execute` and `query` are required. An entry reads its input with
//!   `input_len` / `input_read`, writes its output with `set_result`, and returns
//!   [`STATUS_OK`] (output = response data) or [`STATUS_ERROR`] (output = a UTF-8 error
//!   message). A trap, running out of gas, or any other status is a failure too.
//!
//! # Input
//!
//! The input is `borsh(`[`Call`]`)`: the block environment, the message info (sender,
//! funds) and the entry's message bytes (the contract defines their format; the SDK uses
//! borsh).
//!
//! # Imports (module `tao`; every call costs gas)
//!
//! Pointers and lengths are `i32` offsets into the guest memory; a range outside memory
//! traps the call. Variable-length results use a caller-provided buffer: the host copies
//! `min(len, cap)` bytes and returns the full length (or [`ABSENT`]), so a guest can retry
//! with a larger buffer.
//!
//! | import | signature | meaning |
//! |---|---|---|
//! | `input_len` | `() -> i32` | length of the input |
//! | `input_read` | `(ptr)` | copies the input to `ptr` |
//! | `set_result` | `(ptr, len)` | the entry's output (last call wins) |
//! | `storage_get` | `(key, key_len, out, cap) -> i64` | value length or [`ABSENT`] |
//! | `storage_set` | `(key, key_len, val, val_len)` | traps in `query` (read-only) |
//! | `storage_remove` | `(key, key_len)` | traps in `query` |
//! | `storage_next` | `(start, start_len, end, end_len, out, cap) -> i64` | first entry with `start <= key < end` (`end_len == 0`: unbounded) as `borsh(`[`Record`]`)`, or [`ABSENT`] |
//! | `sha256` | `(ptr, len, out)` | writes 32 bytes to `out` |
//! | `ed25519_verify` | `(msg, msg_len, sig, pk) -> i32` | 1 valid, 0 invalid (`sig` 64 bytes, `pk` 32 bytes) |
//! | `emit_event` | `(ptr, len)` | `borsh(`[`Event`]`)`, becomes an ABCI event |
//! | `bank_send` | `(to, amount: i64) -> i32` | from the contract's account to a 20-byte address; 0 ok, [`ERR_INSUFFICIENT_FUNDS`], [`ERR_INVALID`] |
//! | `query_contract` | `(addr, msg, msg_len, out, cap) -> i64` | another contract's `query` output length, or a negative error ([`ERR_QUERY_FAILED`], [`ERR_DEPTH`]); the error text is the output |
//! | `verify_matmul` | `(hashes) -> i32` | checks useful work: `hashes` holds three 32-byte blob hashes (A, B, C as `.npy`: int8, int8, int32); [`MATMUL_VALID`] if `C = A * B` (Freivalds, seeded by the hash of the block that runs the call), [`MATMUL_INVALID`] if not, [`ERR_MISSING_BLOB`] or [`ERR_BAD_STATEMENT`]; gas grows with the bytes read |
//! | `blob_pin` | `(hash, pin) -> i32` | `pin != 0` adds a pin to a stored blob, `pin == 0` removes one; returns the pins left, [`ERR_MISSING_BLOB`], or [`ERR_BLOB_NOT_OWNED`] (a blob nobody has pinned belongs to its uploader: only a call sent by the uploader may pin it first); a blob whose last pin is removed is pruned at the end of the block (traps in `query`) |
//! | `subnet_uid` | `(addr) -> i32` | the UID a 20-byte hotkey holds on the subnet this contract runs, or [`ERR_NOT_REGISTERED`] (also when the contract runs no subnet) |
//! | `debug` | `(ptr, len)` | a log line for the node operator; not consensus |
//!
//! Keys are confined to the contract's own namespace by the host. Limits (gas, memory,
//! query depth, sizes) are set by the host and documented in `taochain-vm`.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

/// Import module name.
pub const IMPORT_MODULE: &str = "tao";
/// Required exports.
pub const REQUIRED_ENTRIES: [&str; 3] = ["instantiate", "execute", "query"];
/// Every entry point the chain may call.
pub const ENTRIES: [&str; 5] = ["instantiate", "execute", "query", "migrate", "epoch"];

/// An entry returned successfully.
pub const STATUS_OK: i32 = 0;
/// An entry returned a contract error (its output is the message).
pub const STATUS_ERROR: i32 = 1;
/// `storage_get` / `storage_next`: nothing there.
pub const ABSENT: i64 = -1;
/// `bank_send`: the contract's balance is too low.
pub const ERR_INSUFFICIENT_FUNDS: i32 = 1;
/// `bank_send`: zero amount or an invalid recipient.
pub const ERR_INVALID: i32 = 2;
/// `query_contract`: the queried contract failed (output = its error text).
pub const ERR_QUERY_FAILED: i64 = -2;
/// `query_contract`: the query chain is deeper than the host allows.
pub const ERR_DEPTH: i64 = -3;
/// `subnet_uid`: the hotkey holds no UID on this contract's subnet.
pub const ERR_NOT_REGISTERED: i32 = -1;
/// `verify_matmul`: the product is right.
pub const MATMUL_VALID: i32 = 1;
/// `verify_matmul`: the product is wrong.
pub const MATMUL_INVALID: i32 = 0;
/// `verify_matmul`: a blob is not stored.
pub const ERR_MISSING_BLOB: i32 = -1;
/// `verify_matmul`: the blobs are not int8/int8/int32 `.npy` matrices that chain.
pub const ERR_BAD_STATEMENT: i32 = -2;
/// `blob_pin`: the blob has no pins and the call's sender did not upload it.
pub const ERR_BLOB_NOT_OWNED: i32 = -3;

/// The block environment.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Default)]
pub struct Env {
    /// Block height.
    pub height: u64,
    /// Block time, milliseconds since the Unix epoch (from the header, never a clock).
    pub time_ms: u64,
    /// Chain id.
    pub chain_id: String,
    /// This contract's address.
    pub contract: [u8; 20],
}

/// Who called, with what.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Default)]
pub struct MessageInfo {
    /// The sender (an account, or the querying contract).
    pub sender: [u8; 20],
    /// rao moved to the contract with this call (already credited).
    pub funds: u64,
}

/// The input of every entry point.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Default)]
pub struct Call {
    /// Environment.
    pub env: Env,
    /// Sender and funds.
    pub info: MessageInfo,
    /// The entry's message.
    pub msg: Vec<u8>,
}

/// The message of the `epoch` entry point, which a subnet's contract exports to judge its
/// neurons: the chain calls it at the end of each of the subnet's tempos (sender: the
/// contract itself, no funds). The output, `borsh(Vec<(u16 uid, u16 weight)>)`, becomes
/// the owner UID's weights (unknown UIDs dropped, values max-upscaled); empty output sets
/// none. A failure changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Default)]
pub struct EpochCall {
    /// The subnet.
    pub netuid: u16,
    /// The block.
    pub height: u64,
    /// Hotkey of each UID, index = UID.
    pub hotkeys: Vec<[u8; 20]>,
}

/// An event the contract emits.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Event {
    /// Event type (prefixed `wasm-` by the chain).
    pub kind: String,
    /// Attributes.
    pub attributes: Vec<(String, String)>,
}

/// One storage entry returned by `storage_next`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Record {
    /// Key (without the host's namespace prefix).
    pub key: Vec<u8>,
    /// Value.
    pub value: Vec<u8>,
}

//! The host functions of the ABI (module `tao`, documented in `taochain-vm-abi`), one
//! function per import. Each follows one order, enforced by [`charge_and_read`]: check
//! every guest length against its limit (before any arithmetic on it), charge the base
//! price plus the per-byte price (summed in u64), then read guest memory. Guest pointers
//! are checked against the memory size; a bad range traps the call. Writes, events and
//! sends trap in a read-only `query`.

use sha2::{Digest, Sha256};
use taochain_vm_abi::{ABSENT, ERR_DEPTH, ERR_QUERY_FAILED, Event, Record};
use wasmparser::ValType;
use wasmtime::{Caller, Extern, Linker, StoreLimits};
use wasmtime::{Result, bail, format_err as anyhow};

use crate::host::{Host, HostError, Next};
use crate::limits::{
    FUEL_PER_GAS, MAX_DEBUG_BYTES, MAX_DEBUG_LINES, MAX_EVENTS, MAX_IO_BYTES, MAX_KEY_BYTES,
    MAX_MEMORY_PAGES, MAX_QUERY_DEPTH, MAX_VALUE_BYTES, gas,
};

use ValType::{I32, I64};

/// Every import: name, params, results. Validation checks modules against this table and
/// a test checks that [`link`] defines exactly these.
pub const SIGNATURES: &[(&str, &[ValType], &[ValType])] = &[
    ("input_len", &[], &[I32]),
    ("input_read", &[I32], &[]),
    ("set_result", &[I32, I32], &[]),
    ("storage_get", &[I32, I32, I32, I32], &[I64]),
    ("storage_set", &[I32, I32, I32, I32], &[]),
    ("storage_remove", &[I32, I32], &[]),
    ("storage_next", &[I32, I32, I32, I32, I32, I32], &[I64]),
    ("sha256", &[I32, I32, I32], &[]),
    ("ed25519_verify", &[I32, I32, I32, I32], &[I32]),
    ("emit_event", &[I32, I32], &[]),
    ("bank_send", &[I32, I64], &[I32]),
    ("query_contract", &[I32, I32, I32, I32, I32], &[I64]),
    ("verify_matmul", &[I32], &[I32]),
    ("subnet_uid", &[I32], &[I32]),
    ("blob_pin", &[I32, I32], &[I32]),
    ("debug", &[I32, I32], &[]),
];

/// A `&mut dyn Host` whose lifetime the VM erases for the duration of one call (the
/// store that holds it never outlives [`crate::Vm::call`]).
pub(crate) struct HostPtr(pub(crate) *mut (dyn Host + 'static));

// SAFETY: a `HostPtr` is only created, used and dropped inside one `Vm::call` on one
// thread; it is `Send`/`Sync` only so the store data type satisfies wasmtime's bounds.
#[allow(unsafe_code)]
unsafe impl Send for HostPtr {}
#[allow(unsafe_code)]
unsafe impl Sync for HostPtr {}

/// Per-call state inside the wasmtime store.
pub struct StoreData {
    pub(crate) host: HostPtr,
    pub(crate) input: Vec<u8>,
    pub(crate) output: Vec<u8>,
    pub(crate) events: Vec<Event>,
    pub(crate) debug: Vec<String>,
    pub(crate) read_only: bool,
    /// False only on a benchmark's unmetered engine ([`crate::engine::Metering::Off`]).
    pub(crate) metered: bool,
    pub(crate) depth: u32,
    pub(crate) limits: StoreLimits,
    /// The instance's exported memory, looked up once after instantiation (host calls
    /// during instantiation, if any, look it up by name).
    pub(crate) memory: Option<wasmtime::Memory>,
    /// Set when the chain's storage failed: the call is aborted and the node must halt.
    pub(crate) host_error: Option<HostError>,
}

/// Raised when a host call's price exceeds the remaining gas.
#[derive(Debug)]
pub(crate) struct OutOfGas;

impl std::fmt::Display for OutOfGas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of gas in a host call")
    }
}

impl std::error::Error for OutOfGas {}

type C<'a> = Caller<'a, StoreData>;

/// Charges `amount` gas (as `amount * FUEL_PER_GAS` fuel).
fn charge(c: &mut C<'_>, amount: u64) -> Result<()> {
    if !c.data().metered {
        return Ok(());
    }
    let amount = amount.saturating_mul(FUEL_PER_GAS);
    let fuel = c.get_fuel()?;
    if fuel < amount {
        c.set_fuel(0)?;
        return Err(OutOfGas.into());
    }
    c.set_fuel(fuel - amount)?;
    Ok(())
}

/// Gas for moving `len` bytes across the boundary.
fn per_byte(len: usize) -> u64 {
    gas::PER_BYTE.saturating_mul(len as u64)
}

fn host<'a>(c: &'a mut C<'_>) -> &'a mut dyn Host {
    // SAFETY: see `HostPtr`: the pointee is the `&mut dyn Host` passed to `Vm::call`, which
    // is borrowed for the whole call, and only this store (on this thread) uses it.
    #[allow(unsafe_code)]
    unsafe {
        &mut *c.data().host.0
    }
}

fn host_failed(c: &mut C<'_>, e: HostError) -> wasmtime::Error {
    let msg = e.to_string();
    c.data_mut().host_error = Some(e);
    anyhow!(msg)
}

fn memory(c: &mut C<'_>) -> Result<wasmtime::Memory> {
    if let Some(m) = c.data().memory {
        return Ok(m);
    }
    match c.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => bail!("the module exports no memory"),
    }
}

/// A guest byte range whose length has been checked against its limit (so it is at most
/// a few hundred KiB and never negative): the only way to read guest memory.
#[derive(Clone, Copy)]
struct Span {
    ptr: u32,
    len: usize,
}

impl Span {
    /// Checks `len` (from the guest) against `limit` before anything is computed from it.
    fn new(ptr: i32, len: i32, limit: usize) -> Result<Span> {
        let len = usize::try_from(len).map_err(|_| anyhow!("negative length {len}"))?;
        if len > limit {
            bail!("length {len} exceeds the limit {limit}");
        }
        Ok(Span {
            ptr: ptr as u32,
            len,
        })
    }

    /// A span of exactly `len` bytes (a hash, an address, a key).
    fn fixed(ptr: i32, len: usize) -> Span {
        Span {
            ptr: ptr as u32,
            len,
        }
    }
}

/// The memory range of `span`, or a trap when it is outside memory.
fn range(span: Span, size: usize) -> Result<std::ops::Range<usize>> {
    let start = span.ptr as usize;
    let end = start
        .checked_add(span.len)
        .filter(|e| *e <= size)
        .ok_or_else(|| {
            anyhow!(
                "pointer range {start}+{} is outside memory ({size} bytes)",
                span.len
            )
        })?;
    Ok(start..end)
}

/// The one order every import follows: every length was checked (in [`Span::new`]), then
/// `base` plus the per-byte price of all the spans is charged (summed in u64), then the
/// bytes are read.
fn charge_and_read<const N: usize>(
    c: &mut C<'_>,
    base: u64,
    spans: [Span; N],
) -> Result<[Vec<u8>; N]> {
    let bytes = spans
        .iter()
        .fold(0u64, |sum, s| sum.saturating_add(s.len as u64));
    charge(c, base.saturating_add(gas::PER_BYTE.saturating_mul(bytes)))?;
    let mem = memory(c)?;
    let size = mem.data_size(&*c);
    let mut out: [Vec<u8>; N] = std::array::from_fn(|_| Vec::new());
    for (slot, span) in out.iter_mut().zip(spans) {
        *slot = mem.data(&*c)[range(span, size)?].to_vec();
    }
    Ok(out)
}

fn array<const L: usize>(bytes: Vec<u8>) -> Result<[u8; L]> {
    <[u8; L]>::try_from(bytes).map_err(|_| anyhow!("expected {L} bytes"))
}

fn write(c: &mut C<'_>, ptr: i32, bytes: &[u8]) -> Result<()> {
    let mem = memory(c)?;
    let r = range(Span::fixed(ptr, bytes.len()), mem.data_size(&*c))?;
    mem.data_mut(&mut *c)[r].copy_from_slice(bytes);
    Ok(())
}

/// Copies `min(len, cap)` bytes of `value` to `out` and returns the full length.
fn write_capped(c: &mut C<'_>, out: i32, cap: i32, value: &[u8]) -> Result<i64> {
    let cap = usize::try_from(cap).map_err(|_| anyhow!("negative capacity {cap}"))?;
    let n = value.len().min(cap);
    write(c, out, &value[..n])?;
    Ok(value.len() as i64)
}

fn writable(c: &C<'_>, what: &str) -> Result<()> {
    if c.data().read_only {
        bail!("{what} is not allowed in a read-only query");
    }
    Ok(())
}

fn input_len(mut c: C<'_>) -> Result<i32> {
    charge(&mut c, gas::IO_BASE)?;
    Ok(i32::try_from(c.data().input.len())?)
}

fn input_read(mut c: C<'_>, ptr: i32) -> Result<()> {
    let input = std::mem::take(&mut c.data_mut().input);
    let result = charge(&mut c, gas::IO_BASE.saturating_add(per_byte(input.len())))
        .and_then(|()| write(&mut c, ptr, &input));
    c.data_mut().input = input;
    result
}

fn set_result(mut c: C<'_>, ptr: i32, len: i32) -> Result<()> {
    let [out] = charge_and_read(&mut c, gas::IO_BASE, [Span::new(ptr, len, MAX_IO_BYTES)?])?;
    c.data_mut().output = out;
    Ok(())
}

fn storage_get(mut c: C<'_>, k: i32, kl: i32, out: i32, cap: i32) -> Result<i64> {
    let [key] = charge_and_read(
        &mut c,
        gas::STORAGE_READ,
        [Span::new(k, kl, MAX_KEY_BYTES)?],
    )?;
    match host(&mut c).storage_get(&key) {
        Err(e) => Err(host_failed(&mut c, e)),
        Ok(None) => Ok(ABSENT),
        Ok(Some(v)) => {
            charge(&mut c, per_byte(v.len()))?;
            write_capped(&mut c, out, cap, &v)
        }
    }
}

fn storage_set(mut c: C<'_>, k: i32, kl: i32, v: i32, vl: i32) -> Result<()> {
    writable(&c, "storage_set")?;
    let spans = [
        Span::new(k, kl, MAX_KEY_BYTES)?,
        Span::new(v, vl, MAX_VALUE_BYTES)?,
    ];
    let [key, value] = charge_and_read(&mut c, gas::STORAGE_WRITE, spans)?;
    host(&mut c)
        .storage_set(&key, &value)
        .map_err(|e| host_failed(&mut c, e))
}

fn storage_remove(mut c: C<'_>, k: i32, kl: i32) -> Result<()> {
    writable(&c, "storage_remove")?;
    let [key] = charge_and_read(
        &mut c,
        gas::STORAGE_WRITE,
        [Span::new(k, kl, MAX_KEY_BYTES)?],
    )?;
    host(&mut c)
        .storage_remove(&key)
        .map_err(|e| host_failed(&mut c, e))
}

fn storage_next(mut c: C<'_>, s: i32, sl: i32, e: i32, el: i32, out: i32, cap: i32) -> Result<i64> {
    let spans = [
        Span::new(s, sl, MAX_KEY_BYTES)?,
        Span::new(e, el, MAX_KEY_BYTES)?,
    ];
    let [start, end] = charge_and_read(&mut c, gas::STORAGE_NEXT, spans)?;
    let end = (!end.is_empty()).then_some(end.as_slice());
    // Each deleted entry stepped over is a read of the state below: at most as many as the
    // gas left pays for, charged after the walk.
    let max_skips = if c.data().metered {
        c.get_fuel()? / FUEL_PER_GAS / gas::STORAGE_SKIP
    } else {
        u64::MAX
    };
    let found = match host(&mut c).storage_next(&start, end, max_skips) {
        Err(e) => return Err(host_failed(&mut c, e)),
        Ok(Next::TooManySkips) => {
            c.set_fuel(0)?;
            return Err(OutOfGas.into());
        }
        Ok(Next::Found(found, skipped)) => {
            charge(&mut c, skipped.saturating_mul(gas::STORAGE_SKIP))?;
            found
        }
    };
    match found {
        None => Ok(ABSENT),
        Some((key, value)) => {
            let bytes = borsh::to_vec(&Record { key, value })?;
            charge(&mut c, per_byte(bytes.len()))?;
            write_capped(&mut c, out, cap, &bytes)
        }
    }
}

fn sha256(mut c: C<'_>, p: i32, l: i32, out: i32) -> Result<()> {
    let [data] = charge_and_read(&mut c, gas::SHA256_BASE, [Span::new(p, l, MAX_IO_BYTES)?])?;
    let digest: [u8; 32] = Sha256::digest(&data).into();
    write(&mut c, out, &digest)
}

fn blob_pin(mut c: C<'_>, p: i32, pin: i32) -> Result<i32> {
    writable(&c, "blob_pin")?;
    let [hash] = charge_and_read(&mut c, gas::BLOB_PIN, [Span::fixed(p, 32)])?;
    match host(&mut c).blob_pin(&array(hash)?, pin != 0) {
        Err(e) => Err(host_failed(&mut c, e)),
        Ok(Ok(pins)) => Ok(i32::try_from(pins).unwrap_or(i32::MAX)),
        Ok(Err(code)) => Ok(code),
    }
}

fn subnet_uid(mut c: C<'_>, p: i32) -> Result<i32> {
    let [hotkey] = charge_and_read(&mut c, gas::SUBNET_UID, [Span::fixed(p, 20)])?;
    match host(&mut c).subnet_uid(&array(hotkey)?) {
        Err(e) => Err(host_failed(&mut c, e)),
        Ok(Some(uid)) => Ok(i32::from(uid)),
        Ok(None) => Ok(taochain_vm_abi::ERR_NOT_REGISTERED),
    }
}

fn verify_matmul(mut c: C<'_>, p: i32) -> Result<i32> {
    let [bytes] = charge_and_read(&mut c, gas::VERIFY_MATMUL_BASE, [Span::fixed(p, 96)])?;
    let hash = |i: usize| -> Result<[u8; 32]> { array(bytes[32 * i..32 * (i + 1)].to_vec()) };
    let (a, b, cm) = (hash(0)?, hash(1)?, hash(2)?);
    // First every byte the check will read, from the blobs' records...
    let mut total: u64 = 0;
    for h in [&a, &b, &cm] {
        match host(&mut c).blob_len(h) {
            Err(e) => return Err(host_failed(&mut c, e)),
            Ok(None) => return Ok(taochain_vm_abi::ERR_MISSING_BLOB),
            Ok(Some(n)) => total = total.saturating_add(n),
        }
    }
    charge(&mut c, total.saturating_mul(gas::VERIFY_MATMUL_PER_BYTE))?;
    // ...then the work the shape implies (the random vectors are one hash per entry),
    // before any of it is done.
    let shape = match host(&mut c).matmul_shape(&a, &b, &cm) {
        Err(e) => return Err(host_failed(&mut c, e)),
        Ok(Err(code)) => return Ok(code),
        Ok(Ok(shape)) => shape,
    };
    charge(&mut c, gas::verify_matmul_work(shape))?;
    match host(&mut c).verify_matmul(&a, &b, &cm) {
        Err(e) => Err(host_failed(&mut c, e)),
        Ok(v) => Ok(v),
    }
}

fn ed25519_verify(mut c: C<'_>, mp: i32, ml: i32, sp: i32, pp: i32) -> Result<i32> {
    let spans = [
        Span::new(mp, ml, MAX_IO_BYTES)?,
        Span::fixed(sp, 64),
        Span::fixed(pp, 32),
    ];
    let [msg, sig, pk] = charge_and_read(&mut c, gas::ED25519_VERIFY, spans)?;
    let (sig, pk): ([u8; 64], [u8; 32]) = (array(sig)?, array(pk)?);
    let ok = ed25519_dalek::VerifyingKey::from_bytes(&pk)
        .map(|k| {
            k.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
                .is_ok()
        })
        .unwrap_or(false);
    Ok(i32::from(ok))
}

fn emit_event(mut c: C<'_>, p: i32, l: i32) -> Result<()> {
    writable(&c, "emit_event")?;
    if c.data().events.len() >= MAX_EVENTS {
        bail!("more than {MAX_EVENTS} events");
    }
    let [bytes] = charge_and_read(&mut c, gas::EVENT_BASE, [Span::new(p, l, MAX_VALUE_BYTES)?])?;
    let event: Event =
        borsh::from_slice(&bytes).map_err(|e| anyhow!("event does not decode: {e}"))?;
    c.data_mut().events.push(event);
    Ok(())
}

fn bank_send(mut c: C<'_>, to: i32, amount: i64) -> Result<i32> {
    writable(&c, "bank_send")?;
    let [to] = charge_and_read(&mut c, gas::BANK_SEND, [Span::fixed(to, 20)])?;
    let Ok(amount) = u64::try_from(amount) else {
        return Ok(taochain_vm_abi::ERR_INVALID);
    };
    match host(&mut c).bank_send(array(to)?, amount) {
        Err(e) => Err(host_failed(&mut c, e)),
        Ok(Ok(())) => Ok(0),
        Ok(Err(code)) => Ok(code),
    }
}

fn query_contract(mut c: C<'_>, a: i32, mp: i32, ml: i32, out: i32, cap: i32) -> Result<i64> {
    let spans = [Span::fixed(a, 20), Span::new(mp, ml, MAX_IO_BYTES)?];
    let [addr, msg] = charge_and_read(&mut c, gas::QUERY_BASE, spans)?;
    let depth = c.data().depth.saturating_add(1);
    if depth > MAX_QUERY_DEPTH {
        let text = format!("query depth limit {MAX_QUERY_DEPTH} reached");
        write_capped(&mut c, out, cap, text.as_bytes())?;
        return Ok(ERR_DEPTH);
    }
    let budget = if c.data().metered {
        c.get_fuel()? / FUEL_PER_GAS
    } else {
        u64::MAX
    };
    let (used, result) = match host(&mut c).query_contract(array(addr)?, &msg, depth, budget) {
        Err(e) => return Err(host_failed(&mut c, e)),
        Ok(r) => r,
    };
    charge(&mut c, used)?;
    match result {
        Ok(data) => {
            charge(&mut c, per_byte(data.len()))?;
            write_capped(&mut c, out, cap, &data)
        }
        Err(text) => {
            write_capped(&mut c, out, cap, text.as_bytes())?;
            Ok(ERR_QUERY_FAILED)
        }
    }
}

/// Not part of the ABI: `instrument` turns every `memory.grow` into a call to this. Asking
/// past the memory's maximum (its own, or the cap) returns -1, as `memory.grow` does, for
/// the price of a host call; otherwise the pages are charged first, then grown. A grow that
/// still fails is this node's failure (the operating system refused memory), not the
/// contract's: the node halts rather than give a result other nodes would not.
fn memory_grow(mut c: C<'_>, pages: i32) -> Result<i32> {
    let pages = u64::from(pages as u32);
    let mem = memory(&mut c)?;
    let max_pages = mem
        .ty(&c)
        .maximum()
        .unwrap_or(MAX_MEMORY_PAGES)
        .min(MAX_MEMORY_PAGES);
    if mem.size(&c).saturating_add(pages) > max_pages {
        charge(&mut c, gas::IO_BASE)?;
        return Ok(-1);
    }
    charge(&mut c, pages.saturating_mul(gas::MEMORY_PER_PAGE))?;
    match mem.grow(&mut c, pages) {
        Ok(old) => Ok(i32::try_from(old).unwrap_or(-1)),
        Err(e) => Err(host_failed(
            &mut c,
            HostError(format!("memory.grow of {pages} pages failed: {e}")),
        )),
    }
}

/// `debug`: kept only when the host asks for it (offline runs, tests), at most
/// [`MAX_DEBUG_LINES`] lines of at most [`MAX_DEBUG_BYTES`] bytes per call; on chain it is
/// charged and dropped.
fn debug(mut c: C<'_>, p: i32, l: i32) -> Result<()> {
    let [bytes] = charge_and_read(&mut c, gas::DEBUG_BASE, [Span::new(p, l, MAX_DEBUG_BYTES)?])?;
    let keep = host(&mut c).keeps_debug() && c.data().debug.len() < MAX_DEBUG_LINES;
    if keep {
        c.data_mut()
            .debug
            .push(String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(())
}

/// Defines every import on `linker`.
pub fn link(linker: &mut Linker<StoreData>) -> Result<()> {
    let m = taochain_vm_abi::IMPORT_MODULE;
    linker.func_wrap(m, "input_len", input_len)?;
    linker.func_wrap(m, "input_read", input_read)?;
    linker.func_wrap(m, "set_result", set_result)?;
    linker.func_wrap(m, "storage_get", storage_get)?;
    linker.func_wrap(m, "storage_set", storage_set)?;
    linker.func_wrap(m, "storage_remove", storage_remove)?;
    linker.func_wrap(m, "storage_next", storage_next)?;
    linker.func_wrap(m, "sha256", sha256)?;
    linker.func_wrap(m, "blob_pin", blob_pin)?;
    linker.func_wrap(m, "subnet_uid", subnet_uid)?;
    linker.func_wrap(m, "verify_matmul", verify_matmul)?;
    linker.func_wrap(m, "ed25519_verify", ed25519_verify)?;
    linker.func_wrap(m, "emit_event", emit_event)?;
    linker.func_wrap(m, "bank_send", bank_send)?;
    linker.func_wrap(m, "query_contract", query_contract)?;
    linker.func_wrap(m, "debug", debug)?;
    linker.func_wrap(m, crate::instrument::GROW_IMPORT, memory_grow)?;
    Ok(())
}
